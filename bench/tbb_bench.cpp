// tbb_bench WORKLOAD [N]: oneTBB (libtbb-dev), `submit` only. N lambdas run in a
// tbb::task_group on the default arena (one worker per hardware thread); each writes its index
// into its own slot — TBB tasks have no future — and the main thread waits for the group.

#include <tbb/task_group.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"

using bench::Args;
using bench::Clock;

namespace {

constexpr const char* k_impl = "tbb";

int submit(const Args& a) {
    {
        // Warm-up: starts the arena's worker threads.
        tbb::task_group warm;
        for (int i = 0; i < 64; ++i)
            warm.run([] {});
        warm.wait();
    }
    std::vector<int> results(static_cast<std::size_t>(a.n), -1);
    tbb::task_group group;
    const auto t0 = Clock::now();
    for (long long i = 0; i < a.n; ++i) {
        group.run([&results, i] { results[static_cast<std::size_t>(i)] = static_cast<int>(i); });
    }
    group.wait();
    long long sum = 0;
    for (const int r : results)
        sum += r;
    const auto t1 = Clock::now();
    return bench::report(a, k_impl, t1 - t0, sum == bench::index_sum(a.n));
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = bench::parse_args(argc, argv);
    if (a.workload == "submit")
        return submit(a);
    return bench::not_applicable(a, k_impl, "the oneTBB harness covers `submit` only");
}
