#pragma once
// A small HTTP/1.1 server on loopback and a client for it, shared by the examples that fetch
// pages (fetch.cpp, crawler.cpp), so that they need no network.

#include <chrono>
#include <cstddef>
#include <string>

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
