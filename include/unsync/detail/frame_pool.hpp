#pragma once
// Memory for coroutine frames. A task's frame is its state, so every task costs one allocation:
// these come from per-thread free lists, refilled and drained in batches through a shared depot,
// instead of from malloc. Frames larger than frame_pool_max go to ::operator new.

#include <cstddef>

#include <unsync/export.hpp>

namespace unsync::detail {

inline constexpr std::size_t frame_pool_max = 512;

// Blocks aligned as ::operator new aligns (__STDCPP_DEFAULT_NEW_ALIGNMENT__), as coroutine
// frames need. frame_free takes the size given to frame_alloc.
UNSYNC_EXPORT void* frame_alloc(std::size_t size);
UNSYNC_EXPORT void frame_free(void* block, std::size_t size) noexcept;

}  // namespace unsync::detail
