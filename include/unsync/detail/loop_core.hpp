#pragma once
// The part of the ambient loop that coroutines use on every step, reached from their own inlined
// code: the ready queue. The rest of the loop (src/event_loop.cpp) derives from it.

#include <unsync/detail/intrusive_fifo.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/detail/tls.hpp>
#include <unsync/export.hpp>

namespace unsync::detail {

struct LoopCore {
    // Tasks ready to run, in order; the loop thread's alone.
    IntrusiveFifo<TaskBase, &TaskBase::m_queue_next> m_ready;
};

// The ambient loop, on its own thread only (null on every other thread and before it runs).
UNSYNC_INITIAL_EXEC extern UNSYNC_EXPORT constinit thread_local LoopCore* t_loop;

// From a thread other than the loop's: through the loop's queue for other threads.
UNSYNC_EXPORT void post_to_loop(TaskBase* task) noexcept;

// Makes the task ready: it runs after the tasks already ready.
inline void schedule(TaskBase* task) noexcept {
    if (LoopCore* loop = t_loop) {
        loop->m_ready.push(task);
        return;
    }
    post_to_loop(task);
}

}  // namespace unsync::detail
