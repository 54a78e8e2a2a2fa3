// The coroutine frame pool (detail/frame_pool.hpp): alignment, reuse, the size limit, and blocks
// that move between threads.

#include <unsync/detail/frame_pool.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include <unsync/unsync.hpp>

namespace {

using unsync::detail::frame_alloc;
using unsync::detail::frame_free;
using unsync::detail::frame_pool_max;

bool aligned(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) % __STDCPP_DEFAULT_NEW_ALIGNMENT__ == 0;
}

TEST(FramePool, BlocksAreAlignedDistinctAndWritable) {
    std::vector<std::pair<void*, std::size_t>> blocks;
    std::set<void*> seen;
    for (std::size_t size = 1; size <= frame_pool_max + 64; size += 7) {
        void* p = frame_alloc(size);
        ASSERT_TRUE(aligned(p)) << size;
        EXPECT_TRUE(seen.insert(p).second) << "block handed out twice, size " << size;
        std::memset(p, 0xab, size);  // the whole block is usable (ASan checks the bounds)
        blocks.emplace_back(p, size);
    }
    // Nothing written into one block reached another.
    for (auto [p, size] : blocks) {
        const auto* bytes = static_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < size; ++i)
            ASSERT_EQ(bytes[i], 0xab);
    }
    for (auto [p, size] : blocks)
        frame_free(p, size);
}

TEST(FramePool, ManyLiveBlocksOfOneSizeNeverOverlap) {
    constexpr std::size_t size = 128;
    std::vector<void*> blocks;
    for (int i = 0; i < 10'000; ++i) {
        blocks.push_back(frame_alloc(size));
        std::memset(blocks.back(), i & 0xff, size);
    }
    for (int i = 0; i < 10'000; ++i) {
        const auto* bytes = static_cast<const unsigned char*>(blocks[i]);
        ASSERT_EQ(bytes[0], i & 0xff);
        ASSERT_EQ(bytes[size - 1], i & 0xff);
    }
    for (void* p : blocks)
        frame_free(p, size);
}

TEST(FramePool, TensOfMegabytesFromFourThreadsAtOnceNeverOverlap) {
    // Past its first chunks the depot cuts blocks from larger regions it maps (k_region_max):
    // many of them here, with four threads racing for them. Each block must have one owner.
    constexpr std::size_t size = 128;
    constexpr int per_thread = 40'000;
    std::vector<std::vector<void*>> blocks(4);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < blocks.size(); ++t) {
        threads.emplace_back([&mine = blocks[t], t] {
            for (int i = 0; i < per_thread; ++i) {
                mine.push_back(frame_alloc(size));
                std::memset(mine.back(), static_cast<int>(t * 64 + i % 64), size);
            }
        });
    }
    for (auto& th : threads)
        th.join();
    std::set<void*> seen;
    for (std::size_t t = 0; t < blocks.size(); ++t) {
        for (int i = 0; i < per_thread; ++i) {
            const auto* bytes = static_cast<const unsigned char*>(blocks[t][i]);
            ASSERT_TRUE(seen.insert(blocks[t][i]).second);
            ASSERT_EQ(bytes[0], t * 64 + i % 64);
            ASSERT_EQ(bytes[size - 1], t * 64 + i % 64);
        }
    }
    for (auto& mine : blocks) {
        for (void* p : mine)
            frame_free(p, size);
    }
}

TEST(FramePool, BlocksFreedOnAnotherThreadAreSafeToReuse) {
    // Allocated here, freed on a thread that then exits (its cache goes back to the depot),
    // allocated again here: every block must still be whole and distinct.
    constexpr std::size_t size = 96;
    for (int round = 0; round < 3; ++round) {
        std::vector<void*> blocks;
        for (int i = 0; i < 1'000; ++i)
            blocks.push_back(frame_alloc(size));
        std::thread([&] {
            for (void* p : blocks)
                frame_free(p, size);
        }).join();
        std::set<void*> again;
        for (int i = 0; i < 1'000; ++i) {
            void* p = frame_alloc(size);
            std::memset(p, 0, size);
            EXPECT_TRUE(again.insert(p).second);
        }
        for (void* p : again)
            frame_free(p, size);
    }
}

unsync::Unfuture<int> plus_one(int v) {
    co_return v + 1;
}

TEST(FramePool, TasksCreatedOnManyThreadsComplete) {
    // Frames allocated on four threads, freed on whichever thread drops the last handle.
    std::vector<std::thread> threads;
    std::vector<long long> sums(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &sums] {
            std::vector<unsync::Unfuture<int>> futures;
            for (int i = 0; i < 5'000; ++i)
                futures.push_back(plus_one(i));
            for (auto& f : futures)
                sums[t] += f.result();
        });
    }
    for (auto& th : threads)
        th.join();
    for (long long s : sums)
        EXPECT_EQ(s, 5'000LL * 5'001 / 2);
}

}  // namespace
