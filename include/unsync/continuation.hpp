#pragma once
/// @file
/// The continuations Unfuture<T>::then() accepts, as concepts: one that takes the source future
/// (Python unsync's form) or one that takes its value.

#include <concepts>
#include <type_traits>

namespace unsync {

template <class T>
class Unfuture;

/// A continuation that takes the source future itself and reads its value or exception with
/// result(). then() calls a callable that accepts both forms in this form.
template <class F, class T>
concept future_continuation = std::invocable < F&,
        Unfuture<T>
& > ;

/// A continuation that takes the source's value (nothing, for Unfuture<void>). When the source
/// fails it is not called: the chained future fails with the same exception.
template <class F, class T>
concept value_continuation = (std::is_void_v<T> && std::invocable<F&>) ||
                             (!std::is_void_v<T> &&
                              std::invocable<F&, std::add_rvalue_reference_t<T>>);

/// What Unfuture<T>::then() accepts: a future_continuation or a value_continuation.
template <class F, class T>
concept continuation = future_continuation<F, T> || value_continuation<F, T>;

}  // namespace unsync
