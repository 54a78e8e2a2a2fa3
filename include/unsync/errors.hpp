#pragma once
// The exceptions unsync throws. Each derives from a std exception so that generic handlers work.

#include <stdexcept>
#include <string>

#include <unsync/export.hpp>

namespace unsync {

// An operation was used in a state that does not allow it: blocking on a pending future from the
// loop thread, completing a future twice, changing options after the runtime started.
class UNSYNC_EXPORT invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
    ~invalid_state_error() override;
};

// result(timeout) expired before the future was done.
class UNSYNC_EXPORT timeout_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~timeout_error() override;
};

// The work was cancelled before it produced a result (today: by runtime shutdown).
class UNSYNC_EXPORT cancelled_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~cancelled_error() override;
};

}  // namespace unsync
