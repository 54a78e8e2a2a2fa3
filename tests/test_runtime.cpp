// The ambient runtime: start on first use, one instance of each ambient object, options before
// start (and only then), custom loops.
//
// Under ctest every TEST runs in a process of its own, so each test here sees a runtime that has
// not started yet. A test that needs that (set_options, started()) skips itself when run after
// another test in the same process (e.g. the whole binary run by hand).

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using unsync_test::Counter;
using unsync_test::eventually;
using unsync_test::Gate;
using unsync_test::thread_after_yield;

namespace {

struct MarkedLoop : unsync::EventLoop {
    int marker = 42;
};

unsync::Unfuture<int> marker_seen_by_a_coroutine() {
    co_await unsync::sleep(1ms);
    auto* marked = dynamic_cast<MarkedLoop*>(&unsync::loop());
    if (!marked || !unsync::loop().in_loop_thread())
        co_return -1;
    co_return marked->marker;
}

// Must stay the first test of this file: it is only meaningful as the first thing a process does.
TEST(Runtime, StartedIsFalseBeforeFirstUseAndTrueAfter) {
    EXPECT_FALSE(unsync::started());
    EXPECT_FALSE(unsync::started());  // asking does not start it
    unsync::loop();
    EXPECT_TRUE(unsync::started());
}

TEST(Runtime, AnyUnsyncCallStartsTheRuntime) {
    SKIP_UNLESS_FRESH_PROCESS();
    EXPECT_FALSE(unsync::started());
    EXPECT_EQ(unsync::unsync([] { return 2; })().result(), 2);
    EXPECT_TRUE(unsync::started());
}

TEST(Runtime, AmbientInstancesAreTheSameAcrossCallsAndThreads) {
    constexpr int k_threads = 8;
    std::latch go(k_threads);
    std::vector<unsync::EventLoop*> loops(k_threads);
    std::vector<std::thread::id> loop_threads(k_threads);
    std::vector<unsync::ThreadPool*> pools(k_threads);
    std::vector<std::thread> threads;
    for (int i = 0; i < k_threads; ++i) {
        threads.emplace_back([&, i] {
            go.arrive_and_wait();  // all threads race for the first use
            const auto k = static_cast<std::size_t>(i);
            loops[k] = &unsync::loop();
            loop_threads[k] = unsync::thread();
            pools[k] = &unsync::thread_executor();
        });
    }
    for (auto& t : threads)
        t.join();

    unsync::EventLoop* loop = &unsync::loop();
    const std::thread::id loop_thread = unsync::thread();
    unsync::ThreadPool* pool = &unsync::thread_executor();
    for (int i = 0; i < k_threads; ++i) {
        const auto k = static_cast<std::size_t>(i);
        EXPECT_EQ(loops[k], loop);
        EXPECT_EQ(loop_threads[k], loop_thread);
        EXPECT_EQ(pools[k], pool);
    }
    EXPECT_EQ(&unsync::loop(), loop);
    EXPECT_EQ(&unsync::thread_executor(), pool);
    EXPECT_EQ(unsync::thread(), loop_thread);
}

TEST(Runtime, ThreadIsTheLoopThreadWhereCoroutinesRun) {
    const auto loop_thread = unsync::thread();
    EXPECT_NE(loop_thread, std::thread::id());
    EXPECT_NE(loop_thread, std::this_thread::get_id());
    EXPECT_EQ(unsync::loop().thread_id(), loop_thread);
    EXPECT_FALSE(unsync::loop().in_loop_thread());
    EXPECT_EQ(thread_after_yield().result(), loop_thread);
}

TEST(Runtime, SetOptionsAfterStartThrowsAndChangesNothing) {
    unsync::loop();
    ASSERT_TRUE(unsync::started());
    const auto max_before = unsync::thread_executor().max_threads();
    unsync::EventLoop* loop_before = &unsync::loop();

    unsync::Options options;
    options.thread_pool.max_threads = max_before + 5;
    options.loop_factory = [] { return std::make_unique<MarkedLoop>(); };
    EXPECT_THROW(unsync::set_options(options), unsync::invalid_state_error);
    EXPECT_THROW(unsync::set_options({}), unsync::invalid_state_error);

    EXPECT_EQ(unsync::thread_executor().max_threads(), max_before);
    EXPECT_EQ(&unsync::loop(), loop_before);
    EXPECT_EQ(dynamic_cast<MarkedLoop*>(&unsync::loop()), nullptr);
}

TEST(Runtime, SetOptionsBeforeStartIsHonoured) {
    SKIP_UNLESS_FRESH_PROCESS();
    unsync::Options options;
    options.thread_pool.max_threads = 3;
    options.thread_pool.idle_timeout = 50ms;
    unsync::set_options(options);
    EXPECT_FALSE(unsync::started());  // setting options does not start the runtime

    auto& pool = unsync::thread_executor();
    EXPECT_EQ(pool.max_threads(), 3u);

    // The cap is in force: five blocked calls get three threads.
    Gate gate;
    Counter running;
    auto call = unsync::unsync([&](int i) {
        running.increment();
        EXPECT_TRUE(gate.wait());
        return i;
    });
    std::vector<unsync::Unfuture<int>> calls;
    for (int i = 0; i < 5; ++i)
        calls.push_back(call(i));
    EXPECT_LE(pool.thread_count(), 3u);
    ASSERT_TRUE(running.wait_for_at_least(3));
    EXPECT_EQ(pool.thread_count(), 3u);
    gate.open();
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(calls[static_cast<std::size_t>(i)].result(), i);

    // So is the idle timeout.
    EXPECT_TRUE(eventually([&] { return pool.thread_count() == 0; }))
        << "threads still alive: " << pool.thread_count();
}

TEST(Runtime, LastSetOptionsBeforeStartWins) {
    SKIP_UNLESS_FRESH_PROCESS();
    unsync::Options first;
    first.thread_pool.max_threads = 3;
    unsync::set_options(first);
    unsync::Options second;
    second.thread_pool.max_threads = 5;
    unsync::set_options(second);
    EXPECT_EQ(unsync::thread_executor().max_threads(), 5u);
}

TEST(Runtime, CustomLoopFactory) {
    SKIP_UNLESS_FRESH_PROCESS();
    std::atomic<int> made{0};
    unsync::Options options;
    options.loop_factory = [&made] {
        made.fetch_add(1);
        return std::make_unique<MarkedLoop>();
    };
    unsync::set_options(options);
    EXPECT_EQ(made.load(), 0);  // nothing is built before first use

    auto* marked = dynamic_cast<MarkedLoop*>(&unsync::loop());
    ASSERT_NE(marked, nullptr);
    EXPECT_EQ(marked->marker, 42);
    EXPECT_EQ(marked->thread_id(), unsync::thread());
    // Coroutines run on it.
    EXPECT_EQ(marker_seen_by_a_coroutine().result(), 42);
    EXPECT_EQ(thread_after_yield().result(), marked->thread_id());
    // Built once.
    unsync::loop();
    unsync::thread_executor();
    EXPECT_EQ(made.load(), 1);
}

TEST(Runtime, LoopFactoryReturningNoLoopFailsTheStart) {
    SKIP_UNLESS_FRESH_PROCESS();
    unsync::Options bad;
    bad.loop_factory = [] { return std::unique_ptr<unsync::EventLoop>(); };
    unsync::set_options(bad);
    EXPECT_THROW(unsync::loop(), unsync::invalid_state_error);
    EXPECT_FALSE(unsync::started());
    // Not started, so the options can still be fixed.
    unsync::set_options({});
    EXPECT_EQ(thread_after_yield().result(), unsync::thread());
    EXPECT_TRUE(unsync::started());
}

TEST(Runtime, LoopFactoryUsingTheRuntimeFailsTheStart) {
    SKIP_UNLESS_FRESH_PROCESS();
    unsync::Options bad;
    bad.loop_factory = []() -> std::unique_ptr<unsync::EventLoop> {
        unsync::loop();  // would recurse into the start that is running the factory
        return std::make_unique<unsync::EventLoop>();
    };
    unsync::set_options(bad);
    EXPECT_THROW(unsync::thread_executor(), unsync::invalid_state_error);
    EXPECT_FALSE(unsync::started());
    unsync::set_options({});
    EXPECT_EQ(unsync::unsync([] { return 7; })().result(), 7);
}

TEST(Runtime, LoopFactoryExceptionPropagatesAndLeavesTheRuntimeUnstarted) {
    SKIP_UNLESS_FRESH_PROCESS();
    unsync::Options bad;
    bad.loop_factory = []() -> std::unique_ptr<unsync::EventLoop> {
        throw std::runtime_error("no loop today");
    };
    unsync::set_options(bad);
    EXPECT_THROW(unsync::loop(), std::runtime_error);
    EXPECT_FALSE(unsync::started());
    unsync::set_options({});
    EXPECT_NE(unsync::thread(), std::thread::id());
}

}  // namespace
