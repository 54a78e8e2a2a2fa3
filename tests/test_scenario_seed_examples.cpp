// The seed README's examples, as tests: simple sleep, the thread executor, continuations, and
// mixing thread-pool calls, async continuations and an async aggregator.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// --- Simple sleep ---------------------------------------------------------------------------

unsync::Unfuture<std::string> unsync_async() {
    co_await unsync::sleep(100ms);
    co_return "I like decorators";
}

TEST(SeedExamples, SimpleSleep) {
    const auto start = Clock::now();
    EXPECT_EQ(unsync_async().result(), "I like decorators");
    EXPECT_GE(Clock::now() - start, 100ms);
}

// The README's version: two sleeps of one second take one second, not two. `started` is only
// touched on the loop thread.
unsync::Unfuture<std::pair<std::string, int>> unsync_async_1s(int* started) {
    ++*started;
    co_await unsync::sleep(1s);
    // Both coroutines began before either finished sleeping.
    co_return std::make_pair(std::string("I like decorators"), *started);
}

TEST(SeedExamples, TwoSleepingCoroutinesRunConcurrently) {
    int started = 0;
    const auto start = Clock::now();
    auto unfuture1 = unsync_async_1s(&started);
    auto unfuture2 = unsync_async_1s(&started);
    const auto [text1, seen1] = unfuture1.result();
    const auto [text2, seen2] = unfuture2.result();
    const auto elapsed = Clock::now() - start;
    EXPECT_EQ(text1 + text2, "I like decoratorsI like decorators");
    EXPECT_EQ(seen1, 2);
    EXPECT_EQ(seen2, 2);
    EXPECT_GE(elapsed, 1s);
    EXPECT_LT(elapsed, 1900ms);  // 2 s if the sleeps did not overlap
}

// --- Thread executor ------------------------------------------------------------------------

TEST(SeedExamples, ThreadExecutor) {
    // Timing is the behaviour: ten blocking calls run side by side even on a two-core machine
    // (the pool is not capped at the core count). Half-second sleeps leave room for a loaded
    // machine while still telling "all at once" (0.5 s) from "two or four at a time" (2.5 s,
    // 1.5 s) apart.
    std::atomic<int> running{0};
    std::atomic<int> max_running{0};
    auto non_async_function = unsync::unsync([&](std::chrono::milliseconds seconds) {
        const int now = running.fetch_add(1) + 1;
        int seen = max_running.load();
        while (seen < now && !max_running.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(seconds);
        running.fetch_sub(1);
        return std::string("Run in parallel!");
    });
    const auto start = Clock::now();
    std::vector<unsync::Unfuture<std::string>> tasks;
    for (int i = 0; i < 10; ++i)
        tasks.push_back(non_async_function(500ms));
    std::vector<std::string> results;
    for (auto& task : tasks)
        results.push_back(task.result());
    const auto elapsed = Clock::now() - start;
    EXPECT_EQ(results, std::vector<std::string>(10, "Run in parallel!"));
    EXPECT_EQ(max_running.load(), 10);
    EXPECT_GE(elapsed, 500ms);
    EXPECT_LT(elapsed, 1250ms);
}

TEST(SeedExamples, ThreadExecutorReadmeTimings) {
    // The README's exact numbers: ten calls of 0.1 s finish well under a second.
    auto non_async_function = unsync::unsync([](double seconds) {
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        return std::string("Run in parallel!");
    });
    const auto start = Clock::now();
    std::vector<unsync::Unfuture<std::string>> tasks;
    for (int i = 0; i < 10; ++i)
        tasks.push_back(non_async_function(0.1));
    for (auto& task : tasks)
        EXPECT_EQ(task.result(), "Run in parallel!");
    EXPECT_LT(Clock::now() - start, 1s);
}

// --- Continuations --------------------------------------------------------------------------

unsync::Unfuture<int> initiate(int request) {
    co_await unsync::sleep(100ms);
    co_return request + 1;
}

// Takes the source Unfuture, as the seed's continuations do; it is done, so result() is fine on
// the loop thread.
unsync::Unfuture<int> process(unsync::Unfuture<int> task) {
    co_await unsync::sleep(100ms);
    co_return task.result() * 2;
}

TEST(SeedExamples, Continuation) {
    const auto start = Clock::now();
    auto chained = initiate(3).then(process);
    static_assert(std::is_same_v<decltype(chained), unsync::Unfuture<int>>);
    EXPECT_EQ(chained.result(), 8);
    const auto elapsed = Clock::now() - start;
    EXPECT_GE(elapsed, 200ms);  // the continuation's sleep starts after the source's ends
    EXPECT_LT(elapsed, 5s);
}

// --- Mixing methods -------------------------------------------------------------------------

std::pair<int, int> non_async_function_impl(int num) {
    std::this_thread::sleep_for(100ms);
    return {num, num + 1};
}

unsync::Unfuture<std::pair<int, int>> result_continuation(
    unsync::Unfuture<std::pair<int, int>> task) {
    co_await unsync::sleep(100ms);
    const auto [num, res] = task.result();
    co_return std::make_pair(num, res * 2);
}

unsync::Unfuture<std::map<int, int>> result_processor(
    std::vector<unsync::Unfuture<std::pair<int, int>>> tasks) {
    std::map<int, int> output;
    for (auto& task : tasks) {
        const auto [num, res] = co_await task;
        output[num] = res;
    }
    co_return output;
}

TEST(SeedExamples, MixingMethods) {
    const auto non_async_function = unsync::unsync(non_async_function_impl);
    static_assert(
        std::is_same_v<decltype(non_async_function(0)), unsync::Unfuture<std::pair<int, int>>>);
    const auto start = Clock::now();
    std::vector<unsync::Unfuture<std::pair<int, int>>> tasks;
    for (int i = 0; i < 10; ++i)
        tasks.push_back(non_async_function(i).then(result_continuation));
    const auto output = result_processor(tasks).result();
    const auto elapsed = Clock::now() - start;
    const std::map<int, int> expected{{0, 2},  {1, 4},  {2, 6},  {3, 8},  {4, 10},
                                      {5, 12}, {6, 14}, {7, 16}, {8, 18}, {9, 20}};
    EXPECT_EQ(output, expected);
    // About 0.2 s: 2 s if the ten chains ran one after another, 1.1 s if the continuations
    // blocked the loop while they slept.
    EXPECT_LT(elapsed, 1s);
}

}  // namespace
