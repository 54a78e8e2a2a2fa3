#pragma once
/// @file
/// A FIFO between any mix of coroutines and plain threads: unsync::Queue, like `asyncio.Queue`,
/// bounded or not.

#include <chrono>
#include <cstddef>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <unsync/detail/grant.hpp>
#include <unsync/errors.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// A FIFO between any mix of coroutines and plain threads, bounded (pushes wait while it is
/// full: back-pressure) or not.
///
/// Pops wait while it is empty. close() ends it: pushes fail with closed_error, and pops do
/// once what was pushed is drained. Items go straight to the oldest waiting pop, and room to the
/// oldest waiting push. Every member function is thread-safe. A coroutine woken by a push or pop
/// resumes on the loop thread, later: no call runs a waiter inside itself.
/// @code
/// unsync::Queue<std::string> lines(64);
/// lines.push(std::move(line));                       // a thread: blocks while 64 wait
/// std::string next = co_await lines;                 // a coroutine
/// lines.close();                                     // pops end with closed_error when drained
/// @endcode
/// @tparam T the item type: a movable, non-const object type, possibly move-only.
template <class T>
class Queue {
    static_assert(std::is_object_v<T> && !std::is_const_v<T> && std::is_move_constructible_v<T>,
                  "unsync::Queue<T> needs a movable, non-const object type T (for references, "
                  "queue pointers or std::reference_wrapper)");

public:
    /// The default capacity: no bound.
    static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();

    /// An empty queue that holds at most `capacity` items.
    /// @throws std::invalid_argument for a capacity of 0.
    explicit Queue(std::size_t capacity = unbounded) : m_capacity(capacity) {
        if (capacity == 0)
            throw std::invalid_argument("unsync: a Queue needs a capacity of at least 1");
    }
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;
    /// Fails the waits left with invalid_state_error, and destroys the items left.
    // Waiting pops may be kept in coroutine frames, whose cancellers take m_lock: see
    // GrantQueue::close(). Waiting pushes are failed by their queue's destructor.
    ~Queue() { m_waiters.close(m_lock); }

    /// Pushes `item`, for a coroutine (or any code that takes an Unfuture): done once the item
    /// is in, at once while there is room.
    ///
    /// Awaitable, blockable with `result()` (off the loop thread), usable with
    /// unsync::wait_for() and the combinators. Cancelling a push that waits withdraws it and
    /// drops its item; a close() meanwhile does not (the item still goes in).
    /// @throws closed_error at once (not through the future) when the queue is closed.
    Unfuture<void> push_async(T item) {
        std::unique_lock lock(m_lock);
        if (!put(lock, item)) {
            auto* g = new PushGrant(std::move(item));
            m_pushers.push(g);
            return detail::adopt_state<void>(g);
        }
        return PushGrant::ready();
    }
    /// Pops the oldest item, for a coroutine (or any code that takes an Unfuture): done at once
    /// when there is one, otherwise when one is pushed.
    ///
    /// Awaitable, blockable with `result()` (off the loop thread), usable with
    /// unsync::wait_for() and the combinators. Cancelling it before an item is granted withdraws
    /// the wait; an item granted before the cancellation took effect (or as wait_for() times out)
    /// is still returned, so that no item is lost.
    /// @return a future of the item; it fails with closed_error once the queue is closed and
    ///         drained.
    Unfuture<T> pop_async() {
        std::unique_lock lock(m_lock);
        if (std::optional<T> item = take(lock))
            return PopGrant::ready(std::move(*item));
        if (m_closed)
            return closed_pop();
        auto* g = new PopGrant();
        m_waiters.push(g);
        return detail::adopt_state<T>(g);
    }

    /// `auto item = co_await q;` in an unsync coroutine: the fastest form of pop_async(); it
    /// never allocates. An item is taken at once when there is one; otherwise the coroutine waits
    /// for one as with `co_await q.pop_async()` (cancellation and closing included), in a wait
    /// kept in its frame.
    /// @return an awaitable that gives the item.
    auto operator co_await() noexcept { return detail::TakeAwaiter<T, Queue>(*this); }

    /// Pushes `item`, blocking the calling thread while the queue is full.
    /// @throws closed_error when the queue is closed.
    /// @throws invalid_state_error on the loop thread when the queue is full (blocking would
    ///         deadlock the loop), or when the queue is destroyed while it waits.
    void push(T item) { (void)push_until(item, std::chrono::steady_clock::time_point::max()); }
    /// Pops the oldest item, blocking the calling thread while the queue is empty.
    /// @throws closed_error once the queue is closed and drained.
    /// @throws invalid_state_error on the loop thread when the queue is empty (blocking would
    ///         deadlock the loop), or when the queue is destroyed while it waits.
    T pop() { return std::move(*pop_until(std::chrono::steady_clock::time_point::max())); }
    /// As push(), but waits at most `timeout`; `item` is moved from only when it is pushed, so
    /// on a timeout it stays with the caller.
    /// @return whether the item was pushed.
    /// @throws closed_error as push().
    /// @throws invalid_state_error as push().
    template <class Rep, class Period>
    bool try_push_for(T& item, std::chrono::duration<Rep, Period> timeout) {
        return push_until(item, detail::deadline_after(timeout));
    }
    /// As pop(), but waits at most `timeout`.
    /// @return the item, or `std::nullopt` on a timeout.
    /// @throws closed_error as pop().
    /// @throws invalid_state_error as pop().
    template <class Rep, class Period>
    std::optional<T> try_pop_for(std::chrono::duration<Rep, Period> timeout) {
        return pop_until(detail::deadline_after(timeout));
    }

    /// Pushes `item` if there is room; never waits. `item` is moved from only when pushed.
    /// @return whether the item was pushed.
    /// @throws closed_error when the queue is closed.
    bool try_push(T& item) {
        std::unique_lock lock(m_lock);
        return put(lock, item);
    }
    /// As try_push(T&), for an rvalue, which is not moved from either when the queue is full.
    bool try_push(T&& item) { return try_push(item); }
    /// Pops the oldest item if there is one; never waits, never throws closed_error.
    /// @return the item, or `std::nullopt` when the queue is empty (closed or not: see
    ///         closed()).
    std::optional<T> try_pop() {
        std::unique_lock lock(m_lock);
        return take(lock);
    }

    /// Ends the queue: later pushes throw closed_error; pushes already waiting still go in, and
    /// pops get every item before closed_error. Pops waiting on the empty queue fail with
    /// closed_error now. Idempotent.
    void close() {
        PopGrant* failed = nullptr;
        {
            std::lock_guard lock(m_lock);
            m_closed = true;
            // Pops wait only on an empty queue: there is nothing more for them.
            while (PopGrant* g = m_waiters.claim_next()) {
                g->set_error(closed_error_ptr());
                g->m_next = failed;
                failed = g;
            }
        }
        detail::complete_all(failed);
    }
    /// Whether close() was called (items may be left to pop).
    bool closed() const {
        std::lock_guard lock(m_lock);
        return m_closed;
    }
    /// The items in the queue now, not counting those of pushes that wait; a snapshot.
    std::size_t size() const {
        std::lock_guard lock(m_lock);
        return m_items.size();
    }
    /// The most items the queue holds (#unbounded: no limit).
    std::size_t capacity() const noexcept { return m_capacity; }

private:
    using PushGrant = detail::Grant<void, std::optional<T>>;
    using PopGrant = detail::Grant<T>;

    static std::exception_ptr closed_error_ptr() {
        return std::make_exception_ptr(closed_error("unsync: the Queue is closed"));
    }
    static Unfuture<T> closed_pop() { return PopGrant::ready_error(closed_error_ptr()); }

    using Wait = PopGrant;
    friend class detail::TakeAwaiter<T, Queue>;
    friend class detail::FrameGrant<PopGrant, Queue>;
    std::optional<T> take_now() {
        std::unique_lock lock(m_lock);
        return take(lock);
    }
    // For a FrameGrant: queues it, or completes it at once (false) with an item pushed meanwhile,
    // or with closed_error.
    bool queue_in_frame(PopGrant* g) noexcept {
        std::unique_lock lock(m_lock);
        try {
            if (std::optional<T> item = take(lock)) {
                g->set_value(std::move(*item));
                return false;
            }
        } catch (...) {
            g->set_error(std::current_exception());
            return false;
        }
        if (m_closed) {
            g->set_error(closed_error_ptr());
            return false;
        }
        m_waiters.push(g);
        return true;
    }

    // Under the lock, which it drops when it hands the item to a waiting pop. False when full.
    bool put(std::unique_lock<std::mutex>& lock, T& item) {
        if (m_closed)
            throw closed_error("unsync: push into a closed Queue");
        if (PopGrant* g = m_waiters.claim_next()) {
            // The queue is empty while pops wait: the item goes to the oldest.
            try {
                g->set_value(std::move(item));
            } catch (...) {
                g->set_error(std::current_exception());
            }
            lock.unlock();
            g->finish();
            return true;
        }
        if (m_items.size() >= m_capacity)
            return false;
        m_items.push_back(std::move(item));
        return true;
    }
    // Under the lock, which it drops when it lets a waiting push in.
    std::optional<T> take(std::unique_lock<std::mutex>& lock) {
        if (m_items.empty())
            return std::nullopt;
        std::optional<T> item(std::move(m_items.front()));
        m_items.pop_front();
        if (PushGrant* g = m_pushers.claim_next()) {
            m_items.push_back(std::move(*g->m_extra));
            g->set_value();
            lock.unlock();
            g->complete(true);
        }
        return item;
    }

    bool push_until(T& item, std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(m_lock);
        if (put(lock, item))
            return true;
        lock.unlock();
        detail::check_may_block();
        lock.lock();
        if (put(lock, item))
            return true;
        auto* g = new PushGrant(std::move(item));
        m_pushers.push(g);
        lock.unlock();
        auto wait = detail::adopt_state<void>(g);
        if (!detail::wait_granted(*g, deadline)) {
            item = std::move(*g->m_extra);  // withdrawn: the item was not taken
            return false;
        }
        std::move(wait).result();
        return true;
    }
    std::optional<T> pop_until(std::chrono::steady_clock::time_point deadline) {
        {
            std::unique_lock lock(m_lock);
            if (std::optional<T> item = take(lock))
                return item;
            if (m_closed)
                throw closed_error("unsync: the Queue is closed");
        }
        detail::check_may_block();
        Unfuture<T> wait = pop_async();
        if (!wait.done() && !detail::wait_granted(detail::state_of(wait), deadline))
            return std::nullopt;
        return std::optional<T>(std::move(wait).result());
    }

    // m_lock and m_waiters (the waiting pops) are the names FrameGrant reaches.
    mutable std::mutex m_lock;  // guards everything below
    std::deque<T> m_items;
    const std::size_t m_capacity;
    bool m_closed = false;
    detail::GrantQueue<PushGrant> m_pushers;
    detail::GrantQueue<PopGrant> m_waiters;
};

}  // namespace unsync
