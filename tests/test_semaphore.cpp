// unsync::Semaphore: permits shared by coroutines and plain threads.

#include <unsync/semaphore.hpp>

#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using unsync::Semaphore;
using unsync::Unfuture;
using unsync_test::kSanitized;
using unsync_test::kWait;

struct InFlight {
    std::atomic<int> now{0};
    std::atomic<int> peak{0};
    std::atomic<int> total{0};
    void enter() {
        const int n = now.fetch_add(1) + 1;
        int p = peak.load();
        while (n > p && !peak.compare_exchange_weak(p, n)) {
        }
        total.fetch_add(1);
    }
    void leave() { now.fetch_sub(1); }
};

// `co_await s` (direct) or `co_await s.acquire_async()`: the same permit, with or without a
// future.
Unfuture<Semaphore::Permit> take_permit(Semaphore& s, bool direct) {
    if (direct)
        co_return co_await s;
    co_return co_await s.acquire_async();
}

Unfuture<void> use_permits(Semaphore& s, InFlight& f, int times, bool direct = false) {
    for (int i = 0; i < times; ++i) {
        Semaphore::Permit permit;
        if (direct) {
            permit = co_await s;
        } else {
            permit = co_await s.acquire_async();
        }
        EXPECT_TRUE(permit);
        f.enter();
        if (i % 8 == 0)
            co_await unsync::sleep(std::chrono::milliseconds(0));
        f.leave();
    }
}

Unfuture<int> hold_one(Semaphore& s, std::atomic<int>& granted, bool direct = false) {
    Semaphore::Permit permit;
    if (direct) {
        permit = co_await s;
    } else {
        permit = co_await s.acquire_async();
    }
    granted.fetch_add(1);
    co_return 1;
}

TEST(Semaphore, AtMostItsPermitsAreHeldAcrossThreadsAndCoroutines) {
    Semaphore s(3);
    InFlight f;
    const int per = kSanitized ? 2000 : 10000;
    std::vector<Unfuture<void>> tasks;
    for (int i = 0; i < 4; ++i)
        tasks.push_back(use_permits(s, f, per));
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < per; ++i) {
                s.acquire();
                f.enter();
                f.leave();
                s.release();
            }
        });
    }
    for (auto& t : threads)
        t.join();
    for (auto& t : tasks)
        t.result(kWait);
    EXPECT_EQ(f.total.load(), 6 * per);
    EXPECT_LE(f.peak.load(), 3);
    EXPECT_EQ(s.available(), 3);
}

TEST(Semaphore, APermitGoesBackWhenItsHolderGoes) {
    Semaphore s(1);
    {
        Semaphore::Permit p = s.acquire_async().result(kWait);
        EXPECT_TRUE(p);
        EXPECT_EQ(s.available(), 0);
        EXPECT_FALSE(s.try_acquire());
    }
    EXPECT_EQ(s.available(), 1);
}

TEST(Semaphore, ReleasedPermitsGoToWaitersInOrder) {
    Semaphore s(0);
    auto a = s.acquire_async();
    auto b = s.acquire_async();
    auto c = s.acquire_async();
    s.release(2);
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(b.done());
    EXPECT_FALSE(c.done());
    EXPECT_EQ(s.available(), 0);
    { auto p = std::move(a).result(); }
    EXPECT_TRUE(c.done());
}

TEST(Semaphore, ABoundedSemaphoreRefusesAReleaseAboveItsMaximum) {
    Semaphore s(1, 1);
    EXPECT_THROW(s.release(), unsync::invalid_state_error);
    EXPECT_EQ(s.available(), 1);
    EXPECT_THROW(s.release(-1), std::invalid_argument);
    EXPECT_THROW(Semaphore(2, 1), std::invalid_argument);
    s.acquire();
    s.release();
    EXPECT_EQ(s.available(), 1);
}

TEST(Semaphore, TryAcquireForTimesOutAndLeavesNoTrace) {
    Semaphore s(0);
    std::thread t([&] { EXPECT_FALSE(s.try_acquire_for(std::chrono::milliseconds(30))); });
    t.join();
    s.release();
    EXPECT_EQ(s.available(), 1);  // not granted to the withdrawn wait
}

TEST(Semaphore, CancellingAQueuedWaitWithdrawsIt) {
    Semaphore s(0);
    auto a = s.acquire_async();
    auto b = s.acquire_async();
    EXPECT_TRUE(a.cancel());
    s.release();
    EXPECT_TRUE(b.done());
    { auto p = std::move(b).result(); }
    EXPECT_EQ(s.available(), 1);
}

void cancelled_waiters_lose_no_permit(bool direct) {
    const int iterations = kSanitized ? 3000 : 10000;
    std::atomic<int> granted{0};
    int cancelled = 0;
    Semaphore s(0);
    for (int i = 0; i < iterations; ++i) {
        auto task = hold_one(s, granted, direct);
        if (i % 2 == 0) {
            task.cancel();
            s.release();
        } else {
            s.release();
            task.cancel();
        }
        try {
            (void)task.result(kWait);
        } catch (const unsync::cancelled_error&) {
            ++cancelled;
        }
        ASSERT_EQ(s.available(), 1) << "iteration " << i;
        s.acquire();
    }
    EXPECT_EQ(granted.load() + cancelled, iterations);
}

TEST(Semaphore, ACancelledWaiterNeverLosesAPermit) {
    cancelled_waiters_lose_no_permit(false);
}

TEST(Semaphore, ACoroutineCancelledInCoAwaitNeverLosesAPermit) {
    cancelled_waiters_lose_no_permit(true);
}

TEST(Semaphore, CoAwaitOnTheSemaphoreTakesAFreePermitOrWaitsItsTurn) {
    Semaphore s(1);
    InFlight f;
    const int per = kSanitized ? 500 : 2000;
    auto a = use_permits(s, f, per, true);
    auto b = use_permits(s, f, per, false);
    auto c = use_permits(s, f, per, true);
    a.result(kWait);
    b.result(kWait);
    c.result(kWait);
    EXPECT_EQ(f.peak.load(), 1);
    EXPECT_EQ(f.total.load(), 3 * per);
    EXPECT_EQ(s.available(), 1);
    // A held semaphore: the awaited form queues behind the earlier wait.
    auto held = take_permit(s, true).result(kWait);
    auto first = s.acquire_async();
    auto second = take_permit(s, true);
    held.release();
    ASSERT_TRUE(first.done());
    EXPECT_FALSE(second.done());
    { auto permit = std::move(first).result(); }
    // Moved out: a Permit left in the task's state would go with its last reference, which the
    // loop may drop after this test has destroyed the semaphore.
    EXPECT_TRUE(std::move(second).result(kWait));
}

TEST(Semaphore, DestroyedWithWaitersFailsThemClearly) {
    auto s = std::make_unique<Semaphore>(0);
    auto waiting = s->acquire_async();
    s.reset();
    EXPECT_THROW((void)waiting.result(kWait), unsync::invalid_state_error);
}

// As Mutex's test of the same name: a plain thread destroys a semaphore while coroutines wait in
// `co_await s` and the loop cancels them at the same moment.
TEST(Semaphore, DestroyedAsTheLoopCancelsACoAwaitWaitFailsItClearly) {
    unsync_test::destroy_as_the_loop_cancels(
        [] { return std::make_unique<Semaphore>(0); },
        [](Semaphore& s, std::atomic<int>& granted) { return hold_one(s, granted, true); });
}

}  // namespace
