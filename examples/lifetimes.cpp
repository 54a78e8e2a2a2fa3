// Who owns the arguments: a wrapped plain function gets copies; a coroutine gets exactly what
// its parameters declare, and runs later on the loop thread.

#include <chrono>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>

#include <unsync/unsync.hpp>

using namespace std::chrono_literals;

namespace {

// [snippet:lifetimes-1]
// By value: the coroutine body runs on the loop thread after the call has returned, when a
// temporary argument no longer exists; `const std::string& text` would dangle here.
unsync::Unfuture<int> count_words(std::string text) {
    co_await unsync::sleep(10ms);
    std::istringstream in(text);
    int words = 0;
    for (std::string word; in >> word;)
        ++words;
    co_return words;
}

struct Counter {
    int hits = 0;
    int hit() { return ++hits; }
};

const auto hit = unsync::unsync(&Counter::hit);
// [end-snippet]

}  // namespace

int lifetimes_main() {
    std::cout << "words: " << count_words(std::string("take parameters by value")).result() << '\n';

    // [snippet:lifetimes-2]
    // The object of a member function is decay-copied like any other argument...
    Counter counter;
    hit(counter).result();
    std::cout << "after hit(counter): " << counter.hits << '\n';
    // ...unless it is passed by pointer or std::ref; then it must outlive the call.
    hit(&counter).result();
    hit(std::ref(counter)).result();
    std::cout << "after hit(&counter) and hit(std::ref(counter)): " << counter.hits << '\n';
    // [end-snippet]
    return counter.hits == 2 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return lifetimes_main();
}
#endif
