// The original repository's examples/exceptions.py: an exception thrown in a task surfaces, with
// its own type, where the result is observed. Then the errors unsync itself reports.

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:exceptions-1]
// Stands in for Python's NotImplementedError.
class NotImplementedError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

unsync::Unfuture<void> throws_exception() {
    co_await unsync::sleep(100ms);
    throw NotImplementedError("not implemented yet");
}

// The same applies to coroutines awaiting tasks.
unsync::Unfuture<void> calls_throws_exception() {
    // No exception is thrown here.
    auto task = throws_exception();
    // The exception is emitted when task is awaited.
    try {
        co_await task;
    } catch (const NotImplementedError& e) {
        std::cout << "Delayed awaited exception! " << e.what() << '\n';
    }
}

// Blocking the loop thread on a pending future would deadlock it, so result() refuses.
unsync::Unfuture<std::string> blocks_the_loop() {
    unsync::Unfuture<int> pending;
    try {
        pending.result();
    } catch (const unsync::invalid_state_error& e) {
        co_return e.what();
    }
    co_return "result() blocked the loop";
}
// [end-snippet]

}  // namespace

int exceptions_main() {
    // [snippet:exceptions-2]
    // No exception is thrown here.
    auto task = throws_exception();
    // The exception is emitted when the result is observed.
    try {
        task.result();
    } catch (const NotImplementedError& e) {
        std::cout << "Delayed result() exception! " << e.what() << '\n';
    }
    calls_throws_exception().result();

    std::cout << "invalid_state_error: " << blocks_the_loop().result() << '\n';

    unsync::Unfuture<int> answer;
    answer.set_result(42);
    try {
        answer.set_result(43);
    } catch (const unsync::invalid_state_error& e) {
        std::cout << "invalid_state_error: " << e.what() << '\n';
    }

    unsync::Unfuture<int> never;
    try {
        never.result(10ms);
    } catch (const unsync::timeout_error& e) {
        std::cout << "timeout_error: " << e.what() << '\n';
    }
    // [end-snippet]
    return answer.result() == 42 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return exceptions_main();
}
#endif
