// unsync::Queue<T>: a FIFO between coroutines and plain threads.

#include <unsync/queue.hpp>

#include "support.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using unsync::Queue;
using unsync::Unfuture;
using unsync_test::kSanitized;
using unsync_test::kWait;

// How a coroutine pops: `co_await q.pop_async()`, or `co_await q` (a wait kept in its frame).
enum class Pop { future, in_frame };

template <class T>
Unfuture<T> pop_with(Queue<T>& q, Pop how) {
    if (how == Pop::in_frame)
        co_return co_await q;
    co_return co_await q.pop_async();
}

Unfuture<long> sum_until_closed(Queue<int>& q, int& count, Pop how = Pop::future) {
    long sum = 0;
    int last = -1;
    for (;;) {
        int v = 0;
        try {
            v = how == Pop::in_frame ? co_await q : co_await q.pop_async();
        } catch (const unsync::closed_error&) {
            co_return sum;
        }
        if (v != last + 1)
            throw std::logic_error("out of order");
        last = v;
        sum += v;
        ++count;
    }
}

Unfuture<void> push_range(Queue<int>& q, int from, int to) {
    for (int i = from; i < to; ++i)
        co_await q.push_async(i);
}

Unfuture<int> pop_one(Queue<int>& q, Pop how = Pop::future) {
    return pop_with(q, how);
}

void feed_a_coroutine(Pop how) {
    Queue<int> q(8);
    const int n = kSanitized ? 20000 : 100000;
    int count = 0;
    auto consumer = sum_until_closed(q, count, how);
    std::thread producer([&] {
        for (int i = 0; i < n; ++i)
            q.push(i);
        q.close();
    });
    EXPECT_EQ(consumer.result(kWait), static_cast<long>(n) * (n - 1) / 2);
    producer.join();
    EXPECT_EQ(count, n);
}

TEST(Queue, AThreadFeedsACoroutineInOrderWithBackPressure) {
    feed_a_coroutine(Pop::future);
}

TEST(Queue, AThreadFeedsACoroutineThatAwaitsTheQueueItself) {
    feed_a_coroutine(Pop::in_frame);
}

TEST(Queue, ACoroutineFeedsAThread) {
    Queue<int> q(4);
    const int n = 10000;
    auto producer = push_range(q, 0, n);
    long sum = 0;
    for (int i = 0; i < n; ++i) {
        const int v = q.pop();
        ASSERT_EQ(v, i);
        sum += v;
    }
    producer.result(kWait);
    EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
    EXPECT_EQ(q.size(), 0u);
}

TEST(Queue, APushWaitsWhileFullAndGoesInOnAPop) {
    Queue<int> q(2);
    EXPECT_TRUE(q.push_async(1).done());
    EXPECT_TRUE(q.push_async(2).done());
    auto third = q.push_async(3);
    EXPECT_FALSE(third.done());
    int item = 4;
    EXPECT_FALSE(q.try_push(item));
    EXPECT_EQ(q.pop(), 1);
    EXPECT_TRUE(third.done());
    EXPECT_EQ(q.pop(), 2);
    EXPECT_EQ(q.pop(), 3);
    EXPECT_FALSE(q.try_pop().has_value());
}

TEST(Queue, CloseDrainsThenEnds) {
    Queue<int> q(1);
    q.push(1);
    auto waiting_push = q.push_async(2);
    q.close();
    EXPECT_TRUE(q.closed());
    EXPECT_THROW(q.push(3), unsync::closed_error);
    EXPECT_THROW((void)q.push_async(3), unsync::closed_error);
    EXPECT_EQ(q.pop(), 1);
    EXPECT_EQ(q.pop(), 2);  // a push that waited before close() still goes in
    EXPECT_TRUE(waiting_push.done());
    EXPECT_THROW((void)q.pop(), unsync::closed_error);
    EXPECT_THROW((void)q.pop_async().result(kWait), unsync::closed_error);
}

TEST(Queue, CloseEndsWaitingPops) {
    Queue<int> q;
    auto a = pop_one(q);
    auto b = pop_one(q, Pop::in_frame);
    unsync_test::loop_turns();
    std::thread t([&] { EXPECT_THROW((void)q.pop(), unsync::closed_error); });
    q.close();
    EXPECT_THROW((void)a.result(kWait), unsync::closed_error);
    EXPECT_THROW((void)b.result(kWait), unsync::closed_error);
    EXPECT_THROW((void)pop_one(q, Pop::in_frame).result(kWait), unsync::closed_error);
    t.join();
}

TEST(Queue, TimedFormsTimeOutAndKeepTheItem) {
    Queue<std::unique_ptr<int>> q(1);
    q.push(std::make_unique<int>(1));
    auto item = std::make_unique<int>(2);
    std::thread t([&] { EXPECT_FALSE(q.try_push_for(item, std::chrono::milliseconds(20))); });
    t.join();
    ASSERT_TRUE(item);  // not taken: still the caller's
    EXPECT_EQ(*item, 2);
    EXPECT_EQ(*q.pop(), 1);
    std::thread u([&] { EXPECT_FALSE(q.try_pop_for(std::chrono::milliseconds(20))); });
    u.join();
    EXPECT_TRUE(q.try_push(item));
    EXPECT_FALSE(item);
    auto popped = q.try_pop_for(std::chrono::seconds(0));
    ASSERT_TRUE(popped.has_value());
    EXPECT_EQ(**popped, 2);
}

TEST(Queue, MoveOnlyItemsPassThroughCoroutines) {
    Queue<std::unique_ptr<int>> q;
    q.push_async(std::make_unique<int>(7)).result(kWait);
    std::unique_ptr<int> p = q.pop_async().result(kWait);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 7);
    auto awaited = pop_with(q, Pop::in_frame);
    q.push(std::make_unique<int>(8));
    p = std::move(awaited).result(kWait);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 8);
}

// A pop cancelled while an item is handed to it: the item is either returned by that pop or
// still in the queue, never lost.
void no_item_lost_when_pops_are_cancelled(Pop how) {
    const int iterations = kSanitized ? 3000 : 10000;
    Queue<int> q;
    long received = 0;
    int cancelled = 0;
    for (int i = 0; i < iterations; ++i) {
        auto pop = pop_one(q, how);
        if (i % 2 == 0) {
            pop.cancel();
            q.push(i);
        } else {
            q.push(i);
            pop.cancel();
        }
        try {
            ASSERT_EQ(pop.result(kWait), i);
            ++received;
        } catch (const unsync::cancelled_error&) {
            ++cancelled;
            auto left = q.try_pop();
            ASSERT_TRUE(left.has_value()) << "item " << i << " was lost";
            ASSERT_EQ(*left, i);
            ++received;
        }
    }
    EXPECT_EQ(received, iterations);
    EXPECT_GT(cancelled, 0);
}

TEST(Queue, NoItemIsLostWhenPopsAreCancelledAsItemsArrive) {
    no_item_lost_when_pops_are_cancelled(Pop::future);
}

TEST(Queue, NoItemIsLostWhenCoAwaitPopsAreCancelledAsItemsArrive) {
    no_item_lost_when_pops_are_cancelled(Pop::in_frame);
}

TEST(Queue, WaitForAPopTimesOutWithoutLosingALaterItem) {
    Queue<int> q;
    EXPECT_THROW((void)unsync::wait_for(q.pop_async(), std::chrono::milliseconds(10)).result(kWait),
                 unsync::timeout_error);
    q.push(5);
    EXPECT_EQ(q.pop(), 5);
}

TEST(Queue, DestroyedWithWaitersFailsThemClearly) {
    auto q = std::make_unique<Queue<int>>();
    auto waiting = q->pop_async();
    q.reset();
    EXPECT_THROW((void)waiting.result(kWait), unsync::invalid_state_error);
}

// As Mutex's test of the same name, with coroutines waiting in `co_await q` on an empty queue.
TEST(Queue, DestroyedAsTheLoopCancelsACoAwaitWaitFailsItClearly) {
    unsync_test::destroy_as_the_loop_cancels(
        [] { return std::make_unique<Queue<int>>(); },
        [](Queue<int>& q, std::atomic<int>& granted) -> Unfuture<int> {
            int v = co_await q;
            granted.fetch_add(1);
            co_return v;
        });
}

TEST(Queue, ACapacityOfZeroIsRefused) {
    EXPECT_THROW(Queue<int>(0), std::invalid_argument);
}

}  // namespace
