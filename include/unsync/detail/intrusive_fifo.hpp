#pragma once
// A FIFO threaded through the nodes' own link field, so queueing allocates nothing. Not
// synchronized: the process pool guards its own with a mutex, the loop's ready queue is its
// thread's alone (and reached from coroutines' inlined code, hence here).

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace unsync::detail {

// Link is a pointer to the node's link member: a Node* or a std::atomic<Node*> (then used with
// relaxed order, as the queue itself is not shared).
template <class Node, auto Link = &Node::m_next>
class IntrusiveFifo {
public:
    bool empty() const noexcept { return m_head == nullptr; }
    std::size_t size() const noexcept { return m_size; }
    Node* front() const noexcept { return m_head; }

    void push(Node* node) noexcept {
        set_next(node, nullptr);
        if (m_tail) {
            set_next(m_tail, node);
        } else {
            m_head = node;
        }
        m_tail = node;
        ++m_size;
    }
    // Precondition: not empty.
    Node* pop() noexcept {
        Node* node = m_head;
        m_head = next(node);
        if (!m_head)
            m_tail = nullptr;
        --m_size;
        return node;
    }
    // Empties the queue; the nodes stay linked.
    Node* take_all() noexcept {
        Node* all = m_head;
        m_head = m_tail = nullptr;
        m_size = 0;
        return all;
    }

    static Node* next(const Node* node) noexcept {
        if constexpr (k_atomic) {
            return (node->*Link).load(std::memory_order_relaxed);
        } else {
            return node->*Link;
        }
    }

private:
    static constexpr bool k_atomic =
        !std::is_same_v<std::remove_cvref_t<decltype(std::declval<Node&>().*Link)>, Node*>;
    static void set_next(Node* node, Node* next) noexcept {
        if constexpr (k_atomic) {
            (node->*Link).store(next, std::memory_order_relaxed);
        } else {
            node->*Link = next;
        }
    }

    Node* m_head = nullptr;
    Node* m_tail = nullptr;
    std::size_t m_size = 0;
};

}  // namespace unsync::detail
