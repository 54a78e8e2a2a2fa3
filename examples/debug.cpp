// Debug aids: named tasks, a listing of what is pending, and (in debug mode, Options::debug or
// UNSYNC_DEBUG=1) a warning when a task step blocks the loop.

#include <chrono>
#include <iostream>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

unsync::Unfuture<int> poll_forever() {
    co_await unsync::sleep(1h);
    co_return 0;
}

unsync::Unfuture<int> report(unsync::Unfuture<int> source) {
    co_return co_await source;
}

}  // namespace

int debug_main() {
    // [snippet:debug-1]
    auto poller = unsync::named("poller", poll_forever());
    auto reporter = report(poller);
    auto waiting = report(unsync::Unfuture<int>());
    // Every pending task, with what it waits on.
    unsync::dump_tasks(std::cout);
    // [end-snippet]
    poller.cancel();
    waiting.cancel();
    try {
        reporter.result();
    } catch (const unsync::cancelled_error&) {
        std::cout << "cancelling the poller also ended the report awaiting it\n";
    }
    return 0;
}

#ifndef UNSYNC_TOUR
int main() {
    return debug_main();
}
#endif
