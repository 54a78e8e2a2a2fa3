#include <unsync/detail/process_codec.hpp>

#include <cxxabi.h>
#include <dlfcn.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <ios>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <typeinfo>
#include <variant>
#include <vector>

#include <unsync/errors.hpp>

namespace unsync::detail {

namespace {

std::map<std::string, CpuEntry, std::less<>>& registry() {
    static std::map<std::string, CpuEntry, std::less<>> entries;
    return entries;
}

// Keys that two different functions claimed (guarded by registry_mutex): calls through them fail.
std::vector<std::string>& collisions() {
    static std::vector<std::string> keys;
    return keys;
}

std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}

std::string demangle(const char* name) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                               std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(name);
}

std::string collision_message(std::string_view key) {
    return "unsync: two CPU-bound functions of this program share the identity " +
           std::string(key) + "; rename one of them";
}

// The category of an error code, by the name the worker sent; null for one this process cannot
// name (a program's own category): such an error arrives as remote_error.
const std::error_category* category_named(std::string_view name) {
    for (const std::error_category* c : {&std::generic_category(), &std::system_category(),
                                         &std::iostream_category(), &std::future_category()}) {
        if (name == c->name())
            return c;
    }
    return nullptr;
}

// system_error's what() is "<what_arg>: <message>"; the constructor appends the message again.
std::string what_arg_of(const std::string& what, const std::error_code& ec) {
    const std::string suffix = ": " + ec.message();
    if (what.size() >= suffix.size() &&
        what.compare(what.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return what.substr(0, what.size() - suffix.size());
    }
    return what == ec.message() ? std::string() : what;
}

// The std exceptions an error reply is rebuilt as, by exact (demangled) type name.
struct RebuiltError {
    std::string_view type;
    std::exception_ptr (*make)(const std::string& what);
};

template <class E>
std::exception_ptr with_what(const std::string& what) {
    return std::make_exception_ptr(E(what));
}
// Their what() is fixed by the library: the type is all there is to rebuild.
template <class E>
std::exception_ptr fixed_what(const std::string&) {
    return std::make_exception_ptr(E());
}

constexpr std::array k_rebuilt_errors{
    RebuiltError{"std::runtime_error", &with_what<std::runtime_error>},
    RebuiltError{"std::logic_error", &with_what<std::logic_error>},
    RebuiltError{"std::invalid_argument", &with_what<std::invalid_argument>},
    RebuiltError{"std::domain_error", &with_what<std::domain_error>},
    RebuiltError{"std::length_error", &with_what<std::length_error>},
    RebuiltError{"std::out_of_range", &with_what<std::out_of_range>},
    RebuiltError{"std::range_error", &with_what<std::range_error>},
    RebuiltError{"std::overflow_error", &with_what<std::overflow_error>},
    RebuiltError{"std::underflow_error", &with_what<std::underflow_error>},
    RebuiltError{"std::bad_alloc", &fixed_what<std::bad_alloc>},
    RebuiltError{"std::bad_array_new_length", &fixed_what<std::bad_array_new_length>},
    RebuiltError{"std::bad_cast", &fixed_what<std::bad_cast>},
    RebuiltError{"std::bad_typeid", &fixed_what<std::bad_typeid>},
    RebuiltError{"std::bad_function_call", &fixed_what<std::bad_function_call>},
    RebuiltError{"std::bad_optional_access", &fixed_what<std::bad_optional_access>},
    RebuiltError{"std::bad_variant_access", &fixed_what<std::bad_variant_access>},
    RebuiltError{"std::bad_weak_ptr", &fixed_what<std::bad_weak_ptr>},
    RebuiltError{"std::bad_exception", &fixed_what<std::bad_exception>},
};

}  // namespace

// A function's identity across the process boundary: its type name (which two functions of the
// same name with internal linkage share), made unique by the entry's offset in its loaded module
// (the same in the workers, which run the same program). Two functions that still share the key
// leave a collision behind, and their calls fail instead of running the wrong one.
const char* register_cpu_entry(const char* type_name, CpuEntry entry) noexcept {
    try {
        std::string key = type_name;
        Dl_info info{};
        // The function pointer's address, converted as POSIX allows for dladdr.
        const void* address = reinterpret_cast<const void*>(entry);
        if (::dladdr(address, &info) != 0 && info.dli_fbase) {
            char offset[32];
            std::snprintf(offset, sizeof offset, "+%zx",
                          static_cast<std::size_t>(static_cast<const char*>(address) -
                                                   static_cast<const char*>(info.dli_fbase)));
            key += offset;
        }
        std::lock_guard lock(registry_mutex());
        auto [it, inserted] = registry().emplace(std::move(key), entry);
        if (!inserted && it->second != entry) {
            collisions().push_back(it->first);
            auto [bad, unused] = registry().emplace(it->first + "#collision", nullptr);
            (void)unused;
            return bad->first.c_str();
        }
        return it->first.c_str();  // map nodes do not move
    } catch (...) {
        return nullptr;
    }
}

void check_cpu_registry() {
    std::lock_guard lock(registry_mutex());
    if (!collisions().empty())
        throw invalid_state_error(collision_message(collisions().front()));
}

CallStatus run_cpu_call(std::string_view key, std::string_view request, std::string& reply) {
    CpuEntry entry = nullptr;
    {
        std::lock_guard lock(registry_mutex());
        auto it = registry().find(key);
        if (it != registry().end())
            entry = it->second;
    }
    std::string type;
    std::string what;
    // An error code travels with its value and its category's name, so that the caller can
    // rebuild system_error, ios_base::failure and future_error with the same code.
    int code = 0;
    std::string category;
    try {
        if (key.find("#collision") != std::string_view::npos)
            throw std::logic_error(collision_message(key));
        if (!entry) {
            throw std::logic_error("unsync: this program has no CPU-bound function " +
                                   std::string(key) + " (is the worker the same program?)");
        }
        entry(request, reply);
        return CallStatus::ok;
    } catch (const std::system_error& e) {
        type = demangle(typeid(e).name());
        what = e.what();
        code = e.code().value();
        category = e.code().category().name();
    } catch (const std::future_error& e) {
        type = demangle(typeid(e).name());
        what = e.what();
        code = e.code().value();
        category = e.code().category().name();
    } catch (const std::exception& e) {
        type = demangle(typeid(e).name());
        what = e.what();
    } catch (...) {
        const std::type_info* t = abi::__cxa_current_exception_type();
        type = t ? demangle(t->name()) : "unknown exception";
    }
    reply.clear();
    serialize_to(reply, type, what, code, category);
    return CallStatus::error;
}

std::exception_ptr rebuild_cpu_error(std::string_view reply) noexcept {
    try {
        std::string type;
        std::string what;
        int code = 0;
        std::string category;
        try {
            deserialize_from(reply, type, what, code, category);
        } catch (...) {
            return std::make_exception_ptr(
                broken_worker_error("unsync: unreadable error from worker"));
        }
        for (const RebuiltError& e : k_rebuilt_errors) {
            if (e.type == type)
                return e.make(what);
        }
        if (const std::error_category* cat = category_named(category)) {
            const std::error_code ec(code, *cat);
            if (type == "std::system_error")
                return std::make_exception_ptr(std::system_error(ec, what_arg_of(what, ec)));
            if (type == "std::future_error" && cat == &std::future_category()) {
                return std::make_exception_ptr(
                    std::future_error(static_cast<std::future_errc>(code)));
            }
            if (type.starts_with("std::ios_base::failure"))
                return std::make_exception_ptr(std::ios_base::failure(what_arg_of(what, ec), ec));
        }
        return std::make_exception_ptr(remote_error(std::move(type), what));
    } catch (...) {
        return std::current_exception();  // out of memory while rebuilding: that is the error
    }
}

}  // namespace unsync::detail
