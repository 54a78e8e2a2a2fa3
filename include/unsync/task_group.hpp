#pragma once
/// @file
/// Structured concurrency, like `asyncio.TaskGroup`: unsync::TaskGroup. Work started into a
/// group is waited for together, and the first failure cancels the rest.

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <vector>

#include <unsync/detail/task_group.hpp>
#include <unsync/errors.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// Structured concurrency, like `asyncio.TaskGroup`: work started into a group is waited for
/// together, the first failure cancels the rest, and the group never lets its work run on
/// unnoticed.
///
/// @code
/// unsync::TaskGroup group;
/// auto page = group.start(fetch(url));      // any Unfuture<T>: coroutine, pool call, ...
/// (void)group.start(log_visit(url));
/// co_await group.wait();                    // or group.wait().result() on a plain thread
/// use(page.result());                       // done: wait() returned
/// @endcode
///
/// Rules:
/// - start(f) adds `f` and returns it. Work may be started until the group is done: after
///   wait() was called (or the group was cancelled, or a member failed) and no member is left
///   running. Starting into a group that is done or failing throws invalid_state_error and
///   cancels `f`, so that `f` does not run on outside any group.
/// - A member that ends with an exception other than cancelled_error is a failure. The first
///   failure cancels every other member and refuses new ones; wait() rethrows it once every
///   member has ended; errors() lists all failures in the order they happened. A member that
///   ends with cancelled_error, for whatever reason, is not a failure.
/// - wait() returns an `Unfuture<void>`: done when the group is, with the first failure, else
///   with cancelled_error if the group was cancelled, else with nothing. Cancelling that future
///   (or a task awaiting it) cancels the group. A cancelled coroutine cannot suspend again, so
///   such a wait() ends at once, before the members it cancelled have unwound.
/// - cancel() cancels the members and refuses new ones.
/// - Thread-safety: start(), wait(), cancel(), errors() and the members' completion may all
///   happen on any threads at once.
/// - The destructor cancels the members still running. Off the loop thread it then blocks
///   until they have all ended, so no work outlives the group's scope (like `std::jthread`'s
///   join; a running thread-pool call that ignores its `std::stop_token` is waited for). On the
///   loop thread it must not block: the cancelled members finish unwinding on the loop after
///   the scope is gone. They stay tracked: each has a watcher task (`task_group_member` in
///   dump_tasks()) that keeps the group's shared state alive, shutdown() cancels and drains
///   them like any task, and detached_members() counts the members of groups so destroyed that
///   have not ended yet.
class TaskGroup {
public:
    /// An empty group, open for work.
    TaskGroup() : m_core(std::make_shared<detail::GroupCore>()) {}
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    /// Cancels the members still running; off the loop thread, blocks until they have ended
    /// (see the class description). Never throws.
    ~TaskGroup() {
        Unfuture<void> ended = m_core->close(true);
        if (ended.done())
            return;
        if (detail::on_loop_thread()) {
            m_core->detach();
            return;
        }
        try {
            ended.result();
        } catch (...) {
            // Nothing completes it with an error; a destructor must not throw anyway.
        }
    }

    /// Adds `work` to the group: a failure of it fails the group, and wait() waits for it.
    /// @return `work` itself.
    /// @throws invalid_state_error when the group is done, failing or cancelled; `work` is
    ///         cancelled then.
    /// @throws std::bad_alloc when the member's watcher task cannot be allocated.
    template <class T>
    Unfuture<T> start(Unfuture<T> work) {
        detail::StateBase& state = detail::state_of(work);
        detail::GroupCore::Slot slot;
        if (!m_core->enter(&state, slot)) {
            work.cancel();
            throw invalid_state_error("unsync: start() into a task group that is done or failing");
        }
        (void)detail::task_group_member(work, detail::MemberTicket(m_core, slot));
        return work;
    }

    /// Done once every member has ended and no new one can start; see the class description
    /// for its result.
    ///
    /// New members may still be started while it waits. Any number of calls, from any threads.
    /// Cancelling the returned future cancels the group.
    Unfuture<void> wait() {
        return detail::task_group_wait(detail::RunWhenCancelled{"TaskGroup::wait"}, m_core,
                                       m_core->close(false));
    }

    /// Cancels every member and refuses new ones.
    /// @return false if the group was already failing, cancelled or done.
    bool cancel() noexcept { return m_core->cancel(); }

    /// The failures so far, first one first (cancelled_error is never one).
    std::vector<std::exception_ptr> errors() const { return m_core->errors(); }

    /// The members of groups destroyed on the loop thread that have not ended yet (see the
    /// class description), over the whole process: a statistic, for tests and diagnostics.
    static std::size_t detached_members() noexcept {
        // Relaxed: a statistic; nothing is published through it.
        return detail::detached_member_count().load(std::memory_order_relaxed);
    }

private:
    std::shared_ptr<detail::GroupCore> m_core;
};

}  // namespace unsync
