#pragma once
// The shared state behind every Unfuture: one atomic word, a refcount, the result, and a list of
// coroutines waiting for it. Coroutine frames and thread-pool jobs derive from it, so a task costs
// one allocation.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <unsync/errors.hpp>
#include <unsync/export.hpp>

namespace unsync::detail {

class StateBase;
class TaskBase;

// A coroutine suspended in `co_await future`; it is its own node in the state's waiter list.
struct Waiter {
    Waiter* m_next = nullptr;
    Waiter* m_prev = nullptr;
    TaskBase* m_task = nullptr;
};

// Implemented in src/: the ambient loop and the futex used for blocking waits.
UNSYNC_EXPORT void schedule(TaskBase* task) noexcept;
UNSYNC_EXPORT bool on_loop_thread() noexcept;
UNSYNC_EXPORT std::coroutine_handle<> task_finished(TaskBase* task) noexcept;
// What start_inline did with a task that `parent` awaits before the task has started.
enum class InlineStart {
    not_run,     // the caller waits for it as usual
    resume_now,  // it ran to its end and nothing else is ready: the caller goes on at once
    queued,      // it ran to its end and other tasks are ready: the caller was queued after them
    waiting,     // it ran until it suspended; the caller waits for it as usual
};
UNSYNC_EXPORT InlineStart start_inline(TaskBase* child, TaskBase* parent) noexcept;
// False when the deadline passed.
UNSYNC_EXPORT bool futex_wait_until(const std::atomic<std::uint32_t>* word, std::uint32_t expected,
                                    std::chrono::steady_clock::time_point deadline) noexcept;
UNSYNC_EXPORT unsigned handoffs_in_flight() noexcept;
UNSYNC_EXPORT void futex_wake_all(const std::atomic<std::uint32_t>* word) noexcept;
[[noreturn]] UNSYNC_EXPORT void throw_blocking_on_loop();
[[noreturn]] UNSYNC_EXPORT void throw_already_completed();
[[noreturn]] UNSYNC_EXPORT void throw_no_state();
UNSYNC_EXPORT std::exception_ptr make_cancelled(const char* why);

// now + d, saturated: duration::max() and other huge timeouts mean "never", not an overflow.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> d) {
    using Clock = std::chrono::steady_clock;
    const auto now = Clock::now();
    if (d <= d.zero())
        return now;
    // Compared in double so that the comparison itself cannot overflow; half the range left is
    // already centuries, far past any real deadline.
    const std::chrono::duration<double> left = Clock::time_point::max() - now;
    if (std::chrono::duration<double>(d) >= left / 2)
        return Clock::time_point::max();
    return now + std::chrono::ceil<Clock::duration>(d);
}

class UNSYNC_EXPORT StateBase {
public:
    // Bits of m_word. k_locked guards m_waiters; k_claimed is taken by the one completer;
    // k_sleepers says a thread sleeps on the futex and completion must wake it.
    static constexpr std::uint32_t k_done = 1;
    static constexpr std::uint32_t k_locked = 2;
    static constexpr std::uint32_t k_claimed = 4;
    static constexpr std::uint32_t k_sleepers = 8;
    // Set at birth on a coroutine's state: the state is a PromiseCommon, its TaskBase reachable.
    static constexpr std::uint32_t k_task = 16;

    using DestroyFn = void (*)(StateBase*) noexcept;
    // Requests cancellation; true if it was requested or done. Null: a plain future, which is
    // completed with cancelled_error unless someone already completes it.
    using CancelFn = bool (*)(StateBase*) noexcept;

    StateBase(DestroyFn destroy, std::uint32_t refs, std::uint32_t word,
              CancelFn cancel = nullptr) noexcept
        : m_word(word), m_refs(refs), m_destroy(destroy), m_cancel(cancel) {}
    StateBase(const StateBase&) = delete;
    StateBase& operator=(const StateBase&) = delete;

    // Relaxed: a new owner is made from an existing one, which already keeps the state alive.
    void add_ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        // A count of 1 seen with acquire means we are the only owner: nobody else can add or
        // drop a reference (that takes holding one), so the RMW can be skipped. Otherwise
        // acq_rel: the last owner must see every other owner's writes before destroying.
        if (m_refs.load(std::memory_order_acquire) == 1 ||
            m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            m_destroy(this);
        }
    }
    // Acquire: pairs with release() so that a count of 1 means no other owner touches the state.
    std::uint32_t use_count() const noexcept { return m_refs.load(std::memory_order_acquire); }

    // Relaxed: k_task never changes after construction.
    bool is_task() const noexcept { return (m_word.load(std::memory_order_relaxed) & k_task) != 0; }

    // Acquire: pairs with the release in publish(), so the result is visible once done.
    bool done() const noexcept { return (m_word.load(std::memory_order_acquire) & k_done) != 0; }

    // Throws invalid_state_error when someone else already completes (or completed) this state.
    void claim() {
        // Relaxed: this RMW only elects the writer; publish() orders the result.
        if (m_word.fetch_or(k_claimed, std::memory_order_relaxed) & k_claimed) {
            throw_already_completed();
        }
    }

    void set_error(std::exception_ptr e) noexcept { m_error = std::move(e); }
    bool has_error() const noexcept { return m_error != nullptr; }
    const std::exception_ptr& error() const noexcept { return m_error; }
    void rethrow_if_error() const {
        if (m_error)
            std::rethrow_exception(m_error);
    }

    void wait() const noexcept;
    bool wait_until(std::chrono::steady_clock::time_point deadline) const noexcept;

    // Registers a waiter; false when already done (the caller must not suspend).
    bool add_waiter(Waiter* w) noexcept;
    // Unregisters a waiter; false when completion already took it (it will be resumed).
    bool remove_waiter(Waiter* w) noexcept;
    // Publishes the stored result and returns the waiters to resume.
    Waiter* publish() noexcept;
    // publish() and schedule every waiter on the loop.
    void complete() noexcept;
    // False when already done (or, for a running call that cannot be interrupted, not possible).
    bool cancel() noexcept;

protected:
    ~StateBase() = default;

private:
    void lock() noexcept;
    void unlock() noexcept;

    mutable std::atomic<std::uint32_t> m_word;
    std::atomic<std::uint32_t> m_refs;
    Waiter* m_waiters = nullptr;  // guarded by k_locked
    std::exception_ptr m_error;
    DestroyFn m_destroy;
    CancelFn m_cancel;
};

struct Empty {};

template <class T>
using Stored = std::conditional_t<std::is_void_v<T>, Empty, T>;

template <class T>
class State : public StateBase {
public:
    using StateBase::StateBase;

    template <class... A>
    void set_value(A&&... a) {
        ::new (static_cast<void*>(&m_storage)) Stored<T>(std::forward<A>(a)...);
        m_has_value = true;
    }
    Stored<T>& value() noexcept { return *std::launder(reinterpret_cast<Stored<T>*>(&m_storage)); }

protected:
    ~State() {
        if (m_has_value)
            value().~Stored<T>();
    }

private:
    alignas(Stored<T>) unsigned char m_storage[sizeof(Stored<T>)];
    bool m_has_value = false;
};

// The name of the function a coroutine was declared as, taken where its promise is built.
struct FunctionName {
    explicit FunctionName(const char* name) noexcept : m_name(name) {}
    const char* m_name;
};

// The first parameter of a coroutine that must run even when cancelled before it starts (the
// combinators: their cleanup cancels their inputs). It names the coroutine for debugging.
struct RunWhenCancelled {
    const char* m_name;
};

// The part of a coroutine promise the loop works with.
class TaskBase {
public:
    TaskBase(std::coroutine_handle<> handle, StateBase* state, const char* function) noexcept
        : m_handle(handle), m_state(state), m_function(function) {}
    TaskBase(const TaskBase&) = delete;
    TaskBase& operator=(const TaskBase&) = delete;
    ~TaskBase() { delete m_name.load(std::memory_order_acquire); }

    // A name given with unsync::named(); set once, from any thread.
    void set_name(std::string name) {
        auto* fresh = new std::string(std::move(name));
        std::string* expected = nullptr;
        // acq_rel: publishes the string to the loop thread that prints it.
        if (!m_name.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel))
            delete fresh;
    }
    // The name if one was given, else the coroutine's function name.
    const char* display_name() const noexcept {
        const std::string* name = m_name.load(std::memory_order_acquire);
        return name ? name->c_str() : m_function;
    }

    std::coroutine_handle<> m_handle;
    StateBase* m_state;
    const char* m_function;
    std::atomic<std::string*> m_name{nullptr};
    // The ready queue or the queue from other threads, whichever the task is in: a task is
    // scheduled once per suspension, so it is in at most one.
    std::atomic<TaskBase*> m_queue_next{nullptr};
    // Everything below is touched only on the loop thread.
    TaskBase* m_prev = nullptr;  // registry of started tasks, for shutdown
    TaskBase* m_next = nullptr;
    StateBase* m_wait_state = nullptr;  // what the task is suspended on, if a future
    Waiter* m_wait_node = nullptr;
    std::uint64_t m_sleep_seq = 0;  // the timer it sleeps on, 0 if none
    bool m_started = false;
    bool m_cancelled = false;           // set on the loop thread; every later suspension throws
    bool m_run_when_cancelled = false;  // constant after construction
    // Any thread: cancel() was called; the loop thread acts on it.
    std::atomic<bool> m_cancel_requested{false};
};

// Asks the loop to cancel the task (from any thread). False if it is already done.
UNSYNC_EXPORT bool request_cancel(TaskBase* task) noexcept;

}  // namespace unsync::detail
