// "One allocation per call": a coroutine call allocates its frame, which is also the future's
// shared state, and nothing else on the calling thread; a pool call allocates one job that is
// also the state. Counted by replacing the global operator new in this test program only.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#include <unsync/unsync.hpp>

namespace {
// Counts the allocations of the thread that asks: the loop's own bookkeeping is not the call's.
thread_local std::size_t t_allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
    ++t_allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size))
        return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

unsync::Unfuture<int> answer(int i) {
    co_return i;
}

// Frames come from the library's frame pool, except under AddressSanitizer (frame_pool.cpp).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool k_pooled_frames = false;
#elif defined(__has_feature)
constexpr bool k_pooled_frames = !__has_feature(address_sanitizer);
#else
constexpr bool k_pooled_frames = true;
#endif

TEST(Allocations, ACoroutineCallAllocatesOnlyItsFrame) {
    constexpr int calls = 1000;
    std::vector<unsync::Unfuture<int>> futures;
    futures.reserve(2 * calls);
    // Warm up: the runtime, and frames to recycle.
    for (int i = 0; i < calls; ++i)
        futures.push_back(answer(i));
    for (auto& f : futures)
        (void)f.result();
    futures.clear();

    const std::size_t before = t_allocations;
    for (int i = 0; i < calls; ++i)
        futures.push_back(answer(i));
    const std::size_t per_call_total = t_allocations - before;
    for (auto& f : futures)
        (void)f.result();
    if (k_pooled_frames) {
        // The frames are the warm-up's, recycled: a call allocates nothing from the heap.
        EXPECT_LE(per_call_total, static_cast<std::size_t>(calls) / 10);
    } else {
        // One allocation per call, the frame; a second one would double this.
        EXPECT_GE(per_call_total, static_cast<std::size_t>(calls));
        EXPECT_LE(per_call_total, static_cast<std::size_t>(calls) + calls / 10);
    }
}

TEST(Allocations, APoolCallAllocatesAtMostItsJob) {
    constexpr int calls = 1000;
    unsync::ThreadPool pool;
    std::vector<unsync::Unfuture<int>> futures;
    futures.reserve(2 * calls);
    for (int i = 0; i < calls; ++i)
        futures.push_back(pool.submit([](int v) { return v; }, i));
    for (auto& f : futures)
        (void)f.result();
    futures.clear();

    const std::size_t before = t_allocations;
    for (int i = 0; i < calls; ++i)
        futures.push_back(pool.submit([](int v) { return v; }, i));
    const std::size_t total = t_allocations - before;
    for (auto& f : futures)
        (void)f.result();
    if (k_pooled_frames) {
        // The jobs are recycled: the warm-up's, freed on the workers, come back in batches.
        EXPECT_LE(total, static_cast<std::size_t>(calls) / 10);
    } else {
        // One job per call; starting a thread allocates too, and the pool may start a few.
        EXPECT_GE(total, static_cast<std::size_t>(calls));
        EXPECT_LE(total, static_cast<std::size_t>(calls) + calls / 10);
    }
}

}  // namespace
