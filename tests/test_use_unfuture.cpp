// unsync::use_unfuture: Asio asynchronous operations on the loop's io_context as Unfutures —
// awaited from coroutines, blocked on from plain code, their errors as std::system_error, their
// values (one, several, none) as the Unfuture's value, cancellation wired to Asio's
// per-operation cancellation; a TCP echo server with many concurrent clients; the I/O backend.

#include <unsync/unsync.hpp>
#include <unsync/use_unfuture.hpp>

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <sys/resource.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using asio::ip::tcp;
using unsync::Unfuture;
using unsync_test::Clock;
using unsync_test::kPrompt;
using unsync_test::kWait;

namespace {

using local_socket = asio::local::stream_protocol::socket;

asio::io_context& io() {
    return unsync::loop().io_context();
}

// ---- What the token's Unfuture holds, by completion signature (compile time) ----------------

static_assert(
    std::is_same_v<decltype(std::declval<asio::steady_timer&>().async_wait(unsync::use_unfuture)),
                   Unfuture<void>>);
static_assert(std::is_same_v<decltype(std::declval<tcp::socket&>().async_read_some(
                                 asio::mutable_buffer(), unsync::use_unfuture)),
                             Unfuture<std::size_t>>);
static_assert(
    std::is_same_v<decltype(std::declval<tcp::acceptor&>().async_accept(unsync::use_unfuture)),
                   Unfuture<tcp::socket>>);
static_assert(std::is_same_v<decltype(std::declval<tcp::socket&>().async_connect(
                                 tcp::endpoint(), unsync::use_unfuture)),
                             Unfuture<void>>);
static_assert(
    std::is_same_v<decltype(asio::post(std::declval<asio::io_context&>(), unsync::use_unfuture)),
                   Unfuture<void>>);

// A hand-made operation with any completion signature: the initiation runs `complete` with the
// handler on the loop (through asio::post), or drops the handler when `complete` is empty.
template <class Signature, class Complete>
auto custom_op(Complete complete) {
    return asio::async_initiate<const unsync::UseUnfuture&, Signature>(
        [](auto handler, Complete c) {
            asio::post(io(),
                       [h = std::move(handler), c = std::move(c)]() mutable { c(std::move(h)); });
        },
        unsync::use_unfuture, std::move(complete));
}

// A port on loopback that nobody listens on: bound to find a free one, then closed.
tcp::endpoint closed_loopback_port() {
    asio::io_context scratch;
    tcp::acceptor probe(scratch, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    const tcp::endpoint endpoint = probe.local_endpoint();
    probe.close();
    return endpoint;
}

// Sets a flag when destroyed: proves a cancelled coroutine unwound.
struct SetOnDestroy {
    std::shared_ptr<std::atomic<bool>> flag;
    ~SetOnDestroy() { flag->store(true); }
};

// ---- Coroutines ------------------------------------------------------------------------------

struct TimerReport {
    Clock::duration took;
    bool on_loop_thread;
};

Unfuture<TimerReport> wait_on_timer(std::chrono::milliseconds d) {
    asio::steady_timer timer(io(), d);
    const auto t0 = Clock::now();
    co_await timer.async_wait(unsync::use_unfuture);
    co_return TimerReport{Clock::now() - t0, std::this_thread::get_id() == unsync::thread()};
}

Unfuture<std::error_code> connect_error(tcp::endpoint to) {
    tcp::socket socket(io());
    try {
        co_await socket.async_connect(to, unsync::use_unfuture);
    } catch (const unsync::cancelled_error&) {
        throw std::runtime_error("connect reported cancellation, not an error");
    } catch (const std::system_error& e) {
        co_return e.code();
    }
    co_return std::error_code();
}

struct AcceptReport {
    bool accepted_open = false;
    tcp::endpoint accepted_peer;
    tcp::endpoint client_local;
    std::size_t written = 0;
    std::string received;
};

// Accepts one connection (tcp::socket as the value), then reads what the client sent with
// async_read_some (std::size_t as the value).
Unfuture<AcceptReport> accept_and_read() {
    AcceptReport report;
    tcp::acceptor acceptor(io(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor.listen();
    tcp::socket client(io());
    Unfuture<void> connected =
        client.async_connect(acceptor.local_endpoint(), unsync::use_unfuture);
    tcp::socket server = co_await acceptor.async_accept(unsync::use_unfuture);
    co_await connected;
    report.accepted_open = server.is_open();
    report.accepted_peer = server.remote_endpoint();
    report.client_local = client.local_endpoint();

    const std::string message = "hello, unsync";
    report.written =
        co_await asio::async_write(client, asio::buffer(message), unsync::use_unfuture);
    std::array<char, 64> data{};
    while (report.received.size() < message.size()) {
        const std::size_t n =
            co_await server.async_read_some(asio::buffer(data), unsync::use_unfuture);
        report.received.append(data.data(), n);
    }
    co_return report;
}

// Waits on an hour-long timer until cancelled. `op` receives the token's Unfuture, `started`
// is set just before the coroutine suspends on it.
Unfuture<void> wait_an_hour(Unfuture<void> started, std::shared_ptr<Unfuture<void>> op,
                            std::shared_ptr<std::atomic<bool>> unwound) {
    SetOnDestroy guard{std::move(unwound)};
    asio::steady_timer timer(io(), 1h);
    *op = timer.async_wait(unsync::use_unfuture);
    started.set_result();
    co_await *op;
    throw std::runtime_error("the hour-long timer fired");
}

// Reads from a socket whose peer never writes, until cancelled.
Unfuture<std::size_t> read_forever(Unfuture<void> started,
                                   std::shared_ptr<Unfuture<std::size_t>> op,
                                   std::shared_ptr<std::atomic<bool>> unwound) {
    SetOnDestroy guard{std::move(unwound)};
    local_socket a(io());
    local_socket b(io());
    asio::local::connect_pair(a, b);
    std::array<char, 16> data{};
    *op = asio::async_read(a, asio::buffer(data), unsync::use_unfuture);
    started.set_result();
    co_return co_await *op;
}

// Starts an hour-long timer and hands its Unfuture out; keeps the timer alive (on the loop
// thread) until that operation is done, then reports how it ended.
Unfuture<bool> hand_out_timer(Unfuture<Unfuture<void>> handoff) {
    asio::steady_timer timer(io(), 1h);
    Unfuture<void> op = timer.async_wait(unsync::use_unfuture);
    handoff.set_result(op);
    co_await op.when_done();
    co_return op.cancelled();
}

// ---- Echo ------------------------------------------------------------------------------------

void raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

std::size_t descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 0;
    return static_cast<std::size_t>(limit.rlim_cur);
}

Unfuture<void> echo_session(tcp::socket socket) {
    std::array<char, 4096> data{};
    for (;;) {
        std::size_t n = 0;
        try {
            n = co_await socket.async_read_some(asio::buffer(data), unsync::use_unfuture);
        } catch (const std::system_error& e) {
            if (e.code() == asio::error::eof)
                co_return;
            throw;
        }
        co_await asio::async_write(socket, asio::buffer(data, n), unsync::use_unfuture);
    }
}

Unfuture<void> echo_server(std::shared_ptr<tcp::acceptor> acceptor, int connections) {
    std::vector<Unfuture<void>> sessions;
    sessions.reserve(static_cast<std::size_t>(connections));
    for (int i = 0; i < connections; ++i) {
        sessions.push_back(echo_session(co_await acceptor->async_accept(unsync::use_unfuture)));
    }
    // Every session ends cleanly at its client's end of file.
    co_await unsync::gather(std::move(sessions));
}

std::string client_message(int id) {
    // Distinct per client, and long enough to need more than one segment now and then.
    std::string message;
    for (int i = 0; i < 64; ++i)
        message += "client " + std::to_string(id) + " line " + std::to_string(i) + '\n';
    return message;
}

Unfuture<std::string> echo_client(tcp::endpoint server, int id) {
    tcp::socket socket(io());
    co_await socket.async_connect(server, unsync::use_unfuture);
    const std::string message = client_message(id);
    co_await asio::async_write(socket, asio::buffer(message), unsync::use_unfuture);
    std::string echoed(message.size(), '\0');
    co_await asio::async_read(socket, asio::buffer(echoed), unsync::use_unfuture);
    co_return echoed;
}

Unfuture<std::vector<std::string>> echo_run(int clients) {
    auto acceptor =
        std::make_shared<tcp::acceptor>(io(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor->listen(asio::socket_base::max_listen_connections);
    Unfuture<void> server = echo_server(acceptor, clients);
    std::vector<Unfuture<std::string>> replies;
    replies.reserve(static_cast<std::size_t>(clients));
    for (int id = 0; id < clients; ++id)
        replies.push_back(echo_client(acceptor->local_endpoint(), id));
    std::vector<std::string> echoed = co_await unsync::gather(std::move(replies));
    co_await server;
    co_return echoed;
}

}  // namespace

// ---- Awaiting and blocking -------------------------------------------------------------------

TEST(UseUnfuture, TimerAwaitedInACoroutine) {
    const TimerReport report = wait_on_timer(50ms).result(kWait);
    EXPECT_GE(report.took, 50ms);
    EXPECT_LT(report.took, kPrompt);
    EXPECT_TRUE(report.on_loop_thread);
}

TEST(UseUnfuture, TimerWaitedOnWithResultFromTheMainThread) {
    asio::steady_timer timer(io(), 50ms);
    const auto t0 = Clock::now();
    Unfuture<void> op = timer.async_wait(unsync::use_unfuture);
    op.result(kWait);
    const auto took = Clock::now() - t0;
    EXPECT_TRUE(op.done());
    EXPECT_FALSE(op.cancelled());
    EXPECT_EQ(op.exception(), nullptr);
    EXPECT_GE(took, 50ms);
    EXPECT_LT(took, kPrompt);
}

TEST(UseUnfuture, ReadSomeWithResultFromTheMainThread) {
    // The sockets are used by this thread only; the loop thread runs the io_context.
    local_socket a(io());
    local_socket b(io());
    asio::local::connect_pair(a, b);
    std::array<char, 32> data{};
    Unfuture<std::size_t> op = b.async_read_some(asio::buffer(data), unsync::use_unfuture);
    const std::string message = "from main";
    ASSERT_EQ(asio::write(a, asio::buffer(message)), message.size());
    const std::size_t n = op.result(kWait);
    ASSERT_GE(n, 1u);
    ASSERT_LE(n, message.size());
    EXPECT_EQ(std::string(data.data(), n), message.substr(0, n));
}

TEST(UseUnfuture, PostCompletesOnTheLoopThread) {
    auto where = std::make_shared<std::thread::id>();  // written on the loop before completion
    asio::post(io(), [where] { *where = std::this_thread::get_id(); });
    Unfuture<void> op = asio::post(io(), unsync::use_unfuture);
    op.result(kWait);
    // Handlers run in order on the one loop thread: the first ran before the token's.
    EXPECT_EQ(*where, unsync::thread());
}

// ---- Errors ----------------------------------------------------------------------------------

TEST(UseUnfuture, ConnectToAClosedPortThrowsConnectionRefused) {
    const tcp::endpoint nobody = closed_loopback_port();
    const std::error_code ec = connect_error(nobody).result(kWait);
    EXPECT_EQ(ec, asio::error::connection_refused) << ec.message();
}

TEST(UseUnfuture, ConnectErrorFromTheMainThreadIsASystemError) {
    const tcp::endpoint nobody = closed_loopback_port();
    tcp::socket socket(io());
    Unfuture<void> op = socket.async_connect(nobody, unsync::use_unfuture);
    try {
        op.result(kWait);
        FAIL() << "connecting to a closed port succeeded";
    } catch (const unsync::cancelled_error& e) {
        FAIL() << "cancelled_error instead of a system_error: " << e.what();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), asio::error::connection_refused) << e.code().message();
    }
    EXPECT_FALSE(op.cancelled());
}

// ---- Values ----------------------------------------------------------------------------------

TEST(UseUnfuture, AcceptGivesASocketAndReadSomeGivesACount) {
    const AcceptReport report = accept_and_read().result(kWait);
    EXPECT_TRUE(report.accepted_open);
    // The accepted socket is the server end of the client's connection.
    EXPECT_EQ(report.accepted_peer, report.client_local);
    EXPECT_EQ(report.written, std::strlen("hello, unsync"));
    EXPECT_EQ(report.received, "hello, unsync");
}

TEST(UseUnfuture, SeveralValuesBecomeATuple) {
    auto op = custom_op<void(std::error_code, int, std::string)>(
        [](auto h) { h(std::error_code(), 7, std::string("seven")); });
    static_assert(std::is_same_v<decltype(op), Unfuture<std::tuple<int, std::string>>>);
    EXPECT_EQ(op.result(kWait), std::make_tuple(7, std::string("seven")));
}

TEST(UseUnfuture, SignatureWithoutAnErrorCarriesTheValue) {
    auto op = custom_op<void(int)>([](auto h) { h(42); });
    static_assert(std::is_same_v<decltype(op), Unfuture<int>>);
    EXPECT_EQ(op.result(kWait), 42);
}

TEST(UseUnfuture, ErrorCodeWithValuesThrowsTheError) {
    auto op = custom_op<void(std::error_code, int)>(
        [](auto h) { h(make_error_code(std::errc::io_error), 1); });
    try {
        (void)op.result(kWait);
        FAIL() << "an error code completed the future with a value";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::io_error);
    }
}

TEST(UseUnfuture, ExceptionPtrSignature) {
    auto fails = custom_op<void(std::exception_ptr, int)>(
        [](auto h) { h(std::make_exception_ptr(std::out_of_range("from the operation")), 0); });
    static_assert(std::is_same_v<decltype(fails), Unfuture<int>>);
    EXPECT_THROW((void)fails.result(kWait), std::out_of_range);

    auto succeeds =
        custom_op<void(std::exception_ptr, int)>([](auto h) { h(std::exception_ptr(), 5); });
    EXPECT_EQ(succeeds.result(kWait), 5);
}

TEST(UseUnfuture, OperationAbortedWithoutCancelIsASystemError) {
    // operation_aborted that unsync did not ask for (e.g. the object was closed) stays an error.
    auto op = custom_op<void(std::error_code)>(
        [](auto h) { h(asio::error::make_error_code(asio::error::operation_aborted)); });
    try {
        op.result(kWait);
        FAIL() << "operation_aborted completed the future with a value";
    } catch (const unsync::cancelled_error& e) {
        FAIL() << "reported as cancelled though nobody cancelled: " << e.what();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), asio::error::operation_aborted);
    }
    EXPECT_FALSE(op.cancelled());
}

TEST(UseUnfuture, AHandlerDestroyedUncalledCancelsTheFuture) {
    // The operation drops its handler without calling it (as a destroyed io_context does):
    // nobody waits forever.
    auto op = custom_op<void(std::error_code, int)>([](auto h) { auto dropped = std::move(h); });
    EXPECT_THROW((void)op.result(kWait), unsync::cancelled_error);
    EXPECT_TRUE(op.cancelled());
}

// ---- Cancellation ----------------------------------------------------------------------------

TEST(UseUnfuture, CancellingACoroutineCancelsItsHourLongTimer) {
    Unfuture<void> started;
    auto op = std::make_shared<Unfuture<void>>();
    auto unwound = std::make_shared<std::atomic<bool>>(false);
    Unfuture<void> task = wait_an_hour(started, op, unwound);
    started.result(kWait);  // suspended on the timer once the loop looks at the request
    const auto t0 = Clock::now();
    EXPECT_TRUE(task.cancel());
    EXPECT_THROW(task.result(kWait), unsync::cancelled_error);
    EXPECT_LT(Clock::now() - t0, kPrompt);
    EXPECT_TRUE(task.cancelled());
    EXPECT_TRUE(unwound->load());
    // The cancellation went through to Asio: the timer's operation itself ended cancelled.
    ASSERT_TRUE(op->done());
    EXPECT_TRUE(op->cancelled());
}

TEST(UseUnfuture, CancellingACoroutineCancelsItsPendingRead) {
    Unfuture<void> started;
    auto op = std::make_shared<Unfuture<std::size_t>>();
    auto unwound = std::make_shared<std::atomic<bool>>(false);
    Unfuture<std::size_t> task = read_forever(started, op, unwound);
    started.result(kWait);
    const auto t0 = Clock::now();
    EXPECT_TRUE(task.cancel());
    EXPECT_THROW((void)task.result(kWait), unsync::cancelled_error);
    EXPECT_LT(Clock::now() - t0, kPrompt);
    EXPECT_TRUE(unwound->load());
    ASSERT_TRUE(op->done());
    EXPECT_TRUE(op->cancelled());
}

namespace {

// An operation that does not support per-operation cancellation (as Asio's resolver does not):
// it keeps its handler in `held` until the test lets it go.
Unfuture<void> awaits_uncancellable(Unfuture<void> started,
                                    std::shared_ptr<std::shared_ptr<void>> held) {
    Unfuture<void> op = asio::async_initiate<const unsync::UseUnfuture&, void(std::error_code)>(
        [held](auto handler) { *held = std::make_shared<decltype(handler)>(std::move(handler)); },
        unsync::use_unfuture);
    started.set_result();
    co_await op;
}

}  // namespace

TEST(UseUnfuture, CancellingACoroutineAwaitingAnUncancellableOperationWaitsForIt) {
    // An operation without per-operation cancellation may still use the coroutine's buffers, so
    // the cancelled coroutine stays suspended until the operation ends (documented in the
    // README): freeing those buffers earlier would be undefined behaviour. Then it unwinds.
    Unfuture<void> started;
    auto held = std::make_shared<std::shared_ptr<void>>();
    Unfuture<void> task = awaits_uncancellable(started, held);
    started.result(kWait);
    EXPECT_TRUE(task.cancel());
    // Timing is the behaviour here: the task must still be waiting for the operation.
    EXPECT_THROW(task.result(std::chrono::milliseconds(200)), unsync::timeout_error);
    EXPECT_FALSE(task.done());
    // The operation ends (its handler destroyed uncalled): now the task unwinds, cancelled.
    held->reset();
    EXPECT_THROW(task.result(kWait), unsync::cancelled_error);
}

TEST(UseUnfuture, CancellingTheOperationsFutureFromMain) {
    Unfuture<Unfuture<void>> handoff;
    Unfuture<bool> owner = hand_out_timer(handoff);
    Unfuture<void> op = handoff.result(kWait);
    EXPECT_FALSE(op.done());
    const auto t0 = Clock::now();
    EXPECT_TRUE(op.cancel());
    EXPECT_THROW(op.result(kWait), unsync::cancelled_error);
    EXPECT_LT(Clock::now() - t0, kPrompt);
    EXPECT_TRUE(op.cancelled());
    // The coroutine that started the timer saw it end cancelled, and is done.
    EXPECT_TRUE(owner.result(kWait));
    // Cancelling a done operation is a no-op.
    EXPECT_FALSE(op.cancel());
}

TEST(UseUnfuture, CancellingTheOperationTwiceIsOneCancellation) {
    Unfuture<Unfuture<void>> handoff;
    Unfuture<bool> owner = hand_out_timer(handoff);
    Unfuture<void> op = handoff.result(kWait);
    EXPECT_TRUE(op.cancel());
    EXPECT_TRUE(op.cancel() || op.done());
    EXPECT_THROW(op.result(kWait), unsync::cancelled_error);
    EXPECT_TRUE(owner.result(kWait));
}

TEST(UseUnfuture, CancellingACompletedOperationKeepsItsValue) {
    auto op = custom_op<void(std::error_code, int)>([](auto h) { h(std::error_code(), 3); });
    EXPECT_EQ(op.result(kWait), 3);
    EXPECT_FALSE(op.cancel());
    EXPECT_FALSE(op.cancelled());
    EXPECT_EQ(op.result(), 3);
}

// ---- Cancelling an operation whose I/O object is destroyed right after ----------------------
// The per-operation cancellation handler that Asio installs points into the I/O object, so the
// signal must never be emitted once the object may be gone. ASan reported a heap-use-after-free
// for each of these when the signal was emitted later, from a posted handler.

namespace {

struct SocketPair {
    SocketPair() : a(io()), b(io()) { asio::local::connect_pair(a, b); }
    local_socket a;
    local_socket b;
};

// The idle-timeout pattern of a server: a read with a deadline, then the connection is dropped.
Unfuture<bool> read_with_idle_timeout_then_close() {
    auto sockets = std::make_unique<SocketPair>();
    std::array<char, 16> data{};
    bool timed_out = false;
    try {
        co_await unsync::wait_for(
            sockets->a.async_read_some(asio::buffer(data), unsync::use_unfuture), 20ms);
    } catch (const unsync::timeout_error&) {
        timed_out = true;
    }
    sockets.reset();
    // Let the loop run whatever the cancellation left queued, with the sockets gone.
    co_await unsync::sleep(20ms);
    co_return timed_out;
}

// The peer stays open until the read has ended: closing it would end the read with EOF, which
// io_uring reports before the cancellation (the kernel completes the read at once).
Unfuture<bool> cancel_read_then_close() {
    auto sockets = std::make_unique<SocketPair>();
    std::array<char, 16> data{};
    Unfuture<std::size_t> read =
        sockets->a.async_read_some(asio::buffer(data), unsync::use_unfuture);
    const bool requested = read.cancel();
    // Destroys the socket the read is pending on.
    { [[maybe_unused]] local_socket gone = std::move(sockets->a); }
    try {
        co_await unsync::wait_for(read, kWait);
    } catch (const unsync::cancelled_error&) {
    }
    sockets.reset();
    // Let the loop run whatever the cancellation left queued, with both sockets gone.
    co_await unsync::sleep(20ms);
    co_return requested&& read.done() && read.cancelled();
}

// A read whose future is handed to the main thread; the coroutine closes the socket when told.
Unfuture<void> read_and_close_when_told(Unfuture<Unfuture<std::size_t>> handoff,
                                        Unfuture<void> close_now) {
    auto sockets = std::make_unique<SocketPair>();
    std::array<char, 16> data{};
    handoff.set_result(sockets->a.async_read_some(asio::buffer(data), unsync::use_unfuture));
    co_await close_now;
    sockets.reset();
    co_await unsync::sleep(5ms);
}

}  // namespace

TEST(UseUnfuture, IdleTimeoutThenCloseIsSafe) {
    for (int i = 0; i < 5; ++i)
        EXPECT_TRUE(read_with_idle_timeout_then_close().result(kWait));
}

TEST(UseUnfuture, CancelOnTheLoopThenCloseIsSafe) {
    for (int i = 0; i < 5; ++i)
        EXPECT_TRUE(cancel_read_then_close().result(kWait));
}

TEST(UseUnfuture, CancelFromAnotherThreadWhileTheLoopClosesIsSafe) {
    for (int i = 0; i < 50; ++i) {
        Unfuture<Unfuture<std::size_t>> handoff;
        Unfuture<void> close_now;
        Unfuture<void> owner = read_and_close_when_told(handoff, close_now);
        Unfuture<std::size_t> read = handoff.result(kWait);
        // The cancel and the close race: the close goes to the loop first or second.
        if (i % 2 == 0) {
            close_now.set_result();
            read.cancel();
        } else {
            read.cancel();
            close_now.set_result();
        }
        owner.result(kWait);
        // The read ended one way or the other: cancelled, or aborted by the close.
        EXPECT_ANY_THROW((void)read.result(kWait));
    }
}

// ---- Echo: a server and many concurrent clients, all coroutines -----------------------------

TEST(UseUnfuture, EchoWithManyConcurrentClients) {
    // Measured: about 0.1 s in release and 0.35 s under TSan, so TSan runs all 1,000 too.
    constexpr int clients = 1000;
    raise_descriptor_limit();
    // Two sockets per connection, plus the runtime's own descriptors.
    ASSERT_GE(descriptor_limit(), static_cast<std::size_t>(2 * clients + 64))
        << "RLIMIT_NOFILE is too low for the echo test";
    const std::vector<std::string> echoed = echo_run(clients).result(120s);
    ASSERT_EQ(echoed.size(), static_cast<std::size_t>(clients));
    int good = 0;
    for (int id = 0; id < clients; ++id) {
        const std::string expected = client_message(id);
        if (echoed[static_cast<std::size_t>(id)] == expected) {
            ++good;
        } else {
            ADD_FAILURE() << "client " << id << " got different bytes back";
        }
    }
    EXPECT_EQ(good, clients);
}

// ---- Shutdown --------------------------------------------------------------------------------
// shutdown() stops the loop "cancelling what is pending", and "afterwards new work fails with
// cancelled_error" (runtime.hpp). An Asio operation's Unfuture is such work: once the loop
// thread is gone nothing runs its handler, so without that it would stay pending forever.
// Each runs in a child process: shutdown() is for the whole process.

namespace {

const char* how_it_ended(Unfuture<void>& op) {
    try {
        op.result(kPrompt);
        return "completed with a value";
    } catch (const unsync::cancelled_error&) {
        return "cancelled";
    } catch (const unsync::timeout_error&) {
        return "still pending";
    } catch (...) {
        return "failed otherwise";
    }
}

[[noreturn]] void pending_operation_at_shutdown() {
    asio::steady_timer timer(io(), 1h);
    Unfuture<void> op = timer.async_wait(unsync::use_unfuture);
    unsync::shutdown();
    const char* ended = how_it_ended(op);
    std::fprintf(stderr, "an operation pending at shutdown: %s\n", ended);
    std::exit(std::strcmp(ended, "cancelled") == 0 ? 0 : 1);
}

[[noreturn]] void operation_started_after_shutdown() {
    (void)io();  // the runtime has started
    unsync::shutdown();
    Unfuture<void> op = asio::post(io(), unsync::use_unfuture);
    const char* ended = how_it_ended(op);
    std::fprintf(stderr, "an operation started after shutdown: %s\n", ended);
    std::exit(std::strcmp(ended, "cancelled") == 0 ? 0 : 1);
}

}  // namespace

TEST(UseUnfuture, ShutdownCancelsAPendingOperation) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(pending_operation_at_shutdown(), ::testing::ExitedWithCode(0),
                "an operation pending at shutdown: cancelled");
}

TEST(UseUnfuture, OperationStartedAfterShutdownIsCancelled) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(operation_started_after_shutdown(), ::testing::ExitedWithCode(0),
                "an operation started after shutdown: cancelled");
}

// ---- Backend ---------------------------------------------------------------------------------

TEST(UseUnfuture, BackendMatchesTheBuild) {
#ifdef ASIO_HAS_IO_URING_AS_DEFAULT
    EXPECT_STREQ(unsync::EventLoop::backend(), "io_uring");
#else
    EXPECT_STREQ(unsync::EventLoop::backend(), "epoll");
#endif
}
