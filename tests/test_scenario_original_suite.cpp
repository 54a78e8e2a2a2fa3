// Scenarios mirroring what the original Python unsync's own test suite checks (call ordering,
// decorator, futures, thread executor, custom event loop), written afresh for the C++ API.
//
// `Calls` vectors are only touched on the loop thread while tasks run; the test reads them after
// the last future it waits on is done, which orders those writes before the read.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Calls = std::vector<char>;
using Task = unsync::Unfuture<std::string> (*)(Calls*);

// --- call ordering --------------------------------------------------------------------------

unsync::Unfuture<std::string> other_b_c(Calls* calls) {
    calls->push_back('b');
    co_await unsync::sleep(100ms);
    calls->push_back('c');
    co_return "faff";
}

unsync::Unfuture<std::string> other_a_c(Calls* calls) {
    calls->push_back('a');
    co_await unsync::sleep(100ms);
    calls->push_back('c');
    co_return "faff";
}

unsync::Unfuture<std::string> long_result_after_await(Calls* calls, Task task) {
    calls->push_back('a');
    auto t = task(calls);
    co_await t;
    std::string result = t.result();  // done by now: result() neither blocks nor throws
    calls->push_back('d');
    co_return result;
}

unsync::Unfuture<std::string> long_awaiting(Calls* calls, unsync::Unfuture<std::string> task) {
    calls->push_back('b');
    std::string result = co_await task;
    calls->push_back('d');
    co_return result;
}

unsync::Unfuture<std::string> long_nested_calling(Calls* calls, Task task) {
    calls->push_back('a');
    std::string result = co_await task(calls);
    calls->push_back('d');
    co_return result;
}

TEST(OriginalCallOrdering, SimpleCall) {
    auto faff = []() -> unsync::Unfuture<bool> {
        co_await unsync::sleep(100ms);
        co_return true;
    };
    EXPECT_TRUE(faff().result());
}

TEST(OriginalCallOrdering, NestedBlockingOnResultAfterAwait) {
    Calls calls;
    EXPECT_EQ(long_result_after_await(&calls, &other_b_c).result(), "faff");
    EXPECT_EQ(calls, (Calls{'a', 'b', 'c', 'd'}));
}

TEST(OriginalCallOrdering, CallBlocking) {
    Calls calls;
    auto o = other_a_c(&calls);  // started from the main thread first
    EXPECT_EQ(long_awaiting(&calls, o).result(), "faff");
    EXPECT_EQ(calls, (Calls{'a', 'b', 'c', 'd'}));
    EXPECT_EQ(o.result(), "faff");
}

TEST(OriginalCallOrdering, NestedCalling) {
    Calls calls;
    EXPECT_EQ(long_nested_calling(&calls, &other_b_c).result(), "faff");
    EXPECT_EQ(calls, (Calls{'a', 'b', 'c', 'd'}));
}

// --- blocking result() inside a coroutine -----------------------------------------------------

unsync::Unfuture<std::string> long_blocking_on_nested(Calls* calls, Task task,
                                                      unsync::Unfuture<std::string>* started) {
    calls->push_back('a');
    auto t = task(calls);
    *started = t;  // so the test can wait for the nested task before `calls` goes away
    std::string result = std::move(t).result();  // pending, on the loop thread: throws
    calls->push_back('d');
    co_return result;
}

unsync::Unfuture<std::string> gated_other(Calls* calls, unsync::Unfuture<void> gate) {
    calls->push_back('a');
    co_await gate;
    calls->push_back('c');
    co_return "faff";
}

unsync::Unfuture<std::string> long_blocking_on(Calls* calls, unsync::Unfuture<std::string> task) {
    calls->push_back('b');
    std::string result = task.result();  // pending, on the loop thread: throws
    calls->push_back('d');
    co_return result;
}

TEST(OriginalCallOrdering, NestedBlockingOnResultThrowsInvalidState) {
    Calls calls;
    unsync::Unfuture<std::string> nested;
    EXPECT_THROW(long_blocking_on_nested(&calls, &other_b_c, &nested).result(),
                 unsync::invalid_state_error);
    // The nested task was not harmed by its caller's failure: it runs to its end.
    EXPECT_EQ(nested.result(), "faff");
    EXPECT_EQ(calls, (Calls{'a', 'b', 'c'}));
}

TEST(OriginalCallOrdering, BlockingOnResultOfAStartedTaskThrowsInvalidState) {
    Calls calls;
    unsync::Unfuture<void> gate;
    auto o = gated_other(&calls, gate);
    EXPECT_THROW(long_blocking_on(&calls, o).result(), unsync::invalid_state_error);
    EXPECT_FALSE(o.done());
    gate.set_result();
    EXPECT_EQ(o.result(), "faff");
    EXPECT_EQ(calls, (Calls{'a', 'b', 'c'}));
}

// --- futures ------------------------------------------------------------------------------------

unsync::Unfuture<std::string> long_reusing(Calls* calls, Task task) {
    calls->push_back('a');
    auto t = task(calls);
    std::string first = co_await t;
    std::string second = co_await t;
    std::string third = t.result();
    calls->push_back('d');
    co_return first + "|" + second + "|" + third;
}

TEST(OriginalFuture, FutureReuse) {
    Calls calls;
    EXPECT_EQ(long_reusing(&calls, &other_b_c).result(), "faff|faff|faff");
    EXPECT_EQ(calls, (Calls{'a', 'b', 'c', 'd'}));
}

unsync::Unfuture<std::string> source() {
    co_await unsync::sleep(100ms);
    co_return "faff";
}

unsync::Unfuture<std::string> async_continuation(std::string result) {
    co_await unsync::sleep(100ms);
    co_return result + "derp";
}

TEST(OriginalFuture, AsyncContinuation) {
    auto res = source().then(async_continuation);
    static_assert(std::is_same_v<decltype(res), unsync::Unfuture<std::string>>);
    EXPECT_EQ(res.result(), "faffderp");
}

TEST(OriginalFuture, SyncContinuation) {
    std::thread::id ran_on;
    auto res = source().then([&ran_on](std::string result) {
        ran_on = std::this_thread::get_id();
        return result + "derp";
    });
    static_assert(std::is_same_v<decltype(res), unsync::Unfuture<std::string>>);
    EXPECT_EQ(res.result(), "faffderp");
    EXPECT_EQ(ran_on, unsync::thread());  // a plain continuation runs on the loop
}

TEST(OriginalFuture, ChainedContinuation) {
    auto cont_gen = [](std::string text) {
        return [text](std::string result) { return result + text; };
    };
    auto res = source().then(cont_gen("a")).then(cont_gen("b")).then(cont_gen("c"));
    static_assert(std::is_same_v<decltype(res), unsync::Unfuture<std::string>>);
    EXPECT_EQ(res.result(), "faffabc");
}

unsync::Unfuture<std::string> wait_for_it(unsync::Unfuture<std::string> future) {
    co_return co_await future;
}

TEST(OriginalFuture, FromValue) {
    auto future = unsync::Unfuture<std::string>::from_value("faff");
    EXPECT_TRUE(future.done());
    EXPECT_EQ(future.result(), "faff");
}

TEST(OriginalFuture, AwaitFromValue) {
    auto future = unsync::Unfuture<std::string>::from_value("faff");
    EXPECT_EQ(wait_for_it(future).result(), "faff");
}

// A std::future from a thread pool that has nothing to do with unsync.
unsync::Unfuture<std::string> concurrent_future(std::string result = "faff") {
    return unsync::Unfuture<std::string>(std::async(std::launch::async, [result] {
        std::this_thread::sleep_for(100ms);
        return result;
    }));
}

TEST(OriginalFuture, FromConcurrentFuture) {
    // The original reads it with a 0.2 s timeout; a generous one keeps a loaded machine green.
    EXPECT_EQ(concurrent_future().result(10s), "faff");
}

TEST(OriginalFuture, AwaitFromConcurrentFuture) {
    auto future = concurrent_future();
    EXPECT_EQ(wait_for_it(future).result(), "faff");
}

// --- decorator ------------------------------------------------------------------------------

class TestException : public std::exception {
public:
    const char* what() const noexcept override { return "TestException"; }
};

unsync::Unfuture<void> error() {
    co_await unsync::sleep(100ms);
    throw TestException();
}

TEST(OriginalDecorator, Exception) {
    EXPECT_THROW(error().result(), TestException);
}

unsync::Unfuture<void> sleeper(Calls* calls) {
    calls->push_back('a');
    co_await unsync::sleep(100ms);
    calls->push_back('b');
}

// Starts the sleepers from the loop thread, so that all of them are started in one loop turn
// whatever the main thread's scheduling: the order check then depends only on the library.
unsync::Unfuture<std::vector<unsync::Unfuture<void>>> start_sleepers(Calls* calls, int n) {
    std::vector<unsync::Unfuture<void>> tasks;
    for (int i = 0; i < n; ++i)
        tasks.push_back(sleeper(calls));
    co_return tasks;
}

TEST(OriginalDecorator, Parallelism) {
    Calls calls;
    const auto start = Clock::now();
    auto tasks = start_sleepers(&calls, 100).result();
    ASSERT_EQ(tasks.size(), 100u);
    for (auto& t : tasks)
        t.result();
    const auto elapsed = Clock::now() - start;
    ASSERT_EQ(calls.size(), 200u);
    EXPECT_TRUE(std::is_sorted(calls.begin(), calls.end()))
        << "a 'b' came before an 'a': the sleeps did not overlap";
    EXPECT_EQ(std::count(calls.begin(), calls.end(), 'a'), 100);
    EXPECT_LT(elapsed, 5s);  // sequentially it would take 10 s
}

TEST(OriginalDecorator, ParallelismStartedFromMain) {
    Calls calls;
    const auto start = Clock::now();
    std::vector<unsync::Unfuture<void>> tasks;
    for (int i = 0; i < 100; ++i)
        tasks.push_back(sleeper(&calls));
    for (auto& t : tasks)
        t.result();
    const auto elapsed = Clock::now() - start;
    EXPECT_EQ(std::count(calls.begin(), calls.end(), 'a'), 100);
    EXPECT_EQ(std::count(calls.begin(), calls.end(), 'b'), 100);
    EXPECT_LT(elapsed, 5s);
}

unsync::Unfuture<std::string> wrapper(unsync::Unfuture<std::string> future) {
    std::string result = co_await future;
    co_return result;
}

TEST(OriginalDecorator, UnfutureIntegration) {
    unsync::Unfuture<std::string> unfuture;
    auto result = wrapper(unfuture);
    const auto start = Clock::now();
    EXPECT_THROW((void)result.result(100ms), unsync::timeout_error);
    EXPECT_GE(Clock::now() - start, 100ms);
    EXPECT_FALSE(result.done());
    unfuture.set_result("faff");  // from the main thread
    // The original waits 0.1 s here; the value arrives at once, a long limit only avoids flakes.
    EXPECT_EQ(result.result(5s), "faff");
}

unsync::Unfuture<void> set_on_loop(unsync::Unfuture<std::string> future, std::string value) {
    co_await unsync::sleep(0ms);
    future.set_result(std::move(value));
}

TEST(OriginalDecorator, FutureCompletedOnTheLoop) {
    // The original's asyncio.Future completed through loop.call_soon_threadsafe.
    unsync::Unfuture<std::string> future;
    auto result = wrapper(future);
    EXPECT_THROW((void)result.result(100ms), unsync::timeout_error);
    EXPECT_FALSE(result.done());
    set_on_loop(future, "faff").result();
    EXPECT_EQ(result.result(5s), "faff");
}

unsync::Unfuture<std::string> existing_coroutine(std::string x) {
    co_await unsync::sleep(1ms);
    co_return x + "ff";
}

TEST(OriginalDecorator, WrapsAnExistingCoroutineFunction) {
    auto wrapped = unsync::unsync(existing_coroutine);
    static_assert(std::is_same_v<decltype(wrapped("fa")), unsync::Unfuture<std::string>>);
    EXPECT_EQ(wrapped("fa").result(), "faff");
}

TEST(OriginalDecorator, WrapsAStandardLibraryFunction) {
    auto to_string = unsync::unsync([](long v) { return std::to_string(v); });
    auto max = unsync::unsync([](int a, int b) { return std::max(a, b); });
    EXPECT_EQ(to_string(42L).result(), "42");
    EXPECT_EQ(max(4, 2).result(), 4);
}

class Class {
public:
    explicit Class(std::string suffix) : m_suffix(std::move(suffix)) {}
    unsync::Unfuture<std::string> wait() {
        co_await unsync::sleep(100ms);
        co_return "fa" + m_suffix;
    }
    std::string join(std::string prefix) const {
        std::this_thread::sleep_for(10ms);
        return prefix + m_suffix;
    }

private:
    std::string m_suffix;
};

TEST(OriginalDecorator, InstanceMethods) {
    Class obj("ff");
    EXPECT_EQ(obj.wait().result(), "faff");
    EXPECT_EQ(unsync::unsync(&Class::wait)(&obj).result(), "faff");
    auto join = unsync::unsync(&Class::join);
    static_assert(std::is_same_v<decltype(join(&obj, "fa")), unsync::Unfuture<std::string>>);
    EXPECT_EQ(join(&obj, "fa").result(), "faff");
    EXPECT_EQ(join(obj, "fa").result(), "faff");
}

TEST(OriginalDecorator, PassingArguments) {
    auto cpu_bound = unsync::unsync([](std::string a, std::string b) { return a + b; });
    EXPECT_EQ(cpu_bound("fa", std::string("ff")).result(), "faff");
}

// --- thread executor ------------------------------------------------------------------------

std::string non_async_work() {
    std::this_thread::sleep_for(100ms);
    return "faff";
}

std::string non_async_work_args(std::string arg, std::string kwarg) {
    std::this_thread::sleep_for(100ms);
    return arg + kwarg;
}

unsync::Unfuture<std::vector<std::string>> wait_all(
    std::vector<unsync::Unfuture<std::string>> futures) {
    std::vector<std::string> results;
    for (auto& f : futures)
        results.push_back(co_await f);
    co_return results;
}

TEST(OriginalThreadExecutor, UnsyncThreaded) {
    EXPECT_EQ(unsync::unsync(non_async_work)().result(), "faff");
}

TEST(OriginalThreadExecutor, UnsyncThreadedWithAwait) {
    auto future = unsync::unsync(non_async_work)();
    EXPECT_EQ(wait_for_it(future).result(), "faff");
}

TEST(OriginalThreadExecutor, UnsyncThreadedMultiple) {
    auto work = unsync::unsync(non_async_work);
    std::vector<unsync::Unfuture<std::string>> futures;
    for (int i = 0; i < 20; ++i)
        futures.push_back(work());
    const auto start = Clock::now();
    const auto results = wait_all(futures).result();
    EXPECT_LT(Clock::now() - start, 1500ms);  // 2 s if they ran one after another
    ASSERT_EQ(results.size(), 20u);
    for (const auto& r : results)
        EXPECT_EQ(r, "faff");
}

TEST(OriginalThreadExecutor, UnsyncThreadedWithArguments) {
    auto work = unsync::unsync(non_async_work_args);
    std::vector<unsync::Unfuture<std::string>> futures;
    for (int i = 0; i < 20; ++i)
        futures.push_back(work("fa", "ff"));
    const auto results = wait_all(futures).result();
    ASSERT_EQ(results.size(), 20u);
    for (const auto& r : results)
        EXPECT_EQ(r, "faff");
}

// --- custom event loop ----------------------------------------------------------------------

struct FaffLoop : unsync::EventLoop {
    std::string derp = "faff";
};

unsync::Unfuture<bool> method() {
    co_await unsync::sleep(0ms);
    co_return true;
}

TEST(OriginalCustomEventLoop, CustomEventLoop) {
    if (unsync::started()) {
        GTEST_SKIP() << "the runtime already started in this process; run this test alone "
                        "(ctest does)";
    }
    unsync::Options options;
    options.loop_factory = [] { return std::make_unique<FaffLoop>(); };
    unsync::set_options(options);

    EXPECT_TRUE(method().result());
    auto* loop = dynamic_cast<FaffLoop*>(&unsync::loop());
    ASSERT_NE(loop, nullptr);
    EXPECT_EQ(loop->derp, "faff");
}

}  // namespace
