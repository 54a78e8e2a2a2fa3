// asio_bench WORKLOAD [N]: the side-by-side workloads on standalone Asio (libasio-dev).
// The loop is one asio::io_context run by one thread; async tasks are asio::awaitable coroutines
// started with asio::co_spawn; plain functions go to an asio::thread_pool of default size
// (2 x hardware threads); sleeps are steady_timers. Asio has no future that is awaitable or
// chainable, so `then` prints nothing, and "wait for all" is a completion handler that counts
// down on the loop thread (the cheapest idiomatic form) rather than a future per task.

// Asio 1.22 detects co_await support under clang only with libc++'s <experimental/coroutine>;
// clang with libstdc++'s <coroutine> works as well.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#endif

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common.hpp"

using namespace std::chrono_literals;
using bench::Args;
using bench::Clock;

namespace {

constexpr const char* k_impl = "asio";

// The event loop: one io_context on one thread, kept alive by a work guard.
class Loop {
public:
    Loop() : m_thread([this] { m_io.run(); }) {}
    ~Loop() {
        m_guard.reset();
        m_io.stop();
        m_thread.join();
    }
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    asio::io_context& io() { return m_io; }

private:
    asio::io_context m_io{1};
    asio::executor_work_guard<asio::io_context::executor_type> m_guard{m_io.get_executor()};
    std::thread m_thread;
};

// Counts completions on the loop thread and wakes the main thread after the last one.
struct CountDown {
    explicit CountDown(long long n) : left(n) {}
    long long left;
    long long sum = 0;
    bool failed = false;
    std::promise<void> all_done;
    void add(std::exception_ptr e, long long v) {
        if (e)
            failed = true;
        sum += v;
        if (--left == 0)
            all_done.set_value();
    }
};

asio::awaitable<int> warm_task() {
    co_return 0;
}
asio::awaitable<int> return_index(int i) {
    co_return i;
}
asio::awaitable<int> one() {
    co_return 1;
}

asio::awaitable<long long> await_chain_parent(long long n) {
    long long sum = 0;
    for (long long i = 0; i < n; ++i)
        sum += co_await one();
    co_return sum;
}

asio::awaitable<void> sleeper(long long ms) {
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    co_await timer.async_wait(asio::use_awaitable);
}

void warm_up(Loop& loop) {
    asio::co_spawn(loop.io(), warm_task(), asio::use_future).get();
}

int spawn(const Args& a) {
    Loop loop;
    warm_up(loop);
    CountDown count(a.n);
    auto done = count.all_done.get_future();
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        asio::co_spawn(loop.io(), return_index(static_cast<int>(i)),
                       [&count](std::exception_ptr e, int v) { count.add(e, v); });
    }
    done.get();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, !count.failed && count.sum == bench::index_sum(a.n));
}

int await_chain(const Args& a) {
    Loop loop;
    warm_up(loop);
    const auto t0 = Clock::now();
    const long long r = asio::co_spawn(loop.io(), await_chain_parent(a.n), asio::use_future).get();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, r == a.n);
}

int submit(const Args& a) {
    asio::thread_pool pool;  // default size
    asio::post(pool, asio::use_future([] { return 0; })).get();
    std::vector<std::future<int>> futures;
    futures.reserve(static_cast<std::size_t>(a.n));
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        futures.push_back(asio::post(pool, asio::use_future([i] { return static_cast<int>(i); })));
    }
    long long sum = 0;
    for (auto& f : futures)
        sum += f.get();
    futures.clear();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, sum == bench::index_sum(a.n));
}

int pingpong(const Args& a) {
    Loop loop;
    warm_up(loop);
    long long sum = 0;
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        sum += asio::co_spawn(loop.io(), return_index(static_cast<int>(i)), asio::use_future).get();
    }
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, sum == bench::index_sum(a.n));
}

int timers(const Args& a) {
    Loop loop;
    warm_up(loop);
    CountDown count(a.n);
    auto done = count.all_done.get_future();
    const auto longest = std::chrono::milliseconds(bench::longest_sleep_ms(a.n));
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        asio::co_spawn(loop.io(), sleeper(bench::sleep_ms_of(i)),
                       [&count](std::exception_ptr e) { count.add(e, 0); });
    }
    done.get();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, !count.failed && t1 - t0 >= longest);
}

// ---- the seed examples ----------------------------------------------------------------------

int seed_sleep(const Args& a) {
    asio::thread_pool pool;
    asio::post(pool, asio::use_future([] { return 0; })).get();
    const auto t0 = Clock::now();
    std::vector<std::future<std::string>> tasks;
    for (long long i = 0; i < a.n; ++i) {
        tasks.push_back(asio::post(pool, asio::use_future([] {
                                       std::this_thread::sleep_for(100ms);
                                       return std::string("Run concurrently!");
                                   })));
    }
    bool ok = true;
    for (auto& t : tasks)
        ok = ok && t.get() == "Run concurrently!";
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, ok);
}

asio::awaitable<int> initiate(int request) {
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    co_await timer.async_wait(asio::use_awaitable);
    co_return request + 1;
}

asio::awaitable<int> process(int value) {
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    co_await timer.async_wait(asio::use_awaitable);
    co_return value * 2;
}

// No then(): the continuation is written as the next step of one coroutine.
asio::awaitable<int> initiate_then_process(int request) {
    co_return co_await process(co_await initiate(request));
}

int seed_then(const Args& a) {
    Loop loop;
    warm_up(loop);
    bool ok = true;
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        ok = ok && asio::co_spawn(loop.io(), initiate_then_process(3), asio::use_future).get() == 8;
    }
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, ok);
}

// The blocking function, run on the pool by co_spawn on the pool's executor.
asio::awaitable<std::pair<int, int>> mixing_function(int num) {
    std::this_thread::sleep_for(100ms);
    co_return std::pair{num, num + 1};
}

// Pool call, then (back on the loop) the async continuation.
asio::awaitable<std::pair<int, int>> mixing_task(asio::thread_pool& pool, int num) {
    const auto [n, res] = co_await asio::co_spawn(pool, mixing_function(num), asio::use_awaitable);
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    co_await timer.async_wait(asio::use_awaitable);
    co_return std::pair{n, res * 2};
}

int seed_mixing(const Args& a) {
    Loop loop;
    warm_up(loop);
    asio::thread_pool pool;
    asio::post(pool, asio::use_future([] { return 0; })).get();
    // The aggregator: runs on the loop thread, collecting each task's result into the dict.
    std::map<int, int> output;
    long long left = a.n;
    bool failed = false;
    std::promise<void> all_done;
    auto done = all_done.get_future();
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        asio::co_spawn(loop.io(), mixing_task(pool, static_cast<int>(i)),
                       [&](std::exception_ptr e, std::pair<int, int> r) {
                           if (e)
                               failed = true;
                           output[r.first] = r.second;
                           if (--left == 0)
                               all_done.set_value();
                       });
    }
    done.get();
    const auto t1 = Clock::now();
    const bool ok = !failed && bench::mixing_ok(output, a.n);
    return bench::report(a, k_impl, t1 - t0, ok);
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = bench::parse_args(argc, argv);
    const std::string& w = a.workload;
    if (w == "spawn")
        return spawn(a);
    if (w == "await_chain")
        return await_chain(a);
    if (w == "submit")
        return submit(a);
    if (w == "pingpong")
        return pingpong(a);
    if (w == "timers")
        return timers(a);
    if (w == "seed_sleep")
        return seed_sleep(a);
    if (w == "seed_then")
        return seed_then(a);
    if (w == "seed_mixing")
        return seed_mixing(a);
    if (w == "then")
        return bench::not_applicable(a, k_impl, "Asio has no chainable future");
    return bench::not_applicable(a, k_impl, "Asio has no process pool");
}
