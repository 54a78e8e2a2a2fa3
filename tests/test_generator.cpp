// unsync::AsyncGenerator: a lazy coroutine body on the loop, consumed with co_await next(), with
// next().result() or with a blocking range-for; early exit, cancellation and shutdown unwind it.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using unsync::AsyncGenerator;
using unsync::Unfuture;
using unsync_test::custom_error;
using unsync_test::kWait;
using unsync_test::Log;
using unsync_test::loop_turns;
using unsync_test::make_log;
using unsync_test::Sentinel;

static_assert(std::input_iterator<AsyncGenerator<int>::Iterator>);
static_assert(std::ranges::input_range<AsyncGenerator<int>>);
static_assert(std::is_same_v<decltype(std::declval<AsyncGenerator<int>&>().next()),
                             Unfuture<std::optional<int>>>);
static_assert(!std::is_copy_constructible_v<AsyncGenerator<int>>);

namespace {

// Completes `destroyed` when destroyed, unless moved from: a coroutine parameter that says when
// the frame holding it is gone.
struct OnDestroy {
    explicit OnDestroy(Unfuture<void> d) : destroyed(std::move(d)) {}
    OnDestroy(OnDestroy&& other) noexcept
        : destroyed(other.destroyed), armed(std::exchange(other.armed, false)) {}
    OnDestroy& operator=(OnDestroy&&) = delete;
    ~OnDestroy() {
        if (armed)
            destroyed.set_result();
    }
    Unfuture<void> destroyed;
    bool armed = true;
};

AsyncGenerator<int> count(int n) {
    for (int i = 0; i < n; ++i)
        co_yield i;
}

// Logs each step; the log is read by the test once a next() it made is done.
AsyncGenerator<int> logged(Log log) {
    log->push_back("start");
    for (int i = 0;; ++i) {
        log->push_back("yield " + std::to_string(i));
        co_yield i;
    }
}

Unfuture<int> later(int v) {
    co_await unsync::sleep(1ms);
    co_return v;
}

// Awaits a sleep, a task and a future completed by the test between its yields.
AsyncGenerator<int> awaiting(Unfuture<int> gate) {
    co_await unsync::sleep(2ms);
    co_yield 1;
    co_yield co_await later(2);
    co_yield co_await gate;
    co_await unsync::sleep(0ms);
}

AsyncGenerator<int> throws_after(int n) {
    for (int i = 0; i < n; ++i)
        co_yield i;
    throw custom_error("from the body");
}

// Yields forever; `destroyed` completes when its locals are unwound.
AsyncGenerator<int> endless(Unfuture<void> destroyed, std::shared_ptr<std::atomic<int>> steps) {
    Sentinel sentinel(std::move(destroyed));
    for (int i = 0;; ++i) {
        steps->fetch_add(1);
        co_yield i;
    }
}

// Yields 1, then awaits `never` (which the test never completes) before yielding 2; `reached`
// says it is about to await.
AsyncGenerator<int> stuck(Unfuture<void> destroyed, Unfuture<void> never,
                          Unfuture<void> reached = {}) {
    Sentinel sentinel(std::move(destroyed));
    co_yield 1;
    reached.set_result();
    co_await never;
    co_yield 2;
}

AsyncGenerator<std::unique_ptr<int>> boxes(int n) {
    for (int i = 0; i < n; ++i)
        co_yield std::make_unique<int>(i);
}

AsyncGenerator<int> never_started(OnDestroy) {
    co_yield 1;
}

Unfuture<std::vector<int>> collect(AsyncGenerator<int> gen) {
    std::vector<int> out;
    while (auto v = co_await gen.next())
        out.push_back(*v);
    co_return out;
}

// ---- Laziness and order ---------------------------------------------------------------------

TEST(AsyncGenerator, BodyStartsOnlyWithTheFirstNext) {
    Log log = make_log();
    auto gen = logged(log);
    loop_turns();
    EXPECT_TRUE(log->empty());
    EXPECT_EQ(gen.next().result(kWait), 0);
    EXPECT_EQ(*log, (std::vector<std::string>{"start", "yield 0"}));
    // It stays at its co_yield until asked again.
    loop_turns();
    EXPECT_EQ(log->size(), 2u);
    EXPECT_EQ(gen.next().result(kWait), 1);
    EXPECT_EQ(log->back(), "yield 1");
    EXPECT_EQ(log->size(), 3u);
}

TEST(AsyncGenerator, ValuesInOrderThenNulloptForEver) {
    auto gen = count(3);
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(gen.next().result(kWait), i);
    EXPECT_EQ(gen.next().result(kWait), std::nullopt);
    EXPECT_EQ(gen.next().result(kWait), std::nullopt);
}

TEST(AsyncGenerator, RangeForFromAThread) {
    std::vector<int> seen;
    for (int v : count(5))
        seen.push_back(v);
    EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(AsyncGenerator, EmptyBodyGivesAnEmptyRange) {
    int n = 0;
    for (int v : count(0))
        n += v + 1;
    EXPECT_EQ(n, 0);
}

TEST(AsyncGenerator, ConsumedFromACoroutine) {
    EXPECT_EQ(collect(count(4)).result(kWait), (std::vector<int>{0, 1, 2, 3}));
}

TEST(AsyncGenerator, BodyAwaitsSleepsTasksAndFuturesBetweenYields) {
    Unfuture<int> gate;
    auto gen = awaiting(gate);
    EXPECT_EQ(gen.next().result(kWait), 1);
    EXPECT_EQ(gen.next().result(kWait), 2);
    auto third = gen.next();
    loop_turns();
    EXPECT_FALSE(third.done());  // waits for the gate
    gate.set_result(3);
    EXPECT_EQ(third.result(kWait), 3);
    EXPECT_EQ(gen.next().result(kWait), std::nullopt);
}

TEST(AsyncGenerator, MovedGeneratorKeepsItsPlace) {
    auto a = count(3);
    EXPECT_EQ(a.next().result(kWait), 0);
    auto b = std::move(a);
    EXPECT_EQ(b.next().result(kWait), 1);
    EXPECT_THROW((void)a.next(), unsync::invalid_state_error);  // NOLINT(bugprone-use-after-move)
    a = std::move(b);
    EXPECT_EQ(a.next().result(kWait), 2);
}

// ---- Errors ---------------------------------------------------------------------------------

TEST(AsyncGenerator, ExceptionIsRethrownOnceThenTheGeneratorHasEnded) {
    auto gen = throws_after(1);
    EXPECT_EQ(gen.next().result(kWait), 0);
    EXPECT_THROW((void)gen.next().result(kWait), custom_error);
    EXPECT_EQ(gen.next().result(kWait), std::nullopt);
}

TEST(AsyncGenerator, ExceptionLeavesARangeFor) {
    std::vector<int> seen;
    try {
        for (int v : throws_after(2))
            seen.push_back(v);
        ADD_FAILURE() << "the body's exception did not leave the loop";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "from the body");
    }
    EXPECT_EQ(seen, (std::vector<int>{0, 1}));
}

Unfuture<std::string> await_throwing() {
    auto gen = throws_after(0);
    try {
        (void)co_await gen.next();
    } catch (const custom_error&) {
        co_return "caught";
    }
    co_return "not thrown";
}

TEST(AsyncGenerator, ExceptionReachesAnAwaitingCoroutine) {
    EXPECT_EQ(await_throwing().result(kWait), "caught");
}

TEST(AsyncGenerator, NextWhilePendingIsAnError) {
    Unfuture<int> gate;
    auto gen = awaiting(gate);
    EXPECT_EQ(gen.next().result(kWait), 1);
    EXPECT_EQ(gen.next().result(kWait), 2);
    auto third = gen.next();
    EXPECT_THROW((void)gen.next(), unsync::invalid_state_error);
    EXPECT_FALSE(third.done());
    gate.set_result(7);
    EXPECT_EQ(third.result(kWait), 7);
    // The refused call left nothing behind: the generator goes on.
    EXPECT_EQ(gen.next().result(kWait), std::nullopt);
}

Unfuture<std::string> range_for_on_the_loop() {
    auto gen = count(2);
    std::string out;
    try {
        for (int v : gen)
            out += std::to_string(v);
        out += "no throw;";
    } catch (const unsync::invalid_state_error&) {
        out += "invalid_state;";
    }
    // No step was started by the refused range-for.
    auto v = co_await gen.next();
    out += v ? std::to_string(*v) : "end";
    co_return out;
}

TEST(AsyncGenerator, RangeForOnTheLoopThreadThrows) {
    EXPECT_EQ(range_for_on_the_loop().result(kWait), "invalid_state;0");
}

// ---- Early exit and destruction ---------------------------------------------------------------

TEST(AsyncGenerator, BreakingARangeForUnwindsTheBody) {
    Unfuture<void> destroyed;
    auto steps = std::make_shared<std::atomic<int>>(0);
    {
        auto gen = endless(destroyed, steps);
        for (int v : gen) {
            if (v == 3)
                break;
        }
        EXPECT_FALSE(destroyed.done());  // parked at its co_yield while the generator lives
    }
    EXPECT_NO_THROW(destroyed.result(kWait));
    EXPECT_EQ(steps->load(), 4);  // it never ran ahead of the consumer
}

TEST(AsyncGenerator, NeverStartedBodyIsDestroyedAtOnce) {
    Unfuture<void> destroyed;
    { auto gen = never_started(OnDestroy(destroyed)); }
    EXPECT_TRUE(destroyed.done());
}

TEST(AsyncGenerator, DestroyedWithANextInFlight) {
    Unfuture<void> destroyed;
    Unfuture<void> never;
    Unfuture<void> reached;
    Unfuture<std::optional<int>> in_flight;
    {
        auto gen = stuck(destroyed, never, reached);
        EXPECT_EQ(gen.next().result(kWait), 1);
        in_flight = gen.next();
        reached.result(kWait);
        EXPECT_FALSE(in_flight.done());
    }
    // The body was cancelled where it waited, unwound, and the step ended with it.
    EXPECT_CANCELLED(in_flight);
    EXPECT_NO_THROW(destroyed.result(kWait));
    EXPECT_TRUE(never.cancelled());
}

TEST(AsyncGenerator, DestroyedRightAfterTheFirstNext) {
    Unfuture<void> destroyed;
    Unfuture<std::optional<int>> first;
    {
        auto gen = never_started(OnDestroy(destroyed));
        first = gen.next();
    }
    // Depending on whether the loop ran the step before the cancellation: the value, or a body
    // that never ran. Either way the frame goes.
    try {
        EXPECT_EQ(first.result(kWait), 1);
    } catch (const unsync::cancelled_error&) {
    }
    EXPECT_NO_THROW(destroyed.result(kWait));
}

Unfuture<bool> destroy_on_the_loop(Unfuture<void> destroyed) {
    auto steps = std::make_shared<std::atomic<int>>(0);
    {
        auto gen = endless(destroyed, steps);
        (void)co_await gen.next();
    }
    co_await destroyed;
    co_return steps->load() == 1;
}

TEST(AsyncGenerator, DestroyedOnTheLoopThreadWhileParked) {
    Unfuture<void> destroyed;
    EXPECT_TRUE(destroy_on_the_loop(destroyed).result(kWait));
}

// ---- Cancellation -----------------------------------------------------------------------------

TEST(AsyncGenerator, CancellingNextCancelsTheBody) {
    Unfuture<void> destroyed;
    Unfuture<void> never;
    Unfuture<void> reached;
    auto gen = stuck(destroyed, never, reached);
    EXPECT_EQ(gen.next().result(kWait), 1);
    auto second = gen.next();
    reached.result(kWait);
    EXPECT_TRUE(second.cancel());
    EXPECT_CANCELLED(second);
    EXPECT_NO_THROW(destroyed.result(kWait));
    EXPECT_TRUE(never.cancelled());
    // The generator has ended; the cancellation was reported once.
    EXPECT_EQ(gen.next().result(kWait), std::nullopt);
}

TEST(AsyncGenerator, CancellingTheFirstNextBeforeOrDuringTheFirstStep) {
    Unfuture<void> destroyed;
    Unfuture<void> never;
    auto gen = [](Unfuture<void> d, Unfuture<void> n) -> AsyncGenerator<int> {
        Sentinel sentinel(std::move(d));
        co_await n;
        co_yield 1;
    }(destroyed, never);
    auto first = gen.next();
    EXPECT_TRUE(first.cancel());
    EXPECT_CANCELLED(first);
    EXPECT_EQ(gen.next().result(kWait), std::nullopt);
    // Either the body never ran (no Sentinel to destroy) or it was cancelled awaiting `never`.
    if (never.done()) {
        EXPECT_TRUE(never.cancelled());
        EXPECT_TRUE(destroyed.done());
    } else {
        EXPECT_FALSE(destroyed.done());
    }
}

TEST(AsyncGenerator, WaitForTimesOutAndCancelsTheBody) {
    Unfuture<void> destroyed;
    Unfuture<void> never;
    auto gen = stuck(destroyed, never);
    EXPECT_EQ(unsync::wait_for(gen.next(), kWait).result(kWait), 1);
    auto second = gen.next();
    EXPECT_THROW((void)unsync::wait_for(second, 1ms).result(kWait), unsync::timeout_error);
    // wait_for does not wait for the cancelled work to end: the step does, with the body.
    EXPECT_CANCELLED(second);
    EXPECT_NO_THROW(destroyed.result(kWait));
    EXPECT_EQ(gen.next().result(kWait), std::nullopt);
}

Unfuture<int> sum_until_cancelled(AsyncGenerator<int>& gen) {
    int sum = 0;
    while (auto v = co_await gen.next())
        sum += *v;
    co_return sum;
}

TEST(AsyncGenerator, CancellingTheConsumerReachesTheBody) {
    Unfuture<void> destroyed;
    Unfuture<void> never;
    Unfuture<void> reached;
    auto gen = stuck(destroyed, never, reached);
    auto consumer = sum_until_cancelled(gen);
    reached.result(kWait);  // the consumer awaits the second next(), the body `never`
    EXPECT_FALSE(consumer.done());
    EXPECT_TRUE(consumer.cancel());
    EXPECT_CANCELLED(consumer);
    EXPECT_NO_THROW(destroyed.result(kWait));
    EXPECT_TRUE(never.cancelled());
}

// ---- Types ------------------------------------------------------------------------------------

TEST(AsyncGenerator, MoveOnlyValues) {
    auto gen = boxes(3);
    std::unique_ptr<int> first = *gen.next().result(kWait);
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, 0);
    std::vector<std::unique_ptr<int>> rest;
    for (auto& box : gen)
        rest.push_back(std::move(box));
    ASSERT_EQ(rest.size(), 2u);
    EXPECT_EQ(*rest[0], 1);
    EXPECT_EQ(*rest[1], 2);
}

Unfuture<int> sum_boxes() {
    auto gen = boxes(4);
    int sum = 0;
    while (auto box = co_await gen.next())
        sum += **box;
    co_return sum;
}

TEST(AsyncGenerator, MoveOnlyValuesFromACoroutine) {
    EXPECT_EQ(sum_boxes().result(kWait), 6);
}

// ---- Shutdown ---------------------------------------------------------------------------------

// In a child process: shutdown resumes a body parked at its co_yield, which unwinds; the
// generator outlives the runtime and frees the frame (ASan's leak check at the child's exit).
void shutdown_with_a_parked_body() {
    {
        Unfuture<void> destroyed;
        auto steps = std::make_shared<std::atomic<int>>(0);
        auto gen = endless(destroyed, steps);
        if (gen.next().result(kWait) != 0)
            std::_Exit(3);
        unsync::shutdown();
        if (!destroyed.done())
            std::_Exit(4);
        // After shutdown a step fails like any new work.
        try {
            (void)gen.next().result(kWait);
            std::_Exit(5);
        } catch (const unsync::cancelled_error&) {
        }
    }
    std::fprintf(stderr, "clean\n");
    std::exit(0);
}

TEST(AsyncGeneratorShutdown, ParkedBodyUnwindsAtShutdown) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(shutdown_with_a_parked_body(), ::testing::ExitedWithCode(0), "clean");
}

// ---- Stress -----------------------------------------------------------------------------------

AsyncGenerator<long> numbers(int n) {
    for (int i = 0; i < n; ++i) {
        if (i % 97 == 0)
            co_await unsync::sleep(0ms);
        co_yield i;
    }
}

TEST(AsyncGenerator, TenThousandValuesFromAThread) {
    constexpr int n = 10'000;
    long sum = 0;
    long expected_next = 0;
    bool in_order = true;
    for (long v : numbers(n)) {
        in_order = in_order && v == expected_next++;
        sum += v;
    }
    EXPECT_TRUE(in_order);
    EXPECT_EQ(expected_next, n);
    EXPECT_EQ(sum, long{n} * (n - 1) / 2);
}

TEST(AsyncGenerator, ManyGeneratorsAbandonedMidway) {
    // Destroyed parked, in flight, and never started, from a thread, over and over (TSan, ASan).
    for (int round = 0; round < 200; ++round) {
        Unfuture<void> destroyed;
        Unfuture<void> never;
        auto steps = std::make_shared<std::atomic<int>>(0);
        {
            auto gen = endless(destroyed, steps);
            (void)gen.next().result(kWait);
            if (round % 2 == 0)
                (void)gen.next();  // in flight as the generator goes
        }
        EXPECT_NO_THROW(destroyed.result(kWait));
        { auto gen = stuck(Unfuture<void>(), never); }
    }
}

}  // namespace
