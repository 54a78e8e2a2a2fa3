#include <unsync/event.hpp>

namespace unsync {

void Event::set() {
    SetGrant* woken = nullptr;
    {
        std::lock_guard guard(m_mutex);
        if (m_set.load(std::memory_order_relaxed))
            return;
        // Release: pairs with is_set().
        m_set.store(true, std::memory_order_release);
        while (SetGrant* g = m_waiters.claim_next()) {
            g->set_value();
            g->m_next = woken;
            woken = g;
        }
    }
    detail::complete_all(woken);
}

void Event::clear() noexcept {
    std::lock_guard guard(m_mutex);
    // Relaxed: under m_mutex, which wait_async() takes before it queues.
    m_set.store(false, std::memory_order_relaxed);
}

Unfuture<void> Event::wait_async() {
    if (!is_set()) {
        std::lock_guard guard(m_mutex);
        if (!m_set.load(std::memory_order_relaxed)) {
            auto* g = new SetGrant();
            m_waiters.push(g);
            return detail::adopt_state<void>(g);
        }
    }
    return SetGrant::ready();
}

bool Event::wait_until(std::chrono::steady_clock::time_point deadline) {
    if (is_set())
        return true;
    detail::check_may_block();
    Unfuture<void> wait = wait_async();
    if (wait.done())
        return true;
    if (!detail::wait_granted(detail::state_of(wait), deadline))
        return false;
    std::move(wait).result();  // rethrows, for an Event destroyed meanwhile
    return true;
}

}  // namespace unsync
