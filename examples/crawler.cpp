// A crawler with at most 5 requests in flight: a Semaphore's permit per request, against the
// loopback HTTP server of local_http.hpp.

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "local_http.hpp"

namespace {

struct Crawl {
    unsync::Semaphore slots{5};
    int in_flight = 0;  // touched on the loop thread only
    int most_in_flight = 0;
};

// [snippet:semaphore-1]
unsync::Unfuture<std::size_t> crawl_one(Crawl& crawl, tcp::endpoint server, std::string path) {
    auto permit = co_await crawl.slots;  // waits while 5 are in flight
    crawl.most_in_flight = std::max(crawl.most_in_flight, ++crawl.in_flight);
    const std::string body = co_await fetch(server, std::move(path));
    --crawl.in_flight;
    co_return body.size();
}  // the permit goes back here
// [end-snippet]

}  // namespace

int crawler_main() {
    constexpr int pages = 40;
    tcp::acceptor acceptor(unsync::loop().io_context(),
                           tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor.listen(asio::socket_base::max_listen_connections);
    auto server = http_server(acceptor, pages);

    Crawl crawl;
    std::vector<unsync::Unfuture<std::size_t>> sizes;
    for (int i = 0; i < pages; ++i) {
        std::string path = "/";
        path.append(std::to_string(i));
        sizes.push_back(crawl_one(crawl, acceptor.local_endpoint(), std::move(path)));
    }
    std::size_t bytes = 0;
    for (std::size_t size : unsync::gather(std::move(sizes)).result())
        bytes += size;
    server.result();
    std::cout << pages << " pages, " << bytes << " bytes, at most " << crawl.most_in_flight
              << " requests in flight\n";
    return crawl.most_in_flight == 5 && bytes == 7u * pages * (pages - 1) / 2 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return crawler_main();
}
#endif
