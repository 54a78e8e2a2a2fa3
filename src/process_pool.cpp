#include <unsync/process_pool.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <ios>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <typeinfo>
#include <variant>

#include <unsync/detail/process_backend.hpp>
#include <unsync/errors.hpp>

#include "detail/intrusive_fifo.hpp"

extern char** environ;

namespace unsync {

using detail::ProcessJob;

namespace {

// The worker finds its end of the socket on this descriptor, and its parent's pid in the
// environment variable, as "fd:pid".
constexpr int k_worker_fd = 3;
constexpr const char* k_worker_env = "UNSYNC_PROCESS_WORKER";
// A worker whose main() did not call serve_if_worker() exits with this status.
constexpr int k_forgot_serve_status = 70;
constexpr const char* k_forgot_serve_message =
    "unsync: this process was started as a process-pool worker, but main() did not call "
    "unsync::serve_if_worker() before it went on; add `unsync::serve_if_worker();` as the first "
    "line of main()\n";
constexpr std::uint32_t k_request_magic = 0x51534e55;  // "UNSQ"
constexpr std::uint32_t k_reply_magic = 0x52534e55;    // "UNSR"
// k_ok and k_error are detail::CallStatus's values; k_ready is the worker's first message.
enum Status : std::uint32_t { k_ok = 0, k_error = 1, k_ready = 2 };

struct RequestHeader {
    std::uint32_t magic;
    std::uint32_t key_size;
    std::uint64_t payload_size;
};
struct ReplyHeader {
    std::uint32_t magic;
    std::uint32_t status;
    std::uint64_t payload_size;
};

bool read_full(int fd, void* data, std::size_t size) {
    auto* p = static_cast<char*>(data);
    while (size > 0) {
        const ssize_t n = ::read(fd, p, size);
        if (n > 0) {
            p += n;
            size -= static_cast<std::size_t>(n);
        } else if (n == 0 || errno != EINTR) {
            return false;
        }
    }
    return true;
}

bool write_full(int fd, const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        // MSG_NOSIGNAL: a dead peer must give EPIPE, not kill this process with SIGPIPE.
        const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            size -= static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EINTR) {
            return false;
        }
    }
    return true;
}

// A proxy keeps its reply buffer between calls up to this size, and frees a larger one.
constexpr std::size_t k_reply_buffer_keep = std::size_t{1} << 20;

// How long a new worker may take to say it serves: exec, the program's static initializers and
// the start of main(), under a sanitizer on a loaded machine included.
constexpr std::chrono::seconds k_start_timeout{30};

// Waits until fd has input or end of file (a worker that exited), retrying on signals.
bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return false;
        pollfd p{fd, POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc > 0)
            return true;
        if (rc == 0 || errno != EINTR)
            return false;
    }
}

// True when an idle worker's end of the channel is gone (it died): nothing is due from it, so
// any input or hang-up means that.
bool peer_closed(int fd) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    int rc = 0;
    while ((rc = ::poll(&p, 1, 0)) < 0 && errno == EINTR) {
    }
    return rc > 0;
}

bool write_reply(int fd, Status status, const std::string& payload) {
    const ReplyHeader h{k_reply_magic, status, payload.size()};
    return write_full(fd, &h, sizeof h) && write_full(fd, payload.data(), payload.size());
}

// Set once serve_if_worker() has taken over a worker process. Atomic only because a program may
// make CPU-bound calls from several threads (fail_if_unserved_worker reads it).
std::atomic<bool> g_serving{false};

// A worker whose main() forgets serve_if_worker() must neither run on as a second copy of the
// program nor start workers of its own. An alarm ends it after a second without serving (the
// spawn reset SIGALRM to its default action); serve_if_worker() cancels it. A timer rather than
// a thread: a worker has no thread but its main one, so once it is seen gone, its descriptors
// are closed. (A cpu_bound call it makes ends it at once: see fail_if_unserved_worker.)
const bool g_unserved_worker_alarm = [] {
    if (!std::getenv(k_worker_env))
        return false;
    ::alarm(1);
    return true;
}();

// The backend a library such as unsync::mpi registered before main(), and the one that
// serve_if_worker() found in charge of this launch. Release/acquire: a pool that sees the active
// backend sees the state its serve_if_worker() set up.
constinit std::atomic<const detail::RemoteBackend*> g_registered_backend{nullptr};
constinit std::atomic<const detail::RemoteBackend*> g_active_backend{nullptr};

void fail_if_unserved_worker() {
    if (std::getenv(k_worker_env) && !g_serving.load(std::memory_order_relaxed)) {
        std::fputs(k_forgot_serve_message, stderr);
        std::_Exit(k_forgot_serve_status);
    }
}

std::vector<std::string> own_command_line() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    for (std::size_t start = 0; start < all.size();) {
        const std::size_t end = all.find('\0', start);
        args.push_back(all.substr(start, end - start));
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    if (args.empty())
        args.emplace_back("unsync-worker");
    return args;
}

void fail_unsent(ProcessJob* job, const char* why) noexcept {
    if (job->claim_for_cancel()) {
        job->m_fail(job, detail::make_cancelled(why));
    } else {
        job->m_discard(job);
    }
}

std::string describe_exit(int status) {
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = ::strsignal(sig);
        return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
    }
    if (WIFEXITED(status))
        return "exited with status " + std::to_string(WEXITSTATUS(status));
    return "ended (wait status " + std::to_string(status) + ")";
}

}  // namespace

namespace detail {

void wake_proxy(int fd) noexcept {
    const std::uint64_t one = 1;
    while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

}  // namespace detail

namespace detail {

void register_remote_backend(const RemoteBackend* backend) noexcept {
    g_registered_backend.store(backend, std::memory_order_release);
}

}  // namespace detail

void serve_if_worker() {
    detail::check_cpu_registry();
    const char* env = std::getenv(k_worker_env);
    if (!env) {
        // Not a local worker: a registered backend may serve (and then never return here) or
        // take this process's calls.
        const detail::RemoteBackend* backend = g_registered_backend.load(std::memory_order_acquire);
        if (backend && backend->serve_if_worker())
            g_active_backend.store(backend, std::memory_order_release);
        return;
    }
    int fd = -1;
    long parent = -1;
    if (std::sscanf(env, "%d:%ld", &fd, &parent) != 2 || fd < 0)
        return;
    ::alarm(0);
    // Relaxed: set before the worker serves anything; nothing else is published through it.
    g_serving.store(true, std::memory_order_relaxed);
    ::unsetenv(k_worker_env);
    // The channel is not for processes the worker's calls start: one holding it would keep a
    // crash of this worker from being seen until it exits.
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    // Die with the parent, even by SIGKILL; and if it is already gone, do not start.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != static_cast<pid_t>(parent))
        std::_Exit(0);
    if (!write_reply(fd, k_ready, {}))
        std::_Exit(0);
    std::string key;
    std::string request;
    std::string reply;
    for (;;) {
        RequestHeader h{};
        // End of input: the parent closed the socket (shutdown) or died.
        if (!read_full(fd, &h, sizeof h) || h.magic != k_request_magic)
            break;
        key.resize(h.key_size);
        request.resize(h.payload_size);
        if (!read_full(fd, key.data(), key.size()) ||
            !read_full(fd, request.data(), request.size())) {
            break;
        }
        reply.clear();
        const Status status =
            detail::run_cpu_call(key, request, reply) == detail::CallStatus::ok ? k_ok : k_error;
        // _Exit below skips stdio's flush at exit, so what the call printed goes out now.
        std::cout.flush();
        std::fflush(nullptr);
        if (!write_reply(fd, status, reply))
            break;
    }
    // The worker is a server, not the program: skip the program's atexit handlers and statics.
    std::_Exit(0);
}

struct detail::ProcessPoolImpl {
    struct Slot {
        pid_t pid = -1;  // guarded by mutex (the proxy thread writes it, worker_pids reads it)
        int fd = -1;     // the proxy thread's only
        int wake = -1;   // eventfd: a stop request or shutdown wakes the proxy from its wait
        std::thread proxy;
    };
    // What ended the wait for a running call's reply.
    enum class Waited { reply, stop_requested, timed_out, shut_down, failed };

    explicit ProcessPoolImpl(ProcessPoolOptions o) : options(o) {
        if (options.size == 0)
            options.size = std::max(1u, std::thread::hardware_concurrency());
        slots = std::vector<Slot>(options.size);
        // Without one, a running call can still end by itself, its time limit or the grace.
        for (auto& slot : slots)
            slot.wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    ~ProcessPoolImpl() {
        for (auto& slot : slots) {
            if (slot.wake >= 0)
                ::close(slot.wake);
        }
    }
    ProcessPoolImpl(const ProcessPoolImpl&) = delete;
    ProcessPoolImpl& operator=(const ProcessPoolImpl&) = delete;

    ProcessPoolOptions options;
    std::vector<std::string> argv;  // the workers' command line, read with the first call
    mutable std::mutex mutex;
    std::condition_variable cv;
    detail::IntrusiveFifo<ProcessJob> queue;  // guarded by mutex
    bool stopping = false;
    bool started = false;
    std::vector<Slot> slots;
    // Set when a remote backend (unsync::mpi) runs this pool's calls; the slots then stay unused.
    std::unique_ptr<detail::RemotePool> remote;
    // When shutdown stops waiting for running calls (steady clock, in its ticks); max: not yet.
    // Release/acquire: a proxy that reads a deadline sees the shutdown that set it.
    std::atomic<std::chrono::steady_clock::rep> grace_end{
        std::chrono::steady_clock::time_point::max().time_since_epoch().count()};

    ProcessJob* take();
    void proxy(Slot& slot);
    bool spawn(Slot& slot, std::string& error);
    std::string reap(Slot& slot, bool kill_first);
    bool send(Slot& slot, const ProcessJob& job);
    Waited await_reply(Slot& slot, const ProcessJob& job,
                       std::chrono::steady_clock::time_point call_deadline);
};

detail::ProcessPoolImpl::Waited detail::ProcessPoolImpl::await_reply(
    Slot& slot, const ProcessJob& job, std::chrono::steady_clock::time_point call_deadline) {
    using Clock = std::chrono::steady_clock;
    for (;;) {
        // seq_cst: see ProcessJob::request_stop.
        if (job.m_phase.load(std::memory_order_seq_cst) == ProcessJob::stop_requested)
            return Waited::stop_requested;
        const Clock::time_point grace{Clock::duration(grace_end.load(std::memory_order_acquire))};
        const auto deadline = std::min(call_deadline, grace);
        const auto now = Clock::now();
        if (now >= deadline)
            return now >= grace ? Waited::shut_down : Waited::timed_out;
        int timeout = -1;
        if (deadline != Clock::time_point::max()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
            timeout = static_cast<int>(std::min<std::chrono::milliseconds::rep>(
                left.count(), std::numeric_limits<int>::max()));
        }
        pollfd p[2] = {{slot.fd, POLLIN, 0}, {slot.wake, POLLIN, 0}};
        const int rc = ::poll(p, 2, timeout);
        if (rc < 0 && errno != EINTR)
            return Waited::failed;
        if (rc > 0 && (p[1].revents & POLLIN) != 0) {
            std::uint64_t count = 0;
            (void)!::read(slot.wake, &count, sizeof count);  // a stale wake is harmless
        }
        if (rc > 0 && p[0].revents != 0)
            return Waited::reply;
    }
}

ProcessJob* detail::ProcessPoolImpl::take() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return !queue.empty() || stopping; });
    if (queue.empty())
        return nullptr;
    return queue.pop();
}

bool detail::ProcessPoolImpl::spawn(Slot& slot, std::string& error) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        error = std::string("socketpair: ") + std::strerror(errno);
        return false;
    }
    if (sv[1] == k_worker_fd) {
        // dup2 onto itself would keep FD_CLOEXEC on older C libraries.
        const int moved = ::fcntl(sv[1], F_DUPFD_CLOEXEC, k_worker_fd + 1);
        ::close(sv[1]);
        sv[1] = moved;
    }
    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) {
        if (std::strncmp(*e, k_worker_env, std::strlen(k_worker_env)) != 0)
            env_strings.emplace_back(*e);
    }
    env_strings.push_back(std::string(k_worker_env) + "=" + std::to_string(k_worker_fd) + ":" +
                          std::to_string(::getpid()));
    std::vector<char*> envp;
    for (auto& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (auto& s : argv)
        args.push_back(s.data());
    args.push_back(nullptr);

    // The worker gets its channel, /dev/null for input (the program's input is the program's),
    // its parent's output streams, and nothing else: a descriptor it inherited (a socket, a
    // pipe's end, a listener) would outlive the program's own close of it.
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, sv[1], k_worker_fd);
    ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addclosefrom_np(&actions, k_worker_fd + 1);
    // A process group of its own: the terminal's signals (Ctrl-C) are the program's to handle;
    // the worker still ends with it (PR_SET_PDEATHSIG, and end of input on its channel).
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    ::posix_spawnattr_setpgroup(&attr, 0);
    // No signal blocked, and SIGALRM at its default action: see g_unserved_worker_alarm.
    sigset_t none;
    sigemptyset(&none);
    ::posix_spawnattr_setsigmask(&attr, &none);
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    ::posix_spawnattr_setsigdefault(&attr, &alarm_only);
    ::posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, args.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
    ::close(sv[1]);
    if (rc != 0) {
        ::close(sv[0]);
        error = std::string("posix_spawn: ") + std::strerror(rc);
        return false;
    }
    {
        std::lock_guard lock(mutex);
        slot.pid = pid;
    }
    slot.fd = sv[0];
    // The worker says it is serving. One whose main() does not call serve_if_worker() ends
    // itself within a second instead (or at once, if it makes a CPU-bound call first).
    ReplyHeader h{};
    if (!wait_readable(slot.fd, k_start_timeout) || !read_full(slot.fd, &h, sizeof h) ||
        h.magic != k_reply_magic || h.status != k_ready) {
        error = "the worker process did not start serving (" + reap(slot, true) +
                "): call unsync::serve_if_worker() first thing in main()";
        return false;
    }
    return true;
}

std::string detail::ProcessPoolImpl::reap(Slot& slot, bool kill_first) {
    pid_t pid = -1;
    {
        std::lock_guard lock(mutex);
        pid = std::exchange(slot.pid, -1);
    }
    if (slot.fd >= 0)
        ::close(std::exchange(slot.fd, -1));
    if (pid < 0)
        return "not running";
    if (kill_first)
        ::kill(pid, SIGKILL);
    int status = 0;
    pid_t r = -1;
    while ((r = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r < 0) {
        // ECHILD: the program ignores SIGCHLD, so the kernel reaped the worker and its status
        // is gone; say so rather than report a status nobody read.
        return "worker process " + std::to_string(pid) +
               " ended (its exit status is unknown: the program ignores SIGCHLD)";
    }
    return "worker process " + std::to_string(pid) + " " + describe_exit(status);
}

bool detail::ProcessPoolImpl::send(Slot& slot, const ProcessJob& job) {
    const std::size_t key_size = std::strlen(job.m_key);
    const RequestHeader h{k_request_magic, static_cast<std::uint32_t>(key_size),
                          job.m_request.size()};
    return write_full(slot.fd, &h, sizeof h) && write_full(slot.fd, job.m_key, key_size) &&
           write_full(slot.fd, job.m_request.data(), job.m_request.size());
}

void detail::ProcessPoolImpl::proxy(Slot& slot) {
    pthread_setname_np(pthread_self(), "unsync-proc");
    std::string reply;
    while (ProcessJob* job = take()) {
        if (!job->claim_for_sending()) {
            job->m_discard(job);  // cancelled while queued; its future is done
            continue;
        }
        // seq_cst: see ProcessJob::request_stop.
        job->m_wake_fd.store(slot.wake, std::memory_order_seq_cst);
        const auto call_deadline = options.call_timeout.count() > 0
                                       ? std::chrono::steady_clock::now() + options.call_timeout
                                       : std::chrono::steady_clock::time_point::max();
        std::string error;
        bool sent = false;
        // A worker that died while idle is noticed here: replace it and send again, once.
        for (int attempt = 0; attempt < 2 && !sent; ++attempt) {
            if (slot.fd >= 0 && peer_closed(slot.fd))
                error = reap(slot, false);  // died while idle: a fresh one takes the call
            if (slot.fd < 0 && !spawn(slot, error))
                break;
            sent = send(slot, *job);
            if (!sent)
                error = reap(slot, true);
        }
        // The worker has the arguments: a finished future must not keep them (a 256 MiB
        // argument would otherwise live as long as any handle to the result).
        if (sent)
            std::string().swap(job->m_request);
        if (!sent) {
            job->m_fail(job, std::make_exception_ptr(broken_worker_error(
                                 "unsync: could not run the call in a worker: " + error)));
            continue;
        }
        const Waited waited = await_reply(slot, *job, call_deadline);
        if (waited != Waited::reply && waited != Waited::failed) {
            // The call must end now: so does its worker (a new one takes the next call).
            reap(slot, true);
            job->m_wake_fd.store(-1, std::memory_order_relaxed);
            if (waited == Waited::stop_requested) {
                job->m_fail(job, detail::make_cancelled(
                                     "unsync: the call was cancelled while it ran; its worker "
                                     "process was killed"));
            } else if (waited == Waited::timed_out) {
                job->m_fail(job, std::make_exception_ptr(timeout_error(
                                     "unsync: the call ran past the process pool's call_timeout; "
                                     "its worker process was killed")));
            } else {
                job->m_fail(job, detail::make_cancelled(
                                     "unsync: the process pool shut down while the call ran; its "
                                     "worker process was killed after the grace period"));
            }
            continue;
        }
        job->m_wake_fd.store(-1, std::memory_order_relaxed);
        ReplyHeader h{};
        bool ok = read_full(slot.fd, &h, sizeof h) && h.magic == k_reply_magic;
        if (ok) {
            reply.resize(h.payload_size);
            ok = read_full(slot.fd, reply.data(), reply.size());
        }
        if (!ok) {
            job->m_fail(job, std::make_exception_ptr(broken_worker_error(
                                 "unsync: the call's " + reap(slot, false) + " during the call")));
            continue;
        }
        if (h.status == k_ok) {
            job->m_finish(job, reply);
        } else {
            job->m_fail(job, detail::rebuild_cpu_error(reply));
        }
        // Do not keep a 64 MiB buffer around for the next small call.
        if (reply.capacity() > k_reply_buffer_keep)
            std::string().swap(reply);
    }
    // Closing the socket tells the worker to exit; then collect it.
    reap(slot, false);
}

ProcessPool::ProcessPool(ProcessPoolOptions options)
    : m_impl(std::make_unique<detail::ProcessPoolImpl>(options)) {
    if (const auto* backend = g_active_backend.load(std::memory_order_acquire))
        m_impl->remote = backend->make_pool(m_impl->options);
}

ProcessPool::~ProcessPool() {
    shutdown();
}

std::size_t ProcessPool::size() const noexcept {
    return m_impl->remote ? m_impl->remote->size() : m_impl->options.size;
}

std::vector<int> ProcessPool::worker_pids() const {
    std::lock_guard lock(m_impl->mutex);
    std::vector<int> pids;
    for (const auto& s : m_impl->slots) {
        if (s.pid >= 0)
            pids.push_back(s.pid);
    }
    return pids;
}

void ProcessPool::submit_job(ProcessJob* job) noexcept {
    // A worker that forgot serve_if_worker() and runs main() must not start workers in turn.
    fail_if_unserved_worker();
    detail::ProcessPoolImpl& impl = *m_impl;
    if (impl.remote)
        return impl.remote->submit(job);
    {
        std::unique_lock lock(impl.mutex);
        if (!impl.stopping) {
            if (!impl.started) {
                // Proxy threads (and with them the workers) start with the first call. Each
                // worker is spawned by its proxy thread, which outlives it: the worker's
                // parent-death signal is tied to the thread that spawned it.
                impl.started = true;
                impl.argv = own_command_line();
                for (auto& slot : impl.slots) {
                    try {
                        slot.proxy = std::thread([&impl, &slot] { impl.proxy(slot); });
                    } catch (const std::system_error&) {
                        // Fewer proxies serve the queue; with none, the call fails below.
                    }
                }
            }
            const bool any = std::any_of(
                impl.slots.begin(), impl.slots.end(),
                [](const detail::ProcessPoolImpl::Slot& s) { return s.proxy.joinable(); });
            if (!any) {
                lock.unlock();
                job->m_fail(job, std::make_exception_ptr(broken_worker_error(
                                     "unsync: could not start the process pool's threads")));
                return;
            }
            impl.queue.push(job);
            impl.cv.notify_one();
            return;
        }
    }
    fail_unsent(job, "unsync: the process pool shut down before the call ran");
}

void ProcessPool::shutdown() noexcept {
    detail::ProcessPoolImpl& impl = *m_impl;
    if (impl.remote)
        impl.remote->shutdown();
    ProcessJob* jobs = nullptr;
    {
        std::lock_guard lock(impl.mutex);
        if (impl.stopping)
            return;
        impl.stopping = true;
        jobs = impl.queue.take_all();
    }
    // Running calls get the grace period, then their workers are killed (see await_reply).
    const auto grace_end = std::chrono::steady_clock::now() + impl.options.shutdown_grace;
    impl.grace_end.store(grace_end.time_since_epoch().count(), std::memory_order_release);
    for (const auto& slot : impl.slots) {
        if (slot.wake >= 0)
            detail::wake_proxy(slot.wake);
    }
    impl.cv.notify_all();
    while (jobs) {
        ProcessJob* next = jobs->m_next;
        fail_unsent(jobs, "unsync: the process pool shut down before the call was sent");
        jobs = next;
    }
    for (auto& slot : impl.slots) {
        if (slot.proxy.joinable())
            slot.proxy.join();
    }
}

namespace detail {

void forget_process_pool_after_fork(ProcessPool& pool) noexcept {
    for (auto& slot : pool.m_impl->slots) {
        if (slot.fd >= 0)
            ::close(slot.fd);
        if (slot.wake >= 0)
            ::close(slot.wake);
        slot.fd = slot.wake = -1;
    }
}

}  // namespace detail
}  // namespace unsync
