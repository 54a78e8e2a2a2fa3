// unsync_bench WORKLOAD [N]: the side-by-side workloads of ../shared/bench/WORKLOADS.md on unsync.
// Prints one RESULT line (bench/common.hpp); ok=1 only after the result was checked.

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unsync/process_pool.hpp>
#include <unsync/unsync.hpp>
#ifdef UNSYNC_BENCH_MPI
#include <unsync/mpi.hpp>
#endif

#include "common.hpp"

using namespace std::chrono_literals;
using bench::Args;
using bench::Clock;

namespace {

constexpr const char* k_impl = "unsync";

// ---- coroutines used by the workloads -------------------------------------------------------

unsync::Unfuture<int> warm_task() {
    co_return 0;
}

unsync::Unfuture<int> return_index(int i) {
    co_return i;
}

unsync::Unfuture<int> one() {
    co_return 1;
}

unsync::Unfuture<long long> await_chain_parent(long long n) {
    long long sum = 0;
    for (long long i = 0; i < n; ++i)
        sum += co_await one();
    co_return sum;
}

unsync::Unfuture<void> sleeper(long long ms) {
    co_await unsync::sleep(std::chrono::milliseconds(ms));
}

// Runs the loop and a pool thread once, so that start-up is not timed.
void warm_up() {
    warm_task().result();
    unsync::thread_executor().submit([] { return 0; }).result();
}

// ---- workloads --------------------------------------------------------------------------------

int spawn(const Args& a) {
    std::vector<unsync::Unfuture<int>> futures;
    futures.reserve(static_cast<std::size_t>(a.n));
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i)
        futures.push_back(return_index(static_cast<int>(i)));
    long long sum = 0;
    for (const auto& f : futures)
        sum += f.result();
    futures.clear();  // frees the frames: part of the cost of a task
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, sum == bench::index_sum(a.n));
}

int await_chain(const Args& a) {
    const auto t0 = Clock::now();
    const long long r = await_chain_parent(a.n).result();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, r == a.n);
}

int submit(const Args& a) {
    auto& pool = unsync::thread_executor();
    std::vector<unsync::Unfuture<int>> futures;
    futures.reserve(static_cast<std::size_t>(a.n));
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        futures.push_back(pool.submit([](int x) { return x; }, static_cast<int>(i)));
    }
    long long sum = 0;
    for (const auto& f : futures)
        sum += f.result();
    futures.clear();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, sum == bench::index_sum(a.n));
}

int pingpong(const Args& a) {
    long long sum = 0;
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i)
        sum += return_index(static_cast<int>(i)).result();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, sum == bench::index_sum(a.n));
}

int then(const Args& a) {
    const auto t0 = Clock::now();
    unsync::Unfuture<int> source;
    unsync::Unfuture<int> last = source;
    for (long long i = 0; i < a.n; ++i)
        last = last.then([](int v) { return v + 1; });
    source.set_result(0);
    const int r = last.result();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, r == a.n);
}

int timers(const Args& a) {
    std::vector<unsync::Unfuture<void>> futures;
    futures.reserve(static_cast<std::size_t>(a.n));
    const auto longest = std::chrono::milliseconds(bench::longest_sleep_ms(a.n));
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i)
        futures.push_back(sleeper(bench::sleep_ms_of(i)));
    bool ok = true;
    for (const auto& f : futures) {
        f.result();
        ok = ok && f.done();
    }
    futures.clear();
    const auto t1 = Clock::now();
    // Every task slept at least its own time, so the whole run cannot beat the longest sleep.
    ok = ok && t1 - t0 >= longest;
    return bench::report(a, k_impl, t1 - t0, ok);
}

// ---- the seed examples (mirrors examples/thread_executor.cpp, continuation.cpp,
// mixing_methods.cpp) --------------------------------------------------------------------------

const auto non_async_function = unsync::unsync([](std::chrono::duration<double> seconds) {
    std::this_thread::sleep_for(seconds);
    return std::string("Run concurrently!");
});

int seed_sleep(const Args& a) {
    const auto t0 = Clock::now();
    std::vector<unsync::Unfuture<std::string>> tasks;
    for (long long i = 0; i < a.n; ++i)
        tasks.push_back(non_async_function(100ms));
    bool ok = true;
    for (const auto& t : tasks)
        ok = ok && t.result() == "Run concurrently!";
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, ok);
}

unsync::Unfuture<int> initiate(int request) {
    co_await unsync::sleep(100ms);
    co_return request + 1;
}

unsync::Unfuture<int> process(unsync::Unfuture<int> task) {
    co_await unsync::sleep(100ms);
    co_return task.result() * 2;
}

int seed_then(const Args& a) {
    bool ok = true;
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i)
        ok = ok && initiate(3).then(process).result() == 8;
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, ok);
}

const auto mixing_function = unsync::unsync([](int num) {
    std::this_thread::sleep_for(100ms);
    return std::pair{num, num + 1};
});

unsync::Unfuture<std::pair<int, int>> result_continuation(
    unsync::Unfuture<std::pair<int, int>> task) {
    co_await unsync::sleep(100ms);
    const auto [num, res] = task.result();
    co_return std::pair{num, res * 2};
}

unsync::Unfuture<std::map<int, int>> result_processor(
    std::vector<unsync::Unfuture<std::pair<int, int>>> tasks) {
    std::map<int, int> output;
    for (const auto& task : tasks) {
        const auto [num, res] = co_await task;
        output[num] = res;
    }
    co_return output;
}

int seed_mixing(const Args& a) {
    const auto t0 = Clock::now();
    std::vector<unsync::Unfuture<std::pair<int, int>>> tasks;
    for (long long i = 0; i < a.n; ++i) {
        tasks.push_back(mixing_function(static_cast<int>(i)).then(result_continuation));
    }
    const std::map<int, int> output = result_processor(std::move(tasks)).result();
    const auto t1 = Clock::now();
    const bool ok = bench::mixing_ok(output, a.n);
    return bench::report(a, k_impl, t1 - t0, ok);
}

// ---- process pool ---------------------------------------------------------------------------

std::string busy_10ms() {
    const auto until = Clock::now() + 10ms;
    while (Clock::now() < until) {
    }
    return "done";
}
constexpr auto busy_10ms_cpu = unsync::cpu_bound<&busy_10ms>;

int identity(int i) {
    return i;
}
constexpr auto identity_cpu = unsync::cpu_bound<&identity>;

unsync::Unfuture<std::size_t> count_done(std::vector<unsync::Unfuture<std::string>> tasks) {
    std::size_t done = 0;
    for (const auto& task : tasks)
        done += (co_await task) == "done" ? 1 : 0;
    co_return done;
}

// Starts every worker before the clock does: one call per worker, all at once.
void warm_process_pool() {
    std::vector<unsync::Unfuture<int>> calls;
    for (std::size_t i = 0; i < unsync::process_executor().size(); ++i) {
        calls.push_back(identity_cpu(static_cast<int>(i)));
    }
    for (auto& c : calls)
        (void)c.result();
}

int procs(const Args& a) {
    warm_process_pool();
    const auto t0 = Clock::now();
    std::vector<unsync::Unfuture<std::string>> tasks;
    for (long long i = 0; i < a.n; ++i)
        tasks.push_back(busy_10ms_cpu());
    const std::size_t done = count_done(std::move(tasks)).result();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, done == static_cast<std::size_t>(a.n));
}

int proc_trivial(const Args& a) {
    warm_process_pool();
    const auto t0 = Clock::now();
    std::vector<unsync::Unfuture<int>> calls;
    calls.reserve(static_cast<std::size_t>(a.n));
    for (long long i = 0; i < a.n; ++i)
        calls.push_back(identity_cpu(static_cast<int>(i)));
    long long sum = 0;
    for (auto& c : calls)
        sum += c.result();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, sum == a.n * (a.n - 1) / 2);
}

}  // namespace

int main(int argc, char** argv) {
    // Workers of the process pool are this program started again: they serve here.
    unsync::serve_if_worker();
    const Args a = bench::parse_args(argc, argv);
    const std::string& w = a.workload;
#ifdef UNSYNC_BENCH_MPI
    // The *_mpi workloads measure calls on MPI ranks: refuse to measure the local pool instead.
    if (unsync::mpi::world_size() < 2) {
        std::fprintf(stderr, "unsync_mpi_bench: run it under mpirun with two ranks or more\n");
        return 1;
    }
#endif
    if (w == "procs")
        return procs(a);
    if (w == "proc_trivial")
        return proc_trivial(a);

    warm_up();
    if (w == "spawn")
        return spawn(a);
    if (w == "await_chain")
        return await_chain(a);
    if (w == "submit")
        return submit(a);
    if (w == "pingpong")
        return pingpong(a);
    if (w == "then")
        return then(a);
    if (w == "timers")
        return timers(a);
    if (w == "seed_sleep")
        return seed_sleep(a);
    if (w == "seed_then")
        return seed_then(a);
    if (w == "seed_mixing")
        return seed_mixing(a);
    std::fprintf(stderr, "unsync_bench: unhandled workload '%s'\n", w.c_str());
    return 1;
}
