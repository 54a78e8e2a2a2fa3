// Python unsync's Unfuture.then example: chain a continuation onto a running coroutine.

#include <chrono>
#include <iostream>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:continuation-1]
unsync::Unfuture<int> initiate(int request) {
    co_await unsync::sleep(100ms);
    co_return request + 1;
}

// As in Python unsync, the continuation receives the source future; it is already done, so
// result() does not block even though this runs on the loop thread.
unsync::Unfuture<int> process(unsync::Unfuture<int> task) {
    co_await unsync::sleep(100ms);
    co_return task.result() * 2;
}
// [end-snippet]

}  // namespace

int continuation_main() {
    const auto start = std::chrono::steady_clock::now();
    // [snippet:continuation-2]
    std::cout << initiate(3).then(process).result() << '\n';
    // [end-snippet]
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cout << "Executed in " << elapsed.count() << " seconds\n";

    // [snippet:continuation-3]
    // The other continuation shapes then() accepts, chosen at compile time. One that takes the
    // value (unsync 1.4 style) is not called when the source failed: the error passes through.
    const int doubled = initiate(3).then([](int value) { return value * 2; }).result();
    // A generic lambda is callable with the Unfuture, so that is what it receives.
    const int from_task = initiate(3).then([](auto task) { return task.result() * 2; }).result();
    // [end-snippet]
    std::cout << "value continuation: " << doubled << ", generic continuation: " << from_task
              << '\n';
    return doubled == 8 && from_task == 8 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return continuation_main();
}
#endif
