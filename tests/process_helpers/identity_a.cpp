// One of two files that each define `compute` with internal linkage: a cpu_bound call through
// each must run its own file's function (test_scenario_process_reliability.cpp).
#include <unsync/process_pool.hpp>

namespace {
int compute(int x) {
    return x + 1000;
}
constexpr auto compute_cpu = unsync::cpu_bound<&compute>;
}  // namespace

unsync::Unfuture<int> compute_in_file_a(int x) {
    return compute_cpu(x);
}
