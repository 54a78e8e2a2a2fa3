// unsync::Barrier: coroutines and plain threads wait for each other, round after round.

#include <unsync/barrier.hpp>

#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

namespace {

using unsync::Barrier;
using unsync::Unfuture;
using unsync_test::kSanitized;
using unsync_test::kWait;

// Each round: add to `sum` once, then meet; after the meeting, everyone sees every addition.
Unfuture<bool> rounds_in_a_coroutine(Barrier& b, std::atomic<long>& sum, int rounds, int parties) {
    bool all_seen = true;
    for (int r = 0; r < rounds; ++r) {
        sum.fetch_add(1);
        co_await b.wait_async();
        all_seen = all_seen && sum.load() >= static_cast<long>(r + 1) * parties;
        co_await b.wait_async();  // nobody starts the next round before all checked
    }
    co_return all_seen;
}

TEST(Barrier, CoroutinesAndThreadsMeetRoundAfterRound) {
    constexpr int parties = 4;
    const int rounds = kSanitized ? 300 : 2000;
    Barrier b(parties);
    std::atomic<long> sum{0};
    auto a = rounds_in_a_coroutine(b, sum, rounds, parties);
    auto c = rounds_in_a_coroutine(b, sum, rounds, parties);
    std::atomic<bool> threads_saw_all{true};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            for (int r = 0; r < rounds; ++r) {
                sum.fetch_add(1);
                b.wait();
                if (sum.load() < static_cast<long>(r + 1) * parties)
                    threads_saw_all = false;
                b.wait();
            }
        });
    }
    EXPECT_TRUE(a.result(kWait));
    EXPECT_TRUE(c.result(kWait));
    for (auto& t : threads)
        t.join();
    EXPECT_TRUE(threads_saw_all);
    EXPECT_EQ(sum.load(), static_cast<long>(rounds) * parties);
    EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(Barrier, EachPartyGetsItsIndexInOrderOfArrival) {
    Barrier b(3);
    auto first = b.wait_async();
    auto second = b.wait_async();
    EXPECT_FALSE(first.done());
    EXPECT_EQ(b.n_waiting(), 2u);
    auto third = b.wait_async();
    EXPECT_EQ(first.result(kWait), 0u);
    EXPECT_EQ(second.result(kWait), 1u);
    EXPECT_EQ(third.result(kWait), 2u);
    EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(Barrier, AWaitThatLeavesIsNotCounted) {
    Barrier b(2);
    auto leaving = b.wait_async();
    EXPECT_TRUE(leaving.cancel());
    std::thread t([&] { EXPECT_FALSE(b.wait_for(std::chrono::milliseconds(20)).has_value()); });
    t.join();
    EXPECT_EQ(b.n_waiting(), 0u);
    auto a = b.wait_async();
    EXPECT_FALSE(a.done());  // the cancelled and timed-out waits left: one more is needed
    auto c = b.wait_async();
    EXPECT_EQ(a.result(kWait), 0u);
    EXPECT_EQ(c.result(kWait), 1u);
}

// The waits of a round, all but the last party's, are cancelled (the latest first) by another
// thread while the last party arrives. Each wait either left the round before it filled (then
// the arrival waits for another party) or passed with it; the round is never released short.
void cancel_as_the_last_party_arrives(std::size_t parties) {
    const int iterations = kSanitized ? 10'000 : 100'000;
    std::unique_ptr<Barrier> b;
    std::vector<Unfuture<std::size_t>> waits(parties - 1);
    std::vector<char> cancelled(parties - 1);
    Unfuture<std::size_t> last;
    int left = 0;
    int passed = 0;
    unsync_test::race_rounds(
        iterations, std::chrono::nanoseconds(0),
        [&](int) {
            b = std::make_unique<Barrier>(parties);
            for (auto& w : waits)
                w = b->wait_async();
        },
        [&](int) { last = b->wait_async(); },
        [&](int) {
            for (std::size_t w = waits.size(); w-- > 0;)
                cancelled[w] = waits[w].cancel();
        },
        [&](int i) {
            // A round with a cancelled wait cannot fill, and then the others are cancelled too.
            const bool round_left = std::count(cancelled.begin(), cancelled.end(), 1) > 0;
            for (std::size_t w = 0; w < waits.size(); ++w) {
                if (round_left) {
                    EXPECT_TRUE(cancelled[w]) << "iteration " << i << ", wait " << w;
                    EXPECT_THROW((void)waits[w].result(kWait), unsync::cancelled_error);
                } else {
                    EXPECT_EQ(waits[w].result(kWait), w) << "iteration " << i;
                }
            }
            if (round_left) {
                ++left;
                EXPECT_FALSE(last.done()) << "iteration " << i << ": the round filled without "
                                          << "the cancelled waits, index " << last.result();
                EXPECT_EQ(b->n_waiting(), 1u) << "iteration " << i;
            } else {
                ++passed;
                EXPECT_EQ(last.result(kWait), parties - 1) << "iteration " << i;
            }
        });
    std::printf("%zu parties: the round was left %d times, filled %d times\n", parties, left,
                passed);
}

TEST(Barrier, AWaitCancelledAsTheLastPartyArrivesLeavesOrPassesNeverBoth) {
    cancel_as_the_last_party_arrives(2);
}

// The last party claims the first wait, then finds the second cancelled: it gives the claim
// back, and the first wait's canceller (waiting meanwhile) then withdraws it.
TEST(Barrier, AClaimGivenBackToAShortRoundCanStillBeCancelled) {
    cancel_as_the_last_party_arrives(3);
}

TEST(Barrier, ResetBreaksTheRoundAndAbortBreaksTheBarrier) {
    Barrier b(2);
    auto waiting = b.wait_async();
    b.reset();
    EXPECT_THROW((void)waiting.result(kWait), unsync::broken_barrier_error);
    EXPECT_FALSE(b.broken());
    auto a = b.wait_async();
    auto c = b.wait_async();
    EXPECT_EQ(a.result(kWait) + c.result(kWait), 1u);

    auto before = b.wait_async();
    b.abort();
    EXPECT_TRUE(b.broken());
    EXPECT_THROW((void)before.result(kWait), unsync::broken_barrier_error);
    EXPECT_THROW((void)b.wait_async().result(kWait), unsync::broken_barrier_error);
    EXPECT_THROW((void)b.wait(), unsync::broken_barrier_error);
}

TEST(Barrier, DestroyedWithWaitersFailsThemClearly) {
    auto b = std::make_unique<Barrier>(2);
    auto waiting = b->wait_async();
    b.reset();
    EXPECT_THROW((void)waiting.result(kWait), unsync::invalid_state_error);
    EXPECT_THROW(Barrier(0), std::invalid_argument);
}

}  // namespace
