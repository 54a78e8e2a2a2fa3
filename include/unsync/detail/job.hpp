#pragma once
// A unit of work for a thread pool that is also the shared state of its Unfuture: one allocation
// per submitted call.

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <unsync/detail/state.hpp>

namespace unsync::detail {

struct PoolJob {
    using Step = void (*)(PoolJob*) noexcept;
    PoolJob(Step run, Step drop) noexcept : m_run(run), m_drop(drop) {}
    PoolJob* m_next = nullptr;
    Step m_run; // runs the call, completes the future, releases the job's reference
    Step m_drop;// completes the future with cancelled_error without running
};

class ThreadPoolImpl;
UNSYNC_EXPORT void submit_to_thread_executor(PoolJob* job) noexcept;

// Fn is a nullary callable returning R.
template <class R, class Fn>
class PoolTask final : public State<R>, public PoolJob {
public:
    // Two references: the Unfuture handed back to the caller, and the job until it has run.
    explicit PoolTask(Fn fn)
        : State<R>(&destroy, 2, StateBase::k_claimed), PoolJob(&run, &drop), m_fn(std::move(fn)) {}

private:
    static void run(PoolJob* job) noexcept {
        auto* self = static_cast<PoolTask*>(job);
        try {
            if constexpr (std::is_void_v<R>) {
                (*self->m_fn)();
                self->set_value();
            } else {
                self->set_value((*self->m_fn)());
            }
        } catch (...) {
            self->set_error(std::current_exception());
        }
        // Arguments are released as soon as the call returns, not when the last handle goes.
        self->m_fn.reset();
        self->complete();
        self->release();
    }
    static void drop(PoolJob* job) noexcept {
        auto* self = static_cast<PoolTask*>(job);
        self->m_fn.reset();
        self->set_error(make_cancelled("unsync: the thread pool shut down before the call ran"));
        self->complete();
        self->release();
    }
    static void destroy(StateBase* s) noexcept { delete static_cast<PoolTask*>(s); }

    std::optional<Fn> m_fn;
};

}  // namespace unsync::detail
