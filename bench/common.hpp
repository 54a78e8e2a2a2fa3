#pragma once
// Shared by every side-by-side harness (unsync_bench, asio_bench, std_bench, tbb_bench): the CLI
// `BIN WORKLOAD [N]`, the default N of each workload, and the one RESULT line of
// ../shared/bench/WORKLOADS.md.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

namespace bench {

struct Workload {
    const char* name;
    long long default_n;
};

inline constexpr Workload k_workloads[] = {
    {"spawn", 200000},  {"await_chain", 1000000}, {"submit", 200000},  {"pingpong", 100000},
    {"then", 100000},   {"timers", 100000},       {"procs", 100},      {"proc_trivial", 10000},
    {"seed_sleep", 10}, {"seed_then", 1},         {"seed_mixing", 10},
};

struct Args {
    std::string workload;
    long long n = 0;
};

// Exits with status 1 on a usage error.
inline Args parse_args(int argc, char** argv) {
    auto usage = [&] {
        std::fprintf(stderr, "usage: %s WORKLOAD [N]\nworkloads:", argc > 0 ? argv[0] : "bench");
        for (const auto& w : k_workloads)
            std::fprintf(stderr, " %s", w.name);
        std::fprintf(stderr, "\n");
        std::exit(1);
    };
    if (argc < 2 || argc > 3)
        usage();
    Args a;
    a.workload = argv[1];
    bool known = false;
    for (const auto& w : k_workloads) {
        if (a.workload == w.name) {
            a.n = w.default_n;
            known = true;
        }
    }
    if (!known)
        usage();
    if (argc == 3) {
        char* end = nullptr;
        a.n = std::strtoll(argv[2], &end, 10);
        if (end == argv[2] || *end != '\0' || a.n <= 0)
            usage();
    }
    return a;
}

using Clock = std::chrono::steady_clock;

// Prints the one line of the output contract. Returns the process exit status.
inline int report(const Args& a, const char* impl, Clock::duration wall, bool ok) {
    const double s = std::chrono::duration<double>(wall).count();
    std::printf("RESULT workload=%s impl=%s n=%lld wall_s=%.6f ns_per_op=%.1f ok=%d\n",
                a.workload.c_str(), impl, a.n, s, s * 1e9 / static_cast<double>(a.n), ok ? 1 : 0);
    std::fflush(stdout);
    return ok ? 0 : 3;
}

// A workload this implementation has no equivalent for: nothing on stdout (the table says n/a).
inline int not_applicable(const Args& a, const char* impl, const char* why) {
    std::fprintf(stderr, "%s: workload '%s' not applicable: %s\n", impl, a.workload.c_str(), why);
    return 0;
}

// Sum of 0..n-1, what the index-returning workloads must add up to.
inline long long index_sum(long long n) {
    return n * (n - 1) / 2;
}

inline long long sleep_ms_of(long long i) {
    return i * 7919 % 101;
}

// The longest sleep of the timers workload: no correct run can be faster.
inline long long longest_sleep_ms(long long n) {
    long long m = 0;
    for (long long i = 0; i < n && i < 101; ++i)
        m = sleep_ms_of(i) > m ? sleep_ms_of(i) : m;
    return m;
}

// The seed's mixing example is right when the dict is {i: 2 * (i + 1)} for i in range(n).
inline bool mixing_ok(const std::map<int, int>& output, long long n) {
    bool ok = output.size() == static_cast<std::size_t>(n);
    for (const auto& [num, res] : output)
        ok = ok && res == 2 * (num + 1);
    return ok;
}

}  // namespace bench
