#include <unsync/detail/state.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <ctime>
#include <thread>
#include <utility>

#include <unsync/detail/loop_core.hpp>
#include <unsync/detail/tls.hpp>

#include <unsync/detail/intrusive_list.hpp>
#include "detail/cpu_relax.hpp"

namespace unsync::detail {

namespace {

// Frames whose destruction waits for the one in progress on this thread (see
// destroy_task_frame), linked through m_queue_next: a task with no owner left is in no queue.
struct Destroying {
    bool active = false;
    TaskBase* deferred = nullptr;
};
UNSYNC_INITIAL_EXEC thread_local Destroying t_destroying;

long futex(const void* word, int op, std::uint32_t value, const timespec* timeout) noexcept {
    return ::syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

void futex_wake_all(const void* word) noexcept {
    futex(word, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr);
}

// False when the deadline passed.
bool futex_wait_until(const void* word, std::uint32_t expected,
                      std::chrono::steady_clock::time_point deadline) noexcept {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= left.zero())
        return false;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    // steady_clock is CLOCK_MONOTONIC, which is what a relative FUTEX_WAIT measures.
    return !(futex(word, FUTEX_WAIT_PRIVATE, expected, &ts) == -1 && errno == ETIMEDOUT);
}

}  // namespace

const void* StateBase::futex_word() const noexcept {
    // The kernel compares 32 bits at this address; the flag bits are the low half of the word.
    const auto* halves = reinterpret_cast<const unsigned char*>(&m_word);
    return std::endian::native == std::endian::little ? halves : halves + 4;
}

void throw_blocking_on_loop() {
    throw invalid_state_error("Calling result() in an unsync method is not allowed");
}

void throw_already_completed() {
    throw invalid_state_error("unsync: this Unfuture already has a result (or belongs to a task)");
}

void throw_no_state() {
    throw invalid_state_error("unsync: this Unfuture has no state (it was moved from)");
}

void StateBase::rethrow_error() const {
    std::rethrow_exception(m_error);
}

std::exception_ptr make_cancelled(const char* why) {
    return std::make_exception_ptr(cancelled_error(why));
}

void StateBase::wait() const noexcept {
    // The one mutation a wait makes: running work nobody has started, where the kind allows it.
    if (m_ops->help && !done() && m_ops->help(const_cast<StateBase*>(this)))
        return;
    // Returns only once done: the futex timeout is centuries away.
    while (!wait_until(std::chrono::steady_clock::time_point::max())) {
    }
}

bool StateBase::wait_until(std::chrono::steady_clock::time_point deadline) const noexcept {
    static_assert(sizeof(m_word) == 8 && std::atomic<std::uint64_t>::is_always_lock_free);
    // Acquire on every load: once k_done is seen, the result must be visible.
    std::uint64_t w = m_word.load(std::memory_order_acquire);
    // A result that arrives within microseconds (a round trip to the loop) is worth a short
    // spin: a futex sleep and wake-up cost more than that. Bounded, so a long wait still sleeps.
    if ((w & k_done) == 0) {
        spin_until(
            [&] {
                w = m_word.load(std::memory_order_acquire);
                return (w & k_done) != 0;
            },
            std::min(deadline, std::chrono::steady_clock::now() + k_spin_before_sleep));
    }
    while ((w & k_done) == 0) {
        if ((w & k_sleepers) == 0) {
            if (!m_word.compare_exchange_weak(w, w | k_sleepers, std::memory_order_acquire,
                                              std::memory_order_acquire)) {
                continue;
            }
            w |= k_sleepers;
        }
        // Sleeps only while the flag half still reads as it did: a completion changes it.
        if (!futex_wait_until(futex_word(), static_cast<std::uint32_t>(w), deadline)) {
            return (m_word.load(std::memory_order_acquire) & k_done) != 0;
        }
        w = m_word.load(std::memory_order_acquire);
    }
    return true;
}

std::uint64_t StateBase::lock() noexcept {
    std::uint64_t w = m_word.load(std::memory_order_relaxed);
    // The lock is held for a few pointer writes.
    for (Backoff backoff;; backoff.pause()) {
        // Acquire: the holder before us published its changes to m_waiters with release.
        if ((w & k_locked) == 0 &&
            m_word.compare_exchange_weak(w, w | k_locked, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
            return w | k_locked;
        }
        w = m_word.load(std::memory_order_relaxed);
    }
}

void StateBase::unlock(std::uint64_t locked) noexcept {
    // Clears k_locked and makes k_waiters say whether the list is empty. Only the lock holder
    // changes either bit, so plain arithmetic on them cannot carry into the others.
    std::uint64_t delta = k_locked;
    // After k_done the list belongs to the completer, which empties it without the lock.
    if (locked & k_done) {
        m_word.fetch_sub(delta, std::memory_order_release);
        return;
    }
    const bool had = (locked & k_waiters) != 0;
    if (had && !m_waiters)
        delta += k_waiters;
    if (!had && m_waiters)
        delta -= k_waiters;
    // Release: the next holder sees our changes to m_waiters.
    m_word.fetch_sub(delta, std::memory_order_release);
}

bool StateBase::add_waiter(Waiter* w) noexcept {
    const std::uint64_t locked = lock();
    if (locked & k_done) {
        unlock(locked);
        return false;
    }
    list_push_front(m_waiters, w);
    unlock(locked);
    return true;
}

bool StateBase::remove_waiter(Waiter* w) noexcept {
    const std::uint64_t locked = lock();
    if (locked & k_done) {
        unlock(locked);
        return false;
    }
    list_erase(m_waiters, w);
    unlock(locked);
    return true;
}

Waiter* StateBase::publish(std::uint64_t drop, std::uint64_t& before) noexcept {
    // One RMW: k_done is set as soon as no one holds the lock. From then on add_waiter and
    // remove_waiter see k_done under their lock and leave m_waiters alone, so it can be read
    // without taking the lock; the acquire saw the last holder's release of its changes.
    std::uint64_t w = m_word.load(std::memory_order_relaxed);
    const std::uint64_t asked = drop;
    for (Backoff backoff;; backoff.pause()) {
        // Once the reference is dropped another owner may free the state at once, so it is
        // dropped here only when nothing is left to do: no waiter to take, no sleeper to wake.
        // Kept, it is marked k_finishing, so that a woken handle knows it reads no value.
        std::uint64_t finishing = 0;
        drop = asked;
        if ((w & (k_waiters | k_sleepers)) != 0 && drop != 0) {
            drop = 0;
            finishing = k_finishing;
        }
        // acq_rel: release publishes the result to whoever sees k_done (acquire), and orders
        // this owner's writes before a destruction by another owner, as release() does.
        if ((w & k_locked) == 0 &&
            m_word.compare_exchange_weak(w, ((w | k_done | finishing) - drop),
                                         std::memory_order_acq_rel, std::memory_order_relaxed)) {
            break;
        }
        w = m_word.load(std::memory_order_relaxed);
    }
    before = drop != 0 ? w : w | k_kept_ref;
    if (drop != 0)
        return nullptr;
    if (w & k_sleepers)
        futex_wake_all(futex_word());
    Waiter* list = std::exchange(m_waiters, nullptr);
    // Waiters were pushed at the head; reverse so they resume in the order they awaited.
    Waiter* ordered = nullptr;
    while (list) {
        Waiter* next = list->m_next;
        list->m_next = ordered;
        ordered = list;
        list = next;
    }
    return ordered;
}

namespace {
// Completions on other threads that have taken their waiters but not yet handed them to the loop.
// Shutdown waits for it to reach zero, so no cancelled task is lost in transit.
std::atomic<unsigned> g_handoffs{0};
}  // namespace

unsigned handoffs_in_flight() noexcept {
    // Acquire: pairs with the release below, so the handed-over tasks are in the remote queue.
    return g_handoffs.load(std::memory_order_acquire);
}

bool StateBase::cancel() noexcept {
    if (done())
        return false;
    if (m_ops->cancel)
        return m_ops->cancel(this);
    if (!try_claim())
        return false;
    set_error(make_cancelled("unsync: cancelled"));
    complete();
    return true;
}

void StateBase::complete_slow(bool drop_ref) noexcept {
    // Off the loop thread, the waiters are in transit until schedule() has handed them over:
    // counted before publish() takes the list, so whoever fails to unlink a waiter sees it.
    const bool handoff = !on_loop_thread();
    if (handoff)
        g_handoffs.fetch_add(1, std::memory_order_seq_cst);
    std::uint64_t before = 0;
    Waiter* w = publish(drop_ref ? k_ref : 0, before);
    while (w) {
        // Read the link first: once scheduled, the waiter may resume and its frame go away.
        Waiter* next = w->m_next;
        schedule(w->m_task);
        w = next;
    }
    if (handoff)
        g_handoffs.fetch_sub(1, std::memory_order_release);
    if (!drop_ref)
        return;
    if (before & k_kept_ref) {
        release_finisher();  // publish() could not drop it: there was more to do after k_done
    } else if (refs(before) == 1) {
        // The dropped reference was the last: nobody else can see the state (a waiter would
        // hold one), and publish()'s acq_rel ordered the other owners' writes before this.
        m_ops->destroy(this);
    }
}

void StateBase::complete_for(TaskBase* task) noexcept {
    // As in complete_slow(): counted while the task is in transit, for shutdown.
    const bool handoff = task && !on_loop_thread();
    if (handoff)
        g_handoffs.fetch_add(1, std::memory_order_seq_cst);
    // Release: whoever sees k_done sees the result. A plain store, as nobody else changes the word
    // of such a state: it has no waiter list and no handle, and its completer holds its claim (or
    // nobody else sees it yet). A losing claim may still come, but it sets k_claimed again.
    m_word.store(m_word.load(std::memory_order_relaxed) | k_done, std::memory_order_release);
    if (task)
        schedule(task);
    if (handoff)
        g_handoffs.fetch_sub(1, std::memory_order_release);
}

void StateBase::release_finisher() noexcept {
    // acq_rel, as in release(). k_finishing is set, so subtracting it clears it: readers()
    // sees the reference and the bit go together.
    if (refs(m_word.fetch_sub(k_ref | k_finishing, std::memory_order_acq_rel)) == 1)
        m_ops->destroy(this);
}

void forget_handoffs_after_fork() noexcept {
    // Relaxed: the child has one thread.
    g_handoffs.store(0, std::memory_order_relaxed);
}

void destroy_task_frame(TaskBase* task) noexcept {
    // Its address once: the compiler would otherwise recompute it after every call.
    Destroying* const d = &t_destroying;
    if (d->active) {
        // Relaxed: only this thread reads the link.
        task->m_queue_next.store(d->deferred, std::memory_order_relaxed);
        d->deferred = task;
        return;
    }
    d->active = true;
    task->handle().destroy();
    while (TaskBase* next = d->deferred) {
        d->deferred = next->m_queue_next.load(std::memory_order_relaxed);
        next->handle().destroy();
    }
    d->active = false;
}

}  // namespace unsync::detail
