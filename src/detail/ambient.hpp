#pragma once
// Between the runtime and its loop: only the loop the runtime starts this way runs tasks.

#include <chrono>

namespace unsync {
class EventLoop;
}

namespace unsync::detail {

// A zero slow_step turns debug mode's slow-step warning off.
void start_ambient(EventLoop& loop, std::chrono::nanoseconds slow_step);

}  // namespace unsync::detail
