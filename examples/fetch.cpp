// unsync's typical use: many concurrent HTTP/1.1 GET requests, results gathered. The example
// starts its own small HTTP server on loopback, so it needs no network.

#include <chrono>
#include <cstddef>
#include <iostream>
#include <string>
#include <vector>

#include "local_http.hpp"

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
