// A TCP echo server and 1,000 concurrent clients on loopback, all unsync coroutines on the one
// loop, each client checking its echo byte for byte. Asio operations become Unfutures through
// the unsync::use_unfuture completion token.

#include <sys/resource.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <string>
#include <vector>

#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <unsync/unsync.hpp>
#include <unsync/use_unfuture.hpp>

namespace {

using asio::ip::tcp;

// [snippet:echo-1]
unsync::Unfuture<void> echo_session(tcp::socket socket) {
    std::array<char, 4096> data{};
    for (;;) {
        std::size_t n = 0;
        try {
            n = co_await socket.async_read_some(asio::buffer(data), unsync::use_unfuture);
        } catch (const std::system_error&) {
            co_return;  // the client closed the connection (end of file)
        }
        co_await asio::async_write(socket, asio::buffer(data, n), unsync::use_unfuture);
    }
}
// [end-snippet]

unsync::Unfuture<void> serve(tcp::acceptor& acceptor, std::size_t connections) {
    for (std::size_t i = 0; i < connections; ++i) {
        tcp::socket socket = co_await acceptor.async_accept(unsync::use_unfuture);
        // Each session runs by itself; nothing waits on its future.
        (void)echo_session(std::move(socket));
    }
}

unsync::Unfuture<bool> client(tcp::endpoint server, int id) {
    tcp::socket socket(unsync::loop().io_context());
    co_await socket.async_connect(server, unsync::use_unfuture);
    // Distinct per client, and long enough to need more than one segment now and then.
    std::string message;
    for (int i = 0; i < 64; ++i)
        message += "client " + std::to_string(id) + " line " + std::to_string(i) + '\n';
    co_await asio::async_write(socket, asio::buffer(message), unsync::use_unfuture);
    std::string echoed(message.size(), '\0');
    co_await asio::async_read(socket, asio::buffer(echoed), unsync::use_unfuture);
    co_return echoed == message;
}

// Two sockets per connection: make sure the descriptor limit allows it.
void raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

}  // namespace

int echo_main() {
    constexpr int clients = 1000;
    raise_descriptor_limit();
    const auto start = std::chrono::steady_clock::now();

    tcp::acceptor acceptor(unsync::loop().io_context(),
                           tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor.listen(asio::socket_base::max_listen_connections);
    auto server = serve(acceptor, clients);

    std::vector<unsync::Unfuture<bool>> checks;
    for (int id = 0; id < clients; ++id)
        checks.push_back(client(acceptor.local_endpoint(), id));
    const std::vector<bool> results = unsync::gather(std::move(checks)).result();
    server.result();

    std::size_t good = 0;
    for (bool ok : results)
        good += ok ? 1 : 0;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cout << good << " of " << clients << " clients got their bytes back\n";
    std::cout << "Executed in " << elapsed.count() << " seconds\n";
    return good == clients ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return echo_main();
}
#endif
