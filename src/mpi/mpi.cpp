#include <unsync/mpi.hpp>

#include <mpi.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <unsync/detail/process_backend.hpp>
#include <unsync/detail/process_codec.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/errors.hpp>

#include "mpi/wire.hpp"

namespace unsync {
namespace {

namespace wire = detail::mpi_wire;
using detail::ProcessJob;

// A serving rank that replied keeps polling for this long (sleeping briefly between polls once
// the hard polling is over), since rank 0 sends it the next queued call as soon as it sees the
// reply; then it sleeps at most the max between polls, and once idle for a while, at most the
// deep limit. That bounds how late it sees a new call (1 ms after a pause, 10 ms after a long
// one) and what idleness costs (a poll per 10 ms: about 0.3 % of a core).
constexpr std::chrono::milliseconds k_rank_linger{2};
constexpr std::chrono::milliseconds k_rank_max_sleep{1};
constexpr std::chrono::milliseconds k_rank_deep_sleep{10};
// Rank 0 polls only while calls run on the ranks: often at first, since each poll it misses
// delays a result and the next call; less for a call that runs long, which then costs it a poll
// per 2 ms. Its replies come when calls end, not right after its own messages, so it does not
// linger past the hard polling.
constexpr std::chrono::microseconds k_caller_linger{0};
constexpr std::chrono::microseconds k_caller_max_sleep{100};
constexpr std::chrono::milliseconds k_caller_deep_sleep{2};
// At exit, how long rank 0 waits for calls still running on the ranks before it ends the job
// with MPI_Abort: a rank's call cannot be stopped otherwise.
constexpr std::chrono::seconds k_exit_grace{10};
// A serving rank keeps its buffers between calls up to this size, and frees larger ones.
constexpr std::size_t k_buffer_keep = std::size_t{1} << 20;

constexpr const char* k_backend_env = "UNSYNC_PROCESS_BACKEND";
constexpr const char* k_calls_per_rank_env = "UNSYNC_MPI_CALLS_PER_RANK";

std::mutex g_options_mutex;
mpi::Options g_options;  // guarded by g_options_mutex
// Relaxed: written once by serve_if_worker() on the main thread, before the threads that read
// them exist or before main() goes on; nothing else is published through them.
std::atomic<bool> g_serve_called{false};
std::atomic<int> g_rank{-1};
std::atomic<int> g_world_size{0};

// The options, with what the environment overrides (a launch can tune them without a rebuild).
mpi::Options options() {
    mpi::Options o;
    {
        std::lock_guard lock(g_options_mutex);
        o = g_options;
    }
    if (const char* env = std::getenv(k_calls_per_rank_env); env && *env) {
        char* end = nullptr;
        const unsigned long n = std::strtoul(env, &end, 10);
        if (*end != '\0' || n == 0) {
            throw std::invalid_argument(std::string("unsync: ") + k_calls_per_rank_env +
                                        " must be a positive number, not " + env);
        }
        o.calls_per_rank = n;
    }
    return o;
}

// The backend this launch asks for: the environment wins over the options.
mpi::Backend wanted_backend() {
    if (const char* env = std::getenv(k_backend_env); env && *env) {
        const std::string_view v(env);
        if (v == "local")
            return mpi::Backend::local;
        if (v == "mpi")
            return mpi::Backend::mpi;
        if (v != "auto") {
            throw std::invalid_argument(std::string("unsync: ") + k_backend_env +
                                        " must be auto, local or mpi, not " + env);
        }
        return mpi::Backend::automatic;
    }
    return options().backend;
}

void fail_unsent(ProcessJob* job, const char* why) noexcept {
    if (job->claim_for_cancel()) {
        job->m_fail(job, detail::make_cancelled(why));
    } else {
        job->m_discard(job);
    }
}

// ---------------------------------------------------------------------------------------------
// Ranks 1..N-1: serve calls until rank 0 says stop.
// ---------------------------------------------------------------------------------------------

[[noreturn]] void serve(std::size_t piece_size) {
    std::string first;
    std::string pieces;
    std::string reply;
    wire::Backoff backoff(k_rank_linger, k_rank_max_sleep, k_rank_deep_sleep);
    for (;;) {
        MPI_Status status;
        if (!wire::probe(0, wire::k_tag_request, status)) {
            if (const auto d = backoff.next(); d.count() > 0)
                std::this_thread::sleep_for(d);
            continue;
        }
        wire::receive_probed(status, wire::k_tag_request, first);
        wire::Message m;
        if (!wire::parse(first, m)) {
            std::fputs("unsync: a serving MPI rank received a malformed request\n", stderr);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (m.header.kind == wire::Kind::stop)
            break;
        std::string_view payload = m.inline_payload;
        if (m.header.piece_size != 0) {
            wire::receive_pieces(0, m.header, pieces);
            payload = pieces;
        }
        reply.clear();
        const auto result = detail::run_cpu_call(m.key, payload, reply);
        // The rank ends with _Exit, which skips stdio's flush: what the call printed goes now.
        std::cout.flush();
        std::fflush(nullptr);
        wire::send_message(0, wire::k_tag_reply,
                           result == detail::CallStatus::ok ? wire::Kind::ok : wire::Kind::error,
                           {}, reply, piece_size);
        for (std::string* s : {&first, &pieces, &reply}) {
            if (s->capacity() > k_buffer_keep)
                std::string().swap(*s);
        }
        backoff.reset();
    }
    MPI_Finalize();
    std::cout.flush();
    std::fflush(nullptr);
    // A serving rank is a server, not the program: it skips the program's atexit handlers.
    std::_Exit(0);
}

// ---------------------------------------------------------------------------------------------
// Rank 0: one communication thread does all its MPI work.
// ---------------------------------------------------------------------------------------------

// What a process pool that sends its calls to the ranks shares with the communication thread;
// guarded by Communicator::m_mutex.
struct PoolState {
    std::size_t live = 0;   // calls sent and not completed
    bool stopping = false;  // refuses new calls
    bool abandon = false;   // its shutdown's grace is over: complete its calls now
};

// A call on its way to, or running on, a serving rank.
struct Call {
    ProcessJob* job;  // null once the call was completed before its reply (cancelled, abandoned)
    PoolState* pool;
    std::string first;               // the first message, kept until MPI has sent it
    std::vector<MPI_Request> sends;  // empty once everything is sent
};

class Communicator {
public:
    Communicator(int world_size, const mpi::Options& o)
        : m_ranks(static_cast<std::size_t>(world_size)),
          m_calls_per_rank(o.calls_per_rank),
          m_piece_size(o.piece_size) {
        m_thread = std::thread([this] { run(); });
    }

    std::size_t serving_ranks() const noexcept { return m_ranks.size() - 1; }

    void submit(ProcessJob* job, PoolState* pool) noexcept {
        bool queued = false;
        {
            std::lock_guard lock(m_mutex);
            if (!pool->stopping && !m_stopping) {
                try {
                    m_queue.emplace_back(job, pool);
                    queued = true;
                } catch (...) {
                    // Out of memory: the call fails below like one refused.
                }
            }
        }
        if (queued) {
            m_cv.notify_one();
        } else {
            fail_unsent(job, "unsync: the process pool shut down before the call ran");
        }
    }

    // ProcessPool::shutdown for one pool: drops its calls not yet sent, waits for its running
    // ones up to the grace period, then completes them with cancelled_error (a rank's call
    // cannot be stopped; its result is dropped when it comes).
    void shutdown_pool(PoolState* pool, std::chrono::milliseconds grace) noexcept {
        std::vector<ProcessJob*> dropped;
        {
            std::lock_guard lock(m_mutex);
            if (pool->stopping)
                return;
            pool->stopping = true;
            for (auto it = m_queue.begin(); it != m_queue.end();) {
                if (it->second == pool) {
                    try {
                        dropped.push_back(it->first);
                    } catch (...) {
                        fail_unsent(it->first, "unsync: the process pool shut down");
                    }
                    it = m_queue.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (ProcessJob* job : dropped)
            fail_unsent(job, "unsync: the process pool shut down before the call was sent");
        std::unique_lock lock(m_mutex);
        if (!m_done.wait_for(lock, grace, [pool] { return pool->live == 0; })) {
            pool->abandon = true;
            m_cv.notify_one();
            m_done.wait(lock, [pool] { return pool->live == 0; });
        }
    }

    // At exit: fails calls not yet sent, waits for the running ones (then ends the job if they
    // outlast the grace period), tells every serving rank to stop.
    void stop() noexcept {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
            m_cv.notify_one();
        }
        if (m_thread.joinable())
            m_thread.join();
    }

private:
    void run();
    bool dispatch(std::unique_lock<std::mutex>& lock,
                  std::vector<std::pair<std::size_t, Call*>>& started);
    void start_sends(std::size_t rank, Call& call);
    bool progress_sends();
    bool complete_early();
    bool receive_replies(std::string& first, std::string& pieces);
    void refill();
    void complete(Call& call, std::exception_ptr error, std::string_view result, bool ok) noexcept;
    std::size_t in_flight() const noexcept;
    std::size_t free_rank() const noexcept;
    void drain_for_exit(std::string& first, std::string& pieces);

    std::mutex m_mutex;
    std::condition_variable m_cv;    // the thread waits here for calls or stop
    std::condition_variable m_done;  // shutdown_pool waits here for its calls
    std::deque<std::pair<ProcessJob*, PoolState*>> m_queue;  // guarded by m_mutex
    bool m_stopping = false;                                 // guarded by m_mutex
    // The communication thread's own (index: rank; 0 unused). A rank replies in the order it
    // got its calls.
    struct Rank {
        std::deque<Call> calls;
        std::uint64_t last_used = 0;
    };
    std::vector<Rank> m_ranks;
    std::uint64_t m_dispatches = 0;
    std::vector<std::pair<std::size_t, Call*>> m_started;  // dispatch's output, kept for reuse
    std::size_t m_calls_per_rank;
    std::size_t m_piece_size;
    std::thread m_thread;
};

std::size_t Communicator::in_flight() const noexcept {
    std::size_t n = 0;
    for (const Rank& r : m_ranks)
        n += r.calls.size();
    return n;
}

// The rank with the fewest calls (under the limit), the one unused longest among equals: a call
// goes to a rank that is free, whatever the one before it took.
std::size_t Communicator::free_rank() const noexcept {
    std::size_t best = 0;
    for (std::size_t r = 1; r < m_ranks.size(); ++r) {
        const Rank& c = m_ranks[r];
        if (c.calls.size() >= m_calls_per_rank)
            continue;
        if (best == 0 || c.calls.size() < m_ranks[best].calls.size() ||
            (c.calls.size() == m_ranks[best].calls.size() && c.last_used < m_ranks[best].last_used))
            best = r;
    }
    return best;
}

bool Communicator::dispatch(std::unique_lock<std::mutex>& lock,
                            std::vector<std::pair<std::size_t, Call*>>& started) {
    std::vector<ProcessJob*> discarded;
    bool any = false;
    while (!m_queue.empty()) {
        const std::size_t r = free_rank();
        if (r == 0)
            break;
        auto [job, pool] = m_queue.front();
        m_queue.pop_front();
        if (!job->claim_for_sending()) {
            discarded.push_back(job);  // cancelled while queued; its future is done
            continue;
        }
        ++pool->live;
        // A deque keeps its elements where they are as it grows at either end.
        m_ranks[r].calls.push_back(Call{job, pool, {}, {}});
        m_ranks[r].last_used = ++m_dispatches;
        started.emplace_back(r, &m_ranks[r].calls.back());
        any = true;
    }
    lock.unlock();
    for (ProcessJob* job : discarded)
        job->m_discard(job);
    lock.lock();
    return any || !discarded.empty();
}

void Communicator::start_sends(std::size_t rank, Call& call) {
    const ProcessJob& job = *call.job;
    const std::string_view key(job.m_key);
    call.first = wire::first_message(wire::Kind::call, key, job.m_request, m_piece_size);
    wire::Message m;
    wire::parse(call.first, m);
    const int dest = static_cast<int>(rank);
    MPI_Request request;
    MPI_Isend(call.first.data(), static_cast<int>(call.first.size()), MPI_BYTE, dest,
              wire::k_tag_request, MPI_COMM_WORLD, &request);
    call.sends.push_back(request);
    if (m.header.piece_size == 0)
        return;
    char* data = const_cast<char*>(job.m_request.data());  // MPI only reads a send buffer
    for (std::size_t at = 0; at < job.m_request.size(); at += m.header.piece_size) {
        const auto n = std::min<std::size_t>(m.header.piece_size, job.m_request.size() - at);
        MPI_Isend(data + at, static_cast<int>(n), MPI_BYTE, dest, wire::k_tag_piece, MPI_COMM_WORLD,
                  &request);
        call.sends.push_back(request);
    }
}

// Lets MPI move the requests' bytes; a request sent in full is freed, as the local pool does:
// a finished future must not keep a large argument alive.
// Sends queued calls to the ranks that are free.
void Communicator::refill() {
    m_started.clear();
    {
        std::unique_lock lock(m_mutex);
        dispatch(lock, m_started);
    }
    for (auto [rank, call] : m_started)
        start_sends(rank, *call);
}

bool Communicator::progress_sends() {
    bool any = false;
    for (Rank& r : m_ranks) {
        for (Call& call : r.calls) {
            if (call.sends.empty())
                continue;
            int done = 0;
            MPI_Testall(static_cast<int>(call.sends.size()), call.sends.data(), &done,
                        MPI_STATUSES_IGNORE);
            if (!done)
                continue;
            call.sends.clear();
            std::string().swap(call.first);
            if (call.job)
                std::string().swap(call.job->m_request);
            any = true;
        }
    }
    return any;
}

void Communicator::complete(Call& call, std::exception_ptr error, std::string_view result,
                            bool ok) noexcept {
    ProcessJob* job = std::exchange(call.job, nullptr);
    PoolState* pool = std::exchange(call.pool, nullptr);
    if (!job)
        return;
    if (ok) {
        job->m_finish(job, result);
    } else {
        job->m_fail(job, std::move(error));
    }
    std::lock_guard lock(m_mutex);
    if (--pool->live == 0)
        m_done.notify_all();
}

// Calls that end before their reply: cancelled while running, or their pool's grace is over.
// Their rank still runs them and replies; the reply is dropped. Only once MPI has sent the
// request, since the job holds the bytes it sends.
bool Communicator::complete_early() {
    std::vector<std::pair<Call*, bool>> ending;  // the call, and whether it was cancelled
    {
        std::lock_guard lock(m_mutex);
        for (Rank& r : m_ranks) {
            for (Call& call : r.calls) {
                if (!call.job || !call.sends.empty())
                    continue;
                // seq_cst: as ProcessJob::request_stop's store of the phase.
                const bool cancelled =
                    call.job->m_phase.load(std::memory_order_seq_cst) == ProcessJob::stop_requested;
                if (cancelled || call.pool->abandon)
                    ending.emplace_back(&call, cancelled);
            }
        }
    }
    for (auto [call, cancelled] : ending) {
        complete(*call,
                 cancelled ? detail::make_cancelled(
                                 "unsync: the call was cancelled while it ran on an MPI rank; "
                                 "the rank finishes it and its result is dropped")
                           : detail::make_cancelled(
                                 "unsync: the process pool shut down while the call ran on an "
                                 "MPI rank; its result is dropped"),
                 {}, false);
    }
    return !ending.empty();
}

bool Communicator::receive_replies(std::string& first, std::string& pieces) {
    bool any = false;
    for (;;) {
        MPI_Status status;
        if (!wire::probe(MPI_ANY_SOURCE, wire::k_tag_reply, status))
            return any;
        any = true;
        wire::receive_probed(status, wire::k_tag_reply, first);
        const int source = status.MPI_SOURCE;
        wire::Message m;
        Rank* rank = source > 0 && static_cast<std::size_t>(source) < m_ranks.size()
                         ? &m_ranks[static_cast<std::size_t>(source)]
                         : nullptr;
        if (!wire::parse(first, m) || !rank || rank->calls.empty() ||
            (m.header.kind != wire::Kind::ok && m.header.kind != wire::Kind::error)) {
            std::fprintf(stderr, "unsync: rank 0 received a malformed reply from rank %d\n",
                         source);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        std::string_view payload = m.inline_payload;
        if (m.header.piece_size != 0) {
            wire::receive_pieces(source, m.header, pieces);
            payload = pieces;
        }
        Call call = std::move(rank->calls.front());
        rank->calls.pop_front();
        // The rank replied, so it has received the whole call: these end without waiting.
        if (!call.sends.empty())
            MPI_Waitall(static_cast<int>(call.sends.size()), call.sends.data(),
                        MPI_STATUSES_IGNORE);
        // The rank is free: its next call goes before this one completes, whose continuations
        // may take the core from this thread.
        refill();
        if (m.header.kind == wire::Kind::ok) {
            complete(call, nullptr, payload, true);
        } else {
            complete(call, detail::rebuild_cpu_error(payload), {}, false);
        }
        for (std::string* s : {&first, &pieces}) {
            if (s->capacity() > k_buffer_keep)
                std::string().swap(*s);
        }
    }
}

void Communicator::drain_for_exit(std::string& first, std::string& pieces) {
    const auto deadline = std::chrono::steady_clock::now() + k_exit_grace;
    wire::Backoff backoff(k_caller_linger, k_caller_max_sleep, k_caller_deep_sleep);
    while (in_flight() > 0) {
        bool active = progress_sends();
        active |= complete_early();
        active |= receive_replies(first, pieces);
        if (active) {
            backoff.reset();
        } else if (std::chrono::steady_clock::now() > deadline) {
            std::fprintf(stderr,
                         "unsync: at exit, calls still ran on MPI ranks after %llds; ending the "
                         "MPI job\n",
                         static_cast<long long>(k_exit_grace.count()));
            MPI_Abort(MPI_COMM_WORLD, 1);
        } else if (const auto d = backoff.next(); d.count() > 0) {
            std::this_thread::sleep_for(d);
        }
    }
    for (std::size_t r = 1; r < m_ranks.size(); ++r)
        wire::send_message(static_cast<int>(r), wire::k_tag_request, wire::Kind::stop, {}, {},
                           m_piece_size);
}

void Communicator::run() {
    pthread_setname_np(pthread_self(), "unsync-mpi");
    wire::request_poll_slice();
    std::string first;
    std::string pieces;
    wire::Backoff backoff(k_caller_linger, k_caller_max_sleep, k_caller_deep_sleep);
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_started.clear();
        bool active = dispatch(lock, m_started);
        const bool stopping = m_stopping;
        std::deque<std::pair<ProcessJob*, PoolState*>> refused;
        if (stopping)
            refused.swap(m_queue);
        lock.unlock();
        for (auto [job, pool] : refused)
            fail_unsent(job, "unsync: the program is exiting; the call was not sent");
        for (auto [rank, call] : m_started)
            start_sends(rank, *call);
        active |= progress_sends();
        active |= complete_early();
        active |= receive_replies(first, pieces);
        if (stopping) {
            drain_for_exit(first, pieces);
            return;
        }
        if (active)
            backoff.reset();
        const bool busy = in_flight() > 0;
        lock.lock();
        auto ready = [this] { return m_stopping || (!m_queue.empty() && free_rank() != 0); };
        if (!busy) {
            // Nothing runs on the ranks: no MPI to poll, so sleep until there is a call.
            m_cv.wait(lock, ready);
        } else if (!active && !ready()) {
            if (const auto d = backoff.next(); d.count() > 0)
                m_cv.wait_for(lock, d, ready);
        }
    }
}

class MpiPool final : public detail::RemotePool {
public:
    MpiPool(Communicator& c, const ProcessPoolOptions& o) : m_comm(c), m_grace(o.shutdown_grace) {}
    ~MpiPool() override { shutdown(); }
    void submit(ProcessJob* job) noexcept override { m_comm.submit(job, &m_state); }
    void shutdown() noexcept override { m_comm.shutdown_pool(&m_state, m_grace); }
    std::size_t size() const noexcept override { return m_comm.serving_ranks(); }

private:
    Communicator& m_comm;
    std::chrono::milliseconds m_grace;
    PoolState m_state;
};

// Rank 0's communicator; never deleted, so that a pool still alive during exit can use it (its
// thread has ended by then, and new calls fail).
Communicator* g_communicator = nullptr;

void finish_at_exit() {
    g_communicator->stop();
    MPI_Finalize();
}

std::unique_ptr<detail::RemotePool> make_pool(const ProcessPoolOptions& o) {
    return std::make_unique<MpiPool>(*g_communicator, o);
}

bool serve_if_worker_over_mpi() {
    if (g_serve_called.exchange(true, std::memory_order_relaxed))
        return g_communicator != nullptr;
    const mpi::Backend backend = wanted_backend();
    if (backend == mpi::Backend::local)
        return false;
    if (backend == mpi::Backend::automatic) {
        // Not started by mpirun with several ranks: MPI is not initialized at all.
        const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
        if (!size || std::atoi(size) < 2)
            return false;
    }
    const mpi::Options o = options();
    // Rank 0 initializes MPI on this thread and then makes every MPI call on its communication
    // thread (and the final MPI_Finalize at exit), never two at once: SERIALIZED suffices.
    int provided = MPI_THREAD_SINGLE;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    int rank = 0;
    int size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (provided < MPI_THREAD_SERIALIZED) {
        if (rank == 0)
            std::fputs("unsync: this MPI library does not provide MPI_THREAD_SERIALIZED\n", stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (size < 2) {
        MPI_Finalize();
        if (backend == mpi::Backend::mpi) {
            throw invalid_state_error(std::string("unsync: ") + k_backend_env +
                                      "=mpi needs at least two ranks (mpirun -np 2 or more)");
        }
        return false;
    }
    g_rank.store(rank, std::memory_order_relaxed);
    g_world_size.store(size, std::memory_order_relaxed);
    if (rank != 0)
        serve(o.piece_size);
    g_communicator = new Communicator(size, o);
    std::atexit(&finish_at_exit);
    return true;
}

constexpr detail::RemoteBackend k_backend{&serve_if_worker_over_mpi, &make_pool};

}  // namespace

void mpi::set_options(const Options& o) {
    if (o.calls_per_rank == 0 || o.piece_size == 0)
        throw std::invalid_argument(
            "unsync::mpi::set_options: calls_per_rank and piece_size "
            "must be at least 1");
    if (g_serve_called.load(std::memory_order_relaxed)) {
        throw invalid_state_error(
            "unsync::mpi::set_options() must be called before unsync::serve_if_worker()");
    }
    std::lock_guard lock(g_options_mutex);
    g_options = o;
}

int mpi::rank() noexcept {
    return g_rank.load(std::memory_order_relaxed);
}

int mpi::world_size() noexcept {
    return g_world_size.load(std::memory_order_relaxed);
}

}  // namespace unsync

// Linking unsync::mpi puts this symbol on the link line as undefined (-Wl,--undefined), so a
// static link keeps this object, and with it the registration below, which nothing else names.
extern "C" UNSYNC_MPI_EXPORT const int unsync_mpi_linked = 1;

namespace {
[[maybe_unused]] const bool g_registered = [] {
    unsync::detail::register_remote_backend(&unsync::k_backend);
    return true;
}();
}  // namespace
