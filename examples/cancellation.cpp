// Cancellation and timeouts: cancel() stops a coroutine at its next suspension point, RAII runs;
// wait_for gives work a deadline and cancels it when the deadline passes.

#include <chrono>
#include <iostream>
#include <stop_token>
#include <string>
#include <thread>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

struct Connection {
    ~Connection() { std::cout << "connection closed by RAII\n"; }
};

// [snippet:cancellation-1]
unsync::Unfuture<std::string> download(unsync::Unfuture<void> started) {
    Connection connection;
    started.set_result();
    co_await unsync::sleep(1h);  // cancelled here: this expression throws cancelled_error
    co_return "never";
}
// [end-snippet]

unsync::Unfuture<int> slow_answer() {
    co_await unsync::sleep(10s);
    co_return 42;
}

// A plain function that takes a std::stop_token first can be stopped while it runs.
// [snippet:cancellation-3]
const auto crunch = unsync::unsync([](std::stop_token stop, unsync::Unfuture<void> started) {
    started.set_result();
    long rounds = 0;
    while (!stop.stop_requested()) {
        ++rounds;
        std::this_thread::yield();
    }
    return rounds;
});
// [end-snippet]

}  // namespace

int cancellation_main() {
    // [snippet:cancellation-2]
    unsync::Unfuture<void> started;
    auto job = download(started);
    started.result();
    std::cout << "cancel() -> " << job.cancel() << '\n';
    try {
        job.result();
    } catch (const unsync::cancelled_error& e) {
        std::cout << "result(): cancelled_error: " << e.what() << '\n';
    }
    std::cout << "cancel() again -> " << job.cancel() << " (already done)\n";
    // [end-snippet]

    // [snippet:cancellation-5]
    try {
        unsync::wait_for(slow_answer(), 50ms).result();
    } catch (const unsync::timeout_error& e) {
        std::cout << "wait_for: " << e.what() << '\n';
    }
    // [end-snippet]
    std::cout << "wait_for in time: "
              << unsync::wait_for(unsync::Unfuture<int>::from_value(7), 1s).result() << '\n';

    // [snippet:cancellation-4]
    unsync::Unfuture<void> crunching;
    auto running = crunch(crunching);
    crunching.result();
    std::cout << "cancel() of a running pool call -> " << running.cancel() << '\n';
    const long rounds = running.result();
    // [end-snippet]
    std::cout << "it saw the stop request and returned after " << (rounds > 0 ? "some" : "no")
              << " rounds\n";
    return job.cancelled() ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return cancellation_main();
}
#endif
