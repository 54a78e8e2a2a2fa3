// Python unsync's "Custom Event Loops" (uvloop.install(), or an asyncio event-loop policy): choose
// the ambient loop before the first use of unsync. Here the custom loop is an EventLoop
// subclass that carries a name, like Python unsync's test policy that tags its loop (loop.derp).

#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include <unsync/unsync.hpp>

namespace {

// [snippet:custom-event-loop-1]
class NamedLoop final : public unsync::EventLoop {
public:
    explicit NamedLoop(std::string name) : m_name(std::move(name)) {}
    const std::string& name() const noexcept { return m_name; }

private:
    std::string m_name;
};

// Reports which loop it runs on: the ambient one, whatever the factory made.
unsync::Unfuture<std::string> loop_name() {
    const auto* named = dynamic_cast<const NamedLoop*>(&unsync::loop());
    co_return named ? named->name() : std::string("the default EventLoop");
}
// [end-snippet]

}  // namespace

int custom_event_loop_main() {
    // [snippet:custom-event-loop-2]
    if (!unsync::started()) {
        unsync::Options options;
        options.loop_factory = [] { return std::make_unique<NamedLoop>("my custom loop"); };
        unsync::set_options(std::move(options));
    } else {
        // In a program that already used unsync the loop is fixed; the call below still works.
        std::cout << "note: the runtime already started; a custom loop must be chosen before the "
                     "first use of unsync\n";
    }
    std::cout << "The coroutine ran on: " << loop_name().result() << '\n';

    // Once started, the runtime keeps its loop: changing the options is an error.
    try {
        unsync::set_options(unsync::Options{});
        std::cout << "set_options() after start was accepted\n";
        return 1;
    } catch (const unsync::invalid_state_error& e) {
        std::cout << "invalid_state_error: " << e.what() << '\n';
    }
    // [end-snippet]
    return 0;
}

#ifndef UNSYNC_TOUR
int main() {
    return custom_event_loop_main();
}
#endif
