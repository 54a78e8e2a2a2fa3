// std_bench WORKLOAD [N]: the side-by-side workloads on the standard library alone.
// std::async(std::launch::async) starts a new thread per call; std has no event loop, no
// awaitable or chainable future and no timer service, so spawn, await_chain, pingpong, then and
// timers print nothing. A continuation is a second std::async that blocks on the first future.

#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "common.hpp"

using namespace std::chrono_literals;
using bench::Args;
using bench::Clock;

namespace {

constexpr const char* k_impl = "std";

void warm_up() {
    std::async(std::launch::async, [] { return 0; }).get();
}

int submit(const Args& a) {
    warm_up();
    std::vector<std::future<int>> futures;
    futures.reserve(static_cast<std::size_t>(a.n));
    const auto t0 = Clock::now();
    try {
        for (long long i = 0; i < a.n; ++i) {
            futures.push_back(std::async(std::launch::async, [i] { return static_cast<int>(i); }));
        }
    } catch (const std::system_error& e) {
        // Each call's thread stays unjoined until its future is read; with all N futures held,
        // the process runs out of threads or memory maps (vm.max_map_count) long before N=200000.
        const auto t1 = Clock::now();
        std::fprintf(stderr, "std: std::async failed after %zu outstanding calls: %s\n",
                     futures.size(), e.what());
        for (auto& f : futures)
            f.wait();
        futures.clear();
        return bench::report(a, k_impl, t1 - t0, false);
    }
    long long sum = 0;
    for (auto& f : futures)
        sum += f.get();
    futures.clear();
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, sum == bench::index_sum(a.n));
}

int seed_sleep(const Args& a) {
    warm_up();
    const auto t0 = Clock::now();
    std::vector<std::future<std::string>> tasks;
    for (long long i = 0; i < a.n; ++i) {
        tasks.push_back(std::async(std::launch::async, [] {
            std::this_thread::sleep_for(100ms);
            return std::string("Run concurrently!");
        }));
    }
    bool ok = true;
    for (auto& t : tasks)
        ok = ok && t.get() == "Run concurrently!";
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, ok);
}

int seed_then(const Args& a) {
    warm_up();
    bool ok = true;
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        auto initiate = std::async(std::launch::async, [] {
            std::this_thread::sleep_for(100ms);
            return 3 + 1;
        });
        auto process = std::async(std::launch::async, [task = std::move(initiate)]() mutable {
            const int v = task.get();
            std::this_thread::sleep_for(100ms);
            return v * 2;
        });
        ok = ok && process.get() == 8;
    }
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, ok);
}

int seed_mixing(const Args& a) {
    warm_up();
    const auto t0 = Clock::now();
    std::vector<std::future<std::pair<int, int>>> tasks;
    for (long long i = 0; i < a.n; ++i) {
        auto call = std::async(std::launch::async, [num = static_cast<int>(i)] {
            std::this_thread::sleep_for(100ms);
            return std::pair{num, num + 1};
        });
        tasks.push_back(std::async(std::launch::async, [task = std::move(call)]() mutable {
            const auto [num, res] = task.get();
            std::this_thread::sleep_for(100ms);
            return std::pair{num, res * 2};
        }));
    }
    // The aggregator: the main thread collects the dict.
    std::map<int, int> output;
    for (auto& t : tasks) {
        const auto [num, res] = t.get();
        output[num] = res;
    }
    const auto t1 = Clock::now();
    const bool ok = bench::mixing_ok(output, a.n);
    return bench::report(a, k_impl, t1 - t0, ok);
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = bench::parse_args(argc, argv);
    const std::string& w = a.workload;
    if (w == "submit")
        return submit(a);
    if (w == "seed_sleep")
        return seed_sleep(a);
    if (w == "seed_then")
        return seed_then(a);
    if (w == "seed_mixing")
        return seed_mixing(a);
    return bench::not_applicable(a, k_impl, "the standard library has no equivalent");
}
