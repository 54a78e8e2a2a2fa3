// The soak: a mixed workload at a steady rate for a given time, checking every result, with
// worker crashes and cancellations injected, while RSS, threads and descriptors are sampled.
// Exit status 0 when every result was right and nothing grew after the warm-up; 1 otherwise.
//
//     unsync_soak [--seconds N] [--warmup N] [--batches-per-second N] [--quiet]
//
// The CI runs 60 s in the release build; a long run is `unsync_soak --seconds 3600`, and the
// same under ASan or TSan is the same command on the asan or tsan preset's binary.

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <unsync/process_pool.hpp>
#include <unsync/unsync.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- The work ---------------------------------------------------------------------------------

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return x;
}

enum class Mode : int { value = 0, crash = 1, throws = 2, spin = 3 };

// Runs in a worker process.
std::uint64_t proc_work(std::uint64_t x, int mode) {
    switch (static_cast<Mode>(mode)) {
        case Mode::crash:
            std::abort();
        case Mode::throws:
            throw std::out_of_range("soak: thrown on purpose " + std::to_string(x));
        case Mode::spin: {
            // Long enough that only a cancellation ends it early.
            const auto until = Clock::now() + 2s;
            volatile std::uint64_t sink = 0;
            while (Clock::now() < until)
                sink = sink + 1;
            break;
        }
        case Mode::value:
            break;
    }
    return mix(x);
}
constexpr auto proc_work_cpu = unsync::cpu_bound<&proc_work>;

unsync::Unfuture<std::uint64_t> leaf(std::uint64_t x) {
    if (x % 3 == 0)
        co_await unsync::sleep(0ms);
    co_return mix(x);
}

unsync::Unfuture<std::uint64_t> chain(std::uint64_t x, int depth) {
    std::uint64_t acc = x;
    for (int i = 0; i < depth; ++i)
        acc = co_await leaf(acc);
    co_return acc;
}

unsync::Unfuture<std::uint64_t> sleeper(std::uint64_t x, std::chrono::milliseconds d) {
    co_await unsync::sleep(d);
    co_return mix(x);
}

std::uint64_t chain_expected(std::uint64_t x, int depth) {
    for (int i = 0; i < depth; ++i)
        x = mix(x);
    return x;
}

// ---- Checks -----------------------------------------------------------------------------------

// What an operation may end with.
enum Accept : unsigned {
    k_value = 1,
    k_cancelled = 2,
    k_timeout = 4,
    k_broken = 8,
    k_out_of_range = 16,
};

struct Pending {
    const char* kind;
    unsync::Unfuture<std::uint64_t> future;
    std::uint64_t expected;
    unsigned accept;
};

struct Counters {
    std::uint64_t launched = 0;
    std::uint64_t right = 0;
    std::uint64_t wrong = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t broken = 0;
};

bool check(Pending& p, Counters& c, bool verbose) {
    unsigned got = 0;
    std::string detail;
    try {
        const std::uint64_t v = p.future.result(60s);
        got = k_value;
        if (v != p.expected) {
            detail = "value " + std::to_string(v) + " instead of " + std::to_string(p.expected);
            got = 0;
        }
    } catch (const unsync::cancelled_error&) {
        got = k_cancelled;
    } catch (const unsync::timeout_error& e) {
        // result(60s) itself timing out means a hang: never accepted.
        got = p.future.done() ? unsigned{k_timeout} : 0u;
        detail = e.what();
    } catch (const unsync::broken_worker_error& e) {
        got = k_broken;
        detail = e.what();
    } catch (const std::out_of_range& e) {
        got = k_out_of_range;
        detail = e.what();
    } catch (const std::exception& e) {
        detail = std::string("unexpected exception: ") + e.what();
    }
    if ((got & p.accept) == 0) {
        ++c.wrong;
        if (verbose || c.wrong <= 20)
            std::cerr << "soak: WRONG " << p.kind << ": " << detail << "\n";
        return false;
    }
    ++c.right;
    c.cancelled += got == k_cancelled;
    c.timeouts += got == k_timeout;
    c.broken += got == k_broken;
    return true;
}

// ---- Sampling ---------------------------------------------------------------------------------

struct Sample {
    double rss_mib = 0;
    long threads = 0;
    long fds = 0;
    std::size_t workers = 0;
};

Sample sample() {
    Sample s;
    {
        std::ifstream statm("/proc/self/statm");
        long pages = 0;
        long resident = 0;
        statm >> pages >> resident;
        s.rss_mib = static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
                    (1024.0 * 1024.0);
    }
    {
        std::ifstream status("/proc/self/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("Threads:", 0) == 0)
                s.threads = std::strtol(line.c_str() + 8, nullptr, 10);
        }
    }
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.')
                ++s.fds;
        }
        ::closedir(d);
        --s.fds;  // the directory's own descriptor
    }
    s.workers = unsync::process_executor().worker_pids().size();
    return s;
}

// ---- The run ----------------------------------------------------------------------------------

struct Config {
    double seconds = 60;
    double warmup = -1;  // default: a quarter of the run, at least 5 s
    int batches_per_second = 250;
    bool quiet = false;
    // Under a sanitizer the allocator's quarantine and shadow memory grow by design: RSS says
    // nothing there (leaks are LeakSanitizer's to find), threads and descriptors still do.
    bool check_rss = true;
};

Config parse(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::cerr << "soak: " << a << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--seconds") {
            c.seconds = std::atof(next());
        } else if (a == "--warmup") {
            c.warmup = std::atof(next());
        } else if (a == "--batches-per-second") {
            c.batches_per_second = std::max(1, std::atoi(next()));
        } else if (a == "--quiet") {
            c.quiet = true;
        } else if (a == "--no-rss-check") {
            c.check_rss = false;
        } else {
            std::cerr << "usage: unsync_soak [--seconds N] [--warmup N] [--batches-per-second N] "
                         "[--quiet] [--no-rss-check]\n";
            std::exit(2);
        }
    }
    if (c.warmup < 0)
        c.warmup = std::max(5.0, c.seconds / 4);
    return c;
}

// One batch: every kind of operation, some of them cancelled or crashed on purpose.
void launch_batch(std::uint64_t batch, std::vector<Pending>& out) {
    const std::uint64_t base = batch * 1000;
    auto pool_fn = unsync::unsync([](std::uint64_t x) { return mix(x); });

    for (std::uint64_t i = 0; i < 8; ++i) {
        const std::uint64_t x = base + i;
        out.push_back({"coroutine chain", chain(x, 4), chain_expected(x, 4), k_value});
    }
    for (std::uint64_t i = 8; i < 12; ++i) {
        const std::uint64_t x = base + i;
        out.push_back({"thread pool", pool_fn(x), mix(x), k_value});
    }
    {
        const std::uint64_t x = base + 12;
        auto then = pool_fn(x).then([](std::uint64_t v) { return mix(v); });
        out.push_back({"then", std::move(then), mix(mix(x)), k_value});
    }
    {
        const std::uint64_t x = base + 13;
        out.push_back({"sleep", sleeper(x, std::chrono::milliseconds(batch % 7)), mix(x), k_value});
    }
    {
        const std::uint64_t x = base + 14;
        out.push_back({"process", proc_work_cpu(x, 0), mix(x), k_value});
    }
    // A sleeper cancelled from this thread.
    {
        const std::uint64_t x = base + 15;
        auto f = sleeper(x, 10s);
        f.cancel();
        out.push_back({"cancelled sleep", std::move(f), mix(x), k_cancelled});
    }
    // wait_for whose deadline lands about when the result does (the race of both firing).
    {
        const std::uint64_t x = base + 16;
        const auto d = std::chrono::milliseconds(batch % 3);
        out.push_back(
            {"wait_for race", unsync::wait_for(sleeper(x, d), d), mix(x), k_value | k_timeout});
    }
    // wait_for that must time out, and one that must not.
    {
        const std::uint64_t x = base + 17;
        out.push_back({"wait_for timeout", unsync::wait_for(sleeper(x, 10s), 1ms), 0, k_timeout});
        out.push_back(
            {"wait_for value", unsync::wait_for(chain(x, 2), 30s), chain_expected(x, 2), k_value});
    }
    // A gather of a chain and a pool call.
    {
        const std::uint64_t x = base + 18;
        auto g = unsync::gather(chain(x, 2), pool_fn(x))
                     .then([](std::tuple<std::uint64_t, std::uint64_t> t) {
                         return std::get<0>(t) ^ std::get<1>(t);
                     });
        out.push_back({"gather", std::move(g), chain_expected(x, 2) ^ mix(x), k_value});
    }
    // Every 20th batch a crash and an exception; every 100th a cancelled process call.
    if (batch % 20 == 0) {
        const std::uint64_t x = base + 19;
        out.push_back({"process crash", proc_work_cpu(x, 1), 0, k_broken});
        out.push_back({"process throw", proc_work_cpu(x, 2), 0, k_out_of_range});
    }
    if (batch % 100 == 50) {
        const std::uint64_t x = base + 20;
        auto spin = proc_work_cpu(x, 3);
        spin.cancel();
        // Cancelled before it was sent, cancelled while running, or (a pool that cannot stop
        // a running call) its value.
        out.push_back({"process cancel", std::move(spin), mix(x), k_value | k_cancelled});
    }
}

}  // namespace

int main(int argc, char** argv) {
    unsync::serve_if_worker();
    const Config config = parse(argc, argv);

    Counters counters;
    std::vector<Pending> previous;
    std::vector<Pending> current;
    std::vector<Sample> warm;
    std::vector<Sample> late;

    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(config.seconds));
    const auto warm_end = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(config.warmup));
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / config.batches_per_second));
    auto next_batch = start;
    auto next_sample = start + 1s;
    std::uint64_t batch = 0;

    while (Clock::now() < end) {
        // Steady rate: a batch per period, checked one period later, so that two batches are in
        // flight. The sleep paces the load; nothing waits on it for a result.
        std::this_thread::sleep_until(next_batch);
        next_batch += period;
        launch_batch(batch++, current);
        counters.launched += current.size();
        for (auto& p : previous)
            check(p, counters, !config.quiet);
        previous.clear();
        std::swap(previous, current);

        if (Clock::now() >= next_sample) {
            next_sample = std::max(next_sample + 1s, Clock::now());
            const Sample s = sample();
            const double t = std::chrono::duration<double>(Clock::now() - start).count();
            if (!config.quiet) {
                std::printf(
                    "soak: t=%6.1fs ops=%llu wrong=%llu rss=%.1fMiB threads=%ld fds=%ld "
                    "workers=%zu\n",
                    t, static_cast<unsigned long long>(counters.launched),
                    static_cast<unsigned long long>(counters.wrong), s.rss_mib, s.threads, s.fds,
                    s.workers);
                std::fflush(stdout);
            }
            (Clock::now() < warm_end ? warm : late).push_back(s);
        }
    }
    for (auto& p : previous)
        check(p, counters, !config.quiet);

    std::printf(
        "soak: %llu operations, %llu right, %llu wrong (cancelled %llu, timed out %llu, "
        "broken workers %llu) in %.1f s\n",
        static_cast<unsigned long long>(counters.launched),
        static_cast<unsigned long long>(counters.right),
        static_cast<unsigned long long>(counters.wrong),
        static_cast<unsigned long long>(counters.cancelled),
        static_cast<unsigned long long>(counters.timeouts),
        static_cast<unsigned long long>(counters.broken),
        std::chrono::duration<double>(Clock::now() - start).count());

    bool ok = counters.wrong == 0 && counters.right == counters.launched;
    // Growth: what the late samples reach against the warm-up's peak, with slack for the
    // allocator and for a worker being replaced at the moment of a sample.
    if (!warm.empty() && !late.empty()) {
        auto peak = [](const std::vector<Sample>& v, auto field) {
            double m = 0;
            for (const auto& s : v)
                m = std::max(m, static_cast<double>(field(s)));
            return m;
        };
        // The median of the last half of the late samples, so that one spike is not "growth".
        std::vector<Sample> tail(late.begin() + static_cast<std::ptrdiff_t>(late.size() / 2),
                                 late.end());
        auto median = [&](auto field) {
            std::vector<double> v;
            for (const auto& s : tail)
                v.push_back(static_cast<double>(field(s)));
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        struct Limit {
            const char* name;
            double warm_peak;
            double late_median;
            double slack;
        };
        const Limit limits[] = {
            {"RSS (MiB)", peak(warm, [](const Sample& s) { return s.rss_mib; }),
             median([](const Sample& s) { return s.rss_mib; }), 16.0},
            {"threads", peak(warm, [](const Sample& s) { return s.threads; }),
             median([](const Sample& s) { return s.threads; }), 2.0},
            {"descriptors", peak(warm, [](const Sample& s) { return s.fds; }),
             median([](const Sample& s) { return s.fds; }), 4.0},
        };
        for (const auto& l : limits) {
            if (!config.check_rss && &l == &limits[0]) {
                std::printf("soak: %-11s not judged (--no-rss-check)\n", l.name);
                continue;
            }
            const bool grew = l.late_median > l.warm_peak * 1.25 + l.slack;
            std::printf("soak: %-11s warm-up peak %.1f, late median %.1f%s\n", l.name, l.warm_peak,
                        l.late_median, grew ? "  <- GREW" : "");
            ok = ok && !grew;
        }
    } else {
        std::printf("soak: too short to judge growth (warm-up %.0f s)\n", config.warmup);
    }
    std::printf("soak: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
