#pragma once
// unsync::Queue<T>: a FIFO between any mix of coroutines and plain threads, bounded (pushes wait
// while it is full: back-pressure) or not. Pops wait while it is empty; close() ends it: pushes
// fail with closed_error, and pops do once what was pushed is drained. Items go straight to the
// oldest waiting pop; T may be move-only.

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

template <class T>
class Queue {
    static_assert(std::is_object_v<T> && !std::is_const_v<T> && std::is_move_constructible_v<T>,
                  "unsync::Queue<T> needs a movable, non-const object type T (for references, "
                  "queue pointers or std::reference_wrapper)");

public:
    static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();

    explicit Queue(std::size_t capacity = unbounded) : m_capacity(capacity) {
        if (capacity == 0)
            throw std::invalid_argument("unsync: a Queue needs a capacity of at least 1");
    }
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;
    // Waiters left fail with invalid_state_error (the destructors of the wait queues).
    ~Queue() = default;

    // Done once the item is in (at once while there is room). Cancelling a push that waits
    // withdraws it and drops its item. Throws closed_error when closed.
    Unfuture<void> push_async(T item) {
        std::unique_lock lock(m_mutex);
        if (!put(lock, item)) {
            auto* g = new PushGrant(std::move(item));
            m_pushers.push(g);
            return detail::adopt_state<void>(g);
        }
        return PushGrant::ready();
    }
    // Done with the oldest item (at once when there is one); closed_error once closed and drained.
    // An item granted to a pop is returned by it, even to a task cancelled meanwhile.
    Unfuture<T> pop_async() {
        std::unique_lock lock(m_mutex);
        if (std::optional<T> item = take(lock))
            return PopGrant::ready(std::move(*item));
        if (m_closed)
            return closed_pop();
        auto* g = new PopGrant();
        m_poppers.push(g);
        return detail::adopt_state<T>(g);
    }

    // Blocking forms (a plain thread; on the loop thread they throw invalid_state_error).
    void push(T item) { (void)push_until(item, std::chrono::steady_clock::time_point::max()); }
    T pop() { return std::move(*pop_until(std::chrono::steady_clock::time_point::max())); }
    // On a timeout the item stays with the caller (moved from only on success).
    template <class Rep, class Period>
    bool try_push_for(T& item, std::chrono::duration<Rep, Period> timeout) {
        return push_until(item, detail::deadline_after(timeout));
    }
    template <class Rep, class Period>
    std::optional<T> try_pop_for(std::chrono::duration<Rep, Period> timeout) {
        return pop_until(detail::deadline_after(timeout));
    }

    // Never wait; the item is moved from only when pushed. Closed: closed_error.
    bool try_push(T& item) {
        std::unique_lock lock(m_mutex);
        return put(lock, item);
    }
    bool try_push(T&& item) { return try_push(item); }
    // Nullopt when empty (even if closed: see closed()).
    std::optional<T> try_pop() {
        std::unique_lock lock(m_mutex);
        return take(lock);
    }

    // Ends the queue: later pushes throw closed_error; pushes already waiting still go in, and
    // pops get every item before closed_error. Idempotent.
    void close() {
        PopGrant* failed = nullptr;
        {
            std::lock_guard lock(m_mutex);
            m_closed = true;
            // Pops wait only on an empty queue: there is nothing more for them.
            while (PopGrant* g = m_poppers.claim_next()) {
                g->set_error(closed_error_ptr());
                g->m_next = failed;
                failed = g;
            }
        }
        detail::complete_all(failed);
    }
    bool closed() const {
        std::lock_guard lock(m_mutex);
        return m_closed;
    }
    std::size_t size() const {
        std::lock_guard lock(m_mutex);
        return m_items.size();
    }
    std::size_t capacity() const noexcept { return m_capacity; }

private:
    using PushGrant = detail::Grant<void, std::optional<T>>;
    using PopGrant = detail::Grant<T>;

    static std::exception_ptr closed_error_ptr() {
        return std::make_exception_ptr(closed_error("unsync: the Queue is closed"));
    }
    static Unfuture<T> closed_pop() { return PopGrant::ready_error(closed_error_ptr()); }

    // Under the lock, which it drops when it hands the item to a waiting pop. False when full.
    bool put(std::unique_lock<std::mutex>& lock, T& item) {
        if (m_closed)
            throw closed_error("unsync: push into a closed Queue");
        if (PopGrant* g = m_poppers.claim_next()) {
            // The queue is empty while pops wait: the item goes to the oldest.
            try {
                g->set_value(std::move(item));
            } catch (...) {
                g->set_error(std::current_exception());
            }
            lock.unlock();
            g->complete(true);
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
        std::unique_lock lock(m_mutex);
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
            std::unique_lock lock(m_mutex);
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

    mutable std::mutex m_mutex;  // guards everything below
    std::deque<T> m_items;
    const std::size_t m_capacity;
    bool m_closed = false;
    detail::GrantQueue<PushGrant> m_pushers;
    detail::GrantQueue<PopGrant> m_poppers;
};

}  // namespace unsync
