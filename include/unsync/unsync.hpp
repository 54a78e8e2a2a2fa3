#pragma once
/// @file
/// unsync::unsync(callable), the C++ form of Python unsync's `@unsync` decorator; also the
/// umbrella header.
///
/// This header brings in the public API, except the two headers with dependencies of their own:
/// <unsync/process_pool.hpp> (cpu_bound, which needs cereal) and <unsync/use_unfuture.hpp> (the
/// Asio completion token).

#include <functional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include <unsync/barrier.hpp>
#include <unsync/combinators.hpp>
#include <unsync/continuation.hpp>
#include <unsync/debug.hpp>
#include <unsync/errors.hpp>
#include <unsync/event.hpp>
#include <unsync/event_loop.hpp>
#include <unsync/generator.hpp>
#include <unsync/latch.hpp>
#include <unsync/mutex.hpp>
#include <unsync/queue.hpp>
#include <unsync/runtime.hpp>
#include <unsync/semaphore.hpp>
#include <unsync/sleep.hpp>
#include <unsync/task_group.hpp>
#include <unsync/thread_pool.hpp>
#include <unsync/unfuture.hpp>
#include <unsync/wait_for.hpp>

namespace unsync {

/// What a wrapped callable accepts: a call that returns an Unfuture (a coroutine, called as is),
/// or a pool_callable (it runs later on a pool thread with decay-copies of the arguments).
// A constraint rather than an assertion, so that then() and other traits see what the wrapper
// really accepts (then(wrapper) must pick the value form). The trailing comments are what a
// compiler shows when a call does not match.
// clang-format off
template <class F, class... A>
concept callable_through_unsync =
    detail::IsUnfuture<std::remove_cvref_t<std::invoke_result_t<const F&, A&&...>>>::value ||  // a coroutine, called as is
    pool_callable<F, A...>;  // runs on a pool thread with decay-copied arguments (and an optional leading std::stop_token): pass std::ref(x) for a T& parameter, the object (or a pointer, or std::ref) first for a member function
// clang-format on

/// A callable wrapped by unsync::unsync(): each call returns an Unfuture of the callable's result.
/// Copyable when F is; calls are thread-safe when F's const call operator is.
template <class F>
class Unsynced {
public:
    /// Wraps `fn`.
    explicit Unsynced(F fn) : m_fn(std::move(fn)) {}

    /// Calls the wrapped callable: a coroutine (a callable returning an Unfuture) directly, so
    /// that it is scheduled on the ambient loop and takes its parameters as it declares them
    /// (take them by value, see the README); anything else on thread_executor(), with
    /// decay-copies of the arguments. A call that matches neither fails to compile: pass
    /// std::ref(x) for a reference parameter, and the object (or a pointer, or std::ref) first
    /// for a member function.
    /// @return the Unfuture of the result.
    template <class... A>
    requires callable_through_unsync<F, A...>
    auto operator()(A&&... args) const {
        if constexpr (returns_unfuture<A...>()) {
            return std::invoke(m_fn, std::forward<A>(args)...);
        } else {
            return thread_executor().submit(m_fn, std::forward<A>(args)...);
        }
    }

private:
    template <class... A>
    static constexpr bool returns_unfuture() {
        if constexpr (std::is_invocable_v<const F&, A&&...>) {
            return detail::IsUnfuture<
                std::remove_cvref_t<std::invoke_result_t<const F&, A&&...>>>::value;
        } else {
            return false;
        }
    }

    F m_fn;
};

/// `auto f = unsync::unsync(callable);`: wraps any callable (lambda, function, member function,
/// std::function) so that calling it returns an Unfuture; see Unsynced.
template <class F>
Unsynced<std::decay_t<F>> unsync(F&& fn) {
    return Unsynced<std::decay_t<F>>(std::forward<F>(fn));
}

}  // namespace unsync
