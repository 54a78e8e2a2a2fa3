// The process pool (cpu_bound<&f>): calls that really run in worker processes of this program,
// results read, awaited and chained, arguments and results of many types, exceptions rebuilt by
// type, crash isolation (abort, segfault, exit, SIGKILL), pool size, no orphan workers after the
// parent exits, is killed or shuts down, 64 MiB payloads each way, and shutdown.
//
// Workers are this test program started again, so main() below calls serve_if_worker() first.
//
// Under ctest every TEST runs in a process of its own, so each test sees a runtime that has not
// started yet. A test that needs that (set_options, fork) skips itself when run after another
// test in the same process (e.g. the whole binary run by hand).
//
// Worker functions cannot share memory with the test, so where a test needs a call to stay in
// flight it uses a Rendezvous: two FIFOs in a scratch directory. A held call writes one byte to
// "arrived" (the test learns it is running) and then blocks reading one byte from "release".

#include <unsync/process_pool.hpp>
#include <unsync/unsync.hpp>

#include <cereal/types/map.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using unsync::Unfuture;
using unsync_test::Clock;
using unsync_test::eventually;
using unsync_test::kWait;

namespace {

// How long a worker may take to disappear once its parent is gone.
constexpr auto k_orphan_wait = 10s;

void set_pool_size(std::size_t size) {
    unsync::Options options;
    options.process_pool.size = size;
    unsync::set_options(std::move(options));
}

// --- helpers: processes, pipes, FIFOs ------------------------------------------------------

// The state letter of /proc/<pid>/stat, or 0 if there is no such process.
char process_state(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!in || !std::getline(in, line))
        return 0;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= line.size())
        return 0;
    return line[paren + 2];
}

// The parent pid field of /proc/<pid>/stat, or -1.
int process_parent(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!in || !std::getline(in, line))
        return -1;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos)
        return -1;
    std::istringstream rest(line.substr(paren + 2));
    char state = 0;
    int ppid = -1;
    rest >> state >> ppid;
    return ppid;
}

// A process that has exited counts as gone even before someone reaps it (a zombie).
bool process_gone(int pid) {
    const char s = process_state(pid);
    return s == 0 || s == 'Z' || s == 'X';
}

bool process_alive(int pid) {
    return !process_gone(pid);
}

bool write_all(int fd, const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n > 0) {
            p += n;
            size -= static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EINTR) {
            return false;
        }
    }
    return true;
}

// Reads exactly `size` bytes, waiting at most until `deadline`.
bool read_all(int fd, void* data, std::size_t size, Clock::time_point deadline) {
    auto* p = static_cast<char*>(data);
    while (size > 0) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return false;
        pollfd pfd{fd, POLLIN, 0};
        const int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        const ssize_t n = ::read(fd, p, size);
        if (n > 0) {
            p += n;
            size -= static_cast<std::size_t>(n);
        } else if (n == 0) {
            return false;
        } else if (errno != EINTR && errno != EAGAIN) {
            return false;
        }
    }
    return true;
}

struct Pipe {
    int fds[2] = {-1, -1};
    Pipe() {
        if (::pipe2(fds, O_CLOEXEC) != 0)
            fds[0] = fds[1] = -1;
    }
    ~Pipe() {
        close_read();
        close_write();
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    int read_end() const { return fds[0]; }
    int write_end() const { return fds[1]; }
    void close_read() {
        if (fds[0] >= 0)
            ::close(std::exchange(fds[0], -1));
    }
    void close_write() {
        if (fds[1] >= 0)
            ::close(std::exchange(fds[1], -1));
    }
};

// Waits for the child to end (it must do so within `limit`); kills it if it does not. Returns the
// wait status, or -1 if it had to be killed.
int wait_child(pid_t pid, std::chrono::milliseconds limit = kWait) {
    int status = 0;
    const bool ended = eventually(
        [&] {
            const pid_t r = ::waitpid(pid, &status, WNOHANG);
            return r == pid || (r < 0 && errno != EINTR);
        },
        limit);
    if (!ended) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
    }
    return status;
}

std::string describe_status(int status) {
    if (status == -1)
        return "hung (killed by the test)";
    if (WIFEXITED(status))
        return "exited with " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return "killed by signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// A scratch directory removed with its contents at the end of the test.
class ScratchDir {
public:
    ScratchDir() {
        char tmpl[] = "/tmp/unsync_test_pp_XXXXXX";
        if (::mkdtemp(tmpl))
            m_path = tmpl;
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!m_path.empty())
            std::filesystem::remove_all(m_path, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::string& path() const { return m_path; }
    bool ok() const { return !m_path.empty(); }

private:
    std::string m_path;
};

// The test's side of held calls (see the file comment). The test holds both FIFOs open for the
// whole test, so a worker opening either never blocks.
class Rendezvous {
public:
    Rendezvous() {
        if (!m_dir.ok())
            return;
        const std::string arrived = m_dir.path() + "/arrived";
        const std::string release = m_dir.path() + "/release";
        if (::mkfifo(arrived.c_str(), 0600) != 0 || ::mkfifo(release.c_str(), 0600) != 0)
            return;
        m_arrived = ::open(arrived.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        // A writer of our own: a worker closing its end never makes our reads see end-of-file.
        m_arrived_writer = ::open(arrived.c_str(), O_WRONLY | O_CLOEXEC);
        m_release = ::open(release.c_str(), O_RDWR | O_CLOEXEC);
    }
    ~Rendezvous() {
        for (int fd : {m_arrived, m_arrived_writer, m_release}) {
            if (fd >= 0)
                ::close(fd);
        }
    }
    Rendezvous(const Rendezvous&) = delete;
    Rendezvous& operator=(const Rendezvous&) = delete;

    bool ok() const { return m_arrived >= 0 && m_arrived_writer >= 0 && m_release >= 0; }
    const std::string& dir() const { return m_dir.path(); }

    // True once n more held calls have arrived (are running in a worker).
    bool wait_arrivals(int n) {
        std::vector<char> bytes(static_cast<std::size_t>(n));
        return read_all(m_arrived, bytes.data(), bytes.size(), Clock::now() + kWait);
    }
    // Lets n held calls return.
    bool release(int n) {
        const std::string bytes(static_cast<std::size_t>(n), 'r');
        return write_all(m_release, bytes.data(), bytes.size());
    }

private:
    ScratchDir m_dir;
    int m_arrived = -1;
    int m_arrived_writer = -1;
    int m_release = -1;
};

// --- worker functions --------------------------------------------------------------------

int worker_pid() {
    return static_cast<int>(::getpid());
}
constexpr auto worker_pid_cpu = unsync::cpu_bound<&worker_pid>;

int worker_parent_pid() {
    return static_cast<int>(::getppid());
}
constexpr auto worker_parent_pid_cpu = unsync::cpu_bound<&worker_parent_pid>;

std::string own_executable() {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}
constexpr auto own_executable_cpu = unsync::cpu_bound<&own_executable>;

int square(int x) {
    return x * x;
}
constexpr auto square_cpu = unsync::cpu_bound<&square>;

int twice(int x) noexcept {
    return 2 * x;
}
constexpr auto twice_cpu = unsync::cpu_bound<&twice>;

struct Statics {
    static int negate(int x) { return -x; }
};
constexpr auto negate_cpu = unsync::cpu_bound<&Statics::negate>;

// Holds the call until the test releases it (see Rendezvous); returns the worker's pid.
int hold(std::string dir) {
    const int arrived = ::open((dir + "/arrived").c_str(), O_WRONLY | O_CLOEXEC);
    if (arrived < 0)
        throw std::runtime_error("hold: cannot open arrived");
    const char a = 'a';
    const bool told = write_all(arrived, &a, 1);
    ::close(arrived);
    if (!told)
        throw std::runtime_error("hold: cannot write arrived");
    const int release = ::open((dir + "/release").c_str(), O_RDONLY | O_CLOEXEC);
    if (release < 0)
        throw std::runtime_error("hold: cannot open release");
    char r = 0;
    ssize_t n = 0;
    do {
        n = ::read(release, &r, 1);
    } while (n < 0 && errno == EINTR);
    ::close(release);
    if (n != 1)
        throw std::runtime_error("hold: release closed");
    return static_cast<int>(::getpid());
}
constexpr auto hold_cpu = unsync::cpu_bound<&hold>;

std::string shout(const std::string& s) {
    std::string out = s;
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out + "!";
}
constexpr auto shout_cpu = unsync::cpu_bound<&shout>;

std::vector<int> doubled(std::vector<int> v) {
    for (int& x : v)
        x *= 2;
    return v;
}
constexpr auto doubled_cpu = unsync::cpu_bound<&doubled>;

std::pair<int, std::string> swap_pair(const std::pair<std::string, int>& p) {
    return {p.second, p.first};
}
constexpr auto swap_pair_cpu = unsync::cpu_bound<&swap_pair>;

std::tuple<int, double, std::string> make_triple(int i, double d, const std::string& s) {
    return {i + 1, d * 2, s + s};
}
constexpr auto make_triple_cpu = unsync::cpu_bound<&make_triple>;

struct Shape {
    std::string name;
    int x = 0;
    int y = 0;
    std::vector<double> weights;
    std::pair<int, int> span;

    template <class A>
    void serialize(A& ar) {
        ar(name, x, y, weights, span);
    }
    bool operator==(const Shape&) const = default;
};

Shape moved_shape(Shape s, int dx, int dy) {
    s.x += dx;
    s.y += dy;
    s.name += "'";
    s.weights.push_back(static_cast<double>(dx) / 2);
    s.span = {s.span.second, s.span.first};
    return s;
}
constexpr auto moved_shape_cpu = unsync::cpu_bound<&moved_shape>;

std::string join(const std::vector<std::string>& parts, const std::string& sep, int repeat,
                 char end, std::uint64_t big) {
    std::string out;
    for (int r = 0; r < repeat; ++r) {
        for (std::size_t i = 0; i < parts.size(); ++i)
            out += (i ? sep : std::string()) + parts[i];
    }
    return out + end + std::to_string(big);
}
constexpr auto join_cpu = unsync::cpu_bound<&join>;

std::map<std::string, int> count_words(const std::vector<std::string>& words) {
    std::map<std::string, int> counts;
    for (const auto& w : words)
        ++counts[w];
    return counts;
}
constexpr auto count_words_cpu = unsync::cpu_bound<&count_words>;

// A void function whose effect the test can see: it writes a file.
void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content << " from " << ::getpid();
    if (!out)
        throw std::runtime_error("write_file: cannot write " + path);
}
constexpr auto write_file_cpu = unsync::cpu_bound<&write_file>;

void void_throws(std::string what) {
    throw std::invalid_argument(what);
}
constexpr auto void_throws_cpu = unsync::cpu_bound<&void_throws>;

// --- exceptions

class MyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum StdKind : int {
    k_runtime_error,
    k_logic_error,
    k_invalid_argument,
    k_domain_error,
    k_length_error,
    k_out_of_range,
    k_range_error,
    k_overflow_error,
    k_underflow_error,
    k_bad_alloc,
    k_kinds
};

int throw_std(int kind, std::string what) {
    switch (kind) {
        case k_runtime_error:
            throw std::runtime_error(what);
        case k_logic_error:
            throw std::logic_error(what);
        case k_invalid_argument:
            throw std::invalid_argument(what);
        case k_domain_error:
            throw std::domain_error(what);
        case k_length_error:
            throw std::length_error(what);
        case k_out_of_range:
            throw std::out_of_range(what);
        case k_range_error:
            throw std::range_error(what);
        case k_overflow_error:
            throw std::overflow_error(what);
        case k_underflow_error:
            throw std::underflow_error(what);
        case k_bad_alloc:
            throw std::bad_alloc();
        default:
            return kind;
    }
}
constexpr auto throw_std_cpu = unsync::cpu_bound<&throw_std>;

std::string throw_my_error(std::string what) {
    throw MyError(what);
}
constexpr auto throw_my_error_cpu = unsync::cpu_bound<&throw_my_error>;

int throw_int(int v) {
    throw v;
}
constexpr auto throw_int_cpu = unsync::cpu_bound<&throw_int>;

// --- crashes

int crash_abort() {
    std::abort();
}
constexpr auto crash_abort_cpu = unsync::cpu_bound<&crash_abort>;

int crash_segfault() {
    // A sanitizer runtime installs its own SIGSEGV handler, which turns the fault into a report
    // and then an abort or an exit code; a plain program dies by the signal. Restore that.
    std::signal(SIGSEGV, SIG_DFL);
    // An unmapped address, but not null and aligned, so that UBSan's null and alignment checks
    // do not report it first; volatile: the compiler cannot see the value and drop the write.
    int* volatile p = reinterpret_cast<int*>(std::uintptr_t{64});
    *p = 42;
    return *p;
}
constexpr auto crash_segfault_cpu = unsync::cpu_bound<&crash_segfault>;

int crash_exit(int code) {
    std::exit(code);
}
constexpr auto crash_exit_cpu = unsync::cpu_bound<&crash_exit>;

int crash_sigkill() {
    ::kill(::getpid(), SIGKILL);
    for (;;)
        ::pause();
}
constexpr auto crash_sigkill_cpu = unsync::cpu_bound<&crash_sigkill>;

// --- large payloads

// 64 MiB in every build: under TSan each of these tests takes 5-12 s on a 2-core machine.
constexpr std::size_t k_big = std::size_t{64} << 20;  // 64 MiB
// Not a call that finishes "at once" (kWait): seconds under TSan, more on a loaded machine. Still
// below ctest's 120 s per test, so a lost call fails the test instead of timing it out.
constexpr auto k_payload_wait = std::chrono::seconds(90);

// Position-dependent bytes: a lost, repeated or reordered chunk changes the data.
std::string pattern(std::size_t size, std::uint32_t seed) {
    std::string s(size, '\0');
    std::uint32_t x = seed | 1u;
    for (std::size_t i = 0; i < size; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s[i] = static_cast<char>(x >> 24);
    }
    return s;
}

// FNV-1a over the bytes, and the size.
std::pair<std::uint64_t, std::uint64_t> checksum(const std::string& s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return {h, s.size()};
}
constexpr auto checksum_cpu = unsync::cpu_bound<&checksum>;

std::string make_pattern(std::uint64_t size, std::uint32_t seed) {
    return pattern(size, seed);
}
constexpr auto make_pattern_cpu = unsync::cpu_bound<&make_pattern>;

// --- for mixing with the loop and the thread pool

int pool_add(int a, int b) {
    return a + b;
}

unsync::Unfuture<int> loop_sum_squares(int n) {
    int total = 0;
    for (int i = 1; i <= n; ++i)
        total += co_await square_cpu(i);
    co_return total;
}

// ===========================================================================================
// No orphans. Declared first so that a run of the whole binary reaches these tests before any
// other test starts the runtime (they fork, which needs a process with no runtime threads yet).
// Each forks a child at the very start; the child uses the pool, reports its worker pids on a
// pipe, and ends in the scenario's way; the parent then checks that the workers are gone.
// ===========================================================================================

// The child's side. Never returns into gtest.
enum class ChildEnd { exit_normally, wait_to_be_killed, shutdown_then_exit };

[[noreturn]] void child_fail(const char* why) {
    std::fprintf(stderr, "orphan-test child: %s\n", why);
    std::_Exit(100);
}

// `rv` was made by the test before the fork: the test process holds its FIFOs open too, so a
// call held in a worker stays held when the child dies (only the worker's own end, not a closed
// pipe, can end it then).
[[noreturn]] void orphan_child(ChildEnd how, Rendezvous& rv, int to_parent, int from_parent) {
    try {
        set_pool_size(2);
        // Two held calls: both workers are up (and busy) at once.
        auto a = hold_cpu(rv.dir());
        auto b = hold_cpu(rv.dir());
        if (!rv.wait_arrivals(2))
            child_fail("held calls did not arrive");
        std::vector<int> pids = unsync::process_executor().worker_pids();
        if (pids.size() != 2)
            child_fail("expected two workers");
        if (how != ChildEnd::wait_to_be_killed) {
            // Idle workers for an orderly end: exit() and shutdown() wait for calls in flight.
            if (!rv.release(2))
                child_fail("release failed");
            if (a.result(kWait) == b.result(kWait))
                child_fail("the two calls shared a worker");
        }
        const int count = static_cast<int>(pids.size());
        if (!write_all(to_parent, &count, sizeof count) ||
            !write_all(to_parent, pids.data(), pids.size() * sizeof(int))) {
            child_fail("cannot write pids");
        }
        char go = 0;
        switch (how) {
            case ChildEnd::exit_normally:
                // The parent checks the workers are alive first.
                if (!read_all(from_parent, &go, 1, Clock::now() + kWait))
                    child_fail("no go");
                std::exit(0);
            case ChildEnd::wait_to_be_killed:
                for (;;)
                    ::pause();
            case ChildEnd::shutdown_then_exit:
                if (!read_all(from_parent, &go, 1, Clock::now() + kWait))
                    child_fail("no go");
                unsync::shutdown();
                if (!write_all(to_parent, "s", 1))
                    child_fail("cannot report shutdown");
                // Stay alive while the parent checks: the workers must be gone because of
                // shutdown(), not because this process ended.
                if (!read_all(from_parent, &go, 1, Clock::now() + kWait))
                    child_fail("no go");
                std::_Exit(0);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "orphan-test child: %s\n", e.what());
        std::_Exit(101);
    } catch (...) {
        std::_Exit(102);
    }
    std::_Exit(103);
}

struct ForkedChild {
    Rendezvous rv;
    pid_t pid = -1;
    Pipe to_parent;
    Pipe to_child;

    explicit ForkedChild(ChildEnd how) {
        if (!rv.ok())
            return;
        std::fflush(nullptr);  // nothing buffered is written twice
        pid = ::fork();
        if (pid == 0) {
            to_parent.close_read();
            to_child.close_write();
            orphan_child(how, rv, to_parent.write_end(), to_child.read_end());
        }
        to_parent.close_write();
        to_child.close_read();
    }
    ~ForkedChild() {
        if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }

    std::vector<int> read_pids() {
        int count = 0;
        if (!read_all(to_parent.read_end(), &count, sizeof count, Clock::now() + kWait) ||
            count <= 0 || count > 1024) {
            return {};
        }
        std::vector<int> pids(static_cast<std::size_t>(count));
        if (!read_all(to_parent.read_end(), pids.data(), pids.size() * sizeof(int),
                      Clock::now() + kWait)) {
            return {};
        }
        return pids;
    }
    bool go() { return write_all(to_child.write_end(), "g", 1); }
    bool wait_byte() {
        char c = 0;
        return read_all(to_parent.read_end(), &c, 1, Clock::now() + kWait);
    }
    // Waits for the child and forgets it.
    int reap() {
        const int status = wait_child(pid);
        pid = -1;
        return status;
    }
};

#define SKIP_UNLESS_FORK_IS_SAFE()                                                               \
    do {                                                                                         \
        if (unsync::started()) {                                                                 \
            GTEST_SKIP() << "the runtime already started in this process, so it has threads "    \
                            "and a fork() copy of it could not use unsync; run this test alone " \
                            "(ctest does)";                                                      \
        }                                                                                        \
    } while (false)

void expect_all_gone(const std::vector<int>& pids, std::chrono::milliseconds limit) {
    for (int pid : pids) {
        EXPECT_TRUE(eventually([pid] { return process_gone(pid); }, limit))
            << "worker " << pid << " still runs (state " << process_state(pid) << ", parent "
            << process_parent(pid) << ")";
    }
}

TEST(ProcessPoolNoOrphans, WorkersEndWhenTheParentExitsNormally) {
    SKIP_UNLESS_FORK_IS_SAFE();
    ForkedChild child(ChildEnd::exit_normally);
    ASSERT_GT(child.pid, 0);
    const std::vector<int> pids = child.read_pids();
    ASSERT_EQ(pids.size(), 2u);
    for (int pid : pids) {
        EXPECT_TRUE(process_alive(pid)) << pid;
        EXPECT_EQ(process_parent(pid), child.pid) << "worker " << pid << " is not the child's";
    }
    ASSERT_TRUE(child.go());
    const int status = child.reap();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_status(status);
    expect_all_gone(pids, k_orphan_wait);
}

TEST(ProcessPoolNoOrphans, WorkersEndWhenTheParentIsKilledWithSigkill) {
    SKIP_UNLESS_FORK_IS_SAFE();
    ForkedChild child(ChildEnd::wait_to_be_killed);
    ASSERT_GT(child.pid, 0);
    // The workers are in the middle of calls that this process keeps holding, so they are not
    // reading their socket and nothing ends the calls: they must notice the death themselves.
    const std::vector<int> pids = child.read_pids();
    ASSERT_EQ(pids.size(), 2u);
    for (int pid : pids) {
        EXPECT_TRUE(process_alive(pid)) << pid;
        EXPECT_EQ(process_parent(pid), child.pid) << "worker " << pid << " is not the child's";
    }
    ASSERT_EQ(::kill(child.pid, SIGKILL), 0);
    const int status = child.reap();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << describe_status(status);
    expect_all_gone(pids, k_orphan_wait);
}

TEST(ProcessPoolNoOrphans, ExplicitShutdownEndsAndReapsTheWorkers) {
    SKIP_UNLESS_FORK_IS_SAFE();
    ForkedChild child(ChildEnd::shutdown_then_exit);
    ASSERT_GT(child.pid, 0);
    const std::vector<int> pids = child.read_pids();
    ASSERT_EQ(pids.size(), 2u);
    for (int pid : pids)
        EXPECT_TRUE(process_alive(pid)) << pid;
    ASSERT_TRUE(child.go());
    ASSERT_TRUE(child.wait_byte()) << "the child did not finish shutdown()";
    // shutdown() has returned and the child still runs: its workers have ended and have been
    // reaped (not even zombies are left).
    for (int pid : pids) {
        EXPECT_EQ(process_state(pid), 0)
            << "worker " << pid << " still exists (state " << process_state(pid) << ")";
    }
    EXPECT_EQ(::waitpid(child.pid, nullptr, WNOHANG), 0) << "the child ended early";
    ASSERT_TRUE(child.go());
    const int status = child.reap();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_status(status);
}

// ===========================================================================================
// Basic calls
// ===========================================================================================

TEST(ProcessPool, CallsReturnUnfuturesOfTheExactResultType) {
    static_assert(std::is_same_v<decltype(square_cpu(1)), Unfuture<int>>);
    static_assert(std::is_same_v<decltype(twice_cpu(1)), Unfuture<int>>);
    static_assert(std::is_same_v<decltype(shout_cpu(std::string())), Unfuture<std::string>>);
    static_assert(
        std::is_same_v<decltype(doubled_cpu(std::vector<int>{})), Unfuture<std::vector<int>>>);
    static_assert(std::is_same_v<decltype(swap_pair_cpu(std::pair<std::string, int>{})),
                                 Unfuture<std::pair<int, std::string>>>);
    static_assert(std::is_same_v<decltype(make_triple_cpu(1, 2.0, "s")),
                                 Unfuture<std::tuple<int, double, std::string>>>);
    static_assert(std::is_same_v<decltype(moved_shape_cpu(Shape{}, 1, 2)), Unfuture<Shape>>);
    static_assert(std::is_same_v<decltype(write_file_cpu("p", "c")), Unfuture<void>>);
    static_assert(std::is_same_v<decltype(checksum_cpu(std::string())),
                                 Unfuture<std::pair<std::uint64_t, std::uint64_t>>>);
    EXPECT_EQ(square_cpu(12).result(), 144);
    EXPECT_EQ(twice_cpu(21).result(), 42);  // a noexcept function
    EXPECT_EQ(negate_cpu(5).result(), -5);  // a static member function
}

TEST(ProcessPool, CallsRunInAWorkerProcessOfThisProgram) {
    const int me = static_cast<int>(::getpid());
    const int pid = worker_pid_cpu().result();
    EXPECT_NE(pid, me);
    const std::vector<int> workers = unsync::process_executor().worker_pids();
    EXPECT_NE(std::find(workers.begin(), workers.end(), pid), workers.end())
        << "pid " << pid << " is not one of the pool's workers";
    EXPECT_TRUE(process_alive(pid));
    EXPECT_EQ(process_parent(pid), me);
    EXPECT_EQ(worker_parent_pid_cpu().result(), me);
    // The same program, started again.
    EXPECT_EQ(own_executable_cpu().result(), own_executable());
    for (int w : unsync::process_executor().worker_pids())
        EXPECT_NE(w, me);
}

TEST(ProcessPool, ResultCanBeReadManyTimesAndWithATimeout) {
    auto f = square_cpu(9);
    EXPECT_EQ(f.result(kWait), 81);
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), 81);
    auto copy = f;
    EXPECT_EQ(copy.result(), 81);
    EXPECT_EQ(std::move(copy).result(), 81);
}

TEST(ProcessPool, AwaitedFromACoroutine) {
    EXPECT_EQ(loop_sum_squares(10).result(), 385);

    // Several calls in flight at once, awaited in turn.
    auto gather = [](int n) -> Unfuture<std::vector<int>> {
        std::vector<Unfuture<int>> calls;
        for (int i = 0; i < n; ++i)
            calls.push_back(square_cpu(i));
        std::vector<int> out;
        for (auto& c : calls)
            out.push_back(co_await c);
        co_return out;
    };
    const std::vector<int> squares = gather(20).result();
    ASSERT_EQ(squares.size(), 20u);
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(squares[static_cast<std::size_t>(i)], i * i);
}

TEST(ProcessPool, ChainedWithThen) {
    std::atomic<bool> on_loop{false};
    auto value_cont = square_cpu(7).then([&](int v) {
        on_loop.store(std::this_thread::get_id() == unsync::thread());
        return v + 1;
    });
    static_assert(std::is_same_v<decltype(value_cont), Unfuture<int>>);
    EXPECT_EQ(value_cont.result(), 50);
    EXPECT_TRUE(on_loop.load()) << "the continuation did not run on the loop thread";

    // The seed's style: the continuation takes the source Unfuture.
    auto source_cont =
        shout_cpu("abc").then([](Unfuture<std::string>& s) { return s.result().size(); });
    EXPECT_EQ(source_cont.result(), 4u);

    // A continuation returning another CPU-bound call is flattened.
    auto flattened = square_cpu(3).then([](int v) { return square_cpu(v); });
    static_assert(std::is_same_v<decltype(flattened), Unfuture<int>>);
    EXPECT_EQ(flattened.result(), 81);

    // Unfuture<void> with a continuation taking nothing.
    ScratchDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string path = dir.path() + "/then";
    auto after_void = write_file_cpu(path, "then").then([] { return 5; });
    EXPECT_EQ(after_void.result(), 5);
    EXPECT_TRUE(std::filesystem::exists(path));

    // An exception skips a value continuation and reaches the chain's end.
    auto failed = throw_std_cpu(k_out_of_range, "chained").then([](int v) { return v + 1; });
    EXPECT_THROW(failed.result(), std::out_of_range);
}

TEST(ProcessPool, MixedWithThreadPoolAndLoopWork) {
    const auto pool_call = unsync::unsync(&pool_add);
    auto mixed = [&]() -> Unfuture<std::tuple<int, int, int, int>> {
        const int me = static_cast<int>(::getpid());
        auto cpu = worker_pid_cpu();                         // a worker process
        auto pool = pool_call(20, 22);                       // a thread-pool thread
        co_await unsync::sleep(1ms);                         // the loop
        const int from_loop = co_await loop_sum_squares(3);  // a coroutine on the loop
        const int from_pool = co_await pool;
        const int worker = co_await cpu;
        const int squared = co_await square_cpu(from_pool);
        co_return std::make_tuple(worker == me ? -1 : worker, from_pool, from_loop, squared);
    };
    const auto [worker, from_pool, from_loop, squared] = mixed().result();
    EXPECT_GT(worker, 0) << "the CPU-bound call ran in the test's own process";
    EXPECT_EQ(from_pool, 42);
    EXPECT_EQ(from_loop, 14);
    EXPECT_EQ(squared, 42 * 42);

    // And from a thread-pool thread, blocking there on the CPU-bound result.
    auto blocking_in_pool = unsync::unsync([] { return square_cpu(11).result() + 1; })();
    EXPECT_EQ(blocking_in_pool.result(), 122);
}

TEST(ProcessPool, ACallWhoseUnfutureIsDroppedStillRuns) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);  // one worker: calls run in the order they were made
    ScratchDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string path = dir.path() + "/dropped";
    { auto dropped = write_file_cpu(path, "dropped"); }
    (void)square_cpu(2).result(kWait);
    EXPECT_TRUE(std::filesystem::exists(path)) << "the call whose future was dropped did not run";
}

TEST(ProcessPool, CallsFromManyThreadsAtOnce) {
    constexpr int k_threads = 6;
    constexpr int k_calls = 25;
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([t, &wrong] {
            std::vector<Unfuture<int>> calls;
            for (int i = 0; i < k_calls; ++i)
                calls.push_back(square_cpu(t * 100 + i));
            for (int i = 0; i < k_calls; ++i) {
                const int x = t * 100 + i;
                if (calls[static_cast<std::size_t>(i)].result(kWait) != x * x)
                    wrong.fetch_add(1);
            }
        });
    }
    for (auto& th : threads)
        th.join();
    EXPECT_EQ(wrong.load(), 0);
}

// ===========================================================================================
// Arguments and results
// ===========================================================================================

TEST(ProcessPoolArguments, Strings) {
    EXPECT_EQ(shout_cpu(std::string("hello")).result(), "HELLO!");
    EXPECT_EQ(shout_cpu("literal").result(), "LITERAL!");  // converted to the parameter type
    EXPECT_EQ(shout_cpu("").result(), "!");
    const std::string binary("a\0b\xff\n", 5);
    EXPECT_EQ(shout_cpu(binary).result(), std::string("A\0B\xff\n!", 6));
    // Arguments are copied when the call is made: a later change does not reach the worker.
    std::string s = "before";
    auto f = shout_cpu(s);
    s = "after";
    EXPECT_EQ(f.result(), "BEFORE!");
}

TEST(ProcessPoolArguments, Vectors) {
    EXPECT_EQ(doubled_cpu(std::vector<int>{1, -2, 3}).result(), (std::vector<int>{2, -4, 6}));
    EXPECT_EQ(doubled_cpu(std::vector<int>{}).result(), std::vector<int>{});
    std::vector<int> many(100'000);
    for (std::size_t i = 0; i < many.size(); ++i)
        many[i] = static_cast<int>(i);
    const std::vector<int> out = doubled_cpu(many).result();
    ASSERT_EQ(out.size(), many.size());
    for (std::size_t i = 0; i < many.size(); ++i)
        ASSERT_EQ(out[i], 2 * many[i]) << i;
}

TEST(ProcessPoolArguments, PairsAndTuples) {
    EXPECT_EQ(swap_pair_cpu(std::make_pair(std::string("x"), 7)).result(),
              std::make_pair(7, std::string("x")));
    EXPECT_EQ(make_triple_cpu(1, 1.25, "ab").result(),
              std::make_tuple(2, 2.5, std::string("abab")));
}

TEST(ProcessPoolArguments, UserTypeWithASerializeMember) {
    const Shape in{"box", 1, 2, {0.5, 1.5}, {3, 4}};
    const Shape out = moved_shape_cpu(in, 10, -20).result();
    const Shape expected{"box'", 11, -18, {0.5, 1.5, 5.0}, {4, 3}};
    EXPECT_EQ(out, expected);
}

TEST(ProcessPoolArguments, MultipleArgumentsAndConstReferenceParameters) {
    const std::vector<std::string> parts{"a", "bc", "d"};
    EXPECT_EQ(join_cpu(parts, std::string("-"), 2, '.', std::uint64_t{1} << 40).result(),
              "a-bc-da-bc-d.1099511627776");
    // A standard type whose cereal header the program includes.
    const auto counts = count_words_cpu(std::vector<std::string>{"x", "y", "x"}).result();
    EXPECT_EQ(counts, (std::map<std::string, int>{{"x", 2}, {"y", 1}}));
}

TEST(ProcessPoolArguments, VoidResult) {
    ScratchDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string path = dir.path() + "/out.txt";
    auto f = write_file_cpu(path, "written");
    static_assert(std::is_same_v<decltype(f), Unfuture<void>>);
    f.result();
    EXPECT_TRUE(f.done());
    std::ifstream in(path);
    std::string content;
    std::getline(in, content);
    const int me = static_cast<int>(::getpid());
    EXPECT_EQ(content.rfind("written from ", 0), 0u) << content;
    EXPECT_NE(content, "written from " + std::to_string(me)) << "written by the test process";

    // A void call's exception reaches the caller too.
    EXPECT_THROW(void_throws_cpu("void").result(), std::invalid_argument);
}

// ===========================================================================================
// Exceptions
// ===========================================================================================

// k_keep_future_note: a test that reads a caught exception keeps the call's Unfuture in a named
// variable until after the catch. With a temporary, the future can be released during unwinding,
// and the proxy thread then drops the last reference and frees the exception after the test has
// read it. That is safe (the exception's own reference count orders the two, inside libstdc++),
// but libstdc++ is not instrumented, so ThreadSanitizer sees no order and reports a race. A named
// future is released after the read, through the future's instrumented reference count.

template <class E>
void expect_std_exception(int kind, const char* name) {
    SCOPED_TRACE(name);
    const std::string message = std::string("message of ") + name;
    // Named, not a temporary: see k_keep_future_note.
    const auto call = throw_std_cpu(kind, message);
    try {
        (void)call.result();
        ADD_FAILURE() << "no exception";
    } catch (const std::exception& e) {
        EXPECT_EQ(typeid(e), typeid(E)) << "came back as " << typeid(e).name() << ": " << e.what();
        if constexpr (!std::is_same_v<E, std::bad_alloc>) {
            EXPECT_EQ(std::string(e.what()), message);
        }
    }
}

TEST(ProcessPoolExceptions, StdExceptionsComeBackWithTheirOwnTypeAndMessage) {
    expect_std_exception<std::runtime_error>(k_runtime_error, "runtime_error");
    expect_std_exception<std::invalid_argument>(k_invalid_argument, "invalid_argument");
    expect_std_exception<std::out_of_range>(k_out_of_range, "out_of_range");
    expect_std_exception<std::logic_error>(k_logic_error, "logic_error");
    expect_std_exception<std::domain_error>(k_domain_error, "domain_error");
    expect_std_exception<std::length_error>(k_length_error, "length_error");
    expect_std_exception<std::range_error>(k_range_error, "range_error");
    expect_std_exception<std::overflow_error>(k_overflow_error, "overflow_error");
    expect_std_exception<std::underflow_error>(k_underflow_error, "underflow_error");
    expect_std_exception<std::bad_alloc>(k_bad_alloc, "bad_alloc");
    EXPECT_EQ(throw_std_cpu(k_kinds, "none").result(), k_kinds);
}

TEST(ProcessPoolExceptions, CustomExceptionComesBackAsRemoteError) {
    const auto call = throw_my_error_cpu("custom trouble");  // see k_keep_future_note
    try {
        (void)call.result();
        ADD_FAILURE() << "no exception";
    } catch (const unsync::remote_error& e) {
        EXPECT_NE(e.type_name().find("MyError"), std::string::npos) << e.type_name();
        EXPECT_NE(std::string(e.what()).find("custom trouble"), std::string::npos) << e.what();
        // remote_error is a std::runtime_error, as MyError was.
        EXPECT_NE(dynamic_cast<const std::runtime_error*>(&e), nullptr);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "came back as " << typeid(e).name() << ": " << e.what();
    }
}

TEST(ProcessPoolExceptions, NonStdExceptionComesBackAsRemoteError) {
    const auto call = throw_int_cpu(42);  // see k_keep_future_note
    try {
        (void)call.result();
        ADD_FAILURE() << "no exception";
    } catch (const unsync::remote_error& e) {
        EXPECT_EQ(e.type_name(), "int");
        EXPECT_NE(std::string(e.what()).find("int"), std::string::npos) << e.what();
    } catch (...) {
        ADD_FAILURE() << "not a remote_error";
    }
}

TEST(ProcessPoolExceptions, AwaitedExceptionsAreThrownAtTheCoAwait) {
    auto catcher = []() -> Unfuture<std::string> {
        auto call = throw_my_error_cpu("awaited");  // see k_keep_future_note
        try {
            co_await call;
        } catch (const unsync::remote_error& e) {
            co_return std::string("caught: ") + e.what();
        }
        co_return "not caught";
    };
    const std::string got = catcher().result();
    EXPECT_NE(got.find("caught: "), std::string::npos) << got;
    EXPECT_NE(got.find("awaited"), std::string::npos) << got;
}

TEST(ProcessPoolExceptions, AnExceptionDoesNotCostTheWorker) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    const int before = worker_pid_cpu().result();
    EXPECT_THROW(throw_std_cpu(k_runtime_error, "x").result(), std::runtime_error);
    EXPECT_THROW(throw_int_cpu(1).result(), unsync::remote_error);
    EXPECT_EQ(worker_pid_cpu().result(), before);
}

// ===========================================================================================
// Crash isolation
// ===========================================================================================

// With a single worker: the crashing call fails with broken_worker_error naming the worker and
// how it died; the worker is replaced, and the next calls succeed in the new one.
template <class Crash>
void expect_crash_reported(Crash crash, std::vector<std::string> expected) {
    const int first = worker_pid_cpu().result();
    const auto call = crash();  // see k_keep_future_note
    try {
        (void)call.result(kWait);
        ADD_FAILURE() << "the crashing call did not fail";
    } catch (const unsync::broken_worker_error& e) {
        const std::string what = e.what();
        expected.push_back(std::to_string(first));  // the worker that died
        for (const auto& part : expected) {
            EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
        }
    } catch (const std::exception& e) {
        ADD_FAILURE() << "came back as " << typeid(e).name() << ": " << e.what();
    }
    // Reaped by the pool, not left as a zombie.
    EXPECT_EQ(process_state(first), 0) << "state " << process_state(first);
    const int second = worker_pid_cpu().result(kWait);
    EXPECT_NE(second, first);
    EXPECT_EQ(unsync::process_executor().worker_pids(), std::vector<int>{second});
    EXPECT_EQ(square_cpu(6).result(kWait), 36);
    EXPECT_EQ(worker_pid_cpu().result(kWait), second);
}

TEST(ProcessPoolCrashes, AbortFailsTheCallWithBrokenWorkerError) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    expect_crash_reported([] { return crash_abort_cpu(); }, {"signal 6", "Aborted"});
}

TEST(ProcessPoolCrashes, SegfaultFailsTheCallWithBrokenWorkerError) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    expect_crash_reported([] { return crash_segfault_cpu(); }, {"signal 11", "Segmentation fault"});
}

TEST(ProcessPoolCrashes, ExitFailsTheCallWithBrokenWorkerError) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    expect_crash_reported([] { return crash_exit_cpu(3); }, {"status 3"});
}

TEST(ProcessPoolCrashes, SigkillFailsTheCallWithBrokenWorkerError) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    expect_crash_reported([] { return crash_sigkill_cpu(); }, {"signal 9", "Killed"});
}

TEST(ProcessPoolCrashes, RepeatedCrashesKeepThePoolUsable) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    std::set<int> pids;
    for (int i = 0; i < 3; ++i) {
        pids.insert(worker_pid_cpu().result(kWait));
        EXPECT_THROW((void)crash_exit_cpu(i + 1).result(kWait), unsync::broken_worker_error);
    }
    EXPECT_EQ(pids.size(), 3u) << "each crash should have cost one worker";
    EXPECT_EQ(square_cpu(5).result(kWait), 25);
}

TEST(ProcessPoolCrashes, CrashesDoNotAffectCallsInFlightOnOtherWorkers) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(2);
    Rendezvous rv;
    ASSERT_TRUE(rv.ok());
    struct Case {
        const char* name;
        Unfuture<int> (*crash)();
        const char* expected;
    };
    const Case cases[] = {
        {"abort", [] { return crash_abort_cpu(); }, "signal 6"},
        {"segfault", [] { return crash_segfault_cpu(); }, "signal 11"},
        {"exit", [] { return crash_exit_cpu(3); }, "status 3"},
        {"sigkill", [] { return crash_sigkill_cpu(); }, "signal 9"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        // The slow call is running in one worker (and cannot end until released), so the crash
        // happens in the other one.
        auto slow = hold_cpu(rv.dir());
        ASSERT_TRUE(rv.wait_arrivals(1));
        const auto call = c.crash();  // see k_keep_future_note
        try {
            (void)call.result(kWait);
            ADD_FAILURE() << "the crashing call did not fail";
        } catch (const unsync::broken_worker_error& e) {
            EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos) << e.what();
        }
        EXPECT_FALSE(slow.done());
        ASSERT_TRUE(rv.release(1));
        const int slow_pid = slow.result(kWait);
        const auto workers = unsync::process_executor().worker_pids();
        EXPECT_NE(std::find(workers.begin(), workers.end(), slow_pid), workers.end())
            << "the worker of the call in flight was replaced";
        EXPECT_TRUE(process_alive(slow_pid));
    }
    // Both workers serve again.
    auto a = hold_cpu(rv.dir());
    auto b = hold_cpu(rv.dir());
    ASSERT_TRUE(rv.wait_arrivals(2));
    ASSERT_TRUE(rv.release(2));
    EXPECT_NE(a.result(kWait), b.result(kWait));
}

TEST(ProcessPoolCrashes, AWorkerThatDiedWhileIdleIsReplacedWithoutFailingTheNextCall) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    const int first = worker_pid_cpu().result();
    ASSERT_EQ(::kill(first, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return process_gone(first); }, kWait));
    const int second = worker_pid_cpu().result(kWait);
    EXPECT_NE(second, first);
    EXPECT_EQ(square_cpu(4).result(kWait), 16);
}

// ===========================================================================================
// Options
// ===========================================================================================

// Holds `n` calls at once, which needs n workers; returns their pids.
std::vector<int> hold_concurrently(Rendezvous& rv, int n) {
    std::vector<Unfuture<int>> calls;
    for (int i = 0; i < n; ++i)
        calls.push_back(hold_cpu(rv.dir()));
    EXPECT_TRUE(rv.wait_arrivals(n)) << "fewer than " << n << " calls ran at once";
    EXPECT_EQ(unsync::process_executor().worker_pids().size(), static_cast<std::size_t>(n));
    EXPECT_TRUE(rv.release(n));
    std::vector<int> pids;
    for (auto& c : calls)
        pids.push_back(c.result(kWait));
    return pids;
}

TEST(ProcessPoolOptions, SizeIsHonoured) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(3);
    EXPECT_EQ(unsync::process_executor().size(), 3u);
    // Workers start with the calls, not before.
    EXPECT_TRUE(unsync::process_executor().worker_pids().empty());
    Rendezvous rv;
    ASSERT_TRUE(rv.ok());
    const std::vector<int> pids = hold_concurrently(rv, 3);
    const std::set<int> distinct(pids.begin(), pids.end());
    EXPECT_EQ(distinct.size(), 3u);
    // Three held calls occupy the pool: a fourth waits and then runs on one of the three.
    std::vector<Unfuture<int>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(hold_cpu(rv.dir()));
    ASSERT_TRUE(rv.wait_arrivals(3));
    auto fourth = worker_pid_cpu();
    EXPECT_LE(unsync::process_executor().worker_pids().size(), 3u);
    ASSERT_TRUE(rv.release(3));
    EXPECT_EQ(distinct.count(fourth.result(kWait)), 1u);
    for (auto& h : held)
        EXPECT_EQ(distinct.count(h.result(kWait)), 1u);
    const auto workers = unsync::process_executor().worker_pids();
    EXPECT_EQ(std::set<int>(workers.begin(), workers.end()), distinct);
}

TEST(ProcessPoolOptions, DefaultSizeIsTheNumberOfCores) {
    SKIP_UNLESS_FRESH_PROCESS();
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    EXPECT_EQ(unsync::process_executor().size(), cores);
    Rendezvous rv;
    ASSERT_TRUE(rv.ok());
    const std::vector<int> pids = hold_concurrently(rv, static_cast<int>(cores));
    EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), cores);
}

TEST(ProcessPoolOptions, SizeZeroMeansTheNumberOfCores) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(0);
    EXPECT_EQ(unsync::process_executor().size(), std::max(1u, std::thread::hardware_concurrency()));
}

// ===========================================================================================
// Large payloads
// ===========================================================================================

TEST(ProcessPoolPayloads, SixtyFourMebibyteArgument) {
    const std::string big = pattern(k_big, 12345);
    const auto expected = checksum(big);
    const auto got = checksum_cpu(big).result(k_payload_wait);
    EXPECT_EQ(got.second, k_big);
    EXPECT_EQ(got.first, expected.first);
}

TEST(ProcessPoolPayloads, SixtyFourMebibyteResult) {
    const std::string got = make_pattern_cpu(k_big, 777).result(k_payload_wait);
    ASSERT_EQ(got.size(), k_big);
    EXPECT_TRUE(got == pattern(k_big, 777)) << "the result's bytes differ";
}

TEST(ProcessPoolPayloads, LargePayloadsBothWaysAtOnceOnSeveralWorkers) {
    // Two big calls in flight together, then small calls: the buffers are per call.
    const std::string big = pattern(k_big / 2, 99);
    auto up = checksum_cpu(big);
    auto down = make_pattern_cpu(k_big / 2, 98);
    EXPECT_EQ(up.result(k_payload_wait), checksum(big));
    EXPECT_TRUE(down.result(k_payload_wait) == pattern(k_big / 2, 98));
    EXPECT_EQ(shout_cpu("small").result(kWait), "SMALL!");
}

// ===========================================================================================
// Cancellation
// ===========================================================================================

TEST(ProcessPoolCancel, AQueuedCallIsDroppedAndARunningOneIsStopped) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    Rendezvous rv;
    ASSERT_TRUE(rv.ok());
    ScratchDir dir;
    ASSERT_TRUE(dir.ok());
    auto running = hold_cpu(rv.dir());
    ASSERT_TRUE(rv.wait_arrivals(1));
    const std::string path = dir.path() + "/never";
    auto queued = write_file_cpu(path, "never");
    auto after = square_cpu(8);
    EXPECT_TRUE(queued.cancel());
    EXPECT_TRUE(queued.done());
    EXPECT_TRUE(queued.cancelled());
    EXPECT_THROW(queued.result(), unsync::cancelled_error);
    EXPECT_FALSE(queued.cancel());  // already done
    // A call a worker runs is stopped with its worker, which the pool replaces.
    EXPECT_TRUE(running.cancel());
    EXPECT_THROW((void)running.result(kWait), unsync::cancelled_error);
    EXPECT_TRUE(running.cancelled());
    // The pool skips the dropped call and runs the next one, on a new worker.
    EXPECT_EQ(after.result(kWait), 64);
    EXPECT_FALSE(std::filesystem::exists(path)) << "the cancelled call ran";
}

// ===========================================================================================
// Shutdown
// ===========================================================================================

TEST(ProcessPoolShutdown, QueuedCallsAreCancelledAndTheCallInFlightCompletes) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(1);
    Rendezvous rv;
    ASSERT_TRUE(rv.ok());
    auto in_flight = hold_cpu(rv.dir());
    ASSERT_TRUE(rv.wait_arrivals(1));
    const std::vector<int> workers = unsync::process_executor().worker_pids();
    ASSERT_EQ(workers.size(), 1u);
    auto queued1 = square_cpu(3);
    auto queued2 = write_file_cpu("/nonexistent/never", "never");
    auto queued3 = hold_cpu(rv.dir());

    std::atomic<bool> shutdown_returned{false};
    std::thread stopper([&] {
        unsync::shutdown();
        shutdown_returned.store(true);
    });
    // shutdown() fails the queued calls before waiting for the one in flight.
    EXPECT_THROW((void)queued1.result(kWait), unsync::cancelled_error);
    EXPECT_THROW(queued2.result(kWait), unsync::cancelled_error);
    EXPECT_THROW((void)queued3.result(kWait), unsync::cancelled_error);
    // The call in flight cannot end before it is released, so shutdown() is still waiting.
    EXPECT_FALSE(in_flight.done());
    EXPECT_FALSE(shutdown_returned.load());
    ASSERT_TRUE(rv.release(1));
    stopper.join();
    EXPECT_TRUE(in_flight.done()) << "shutdown() returned before the call in flight ended";
    EXPECT_EQ(in_flight.result(), workers[0]);
    // The worker has ended and has been reaped.
    EXPECT_TRUE(unsync::process_executor().worker_pids().empty());
    EXPECT_EQ(process_state(workers[0]), 0);

    // A call after shutdown fails at once.
    auto late = square_cpu(4);
    EXPECT_TRUE(late.done());
    EXPECT_THROW((void)late.result(), unsync::cancelled_error);
}

TEST(ProcessPoolShutdown, CallsAfterShutdownFailAtOnceEvenIfThePoolNeverStarted) {
    SKIP_UNLESS_FRESH_PROCESS();
    unsync::shutdown();
    auto late = square_cpu(4);
    EXPECT_TRUE(late.done());
    EXPECT_THROW((void)late.result(), unsync::cancelled_error);
    EXPECT_TRUE(unsync::process_executor().worker_pids().empty());
}

TEST(ProcessPoolShutdown, ShutdownWithIdleWorkersEndsThem) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_pool_size(2);
    Rendezvous rv;
    ASSERT_TRUE(rv.ok());
    const std::vector<int> pids = hold_concurrently(rv, 2);
    for (int pid : pids)
        EXPECT_TRUE(process_alive(pid));
    unsync::shutdown();
    for (int pid : pids)
        EXPECT_EQ(process_state(pid), 0) << pid;
    EXPECT_THROW((void)square_cpu(1).result(), unsync::cancelled_error);
}

}  // namespace

int main(int argc, char** argv) {
    // Worker processes are this program started again: they serve calls here and never return.
    unsync::serve_if_worker();
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
