#pragma once
// unsync::unsync(callable): the C++ form of the seed's @unsync decorator. The wrapped callable
// returns Unfuture<R>; a coroutine (a callable returning an Unfuture) runs on the ambient loop,
// anything else on thread_executor(). This header also brings in the whole public API.

#include <functional>
#include <type_traits>
#include <utility>

#include <unsync/errors.hpp>
#include <unsync/event_loop.hpp>
#include <unsync/runtime.hpp>
#include <unsync/sleep.hpp>
#include <unsync/thread_pool.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

template <class F>
class Unsynced {
public:
    explicit Unsynced(F fn) : m_fn(std::move(fn)) {}

    // Arguments are decay-copied into a thread-pool call. A coroutine is called directly: it
    // takes its parameters as it declares them (take them by value, see the README).
    template <class... A>
    auto operator()(A&&... args) const {
        static_assert(std::is_invocable_v<const F&, A&&...>,
                      "unsync: the wrapped callable cannot be called with these arguments (for a "
                      "member function, pass the object, a pointer or std::ref first)");
        using R = std::invoke_result_t<const F&, A&&...>;
        if constexpr (detail::IsUnfuture<std::remove_cvref_t<R>>::value) {
            return std::remove_cvref_t<R>(std::invoke(m_fn, std::forward<A>(args)...));
        } else {
            return thread_executor().submit(m_fn, std::forward<A>(args)...);
        }
    }

    const F& callable() const noexcept { return m_fn; }

private:
    F m_fn;
};

// `auto f = unsync::unsync(callable);` — see Unsynced.
template <class F>
Unsynced<std::decay_t<F>> unsync(F&& fn) {
    return Unsynced<std::decay_t<F>>(std::forward<F>(fn));
}

}  // namespace unsync
