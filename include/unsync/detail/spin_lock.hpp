#pragma once
// Spinning on a shared word: a pause between polls (lets the sibling hyperthread run and saves
// power), a back-off that yields once the holder seems preempted, and a lock built on them. In a
// header because the coordination primitives keep such a lock as a member.

#include <atomic>
#include <thread>

namespace unsync::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
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
