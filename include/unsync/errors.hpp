#pragma once
/// @file
/// The exceptions unsync throws. Each derives from a standard exception, so that generic
/// handlers catch it too, but for unsync::cancelled_error, which on purpose does not.

#include <stdexcept>
#include <string>

#include <unsync/export.hpp>

namespace unsync {

/// An operation was used in a state that does not allow it.
///
/// Thrown, among others, by: `result()` on the loop thread for a future that is not done, and
/// the blocking forms of the coordination primitives there (they would deadlock the loop);
/// completing a future twice; set_options() after the runtime started; a wait on a coordination
/// primitive destroyed before the wait was served.
class UNSYNC_EXPORT invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
    ~invalid_state_error() override;
};

/// Something ran out of time: `result(timeout)` expired before the future was done (the work
/// goes on), unsync::wait_for() expired (the work was cancelled), or a CPU-bound call ran past
/// `ProcessPoolOptions::call_timeout` (its worker was killed).
class UNSYNC_EXPORT timeout_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~timeout_error() override;
};

/// The work was cancelled before it produced a result: `cancel()`, a combinator or
/// unsync::wait_for() cancelling its inputs, or shutdown().
///
/// Not a `std::exception`, on purpose, as asyncio's `CancelledError` left `Exception`:
/// cancellation must unwind a task, and generic code that retries on
/// `catch (const std::exception&)` would otherwise swallow it and keep shutdown waiting forever.
/// Catch it by name where you mean to; a `catch (...)` that does not rethrow still swallows it.
class UNSYNC_EXPORT cancelled_error {
public:
    /// @param what the message what() returns.
    explicit cancelled_error(const std::string& what) : m_what(what) {}
    /// @param what the message what() returns.
    explicit cancelled_error(const char* what) : m_what(what) {}
    virtual ~cancelled_error();
    /// The message, as `std::exception::what()`.
    virtual const char* what() const noexcept { return m_what.what(); }

private:
    std::runtime_error m_what;  // a message with a no-throw copy
};

/// An unsync::Queue was closed: a push into it, or a pop from it once it is drained.
class UNSYNC_EXPORT closed_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~closed_error() override;
};

/// An unsync::Barrier was reset or aborted while (or before) waiting on it, like asyncio's
/// `BrokenBarrierError`.
class UNSYNC_EXPORT broken_barrier_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~broken_barrier_error() override;
};

/// An exception of a CPU-bound call whose type cannot be rebuilt in the caller.
///
/// An exception whose type is exactly one of the standard library's (`std::runtime_error`,
/// `std::logic_error` and their standard subclasses, `std::system_error`, `std::bad_alloc`, ...)
/// is rethrown in the caller with that type. Anything else, a user type derived from a standard
/// one included, arrives as a remote_error, which carries the original type's name and `what()`;
/// its own what() is `"<type name>: <original what()>"`.
class UNSYNC_EXPORT remote_error : public std::runtime_error {
public:
    /// @param type_name the name of the original exception type.
    /// @param what the original exception's `what()`.
    remote_error(std::string type_name, const std::string& what);
    ~remote_error() override;
    /// The name of the original exception type, as the worker reported it.
    const std::string& type_name() const noexcept { return m_type_name; }

private:
    std::string m_type_name;
};

/// The worker process running a CPU-bound call died (signal, exit, kill) before answering, or
/// could not start. The pool replaces the worker; other calls are not affected.
class UNSYNC_EXPORT broken_worker_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~broken_worker_error() override;
};

}  // namespace unsync
