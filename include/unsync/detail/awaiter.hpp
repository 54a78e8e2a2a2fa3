#pragma once
// What `co_await future` suspends on: the awaiter is its own node in the future's waiter list,
// so awaiting allocates nothing. Also how a value is taken out of a done state.

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include <unsync/detail/loop_core.hpp>
#include <unsync/detail/promise.hpp>
#include <unsync/detail/state.hpp>

namespace unsync::detail {

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
    // Copying a trivially copyable T is moving it: no need to look at who else reads it.
    if constexpr (std::is_trivially_copy_constructible_v<T> &&
                  std::is_trivially_move_constructible_v<T>) {
        return s->value();
    } else if constexpr (copyable<T>()) {
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
            if (m_task->m_cancelled) [[unlikely]]
                throw_if_cancelled();
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
    // Cancelled while suspended: the awaiting expression throws, even if the future completed
    // meanwhile (as asyncio does); but a grant made (a lock, a permit, an item) is returned, lest
    // it be lost: the task's next suspension throws. Out of line: it keeps await_resume small.
    [[gnu::noinline]] void throw_if_cancelled() const {
        if (!(state()->is_grant() && state()->done() && !state()->has_error()))
            std::rethrow_exception(make_cancelled("unsync: task cancelled"));
    }

    // The awaited state, kept once (in m_awaited): the awaiter is part of the frame.
    State<T>* state() const noexcept { return static_cast<State<T>*>(m_awaited); }
};

}  // namespace unsync::detail
