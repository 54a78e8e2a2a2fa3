#pragma once
// The state of one cpu_bound call: the future's shared state and the job the pool sends, one
// allocation. The pool completes it from the reply (or the worker's failure).

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <unsync/detail/process_codec.hpp>
#include <unsync/detail/process_job.hpp>
#include <unsync/detail/state.hpp>

namespace unsync::detail {

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

}  // namespace unsync::detail
