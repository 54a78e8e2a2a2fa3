// The README's first example: a whole program, so it is not part of the tour.
// [snippet:hello]
#include <unsync/unsync.hpp>

#include <cctype>
#include <chrono>
#include <iostream>
#include <string>

// A coroutine: calling it schedules it on the ambient event loop and returns at once.
unsync::Unfuture<std::string> greet(std::string name) {
    co_await unsync::sleep(std::chrono::milliseconds(100));  // suspends; the loop runs on
    co_return "hello, " + name;
}

// A plain function, wrapped: each call runs on the thread pool.
const auto shout = unsync::unsync([](std::string text) {
    for (char& c : text)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
});

int main() {
    auto first = greet("world");  // the two greetings sleep at the same time
    auto second = greet("unsync").then(shout);
    // result() blocks until the value is there: about 0.1 s in all.
    std::cout << first.result() << '\n' << second.result() << '\n';
}
// [end-snippet]
