#pragma once
/// @file
/// EventLoop: the thread that runs every unsync coroutine, its timers and its I/O.

#include <memory>
#include <thread>

#include <unsync/export.hpp>

namespace asio {
class io_context;
}

namespace unsync {

namespace detail {
struct LoopImpl;
struct LoopAccess;
}  // namespace detail

/// One thread that runs every unsync coroutine, its timers, and an asio::io_context for I/O.
/// Coroutines resumed from other threads reach it through a multi-producer queue; an idle loop
/// sleeps in the kernel.
///
/// The runtime makes and starts the ambient loop (unsync::loop()); unsync::Options::loop_factory
/// can supply one of a derived class. Only the ambient loop runs tasks.
class UNSYNC_EXPORT EventLoop {
public:
    /// A loop that is not started: no thread yet.
    EventLoop();
    /// Stops the loop (see stop()).
    virtual ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /// The io_context this loop runs: Asio I/O objects built on it complete on the loop thread.
    /// Include <asio.hpp> (or the parts you use) to work with it. Thread-safe.
    asio::io_context& io_context() noexcept;

    /// The I/O backend the io_context runs on: "epoll", or "io_uring" in a build with the CMake
    /// option UNSYNC_IO_URING.
    static const char* backend() noexcept;

    /// The id of the loop thread; a default id until start().
    std::thread::id thread_id() const noexcept;
    /// True when called on this loop's thread.
    bool in_loop_thread() const noexcept;

    /// Starts the loop thread. The runtime calls this once.
    /// @throws invalid_state_error when the loop was already started or stopped.
    void start();
    /// Cancels every task still pending (each sees cancelled_error at its suspension point and
    /// unwinds), runs them to their end, then joins the loop thread. Later tasks are cancelled
    /// before they start. Idempotent; from a task on the loop itself it drains there and
    /// returns without joining.
    void stop() noexcept;

private:
    friend struct detail::LoopAccess;
    std::unique_ptr<detail::LoopImpl> m_impl;
};

}  // namespace unsync
