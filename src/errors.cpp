#include <unsync/errors.hpp>

#include <utility>

namespace unsync {

// Out-of-line destructors anchor each type's vtable and type_info in the library, so that
// catching by type works across shared-library boundaries.
invalid_state_error::~invalid_state_error() = default;
timeout_error::~timeout_error() = default;
cancelled_error::~cancelled_error() = default;
remote_error::remote_error(std::string type_name, const std::string& what)
    : std::runtime_error(type_name + ": " + what), m_type_name(std::move(type_name)) {}
remote_error::~remote_error() = default;
broken_worker_error::~broken_worker_error() = default;
closed_error::~closed_error() = default;
broken_barrier_error::~broken_barrier_error() = default;

}  // namespace unsync
