// unsync::Event: a flag coroutines and plain threads wait on together.

#include <unsync/event.hpp>

#include "support.hpp"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace {

using unsync::Event;
using unsync::Unfuture;
using unsync_test::kSanitized;
using unsync_test::kWait;

Unfuture<int> wait_then(Event& e, int value) {
    co_await e.wait_async();
    co_return value;
}

// Ping-pong between a coroutine and a thread through two events.
Unfuture<int> pong(Event& ping, Event& pong, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        co_await ping.wait_async();
        ping.clear();
        pong.set();
    }
    co_return rounds;
}

TEST(Event, SetWakesCoroutinesAndThreadsAlike) {
    Event e;
    auto a = wait_then(e, 1);
    auto b = wait_then(e, 2);
    std::atomic<bool> thread_woke{false};
    std::thread t([&] {
        e.wait();
        thread_woke = true;
    });
    unsync_test::loop_turns();
    EXPECT_FALSE(a.done());
    EXPECT_FALSE(thread_woke);
    e.set();
    EXPECT_EQ(a.result(kWait), 1);
    EXPECT_EQ(b.result(kWait), 2);
    t.join();
    EXPECT_TRUE(thread_woke);
}

TEST(Event, WaitsEndAtOnceUntilCleared) {
    Event e;
    e.set();
    EXPECT_TRUE(e.is_set());
    EXPECT_TRUE(e.wait_async().done());
    EXPECT_TRUE(e.wait_for(std::chrono::seconds(0)));
    e.clear();
    EXPECT_FALSE(e.is_set());
    EXPECT_FALSE(e.wait_async().done());
    EXPECT_FALSE(e.wait_for(std::chrono::milliseconds(20)));
}

TEST(Event, NoWakeUpIsLostBetweenAThreadAndACoroutine) {
    const int rounds = kSanitized ? 2000 : 10000;
    Event ping;
    Event pong_event;
    auto task = pong(ping, pong_event, rounds);
    for (int i = 0; i < rounds; ++i) {
        ping.set();
        ASSERT_TRUE(pong_event.wait_for(kWait)) << "round " << i;
        pong_event.clear();
    }
    EXPECT_EQ(task.result(kWait), rounds);
}

TEST(Event, ACancelledWaitIsWithdrawn) {
    Event e;
    auto a = e.wait_async();
    EXPECT_TRUE(a.cancel());
    EXPECT_TRUE(a.cancelled());
    e.set();
    EXPECT_TRUE(a.cancelled());
}

TEST(Event, DestroyedWithWaitersFailsThemClearly) {
    auto e = std::make_unique<Event>();
    auto waiting = e->wait_async();
    e.reset();
    EXPECT_THROW((void)waiting.result(kWait), unsync::invalid_state_error);
}

}  // namespace
