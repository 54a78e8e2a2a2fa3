// unsync's typical use: many concurrent HTTP/1.1 GET requests, results gathered. The example
// starts its own small HTTP server on loopback, so it needs no network.

#include <chrono>
#include <cstddef>
#include <iostream>
#include <string>
#include <vector>

#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

#include <unsync/unsync.hpp>
#include <unsync/use_unfuture.hpp>

namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;

// The server: answers GET /<n> with a body of n repetitions of "unsync ", after a short wait
// that stands in for real work, then closes the connection.
unsync::Unfuture<void> http_session(tcp::socket socket) {
    asio::streambuf request;
    co_await asio::async_read_until(socket, request, "\r\n\r\n", unsync::use_unfuture);
    std::string line(asio::buffers_begin(request.data()), asio::buffers_end(request.data()));
    const std::size_t path = line.find(' ') + 2;  // after "GET /"
    const int count = std::stoi(line.substr(path, line.find(' ', path) - path));
    std::string body;
    for (int i = 0; i < count; ++i)
        body += "unsync ";
    co_await unsync::sleep(10ms);
    std::string response = "HTTP/1.1 200 OK\r\nContent-Length: ";
    response.append(std::to_string(body.size()))
        .append("\r\nConnection: close\r\n\r\n")
        .append(body);
    co_await asio::async_write(socket, asio::buffer(response), unsync::use_unfuture);
}

unsync::Unfuture<void> http_server(tcp::acceptor& acceptor, int connections) {
    for (int i = 0; i < connections; ++i) {
        (void)http_session(co_await acceptor.async_accept(unsync::use_unfuture));
    }
}

// The client: one GET, the body returned.
unsync::Unfuture<std::string> fetch(tcp::endpoint server, std::string path) {
    tcp::socket socket(unsync::loop().io_context());
    co_await socket.async_connect(server, unsync::use_unfuture);
    std::string request = "GET ";
    request.append(path).append(" HTTP/1.1\r\nHost: localhost\r\n\r\n");
    co_await asio::async_write(socket, asio::buffer(request), unsync::use_unfuture);
    asio::streambuf response;
    const std::size_t header_end =
        co_await asio::async_read_until(socket, response, "\r\n\r\n", unsync::use_unfuture);
    std::string head(
        asio::buffers_begin(response.data()),
        asio::buffers_begin(response.data()) + static_cast<std::ptrdiff_t>(header_end));
    response.consume(header_end);
    const std::size_t at = head.find("Content-Length: ") + 16;
    const std::size_t length = std::stoul(head.substr(at, head.find("\r\n", at) - at));
    if (response.size() < length) {
        co_await asio::async_read(socket, response,
                                  asio::transfer_exactly(length - response.size()),
                                  unsync::use_unfuture);
    }
    co_return std::string(asio::buffers_begin(response.data()), asio::buffers_end(response.data()));
}

}  // namespace

int fetch_main() {
    constexpr int requests = 200;
    tcp::acceptor acceptor(unsync::loop().io_context(),
                           tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor.listen(asio::socket_base::max_listen_connections);
    auto server = http_server(acceptor, requests);

    const auto start = std::chrono::steady_clock::now();
    std::vector<unsync::Unfuture<std::string>> pages;
    for (int i = 0; i < requests; ++i) {
        // Appended, not "/" + ...: GCC 12 gives a false -Wrestrict warning on that at -O3.
        std::string path = "/";
        path.append(std::to_string(i));
        pages.push_back(fetch(acceptor.local_endpoint(), std::move(path)));
    }
    const std::vector<std::string> bodies = unsync::gather(std::move(pages)).result();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    server.result();

    std::size_t bytes = 0;
    bool all_right = true;
    for (int i = 0; i < requests; ++i) {
        bytes += bodies[static_cast<std::size_t>(i)].size();
        all_right = all_right &&
                    bodies[static_cast<std::size_t>(i)].size() == static_cast<std::size_t>(7 * i);
    }
    std::cout << requests << " pages, " << bytes << " bytes, " << (all_right ? "all" : "NOT all")
              << " as expected\n";
    std::cout << "Executed in " << elapsed.count()
              << " seconds (each page takes 0.01 s to serve)\n";
    return all_right ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return fetch_main();
}
#endif
