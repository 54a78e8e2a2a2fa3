// Downstream smoke test: only the public API, as a user of an installed unsync writes it. It
// touches each layer the library exports: a coroutine with a timer, a thread-pool call, a
// continuation, and a CPU-bound call in a worker process.
#include <unsync/process_pool.hpp>
#include <unsync/unsync.hpp>

#include <chrono>

namespace {

int square(int x) {
    return x * x;
}
constexpr auto square_cpu = unsync::cpu_bound<&square>;

unsync::Unfuture<int> add_later(int a, int b) {
    co_await unsync::sleep(std::chrono::milliseconds(1));
    co_return a + b;
}

}  // namespace

int main() {
    unsync::serve_if_worker();
    auto pooled = unsync::unsync([](int x) { return x + 1; });
    const int sum = add_later(40, 2).result();
    const int next = pooled(41).then([](int v) { return v * 2; }).result();
    const int squared = square_cpu(7).result();
    return sum == 42 && next == 84 && squared == 49 ? 0 : 1;
}
