#pragma once
// How calls travel between rank 0 and a serving rank. A message is a header, the function's key
// (requests only) and the payload, which is the process pool's own (its codec's serialized
// arguments, result or error). A payload that does not fit in one piece follows the first
// message as pieces of at most piece_size bytes, because MPI counts are int.

#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace unsync::detail::mpi_wire {

constexpr int k_tag_request = 1;  // rank 0 to a serving rank: a call, or stop
constexpr int k_tag_reply = 2;    // a serving rank to rank 0
// The pieces after either kind of first message. MPI keeps the order of messages between two
// ranks on one tag, and a sender sends all pieces of a payload before the next first message.
constexpr int k_tag_piece = 3;

enum class Kind : std::uint32_t { call = 1, stop = 2, ok = 3, error = 4 };

struct Header {
    std::uint32_t magic;
    Kind kind;
    std::uint64_t key_size;
    std::uint64_t payload_size;
    std::uint64_t piece_size;  // 0: the payload is in the first message, after the key
};
constexpr std::uint32_t k_magic = 0x4d534e55;  // "UNSM"

// The largest piece an MPI count can describe.
constexpr std::size_t k_max_piece = 0x7fffffff;

struct Message {
    Header header{};
    std::string_view key;
    std::string_view inline_payload;  // when header.piece_size == 0
};

// The first message of a payload: the payload goes inside when it fits in one piece with the
// header and key, else in pieces of piece_size after it.
std::string first_message(Kind kind, std::string_view key, std::string_view payload,
                          std::size_t piece_size);
// False for bytes that are not a well-formed first message.
bool parse(std::string_view bytes, Message& out) noexcept;

// Receives the message an MPI_Iprobe found (whose status is given) into bytes.
void receive_probed(const MPI_Status& status, int tag, std::string& bytes);
// Whether a message from source with tag has arrived (its envelope in status). Open MPI's
// MPI_Iprobe matches before it progresses, so one probe misses a message that arrived since the
// last call into MPI: this one probes again before it says no.
bool probe(int source, int tag, MPI_Status& status);
// Receives the pieces of a payload that came without it, from the rank that sent its header.
void receive_pieces(int source, const Header& header, std::string& payload);
// Sends a whole message, blocking until MPI has taken every part.
void send_message(int dest, int tag, Kind kind, std::string_view key, std::string_view payload,
                  std::size_t piece_size);

// Waits for MPI without burning a core: Open MPI's blocking calls busy-poll, so the loops that
// wait for a message poll with probe(). After a message a loop polls hard for a moment
// (yielding the core), then sleeps briefly between polls until linger has passed, since a reply
// or the next call tends to follow; then it doubles the sleep up to max_sleep, and once quiet
// for long, up to deep_sleep. A poll costs a wake-up (some 20 us on a virtual machine), so the
// limits are what a wait costs a core. Its thread gets a fine timer slack when it is made.
// For a thread that wakes to poll while calls run: a scheduler slice shorter than the calls'.
// On a machine with more processes than cores its wake-up then preempts a running call at once;
// with equal slices it waits for the call's slice to be checked, at the next tick (up to 4 ms
// at 250 Hz). A serving rank keeps the default slice: its calls are what must yield.
void request_poll_slice() noexcept;

class Backoff {
public:
    Backoff(std::chrono::nanoseconds linger, std::chrono::nanoseconds max_sleep,
            std::chrono::nanoseconds deep_sleep);
    // After a message: poll hard again, for the reply or the next call that tends to follow.
    void reset() noexcept;
    // How long to wait before the next poll; zero while still polling hard.
    std::chrono::nanoseconds next() noexcept;

private:
    std::chrono::nanoseconds m_linger;
    std::chrono::nanoseconds m_max_sleep;
    std::chrono::nanoseconds m_deep_sleep;
    std::chrono::nanoseconds m_sleep{0};
    std::chrono::steady_clock::time_point m_quiet_since = std::chrono::steady_clock::now();
};

}  // namespace unsync::detail::mpi_wire
