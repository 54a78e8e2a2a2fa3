#pragma once
/// @file
/// ProcessPoolOptions, apart from <unsync/process_pool.hpp> so that the runtime's options
/// (<unsync/runtime.hpp>) name them without pulling in cereal.

#include <chrono>
#include <cstddef>

namespace unsync {

/// The limits of a ProcessPool (and of the ambient one, through Options::process_pool).
struct ProcessPoolOptions {
    /// Worker processes; 0 means one per core.
    std::size_t size = 0;
    /// A call still running after this long has its worker killed and fails with timeout_error;
    /// zero means no limit.
    std::chrono::milliseconds call_timeout{0};
    /// How long shutdown (and so exit) waits for calls already running; then their workers are
    /// killed and the calls fail with cancelled_error.
    std::chrono::milliseconds shutdown_grace{10'000};
};

}  // namespace unsync
