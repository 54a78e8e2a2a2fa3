#pragma once
/// @file
/// A future with a deadline, like `asyncio.wait_for`: unsync::wait_for(). On expiry the inner
/// work is cancelled; `result(timeout)`, by contrast, only stops waiting.
///
/// @code
/// try {
///     unsync::wait_for(slow_answer(), 50ms).result();
/// } catch (const unsync::timeout_error& e) {
///     // slow_answer() was cancelled
/// }
/// @endcode

#include <chrono>
#include <memory>

#include <unsync/combinators.hpp>
#include <unsync/errors.hpp>
#include <unsync/sleep.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

namespace detail {

inline Unfuture<void> wake_at(std::chrono::steady_clock::time_point deadline,
                              std::shared_ptr<Race> race) {
    co_await SleepAwaiter(deadline);
    wake(*race);
}

template <class T>
Unfuture<void> wake_when_done(Unfuture<T> f, std::shared_ptr<Race> race) {
    co_await f.when_done();
    wake(*race);
}

template <class T>
Unfuture<T> wait_until(RunWhenCancelled, Unfuture<T> inner,
                       std::chrono::steady_clock::time_point deadline) {
    auto race = std::make_shared<Race>();
    // The watcher ends with the inner future; the timer is cancelled once not needed.
    (void)wake_when_done(inner, race);
    Unfuture<void> timer = wake_at(deadline, race);
    struct Cleanup {
        Unfuture<T>& inner;
        Unfuture<void>& timer;
        ~Cleanup() {
            timer.cancel();
            // Leaving on timeout or on cancellation of wait_for itself: the work stops too.
            if (!inner.done())
                inner.cancel();
        }
    } cleanup{inner, timer};
    co_await race->signal.when_done();
    // Cancelled first, then looked at: work that completed in between (a lock or an item
    // granted just then) is returned, not dropped with a timeout.
    if (!inner.done()) {
        if (!inner.cancel() && detail::state_of(inner).is_grant())
            co_await inner.when_done();  // the grant is being made: it is only a moment
        if (!inner.done() || inner.cancelled())
            throw timeout_error("unsync: wait_for timed out; the work was cancelled");
    }
    if constexpr (std::is_void_v<T>) {
        std::move(inner).result();
    } else {
        co_return std::move(inner).result();
    }
}

}  // namespace detail

/// The inner future's outcome, or timeout_error after `timeout`, in which case the inner work
/// is cancelled.
///
/// Awaitable, and blockable with `result()`. It runs as a task on the loop; call it from any
/// thread. Cancelling the returned future cancels `inner` too. The inner work is cancelled
/// first and then looked at: a result that arrived meanwhile (a lock, permit or item granted
/// just then included) is returned rather than dropped. Work that cannot be stopped, such as a
/// running thread-pool call that takes no `std::stop_token`, runs on to its end, but wait_for
/// still fails on time.
/// @return a future with `inner`'s value or exception, or with timeout_error once `timeout`
///         has passed.
template <class T, class Rep, class Period>
Unfuture<T> wait_for(Unfuture<T> inner, std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_until(detail::RunWhenCancelled{"wait_for"}, std::move(inner),
                              detail::deadline_after(timeout));
}

}  // namespace unsync
