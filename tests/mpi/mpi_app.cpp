// The program tests/test_mpi.cpp starts under mpirun: `mpi_app <mode> [args]`. Rank 0 runs the
// mode's checks and exits 0 when they hold; a failed check prints "FAILED: ..." and exits 1.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <unsync/combinators.hpp>
#include <unsync/errors.hpp>
#include <unsync/mpi.hpp>
#include <unsync/process_pool.hpp>
#include <unsync/unsync.hpp>

namespace {

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            std::fprintf(stderr, "FAILED: %s (line %d)\n", #cond, __LINE__); \
            std::exit(1);                                                    \
        }                                                                    \
    } while (false)

constexpr auto k_wait = std::chrono::seconds(60);

// Where a call ran: its rank (-1 in a local worker) and process.
std::pair<int, int> where() {
    return {unsync::mpi::rank(), static_cast<int>(::getpid())};
}
constexpr auto where_cpu = unsync::cpu_bound<&where>;

int add(int a, int b) {
    return a + b;
}
constexpr auto add_cpu = unsync::cpu_bound<&add>;

std::string reverse(std::string s) {
    return {s.rbegin(), s.rend()};
}
constexpr auto reverse_cpu = unsync::cpu_bound<&reverse>;

// A payload of n bytes each way: the result is the argument's bytes, each plus one.
std::string bump(std::string s) {
    for (char& c : s)
        c = static_cast<char>(c + 1);
    return s;
}
constexpr auto bump_cpu = unsync::cpu_bound<&bump>;

struct Custom {};
int fail(int kind) {
    switch (kind) {
        case 0:
            throw std::out_of_range("index 7");
        case 1:
            throw std::system_error(std::make_error_code(std::errc::no_such_file_or_directory),
                                    "open");
        default:
            throw Custom{};
    }
}
constexpr auto fail_cpu = unsync::cpu_bound<&fail>;

// Holds its rank until the file exists (a gate the caller opens), then says which rank it was.
int wait_for_file(std::string path) {
    const auto deadline = std::chrono::steady_clock::now() + k_wait;
    while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return unsync::mpi::rank();
}
constexpr auto wait_for_file_cpu = unsync::cpu_bound<&wait_for_file>;

// User and system CPU time of the serving process, in microseconds, with its rank.
std::pair<int, long> cpu_time() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const long us = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1'000'000L + u.ru_utime.tv_usec +
                    u.ru_stime.tv_usec;
    // Long enough that the other ranks take the other calls of the same batch.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return {unsync::mpi::rank(), us};
}
constexpr auto cpu_time_cpu = unsync::cpu_bound<&cpu_time>;

int die(int how) {
    std::fflush(nullptr);
    if (how == 0)
        std::abort();
    if (how == 1)
        ::raise(SIGSEGV);
    ::raise(SIGKILL);
    return how;
}
constexpr auto die_cpu = unsync::cpu_bound<&die>;

long own_cpu_us() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1'000'000L + u.ru_utime.tv_usec +
           u.ru_stime.tv_usec;
}

std::string gate_path(const char* name) {
    return (std::filesystem::temp_directory_path() /
            ("unsync-mpi-" + std::to_string(::getpid()) + "-" + name))
        .string();
}

unsync::Unfuture<int> sum_two(int a, int b) {
    const int x = co_await add_cpu(a, 0);
    const int y = co_await add_cpu(b, 0);
    co_return x + y;
}

void semantics() {
    const int size = unsync::mpi::world_size();
    CHECK(unsync::mpi::rank() == 0);
    CHECK(size >= 2);
    // Values, and the ranks that serve them.
    CHECK(add_cpu(2, 3).result(k_wait) == 5);
    CHECK(reverse_cpu(std::string("abc")).result(k_wait) == "cba");
    const auto [rank, pid] = where_cpu().result(k_wait);
    CHECK(rank >= 1 && rank < size);
    CHECK(pid != ::getpid());
    // then, co_await, gather: unchanged.
    CHECK(add_cpu(1, 1).then([](int v) { return v * 10; }).result(k_wait) == 20);
    CHECK(sum_two(4, 5).result(k_wait) == 9);
    std::vector<unsync::Unfuture<int>> many;
    for (int i = 0; i < 40; ++i)
        many.push_back(add_cpu(i, 1));
    const auto all = unsync::gather(std::move(many)).result(k_wait);
    for (int i = 0; i < 40; ++i)
        CHECK(all[static_cast<std::size_t>(i)] == i + 1);
    // Exceptions: a std one as its type, with its code; another as remote_error. Several at once,
    // so that every rank throws; the ranks serve on.
    std::vector<unsync::Unfuture<int>> failing;
    for (int i = 0; i < 3 * (size - 1); ++i)
        failing.push_back(fail_cpu(i % 3));
    for (int i = 0; i < static_cast<int>(failing.size()); ++i) {
        try {
            failing[static_cast<std::size_t>(i)].result(k_wait);
            CHECK(false);
        } catch (const std::out_of_range& e) {
            CHECK(i % 3 == 0);
            CHECK(std::string(e.what()) == "index 7");
        } catch (const std::system_error& e) {
            CHECK(i % 3 == 1);
            CHECK(e.code() == std::make_error_code(std::errc::no_such_file_or_directory));
        } catch (const unsync::remote_error& e) {
            CHECK(i % 3 == 2);
            CHECK(std::string(e.what()).find("Custom") != std::string::npos);
        }
    }
    std::set<int> serving;
    std::vector<unsync::Unfuture<std::pair<int, long>>> probes;
    for (int i = 0; i < size - 1; ++i)
        probes.push_back(cpu_time_cpu());
    for (auto& p : probes)
        serving.insert(p.result(k_wait).first);
    CHECK(static_cast<int>(serving.size()) == size - 1);
    // A call not sent yet is cancelled; the calls that hold the ranks are not.
    const std::string gate = gate_path("cancel");
    std::vector<unsync::Unfuture<int>> holders;
    for (int i = 0; i < size - 1; ++i)
        holders.push_back(wait_for_file_cpu(gate));
    auto queued = add_cpu(1, 2);
    CHECK(queued.cancel());
    try {
        queued.result(k_wait);
        CHECK(false);
    } catch (const unsync::cancelled_error&) {
    }
    std::FILE* f = std::fopen(gate.c_str(), "w");
    CHECK(f != nullptr);
    std::fclose(f);
    for (auto& h : holders)
        CHECK(h.result(k_wait) >= 1);
    std::filesystem::remove(gate);
    // 64 MiB each way.
    const std::size_t big = std::size_t{64} << 20;
    std::string payload(big, 'a');
    payload[12345] = 'x';
    const std::string back = bump_cpu(payload).result(k_wait);
    CHECK(back.size() == big);
    CHECK(back[0] == 'b' && back[12345] == 'y' && back[big - 1] == 'b');
}

// Payloads larger than the piece size (set small through the options) arrive whole.
void pieces() {
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4095},
                                std::size_t{4096}, std::size_t{100'001}, std::size_t{3} << 20}) {
        std::string payload(n, '\0');
        for (std::size_t i = 0; i < n; ++i)
            payload[i] = static_cast<char>(i * 7);
        const std::string back = bump_cpu(payload).result(k_wait);
        CHECK(back.size() == n);
        for (std::size_t i = 0; i < n; ++i)
            CHECK(back[i] == static_cast<char>(payload[i] + 1));
    }
}

// With the ranks 1..3: one call holds a rank until the others have served every short call; a
// round-robin (or any fixed) assignment would queue a short call behind it, and never finish.
void balance() {
    const int serving = unsync::mpi::world_size() - 1;
    CHECK(serving == 3);
    const std::string gate = gate_path("balance");
    auto holder = wait_for_file_cpu(gate);
    std::vector<unsync::Unfuture<std::pair<int, int>>> shorts;
    for (int i = 0; i < 30; ++i)
        shorts.push_back(where_cpu());
    std::set<int> ranks;
    for (auto& s : shorts)
        ranks.insert(s.result(k_wait).first);
    CHECK(!holder.done());
    std::FILE* f = std::fopen(gate.c_str(), "w");
    CHECK(f != nullptr);
    std::fclose(f);
    const int held = holder.result(k_wait);
    std::filesystem::remove(gate);
    CHECK(ranks.size() == 2);
    CHECK(ranks.count(held) == 0);
    std::printf("balance: rank %d held; short calls on %zu other ranks\n", held, ranks.size());
}

// Idle for 5 s after a first round of calls: rank 0 and each serving rank use under 2 % of a core.
void idle() {
    const int size = unsync::mpi::world_size();
    auto sample = [size] {
        std::vector<long> per_rank(static_cast<std::size_t>(size), -1);
        std::vector<unsync::Unfuture<std::pair<int, long>>> probes;
        for (int i = 0; i < size - 1; ++i)
            probes.push_back(cpu_time_cpu());
        for (auto& p : probes) {
            const auto [rank, us] = p.result(k_wait);
            per_rank[static_cast<std::size_t>(rank)] = us;
        }
        return per_rank;
    };
    const auto before = sample();
    const long own_before = own_cpu_us();
    const auto start = std::chrono::steady_clock::now();
    // The idleness being measured.
    std::this_thread::sleep_for(std::chrono::seconds(5));
    const long own_after = own_cpu_us();
    const auto after = sample();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long limit = static_cast<long>(seconds * 0.02 * 1e6);
    std::printf("idle: %.2f s; rank 0 used %ld us of CPU\n", seconds, own_after - own_before);
    CHECK(own_after - own_before < limit);
    for (int r = 1; r < size; ++r) {
        const auto i = static_cast<std::size_t>(r);
        CHECK(before[i] >= 0 && after[i] >= 0);
        std::printf("idle: rank %d used %ld us of CPU\n", r, after[i] - before[i]);
        CHECK(after[i] - before[i] < limit);
    }
}

// Not over MPI (./app, or a one-rank launch): the calls run in local worker processes.
void local() {
    CHECK(unsync::mpi::rank() == -1);
    CHECK(unsync::mpi::world_size() == 0);
    const auto [rank, pid] = where_cpu().result(k_wait);
    CHECK(rank == -1);
    CHECK(pid != ::getpid());
    CHECK(add_cpu(2, 3).result(k_wait) == 5);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "pieces") {
        unsync::mpi::Options o;
        o.piece_size = 4096;
        unsync::mpi::set_options(o);
    }
    unsync::serve_if_worker();
    if (mode == "semantics") {
        semantics();
    } else if (mode == "pieces") {
        pieces();
    } else if (mode == "balance") {
        balance();
    } else if (mode == "idle") {
        idle();
    } else if (mode == "local") {
        local();
    } else if (mode == "exit3") {
        CHECK(add_cpu(1, 2).result(k_wait) == 3);
        std::exit(3);
    } else if (mode == "throw") {
        CHECK(add_cpu(1, 2).result(k_wait) == 3);
        throw std::runtime_error("rank 0 gives up");
    } else if (mode == "return0") {
        CHECK(add_cpu(1, 2).result(k_wait) == 3);
    } else if (mode == "abort" || mode == "segv" || mode == "kill") {
        const int how = mode == "abort" ? 0 : mode == "segv" ? 1 : 2;
        // The job ends with the rank; rank 0 waits for a result that never comes.
        die_cpu(how).result(k_wait);
        std::puts("FAILED: the call that kills its rank returned");
        return 1;
    } else {
        std::fprintf(stderr,
                     "usage: mpi_app semantics|pieces|balance|idle|local|exit3|throw|"
                     "return0|abort|segv|kill\n");
        return 2;
    }
    std::printf("OK %s\n", mode.c_str());
    return 0;
}
