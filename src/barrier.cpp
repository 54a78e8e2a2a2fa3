#include <unsync/barrier.hpp>

#include <stdexcept>

#include <unsync/detail/spin_lock.hpp>

namespace unsync {

namespace {
std::exception_ptr broken_error() {
    return std::make_exception_ptr(broken_barrier_error("unsync: the Barrier is broken"));
}
}  // namespace

Barrier::Barrier(std::size_t parties) : m_parties(parties) {
    if (parties == 0)
        throw std::invalid_argument("unsync: a Barrier needs at least one party");
}

Unfuture<std::size_t> Barrier::wait_async() {
    ArriveGrant* released = nullptr;
    std::size_t index = 0;
    {
        std::lock_guard guard(m_mutex);
        if (m_broken)
            return ArriveGrant::ready_error(broken_error());
        // Counted now, not at arrival: a wait cancelled or timed out meanwhile left the round.
        // Only an upper bound, as a wait may be cancelled right now; the claims below decide.
        if (m_waiting.live() + 1 < m_parties)
            return queue_wait();
        ArriveGrant** tail = &released;
        while (ArriveGrant* g = m_waiting.claim_next()) {
            g->m_next = nullptr;
            *tail = g;
            tail = &g->m_next;
            ++index;
        }
        if (index + 1 < m_parties) {
            // A wait was cancelled before its claim: the round is short. The claims go back
            // (the cancellers of those waits wait for that) and this party waits with them.
            while (ArriveGrant* g = released) {
                released = g->m_next;
                g->m_next = nullptr;
                g->unclaim();
                m_waiting.push(g);
            }
            return queue_wait();
        }
        // The round is full. Its waits are released in order of arrival.
        std::size_t i = 0;
        for (ArriveGrant* g = released; g; g = g->m_next)
            g->set_value(i++);
    }
    detail::complete_all(released);
    return ArriveGrant::ready(index);
}

Unfuture<std::size_t> Barrier::queue_wait() {
    auto* g = new ArriveGrant();
    m_waiting.push(g);
    return detail::adopt_state<std::size_t>(g);
}

bool Barrier::cancel_wait(detail::StateBase* s) noexcept {
    // A claim the canceller finds taken is completed at once, or given back at once (by an
    // arrival that found its round short, still under m_mutex): wait for either.
    detail::Backoff backoff;
    while (!s->try_claim()) {
        if (s->done())
            return false;
        backoff.pause();
    }
    s->set_error(detail::make_cancelled("unsync: cancelled"));
    s->complete();
    return true;
}

std::optional<std::size_t> Barrier::wait_until(std::chrono::steady_clock::time_point deadline) {
    detail::check_may_block();
    Unfuture<std::size_t> wait = wait_async();
    if (!wait.done() && !detail::wait_granted(detail::state_of(wait), deadline))
        return std::nullopt;
    return std::move(wait).result();
}

Barrier::ArriveGrant* Barrier::break_waits() {
    ArriveGrant* failed = nullptr;
    while (ArriveGrant* g = m_waiting.claim_next()) {
        g->set_error(broken_error());
        g->m_next = failed;
        failed = g;
    }
    return failed;
}

void Barrier::reset() {
    ArriveGrant* failed = nullptr;
    {
        std::lock_guard guard(m_mutex);
        failed = break_waits();
        m_broken = false;
    }
    detail::complete_all(failed);
}

void Barrier::abort() {
    ArriveGrant* failed = nullptr;
    {
        std::lock_guard guard(m_mutex);
        m_broken = true;
        failed = break_waits();
    }
    detail::complete_all(failed);
}

std::size_t Barrier::n_waiting() {
    std::lock_guard guard(m_mutex);
    return m_waiting.live();
}

bool Barrier::broken() {
    std::lock_guard guard(m_mutex);
    return m_broken;
}

}  // namespace unsync
