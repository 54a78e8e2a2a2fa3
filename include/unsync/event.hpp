#pragma once
// unsync::Event: a flag that coroutines and plain threads wait on together, like asyncio.Event.
// set() wakes every waiter, and later waits end at once until clear().

#include <atomic>
#include <chrono>
#include <mutex>

#include <unsync/detail/grant.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

class UNSYNC_EXPORT Event {
public:
    Event() = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    // Waiters left fail with invalid_state_error.
    ~Event() = default;

    // Acquire: what was written before set() is seen by whoever sees the flag.
    bool is_set() const noexcept { return m_set.load(std::memory_order_acquire); }
    // From any thread; a no-op when set.
    void set();
    void clear() noexcept;

    // Done once the flag is set. Awaitable, blockable, usable with wait_for and cancellable.
    Unfuture<void> wait_async();
    // Blocking (a plain thread; on the loop thread it throws invalid_state_error).
    void wait() { (void)wait_until(std::chrono::steady_clock::time_point::max()); }
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
