#pragma once
/// @file
/// The awaitable counterpart of `asyncio.sleep`, for unsync coroutines: unsync::sleep().

#include <chrono>
#include <coroutine>

#include <unsync/detail/loop_core.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

namespace detail {

// Arms a timer that schedules the sleeper's task at the deadline.
UNSYNC_EXPORT void add_timer(SleepWaiter* sleeper, std::chrono::steady_clock::time_point deadline);

class SleepAwaiter : SleepWaiter {
public:
    // yield: a sleep of zero or less, which only lets the other ready tasks run.
    explicit SleepAwaiter(std::chrono::steady_clock::time_point deadline,
                          bool yield = false) noexcept
        : m_deadline(deadline), m_yield(yield) {}

    // Even a zero sleep suspends: it lets the other ready tasks run, like asyncio.sleep(0).
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        m_task = &task_of(h);
        if (m_task->m_cancelled)
            return false;
        // Any other sleep takes a timer, even one already due by now: a timer due earlier has not
        // necessarily fired yet, and timers fire in deadline order.
        if (m_yield) {
            schedule(m_task);
        } else {
            add_timer(this, m_deadline);
        }
        return true;
    }
    void await_resume() const {
        if (m_task->m_cancelled)
            std::rethrow_exception(make_cancelled("unsync: task cancelled"));
    }

private:
    std::chrono::steady_clock::time_point m_deadline;
    bool m_yield;
};

}  // namespace detail

/// Suspends the calling coroutine for `d` without blocking the loop:
/// `co_await unsync::sleep(100ms);`.
///
/// Only awaitable in an unsync coroutine (one returning `Unfuture<T>` or `AsyncGenerator<T>`);
/// plain code sleeps with `std::this_thread::sleep_for`. The coroutine resumes on the loop
/// thread once the time has passed, after timers due earlier. A sleep of zero or less still
/// suspends: it lets the other ready tasks run first, like `asyncio.sleep(0)`. Making the
/// awaitable does nothing by itself; the `co_await` arms the timer.
///
/// The `co_await` throws cancelled_error when the task is cancelled while it sleeps, or was
/// cancelled before.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> d) {
    // A yield needs no deadline: no clock read.
    if (d <= d.zero())
        return detail::SleepAwaiter({}, true);
    return detail::SleepAwaiter(detail::deadline_after(d));
}

}  // namespace unsync
