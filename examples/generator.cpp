// An AsyncGenerator: a coroutine that yields values one at a time, awaiting between them, and
// runs only as far as its consumer asks. A plain thread walks it with a range-for; a coroutine
// awaits next().

#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:generator-1]
// Squares, one every 10 ms: the sleep suspends the body on the loop, it never blocks it.
unsync::AsyncGenerator<int> squares(int n) {
    for (int i = 1; i <= n; ++i) {
        co_await unsync::sleep(10ms);
        const int square = i * i;
        co_yield square;
    }
}

// A coroutine consumer: co_await next() gives std::nullopt at the end.
unsync::Unfuture<int> sum(unsync::AsyncGenerator<int> gen) {
    int total = 0;
    while (std::optional<int> v = co_await gen.next())
        total += *v;
    co_return total;
}
// [end-snippet]

}  // namespace

int generator_main() {
    // [snippet:generator-2]
    // A plain thread: each step of the range-for blocks until the body yields.
    for (int v : squares(3))
        std::cout << "square " << v << '\n';
    std::cout << "sum of the first 4 squares: " << sum(squares(4)).result() << '\n';
    // [end-snippet]
    return 0;
}

#ifndef UNSYNC_TOUR
int main() {
    return generator_main();
}
#endif
