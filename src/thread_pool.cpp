#include <unsync/thread_pool.hpp>

#include "detail/cpu_relax.hpp"
#include "detail/intrusive_fifo.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace unsync {

using detail::PoolJob;

struct ThreadPool::Impl {
    explicit Impl(ThreadPoolOptions o)
        : options(o), eager_limit(std::max(1u, std::thread::hardware_concurrency())) {
        if (options.max_threads == 0)
            options.max_threads = 1;
        eager_limit = std::min(eager_limit, options.max_threads);
    }

    ThreadPoolOptions options;
    // Threads started as soon as calls wait: one per core. Past that, the monitor adds threads
    // only when no call has been taken for a moment (every thread is blocked), so a burst of
    // tiny calls runs on a core's worth of threads instead of thrashing max_threads of them.
    std::size_t eager_limit;
    static constexpr std::chrono::microseconds k_stall{200};
    std::mutex mutex;
    std::condition_variable cv;
    // The queue's length, also readable without the mutex: a worker that ran out of calls
    // watches it for a moment before it sleeps (see worker()).
    std::atomic<std::size_t> queued{0};
    std::condition_variable monitor_cv;
    // Everything below is guarded by mutex.
    detail::IntrusiveFifo<PoolJob> jobs;
    std::size_t idle = 0;
    std::size_t threads = 0;
    std::uint64_t taken = 0;      // calls dequeued so far: the monitor's measure of progress
    std::size_t starting = 0;     // threads spawned that have not yet looked at the queue
    bool monitor_timing = false;  // the monitor is timing a stall: submits need not wake it
    bool stopping = false;
    std::list<std::thread> workers;
    std::vector<std::thread> retired;  // exited on idle timeout, to be joined
    std::thread monitor;

    void worker(std::list<std::thread>::iterator self);
    bool spin_for_work() const noexcept {
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
        for (unsigned i = 1; queued.load(std::memory_order_relaxed) == 0; ++i) {
            detail::cpu_relax();
            if (i % 64 == 0 && std::chrono::steady_clock::now() >= until)
                return false;
        }
        return true;
    }
    void watch();
    bool spawn();  // with mutex held
    bool saturated() const { return !jobs.empty() && idle == 0 && threads < options.max_threads; }
};

bool ThreadPool::Impl::spawn() {
    try {
        workers.emplace_back();
        auto it = std::prev(workers.end());
        *it = std::thread([this, it] { worker(it); });
        ++threads;
        ++starting;
        return true;
    } catch (const std::system_error&) {
        workers.pop_back();
        return false;
    }
}

void ThreadPool::Impl::watch() {
    pthread_setname_np(pthread_self(), "unsync-pool-mon");
    std::unique_lock lock(mutex);
    while (!stopping) {
        // Woken by a submit whenever calls queue; then it checks every k_stall while they do
        // (an idle thread about to take one is not a stall, but is no reason to stop looking).
        monitor_cv.wait(
            lock, [this] { return stopping || (!jobs.empty() && threads < options.max_threads); });
        const std::uint64_t before = taken;
        monitor_timing = true;
        const bool stop = monitor_cv.wait_for(lock, k_stall, [this] { return stopping; });
        monitor_timing = false;
        if (stop)
            break;
        // Calls wait and no thread took one for a while: they are all blocked (I/O, sleeps),
        // so every waiting call gets a thread of its own, up to max_threads.
        // Threads still starting will each take a call: they are not stalled.
        if (saturated() && taken == before && starting == 0) {
            for (std::size_t n = jobs.size(); n > 0 && saturated(); --n) {
                if (!spawn())
                    break;
            }
        }
    }
}

void ThreadPool::Impl::worker(std::list<std::thread>::iterator self) {
    pthread_setname_np(pthread_self(), "unsync-pool");
    std::unique_lock lock(mutex);
    --starting;
    for (;;) {
        while (jobs.empty()) {
            if (stopping) {
                --threads;
                return;
            }
            // Calls submitted in a stream arrive microseconds apart: watching the queue for a
            // moment saves the submitter a wake-up system call per call. Bounded, so an idle
            // pool sleeps; a spinning worker is not counted idle, so nobody wakes it.
            lock.unlock();
            const bool more = spin_for_work();
            lock.lock();
            if (more && !jobs.empty())
                break;
            if (!jobs.empty() || stopping)
                continue;
            ++idle;
            const auto status = cv.wait_for(lock, options.idle_timeout);
            --idle;
            if (status == std::cv_status::timeout && jobs.empty() && !stopping) {
                retired.push_back(std::move(*self));
                workers.erase(self);
                --threads;
                return;
            }
        }
        PoolJob* job = jobs.pop();
        // Relaxed: only a hint for spinning workers; the mutex orders the queue itself.
        queued.store(jobs.size(), std::memory_order_relaxed);
        ++taken;
        lock.unlock();
        job->m_run(job);
        lock.lock();
    }
}

ThreadPool::ThreadPool(ThreadPoolOptions options) : m_impl(std::make_unique<Impl>(options)) {}

ThreadPool::~ThreadPool() {
    shutdown();
}

void ThreadPool::submit_job(PoolJob* job) noexcept {
    Impl& impl = *m_impl;
    std::vector<std::thread> finished;
    PoolJob* stranded = nullptr;
    {
        std::unique_lock lock(impl.mutex);
        if (impl.stopping) {
            lock.unlock();
            job->m_drop(job);
            return;
        }
        impl.jobs.push(job);
        // Relaxed: see `queued`.
        impl.queued.store(impl.jobs.size(), std::memory_order_relaxed);
        if (impl.jobs.size() <= impl.idle) {
            impl.cv.notify_one();
        } else if (impl.threads < impl.eager_limit) {
            // Without a single thread the calls would wait forever: fail them instead.
            if (!impl.spawn() && impl.threads == 0) {
                stranded = impl.jobs.take_all();
                impl.queued.store(0, std::memory_order_relaxed);
            }
        } else {
            if (impl.idle > 0)
                impl.cv.notify_one();
            if (impl.threads < impl.options.max_threads) {
                if (!impl.monitor.joinable()) {
                    try {
                        impl.monitor = std::thread([&impl] { impl.watch(); });
                    } catch (const std::system_error&) {
                        // No monitor: the pool keeps the threads it has.
                    }
                }
                if (!impl.monitor_timing)
                    impl.monitor_cv.notify_one();
            }
        }
        finished.swap(impl.retired);
    }
    for (auto& t : finished)
        t.join();
    while (stranded) {
        PoolJob* next = stranded->m_next;
        stranded->m_drop(stranded);
        stranded = next;
    }
}

void ThreadPool::shutdown() noexcept {
    Impl& impl = *m_impl;
    PoolJob* dropped = nullptr;
    std::list<std::thread> workers;
    std::vector<std::thread> retired;
    {
        std::lock_guard lock(impl.mutex);
        if (impl.stopping)
            return;
        impl.stopping = true;
        dropped = impl.jobs.take_all();
        impl.queued.store(0, std::memory_order_relaxed);
        workers.swap(impl.workers);
        retired.swap(impl.retired);
    }
    impl.cv.notify_all();
    impl.monitor_cv.notify_all();
    if (impl.monitor.joinable()) {
        if (impl.monitor.get_id() == std::this_thread::get_id()) {
            impl.monitor.detach();
        } else {
            impl.monitor.join();
        }
    }
    while (dropped) {
        PoolJob* next = dropped->m_next;
        dropped->m_drop(dropped);
        dropped = next;
    }
    for (auto& t : retired)
        t.join();
    for (auto& t : workers) {
        // exit() called from a pool thread: that thread cannot join itself.
        if (t.get_id() == std::this_thread::get_id()) {
            t.detach();
        } else {
            t.join();
        }
    }
}

std::size_t ThreadPool::max_threads() const noexcept {
    return m_impl->options.max_threads;
}

std::size_t ThreadPool::thread_count() const noexcept {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->threads;
}

}  // namespace unsync
