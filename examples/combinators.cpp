// gather, when_any and as_completed: waiting for several futures at once, from plain code with
// result() or from a coroutine with co_await.

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

unsync::Unfuture<int> after(std::chrono::milliseconds delay, int value) {
    co_await unsync::sleep(delay);
    co_return value;
}

unsync::Unfuture<std::string> name_of(int id) {
    co_return "user" + std::to_string(id);
}

unsync::Unfuture<int> total() {
    // From a coroutine: co_await the combined future. (The vector is built first: GCC 12
    // rejects a braced list of temporaries inside a co_await expression.)
    std::vector<unsync::Unfuture<int>> parts;
    parts.push_back(after(30ms, 1));
    parts.push_back(after(10ms, 2));
    const std::vector<int> values = co_await unsync::gather(std::move(parts));
    co_return values[0] + values[1];
}

}  // namespace

int combinators_main() {
    // [snippet:combinators-1]
    // All of them, in input order; mixed types make a tuple.
    const auto [count, name] = unsync::gather(after(20ms, 3), name_of(7)).result();
    std::cout << "gather: " << count << ", " << name << '\n';
    std::cout << "gather in a coroutine: " << total().result() << '\n';

    // The first to finish; the others are cancelled.
    const auto [index, value] =
        unsync::when_any(after(300ms, 1), after(10ms, 2), after(200ms, 3)).result();
    std::cout << "when_any: input " << index << " finished first with " << value << '\n';

    // One future per input, completing in the order the inputs finish.
    std::cout << "as_completed:";
    for (auto& next :
         unsync::as_completed(std::vector{after(30ms, 30), after(10ms, 10), after(20ms, 20)})) {
        std::cout << ' ' << next.result();
    }
    std::cout << '\n';
    // [end-snippet]

    // [snippet:combinators-2]
    // Failures collected instead of thrown, like asyncio's return_exceptions=True.
    std::vector<unsync::Unfuture<int>> mixed{after(5ms, 1), unsync::Unfuture<int>()};
    mixed[1].set_exception(std::runtime_error("one failed"));
    const auto settled = unsync::gather(unsync::return_exceptions, std::move(mixed)).result();
    // [end-snippet]
    std::cout << "return_exceptions: " << settled[0].result() << " and "
              << (settled[1].exception() ? "an exception" : "a value") << '\n';
    return count == 3 && index == 1 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return combinators_main();
}
#endif
