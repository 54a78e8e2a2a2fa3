// expect: pass std::ref(x) for a reference parameter
#include <unsync/unsync.hpp>

void increment(int& x) {
    ++x;
}

int main() {
    int x = 0;
    auto call = unsync::thread_executor().submit(increment, x);
}
