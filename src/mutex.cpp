#include <unsync/mutex.hpp>

#include <memory>

namespace unsync {

// Inline: on the path of every wait that queues, and used in this file only.
inline bool Mutex::queue_locked(LockGrant* g) noexcept {
    std::uint32_t s = m_state.load(std::memory_order_relaxed);
    for (;;) {
        if (s == k_free) {
            // With the queue empty (it is, when the state is free): plainly locked.
            // Acquire: as in try_lock().
            if (m_state.compare_exchange_weak(s, k_locked, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
                return false;
            }
        } else if (s == k_locked) {
            // Relaxed: only says that unlock() must come through m_lock.
            if (m_state.compare_exchange_weak(s, k_queued, std::memory_order_relaxed))
                break;
        } else {
            break;
        }
    }
    m_waiters.push(g);
    return true;
}

Mutex::LockGrant* Mutex::enqueue() {
    // Made before the lock is taken, to keep that short; seldom in vain (the mutex was free).
    std::unique_ptr<LockGrant> g(new LockGrant());
    std::lock_guard guard(m_lock);
    return queue_locked(g.get()) ? g.release() : nullptr;
}

bool Mutex::queue_in_frame(LockGrant* g) noexcept {
    std::lock_guard guard(m_lock);
    if (queue_locked(g))
        return true;
    g->set_value(*this, std::adopt_lock);
    return false;
}

Mutex::~Mutex() {
    m_waiters.close(m_lock);
}

Unfuture<std::unique_lock<Mutex>> Mutex::take_queued() {
    LockGrant* g = enqueue();
    if (!g)
        return LockGrant::ready(*this, std::adopt_lock);
    return detail::adopt_state<std::unique_lock<Mutex>>(g);
}

void Mutex::lock() {
    if (!try_lock())
        (void)lock_until(std::chrono::steady_clock::time_point::max());
}

bool Mutex::lock_until(std::chrono::steady_clock::time_point deadline) {
    detail::check_may_block();
    LockGrant* g = enqueue();
    if (!g)
        return true;
    std::optional<std::unique_lock<Mutex>> lock = detail::take_when_granted(g, deadline);
    if (!lock)
        return false;
    // The grant's unique_lock would unlock when dropped: the lock is kept, as lock() promises.
    lock->release();
    return true;
}

void Mutex::hand_over() noexcept {
    LockGrant* g;
    {
        std::lock_guard guard(m_lock);
        g = m_waiters.claim_next();
        if (!g) {
            // Release: as in unlock(), for the next owner.
            m_state.store(k_free, std::memory_order_release);
            return;
        }
        // Relaxed: the new owner learns it through the grant's completion.
        if (m_waiters.empty())
            m_state.store(k_locked, std::memory_order_relaxed);
        g->set_value(*this, std::adopt_lock);
    }
    g->finish();
}

}  // namespace unsync
