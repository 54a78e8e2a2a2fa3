#pragma once
// Spinning on a shared word: the cache line, and how long to poll before sleeping (cpu_relax(),
// Backoff and SpinLock are in <unsync/detail/spin_lock.hpp>). Private to the library's sources.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>

#include <unsync/detail/spin_lock.hpp>

namespace unsync::detail {

// The cache line on the x86-64 and AArch64 machines the library targets: atomics written by
// different threads are kept this far apart so that their writes do not contend.
// (std::hardware_destructive_interference_size warns under GCC: its value may differ by -mtune.)
inline constexpr std::size_t k_cache_line = 64;

// How long a thread that is about to sleep in the kernel first polls for what it waits for: a
// hand-over within microseconds (a round trip to another thread) costs less spinning than a
// sleep and a wake-up would on both sides. Bounded, so a longer wait still sleeps.
inline constexpr std::chrono::microseconds k_spin_before_sleep{20};

// Polls ready() until it returns true (then true) or until `until` has passed (then false).
template <class Ready>
bool spin_until(Ready&& ready, std::chrono::steady_clock::time_point until) noexcept {
    for (unsigned i = 1; !ready(); ++i) {
        cpu_relax();
        // A clock read costs several polls: one every 64.
        if (i % 64 == 0 && std::chrono::steady_clock::now() >= until)
            return false;
    }
    return true;
}

}  // namespace unsync::detail
