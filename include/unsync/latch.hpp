#pragma once
// unsync::Latch: a single-use countdown that coroutines and plain threads wait on together, as
// std::latch: wait ends once count_down() has been called `count` times in all.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <stdexcept>

#include <unsync/errors.hpp>
#include <unsync/event.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

class Latch {
public:
    explicit Latch(std::ptrdiff_t count) : m_count(count) {
        if (count < 0)
            throw std::invalid_argument("unsync: a Latch needs a count >= 0");
        if (count == 0)
            m_zero.set();
    }
    Latch(const Latch&) = delete;
    Latch& operator=(const Latch&) = delete;

    // Throws invalid_state_error when counted below zero.
    void count_down(std::ptrdiff_t n = 1) {
        if (n < 0)
            throw std::invalid_argument("unsync: Latch::count_down of a negative count");
        // acq_rel: the one that reaches zero sees every other counter's writes, and set()
        // publishes them to the waiters.
        const std::ptrdiff_t before = m_count.fetch_sub(n, std::memory_order_acq_rel);
        if (before < n)
            throw invalid_state_error("unsync: Latch counted down below zero");
        if (before == n)
            m_zero.set();
    }
    bool try_wait() const noexcept { return m_zero.is_set(); }
    Unfuture<void> wait_async() { return m_zero.wait_async(); }
    void wait() { m_zero.wait(); }
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return m_zero.wait_for(timeout);
    }

private:
    std::atomic<std::ptrdiff_t> m_count;
    Event m_zero;
};

}  // namespace unsync
