#pragma once
/// @file
/// A flag that coroutines and plain threads wait on together: unsync::Event, like
/// `asyncio.Event`.

#include <atomic>
#include <chrono>
#include <mutex>

#include <unsync/detail/grant.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// A flag that coroutines and plain threads wait on together, like `asyncio.Event`.
///
/// set() wakes every waiter, and later waits end at once until clear(). Every member function
/// is thread-safe. What was written before set() is seen by whoever then sees the flag set
/// (is_set() or the end of a wait). A coroutine woken by set() resumes on the loop thread, later:
/// set() never runs a waiter inside its own call.
/// @code
/// co_await go.wait_async();  // in a coroutine
/// go.wait();                 // on a plain thread
/// go.set();                  // anywhere: every waiter goes on
/// @endcode
class UNSYNC_EXPORT Event {
public:
    /// A flag that is not set.
    Event() = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    /// Fails the waits left with invalid_state_error.
    ~Event() = default;

    /// Whether the flag is set now.
    // Acquire: what was written before set() is seen by whoever sees the flag.
    bool is_set() const noexcept { return m_set.load(std::memory_order_acquire); }
    /// Sets the flag and wakes every waiter; a no-op when it is set already.
    void set();
    /// Clears the flag: later waits wait again. Waits already ended by set() are not affected.
    void clear() noexcept;

    /// Done once the flag is set (at once when it is).
    ///
    /// Awaitable, blockable with `result()` (off the loop thread), usable with
    /// unsync::wait_for() and the combinators; cancelling it withdraws the wait.
    Unfuture<void> wait_async();
    /// Blocks the calling thread until the flag is set.
    /// @throws invalid_state_error on the loop thread when the flag is not set (blocking would
    ///         deadlock the loop), or when the event is destroyed while it waits.
    void wait() { (void)wait_until(std::chrono::steady_clock::time_point::max()); }
    /// As wait(), but waits at most `timeout`.
    /// @return whether the flag was set.
    /// @throws invalid_state_error as wait().
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return is_set() || wait_until(detail::deadline_after(timeout));
    }

private:
    using SetGrant = detail::Grant<void>;
    bool wait_until(std::chrono::steady_clock::time_point deadline);

    std::atomic<bool> m_set{false};
    std::mutex m_mutex;  // guards m_waiters, and m_set's changes
    detail::GrantQueue<SetGrant> m_waiters;
};

}  // namespace unsync
