// unsync::Latch: a countdown coroutines and plain threads wait on together.

#include <unsync/latch.hpp>

#include "support.hpp"

#include <thread>
#include <vector>

namespace {

using unsync::Latch;
using unsync::Unfuture;
using unsync_test::kWait;

Unfuture<int> count_and_wait(Latch& l, int value) {
    l.count_down();
    co_await l.wait_async();
    co_return value;
}

TEST(Latch, WaitEndsOnceEveryoneCountedDown) {
    Latch l(4);
    auto a = count_and_wait(l, 1);
    auto b = count_and_wait(l, 2);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&] {
            l.count_down();
            l.wait();
        });
    }
    EXPECT_EQ(a.result(kWait), 1);
    EXPECT_EQ(b.result(kWait), 2);
    for (auto& t : threads)
        t.join();
    EXPECT_TRUE(l.try_wait());
}

TEST(Latch, ItWaitsUntilTheLastCountAndRefusesTooMany) {
    Latch l(2);
    l.count_down();
    EXPECT_FALSE(l.try_wait());
    EXPECT_FALSE(l.wait_for(std::chrono::milliseconds(10)));
    l.count_down();
    EXPECT_TRUE(l.wait_for(std::chrono::seconds(0)));
    EXPECT_THROW(l.count_down(), unsync::invalid_state_error);
    EXPECT_TRUE(Latch(0).try_wait());
}

TEST(Latch, ACountDownPastZeroTakesNothingOff) {
    Latch l(2);
    EXPECT_THROW(l.count_down(3), unsync::invalid_state_error);
    EXPECT_FALSE(l.try_wait());
    // The refused count took nothing: the two counts the latch waits for still open it.
    l.count_down(2);
    EXPECT_TRUE(l.try_wait());
}

}  // namespace
