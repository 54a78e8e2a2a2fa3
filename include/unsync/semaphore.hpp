#pragma once
/// @file
/// A counting semaphore for coroutines and plain threads at once: unsync::Semaphore, optionally
/// bounded like `asyncio.BoundedSemaphore`.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <limits>
#include <optional>
#include <utility>

#include <unsync/detail/grant.hpp>
#include <unsync/detail/spin_lock.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// A counting semaphore for coroutines and plain threads at once, optionally bounded.
///
/// `auto permit = co_await s.acquire_async();` suspends a coroutine until a permit is free and
/// gives the permit back when `permit` goes; a thread has acquire(), try_acquire_for() and
/// release(), as `std::counting_semaphore`. Waiters are served in order, and a released permit
/// goes straight to the oldest.
///
/// Every member function is thread-safe. A coroutine woken by a grant resumes on the loop
/// thread, later: a release never runs a waiter inside its own call.
/// @code
/// auto permit = co_await crawl.slots.acquire_async();  // waits while all are in use
/// @endcode
class UNSYNC_EXPORT Semaphore {
public:
    /// The default maximum: no bound.
    static constexpr std::ptrdiff_t unbounded = std::numeric_limits<std::ptrdiff_t>::max();

    /// One permit held: given back when the Permit goes, or by its release().
    ///
    /// Movable, not copyable; not thread-safe itself (use one object from one thread at a
    /// time). A Permit must not outlive its Semaphore.
    class [[nodiscard]] Permit {
    public:
        /// Holds no permit.
        Permit() noexcept = default;
        /// Takes over a permit of `s` that the caller holds (from Semaphore::acquire() or
        /// Semaphore::try_acquire()): the Permit gives it back.
        explicit Permit(Semaphore& s) noexcept : m_semaphore(&s) {}
        /// Takes the permit of `other`, which then holds none.
        Permit(Permit&& other) noexcept : m_semaphore(std::exchange(other.m_semaphore, nullptr)) {}
        /// Gives back the permit held, if any, and takes that of `other`.
        Permit& operator=(Permit other) noexcept {
            std::swap(m_semaphore, other.m_semaphore);
            return *this;
        }
        /// Gives back the permit held, if any.
        ~Permit() { release(); }
        /// Whether a permit is held.
        explicit operator bool() const noexcept { return m_semaphore != nullptr; }
        /// Gives back the permit now, if one is held (to the oldest waiter, if any).
        void release() noexcept {
            if (auto* s = std::exchange(m_semaphore, nullptr))
                s->release_one();
        }

    private:
        friend class Semaphore;
        Semaphore* m_semaphore = nullptr;
    };

    /// A semaphore with `initial` permits free and at most `max` (releasing more than that
    /// throws).
    /// @throws std::invalid_argument unless `0 <= initial <= max` and `max >= 1`.
    explicit Semaphore(std::ptrdiff_t initial, std::ptrdiff_t max = unbounded);
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;
    /// Fails the waits left with invalid_state_error: a clear error for each, never a hang. A
    /// coroutine whose `co_await` wait is cancelled at the same moment fails with cancelled_error
    /// or invalid_state_error, whichever came first; the destructor returns once no cancellation
    /// can reach the semaphore any more. Releasing a permit of it afterwards (a Permit going out
    /// of scope, say) is undefined.
    ~Semaphore();

    /// `auto permit = co_await s;` in an unsync coroutine: the fastest form of acquire_async();
    /// it never allocates. A free permit is taken at once; otherwise the coroutine waits its
    /// turn as with `co_await s.acquire_async()` (cancellation included), in a wait kept in its
    /// frame.
    /// @return an awaitable that gives the Permit.
    auto operator co_await() noexcept { return detail::TakeAwaiter<Permit, Semaphore>(*this); }

    /// A permit, for a coroutine (or any code that takes an Unfuture): done at once when one
    /// is free, otherwise granted in turn.
    ///
    /// Awaitable, blockable with `result()` (off the loop thread), and usable with
    /// unsync::wait_for() and the combinators. Cancelling it before the grant withdraws the
    /// wait; a permit granted before the cancellation took effect is still returned, and so is
    /// one granted as wait_for() times out, so that no permit is lost.
    /// @return a future of the Permit, which gives the permit back when it goes.
    Unfuture<Permit> acquire_async() {
        if (try_acquire())
            return PermitGrant::ready(*this);
        return take_queued();
    }

    /// Takes a permit if one is free; never waits. The caller gives it back with release() (or
    /// hands it to a Permit).
    /// @return whether a permit was taken.
    bool try_acquire() noexcept {
        std::ptrdiff_t c = m_count.load(std::memory_order_relaxed);
        // Acquire: pairs with the release that gave the permit back.
        while (c > 0) {
            if (m_count.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
                return true;
            }
        }
        return false;
    }
    /// Takes a permit, blocking the calling thread until one is granted. The caller gives it
    /// back with release() (or hands it to a Permit).
    /// @throws invalid_state_error on the loop thread when no permit is free (blocking would
    ///         deadlock the loop), or when the semaphore is destroyed while it waits.
    void acquire();
    /// As acquire(), but waits at most `timeout`; on a timeout the wait is withdrawn.
    /// @return whether a permit was taken.
    /// @throws invalid_state_error as acquire().
    template <class Rep, class Period>
    bool try_acquire_for(std::chrono::duration<Rep, Period> timeout) {
        return try_acquire() || acquire_until(detail::deadline_after(timeout));
    }
    /// Gives back `n` permits, to the oldest waiters first. They need not have been taken by
    /// the caller, as with `std::counting_semaphore`.
    /// @throws std::invalid_argument for `n < 0`.
    /// @throws invalid_state_error when the free permits would exceed max(); then none is
    ///         given back.
    void release(std::ptrdiff_t n = 1);

    /// The permits free now (0 while waiters are queued); a snapshot, which other threads may
    /// change at once.
    std::ptrdiff_t available() const noexcept {
        const std::ptrdiff_t c = m_count.load(std::memory_order_relaxed);
        return c < 0 ? 0 : c;
    }
    /// The most permits that may be free at once (#unbounded: no limit).
    std::ptrdiff_t max() const noexcept { return m_max; }

private:
    using PermitGrant = detail::Grant<Permit>;
    // m_count is the number of free permits, or k_queued: none free and the queue may hold
    // waiters; it leaves that value under m_lock only.
    static constexpr std::ptrdiff_t k_queued = -1;

    using Wait = PermitGrant;
    friend class detail::TakeAwaiter<Permit, Semaphore>;
    friend class detail::FrameGrant<PermitGrant, Semaphore>;
    std::optional<Permit> take_now() noexcept {
        if (try_acquire())
            return Permit(*this);
        return std::nullopt;
    }
    Unfuture<Permit> take_queued();
    // Queues g, or takes a permit if one was free after all (then false); under m_lock.
    bool queue_locked(PermitGrant* g) noexcept;
    PermitGrant* enqueue();
    // For a FrameGrant: as Mutex's.
    bool queue_in_frame(PermitGrant* g) noexcept;
    bool acquire_until(std::chrono::steady_clock::time_point deadline);
    void release_one() noexcept;
    // The permits left after granting up to n waiters; stores them.
    void hand_over(std::ptrdiff_t n) noexcept;

    std::atomic<std::ptrdiff_t> m_count;
    const std::ptrdiff_t m_max;
    // Guards m_waiters and the count's leaving k_queued; held for a few pointer writes, so a
    // waiter spins rather than sleeps (std::mutex costs a second atomic operation per use).
    // FrameGrant takes both to withdraw a cancelled wait.
    detail::SpinLock m_lock;
    detail::GrantQueue<PermitGrant> m_waiters;
};

}  // namespace unsync
