// Combinators: gather (vector, tuple, return_exceptions), when_any, as_completed — from sync code
// with result() and from coroutines with co_await, with failures, cancellation of the losers and
// cancellation of the combinator itself.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using unsync::Unfuture;
using unsync_test::Clock;
using unsync_test::custom_error;
using unsync_test::error_code;
using unsync_test::kBounded;
using unsync_test::kPrompt;
using unsync_test::kWait;
using unsync_test::loop_turns;
using unsync_test::noop;
using unsync_test::other_error;
using unsync_test::Sentinel;
using unsync_test::value_after;

namespace {

// ---------------------------------------------------------------------------------------------
// Coroutines used by the tests.
// ---------------------------------------------------------------------------------------------

Unfuture<int> fail_after(std::chrono::milliseconds d, std::string what) {
    co_await unsync::sleep(d);
    throw custom_error(what);
}

Unfuture<void> set_after(std::chrono::milliseconds d, std::shared_ptr<std::atomic<int>> count) {
    co_await unsync::sleep(d);
    count->fetch_add(1);
}

// Sleeps for an hour unless cancelled; its destructor-run is observable.
Unfuture<int> sleep_an_hour(Unfuture<void> destroyed) {
    Sentinel guard(std::move(destroyed));
    co_await unsync::sleep(1h);
    co_return -1;
}

Unfuture<void> void_sleep_an_hour(Unfuture<void> destroyed) {
    Sentinel guard(std::move(destroyed));
    co_await unsync::sleep(1h);
}

Unfuture<std::unique_ptr<int>> make_ptr(int v) {
    co_await unsync::sleep(1ms);
    co_return std::make_unique<int>(v);
}

Unfuture<std::string> greet_after(std::chrono::milliseconds d, std::string who) {
    co_await unsync::sleep(d);
    co_return "hello " + who;
}

Unfuture<int> sum_in_coroutine() {
    std::vector<Unfuture<int>> fs;
    for (int i = 1; i <= 5; ++i)
        fs.push_back(value_after(std::chrono::milliseconds(6 - i), i));
    const std::vector<int> values = co_await unsync::gather(std::move(fs));
    int sum = 0;
    for (std::size_t i = 0; i < values.size(); ++i)
        sum += values[i] * static_cast<int>(i + 1);  // order matters
    co_return sum;
}

Unfuture<std::string> tuple_in_coroutine() {
    auto [n, s, none] =
        co_await unsync::gather(value_after(2ms, 7), greet_after(1ms, "co"), noop());
    static_assert(std::is_same_v<decltype(none), std::monostate>);
    co_return s + " " + std::to_string(n);
}

Unfuture<std::string> failing_gather_in_coroutine() {
    std::vector<Unfuture<int>> fs;
    fs.push_back(value_after(1ms, 1));
    fs.push_back(fail_after(2ms, "inside"));
    try {
        (void)co_await unsync::gather(std::move(fs));
    } catch (const custom_error& e) {
        co_return std::string("caught ") + e.what();
    }
    co_return "no exception";
}

Unfuture<std::size_t> settled_in_coroutine() {
    std::vector<Unfuture<int>> fs;
    fs.push_back(value_after(1ms, 1));
    fs.push_back(fail_after(1ms, "x"));
    fs.push_back(value_after(2ms, 3));
    auto done = co_await unsync::gather(unsync::return_exceptions, std::move(fs));
    std::size_t failed = 0;
    for (auto& f : done)
        failed += f.exception() ? 1 : 0;
    co_return failed;
}

Unfuture<std::string> when_any_in_coroutine() {
    Unfuture<void> destroyed;
    auto [index, value] = co_await unsync::when_any(sleep_an_hour(destroyed), value_after(1ms, 5));
    co_await destroyed;  // the loser was cancelled and unwound
    co_return std::to_string(index) + ":" + std::to_string(value);
}

Unfuture<std::vector<int>> as_completed_in_coroutine() {
    std::vector<Unfuture<int>> fs;
    fs.push_back(value_after(150ms, 1));
    fs.push_back(value_after(50ms, 2));
    fs.push_back(value_after(100ms, 3));
    std::vector<int> order;
    for (auto& f : unsync::as_completed(fs))
        order.push_back(co_await f);
    co_return order;
}

// Starts the three inputs in one loop step, so their deadlines are as far apart as asked.
Unfuture<std::vector<Unfuture<int>>> start_sleepers() {
    std::vector<Unfuture<int>> fs;
    fs.push_back(value_after(150ms, 1));
    fs.push_back(value_after(50ms, 2));
    fs.push_back(value_after(100ms, 3));
    co_return fs;
}

// Makes a combinator and cancels it from the loop thread before the loop could start it.
template <class Make>
Unfuture<std::string> cancel_before_start(Make make) {
    auto combined = make();
    const bool requested = combined.cancel();
    std::string outcome = requested ? "cancel:true " : "cancel:false ";
    try {
        (void)co_await combined;
        outcome += "value";
    } catch (const unsync::cancelled_error&) {
        outcome += "cancelled";
    }
    co_return outcome;
}

template <class T>
Unfuture<int> await_and_count(Unfuture<T> f) {
    (void)co_await f;
    co_return 1;
}

}  // namespace

// =============================================================================================
// gather(vector)
// =============================================================================================

TEST(Gather, ValuesInInputOrderWhateverTheCompletionOrder) {
    std::vector<Unfuture<int>> gates(4);
    auto all = unsync::gather(gates);
    static_assert(std::is_same_v<decltype(all), Unfuture<std::vector<int>>>);
    gates[3].set_result(3);
    gates[1].set_result(1);
    EXPECT_FALSE(all.done());
    gates[2].set_result(2);
    gates[0].set_result(0);
    EXPECT_EQ(all.result(kWait), (std::vector<int>{0, 1, 2, 3}));
}

TEST(Gather, WaitsForAllOfThem) {
    auto count = std::make_shared<std::atomic<int>>(0);
    std::vector<Unfuture<void>> fs;
    for (int i = 0; i < 10; ++i)
        fs.push_back(set_after(std::chrono::milliseconds(i * 3), count));
    auto all = unsync::gather(fs);
    static_assert(std::is_same_v<decltype(all), Unfuture<std::vector<std::monostate>>>);
    EXPECT_EQ(all.result(kWait).size(), 10u);
    EXPECT_EQ(count->load(), 10);
    for (auto& f : fs)
        EXPECT_TRUE(f.done());
}

TEST(Gather, AlreadyDoneInputs) {
    std::vector<Unfuture<std::string>> fs;
    fs.push_back(Unfuture<std::string>::from_value("a"));
    fs.push_back(Unfuture<std::string>::from_value("b"));
    EXPECT_EQ(unsync::gather(fs).result(kWait), (std::vector<std::string>{"a", "b"}));
}

TEST(Gather, EmptyVectorGivesAnEmptyVector) {
    EXPECT_TRUE(unsync::gather(std::vector<Unfuture<int>>{}).result(kWait).empty());
    EXPECT_TRUE(unsync::gather(std::vector<Unfuture<void>>{}).result(kWait).empty());
}

TEST(Gather, FromACoroutine) {
    // 1*1 + 2*2 + 3*3 + 4*4 + 5*5: the values come back in input order.
    EXPECT_EQ(sum_in_coroutine().result(kWait), 55);
    EXPECT_EQ(failing_gather_in_coroutine().result(kWait), "caught inside");
}

TEST(Gather, MoveOnlyValues) {
    std::vector<Unfuture<std::unique_ptr<int>>> fs;
    for (int i = 0; i < 3; ++i)
        fs.push_back(make_ptr(i * 10));
    auto all = unsync::gather(std::move(fs));
    // Read in place: `std::move(all).result()` does not compile for a vector of a move-only
    // type (take_value() sees std::vector as copy-constructible).
    const std::vector<std::unique_ptr<int>>& out = all.result(kWait);
    ASSERT_EQ(out.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        ASSERT_NE(out[static_cast<std::size_t>(i)], nullptr);
        EXPECT_EQ(*out[static_cast<std::size_t>(i)], i * 10);
    }
}

TEST(Gather, FirstFailureByTimeWinsNotByIndex) {
    // Index 2 fails first, index 1 second (if the gather has not cancelled it by then): the
    // gather rethrows index 2's exception, with its type.
    std::vector<Unfuture<int>> fs(4);
    auto all = unsync::gather(fs);
    loop_turns();  // the gather watches its inputs: "first" counts from here
    fs[2].set_exception(other_error("first"));
    try {
        fs[1].set_exception(custom_error("second"));
    } catch (const unsync::invalid_state_error&) {
        // The gather already cancelled it.
    }
    try {
        (void)all.result(kWait);
        FAIL() << "gather did not throw";
    } catch (const other_error& e) {
        EXPECT_STREQ(e.what(), "first");
    }
    // The inputs that had not finished were cancelled.
    EXPECT_CANCELLED(fs[0]);
    EXPECT_CANCELLED(fs[3]);
}

TEST(Gather, ExceptionOutsideTheStdHierarchyKeepsItsPayload) {
    std::vector<Unfuture<int>> fs(2);
    auto all = unsync::gather(fs);
    fs[0].set_exception(error_code{42});
    try {
        (void)all.result(kWait);
        FAIL() << "gather did not throw";
    } catch (const error_code& e) {
        EXPECT_EQ(e.code, 42);
    }
    EXPECT_CANCELLED(fs[1]);
}

TEST(Gather, FailureCancelsTheOthers) {
    Unfuture<void> destroyed_a;
    Unfuture<void> destroyed_b;
    std::vector<Unfuture<int>> fs;
    fs.push_back(sleep_an_hour(destroyed_a));
    fs.push_back(fail_after(10ms, "boom"));
    fs.push_back(sleep_an_hour(destroyed_b));
    Unfuture<int> pending;
    fs.push_back(pending);
    const auto t0 = Clock::now();
    EXPECT_THROW((void)unsync::gather(fs).result(kWait), custom_error);
    EXPECT_CANCELLED(fs[0]);
    EXPECT_CANCELLED(fs[2]);
    EXPECT_CANCELLED(pending);
    EXPECT_NO_THROW(destroyed_a.result(kWait));
    EXPECT_NO_THROW(destroyed_b.result(kWait));
    EXPECT_LT(Clock::now() - t0, kPrompt);
}

TEST(Gather, CancelledInputFailsTheGatherWithCancelledError) {
    std::vector<Unfuture<int>> fs(2);
    auto all = unsync::gather(fs);
    EXPECT_TRUE(fs[0].cancel());
    EXPECT_CANCELLED(all);
    EXPECT_CANCELLED(fs[1]);
}

TEST(Gather, CancellingTheGatherCancelsAllChildren) {
    Unfuture<void> destroyed_a;
    Unfuture<void> destroyed_b;
    std::vector<Unfuture<int>> fs;
    fs.push_back(sleep_an_hour(destroyed_a));
    fs.push_back(sleep_an_hour(destroyed_b));
    fs.push_back(Unfuture<int>());
    fs.push_back(value_after(1h, 3));
    auto all = unsync::gather(fs);
    loop_turns();  // the children sleep and the gather waits for them
    const auto t0 = Clock::now();
    EXPECT_TRUE(all.cancel());
    EXPECT_CANCELLED(all);
    for (auto& f : fs)
        EXPECT_CANCELLED(f);
    EXPECT_NO_THROW(destroyed_a.result(kWait));
    EXPECT_NO_THROW(destroyed_b.result(kWait));
    EXPECT_LT(Clock::now() - t0, kPrompt);
}

TEST(Gather, CancellingACoroutineAwaitingTheGatherCancelsAllChildren) {
    Unfuture<void> destroyed;
    std::vector<Unfuture<void>> fs;
    fs.push_back(void_sleep_an_hour(destroyed));
    fs.push_back(Unfuture<void>());
    auto waiter = await_and_count(unsync::gather(fs));
    loop_turns();
    EXPECT_TRUE(waiter.cancel());
    EXPECT_CANCELLED(waiter);
    for (auto& f : fs)
        EXPECT_CANCELLED(f);
    EXPECT_NO_THROW(destroyed.result(kWait));
}

TEST(Gather, CancellingTheGatherBeforeItStartsCancelsAllChildren) {
    // "Cancelling the gather cancels all": also when the cancel() comes before the loop ran
    // the gather's first step (as asyncio's gather, which cancels its children at once).
    Unfuture<void> destroyed;
    std::vector<Unfuture<int>> fs;
    fs.push_back(sleep_an_hour(destroyed));
    fs.push_back(Unfuture<int>());
    auto outcome = cancel_before_start([fs] { return unsync::gather(fs); });
    EXPECT_EQ(outcome.result(kWait), "cancel:true cancelled");
    for (auto& f : fs) {
        EXPECT_THROW((void)f.result(kBounded), unsync::cancelled_error);
        EXPECT_TRUE(f.cancelled());
    }
    EXPECT_NO_THROW(destroyed.result(kBounded));
}

// =============================================================================================
// gather(f1, f2, ...) -> tuple
// =============================================================================================

TEST(GatherTuple, MixedTypes) {
    Unfuture<int> a;
    Unfuture<std::string> b;
    Unfuture<void> c;
    auto all = unsync::gather(a, b, c);
    static_assert(
        std::is_same_v<decltype(all), Unfuture<std::tuple<int, std::string, std::monostate>>>);
    c.set_result();
    b.set_result("two");
    EXPECT_FALSE(all.done());
    a.set_result(1);
    auto [x, y, z] = all.result(kWait);
    EXPECT_EQ(x, 1);
    EXPECT_EQ(y, "two");
    EXPECT_EQ(z, std::monostate{});
}

TEST(GatherTuple, SingleInputAndMoveOnly) {
    auto one = unsync::gather(make_ptr(5));
    static_assert(std::is_same_v<decltype(one), Unfuture<std::tuple<std::unique_ptr<int>>>>);
    auto [p] = std::move(one).result(kWait);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 5);
}

TEST(GatherTuple, FromACoroutine) {
    EXPECT_EQ(tuple_in_coroutine().result(kWait), "hello co 7");
}

TEST(GatherTuple, FirstFailureWinsWithItsTypeAndCancelsTheRest) {
    Unfuture<void> destroyed;
    Unfuture<std::string> pending;
    auto slow = sleep_an_hour(destroyed);
    auto all = unsync::gather(slow, pending, fail_after(5ms, "tuple boom"));
    try {
        (void)all.result(kWait);
        FAIL() << "gather did not throw";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "tuple boom");
    }
    EXPECT_CANCELLED(slow);
    EXPECT_CANCELLED(pending);
    EXPECT_NO_THROW(destroyed.result(kWait));
}

TEST(GatherTuple, CancellingTheGatherCancelsAllChildren) {
    Unfuture<void> destroyed;
    Unfuture<std::string> pending;
    auto slow = sleep_an_hour(destroyed);
    auto all = unsync::gather(slow, pending);
    loop_turns();
    EXPECT_TRUE(all.cancel());
    EXPECT_CANCELLED(all);
    EXPECT_CANCELLED(slow);
    EXPECT_CANCELLED(pending);
    EXPECT_NO_THROW(destroyed.result(kWait));
}

// =============================================================================================
// gather(return_exceptions, vector)
// =============================================================================================

TEST(GatherReturnExceptions, EveryOutcomeInInputOrder) {
    std::vector<Unfuture<int>> fs;
    fs.push_back(value_after(30ms, 1));
    fs.push_back(fail_after(1ms, "early failure"));
    fs.push_back(value_after(10ms, 3));
    Unfuture<int> gate;
    fs.push_back(gate);
    auto settled = unsync::gather(unsync::return_exceptions, fs);
    static_assert(std::is_same_v<decltype(settled), Unfuture<std::vector<Unfuture<int>>>>);
    // A failure does not end the gather nor cancel the others.
    EXPECT_THROW((void)fs[1].result(kWait), custom_error);
    EXPECT_FALSE(gate.done());
    gate.set_exception(error_code{9});
    auto out = settled.result(kWait);
    ASSERT_EQ(out.size(), 4u);
    for (auto& f : out)
        EXPECT_TRUE(f.done());
    EXPECT_EQ(out[0].result(), 1);
    try {
        (void)out[1].result();
        FAIL() << "no exception";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "early failure");
    }
    EXPECT_EQ(out[2].result(), 3);
    try {
        (void)out[3].result();
        FAIL() << "no exception";
    } catch (const error_code& e) {
        EXPECT_EQ(e.code, 9);
    }
    EXPECT_FALSE(out[0].cancelled());
}

TEST(GatherReturnExceptions, VoidFromACoroutineAndEmpty) {
    EXPECT_EQ(settled_in_coroutine().result(kWait), 1u);
    EXPECT_TRUE(unsync::gather(unsync::return_exceptions, std::vector<Unfuture<int>>{})
                    .result(kWait)
                    .empty());
    std::vector<Unfuture<void>> vs;
    vs.push_back(noop());
    Unfuture<void> failed;
    failed.set_exception(other_error("v"));
    vs.push_back(failed);
    auto out = unsync::gather(unsync::return_exceptions, vs).result(kWait);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_NO_THROW(out[0].result());
    EXPECT_THROW(out[1].result(), other_error);
}

TEST(GatherReturnExceptions, CancellingItCancelsAllChildren) {
    Unfuture<void> destroyed;
    std::vector<Unfuture<int>> fs;
    fs.push_back(sleep_an_hour(destroyed));
    fs.push_back(Unfuture<int>());
    auto settled = unsync::gather(unsync::return_exceptions, fs);
    loop_turns();
    EXPECT_TRUE(settled.cancel());
    EXPECT_CANCELLED(settled);
    for (auto& f : fs)
        EXPECT_CANCELLED(f);
    EXPECT_NO_THROW(destroyed.result(kWait));
}

// =============================================================================================
// when_any
// =============================================================================================

TEST(WhenAny, PicksTheFastestAndCancelsTheRest) {
    Unfuture<void> destroyed_a;
    Unfuture<void> destroyed_c;
    std::vector<Unfuture<int>> fs;
    fs.push_back(sleep_an_hour(destroyed_a));
    fs.push_back(value_after(10ms, 22));
    fs.push_back(sleep_an_hour(destroyed_c));
    const auto t0 = Clock::now();
    auto first = unsync::when_any(fs);
    static_assert(std::is_same_v<decltype(first), Unfuture<std::pair<std::size_t, int>>>);
    const auto [index, value] = first.result(kWait);
    EXPECT_EQ(index, 1u);
    EXPECT_EQ(value, 22);
    EXPECT_CANCELLED(fs[0]);
    EXPECT_CANCELLED(fs[2]);
    EXPECT_NO_THROW(destroyed_a.result(kWait));
    EXPECT_NO_THROW(destroyed_c.result(kWait));
    EXPECT_LT(Clock::now() - t0, kPrompt);
    EXPECT_EQ(fs[1].result(), 22);
}

TEST(WhenAny, VariadicForm) {
    Unfuture<std::string> a;
    Unfuture<std::string> b;
    Unfuture<std::string> c;
    auto first = unsync::when_any(a, b, c);
    static_assert(std::is_same_v<decltype(first), Unfuture<std::pair<std::size_t, std::string>>>);
    c.set_result("third");
    const auto [index, value] = first.result(kWait);
    EXPECT_EQ(index, 2u);
    EXPECT_EQ(value, "third");
    EXPECT_CANCELLED(a);
    EXPECT_CANCELLED(b);
}

TEST(WhenAny, AlreadyDoneInputWins) {
    Unfuture<int> pending;
    auto first = unsync::when_any(pending, Unfuture<int>::from_value(7));
    EXPECT_EQ(first.result(kWait), (std::pair<std::size_t, int>(1, 7)));
    EXPECT_CANCELLED(pending);
}

TEST(WhenAny, FirstFinisherFailedRethrows) {
    Unfuture<void> destroyed;
    auto slow = sleep_an_hour(destroyed);
    auto first = unsync::when_any(slow, fail_after(5ms, "fast failure"));
    try {
        (void)first.result(kWait);
        FAIL() << "when_any did not throw";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "fast failure");
    }
    EXPECT_CANCELLED(slow);
    EXPECT_NO_THROW(destroyed.result(kWait));
}

TEST(WhenAny, VoidFutures) {
    Unfuture<void> destroyed;
    auto count = std::make_shared<std::atomic<int>>(0);
    auto slow = void_sleep_an_hour(destroyed);
    auto first = unsync::when_any(slow, set_after(1ms, count));
    static_assert(
        std::is_same_v<decltype(first), Unfuture<std::pair<std::size_t, std::monostate>>>);
    EXPECT_EQ(first.result(kWait).first, 1u);
    EXPECT_EQ(count->load(), 1);
    EXPECT_CANCELLED(slow);
}

TEST(WhenAny, FromACoroutine) {
    EXPECT_EQ(when_any_in_coroutine().result(kWait), "1:5");
}

TEST(WhenAny, EmptyInputThrowsInvalidArgument) {
    EXPECT_THROW((void)unsync::when_any(std::vector<Unfuture<int>>{}).result(kWait),
                 std::invalid_argument);
}

TEST(WhenAny, CancellingItCancelsAllInputs) {
    Unfuture<void> destroyed;
    auto slow = sleep_an_hour(destroyed);
    Unfuture<int> pending;
    auto first = unsync::when_any(slow, pending);
    loop_turns();
    EXPECT_TRUE(first.cancel());
    EXPECT_CANCELLED(first);
    EXPECT_CANCELLED(slow);
    EXPECT_CANCELLED(pending);
    EXPECT_NO_THROW(destroyed.result(kWait));
}

TEST(WhenAny, CancellingItBeforeItStartsCancelsAllInputs) {
    Unfuture<void> destroyed;
    auto slow = sleep_an_hour(destroyed);
    Unfuture<int> pending;
    auto outcome = cancel_before_start([slow, pending] { return unsync::when_any(slow, pending); });
    EXPECT_EQ(outcome.result(kWait), "cancel:true cancelled");
    EXPECT_THROW((void)slow.result(kBounded), unsync::cancelled_error);
    EXPECT_THROW((void)pending.result(kBounded), unsync::cancelled_error);
}

// =============================================================================================
// as_completed
// =============================================================================================

TEST(AsCompleted, FuturesCompleteInCompletionOrder) {
    std::vector<Unfuture<int>> gates(3);
    auto out = unsync::as_completed(gates);
    static_assert(std::is_same_v<decltype(out), std::vector<Unfuture<int>>>);
    ASSERT_EQ(out.size(), 3u);
    for (auto& f : out)
        EXPECT_FALSE(f.done());
    gates[1].set_result(20);
    EXPECT_EQ(out[0].result(kWait), 20);
    EXPECT_FALSE(out[1].done());  // only one input has finished
    gates[2].set_result(30);
    EXPECT_EQ(out[1].result(kWait), 30);
    EXPECT_FALSE(out[2].done());
    gates[0].set_result(10);
    EXPECT_EQ(out[2].result(kWait), 10);
}

TEST(AsCompleted, SleepsFinishInTheirOrder) {
    // 150/50/100 ms, started in one loop step: the 2nd, then the 3rd, then the 1st.
    auto fs = start_sleepers().result(kWait);
    auto out = unsync::as_completed(fs);
    std::vector<int> order;
    for (auto& f : out)
        order.push_back(f.result(kWait));
    EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
}

TEST(AsCompleted, ExceptionsAreCarriedThrough) {
    std::vector<Unfuture<int>> gates(3);
    auto out = unsync::as_completed(gates);
    loop_turns();  // the inputs are watched: completion order counts from here
    gates[2].set_exception(custom_error("third failed"));
    gates[0].set_result(1);
    gates[1].set_exception(error_code{5});
    try {
        (void)out[0].result(kWait);
        FAIL() << "no exception";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "third failed");
    }
    EXPECT_EQ(out[1].result(kWait), 1);
    try {
        (void)out[2].result(kWait);
        FAIL() << "no exception";
    } catch (const error_code& e) {
        EXPECT_EQ(e.code, 5);
    }
    // A cancelled input yields a cancelled slot.
    std::vector<Unfuture<int>> one(1);
    auto slot = unsync::as_completed(one);
    EXPECT_TRUE(one[0].cancel());
    EXPECT_CANCELLED(slot[0]);
}

TEST(AsCompleted, FromACoroutine) {
    EXPECT_EQ(as_completed_in_coroutine().result(kWait), (std::vector<int>{2, 3, 1}));
}

TEST(AsCompleted, VoidAndEmpty) {
    EXPECT_TRUE(unsync::as_completed(std::vector<Unfuture<int>>{}).empty());
    std::vector<Unfuture<void>> gates(2);
    auto out = unsync::as_completed(gates);
    loop_turns();
    gates[1].set_exception(other_error("void failed"));
    EXPECT_THROW(out[0].result(kWait), other_error);
    gates[0].set_result();
    EXPECT_NO_THROW(out[1].result(kWait));
}

TEST(AsCompleted, AlreadyDoneInputsComeFirst) {
    std::vector<Unfuture<int>> fs(3);
    fs[1] = Unfuture<int>::from_value(11);
    auto out = unsync::as_completed(fs);
    EXPECT_EQ(out[0].result(kWait), 11);
    loop_turns();
    fs[2].set_result(12);
    fs[0].set_result(10);
    EXPECT_EQ(out[1].result(kWait), 12);
    EXPECT_EQ(out[2].result(kWait), 10);
}
