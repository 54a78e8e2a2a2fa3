#pragma once
/// @file
/// A barrier for coroutines and threads together: unsync::Barrier, like `asyncio.Barrier`.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>

#include <unsync/detail/grant.hpp>
#include <unsync/errors.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// Coroutines and threads, `parties` of them, wait for each other, then all go on, like
/// `asyncio.Barrier`; the barrier is then used again for the next round.
///
/// reset() and abort() break the waits with broken_barrier_error. Every member function is
/// thread-safe. A coroutine woken by the last arrival resumes on the loop thread, later: the
/// last arrival never runs a waiter inside its own call.
/// @code
/// unsync::Barrier ready(3);
/// const std::size_t index = co_await ready.wait_async();  // in a coroutine
/// ready.wait();                                            // on a plain thread
/// @endcode
class UNSYNC_EXPORT Barrier {
public:
    /// A barrier for `parties` waits per round.
    /// @throws std::invalid_argument for 0 parties.
    explicit Barrier(std::size_t parties);
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;
    /// Fails the waits left with invalid_state_error.
    ~Barrier() = default;

    /// Arrives and waits for the round to fill: done once parties() waits are in.
    ///
    /// Awaitable, blockable with `result()` (off the loop thread), usable with
    /// unsync::wait_for() and the combinators. A wait cancelled (or timed out) before the round
    /// is full leaves the round and is not counted, even as the last party arrives: the round
    /// then waits for another. Once the round is full, cancelling comes too late: the wait has
    /// its index (a coroutine cancelled meanwhile still gets it; its next suspension throws).
    /// @return a future of this party's index in its round, from 0 to parties() - 1 in order of
    ///         arrival; it fails with broken_barrier_error when the round is reset() or the
    ///         barrier is (or gets) aborted.
    Unfuture<std::size_t> wait_async();
    /// Arrives and blocks the calling thread until the round is full.
    /// @return this party's index in its round, as wait_async().
    /// @throws broken_barrier_error when the round is reset() or the barrier is (or gets)
    ///         aborted.
    /// @throws invalid_state_error on the loop thread, always (even the last arrival: use
    ///         wait_async() there), or when the barrier is destroyed while it waits.
    std::size_t wait() { return *wait_until(std::chrono::steady_clock::time_point::max()); }
    /// As wait(), but waits at most `timeout`; on a timeout the wait leaves the round.
    /// @return this party's index in its round, or `std::nullopt` on a timeout.
    /// @throws broken_barrier_error as wait().
    /// @throws invalid_state_error as wait().
    template <class Rep, class Period>
    std::optional<std::size_t> wait_for(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(detail::deadline_after(timeout));
    }

    /// Fails the waits of this round with broken_barrier_error and empties the barrier, which
    /// is usable again, even after abort().
    void reset();
    /// Breaks the barrier: the waits now and later fail with broken_barrier_error, until
    /// reset().
    void abort();

    /// The number of waits that fill a round.
    std::size_t parties() const noexcept { return m_parties; }
    /// The waits in the current round (cancelled and timed-out ones are not counted).
    std::size_t n_waiting();
    /// Whether abort() has broken the barrier (and no reset() has repaired it since).
    bool broken();

private:
    // The last arrival claims the waits of the round before it knows that it is full (a wait
    // being cancelled cannot be claimed), and gives the claims back when it is not.
    static bool cancel_wait(detail::StateBase* s) noexcept;
    // The value is the index, set when the round is full.
    using ArriveGrant = detail::Grant<std::size_t, detail::Empty, &cancel_wait>;
    std::optional<std::size_t> wait_until(std::chrono::steady_clock::time_point deadline);
    // A wait of the round being filled; under m_mutex.
    Unfuture<std::size_t> queue_wait();
    // Fails every wait in the queue; under m_mutex, completed outside.
    ArriveGrant* break_waits();

    const std::size_t m_parties;
    std::mutex m_mutex;  // guards everything below
    bool m_broken = false;
    detail::GrantQueue<ArriveGrant> m_waiting;
};

}  // namespace unsync
