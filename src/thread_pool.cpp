#include <unsync/thread_pool.hpp>

#include <pthread.h>

#include <condition_variable>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace unsync {

using detail::PoolJob;

struct ThreadPool::Impl {
    explicit Impl(ThreadPoolOptions o) : options(o) {
        if (options.max_threads == 0)
            options.max_threads = 1;
    }

    ThreadPoolOptions options;
    std::mutex mutex;
    std::condition_variable cv;
    // Everything below is guarded by mutex.
    PoolJob* head = nullptr;
    PoolJob* tail = nullptr;
    std::size_t queued = 0;
    std::size_t idle = 0;
    std::size_t threads = 0;
    bool stopping = false;
    std::list<std::thread> workers;
    std::vector<std::thread> retired;  // exited on idle timeout, to be joined

    void worker(std::list<std::thread>::iterator self);
};

void ThreadPool::Impl::worker(std::list<std::thread>::iterator self) {
    pthread_setname_np(pthread_self(), "unsync-pool");
    std::unique_lock lock(mutex);
    for (;;) {
        while (!head) {
            if (stopping) {
                --threads;
                return;
            }
            ++idle;
            const auto status = cv.wait_for(lock, options.idle_timeout);
            --idle;
            if (status == std::cv_status::timeout && !head && !stopping) {
                retired.push_back(std::move(*self));
                workers.erase(self);
                --threads;
                return;
            }
        }
        PoolJob* job = head;
        head = job->m_next;
        if (!head)
            tail = nullptr;
        --queued;
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
        job->m_next = nullptr;
        if (impl.tail) {
            impl.tail->m_next = job;
        } else {
            impl.head = job;
        }
        impl.tail = job;
        ++impl.queued;
        // A thread per concurrent call: idle threads take what they can, new ones the rest.
        if (impl.queued > impl.idle && impl.threads < impl.options.max_threads) {
            try {
                impl.workers.emplace_back();
                auto it = std::prev(impl.workers.end());
                *it = std::thread([&impl, it] { impl.worker(it); });
                ++impl.threads;
            } catch (const std::system_error&) {
                impl.workers.pop_back();
                // Without a single thread the calls would wait forever: fail them instead.
                if (impl.threads == 0) {
                    stranded = std::exchange(impl.head, nullptr);
                    impl.tail = nullptr;
                    impl.queued = 0;
                }
            }
        } else {
            impl.cv.notify_one();
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
    PoolJob* jobs = nullptr;
    std::list<std::thread> workers;
    std::vector<std::thread> retired;
    {
        std::lock_guard lock(impl.mutex);
        if (impl.stopping)
            return;
        impl.stopping = true;
        jobs = impl.head;
        impl.head = impl.tail = nullptr;
        impl.queued = 0;
        workers.swap(impl.workers);
        retired.swap(impl.retired);
    }
    impl.cv.notify_all();
    while (jobs) {
        PoolJob* next = jobs->m_next;
        jobs->m_drop(jobs);
        jobs = next;
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
