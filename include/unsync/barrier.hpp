#pragma once
// unsync::Barrier: `parties` coroutines and threads wait for each other, then all go on, as
// asyncio.Barrier; it is used again for the next round. reset() and abort() break the waits
// with broken_barrier_error.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>

#include <unsync/detail/grant.hpp>
#include <unsync/errors.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

class UNSYNC_EXPORT Barrier {
public:
    explicit Barrier(std::size_t parties);
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;
    // Waiters left fail with invalid_state_error.
    ~Barrier() = default;

    // Done with this party's index in its round (0 to parties - 1, in order of arrival) once
    // `parties` waits are in. A cancelled wait leaves the round. Fails with broken_barrier_error
    // when the round is reset or the barrier aborted.
    Unfuture<std::size_t> wait_async();
    // Blocking (a plain thread; on the loop thread it throws invalid_state_error). On a timeout
    // the wait leaves the round and nullopt is returned.
    std::size_t wait() { return *wait_until(std::chrono::steady_clock::time_point::max()); }
    template <class Rep, class Period>
    std::optional<std::size_t> wait_for(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(detail::deadline_after(timeout));
    }

    // The waits of this round fail with broken_barrier_error; the barrier is empty and usable.
    void reset();
    // Breaks the barrier: waits now and later fail with broken_barrier_error.
    void abort();

    std::size_t parties() const noexcept { return m_parties; }
    std::size_t n_waiting();
    bool broken();

private:
    // The value is the index, set when the round is full.
    using ArriveGrant = detail::Grant<std::size_t>;
    std::optional<std::size_t> wait_until(std::chrono::steady_clock::time_point deadline);
    // Fails every wait in the queue; under m_mutex, completed outside.
    ArriveGrant* break_waits();

    const std::size_t m_parties;
    std::mutex m_mutex;  // guards everything below
    bool m_broken = false;
    detail::GrantQueue<ArriveGrant> m_waiting;
};

}  // namespace unsync
