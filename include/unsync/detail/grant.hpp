#pragma once
// The waits of the coordination primitives (Mutex, Semaphore, Event, Queue). A wait is a state
// like any Unfuture's, so it is awaited, blocked on, raced and timed out as one; the primitive
// keeps it in a FIFO under its own lock and completes it with what it grants.
//
// Who completes a wait is decided by one claim: the granter's or a canceller's. A claim taken by a
// granter is a grant under way, completed at once; so a cancelled task waits for it and returns
// it (the k_grant bit tells the awaiter and the loop), and what was granted is never lost. A
// Barrier claims the waits of a round before it knows the round is full, and gives the claims
// back at once when it is not; its waits have a cancel function that waits for that.
//
// Most cancellers never touch the primitive: the claim alone settles the wait, and the queue drops
// it when it comes up. A wait kept in a coroutine frame (FrameGrant) is the exception, as the
// frame goes with the task: its canceller also takes it out of the queue, under the primitive's
// lock, after its claim. So a primitive with such waits is destroyed by GrantQueue::close(),
// which waits for the cancellers that claimed a wait and are still on their way to the lock.

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include <unsync/detail/awaiter.hpp>
#include <unsync/detail/frame_pool.hpp>
#include <unsync/detail/spin_lock.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/unfuture.hpp>

namespace unsync::detail {

struct GrantDone {};

// T: what a granted wait returns. Extra: what the waiter leaves with the primitive (the item of a
// push into a full queue). Cancel: null, or the cancel function of a primitive that may give a
// claim back.
template <class T, class Extra = Empty, StateBase::CancelFn Cancel = nullptr>
class Grant : public State<T>, public Pooled {
public:
    using Value = T;
    // Two references: the waiter's Unfuture and the primitive's queue.
    Grant() noexcept : State<T>(&k_ops, 2, StateBase::k_grant) {}
    template <class E>
    requires(!std::is_same_v<std::remove_cvref_t<E>, GrantDone>) explicit Grant(E&& extra)
        : State<T>(&k_ops, 2, StateBase::k_grant), m_extra(std::forward<E>(extra)) {}

    Grant* m_next = nullptr;  // in the primitive's queue, under its lock
    // Set for a FrameGrant (below): the task whose frame holds it.
    TaskBase* const m_frame_task = nullptr;
    [[no_unique_address]] Extra m_extra;

    // Completes a wait claimed by the caller (taken from the queue), dropping the queue's
    // reference; a FrameGrant schedules its task instead.
    void finish() noexcept {
        if (m_frame_task)
            this->complete_for(m_frame_task);
        else
            this->complete(true);
    }

    // A wait satisfied at once: a future born done, with no queue reference. Nobody else can see
    // the state before it is handed out, so it is built complete: no atomic operation at all.
    template <class... A>
    static Unfuture<T> ready(A&&... a) {
        return adopt_state<T>(new Grant(Done{}, std::forward<A>(a)...));
    }

    static Unfuture<T> ready_error(std::exception_ptr e) {
        return adopt_state<T>(new Grant(Failed{}, std::move(e)));
    }

protected:
    // A FrameGrant's: its references are never dropped (the frame owns it).
    Grant(const StateBase::Ops* ops, TaskBase* task) noexcept
        : State<T>(ops, 2, StateBase::k_grant), m_frame_task(task) {}

private:
    using Done = GrantDone;
    struct Failed {};
    static constexpr std::uint64_t k_born_done =
        StateBase::k_grant | StateBase::k_claimed | StateBase::k_done;
    template <class... A>
    explicit Grant(Done, A&&... a) : State<T>(&k_ops, 1, k_born_done) {
        this->set_value(std::forward<A>(a)...);
    }
    Grant(Failed, std::exception_ptr e) noexcept : State<T>(&k_ops, 1, k_born_done) {
        this->set_error(std::move(e));
    }

    static void destroy(StateBase* s) noexcept {
        delete static_cast<Grant*>(static_cast<State<T>*>(s));
    }
    // Without a cancel function, cancelling claims the wait and completes it with
    // cancelled_error.
    static constexpr StateBase::Ops k_ops{&destroy, Cancel, nullptr};
};

// Completes the grants of a list linked through m_next (made under the primitive's lock, and
// completed outside it: completing resumes or wakes a waiter), dropping the queue's references.
template <class G>
void complete_all(G* g) noexcept {
    while (g) {
        G* next = g->m_next;
        g->finish();
        g = next;
    }
}

// The FIFO of waits of one primitive; every member function runs under the primitive's lock,
// except close(), which takes it, and the destructor. It holds one reference per wait. Waits that
// were cancelled or whose every handle is gone are dropped as they come up, and swept in bulk when
// the queue has doubled, so that waiters that time out over and over do not grow it without bound.
template <class G>
class GrantQueue {
public:
    GrantQueue() = default;
    GrantQueue(const GrantQueue&) = delete;
    GrantQueue& operator=(const GrantQueue&) = delete;
    // Fails the waits left, without the lock: enough for a primitive whose cancellers never touch
    // the queue. One with FrameGrants has closed it already.
    ~GrantQueue() { complete_all(fail_all()); }

    // May hold only dead waits: a claim_next() that finds none says so.
    bool empty() const noexcept { return m_head == nullptr; }

    void push(G* g) noexcept {
        if (m_tail)
            m_tail->m_next = g;
        else
            m_head = g;
        m_tail = g;
        if (++m_size > m_sweep_at)
            sweep();
    }

    // The oldest live wait, claimed for the caller, who completes it and then drops the
    // reference it now holds (outside the lock: completing resumes or wakes the waiter).
    G* claim_next() noexcept {
        while (G* g = m_head) {
            unlink_head();
            if (g->m_frame_task) {
                if (g->try_claim())
                    return g;
                // Its canceller claimed it and comes to withdraw() it: counted until then.
                ++m_withdrawing;
                continue;
            }
            // Only the queue's reference left: nobody would read a grant.
            if (g->use_count() > 1 && g->try_claim())
                return g;
            g->release();
        }
        return nullptr;
    }

    // A FrameGrant's canceller, once it has claimed the wait: takes it out of the queue, or, if
    // claim_next() already did, tells close() that this canceller is done with the primitive.
    void withdraw(G* g) noexcept {
        G* prev = nullptr;
        for (G* p = m_head; p; prev = p, p = p->m_next) {
            if (p == g) {
                (prev ? prev->m_next : m_head) = g->m_next;
                if (m_tail == g)
                    m_tail = prev;
                g->m_next = nullptr;
                --m_size;
                return;
            }
        }
        --m_withdrawing;
    }

    // The live waits, after dropping the dead ones.
    std::size_t live() noexcept {
        sweep();
        return m_size;
    }

    // For the destructor of a primitive with FrameGrants, whose cancellers take `lock` after
    // their claim: fails every wait still live with invalid_state_error (a clear error for each,
    // never a hang), then waits, letting go of the lock meanwhile, until each canceller that
    // claimed a wait has withdrawn it. Their unlock is their last touch of the primitive, so it
    // may go once this returns. On the loop thread no canceller can be on its way (they run
    // there), so this never waits for itself.
    template <class Lock>
    void close(Lock& lock) noexcept {
        lock.lock();
        G* failed = fail_all();
        Backoff backoff;
        while (m_withdrawing != 0) {
            lock.unlock();
            backoff.pause();
            lock.lock();
        }
        lock.unlock();
        complete_all(failed);
    }

private:
    // Claims every wait still live and sets its error; returns them linked in order, to be
    // completed outside the lock.
    G* fail_all() noexcept {
        G* failed = nullptr;
        G** tail = &failed;
        while (G* g = claim_next()) {
            g->set_error(std::make_exception_ptr(
                invalid_state_error("unsync: the primitive was destroyed")));
            g->m_next = nullptr;
            *tail = g;
            tail = &g->m_next;
        }
        return failed;
    }

    void unlink_head() noexcept {
        m_head = m_head->m_next;
        if (!m_head)
            m_tail = nullptr;
        --m_size;
    }
    void sweep() noexcept {
        G* live = nullptr;
        G* live_tail = nullptr;
        std::size_t n = 0;
        for (G* g = m_head; g;) {
            G* next = g->m_next;
            if (g->done() || g->use_count() == 1) {
                g->release();
            } else {
                g->m_next = nullptr;
                (live_tail ? live_tail->m_next : live) = g;
                live_tail = g;
                ++n;
            }
            g = next;
        }
        m_head = live;
        m_tail = live_tail;
        m_size = n;
        m_sweep_at = std::max<std::size_t>(k_min_sweep, 2 * n);
    }

    static constexpr std::size_t k_min_sweep = 64;
    G* m_head = nullptr;
    G* m_tail = nullptr;
    std::size_t m_size = 0;
    std::size_t m_sweep_at = k_min_sweep;
    // FrameGrants taken out by claim_next() that their cancellers have yet to withdraw().
    std::size_t m_withdrawing = 0;
};

// `co_await primitive`'s wait, kept in the coroutine's frame (in its TakeAwaiter) instead of a
// Grant of its own: queued with the primitive's other waits, it is granted by scheduling the task,
// with no future, no waiter list and one atomic operation on it, the claim. Only the loop cancels
// it, for the task's cancellation or at shutdown. The claim decides, as for any wait: a canceller
// that loses it leaves a grant under way (or the failure of a destroyed primitive), which the task
// waits for; one that wins withdraws the wait from the queue under the primitive's lock before
// completing it, as the queue must not keep a wait whose frame may go. That lock is the last the
// canceller sees of the primitive, and GrantQueue::close() waits for it. The frame itself outlives
// the cancel: the task is suspended, and only the loop thread, busy cancelling, could resume it.
// G: the primitive's Grant type.
template <class G, class Primitive>
class FrameGrant final : public G {
public:
    FrameGrant(Primitive& primitive, TaskBase* task) noexcept
        : G(&k_ops, task), m_primitive(&primitive) {}
    FrameGrant(const FrameGrant&) = delete;
    FrameGrant& operator=(const FrameGrant&) = delete;

    // Taken at once (the primitive was freed meanwhile), before any other thread could see it.
    void taken_at_once() noexcept { this->complete_for(nullptr); }

private:
    static bool cancel(StateBase* s) noexcept {
        auto* g = static_cast<FrameGrant*>(static_cast<State<typename G::Value>*>(s));
        if (!g->try_claim())
            return false;
        {
            Primitive& p = *g->m_primitive;
            std::lock_guard guard(p.m_lock);
            p.m_waiters.withdraw(g);
        }
        g->set_error(make_cancelled("unsync: cancelled"));
        g->finish();
        return true;
    }
    // Never called: no reference to it is dropped, and the frame frees it.
    static void destroy(StateBase*) noexcept {}
    static constexpr StateBase::Ops k_ops{&destroy, &cancel, nullptr};

    Primitive* const m_primitive;
};

// `co_await primitive`: what is free is taken at once, with no wait at all; otherwise the
// coroutine queues a FrameGrant and suspends until it is granted or cancelled (a grant made before
// the cancellation took effect is returned, as `co_await` of a primitive's future does). Primitive
// gives take_now() -> std::optional<T> and queue_in_frame(G*) (false: taken at once after all, the
// value is in the wait), names its Grant type Wait, keeps its waits in a GrantQueue m_waiters
// under a lock m_lock and closes it in its destructor, and befriends this class and FrameGrant.
template <class T, class Primitive>
class TakeAwaiter {
public:
    explicit TakeAwaiter(Primitive& primitive) noexcept : m_primitive(&primitive) {}

    bool await_ready() {
        m_now = m_primitive->take_now();
        return m_now.has_value();
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        TaskBase& task = task_of(h);
        Queued& q = m_queued.emplace(*m_primitive, task);
        if (task.m_cancelled) {
            // No wait: await_resume throws.
            q.wait.set_error(make_cancelled("unsync: task cancelled"));
        } else {
            // Set first: the loop finds the wait through it to cancel it.
            task.m_wait_node = &q.waiter;
            if (m_primitive->queue_in_frame(&q.wait))
                return true;
            task.m_wait_node = nullptr;
        }
        q.wait.taken_at_once();
        return false;
    }
    T await_resume() {
        if (m_now)
            return std::move(*m_now);
        TaskBase* task = m_queued->waiter.m_task;
        Wait& wait = m_queued->wait;
        task->m_wait_node = nullptr;
        // Cancelled: the awaiting expression throws, unless it was granted (see Awaiter).
        if (task->m_cancelled && wait.has_error()) [[unlikely]]
            throw_cancelled();
        wait.rethrow_if_error();
        return std::move(wait.value());
    }

private:
    using Wait = FrameGrant<typename Primitive::Wait, Primitive>;
    // Built only when the coroutine waits: the free case stays two flags and a take.
    struct Queued {
        Queued(Primitive& primitive, TaskBase& task) noexcept : wait(primitive, &task) {
            waiter.m_task = &task;
            waiter.m_awaited = &wait;
        }
        Waiter waiter;
        Wait wait;
    };

    [[noreturn, gnu::noinline]] static void throw_cancelled() {
        std::rethrow_exception(make_cancelled("unsync: task cancelled"));
    }

    Primitive* m_primitive;
    std::optional<T> m_now;
    std::optional<Queued> m_queued;
};

// A plain thread's blocking wait: on the loop thread, where it would deadlock, it throws
// invalid_state_error instead.
inline void check_may_block() {
    if (on_loop_thread())
        throw_blocking_on_loop();
}

// Blocks on a wait until it is done (true: granted, or failed) or the deadline passes; on a
// timeout the wait is withdrawn and false returned, unless a grant came first (then it is waited
// for: a claimed grant is completed at once).
inline bool wait_granted(StateBase& s, std::chrono::steady_clock::time_point deadline) noexcept {
    if (s.wait_until(deadline))
        return true;
    if (s.cancel())
        return false;
    s.wait();
    return true;
}

// A thread's wait on a queued grant it holds a reference to, until the deadline: what was
// granted, or nullopt once withdrawn. A wait failed by the primitive's destruction rethrows.
template <class T, class E, StateBase::CancelFn C>
std::optional<T> take_when_granted(Grant<T, E, C>* g,
                                   std::chrono::steady_clock::time_point deadline) {
    Unfuture<T> wait = adopt_state<T>(g);
    if (!wait_granted(*g, deadline))
        return std::nullopt;
    return std::move(wait).result();
}

}  // namespace unsync::detail
