// A task group (structured concurrency, like asyncio.TaskGroup): the work started into a group is
// waited for together, and the first failure cancels the rest.

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

unsync::Unfuture<std::string> fetch(std::string page, std::chrono::milliseconds delay) {
    co_await unsync::sleep(delay);
    co_return page + ": 200 OK";
}

unsync::Unfuture<void> flaky(std::chrono::milliseconds delay) {
    co_await unsync::sleep(delay);
    throw std::runtime_error("flaky: connection reset");
}

// [snippet:task-group-1]
unsync::Unfuture<bool> crawl() {
    unsync::TaskGroup group;
    auto index = group.start(fetch("/index", 10ms));
    auto archive = group.start(fetch("/archive", 1h));  // cancelled by the failure below
    (void)group.start(flaky(50ms));  // (void): the group keeps it; nobody reads it
    try {
        co_await group.wait();  // every member has ended once this throws
    } catch (const std::runtime_error& e) {
        std::cout << "the group failed: " << e.what() << '\n';
    }
    std::cout << co_await index << '\n';
    std::cout << "/archive cancelled: " << std::boolalpha << archive.cancelled() << '\n';
    co_return archive.cancelled();
}
// [end-snippet]

}  // namespace

int task_group_main() {
    const bool sibling_cancelled = crawl().result();

    // From a plain thread: members of any kind (here a thread-pool call), result() to wait.
    // [snippet:task-group-2]
    unsync::TaskGroup group;
    auto squared = group.start(unsync::unsync([](int x) { return x * x; })(7));
    auto page = group.start(fetch("/about", 5ms));
    group.wait().result();
    std::cout << "squared: " << squared.result() << ", " << page.result() << '\n';
    // [end-snippet]
    return sibling_cancelled && squared.result() == 49 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return task_group_main();
}
#endif
