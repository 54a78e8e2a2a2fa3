#pragma once
// The part of the ambient loop that coroutines use on every step, reached from their own inlined
// code: the ready queue, an awaited child started at once, a task's end. The rest of the loop
// (src/event_loop.cpp) derives from it.

#include <cstddef>
#include <utility>
#include <vector>

#include <unsync/detail/intrusive_fifo.hpp>
#include <unsync/detail/intrusive_list.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/detail/tls.hpp>
#include <unsync/export.hpp>

namespace unsync::detail {

// What start_inline did with a task that `parent` awaits before the task has started.
enum class InlineStart {
    not_run,     // the caller waits for it as usual
    resume_now,  // it ran to its end and nothing else is ready: the caller goes on at once
    queued,      // it ran to its end and other tasks are ready: the caller was queued after them
    waiting,     // it ran until it suspended; the caller waits for it as usual
};

// The tasks ready to run, in order. The newest waits in a slot of its own before it is linked in
// behind the others: a child awaited right after its call, the only ready task then, is taken
// back from there without a link or an unlink (start_inline).
class ReadyQueue {
public:
    // Whatever the fifo holds, the slot holds a task too: it is the newest.
    bool empty() const noexcept { return m_newest == nullptr; }
    std::size_t size() const noexcept { return m_fifo.size() + (m_newest ? 1 : 0); }
    void push(TaskBase* t) noexcept {
        if (m_newest)
            m_fifo.push(m_newest);
        m_newest = t;
    }
    // push() of each task next() gives until it gives null, with the slot filled once.
    template <class Next>
    void push_all(Next next) noexcept {
        TaskBase* t = next();
        if (!t)
            return;
        if (m_newest)
            m_fifo.push(m_newest);
        for (TaskBase* later; (later = next()) != nullptr; t = later)
            m_fifo.push(t);
        m_newest = t;
    }
    // Precondition: not empty.
    TaskBase* pop() noexcept {
        if (!m_fifo.empty())
            return m_fifo.pop();
        return std::exchange(m_newest, nullptr);
    }
    // Takes the task when it is the only one ready.
    bool take_if_only(TaskBase* t) noexcept {
        if (m_newest != t || !m_fifo.empty())
            return false;
        m_newest = nullptr;
        return true;
    }
    // Oldest first.
    template <class F>
    void for_each(F f) const {
        for (const TaskBase* t = m_fifo.front(); t; t = decltype(m_fifo)::next(t))
            f(t);
        if (m_newest)
            f(m_newest);
    }

private:
    IntrusiveFifo<TaskBase, &TaskBase::m_queue_next> m_fifo;
    TaskBase* m_newest = nullptr;
};

// Everything here is the loop thread's alone.
struct LoopCore {
    // Tasks run since the io_context was last polled, at most this many.
    static constexpr std::size_t k_tasks_per_poll = 64;

    ReadyQueue m_ready;
    TaskBase* m_registry = nullptr;  // started, unfinished tasks, linked through m_prev/m_next
    // Tasks in their first step, innermost first, linked through m_next: the one the loop
    // started and the children started inline under it. A task that finishes in that step (the
    // usual case of `co_await child()`, and of many a task called from another thread) never
    // joins the registry; one that suspends joins it then. Shutdown and listings walk both.
    TaskBase* m_inline_top = nullptr;
    TaskBase* m_current = nullptr;  // the task being resumed
    std::size_t m_unpolled = 0;
    std::vector<TaskBase*> m_cancels;  // cancellation requests to act on
    // Off while draining, and in debug mode, which times each task's step on its own.
    bool m_inline_starts = true;

    void list(TaskBase* t) noexcept { list_push_front(m_registry, t); }
    void unlist(TaskBase* t) noexcept { list_erase(m_registry, t); }

    // Runs a started task's first step. True if it finished in it (task_finished took it off
    // m_inline_top), and then it may be gone; otherwise it joins the registry.
    bool first_step(TaskBase* t) noexcept {
        t->m_next = m_inline_top;
        m_inline_top = t;
        m_current = t;
        t->handle().resume();
        if (m_inline_top != t)
            return true;
        m_inline_top = t->m_next;
        list(t);
        return false;
    }
};

// The ambient loop, on its own thread only (null on every other thread and before it runs).
UNSYNC_INITIAL_EXEC extern UNSYNC_EXPORT constinit thread_local LoopCore* t_loop;

// From a thread other than the loop's: through the loop's queue for other threads.
UNSYNC_EXPORT void post_to_loop(TaskBase* task) noexcept;

// Makes the task ready: it runs after the tasks already ready. Always inlined: GCC otherwise
// leaves it a call in every coroutine's ramp, where it is most of what the ramp does.
[[gnu::always_inline]] inline void schedule(TaskBase* task) noexcept {
    if (LoopCore* loop = t_loop) {
        loop->m_ready.push(task);
        return;
    }
    post_to_loop(task);
}

// Running the awaited task at once gives the order the loop would have given, as long as nothing
// else is ready: the loop would have run the child next, then the parent when the child finished
// (after whatever the child queued meanwhile). Only work arriving from elsewhere (other threads,
// timers, I/O) can be ordered differently, and its timing was never fixed. The k_tasks_per_poll
// budget bounds how long the parent keeps the loop (and how deep the nesting goes) before I/O,
// timers and other threads get a turn. A pending cancellation is acted on first, as the loop
// would.
inline InlineStart start_inline(TaskBase* child, TaskBase* parent) noexcept {
    // The child first: a link of a `then` chain awaits one that started long ago.
    if (child->m_started || child->m_cancelled)
        return InlineStart::not_run;
    LoopCore* loop = t_loop;
    if (!loop || !loop->m_inline_starts || loop->m_unpolled >= LoopCore::k_tasks_per_poll ||
        !loop->m_cancels.empty()) {
        return InlineStart::not_run;
    }
    // Relaxed: a request racing with this load is handled at the child's next suspension, as it
    // would be for a child already running.
    if (child->cancel_requested() || !loop->m_ready.take_if_only(child))
        return InlineStart::not_run;
    ++loop->m_unpolled;
    // The loop's start of a task, minus what the checks above rule out.
    child->m_started = true;
    const bool finished = loop->first_step(child);
    loop->m_current = parent;
    if (!finished) [[unlikely]]
        return InlineStart::waiting;
    if (loop->m_ready.empty() && loop->m_cancels.empty())
        return InlineStart::resume_now;
    loop->m_ready.push(parent);
    return InlineStart::queued;
}

// The end of a task's body: it leaves the registry, publishes its result and drops its running
// reference (if no handle is left, that destroys the frame the caller is in).
inline void task_finished(TaskBase* task) noexcept {
    // A task finishing in its first step is the innermost one there, and was never listed.
    if (LoopCore* loop = t_loop) {
        if (loop->m_inline_top == task)
            loop->m_inline_top = task->m_next;
        else
            loop->unlist(task);
    }
    task->state()->complete(true);
}

}  // namespace unsync::detail
