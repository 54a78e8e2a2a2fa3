#pragma once
/// @file
/// CPU-bound functions in worker processes: Python unsync's `@unsync(cpu_bound=True)`.
///
/// @code
/// int fib(int n);
/// constexpr auto fib_cpu = unsync::cpu_bound<&fib>;   // the one declaration
/// int main() {
///     unsync::serve_if_worker();                       // the one line in main
///     std::cout << fib_cpu(30).result();
/// }
/// @endcode
///
/// Workers are fresh executions of the same program, so a crash, a leak or global state in one
/// call cannot reach the caller. Arguments and results cross the process boundary serialized
/// with cereal; this header needs it (`libcereal-dev`). Linked with unsync::mpi and started by
/// mpirun, the same calls go to the ranks of the MPI job (see <unsync/mpi.hpp>).

#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <unsync/detail/process_codec.hpp>
#include <unsync/detail/process_job.hpp>
#include <unsync/detail/process_task.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// In a worker process started by a ProcessPool (or a serving rank of an MPI job), serves calls
/// and never returns; anywhere else it returns at once. Call it first thing in main(), before
/// anything with side effects: workers run the same program. A worker whose main() makes a
/// cpu_bound call without calling it first exits at once with a message saying to add it.
UNSYNC_EXPORT void serve_if_worker();

class ProcessPool;
template <auto F>
class CpuBound;
namespace detail {
struct ProcessPoolImpl;
// In the child of a fork(): closes the child's copies of the pool's channels to its workers
// (the workers are the parent's), without touching its threads, which the child lacks.
void forget_process_pool_after_fork(ProcessPool& pool) noexcept;
}  // namespace detail

/// Worker processes for cpu_bound calls. Workers start on demand, one per call in flight up to
/// size(); a worker that crashes (signal, abort, exit) fails its call with broken_worker_error
/// and is replaced. A worker starts with only its standard streams (standard input is
/// /dev/null) and its channel, in a process group of its own, and exits when the program does.
/// All members are thread-safe; futures complete on the pool's own threads.
class UNSYNC_EXPORT ProcessPool {
public:
    /// A pool with no workers yet.
    explicit ProcessPool(ProcessPoolOptions options = {});
    /// Shuts the pool down (see shutdown()).
    ~ProcessPool();
    ProcessPool(const ProcessPool&) = delete;
    ProcessPool& operator=(const ProcessPool&) = delete;

    /// The most workers at once (ProcessPoolOptions::size, or one per core).
    std::size_t size() const noexcept;
    /// Process ids of the workers alive now (started on demand, replaced when one dies).
    std::vector<int> worker_pids() const;
    /// Drops calls not yet sent (cancelled_error), waits for the running ones for at most
    /// ProcessPoolOptions::shutdown_grace (then kills their workers, and they fail with
    /// cancelled_error), ends the workers, and refuses later calls the same way. Idempotent.
    void shutdown() noexcept;

private:
    friend void detail::forget_process_pool_after_fork(ProcessPool& pool) noexcept;
    template <auto F>
    friend class CpuBound;
    // Takes ownership of the job's reference.
    void submit_job(detail::ProcessJob* job) noexcept;

    std::unique_ptr<detail::ProcessPoolImpl> m_impl;
};

/// The ambient process pool, started on first use (its options from Options::process_pool).
/// After unsync::shutdown() it refuses calls: their futures fail with cancelled_error.
UNSYNC_EXPORT ProcessPool& process_executor();

/// The type of `unsync::cpu_bound<&f>`: a callable that runs `f` in a worker process.
/// Thread-safe.
template <auto F>
class CpuBound {
    using Fn = detail::CpuFunction<F>;

public:
    /// Runs `f(args...)` in a worker process of process_executor() and returns its future at
    /// once. Arguments are converted to the function's parameter types and serialized now.
    /// A standard exception thrown by `f` arrives as its own type (codes included); any other as
    /// remote_error naming its type. A worker that dies fails the call with broken_worker_error.
    /// cancel() on the future drops a call not yet sent and kills the worker of a running one.
    /// @throws std::bad_alloc, or what serializing the arguments throws.
    template <class... A>
    Unfuture<typename Fn::R> operator()(A&&... args) const {
        static_assert(std::is_constructible_v<typename Fn::Args, A&&...>,
                      "unsync::cpu_bound: these arguments do not match the function's parameters");
        if (!Fn::key)
            throw std::bad_alloc();  // the registration at start-up ran out of memory
        typename Fn::Args values(std::forward<A>(args)...);
        std::string request;
        detail::serialize_to(request, values);
        auto* task = new detail::ProcessTask<typename Fn::R>(Fn::key, std::move(request));
        process_executor().submit_job(task);
        return detail::adopt_state<typename Fn::R>(task);
    }
};

/// `constexpr auto f_cpu = unsync::cpu_bound<&f>;` marks the free function `f` CPU-bound:
/// `f_cpu(args...)` returns Unfuture<R> at once and runs `f` in a worker process. `f` takes and
/// returns values cereal can serialize; a misuse (a lambda, a member function, a reference
/// parameter, a type without serialization) fails to compile with a message saying what to do.
template <auto F>
inline constexpr CpuBound<F> cpu_bound{};

}  // namespace unsync
