#pragma once
// Definitions that need Unfuture<T> complete: included at the end of <unsync/unfuture.hpp>.

#include <functional>
#include <type_traits>
#include <utility>

#include <unsync/detail/promise.hpp>
#include <unsync/detail/then.hpp>

namespace unsync::detail {

template <class T>
Unfuture<T> adopt_state(State<T>* s) noexcept {
    return Unfuture<T>(s, typename Unfuture<T>::Adopt{});
}

template <class T>
Unfuture<T> PromiseCommon<T>::get_return_object() noexcept {
    // The handle is taken from the most derived promise type, as from_promise requires.
    // The frame is the state: one allocation per task.
    this->locate(
        std::coroutine_handle<Promise<T>>::from_promise(static_cast<Promise<T>&>(*this)).address(),
        this);
    return Unfuture<T>(this, typename Unfuture<T>::Adopt{});
}

// A continuation's call, with the source (Python unsync's form) or its value; a failed source
// rethrows here for a value-taking continuation. The source is done: result() does not block.
// (A function, not a lambda in then_task: a lambda object would take room in every link's frame.)
template <ContinuationKind Kind, class F, class T>
decltype(auto) call_continuation(F& fn, Unfuture<T>& src) {
    if constexpr (Kind == ContinuationKind::future) {
        return std::invoke(fn, src);
    } else if constexpr (std::is_void_v<T>) {
        std::move(src).result();
        return std::invoke(fn);
    } else if constexpr (reads_in_place<F, T>) {
        // The value stays in the source, which other handles and continuations may still read:
        // it is moved out only when this link holds the source's last handle.
        if (state_of(src).readers() == 1)
            return std::invoke(fn, std::move(src).result());
        return std::invoke(fn, std::as_const(src).result());
    } else {
        return std::invoke(fn, std::move(src).result());
    }
}

template <class Out, class T, class F, ContinuationKind Kind>
Unfuture<Out> then_task(RunWhenCancelled, Unfuture<T> source, F cont) {
    // Locals, not the parameters, hold the source and continuation: they are released when this
    // step finishes, so a long chain frees each link as it goes instead of all at the end.
    // Cancelled (even before this step started): the step in flight upstream is cancelled too.
    struct CancelSource {
        Unfuture<T> src;
        ~CancelSource() {
            if (!src.done())
                src.cancel();
        }
    } guard{std::move(source)};
    F fn = std::move(cont);
    co_await guard.src.when_done();
    using Call = decltype(call_continuation<Kind>(fn, guard.src));
    if constexpr (IsUnfuture<std::remove_cvref_t<Call>>::value) {
        co_return co_await call_continuation<Kind>(fn, guard.src);
    } else if constexpr (std::is_void_v<Out>) {
        call_continuation<Kind>(fn, guard.src);
    } else {
        co_return call_continuation<Kind>(fn, guard.src);
    }
}

}  // namespace unsync::detail
