#pragma once
// The job queue of both pools: a FIFO threaded through the jobs' own m_next, so queueing a call
// allocates nothing. Not synchronized: its owner guards it with a mutex.

#include <cstddef>

namespace unsync::detail {

template <class Node>
class IntrusiveFifo {
public:
    bool empty() const noexcept { return m_head == nullptr; }
    std::size_t size() const noexcept { return m_size; }

    void push(Node* node) noexcept {
        node->m_next = nullptr;
        if (m_tail) {
            m_tail->m_next = node;
        } else {
            m_head = node;
        }
        m_tail = node;
        ++m_size;
    }
    // Precondition: not empty.
    Node* pop() noexcept {
        Node* node = m_head;
        m_head = node->m_next;
        if (!m_head)
            m_tail = nullptr;
        --m_size;
        return node;
    }
    // Empties the queue; the nodes stay linked through m_next.
    Node* take_all() noexcept {
        Node* all = m_head;
        m_head = m_tail = nullptr;
        m_size = 0;
        return all;
    }

private:
    Node* m_head = nullptr;
    Node* m_tail = nullptr;
    std::size_t m_size = 0;
};

}  // namespace unsync::detail
