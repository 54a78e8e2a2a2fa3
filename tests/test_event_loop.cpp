// EventLoop: the ambient loop thread, its io_context (Asio objects complete on the loop thread),
// an idle loop that costs no CPU, and the lifecycle of a loop object of one's own.

#include <unsync/unsync.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using unsync::Unfuture;
using unsync_test::Clock;
using unsync_test::current_thread_id;
using unsync_test::kWait;

namespace {

Unfuture<bool> in_loop_thread_from_coroutine() {
    co_return unsync::loop().in_loop_thread();
}

// An Asio timer used from a coroutine: its handler completes an Unfuture the coroutine awaits.
Unfuture<Clock::duration> wait_on_asio_timer(std::chrono::milliseconds d) {
    const auto t0 = Clock::now();
    asio::steady_timer timer(unsync::loop().io_context(), d);
    Unfuture<std::thread::id> fired;
    timer.async_wait([fired](const std::error_code& ec) {
        if (ec) {
            fired.set_exception(std::system_error(ec));
        } else {
            fired.set_result(std::this_thread::get_id());
        }
    });
    const std::thread::id handler_thread = co_await fired;
    if (handler_thread != std::this_thread::get_id())
        throw std::runtime_error("wrong thread");
    co_return Clock::now() - t0;
}

// Posts an io_context handler, then keeps yielding until it has run; returns the yields needed.
Unfuture<int> yield_until_handler_runs() {
    auto ran = std::make_shared<bool>(false);  // loop thread only
    asio::post(unsync::loop().io_context(), [ran] { *ran = true; });
    int yields = 0;
    while (!*ran && yields < 1000) {
        co_await unsync::sleep(0ms);
        ++yields;
    }
    co_return yields;
}

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

TEST(EventLoop, InLoopThread) {
    EXPECT_FALSE(unsync::loop().in_loop_thread());
    EXPECT_TRUE(in_loop_thread_from_coroutine().result(kWait));
    // Nor is a thread-pool thread the loop thread.
    EXPECT_FALSE(unsync::thread_executor()
                     .submit([] { return unsync::loop().in_loop_thread(); })
                     .result(kWait));
}

TEST(EventLoop, ThreadIdIsTheAmbientThread) {
    const auto id = unsync::loop().thread_id();
    EXPECT_EQ(id, unsync::thread());
    EXPECT_NE(id, std::thread::id{});
    EXPECT_NE(id, std::this_thread::get_id());
    EXPECT_EQ(current_thread_id().result(kWait), id);
    EXPECT_EQ(&unsync::loop(), &unsync::loop());
}

TEST(EventLoop, AsioTimerHandlerRunsOnTheLoopThread) {
    asio::steady_timer timer(unsync::loop().io_context(), 20ms);
    Unfuture<std::thread::id> fired;
    const auto t0 = Clock::now();
    timer.async_wait([fired](const std::error_code& ec) {
        if (ec) {
            fired.set_exception(std::system_error(ec));
        } else {
            fired.set_result(std::this_thread::get_id());
        }
    });
    EXPECT_EQ(fired.result(kWait), unsync::thread());
    EXPECT_GE(Clock::now() - t0, 20ms);
}

TEST(EventLoop, AsioTimerAwaitedFromACoroutine) {
    const auto took = wait_on_asio_timer(30ms).result(kWait);
    EXPECT_GE(took, 30ms);
    EXPECT_LT(took, 10s);
}

TEST(EventLoop, PostedHandlerRunsOnTheLoopThread) {
    Unfuture<std::thread::id> ran;
    asio::post(unsync::loop().io_context(), [ran] { ran.set_result(std::this_thread::get_id()); });
    EXPECT_EQ(ran.result(kWait), unsync::thread());
}

TEST(EventLoop, PostedHandlersRunInOrder) {
    auto order = std::make_shared<std::vector<int>>();  // loop thread only until `last` is done
    Unfuture<void> last;
    for (int i = 0; i < 50; ++i) {
        asio::post(unsync::loop().io_context(), [order, i] { order->push_back(i); });
    }
    asio::post(unsync::loop().io_context(), [last] { last.set_result(); });
    last.result(kWait);
    ASSERT_EQ(order->size(), 50u);
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ((*order)[static_cast<std::size_t>(i)], i);
}

TEST(EventLoop, IoHandlersAreNotStarvedByAYieldingCoroutine) {
    // A busy loop polls the io_context at least every 64 task steps (LoopImpl's
    // k_tasks_per_poll), so a ready handler waits for no more than that many yields.
    const int yields = yield_until_handler_runs().result(kWait);
    EXPECT_GE(yields, 1);
    EXPECT_LE(yields, 65);
}

TEST(EventLoop, IdleRuntimeUsesNoCpu) {
    // Start everything and use it once, so that the loop has something to go idle after.
    EXPECT_EQ(current_thread_id().result(kWait), unsync::thread());
    EXPECT_EQ(unsync::thread_executor().submit([] { return 1; }).result(kWait), 1);

    const double cpu0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(300ms);  // the idle interval being measured
    const double cpu = process_cpu_seconds() - cpu0;
    const auto wall = Clock::now() - t0;
    EXPECT_GE(wall, 300ms);
    EXPECT_LT(cpu, 0.030) << "the idle runtime used " << cpu * 1000 << " ms of CPU in "
                          << std::chrono::duration<double, std::milli>(wall).count() << " ms";
}

TEST(EventLoop, IdleRuntimeWithASleepingTaskUsesNoCpu) {
    // A pending timer far in the future must not make the loop poll.
    Unfuture<void> release;
    auto sleeper = []() -> Unfuture<int> {
        co_await unsync::sleep(1h);  // still pending when the process exits
        co_return 1;
    };
    auto waiter = [](Unfuture<void> r) -> Unfuture<int> {
        co_await r;
        co_return 2;
    };
    auto s = sleeper();
    auto w = waiter(release);
    EXPECT_EQ(current_thread_id().result(kWait), unsync::thread());  // both have started

    const double cpu0 = process_cpu_seconds();
    std::this_thread::sleep_for(300ms);
    const double cpu = process_cpu_seconds() - cpu0;
    EXPECT_LT(cpu, 0.030) << "the idle runtime used " << cpu * 1000 << " ms of CPU";

    release.set_result();
    EXPECT_EQ(w.result(kWait), 2);
    EXPECT_FALSE(s.done());
}

// ---------------------------------------------------------------------------------------------
// A loop object of one's own (what a loop factory returns); not the ambient loop.
// ---------------------------------------------------------------------------------------------

TEST(EventLoopObject, ThreadIdIsSetByStart) {
    unsync::EventLoop loop;
    EXPECT_EQ(loop.thread_id(), std::thread::id{});
    EXPECT_FALSE(loop.in_loop_thread());
    loop.start();
    EXPECT_NE(loop.thread_id(), std::thread::id{});
    EXPECT_NE(loop.thread_id(), std::this_thread::get_id());
    EXPECT_FALSE(loop.in_loop_thread());
    loop.stop();
}

TEST(EventLoopObject, HandlersRunOnItsThread) {
    unsync::EventLoop loop;
    loop.start();
    std::promise<std::pair<std::thread::id, bool>> seen;
    asio::post(loop.io_context(), [&seen, &loop] {
        seen.set_value({std::this_thread::get_id(), loop.in_loop_thread()});
    });
    auto fut = seen.get_future();
    ASSERT_EQ(fut.wait_for(kWait), std::future_status::ready);
    const auto [id, in_loop] = fut.get();
    EXPECT_EQ(id, loop.thread_id());
    EXPECT_TRUE(in_loop);
    loop.stop();
}

TEST(EventLoopObject, SecondStartThrows) {
    unsync::EventLoop loop;
    loop.start();
    EXPECT_THROW(loop.start(), unsync::invalid_state_error);
    loop.stop();
    // Nor can a stopped loop be started again.
    EXPECT_THROW(loop.start(), unsync::invalid_state_error);
}

TEST(EventLoopObject, StopIsIdempotentAndWorksBeforeStart) {
    {
        unsync::EventLoop never_started;
        never_started.stop();
        never_started.stop();
    }
    unsync::EventLoop loop;
    loop.start();
    loop.stop();
    loop.stop();
    // The destructor stops it a third time.
}

TEST(EventLoopObject, DestructorJoinsAStartedLoop) {
    auto loop = std::make_unique<unsync::EventLoop>();
    loop->start();
    std::promise<void> ran;
    asio::post(loop->io_context(), [&ran] { ran.set_value(); });
    EXPECT_EQ(ran.get_future().wait_for(kWait), std::future_status::ready);
    loop.reset();  // must return: stops and joins the thread
    SUCCEED();
}

// A coroutine suspended on an Unfuture that is completed from another EventLoop's thread must
// still resume on the ambient loop thread (the seed: set_result is thread-safe, and coroutines
// run on unsync.thread). Run in a child process: a failure here may corrupt the loops.
namespace {

Unfuture<std::thread::id> resume_thread_after(Unfuture<int> f) {
    co_await f;
    co_return std::this_thread::get_id();
}

[[noreturn]] void complete_from_another_loop() {
    Unfuture<int> f;
    auto task = resume_thread_after(f);
    // Coroutines start in call order: once this one ran, `task` is suspended in `co_await f`.
    (void)current_thread_id().result(kWait);
    unsync::EventLoop other;
    other.start();
    std::promise<void> posted;
    asio::post(other.io_context(), [f, &posted] {
        f.set_result(1);
        posted.set_value();
    });
    posted.get_future().wait();
    bool ok = false;
    try {
        ok = task.result(kWait) == unsync::thread();
    } catch (...) {
    }
    other.stop();
    std::fprintf(stderr, "resumed on the ambient loop: %s\n", ok ? "yes" : "no");
    std::exit(ok ? 0 : 1);
}

}  // namespace

TEST(EventLoopObject, CompletingFromAnotherLoopResumesOnTheAmbientLoop) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(complete_from_another_loop(), ::testing::ExitedWithCode(0),
                "resumed on the ambient loop: yes");
}
