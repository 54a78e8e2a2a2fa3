// What shutdown does to work in flight. It runs by itself at exit; calling unsync::shutdown()
// chooses the moment. (In the tour this example runs last, as it stops the shared runtime.)

#include <chrono>
#include <iostream>
#include <thread>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:shutdown-1]
struct Cleanup {
    ~Cleanup() { std::cout << "the cancelled coroutine unwound: its destructors ran\n"; }
};

unsync::Unfuture<int> waits_forever(unsync::Unfuture<void> started) {
    Cleanup cleanup;
    started.set_result();
    co_await unsync::sleep(24h);
    co_return 1;
}

const auto blocking_call = unsync::unsync([](unsync::Unfuture<void> started) {
    started.set_result();
    std::this_thread::sleep_for(100ms);
    return 2;
});
// [end-snippet]

}  // namespace

int shutdown_main() {
    // [snippet:shutdown-2]
    unsync::Unfuture<void> coroutine_started;
    auto pending = waits_forever(coroutine_started);
    unsync::Unfuture<void> call_started;
    auto running = blocking_call(call_started);
    coroutine_started.result();
    call_started.result();

    // Cancels the pending coroutine at its suspension point and waits for the running call.
    unsync::shutdown();
    try {
        pending.result();
    } catch (const unsync::cancelled_error& e) {
        std::cout << "cancelled_error: " << e.what() << '\n';
    }
    std::cout << "the running thread-pool call finished: " << running.result() << '\n';

    // Work submitted afterwards fails the same way instead of hanging.
    try {
        blocking_call(unsync::Unfuture<void>()).result();
    } catch (const unsync::cancelled_error& e) {
        std::cout << "cancelled_error: " << e.what() << '\n';
    }
    // [end-snippet]
    return running.result() == 2 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return shutdown_main();
}
#endif
