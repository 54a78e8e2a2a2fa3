// Shutdown: at exit (std::exit with work still pending) and by an explicit unsync::shutdown().
// Every scenario runs in a child process (gtest death tests, "threadsafe" style because the
// runtime has threads), so that the shutdown of one cannot affect another, and so that the exit
// code, the child's stderr and, under ASan, its leak report are all checked.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <string>
#include <thread>
#include <utility>

using namespace std::chrono_literals;
using unsync::Unfuture;

namespace {

using Clock = std::chrono::steady_clock;

// Only reached when the feature is broken: the child then reports instead of hanging.
constexpr auto kWait = 20s;

// How long a child may take, from the parent's view (process start under a sanitizer included).
// The pending work in these children would otherwise last an hour or forever.
constexpr auto kPrompt = 15s;

// Runs `child` in a child process; it must exit with code 0, print a line matching `regex` on
// stderr, and do so promptly.
#define EXPECT_CLEAN_EXIT(child, regex)                                             \
    do {                                                                            \
        GTEST_FLAG_SET(death_test_style, "threadsafe");                             \
        const auto expect_clean_exit_t0 = Clock::now();                             \
        EXPECT_EXIT(child, ::testing::ExitedWithCode(0), regex);                    \
        EXPECT_LT(Clock::now() - expect_clean_exit_t0, kPrompt) << "exit was slow"; \
    } while (false)

[[noreturn]] void fail_child(const char* why) {
    std::fprintf(stderr, "child check failed: %s\n", why);
    std::_Exit(3);
}

template <class T>
std::string outcome(const Unfuture<T>& f) {
    if (!f.done())
        return "pending";
    try {
        (void)f.result();
        return "value";
    } catch (const unsync::cancelled_error&) {
        return "cancelled";
    } catch (const std::exception& e) {
        return std::string("exception: ") + e.what();
    }
}

// A coroutine that tells the caller it is about to sleep, then sleeps for an hour.
Unfuture<int> sleep_an_hour(Unfuture<void> sleeping) {
    sleeping.set_result();
    co_await unsync::sleep(1h);
    co_return 1;
}

Unfuture<int> await_forever(Unfuture<int> never, Unfuture<void> waiting) {
    waiting.set_result();
    co_return co_await never;
}

Unfuture<int> quick() {
    co_return 1;
}

struct Guard {
    const char* name;
    bool completed = false;
    ~Guard() {
        std::fprintf(stderr, "%s destroyed %s\n", name,
                     completed ? "after completing" : "by unwinding");
    }
};

Unfuture<int> inner_with_guard(Unfuture<void> sleeping) {
    Guard g{"inner guard"};
    sleeping.set_result();
    co_await unsync::sleep(1h);
    g.completed = true;
    co_return 1;
}

Unfuture<int> outer_with_guard(Unfuture<void> sleeping) {
    Guard g{"outer guard"};
    const int v = co_await inner_with_guard(sleeping);
    g.completed = true;
    co_return v;
}

Unfuture<int> guard_on_user_future(Unfuture<int> never, Unfuture<void> waiting) {
    Guard g{"awaiting guard"};
    waiting.set_result();
    const int v = co_await never;
    g.completed = true;
    co_return v;
}

// ---------------------------------------------------------------------------------------------
// Children
// ---------------------------------------------------------------------------------------------

[[noreturn]] void exit_while_a_coroutine_sleeps() {
    Unfuture<void> sleeping;
    auto task = sleep_an_hour(sleeping);
    sleeping.result(kWait);
    std::fprintf(stderr, "exiting\n");
    std::exit(0);
}

[[noreturn]] void exit_while_a_coroutine_awaits_a_user_future() {
    Unfuture<int> never;
    Unfuture<void> waiting;
    auto task = await_forever(never, waiting);
    waiting.result(kWait);
    std::fprintf(stderr, "exiting\n");
    std::exit(0);
}

// A pool of one thread: the first call occupies it until the second, still queued, is dropped
// by shutdown (its future fails with cancelled_error). A handler registered before the runtime
// started runs after the runtime's own exit handler and reports what became of the queued call.
Unfuture<int>* g_queued = nullptr;

void report_queued_call() {
    std::fprintf(stderr, "queued call: %s\n", outcome(*g_queued).c_str());
}

[[noreturn]] void exit_with_a_queued_pool_call() {
    std::atexit(&report_queued_call);
    unsync::Options options;
    options.thread_pool.max_threads = 1;
    unsync::set_options(options);

    std::promise<void> queued_ready;
    std::shared_future<void> queued_ready_f = queued_ready.get_future().share();
    std::promise<void> running;
    auto first = unsync::thread_executor().submit([queued_ready_f, &running] {
        running.set_value();
        queued_ready_f.wait();
        // Returns once shutdown dropped the queued call (or after kWait if it never does).
        try {
            (void)g_queued->result(kWait);
        } catch (...) {
        }
        return 1;
    });
    running.get_future().wait();
    g_queued = new Unfuture<int>(unsync::thread_executor().submit([] {
        std::fprintf(stderr, "the queued call ran\n");
        return 2;
    }));
    queued_ready.set_value();
    std::fprintf(stderr, "exiting\n");
    std::exit(0);
}

[[noreturn]] void call_after_shutdown() {
    if (quick().result(kWait) != 1)
        fail_child("the runtime did not run a coroutine");
    unsync::shutdown();
    unsync::shutdown();  // idempotent

    auto task = quick();
    bool cancelled = false;
    try {
        (void)task.result(kWait);
    } catch (const unsync::cancelled_error&) {
        cancelled = true;
    } catch (const unsync::timeout_error&) {
        fail_child("a coroutine called after shutdown hangs");
    }
    if (!cancelled)
        fail_child("a coroutine called after shutdown ran");

    // The same for the other ways of starting work.
    if (outcome(unsync::thread_executor().submit([] { return 1; })) != "cancelled") {
        fail_child("a pool call after shutdown was not cancelled");
    }
    auto chained = Unfuture<int>::from_value(1).then([](int x) { return x; });
    try {
        (void)chained.result(kWait);
        fail_child("then() after shutdown ran");
    } catch (const unsync::cancelled_error&) {
    } catch (const unsync::timeout_error&) {
        fail_child("then() after shutdown hangs");
    }

    // Plain futures need no runtime.
    Unfuture<int> plain;
    plain.set_result(7);
    if (plain.result() != 7)
        fail_child("plain future");

    std::fprintf(stderr, "after shutdown: cancelled\n");
    std::exit(0);
}

// runtime.hpp: "Afterwards new work fails with cancelled_error" - also when nothing had started
// the runtime before shutdown().
[[noreturn]] void shutdown_before_the_runtime_started() {
    if (unsync::started())
        fail_child("the runtime was already started");
    unsync::shutdown();
    auto task = quick();
    std::string what = "ran";
    try {
        (void)task.result(kWait);
    } catch (const unsync::cancelled_error&) {
        what = "cancelled";
    } catch (const unsync::timeout_error&) {
        what = "hung";
    }
    std::fprintf(stderr, "coroutine after an early shutdown(): %s\n", what.c_str());
    std::exit(0);
}

[[noreturn]] void exit_unwinds_a_cancelled_sleep() {
    Unfuture<void> sleeping;
    auto task = outer_with_guard(sleeping);
    sleeping.result(kWait);
    std::exit(0);
}

[[noreturn]] void exit_unwinds_a_cancelled_await() {
    Unfuture<int> never;
    Unfuture<void> waiting;
    auto task = guard_on_user_future(never, waiting);
    waiting.result(kWait);
    std::exit(0);
}

[[noreturn]] void explicit_shutdown_cancels_pending_tasks() {
    Unfuture<void> sleeping;
    auto sleeper = sleep_an_hour(sleeping);
    Unfuture<int> never;
    Unfuture<void> waiting;
    auto awaiter = await_forever(never, waiting);
    sleeping.result(kWait);
    waiting.result(kWait);
    if (sleeper.done() || awaiter.done())
        fail_child("tasks finished early");

    unsync::shutdown();  // returns once every task has unwound

    if (!sleeper.done())
        fail_child("the sleeping task is not done after shutdown()");
    if (!awaiter.done())
        fail_child("the awaiting task is not done after shutdown()");
    try {
        (void)sleeper.result();
        fail_child("result() of the sleeping task did not throw");
    } catch (const unsync::cancelled_error&) {
    }
    if (outcome(awaiter) != "cancelled")
        fail_child("the awaiting task was not cancelled");
    // Whoever completes the awaited future now finds no one waiting; nothing breaks.
    never.set_result(1);
    if (outcome(awaiter) != "cancelled")
        fail_child("the awaiting task changed its result");

    std::fprintf(stderr, "shutdown: sleeper %s, awaiter %s\n", outcome(sleeper).c_str(),
                 outcome(awaiter).c_str());
    std::exit(0);
}

[[noreturn]] void shutdown_wakes_a_blocked_result() {
    Unfuture<void> sleeping;
    auto sleeper = sleep_an_hour(sleeping);
    sleeping.result(kWait);
    // Another thread shuts down while this one blocks in result().
    std::thread stopper([] { unsync::shutdown(); });
    std::string what = "value";
    try {
        (void)sleeper.result(kWait);
    } catch (const unsync::cancelled_error&) {
        what = "cancelled";
    } catch (const unsync::timeout_error&) {
        what = "timed out";
    }
    stopper.join();
    std::fprintf(stderr, "blocked result(): %s\n", what.c_str());
    std::exit(0);
}

Unfuture<int> exit_from_the_loop() {
    Unfuture<void> other_sleeping;
    auto other = sleep_an_hour(other_sleeping);  // still pending at exit
    co_await other_sleeping;
    std::fprintf(stderr, "exiting from a coroutine\n");
    std::exit(0);
}

[[noreturn]] void exit_called_in_a_coroutine() {
    auto task = exit_from_the_loop();
    (void)task.result();  // never returns: the process exits first
    fail_child("result() returned");
}

[[noreturn]] void exit_called_in_a_pool_call() {
    Unfuture<void> sleeping;
    auto task = sleep_an_hour(sleeping);  // still pending at exit
    sleeping.result(kWait);
    auto call = unsync::thread_executor().submit([]() -> int {
        std::fprintf(stderr, "exiting from a pool call\n");
        std::exit(0);
    });
    (void)call.result();  // never returns: the process exits first
    fail_child("result() returned");
}

// The child reports a hang instead of hanging the suite (ctest would only fail it after 120 s).
void fail_child_after(std::chrono::seconds limit, const char* what) {
    std::thread([limit, what] {
        std::this_thread::sleep_for(limit);
        std::fprintf(stderr, "child hung: %s\n", what);
        std::_Exit(4);
    }).detach();
}

// A pool thread blocks in result() on a coroutine's future while another coroutine ends the
// program (std::exit) or shuts unsync down: shutdown must cancel the pending coroutine, or it
// waits forever for the pool thread.
Unfuture<int> blocked_on_by_a_pool_thread(Unfuture<void> pool_waiting) {
    co_await pool_waiting;
    co_await unsync::sleep(1h);
    co_return 1;
}

Unfuture<void> exit_with_code_7(Unfuture<void> pool_waiting) {
    co_await pool_waiting;
    std::exit(7);
}

Unfuture<std::string> shutdown_from_a_coroutine(Unfuture<void> pool_waiting) {
    co_await pool_waiting;
    unsync::shutdown();
    co_return "shutdown() returned in a coroutine";
}

struct BlockedPoolThread {
    Unfuture<void> waiting;
    Unfuture<int> target = blocked_on_by_a_pool_thread(waiting);
    Unfuture<std::string> blocked = unsync::thread_executor().submit(
        [](Unfuture<void> w, Unfuture<int> t) -> std::string {
            w.set_result();
            try {
                return "value " + std::to_string(t.result());
            } catch (const unsync::cancelled_error&) {
                return "cancelled";
            }
        },
        waiting, target);
};

[[noreturn]] void exit_in_a_coroutine_while_a_pool_thread_blocks() {
    fail_child_after(kWait, "exit() in a coroutine");
    BlockedPoolThread pool;
    auto task = exit_with_code_7(pool.waiting);
    (void)task.result();  // never returns: the process exits first
    fail_child("result() returned");
}

[[noreturn]] void shutdown_in_a_coroutine_while_a_pool_thread_blocks() {
    fail_child_after(kWait, "shutdown() in a coroutine");
    BlockedPoolThread pool;
    auto task = shutdown_from_a_coroutine(pool.waiting);
    std::string what;
    try {
        what = task.result(kWait);
    } catch (const std::exception& e) {
        what = e.what();
    }
    std::fprintf(stderr, "%s; the pool thread's call: %s\n", what.c_str(),
                 pool.blocked.result(kWait).c_str());
    std::exit(0);
}

// A long chain of continuations that never started when the program exits: its links are
// destroyed at shutdown, each the last owner of the one before it.
Unfuture<void> exit_once_released(Unfuture<void> running, std::atomic<bool>* go) {
    running.set_result();
    // Blocks the loop on purpose: the chain built meanwhile must not start.
    go->wait(false);
    std::exit(0);
    co_return;  // never reached; makes this a coroutine
}

[[noreturn]] void exit_with_a_long_chain_not_started() {
    fail_child_after(kWait, "exit with a long chain");
    std::atomic<bool> go{false};
    Unfuture<void> running;
    auto blocker = exit_once_released(running, &go);
    running.result(kWait);
    {
        Unfuture<int> chain = Unfuture<int>::from_value(0);
        for (int i = 0; i < 300'000; ++i)
            chain = chain.then([](int v) { return v + 1; });
    }  // only the links themselves keep the chain alive now
    std::fprintf(stderr, "exiting with the chain queued\n");
    go.store(true);
    go.notify_one();
    (void)blocker.result();  // never returns: the loop thread exits first
    fail_child("result() returned");
}

// A coroutine that retries whatever std::exception it gets, as generic code often does: it must
// not be able to swallow its own cancellation and keep shutdown waiting forever.
Unfuture<void> retries_every_std_exception(Unfuture<void> running) {
    running.set_result();
    for (;;) {
        try {
            co_await unsync::sleep(1h);
        } catch (const std::exception&) {
            // retry
        }
    }
}

[[noreturn]] void shutdown_with_a_task_that_retries_std_exceptions() {
    fail_child_after(kWait, "shutdown with a task that retries std::exception");
    Unfuture<void> running;
    auto stubborn = retries_every_std_exception(running);
    running.result(kWait);
    unsync::shutdown();
    std::fprintf(stderr, "shutdown returned; the task: %s\n", outcome(stubborn).c_str());
    std::exit(0);
}

// An item whose first move blocks until `go_on` is ready: Queue::push moves it into the grant of
// the waiting pop under the queue's lock, so the grant stays claimed, and not yet completed, for
// as long as the test wants.
struct HeldItem {
    static inline std::promise<void>* in_move = nullptr;
    static inline std::shared_future<void> go_on;

    explicit HeldItem(bool hold) : m_hold(hold) {}
    HeldItem(HeldItem&& other) noexcept : m_hold(false) {
        if (std::exchange(other.m_hold, false)) {
            in_move->set_value();
            go_on.wait();
        }
    }
    HeldItem& operator=(HeldItem&& other) noexcept {
        m_hold = std::exchange(other.m_hold, false);
        return *this;
    }
    bool m_hold;
};

Unfuture<void> pop_and_count(unsync::Queue<HeldItem>& q, std::atomic<int>& popped,
                             Unfuture<void> waiting) {
    waiting.set_result();
    for (;;) {
        (void)co_await q.pop_async();
        popped.fetch_add(1);
    }
}

// Its unwinding lets the held move finish.
Unfuture<void> let_go_when_unwound(Unfuture<int> never, Unfuture<void> waiting,
                                   std::promise<void>* go_on) {
    struct LetGo {
        std::promise<void>* go_on;
        ~LetGo() { go_on->set_value(); }
    } let_go{go_on};
    waiting.set_result();
    co_await never;
}

// A push hands its item to a coroutine waiting in pop_async() as shutdown cancels that
// coroutine: the grant is claimed first, and completed only after the drain has dealt with the
// popper (the drain unwinds `releaser` after it: tasks started later come first). The item must
// reach the popper, as pop_async() promises of an item granted before a cancellation took effect;
// dropped with the unread grant, it would be gone although the push succeeded.
[[noreturn]] void shutdown_as_an_item_goes_to_a_waiting_pop() {
    fail_child_after(kWait, "shutdown while an item goes to a waiting pop");
    unsync::Queue<HeldItem> q;
    std::atomic<int> popped{0};
    std::promise<void> in_move;
    std::promise<void> go_on;
    HeldItem::in_move = &in_move;
    HeldItem::go_on = go_on.get_future().share();

    Unfuture<int> never;
    Unfuture<void> releaser_waiting;
    auto releaser = let_go_when_unwound(never, releaser_waiting, &go_on);
    releaser_waiting.result(kWait);
    Unfuture<void> popper_waiting;
    auto popper = pop_and_count(q, popped, popper_waiting);
    popper_waiting.result(kWait);
    (void)quick().result(kWait);  // the popper's step has ended: it waits in pop_async()

    std::thread pusher([&] { q.push(HeldItem(true)); });
    in_move.get_future().wait();  // the pop's grant is claimed, its item half moved
    unsync::shutdown();
    pusher.join();
    if (!popper.done() || !releaser.done())
        fail_child("a task is not done after shutdown()");
    const char* what = popped.load() == 1 ? "popped" : q.size() == 1 ? "still queued" : "lost";
    std::fprintf(stderr, "item: %s; the popper: %s\n", what, outcome(popper).c_str());
    std::exit(0);
}

Unfuture<void> await_mutex(unsync::Mutex& m, Unfuture<void> waiting) {
    waiting.set_result();
    auto lock = co_await m;
}

// A coroutine waits in `co_await m` (a wait kept in its frame) when shutdown cancels it: the wait
// is taken out of the mutex's queue, so the mutex neither hands the lock to the unwound frame nor
// keeps it.
[[noreturn]] void shutdown_while_a_coroutine_waits_in_co_await_on_a_mutex() {
    fail_child_after(kWait, "shutdown while a coroutine waits on a mutex");
    unsync::Mutex m;
    m.lock();
    Unfuture<void> waiting;
    auto waiter = await_mutex(m, waiting);
    waiting.result(kWait);
    (void)quick().result(kWait);  // the waiter's step has ended: it waits in co_await
    unsync::shutdown();
    m.unlock();
    const bool free = m.try_lock();
    if (free)
        m.unlock();
    std::fprintf(stderr, "mutex: %s; the waiter: %s\n", free ? "free" : "held",
                 outcome(waiter).c_str());
    std::exit(0);
}

}  // namespace

// =============================================================================================
// Exit with work pending
// =============================================================================================

TEST(ShutdownAtExit, CoroutineSleepingForAnHour) {
    EXPECT_CLEAN_EXIT(exit_while_a_coroutine_sleeps(), "exiting");
}

TEST(ShutdownAtExit, CoroutineAwaitingAFutureNobodyCompletes) {
    EXPECT_CLEAN_EXIT(exit_while_a_coroutine_awaits_a_user_future(), "exiting");
}

TEST(ShutdownAtExit, QueuedThreadPoolCallIsDropped) {
    EXPECT_CLEAN_EXIT(exit_with_a_queued_pool_call(), "queued call: cancelled");
}

TEST(ShutdownAtExit, CancelledSleepRunsDestructors) {
    // Both frames unwind: the sleeping inner coroutine and the outer one awaiting it.
    // Both frames unwind, in either order: the sleeping inner coroutine and the outer one
    // awaiting it.
    EXPECT_CLEAN_EXIT(exit_unwinds_a_cancelled_sleep(),
                      "(inner guard destroyed by unwinding.*outer guard destroyed by unwinding)|"
                      "(outer guard destroyed by unwinding.*inner guard destroyed by unwinding)");
}

TEST(ShutdownAtExit, CancelledAwaitRunsDestructors) {
    EXPECT_CLEAN_EXIT(exit_unwinds_a_cancelled_await(), "awaiting guard destroyed by unwinding");
}

TEST(ShutdownAtExit, ExitCalledInsideACoroutine) {
    EXPECT_CLEAN_EXIT(exit_called_in_a_coroutine(), "exiting from a coroutine");
}

TEST(ShutdownAtExit, ExitInACoroutineWhileAPoolThreadBlocksOnAnother) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const auto t0 = Clock::now();
    EXPECT_EXIT(exit_in_a_coroutine_while_a_pool_thread_blocks(), ::testing::ExitedWithCode(7), "");
    EXPECT_LT(Clock::now() - t0, kPrompt) << "exit was slow";
}

TEST(ShutdownExplicit, ShutdownInACoroutineWhileAPoolThreadBlocksOnAnother) {
    EXPECT_CLEAN_EXIT(shutdown_in_a_coroutine_while_a_pool_thread_blocks(),
                      "shutdown\\(\\) returned in a coroutine; the pool thread's call: cancelled");
}

TEST(ShutdownAtExit, LongChainOfContinuationsNotStarted) {
    EXPECT_CLEAN_EXIT(exit_with_a_long_chain_not_started(), "exiting with the chain queued");
}

TEST(ShutdownAtExit, ExitCalledInsideAThreadPoolCall) {
    EXPECT_CLEAN_EXIT(exit_called_in_a_pool_call(), "exiting from a pool call");
}

// =============================================================================================
// Explicit shutdown()
// =============================================================================================

TEST(ShutdownExplicit, ATaskThatRetriesStdExceptionsCannotSwallowItsCancellation) {
    EXPECT_CLEAN_EXIT(shutdown_with_a_task_that_retries_std_exceptions(),
                      "shutdown returned; the task: cancelled");
}

TEST(ShutdownExplicit, CoroutineCalledAfterShutdownIsCancelled) {
    EXPECT_CLEAN_EXIT(call_after_shutdown(), "after shutdown: cancelled");
}

TEST(ShutdownExplicit, ShutdownBeforeTheRuntimeStartedStillRefusesLaterWork) {
    EXPECT_CLEAN_EXIT(shutdown_before_the_runtime_started(),
                      "coroutine after an early shutdown\\(\\): cancelled");
}

TEST(ShutdownExplicit, PendingTasksAreCancelled) {
    EXPECT_CLEAN_EXIT(explicit_shutdown_cancels_pending_tasks(),
                      "shutdown: sleeper cancelled, awaiter cancelled");
}

TEST(ShutdownExplicit, AnItemGrantedToAPopAsShutdownCancelsItIsNotLost) {
    EXPECT_CLEAN_EXIT(shutdown_as_an_item_goes_to_a_waiting_pop(),
                      "item: popped; the popper: cancelled");
}

TEST(ShutdownExplicit, ACoroutineWaitingInCoAwaitOnAMutexIsWithdrawn) {
    EXPECT_CLEAN_EXIT(shutdown_while_a_coroutine_waits_in_co_await_on_a_mutex(),
                      "mutex: free; the waiter: cancelled");
}

TEST(ShutdownExplicit, WakesAThreadBlockedInResult) {
    EXPECT_CLEAN_EXIT(shutdown_wakes_a_blocked_result(), "blocked result\\(\\): cancelled");
}
