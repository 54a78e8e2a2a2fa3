#include "mpi/wire.hpp"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>
#include <thread>

namespace unsync::detail::mpi_wire {

namespace {

// How long a waiting loop polls without sleeping (yielding the core) after the last message: a
// message that follows within it, such as the next queued call after a reply or the reply to a
// short call, costs no wake-up (tens of us on a virtual machine). Each message costs its
// receiver at most this much of a core.
constexpr std::chrono::microseconds k_poll_hard{500};
// The sleep between polls while a loop lingers, and the first one after; later ones double up
// to the loop's limit.
constexpr std::chrono::microseconds k_first_sleep{10};
// Quiet for this long, a loop sleeps up to its deep limit.
constexpr std::chrono::milliseconds k_long_quiet{100};
// The scheduler slice rank 0's communication thread asks for: shorter than a call's, so that
// its wake-up preempts a call busy on the core; the thread runs only for a poll.
constexpr std::chrono::microseconds k_poll_slice{100};

}  // namespace

// Linux 6.12 and later read sched_runtime as the slice a normal thread asks for; older ones
// ignore it. Policy and nice value stay as they are.
void request_poll_slice() noexcept {
    // The kernel's struct sched_attr (its first version), which glibc does not declare.
    struct {
        std::uint32_t size;
        std::uint32_t sched_policy;
        std::uint64_t sched_flags;
        std::int32_t sched_nice;
        std::uint32_t sched_priority;
        std::uint64_t sched_runtime;
        std::uint64_t sched_deadline;
        std::uint64_t sched_period;
    } a{};
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0 || a.sched_policy != SCHED_OTHER)
        return;
    a.sched_runtime = static_cast<std::uint64_t>(std::chrono::nanoseconds(k_poll_slice).count());
    (void)syscall(SYS_sched_setattr, 0, &a, 0);
}

namespace {

int mpi_count(std::size_t n) {
    return static_cast<int>(std::min(n, k_max_piece));
}

}  // namespace

std::string first_message(Kind kind, std::string_view key, std::string_view payload,
                          std::size_t piece_size) {
    piece_size = std::clamp<std::size_t>(piece_size, 1, k_max_piece);
    const bool inline_payload = sizeof(Header) + key.size() + payload.size() <= piece_size;
    const Header h{k_magic, kind, key.size(), payload.size(), inline_payload ? 0 : piece_size};
    std::string bytes;
    bytes.reserve(sizeof h + key.size() + (inline_payload ? payload.size() : 0));
    bytes.append(reinterpret_cast<const char*>(&h), sizeof h);
    bytes.append(key);
    if (inline_payload)
        bytes.append(payload);
    return bytes;
}

bool parse(std::string_view bytes, Message& out) noexcept {
    if (bytes.size() < sizeof(Header))
        return false;
    std::memcpy(&out.header, bytes.data(), sizeof(Header));
    const Header& h = out.header;
    bytes.remove_prefix(sizeof(Header));
    if (h.magic != k_magic || h.key_size > bytes.size())
        return false;
    out.key = bytes.substr(0, h.key_size);
    bytes.remove_prefix(h.key_size);
    if (h.piece_size == 0) {
        if (bytes.size() != h.payload_size)
            return false;
        out.inline_payload = bytes;
    } else if (!bytes.empty() || h.piece_size > k_max_piece) {
        return false;
    }
    return true;
}

void receive_probed(const MPI_Status& status, int tag, std::string& bytes) {
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    bytes.resize(static_cast<std::size_t>(count));
    MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, tag, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
}

void receive_pieces(int source, const Header& header, std::string& payload) {
    payload.resize(header.payload_size);
    for (std::size_t at = 0; at < payload.size(); at += header.piece_size) {
        const int n = mpi_count(std::min<std::size_t>(header.piece_size, payload.size() - at));
        MPI_Recv(payload.data() + at, n, MPI_BYTE, source, k_tag_piece, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    }
}

void send_message(int dest, int tag, Kind kind, std::string_view key, std::string_view payload,
                  std::size_t piece_size) {
    std::string first = first_message(kind, key, payload, piece_size);
    MPI_Send(first.data(), static_cast<int>(first.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    Message m;
    parse(first, m);
    if (m.header.piece_size == 0)
        return;
    for (std::size_t at = 0; at < payload.size(); at += m.header.piece_size) {
        const int n = mpi_count(std::min<std::size_t>(m.header.piece_size, payload.size() - at));
        // MPI's C interface takes a non-const buffer for sends before MPI 3; it only reads it.
        MPI_Send(const_cast<char*>(payload.data()) + at, n, MPI_BYTE, dest, k_tag_piece,
                 MPI_COMM_WORLD);
    }
}

bool probe(int source, int tag, MPI_Status& status) {
    int flag = 0;
    MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, &status);
    if (!flag)
        MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, &status);
    return flag != 0;
}

Backoff::Backoff(std::chrono::nanoseconds linger, std::chrono::nanoseconds max_sleep,
                 std::chrono::nanoseconds deep_sleep)
    : m_linger(linger), m_max_sleep(max_sleep), m_deep_sleep(deep_sleep) {
    // The default timer slack (50 us) would stretch each short sleep sixfold; this thread only
    // waits on MPI, so it is worth the kernel's precision.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

void Backoff::reset() noexcept {
    m_quiet_since = std::chrono::steady_clock::now();
    m_sleep = std::chrono::nanoseconds(0);
}

std::chrono::nanoseconds Backoff::next() noexcept {
    const auto quiet = std::chrono::steady_clock::now() - m_quiet_since;
    if (quiet < k_poll_hard) {
        std::this_thread::yield();
        return std::chrono::nanoseconds(0);
    }
    if (quiet < m_linger || m_sleep.count() == 0) {
        m_sleep = k_first_sleep;
        return m_sleep;
    }
    m_sleep = std::min(m_sleep * 2, quiet < k_long_quiet ? m_max_sleep : m_deep_sleep);
    return m_sleep;
}

}  // namespace unsync::detail::mpi_wire
