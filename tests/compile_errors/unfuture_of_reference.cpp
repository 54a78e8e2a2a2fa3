// expect: unsync::Unfuture<T&> is not supported
#include <unsync/unsync.hpp>

int main() {
    unsync::Unfuture<int&> f;
}
