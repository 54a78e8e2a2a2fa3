// Downstream smoke test: only the umbrella header, only the public API.
#include <unsync/unsync.hpp>

int main() {
    return unsync::Unfuture<int>::from_value(42).result() == 42 ? 0 : 1;
}
