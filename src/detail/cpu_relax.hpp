#pragma once
// Spinning on a shared word: a pause between polls (lets the sibling hyperthread run and saves
// power), a back-off that yields once the holder seems preempted, and a lock built on them.
// Private to the library's sources.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>

namespace unsync::detail {

// The cache line on the x86-64 and AArch64 machines the library targets: atomics written by
// different threads are kept this far apart so that their writes do not contend.
// (std::hardware_destructive_interference_size warns under GCC: its value may differ by -mtune.)
inline constexpr std::size_t k_cache_line = 64;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

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

// For sections a few instructions long: spin briefly, then yield, since a holder that is still
// inside after that long was most likely preempted.
class Backoff {
public:
    void pause() noexcept {
        if (m_spins < 64) {
            ++m_spins;
            cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }

private:
    unsigned m_spins = 0;
};

// A lock for short sections that never sleeps in the kernel: std::mutex puts a contending
// thread to sleep at once, and the wake-up costs far more than the section.
class SpinLock {
public:
    void lock() noexcept {
        Backoff backoff;
        // Acquire: the previous holder's writes are visible once we hold the lock. The relaxed
        // load first keeps waiting threads from bouncing the cache line with RMWs.
        while (m_locked.exchange(true, std::memory_order_acquire)) {
            while (m_locked.load(std::memory_order_relaxed))
                backoff.pause();
        }
    }
    // Release: publishes the section's writes to the next holder.
    void unlock() noexcept { m_locked.store(false, std::memory_order_release); }

private:
    std::atomic<bool> m_locked{false};
};

}  // namespace unsync::detail
