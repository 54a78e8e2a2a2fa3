#pragma once
// unsync::sleep: the awaitable counterpart of asyncio.sleep, for unsync coroutines.

#include <chrono>
#include <coroutine>

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

// `co_await unsync::sleep(100ms);` suspends the calling coroutine without blocking the loop.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> d) {
    // A yield needs no deadline: no clock read.
    if (d <= d.zero())
        return detail::SleepAwaiter({}, true);
    return detail::SleepAwaiter(detail::deadline_after(d));
}

}  // namespace unsync
