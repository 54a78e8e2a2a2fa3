#pragma once
/// @file
/// Async generators: unsync::AsyncGenerator, a coroutine that `co_yield`s values lazily and may
/// `co_await` between yields, like Python's async generators.

#include <atomic>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>

#include <unsync/detail/frame_pool.hpp>
#include <unsync/detail/loop_core.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/errors.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

namespace detail {
template <class T>
class GenPromise;
template <class T>
class BodyRef;
template <class T>
Unfuture<std::optional<T>> next_step(RunWhenCancelled, BodyRef<T> ref);
}  // namespace detail

/// The result of a coroutine declared as returning `AsyncGenerator<T>`: a body that
/// `co_yield`s values lazily and may `co_await` any Unfuture (or unsync::sleep()) between yields.
///
/// The body runs as a task on the ambient loop's thread, one step per next(); a coroutine
/// awaits next(), a plain thread blocks on it or walks the generator with a range-for. Calling
/// the coroutine only makes its frame: the body starts with the first next().
///
/// Thread-safety: one consumer at a time. The object itself is not thread-safe (like any
/// container), but its next() futures are ordinary Unfutures, which any thread may await,
/// block on or cancel.
///
/// Lifetime: the body's frame lives while the generator, an unfinished next() or the running
/// body needs it. Destroying the generator cancels the body wherever it is, as cancel() does a
/// task: suspended at a `co_yield`, it is resumed on the loop with cancelled_error there;
/// inside a step, the Unfuture it awaits is cancelled. Either way it unwinds on the loop (its
/// locals are destroyed there, not in the destructor) and a next() still in flight ends with
/// cancelled_error. A body that never started is destroyed at once, on the destroying thread.
/// @code
/// unsync::AsyncGenerator<int> ticks(int n) {
///     for (int i = 0; i < n; ++i) {
///         co_await unsync::sleep(10ms);
///         co_yield i;
///     }
/// }
/// for (int v : ticks(3)) ...                      // a plain thread
/// while (auto v = co_await gen.next()) ...        // a coroutine
/// @endcode
/// @tparam T the type of the values yielded: a movable object type (not a reference, not
///         `void`).
template <class T>
class [[nodiscard]] AsyncGenerator {
    static_assert(!std::is_reference_v<T>,
                  "unsync::AsyncGenerator<T&> is not supported: yield a value, a pointer or a "
                  "std::reference_wrapper, so that each value can outlive the step that made it");
    static_assert(!std::is_void_v<T>,
                  "unsync::AsyncGenerator<void> yields nothing: yield a value (an index, a "
                  "bool) or return an unsync::Unfuture<void>");
    static_assert(std::is_move_constructible_v<T>, "unsync::AsyncGenerator<T> needs a movable T");

public:
    /// The type of the values yielded.
    using value_type = T;
    /// Makes a coroutine returning `AsyncGenerator<T>` a generator body (for the compiler).
    using promise_type = detail::GenPromise<T>;
    class Iterator;

    /// Takes over the body of `other`, which is left moved-from: its next() throws.
    AsyncGenerator(AsyncGenerator&& other) noexcept
        : m_body(std::exchange(other.m_body, nullptr)),
          m_resumed(other.m_resumed),
          m_current(std::move(other.m_current)) {}
    /// Takes over the body of `other`; this generator's previous body is cancelled as by the
    /// destructor.
    AsyncGenerator& operator=(AsyncGenerator other) noexcept {
        std::swap(m_body, other.m_body);
        std::swap(m_resumed, other.m_resumed);
        m_current.swap(other.m_current);
        return *this;
    }
    /// Cancels the body wherever it is (see the class description); does not wait for it.
    ~AsyncGenerator() {
        if (!m_body)
            return;
        // A body the loop may know is cancelled there (see the class comment); one that has
        // finished ignores the request.
        if (m_resumed)
            detail::request_cancel(m_body);
        m_body->release();
    }

    /// Runs the body on the loop to its next `co_yield` (its value) or to its end
    /// (`std::nullopt`).
    ///
    /// An exception that ends the body is rethrown by the next() that ran into it; every next()
    /// after the end gives `std::nullopt`. Cancelling the returned future cancels the body at
    /// its current suspension: it unwinds with cancelled_error, which this future then holds,
    /// and the generator has ended. Callable from any thread, one call at a time.
    /// @return a future of the next value, or of `std::nullopt` at the end.
    /// @throws invalid_state_error if the previous next() is still pending, or the generator
    ///         was moved from.
    Unfuture<std::optional<T>> next() {
        if (!m_body)
            throw invalid_state_error("unsync: next() on a moved-from AsyncGenerator");
        // Acquire: pairs with the release of the step that cleared it. The flag only guards
        // against overlapping steps; the step itself reaches the loop through its queue.
        if (m_body->m_busy.exchange(true, std::memory_order_acquire)) {
            throw invalid_state_error(
                "unsync: AsyncGenerator::next() called while the previous next() is pending");
        }
        m_resumed = true;
        try {
            return detail::next_step(detail::RunWhenCancelled{"unsync::AsyncGenerator::next"},
                                     detail::BodyRef<T>(m_body));
        } catch (...) {
            m_body->m_busy.store(false, std::memory_order_relaxed);  // no step was made
            throw;
        }
    }

    /// Starts a blocking range-for for plain threads: it waits for the first value, and each
    /// increment for the next, as `next().result()` does.
    ///
    /// An exception of the body leaves the loop; `break` destroys nothing by itself (the
    /// generator does when it goes out of scope).
    /// @throws invalid_state_error on the loop thread (it would block the loop): use
    ///         `co_await next()` there; also when next() would throw it.
    /// @throws cancelled_error if the body was cancelled; any other exception the body ends
    ///         with is rethrown too, here or by an increment.
    Iterator begin() {
        advance();
        return Iterator(this);
    }
    /// The end of a range-for: reached once the body has ended.
    std::default_sentinel_t end() const noexcept { return {}; }

    /// The input iterator of a range-for over the generator; see begin().
    class Iterator {
    public:
        /// An input iterator, as C++20 ranges see it.
        using iterator_concept = std::input_iterator_tag;
        /// An input iterator, as the standard algorithms see it.
        using iterator_category = std::input_iterator_tag;
        /// The type of the values yielded.
        using value_type = T;
        /// Required of an iterator; unused.
        using difference_type = std::ptrdiff_t;
        /// A reference to the current value, which the iterator holds.
        using reference = T&;

        /// An iterator of no generator, equal to the end.
        Iterator() = default;
        /// The current value; valid until the next increment.
        T& operator*() const noexcept { return *m_gen->m_current; }
        /// The current value's members.
        T* operator->() const noexcept { return &*m_gen->m_current; }
        /// Waits for the next value (or the end).
        /// @throws invalid_state_error as begin().
        /// @throws cancelled_error if the body was cancelled; any other exception the body ends
        ///         with is rethrown too.
        Iterator& operator++() {
            m_gen->advance();
            return *this;
        }
        /// As the prefix increment.
        void operator++(int) { ++*this; }
        /// Whether the body has ended.
        // A member, not a hidden friend: it reads the generator's private value.
        bool operator==(std::default_sentinel_t) const noexcept {
            return !m_gen || !m_gen->m_current;
        }

    private:
        friend AsyncGenerator;
        explicit Iterator(AsyncGenerator* gen) noexcept : m_gen(gen) {}
        AsyncGenerator* m_gen = nullptr;
    };

private:
    friend promise_type;
    explicit AsyncGenerator(promise_type* body) noexcept : m_body(body) {}

    void advance() {
        // Checked before next(): a step started here could never be waited for.
        if (detail::on_loop_thread()) {
            throw invalid_state_error(
                "unsync: a range-for over an AsyncGenerator blocks, which the loop thread must "
                "not do: use co_await gen.next() in a coroutine");
        }
        m_current.reset();
        m_current = next().result();
    }

    promise_type* m_body;        // one reference to the body's state
    bool m_resumed = false;      // a next() was made: the loop may know the body
    std::optional<T> m_current;  // the range-for's value
};

namespace detail {

// What a body suspended at a co_yield waits on, so that the loop's cancellation and shutdown
// resume it as they resume any waiting task: cancel() completes it, the drain unlinks the body.
// Part of the body's frame; never released.
class ParkState final : public StateBase {
public:
    ParkState() noexcept : StateBase(&k_ops, 1, 0) {}
    ~ParkState() = default;

private:
    static void keep(StateBase*) noexcept {}
    static constexpr Ops k_ops{&keep, nullptr, nullptr};
};

// The body's promise. Its state is done when the body has finished (with its exception, if
// any); next() steps wait on it. Its own members, but m_busy, are touched on the loop thread only.
template <class T>
class GenPromise : public StateBase, public TaskBase, public Pooled {
public:
    // The default argument is evaluated in the coroutine: it names the task after the coroutine.
    explicit GenPromise(FunctionName fn = FunctionName(__builtin_FUNCTION())) noexcept
        : StateBase(&k_ops, 1, StateBase::k_claimed), TaskBase(fn.m_name) {}

    AsyncGenerator<T> get_return_object() noexcept {
        locate(std::coroutine_handle<GenPromise>::from_promise(*this).address(), this);
        return AsyncGenerator<T>(this);
    }
    // Lazy: the first next() schedules the body.
    std::suspend_always initial_suspend() const noexcept { return {}; }
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { set_error(std::current_exception()); }
    void return_void() noexcept {}

    struct YieldAwaiter {
        GenPromise* m_body;
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<>) noexcept { return m_body->park(); }
        void await_resume() const { m_body->unpark(); }
    };
    template <class U = T>
    requires std::constructible_from<T, U&&> YieldAwaiter yield_value(U&& v) {
        // A cancelled body throws at the co_yield: a value it yields while it unwinds must not
        // replace one a step has not taken yet.
        if (!m_cancelled)
            m_slot.emplace(std::forward<U>(v));
        return YieldAwaiter{this};
    }

    // A next() step (on the loop) that has registered `step` as a waiter of this state.
    void resume_for(Waiter* step) noexcept {
        m_driver = step;
        if (!m_scheduled) {
            m_scheduled = true;
            add_ref();  // the running reference, dropped when the body finishes (or is abandoned)
            schedule(this);
        } else if (m_park_state.remove_waiter(&m_park)) {
            m_wait_node = nullptr;
            schedule(this);
        }
        // Otherwise a cancellation has resumed the parked body already: its end wakes the step.
    }

    // The value of the step that just ended, or the end of the body.
    std::optional<T> take() {
        if (m_slot) {
            std::optional<T> v(std::move(m_slot));
            m_slot.reset();
            return v;
        }
        if (has_error() && !std::exchange(m_reported, true))
            std::rethrow_exception(error());
        return std::nullopt;
    }
    // A step that was cancelled: it reports the end, and the body ends if it has not.
    void drop_step() noexcept {
        m_slot.reset();
        m_reported = true;
        request_cancel(this);
    }

    std::atomic<bool> m_busy{false};  // a next() is pending

private:
    // In the body's step, at a co_yield: hands the value to the step and parks.
    bool park() noexcept {
        if (m_cancelled)
            return false;  // unpark() throws; nothing was stored
        // Every removal from this list happens on the loop thread, so the step is still in it.
        if (Waiter* step = std::exchange(m_driver, nullptr); step && remove_waiter(step)) {
            step->m_task->m_wait_node = nullptr;
            schedule(step->m_task);
        }
        m_wait_node = &m_park;
        if (m_park_state.add_waiter(&m_park))
            return true;
        // Unreachable (only a cancelled body finds it done), but then the body must unwind.
        m_wait_node = nullptr;
        m_cancelled = true;
        return false;
    }
    void unpark() {
        m_wait_node = nullptr;
        if (m_cancelled)
            std::rethrow_exception(make_cancelled("unsync: generator cancelled"));
    }

    static void destroy_frame(StateBase* s) noexcept {
        destroy_task_frame(static_cast<GenPromise*>(s));
    }
    static bool cancel_body(StateBase* s) noexcept {
        return request_cancel(static_cast<GenPromise*>(s));
    }
    static constexpr Ops k_ops{&destroy_frame, &cancel_body, nullptr};

    std::optional<T> m_slot;  // the yielded value, until its step takes it
    ParkState m_park_state;
    Waiter m_park{nullptr, nullptr, this, &m_park_state};
    Waiter* m_driver = nullptr;  // the step that waits for this one's value
    bool m_scheduled = false;    // the loop has had the body
    bool m_reported = false;     // the exception that ended the body was rethrown by a next()
};

// A reference to the body's state.
template <class T>
class BodyRef {
public:
    explicit BodyRef(GenPromise<T>* body) noexcept : m_body(body) { body->add_ref(); }
    BodyRef(BodyRef&& other) noexcept : m_body(std::exchange(other.m_body, nullptr)) {}
    BodyRef& operator=(BodyRef&&) = delete;
    ~BodyRef() {
        if (m_body)
            m_body->release();
    }
    GenPromise<T>* get() const noexcept { return m_body; }

private:
    GenPromise<T>* m_body;
};

// What a next() step awaits: the body's next co_yield, or its end. Its node waits on the body's
// state, so that cancelling the step (or what awaits it) reaches the body, as for any task.
template <class T>
class StepAwaiter : public Waiter {
public:
    explicit StepAwaiter(GenPromise<T>* body) noexcept : m_body(body) { m_awaited = body; }

    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        m_task = &task_of(h);
        m_task->m_wait_node = this;
        if (!m_body->add_waiter(this)) {
            m_task->m_wait_node = nullptr;
            return false;  // the body has ended
        }
        // Cancelled before it started: the step still runs, to end the body too.
        if (m_task->m_cancelled)
            m_body->m_cancelled = true;
        m_body->resume_for(this);
        return true;
    }
    std::optional<T> await_resume() {
        m_task->m_wait_node = nullptr;
        if (m_task->m_cancelled) {
            m_body->drop_step();
            std::rethrow_exception(make_cancelled("unsync: task cancelled"));
        }
        return m_body->take();
    }

private:
    GenPromise<T>* m_body;
};

// A next() step: a task that resumes the body and waits for it. Run even when cancelled before it
// starts, so that the cancellation reaches the body.
template <class T>
Unfuture<std::optional<T>> next_step(RunWhenCancelled, BodyRef<T> ref) {
    // A local, not the parameter, holds the body: released as the step ends, not with its future.
    struct Held {
        BodyRef<T> ref;
        // Release: pairs with the acquire in next(). Before the future is done.
        ~Held() { ref.get()->m_busy.store(false, std::memory_order_release); }
    } held{std::move(ref)};
    StepAwaiter<T> step(held.ref.get());
    co_return co_await step;
}

}  // namespace detail
}  // namespace unsync
