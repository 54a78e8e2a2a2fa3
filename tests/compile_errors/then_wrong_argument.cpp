// expect: unsync: then() needs a continuation callable with the source unsync::Unfuture<T>
#include <string>

#include <unsync/unsync.hpp>

int main() {
    unsync::Unfuture<int> source;
    auto chained = source.then([](std::string s) { return s.size(); });
}
