#pragma once
// A unit of work for a thread pool that is also the shared state of its Unfuture: one allocation
// per submitted call.

#include <atomic>
#include <exception>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include <unsync/detail/frame_pool.hpp>
#include <unsync/detail/state.hpp>

namespace unsync::detail {

struct PoolJob {
    using Step = void (*)(PoolJob*) noexcept;
    PoolJob(Step run, Step drop) noexcept : m_run(run), m_drop(drop) {}
    std::atomic<PoolJob*> m_next{nullptr};  // the pool's queue (lock-free: an atomic link)
    Step m_run;   // runs the call, completes the future, releases the job's reference
    Step m_drop;  // completes the future with cancelled_error without running
    const void* m_pool = nullptr;  // the pool it was submitted to, set before it is queued
};

UNSYNC_EXPORT void submit_to_thread_executor(PoolJob* job) noexcept;
// The pool whose thread this is (inside its calls), or null.
UNSYNC_EXPORT const void* current_pool() noexcept;

// Fn returns R and is called with a std::stop_token when Stoppable, with nothing otherwise.
template <class R, class Fn, bool Stoppable = false>
class PoolTask final : public State<R>, public PoolJob, public Pooled {
public:
    // Two references: the Unfuture handed back to the caller, and the job until it has run.
    explicit PoolTask(Fn fn)
        : State<R>(&k_ops, 2, StateBase::k_claimed), PoolJob(&run, &drop), m_fn(std::move(fn)) {}

private:
    enum Phase : int { queued, running, cancelled };

    static void run(PoolJob* job) noexcept {
        auto* self = static_cast<PoolTask*>(job);
        int expected = queued;
        // acq_rel: elects either the runner or cancel() as the one that completes the future.
        if (!self->m_phase.compare_exchange_strong(expected, running, std::memory_order_acq_rel)) {
            self->release();  // cancelled or helped while queued: the future is already done
            return;
        }
        execute(*self);
        self->complete(true);
    }
    // A thread of the same pool blocking on a call still queued behind it runs the call itself
    // (work-helping), so calls that wait on calls queued in their own pool cannot deadlock it
    // once every thread waits. Threads of other pools do not: a pool's limit is its own.
    static bool help(StateBase* s) noexcept {
        auto* self = static_cast<PoolTask*>(s);
        if (self->m_pool == nullptr || self->m_pool != current_pool())
            return false;
        int expected = queued;
        // acq_rel: elects this, the runner or cancel(), as in run().
        if (!self->m_phase.compare_exchange_strong(expected, running, std::memory_order_acq_rel))
            return false;
        execute(*self);
        self->complete();  // the queue keeps the job's reference: run() drops it once dequeued
        return true;
    }
    static void execute(PoolTask& self) noexcept {
        try {
            if constexpr (std::is_void_v<R>) {
                invoke(self);
                self.set_value();
            } else {
                self.set_value(invoke(self));
            }
        } catch (...) {
            self.set_error(std::current_exception());
        }
        // Arguments are released as soon as the call returns, not when the last handle goes.
        self.m_fn.reset();
    }
    static decltype(auto) invoke(PoolTask& self) {
        if constexpr (Stoppable) {
            return (*self.m_fn)(self.m_stop.get_token());
        } else {
            return (*self.m_fn)();
        }
    }
    // Completes a call that has not started with cancelled_error; false if it started (or was
    // already cancelled). acq_rel: elects this or the runner, as in run().
    bool cancel_queued(const char* why) noexcept {
        int expected = queued;
        if (!m_phase.compare_exchange_strong(expected, cancelled, std::memory_order_acq_rel))
            return false;
        this->set_error(make_cancelled(why));
        this->complete();
        return true;
    }
    static void drop(PoolJob* job) noexcept {
        auto* self = static_cast<PoolTask*>(job);
        self->cancel_queued("unsync: the thread pool shut down before the call ran");
        self->release();
    }
    static bool cancel(StateBase* s) noexcept {
        auto* self = static_cast<PoolTask*>(s);
        // Dropped: the pool thread that dequeues it only releases it.
        if (self->cancel_queued("unsync: cancelled before the call started"))
            return true;
        if constexpr (Stoppable) {
            if (self->m_phase.load(std::memory_order_acquire) == running) {
                self->m_stop.request_stop();
                return true;
            }
        }
        return false;
    }
    static void destroy(StateBase* s) noexcept { delete static_cast<PoolTask*>(s); }
    static constexpr StateBase::Ops k_ops{&destroy, &cancel, &help};

    std::atomic<int> m_phase{queued};
    [[no_unique_address]] std::conditional_t<Stoppable, std::stop_source, Empty> m_stop;
    std::optional<Fn> m_fn;
};

}  // namespace unsync::detail
