#include <unsync/thread_pool.hpp>

#include "detail/cpu_relax.hpp"
#include "detail/intrusive_fifo.hpp"

#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace unsync {

using detail::PoolJob;

struct detail::ThreadPoolImpl {
    explicit ThreadPoolImpl(ThreadPoolOptions o)
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

    // Calls wait here. A submit pushes without a lock; whoever holds the mutex is the queue's
    // one consumer.
    PoolJob inbox_stub{nullptr, nullptr};
    detail::IntrusiveMpscQueue<PoolJob, &PoolJob::m_next> inbox{inbox_stub};
    // Relaxed: calls submitted and calls dequeued (under mutex), so pushed - taken estimates the
    // queue's length. Each on its own cache line: the submitter writes one, the threads the other.
    alignas(k_cache_line) std::atomic<std::uint64_t> pushed{0};
    alignas(k_cache_line) std::atomic<std::uint64_t> taken{0};

    // A submit loads these (seq_cst) after its push (a seq_cst exchange), and the other side
    // stores them (seq_cst) before it looks at the queue: a thread going to sleep (`idle`), a
    // thread retiring (`threads`), the monitor going to sleep (`watching`), a thread ending its
    // spin (`spinning`), shutdown taking the queue (`stopping`). Of two such pairs one always
    // sees the other, so a submit that finds nothing to do leaves a call that someone is sure to
    // take.
    alignas(k_cache_line) std::atomic<bool> stopping{false};  // stored under mutex
    std::atomic<std::size_t> idle{0};      // threads asleep on cv that nobody has woken yet
    std::atomic<std::size_t> threads{0};   // threads alive, busy or idle
    std::atomic<bool> watching{false};     // the monitor is awake, timing a stall
    std::atomic<std::size_t> spinning{0};  // threads watching the queue (worker())

    std::mutex mutex;
    std::condition_variable cv;
    std::condition_variable monitor_cv;
    // Everything below is guarded by mutex.
    std::size_t starting = 0;  // threads spawned that have not yet looked at the queue
    struct Worker {
        std::thread thread;
        pid_t tid = 0;  // set by the thread itself
        // Inside a call, not in the pool's own code. Set under mutex, cleared without it (a
        // thread waiting for the mutex after its call is not blocked by the call); relaxed:
        // the monitor only needs a recent value.
        std::atomic<bool> in_call{false};
    };
    std::list<Worker> workers;
    std::vector<std::thread> retired;  // exited on idle timeout, to be joined
    // Threads notified but not yet awake: the notifier takes them out of `idle` at once, so
    // that the submits right after it neither wake another thread for nothing nor take the
    // slow path (a wake-up takes tens of microseconds here).
    std::size_t waking = 0;
    std::thread monitor;

    // Any thread. Relaxed for a hint, seq_cst where it is one side of a pair above.
    bool has_work(std::memory_order order = std::memory_order_seq_cst) const noexcept {
        return inbox.has_nodes(order);
    }
    bool can_leave_to_others(std::uint64_t submitted) const noexcept;
    std::uint64_t waiting(std::uint64_t submitted) const noexcept {
        const std::uint64_t t = taken.load(std::memory_order_relaxed);
        return submitted > t ? submitted - t : 0;
    }
    void count_taken() noexcept {
        // Only the mutex holder writes it: a load and a store, no read-modify-write.
        taken.store(taken.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void submit_slow() noexcept;
    void worker(std::list<Worker>::iterator self);
    bool all_blocked() const;  // with mutex held
    bool spin_for_work() const noexcept {
        return detail::spin_until([this] { return has_work(std::memory_order_relaxed); },
                                  std::chrono::steady_clock::now() + detail::k_spin_before_sleep);
    }
    void watch();
    bool spawn();         // with mutex held
    PoolJob* take_all();  // with mutex held: empties the queue into a list
    static void drop_all(PoolJob* list) noexcept;
    bool saturated() const {
        // Nobody asleep, being woken or watching the queue: every thread is inside a call.
        return has_work() && idle.load(std::memory_order_relaxed) == 0 && waking == 0 &&
               spinning.load(std::memory_order_relaxed) == 0 &&
               threads.load(std::memory_order_relaxed) < options.max_threads;
    }
};

bool detail::ThreadPoolImpl::spawn() {
    try {
        workers.emplace_back();
        auto it = std::prev(workers.end());
        it->thread = std::thread([this, it] { worker(it); });
        // Relaxed: a submit that reads a stale, lower count only takes the slow path.
        threads.fetch_add(1, std::memory_order_relaxed);
        ++starting;
        return true;
    } catch (const std::system_error&) {
        workers.pop_back();
        return false;
    }
}

// Whether every thread is inside a call and asleep in the kernel. A thread's scheduler state
// 'R' (running or runnable) means it computes or waits for a core; one in the pool's own code
// is about to take a call. Without /proc a thread inside a call counts as blocked.
bool detail::ThreadPoolImpl::all_blocked() const {
    for (const Worker& w : workers) {
        if (!w.in_call.load(std::memory_order_relaxed))
            return false;
        char path[64];
        std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(w.tid));
        std::FILE* f = std::fopen(path, "re");
        if (!f)
            continue;
        char buf[512];
        const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = '\0';
        // "tid (name) S ...": the name may hold spaces and parentheses, the state follows the
        // last ')'.
        const char* close = std::strrchr(buf, ')');
        if (close && close[1] == ' ' && close[2] == 'R')
            return false;
        // Its call may have ended since in_call was read: then the sleep seen is on the mutex
        // this holds, not in the call. Relaxed is enough: the thread cleared the flag before it
        // went to sleep in the kernel, which is what the state read saw, and the flag cannot be
        // set again while this holds the mutex.
        if (!w.in_call.load(std::memory_order_relaxed))
            return false;
    }
    return true;
}

PoolJob* detail::ThreadPoolImpl::take_all() {
    PoolJob* head = nullptr;
    PoolJob* tail = nullptr;
    while (has_work()) {
        PoolJob* job = inbox.pop();
        if (!job) {
            detail::cpu_relax();  // a submit is between the two steps of its push
            continue;
        }
        count_taken();
        // Relaxed: a popped node's link is ours; the list stays on this thread.
        job->m_next.store(nullptr, std::memory_order_relaxed);
        if (tail) {
            tail->m_next.store(job, std::memory_order_relaxed);
        } else {
            head = job;
        }
        tail = job;
    }
    return head;
}

void detail::ThreadPoolImpl::drop_all(PoolJob* list) noexcept {
    while (list) {
        PoolJob* next = list->m_next.load(std::memory_order_relaxed);
        list->m_drop(list);
        list = next;
    }
}

void detail::ThreadPoolImpl::watch() {
    pthread_setname_np(pthread_self(), "unsync-pool-mon");
    std::unique_lock lock(mutex);
    while (!stopping.load(std::memory_order_relaxed)) {
        // Woken by a submit when calls queue and it is not watching; then it checks every
        // k_stall while they do (an idle thread about to take one is not a stall, but is no
        // reason to stop looking).
        watching.store(false, std::memory_order_seq_cst);
        monitor_cv.wait(lock, [this] {
            return stopping.load(std::memory_order_relaxed) ||
                   (has_work() && threads.load(std::memory_order_relaxed) < options.max_threads);
        });
        watching.store(true, std::memory_order_seq_cst);
        const std::uint64_t before = taken.load(std::memory_order_relaxed);
        const bool stop = monitor_cv.wait_for(
            lock, k_stall, [this] { return stopping.load(std::memory_order_relaxed); });
        if (stop)
            break;
        // Calls wait and no thread took one for a while. If the threads are all blocked in the
        // kernel (I/O, sleeps), every waiting call gets a thread of its own, up to max_threads.
        // Threads still starting will each take a call; threads computing (or preempted, on a
        // busy machine) would not be helped by more.
        if (saturated() && taken.load(std::memory_order_relaxed) == before && starting == 0 &&
            all_blocked()) {
            for (auto n = waiting(pushed.load(std::memory_order_relaxed)); n > 0 && saturated();
                 --n) {
                if (!spawn())
                    break;
            }
        }
    }
}

namespace {
thread_local const detail::ThreadPoolImpl* t_pool = nullptr;  // the pool this thread serves
}  // namespace

const void* detail::current_pool() noexcept {
    return t_pool;
}

void detail::ThreadPoolImpl::worker(std::list<Worker>::iterator self) {
    pthread_setname_np(pthread_self(), "unsync-pool");
    t_pool = this;
    std::unique_lock lock(mutex);
    self->tid = gettid();
    --starting;
    for (;;) {
        if (stopping.load(std::memory_order_relaxed)) {
            threads.fetch_sub(1, std::memory_order_relaxed);
            return;
        }
        if (PoolJob* job = inbox.pop()) {
            count_taken();
            self->in_call.store(true, std::memory_order_relaxed);
            lock.unlock();
            job->m_run(job);
            self->in_call.store(false, std::memory_order_relaxed);
            lock.lock();
            continue;
        }
        // Calls submitted in a stream arrive microseconds apart: watching the queue for a
        // moment lets the submitter leave without waking anyone. Bounded, so an idle pool
        // sleeps.
        spinning.fetch_add(1, std::memory_order_relaxed);
        lock.unlock();
        const bool more = spin_for_work();
        spinning.fetch_sub(1, std::memory_order_seq_cst);  // see can_leave_to_others()
        lock.lock();
        if (more)
            continue;
        idle.fetch_add(1, std::memory_order_seq_cst);  // see `idle`
        if (has_work() || stopping.load(std::memory_order_relaxed)) {
            idle.fetch_sub(1, std::memory_order_relaxed);
            continue;
        }
        const auto status = cv.wait_for(lock, options.idle_timeout);
        // Whether this thread was the one notified does not matter, only the counts.
        if (waking > 0) {
            --waking;
        } else {
            idle.fetch_sub(1, std::memory_order_relaxed);
        }
        if (status == std::cv_status::timeout && !stopping.load(std::memory_order_relaxed)) {
            threads.fetch_sub(1, std::memory_order_seq_cst);  // see `threads`
            if (has_work()) {
                threads.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            retired.push_back(std::move(self->thread));
            workers.erase(self);
            return;
        }
    }
}

bool detail::ThreadPoolImpl::can_leave_to_others(std::uint64_t submitted) const noexcept {
    // seq_cst, after the push: see the members (a thread stops spinning before it counts
    // itself idle and looks at the queue).
    if (stopping.load(std::memory_order_seq_cst) || idle.load(std::memory_order_seq_cst) != 0)
        return false;
    const std::size_t n = threads.load(std::memory_order_seq_cst);
    if (n < eager_limit)
        return false;
    if (n >= options.max_threads || watching.load(std::memory_order_seq_cst))
        return true;
    // No monitor watching: leave only if a spinning thread is there for every waiting call, so
    // that none waits behind a call that blocks.
    return waiting(submitted) <= spinning.load(std::memory_order_seq_cst);
}

void detail::ThreadPoolImpl::submit_slow() noexcept {
    std::vector<std::thread> finished;
    PoolJob* dropped = nullptr;
    {
        std::lock_guard lock(mutex);
        if (stopping.load(std::memory_order_relaxed)) {
            dropped = take_all();  // this call, and any other that came too late
        } else {
            // Wake a sleeping thread, and if more calls wait than threads will come, start one
            // (up to a core's worth) or have the monitor watch for stalled threads.
            const std::size_t sleeping = idle.load(std::memory_order_relaxed);
            const std::size_t coming = sleeping + waking;  // threads about to look at the queue
            if (sleeping > 0) {
                idle.fetch_sub(1, std::memory_order_relaxed);
                ++waking;
                cv.notify_one();
            }
            if (waiting(pushed.load(std::memory_order_relaxed)) <= coming) {
                // They are enough.
            } else if (threads.load(std::memory_order_relaxed) < eager_limit) {
                // Without a single thread the calls would wait forever: fail them instead.
                if (!spawn() && threads.load(std::memory_order_relaxed) == 0)
                    dropped = take_all();
            } else if (threads.load(std::memory_order_relaxed) < options.max_threads &&
                       !watching.load(std::memory_order_relaxed)) {
                if (!monitor.joinable()) {
                    try {
                        monitor = std::thread([this] { watch(); });
                    } catch (const std::system_error&) {
                        // No monitor: the pool keeps the threads it has.
                    }
                }
                monitor_cv.notify_one();
            }
        }
        finished.swap(retired);
    }
    for (auto& t : finished)
        t.join();
    drop_all(dropped);
}

ThreadPool::ThreadPool(ThreadPoolOptions options)
    : m_impl(std::make_unique<detail::ThreadPoolImpl>(options)) {}

ThreadPool::~ThreadPool() {
    shutdown();
}

void ThreadPool::submit_job(PoolJob* job) noexcept {
    detail::ThreadPoolImpl& impl = *m_impl;
    job->m_pool = &impl;
    const std::uint64_t submitted = impl.pushed.fetch_add(1, std::memory_order_relaxed) + 1;
    impl.inbox.push(job);
    // The common case in a stream of calls: threads are awake and will find it.
    if (!impl.can_leave_to_others(submitted))
        impl.submit_slow();
}

void ThreadPool::shutdown() noexcept {
    detail::ThreadPoolImpl& impl = *m_impl;
    PoolJob* dropped = nullptr;
    std::list<detail::ThreadPoolImpl::Worker> workers;
    std::vector<std::thread> retired;
    {
        std::lock_guard lock(impl.mutex);
        if (impl.stopping.load(std::memory_order_relaxed))
            return;
        impl.stopping.store(true, std::memory_order_seq_cst);  // see `stopping`
        dropped = impl.take_all();
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
    detail::ThreadPoolImpl::drop_all(dropped);
    for (auto& t : retired)
        t.join();
    for (auto& w : workers) {
        // exit() called from a pool thread: that thread cannot join itself.
        if (w.thread.get_id() == std::this_thread::get_id()) {
            w.thread.detach();
        } else {
            w.thread.join();
        }
    }
}

std::size_t ThreadPool::max_threads() const noexcept {
    return m_impl->options.max_threads;
}

std::size_t ThreadPool::thread_count() const noexcept {
    return m_impl->threads.load(std::memory_order_relaxed);
}

}  // namespace unsync
