// unsync::unsync(callable): every kind of callable, exact return types, and where each kind runs
// (plain callables on the thread pool, coroutines on the loop).

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

using unsync_test::thread_after_yield;

namespace {

using namespace std::chrono_literals;

int add(int a, int b) {
    return a + b;
}

std::string shout(const std::string& s) {
    return s + "!";
}

unsync::Unfuture<int> triple_on_loop(int x) {
    co_await unsync::sleep(1ms);
    co_return x * 3;
}

struct Counter {
    int base = 0;
    int bump(int x) {
        base += x;
        return base;
    }
    int peek() const { return base; }
};

struct Greeter {
    std::string name;
    unsync::Unfuture<std::string> greet(std::string who) {
        co_await unsync::sleep(1ms);
        co_return name + " greets " + who;
    }
    unsync::Unfuture<bool> on_loop() const {
        co_await unsync::sleep(0ms);
        co_return std::this_thread::get_id() == unsync::thread();
    }
};

// The seed's typing workaround: wrap a synchronous helper without a decorator, keeping an
// explicit return type.
std::string function_name_synced(std::string x) {
    return x + "a";
}

unsync::Unfuture<std::string> function_name(std::string x) {
    auto async_method = unsync::unsync(function_name_synced);
    return async_method(std::move(x));
}

TEST(Unsync, WrapsALambda) {
    auto twice = unsync::unsync([](int x) { return x * 2; });
    static_assert(std::is_same_v<decltype(twice(1)), unsync::Unfuture<int>>);
    EXPECT_EQ(twice(21).result(), 42);
    // The wrapper is reusable.
    EXPECT_EQ(twice(5).result(), 10);
}

TEST(Unsync, WrapsAFreeFunction) {
    auto by_name = unsync::unsync(add);
    auto by_pointer = unsync::unsync(&add);
    static_assert(std::is_same_v<decltype(by_name(1, 2)), unsync::Unfuture<int>>);
    static_assert(std::is_same_v<decltype(by_pointer(1, 2)), unsync::Unfuture<int>>);
    EXPECT_EQ(by_name(1, 2).result(), 3);
    EXPECT_EQ(by_pointer(40, 2).result(), 42);

    auto loud = unsync::unsync(shout);
    static_assert(std::is_same_v<decltype(loud("hi")), unsync::Unfuture<std::string>>);
    EXPECT_EQ(loud("hi").result(), "hi!");
}

TEST(Unsync, WrapsStandardLibraryFunctionsThroughALambda) {
    auto max = unsync::unsync([](int a, int b) { return std::max(a, b); });
    static_assert(std::is_same_v<decltype(max(1, 2)), unsync::Unfuture<int>>);
    EXPECT_EQ(max(3, 9).result(), 9);
    EXPECT_EQ(max(9, 3).result(), 9);

    auto to_string = unsync::unsync([](int v) { return std::to_string(v); });
    static_assert(std::is_same_v<decltype(to_string(1)), unsync::Unfuture<std::string>>);
    EXPECT_EQ(to_string(1234).result(), "1234");
}

TEST(Unsync, MemberFunctionThroughAPointerActsOnTheObject) {
    Counter c{10};
    auto bump = unsync::unsync(&Counter::bump);
    static_assert(std::is_same_v<decltype(bump(&c, 1)), unsync::Unfuture<int>>);
    EXPECT_EQ(bump(&c, 5).result(), 15);
    EXPECT_EQ(c.base, 15);
    auto peek = unsync::unsync(&Counter::peek);
    const Counter* cc = &c;
    EXPECT_EQ(peek(cc).result(), 15);
}

TEST(Unsync, MemberFunctionThroughStdRefActsOnTheObject) {
    Counter c{10};
    auto bump = unsync::unsync(&Counter::bump);
    static_assert(std::is_same_v<decltype(bump(std::ref(c), 1)), unsync::Unfuture<int>>);
    EXPECT_EQ(bump(std::ref(c), 7).result(), 17);
    EXPECT_EQ(c.base, 17);
    EXPECT_EQ(unsync::unsync(&Counter::peek)(std::cref(c)).result(), 17);
}

TEST(Unsync, MemberFunctionOnAnObjectPassedByValueActsOnACopy) {
    Counter c{10};
    auto bump = unsync::unsync(&Counter::bump);
    static_assert(std::is_same_v<decltype(bump(c, 1)), unsync::Unfuture<int>>);
    EXPECT_EQ(bump(c, 5).result(), 15);
    EXPECT_EQ(c.base, 10);  // the call worked on its own copy
    EXPECT_EQ(unsync::unsync(&Counter::peek)(c).result(), 10);
}

TEST(Unsync, CoroutineMemberFunctionRunsOnTheLoop) {
    Greeter g{"ann"};
    auto greet = unsync::unsync(&Greeter::greet);
    static_assert(std::is_same_v<decltype(greet(&g, "bob")), unsync::Unfuture<std::string>>);
    EXPECT_EQ(greet(&g, "bob").result(), "ann greets bob");
    EXPECT_EQ(greet(std::ref(g), std::string("cy")).result(), "ann greets cy");
    EXPECT_TRUE(unsync::unsync(&Greeter::on_loop)(&g).result());
    // Called directly, too.
    EXPECT_EQ(g.greet("dee").result(), "ann greets dee");
}

TEST(Unsync, ExistingCoroutineFunctionIsCalledDirectlyAndRunsOnTheLoop) {
    static_assert(std::is_same_v<decltype(triple_on_loop(1)), unsync::Unfuture<int>>);
    EXPECT_EQ(triple_on_loop(2).result(), 6);

    auto wrapped = unsync::unsync(triple_on_loop);
    static_assert(std::is_same_v<decltype(wrapped(1)), unsync::Unfuture<int>>);
    EXPECT_EQ(wrapped(5).result(), 15);

    auto where = unsync::unsync(thread_after_yield);
    static_assert(std::is_same_v<decltype(where()), unsync::Unfuture<std::thread::id>>);
    EXPECT_EQ(where().result(), unsync::thread());
    EXPECT_EQ(thread_after_yield().result(), unsync::thread());
}

TEST(Unsync, CoroutineLambdaRunsOnTheLoop) {
    auto coro = unsync::unsync([](int x) -> unsync::Unfuture<std::pair<int, std::thread::id>> {
        co_await unsync::sleep(1ms);
        co_return std::make_pair(x + 1, std::this_thread::get_id());
    });
    static_assert(
        std::is_same_v<decltype(coro(1)), unsync::Unfuture<std::pair<int, std::thread::id>>>);
    const auto [value, where] = coro(41).result();
    EXPECT_EQ(value, 42);
    EXPECT_EQ(where, unsync::thread());
}

TEST(Unsync, PlainCallableRunsOnTheThreadPool) {
    auto where = unsync::unsync([] { return std::this_thread::get_id(); });
    static_assert(std::is_same_v<decltype(where()), unsync::Unfuture<std::thread::id>>);
    const auto id = where().result();
    EXPECT_NE(id, std::this_thread::get_id());
    EXPECT_NE(id, unsync::thread());
    EXPECT_NE(id, std::thread::id());
    EXPECT_GE(unsync::thread_executor().thread_count(), 1u);
}

TEST(Unsync, CallableReturningVoid) {
    std::atomic<int> calls{0};
    std::thread::id where;  // written by the call, read after result(): ordered by the future
    auto work = unsync::unsync([&calls, &where](int n) {
        where = std::this_thread::get_id();
        calls.fetch_add(n);
    });
    static_assert(std::is_same_v<decltype(work(1)), unsync::Unfuture<void>>);
    auto f = work(3);
    f.result();
    EXPECT_TRUE(f.done());
    EXPECT_EQ(calls.load(), 3);
    EXPECT_NE(where, std::this_thread::get_id());
    EXPECT_NE(where, unsync::thread());
    EXPECT_NE(where, std::thread::id());
    work(4).result();
    EXPECT_EQ(calls.load(), 7);
}

TEST(Unsync, MoveOnlyArgument) {
    auto deref = unsync::unsync([](std::unique_ptr<int> p) { return *p + 1; });
    static_assert(std::is_same_v<decltype(deref(std::make_unique<int>(0))), unsync::Unfuture<int>>);
    EXPECT_EQ(deref(std::make_unique<int>(41)).result(), 42);
    auto p = std::make_unique<int>(9);
    EXPECT_EQ(deref(std::move(p)).result(), 10);
}

TEST(Unsync, MoveOnlyResult) {
    auto make = unsync::unsync([](int v) { return std::make_unique<int>(v); });
    static_assert(std::is_same_v<decltype(make(1)), unsync::Unfuture<std::unique_ptr<int>>>);
    // Read in place...
    auto f = make(5);
    EXPECT_EQ(*f.result(), 5);
    // ...or moved out of an rvalue future.
    std::unique_ptr<int> owned = std::move(f).result();
    ASSERT_NE(owned, nullptr);
    EXPECT_EQ(*owned, 5);
    std::unique_ptr<int> direct = make(6).result();
    ASSERT_NE(direct, nullptr);
    EXPECT_EQ(*direct, 6);
}

TEST(Unsync, SeedTypingWorkaround) {
    static_assert(std::is_same_v<decltype(function_name("b")), unsync::Unfuture<std::string>>);
    auto future_result = function_name("b");
    EXPECT_EQ(future_result.result(), "ba");
}

}  // namespace

// A wrapper is a continuation like any other callable: then() sees that it takes the value (not
// the source Unfuture), runs it on the pool and flattens the Unfuture it returns. Before the
// wrapper's call operator was constrained, then() took it for an Unfuture-taking continuation
// and the call failed to compile.
TEST(Unsync, WrapperAsAContinuationTakesTheValue) {
    const auto twice = unsync::unsync([](int v) { return v * 2; });
    static_assert(!std::is_invocable_v<decltype(twice)&, unsync::Unfuture<int>&>);
    static_assert(std::is_invocable_v<decltype(twice)&, int>);
    auto chained = unsync::Unfuture<int>::from_value(21).then(twice);
    static_assert(std::is_same_v<decltype(chained), unsync::Unfuture<int>>);
    EXPECT_EQ(chained.result(unsync_test::kWait), 42);
}
