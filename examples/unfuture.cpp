// Unfuture<T> on its own: completed from any thread, bridged from std::future, blocked on with
// a timeout, and read out by move.

#include <chrono>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:unfuture-1]
unsync::Unfuture<std::string> greet(unsync::Unfuture<std::string> name) {
    co_return "hello, " + co_await name;
}
// [end-snippet]

}  // namespace

int unfuture_main() {
    // [snippet:unfuture-2]
    // A pending future that any thread may complete, like Python unsync's Unfuture() + set_result.
    unsync::Unfuture<std::string> name;
    auto greeting = greet(name);
    std::jthread producer([name] {
        std::this_thread::sleep_for(50ms);
        name.set_result("world");
    });
    std::cout << greeting.result() << '\n';

    // A std::future (here from std::async) becomes awaitable and chainable.
    unsync::Unfuture<int> answer(std::async(std::launch::async, [] { return 6 * 7; }));
    std::cout << "from std::future: " << answer.then([](int v) { return v + 1; }).result() << '\n';

    // result(timeout) waits at most that long; timeout_error says the future is still pending.
    unsync::Unfuture<int> slow;
    try {
        slow.result(20ms);
    } catch (const unsync::timeout_error&) {
        std::cout << "not done after 20 ms: done() == " << std::boolalpha << slow.done() << '\n';
    }

    // from_value makes a future that is already done. On an rvalue, result() moves the value
    // out, so move-only results work.
    auto ready = unsync::Unfuture<std::unique_ptr<int>>::from_value(std::make_unique<int>(7));
    std::cout << "from_value: done() == " << ready.done() << '\n';
    const std::unique_ptr<int> owned = std::move(ready).result();
    std::cout << "moved out: " << *owned << '\n';
    // [end-snippet]
    return *owned == 7 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return unfuture_main();
}
#endif
