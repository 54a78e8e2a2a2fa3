#pragma once
// unsync::unsync(callable): the C++ form of the seed's @unsync decorator. The wrapped callable
// returns Unfuture<R>; a coroutine (a callable returning an Unfuture) runs on the ambient loop,
// anything else on thread_executor(). This header also brings in the whole public API.

#include <functional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include <unsync/barrier.hpp>
#include <unsync/combinators.hpp>
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

// What a wrapped callable accepts: a call that returns an Unfuture (a coroutine, called as is),
// or a plain call with decay-copies of the arguments (it runs later on a pool thread), with or
// without a leading std::stop_token. A constraint rather than an assertion, so that then() and
// other traits see what the wrapper really accepts (then(wrapper) must pick the value form).
// The trailing comments are what a compiler shows when a call does not match.
// clang-format off
template <class F, class... A>
concept callable_through_unsync =
    detail::IsUnfuture<std::remove_cvref_t<std::invoke_result_t<const F&, A&&...>>>::value ||  // a coroutine, called as is
    std::is_invocable_v<F, std::decay_t<A>...> ||  // runs on a pool thread with decay-copied arguments: pass std::ref(x) for a T& parameter, the object (or a pointer, or std::ref) first for a member function
    std::is_invocable_v<F, std::stop_token, std::decay_t<A>...>;  // the same, with a leading std::stop_token
// clang-format on

template <class F>
class Unsynced {
public:
    explicit Unsynced(F fn) : m_fn(std::move(fn)) {}

    // Arguments are decay-copied into a thread-pool call. A coroutine is called directly: it
    // takes its parameters as it declares them (take them by value, see the README). A call
    // that matches neither fails to compile: the wrapped callable cannot be called with copies
    // of these arguments; pass std::ref(x) for a reference parameter, and the object (or a
    // pointer, or std::ref) first for a member function.
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

// `auto f = unsync::unsync(callable);` — see Unsynced.
template <class F>
Unsynced<std::decay_t<F>> unsync(F&& fn) {
    return Unsynced<std::decay_t<F>>(std::forward<F>(fn));
}

}  // namespace unsync
