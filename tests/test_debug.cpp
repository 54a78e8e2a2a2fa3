// Debug aids: the slow-step warning of debug mode (Options::debug or UNSYNC_DEBUG=1), task
// names (unsync::named or the coroutine's function), and unsync::dump_tasks().
//
// Debug mode is chosen before the runtime starts, so each debug-mode scenario runs in a child
// process of its own (EXPECT_EXIT, "threadsafe" style: the child re-executes this test alone).
// The child captures its stderr around the scenario, checks what the loop printed, echoes the
// capture and a verdict to the real stderr and exits with 0 only when every check held.

#include <unsync/unsync.hpp>
#include <unsync/use_unfuture.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using unsync::Unfuture;
using unsync_test::kWait;
using unsync_test::loop_turns;

namespace {

// ---- Capturing stderr ------------------------------------------------------------------------

// Sends fd 2 to a temporary file until finish(); the loop thread's fprintf(stderr) lands there.
class StderrCapture {
public:
    StderrCapture() {
        std::fflush(stderr);
        m_saved = ::dup(2);
        m_file = std::tmpfile();
        if (m_saved < 0 || !m_file || ::dup2(::fileno(m_file), 2) < 0) {
            std::fprintf(stderr, "verdict: FAIL: cannot redirect stderr\n");
            std::_Exit(3);
        }
    }
    StderrCapture(const StderrCapture&) = delete;
    StderrCapture& operator=(const StderrCapture&) = delete;

    std::string finish() {
        std::fflush(stderr);
        ::dup2(m_saved, 2);
        ::close(m_saved);
        std::string text;
        std::rewind(m_file);
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, m_file)) > 0)
            text.append(buf, n);
        std::fclose(m_file);
        return text;
    }

private:
    int m_saved = -1;
    std::FILE* m_file = nullptr;
};

struct Warning {
    std::string name;
    double seconds;
    double threshold;
};

// The loop's line: "unsync: task '<name>' blocked the loop for <s> s (debug threshold <s> s)".
std::vector<Warning> parse_warnings(const std::string& text) {
    static const std::regex line(
        R"(unsync: task '([^']*)' blocked the loop for ([0-9.]+) s \(debug threshold ([0-9.]+) s\))");
    std::vector<Warning> out;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), line);
         it != std::sregex_iterator(); ++it) {
        out.push_back(
            Warning{(*it)[1].str(), std::stod((*it)[2].str()), std::stod((*it)[3].str())});
    }
    return out;
}

std::vector<Warning> warnings_for(const std::vector<Warning>& all, const std::string& name) {
    std::vector<Warning> out;
    for (const Warning& w : all) {
        if (w.name == name)
            out.push_back(w);
    }
    return out;
}

// Reports the child's findings on the real stderr and ends the child.
[[noreturn]] void verdict(const std::string& captured, const std::string& failure) {
    std::fprintf(stderr, "captured stderr: <<<%s>>>\n", captured.c_str());
    if (failure.empty()) {
        std::fprintf(stderr, "verdict: ok\n");
        std::fflush(stderr);
        std::exit(0);
    }
    std::fprintf(stderr, "verdict: FAIL: %s\n", failure.c_str());
    std::fflush(stderr);
    std::exit(1);
}

// ---- Coroutines ------------------------------------------------------------------------------

// Returns once the loop has finished every step scheduled before it, including whatever it
// prints after a step (the slow-step warning is written after the step returns).
void loop_barrier() {
    loop_turns(2);
}

// Blocks the loop thread for `d` in one step; this blocking IS the behaviour under test.
Unfuture<void> blocking_step(std::chrono::milliseconds d) {
    std::this_thread::sleep_for(d);
    co_return;
}

// The same after a gate: the name given with unsync::named() is in place before the slow step.
Unfuture<void> blocks_after(Unfuture<void> gate, std::chrono::milliseconds d) {
    co_await gate;
    std::this_thread::sleep_for(d);
}

// Two slow steps separated by a suspension.
Unfuture<void> blocks_twice(std::chrono::milliseconds d) {
    std::this_thread::sleep_for(d);
    co_await unsync::sleep(0ms);
    std::this_thread::sleep_for(d);
}

// Many quick steps of different kinds.
Unfuture<int> quick_child(int i) {
    co_await unsync::sleep(1ms);
    co_return i;
}
Unfuture<int> quick_steps() {
    int sum = 0;
    for (int i = 0; i < 20; ++i) {
        co_await unsync::sleep(0ms);
        sum += co_await quick_child(i);
    }
    asio::steady_timer timer(unsync::loop().io_context(), 2ms);
    co_await timer.async_wait(unsync::use_unfuture);
    sum += co_await quick_child(1).then([](int v) { return v * 10; });
    co_return sum;
}

Unfuture<void> sleepy_worker() {
    co_await unsync::sleep(1h);
}

Unfuture<void> awaits(Unfuture<void> f) {
    co_await f;
}

Unfuture<void> awaits_asio_timer() {
    asio::steady_timer timer(unsync::loop().io_context(), 1h);
    co_await timer.async_wait(unsync::use_unfuture);
}

// Dumps from inside a coroutine, after starting (but not yet running) one more task.
Unfuture<std::string> dump_from_coroutine(std::vector<Unfuture<void>>* started_here) {
    started_here->push_back(sleepy_worker());  // queued: runs once this step ends
    std::ostringstream out;
    unsync::dump_tasks(out);
    co_return out.str();
}

// Three levels, each awaiting the next as soon as it calls it: the inner two usually run inline,
// nested in their parent's step.
Unfuture<std::string> nest_leaf() {
    std::ostringstream out;
    unsync::dump_tasks(out);
    co_return out.str();
}
Unfuture<std::string> nest_middle() {
    co_return co_await nest_leaf();
}
Unfuture<std::string> nest_outer() {
    co_return co_await nest_middle();
}

std::string dump() {
    std::ostringstream out;
    unsync::dump_tasks(out);
    return out.str();
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Cancels the tasks and waits until each has ended (cancelled).
void cancel_all(std::vector<Unfuture<void>>& tasks) {
    for (auto& t : tasks)
        t.cancel();
    for (auto& t : tasks) {
        try {
            t.result(kWait);
        } catch (const unsync::cancelled_error&) {
        }
        EXPECT_TRUE(t.cancelled());
    }
}

// ---- Debug-mode scenarios (each in a child) --------------------------------------------------

void debug_options(std::optional<std::chrono::milliseconds> threshold) {
    unsync::Options options;
    options.debug = true;
    if (threshold)
        options.slow_callback_duration = *threshold;
    unsync::set_options(std::move(options));
}

[[noreturn]] void slow_named_step_is_reported() {
    ::unsetenv("UNSYNC_DEBUG");
    debug_options(50ms);
    loop_barrier();  // the runtime is up before the capture starts
    StderrCapture capture;
    Unfuture<void> gate;
    auto slow = unsync::named("blocker", blocks_after(gate, 200ms));
    // No sleep: a short sleep's wake-up alone can take the 50 ms threshold on a loaded machine.
    auto quick = unsync::named("quick", blocks_after(gate, 0ms));
    gate.set_result();
    slow.result(kWait);
    quick.result(kWait);
    loop_barrier();
    const std::string text = capture.finish();

    const auto all = parse_warnings(text);
    const auto blocker = warnings_for(all, "blocker");
    std::string failure;
    if (blocker.size() != 1) {
        failure = "expected one warning for 'blocker', got " + std::to_string(blocker.size());
    } else if (blocker[0].seconds < 0.15 || blocker[0].seconds > 30) {
        failure = "duration " + std::to_string(blocker[0].seconds) + " s is not about 0.2 s";
    } else if (blocker[0].threshold < 0.0495 || blocker[0].threshold > 0.0505) {
        failure = "threshold " + std::to_string(blocker[0].threshold) + " s is not 0.050 s";
    } else if (!warnings_for(all, "quick").empty()) {
        failure = "a step that does not block was reported with a 50 ms threshold";
    } else if (!warnings_for(all, "blocks_after").empty()) {
        failure = "the slow step was reported under its function's name, not its given name";
    }
    verdict(text, failure);
}

[[noreturn]] void slow_step_names_its_function() {
    ::unsetenv("UNSYNC_DEBUG");
    debug_options(50ms);
    loop_barrier();
    StderrCapture capture;
    blocking_step(200ms).result(kWait);
    loop_barrier();
    const std::string text = capture.finish();

    const auto mine = warnings_for(parse_warnings(text), "blocking_step");
    std::string failure;
    if (mine.size() != 1) {
        failure = "expected one warning for 'blocking_step', got " + std::to_string(mine.size());
    } else if (mine[0].seconds < 0.15 || mine[0].seconds > 30) {
        failure = "duration " + std::to_string(mine[0].seconds) + " s is not about 0.2 s";
    }
    verdict(text, failure);
}

[[noreturn]] void each_slow_step_is_reported() {
    ::unsetenv("UNSYNC_DEBUG");
    debug_options(50ms);
    loop_barrier();
    StderrCapture capture;
    unsync::named("twice", blocks_twice(150ms)).result(kWait);
    loop_barrier();
    const std::string text = capture.finish();

    const auto all = parse_warnings(text);
    // The first step may run before named() (it is scheduled by the call), so either name.
    std::size_t slow = 0;
    for (const Warning& w : all) {
        if ((w.name == "twice" || w.name == "blocks_twice") && w.seconds >= 0.1 && w.seconds < 30)
            ++slow;
    }
    verdict(text, slow == 2 ? "" : "expected two slow-step warnings, got " + std::to_string(slow));
}

[[noreturn]] void environment_turns_it_on() {
    ::setenv("UNSYNC_DEBUG", "1", 1);  // before first use; Options::debug stays false
    loop_barrier();
    StderrCapture capture;
    blocking_step(200ms).result(kWait);
    loop_barrier();
    const std::string text = capture.finish();

    const auto mine = warnings_for(parse_warnings(text), "blocking_step");
    std::string failure;
    if (mine.size() != 1) {
        failure = "UNSYNC_DEBUG=1: expected one warning, got " + std::to_string(mine.size());
    } else if (mine[0].seconds < 0.15) {
        failure = "duration " + std::to_string(mine[0].seconds) + " s is below 0.15 s";
    } else if (mine[0].threshold < 0.0995 || mine[0].threshold > 0.1005) {
        failure = "the default threshold is " + std::to_string(mine[0].threshold) + " s, not 0.1";
    }
    verdict(text, failure);
}

[[noreturn]] void default_threshold_is_100ms() {
    ::unsetenv("UNSYNC_DEBUG");
    debug_options(std::nullopt);
    loop_barrier();
    StderrCapture capture;
    blocking_step(250ms).result(kWait);
    loop_barrier();
    const std::string text = capture.finish();

    const auto mine = warnings_for(parse_warnings(text), "blocking_step");
    std::string failure;
    if (mine.size() != 1) {
        failure = "expected one warning, got " + std::to_string(mine.size());
    } else if (mine[0].threshold < 0.0995 || mine[0].threshold > 0.1005) {
        failure = "the default threshold is " + std::to_string(mine[0].threshold) + " s, not 0.1";
    } else if (mine[0].seconds < 0.2) {
        failure = "duration " + std::to_string(mine[0].seconds) + " s is below 0.2 s";
    }
    verdict(text, failure);
}

// Debug mode off (by default, or with UNSYNC_DEBUG=0): the same slow step prints nothing.
[[noreturn]] void off_prints_nothing(const char* env) {
    if (env) {
        ::setenv("UNSYNC_DEBUG", env, 1);
    } else {
        ::unsetenv("UNSYNC_DEBUG");
    }
    loop_barrier();
    StderrCapture capture;
    const auto t0 = std::chrono::steady_clock::now();
    blocking_step(200ms).result(kWait);
    const bool blocked = std::chrono::steady_clock::now() - t0 >= 200ms;
    loop_barrier();
    const std::string text = capture.finish();

    std::string failure;
    if (!blocked) {
        failure = "the step did not block";
    } else if (contains(text, "blocked the loop")) {
        failure = "a warning was printed with debug mode off";
    }
    verdict(text, failure);
}

[[noreturn]] void fast_steps_print_nothing() {
    ::unsetenv("UNSYNC_DEBUG");
    debug_options(std::nullopt);  // the default 100 ms
    loop_barrier();
    StderrCapture capture;
    std::vector<Unfuture<int>> runs;
    for (int i = 0; i < 5; ++i)
        runs.push_back(quick_steps());
    int total = 0;
    for (auto& r : runs)
        total += r.result(kWait);
    loop_barrier();
    const std::string text = capture.finish();

    std::string failure;
    if (total != 5 * (190 + 10)) {
        failure = "the quick steps computed " + std::to_string(total);
    } else if (contains(text, "blocked the loop")) {
        failure = "a fast step was reported";
    }
    verdict(text, failure);
}

// The issue asks for a warning when "a callback or coroutine step blocks the loop": an Asio
// completion handler run by the loop is such a callback.
[[noreturn]] void slow_callback_is_reported() {
    ::unsetenv("UNSYNC_DEBUG");
    debug_options(50ms);
    loop_barrier();
    StderrCapture capture;
    Unfuture<void> ran;
    asio::post(unsync::loop().io_context(), [ran] {
        std::this_thread::sleep_for(200ms);  // blocks the loop: the behaviour under test
        ran.set_result();
    });
    ran.result(kWait);
    loop_barrier();
    const std::string text = capture.finish();
    verdict(text, contains(text, "blocked the loop")
                      ? ""
                      : "an Asio handler blocked the loop for 0.2 s and nothing was reported");
}

[[noreturn]] void dump_before_start() {
    std::string failure;
    const bool was_started = unsync::started();
    const std::string text = dump();
    if (was_started) {
        failure = "the runtime had started before the test";
    } else if (!contains(text, "0 pending task(s)")) {
        failure = "the listing does not say 0 pending";
    } else if (unsync::started()) {
        failure = "dump_tasks() started the runtime";
    }
    verdict(text, failure);
}

[[noreturn]] void dump_after_shutdown() {
    std::vector<Unfuture<void>> tasks{unsync::named("napper", sleepy_worker())};
    const std::string before = dump();
    unsync::shutdown();
    const std::string after = dump();
    std::string failure;
    if (!contains(before, "task 'napper' sleeps")) {
        failure = "before shutdown the sleeping task was not listed";
    } else if (!contains(after, "0 pending task(s)") || contains(after, "napper")) {
        failure = "after shutdown the listing is not empty";
    } else if (!tasks[0].cancelled()) {
        failure = "shutdown did not cancel the sleeping task";
    }
    verdict(before + "---\n" + after, failure);
}

}  // namespace

// ---- Debug mode ------------------------------------------------------------------------------

TEST(DebugMode, SlowStepIsReportedWithItsGivenNameAndDuration) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(slow_named_step_is_reported(), ::testing::ExitedWithCode(0),
                "unsync: task 'blocker' blocked the loop for 0?[0-9]+\\.[0-9]+ s \\(debug "
                "threshold 0\\.050 s\\).*verdict: ok");
}

TEST(DebugMode, SlowStepOfAnUnnamedTaskNamesItsFunction) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(slow_step_names_its_function(), ::testing::ExitedWithCode(0),
                "unsync: task 'blocking_step' blocked the loop.*verdict: ok");
}

TEST(DebugMode, EachSlowStepIsReported) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(each_slow_step_is_reported(), ::testing::ExitedWithCode(0), "verdict: ok");
}

TEST(DebugMode, EnvironmentVariableTurnsItOn) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(environment_turns_it_on(), ::testing::ExitedWithCode(0),
                "unsync: task 'blocking_step' blocked the loop.*verdict: ok");
}

TEST(DebugMode, DefaultThresholdIs100Milliseconds) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(default_threshold_is_100ms(), ::testing::ExitedWithCode(0),
                "\\(debug threshold 0\\.100 s\\).*verdict: ok");
}

TEST(DebugMode, OffByDefaultNothingIsPrinted) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(off_prints_nothing(nullptr), ::testing::ExitedWithCode(0), "verdict: ok");
}

TEST(DebugMode, EnvironmentZeroLeavesItOff) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(off_prints_nothing("0"), ::testing::ExitedWithCode(0), "verdict: ok");
}

TEST(DebugMode, FastStepsPrintNothing) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(fast_steps_print_nothing(), ::testing::ExitedWithCode(0), "verdict: ok");
}

TEST(DebugMode, SlowAsioCallbackIsReported) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(slow_callback_is_reported(), ::testing::ExitedWithCode(0), "verdict: ok");
}

// ---- named() ---------------------------------------------------------------------------------

TEST(Named, ReturnsTheTasksFuture) {
    Unfuture<void> gate;
    auto task = [](Unfuture<void> g) -> Unfuture<int> {
        co_await g;
        co_return 7;
    };
    Unfuture<int> original = task(gate);
    Unfuture<int> same = unsync::named("seven", original);
    EXPECT_TRUE(contains(dump(), "task 'seven' awaits a future"));
    gate.set_result();
    EXPECT_EQ(same.result(kWait), 7);
    EXPECT_TRUE(original.done());
}

TEST(Named, NonTaskFuturesAreReturnedUnchanged) {
    const auto ready = Unfuture<int>::from_value(5);
    const auto named_ready = unsync::named("ready", ready);
    ASSERT_TRUE(named_ready.valid());
    EXPECT_TRUE(named_ready.done());
    EXPECT_EQ(named_ready.result(), 5);

    // The same state: completing the original completes what named() returned.
    Unfuture<std::string> pending;
    const auto named_pending = unsync::named("pending", pending);
    EXPECT_FALSE(named_pending.done());
    pending.set_result("done");
    EXPECT_EQ(named_pending.result(kWait), "done");

    const auto pooled = unsync::named("pooled", unsync::thread_executor().submit([] { return 3; }));
    EXPECT_EQ(pooled.result(kWait), 3);
    // None of them became a task to list.
    const std::string listing = dump();
    EXPECT_FALSE(contains(listing, "'ready'")) << listing;
    EXPECT_FALSE(contains(listing, "'pending'")) << listing;
    EXPECT_FALSE(contains(listing, "'pooled'")) << listing;
}

// ---- dump_tasks() ----------------------------------------------------------------------------

TEST(DumpTasks, ListsPendingTasksAndWhatEachAwaits) {
    Unfuture<void> never;  // a plain future nobody completes
    std::vector<Unfuture<void>> tasks;
    tasks.push_back(sleepy_worker());  // unnamed: listed by its function
    Unfuture<void> napper = unsync::named("napper", sleepy_worker());
    tasks.push_back(napper);
    tasks.push_back(unsync::named("follower", awaits(napper)));
    tasks.push_back(unsync::named("gatekeeper", awaits(never)));
    tasks.push_back(unsync::named("io-waiter", awaits_asio_timer()));

    const std::string listing = dump();
    EXPECT_TRUE(contains(listing, "task 'sleepy_worker' sleeps")) << listing;
    EXPECT_TRUE(contains(listing, "task 'napper' sleeps")) << listing;
    EXPECT_TRUE(contains(listing, "task 'follower' awaits task 'napper'")) << listing;
    EXPECT_TRUE(contains(listing, "task 'gatekeeper' awaits a future")) << listing;
    // An Asio operation's future is not a task's.
    EXPECT_TRUE(contains(listing, "task 'io-waiter' awaits")) << listing;
    EXPECT_FALSE(contains(listing, "task 'io-waiter' awaits task")) << listing;
    EXPECT_TRUE(contains(listing, "5 pending task(s), 0 not started")) << listing;
    // The coroutine that takes the snapshot on the loop is not listed.
    EXPECT_EQ(std::count(listing.begin(), listing.end(), '\n'), 6) << listing;

    // The same from a thread-pool thread.
    const std::string pooled =
        unsync::thread_executor().submit([] { return dump(); }).result(kWait);
    EXPECT_TRUE(contains(pooled, "task 'follower' awaits task 'napper'")) << pooled;
    EXPECT_TRUE(contains(pooled, "5 pending task(s)")) << pooled;

    cancel_all(tasks);
    // Finished tasks are gone from the listing.
    const std::string after = dump();
    EXPECT_TRUE(contains(after, "0 pending task(s), 0 not started")) << after;
    EXPECT_FALSE(contains(after, "napper")) << after;
}

TEST(DumpTasks, FromInsideACoroutine) {
    std::vector<Unfuture<void>> tasks;
    tasks.push_back(unsync::named("napper", sleepy_worker()));
    std::vector<Unfuture<void>> started_inside;
    const std::string listing = dump_from_coroutine(&started_inside).result(kWait);
    ASSERT_EQ(started_inside.size(), 1u);
    tasks.push_back(started_inside[0]);

    EXPECT_TRUE(contains(listing, "task 'napper' sleeps")) << listing;
    // Started by the dumping step, not yet run: queued.
    EXPECT_TRUE(contains(listing, "task 'sleepy_worker' is queued, not started")) << listing;
    // The asking coroutine does not list itself.
    EXPECT_FALSE(contains(listing, "dump_from_coroutine")) << listing;
    EXPECT_TRUE(contains(listing, "1 pending task(s), 1 not started")) << listing;

    cancel_all(tasks);
}

TEST(DumpTasks, ListsTheTasksThatAwaitTheAskingOne) {
    const std::string listing = nest_outer().result(kWait);
    // However the children were started (inline, in their parent's step, or by the loop), the
    // two that wait for the asking coroutine are pending, and listed.
    EXPECT_TRUE(contains(listing, "task 'nest_outer'")) << listing;
    EXPECT_TRUE(contains(listing, "task 'nest_middle'")) << listing;
    EXPECT_FALSE(contains(listing, "task 'nest_leaf'")) << listing;
    EXPECT_TRUE(contains(listing, "2 pending task(s), 0 not started")) << listing;
}

TEST(DumpTasks, SaysZeroPendingBeforeTheRuntimeStarts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(dump_before_start(), ::testing::ExitedWithCode(0), "0 pending task.*verdict: ok");
}

TEST(DumpTasks, SaysZeroPendingAfterShutdown) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(dump_after_shutdown(), ::testing::ExitedWithCode(0), "verdict: ok");
}
