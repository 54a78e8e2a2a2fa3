// ThreadPool: exact result types, where calls run, exceptions, concurrency, on-demand threads
// that retire when idle, the max_threads cap, shutdown, and decay-copied arguments.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using unsync_test::Counter;
using unsync_test::eventually;
using unsync_test::Gate;
using unsync_test::kWait;

namespace {

// A std::latch whose waiters give up after kWait and return false; once one gave up, the
// latch is broken and later waiters return false at once.
class TimedLatch {
public:
    explicit TimedLatch(int count) : m_count(count) {}
    bool arrive_and_wait() {
        std::unique_lock lock(m_mutex);
        if (--m_count == 0)
            m_cv.notify_all();
        if (!m_cv.wait_for(lock, kWait, [&] { return m_count <= 0 || m_broken; })) {
            m_broken = true;
            m_cv.notify_all();
        }
        return m_count <= 0;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    int m_count;
    bool m_broken = false;
};

unsync::ThreadPoolOptions pool_options(std::size_t max_threads,
                                       std::chrono::milliseconds idle_timeout = 10s) {
    unsync::ThreadPoolOptions o;
    o.max_threads = max_threads;
    o.idle_timeout = idle_timeout;
    return o;
}

struct Accumulator {
    int total = 0;
    int add(int x) {
        total += x;
        return total;
    }
    int get() const { return total; }
};

class PoolError : public std::runtime_error {
public:
    PoolError(const char* what, int code) : std::runtime_error(what), code(code) {}
    int code;
};

TEST(ThreadPool, SubmitReturnsUnfutureOfTheExactResultType) {
    unsync::ThreadPool pool;
    int x = 5;
    auto ret_int = [] { return 1; };
    auto ret_void = [] {};
    auto ret_string = [](const std::string& s) { return s + "!"; };
    auto ret_ptr = [](int* p) { return p; };
    auto ret_ref_wrapper = [&x] { return std::ref(x); };
    auto ret_move_only = [](int v) { return std::make_unique<int>(v); };
    Accumulator acc;

    static_assert(std::is_same_v<decltype(pool.submit(ret_int)), unsync::Unfuture<int>>);
    static_assert(std::is_same_v<decltype(pool.submit(ret_void)), unsync::Unfuture<void>>);
    static_assert(std::is_same_v<decltype(pool.submit(ret_string, std::string("a"))),
                                 unsync::Unfuture<std::string>>);
    static_assert(std::is_same_v<decltype(pool.submit(ret_ptr, &x)), unsync::Unfuture<int*>>);
    static_assert(std::is_same_v<decltype(pool.submit(ret_ref_wrapper)),
                                 unsync::Unfuture<std::reference_wrapper<int>>>);
    static_assert(std::is_same_v<decltype(pool.submit(ret_move_only, 3)),
                                 unsync::Unfuture<std::unique_ptr<int>>>);
    static_assert(
        std::is_same_v<decltype(pool.submit(&Accumulator::add, &acc, 1)), unsync::Unfuture<int>>);

    EXPECT_EQ(pool.submit(ret_int).result(), 1);
    auto v = pool.submit(ret_void);
    v.result();
    EXPECT_TRUE(v.done());
    EXPECT_EQ(pool.submit(ret_string, std::string("a")).result(), "a!");
    EXPECT_EQ(pool.submit(ret_ptr, &x).result(), &x);
    EXPECT_EQ(&pool.submit(ret_ref_wrapper).result().get(), &x);
    EXPECT_EQ(*pool.submit(ret_move_only, 3).result(), 3);
    EXPECT_EQ(pool.submit(&Accumulator::add, &acc, 4).result(), 4);
    EXPECT_EQ(pool.submit(&Accumulator::get, &acc).result(), 4);
}

TEST(ThreadPool, RunsOnAThreadThatIsNeitherMainNorTheLoopThread) {
    const auto main_id = std::this_thread::get_id();
    const auto loop_id = unsync::thread();
    ASSERT_NE(loop_id, std::thread::id());
    ASSERT_NE(loop_id, main_id);
    auto here = [] { return std::this_thread::get_id(); };

    unsync::ThreadPool pool;
    const auto own_pool_id = pool.submit(here).result();
    EXPECT_NE(own_pool_id, main_id);
    EXPECT_NE(own_pool_id, loop_id);
    EXPECT_NE(own_pool_id, std::thread::id());

    const auto ambient_pool_id = unsync::thread_executor().submit(here).result();
    EXPECT_NE(ambient_pool_id, main_id);
    EXPECT_NE(ambient_pool_id, loop_id);
    EXPECT_NE(ambient_pool_id, std::thread::id());
}

TEST(ThreadPool, ExceptionsPropagateWithTheirType) {
    unsync::ThreadPool pool;
    auto f = pool.submit([]() -> int { throw PoolError("boom", 7); });
    for (int attempt = 0; attempt < 2; ++attempt) {  // rethrown on every read
        try {
            (void)f.result();
            ADD_FAILURE() << "result() did not throw";
        } catch (const PoolError& e) {
            EXPECT_STREQ(e.what(), "boom");
            EXPECT_EQ(e.code, 7);
        }
    }
    EXPECT_TRUE(f.done());

    auto g = pool.submit([] { throw 42; });  // not even a std::exception
    static_assert(std::is_same_v<decltype(g), unsync::Unfuture<void>>);
    try {
        g.result();
        ADD_FAILURE() << "result() did not throw";
    } catch (int v) {
        EXPECT_EQ(v, 42);
    }

    EXPECT_THROW(pool.submit([]() -> std::string { throw std::out_of_range("x"); }).result(),
                 std::out_of_range);
}

TEST(ThreadPool, TenBlockingCallsRunConcurrently) {
    unsync::ThreadPool pool(pool_options(16));
    TimedLatch latch(10);
    auto call = [&latch] {
        // Returns only once all ten calls have arrived: only possible if they run at once.
        const bool all_arrived = latch.arrive_and_wait();
        return std::make_pair(all_arrived, std::this_thread::get_id());
    };
    std::vector<unsync::Unfuture<std::pair<bool, std::thread::id>>> calls;
    for (int i = 0; i < 10; ++i)
        calls.push_back(pool.submit(call));
    std::set<std::thread::id> threads;
    for (auto& c : calls) {
        auto [all_arrived, id] = c.result();
        EXPECT_TRUE(all_arrived);
        threads.insert(id);
    }
    EXPECT_EQ(threads.size(), 10u);
}

// The same with a thread already there, asleep: waking it must not stand in for the threads
// the other calls need.
TEST(ThreadPool, TenBlockingCallsRunConcurrentlyOnAPoolWithASleepingThread) {
    unsync::ThreadPool pool(pool_options(16));
    EXPECT_EQ(pool.submit([] { return 0; }).result(), 0);
    // Not a synchronization: an idle thread sleeps after watching the queue for 20 us, and this
    // makes that state likely. The test holds in either state.
    std::this_thread::sleep_for(5ms);
    TimedLatch latch(10);
    std::vector<unsync::Unfuture<bool>> calls;
    for (int i = 0; i < 10; ++i)
        calls.push_back(pool.submit([&latch] { return latch.arrive_and_wait(); }));
    for (auto& c : calls)
        EXPECT_TRUE(c.result());
}

// Calls that compute are not blocked: more threads than cores would not make them faster.
TEST(ThreadPool, CallsThatComputeStayOnACoresWorthOfThreads) {
    unsync::ThreadPool pool(pool_options(16));
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    std::vector<unsync::Unfuture<int>> calls;
    for (int i = 0; i < 3 * static_cast<int>(cores); ++i) {
        calls.push_back(pool.submit([i] {
            // Busy for 20 ms: many times the monitor's 200 us stall check.
            const auto until = std::chrono::steady_clock::now() + 20ms;
            unsigned spins = 0;
            while (std::chrono::steady_clock::now() < until)
                ++spins;
            return spins > 0 ? i : -1;
        }));
    }
    for (int i = 0; i < static_cast<int>(calls.size()); ++i)
        EXPECT_EQ(calls[static_cast<std::size_t>(i)].result(), i);
    EXPECT_LE(pool.thread_count(), cores);
}

TEST(ThreadPool, ThreadsAreCreatedOnDemand) {
    unsync::ThreadPool pool(pool_options(8));
    EXPECT_EQ(pool.thread_count(), 0u);
    EXPECT_EQ(pool.max_threads(), 8u);

    Gate gate;
    Counter running;
    auto call = [&](int i) {
        running.increment();
        EXPECT_TRUE(gate.wait());
        return i;
    };
    std::vector<unsync::Unfuture<int>> calls;
    calls.push_back(pool.submit(call, 0));
    EXPECT_EQ(pool.thread_count(), 1u);
    calls.push_back(pool.submit(call, 1));
    calls.push_back(pool.submit(call, 2));
    ASSERT_TRUE(running.wait_for_at_least(3));
    // Each submit() adds at most one thread, and three blocked calls need three.
    EXPECT_EQ(pool.thread_count(), 3u);
    gate.open();
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(calls[static_cast<std::size_t>(i)].result(), i);
}

TEST(ThreadPool, IdleThreadsRetire) {
    unsync::ThreadPool pool(pool_options(8, 50ms));
    EXPECT_EQ(pool.thread_count(), 0u);
    Gate gate;
    Counter running;
    std::vector<unsync::Unfuture<int>> calls;
    for (int i = 0; i < 4; ++i) {
        calls.push_back(pool.submit([&, i] {
            running.increment();
            EXPECT_TRUE(gate.wait());
            return i * 10;
        }));
    }
    ASSERT_TRUE(running.wait_for_at_least(4));
    EXPECT_EQ(pool.thread_count(), 4u);
    gate.open();
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(calls[static_cast<std::size_t>(i)].result(), i * 10);

    EXPECT_TRUE(eventually([&] { return pool.thread_count() == 0; }))
        << "threads still alive: " << pool.thread_count();

    // A pool whose threads all retired still takes work.
    EXPECT_EQ(pool.submit([] { return 99; }).result(), 99);
}

TEST(ThreadPool, IdleThreadsStayWhileTheIdleTimeoutHasNotPassed) {
    unsync::ThreadPool pool(pool_options(8, 60s));
    EXPECT_EQ(pool.submit([] { return 1; }).result(), 1);
    EXPECT_EQ(pool.thread_count(), 1u);
}

TEST(ThreadPool, MaxThreadsIsHonoured) {
    unsync::ThreadPool pool(pool_options(2));
    EXPECT_EQ(pool.max_threads(), 2u);
    Gate gate;
    Counter started;
    std::atomic<int> concurrent{0};
    std::atomic<int> max_concurrent{0};
    auto call = [&] {
        const int now = concurrent.fetch_add(1) + 1;
        int seen = max_concurrent.load();
        while (seen < now && !max_concurrent.compare_exchange_weak(seen, now)) {
        }
        const bool was_open = gate.is_open();
        started.increment();
        EXPECT_TRUE(gate.wait());
        concurrent.fetch_sub(1);
        return was_open;
    };
    auto a = pool.submit(call);
    auto b = pool.submit(call);
    auto c = pool.submit(call);
    // Threads are counted when submit() creates them, so a third one would show at once.
    EXPECT_LE(pool.thread_count(), 2u);
    ASSERT_TRUE(started.wait_for_at_least(2));
    EXPECT_LE(pool.thread_count(), 2u);
    gate.open();
    const int closed_at_start = int(!a.result()) + int(!b.result()) + int(!c.result());
    // Two calls ran while the gate was shut; the third could only start once one of them ended.
    EXPECT_EQ(closed_at_start, 2);
    EXPECT_EQ(started.value(), 3);
    EXPECT_EQ(max_concurrent.load(), 2);
    EXPECT_LE(pool.thread_count(), 2u);
}

// A call that blocks in result() on a call queued behind it in the same pool runs that call
// itself: with one thread, three nested calls would otherwise wait forever.
TEST(ThreadPool, CallsThatWaitOnCallsQueuedBehindThemDoNotDeadlock) {
    unsync::ThreadPool pool(pool_options(1));
    std::mutex m;
    std::vector<unsync::Unfuture<int>> queued;  // so that a deadlock can be undone below
    std::atomic<int> runs{0};
    std::function<int(int)> nest = [&](int depth) -> int {
        runs.fetch_add(1);
        if (depth == 0)
            return 0;
        auto inner = pool.submit(nest, depth - 1);
        {
            std::lock_guard lock(m);
            queued.push_back(inner);
        }
        return inner.result() + 1;
    };
    auto outer = pool.submit(nest, 3);
    bool timed_out = false;
    try {
        EXPECT_EQ(outer.result(kWait), 3);
    } catch (const unsync::timeout_error&) {
        timed_out = true;
        std::lock_guard lock(m);
        for (auto& f : queued)
            f.cancel();  // the pool's one thread waits on them: let it go
    }
    EXPECT_FALSE(timed_out) << "the pool deadlocked on calls queued behind the waiting call";
    pool.shutdown();
    // Each call ran once: the helped ones were not run again when their queue entry came up.
    if (!timed_out) {
        EXPECT_EQ(runs.load(), 4);
    }
}

// Helping stays within a pool: a thread of another pool waiting on a queued call does not run
// it, or a pool's max_threads would not bound its calls.
TEST(ThreadPool, AThreadOfAnotherPoolDoesNotRunItsQueuedCall) {
    unsync::ThreadPool a(pool_options(1));
    unsync::ThreadPool b(pool_options(1));
    Gate gate;
    Counter blocking;
    auto busy = a.submit([&] {
        blocking.increment();
        return gate.wait();
    });
    ASSERT_TRUE(blocking.wait_for_at_least(1));
    auto queued = a.submit([] { return std::this_thread::get_id(); });
    auto waiter = b.submit([&] {
        const bool done_before = queued.done();
        const auto ran_on = queued.result();
        return !done_before && ran_on != std::this_thread::get_id();
    });
    // b's thread waits; a's one thread is busy, so the queued call has not run.
    EXPECT_THROW((void)waiter.result(50ms), unsync::timeout_error);
    EXPECT_FALSE(queued.done());
    gate.open();
    EXPECT_TRUE(busy.result(kWait));
    EXPECT_TRUE(waiter.result(kWait));
}

TEST(ThreadPool, ShutdownDropsQueuedCallsAndWaitsForRunningOnes) {
    unsync::ThreadPool pool(pool_options(1));
    Gate gate;
    Counter started;
    std::atomic<int> ran{0};
    auto running = pool.submit([&] {
        started.increment();
        EXPECT_TRUE(gate.wait());
        ran.fetch_add(1);
        return std::string("finished");
    });
    auto queued1 = pool.submit([&] {
        ran.fetch_add(1);
        return std::string("never");
    });
    auto queued2 = pool.submit([&] { ran.fetch_add(1); });
    ASSERT_TRUE(started.wait_for_at_least(1));

    std::atomic<bool> shutdown_returned{false};
    std::thread stopper([&] {
        pool.shutdown();
        shutdown_returned.store(true);
    });
    // shutdown() fails the queued calls before waiting for the running one.
    EXPECT_THROW(queued1.result(), unsync::cancelled_error);
    EXPECT_THROW(queued2.result(), unsync::cancelled_error);
    // The running call is still blocked, so shutdown() must still be waiting for it.
    EXPECT_FALSE(running.done());
    EXPECT_FALSE(shutdown_returned.load());
    gate.open();
    stopper.join();
    EXPECT_TRUE(running.done());  // shutdown() returned only after the running call ended
    EXPECT_EQ(running.result(), "finished");
    EXPECT_EQ(ran.load(), 1);
}

TEST(ThreadPool, DestructorDropsQueuedCallsAndWaitsForRunningOnes) {
    auto pool = std::make_unique<unsync::ThreadPool>(pool_options(1));
    Gate gate;
    Counter started;
    std::atomic<int> ran{0};
    auto running = pool->submit([&] {
        started.increment();
        EXPECT_TRUE(gate.wait());
        ran.fetch_add(1);
        return 1;
    });
    auto queued = pool->submit([&] {
        ran.fetch_add(1);
        return 2;
    });
    ASSERT_TRUE(started.wait_for_at_least(1));
    std::thread destroyer([&] { pool.reset(); });
    EXPECT_THROW(queued.result(), unsync::cancelled_error);
    EXPECT_FALSE(running.done());
    gate.open();
    destroyer.join();
    // The futures outlive the pool.
    EXPECT_TRUE(running.done());
    EXPECT_EQ(running.result(), 1);
    EXPECT_EQ(ran.load(), 1);
}

TEST(ThreadPool, SubmitAfterShutdownFailsWithCancelledError) {
    unsync::ThreadPool pool;
    EXPECT_EQ(pool.submit([] { return 1; }).result(), 1);
    pool.shutdown();
    pool.shutdown();  // idempotent
    std::atomic<bool> ran{false};
    auto f = pool.submit([&] {
        ran.store(true);
        return 2;
    });
    EXPECT_TRUE(f.done());  // failed at once, nothing to wait for
    EXPECT_THROW(f.result(), unsync::cancelled_error);
    auto g = pool.submit([&] { ran.store(true); });
    EXPECT_THROW(g.result(), unsync::cancelled_error);
    EXPECT_FALSE(ran.load());
}

TEST(ThreadPool, NoThreadIsLeftAfterShutdown) {
    // thread_count() counts the threads alive now; shutdown() joins them all.
    unsync::ThreadPool pool(pool_options(4));
    Gate gate;
    Counter running;
    std::vector<unsync::Unfuture<void>> calls;
    for (int i = 0; i < 3; ++i) {
        calls.push_back(pool.submit([&] {
            running.increment();
            EXPECT_TRUE(gate.wait());
        }));
    }
    ASSERT_TRUE(running.wait_for_at_least(3));
    EXPECT_EQ(pool.thread_count(), 3u);
    gate.open();
    pool.shutdown();
    for (auto& c : calls)
        EXPECT_TRUE(c.done());
    EXPECT_EQ(pool.thread_count(), 0u);
}

// Submits take no lock: a call must still reach a thread while threads go to sleep, retire
// (an idle timeout of zero retires them as soon as they find nothing) and come back.
TEST(ThreadPool, CallsFromManyThreadsAreAllRunWhileThreadsComeAndGo) {
    unsync::ThreadPool pool(pool_options(3, 0ms));
    constexpr int producers = 4, rounds = 40, batch = 64;
    std::atomic<long long> sum{0};
    std::atomic<int> lost{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&] {
            std::vector<unsync::Unfuture<int>> calls;
            for (int r = 0; r < rounds; ++r) {
                for (int i = 0; i < batch; ++i)
                    calls.push_back(pool.submit([](int v) { return v; }, i));
                for (auto& c : calls) {
                    try {
                        sum += c.result(kWait);
                    } catch (const unsync::timeout_error&) {
                        ++lost;  // a lost call times out instead of hanging
                        return;
                    }
                }
                calls.clear();
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(lost.load(), 0);
    EXPECT_EQ(sum.load(), 1LL * producers * rounds * (batch * (batch - 1) / 2));
}

// Every call submitted while the pool shuts down either runs or fails with cancelled_error.
TEST(ThreadPool, ShutdownRacingWithSubmitsLeavesNoCallPending) {
    unsync::ThreadPool pool(pool_options(2));
    std::atomic<bool> stop{false};
    Counter submitted;
    Counter started;
    std::vector<std::vector<unsync::Unfuture<int>>> calls(3);
    std::vector<std::thread> threads;
    for (auto& mine : calls) {
        threads.emplace_back([&] {
            while (!stop.load()) {
                mine.push_back(pool.submit([&started] {
                    started.increment();
                    return 1;
                }));
                submitted.increment();
            }
            // `stop` is set after shutdown() returned: this call comes after it, whatever the
            // scheduling, so it must be dropped.
            mine.push_back(pool.submit([] { return 1; }));
        });
    }
    // Shut down while the threads run calls, not before the first has been scheduled.
    const bool running = submitted.wait_for_at_least(3000) && started.wait_for_at_least(1);
    pool.shutdown();
    stop.store(true);
    for (auto& t : threads)
        t.join();
    ASSERT_TRUE(running);
    std::size_t ran = 0, dropped = 0;
    for (auto& mine : calls) {
        for (auto& c : mine) {
            try {
                ran += static_cast<std::size_t>(c.result(kWait));
            } catch (const unsync::cancelled_error&) {
                ++dropped;
            }
        }
    }
    EXPECT_GE(ran, 1u);
    EXPECT_GE(dropped, calls.size());  // at least each producer's last call
}

TEST(ThreadPool, ArgumentsAreDecayCopiedAtSubmit) {
    unsync::ThreadPool pool;
    Gate gate;
    std::string text = "original";
    // The call takes a reference, yet it must see the copy made at submit(), not `text`.
    auto f = pool.submit(
        [&gate](const std::string& s) {
            EXPECT_TRUE(gate.wait());
            return s;
        },
        text);
    text = "modified after submit";
    gate.open();
    EXPECT_EQ(f.result(), "original");
    EXPECT_EQ(text, "modified after submit");

    // The callable itself is copied too.
    int base = 1;
    auto add_base = [base](int x) { return base + x; };
    Gate gate2;
    auto g = pool.submit(
        [&gate2, add_base](int x) {
            EXPECT_TRUE(gate2.wait());
            return add_base(x);
        },
        base);
    base = 100;
    gate2.open();
    EXPECT_EQ(g.result(), 2);

    // Move-only arguments are moved into the call.
    auto p = std::make_unique<int>(41);
    auto h = pool.submit([](std::unique_ptr<int> q) { return *q + 1; }, std::move(p));
    EXPECT_EQ(h.result(), 42);
}

// An unsync coroutine may await a pool future: it resumes on the loop thread with the value.
unsync::Unfuture<std::pair<int, bool>> await_pool_result(unsync::Unfuture<int> f) {
    const int v = co_await f;
    co_return std::make_pair(v, std::this_thread::get_id() == unsync::thread());
}

TEST(ThreadPool, FutureCanBeAwaitedByACoroutine) {
    unsync::ThreadPool pool;
    Gate gate;
    auto f = pool.submit([&gate] {
        EXPECT_TRUE(gate.wait());
        return 17;
    });
    auto awaiting = await_pool_result(f);
    gate.open();
    const auto [value, on_loop] = awaiting.result();
    EXPECT_EQ(value, 17);
    EXPECT_TRUE(on_loop);
}

}  // namespace
