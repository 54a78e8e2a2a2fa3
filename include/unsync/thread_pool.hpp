#pragma once
// ThreadPool: where plain functions wrapped by unsync run. Threads are created on demand, up to
// a maximum, and retire after being idle for a while, so blocking calls do not starve each other
// and an idle pool holds no threads.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

#include <unsync/detail/job.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

struct ThreadPoolOptions {
    // Concurrent calls get their own thread up to this many; later calls queue.
    std::size_t max_threads = 64;
    // An idle thread exits after this long without work.
    std::chrono::milliseconds idle_timeout{10'000};
};

class UNSYNC_EXPORT ThreadPool {
public:
    explicit ThreadPool(ThreadPoolOptions options = {});
    // Drops calls that have not started and waits for running ones.
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    // Runs f(args...) on a pool thread. Arguments are decay-copied into the call. A callable
    // that accepts a std::stop_token first gets one; cancel() on the future requests the stop.
    template <class F, class... A>
    auto submit(F&& f, A&&... args) {
        using Fn = std::decay_t<F>;
        constexpr bool stoppable = std::is_invocable_v<Fn, std::stop_token, std::decay_t<A>...>;
        static_assert(stoppable || std::is_invocable_v<Fn, std::decay_t<A>...>,
                      "unsync: the function cannot be called with copies of these arguments; "
                      "pass std::ref(x) for a reference parameter");
        if constexpr (stoppable) {
            using R = std::invoke_result_t<Fn, std::stop_token, std::decay_t<A>...>;
            check_result<R>();
            auto call = [f = std::forward<F>(f),
                         ... args = std::forward<A>(args)](std::stop_token token) mutable -> R {
                return std::invoke(std::move(f), std::move(token), std::move(args)...);
            };
            return start(new detail::PoolTask<R, decltype(call), true>(std::move(call)));
        } else {
            using R = std::invoke_result_t<Fn, std::decay_t<A>...>;
            check_result<R>();
            auto call = [f = std::forward<F>(f), ... args = std::forward<A>(args)]() mutable -> R {
                return std::invoke(std::move(f), std::move(args)...);
            };
            return start(new detail::PoolTask<R, decltype(call)>(std::move(call)));
        }
    }

    // Drops calls not yet started (their futures fail with cancelled_error), waits for the
    // running ones, and refuses later calls the same way. Idempotent.
    void shutdown() noexcept;

    std::size_t max_threads() const noexcept;
    // Threads alive now, busy or idle.
    std::size_t thread_count() const noexcept;

    // Low level: takes ownership of the job's reference.
    void submit_job(detail::PoolJob* job) noexcept;

    struct Impl;

private:
    template <class R>
    static void check_result() {
        static_assert(!std::is_reference_v<R>,
                      "unsync: the function returns a reference, which would dangle once the call "
                      "ends; return by value, a pointer, or a std::reference_wrapper");
    }
    template <class R, class Fn, bool S>
    Unfuture<R> start(detail::PoolTask<R, Fn, S>* job) {
        submit_job(job);
        return detail::adopt_state<R>(job);
    }

    std::unique_ptr<Impl> m_impl;
};

}  // namespace unsync
