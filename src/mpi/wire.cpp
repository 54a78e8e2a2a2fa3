#include "mpi/wire.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

namespace unsync::detail::mpi_wire {

namespace {

// How long a waiting loop keeps polling after the last message before it starts to sleep: long
// enough to catch a reply or the next call that follows at once (a short call's round trip),
// short enough to leave the core to the call running on it.
constexpr std::chrono::microseconds k_poll_hard{200};
// The first sleep; later ones double up to the loop's limit.
constexpr std::chrono::microseconds k_first_sleep{10};
// Quiet for this long, a loop sleeps up to its deep limit.
constexpr std::chrono::milliseconds k_long_quiet{100};

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

void Backoff::reset() noexcept {
    m_quiet_since = std::chrono::steady_clock::now();
    m_sleep = std::chrono::nanoseconds(0);
}

std::chrono::nanoseconds Backoff::next() noexcept {
    const auto quiet = std::chrono::steady_clock::now() - m_quiet_since;
    if (m_sleep.count() == 0) {
        if (quiet < k_poll_hard) {
            std::this_thread::yield();
            return m_sleep;
        }
        m_sleep = k_first_sleep;
        return m_sleep;
    }
    m_sleep = std::min(m_sleep * 2, quiet < k_long_quiet ? m_max_sleep : m_deep_sleep);
    return m_sleep;
}

}  // namespace unsync::detail::mpi_wire
