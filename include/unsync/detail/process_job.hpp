#pragma once
// The light part of the process pool: its job node, without cereal. The serialization lives in
// <unsync/detail/process_codec.hpp>.

#include <atomic>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <unsync/export.hpp>
#include <unsync/process_pool_options.hpp>

namespace unsync {

class ProcessPool;

namespace detail {

// Wakes a proxy thread waiting for its worker's reply (an eventfd).
UNSYNC_EXPORT void wake_proxy(int fd) noexcept;

// A CPU-bound call on its way to a worker: the registry key of the function and its serialized
// arguments. The typed part (the future's state) derives from it.
struct ProcessJob {
    using Finish = void (*)(ProcessJob*, std::string_view reply) noexcept;
    using Fail = void (*)(ProcessJob*, std::exception_ptr error) noexcept;
    using Discard = void (*)(ProcessJob*) noexcept;
    enum Phase : int { queued, sent, cancelled, stop_requested };

    ProcessJob(const char* key, std::string request, Finish finish, Fail fail,
               Discard discard) noexcept
        : m_key(key),
          m_request(std::move(request)),
          m_finish(finish),
          m_fail(fail),
          m_discard(discard) {}

    // acq_rel: elects either the sender or a cancel() as the one that completes the future.
    bool claim_for_sending() noexcept {
        int expected = queued;
        return m_phase.compare_exchange_strong(expected, sent, std::memory_order_acq_rel);
    }
    bool claim_for_cancel() noexcept {
        int expected = queued;
        return m_phase.compare_exchange_strong(expected, cancelled, std::memory_order_acq_rel);
    }
    // A running call: asks its proxy to kill the worker. seq_cst, with the proxy's store of
    // m_wake_fd and its load of the phase: either this sees the descriptor to wake, or the proxy
    // sees the request before it waits.
    bool request_stop() noexcept {
        int expected = sent;
        if (!m_phase.compare_exchange_strong(expected, stop_requested, std::memory_order_seq_cst))
            return expected == stop_requested;
        if (const int fd = m_wake_fd.load(std::memory_order_seq_cst); fd >= 0)
            wake_proxy(fd);
        return true;
    }

    ProcessJob* m_next = nullptr;
    const char* m_key;
    std::string m_request;
    std::atomic<int> m_phase{queued};
    std::atomic<int> m_wake_fd{-1};  // the running call's proxy, woken by request_stop()
    Finish m_finish;    // deserializes the result, completes the future, releases the job
    Fail m_fail;        // completes the future with the error, releases the job
    Discard m_discard;  // releases the job of a call cancelled while queued
};

}  // namespace detail
}  // namespace unsync
