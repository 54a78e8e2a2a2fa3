#pragma once
// A doubly linked list threaded through the nodes' own m_prev and m_next, kept as a bare head
// pointer (the waiter list lives in every future's state, where one pointer is all it may take).
// Not synchronized: each user guards its list.

namespace unsync::detail {

template <class Node>
void list_push_front(Node*& head, Node* node) noexcept {
    node->m_prev = nullptr;
    node->m_next = head;
    if (head)
        head->m_prev = node;
    head = node;
}

// Leaves the node's links as they were; a node may be erased once per push.
template <class Node>
void list_erase(Node*& head, Node* node) noexcept {
    if (node->m_prev) {
        node->m_prev->m_next = node->m_next;
    } else {
        head = node->m_next;
    }
    if (node->m_next)
        node->m_next->m_prev = node->m_prev;
}

}  // namespace unsync::detail
