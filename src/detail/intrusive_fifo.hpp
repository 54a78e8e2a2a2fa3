#pragma once
// A FIFO threaded through the nodes' own link field that takes nodes from any thread and gives
// them to one (the loop thread; for the thread pool, whichever thread holds its mutex). The
// unsynchronized IntrusiveFifo is in <unsync/detail/intrusive_fifo.hpp>.

#include <atomic>
#include <cstddef>
#include <type_traits>

#include <unsync/detail/intrusive_fifo.hpp>

#include "detail/cpu_relax.hpp"

namespace unsync::detail {

// Many producers, one consumer, no lock (D. Vyukov's intrusive MPSC queue). A push is one
// exchange; the consumer only reads the links the producers wrote. Link: a std::atomic<Node*>.
template <class Node, auto Link>
class IntrusiveMpscQueue {
public:
    // The stub is a node the queue owns, so that it is never empty of nodes.
    explicit IntrusiveMpscQueue(Node& stub) noexcept : m_stub(&stub), m_head(&stub), m_tail(&stub) {
        link(m_stub).store(nullptr, std::memory_order_relaxed);
    }

    void push(Node* node) noexcept {
        link(node).store(nullptr, std::memory_order_relaxed);
        // seq_cst: callers pair the exchange with a seq_cst load of the consumer's "sleeping"
        // flag; acquire/release alone would let both miss each other. The release part
        // publishes the node to the consumer through prev's link below.
        Node* prev = m_head.exchange(node, std::memory_order_seq_cst);
        // Release: the consumer that reads this link sees the node's contents.
        link(prev).store(node, std::memory_order_release);
    }

    // Consumer only. Null when empty or when a producer is between its exchange and its link
    // store (then not empty(): the caller tries again later).
    Node* pop() noexcept {
        Node* tail = m_tail;
        // Acquire on every link load: pairs with the release store in push().
        Node* next = link(tail).load(std::memory_order_acquire);
        if (tail == m_stub) {
            if (!next)
                return nullptr;
            m_tail = tail = next;
            next = link(next).load(std::memory_order_acquire);
        }
        if (next) {
            m_tail = next;
            return tail;
        }
        // tail is the last node linked; if it is not the newest, a producer is mid-push.
        if (tail != m_head.load(std::memory_order_acquire))
            return nullptr;
        push(m_stub);
        next = link(tail).load(std::memory_order_acquire);
        if (next) {
            m_tail = next;
            return tail;
        }
        return nullptr;
    }

    // Any thread: whether nodes are queued or being pushed. The stub is the newest node exactly
    // when every other node has been popped.
    bool has_nodes(std::memory_order order) const noexcept { return m_head.load(order) != m_stub; }

    // Consumer only: a cheap look that may miss a node being pushed right now (the next look
    // finds it). Relaxed: pop() does the acquire loads when this says there may be nodes.
    bool maybe_nodes() const noexcept {
        return m_tail != m_stub || link(m_stub).load(std::memory_order_relaxed) != nullptr;
    }

    // Consumer only. seq_cst: see push().
    bool empty() const noexcept {
        return m_tail == m_stub && link(m_stub).load(std::memory_order_acquire) == nullptr &&
               m_head.load(std::memory_order_seq_cst) == m_stub;
    }

private:
    static std::atomic<Node*>& link(Node* node) noexcept { return node->*Link; }

    Node* const m_stub;
    // Producers: the newest node. Its own cache line, away from the consumer's m_tail.
    alignas(k_cache_line) std::atomic<Node*> m_head;
    alignas(k_cache_line) Node* m_tail;  // consumer only: the oldest node
};

}  // namespace unsync::detail
