// unsync::sleep: suspends the calling coroutine on the loop's timers without blocking the loop.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using unsync::Unfuture;
using unsync_test::Clock;
using unsync_test::kWait;
using unsync_test::Log;
using unsync_test::loop_turns;
using unsync_test::make_log;

namespace {

// Returns how long the sleep took, measured in the coroutine.
Unfuture<Clock::duration> timed_sleep(Clock::duration d) {
    const auto t0 = Clock::now();
    co_await unsync::sleep(d);
    co_return Clock::now() - t0;
}

Unfuture<std::thread::id> thread_after_sleep() {
    co_await unsync::sleep(1ms);
    co_return std::this_thread::get_id();
}

Unfuture<int> quick(int v) {
    co_return v;
}

Unfuture<void> log_line(std::string what, Log log) {
    log->push_back(std::move(what));
    co_return;
}

Unfuture<void> yield_between(std::string name, Log log) {
    log->push_back(name + "1");
    co_await unsync::sleep(0ms);
    log->push_back(name + "2");
}

// Both tasks are in the ready queue at once, `a` first.
Unfuture<void> yield_driver(Log log) {
    auto a = yield_between("a", log);
    auto b = log_line("b", log);
    co_await a;
    co_await b;
}

Unfuture<void> sleep_and_log(std::chrono::milliseconds d, Log log) {
    co_await unsync::sleep(d);
    log->push_back(std::to_string(d.count()));
}

// Starts the sleepers from the loop thread so that their deadlines are set within one turn.
Unfuture<void> deadline_driver(std::vector<std::chrono::milliseconds> ds, Log log) {
    std::vector<Unfuture<void>> tasks;
    for (auto d : ds)
        tasks.push_back(sleep_and_log(d, log));
    for (auto& t : tasks)
        co_await t;
}

Unfuture<Clock::duration> sequential_sleeps(int n, Clock::duration each) {
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i)
        co_await unsync::sleep(each);
    co_return Clock::now() - t0;
}

template <class D>
Unfuture<int> sleep_by(D d) {
    co_await unsync::sleep(d);
    co_return 1;
}

Unfuture<int> sleep_negative() {
    co_await unsync::sleep(-1s);
    co_return 1;
}

}  // namespace

TEST(Sleep, SuspendsForAtLeastTheDuration) {
    const auto took = timed_sleep(50ms).result(kWait);
    EXPECT_GE(took, 50ms);
    EXPECT_LT(took, 5s);
}

TEST(Sleep, ResumesOnTheLoopThread) {
    EXPECT_EQ(thread_after_sleep().result(kWait), unsync::thread());
}

TEST(Sleep, SleepingCoroutinesDoNotBlockTheLoop) {
    // Two sleepers as in the seed; then many more: were sleep to block the loop thread, 20
    // sleeps of 200 ms would take 4 s.
    const auto t0 = Clock::now();
    auto a = timed_sleep(200ms);
    auto b = timed_sleep(200ms);
    const auto took_a = a.result(kWait);
    const auto took_b = b.result(kWait);
    EXPECT_LT(Clock::now() - t0, 1s);
    EXPECT_GE(took_a, 195ms);
    EXPECT_GE(took_b, 195ms);

    const auto t1 = Clock::now();
    std::vector<Unfuture<Clock::duration>> tasks;
    for (int i = 0; i < 20; ++i)
        tasks.push_back(timed_sleep(200ms));
    for (auto& t : tasks)
        EXPECT_GE(t.result(kWait), 195ms);
    EXPECT_LT(Clock::now() - t1, 1500ms);
}

TEST(Sleep, OtherCoroutinesRunWhileOneSleeps) {
    auto sleeper = timed_sleep(500ms);
    EXPECT_EQ(quick(7).result(kWait), 7);
    // The quick task did not wait for the sleeper.
    EXPECT_FALSE(sleeper.done());
    EXPECT_GE(sleeper.result(kWait), 495ms);
}

TEST(Sleep, HundredSleepersFinishTogether) {
    const auto t0 = Clock::now();
    std::vector<Unfuture<Clock::duration>> tasks;
    for (int i = 0; i < 100; ++i)
        tasks.push_back(timed_sleep(100ms));
    for (auto& t : tasks)
        EXPECT_GE(t.result(kWait), 95ms);
    EXPECT_LT(Clock::now() - t0, 5s);
}

TEST(Sleep, ZeroSleepYieldsToOtherReadyTasks) {
    auto log = make_log();
    yield_driver(log).result(kWait);
    const std::vector<std::string> expected{"a1", "b", "a2"};
    EXPECT_EQ(*log, expected);
}

TEST(Sleep, NegativeDurationBehavesLikeZero) {
    EXPECT_EQ(sleep_negative().result(kWait), 1);
}

TEST(Sleep, HugeDurationDoesNotWrapAround) {
    // The deadline must saturate, not overflow into the past (which would wake at once).
    auto by_hours = sleep_by(std::chrono::hours::max());
    auto by_ticks = sleep_by(Clock::duration::max());
    // Timers fire in deadline order: once a 50 ms sleep is over, any wrapped deadline would have
    // fired too.
    EXPECT_GE(timed_sleep(50ms).result(kWait), 50ms);
    EXPECT_FALSE(by_hours.done());
    EXPECT_FALSE(by_ticks.done());
    // (Both are still sleeping at exit, where shutdown cancels them.)
}

TEST(Sleep, TimersFireInDeadlineOrder) {
    // 50 ms apart: the sleepers set their deadlines one after another in one loop turn, so a
    // loaded machine that preempts the loop thread between two of them shifts the later ones.
    auto log = make_log();
    deadline_driver({150ms, 50ms, 100ms}, log).result(kWait);
    const std::vector<std::string> expected{"50", "100", "150"};
    EXPECT_EQ(*log, expected);
}

// When each sleeper set its deadline is known only within bounds: after `before`, and before the
// next sleeper on the loop took its own `before`.
struct SleepRecord {
    std::vector<Clock::time_point> before;  // by sleeper
    std::vector<int> started;               // sleepers in the order they set their deadlines
    std::vector<int> woke;                  // in the order they woke
};

Unfuture<void> recorded_sleep(int i, Clock::duration d, std::shared_ptr<SleepRecord> r) {
    r->before[static_cast<std::size_t>(i)] = Clock::now();
    r->started.push_back(i);
    co_await unsync::sleep(d);
    r->woke.push_back(i);
}

TEST(Sleep, ThousandsOfSleepsWakeInDeadlineOrderWhileCancelledOnesArePurged) {
    // 2,000 sleeps 0.1 ms apart across 100 ms, among 3,000 one-hour sleeps that are cancelled
    // at once: their stale entries are purged from the timer heap while the short ones wait
    // (the first wakes 300 ms in, time enough for the setup even under a sanitizer).
    constexpr int n = 2000;
    auto record = std::make_shared<SleepRecord>();
    record->before.resize(n);
    std::vector<Clock::duration> duration(n);
    std::vector<Unfuture<void>> sleepers;
    std::vector<Unfuture<Clock::duration>> cancelled;
    for (int i = 0; i < n; ++i) {
        duration[i] = 300ms + (i * 7919 % 1000) * 100us;
        sleepers.push_back(recorded_sleep(i, duration[i], record));
        for (int j = 0; j < 3 && i % 2 == 0; ++j)
            cancelled.push_back(timed_sleep(1h));
    }
    loop_turns(1);  // all asleep, or the short ones already awake
    for (auto& c : cancelled)
        EXPECT_TRUE(c.cancel());
    for (auto& s : sleepers)
        s.result(kWait);
    for (auto& c : cancelled)
        EXPECT_THROW(c.result(kWait), unsync::cancelled_error);

    ASSERT_EQ(record->woke.size(), static_cast<std::size_t>(n));
    ASSERT_EQ(record->started.size(), static_cast<std::size_t>(n));
    // Bounds of each sleeper's deadline.
    std::vector<Clock::time_point> earliest(n), latest(n, Clock::time_point::max());
    for (std::size_t k = 0; k < record->started.size(); ++k) {
        const int i = record->started[k];
        earliest[i] = record->before[i] + duration[i];
        if (k + 1 < record->started.size())
            latest[i] = record->before[record->started[k + 1]] + duration[i];
    }
    // Woken in deadline order: a sleeper that woke after another cannot have a deadline
    // certainly earlier than it.
    Clock::time_point latest_earliest = Clock::time_point::min();
    for (const int i : record->woke) {
        ASSERT_LE(latest_earliest, latest[i]) << "sleeper " << i << " woke out of order";
        latest_earliest = std::max(latest_earliest, earliest[i]);
    }
}

Unfuture<void> sleep_past_its_deadline_then_log(Log log) {
    auto s = unsync::sleep(2ms);
    // The deadline passes before the task suspends (a long step, a preempted loop thread).
    const auto due = Clock::now() + 2ms;
    while (Clock::now() <= due) {
    }
    co_await s;
    log->push_back("2 ms, already due");
}

TEST(Sleep, ASleepAlreadyDueWhenItSuspendsWaitsForTimersDueBeforeIt) {
    auto log = make_log();
    auto first = sleep_and_log(1ms, log);  // set first, due first
    auto second = sleep_past_its_deadline_then_log(log);
    first.result(kWait);
    second.result(kWait);
    const std::vector<std::string> expected{"1", "2 ms, already due"};
    EXPECT_EQ(*log, expected);
}

TEST(Sleep, EqualDurationsFireInTheOrderTheyWereSet) {
    auto order = std::make_shared<std::vector<int>>();
    auto driver = [](std::shared_ptr<std::vector<int>> out) -> Unfuture<void> {
        std::vector<Unfuture<void>> tasks;
        for (int i = 0; i < 10; ++i) {
            tasks.push_back([](int idx, std::shared_ptr<std::vector<int>> o) -> Unfuture<void> {
                co_await unsync::sleep(20ms);
                o->push_back(idx);
            }(i, out));
        }
        for (auto& t : tasks)
            co_await t;
    };
    driver(order).result(kWait);
    const std::vector<int> in_order{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    EXPECT_EQ(*order, in_order);
}

TEST(Sleep, AcceptsAnyDurationType) {
    EXPECT_GE(timed_sleep(
                  std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(0.05)))
                  .result(kWait),
              50ms);
    auto f = [](std::chrono::duration<double> d) -> Unfuture<Clock::duration> {
        const auto t0 = Clock::now();
        co_await unsync::sleep(d);
        co_return Clock::now() - t0;
    };
    EXPECT_GE(f(std::chrono::duration<double>(0.03)).result(kWait), 30ms);
    auto g = [](std::chrono::microseconds d) -> Unfuture<Clock::duration> {
        const auto t0 = Clock::now();
        co_await unsync::sleep(d);
        co_return Clock::now() - t0;
    };
    EXPECT_GE(g(20'000us).result(kWait), 20ms);
}

TEST(Sleep, SequentialSleepsAddUp) {
    const auto took = sequential_sleeps(5, 20ms).result(kWait);
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 5s);
}
