#pragma once
// The process pool's codec, shared by every backend that runs CPU-bound calls elsewhere (the
// local worker processes, the ranks of an MPI job): how a function is named across processes,
// how its arguments and result are serialized (cereal's binary archive), and how a call runs and
// its exception travels back.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <istream>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#if !__has_include(<cereal/archives/binary.hpp>)
#error "unsync: <unsync/process_pool.hpp> (cpu_bound) needs cereal: apt-get install libcereal-dev"
#endif
#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include <unsync/detail/state.hpp>
#include <unsync/export.hpp>
#include <unsync/unfuture.hpp>

namespace unsync::detail {

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

// How a call ended, as its reply says: the payload is the serialized result, or the error.
enum class CallStatus : std::uint32_t { ok = 0, error = 1 };

// Runs the call that key names on the serialized arguments, in the process that serves it; the
// reply holds the result, or for an exception its type name, what() and error code. Throws only
// when even the error cannot be serialized (out of memory).
UNSYNC_EXPORT CallStatus run_cpu_call(std::string_view key, std::string_view request,
                                      std::string& reply);

// In the caller: the exception an error reply stands for. The std exceptions come back as their
// own type (with their error code), any other as remote_error naming it.
UNSYNC_EXPORT std::exception_ptr rebuild_cpu_error(std::string_view reply) noexcept;

// Throws invalid_state_error when two CPU-bound functions of this program share a key; a process
// that serves calls checks it before it serves.
UNSYNC_EXPORT void check_cpu_registry();

}  // namespace unsync::detail
