#pragma once
// unsync::Mutex: one lock for coroutines and plain threads at once. A coroutine takes it with
// `auto lock = co_await m.lock_async();` (a std::unique_lock<Mutex>, so RAII and early unlock
// come with it) and suspends meanwhile; a thread uses it as any standard TimedLockable
// (std::scoped_lock, std::unique_lock, try_lock_for). Waiters are served first come, first served,
// and the lock is handed straight to the next one: nobody barges in and nobody starves.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include <unsync/detail/grant.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

class UNSYNC_EXPORT Mutex {
public:
    Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;
    // Waiters left fail with invalid_state_error (there are waiters only while it is locked).
    // Unlocking it afterwards, or using a std::unique_lock of it, is undefined.
    ~Mutex() = default;

    // Done at once when the mutex is free; otherwise it is granted in turn. Awaitable, blockable
    // with result(), usable with wait_for (on a timeout the wait is withdrawn; a lock granted
    // meanwhile is returned). Cancelling it before the grant withdraws it.
    Unfuture<std::unique_lock<Mutex>> lock_async();

    bool try_lock() noexcept {
        std::uint32_t free = k_free;
        // Acquire: this owner sees what the last one wrote before its release in unlock().
        return m_state.compare_exchange_strong(free, k_locked, std::memory_order_acquire,
                                               std::memory_order_relaxed);
    }
    // Blocking (a plain thread; on the loop thread it throws invalid_state_error).
    void lock();
    template <class Rep, class Period>
    bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
        return try_lock() || lock_until(detail::deadline_after(timeout));
    }
    template <class Clock, class Duration>
    bool try_lock_until(std::chrono::time_point<Clock, Duration> deadline) {
        return try_lock() || lock_until(detail::deadline_after(deadline - Clock::now()));
    }

    void unlock() noexcept {
        std::uint32_t locked = k_locked;
        // Release: the next owner, taking it with acquire, sees this owner's writes.
        if (!m_state.compare_exchange_strong(locked, k_free, std::memory_order_release,
                                             std::memory_order_relaxed)) {
            hand_over();
        }
    }

private:
    using LockGrant = detail::Grant<std::unique_lock<Mutex>>;
    // k_queued: locked, and the queue may hold waiters; it leaves that value under m_mutex only.
    static constexpr std::uint32_t k_free = 0;
    static constexpr std::uint32_t k_locked = 1;
    static constexpr std::uint32_t k_queued = 2;

    // A wait in the queue, or null when the mutex was free after all (then it is the caller's).
    LockGrant* enqueue();
    bool lock_until(std::chrono::steady_clock::time_point deadline);
    void hand_over() noexcept;

    std::atomic<std::uint32_t> m_state{k_free};
    std::mutex m_mutex;  // guards m_waiters and the state's leaving k_queued
    detail::GrantQueue<LockGrant> m_waiters;
};

}  // namespace unsync
