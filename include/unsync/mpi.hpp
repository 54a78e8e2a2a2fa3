#pragma once
/// @file
/// CPU-bound calls on the ranks of an MPI job: the optional unsync::mpi library (link
/// `unsync::mpi`, or `pkg-config unsync-mpi`).
///
/// A program linked with it and started by mpirun with more than one rank runs main() on rank 0
/// and serves its cpu_bound calls on ranks 1..N-1, in serve_if_worker(); the source is the same
/// as for local worker processes. Started any other way (./app, or a one-rank launch), it uses
/// local workers.
///
/// @code
/// mpirun -np 16 --hostfile hosts ./app     # rank 0 runs main(); ranks 1..15 serve calls
/// @endcode
///
/// Nothing here is needed for that; these are the knobs.

#include <cstddef>

#include <unsync/mpi_export.hpp>

/// The MPI component: where cpu_bound calls go in a program linked with `unsync::mpi`.
namespace unsync::mpi {

/// Where cpu_bound calls go.
enum class Backend {
    automatic,  ///< MPI when mpirun started this program with more than one rank, else local
    local,      ///< local worker processes always; under mpirun every rank runs main() by itself
    mpi,        ///< MPI always (also under a launcher that does not set OMPI_COMM_WORLD_SIZE)
};

/// The MPI component's settings; see set_options().
struct Options {
    /// The environment variable UNSYNC_PROCESS_BACKEND (auto, local or mpi) overrides this.
    Backend backend = Backend::automatic;
    /// Calls a serving rank is sent before it has replied to the first: 1 sends each call to a
    /// free rank; more hide the network's latency for short calls, at the cost of balance. The
    /// environment variable UNSYNC_MPI_CALLS_PER_RANK overrides this.
    std::size_t calls_per_rank = 1;
    /// The largest part of a payload sent as one MPI message (MPI counts are int); a larger
    /// argument or result travels in pieces of this size. Each sender uses its own.
    std::size_t piece_size = std::size_t{1} << 30;
};

/// Sets the options for this process. Call it before serve_if_worker(), in every rank (they all
/// run main() up to there).
/// @throws unsync::invalid_state_error after serve_if_worker().
/// @throws std::invalid_argument for a zero calls_per_rank or piece_size.
UNSYNC_MPI_EXPORT void set_options(const Options& options);

/// This process's rank in a job whose calls go over MPI; -1 when the calls stay local (or before
/// serve_if_worker()).
UNSYNC_MPI_EXPORT int rank() noexcept;
/// The number of ranks (the caller and the ones that serve) in a job whose calls go over MPI; 0
/// when the calls stay local (or before serve_if_worker()).
UNSYNC_MPI_EXPORT int world_size() noexcept;

}  // namespace unsync::mpi
