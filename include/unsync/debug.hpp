#pragma once
// Debug aids: names for tasks, a listing of pending tasks, and (with Options::debug) a warning
// when a task step blocks the loop, like asyncio's debug mode.

#include <ostream>
#include <string>
#include <utility>

#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

namespace detail {
UNSYNC_EXPORT void name_task(TaskBase& task, std::string name);
}

// Names the coroutine behind `future` for dump_tasks() and debug warnings; returns the future.
// A future that is not a coroutine's has no task to name and is returned unchanged.
template <class T>
Unfuture<T> named(std::string name, Unfuture<T> future) {
    detail::State<T>& state = detail::state_of(future);
    if (state.is_task()) {
        auto& task = static_cast<detail::PromiseCommon<T>&>(state);
        detail::name_task(task, std::move(name));
    }
    return future;
}

// Lists the tasks on the loop that have not finished: name (or function), and what each waits
// on (a future, which task's, or a sleep). Safe from any thread; from the loop thread it writes
// at once, elsewhere it waits for the loop to take the snapshot.
UNSYNC_EXPORT void dump_tasks(std::ostream& out);

}  // namespace unsync
