// The process pool at the edges of the process: what workers inherit (descriptors, standard
// input, the terminal's signals), signals arriving while a worker starts, a program that forgets
// serve_if_worker(), functions of the same name in different files, and the request's memory.
//
// Workers are this test program started again, so main() below calls serve_if_worker() first.
// Under ctest every TEST runs in a process of its own (a fresh runtime).

#include <unsync/process_pool.hpp>
#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <ios>
#include <iterator>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <typeinfo>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using unsync::Unfuture;
using unsync_test::Clock;
using unsync_test::eventually;
using unsync_test::kWait;

extern char** environ;

// In process_helpers/identity_a.cpp and identity_b.cpp.
unsync::Unfuture<int> compute_in_file_a(int x);
unsync::Unfuture<int> compute_in_file_b(int x);

namespace {

// --- worker functions ------------------------------------------------------------------------

// The descriptors open in the worker (the directory listing's own excluded).
std::vector<int> open_descriptors() {
    std::vector<int> fds;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d)
        return fds;
    const int own = ::dirfd(d);
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        const int fd = std::atoi(e->d_name);
        if (fd != own)
            fds.push_back(fd);
    }
    ::closedir(d);
    return fds;
}
constexpr auto open_descriptors_cpu = unsync::cpu_bound<&open_descriptors>;

// True when the worker's end of its channel (fd 3) is closed on exec.
bool channel_is_close_on_exec() {
    const int flags = ::fcntl(3, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}
constexpr auto channel_is_close_on_exec_cpu = unsync::cpu_bound<&channel_is_close_on_exec>;

int worker_pid() {
    return ::getpid();
}
constexpr auto worker_pid_cpu = unsync::cpu_bound<&worker_pid>;

// Starts `sleep 30` in the background (it inherits what is not close-on-exec), then crashes.
int start_background_child_then_crash() {
    pid_t pid = -1;
    char sleep_path[] = "/bin/sleep";
    char seconds[] = "30";
    char* argv[] = {sleep_path, seconds, nullptr};
    if (::posix_spawn(&pid, sleep_path, nullptr, nullptr, argv, environ) != 0)
        return -1;
    std::abort();
}
constexpr auto start_background_child_then_crash_cpu =
    unsync::cpu_bound<&start_background_child_then_crash>;

// Reads one byte of the worker's standard input: 0 at end of file, -1 on error.
int read_standard_input() {
    char c = 0;
    const ssize_t n = ::read(0, &c, 1);
    return n < 0 ? -1 : static_cast<int>(n);
}
constexpr auto read_standard_input_cpu = unsync::cpu_bound<&read_standard_input>;

std::string echo(std::string s) {
    return s;
}
constexpr auto echo_cpu = unsync::cpu_bound<&echo>;

// --- helpers -----------------------------------------------------------------------------------

// A process that has exited counts as gone even before its parent reaps it (a zombie).
bool process_gone(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z' ||
           stat[paren + 2] == 'X';
}

void kill_workers_and_wait() {
    for (int pid : unsync::process_executor().worker_pids()) {
        ::kill(pid, SIGKILL);
        ASSERT_TRUE(eventually([&] { return process_gone(pid); }, kWait));
    }
}

}  // namespace

// =============================================================================================
// Descriptors: a worker holds only its standard streams and its channel
// =============================================================================================

TEST(ProcessWorkers, InheritOnlyTheStandardStreamsAndTheirChannel) {
    // A pipe and a socket the program holds, neither close-on-exec.
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(sock, 0);
    const std::vector<int> in_worker = open_descriptors_cpu().result(kWait);
    EXPECT_EQ(std::set<int>(in_worker.begin(), in_worker.end()), (std::set<int>{0, 1, 2, 3}));
    // The pipe's reader sees end-of-file once the program closes the writer, while the worker
    // lives: the worker holds no copy.
    ::close(pipe_fds[1]);
    pollfd p{pipe_fds[0], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    char c = 0;
    EXPECT_EQ(::read(pipe_fds[0], &c, 1), 0);
    EXPECT_FALSE(unsync::process_executor().worker_pids().empty());
    ::close(pipe_fds[0]);
    ::close(sock);
}

TEST(ProcessWorkers, ChannelIsCloseOnExecInTheWorker) {
    EXPECT_TRUE(channel_is_close_on_exec_cpu().result(kWait));
}

TEST(ProcessWorkers, CrashIsNoticedAtOnceWhenTheWorkerLeftABackgroundChild) {
    auto crashed = start_background_child_then_crash_cpu();
    const auto t0 = Clock::now();
    EXPECT_THROW((void)crashed.result(kWait), unsync::broken_worker_error);
    // The background `sleep 30` would hold a channel it inherited for 30 s.
    EXPECT_LT(Clock::now() - t0, 10s);
    EXPECT_EQ(echo_cpu("after").result(kWait), "after");
}

TEST(ProcessWorkers, StandardInputIsDevNull) {
    // While the worker starts, the program's standard input is a pipe nobody writes to: a worker
    // that shared it would block reading; with /dev/null it reads end-of-file at once.
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const int saved = ::dup(0);
    ASSERT_EQ(::dup2(pipe_fds[0], 0), 0);
    auto r = read_standard_input_cpu();
    int got = -2;
    try {
        got = r.result(10s);
    } catch (const unsync::timeout_error&) {
        // Blocked on the program's input: let it go, and fail below.
        (void)::write(pipe_fds[1], "x", 1);
        got = r.result(kWait);
    }
    ::dup2(saved, 0);
    ::close(saved);
    EXPECT_EQ(got, 0) << "1: the worker read the program's own input";
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
}

TEST(ProcessWorkers, AreInAProcessGroupOfTheirOwn) {
    // Ctrl-C signals the terminal's foreground process group: the workers are not in it, so a
    // program that handles SIGINT keeps its calls in flight.
    const int pid = worker_pid_cpu().result(kWait);
    EXPECT_NE(::getpgid(pid), ::getpgrp());
    EXPECT_EQ(echo_cpu("still").result(kWait), "still");
}

int abort_now() {
    std::abort();
}
constexpr auto abort_now_cpu = unsync::cpu_bound<&abort_now>;

TEST(ProcessWorkers, ACrashIsNotReportedAsStatusZeroWhenSigchldIsIgnored) {
    // With SIGCHLD ignored the kernel reaps the worker itself and its status is lost.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    struct sigaction old {};
    ASSERT_EQ(::sigaction(SIGCHLD, &ignore, &old), 0);
    std::string what;
    try {
        (void)abort_now_cpu().result(kWait);
    } catch (const unsync::broken_worker_error& e) {
        what = e.what();
    }
    ::sigaction(SIGCHLD, &old, nullptr);
    EXPECT_EQ(what.find("exited with status 0"), std::string::npos) << what;
    EXPECT_NE(what.find("unknown"), std::string::npos) << what;
}

// =============================================================================================
// Signals while a worker starts
// =============================================================================================

namespace {
std::atomic<int> g_signals{0};
void count_signal(int) {
    g_signals.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

namespace {
// The threads that start workers (named "unsync-proc" by the pool).
std::vector<pid_t> proxy_threads() {
    std::vector<pid_t> tids;
    DIR* d = ::opendir("/proc/self/task");
    if (!d)
        return tids;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
        std::string name;
        if (std::getline(comm, name) && name == "unsync-proc")
            tids.push_back(std::atoi(e->d_name));
    }
    ::closedir(d);
    return tids;
}
}  // namespace

TEST(ProcessWorkers, StartDespiteASignalEveryTwoMilliseconds) {
    struct sigaction sa {};
    sa.sa_handler = &count_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    struct sigaction old {};
    ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
    ASSERT_EQ(echo_cpu("first").result(kWait), "first");  // the pool's threads exist now
    std::atomic<bool> stop{false};
    // The signal goes to the threads that start workers, as it may to any thread of a program.
    std::thread ticker([&] {
        while (!stop.load()) {
            for (pid_t tid : proxy_threads())
                ::syscall(SYS_tgkill, ::getpid(), tid, SIGUSR1);
            std::this_thread::sleep_for(2ms);  // the signal's period, not a synchronization
        }
    });
    int failures = 0;
    std::string first_error;
    for (int i = 0; i < 30; ++i) {
        kill_workers_and_wait();  // the next call needs a fresh worker
        try {
            EXPECT_EQ(echo_cpu("call " + std::to_string(i)).result(kWait),
                      "call " + std::to_string(i));
        } catch (const std::exception& e) {
            if (failures++ == 0)
                first_error = e.what();
        }
    }
    stop.store(true);
    ticker.join();
    ::sigaction(SIGUSR1, &old, nullptr);
    EXPECT_EQ(failures, 0) << first_error;
    EXPECT_GT(g_signals.load(), 0);
}

// =============================================================================================
// A program that forgets serve_if_worker()
// =============================================================================================

TEST(ProcessWorkers, AProgramThatForgetsServeIfWorkerFailsFastWithoutRecursing) {
    char marker_tmpl[] = "/tmp/unsync_forgets_XXXXXX";
    const int marker_fd = ::mkstemp(marker_tmpl);
    ASSERT_GE(marker_fd, 0);
    ::close(marker_fd);
    const std::string marker = marker_tmpl;
    int out[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);

    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, out[1], 2);
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    // A group of its own, so that the test can end every copy it made, whatever happens.
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    char program[] = UNSYNC_FORGETS_SERVE_IF_WORKER;
    char* argv[] = {program, const_cast<char*>(marker.c_str()), nullptr};
    pid_t pid = -1;
    ASSERT_EQ(::posix_spawn(&pid, program, &actions, &attr, argv, environ), 0);
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
    ::close(out[1]);

    const auto t0 = Clock::now();
    int status = 0;
    const bool ended = eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 20s);
    const auto took = Clock::now() - t0;
    ::kill(-pid, SIGKILL);  // whatever copies are left
    if (!ended)
        ::waitpid(pid, &status, 0);
    std::string err;
    char buf[4096];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;)
        err.append(buf, static_cast<std::size_t>(n));
    ::close(out[0]);
    std::ifstream in(marker);
    int copies = 0;
    for (std::string line; std::getline(in, line);)
        ++copies;
    ::unlink(marker.c_str());

    ASSERT_TRUE(ended) << "the program ran on for 20 s; stderr:\n" << err;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << err;
    EXPECT_LT(took, 5s) << "the failed call took that long";
    // The program itself and the worker it started: no worker starts another.
    EXPECT_LE(copies, 2) << err;
    EXPECT_NE(err.find("serve_if_worker()"), std::string::npos) << err;
}

// =============================================================================================
// Function identity
// =============================================================================================

TEST(ProcessFunctions, SameNameInTwoFilesRunsEachFilesOwnFunction) {
    EXPECT_EQ(compute_in_file_a(1).result(kWait), 1001);
    EXPECT_EQ(compute_in_file_b(1).result(kWait), 2001);
    EXPECT_EQ(compute_in_file_a(2).result(kWait), 1002);
}

// =============================================================================================
// Standard exceptions keep their type and their error code
// =============================================================================================

namespace {
enum Thrown : int {
    k_system_generic,
    k_system_system,
    k_future,
    k_ios_failure,
    k_bad_array_new_length,
    k_bad_cast,
    k_bad_optional_access,
    k_bad_variant_access,
};

int throw_standard(int which) {
    switch (which) {
        case k_system_generic:
            throw std::system_error(std::make_error_code(std::errc::permission_denied), "opening");
        case k_system_system:
            throw std::system_error(ENOENT, std::system_category(), "stat");
        case k_future:
            throw std::future_error(std::future_errc::broken_promise);
        case k_ios_failure:
            throw std::ios_base::failure("reading", std::make_error_code(std::io_errc::stream));
        case k_bad_array_new_length:
            throw std::bad_array_new_length();
        case k_bad_cast:
            throw std::bad_cast();
        case k_bad_optional_access:
            throw std::bad_optional_access();
        case k_bad_variant_access:
            throw std::bad_variant_access();
        default:
            return which;
    }
}
constexpr auto throw_standard_cpu = unsync::cpu_bound<&throw_standard>;

template <class E>
E caught(Thrown which) {
    try {
        (void)throw_standard_cpu(which).result(kWait);
    } catch (const E& e) {
        return e;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "got " << typeid(e).name() << ": " << e.what();
    }
    throw std::logic_error("not thrown");
}
}  // namespace

TEST(ProcessExceptions, SystemErrorKeepsItsCodeAndCategory) {
    const auto generic = caught<std::system_error>(k_system_generic);
    EXPECT_EQ(generic.code(), std::make_error_code(std::errc::permission_denied));
    EXPECT_STREQ(
        generic.what(),
        std::system_error(std::make_error_code(std::errc::permission_denied), "opening").what());
    const auto system = caught<std::system_error>(k_system_system);
    EXPECT_EQ(system.code(), std::error_code(ENOENT, std::system_category()));
}

TEST(ProcessExceptions, FutureErrorAndIosFailureKeepTheirCodes) {
    EXPECT_EQ(caught<std::future_error>(k_future).code(),
              std::make_error_code(std::future_errc::broken_promise));
    EXPECT_EQ(caught<std::ios_base::failure>(k_ios_failure).code(),
              std::make_error_code(std::io_errc::stream));
}

TEST(ProcessExceptions, LibraryExceptionsKeepTheirType) {
    caught<std::bad_array_new_length>(k_bad_array_new_length);
    caught<std::bad_cast>(k_bad_cast);
    caught<std::bad_optional_access>(k_bad_optional_access);
    caught<std::bad_variant_access>(k_bad_variant_access);
}

// =============================================================================================
// Memory
// =============================================================================================

std::size_t size_of(std::string s) {
    return s.size();
}
constexpr auto size_of_cpu = unsync::cpu_bound<&size_of>;

TEST(ProcessMemory, AFinishedCallDoesNotKeepItsArguments) {
    auto call = size_of_cpu(std::string(std::size_t{8} << 20, 'x'));
    EXPECT_EQ(call.result(kWait), std::size_t{8} << 20);
    // The future's state is the job: its serialized request is gone once sent.
    auto& state = unsync::detail::state_of(call);
    const auto& job = static_cast<const unsync::detail::ProcessJob&>(
        static_cast<unsync::detail::ProcessTask<std::size_t>&>(state));
    EXPECT_TRUE(job.m_request.empty());
    EXPECT_LT(job.m_request.capacity(), 64u);
}

// =============================================================================================
// Running calls can be stopped: cancel, wait_for, a time limit, the shutdown grace
// =============================================================================================

namespace {

// Creates `marker` (the test learns the call runs), then spins until killed.
int spin_forever(std::string marker) {
    std::ofstream(marker) << ::getpid();
    volatile unsigned long sink = 0;
    for (;;)
        sink = sink + 1;
}
constexpr auto spin_forever_cpu = unsync::cpu_bound<&spin_forever>;

struct Marker {
    Marker() {
        char tmpl[] = "/tmp/unsync_spin_XXXXXX";
        const int fd = ::mkstemp(tmpl);
        if (fd >= 0)
            ::close(fd);
        path = tmpl;
        ::unlink(path.c_str());
    }
    ~Marker() { ::unlink(path.c_str()); }
    // The pid of the worker running the call, once it runs.
    int wait_running() const {
        int pid = 0;
        eventually([&] { return (std::ifstream(path) >> pid) && pid > 0; }, kWait);
        return pid;
    }
    std::string path;
};

void set_process_pool(std::chrono::milliseconds call_timeout, std::chrono::milliseconds grace) {
    unsync::Options options;
    options.process_pool.size = 1;
    options.process_pool.call_timeout = call_timeout;
    options.process_pool.shutdown_grace = grace;
    unsync::set_options(std::move(options));
}

}  // namespace

TEST(ProcessRunaway, CancelKillsTheWorkerAndFreesItsSlot) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_process_pool(0ms, 10s);
    Marker marker;
    auto spinning = spin_forever_cpu(marker.path);
    const int pid = marker.wait_running();
    ASSERT_GT(pid, 0);
    const auto t0 = Clock::now();
    EXPECT_TRUE(spinning.cancel());
    EXPECT_THROW((void)spinning.result(kWait), unsync::cancelled_error);
    EXPECT_LT(Clock::now() - t0, 10s);
    EXPECT_TRUE(eventually([&] { return process_gone(pid); }, kWait));
    // The pool's only slot serves the next call.
    EXPECT_EQ(echo_cpu("next").result(kWait), "next");
}

TEST(ProcessRunaway, WaitForStopsTheRunningCall) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_process_pool(0ms, 10s);
    Marker marker;
    auto spinning = spin_forever_cpu(marker.path);
    const int pid = marker.wait_running();
    EXPECT_THROW((void)unsync::wait_for(spinning, 100ms).result(kWait), unsync::timeout_error);
    EXPECT_THROW((void)spinning.result(kWait), unsync::cancelled_error);
    EXPECT_TRUE(eventually([&] { return process_gone(pid); }, kWait));
    EXPECT_EQ(echo_cpu("next").result(kWait), "next");
}

TEST(ProcessRunaway, CallTimeoutKillsACallThatRunsTooLong) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_process_pool(200ms, 10s);
    Marker marker;
    EXPECT_THROW((void)spin_forever_cpu(marker.path).result(kWait), unsync::timeout_error);
    EXPECT_EQ(echo_cpu("next").result(kWait), "next");
}

TEST(ProcessRunaway, ShutdownWaitsOnlyTheGracePeriodForARunningCall) {
    SKIP_UNLESS_FRESH_PROCESS();
    set_process_pool(0ms, 300ms);
    Marker marker;
    auto spinning = spin_forever_cpu(marker.path);
    const int pid = marker.wait_running();
    const auto t0 = Clock::now();
    unsync::shutdown();
    EXPECT_LT(Clock::now() - t0, 10s);
    EXPECT_THROW((void)spinning.result(kWait), unsync::cancelled_error);
    EXPECT_TRUE(process_gone(pid));
}

// =============================================================================================
// fork() after the runtime started
// =============================================================================================

namespace {

Unfuture<int> add_later(int a, int b) {
    co_await unsync::sleep(1ms);
    co_return a + b;
}

int square(int x) {
    return x * x;
}
constexpr auto square_cpu = unsync::cpu_bound<&square>;

// Waits for the child for at most `limit`; kills it then. The wait status, or -1 if killed.
int wait_child(pid_t pid, std::chrono::seconds limit) {
    int status = 0;
    if (eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit))
        return status;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
}

}  // namespace

TEST(ProcessFork, TheChildGetsAFreshRuntimeAndExitsCleanly) {
    // GCC 12's TSan cannot follow threads started in the child of a multi-threaded fork(): it
    // kills the child ("starting new threads after multi-threaded fork is not supported"), and
    // with die_after_fork=0 it trips on its own records ("dup thread with used id").
    if (unsync_test::kThreadSanitized)
        GTEST_SKIP() << "ThreadSanitizer does not support threads in a fork()ed child";
    // The parent's runtime runs everything: the loop, the thread pool and the process pool.
    const auto pooled = unsync::unsync([](int x) { return x + 1; });
    ASSERT_EQ(add_later(1, 2).result(kWait), 3);
    ASSERT_EQ(pooled(1).result(kWait), 2);
    ASSERT_EQ(square_cpu(3).result(kWait), 9);

    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // The child: none of the parent's threads exist here. The first use starts a runtime
        // of its own.
        int failures = 0;
        try {
            failures += add_later(2, 3).result(kWait) != 5;
            failures += pooled(4).then([](int v) { return v * 10; }).result(kWait) != 50;
            failures += square_cpu(5).result(kWait) != 25;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: %s\n", e.what());
            failures += 100;
        }
        std::exit(failures);  // runs the child's shutdown at exit
    }
    const int status = wait_child(pid, 60s);
    ASSERT_NE(status, -1) << "the child hung";
    EXPECT_TRUE(WIFEXITED(status)) << "the child died by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    // The parent's runtime is unaffected, and so is its shutdown: the child's copies of the
    // workers' channels are closed.
    EXPECT_EQ(square_cpu(6).result(kWait), 36);
    const auto t0 = Clock::now();
    unsync::shutdown();
    EXPECT_LT(Clock::now() - t0, 20s);
}

TEST(ProcessFork, AChildThatOnlyExitsDoesSoAtOnce) {
    ASSERT_EQ(square_cpu(2).result(kWait), 4);
    ASSERT_EQ(add_later(1, 1).result(kWait), 2);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
        std::exit(0);
    const int status = wait_child(pid, 30s);
    ASSERT_NE(status, -1) << "exit() in the child hung";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

int main(int argc, char** argv) {
    // Worker processes are this program started again: they serve calls here and never return.
    unsync::serve_if_worker();
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
