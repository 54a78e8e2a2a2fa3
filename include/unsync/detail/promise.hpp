#pragma once
// The promise of a coroutine that returns Unfuture<T>: the coroutine frame is the future's
// shared state, so a task costs one allocation. Calling the coroutine schedules it on the loop.

#include <concepts>
#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include <unsync/detail/frame_pool.hpp>
#include <unsync/detail/loop_core.hpp>
#include <unsync/detail/state.hpp>

namespace unsync {

template <class T>
class Unfuture;

namespace detail {

template <class T>
struct IsUnfuture : std::false_type {};
template <class T>
struct IsUnfuture<Unfuture<T>> : std::true_type {};

template <class P>
TaskBase& task_of(std::coroutine_handle<P> h) noexcept {
    static_assert(
        std::is_base_of_v<TaskBase, P>,
        "unsync: co_await on an Unfuture (or unsync::sleep) only works inside a coroutine "
        "that returns unsync::Unfuture<T>; from plain code call .result() instead");
    return h.promise();
}

struct InitialAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) const noexcept {
        // Once scheduled the loop may run (and finish) the task at once: touch nothing after.
        schedule(&h.promise());
    }
    void await_resume() const noexcept {}
};

struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) const noexcept {
        task_finished(&h.promise());
    }
    void await_resume() const noexcept {}
};

// A handle that takes over one reference the caller holds (executors hand out their jobs so).
// Defined in detail/unfuture_impl.hpp.
template <class T>
Unfuture<T> adopt_state(State<T>* s) noexcept;

// How the library's own code reaches the state behind a handle: Unfuture has no public accessor.
struct StateAccess {
    template <class T>
    static State<T>& of(const Unfuture<T>& future) {
        return future.state();
    }
};
template <class T>
State<T>& state_of(const Unfuture<T>& future) {
    return StateAccess::of(future);
}

template <class T>
class Promise;

template <class T>
class PromiseCommon : public State<T>, public TaskBase, public Pooled {
public:
    // One reference for the running coroutine, one for the Unfuture get_return_object() makes.
    explicit PromiseCommon(FunctionName fn, bool run_when_cancelled = false) noexcept
        : State<T>(&k_ops, 2, StateBase::k_claimed | StateBase::k_task),
          TaskBase(fn.m_name, run_when_cancelled) {}

    // Defined in detail/unfuture_impl.hpp, where Unfuture<T> is complete.
    Unfuture<T> get_return_object() noexcept;
    InitialAwaiter initial_suspend() const noexcept { return {}; }
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { this->set_error(std::current_exception()); }

private:
    static void destroy_frame(StateBase* s) noexcept {
        destroy_task_frame(static_cast<PromiseCommon*>(static_cast<State<T>*>(s)));
    }
    static bool cancel_task(StateBase* s) noexcept {
        return request_cancel(static_cast<PromiseCommon*>(static_cast<State<T>*>(s)));
    }
    static constexpr StateBase::Ops k_ops{&destroy_frame, &cancel_task, nullptr};
};

template <class T>
class Promise : public PromiseCommon<T> {
public:
    // Declared here, not inherited: only then is the default argument evaluated in the coroutine.
    explicit Promise(FunctionName fn = FunctionName(__builtin_FUNCTION())) noexcept
        : PromiseCommon<T>(fn) {}
    template <class... A>
    explicit Promise(RunWhenCancelled tag, A&...) noexcept
        : PromiseCommon<T>(FunctionName(tag.m_name), true) {}
    template <class U = T>
    requires std::convertible_to<U&&, T>
    void return_value(U&& v) { this->set_value(std::forward<U>(v)); }
};

template <>
class Promise<void> : public PromiseCommon<void> {
public:
    explicit Promise(FunctionName fn = FunctionName(__builtin_FUNCTION())) noexcept
        : PromiseCommon<void>(fn) {}
    template <class... A>
    explicit Promise(RunWhenCancelled tag, A&...) noexcept
        : PromiseCommon<void>(FunctionName(tag.m_name), true) {}
    void return_void() noexcept { this->set_value(); }
};

}  // namespace detail
}  // namespace unsync
