#pragma once
// CPU-bound functions in worker processes: the seed's @unsync(cpu_bound=True). Workers are fresh
// executions of the same program, so a crash, a leak or global state in one call cannot reach
// the caller. Arguments and results cross the process boundary serialized with cereal.
//
//     int fib(int n);
//     constexpr auto fib_cpu = unsync::cpu_bound<&fib>;   // the one declaration
//     int main() {
//         unsync::serve_if_worker();                       // the one line in main
//         std::cout << fib_cpu(30).result();
//     }

#include <cstddef>
#include <istream>
#include <new>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#if !__has_include(<cereal/archives/binary.hpp>)
#error "unsync: <unsync/process_pool.hpp> (cpu_bound) needs cereal: apt-get install libcereal-dev"
#endif
#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include <unsync/detail/process_job.hpp>
#include <unsync/detail/state.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

// In a worker process started by a ProcessPool, serves calls and never returns; anywhere else it
// returns at once. Call it first thing in main(), before anything with side effects.
UNSYNC_EXPORT void serve_if_worker();

class ProcessPool;
namespace detail {
// In the child of a fork(): closes the child's copies of the pool's channels to its workers
// (the workers are the parent's), without touching its threads, which the child lacks.
void forget_process_pool_after_fork(ProcessPool& pool) noexcept;
}  // namespace detail

class UNSYNC_EXPORT ProcessPool {
public:
    explicit ProcessPool(ProcessPoolOptions options = {});
    // Drops calls not yet sent, waits for the ones running, and ends the workers.
    ~ProcessPool();
    ProcessPool(const ProcessPool&) = delete;
    ProcessPool& operator=(const ProcessPool&) = delete;

    std::size_t size() const noexcept;
    // Process ids of the workers alive now (started on demand, replaced when one dies).
    std::vector<int> worker_pids() const;
    // Drops calls not yet sent (cancelled_error), waits for the running ones, ends the workers,
    // and refuses later calls the same way. Idempotent.
    void shutdown() noexcept;

    // Low level: takes ownership of the job's reference.
    void submit_job(detail::ProcessJob* job) noexcept;

    struct Impl;

private:
    friend void detail::forget_process_pool_after_fork(ProcessPool& pool) noexcept;
    std::unique_ptr<Impl> m_impl;
};

// The ambient process pool; started on first use (size from Options::process_pool).
UNSYNC_EXPORT ProcessPool& process_executor();

namespace detail {

// Streams over a string, without the copies std::stringstream makes of 64 MiB payloads.
class StringSink : public std::streambuf {
public:
    explicit StringSink(std::string& out) : m_out(out) {}

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        m_out.append(s, static_cast<std::size_t>(n));
        return n;
    }
    int_type overflow(int_type c) override {
        if (!traits_type::eq_int_type(c, traits_type::eof()))
            m_out.push_back(static_cast<char>(c));
        return traits_type::not_eof(c);
    }

private:
    std::string& m_out;
};

class StringSource : public std::streambuf {
public:
    explicit StringSource(std::string_view in) {
        char* p = const_cast<char*>(in.data());  // read-only: no put area is ever set
        setg(p, p, p + in.size());
    }
};

template <class... T>
void serialize_to(std::string& out, T&... values) {
    StringSink sink(out);
    std::ostream os(&sink);
    cereal::BinaryOutputArchive archive(os);
    archive(values...);
}

template <class... T>
void deserialize_from(std::string_view in, T&... values) {
    StringSource source(in);
    std::istream is(&source);
    cereal::BinaryInputArchive archive(is);
    archive(values...);
}

using CpuEntry = void (*)(std::string_view request, std::string& reply);
// Registers a CPU-bound function under a key unique to it (its type name alone is not: two
// files may each have a `compute` with internal linkage); returns the key its calls use, null
// when out of memory.
UNSYNC_EXPORT const char* register_cpu_entry(const char* type_name, CpuEntry entry) noexcept;

template <class T>
inline constexpr bool serializable_v =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value&&
        cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

template <class T>
struct FnTraits {
    static constexpr bool is_function = false;
};
template <class R, class... P>
struct FnTraits<R (*)(P...)> {
    static constexpr bool is_function = true;
    using Result = R;
    using Args = std::tuple<std::decay_t<P>...>;
    static constexpr bool no_mutable_refs =
        (!(std::is_lvalue_reference_v<P> && !std::is_const_v<std::remove_reference_t<P>>)&&...);
};
template <class R, class... P>
struct FnTraits<R (*)(P...) noexcept> : FnTraits<R (*)(P...)> {};

template <class T>
constexpr bool check_value_type() {
    static_assert(std::is_default_constructible_v<T>,
                  "unsync::cpu_bound: argument and result types must be default-constructible "
                  "(cereal loads into an existing object)");
    static_assert(serializable_v<T>,
                  "unsync::cpu_bound: cereal cannot serialize this argument or result type; give "
                  "it a serialize(Archive&) member (or save/load), or include the matching "
                  "<cereal/types/...> header for a standard type");
    return true;
}

template <class Tuple>
struct CheckArgs;
template <class... A>
struct CheckArgs<std::tuple<A...>> {
    static constexpr bool value = (check_value_type<A>() && ... && true);
};

template <auto F>
struct CpuTag {};

template <auto F>
struct CpuFunction {
    using Traits = FnTraits<decltype(F)>;
    static_assert(Traits::is_function,
                  "unsync::cpu_bound<&f> takes the address of a free (or static member) function");
    // A const result is returned by value all the same; cereal loads into a mutable object.
    using R = std::remove_cv_t<typename Traits::Result>;
    using Args = typename Traits::Args;
    static_assert(!IsUnfuture<std::remove_cvref_t<R>>::value,
                  "unsync::cpu_bound: a coroutine cannot run in a worker process; mark the plain "
                  "function it calls as CPU-bound instead");
    static_assert(!std::is_reference_v<R> && !std::is_pointer_v<R>,
                  "unsync::cpu_bound: the result crosses a process boundary; return a value");
    static_assert(Traits::no_mutable_refs,
                  "unsync::cpu_bound: the function runs in another process, so a non-const "
                  "reference parameter could not change the caller's object; take it by value");
    static_assert(CheckArgs<Args>::value);
    static constexpr bool check_result() {
        if constexpr (std::is_void_v<R>) {
            return true;
        } else {
            return check_value_type<R>();
        }
    }
    static_assert(check_result());

    // Runs in the worker.
    static void entry(std::string_view request, std::string& reply) {
        Args args;
        deserialize_from(request, args);
        if constexpr (std::is_void_v<R>) {
            std::apply(F, std::move(args));
        } else {
            R result = std::apply(F, std::move(args));
            serialize_to(reply, result);
        }
    }

    // Initialized at start-up in every process of this program, the workers included, because
    // calling the function odr-uses it.
    static inline const char* const key = register_cpu_entry(typeid(CpuTag<F>).name(), &entry);
};

template <class R>
class ProcessTask final : public State<R>, public ProcessJob {
public:
    ProcessTask(const char* key, std::string request)
        : State<R>(&k_ops, 2, StateBase::k_claimed),
          ProcessJob(key, std::move(request), &finish, &fail, &discard) {}

private:
    // A call not yet sent is dropped; one a worker runs ends with its worker, which the proxy
    // kills and replaces.
    static bool cancel(StateBase* s) noexcept {
        auto* self = static_cast<ProcessTask*>(s);
        if (!self->claim_for_cancel())
            return self->request_stop();
        self->set_error(make_cancelled("unsync: cancelled before the call was sent to a worker"));
        self->complete();
        return true;
    }
    static void discard(ProcessJob* job) noexcept { static_cast<ProcessTask*>(job)->release(); }
    static void finish(ProcessJob* job, std::string_view reply) noexcept {
        auto* self = static_cast<ProcessTask*>(job);
        try {
            if constexpr (std::is_void_v<R>) {
                self->set_value();
            } else {
                R result{};
                deserialize_from(reply, result);
                self->set_value(std::move(result));
            }
        } catch (...) {
            self->set_error(std::current_exception());
        }
        self->complete(true);
    }
    static void fail(ProcessJob* job, std::exception_ptr error) noexcept {
        auto* self = static_cast<ProcessTask*>(job);
        self->set_error(std::move(error));
        self->complete(true);
    }
    static void destroy(StateBase* s) noexcept { delete static_cast<ProcessTask*>(s); }
    static constexpr StateBase::Ops k_ops{&destroy, &cancel, nullptr};
};

template <auto F>
class CpuBound {
    using Fn = CpuFunction<F>;

public:
    // Arguments are converted to the function's parameter types and serialized now.
    template <class... A>
    Unfuture<typename Fn::R> operator()(A&&... args) const {
        static_assert(std::is_constructible_v<typename Fn::Args, A&&...>,
                      "unsync::cpu_bound: these arguments do not match the function's parameters");
        if (!Fn::key)
            throw std::bad_alloc();  // the registration at start-up ran out of memory
        typename Fn::Args values(std::forward<A>(args)...);
        std::string request;
        serialize_to(request, values);
        auto* task = new ProcessTask<typename Fn::R>(Fn::key, std::move(request));
        process_executor().submit_job(task);
        return adopt_state<typename Fn::R>(task);
    }
};

}  // namespace detail

// `constexpr auto f_cpu = unsync::cpu_bound<&f>;` marks f CPU-bound: f_cpu(args...) returns
// Unfuture<R> at once and runs f in a worker process of process_executor().
template <auto F>
inline constexpr detail::CpuBound<F> cpu_bound{};

}  // namespace unsync
