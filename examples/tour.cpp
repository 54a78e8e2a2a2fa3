// The demo: every example in one process, sharing one unsync runtime.

#include <exception>
#include <iostream>

#include <unsync/process_pool.hpp>

int custom_event_loop_main();
int sleep_main();
int thread_executor_main();
int continuation_main();
int mixing_methods_main();
int typing_main();
int exceptions_main();
int unfuture_main();
int lifetimes_main();
int process_executor_main();
int echo_main();
int fetch_main();
int cancellation_main();
int combinators_main();
int generator_main();
int task_group_main();
int debug_main();
int shutdown_main();
int crawler_main();
int queue_main();
int coordination_main();

namespace {

struct Example {
    const char* name;
    int (*run)();
};

// custom_event_loop first: a custom loop can only be installed before the runtime starts.
// shutdown last: it stops the runtime the others share.
constexpr Example k_examples[] = {
    {"custom_event_loop", &custom_event_loop_main},
    {"sleep", &sleep_main},
    {"thread_executor", &thread_executor_main},
    {"continuation", &continuation_main},
    {"mixing_methods", &mixing_methods_main},
    {"typing", &typing_main},
    {"exceptions", &exceptions_main},
    {"unfuture", &unfuture_main},
    {"lifetimes", &lifetimes_main},
    {"process_executor", &process_executor_main},
    {"echo", &echo_main},
    {"fetch", &fetch_main},
    {"cancellation", &cancellation_main},
    {"combinators", &combinators_main},
    {"generator", &generator_main},
    {"task_group", &task_group_main},
    {"debug", &debug_main},
    {"crawler", &crawler_main},
    {"queue", &queue_main},
    {"coordination", &coordination_main},
    {"shutdown", &shutdown_main},
};

}  // namespace

int main() {
    // The process pool's workers are this program started again: they serve here, not below.
    unsync::serve_if_worker();
    int failures = 0;
    for (const auto& [name, run] : k_examples) {
        std::cout << "=== " << name << " ===\n";
        int rc = 1;
        try {
            rc = run();
        } catch (const std::exception& e) {
            std::cout << "uncaught exception: " << e.what() << '\n';
        } catch (const unsync::cancelled_error& e) {
            std::cout << "uncaught cancellation: " << e.what() << '\n';
        }
        if (rc != 0) {
            std::cout << "*** " << name << " FAILED\n";
            ++failures;
        }
    }
    std::cout << (failures == 0 ? "all examples passed\n" : "some examples failed\n");
    return failures == 0 ? 0 : 1;
}
