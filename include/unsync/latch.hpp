#pragma once
/// @file
/// A single-use countdown that coroutines and plain threads wait on together: unsync::Latch,
/// like `std::latch`.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <stdexcept>

#include <unsync/errors.hpp>
#include <unsync/event.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// A single-use countdown that coroutines and plain threads wait on together, like
/// `std::latch`: the waits end once count_down() has taken the count to zero.
///
/// Every member function is thread-safe. What each counter wrote before its count_down() is
/// seen by whoever then sees the latch at zero. A coroutine woken by the last count_down()
/// resumes on the loop thread. Destroying a latch fails the waits left with
/// invalid_state_error.
/// @code
/// unsync::Latch done(4);
/// // ... each of four workers calls done.count_down() when it has finished
/// done.wait();  // or co_await done.wait_async()
/// @endcode
class Latch {
public:
    /// A latch that opens after `count` counts; at once when `count` is 0.
    /// @throws std::invalid_argument for `count < 0`.
    explicit Latch(std::ptrdiff_t count) : m_count(count) {
        if (count < 0)
            throw std::invalid_argument("unsync: a Latch needs a count >= 0");
        if (count == 0)
            m_zero.set();
    }
    Latch(const Latch&) = delete;
    Latch& operator=(const Latch&) = delete;

    /// Takes `n` off the count; reaching zero wakes every waiter.
    /// @throws std::invalid_argument for `n < 0`.
    /// @throws invalid_state_error when `n` exceeds the count left; nothing is taken off.
    void count_down(std::ptrdiff_t n = 1) {
        if (n < 0)
            throw std::invalid_argument("unsync: Latch::count_down of a negative count");
        // A count that would go below zero takes nothing off, so the counts still owed open it.
        // acq_rel on success: the one that reaches zero sees every other counter's writes, and
        // set() publishes them to the waiters. Relaxed on failure: nothing was written.
        std::ptrdiff_t before = m_count.load(std::memory_order_relaxed);
        do {
            if (before < n)
                throw invalid_state_error("unsync: Latch counted down below zero");
        } while (!m_count.compare_exchange_weak(before, before - n, std::memory_order_acq_rel,
                                                std::memory_order_relaxed));
        if (before == n)
            m_zero.set();
    }
    /// Whether the count has reached zero; never waits.
    bool try_wait() const noexcept { return m_zero.is_set(); }
    /// Done once the count reaches zero (at once when it has). Awaitable, blockable with
    /// `result()` (off the loop thread), usable with unsync::wait_for() and the combinators;
    /// cancelling it withdraws the wait.
    Unfuture<void> wait_async() { return m_zero.wait_async(); }
    /// Blocks the calling thread until the count reaches zero.
    /// @throws invalid_state_error on the loop thread when the count is not zero (blocking
    ///         would deadlock the loop), or when the latch is destroyed while it waits.
    void wait() { m_zero.wait(); }
    /// As wait(), but waits at most `timeout`.
    /// @return whether the count reached zero.
    /// @throws invalid_state_error as wait().
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return m_zero.wait_for(timeout);
    }

private:
    std::atomic<std::ptrdiff_t> m_count;
    Event m_zero;
};

}  // namespace unsync
