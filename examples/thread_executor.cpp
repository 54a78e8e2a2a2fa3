// Python unsync's "Multi-threading an IO-bound function": a blocking function made concurrent by
// running each call on unsync::thread_executor().

#include <chrono>
#include <cstddef>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:thread-executor-1]
// C++ cannot decorate a function in place; the wrapper object plays `@unsync def ...`.
const auto non_async_function = unsync::unsync([](std::chrono::duration<double> seconds) {
    std::this_thread::sleep_for(seconds);
    return std::string("Run concurrently!");
});
// [end-snippet]

}  // namespace

int thread_executor_main() {
    const auto start = std::chrono::steady_clock::now();
    // [snippet:thread-executor-2]
    std::vector<unsync::Unfuture<std::string>> tasks;
    for (int i = 0; i < 10; ++i)
        tasks.push_back(non_async_function(100ms));
    // [end-snippet]

    // Printed like Python's list repr, as in Python unsync.
    std::cout << '[';
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        std::cout << (i == 0 ? "" : ", ") << '\'' << tasks[i].result() << '\'';
    }
    std::cout << "]\n";
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cout << "Executed in " << elapsed.count() << " seconds\n";
    return 0;
}

#ifndef UNSYNC_TOUR
int main() {
    return thread_executor_main();
}
#endif
