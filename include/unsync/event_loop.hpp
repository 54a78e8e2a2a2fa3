#pragma once
// EventLoop: one thread that runs every unsync coroutine, its timers, and an asio::io_context
// for I/O. Coroutines resumed from other threads reach it through a multi-producer queue.

#include <chrono>
#include <iosfwd>
#include <memory>
#include <thread>

#include <unsync/export.hpp>

namespace asio {
class io_context;
}

namespace unsync {

void dump_tasks(std::ostream& out);

namespace detail {
class TaskBase;
struct AsioOpLink;
UNSYNC_EXPORT void schedule(TaskBase* task) noexcept;
UNSYNC_EXPORT bool request_cancel(TaskBase* task) noexcept;
UNSYNC_EXPORT void request_asio_cancel(AsioOpLink* op) noexcept;
}  // namespace detail
class EventLoop;
namespace detail {
// The runtime starts its loop through this: only that loop runs tasks. A zero duration turns
// the slow-step warning off.
UNSYNC_EXPORT void start_ambient(EventLoop& loop, std::chrono::nanoseconds slow_step);
}  // namespace detail

class UNSYNC_EXPORT EventLoop {
public:
    EventLoop();
    virtual ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // The io_context this loop runs: Asio I/O objects built on it complete on the loop thread.
    // Include <asio.hpp> (or the parts you use) to work with it.
    asio::io_context& io_context() noexcept;

    // The I/O backend the io_context runs on: "epoll", or "io_uring" in a build with the CMake
    // option UNSYNC_IO_URING.
    static const char* backend() noexcept;

    // The id of the loop thread; a default id until start().
    std::thread::id thread_id() const noexcept;
    bool in_loop_thread() const noexcept;

    // Starts the loop thread. The runtime calls this once; a second call throws.
    void start();
    // Cancels every task still pending (each sees cancelled_error at its suspension point and
    // unwinds), runs them to their end, then joins the loop thread. Later tasks are cancelled
    // before they start. Idempotent.
    void stop() noexcept;

    struct Impl;

private:
    friend void detail::schedule(detail::TaskBase* task) noexcept;
    friend bool detail::request_cancel(detail::TaskBase* task) noexcept;
    friend void detail::request_asio_cancel(detail::AsioOpLink* op) noexcept;
    friend void detail::start_ambient(EventLoop& loop, std::chrono::nanoseconds slow_step);
    friend void dump_tasks(std::ostream& out);
    void post(detail::TaskBase* task) noexcept;

    std::unique_ptr<Impl> m_impl;
};

}  // namespace unsync
