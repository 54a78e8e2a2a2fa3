// Python unsync's "Mixing methods": thread-pool calls, chained to coroutine continuations, gathered
// by another coroutine.

#include <chrono>
#include <iostream>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:mixing-methods-1]
const auto non_async_function = unsync::unsync([](int num) {
    std::this_thread::sleep_for(100ms);
    return std::pair{num, num + 1};
});

unsync::Unfuture<std::pair<int, int>> result_continuation(
    unsync::Unfuture<std::pair<int, int>> task) {
    co_await unsync::sleep(100ms);
    const auto [num, res] = task.result();
    co_return std::pair{num, res * 2};
}

// Takes the futures by value: the coroutine runs later, on the loop thread.
unsync::Unfuture<std::map<int, int>> result_processor(
    std::vector<unsync::Unfuture<std::pair<int, int>>> tasks) {
    std::map<int, int> output;
    for (const auto& task : tasks) {
        const auto [num, res] = co_await task;
        output[num] = res;
    }
    co_return output;
}
// [end-snippet]

}  // namespace

int mixing_methods_main() {
    const auto start = std::chrono::steady_clock::now();
    // [snippet:mixing-methods-2]
    std::vector<unsync::Unfuture<std::pair<int, int>>> tasks;
    for (int i = 0; i < 10; ++i)
        tasks.push_back(non_async_function(i).then(result_continuation));
    const std::map<int, int> output = result_processor(std::move(tasks)).result();
    // [end-snippet]

    // Printed like Python's dict repr, as in Python unsync.
    std::cout << '{';
    for (const char* sep = ""; const auto& [num, res] : output) {
        std::cout << sep << num << ": " << res;
        sep = ", ";
    }
    std::cout << "}\n";
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cout << "Executed in " << elapsed.count() << " seconds\n";
    return output.size() == 10 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return mixing_methods_main();
}
#endif
