#pragma once
// The machinery behind unsync::use_unfuture: the state of an Asio operation's Unfuture, the
// completion handler Asio calls, and the link the loop uses to cancel or abandon it.

#include <atomic>
#include <exception>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include <asio/cancellation_signal.hpp>
#include <asio/error.hpp>

#include <unsync/detail/state.hpp>
#include <unsync/export.hpp>

namespace unsync::detail {

// The Unfuture's type for a completion signature: a leading error_code or exception_ptr becomes
// the exception; one remaining argument is the value, several a tuple, none void.
template <class... A>
struct AsioValue {
    using type = std::tuple<std::decay_t<A>...>;
};
template <>
struct AsioValue<> {
    using type = void;
};
template <class A>
struct AsioValue<A> {
    using type = std::decay_t<A>;
};

template <class... A>
struct AsioSignature {
    using value = typename AsioValue<A...>::type;
    static constexpr bool has_error = false;
};
template <class... A>
struct AsioSignature<std::error_code, A...> {
    using value = typename AsioValue<A...>::type;
    static constexpr bool has_error = true;
};
template <class... A>
struct AsioSignature<std::exception_ptr, A...> {
    using value = typename AsioValue<A...>::type;
    static constexpr bool has_error = true;
};

// The part of an operation shutdown needs: pending operations are listed, so that the loop can
// cancel them before it stops, and none leaves a future pending forever.
struct AsioOpLink {
    // On the loop thread. The handler Asio installed in the slot points into the I/O object, so
    // it may run only while the operation is outstanding: never once the completion handler
    // has run or been dropped (the object may be gone by then).
    void emit_cancellation() noexcept {
        // Acquire: pairs with the release in the handler, on the loop thread as a rule; the
        // order matters only if a handler is dropped elsewhere (its io_context destroyed).
        if (!m_handler_gone.load(std::memory_order_acquire))
            m_signal.emit(asio::cancellation_type::terminal);
    }

    AsioOpLink* m_prev = nullptr;  // guarded by the registry's mutex
    AsioOpLink* m_next = nullptr;
    StateBase* m_state = nullptr;
    asio::cancellation_signal m_signal;  // loop thread only
    std::atomic<bool> m_cancel_requested{false};
    std::atomic<bool> m_handler_gone{false};  // the completion handler ran or was dropped
};

// False once the loop has stopped running I/O: the operation must not be started.
UNSYNC_EXPORT bool register_asio_op(AsioOpLink* op) noexcept;
UNSYNC_EXPORT void unregister_asio_op(AsioOpLink* op) noexcept;
// From any thread: the loop emits the operation's cancellation signal between two task steps,
// once the completions already queued have run (an I/O object destroyed meanwhile has queued
// its operations' completions, which then mark them finished, and no signal reaches the object).
// Takes a reference to the operation's state.
UNSYNC_EXPORT void request_asio_cancel(AsioOpLink* op) noexcept;
// In the child of a fork(): forgets the parent's pending operations.
void forget_asio_ops_after_fork() noexcept;

// The operation's state: the future's shared state plus the signal that cancels the operation.
template <class R>
class AsioOp final : public State<R>, public AsioOpLink {
public:
    // Two references: the Unfuture, and the completion handler until it runs (or is destroyed).
    AsioOp() : State<R>(&k_ops, 2, StateBase::k_claimed) { m_state = this; }

private:
    static bool cancel(StateBase* s) noexcept {
        auto* self = static_cast<AsioOp*>(s);
        if (self->done())
            return false;
        // acq_rel: one emit per operation; the handler reads the flag after completion.
        if (self->m_cancel_requested.exchange(true, std::memory_order_acq_rel))
            return true;
        // The loop emits the signal between two task steps, after running the completions
        // already queued: see request_asio_cancel. The request holds a reference.
        self->add_ref();
        request_asio_cancel(self);
        return true;
    }
    static void destroy(StateBase* s) noexcept { delete static_cast<AsioOp*>(s); }
    static constexpr StateBase::Ops k_ops{&destroy, &cancel, nullptr};
};

template <class R>
class AsioHandler {
public:
    explicit AsioHandler(AsioOp<R>* op) noexcept : m_op(op) {}
    AsioHandler(AsioHandler&& other) noexcept : m_op(std::exchange(other.m_op, nullptr)) {}
    AsioHandler& operator=(AsioHandler&&) = delete;
    ~AsioHandler() {
        // Destroyed without being called (its io_context went away): nobody waits forever.
        if (m_op)
            finish(m_op, make_cancelled("unsync: the Asio operation was abandoned"));
    }

    using cancellation_slot_type = asio::cancellation_slot;
    cancellation_slot_type get_cancellation_slot() const noexcept { return m_op->m_signal.slot(); }

    template <class... A>
    void operator()(A&&... args) {
        AsioOp<R>* op = std::exchange(m_op, nullptr);
        // Release: see emit_cancellation().
        op->m_handler_gone.store(true, std::memory_order_release);
        unregister_asio_op(op);
        try {
            deliver(*op, std::forward<A>(args)...);
        } catch (...) {
            op->set_error(std::current_exception());
        }
        op->complete(true);
    }

private:
    static void finish(AsioOp<R>* op, std::exception_ptr e) noexcept {
        op->m_handler_gone.store(true, std::memory_order_release);
        unregister_asio_op(op);
        op->set_error(std::move(e));
        op->complete(true);
    }
    template <class... A>
    static void deliver(AsioOp<R>& op, std::error_code ec, A&&... values) {
        if (ec) {
            if (ec == asio::error::operation_aborted &&
                op.m_cancel_requested.load(std::memory_order_acquire)) {
                op.set_error(make_cancelled("unsync: the Asio operation was cancelled"));
            } else {
                op.set_error(std::make_exception_ptr(std::system_error(ec)));
            }
            return;
        }
        set_values(op, std::forward<A>(values)...);
    }
    template <class... A>
    static void deliver(AsioOp<R>& op, std::exception_ptr e, A&&... values) {
        if (e) {
            op.set_error(std::move(e));
            return;
        }
        set_values(op, std::forward<A>(values)...);
    }
    template <class... A>
    static void deliver(AsioOp<R>& op, A&&... values) {
        set_values(op, std::forward<A>(values)...);
    }
    template <class... A>
    static void set_values(AsioOp<R>& op, A&&... values) {
        if constexpr (sizeof...(A) <= 1) {
            op.set_value(std::forward<A>(values)...);
        } else {
            op.set_value(std::make_tuple(std::forward<A>(values)...));
        }
    }

    AsioOp<R>* m_op;
};

}  // namespace unsync::detail
