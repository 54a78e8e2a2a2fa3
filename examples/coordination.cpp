// The coordination primitives with coroutines and plain threads on the same object: a Mutex
// around a shared total, an Event that starts everyone at once, a Latch that counts them out.

#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <unsync/unsync.hpp>

namespace {

struct Totals {
    unsync::Mutex mutex;
    long sum = 0;  // guarded by mutex
};

// [snippet:mutex-1]
unsync::Unfuture<void> add_from_a_coroutine(Totals& totals, unsync::Event& go,
                                            unsync::Latch& done) {
    co_await go.wait_async();
    for (int i = 1; i <= 1000; ++i) {
        auto lock = co_await totals.mutex;  // a std::unique_lock<unsync::Mutex>
        totals.sum += i;
    }
    done.count_down();
}

void add_from_a_thread(Totals& totals, unsync::Event& go, unsync::Latch& done) {
    go.wait();
    for (int i = 1; i <= 1000; ++i) {
        std::scoped_lock lock(totals.mutex);  // any standard lock works from a thread
        totals.sum += i;
    }
    done.count_down();
}
// [end-snippet]

}  // namespace

int coordination_main() {
    Totals totals;
    unsync::Event go;
    unsync::Latch done(4);
    std::vector<unsync::Unfuture<void>> tasks;
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
        tasks.push_back(add_from_a_coroutine(totals, go, done));
        threads.emplace_back([&] { add_from_a_thread(totals, go, done); });
    }
    // [snippet:event-1]
    go.set();     // every waiter, coroutine or thread, starts now
    done.wait();  // until all four have counted down
    // [end-snippet]
    for (auto& t : threads)
        t.join();
    std::cout << "sum from 2 coroutines and 2 threads: " << totals.sum << '\n';
    return totals.sum == 4 * 500500 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return coordination_main();
}
#endif
