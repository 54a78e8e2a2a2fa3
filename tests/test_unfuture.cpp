// Unfuture<T>: coroutines that return it, blocking waits, completion from any thread, then()
// chains, wrapping std::future, and handle semantics.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using unsync::Unfuture;
using unsync_test::Clock;
using unsync_test::current_thread_id;
using unsync_test::custom_error;
using unsync_test::error_code;
using unsync_test::kSanitized;
using unsync_test::kWait;
using unsync_test::Log;
using unsync_test::make_log;

namespace {

// ---------------------------------------------------------------------------------------------
// Coroutines used by the tests. Parameters are taken by value: the frame keeps its own copies.
// ---------------------------------------------------------------------------------------------

Unfuture<int> add_after(Unfuture<int> in, int add) {
    const int v = co_await in;
    co_return v + add;
}

Unfuture<void> record(int i, std::shared_ptr<std::vector<int>> log) {
    log->push_back(i);
    co_return;
}

Unfuture<void> log_line(std::string what, Log log) {
    log->push_back(std::move(what));
    co_return;
}

Unfuture<void> await_and_log(std::string name, Unfuture<int> f, Log log) {
    log->push_back(name + ":before");
    const int v = co_await f;
    log->push_back(name + ":after " + std::to_string(v));
}

Unfuture<void> complete_and_log(Unfuture<int> f, int v, Log log) {
    log->push_back("completer");
    f.set_result(v);
    co_return;
}

// Starts `a` (awaits an already completed future) and then `b` from the loop thread, so both are
// in the loop's ready queue in that order.
Unfuture<void> done_await_driver(Log log) {
    auto a = await_and_log("a", Unfuture<int>::from_value(7), log);
    auto b = log_line("b", log);
    co_await a;
    co_await b;
}

Unfuture<void> pending_await_driver(Log log) {
    Unfuture<int> gate;
    auto a = await_and_log("a", gate, log);
    auto b = complete_and_log(gate, 5, log);
    co_await a;
    co_await b;
}

Unfuture<int> await_twice(Unfuture<int> f) {
    const int first = co_await f;
    const int second = co_await f;
    co_return first + second;
}

Unfuture<std::string> await_by_move(Unfuture<std::string> f) {
    co_return co_await std::move(f);
}

Unfuture<int> fail_after_sleep(bool fail) {
    co_await unsync::sleep(10ms);
    if (fail)
        throw custom_error("boom after sleep");
    co_return 1;
}

Unfuture<int> fail_with_code_after_sleep(int code) {
    co_await unsync::sleep(1ms);
    if (code != 0)
        throw error_code{code};
    co_return 0;
}

Unfuture<void> set_flag_after_sleep(std::shared_ptr<std::atomic<bool>> flag) {
    co_await unsync::sleep(5ms);
    flag->store(true);
}

Unfuture<void> fail_void(bool fail) {
    co_await unsync::sleep(1ms);
    if (fail)
        throw custom_error("void failed");
}

Unfuture<std::unique_ptr<int>> make_ptr(int v) {
    co_await unsync::sleep(1ms);
    co_return std::make_unique<int>(v);
}

Unfuture<int> consume_ptr(Unfuture<std::unique_ptr<int>> f) {
    std::unique_ptr<int> p = co_await std::move(f);
    co_return *p + 1;
}

// result() of a pending future, called on the loop thread: must throw, not deadlock.
Unfuture<std::string> result_on_loop(Unfuture<int> pending) {
    std::string what = "no exception";
    try {
        (void)pending.result();
    } catch (const unsync::invalid_state_error& e) {
        what = e.what();
    }
    co_return what;
}

Unfuture<std::string> timed_result_on_loop(Unfuture<int> pending) {
    std::string what = "no exception";
    try {
        (void)pending.result(1h);
    } catch (const unsync::invalid_state_error& e) {
        what = e.what();
    }
    co_return what;
}

Unfuture<int> await_then_result(Unfuture<int> f) {
    co_await f;
    co_return f.result() * 2;
}

Unfuture<bool> set_result_on_own_kind(Unfuture<int> other_task) {
    bool threw = false;
    try {
        other_task.set_result(1);
    } catch (const unsync::invalid_state_error&) {
        threw = true;
    }
    co_return threw;
}

Unfuture<int> await_value(Unfuture<int> f) {
    co_return co_await f;
}

Unfuture<int> value_after_sleep(std::chrono::milliseconds d, int v) {
    co_await unsync::sleep(d);
    co_return v;
}

// Neither default-constructible nor copyable.
struct NoDefault {
    explicit NoDefault(int v) : value(v) {}
    NoDefault(NoDefault&&) = default;
    NoDefault& operator=(NoDefault&&) = default;
    int value;
};

Unfuture<NoDefault> make_no_default(int v) {
    co_await unsync::sleep(0ms);
    co_return NoDefault(v);
}

Unfuture<void> await_void(Unfuture<void> f) {
    co_await f;
}

Unfuture<bool> done_only(Unfuture<int> f) {
    co_await f.when_done();  // must not rethrow
    co_return f.done();
}

// The seed's example: initiate(3).then(process) == 8.
Unfuture<int> initiate(int request) {
    co_await unsync::sleep(100ms);
    co_return request + 1;
}

Unfuture<int> process(Unfuture<int> task) {
    co_await unsync::sleep(100ms);
    co_return task.result() * 2;
}

Unfuture<int> doubled(int x) {
    co_await unsync::sleep(1ms);
    co_return x * 2;
}

Unfuture<std::string> then_inside_coroutine() {
    auto f = Unfuture<std::string>::from_value("in").then([](std::string s) { return s + "side"; });
    co_return co_await f;
}

}  // namespace

// =============================================================================================
// Coroutines returning Unfuture
// =============================================================================================

TEST(UnfutureCoroutine, RunsOnTheLoopThread) {
    const auto id = current_thread_id().result(kWait);
    EXPECT_EQ(id, unsync::thread());
    EXPECT_NE(id, std::this_thread::get_id());
}

TEST(UnfutureCoroutine, CallReturnsBeforeTheCoroutineFinishes) {
    Unfuture<int> gate;
    auto f = add_after(gate, 1);
    EXPECT_TRUE(f.valid());
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(gate.done());
    gate.set_result(41);
    EXPECT_EQ(f.result(kWait), 42);
    EXPECT_TRUE(f.done());
}

TEST(UnfutureCoroutine, StartsInCallOrder) {
    auto log = std::make_shared<std::vector<int>>();
    std::vector<Unfuture<void>> tasks;
    constexpr int n = 100;
    for (int i = 0; i < n; ++i)
        tasks.push_back(record(i, log));
    for (auto& t : tasks)
        t.result(kWait);
    std::vector<int> expected;
    for (int i = 0; i < n; ++i)
        expected.push_back(i);
    EXPECT_EQ(*log, expected);
}

TEST(UnfutureCoroutine, AwaitingADoneFutureDoesNotSuspend) {
    auto log = make_log();
    done_await_driver(log).result(kWait);
    // Had `a` suspended on the completed future, `b` (queued behind it) would have run first.
    const std::vector<std::string> expected{"a:before", "a:after 7", "b"};
    EXPECT_EQ(*log, expected);
}

TEST(UnfutureCoroutine, AwaitingAPendingFutureSuspendsAndLetsOthersRun) {
    auto log = make_log();
    pending_await_driver(log).result(kWait);
    const std::vector<std::string> expected{"a:before", "completer", "a:after 5"};
    EXPECT_EQ(*log, expected);
}

TEST(UnfutureCoroutine, SameFutureAwaitedByManyCoroutinesAndTwiceInOne) {
    Unfuture<int> gate;
    std::vector<Unfuture<int>> tasks;
    for (int i = 0; i < 20; ++i)
        tasks.push_back(await_twice(gate));
    for (auto& t : tasks)
        EXPECT_FALSE(t.done());
    gate.set_result(21);
    for (auto& t : tasks)
        EXPECT_EQ(t.result(kWait), 42);
    EXPECT_EQ(gate.result(), 21);
    EXPECT_EQ(gate.result(), 21);  // reading does not consume
}

TEST(UnfutureCoroutine, AwaitingByMoveDoesNotStealFromOtherHandles) {
    Unfuture<std::string> gate;
    const std::string long_text(1000, 'x');  // not in the small-string buffer
    std::vector<Unfuture<std::string>> tasks;
    for (int i = 0; i < 10; ++i)
        tasks.push_back(await_by_move(gate));
    gate.set_result(long_text);
    for (auto& t : tasks)
        EXPECT_EQ(t.result(kWait), long_text);
    EXPECT_EQ(gate.result(), long_text);
}

TEST(UnfutureCoroutine, ResultRethrowsTheOriginalExceptionType) {
    auto f = fail_after_sleep(true);
    try {
        (void)f.result(kWait);
        FAIL() << "result() did not throw";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "boom after sleep");
    }
    // Again, through the rvalue overload.
    EXPECT_THROW((void)std::move(f).result(kWait), custom_error);
    EXPECT_EQ(fail_after_sleep(false).result(kWait), 1);
}

TEST(UnfutureCoroutine, ExceptionsOutsideTheStdHierarchyKeepTheirPayload) {
    auto f = fail_with_code_after_sleep(7);
    try {
        (void)f.result(kWait);
        FAIL() << "result() did not throw";
    } catch (const error_code& e) {
        EXPECT_EQ(e.code, 7);
    }
}

TEST(UnfutureCoroutine, VoidCoroutine) {
    auto flag = std::make_shared<std::atomic<bool>>(false);
    auto f = set_flag_after_sleep(flag);
    static_assert(std::is_same_v<decltype(f), Unfuture<void>>);
    f.result(kWait);
    EXPECT_TRUE(f.done());
    EXPECT_TRUE(flag->load());
    EXPECT_THROW(fail_void(true).result(kWait), custom_error);
    EXPECT_NO_THROW(fail_void(false).result(kWait));
}

TEST(UnfutureCoroutine, MoveOnlyResult) {
    EXPECT_EQ(consume_ptr(make_ptr(41)).result(kWait), 42);

    auto p = make_ptr(5);
    std::unique_ptr<int> got = std::move(p).result(kWait);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, 5);

    auto q = make_ptr(6);
    const std::unique_ptr<int>& seen = q.result(kWait);  // lvalue: a reference, nothing moved
    ASSERT_NE(seen, nullptr);
    EXPECT_EQ(*seen, 6);
    std::unique_ptr<int> taken = std::move(q).result();
    ASSERT_NE(taken, nullptr);
    EXPECT_EQ(*taken, 6);

    Unfuture<std::unique_ptr<int>> plain;
    plain.set_result(std::make_unique<int>(9));
    EXPECT_EQ(*std::move(plain).result(), 9);
}

namespace {
// Copyable, and counts its copies: a result taken by move from the only handle must not copy.
struct CountsCopies {
    static inline std::atomic<int> copies{0};
    int value = 0;
    explicit CountsCopies(int v) : value(v) {}
    CountsCopies(const CountsCopies& o) : value(o.value) { copies.fetch_add(1); }
    CountsCopies(CountsCopies&& o) noexcept : value(o.value) {}
    CountsCopies& operator=(const CountsCopies&) = delete;
    CountsCopies& operator=(CountsCopies&&) = delete;
    ~CountsCopies() = default;
};
}  // namespace

// The thread that completes the future may still hold its reference for a moment after the
// waiter wakes (it wakes the waiter first): that reference reads no value, so the waiter's
// handle is still the only one that does, and the value is moved out, never copied.
TEST(UnfutureBlocking, ResultByMoveFromTheOnlyHandleNeverCopies) {
    const auto make = unsync::unsync([](int i) { return CountsCopies(i); });
    const int n = kSanitized ? 5000 : 50000;
    CountsCopies::copies = 0;
    int wrong = 0;
    for (int i = 0; i < n; ++i) {
        auto f = make(i);
        const CountsCopies got = std::move(f).result(kWait);
        wrong += got.value != i ? 1 : 0;
    }
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(CountsCopies::copies.load(), 0) << "of " << n << " results";

    // The same from a coroutine that awaits a pool call by move, completed off the loop.
    CountsCopies::copies = 0;
    const auto awaits = [&]() -> Unfuture<int> {
        int sum = 0;
        for (int i = 0; i < n / 4; ++i)
            sum += (co_await make(1)).value;
        co_return sum;
    };
    EXPECT_EQ(awaits().result(kWait), n / 4);
    EXPECT_EQ(CountsCopies::copies.load(), 0) << "of " << n / 4 << " awaits";
}

TEST(UnfutureCoroutine, ResultTypeNeedsNoDefaultConstructor) {
    auto f = make_no_default(4);
    EXPECT_EQ(f.result(kWait).value, 4);
    EXPECT_EQ(std::move(f).result().value, 4);
    Unfuture<NoDefault> plain;
    plain.set_result(5);  // constructed in place from the arguments
    EXPECT_EQ(plain.result().value, 5);
}

TEST(UnfutureCoroutine, ResultOnTheLoopThreadOfAPendingFutureThrows) {
    Unfuture<int> pending;
    EXPECT_EQ(result_on_loop(pending).result(kWait),
              "Calling result() in an unsync method is not allowed");
    EXPECT_EQ(timed_result_on_loop(pending).result(kWait),
              "Calling result() in an unsync method is not allowed");
    EXPECT_FALSE(pending.done());
}

TEST(UnfutureCoroutine, ResultAfterAwaitingWorksOnTheLoopThread) {
    Unfuture<int> f;
    auto task = await_then_result(f);
    f.set_result(21);
    EXPECT_EQ(task.result(kWait), 42);
}

TEST(UnfutureCoroutine, WhenDoneWaitsWithoutRethrowing) {
    Unfuture<int> f;
    auto task = done_only(f);
    EXPECT_FALSE(task.done());
    f.set_exception(custom_error("ignored"));
    EXPECT_TRUE(task.result(kWait));
}

// =============================================================================================
// Plain Unfutures: blocking, completion from any thread
// =============================================================================================

TEST(UnfutureBlocking, TimeoutOnAPendingFuture) {
    Unfuture<int> f;
    const auto t0 = Clock::now();
    EXPECT_THROW((void)f.result(100ms), unsync::timeout_error);
    EXPECT_GE(Clock::now() - t0, 90ms);
    EXPECT_FALSE(f.done());
    EXPECT_THROW((void)f.result(0ms), unsync::timeout_error);
    EXPECT_THROW((void)Unfuture<int>(f).result(-1ms), unsync::timeout_error);  // rvalue overload

    // A timeout does not spoil the future.
    f.set_result(3);
    EXPECT_EQ(f.result(0ms), 3);
}

TEST(UnfutureBlocking, TimeoutOfAnyDurationType) {
    Unfuture<int> f;
    const auto t0 = Clock::now();
    EXPECT_THROW((void)f.result(std::chrono::duration<double>(0.05)), unsync::timeout_error);
    EXPECT_GE(Clock::now() - t0, 45ms);
    EXPECT_THROW((void)f.result(std::chrono::microseconds(1)), unsync::timeout_error);
}

TEST(UnfutureBlocking, HugeTimeoutWaitsUntilDone) {
    // "Wait practically forever": the deadline must saturate, not overflow into the past.
    // Each task takes 50 ms, so each result() call starts while its task is pending.
    int got = 0;
    auto a = value_after_sleep(50ms, 1);
    EXPECT_NO_THROW(got = a.result(std::chrono::hours::max()));
    EXPECT_EQ(got, 1);
    auto b = value_after_sleep(50ms, 2);
    EXPECT_NO_THROW(got = b.result(std::chrono::seconds::max()));
    EXPECT_EQ(got, 2);
    auto c = value_after_sleep(50ms, 3);
    EXPECT_NO_THROW(got = c.result(Clock::duration::max()));
    EXPECT_EQ(got, 3);
}

TEST(UnfutureBlocking, TimeoutOnAPendingCoroutine) {
    Unfuture<int> gate;
    auto task = add_after(gate, 1);
    EXPECT_THROW((void)task.result(50ms), unsync::timeout_error);
    EXPECT_FALSE(task.done());
    gate.set_result(1);
    EXPECT_EQ(task.result(kWait), 2);
}

TEST(UnfutureBlocking, SetResultFromAnotherThread) {
    Unfuture<std::string> f;
    std::thread t([f] { f.set_result("from a thread"); });
    EXPECT_EQ(f.result(kWait), "from a thread");
    t.join();
}

TEST(UnfutureBlocking, CompletionFromAnotherThreadWakesBlockedWaiters) {
    // Repeated so that both orders (completion before and after the wait starts) happen.
    for (int i = 0; i < 200; ++i) {
        Unfuture<int> f;
        std::thread waiter([f, i] { EXPECT_EQ(f.result(kWait), i); });
        std::thread completer([f, i] { f.set_result(i); });
        EXPECT_EQ(f.result(), i);
        completer.join();
        waiter.join();
    }
}

TEST(UnfutureBlocking, SetExceptionFromAnotherThread) {
    Unfuture<int> f;
    std::thread t([f] { f.set_exception(custom_error("remote failure")); });
    try {
        (void)f.result(kWait);
        FAIL() << "result() did not throw";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "remote failure");
    }
    t.join();
    EXPECT_TRUE(f.done());
}

TEST(UnfutureBlocking, SetExceptionAcceptsAnExceptionPtr) {
    Unfuture<int> f;
    f.set_exception(std::make_exception_ptr(error_code{3}));
    try {
        (void)f.result();
        FAIL() << "result() did not throw";
    } catch (const error_code& e) {
        EXPECT_EQ(e.code, 3);
    }
    Unfuture<int> g;
    EXPECT_THROW(g.set_exception(std::exception_ptr{}), std::invalid_argument);
    EXPECT_FALSE(g.done());
    g.set_result(1);  // the rejected call did not use up the completion
    EXPECT_EQ(g.result(), 1);
}

TEST(UnfutureBlocking, SecondCompletionThrows) {
    Unfuture<int> f;
    f.set_result(1);
    EXPECT_THROW(f.set_result(2), unsync::invalid_state_error);
    EXPECT_THROW(f.set_exception(custom_error("late")), unsync::invalid_state_error);
    EXPECT_EQ(f.result(), 1);

    Unfuture<int> g;
    g.set_exception(custom_error("first"));
    EXPECT_THROW(g.set_result(2), unsync::invalid_state_error);
    EXPECT_THROW(g.set_exception(custom_error("second")), unsync::invalid_state_error);
    try {
        (void)g.result();
        FAIL() << "result() did not throw";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "first");
    }

    Unfuture<void> v;
    v.set_result();
    EXPECT_THROW(v.set_result(), unsync::invalid_state_error);
}

TEST(UnfutureBlocking, ConcurrentCompletionHasExactlyOneWinner) {
    for (int round = 0; round < 50; ++round) {
        Unfuture<int> f;
        std::atomic<int> winners{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i) {
            threads.emplace_back([f, i, &winners] {
                try {
                    f.set_result(i);
                    winners.fetch_add(1);
                } catch (const unsync::invalid_state_error&) {
                }
            });
        }
        for (auto& t : threads)
            t.join();
        EXPECT_EQ(winners.load(), 1);
        const int v = f.result(0ms);
        EXPECT_GE(v, 0);
        EXPECT_LT(v, 4);
    }
}

TEST(UnfutureBlocking, CoroutineFuturesCannotBeCompletedByHand) {
    Unfuture<int> gate;
    auto task = add_after(gate, 1);
    EXPECT_THROW(task.set_result(5), unsync::invalid_state_error);
    EXPECT_THROW(task.set_exception(custom_error("no")), unsync::invalid_state_error);
    EXPECT_FALSE(task.done());

    // Nor from another coroutine on the loop thread.
    EXPECT_TRUE(set_result_on_own_kind(task).result(kWait));

    // Nor once it is done.
    gate.set_result(1);
    EXPECT_EQ(task.result(kWait), 2);
    EXPECT_THROW(task.set_result(5), unsync::invalid_state_error);
    EXPECT_EQ(task.result(), 2);

    // The future returned by then() belongs to a task too.
    auto chained = Unfuture<int>::from_value(1).then([](int x) { return x; });
    EXPECT_THROW(chained.set_result(5), unsync::invalid_state_error);
    EXPECT_EQ(chained.result(kWait), 1);
}

namespace {

// Its constructor from bool throws when asked to.
struct MaybeThrows {
    explicit MaybeThrows(bool fail) : value(1) {
        if (fail) {
            throw custom_error("constructor failed");
        }
    }
    int value;
};

}  // namespace

TEST(UnfuturePlain, FailedSetResultDoesNotStrandTheFuture) {
    // set_result(args...) builds T in place; when that throws, the future must not be left
    // claimed yet never done (a waiter would wait forever and nobody could complete it). Either
    // it is done with the exception, or it can still be completed.
    Unfuture<MaybeThrows> f;
    EXPECT_THROW(f.set_result(true), custom_error);
    if (f.done()) {
        EXPECT_THROW((void)f.result(0ms), custom_error);
    } else {
        EXPECT_NO_THROW(f.set_result(false));
        ASSERT_TRUE(f.done());
        EXPECT_EQ(f.result(0ms).value, 1);
    }
}

TEST(UnfuturePlain, DefaultConstructedIsPendingAndValid) {
    Unfuture<int> f;
    EXPECT_TRUE(f.valid());
    EXPECT_FALSE(f.done());
    Unfuture<void> v;
    EXPECT_TRUE(v.valid());
    EXPECT_FALSE(v.done());
    EXPECT_THROW(v.result(1ms), unsync::timeout_error);
}

TEST(UnfuturePlain, FromValue) {
    auto f = Unfuture<int>::from_value(5);
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), 5);
    EXPECT_EQ(await_value(f).result(kWait), 5);

    // Arguments are forwarded to T's constructor.
    auto s = Unfuture<std::string>::from_value(3, 'x');
    EXPECT_EQ(s.result(), "xxx");

    auto v = Unfuture<void>::from_value();
    EXPECT_TRUE(v.done());
    EXPECT_NO_THROW(v.result());
    EXPECT_NO_THROW(await_void(v).result(kWait));
}

TEST(UnfuturePlain, AwaitingAFutureCompletedFromAnotherThread) {
    Unfuture<int> f;
    auto task = await_value(f);
    std::thread t([f] { f.set_result(17); });
    EXPECT_EQ(task.result(kWait), 17);
    t.join();
}

TEST(UnfuturePlain, AwaitingAFailedFutureRethrowsInTheCoroutine) {
    Unfuture<int> f;
    auto task = add_after(f, 1);
    f.set_exception(custom_error("upstream"));
    EXPECT_THROW((void)task.result(kWait), custom_error);
}

// =============================================================================================
// Construction from std::future / std::shared_future
// =============================================================================================

TEST(UnfutureFromStd, FromStdAsync) {
    Unfuture<int> f(std::async(std::launch::async, [] { return 42; }));
    EXPECT_EQ(f.result(kWait), 42);
}

TEST(UnfutureFromStd, FromAPromiseSetOnAnotherThread) {
    std::promise<std::string> p;
    Unfuture<std::string> f(p.get_future());
    EXPECT_FALSE(f.done());
    std::thread t([&p] { p.set_value("promised"); });
    EXPECT_EQ(f.result(kWait), "promised");
    t.join();
}

TEST(UnfutureFromStd, AwaitedFromACoroutine) {
    std::promise<int> p;
    auto task = add_after(Unfuture<int>(p.get_future()), 1);
    std::thread t([&p] { p.set_value(9); });
    EXPECT_EQ(task.result(kWait), 10);
    t.join();
}

TEST(UnfutureFromStd, ResultWithTimeoutWhileTheStdFutureIsPending) {
    std::promise<int> p;
    Unfuture<int> f(p.get_future());
    EXPECT_THROW((void)f.result(50ms), unsync::timeout_error);
    EXPECT_FALSE(f.done());
    p.set_value(1);
    EXPECT_EQ(f.result(kWait), 1);
}

TEST(UnfutureFromStd, ExceptionIsPropagated) {
    std::promise<int> p;
    Unfuture<int> f(p.get_future());
    std::thread t([&p] { p.set_exception(std::make_exception_ptr(custom_error("std failure"))); });
    try {
        (void)f.result(kWait);
        FAIL() << "result() did not throw";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "std failure");
    }
    t.join();

    // The same through a coroutine.
    std::promise<int> q;
    auto task = add_after(Unfuture<int>(q.get_future()), 1);
    q.set_exception(std::make_exception_ptr(error_code{11}));
    try {
        (void)task.result(kWait);
        FAIL() << "result() did not throw";
    } catch (const error_code& e) {
        EXPECT_EQ(e.code, 11);
    }
}

TEST(UnfutureFromStd, BrokenPromise) {
    Unfuture<int> f = [] {
        std::promise<int> p;
        return Unfuture<int>(p.get_future());
    }();
    EXPECT_THROW((void)f.result(kWait), std::future_error);
}

TEST(UnfutureFromStd, VoidFuture) {
    std::promise<void> p;
    Unfuture<void> f(p.get_future());
    auto task = await_void(f);
    p.set_value();
    EXPECT_NO_THROW(task.result(kWait));
    EXPECT_TRUE(f.done());
}

TEST(UnfutureFromStd, SharedFuture) {
    std::promise<int> p;
    std::shared_future<int> shared = p.get_future().share();
    Unfuture<int> a(shared);
    Unfuture<int> b(shared);
    auto task = add_after(a, 100);
    std::thread t([&p] { p.set_value(5); });
    EXPECT_EQ(a.result(kWait), 5);
    EXPECT_EQ(b.result(kWait), 5);
    EXPECT_EQ(task.result(kWait), 105);
    EXPECT_EQ(shared.get(), 5);  // the shared_future itself is still usable
    t.join();

    std::promise<int> q;
    Unfuture<int> failed(q.get_future().share());
    q.set_exception(std::make_exception_ptr(custom_error("shared failure")));
    EXPECT_THROW((void)failed.result(kWait), custom_error);
}

TEST(UnfutureFromStd, InvalidStdFutureIsRejected) {
    std::future<int> empty;
    EXPECT_THROW((void)Unfuture<int>{std::move(empty)}, std::future_error);
}

// =============================================================================================
// then()
// =============================================================================================

TEST(UnfutureThen, SeedExampleInitiateThenProcess) {
    const auto t0 = Clock::now();
    auto f = initiate(3).then(process);
    static_assert(std::is_same_v<decltype(f), Unfuture<int>>);
    EXPECT_EQ(f.result(kWait), 8);
    // The two 100 ms sleeps run one after the other.
    EXPECT_GE(Clock::now() - t0, 190ms);
}

TEST(UnfutureThen, ContinuationTakingTheSourceFuture) {
    Unfuture<int> src;
    auto f = src.then([](Unfuture<int>& s) {
        EXPECT_TRUE(s.done());
        return s.result() + 1;
    });
    static_assert(std::is_same_v<decltype(f), Unfuture<int>>);
    EXPECT_FALSE(f.done());
    src.set_result(1);
    EXPECT_EQ(f.result(kWait), 2);

    auto by_value =
        Unfuture<int>::from_value(2).then([](Unfuture<int> s) { return s.result() * 10; });
    EXPECT_EQ(by_value.result(kWait), 20);
}

TEST(UnfutureThen, ContinuationTakingTheValue) {
    auto f = Unfuture<int>::from_value(20).then([](int x) { return std::to_string(x) + "!"; });
    static_assert(std::is_same_v<decltype(f), Unfuture<std::string>>);
    EXPECT_EQ(f.result(kWait), "20!");
}

TEST(UnfutureThen, ContinuationTakingAConstReference) {
    auto f = Unfuture<std::string>::from_value("ref").then(
        [](const std::string& s) { return s.size(); });
    static_assert(std::is_same_v<decltype(f), Unfuture<std::size_t>>);
    EXPECT_EQ(f.result(kWait), 3u);
}

TEST(UnfutureThen, ConstReferenceContinuationsLeaveAMoveOnlyValueInPlace) {
    // Two readers of one source: neither may move the value out from under the other, nor
    // from under the source's own handle.
    auto source = Unfuture<std::unique_ptr<int>>::from_value(std::make_unique<int>(7));
    auto first = source.then([](const std::unique_ptr<int>& p) { return p ? *p : -1; });
    auto second = source.then([](const std::unique_ptr<int>& p) { return p ? *p : -1; });
    EXPECT_EQ(first.result(kWait), 7);
    EXPECT_EQ(second.result(kWait), 7);
    ASSERT_NE(source.result(), nullptr);
    EXPECT_EQ(*source.result(), 7);
}

TEST(UnfutureThen, ValueContinuationOnTheLastHandleMovesTheValue) {
    // The link holds the source's only handle: a by-value continuation gets the value moved.
    auto moved = Unfuture<std::unique_ptr<int>>::from_value(std::make_unique<int>(5))
                     .then([](std::unique_ptr<int> p) { return *p; });
    EXPECT_EQ(moved.result(kWait), 5);
}

TEST(UnfutureThen, CapturingCoroutineLambdaOutlivesItsSuspension) {
    // The coroutine refers to its closure (the captures) across its suspension points: then()
    // must keep the continuation alive until the coroutine it started has finished.
    Unfuture<int> src;
    auto f = src.then([offset = std::string(100, 'o')](int x) -> Unfuture<std::string> {
        co_await unsync::sleep(5ms);
        co_return offset + std::to_string(x);
    });
    static_assert(std::is_same_v<decltype(f), Unfuture<std::string>>);
    src.set_result(7);
    EXPECT_EQ(f.result(kWait), std::string(100, 'o') + "7");

    auto done = std::make_shared<std::atomic<bool>>(false);
    auto g = Unfuture<void>::from_value().then([done]() -> Unfuture<void> {
        co_await unsync::sleep(1ms);
        done->store(true);
    });
    static_assert(std::is_same_v<decltype(g), Unfuture<void>>);
    g.result(kWait);
    EXPECT_TRUE(done->load());
}

TEST(UnfutureThen, UnfutureReturnedByTheContinuationIsFlattened) {
    auto f = Unfuture<int>::from_value(21).then([](int x) { return doubled(x); });
    static_assert(std::is_same_v<decltype(f), Unfuture<int>>);
    EXPECT_EQ(f.result(kWait), 42);

    auto g =
        Unfuture<int>::from_value(4).then([](Unfuture<int>& s) { return doubled(s.result()); });
    static_assert(std::is_same_v<decltype(g), Unfuture<int>>);
    EXPECT_EQ(g.result(kWait), 8);

    // A plain pending Unfuture returned by the continuation: the chain waits for it.
    Unfuture<std::string> later;
    auto h = Unfuture<void>::from_value().then([later] { return later; });
    static_assert(std::is_same_v<decltype(h), Unfuture<std::string>>);
    EXPECT_THROW((void)h.result(50ms), unsync::timeout_error);
    later.set_result("flattened");
    EXPECT_EQ(h.result(kWait), "flattened");
}

TEST(UnfutureThen, PlainContinuationRunsOnTheLoopThread) {
    const auto id = Unfuture<int>::from_value(1)
                        .then([](int) { return std::this_thread::get_id(); })
                        .result(kWait);
    EXPECT_EQ(id, unsync::thread());

    // Also when the source is completed by another thread.
    Unfuture<int> src;
    auto f = src.then([](Unfuture<int>&) { return std::this_thread::get_id(); });
    std::thread t([src] { src.set_result(0); });
    EXPECT_EQ(f.result(kWait), unsync::thread());
    t.join();
}

TEST(UnfutureThen, ChainOfStringContinuations) {
    auto f = Unfuture<std::string>::from_value("faff")
                 .then([](std::string s) { return s + "a"; })
                 .then([](std::string s) { return s + "b"; })
                 .then([](std::string s) { return s + "c"; });
    EXPECT_EQ(f.result(kWait), "faffabc");
}

TEST(UnfutureThen, ExceptionsFlowDownTheChain) {
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto f = fail_after_sleep(true)
                 .then([calls](int x) {
                     calls->fetch_add(1);
                     return x + 1;
                 })
                 .then([calls](int x) {
                     calls->fetch_add(1);
                     return std::to_string(x);
                 });
    static_assert(std::is_same_v<decltype(f), Unfuture<std::string>>);
    try {
        (void)f.result(kWait);
        FAIL() << "result() did not throw";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "boom after sleep");
    }
    EXPECT_EQ(calls->load(), 0);
}

TEST(UnfutureThen, ExceptionThrownByAContinuation) {
    auto f =
        Unfuture<int>::from_value(1).then([](int) -> int { throw error_code{42}; }).then([](int x) {
            return x + 1;
        });
    try {
        (void)f.result(kWait);
        FAIL() << "result() did not throw";
    } catch (const error_code& e) {
        EXPECT_EQ(e.code, 42);
    }
}

TEST(UnfutureThen, FutureTakingContinuationSeesAFailedSource) {
    Unfuture<int> src;
    auto f = src.then([](Unfuture<int>& s) {
        std::string seen = s.done() ? "done" : "pending";
        try {
            (void)s.result();
            seen += ", value";
        } catch (const custom_error& e) {
            seen += std::string(", caught ") + e.what();
        }
        return seen;
    });
    src.set_exception(custom_error("bad source"));
    EXPECT_EQ(f.result(kWait), "done, caught bad source");
}

TEST(UnfutureThen, VoidFutures) {
    Unfuture<void> src;
    auto ran = std::make_shared<std::atomic<bool>>(false);
    auto a = src.then([] { return 42; });
    static_assert(std::is_same_v<decltype(a), Unfuture<int>>);
    auto b = src.then([ran] { ran->store(true); });
    static_assert(std::is_same_v<decltype(b), Unfuture<void>>);
    auto c = src.then([](Unfuture<void>& s) {
        s.result();
        return std::string("source ok");
    });
    static_assert(std::is_same_v<decltype(c), Unfuture<std::string>>);
    auto d = Unfuture<int>::from_value(1).then([ran](int) { ran->store(true); });
    static_assert(std::is_same_v<decltype(d), Unfuture<void>>);

    EXPECT_FALSE(a.done());
    src.set_result();
    EXPECT_EQ(a.result(kWait), 42);
    b.result(kWait);
    EXPECT_TRUE(ran->load());
    EXPECT_EQ(c.result(kWait), "source ok");
    d.result(kWait);

    // A failed void source skips the value-style continuation.
    auto e = fail_void(true).then([] { return 1; });
    EXPECT_THROW((void)e.result(kWait), custom_error);
}

TEST(UnfutureThen, ManyContinuationsOnOneSource) {
    Unfuture<int> src;
    std::vector<Unfuture<int>> outs;
    for (int i = 0; i < 10; ++i)
        outs.push_back(src.then([i](int x) { return x + i; }));
    src.set_result(100);
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(outs[static_cast<std::size_t>(i)].result(kWait), 100 + i);
}

TEST(UnfutureThen, MoveOnlyValuesAndContinuations) {
    auto f = make_ptr(3).then(
        [extra = std::make_unique<int>(4)](std::unique_ptr<int> p) { return *p + *extra; });
    EXPECT_EQ(f.result(kWait), 7);
}

TEST(UnfutureThen, CalledFromACoroutine) {
    EXPECT_EQ(then_inside_coroutine().result(kWait), "inside");
}

TEST(UnfutureThen, MillionContinuationChainDoesNotOverflowTheStack) {
    // Each link is a task waiting on the previous one; completing the source runs them all.
    const int n = kSanitized ? 200'000 : 1'000'000;
    Unfuture<int> src;
    Unfuture<int> cur = src;
    for (int i = 0; i < n; ++i)
        cur = cur.then([](int x) { return x + 1; });
    EXPECT_FALSE(cur.done());
    src.set_result(0);
    EXPECT_EQ(cur.result(120s), n);
}

// =============================================================================================
// Handle semantics
// =============================================================================================

TEST(UnfutureHandle, CopiesShareTheState) {
    Unfuture<int> a;
    Unfuture<int> b = a;  // NOLINT(performance-unnecessary-copy-initialization)
    Unfuture<int> c;
    c = a;
    EXPECT_FALSE(b.done());
    b.set_result(3);
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(c.done());
    EXPECT_EQ(a.result(), 3);
    EXPECT_EQ(c.result(), 3);
    EXPECT_THROW(a.set_result(4), unsync::invalid_state_error);  // the one completion is used up

    // A copy outlives the original.
    Unfuture<std::string> survivor;
    {
        Unfuture<std::string> original;
        survivor = original;
        original.set_result("kept");
    }
    EXPECT_EQ(survivor.result(), "kept");
}

TEST(UnfutureHandle, MoveLeavesAnInvalidHandle) {
    Unfuture<int> a;
    Unfuture<int> b = std::move(a);
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(b.valid());

    Unfuture<int> c;
    c = std::move(b);
    EXPECT_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(c.valid());
    c.set_result(1);
    EXPECT_EQ(c.result(), 1);

    // Moving a task's handle keeps the task.
    auto task = current_thread_id();
    auto moved = std::move(task);
    EXPECT_FALSE(task.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(moved.result(kWait), unsync::thread());
}

TEST(UnfutureHandle, UsingAMovedFromHandleThrows) {
    Unfuture<int> a;
    Unfuture<int> b = std::move(a);
    // NOLINTBEGIN(bugprone-use-after-move)
    EXPECT_THROW((void)a.done(), unsync::invalid_state_error);
    EXPECT_THROW((void)a.result(), unsync::invalid_state_error);
    EXPECT_THROW((void)a.result(1ms), unsync::invalid_state_error);
    EXPECT_THROW((void)std::move(a).result(), unsync::invalid_state_error);
    EXPECT_THROW(a.set_result(1), unsync::invalid_state_error);
    EXPECT_THROW(a.set_exception(custom_error("x")), unsync::invalid_state_error);
    // NOLINTEND(bugprone-use-after-move)
    try {
        (void)a.done();  // NOLINT(bugprone-use-after-move)
    } catch (const unsync::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("moved"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(b.done());
}

namespace {

Unfuture<bool> await_moved_from() {
    Unfuture<int> a = Unfuture<int>::from_value(1);
    Unfuture<int> b = std::move(a);
    bool threw = false;
    try {
        (void)co_await a;  // NOLINT(bugprone-use-after-move)
    } catch (const unsync::invalid_state_error&) {
        threw = true;
    }
    co_return threw&& b.done();
}

}  // namespace

// co_await and then() on a moved-from handle should report invalid_state_error like every other
// use. They run in a child process so that a crash fails this test only.
TEST(UnfutureHandle, AwaitingAMovedFromHandleThrows) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            const bool ok = await_moved_from().result(kWait);
            std::fprintf(stderr, "await_moved_from: %s\n", ok ? "threw" : "no exception");
            std::exit(ok ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "await_moved_from: threw");
}

TEST(UnfutureHandle, ThenOnAMovedFromHandleThrows) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            Unfuture<int> a = Unfuture<int>::from_value(1);
            Unfuture<int> b = std::move(a);
            bool threw = false;
            try {
                // Either then() itself or the future it returns may report it.
                auto c = a.then([](int x) { return x; });  // NOLINT(bugprone-use-after-move)
                (void)c.result(kWait);
            } catch (const unsync::invalid_state_error&) {
                threw = true;
            }
            std::fprintf(stderr, "then_moved_from: %s\n", threw ? "threw" : "no exception");
            std::exit(threw ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "then_moved_from: threw");
}
