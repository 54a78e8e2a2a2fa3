// Python unsync's "Simple Sleep": two coroutines sleep at the same time on the ambient loop.
//
// With plain asyncio the caller must own and drive an event loop first:
//
//     async def sync_async():
//         await asyncio.sleep(1)
//         return 'I hate event loops'
//
//     async def main():
//         future1 = asyncio.create_task(sync_async())
//         future2 = asyncio.create_task(sync_async())
//         await future1, future2
//         print(future1.result() + future2.result())
//
// With unsync the loop already runs in its own thread, so plain code just calls and blocks.
// The sleeps are 0.1 s instead of Python unsync's 1 s to keep the test suite quick.

#include <chrono>
#include <iostream>
#include <string>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:sleep-1]
unsync::Unfuture<std::string> unsync_async() {
    co_await unsync::sleep(100ms);
    co_return "I like decorators";
}
// [end-snippet]

}  // namespace

int sleep_main() {
    const auto start = std::chrono::steady_clock::now();
    // [snippet:sleep-2]
    auto unfuture1 = unsync_async();
    auto unfuture2 = unsync_async();
    std::cout << unfuture1.result() + unfuture2.result() << '\n';
    // [end-snippet]
    // About 0.1 s, not 0.2 s: both sleeps overlap on the loop.
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cout << "Executed in " << elapsed.count() << " seconds\n";
    return 0;
}

#ifndef UNSYNC_TOUR
int main() {
    return sleep_main();
}
#endif
