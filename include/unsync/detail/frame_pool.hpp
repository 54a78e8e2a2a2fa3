#pragma once
// Memory for coroutine frames and the other per-call states (pool calls, plain futures): one
// allocation per call, taken from per-thread free lists that are refilled and drained in batches
// through a shared depot instead of from malloc. Blocks larger than frame_pool_max go to
// ::operator new.

#include <cstddef>
#include <new>

#include <unsync/detail/tls.hpp>
#include <unsync/export.hpp>

namespace unsync::detail {

inline constexpr std::size_t frame_pool_max = 512;
// Blocks come in sizes of whole granules, aligned as ::operator new aligns, as coroutine frames
// need. Class c holds blocks of (c + 1) granules.
inline constexpr std::size_t frame_pool_granule = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
inline constexpr std::size_t frame_pool_classes = frame_pool_max / frame_pool_granule;
// The most blocks a thread keeps per class before it gives a batch back to the depot.
inline constexpr std::size_t frame_pool_keep = 64;

// A free block. The depot chains whole lists through their first blocks' m_next_list.
struct FrameBlock {
    FrameBlock* m_next;
    FrameBlock* m_next_list;
};
static_assert(sizeof(FrameBlock) <= frame_pool_granule);

struct FrameList {
    FrameBlock* m_head = nullptr;
    std::size_t m_size = 0;
};

// This thread's free lists, one per class, once its first slow path made them; null before, at
// thread exit once they are given back, and always under AddressSanitizer (every block its own
// allocation). Reached from here so that the common case is inlined where a frame is made.
UNSYNC_INITIAL_EXEC extern UNSYNC_EXPORT constinit thread_local FrameList* t_frame_lists;

// The rest: an empty or full list, a block too big for the pool, a thread without lists.
UNSYNC_EXPORT void* frame_alloc_slow(std::size_t size);
UNSYNC_EXPORT void frame_free_slow(void* block, std::size_t size) noexcept;

// frame_free takes the size given to frame_alloc. The class is computed once and the size kept
// for the slow path only (size 0 wraps around to a class past the last). Always inlined: GCC
// leaves the allocation in a coroutine's ramp a call otherwise.
[[gnu::always_inline]] inline void* frame_alloc(std::size_t size) {
    const std::size_t cls = (size - 1) / frame_pool_granule;
    if (FrameList* lists = t_frame_lists; lists && cls < frame_pool_classes) {
        FrameList& l = lists[cls];
        if (FrameBlock* b = l.m_head) {
            l.m_head = b->m_next;
            --l.m_size;
            return b;
        }
    }
    return frame_alloc_slow(size);
}

[[gnu::always_inline]] inline void frame_free(void* block, std::size_t size) noexcept {
    const std::size_t cls = (size - 1) / frame_pool_granule;
    if (FrameList* lists = t_frame_lists; lists && cls < frame_pool_classes) {
        FrameList& l = lists[cls];
        if (l.m_size < frame_pool_keep) {
            auto* b = ::new (block) FrameBlock;
            b->m_next = l.m_head;
            l.m_head = b;
            ++l.m_size;
            return;
        }
    }
    frame_free_slow(block, size);
}

// A base that makes `new` and `delete` of the derived class use the pool (coroutine promises:
// of their frames). Delete through the most derived type, so that the size matches.
struct Pooled {
    [[gnu::always_inline]] static void* operator new(std::size_t size) { return frame_alloc(size); }
    [[gnu::always_inline]] static void operator delete(void* block, std::size_t size) noexcept {
        frame_free(block, size);
    }
};

}  // namespace unsync::detail
