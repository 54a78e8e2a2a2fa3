// Helpers shared by several test files (tests/test_*.cpp). Each test file is its own executable,
// so these are header-only: inline functions, inline constexpr constants and small classes. Only
// what at least two test files use lives here; a helper one file needs stays in that file.
//
// Test files pull in what they use with using-declarations (`using unsync_test::kWait;`), not a
// using-directive, so a file's own helper of the same name (test_unsync.cpp's Counter, for one)
// never clashes with one of these.

#pragma once

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace unsync_test {

using Clock = std::chrono::steady_clock;

// ---- Time limits ------------------------------------------------------------------------------

// Long enough for anything that should finish "at once" on a loaded machine or under a sanitizer
// (worker process start-up included); only reached when the feature under test is broken, and
// then the test fails instead of hanging.
inline constexpr auto kWait = std::chrono::seconds(30);
// What "promptly" means for cancelled work that would otherwise take an hour (or forever).
inline constexpr auto kPrompt = std::chrono::seconds(10);
// How long a test waits for a cancellation that, if the feature is broken, never comes.
inline constexpr auto kBounded = std::chrono::seconds(5);

// True in ASan and TSan builds, where deep or long runs are scaled down (sanitizers use more
// stack and time per step).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// True in TSan builds only.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitized = true;
#else
inline constexpr bool kThreadSanitized = false;
#endif
#else
inline constexpr bool kThreadSanitized = false;
#endif

// ---- Macros -----------------------------------------------------------------------------------

// result() must throw cancelled_error, and the future must say it was cancelled.
#define EXPECT_CANCELLED(f)                                                            \
    do {                                                                               \
        EXPECT_THROW((void)(f).result(::unsync_test::kWait), unsync::cancelled_error); \
        EXPECT_TRUE((f).cancelled());                                                  \
    } while (0)

// For tests that need a runtime that has not started yet. ctest runs every TEST in a process of
// its own; run by hand after another test in the same process, such a test skips itself.
#define SKIP_UNLESS_FRESH_PROCESS()                                                  \
    do {                                                                             \
        if (unsync::started()) {                                                     \
            GTEST_SKIP() << "the runtime already started in this process; run this " \
                            "test alone (ctest does)";                               \
        }                                                                            \
    } while (false)

// ---- Errors -----------------------------------------------------------------------------------

// A user exception type that must come back out of result() / co_await as itself.
struct custom_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A second one, for tests that tell two failures apart.
struct other_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// An exception type outside the std::exception hierarchy, with a payload.
struct error_code {
    int code;
};

// ---- Coroutines and the loop ------------------------------------------------------------------

// Completes `destroyed` from its destructor: proves a coroutine's locals were unwound.
struct Sentinel {
    explicit Sentinel(unsync::Unfuture<void> d) : destroyed(std::move(d)) {}
    Sentinel(const Sentinel&) = delete;
    Sentinel& operator=(const Sentinel&) = delete;
    ~Sentinel() {
        try {
            destroyed.set_result();
        } catch (...) {
        }
    }
    unsync::Unfuture<void> destroyed;
};

inline unsync::Unfuture<void> noop() {
    co_return;
}

// v, after sleeping d on the loop.
inline unsync::Unfuture<int> value_after(std::chrono::milliseconds d, int v) {
    co_await unsync::sleep(d);
    co_return v;
}

// Waits for `turns` round trips through the loop. After the first, every coroutine this thread
// called before has run its first step (calls from one thread reach the loop, and start, in
// order); each further turn lets the tasks those steps started run their first step too, and
// lets the loop finish what it does after a step (such as printing a slow-step warning).
inline void loop_turns(int turns = 3) {
    for (int i = 0; i < turns; ++i)
        noop().result(kWait);
}

// The thread a coroutine's first step runs on (the loop thread), without suspending.
inline unsync::Unfuture<std::thread::id> current_thread_id() {
    co_return std::this_thread::get_id();
}

// The thread a coroutine resumes on after yielding to the loop once (sleep(0)).
inline unsync::Unfuture<std::thread::id> thread_after_yield() {
    co_await unsync::sleep(std::chrono::milliseconds(0));
    co_return std::this_thread::get_id();
}

// An ordered record of what ran, shared by the coroutines of one test.
using Log = std::shared_ptr<std::vector<std::string>>;
inline Log make_log() {
    return std::make_shared<std::vector<std::string>>();
}

// ---- Threads ----------------------------------------------------------------------------------

// Blocks until a stop is requested on the token (a condition variable, no polling).
inline void wait_for_stop(const std::stop_token& st) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait(lock, st, [] { return false; });
}

// Blocks callers until opened. wait() returns false if kWait expired first.
class Gate {
public:
    void open() {
        {
            std::lock_guard lock(m_mutex);
            m_open = true;
        }
        m_cv.notify_all();
    }
    bool wait() {
        std::unique_lock lock(m_mutex);
        return m_cv.wait_for(lock, kWait, [&] { return m_open; });
    }
    bool is_open() {
        std::lock_guard lock(m_mutex);
        return m_open;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_open = false;
};

// A counter that can be waited on. wait_for_at_least() returns false if kWait expired first.
class Counter {
public:
    int increment() {
        int v = 0;
        {
            std::lock_guard lock(m_mutex);
            v = ++m_value;
        }
        m_cv.notify_all();
        return v;
    }
    bool wait_for_at_least(int n) {
        std::unique_lock lock(m_mutex);
        return m_cv.wait_for(lock, kWait, [&] { return m_value >= n; });
    }
    int value() {
        std::lock_guard lock(m_mutex);
        return m_value;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    int m_value = 0;
};

// ---- Races -----------------------------------------------------------------------------------

// Spins until `counter` reaches `at_least`, yielding now and then: a sleep would leave the thread
// asleep when the race starts, and on a loaded machine the side it waits for needs the core.
inline void spin_until_at_least(const std::atomic<int>& counter, int at_least) {
    for (unsigned spins = 0; counter.load(std::memory_order_acquire) < at_least; ++spins) {
        if (spins % 64 == 63)
            std::this_thread::yield();
    }
}

// Rounds of a race between this thread and another. Each round runs prepare(i) here; then mine(i)
// here and theirs(i) there start together, one of them later by an offset that sweeps -spread to
// +spread over 65 rounds (positive: mine later), so that the two meet at every point of each
// other's work; check(i) runs here once both returned. Stops after the first failed round.
template <class Prepare, class Mine, class Theirs, class Check>
void race_rounds(int rounds, std::chrono::nanoseconds spread, Prepare prepare, Mine mine,
                 Theirs theirs, Check check) {
    const auto offset = [spread](int i) { return spread * (i % 65 - 32) / 32; };
    const auto spin_for = [](std::chrono::nanoseconds d) {
        const auto until = Clock::now() + d;
        while (Clock::now() < until) {
        }
    };
    std::atomic<int> published{0};  // rounds prepared; rounds + 1 stops the other thread
    std::atomic<int> arrived{0};    // both sides, each round
    std::atomic<int> finished{0};   // rounds whose theirs(i) returned
    std::thread other([&] {
        for (int i = 1; i <= rounds; ++i) {
            spin_until_at_least(published, i);
            if (published.load(std::memory_order_acquire) > rounds)
                return;
            arrived.fetch_add(1, std::memory_order_acq_rel);
            spin_until_at_least(arrived, 2 * i);
            spin_for(-offset(i));
            theirs(i);
            finished.store(i, std::memory_order_release);
        }
    });
    for (int i = 1; i <= rounds; ++i) {
        prepare(i);
        published.store(i, std::memory_order_release);
        arrived.fetch_add(1, std::memory_order_acq_rel);
        spin_until_at_least(arrived, 2 * i);
        spin_for(offset(i));
        mine(i);
        spin_until_at_least(finished, i);
        check(i);
        if (::testing::Test::HasFailure()) {
            published.store(rounds + 1, std::memory_order_release);
            break;
        }
    }
    other.join();
}

// A plain thread destroys a primitive while four coroutines wait on it (wait(p, granted) starts
// one) and the loop cancels them at the same moment. Each wait fails with cancelled_error or
// invalid_state_error, whichever came first; nothing is granted, touches the freed primitive or
// hangs. make() gives a primitive on which a wait waits.
template <class Make, class Wait>
void destroy_as_the_loop_cancels(Make make, Wait wait) {
    const int rounds = kSanitized ? 3000 : 10000;
    decltype(make()) primitive;
    std::vector<unsync::Unfuture<int>> waiting(4);
    std::atomic<int> granted{0};
    int cancelled = 0;
    int destroyed = 0;
    race_rounds(
        rounds, std::chrono::microseconds(4),
        [&](int) {
            primitive = make();
            for (auto& w : waiting)
                w = wait(*primitive, granted);
            loop_turns(1);  // each waits in co_await
        },
        [&](int) { primitive.reset(); },
        [&](int) {
            for (auto& w : waiting)
                w.cancel();
        },
        [&](int i) {
            for (auto& w : waiting) {
                try {
                    (void)w.result(kWait);
                    ADD_FAILURE() << "round " << i << ": granted by a destroyed primitive";
                } catch (const unsync::cancelled_error&) {
                    ++cancelled;
                } catch (const unsync::invalid_state_error&) {
                    ++destroyed;
                }
            }
        });
    EXPECT_EQ(granted.load(), 0);
    std::printf("cancelled %d times, failed by the destructor %d times\n", cancelled, destroyed);
}

// Polls pred (the thing itself) with short pauses until it holds; false after `limit`. For state
// nothing signals (a pool's thread count, a process's exit).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = Clock::now() + limit;
    while (!pred()) {
        if (Clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace unsync_test
