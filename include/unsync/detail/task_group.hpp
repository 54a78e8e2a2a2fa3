#pragma once
// TaskGroup's internals: the state a group shares with its members' watchers and its wait()
// tasks, so that members may end after the group object is gone.

#include <atomic>
#include <cstddef>
#include <exception>
#include <list>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <unsync/errors.hpp>
#include <unsync/unfuture.hpp>

namespace unsync::detail {

// Members of groups destroyed on the loop thread that are still running.
inline std::atomic<std::size_t>& detached_member_count() noexcept {
    static std::atomic<std::size_t> count{0};
    return count;
}

// The part of a group its members' watchers and wait() tasks share with it.
class GroupCore {
public:
    using Slot = std::list<StateBase*>::iterator;

    // False when the group refuses new members; otherwise *slot is the member's place.
    bool enter(StateBase* member, Slot& slot) {
        std::lock_guard lock(m_mutex);
        if (m_aborting || m_done)
            return false;
        slot = m_members.insert(m_members.end(), member);
        member->add_ref();
        return true;
    }

    // failure: null for a member that ended well or with cancelled_error.
    void member_ended(Slot slot, std::exception_ptr failure) noexcept {
        StateBase* member = *slot;
        std::vector<StateBase*> stop;
        std::vector<Unfuture<void>> waiters;
        {
            std::lock_guard lock(m_mutex);
            m_members.erase(slot);
            if (m_detached) {
                // Relaxed: a statistic; nothing is published through it.
                detached_member_count().fetch_sub(1, std::memory_order_relaxed);
            }
            if (failure) {
                m_errors.push_back(std::move(failure));
                if (!m_aborting)
                    stop = abort_locked(false);
            }
            waiters = finish_if_idle_locked();
        }
        member->release();
        cancel_all(stop);
        wake_all(waiters);
    }

    bool cancel() noexcept {
        std::vector<StateBase*> stop;
        std::vector<Unfuture<void>> waiters;
        {
            std::lock_guard lock(m_mutex);
            if (m_aborting || m_done)
                return false;
            stop = abort_locked(true);
            waiters = finish_if_idle_locked();
        }
        cancel_all(stop);
        wake_all(waiters);
        return true;
    }

    // The group is closed (done once no member is left); the future completes then. With
    // cancel_members, the members still running are cancelled.
    Unfuture<void> close(bool cancel_members) {
        Unfuture<void> signal;
        std::vector<StateBase*> stop;
        std::vector<Unfuture<void>> waiters;
        {
            std::lock_guard lock(m_mutex);
            m_closing = true;
            if (cancel_members && !m_aborting && !m_done && !m_members.empty())
                stop = abort_locked(true);
            if (m_done) {
                waiters.push_back(signal);
            } else {
                m_waiters.push_back(signal);
                waiters = finish_if_idle_locked();
            }
        }
        cancel_all(stop);
        wake_all(waiters);
        return signal;
    }

    // The destructor, on the loop thread: the members still running are counted as detached.
    void detach() noexcept {
        std::lock_guard lock(m_mutex);
        m_detached = true;
        // Relaxed: a statistic; nothing is published through it.
        detached_member_count().fetch_add(m_members.size(), std::memory_order_relaxed);
    }

    // What wait() ends with once the group is done.
    void rethrow() const {
        std::lock_guard lock(m_mutex);
        if (!m_errors.empty())
            std::rethrow_exception(m_errors.front());
        if (m_cancelled)
            throw cancelled_error("unsync: task group cancelled");
    }

    std::vector<std::exception_ptr> errors() const {
        std::lock_guard lock(m_mutex);
        return m_errors;
    }

private:
    std::vector<StateBase*> abort_locked(bool cancelled) {
        m_aborting = true;
        m_cancelled = cancelled;
        std::vector<StateBase*> stop;
        stop.reserve(m_members.size());
        for (StateBase* member : m_members) {
            member->add_ref();
            stop.push_back(member);
        }
        return stop;
    }

    std::vector<Unfuture<void>> finish_if_idle_locked() noexcept {
        if (m_done || !m_members.empty() || !(m_closing || m_aborting))
            return {};
        m_done = true;
        return std::move(m_waiters);
    }

    // Outside the lock: cancelling may run user code (a stop callback) that calls back into us.
    static void cancel_all(std::vector<StateBase*>& stop) noexcept {
        for (StateBase* member : stop) {
            member->cancel();
            member->release();
        }
    }
    static void wake_all(std::vector<Unfuture<void>>& waiters) noexcept {
        for (auto& w : waiters) {
            try {
                w.set_result();
            } catch (const invalid_state_error&) {
                // That wait() was cancelled meanwhile.
            }
        }
    }

    mutable std::mutex m_mutex;
    std::list<StateBase*> m_members;  // running, each holding a reference
    std::vector<std::exception_ptr> m_errors;
    std::vector<Unfuture<void>> m_waiters;  // close() signals, completed when done
    bool m_closing = false;                 // wait() or the destructor was called
    bool m_aborting = false;   // a failure or a cancellation: members cancelled, no new ones
    bool m_cancelled = false;  // aborting because of a cancellation, not of a failure
    bool m_done = false;
    bool m_detached = false;
};

// A member's place in its group. However the watcher's frame ends (run to its end, cancelled at
// shutdown, or destroyed unrun because the runtime had shut down), the member is counted out once.
class MemberTicket {
public:
    MemberTicket(std::shared_ptr<GroupCore> core, GroupCore::Slot slot) noexcept
        : m_core(std::move(core)), m_slot(slot) {}
    MemberTicket(MemberTicket&& other) noexcept
        : m_core(std::move(other.m_core)), m_slot(other.m_slot) {}
    MemberTicket& operator=(MemberTicket&&) = delete;
    ~MemberTicket() {
        if (m_core)
            m_core->member_ended(m_slot, nullptr);
    }
    void ended(std::exception_ptr failure) noexcept {
        std::exchange(m_core, nullptr)->member_ended(m_slot, std::move(failure));
    }

private:
    std::shared_ptr<GroupCore> m_core;
    GroupCore::Slot m_slot;
};

// The watcher: nobody holds its future, so only shutdown cancels it.
template <class T>
Unfuture<void> task_group_member(Unfuture<T> member, MemberTicket ticket) {
    bool seen = true;
    try {
        co_await member.when_done();
    } catch (const cancelled_error&) {
        seen = false;  // shutdown: the member is cancelled too
    }
    ticket.ended(seen && !member.cancelled() ? member.exception() : nullptr);
}

inline Unfuture<void> task_group_wait(RunWhenCancelled, std::shared_ptr<GroupCore> core,
                                      Unfuture<void> signal) {
    try {
        co_await signal.when_done();
    } catch (const cancelled_error&) {
        core->cancel();
        throw;
    }
    core->rethrow();
}

}  // namespace unsync::detail
