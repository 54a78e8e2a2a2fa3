#pragma once
// The ambient runtime: one event loop and one thread pool, started on first use and stopped at
// process exit. Options (thread-pool limits, a custom loop) must be set before first use.

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <unsync/event_loop.hpp>
#include <unsync/export.hpp>
#include <unsync/process_pool_options.hpp>
#include <unsync/thread_pool.hpp>

namespace unsync {

struct Options {
    ThreadPoolOptions thread_pool;
    ProcessPoolOptions process_pool;
    // Makes the ambient loop (the seed's event-loop policy). Empty: a plain EventLoop.
    std::function<std::unique_ptr<EventLoop>()> loop_factory;
    // Debug mode (also on when the environment has UNSYNC_DEBUG=1): a task step that keeps the
    // loop longer than slow_callback_duration is reported on stderr with its name and duration.
    bool debug = false;
    std::chrono::milliseconds slow_callback_duration{100};
};

// Throws invalid_state_error once the runtime has started.
UNSYNC_EXPORT void set_options(Options options);
// True once anything has started the runtime.
UNSYNC_EXPORT bool started() noexcept;

// The ambient instances; each starts the runtime on first use.
UNSYNC_EXPORT EventLoop& loop();
UNSYNC_EXPORT std::thread::id thread();
UNSYNC_EXPORT ThreadPool& thread_executor();

// Stops the loop (cancelling what is pending), then the thread pool, then the process pool. Runs at
// exit by itself; call it earlier to choose the moment. Afterwards new work fails with
// cancelled_error.
UNSYNC_EXPORT void shutdown() noexcept;

}  // namespace unsync
