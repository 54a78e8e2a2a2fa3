#pragma once
/// @file
/// ThreadPool: where plain functions wrapped by unsync::unsync() run.

#include <chrono>
#include <concepts>
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

/// A function a pool thread can call with decay-copies of the arguments, with or without a
/// leading std::stop_token (which cancel() on the call's future then stops).
template <class F, class... A>
concept pool_callable = std::invocable<std::decay_t<F>, std::decay_t<A>...> ||
    std::invocable<std::decay_t<F>, std::stop_token, std::decay_t<A>...>;

namespace detail {
struct ThreadPoolImpl;
}  // namespace detail

/// The limits of a ThreadPool.
struct ThreadPoolOptions {
    /// Concurrent calls get their own thread up to this many; later calls queue.
    std::size_t max_threads = 64;
    /// An idle thread exits after this long without work.
    std::chrono::milliseconds idle_timeout{10'000};
};

/// Threads for plain functions. Threads are created on demand, up to a maximum, and retire after
/// being idle for a while, so blocking calls do not starve each other and an idle pool holds no
/// threads. A call that blocks on another call still queued in the same pool runs it itself, so
/// calls waiting on calls cannot deadlock the pool. All members are thread-safe.
class UNSYNC_EXPORT ThreadPool {
public:
    /// A pool with no threads yet.
    explicit ThreadPool(ThreadPoolOptions options = {});
    /// Drops calls that have not started and waits for running ones (see shutdown()).
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    /// Runs `f(args...)` on a pool thread and returns the future of its result. Arguments are
    /// decay-copied into the call (pass std::ref(x) for a reference). A callable that accepts a
    /// std::stop_token first gets one; cancel() on the future requests the stop, and a call not
    /// started yet never starts. After shutdown() the future fails with cancelled_error.
    /// @throws std::bad_alloc when the call cannot be allocated.
    template <class F, class... A>
    auto submit(F&& f, A&&... args) {
        using Fn = std::decay_t<F>;
        if constexpr (!pool_callable<F, A...>) {
            static_assert(pool_callable<F, A...>,
                          "unsync: the function cannot be called with copies of these arguments; "
                          "pass std::ref(x) for a reference parameter");
        } else if constexpr (std::invocable<Fn, std::stop_token, std::decay_t<A>...>) {
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

    /// Drops calls not yet started (their futures fail with cancelled_error), waits for the
    /// running ones, and refuses later calls the same way. Idempotent.
    void shutdown() noexcept;

    /// ThreadPoolOptions::max_threads.
    std::size_t max_threads() const noexcept;
    /// Threads alive now, busy or idle.
    std::size_t thread_count() const noexcept;

private:
    friend void detail::submit_to_thread_executor(detail::PoolJob* job) noexcept;
    // Takes ownership of the job's reference.
    void submit_job(detail::PoolJob* job) noexcept;

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

    std::unique_ptr<detail::ThreadPoolImpl> m_impl;
};

}  // namespace unsync
