#pragma once
// The declarations then() needs before Unfuture<T> is complete; the link itself, a coroutine,
// is defined in detail/unfuture_impl.hpp.

#include <type_traits>
#include <utility>

#include <unsync/continuation.hpp>
#include <unsync/detail/state.hpp>

namespace unsync::detail {

enum class ContinuationKind { future, value };

template <class T, class F>
inline constexpr ContinuationKind continuation_kind =
    future_continuation<F, T> ? ContinuationKind::future : ContinuationKind::value;

template <class T, class F>
auto continuation_result() {
    if constexpr (future_continuation<F, T>) {
        return std::type_identity<std::invoke_result_t<F&, Unfuture<T>&>>{};
    } else if constexpr (std::is_void_v<T>) {
        return std::type_identity<std::invoke_result_t<F&>>{};
    } else {
        return std::type_identity<std::invoke_result_t<F&, T&&>>{};
    }
}

// What the chained future holds: the continuation's result, an Unfuture<U> flattened to U.
template <class R>
struct Unwrap {
    using type = std::remove_cvref_t<R>;
};
template <class U>
struct Unwrap<Unfuture<U>> {
    using type = U;
};
template <class T, class F>
using ThenValue = typename Unwrap<typename decltype(continuation_result<T, F>())::type>::type;

// A value-taking continuation that also accepts a const T& (it takes a reference, or a copy of
// a copyable T) reads a shared source's value in place instead of taking it from the others.
template <class F, class T>
concept reads_in_place = std::is_invocable_v<F&, const T&> &&
    std::is_same_v<std::invoke_result_t<F&, const T&>, std::invoke_result_t<F&, T&&>>;

template <class Out, class T, class F, ContinuationKind Kind>
Unfuture<Out> then_task(RunWhenCancelled, Unfuture<T> source, F cont);

}  // namespace unsync::detail
