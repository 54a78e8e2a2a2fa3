#pragma once
/// @file
/// One lock for coroutines and plain threads at once: unsync::Mutex, like `asyncio.Lock` and a
/// standard *TimedLockable* in one.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include <unsync/detail/grant.hpp>
#include <unsync/detail/spin_lock.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// One lock for coroutines and plain threads at once.
///
/// A coroutine takes it with `auto lock = co_await m.lock_async();` (a
/// `std::unique_lock<Mutex>`, so RAII and early unlock come with it) and suspends meanwhile,
/// never blocking the loop; a thread uses it as any standard *TimedLockable*
/// (`std::scoped_lock`, `std::unique_lock`, try_lock_for()). Waiters are served first come,
/// first served, and the lock is handed straight to the next one: nobody barges in and nobody
/// starves.
///
/// Every member function is thread-safe. The lock belongs to whoever holds it, not to a
/// thread: a holder may unlock it from another thread. It is not recursive: a holder that
/// locks it again waits for itself. A coroutine woken by a grant resumes on the loop thread, later:
/// unlock() never runs a waiter inside its own call.
/// @code
/// auto lock = co_await totals.mutex.lock_async();  // in a coroutine
/// std::scoped_lock lock(totals.mutex);             // on a plain thread
/// @endcode
class UNSYNC_EXPORT Mutex {
public:
    /// An unlocked mutex.
    Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;
    /// Fails the waits left with invalid_state_error (there are waiters only while it is
    /// locked): a clear error for each, never a hang. A coroutine whose `co_await` wait is
    /// cancelled at the same moment fails with cancelled_error or invalid_state_error, whichever
    /// came first; the destructor returns once no cancellation can reach the mutex any more.
    /// Unlocking it afterwards, or using a `std::unique_lock` of it, is undefined.
    ~Mutex();

    /// `auto lock = co_await m;` in an unsync coroutine: the fastest form of lock_async(); it
    /// never allocates. A free mutex is taken at once; otherwise the coroutine waits its turn
    /// as with `co_await m.lock_async()` (cancellation included), in a wait kept in its frame.
    /// @return an awaitable that gives a std::unique_lock<Mutex> owning the lock.
    auto operator co_await() noexcept {
        return detail::TakeAwaiter<std::unique_lock<Mutex>, Mutex>(*this);
    }

    /// The lock, for a coroutine (or any code that takes an Unfuture): done at once when the
    /// mutex is free, otherwise granted in turn.
    ///
    /// Awaitable, blockable with `result()` (off the loop thread), and usable with
    /// unsync::wait_for() and the combinators. Cancelling it before the grant withdraws the
    /// wait; a lock granted before the cancellation took effect is still returned, and so is
    /// one granted as wait_for() times out, so that no lock is lost.
    /// @return a future of a `std::unique_lock<Mutex>` that owns the lock.
    Unfuture<std::unique_lock<Mutex>> lock_async() {
        if (try_lock())
            return LockGrant::ready(*this, std::adopt_lock);
        return take_queued();
    }

    /// Takes the lock if it is free; never waits.
    /// @return whether the lock was taken.
    bool try_lock() noexcept {
        std::uint32_t free = k_free;
        // Acquire: this owner sees what the last one wrote before its release in unlock().
        return m_state.compare_exchange_strong(free, k_locked, std::memory_order_acquire,
                                               std::memory_order_relaxed);
    }
    /// Takes the lock, blocking the calling thread until it is granted.
    /// @throws invalid_state_error on the loop thread when the lock is not free (blocking would
    ///         deadlock the loop), or when the mutex is destroyed while it waits.
    void lock();
    /// As lock(), but waits at most `timeout`; on a timeout the wait is withdrawn.
    /// @return whether the lock was taken.
    /// @throws invalid_state_error as lock().
    template <class Rep, class Period>
    bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
        return try_lock() || lock_until(detail::deadline_after(timeout));
    }
    /// As try_lock_for(), until `deadline` (turned into a timeout on `Clock` when called).
    /// @return whether the lock was taken.
    /// @throws invalid_state_error as lock().
    template <class Clock, class Duration>
    bool try_lock_until(std::chrono::time_point<Clock, Duration> deadline) {
        return try_lock() || lock_until(detail::deadline_after(deadline - Clock::now()));
    }

    /// Releases the lock, handing it to the oldest waiter if there is one. Called by the holder,
    /// on any thread.
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
    // k_queued: locked, and the queue may hold waiters; it leaves that value under m_lock only.
    static constexpr std::uint32_t k_free = 0;
    static constexpr std::uint32_t k_locked = 1;
    static constexpr std::uint32_t k_queued = 2;

    using Wait = LockGrant;
    friend class detail::TakeAwaiter<std::unique_lock<Mutex>, Mutex>;
    friend class detail::FrameGrant<LockGrant, Mutex>;
    std::optional<std::unique_lock<Mutex>> take_now() noexcept {
        if (try_lock())
            return std::unique_lock<Mutex>(*this, std::adopt_lock);
        return std::nullopt;
    }
    Unfuture<std::unique_lock<Mutex>> take_queued();
    // Queues g, or locks the mutex if it was free after all (then false); under m_lock.
    bool queue_locked(LockGrant* g) noexcept;
    // A wait in the queue, or null when the mutex was free after all (then it is the caller's).
    LockGrant* enqueue();
    // For a FrameGrant: queues it, or grants it at once (false).
    bool queue_in_frame(LockGrant* g) noexcept;
    bool lock_until(std::chrono::steady_clock::time_point deadline);
    void hand_over() noexcept;

    std::atomic<std::uint32_t> m_state{k_free};
    // Guards m_waiters and the state's leaving k_queued; held for a few pointer writes, so a
    // waiter spins rather than sleeps (std::mutex costs a second atomic operation per use).
    // FrameGrant takes both to withdraw a cancelled wait.
    detail::SpinLock m_lock;
    detail::GrantQueue<LockGrant> m_waiters;
};

}  // namespace unsync
