#pragma once
// The exceptions unsync throws. Each derives from a std exception so that generic handlers work,
// but for cancelled_error, which on purpose does not (see there).

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

// The work was cancelled before it produced a result: cancel(), a combinator or wait_for
// cancelling its inputs, or shutdown.
//
// Not a std::exception, on purpose, as asyncio's CancelledError left Exception: cancellation
// must unwind a task, and generic code that retries on `catch (const std::exception&)` would
// otherwise swallow it and keep shutdown waiting forever. Catch it by name where you mean to;
// `catch (...)` that does not rethrow still swallows it.
class UNSYNC_EXPORT cancelled_error {
public:
    explicit cancelled_error(const std::string& what) : m_what(what) {}
    explicit cancelled_error(const char* what) : m_what(what) {}
    virtual ~cancelled_error();
    virtual const char* what() const noexcept { return m_what.what(); }

private:
    std::runtime_error m_what;  // a message with a no-throw copy
};

// A Queue was closed: pushing into it, or popping from it once it is drained.
class UNSYNC_EXPORT closed_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~closed_error() override;
};

// A Barrier was reset or aborted while (or before) waiting on it, as asyncio.BrokenBarrierError.
class UNSYNC_EXPORT broken_barrier_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~broken_barrier_error() override;
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
