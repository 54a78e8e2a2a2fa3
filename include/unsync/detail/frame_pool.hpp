#pragma once
// Memory for coroutine frames and the other per-call states (pool calls, plain futures): one
// allocation per call, taken from per-thread free lists that are refilled and drained in batches
// through a shared depot instead of from malloc. Blocks larger than frame_pool_max go to
// ::operator new.

#include <cstddef>

#include <unsync/export.hpp>

namespace unsync::detail {

inline constexpr std::size_t frame_pool_max = 512;

// Blocks aligned as ::operator new aligns (__STDCPP_DEFAULT_NEW_ALIGNMENT__), as coroutine
// frames need. frame_free takes the size given to frame_alloc.
UNSYNC_EXPORT void* frame_alloc(std::size_t size);
UNSYNC_EXPORT void frame_free(void* block, std::size_t size) noexcept;

// A base that makes `new` and `delete` of the derived class use the pool (coroutine promises:
// of their frames). Delete through the most derived type, so that the size matches.
struct Pooled {
    static void* operator new(std::size_t size) { return frame_alloc(size); }
    static void operator delete(void* block, std::size_t size) noexcept { frame_free(block, size); }
};

}  // namespace unsync::detail
