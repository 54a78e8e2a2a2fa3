#pragma once
/// @file
/// The ambient runtime: one event loop, one thread pool and one process pool, started on first
/// use and stopped at process exit. Options (pool limits, a custom loop) must be set before then.
/// Every function here is thread-safe.

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <unsync/event_loop.hpp>
#include <unsync/export.hpp>
#include <unsync/process_pool_options.hpp>
#include <unsync/thread_pool.hpp>

/// Python unsync for C++: coroutines on an ambient event loop, plain functions on a thread pool,
/// CPU-bound functions in worker processes, and one future type, unsync::Unfuture, for all three.
///
/// Which thread runs what:
/// - Every unsync coroutine (a function returning `Unfuture<T>` or `AsyncGenerator<T>`) runs on
///   the one loop thread, unsync::thread(). So do `then()` continuations and the tasks behind
///   the combinators, unsync::wait_for() and unsync::TaskGroup.
/// - Plain functions wrapped with `unsync::unsync` run on the threads of thread_executor();
///   CPU-bound ones in the worker processes of `process_executor()`.
/// - A future may be completed, cancelled and waited on from any thread. Completing it never
///   runs a waiting coroutine inside the completing call: the coroutine is queued to the loop, and
///   a thread blocked in `result()` is woken where it waits.
/// - The coordination primitives (Mutex, Semaphore, Event, Latch, Barrier, Queue) are shared by
///   coroutines and plain threads; every member function is safe to call from any thread. Their
///   blocking forms throw invalid_state_error on the loop thread, where waiting would deadlock
///   the loop, and their `..._async()` forms return an Unfuture.
namespace unsync {

/// What the runtime is built with; pass it to set_options() before the runtime starts.
struct Options {
    /// The thread pool's limits (`max_threads`, `idle_timeout`).
    ThreadPoolOptions thread_pool;
    /// The process pool's settings (`size`, `call_timeout`, `shutdown_grace`).
    ProcessPoolOptions process_pool;
    /// Makes the ambient loop, like Python unsync's event-loop policy; empty: a plain EventLoop.
    ///
    /// Called once, on the thread that starts the runtime. It must return a loop that is not
    /// started (an EventLoop subclass, for one) and not null, and must not use unsync itself;
    /// otherwise the start fails with invalid_state_error.
    std::function<std::unique_ptr<EventLoop>()> loop_factory;
    /// Debug mode, also on when the environment has `UNSYNC_DEBUG=1` at start-up: a task step
    /// that keeps the loop longer than #slow_callback_duration is reported on stderr with the
    /// task's name and the time it took (an Asio handler that does, without a name).
    bool debug = false;
    /// The threshold of debug mode (asyncio's default, 100 ms); zero reports every step.
    std::chrono::milliseconds slow_callback_duration{100};
};

/// Sets the options the runtime will start with, replacing any set before.
/// @throws invalid_state_error once the runtime has started.
UNSYNC_EXPORT void set_options(Options options);

/// True once anything has started the runtime (it stays true after shutdown()); does not start
/// it.
UNSYNC_EXPORT bool started() noexcept;

/// The ambient event loop, which runs every unsync coroutine; starts the runtime on first use.
///
/// A start that fails leaves no runtime, and the next use tries again.
/// @throws invalid_state_error when Options::loop_factory returns null or a started loop, or
///         uses unsync itself.
/// @throws std::system_error when the loop thread cannot be started; anything the loop factory
///         throws is passed on too.
UNSYNC_EXPORT EventLoop& loop();

/// The id of the loop thread; starts the runtime on first use, as loop() does (and throws as
/// it does).
UNSYNC_EXPORT std::thread::id thread();

/// The ambient thread pool, which runs wrapped plain functions; starts the runtime on first
/// use, as loop() does (and throws as it does).
UNSYNC_EXPORT ThreadPool& thread_executor();

/// Stops the runtime: the loop (cancelling what is pending), then the thread pool, then the
/// process pool.
///
/// Every pending coroutine is resumed with cancelled_error at its suspension point and
/// unwinds (one that never started fails without running); queued pool calls fail with
/// cancelled_error; running thread-pool calls are waited for, and running CPU-bound calls for up to
/// `ProcessPoolOptions::shutdown_grace`. Afterwards new coroutine and pool calls fail with
/// cancelled_error instead of hanging.
///
/// Runs by itself at exit (registered with `std::atexit` when the runtime starts); call it
/// earlier to choose the moment. Idempotent, callable from any thread (a coroutine included),
/// and also before the runtime starts: the runtime then refuses work from its start.
UNSYNC_EXPORT void shutdown() noexcept;

}  // namespace unsync
