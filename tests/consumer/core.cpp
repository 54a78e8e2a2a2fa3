// Downstream smoke test of the core alone: a program that never includes
// <unsync/process_pool.hpp> builds against an installed unsync without cereal's package.
#include <unsync/unsync.hpp>

int main() {
    auto pooled = unsync::unsync([](int x) { return x + 1; });
    return pooled(41).result() == 42 ? 0 : 1;
}
