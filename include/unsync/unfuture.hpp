#pragma once
// Unfuture<T>: the one future type. Awaitable in unsync coroutines, blockable (with a timeout)
// from any other thread, chainable with then(), completable from any thread. Declaring a
// coroutine as returning Unfuture<T> makes each call schedule it on the ambient loop.

#include <chrono>
#include <concepts>
#include <coroutine>
#include <exception>
#include <functional>
#include <future>
#include <type_traits>
#include <utility>

#include <unsync/detail/frame_pool.hpp>
#include <unsync/detail/job.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/errors.hpp>

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
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
        return task_finished(&h.promise());
    }
    void await_resume() const noexcept {}
};

template <class T>
class Promise;

template <class T>
class PromiseCommon : public State<T>, public TaskBase, public Pooled {
public:
    // One reference for the running coroutine, one for the Unfuture get_return_object() makes.
    explicit PromiseCommon(FunctionName fn, bool run_when_cancelled = false) noexcept
        : State<T>(&k_ops, 2, StateBase::k_claimed | StateBase::k_task),
          TaskBase(fn.m_name, run_when_cancelled) {}

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

// Takes the value out of a done state: moved when no other handle shares it (or T cannot be
// copied), copied otherwise.
// is_copy_constructible says yes for containers of move-only elements (their copy constructor
// is declared, and fails only when instantiated): look at the elements too.
template <class T>
constexpr bool copyable() {
    if constexpr (!std::is_copy_constructible_v<T>) {
        return false;
    } else if constexpr (requires { typename T::value_type; }) {
        using V = std::remove_cv_t<typename T::value_type>;
        if constexpr (std::is_same_v<V, T>) {
            return true;
        } else {
            return copyable<V>();
        }
    } else {
        return true;
    }
}

template <class T>
T take_value(State<T>* s) {
    if constexpr (copyable<T>()) {
        if (s->readers() != 1)
            return s->value();
    }
    return std::move(s->value());
}

enum class AwaitMode { reference, value, done_only };

// `co_await future`; the awaiter is its own node in the future's waiter list.
template <class T, AwaitMode Mode>
class Awaiter : public Waiter {
public:
    explicit Awaiter(State<T>* s) noexcept { m_awaited = s; }

    bool await_ready() const noexcept { return state()->done(); }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        TaskBase& task = task_of(h);
        // Set first: await_resume checks the task's cancellation through it.
        m_task = &task;
        // Already cancelled: no suspension, but a grant under way is waited for (see below).
        if (task.m_cancelled && (!state()->is_grant() || state()->cancel() || state()->done()))
            return false;
        if (state()->is_task()) {
            // An awaited task that is next in the ready queue runs now, without a round trip
            // through the loop (see start_inline for when that keeps the order exact).
            auto* child = static_cast<PromiseCommon<T>*>(state());
            switch (start_inline(child, &task)) {
                case InlineStart::resume_now:
                    return false;
                case InlineStart::queued:
                    return true;
                case InlineStart::not_run:
                case InlineStart::waiting:
                    break;
            }
        }
        task.m_wait_node = this;
        if (state()->add_waiter(this))
            return true;
        task.m_wait_node = nullptr;
        return false;
    }

    decltype(auto) await_resume() const {
        if (m_task) {
            m_task->m_wait_node = nullptr;
            // Cancelled while suspended: the awaiting expression throws, even if the future
            // completed meanwhile (as asyncio does); but a grant made (a lock, a permit, an
            // item) is returned, lest it be lost: the task's next suspension throws.
            if (m_task->m_cancelled &&
                !(state()->is_grant() && state()->done() && !state()->has_error())) {
                std::rethrow_exception(make_cancelled("unsync: task cancelled"));
            }
        }
        if constexpr (Mode == AwaitMode::done_only) {
            return;
        } else {
            state()->rethrow_if_error();
            if constexpr (std::is_void_v<T>) {
                return;
            } else if constexpr (Mode == AwaitMode::value) {
                return take_value(state());
            } else {
                return static_cast<const T&>(state()->value());
            }
        }
    }

private:
    // The awaited state, kept once (in m_awaited): the awaiter is part of the frame.
    State<T>* state() const noexcept { return static_cast<State<T>*>(m_awaited); }
};

// Which argument a then() continuation takes: 1 the source Unfuture, 2 its value, 0 neither.
template <class T, class F>
consteval int continuation_kind() {
    if constexpr (std::is_invocable_v<F&, Unfuture<T>&>) {
        return 1;
    } else if constexpr (std::is_void_v<T>) {
        return std::is_invocable_v<F&> ? 2 : 0;
    } else {
        return std::is_invocable_v<F&, T&&> ? 2 : 0;
    }
}

template <class T, class F, int Kind>
struct ContinuationResult {
    using type = void;
};
template <class T, class F>
struct ContinuationResult<T, F, 1> {
    using type = std::invoke_result_t<F&, Unfuture<T>&>;
};
template <class T, class F>
requires(!std::is_void_v<T>) struct ContinuationResult<T, F, 2> {
    using type = std::invoke_result_t<F&, T&&>;
};
template <class F>
struct ContinuationResult<void, F, 2> {
    using type = std::invoke_result_t<F&>;
};

template <class R>
struct Unwrap {
    using type = std::remove_cvref_t<R>;
};
template <class U>
struct Unwrap<Unfuture<U>> {
    using type = U;
};

template <class Out, class T, class F, int Kind>
Unfuture<Out> then_task(RunWhenCancelled, Unfuture<T> source, F cont);

// A value-taking continuation that also accepts a const T& (it takes a reference, or a copy of
// a copyable T) reads a shared source's value in place instead of taking it from the others.
template <class F, class T>
concept reads_in_place = std::is_invocable_v<F&, const T&> &&
    std::is_same_v<std::invoke_result_t<F&, const T&>, std::invoke_result_t<F&, T&&>>;

// A handle that takes over one reference the caller holds (executors hand out their jobs so).
template <class T>
Unfuture<T> adopt_state(State<T>* s) noexcept;

}  // namespace detail

template <class T>
class [[nodiscard]] Unfuture {
    static_assert(!std::is_reference_v<T>,
                  "unsync::Unfuture<T&> is not supported: return a value, a pointer or a "
                  "std::reference_wrapper so the result can outlive the call");
    static_assert(std::is_void_v<T> || std::is_move_constructible_v<T>,
                  "unsync::Unfuture<T> needs a movable T");

public:
    using value_type = T;
    using promise_type = detail::Promise<T>;

    // A pending future that anyone may complete with set_result()/set_exception().
    Unfuture() : m_state(new Plain()) {}

    // Completes when the std::future does; a thread of thread_executor() waits for it.
    explicit Unfuture(std::future<T>&& f) : Unfuture(from_std(std::move(f))) {}
    explicit Unfuture(std::shared_future<T> f) : Unfuture(from_std(std::move(f))) {}

    Unfuture(const Unfuture& other) noexcept : m_state(other.m_state) {
        if (m_state)
            m_state->add_ref();
    }
    Unfuture(Unfuture&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
    Unfuture& operator=(Unfuture other) noexcept {
        std::swap(m_state, other.m_state);
        return *this;
    }
    ~Unfuture() {
        if (m_state)
            m_state->release();
    }

    template <class... A>
    static Unfuture from_value(A&&... a) {
        Unfuture u;
        u.set_result(std::forward<A>(a)...);
        return u;
    }

    // False only for a moved-from handle.
    bool valid() const noexcept { return m_state != nullptr; }
    bool done() const { return state().done(); }

    // Requests cancellation; false when already done (or a running call cannot be stopped).
    // A coroutine is cancelled at its next suspension point: the awaiting expression throws
    // cancelled_error, RAII unwinds it, and the future ends with that error; cancellation also
    // reaches the future the coroutine awaits. A task or pool call not yet started never starts;
    // a running pool call that takes a std::stop_token sees a stop request. A pending plain
    // future completes with cancelled_error at once.
    bool cancel() const { return state().cancel(); }
    // Done with cancelled_error.
    bool cancelled() const {
        if (!done() || !m_state->has_error())
            return false;
        try {
            m_state->rethrow_if_error();
        } catch (const cancelled_error&) {
            return true;
        } catch (...) {
        }
        return false;
    }
    // The exception the future ended with, null if it has a value. Like the seed's
    // Future.exception(), a future that is not done throws invalid_state_error.
    std::exception_ptr exception() const {
        if (!done())
            throw invalid_state_error("unsync: exception() on a future that is not done");
        return m_state->error();
    }

    // Blocks until done; returns the value or rethrows the exception. On the loop thread a
    // future that is not done throws invalid_state_error instead of deadlocking.
    decltype(auto) result() const& {
        wait();
        return read();
    }
    auto result() && -> T {
        wait();
        state().rethrow_if_error();
        if constexpr (!std::is_void_v<T>)
            return detail::take_value(m_state);
    }
    template <class Rep, class Period>
    decltype(auto) result(std::chrono::duration<Rep, Period> timeout) const& {
        wait_for(timeout);
        return read();
    }
    template <class Rep, class Period>
    auto result(std::chrono::duration<Rep, Period> timeout) && -> T {
        wait_for(timeout);
        state().rethrow_if_error();
        if constexpr (!std::is_void_v<T>)
            return detail::take_value(m_state);
    }

    // Thread-safe; a second completion throws invalid_state_error.
    template <class... A>
    void set_result(A&&... a) const {
        if constexpr (std::is_void_v<T>) {
            static_assert(sizeof...(A) == 0, "unsync: Unfuture<void>::set_result takes no value");
            state().claim();
            m_state->set_value();
        } else {
            // Built before claiming: a throwing constructor leaves the future pending.
            T value(std::forward<A>(a)...);
            state().claim();
            try {
                m_state->set_value(std::move(value));
            } catch (...) {
                m_state->set_error(std::current_exception());
                m_state->complete();
                throw;
            }
        }
        m_state->complete();
    }
    void set_exception(std::exception_ptr e) const {
        if (!e)
            throw std::invalid_argument("unsync: set_exception needs a non-null exception_ptr");
        state().claim();
        m_state->set_error(std::move(e));
        m_state->complete();
    }
    template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>) void set_exception(E&& e) const {
        set_exception(std::make_exception_ptr(std::forward<E>(e)));
    }

    // Runs cont on the loop once this future is done. cont takes this Unfuture<T> (the seed's
    // style) or the value T; an Unfuture returned by cont is flattened.
    template <class F>
    auto then(F cont) const {
        state();
        constexpr int kind = detail::continuation_kind<T, F>();
        static_assert(kind != 0,
                      "unsync: then() needs a continuation callable with the source "
                      "unsync::Unfuture<T> or with its value T (nothing, for Unfuture<void>)");
        using R = typename detail::ContinuationResult<T, F, kind>::type;
        using Out = typename detail::Unwrap<R>::type;
        return detail::then_task<Out, T, F, kind>(detail::RunWhenCancelled{"then"}, *this,
                                                  std::move(cont));
    }

    auto operator co_await() const& {
        return detail::Awaiter<T, detail::AwaitMode::reference>(&state());
    }
    auto operator co_await() && { return detail::Awaiter<T, detail::AwaitMode::value>(&state()); }
    // For unsync::named(): the state, to find the task behind it.
    detail::State<T>& state_for_debug() const { return state(); }

    // Waits for completion without reading (or rethrowing) the result.
    auto when_done() const { return detail::Awaiter<T, detail::AwaitMode::done_only>(&state()); }

private:
    using StateBase = detail::StateBase;
    class Plain final : public detail::State<T>, public detail::Pooled {
    public:
        Plain() : detail::State<T>(&k_ops, 1, 0) {}

    private:
        static void destroy(StateBase* s) noexcept {
            delete static_cast<Plain*>(static_cast<detail::State<T>*>(s));
        }
        static constexpr StateBase::Ops k_ops{&destroy, nullptr, nullptr};
    };

    friend class detail::PromiseCommon<T>;
    template <class U>
    friend Unfuture<U> detail::adopt_state(detail::State<U>* s) noexcept;
    struct Adopt {};
    Unfuture(detail::State<T>* s, Adopt) noexcept : m_state(s) {}

    template <class F>
    static Unfuture from_std(F f) {
        if (!f.valid())
            throw std::future_error(std::future_errc::no_state);
        auto get = [f = std::move(f)]() mutable -> T { return f.get(); };
        auto* job = new detail::PoolTask<T, decltype(get)>(std::move(get));
        detail::submit_to_thread_executor(job);
        return Unfuture(job, Adopt{});
    }

    detail::State<T>& state() const {
        if (!m_state)
            detail::throw_no_state();
        return *m_state;
    }
    void wait() const {
        if (state().done())
            return;
        if (detail::on_loop_thread())
            detail::throw_blocking_on_loop();
        m_state->wait();
    }
    template <class Rep, class Period>
    void wait_for(std::chrono::duration<Rep, Period> timeout) const {
        if (state().done())
            return;
        if (detail::on_loop_thread())
            detail::throw_blocking_on_loop();
        if (!m_state->wait_until(detail::deadline_after(timeout))) {
            throw timeout_error("unsync: result() timed out before the future was done");
        }
    }
    decltype(auto) read() const {
        m_state->rethrow_if_error();
        if constexpr (!std::is_void_v<T>)
            return static_cast<const T&>(m_state->value());
    }

    detail::State<T>* m_state;
};

namespace detail {

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

// A continuation's call, with the source (the seed's style) or its value; a failed source
// rethrows here for a value-taking continuation. The source is done: result() does not block.
// (A function, not a lambda in then_task: a lambda object would take room in every link's frame.)
template <int Kind, class F, class T>
decltype(auto) call_continuation(F& fn, Unfuture<T>& src) {
    if constexpr (Kind == 1) {
        return std::invoke(fn, src);
    } else if constexpr (std::is_void_v<T>) {
        std::move(src).result();
        return std::invoke(fn);
    } else if constexpr (reads_in_place<F, T>) {
        // The value stays in the source, which other handles and continuations may still read:
        // it is moved out only when this link holds the source's last handle.
        if (src.state_for_debug().readers() == 1)
            return std::invoke(fn, std::move(src).result());
        return std::invoke(fn, std::as_const(src).result());
    } else {
        return std::invoke(fn, std::move(src).result());
    }
}

template <class Out, class T, class F, int Kind>
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

}  // namespace detail
}  // namespace unsync
