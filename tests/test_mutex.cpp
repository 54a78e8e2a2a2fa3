// unsync::Mutex: one lock shared by coroutines and plain threads.

#include <unsync/mutex.hpp>

#include "support.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using unsync::Mutex;
using unsync::Unfuture;
using unsync_test::kSanitized;
using unsync_test::kWait;

Unfuture<void> add_under_lock(Mutex& m, long& counter, int times) {
    for (int i = 0; i < times; ++i) {
        auto lock = co_await m.lock_async();
        const long seen = counter;
        // A suspension inside the critical section: another task runs meanwhile, and must not
        // get in.
        if (i % 16 == 0)
            co_await unsync::sleep(std::chrono::milliseconds(0));
        counter = seen + 1;
    }
}

Unfuture<int> take_and_count(Mutex& m, std::atomic<int>& granted) {
    auto lock = co_await m.lock_async();
    granted.fetch_add(1);
    co_return 1;
}

// The same through `co_await m`, which takes a free mutex without a future.
Unfuture<void> add_under_awaited_lock(Mutex& m, long& counter, int times) {
    for (int i = 0; i < times; ++i) {
        std::unique_lock<Mutex> lock = co_await m;
        EXPECT_TRUE(lock.owns_lock());
        const long seen = counter;
        if (i % 16 == 0)
            co_await unsync::sleep(std::chrono::milliseconds(0));
        counter = seen + 1;
    }
}

Unfuture<int> await_and_count(Mutex& m, std::atomic<int>& granted) {
    auto lock = co_await m;
    granted.fetch_add(1);
    co_return 1;
}

// Records its id in `order` once it holds the lock, taken through co_await on the mutex.
Unfuture<void> await_and_record(Mutex& m, std::vector<int>& order, int id) {
    auto lock = co_await m;
    order.push_back(id);
}

Unfuture<void> unlock_on_loop(Mutex& m) {
    m.unlock();
    co_return;
}

Unfuture<bool> try_lock_blocking_on_loop(Mutex& m) {
    try {
        m.lock();
    } catch (const unsync::invalid_state_error&) {
        co_return true;
    }
    co_return false;
}

TEST(Mutex, CoroutinesAndThreadsExcludeEachOther) {
    Mutex m;
    long counter = 0;
    const int per = kSanitized ? 2000 : 10000;
    std::vector<Unfuture<void>> tasks;
    // Both coroutine forms: lock_async() and co_await on the mutex.
    for (int i = 0; i < 2; ++i) {
        tasks.push_back(add_under_lock(m, counter, per));
        tasks.push_back(add_under_awaited_lock(m, counter, per));
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < per; ++i) {
                std::scoped_lock lock(m);
                ++counter;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    for (auto& t : tasks)
        t.result(kWait);
    EXPECT_EQ(counter, 6L * per);
    EXPECT_TRUE(m.try_lock());
}

TEST(Mutex, WaitersAreServedInOrderAndTheLockIsHandedOver) {
    Mutex m;
    m.lock();
    auto a = m.lock_async();
    auto b = m.lock_async();
    EXPECT_FALSE(a.done());
    EXPECT_FALSE(b.done());
    m.unlock();
    ASSERT_TRUE(a.done());  // handed over by unlock() itself
    EXPECT_FALSE(b.done());
    EXPECT_FALSE(m.try_lock());  // a holds it: no barging
    {
        std::unique_lock<Mutex> lock = std::move(a).result();
        EXPECT_TRUE(lock.owns_lock());
    }
    ASSERT_TRUE(b.done());
    std::move(b).result().unlock();
    EXPECT_TRUE(m.try_lock());
    m.unlock();
}

TEST(Mutex, CoAwaitOnAHeldMutexQueuesBehindEarlierWaits) {
    Mutex m;
    m.lock();
    std::atomic<int> granted{0};
    auto first = m.lock_async();
    auto task = await_and_count(m, granted);
    m.unlock();
    ASSERT_TRUE(first.done());  // the earlier wait is served first
    EXPECT_EQ(granted.load(), 0);
    std::move(first).result().unlock();
    EXPECT_EQ(task.result(kWait), 1);
    EXPECT_EQ(granted.load(), 1);
    EXPECT_TRUE(m.try_lock());
    m.unlock();
}

TEST(Mutex, StdScopedLockTakesTwoAtOnce) {
    Mutex a;
    Mutex b;
    {
        std::scoped_lock both(a, b);
        EXPECT_FALSE(a.try_lock());
        EXPECT_FALSE(b.try_lock());
    }
    EXPECT_TRUE(a.try_lock());
    EXPECT_TRUE(b.try_lock());
    a.unlock();
    b.unlock();
}

TEST(Mutex, TryLockForTimesOutWhileHeldAndLeavesNoTrace) {
    Mutex m;
    auto held = m.lock_async().result(kWait);
    std::thread other([&] {
        const auto start = std::chrono::steady_clock::now();
        EXPECT_FALSE(m.try_lock_for(std::chrono::milliseconds(50)));
        EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
        EXPECT_FALSE(m.try_lock_until(std::chrono::system_clock::now()));
    });
    other.join();
    held.unlock();
    // The withdrawn waits are not granted: the mutex is free.
    EXPECT_TRUE(m.try_lock());
    m.unlock();
}

TEST(Mutex, ALockWaitedForFromAThreadIsGrantedWhenACoroutineUnlocks) {
    Mutex m;
    m.lock();
    std::atomic<bool> got{false};
    std::thread t([&] {
        EXPECT_TRUE(m.try_lock_for(kWait));
        got = true;
        m.unlock();
    });
    // The thread waits (or has not started); either way it gets the lock once released.
    unlock_on_loop(m).result(kWait);
    t.join();
    EXPECT_TRUE(got);
    EXPECT_TRUE(m.try_lock());
    m.unlock();
}

TEST(Mutex, CancellingAQueuedWaitWithdrawsIt) {
    Mutex m;
    m.lock();
    auto a = m.lock_async();
    auto b = m.lock_async();
    EXPECT_TRUE(a.cancel());
    EXPECT_TRUE(a.cancelled());
    m.unlock();
    ASSERT_TRUE(b.done());
    std::move(b).result().unlock();
    EXPECT_TRUE(m.try_lock());
    m.unlock();
}

// `co_await m` queues a wait kept in the coroutine's frame: cancelling one takes it out of the
// queue wherever it is, and the others keep their order.
TEST(Mutex, CancellingCoAwaitWaitsAnywhereInTheQueueKeepsTheOthersInOrder) {
    Mutex m;
    m.lock();
    std::vector<int> order;
    auto a = await_and_record(m, order, 1);
    auto b = await_and_record(m, order, 2);
    auto c = await_and_record(m, order, 3);
    unsync_test::loop_turns(1);  // each waits in co_await
    EXPECT_TRUE(c.cancel());     // the last wait
    EXPECT_CANCELLED(c);
    auto d = await_and_record(m, order, 4);  // queued after the one taken out
    unsync_test::loop_turns(1);
    EXPECT_TRUE(b.cancel());  // one in the middle
    EXPECT_CANCELLED(b);
    m.unlock();
    a.result(kWait);
    d.result(kWait);
    EXPECT_EQ(order, (std::vector<int>{1, 4}));
    EXPECT_TRUE(m.try_lock());
    m.unlock();
}

TEST(Mutex, WaitForTimesOutAndTheMutexStaysUsable) {
    Mutex m;
    m.lock();
    auto timed = unsync::wait_for(m.lock_async(), std::chrono::milliseconds(20));
    EXPECT_THROW((void)timed.result(kWait), unsync::timeout_error);
    m.unlock();
    EXPECT_TRUE(m.try_lock());
    m.unlock();
}

TEST(Mutex, BlockingOnTheLoopThreadIsAnError) {
    Mutex m;
    m.lock();
    EXPECT_TRUE(try_lock_blocking_on_loop(m).result(kWait));
    m.unlock();
}

// `take`: the coroutine that waits for the lock, through lock_async() or co_await on the mutex.
void cancelled_waiters_never_lose_the_lock(Unfuture<int> (*take)(Mutex&, std::atomic<int>&)) {
    const int iterations = kSanitized ? 3000 : 10000;
    std::atomic<int> granted{0};
    int cancelled = 0;
    for (int i = 0; i < iterations; ++i) {
        Mutex m;
        m.lock();
        auto task = take(m, granted);
        if (i % 2 == 0) {
            task.cancel();
            m.unlock();
        } else {
            m.unlock();
            task.cancel();
        }
        try {
            (void)task.result(kWait);
        } catch (const unsync::cancelled_error&) {
            ++cancelled;
        }
        // Granted or withdrawn, the lock is free again once the task is done.
        ASSERT_TRUE(m.try_lock()) << "iteration " << i;
        m.unlock();
    }
    EXPECT_EQ(granted.load() + cancelled, iterations);
}

TEST(Mutex, ACancelledWaiterNeverLosesTheLock) {
    cancelled_waiters_never_lose_the_lock(&take_and_count);
}

TEST(Mutex, ACoroutineCancelledInCoAwaitNeverLosesTheLock) {
    cancelled_waiters_never_lose_the_lock(&await_and_count);
}

TEST(Mutex, DestroyedWithWaitersFailsThemClearly) {
    auto m = std::make_unique<Mutex>();
    m->lock();
    auto waiting = m->lock_async();
    std::atomic<int> granted{0};
    auto awaiting = await_and_count(*m, granted);
    unsync_test::loop_turns(1);  // the coroutine waits in co_await
    m.reset();
    EXPECT_THROW((void)waiting.result(kWait), unsync::invalid_state_error);
    EXPECT_THROW((void)awaiting.result(kWait), unsync::invalid_state_error);
    EXPECT_EQ(granted.load(), 0);
}

// A plain thread destroys a mutex (locked, as waiters need) while coroutines wait in `co_await m`
// and the loop cancels them at the same moment. Each wait fails with cancelled_error or
// invalid_state_error, whichever came first; the loop's cancellation never touches the freed
// mutex, and nothing hangs.
TEST(Mutex, DestroyedAsTheLoopCancelsACoAwaitWaitFailsItClearly) {
    unsync_test::destroy_as_the_loop_cancels(
        [] {
            auto m = std::make_unique<Mutex>();
            m->lock();  // waiters need it held; the destructor fails them
            return m;
        },
        [](Mutex& m, std::atomic<int>& granted) { return await_and_count(m, granted); });
}

}  // namespace
