// The exception types: their std bases (so generic handlers catch them), their messages, and
// that what the library throws can be caught through those bases.

#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

using namespace std::chrono_literals;
using unsync::Unfuture;

// ---------------------------------------------------------------------------------------------
// The hierarchy, at compile time
// ---------------------------------------------------------------------------------------------

static_assert(std::is_base_of_v<std::logic_error, unsync::invalid_state_error>);
static_assert(std::is_base_of_v<std::runtime_error, unsync::timeout_error>);
static_assert(std::is_base_of_v<std::exception, unsync::invalid_state_error>);
static_assert(std::is_base_of_v<std::exception, unsync::timeout_error>);
// Cancellation is not a std::exception: a generic `catch (const std::exception&)` that retries
// must not swallow it (test_shutdown has the task that would keep shutdown waiting forever).
static_assert(!std::is_base_of_v<std::exception, unsync::cancelled_error>);

// Distinct types: a handler for one does not swallow another.
static_assert(!std::is_base_of_v<std::runtime_error, unsync::invalid_state_error>);
static_assert(!std::is_base_of_v<std::logic_error, unsync::timeout_error>);
static_assert(!std::is_base_of_v<std::logic_error, unsync::cancelled_error>);
static_assert(!std::is_base_of_v<unsync::timeout_error, unsync::cancelled_error>);
static_assert(!std::is_base_of_v<unsync::cancelled_error, unsync::timeout_error>);

// Constructible from a message like their bases, and cheap to copy when rethrown.
static_assert(std::is_constructible_v<unsync::invalid_state_error, const char*>);
static_assert(std::is_constructible_v<unsync::invalid_state_error, const std::string&>);
static_assert(std::is_constructible_v<unsync::timeout_error, const char*>);
static_assert(std::is_constructible_v<unsync::timeout_error, const std::string&>);
static_assert(std::is_constructible_v<unsync::cancelled_error, const char*>);
static_assert(std::is_constructible_v<unsync::cancelled_error, const std::string&>);
static_assert(std::is_nothrow_copy_constructible_v<unsync::invalid_state_error>);
static_assert(std::is_nothrow_copy_constructible_v<unsync::timeout_error>);
static_assert(std::is_nothrow_copy_constructible_v<unsync::cancelled_error>);
static_assert(std::has_virtual_destructor_v<unsync::invalid_state_error>);

namespace {

// Throws e and reports which handler caught it.
template <class E>
std::string caught_as(const E& e) {
    try {
        throw e;
    } catch (const std::logic_error& x) {
        return std::string("logic_error: ") + x.what();
    } catch (const std::runtime_error& x) {
        return std::string("runtime_error: ") + x.what();
    } catch (...) {
        return "other";
    }
}

template <class E, class F>
std::string message_of(F&& f) {
    try {
        std::forward<F>(f)();
    } catch (const E& e) {
        return e.what();
    }
    return "<nothing thrown>";
}

Unfuture<int> pending_forever_task(Unfuture<int> gate) {
    co_return co_await gate;
}

}  // namespace

TEST(Errors, CarryTheirMessage) {
    EXPECT_STREQ(unsync::invalid_state_error("state message").what(), "state message");
    EXPECT_STREQ(unsync::timeout_error(std::string("timeout message")).what(), "timeout message");
    EXPECT_STREQ(unsync::cancelled_error("cancelled message").what(), "cancelled message");

    const unsync::timeout_error original("copied message");
    const unsync::timeout_error copy(original);
    EXPECT_STREQ(copy.what(), "copied message");
}

TEST(Errors, CaughtThroughTheirStdBases) {
    EXPECT_EQ(caught_as(unsync::invalid_state_error("a")), "logic_error: a");
    EXPECT_EQ(caught_as(unsync::timeout_error("b")), "runtime_error: b");

    // And as std::exception, keeping the dynamic type for a later, more specific handler.
    std::exception_ptr p;
    try {
        throw unsync::timeout_error("kept");
    } catch (const std::exception&) {
        p = std::current_exception();
    }
    EXPECT_THROW(std::rethrow_exception(p), unsync::timeout_error);
}

TEST(Errors, CancellationPassesThroughAStdExceptionHandler) {
    bool caught_as_std = false;
    bool caught_by_name = false;
    try {
        try {
            throw unsync::cancelled_error("passes");
        } catch (const std::exception&) {
            caught_as_std = true;
        }
    } catch (const unsync::cancelled_error& e) {
        caught_by_name = std::string(e.what()) == "passes";
    }
    EXPECT_FALSE(caught_as_std);
    EXPECT_TRUE(caught_by_name);
}

TEST(Errors, InvalidStateFromASecondCompletionIsALogicError) {
    Unfuture<int> f;
    f.set_result(1);
    const std::string msg = message_of<std::logic_error>([&] { f.set_result(2); });
    EXPECT_NE(msg.find("already"), std::string::npos) << msg;
    EXPECT_THROW(f.set_result(3), unsync::invalid_state_error);
}

TEST(Errors, InvalidStateFromAMovedFromHandleIsALogicError) {
    Unfuture<int> f;
    Unfuture<int> g = std::move(f);
    const std::string msg =
        message_of<std::logic_error>([&] { (void)f.done(); });  // NOLINT(bugprone-use-after-move)
    EXPECT_NE(msg.find("moved"), std::string::npos) << msg;
    EXPECT_TRUE(g.valid());
}

TEST(Errors, InvalidStateFromBlockingOnTheLoopIsALogicError) {
    Unfuture<int> gate;
    auto blocker = [](Unfuture<int> pending) -> Unfuture<std::string> {
        std::string msg = "<nothing thrown>";
        try {
            (void)pending.result();
        } catch (const std::logic_error& e) {  // the base, not the unsync type
            msg = e.what();
        }
        co_return msg;
    };
    EXPECT_EQ(blocker(gate).result(30s), "Calling result() in an unsync method is not allowed");
}

TEST(Errors, TimeoutIsARuntimeErrorWithAMessage) {
    Unfuture<int> f;
    const std::string msg = message_of<std::runtime_error>([&] { (void)f.result(1ms); });
    EXPECT_NE(msg, "<nothing thrown>");
    EXPECT_FALSE(msg.empty());
    EXPECT_THROW((void)f.result(1ms), unsync::timeout_error);

    auto task = pending_forever_task(f);
    EXPECT_THROW((void)task.result(1ms), unsync::timeout_error);
    f.set_result(5);
    EXPECT_EQ(task.result(30s), 5);
}

TEST(Errors, CancelledCarriesAMessage) {
    // A thread pool of one's own, shut down: its calls fail with cancelled_error. (The ambient
    // runtime's shutdown is covered in test_shutdown.)
    unsync::ThreadPool pool;
    pool.shutdown();
    auto f = pool.submit([] { return 1; });
    EXPECT_TRUE(f.done());
    const std::string msg = message_of<unsync::cancelled_error>([&] { (void)f.result(); });
    EXPECT_NE(msg, "<nothing thrown>");
    EXPECT_FALSE(msg.empty());
}

TEST(Errors, NullExceptionPtrIsAnInvalidArgument) {
    Unfuture<int> f;
    EXPECT_THROW(f.set_exception(std::exception_ptr{}), std::invalid_argument);
}

TEST(Errors, SetOptionsAfterStartIsALogicError) {
    (void)unsync::loop();  // starts the runtime
    ASSERT_TRUE(unsync::started());
    EXPECT_THROW(unsync::set_options({}), std::logic_error);
    EXPECT_THROW(unsync::set_options({}), unsync::invalid_state_error);
}

TEST(Errors, UserExceptionsAreNotWrapped) {
    // What a coroutine throws reaches result() as is, not converted to an unsync error.
    auto thrower = []() -> Unfuture<int> {
        co_await unsync::sleep(0ms);
        throw std::out_of_range("user range");
    };
    // A named handle: it keeps the exception alive while the handler reads it.
    auto task = thrower();
    try {
        (void)task.result(30s);
        FAIL() << "nothing thrown";
    } catch (const std::out_of_range& e) {
        EXPECT_STREQ(e.what(), "user range");
    }
}
