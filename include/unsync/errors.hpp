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

// An exception thrown by a CPU-bound call in a worker process whose type cannot be rebuilt in the
// caller (anything but the std exception family): it carries the original type's name and what().
class UNSYNC_EXPORT remote_error : public std::runtime_error {
public:
    remote_error(std::string type_name, const std::string& what);
    ~remote_error() override;
    const std::string& type_name() const noexcept { return m_type_name; }

private:
    std::string m_type_name;
};

// The worker process running a CPU-bound call died (signal, exit, kill) before answering. The pool
// replaces the worker; other calls are not affected.
class UNSYNC_EXPORT broken_worker_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~broken_worker_error() override;
};

}  // namespace unsync
