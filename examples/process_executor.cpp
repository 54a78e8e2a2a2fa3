// The original library's process-executor example: a CPU-bound function on worker processes,
// and the same calls run one after another for comparison.

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <unsync/process_pool.hpp>
#include <unsync/unsync.hpp>

namespace {

// [snippet:process-executor-1]
std::string cpu_bound_function(std::uint64_t operations) {
    // volatile: the loop is the work, the optimizer must not remove it.
    volatile std::uint64_t sink = 0;
    for (std::uint64_t i = 0; i < operations; ++i)
        sink = sink + i;
    return "Run in parallel!";
}

// Python unsync's unsync(cpu_bound=True)(cpu_bound_function): the one declaration.
constexpr auto unsync_cpu_bound_function = unsync::cpu_bound<&cpu_bound_function>;
// [end-snippet]

// An async aggregator mixing the process pool with the loop, as Python unsync's mixing example
// does.
unsync::Unfuture<std::size_t> count_results(std::vector<unsync::Unfuture<std::string>> tasks) {
    std::size_t total = 0;
    for (auto& task : tasks)
        total += (co_await task).size();
    co_return total;
}

void print_list(const std::vector<std::string>& items) {
    std::cout << '[';
    for (std::size_t i = 0; i < items.size(); ++i)
        std::cout << (i ? ", '" : "'") << items[i] << '\'';
    std::cout << "]\n";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int process_executor_main() {
    constexpr std::uint64_t operations = 20'000'000;

    auto start = std::chrono::steady_clock::now();
    std::vector<std::string> plain;
    for (int i = 0; i < 10; ++i)
        plain.push_back(cpu_bound_function(operations));
    print_list(plain);
    std::cout << "Non-unsync executed in " << seconds_since(start) << " seconds\n";

    start = std::chrono::steady_clock::now();
    // [snippet:process-executor-2]
    std::vector<unsync::Unfuture<std::string>> tasks;
    for (int i = 0; i < 10; ++i)
        tasks.push_back(unsync_cpu_bound_function(operations));
    std::vector<std::string> results;
    for (auto& task : tasks)
        results.push_back(task.result());
    print_list(results);
    // [end-snippet]
    std::cout << "unsync executed in " << seconds_since(start) << " seconds\n";

    const std::size_t total = count_results(tasks).result();
    std::cout << "awaited by a coroutine: " << total << " characters\n";
    return results == plain && total == 10 * plain[0].size() ? 0 : 1;
}

#ifndef UNSYNC_TOUR
// [snippet:process-executor-3]
int main() {
    // Worker processes are this program started again; this line makes them serve calls.
    unsync::serve_if_worker();
    return process_executor_main();
}
// [end-snippet]
#endif
