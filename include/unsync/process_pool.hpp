#pragma once
// CPU-bound functions in worker processes: the seed's @unsync(cpu_bound=True). Workers are fresh
// executions of the same program, so a crash, a leak or global state in one call cannot reach
// the caller. Arguments and results cross the process boundary serialized with cereal.
//
//     int fib(int n);
//     constexpr auto fib_cpu = unsync::cpu_bound<&fib>;   // the one declaration
//     int main() {
//         unsync::serve_if_worker();                       // the one line in main
//         std::cout << fib_cpu(30).result();
//     }

#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <unsync/detail/process_codec.hpp>
#include <unsync/detail/process_job.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

// In a worker process started by a ProcessPool, serves calls and never returns; anywhere else it
// returns at once. Call it first thing in main(), before anything with side effects.
UNSYNC_EXPORT void serve_if_worker();

class ProcessPool;
namespace detail {
// In the child of a fork(): closes the child's copies of the pool's channels to its workers
// (the workers are the parent's), without touching its threads, which the child lacks.
void forget_process_pool_after_fork(ProcessPool& pool) noexcept;
}  // namespace detail

class UNSYNC_EXPORT ProcessPool {
public:
    explicit ProcessPool(ProcessPoolOptions options = {});
    // Drops calls not yet sent, waits for the ones running, and ends the workers.
    ~ProcessPool();
    ProcessPool(const ProcessPool&) = delete;
    ProcessPool& operator=(const ProcessPool&) = delete;

    std::size_t size() const noexcept;
    // Process ids of the workers alive now (started on demand, replaced when one dies).
    std::vector<int> worker_pids() const;
    // Drops calls not yet sent (cancelled_error), waits for the running ones, ends the workers,
    // and refuses later calls the same way. Idempotent.
    void shutdown() noexcept;

    // Low level: takes ownership of the job's reference.
    void submit_job(detail::ProcessJob* job) noexcept;

    struct Impl;

private:
    friend void detail::forget_process_pool_after_fork(ProcessPool& pool) noexcept;
    std::unique_ptr<Impl> m_impl;
};

// The ambient process pool; started on first use (size from Options::process_pool).
UNSYNC_EXPORT ProcessPool& process_executor();

namespace detail {

template <class R>
class ProcessTask final : public State<R>, public ProcessJob {
public:
    ProcessTask(const char* key, std::string request)
        : State<R>(&k_ops, 2, StateBase::k_claimed),
          ProcessJob(key, std::move(request), &finish, &fail, &discard) {}

private:
    // A call not yet sent is dropped; one a worker runs ends with its worker, which the proxy
    // kills and replaces.
    static bool cancel(StateBase* s) noexcept {
        auto* self = static_cast<ProcessTask*>(s);
        if (!self->claim_for_cancel())
            return self->request_stop();
        self->set_error(make_cancelled("unsync: cancelled before the call was sent to a worker"));
        self->complete();
        return true;
    }
    static void discard(ProcessJob* job) noexcept { static_cast<ProcessTask*>(job)->release(); }
    static void finish(ProcessJob* job, std::string_view reply) noexcept {
        auto* self = static_cast<ProcessTask*>(job);
        try {
            if constexpr (std::is_void_v<R>) {
                self->set_value();
            } else {
                R result{};
                deserialize_from(reply, result);
                self->set_value(std::move(result));
            }
        } catch (...) {
            self->set_error(std::current_exception());
        }
        self->complete(true);
    }
    static void fail(ProcessJob* job, std::exception_ptr error) noexcept {
        auto* self = static_cast<ProcessTask*>(job);
        self->set_error(std::move(error));
        self->complete(true);
    }
    static void destroy(StateBase* s) noexcept { delete static_cast<ProcessTask*>(s); }
    static constexpr StateBase::Ops k_ops{&destroy, &cancel, nullptr};
};

template <auto F>
class CpuBound {
    using Fn = CpuFunction<F>;

public:
    // Arguments are converted to the function's parameter types and serialized now.
    template <class... A>
    Unfuture<typename Fn::R> operator()(A&&... args) const {
        static_assert(std::is_constructible_v<typename Fn::Args, A&&...>,
                      "unsync::cpu_bound: these arguments do not match the function's parameters");
        if (!Fn::key)
            throw std::bad_alloc();  // the registration at start-up ran out of memory
        typename Fn::Args values(std::forward<A>(args)...);
        std::string request;
        serialize_to(request, values);
        auto* task = new ProcessTask<typename Fn::R>(Fn::key, std::move(request));
        process_executor().submit_job(task);
        return adopt_state<typename Fn::R>(task);
    }
};

}  // namespace detail

// `constexpr auto f_cpu = unsync::cpu_bound<&f>;` marks f CPU-bound: f_cpu(args...) returns
// Unfuture<R> at once and runs f in a worker process of process_executor().
template <auto F>
inline constexpr detail::CpuBound<F> cpu_bound{};

}  // namespace unsync
