#include <unsync/event_loop.hpp>

#include <pthread.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <unsync/debug.hpp>
#include <unsync/detail/loop_core.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/detail/tls.hpp>
#include <unsync/errors.hpp>
#include <unsync/runtime.hpp>
#include <unsync/sleep.hpp>  // add_timer's export declaration
#include <unsync/use_unfuture.hpp>

#include <unsync/detail/intrusive_list.hpp>
#include "detail/ambient.hpp"
#include "detail/cpu_relax.hpp"
#include "detail/intrusive_fifo.hpp"
#include "detail/quad_heap.hpp"

namespace unsync {

using detail::StateBase;
using detail::TaskBase;

namespace {

// A sleeping task. The entry holds a reference to the task's state, so an entry made stale by
// cancellation (the task no longer sleeps with that sequence number) never points to a freed
// frame.
struct Timer {
    std::chrono::steady_clock::time_point deadline;
    std::uint64_t seq;  // equal deadlines fire in the order they were set; never 0
    TaskBase* task;
    struct Earlier {
        bool operator()(const Timer& a, const Timer& b) const noexcept {
            return a.deadline != b.deadline ? a.deadline < b.deadline : a.seq < b.seq;
        }
    };
};

// The sleep a task is suspended in, if any.
detail::SleepWaiter* sleep_of(const TaskBase* t) noexcept {
    detail::Waiter* w = t->m_wait_node;
    return w && !w->m_awaited ? static_cast<detail::SleepWaiter*>(w) : nullptr;
}

// False for the entry of a sleep that was cancelled.
bool is_current(const Timer& timer) noexcept {
    const detail::SleepWaiter* sleep = sleep_of(timer.task);
    return sleep && sleep->m_seq == timer.seq;
}

// Completes a task that never started with cancelled_error and drops its running reference.
void abandon(TaskBase* t) noexcept {
    t->state()->set_error(
        detail::make_cancelled("unsync: the runtime shut down before the task started"));
    t->state()->complete(true);
}

}  // namespace

struct detail::LoopImpl : detail::LoopCore {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    std::thread thread;
    std::thread::id thread_id;

    // Loop thread only, as what LoopCore holds.
    detail::QuadHeap<Timer, Timer::Earlier> timers;
    std::size_t stale_timers = 0;  // entries of cancelled sleeps still in the heap
    // Stale entries are purged once there are more than this many and they are half the heap:
    // a few cost less to skip when they come due than a rebuild of the heap does.
    static constexpr std::size_t k_stale_timers_to_purge = 1024;
    std::uint64_t timer_seq = 0;
    // Wakes the loop from run_one() at the earliest deadline. (run_one_until would wake it
    // every second while a long sleep is pending.)
    asio::steady_timer wakeup{io};
    std::chrono::steady_clock::time_point armed{};
    bool armed_pending = false;
    bool draining = false;
    // Only the ambient loop runs tasks; another EventLoop runs its io_context alone.
    bool ambient = false;
    // Debug mode: a task step longer than this is reported; zero when off.
    std::chrono::nanoseconds slow_step{0};
    // Debug mode: a timer due every half threshold. When it fires late by more than the
    // threshold, beyond the time task steps took, something else (an Asio handler, a callback)
    // held the loop: that is reported too.
    asio::steady_timer heartbeat{io};
    std::chrono::steady_clock::time_point beat_due{};
    std::chrono::nanoseconds stepped_since_beat{0};
    // Asio operations whose cancellation signal is due (each holds a reference to its state);
    // emitted by emit_asio_cancels() only, after a poll.
    std::vector<detail::AsioOpLink*> asio_cancels;  // loop thread

    // Other threads hand tasks over here, without a lock.
    TaskBase remote_stub{"(queue stub)"};
    detail::IntrusiveMpscQueue<TaskBase, &TaskBase::m_queue_next> remote{remote_stub};
    // Set once the loop has taken its last task: a task posted later is handled by its poster
    // (drain_late), which sees this because it loads it after its push (both seq_cst).
    std::atomic<bool> closed{false};
    detail::SpinLock late_lock;  // one consumer of `remote` at a time once closed
    // Cancellation requests from other threads (rare): a locked vector.
    detail::SpinLock remote_lock;
    std::vector<TaskBase*> remote_cancels;                 // guarded by remote_lock
    std::vector<detail::AsioOpLink*> remote_asio_cancels;  // guarded by remote_lock
    bool accepting = true;                                 // guarded by remote_lock
    // seq_cst on both: the loop stores true then checks `remote`; a producer pushes to `remote`
    // then loads this. One of the two always sees the other, so no wake-up is lost.
    std::atomic<bool> sleeping{false};
    // True while a wake-up handler is queued in io and has not run: avoids flooding io.
    std::atomic<bool> wake_pending{false};
    std::atomic<bool> stop_requested{false};
    // Set (under remote_lock) when remote_cancels gains an entry: lets the loop skip the lock
    // when nothing came in. seq_cst: pairs with `sleeping` as the queue does.
    std::atomic<bool> cancels_pending{false};

    void run();
    void run_task(TaskBase* t) noexcept;
    void process_cancels() noexcept;
    void emit_asio_cancels() noexcept;
    void resume_timed(TaskBase* t) noexcept;
    void arm_heartbeat();
    void on_heartbeat();
    void write_tasks(std::ostream& out) const;
    void purge_stale_timers() noexcept;
    void wake_timer(const Timer& timer) noexcept;
    void take_remote();
    bool has_remote() const noexcept {
        return !remote.empty() || cancels_pending.load(std::memory_order_seq_cst);
    }
    void drain_late() noexcept;
    void close() noexcept;
    void fire_timers();
    void sleep_until_work();
    void drain();
    bool grant_under_way() const noexcept;
    void post(TaskBase* task) noexcept;
    void wake() {
        // acq_rel: whoever sets the flag owns posting the handler; the handler clears it.
        if (!wake_pending.exchange(true, std::memory_order_acq_rel)) {
            asio::post(io, [this] { wake_pending.store(false, std::memory_order_release); });
        }
    }
};

struct detail::LoopAccess {
    static LoopImpl& impl(EventLoop& loop) noexcept { return *loop.m_impl; }
};

namespace {

// Operations started with use_unfuture and not completed yet, from any thread.
struct AsioOps {
    std::mutex mutex;
    detail::AsioOpLink* head = nullptr;
    bool closed = false;  // the loop has stopped running I/O
};

AsioOps& asio_ops() {
    static AsioOps ops;
    return ops;
}

}  // namespace

namespace detail {

// In the child of a fork(): the operations belong to the parent's loop, which does not run here.
// Dropped from the list (not cancelled: their I/O objects and handlers are the parent's).
void forget_asio_ops_after_fork() noexcept {
    AsioOps& ops = asio_ops();
    ::new (&ops.mutex) std::mutex;  // a thread the child lacks may have held it
    ops.head = nullptr;
    ops.closed = false;
}

}  // namespace detail

namespace {

// On the loop thread at shutdown: cancel every pending operation, so that each completes (with
// cancelled_error) while the loop still polls its io_context. Returns how many were cancelled.
std::size_t cancel_asio_ops(bool close) {
    std::vector<detail::AsioOpLink*> pending;
    {
        AsioOps& ops = asio_ops();
        std::lock_guard lock(ops.mutex);
        ops.closed = ops.closed || close;
        for (detail::AsioOpLink* op = ops.head; op; op = op->m_next) {
            if (op->m_cancel_requested.exchange(true, std::memory_order_acq_rel))
                continue;
            op->m_state->add_ref();
            pending.push_back(op);
        }
    }
    // Emitted outside the lock: a cancellation handler may complete the operation at once.
    for (detail::AsioOpLink* op : pending) {
        op->emit_cancellation();
        op->m_state->release();
    }
    return pending.size();
}

}  // namespace

namespace detail {

bool register_asio_op(AsioOpLink* op) noexcept {
    AsioOps& ops = asio_ops();
    std::lock_guard lock(ops.mutex);
    if (ops.closed)
        return false;
    list_push_front(ops.head, op);
    return true;
}

void unregister_asio_op(AsioOpLink* op) noexcept {
    AsioOps& ops = asio_ops();
    std::lock_guard lock(ops.mutex);
    if (!op->m_prev && ops.head != op)
        return;  // never registered, or already unlisted
    list_erase(ops.head, op);
    op->m_prev = op->m_next = nullptr;
}

}  // namespace detail

namespace {
// The ambient loop, as t_loop (the same object): what the loop's own code needs from it.
detail::LoopImpl* loop_impl() noexcept {
    return static_cast<detail::LoopImpl*>(detail::t_loop);
}
// Whichever EventLoop runs on this thread.
UNSYNC_INITIAL_EXEC thread_local detail::LoopImpl* t_running = nullptr;
}  // namespace

void detail::LoopImpl::run_task(TaskBase* t) noexcept {
    if (!t->m_started) {
        // Cancelled before it started: it never runs, unless it must clean up (a combinator).
        if (draining || (t->m_cancelled && !t->m_run_when_cancelled)) {
            abandon(t);
            return;
        }
        t->m_started = true;
        if (slow_step.count() == 0) {
            first_step(t);
            m_current = nullptr;
            return;
        }
        // Debug mode times each step on its own: listed at once, as a task that suspends is.
        list(t);
    }
    m_current = t;
    if (slow_step.count() == 0) {
        t->handle().resume();
    } else {
        resume_timed(t);
    }
    m_current = nullptr;
}

void detail::LoopImpl::resume_timed(TaskBase* t) noexcept {
    // The name is read before the step: a task that finishes in it is gone afterwards.
    const std::string name = t->display_name();
    const auto start = std::chrono::steady_clock::now();
    t->handle().resume();
    const auto took = std::chrono::steady_clock::now() - start;
    stepped_since_beat += took;
    if (took >= slow_step) {
        std::fprintf(stderr,
                     "unsync: task '%s' blocked the loop for %.3f s (debug threshold %.3f s)\n",
                     name.c_str(), std::chrono::duration<double>(took).count(),
                     std::chrono::duration<double>(slow_step).count());
    }
}

void detail::LoopImpl::arm_heartbeat() {
    beat_due = std::chrono::steady_clock::now() + slow_step / 2;
    stepped_since_beat = std::chrono::nanoseconds(0);
    heartbeat.expires_at(beat_due);
    heartbeat.async_wait([this](const asio::error_code& ec) {
        if (!ec)
            on_heartbeat();
    });
}

void detail::LoopImpl::on_heartbeat() {
    const auto late = std::chrono::steady_clock::now() - beat_due - stepped_since_beat;
    if (late >= slow_step) {
        std::fprintf(stderr,
                     "unsync: an Asio handler or other callback blocked the loop for %.3f s "
                     "(debug threshold %.3f s)\n",
                     std::chrono::duration<double>(late).count(),
                     std::chrono::duration<double>(slow_step).count());
    }
    if (!draining)
        arm_heartbeat();
}

void detail::LoopImpl::write_tasks(std::ostream& out) const {
    std::unordered_map<const StateBase*, const TaskBase*> by_state;
    for (const TaskBase* t = m_registry; t; t = t->m_next)
        by_state.emplace(t->state(), t);
    for (const TaskBase* t = m_inline_top; t; t = t->m_next)
        by_state.emplace(t->state(), t);
    std::size_t pending = 0;
    auto write = [&](const TaskBase* t) {
        if (t == m_current)
            return;  // the one asking
        ++pending;
        out << "task '" << t->display_name() << "'";
        const detail::SleepWaiter* sleep = sleep_of(t);
        if (t->m_wait_node && !sleep) {
            const StateBase* awaited = t->m_wait_node->m_awaited;
            auto it = by_state.find(awaited);
            if (it != by_state.end()) {
                out << " awaits task '" << it->second->display_name() << "'";
            } else {
                out << " awaits a future" << (awaited->done() ? " (done, resuming)" : "");
            }
        } else if (sleep) {
            for (const Timer& timer : timers) {
                if (timer.seq != sleep->m_seq)
                    continue;
                const auto left = timer.deadline - std::chrono::steady_clock::now();
                out << " sleeps, " << std::chrono::duration<double>(left).count() << " s left";
            }
        } else {
            out << " is ready to run";
        }
        if (t->m_cancelled)
            out << " (cancelled)";
        out << '\n';
    };
    for (const TaskBase* t = m_registry; t; t = t->m_next)
        write(t);
    for (const TaskBase* t = m_inline_top; t; t = t->m_next)
        write(t);
    std::size_t queued = 0;
    m_ready.for_each([&](const TaskBase* t) {
        if (t->m_started)
            return;
        ++queued;
        out << "task '" << t->display_name() << "' is queued, not started\n";
    });
    out << pending << " pending task(s), " << queued << " not started\n";
}

void detail::LoopImpl::take_remote() {
    m_ready.push_all([this] { return remote.pop(); });
    // Acquire: pairs with the store of a requester; the lock below orders the rest.
    if (!cancels_pending.load(std::memory_order_acquire))
        return;
    std::lock_guard lock(remote_lock);
    cancels_pending.store(false, std::memory_order_relaxed);
    m_cancels.insert(m_cancels.end(), remote_cancels.begin(), remote_cancels.end());
    remote_cancels.clear();
    asio_cancels.insert(asio_cancels.end(), remote_asio_cancels.begin(), remote_asio_cancels.end());
    remote_asio_cancels.clear();
}

// The cancellation handler Asio keeps for an operation points into its I/O object, which may be
// destroyed while the operation's completion is still queued (a coroutine that drops a socket
// right after a wait_for on it timed out). Destroying the object queues the completions of its
// operations at once, so a poll first runs them: their handlers mark the operations finished
// and emit_cancellation() leaves those alone. The requests are acted on here, between task
// steps, so no step can destroy an object between the poll and the emit.
void detail::LoopImpl::emit_asio_cancels() noexcept {
    if (asio_cancels.empty())
        return;
    io.poll();
    std::vector<detail::AsioOpLink*> due;
    due.swap(asio_cancels);
    for (detail::AsioOpLink* op : due) {
        op->emit_cancellation();
        op->m_state->release();
    }
}

// A task posted after the loop closed: its poster takes it (and any other late one) back out.
// A task that never ran fails with cancelled_error; one that did was cancelled at shutdown and
// cannot be waiting for anything that would post it.
void detail::LoopImpl::drain_late() noexcept {
    detail::IntrusiveFifo<TaskBase, &TaskBase::m_queue_next> late;
    {
        std::lock_guard lock(late_lock);
        while (TaskBase* t = remote.pop())
            late.push(t);
    }
    // Outside the lock: completing a task may post its waiters, which comes back here.
    while (!late.empty()) {
        TaskBase* t = late.pop();
        if (!t->m_started)
            abandon(t);
    }
}

void detail::LoopImpl::wake_timer(const Timer& timer) noexcept {
    if (is_current(timer)) {
        timer.task->m_wait_node = nullptr;
        m_ready.push(timer.task);
    } else {
        --stale_timers;
    }
    timer.task->state()->release();
}

void detail::LoopImpl::fire_timers() {
    if (timers.empty())
        return;
    const auto now = std::chrono::steady_clock::now();
    while (!timers.empty() && timers.front().deadline <= now) {
        // The task's frame is read once the heap is restored: fetched meanwhile, not after.
        __builtin_prefetch(&timers.front().task->m_wait_node);
        wake_timer(timers.pop());
    }
}

void detail::LoopImpl::purge_stale_timers() noexcept {
    // Cancelled long sleeps would otherwise keep their frames until their deadlines. One look at
    // each entry: the release may free the frame that tells whether it is stale.
    timers.remove_if([](const Timer& t) {
        if (is_current(t))
            return false;
        t.task->state()->release();
        return true;
    });
    stale_timers = 0;
}

// Cancellation happens here, on the loop thread, from a worklist: cancelling a long chain of
// tasks that await each other takes no stack.
void detail::LoopImpl::process_cancels() noexcept {
    while (!m_cancels.empty()) {
        TaskBase* t = m_cancels.back();
        m_cancels.pop_back();
        if (stale_timers > k_stale_timers_to_purge && stale_timers > timers.size() / 2)
            purge_stale_timers();
        if (!t->state()->done() && !t->m_cancelled) {
            t->m_cancelled = true;
            if (!t->m_started) {
                // Still in the ready queue: run_task completes it without running it.
            } else if (sleep_of(t)) {
                t->m_wait_node = nullptr;  // its timer entry is now stale
                ++stale_timers;
                m_ready.push(t);
            } else if (detail::Waiter* w = t->m_wait_node) {
                // Cancellation reaches what the task awaits (asyncio does the same); when that
                // cannot be cancelled, the task alone leaves the wait. But for a grant being
                // made: the task waits for it, so that what it was granted is not lost.
                StateBase* awaited = w->m_awaited;
                if (!awaited->cancel() && !awaited->is_grant() && awaited->remove_waiter(w)) {
                    m_ready.push(t);
                }
            }
            // Otherwise it is running or ready to run: its next suspension throws.
        }
        t->state()->release();
    }
}

void detail::LoopImpl::sleep_until_work() {
    // Work handed over within microseconds (a caller blocking on a round trip) is picked up by a
    // short spin, without the wake-up's system calls on either side. Bounded: an idle loop sleeps.
    const auto now = std::chrono::steady_clock::now();
    if (!timers.empty() && timers.front().deadline <= now)
        return;  // a sleep set already due this turn
    if (spin_until([this] { return has_remote(); }, now + k_spin_before_sleep))
        return;
    sleeping.store(true, std::memory_order_seq_cst);
    if (!has_remote() && !stop_requested.load(std::memory_order_seq_cst)) {
        if (!timers.empty() && (!armed_pending || armed != timers.front().deadline)) {
            armed = timers.front().deadline;
            armed_pending = true;
            // Re-arming cancels the previous wait, whose handler then runs with an error.
            wakeup.expires_at(armed);
            wakeup.async_wait([this](const asio::error_code& ec) {
                if (!ec)
                    armed_pending = false;
            });
        }
        io.run_one();
    }
    sleeping.store(false, std::memory_order_relaxed);
}

void detail::LoopImpl::run() {
    t_running = this;
    if (ambient)
        detail::t_loop = this;
    if (ambient && slow_step.count() != 0)
        arm_heartbeat();
    // Acquire: pairs with the release in stop(), nothing else is published through it.
    while (!stop_requested.load(std::memory_order_acquire)) {
        // Most turns find nothing from other threads and nothing cancelled: looked at inline.
        // Relaxed: a request missed now is seen next turn, and sleep_until_work() looks again
        // with seq_cst before sleeping.
        if (remote.maybe_nodes() || cancels_pending.load(std::memory_order_relaxed))
            take_remote();
        if (!m_cancels.empty())
            process_cancels();
        emit_asio_cancels();
        fire_timers();
        // Run what is ready now; what these tasks schedule waits for the next turn.
        std::size_t n = m_ready.size();
        m_unpolled += n;
        for (; n > 0 && !m_ready.empty(); --n)
            run_task(m_ready.pop());
        if (m_ready.empty() && m_cancels.empty() && asio_cancels.empty()) {
            // Idle: the wait runs I/O handlers as they come.
            io.poll();
            m_unpolled = 0;
            if (m_ready.empty() && m_cancels.empty() && asio_cancels.empty())
                sleep_until_work();
        } else if (m_unpolled >= k_tasks_per_poll) {
            // Busy: I/O still gets its turn, but a poll (a lock, maybe a system call) per turn
            // would cost more than a short task step.
            io.poll();
            m_unpolled = 0;
        }
    }
    drain();
    detail::t_loop = nullptr;
    t_running = nullptr;
}

void detail::LoopImpl::drain() {
    draining = true;
    m_inline_starts = false;
    heartbeat.cancel();
    take_remote();
    process_cancels();
    // Tasks in an inline first step are running, not waiting: their next suspension throws.
    for (TaskBase* t = m_inline_top; t; t = t->m_next)
        t->m_cancelled = true;
    for (TaskBase* t = m_registry; t; t = t->m_next) {
        t->m_cancelled = true;
        detail::Waiter* w = t->m_wait_node;
        if (!w || !w->m_awaited)
            continue;
        if (w->m_awaited->is_grant()) {
            // As in process_cancels(): the wait on a primitive is withdrawn, and completing it
            // schedules the task. A grant under way is waited for (grant_under_way()): left
            // unread, what it grants (an item popped from a Queue) would be lost.
            (void)w->m_awaited->cancel();
        } else if (w->m_awaited->remove_waiter(w)) {
            m_ready.push(t);
        }
    }
    while (!timers.empty())
        wake_timer(timers.pop());
    if (ambient) {
        // As in emit_asio_cancels(): operations of I/O objects already destroyed finish first.
        io.poll();
        cancel_asio_ops(false);
    }
    for (;;) {
        take_remote();
        process_cancels();
        emit_asio_cancels();
        while (!m_ready.empty())
            run_task(m_ready.pop());
        io.poll();
        // In this order: a grant seen done was handed over after the count was raised.
        if (grant_under_way() || detail::handoffs_in_flight() != 0) {
            // Another thread is handing over a task right now; it takes microseconds.
            std::this_thread::yield();
            continue;
        }
        // Operations started meanwhile (by unwinding tasks) are cancelled too. The last round
        // closes the list, so no new one can start, and polls what that cancelled.
        if (ambient &&
            cancel_asio_ops(m_ready.empty() && m_cancels.empty() && asio_cancels.empty()) != 0)
            continue;
        if (!has_remote() && m_ready.empty() && m_cancels.empty() && asio_cancels.empty()) {
            close();
            break;
        }
    }
}

// A task waits on a grant that another thread claimed and completes at once, which schedules it.
// Checked before handoffs_in_flight(): that count was raised before the grant was published.
bool detail::LoopImpl::grant_under_way() const noexcept {
    for (const TaskBase* t = m_registry; t; t = t->m_next) {
        const detail::Waiter* w = t->m_wait_node;
        if (w && w->m_awaited && w->m_awaited->is_grant() && !w->m_awaited->done())
            return true;
    }
    return false;
}

void detail::LoopImpl::close() noexcept {
    {
        std::lock_guard lock(remote_lock);
        accepting = false;
    }
    // seq_cst: see `closed`. Whatever was posted before a poster could see it is taken here.
    closed.store(true, std::memory_order_seq_cst);
    drain_late();
}

EventLoop::EventLoop() : m_impl(std::make_unique<detail::LoopImpl>()) {}

EventLoop::~EventLoop() {
    stop();
}

asio::io_context& EventLoop::io_context() noexcept {
    return m_impl->io;
}

const char* EventLoop::backend() noexcept {
#if defined(ASIO_HAS_IO_URING_AS_DEFAULT)
    return "io_uring";
#else
    return "epoll";
#endif
}

std::thread::id EventLoop::thread_id() const noexcept {
    return m_impl->thread_id;
}

bool EventLoop::in_loop_thread() const noexcept {
    return t_running == m_impl.get();
}

void EventLoop::start() {
    if (m_impl->thread.joinable() || m_impl->stop_requested.load(std::memory_order_acquire)) {
        throw invalid_state_error("unsync: this EventLoop was already started");
    }
    m_impl->thread = std::thread([impl = m_impl.get()] {
        pthread_setname_np(pthread_self(), "unsync-loop");
        impl->run();
    });
    m_impl->thread_id = m_impl->thread.get_id();
}

void EventLoop::stop() noexcept {
    detail::LoopImpl& impl = *m_impl;
    // Release: pairs with the acquire in run().
    if (impl.stop_requested.exchange(true, std::memory_order_seq_cst))
        return;
    if (!impl.thread.joinable()) {
        impl.close();
        return;
    }
    impl.wake();
    // Stopping from the loop thread itself (exit() or shutdown() inside a task): it cannot join
    // itself, and it cannot wait to return to run() either, since whoever stops it goes on to
    // join threads that may be blocked on its tasks. So it drains here, under the current step:
    // the other tasks unwind (nested) with cancelled_error, and the current one is cancelled at
    // its next suspension. A parent that started it inline is not waiting on anything yet, so
    // none of them is resumed under its own frame. run() drains again after the step, for
    // whatever the step adds.
    if (in_loop_thread()) {
        TaskBase* const current = impl.m_current;
        impl.drain();
        impl.m_current = current;
        impl.thread.detach();
        return;
    }
    impl.thread.join();
}

// From a thread other than the loop's (schedule() handles the loop thread itself).
void detail::LoopImpl::post(TaskBase* task) noexcept {
    remote.push(task);
    // seq_cst, after the push: either the loop's last look sees the task, or this sees `closed`.
    if (closed.load(std::memory_order_seq_cst)) {
        drain_late();
        return;
    }
    if (sleeping.load(std::memory_order_seq_cst))
        wake();
}

namespace detail {

// The definition of the thread_local that LoopCore's users reach: this thread's ambient loop.
UNSYNC_INITIAL_EXEC constinit thread_local LoopCore* t_loop = nullptr;

void post_to_loop(TaskBase* task) noexcept {
    LoopAccess::impl(unsync::loop()).post(task);
}

bool on_loop_thread() noexcept {
    return t_loop != nullptr;
}

void start_ambient(EventLoop& loop, std::chrono::nanoseconds slow_step) {
    LoopImpl& impl = LoopAccess::impl(loop);
    impl.ambient = true;
    impl.slow_step = slow_step;
    impl.m_inline_starts = slow_step.count() == 0;
    loop.start();
}

bool request_cancel(TaskBase* task) noexcept {
    if (task->state()->done())
        return false;
    if (task->mark_cancel_requested())
        return true;
    // The request keeps the task alive until the loop has acted on it.
    task->state()->add_ref();
    if (detail::LoopImpl* impl = loop_impl()) {
        impl->m_cancels.push_back(task);
        return true;
    }
    detail::LoopImpl& impl = LoopAccess::impl(unsync::loop());
    {
        std::lock_guard lock(impl.remote_lock);
        if (impl.accepting) {
            impl.remote_cancels.push_back(task);
            impl.cancels_pending.store(true, std::memory_order_seq_cst);
            task = nullptr;
        }
    }
    if (task) {
        // The loop is gone; shutdown already cancelled everything it had.
        task->state()->release();
        return false;
    }
    if (impl.sleeping.load(std::memory_order_seq_cst))
        impl.wake();
    return true;
}

void request_asio_cancel(AsioOpLink* op) noexcept {
    if (detail::LoopImpl* impl = loop_impl()) {
        impl->asio_cancels.push_back(op);
        return;
    }
    detail::LoopImpl& impl = LoopAccess::impl(unsync::loop());
    {
        std::lock_guard lock(impl.remote_lock);
        if (impl.accepting) {
            impl.remote_asio_cancels.push_back(op);
            impl.cancels_pending.store(true, std::memory_order_seq_cst);
            op = nullptr;
        }
    }
    if (op) {
        // The loop is gone; its shutdown cancelled every operation it had.
        op->m_state->release();
        return;
    }
    if (impl.sleeping.load(std::memory_order_seq_cst))
        impl.wake();
}

void add_timer(SleepWaiter* sleeper, std::chrono::steady_clock::time_point deadline) {
    detail::LoopImpl* impl = loop_impl();
    if (!impl)
        throw std::logic_error("unsync: unsync::sleep is awaited on the loop thread only");
    TaskBase* task = sleeper->m_task;
    sleeper->m_seq = ++impl->timer_seq;
    task->m_wait_node = sleeper;
    task->state()->add_ref();
    impl->timers.push(Timer{deadline, sleeper->m_seq, task});
}

}  // namespace detail
namespace {

// Takes the listing on the loop thread, where the registry lives.
Unfuture<std::string> list_tasks(detail::LoopImpl* impl) {
    std::ostringstream text;
    impl->write_tasks(text);
    co_return text.str();
}

}  // namespace

void dump_tasks(std::ostream& out) {
    if (!started()) {
        out << "0 pending task(s), 0 not started (the unsync runtime has not started)\n";
        return;
    }
    detail::LoopImpl* impl = &detail::LoopAccess::impl(loop());
    if (loop_impl() == impl) {
        impl->write_tasks(out);
        return;
    }
    try {
        out << list_tasks(impl).result();
    } catch (const cancelled_error&) {
        out << "0 pending task(s), 0 not started (the unsync runtime has shut down)\n";
    }
}

namespace detail {

void name_task(TaskBase& task, std::string name) {
    task.set_name(name);
}

}  // namespace detail
}  // namespace unsync
