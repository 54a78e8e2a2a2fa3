#pragma once
// The process pool's hook for a backend that runs CPU-bound calls somewhere other than local
// worker processes: the ranks of an MPI job (the optional unsync::mpi library). Such a library
// registers itself from a static initializer; the core knows it only through this table, so it
// never depends on the backend's own dependencies.

#include <cstddef>
#include <memory>

#include <unsync/detail/process_job.hpp>
#include <unsync/export.hpp>
#include <unsync/process_pool_options.hpp>

namespace unsync::detail {

// A process pool's link to the backend, with ProcessPool's own contract for each function.
class RemotePool {
public:
    virtual ~RemotePool() = default;
    // Takes ownership of the job's reference.
    virtual void submit(ProcessJob* job) noexcept = 0;
    virtual void shutdown() noexcept = 0;
    virtual std::size_t size() const noexcept = 0;
};

struct RemoteBackend {
    // Called by serve_if_worker() in a process that is not a local worker: serves calls and never
    // returns in a process that serves them; true in the one that sends them (pools made from
    // then on use make_pool); false when the backend does not apply to this launch.
    bool (*serve_if_worker)();
    // Throws what it cannot do (std::bad_alloc, std::system_error).
    std::unique_ptr<RemotePool> (*make_pool)(const ProcessPoolOptions& options);
};

// Called once, before main(); the table must outlive the program.
UNSYNC_EXPORT void register_remote_backend(const RemoteBackend* backend) noexcept;

}  // namespace unsync::detail
