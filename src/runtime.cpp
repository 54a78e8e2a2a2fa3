#include <unsync/runtime.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>

#include <unsync/errors.hpp>
#include <unsync/process_pool.hpp>
#include <unsync/use_unfuture.hpp>

#include <pthread.h>

#include "detail/ambient.hpp"

namespace unsync {

namespace {

struct Runtime {
    explicit Runtime(Options& o)
        : loop(o.loop_factory ? o.loop_factory() : std::make_unique<EventLoop>()),
          pool(o.thread_pool),
          procs(o.process_pool) {}
    std::unique_ptr<EventLoop> loop;
    ThreadPool pool;
    // Its proxy threads and worker processes start with the first CPU-bound call.
    ProcessPool procs;
};

constinit std::mutex g_mutex;
// Never deleted: the loop and pool stay valid for anything still running during exit, while
// shutdown() stops their threads. Acquire/release: a reader sees the runtime fully built.
std::atomic<Runtime*> g_runtime{nullptr};
std::atomic<bool> g_shut_down{false};
thread_local bool t_starting = false;

Options& pending_options() {
    static Options options;
    return options;
}

void shutdown_at_exit() {
    shutdown();
}

// fork(): the child has only the thread that forked, so the parent's runtime (its loop, its
// pools, their threads) is not there to run anything or to be shut down. The child forgets it
// (leaks it) and starts a runtime of its own on first use; the parent's is untouched. The
// start-up mutex is held across the fork, so the child never finds it locked.
void before_fork() {
    g_mutex.lock();
}
void after_fork_in_parent() {
    g_mutex.unlock();
}
// The parent's runtimes a forked child forgot: still pointed to, so that LeakSanitizer sees them
// reachable, not leaked (they are, on purpose: their threads are not in the child).
Runtime* g_forgotten = nullptr;

void after_fork_in_child() {
    // Relaxed: the child has one thread.
    if (Runtime* old = g_runtime.exchange(nullptr, std::memory_order_relaxed)) {
        detail::forget_process_pool_after_fork(old->procs);
        g_forgotten = old;
    }
    g_shut_down.store(false, std::memory_order_relaxed);
    detail::forget_asio_ops_after_fork();
    detail::forget_handoffs_after_fork();
    g_mutex.unlock();
}

// The first use: builds and starts the runtime. Apart from runtime(), so that the common case
// there is a load and a test, without this function's register saves and unwinding set-up.
[[gnu::noinline]] Runtime& start_runtime() {
    if (t_starting) {
        throw invalid_state_error("unsync: the loop factory must not use the unsync runtime");
    }
    std::lock_guard lock(g_mutex);
    if (Runtime* r = g_runtime.load(std::memory_order_relaxed))
        return *r;
    t_starting = true;
    Runtime* r = nullptr;
    try {
        r = new Runtime(pending_options());
        t_starting = false;
    } catch (...) {
        t_starting = false;
        throw;
    }
    if (!r->loop) {
        delete r;
        throw invalid_state_error("unsync: the loop factory returned no loop");
    }
    try {
        const char* env = std::getenv("UNSYNC_DEBUG");
        const bool debug = pending_options().debug || (env && env[0] != '\0' && env[0] != '0');
        // A zero threshold means "off" to the loop: debug mode reports every step instead.
        const auto slow = std::max<std::chrono::nanoseconds>(
            std::chrono::nanoseconds(1), pending_options().slow_callback_duration);
        detail::start_ambient(*r->loop, debug ? slow : std::chrono::nanoseconds::zero());
    } catch (...) {
        delete r;
        throw;
    }
    static const bool at_exit_and_fork = [] {
        std::atexit(&shutdown_at_exit);
        ::pthread_atfork(&before_fork, &after_fork_in_parent, &after_fork_in_child);
        return true;
    }();
    (void)at_exit_and_fork;
    g_runtime.store(r, std::memory_order_release);
    if (g_shut_down.load(std::memory_order_acquire)) {
        // shutdown() came first: the runtime exists, so the API keeps working, but refuses work.
        r->loop->stop();
        r->pool.shutdown();
        r->procs.shutdown();
    }
    return *r;
}

Runtime& runtime() {
    if (Runtime* r = g_runtime.load(std::memory_order_acquire))
        return *r;
    return start_runtime();
}

}  // namespace

void set_options(Options options) {
    std::lock_guard lock(g_mutex);
    if (g_runtime.load(std::memory_order_relaxed)) {
        throw invalid_state_error(
            "unsync: set_options() must be called before the runtime starts (first use of "
            "loop(), thread_executor() or any unsync call)");
    }
    pending_options() = std::move(options);
}

bool started() noexcept {
    return g_runtime.load(std::memory_order_acquire) != nullptr;
}

EventLoop& loop() {
    return *runtime().loop;
}

std::thread::id thread() {
    return runtime().loop->thread_id();
}

ThreadPool& thread_executor() {
    return runtime().pool;
}

ProcessPool& process_executor() {
    return runtime().procs;
}

void shutdown() noexcept {
    Runtime* r = nullptr;
    {
        // Under the start-up mutex: a runtime starting now either sees the flag or is seen here.
        std::lock_guard lock(g_mutex);
        if (g_shut_down.exchange(true, std::memory_order_acq_rel))
            return;
        r = g_runtime.load(std::memory_order_relaxed);
    }
    if (!r)
        return;
    // The loop first: cancelling its tasks releases pool threads blocked on their results.
    r->loop->stop();
    r->pool.shutdown();
    r->procs.shutdown();
}

namespace detail {

void submit_to_thread_executor(PoolJob* job) noexcept {
    thread_executor().submit_job(job);
}

}  // namespace detail
}  // namespace unsync
