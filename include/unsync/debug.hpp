#pragma once
/// @file
/// Debug aids: names for tasks and a listing of the pending ones; with Options::debug, the loop
/// also reports a task step that blocks it, like asyncio's debug mode.

#include <ostream>
#include <string>
#include <utility>

#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

namespace detail {
UNSYNC_EXPORT void name_task(TaskBase& task, std::string name);
}

/// Names the coroutine behind `future` for dump_tasks() and the debug-mode warnings.
///
/// A future that is not a coroutine's has no task to name and is returned unchanged. A task is
/// named once: a later name is ignored. Thread-safe.
/// @code
/// auto poller = unsync::named("poller", poll_forever());
/// @endcode
/// @return `future` itself.
/// @throws invalid_state_error if `future` was moved from.
template <class T>
Unfuture<T> named(std::string name, Unfuture<T> future) {
    detail::State<T>& state = detail::state_of(future);
    if (state.is_task()) {
        auto& task = static_cast<detail::PromiseCommon<T>&>(state);
        detail::name_task(task, std::move(name));
    }
    return future;
}

/// Writes the tasks on the loop that have not finished to `out`: each one's name (or its
/// function's), and what it waits on (a future, which task's, or a sleep).
///
/// Safe from any thread. On the loop thread it writes at once; elsewhere it waits for the loop
/// to take the snapshot between two task steps. Before the runtime starts, or after shutdown(),
/// it writes that there are no tasks (it does not start the runtime).
/// @code
/// task 'report' awaits task 'poller'
/// task 'poller' sleeps, 3600 s left
/// 2 pending task(s), 0 not started
/// @endcode
UNSYNC_EXPORT void dump_tasks(std::ostream& out);

}  // namespace unsync
