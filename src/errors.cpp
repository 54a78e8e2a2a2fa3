#include <unsync/errors.hpp>

namespace unsync {

// Out-of-line destructors anchor each type's vtable and type_info in the library, so that
// catching by type works across shared-library boundaries.
invalid_state_error::~invalid_state_error() = default;
timeout_error::~timeout_error() = default;
cancelled_error::~cancelled_error() = default;

}  // namespace unsync
