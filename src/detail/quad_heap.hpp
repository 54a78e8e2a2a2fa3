#pragma once
// A min-heap with four children per node, on a vector. Private to the library's sources.
//
// The loop's timers live in one: with 100,000 sleeps pending the heap is megabytes, and a pop
// from a binary heap misses the cache at every one of its ~17 levels. Four children halve the
// levels, and the four sit side by side (96 bytes for a timer: two or three cache lines, fetched
// together).

#include <cstddef>
#include <utility>
#include <vector>

namespace unsync::detail {

// Less(a, b): a comes out before b.
template <class T, class Less>
class QuadHeap {
public:
    bool empty() const noexcept { return m_items.empty(); }
    std::size_t size() const noexcept { return m_items.size(); }
    const T& front() const noexcept { return m_items.front(); }
    auto begin() const noexcept { return m_items.begin(); }
    auto end() const noexcept { return m_items.end(); }

    void push(T item) {
        m_items.push_back(std::move(item));
        sift_up(m_items.size() - 1);
    }
    // Not on an empty heap.
    T pop() {
        T top = std::move(m_items.front());
        T last = std::move(m_items.back());
        m_items.pop_back();
        if (!m_items.empty())
            sift_down(0, std::move(last));
        return top;
    }
    // Drops the items pred selects (asked once per item) and restores the heap.
    template <class Pred>
    void remove_if(Pred pred) {
        std::erase_if(m_items, pred);
        // Every node with children, the last parent first.
        for (std::size_t i = m_items.size() / k_arity + 1; i-- > 0;) {
            if (i * k_arity + 1 < m_items.size())
                sift_down(i, std::move(m_items[i]));
        }
    }

private:
    static constexpr std::size_t k_arity = 4;

    void sift_up(std::size_t i) {
        T item = std::move(m_items[i]);
        while (i > 0) {
            const std::size_t parent = (i - 1) / k_arity;
            if (!Less{}(item, m_items[parent]))
                break;
            m_items[i] = std::move(m_items[parent]);
            i = parent;
        }
        m_items[i] = std::move(item);
    }
    // Places item in the hole at i, moving smaller children up.
    void sift_down(std::size_t i, T item) {
        const std::size_t n = m_items.size();
        for (;;) {
            const std::size_t first = i * k_arity + 1;
            if (first >= n)
                break;
            const std::size_t last = first + k_arity < n ? first + k_arity : n;
            std::size_t best = first;
            for (std::size_t c = first + 1; c < last; ++c) {
                if (Less{}(m_items[c], m_items[best]))
                    best = c;
            }
            if (!Less{}(m_items[best], item))
                break;
            m_items[i] = std::move(m_items[best]);
            i = best;
        }
        m_items[i] = std::move(item);
    }

    std::vector<T> m_items;
};

}  // namespace unsync::detail
