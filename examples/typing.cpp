// Python unsync's "Preserving typing": a Python decorator cannot change a function's declared
// return type, so Python unsync's README lists workarounds. In C++ none is needed: every unsync
// call has an exact static type. Python unsync's option 3 still reads naturally as a typed wrapper.

#include <iostream>
#include <string>
#include <type_traits>
#include <utility>

#include <unsync/unsync.hpp>

namespace {

// [snippet:typing-1]
std::string function_name_synced(std::string x) {
    return x + 'a';
}

// Option 3 of Python unsync's README: a plain function that declares the Unfuture it returns.
unsync::Unfuture<std::string> function_name(std::string x) {
    const auto async_method = unsync::unsync(function_name_synced);
    return async_method(std::move(x));
}

// Without the wrapper the type is just as exact: R is deduced from the callable.
const auto function_name_unsynced = unsync::unsync(function_name_synced);
static_assert(std::is_same_v<decltype(function_name_unsynced("b")), unsync::Unfuture<std::string>>);
// [end-snippet]

}  // namespace

int typing_main() {
    const auto future_result = function_name("b");
    std::cout << future_result.result() << '\n';
    return future_result.result() == "ba" && function_name_unsynced("b").result() == "ba" ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return typing_main();
}
#endif
