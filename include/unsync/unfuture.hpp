#pragma once
/// @file
/// Unfuture<T>: the one future type of unsync.

#include <chrono>
#include <exception>
#include <future>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <unsync/continuation.hpp>
#include <unsync/detail/awaiter.hpp>
#include <unsync/detail/frame_pool.hpp>
#include <unsync/detail/job.hpp>
#include <unsync/detail/promise.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/detail/then.hpp>
#include <unsync/errors.hpp>

namespace unsync {

/// The one future type: awaitable in unsync coroutines, blockable (with a timeout) from any
/// other thread, chainable with then(), and completable from any thread.
///
/// Declaring a coroutine as returning `Unfuture<T>` makes each call schedule it on the ambient
/// loop at once (first in, first out) and return its future; plain functions wrapped with
/// unsync::unsync() and calls to the pools return one too.
///
/// @code
/// unsync::Unfuture<int> answer() {
///     co_await unsync::sleep(std::chrono::milliseconds(10));
///     co_return 42;
/// }
/// int main() { return answer().result() == 42 ? 0 : 1; }
/// @endcode
///
/// A handle is a reference-counted pointer to a shared state: copies see the same result, and
/// every member may be called from any thread. Awaiting the same future several times, or from
/// several coroutines, is fine.
///
/// @tparam T the value type: void, or a movable non-reference type.
template <class T>
class [[nodiscard]] Unfuture {
    static_assert(!std::is_reference_v<T>,
                  "unsync::Unfuture<T&> is not supported: return a value, a pointer or a "
                  "std::reference_wrapper so the result can outlive the call");
    static_assert(std::is_void_v<T> || std::is_move_constructible_v<T>,
                  "unsync::Unfuture<T> needs a movable T");

public:
    /// The type of the value.
    using value_type = T;
    /// Makes a function returning Unfuture<T> an unsync coroutine.
    using promise_type = detail::Promise<T>;

    /// A pending future that anyone may complete with set_result() or set_exception().
    Unfuture() : m_state(new Plain()) {}

    /// A future that completes when `f` does: a thread of thread_executor() waits for it.
    /// @throws std::future_error (no_state) when `f` has no shared state.
    explicit Unfuture(std::future<T>&& f) : Unfuture(from_std(std::move(f))) {}
    /// A future that completes when `f` does: a thread of thread_executor() waits for it.
    /// @throws std::future_error (no_state) when `f` has no shared state.
    explicit Unfuture(std::shared_future<T> f) : Unfuture(from_std(std::move(f))) {}

    /// Another handle to the same state.
    Unfuture(const Unfuture& other) noexcept : m_state(other.m_state) {
        if (m_state)
            m_state->add_ref();
    }
    /// Takes the other handle's state; the other is left without one (valid() is false).
    Unfuture(Unfuture&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
    /// Makes this a handle to the other's state.
    Unfuture& operator=(Unfuture other) noexcept {
        std::swap(m_state, other.m_state);
        return *this;
    }
    /// Drops this handle. The work behind it goes on: dropping a future does not cancel it.
    ~Unfuture() {
        if (m_state)
            m_state->release();
    }

    /// A future that is already done with the value built from `a...` (nothing, for void).
    template <class... A>
    static Unfuture from_value(A&&... a) {
        Unfuture u;
        u.set_result(std::forward<A>(a)...);
        return u;
    }

    /// False only for a moved-from handle.
    bool valid() const noexcept { return m_state != nullptr; }
    /// True once the future has a value or an exception.
    /// @throws invalid_state_error on a moved-from handle (as every member below does).
    bool done() const { return state().done(); }

    /// Requests cancellation; false when already done (or a running call cannot be stopped).
    ///
    /// A coroutine is cancelled at its next suspension point: the awaiting expression throws
    /// cancelled_error, RAII unwinds it, and the future ends with that error; cancellation also
    /// reaches the future the coroutine awaits. A task or pool call not yet started never starts;
    /// a running pool call that takes a std::stop_token sees a stop request; a running process
    /// call has its worker killed. A pending plain future completes with cancelled_error at once.
    bool cancel() const { return state().cancel(); }
    /// True when the future is done with cancelled_error.
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
    /// The exception the future ended with, null if it has a value.
    /// @throws invalid_state_error when the future is not done (as Python's
    /// `Future.exception()` raises).
    std::exception_ptr exception() const {
        if (!done())
            throw invalid_state_error("unsync: exception() on a future that is not done");
        return m_state->error();
    }

    /// Blocks until done; returns a reference to the value, or rethrows the exception.
    /// @throws invalid_state_error on the loop thread when the future is not done (blocking
    /// there would deadlock: `co_await` it instead).
    /// @throws the exception the future ended with.
    decltype(auto) result() const& {
        wait();
        return read();
    }
    /// As result(), but moves the value out when this is the only handle (copies it otherwise).
    auto result() && -> T {
        wait();
        state().rethrow_if_error();
        if constexpr (!std::is_void_v<T>)
            return detail::take_value(m_state);
    }
    /// As result(), waiting at most `timeout`.
    /// @throws timeout_error when the future is not done in time (it goes on; cancel() stops it).
    template <class Rep, class Period>
    decltype(auto) result(std::chrono::duration<Rep, Period> timeout) const& {
        wait_for(timeout);
        return read();
    }
    /// As result() &&, waiting at most `timeout`.
    /// @throws timeout_error when the future is not done in time.
    template <class Rep, class Period>
    auto result(std::chrono::duration<Rep, Period> timeout) && -> T {
        wait_for(timeout);
        state().rethrow_if_error();
        if constexpr (!std::is_void_v<T>)
            return detail::take_value(m_state);
    }

    /// Completes the future with the value built from `a...`, from any thread; waiting
    /// coroutines resume on the loop, blocked threads wake.
    /// @throws invalid_state_error when the future is already complete, or is a task's or a
    /// call's (only its work completes it).
    /// @throws whatever T's constructor throws; the future then stays pending.
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
    /// Completes the future with an exception, from any thread.
    /// @throws std::invalid_argument when `e` is null.
    /// @throws invalid_state_error when the future is already complete or is a task's or call's.
    void set_exception(std::exception_ptr e) const {
        if (!e)
            throw std::invalid_argument("unsync: set_exception needs a non-null exception_ptr");
        state().claim();
        m_state->set_error(std::move(e));
        m_state->complete();
    }
    /// Completes the future with the exception object `e`, from any thread.
    /// @throws invalid_state_error when the future is already complete or is a task's or call's.
    template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>) void set_exception(E&& e) const {
        set_exception(std::make_exception_ptr(std::forward<E>(e)));
    }

    /// Runs `cont` on the loop thread once this future is done, and returns the future of its
    /// result; an Unfuture returned by `cont` is flattened (its value, not the future, is the
    /// result).
    ///
    /// `cont` takes this Unfuture<T> (Python unsync's form, see future_continuation) or the
    /// value T (see value_continuation); a value continuation is skipped when this future
    /// fails, and the chained future fails with the same exception. Cancelling the chained
    /// future cancels this one if it is not done.
    template <class F>
    auto then(F cont) const {
        if constexpr (!continuation<F, T>) {
            static_assert(continuation<F, T>,
                          "unsync: then() needs a continuation callable with the source "
                          "unsync::Unfuture<T> or with its value T (nothing, for Unfuture<void>)");
        } else {
            state();
            constexpr auto kind = detail::continuation_kind<T, F>;
            return detail::then_task<detail::ThenValue<T, F>, T, F, kind>(
                detail::RunWhenCancelled{"then"}, *this, std::move(cont));
        }
    }

    /// `co_await future` in an unsync coroutine: suspends the coroutine (never the loop) until
    /// done, then gives a reference to the value or rethrows the exception; the coroutine
    /// resumes on the loop thread.
    auto operator co_await() const& {
        return detail::Awaiter<T, detail::AwaitMode::reference>(&state());
    }
    /// `co_await` of a temporary: as above, giving the value moved out when no other handle
    /// shares it.
    auto operator co_await() && { return detail::Awaiter<T, detail::AwaitMode::value>(&state()); }
    /// `co_await future.when_done()` waits for completion without reading (or rethrowing) the
    /// result.
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
    friend struct detail::StateAccess;
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

}  // namespace unsync

#include <unsync/detail/unfuture_impl.hpp>
