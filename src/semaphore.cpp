#include <unsync/semaphore.hpp>

#include <memory>
#include <mutex>
#include <stdexcept>

namespace unsync {

Semaphore::Semaphore(std::ptrdiff_t initial, std::ptrdiff_t max) : m_count(initial), m_max(max) {
    if (initial < 0 || max < 1 || initial > max)
        throw std::invalid_argument("unsync: a Semaphore needs 0 <= initial <= max and max >= 1");
}

// Inline: on the path of every wait that queues, and used in this file only.
inline bool Semaphore::queue_locked(PermitGrant* g) noexcept {
    std::ptrdiff_t c = m_count.load(std::memory_order_relaxed);
    for (;;) {
        if (c > 0) {
            // Acquire: as in try_acquire().
            if (m_count.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
                return false;
            }
        } else if (c == 0) {
            // Relaxed: only says that release() must come through m_lock.
            if (m_count.compare_exchange_weak(c, k_queued, std::memory_order_relaxed))
                break;
        } else {
            break;
        }
    }
    m_waiters.push(g);
    return true;
}

Semaphore::PermitGrant* Semaphore::enqueue() {
    // Made before the lock is taken, to keep that short; seldom in vain (a permit was free).
    std::unique_ptr<PermitGrant> g(new PermitGrant());
    std::lock_guard guard(m_lock);
    return queue_locked(g.get()) ? g.release() : nullptr;
}

bool Semaphore::queue_in_frame(PermitGrant* g) noexcept {
    std::lock_guard guard(m_lock);
    if (queue_locked(g))
        return true;
    g->set_value(*this);
    return false;
}

Semaphore::~Semaphore() {
    m_waiters.close(m_lock);
}

Unfuture<Semaphore::Permit> Semaphore::take_queued() {
    if (PermitGrant* g = enqueue())
        return detail::adopt_state<Permit>(g);
    return PermitGrant::ready(*this);
}

void Semaphore::acquire() {
    if (!try_acquire())
        (void)acquire_until(std::chrono::steady_clock::time_point::max());
}

bool Semaphore::acquire_until(std::chrono::steady_clock::time_point deadline) {
    detail::check_may_block();
    PermitGrant* g = enqueue();
    if (!g)
        return true;
    std::optional<Permit> permit = detail::take_when_granted(g, deadline);
    if (!permit)
        return false;
    // Kept by the caller, not by a Permit: std::counting_semaphore's way.
    permit->m_semaphore = nullptr;
    return true;
}

void Semaphore::release(std::ptrdiff_t n) {
    if (n < 0)
        throw std::invalid_argument("unsync: Semaphore::release of a negative count");
    if (n > m_max)
        throw invalid_state_error("unsync: Semaphore released above its maximum");
    std::ptrdiff_t c = m_count.load(std::memory_order_relaxed);
    while (c >= 0) {
        if (c > m_max - n)
            throw invalid_state_error("unsync: Semaphore released above its maximum");
        // Release: the next holder of these permits sees what their last holder wrote.
        if (m_count.compare_exchange_weak(c, c + n, std::memory_order_release,
                                          std::memory_order_relaxed)) {
            return;
        }
    }
    hand_over(n);
}

void Semaphore::release_one() noexcept {
    std::ptrdiff_t c = m_count.load(std::memory_order_relaxed);
    // Release: as in release(). A Permit's own permit never exceeds the maximum.
    while (c >= 0) {
        if (m_count.compare_exchange_weak(c, c + 1, std::memory_order_release,
                                          std::memory_order_relaxed)) {
            return;
        }
    }
    hand_over(1);
}

void Semaphore::hand_over(std::ptrdiff_t n) noexcept {
    PermitGrant* granted = nullptr;
    {
        std::lock_guard guard(m_lock);
        // Another release may have left k_queued while this one waited for m_lock (it found
        // the queue empty): the permits are added then, not stored over its own.
        // Release: as in release().
        if (m_count.load(std::memory_order_relaxed) != k_queued) {
            m_count.fetch_add(n, std::memory_order_release);
            return;
        }
        // The count is k_queued and stays so while m_lock is held.
        while (n > 0) {
            PermitGrant* g = m_waiters.claim_next();
            if (!g)
                break;
            g->set_value(*this);
            g->m_next = granted;
            granted = g;
            --n;
        }
        // Release: as in release(), for those who take the permits left.
        if (m_waiters.empty())
            m_count.store(n, std::memory_order_release);
    }
    detail::complete_all(granted);
}

}  // namespace unsync
