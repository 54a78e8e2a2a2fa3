#pragma once
// unsync::Semaphore: a counting semaphore for coroutines and plain threads at once, optionally
// bounded like asyncio.BoundedSemaphore. `auto permit = co_await s.acquire_async();` suspends a
// coroutine until a permit is free and gives it back when `permit` goes; a thread has acquire(),
// try_acquire_for() and release(), as std::counting_semaphore. Waiters are served in order, and a
// released permit goes straight to the oldest.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <limits>
#include <mutex>
#include <utility>

#include <unsync/detail/grant.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

class UNSYNC_EXPORT Semaphore {
public:
    static constexpr std::ptrdiff_t unbounded = std::numeric_limits<std::ptrdiff_t>::max();

    // One permit held: released when the Permit goes (or by release()).
    class [[nodiscard]] Permit {
    public:
        Permit() noexcept = default;
        explicit Permit(Semaphore& s) noexcept : m_semaphore(&s) {}
        Permit(Permit&& other) noexcept : m_semaphore(std::exchange(other.m_semaphore, nullptr)) {}
        Permit& operator=(Permit other) noexcept {
            std::swap(m_semaphore, other.m_semaphore);
            return *this;
        }
        ~Permit() { release(); }
        explicit operator bool() const noexcept { return m_semaphore != nullptr; }
        void release() noexcept {
            if (auto* s = std::exchange(m_semaphore, nullptr))
                s->release_one();
        }

    private:
        friend class Semaphore;
        Semaphore* m_semaphore = nullptr;
    };

    // `initial` permits free, at most `max` (released above it: invalid_state_error).
    explicit Semaphore(std::ptrdiff_t initial, std::ptrdiff_t max = unbounded);
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;
    // Waiters left fail with invalid_state_error.
    ~Semaphore() = default;

    // Done at once when a permit is free; otherwise granted in turn. Awaitable, blockable with
    // result(), usable with wait_for; cancelling it before the grant withdraws it.
    Unfuture<Permit> acquire_async();

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
    // Blocking (a plain thread; on the loop thread it throws invalid_state_error).
    void acquire();
    template <class Rep, class Period>
    bool try_acquire_for(std::chrono::duration<Rep, Period> timeout) {
        return try_acquire() || acquire_until(detail::deadline_after(timeout));
    }
    // Gives back n permits (not necessarily taken by the caller, as std::counting_semaphore).
    // Throws std::invalid_argument for n < 0, invalid_state_error above the maximum.
    void release(std::ptrdiff_t n = 1);

    // Free permits now (0 while tasks wait for one).
    std::ptrdiff_t available() const noexcept {
        const std::ptrdiff_t c = m_count.load(std::memory_order_relaxed);
        return c < 0 ? 0 : c;
    }
    std::ptrdiff_t max() const noexcept { return m_max; }

private:
    using PermitGrant = detail::Grant<Permit>;
    // m_count is the number of free permits, or k_queued: none free and the queue may hold
    // waiters; it leaves that value under m_mutex only.
    static constexpr std::ptrdiff_t k_queued = -1;

    PermitGrant* enqueue();
    bool acquire_until(std::chrono::steady_clock::time_point deadline);
    void release_one() noexcept;
    // The permits left after granting up to n waiters; stores them.
    void hand_over(std::ptrdiff_t n) noexcept;

    std::atomic<std::ptrdiff_t> m_count;
    const std::ptrdiff_t m_max;
    std::mutex m_mutex;  // guards m_waiters and the count's leaving k_queued
    detail::GrantQueue<PermitGrant> m_waiters;
};

}  // namespace unsync
