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

// What a suspended coroutine waits on. In `co_await future` it is the awaiter, a node in the
// future's waiter list (m_awaited: that future). In a sleep it is a SleepWaiter (m_awaited null).
struct Waiter {
    Waiter* m_next = nullptr;
    Waiter* m_prev = nullptr;
    TaskBase* m_task = nullptr;
    StateBase* m_awaited = nullptr;
};

// A sleep; the loop's timer entry for it carries the same sequence number, so an entry left by a
// cancelled sleep is recognised as stale.
struct SleepWaiter : Waiter {
    std::uint64_t m_seq = 0;
};

// Implemented in src/: the ambient loop and the futex used for blocking waits. (What coroutines
// do with the loop on every step is in detail/loop_core.hpp.)
UNSYNC_EXPORT bool on_loop_thread() noexcept;
UNSYNC_EXPORT unsigned handoffs_in_flight() noexcept;
// In the child of a fork(): the handovers other threads had in flight never end there.
void forget_handoffs_after_fork() noexcept;
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
    // The low half of m_word holds these bits. k_locked guards m_waiters; k_claimed is taken by
    // the one completer; k_sleepers says a thread sleeps on the futex and completion must wake it.
    static constexpr std::uint64_t k_done = 1;
    static constexpr std::uint64_t k_locked = 2;
    static constexpr std::uint64_t k_claimed = 4;
    static constexpr std::uint64_t k_sleepers = 8;
    // Set at birth on a coroutine's state: the state is a PromiseCommon, its TaskBase reachable.
    static constexpr std::uint64_t k_task = 16;
    // m_waiters is not empty (kept by the lock holder).
    static constexpr std::uint64_t k_waiters = 32;
    // Set with k_done when the completer keeps its reference a moment longer (to wake sleepers
    // and waiters) and cleared with that reference: a reference that reads no value.
    static constexpr std::uint64_t k_finishing = 64;
    // Set at birth on a coordination primitive's wait (a lock, a permit, an item): a claim on it
    // is a grant under way, which the claimer completes at once (see detail/grant.hpp).
    static constexpr std::uint64_t k_grant = 128;

    using DestroyFn = void (*)(StateBase*) noexcept;
    // Requests cancellation; true if it was requested or done. Null: a plain future, which is
    // completed with cancelled_error unless someone already completes it.
    using CancelFn = bool (*)(StateBase*) noexcept;
    // Runs the work on the calling thread if it may and has not started; true once it is done.
    // Null: the state is completed elsewhere only.
    using HelpFn = bool (*)(StateBase*) noexcept;
    // What differs between kinds of state, shared by all states of a kind.
    struct Ops {
        DestroyFn destroy;
        CancelFn cancel;
        HelpFn help;
    };

    StateBase(const Ops* ops, std::uint32_t refs, std::uint64_t bits) noexcept
        : m_word(std::uint64_t{refs} * k_ref | bits), m_ops(ops) {}
    StateBase(const StateBase&) = delete;
    StateBase& operator=(const StateBase&) = delete;

    // Relaxed: a new owner is made from an existing one, which already keeps the state alive.
    void add_ref() noexcept { m_word.fetch_add(k_ref, std::memory_order_relaxed); }
    void release() noexcept {
        // A count of 1 seen with acquire means we are the only owner: nobody else can add or
        // drop a reference (that takes holding one), so the RMW can be skipped. Otherwise
        // acq_rel: the last owner must see every other owner's writes before destroying.
        if (refs(m_word.load(std::memory_order_acquire)) == 1 ||
            refs(m_word.fetch_sub(k_ref, std::memory_order_acq_rel)) == 1) {
            m_ops->destroy(this);
        }
    }
    // Acquire: pairs with release() so that a count of 1 means no other owner touches the state.
    std::uint32_t use_count() const noexcept {
        return refs(m_word.load(std::memory_order_acquire));
    }
    // The owners that may still read the result: use_count() less a completer's reference that
    // is only kept to finish waking. 1 means the caller's handle may move the value out.
    // Acquire, as use_count(): the completer clears k_finishing with its reference in one RMW.
    std::uint32_t readers() const noexcept {
        const std::uint64_t w = m_word.load(std::memory_order_acquire);
        return refs(w) - ((w & k_finishing) != 0 ? 1 : 0);
    }

    // Relaxed: k_task never changes after construction.
    bool is_task() const noexcept { return (m_word.load(std::memory_order_relaxed) & k_task) != 0; }

    // Acquire: pairs with the release in publish(), so the result is visible once done.
    bool done() const noexcept { return (m_word.load(std::memory_order_acquire) & k_done) != 0; }

    // Relaxed: k_grant never changes after construction.
    bool is_grant() const noexcept {
        return (m_word.load(std::memory_order_relaxed) & k_grant) != 0;
    }

    // Elects the one completer: false when someone else already completes (or completed) it.
    bool try_claim() noexcept {
        // Relaxed: this RMW only elects the writer; publish() orders the result.
        return (m_word.fetch_or(k_claimed, std::memory_order_relaxed) & k_claimed) == 0;
    }
    // Gives back a claim taken with try_claim() before anything was stored: only for a kind
    // whose cancel function waits for that (a Barrier's wait).
    void unclaim() noexcept {
        // Relaxed: nothing was written under the claim, and a canceller's claim is an RMW,
        // which sees this.
        m_word.fetch_and(~k_claimed, std::memory_order_relaxed);
    }
    // Throws invalid_state_error when someone else already completes (or completed) this state.
    void claim() {
        if (!try_claim())
            throw_already_completed();
    }

    void set_error(std::exception_ptr e) noexcept { m_error = std::move(e); }
    bool has_error() const noexcept { return m_error != nullptr; }
    const std::exception_ptr& error() const noexcept { return m_error; }
    void rethrow_if_error() const {
        if (m_error) [[unlikely]]
            rethrow_error();
    }

    void wait() const noexcept;
    bool wait_until(std::chrono::steady_clock::time_point deadline) const noexcept;

    // Registers a waiter; false when already done (the caller must not suspend).
    bool add_waiter(Waiter* w) noexcept;
    // Unregisters a waiter; false when completion already took it (it will be resumed).
    bool remove_waiter(Waiter* w) noexcept;
    // Publishes the stored result and schedules every waiter on the loop. With drop_ref, also
    // drops the caller's reference in the same atomic step (a finished task's own reference).
    void complete(bool drop_ref = false) noexcept {
        if (!drop_ref || !finish_unobserved())
            complete_slow(drop_ref);
    }
    // Publishes the stored result of a state that one task alone waits on, through no waiter list
    // (a wait kept in that task's frame), and schedules the task (if any); the state is not
    // touched once the task may run.
    void complete_for(TaskBase* task) noexcept;
    // False when already done (or, for a running call that cannot be interrupted, not possible).
    bool cancel() noexcept;

protected:
    ~StateBase() = default;

private:
    // The reference count lives in the high half of m_word, so that a finishing task publishes
    // its result and drops its own reference with one atomic operation.
    static constexpr std::uint64_t k_ref = std::uint64_t{1} << 32;
    static std::uint32_t refs(std::uint64_t word) noexcept {
        return static_cast<std::uint32_t>(word >> 32);
    }
    // The low half, where blocking waiters sleep (the kernel's futex word is 32 bits).
    const void* futex_word() const noexcept;

    // Not a bit of m_word: publish() tells complete() it kept the reference it was to drop.
    static constexpr std::uint64_t k_kept_ref = std::uint64_t{1} << 31;

    // Returns the word as locked; unlock() takes it back.
    std::uint64_t lock() noexcept;
    void unlock(std::uint64_t locked) noexcept;
    // Sets k_done (and drops a reference when asked); returns the word before and the waiters.
    Waiter* publish(std::uint64_t drop, std::uint64_t& before) noexcept;
    // The usual end of a task or a call: nobody waits or sleeps, so there is nothing to hand
    // over, and publishing with the reference dropped is one CAS (acq_rel: see publish()).
    // Inline, apart from the rest of complete(): it is a good part of what a short task costs.
    bool finish_unobserved() noexcept {
        std::uint64_t w = m_word.load(std::memory_order_relaxed);
        if ((w & (k_locked | k_waiters | k_sleepers)) != 0 ||
            !m_word.compare_exchange_strong(w, (w | k_done) - k_ref, std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
            return false;
        }
        if (refs(w) == 1)
            m_ops->destroy(this);
        return true;
    }
    void complete_slow(bool drop_ref) noexcept;
    // Out of line: the copy and the throw would keep every read of a result from being inlined.
    [[noreturn]] void rethrow_error() const;
    // release() of the reference k_finishing stands for, clearing the bit in the same RMW.
    void release_finisher() noexcept;

    mutable std::atomic<std::uint64_t> m_word;
    Waiter* m_waiters = nullptr;  // guarded by k_locked
    std::exception_ptr m_error;
    const Ops* m_ops;
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

// The part of a coroutine promise the loop works with. Kept small: it is in every frame.
class TaskBase {
public:
    explicit TaskBase(const char* function, bool run_when_cancelled = false) noexcept
        : m_name(function), m_run_when_cancelled(run_when_cancelled) {}
    TaskBase(const TaskBase&) = delete;
    TaskBase& operator=(const TaskBase&) = delete;
    ~TaskBase() {
        // Acquire: a name given from another thread was published with release.
        if (m_shared_flags.load(std::memory_order_acquire) & k_named)
            delete[] m_name.load(std::memory_order_relaxed);
    }

    // Called once the frame exists: where the frame and the state are, relative to this. Both
    // are parts of one coroutine frame, so the distances are small and fixed.
    void locate(void* frame, StateBase* state) noexcept {
        auto* self = reinterpret_cast<char*>(this);
        const auto to_frame = self - static_cast<char*>(frame);
        if (to_frame < 0 || to_frame > 0xffff)
            std::terminate();  // a frame layout no supported compiler produces
        m_frame_offset = static_cast<std::uint16_t>(to_frame);
        m_state_offset = static_cast<std::int32_t>(reinterpret_cast<char*>(state) - self);
    }
    std::coroutine_handle<> handle() const noexcept {
        return std::coroutine_handle<>::from_address(
            const_cast<char*>(reinterpret_cast<const char*>(this)) - m_frame_offset);
    }
    StateBase* state() const noexcept {
        return reinterpret_cast<StateBase*>(const_cast<char*>(reinterpret_cast<const char*>(this)) +
                                            m_state_offset);
    }

    // A name given with unsync::named(); set once, from any thread.
    void set_name(const std::string& name) {
        auto* fresh = new char[name.size() + 1];
        name.copy(fresh, name.size());
        fresh[name.size()] = '\0';
        // acq_rel: one name wins; the others are dropped.
        if (m_shared_flags.fetch_or(k_named, std::memory_order_acq_rel) & k_named) {
            delete[] fresh;
            return;
        }
        // Release: the loop thread that prints the name sees its characters.
        m_name.store(fresh, std::memory_order_release);
    }
    // The name if one was given, else the coroutine's function name.
    const char* display_name() const noexcept { return m_name.load(std::memory_order_acquire); }

    // Any thread: asks the loop to cancel; true if it had been asked already.
    bool mark_cancel_requested() noexcept {
        // acq_rel: one request per task reaches the loop; the others see it was made.
        return (m_shared_flags.fetch_or(k_cancel_requested, std::memory_order_acq_rel) &
                k_cancel_requested) != 0;
    }
    bool cancel_requested() const noexcept {
        // Relaxed: a request racing with this is acted on at the task's next suspension.
        return (m_shared_flags.load(std::memory_order_relaxed) & k_cancel_requested) != 0;
    }

    // The ready queue or the queue from other threads, whichever the task is in: a task is
    // scheduled once per suspension, so it is in at most one.
    std::atomic<TaskBase*> m_queue_next{nullptr};
    // Everything below is touched only on the loop thread.
    TaskBase* m_prev = nullptr;  // registry of started tasks, for shutdown
    TaskBase* m_next = nullptr;
    Waiter* m_wait_node = nullptr;  // what it is suspended on, if anything

private:
    static constexpr std::uint8_t k_cancel_requested = 1;
    static constexpr std::uint8_t k_named = 2;
    std::atomic<const char*> m_name;
    std::int32_t m_state_offset = 0;
    std::uint16_t m_frame_offset = 0;

public:
    bool m_started : 1 = false;
    bool m_cancelled : 1 = false;  // every later suspension throws
    const bool m_run_when_cancelled : 1;

private:
    std::atomic<std::uint8_t> m_shared_flags{0};  // any thread: k_cancel_requested, k_named
};

// Asks the loop to cancel the task (from any thread). False if it is already done.
UNSYNC_EXPORT bool request_cancel(TaskBase* task) noexcept;

// Destroys the task's coroutine frame. A frame destroyed while another is being destroyed on
// this thread (its last owner was a parameter or local of that one, as in a chain of `then`
// links) waits in a list instead, so a chain of any length is destroyed in a loop, not by a
// recursion as deep as the chain.
UNSYNC_EXPORT void destroy_task_frame(TaskBase* task) noexcept;

}  // namespace unsync::detail
