// TaskGroup: waiting for all, the first failure cancelling the rest, errors(), cancellation of
// wait() and of the group, timeouts from plain threads, refusing work once done, the destructor
// off and on the loop thread, shutdown, and a stress of concurrent start() for TSan.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using unsync::TaskGroup;
using unsync::Unfuture;
using unsync_test::Clock;
using unsync_test::custom_error;
using unsync_test::Gate;
using unsync_test::kPrompt;
using unsync_test::kWait;
using unsync_test::loop_turns;
using unsync_test::other_error;
using unsync_test::Sentinel;
using unsync_test::value_after;
using unsync_test::wait_for_stop;

namespace {

Unfuture<std::string> text_now(std::string s) {
    co_return s;
}

Unfuture<void> fail_after(std::chrono::milliseconds d, std::string what) {
    co_await unsync::sleep(d);
    throw custom_error(what);
}

// Says it sleeps, then sleeps for an hour unless cancelled; `destroyed` proves it unwound.
Unfuture<int> sleep_an_hour(Unfuture<void> sleeping, Unfuture<void> destroyed) {
    Sentinel guard(std::move(destroyed));
    sleeping.set_result();
    co_await unsync::sleep(1h);
    co_return -1;
}

// Turns its cancellation into a failure, as a member's cleanup code may.
Unfuture<void> fail_when_cancelled(Unfuture<void> sleeping, std::string what) {
    sleeping.set_result();
    try {
        co_await unsync::sleep(1h);
    } catch (const unsync::cancelled_error&) {
        throw other_error(what);
    }
}

Unfuture<void> wait_in_coroutine(TaskGroup& group) {
    co_await group.wait();
}

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "?";
    }
}

// ---------------------------------------------------------------------------------------------
// Waiting for all
// ---------------------------------------------------------------------------------------------

TEST(TaskGroup, StartReturnsTheFutureWithItsExactType) {
    TaskGroup group;
    auto a = group.start(value_after(1ms, 1));
    auto b = group.start(text_now("two"));
    auto c = group.start(unsync::thread_executor().submit([] { return 3.0; }));
    static_assert(std::is_same_v<decltype(a), Unfuture<int>>);
    static_assert(std::is_same_v<decltype(b), Unfuture<std::string>>);
    static_assert(std::is_same_v<decltype(c), Unfuture<double>>);
    group.wait().result(kWait);
    EXPECT_TRUE(a.done() && b.done() && c.done());
    EXPECT_EQ(a.result(), 1);
    EXPECT_EQ(b.result(), "two");
    EXPECT_EQ(c.result(), 3.0);
    EXPECT_TRUE(group.errors().empty());
}

TEST(TaskGroup, WaitReturnsOnceAllSucceedIncludingPlainFutures) {
    TaskGroup group;
    Unfuture<int> plain;
    auto p = group.start(plain);
    auto q = group.start(value_after(5ms, 2));
    auto w = group.wait();
    // p is still pending: wait() must not end before it. The loop has had its turns since.
    q.result(kWait);
    loop_turns();
    EXPECT_FALSE(w.done());
    plain.set_result(1);
    w.result(kWait);
    EXPECT_EQ(p.result(), 1);
}

TEST(TaskGroup, WaitInACoroutine) {
    TaskGroup group;
    std::vector<Unfuture<int>> members;
    for (int i = 0; i < 10; ++i)
        members.push_back(group.start(value_after(std::chrono::milliseconds(i), i)));
    wait_in_coroutine(group).result(kWait);
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(members[static_cast<std::size_t>(i)].result(), i);
}

TEST(TaskGroup, EmptyGroupIsDoneAtOnce) {
    TaskGroup group;
    group.wait().result(kWait);
    wait_in_coroutine(group).result(kWait);
}

TEST(TaskGroup, WorkStartedWhileWaitingIsWaitedFor) {
    TaskGroup group;
    Unfuture<void> first;
    Unfuture<void> second;
    (void)group.start(first);
    auto w = group.wait();
    (void)group.start(second);
    first.set_result();
    loop_turns();
    EXPECT_FALSE(w.done()) << "wait() ended while a member started during the wait still ran";
    second.set_result();
    w.result(kWait);
}

TEST(TaskGroup, PlainThreadWaitWithATimeoutLeavesTheGroupAlone) {
    TaskGroup group;
    Unfuture<void> gate;
    auto member = group.start(gate);
    EXPECT_THROW(group.wait().result(20ms), unsync::timeout_error);
    EXPECT_FALSE(member.done());
    gate.set_result();
    group.wait().result(kWait);
    EXPECT_FALSE(member.cancelled());
}

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

TEST(TaskGroup, FirstFailureCancelsSiblingsPromptlyAndIsRethrown) {
    TaskGroup group;
    Unfuture<void> sleeping;
    Unfuture<void> destroyed;
    auto sibling = group.start(sleep_an_hour(sleeping, destroyed));
    Unfuture<void> running;
    auto pool_sibling = group.start(unsync::unsync([running](std::stop_token st) {
        running.set_result();
        wait_for_stop(st);
        return 1;
    })());
    sleeping.result(kWait);
    running.result(kWait);
    const auto t0 = Clock::now();
    (void)group.start(fail_after(1ms, "boom"));
    try {
        group.wait().result(kWait);
        ADD_FAILURE() << "wait() did not rethrow";
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
    EXPECT_LT(Clock::now() - t0, kPrompt);
    EXPECT_CANCELLED(sibling);
    EXPECT_TRUE(destroyed.done());
    // A running pool call is asked to stop; it returned a value, which is no failure either.
    EXPECT_EQ(pool_sibling.result(kWait), 1);
    ASSERT_EQ(group.errors().size(), 1u);
    EXPECT_EQ(what_of(group.errors()[0]), "boom");
    // A second wait() says the same.
    EXPECT_THROW(group.wait().result(kWait), custom_error);
}

TEST(TaskGroup, SeveralFailuresAreAllReachableFirstOneFirst) {
    TaskGroup group;
    Unfuture<void> s1;
    Unfuture<void> s2;
    (void)group.start(fail_when_cancelled(s1, "cleanup 1"));
    (void)group.start(fail_when_cancelled(s2, "cleanup 2"));
    s1.result(kWait);
    s2.result(kWait);
    (void)group.start(fail_after(0ms, "first"));
    EXPECT_THROW(group.wait().result(kWait), custom_error);
    const auto errors = group.errors();
    ASSERT_EQ(errors.size(), 3u);
    EXPECT_EQ(what_of(errors[0]), "first");
    std::vector<std::string> rest{what_of(errors[1]), what_of(errors[2])};
    std::sort(rest.begin(), rest.end());
    EXPECT_EQ(rest, (std::vector<std::string>{"cleanup 1", "cleanup 2"}));
    EXPECT_THROW(std::rethrow_exception(errors[1]), other_error);
}

TEST(TaskGroup, AFailureThatIsNotAStdExceptionIsRethrownAsItself) {
    TaskGroup group;
    Unfuture<int> plain;
    (void)group.start(plain);
    plain.set_exception(unsync_test::error_code{7});
    try {
        group.wait().result(kWait);
        ADD_FAILURE() << "wait() did not rethrow";
    } catch (const unsync_test::error_code& e) {
        EXPECT_EQ(e.code, 7);
    }
}

TEST(TaskGroup, AMemberCancelledFromOutsideIsNoFailure) {
    TaskGroup group;
    Unfuture<void> sleeping;
    Unfuture<void> destroyed;
    auto cancelled = group.start(sleep_an_hour(sleeping, destroyed));
    auto fine = group.start(value_after(1ms, 5));
    sleeping.result(kWait);
    EXPECT_TRUE(cancelled.cancel());
    group.wait().result(kWait);
    EXPECT_CANCELLED(cancelled);
    EXPECT_EQ(fine.result(), 5);
    EXPECT_TRUE(group.errors().empty());
}

// ---------------------------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------------------------

TEST(TaskGroup, CancellingWaitCancelsTheMembers) {
    TaskGroup group;
    Unfuture<void> sleeping;
    Unfuture<void> destroyed;
    auto member = group.start(sleep_an_hour(sleeping, destroyed));
    Unfuture<void> plain;
    auto plain_member = group.start(plain);
    sleeping.result(kWait);
    auto w = group.wait();
    EXPECT_TRUE(w.cancel());
    EXPECT_CANCELLED(w);
    EXPECT_CANCELLED(member);
    EXPECT_CANCELLED(plain_member);
    destroyed.result(kWait);
    // The group was cancelled: other waits say so, and it takes no new work.
    EXPECT_THROW(group.wait().result(kWait), unsync::cancelled_error);
    EXPECT_THROW((void)group.start(value_after(1ms, 1)), unsync::invalid_state_error);
}

TEST(TaskGroup, CancellingTheTaskAwaitingWaitCancelsTheMembers) {
    TaskGroup group;
    Unfuture<void> sleeping;
    Unfuture<void> destroyed;
    auto member = group.start(sleep_an_hour(sleeping, destroyed));
    sleeping.result(kWait);
    auto awaiting = wait_in_coroutine(group);
    loop_turns();
    EXPECT_TRUE(awaiting.cancel());
    EXPECT_CANCELLED(awaiting);
    EXPECT_CANCELLED(member);
}

TEST(TaskGroup, CancelCancelsEveryMemberAndWaitSaysCancelled) {
    TaskGroup group;
    std::vector<Unfuture<void>> destroyed(3);
    std::vector<Unfuture<int>> members;
    for (auto& d : destroyed) {
        Unfuture<void> sleeping;
        members.push_back(group.start(sleep_an_hour(sleeping, d)));
        sleeping.result(kWait);
    }
    auto w = group.wait();
    EXPECT_TRUE(group.cancel());
    EXPECT_FALSE(group.cancel());
    EXPECT_THROW(w.result(kWait), unsync::cancelled_error);
    for (auto& m : members)
        EXPECT_CANCELLED(m);
    EXPECT_TRUE(group.errors().empty());
}

// ---------------------------------------------------------------------------------------------
// Refusing new work
// ---------------------------------------------------------------------------------------------

TEST(TaskGroup, StartIntoAFinishedGroupThrowsAndCancelsTheWork) {
    TaskGroup group;
    (void)group.start(value_after(1ms, 1));
    group.wait().result(kWait);
    Unfuture<void> sleeping;
    Unfuture<void> destroyed;
    auto late = sleep_an_hour(sleeping, destroyed);
    EXPECT_THROW((void)group.start(late), unsync::invalid_state_error);
    EXPECT_CANCELLED(late);
}

TEST(TaskGroup, StartIntoAFailedGroupThrows) {
    TaskGroup group;
    Unfuture<void> sleeping;
    Unfuture<void> destroyed;
    (void)group.start(sleep_an_hour(sleeping, destroyed));
    sleeping.result(kWait);
    auto failing = group.start(fail_after(0ms, "x"));
    EXPECT_THROW(failing.result(kWait), custom_error);
    // Failing already (the sibling may still unwind) or done: refused either way.
    loop_turns();
    EXPECT_THROW((void)group.start(value_after(1ms, 1)), unsync::invalid_state_error);
    EXPECT_THROW(group.wait().result(kWait), custom_error);
}

TEST(TaskGroup, StartOfAMovedFromFutureThrows) {
    TaskGroup group;
    Unfuture<int> f = Unfuture<int>::from_value(1);
    Unfuture<int> g = std::move(f);
    EXPECT_THROW((void)group.start(f), unsync::invalid_state_error);
    (void)group.start(g);
    group.wait().result(kWait);
}

// ---------------------------------------------------------------------------------------------
// The destructor
// ---------------------------------------------------------------------------------------------

TEST(TaskGroupDestructor, OffTheLoopItCancelsAndWaitsForTheMembers) {
    Unfuture<void> sleeping;
    Unfuture<void> destroyed;
    Unfuture<int> member;
    Unfuture<int> pool_member;
    Gate stop_seen;
    {
        TaskGroup group;
        member = group.start(sleep_an_hour(sleeping, destroyed));
        Unfuture<void> running;
        pool_member = group.start(unsync::unsync([&stop_seen, running](std::stop_token st) {
            running.set_result();
            wait_for_stop(st);
            stop_seen.open();
            return 2;
        })());
        sleeping.result(kWait);
        running.result(kWait);
    }
    // No waiting here: the destructor did.
    EXPECT_TRUE(member.done());
    EXPECT_TRUE(member.cancelled());
    EXPECT_TRUE(destroyed.done());
    EXPECT_TRUE(pool_member.done());
    EXPECT_TRUE(stop_seen.is_open());
}

TEST(TaskGroupDestructor, OfAFinishedGroupDoesNotBlock) {
    TaskGroup group;
    (void)group.start(value_after(1ms, 1));
    group.wait().result(kWait);
}

// The group lives in a coroutine; its pool member only returns once `release` is set, after the
// coroutine (and the group) are gone.
Unfuture<Unfuture<int>> group_in_a_coroutine(Unfuture<void> running, Unfuture<void> release) {
    TaskGroup group;
    auto member = group.start(unsync::unsync([running, release](std::stop_token st) {
        running.set_result();
        wait_for_stop(st);
        release.result(kWait);
        return 3;
    })());
    co_await running;
    co_return member;
}  // ~TaskGroup on the loop thread: cancels, cannot wait

TEST(TaskGroupDestructor, OnTheLoopItCancelsAndTheMembersStayTracked) {
    const std::size_t before = TaskGroup::detached_members();
    Unfuture<void> running;
    Unfuture<void> release;
    // Returns although the member still runs: the destructor did not block the loop.
    Unfuture<int> member = group_in_a_coroutine(running, release).result(kWait);
    EXPECT_FALSE(member.done());
    EXPECT_EQ(TaskGroup::detached_members(), before + 1);
    // The member ends after its group is gone (ASan: the group's shared state is still alive).
    release.set_result();
    EXPECT_EQ(member.result(kWait), 3);
    // The member's watcher counts it out on the loop, a moment after result() returned.
    EXPECT_TRUE(unsync_test::eventually([&] { return TaskGroup::detached_members() == before; }));
}

Unfuture<Unfuture<int>> group_with_a_sleeper(Unfuture<void> destroyed) {
    TaskGroup group;
    Unfuture<void> sleeping;
    auto member = group.start(sleep_an_hour(sleeping, destroyed));
    co_await sleeping;
    co_return member;
}

TEST(TaskGroupDestructor, OnTheLoopACoroutineMemberUnwindsAfterTheScope) {
    Unfuture<void> destroyed;
    Unfuture<int> member = group_with_a_sleeper(destroyed).result(kWait);
    EXPECT_CANCELLED(member);
    EXPECT_TRUE(destroyed.done());
}

// A coroutine that leaves its group's scope by its own cancellation, as structured code does.
Unfuture<void> cancelled_while_waiting(Unfuture<void> destroyed, Unfuture<Unfuture<int>> out) {
    TaskGroup group;
    Unfuture<void> sleeping;
    out.set_result(group.start(sleep_an_hour(sleeping, destroyed)));
    co_await group.wait();
}

TEST(TaskGroupDestructor, ACoroutineCancelledInWaitLeavesNoMemberBehind) {
    Unfuture<void> destroyed;
    Unfuture<Unfuture<int>> out;
    auto parent = cancelled_while_waiting(destroyed, out);
    Unfuture<int> member = out.result(kWait);
    loop_turns();
    parent.cancel();
    EXPECT_CANCELLED(parent);
    EXPECT_CANCELLED(member);
    EXPECT_TRUE(destroyed.done());
}

// ---------------------------------------------------------------------------------------------
// Shutdown (in a child process: it stops the runtime)
// ---------------------------------------------------------------------------------------------

[[noreturn]] void group_across_shutdown() {
    auto group = std::make_unique<TaskGroup>();
    Unfuture<void> sleeping;
    Unfuture<void> destroyed;
    auto member = group->start(sleep_an_hour(sleeping, destroyed));
    sleeping.result(kWait);
    auto w = group->wait();
    unsync::shutdown();
    if (!member.done() || !destroyed.done() || !w.done()) {
        std::fprintf(stderr, "shutdown left group work pending\n");
        std::_Exit(3);
    }
    // A member whose watcher can no longer run (the loop is gone) is still counted out.
    try {
        (void)group->start(value_after(1ms, 1));
    } catch (const unsync::invalid_state_error&) {
        // Or refused: the group was cancelled.
    }
    group.reset();  // must not hang
    std::fprintf(stderr, "group after shutdown: fine\n");
    std::exit(0);
}

TEST(TaskGroupShutdown, DrainsTheMembersAndTheDestructorDoesNotHang) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(group_across_shutdown(), ::testing::ExitedWithCode(0),
                "group after shutdown: fine");
}

[[noreturn]] void fresh_group_after_shutdown() {
    unsync::shutdown();
    {
        TaskGroup group;
        auto m = group.start(value_after(1ms, 1));
        if (!m.cancelled())
            std::_Exit(3);
        try {
            group.wait().result(kWait);
        } catch (const unsync::cancelled_error&) {
        }
    }
    std::fprintf(stderr, "fresh group after shutdown: fine\n");
    std::exit(0);
}

TEST(TaskGroupShutdown, AGroupStartedAfterShutdownDoesNotHang) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(fresh_group_after_shutdown(), ::testing::ExitedWithCode(0),
                "fresh group after shutdown: fine");
}

// ---------------------------------------------------------------------------------------------
// Stress (for TSan): start() from two threads and a coroutine at once
// ---------------------------------------------------------------------------------------------

Unfuture<int> member_step(int i, std::shared_ptr<std::atomic<long>> ran) {
    if (i % 3 == 0)
        co_await unsync::sleep(0ms);
    ran->fetch_add(1, std::memory_order_relaxed);
    co_return i;
}

constexpr int kPerStarter = 4000;  // three starters: 12,000 members

Unfuture<std::vector<Unfuture<int>>> start_from_coroutine(TaskGroup& group, int base,
                                                          std::shared_ptr<std::atomic<long>> ran) {
    std::vector<Unfuture<int>> out;
    out.reserve(kPerStarter);
    for (int i = 0; i < kPerStarter; ++i) {
        out.push_back(group.start(member_step(base + i, ran)));
        if (i % 100 == 0)
            co_await unsync::sleep(0ms);
    }
    co_return out;
}

std::vector<Unfuture<int>> start_from_thread(TaskGroup& group, int base,
                                             std::shared_ptr<std::atomic<long>> ran, Gate& go) {
    std::vector<Unfuture<int>> out;
    out.reserve(kPerStarter);
    go.wait();
    const auto pool_call = unsync::unsync([](int i) { return i; });
    for (int i = 0; i < kPerStarter; ++i) {
        const int v = base + i;
        out.push_back(i % 4 == 0 ? group.start(pool_call(v)) : group.start(member_step(v, ran)));
    }
    return out;
}

long sum_of(const std::vector<Unfuture<int>>& fs) {
    long s = 0;
    for (const auto& f : fs)
        s += f.result();
    return s;
}

TEST(TaskGroupStress, ConcurrentStartsLoseNothing) {
    TaskGroup group;
    auto ran = std::make_shared<std::atomic<long>>(0);
    Gate go;
    std::vector<Unfuture<int>> a;
    std::vector<Unfuture<int>> b;
    std::thread ta([&] { a = start_from_thread(group, 0, ran, go); });
    std::thread tb([&] { b = start_from_thread(group, kPerStarter, ran, go); });
    go.open();
    auto from_coroutine = start_from_coroutine(group, 2 * kPerStarter, ran);
    ta.join();
    tb.join();
    auto c = from_coroutine.result(kWait);
    group.wait().result(kWait);
    ASSERT_EQ(a.size() + b.size() + c.size(), std::size_t{3 * kPerStarter});
    for (const auto* v : {&a, &b, &c}) {
        for (const auto& f : *v)
            ASSERT_TRUE(f.done());
    }
    const long n = 3L * kPerStarter;
    EXPECT_EQ(sum_of(a) + sum_of(b) + sum_of(c), n * (n - 1) / 2);
    // Every coroutine member ran (a quarter of the threads' members are pool calls).
    EXPECT_EQ(ran->load(), n - 2L * (kPerStarter / 4));
    EXPECT_TRUE(group.errors().empty());
}

TEST(TaskGroupStress, StartsRacingCancelAreEachAcceptedOrRefused) {
    TaskGroup group;
    auto ran = std::make_shared<std::atomic<long>>(0);
    Gate go;
    std::vector<Unfuture<int>> accepted[2];
    std::vector<Unfuture<int>> refused[2];
    auto starter = [&](int which) {
        go.wait();
        for (int i = 0; i < kPerStarter; ++i) {
            auto f = member_step(i, ran);
            try {
                accepted[which].push_back(group.start(f));
            } catch (const unsync::invalid_state_error&) {
                refused[which].push_back(f);
            }
        }
    };
    std::thread ta(starter, 0);
    std::thread tb(starter, 1);
    std::thread tc([&] {
        go.wait();
        group.cancel();
    });
    go.open();
    ta.join();
    tb.join();
    tc.join();
    EXPECT_THROW(group.wait().result(kWait), unsync::cancelled_error);
    std::size_t total = 0;
    for (int which = 0; which < 2; ++which) {
        total += accepted[which].size() + refused[which].size();
        // The group is done: so is every member it accepted.
        for (const auto& f : accepted[which])
            ASSERT_TRUE(f.done());
        // A refused one was cancelled, unless it had already finished (it rarely suspends): it
        // ends either way, with its value or cancelled_error.
        for (const auto& f : refused[which]) {
            try {
                EXPECT_GE(f.result(kWait), 0);
            } catch (const unsync::cancelled_error&) {
            }
        }
    }
    EXPECT_EQ(total, std::size_t{2 * kPerStarter});
    EXPECT_TRUE(group.errors().empty());
}

}  // namespace
