#pragma once
/// @file
/// Waiting for several futures: unsync::gather() (all of them), unsync::when_any() (the first),
/// unsync::as_completed() (each in the order they finish).
///
/// Each returns Unfutures, so a coroutine `co_await`s them and plain code calls `result()`.
/// They may be called from any thread; the work runs on the loop, where a small watcher task
/// per input follows its completion.
/// @code
/// const auto [count, name] = unsync::gather(after(20ms, 3), name_of(7)).result();
/// const auto [index, value] = unsync::when_any(after(300ms, 1), after(10ms, 2)).result();
/// for (auto& next : unsync::as_completed(futures))
///     std::cout << next.result() << '\n';
/// @endcode

#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <unsync/errors.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// The type of unsync::return_exceptions.
struct ReturnExceptions {};
/// Selects the gather() that keeps going past failures and hands back the done futures, like
/// asyncio's `return_exceptions=True`: `gather(unsync::return_exceptions, futures)`.
inline constexpr ReturnExceptions return_exceptions{};

/// What a future contributes to a gathered tuple or vector: its value, `std::monostate` for
/// `void`.
template <class T>
using gathered_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

namespace detail {

// Shared by a combinator and its watchers; the watchers may outlive the combinator (when it is
// cancelled or returns early), hence shared ownership. Touched on the loop thread only.
struct Race {
    Unfuture<void> signal;  // completed when the combinator should look again
    std::size_t remaining = 0;
    std::size_t first_failed = static_cast<std::size_t>(-1);
    std::size_t first_done = static_cast<std::size_t>(-1);
    std::size_t next_slot = 0;  // as_completed
};

inline void wake(Race& race) noexcept {
    if (race.signal.done())
        return;
    try {
        race.signal.set_result();
    } catch (...) {
        // Cancelled meanwhile: the combinator is already on its way out.
    }
}

// Records a completion; wakes the combinator when all are done or, with stop_on_error, at the
// first failure, or, with stop_on_first, at the first completion.
template <class T>
Unfuture<void> watch(Unfuture<T> f, std::size_t index, std::shared_ptr<Race> race,
                     bool stop_on_error, bool stop_on_first) {
    co_await f.when_done();
    if (race->first_done == static_cast<std::size_t>(-1))
        race->first_done = index;
    const bool bad = f.exception() != nullptr;
    if (bad && race->first_failed == static_cast<std::size_t>(-1))
        race->first_failed = index;
    if (--race->remaining == 0 || stop_on_first || (bad && stop_on_error))
        wake(*race);
}

template <class T>
gathered_t<T> take(Unfuture<T>& f) {
    if constexpr (std::is_void_v<T>) {
        std::move(f).result();
        return {};
    } else {
        return std::move(f).result();
    }
}

// Cancels the inputs unless dismissed: the combinator is leaving early (failure, first result,
// or its own cancellation).
template <class Range>
struct CancelOthers {
    Range& futures;
    bool armed = true;
    ~CancelOthers() {
        if (!armed)
            return;
        for (auto& f : futures)
            f.cancel();
    }
};

template <class T>
std::shared_ptr<Race> start_watchers(std::vector<Unfuture<T>>& futures, bool stop_on_error,
                                     bool stop_on_first) {
    auto race = std::make_shared<Race>();
    race->remaining = futures.size();
    for (std::size_t i = 0; i < futures.size(); ++i) {
        // The watcher runs by itself; its own future is not needed.
        (void)watch(futures[i], i, race, stop_on_error, stop_on_first);
    }
    return race;
}

template <class T>
Unfuture<std::vector<gathered_t<T>>> gather_range(RunWhenCancelled,
                                                  std::vector<Unfuture<T>> futures) {
    if (futures.empty())
        co_return std::vector<gathered_t<T>>{};
    auto race = start_watchers(futures, true, false);
    CancelOthers<std::vector<Unfuture<T>>> guard{futures};
    co_await race->signal.when_done();
    if (race->first_failed != static_cast<std::size_t>(-1)) {
        // The first exception wins; the guard cancels the rest.
        futures[race->first_failed].result();
    }
    guard.armed = false;
    std::vector<gathered_t<T>> out;
    out.reserve(futures.size());
    for (auto& f : futures)
        out.push_back(take(f));
    co_return out;
}

template <class T>
Unfuture<std::vector<Unfuture<T>>> gather_settled(RunWhenCancelled,
                                                  std::vector<Unfuture<T>> futures) {
    if (futures.empty())
        co_return std::vector<Unfuture<T>>{};
    auto race = start_watchers(futures, false, false);
    CancelOthers<std::vector<Unfuture<T>>> guard{futures};
    co_await race->signal.when_done();
    guard.armed = false;
    co_return std::move(futures);
}

template <class T>
Unfuture<std::pair<std::size_t, gathered_t<T>>> when_any_range(RunWhenCancelled,
                                                               std::vector<Unfuture<T>> futures) {
    if (futures.empty())
        throw std::invalid_argument("unsync::when_any needs at least one future");
    auto race = start_watchers(futures, false, true);
    CancelOthers<std::vector<Unfuture<T>>> guard{futures};
    co_await race->signal.when_done();
    const std::size_t index = race->first_done;
    // The winner is done: cancelling it is a no-op, the others stop.
    co_return std::pair<std::size_t, gathered_t<T>>(index, take(futures[index]));
}

template <class T>
Unfuture<void> forward_in_order(Unfuture<T> in, std::shared_ptr<std::vector<Unfuture<T>>> out,
                                std::shared_ptr<Race> race) {
    co_await in.when_done();
    Unfuture<T>& slot = (*out)[race->next_slot++];
    try {
        if constexpr (std::is_void_v<T>) {
            std::move(in).result();
            slot.set_result();
        } else {
            slot.set_result(std::move(in).result());
        }
    } catch (...) {
        slot.set_exception(std::current_exception());
    }
}

template <class... T>
std::vector<Unfuture<void>> as_void(Unfuture<T>&... fs) {
    std::vector<Unfuture<void>> out;
    out.reserve(sizeof...(T));
    (out.push_back(fs.then([](Unfuture<T>& f) { f.result(); })), ...);
    return out;
}

template <class... T>
Unfuture<std::tuple<gathered_t<T>...>> gather_tuple(RunWhenCancelled, Unfuture<T>... fs) {
    // Waits on void views of the inputs, then takes each value; a failure cancels the rest.
    std::vector<Unfuture<void>> all = as_void(fs...);
    try {
        co_await gather_range(RunWhenCancelled{"gather"}, std::move(all));
    } catch (...) {
        (fs.cancel(), ...);
        throw;
    }
    co_return std::tuple<gathered_t<T>...>(take(fs)...);
}

}  // namespace detail

/// All of them: the values in input order, once every input is done.
///
/// The first failure wins: the result fails with its exception at once, and the other inputs
/// are cancelled. Cancelling the result cancels every input. An empty vector gives an empty
/// vector.
/// @return a future of the values (`std::monostate` for a `void` input).
template <class T>
Unfuture<std::vector<gathered_t<T>>> gather(std::vector<Unfuture<T>> futures) {
    return detail::gather_range(detail::RunWhenCancelled{"gather"}, std::move(futures));
}
/// All of them, of mixed types: as gather() of a vector, but the values come as a tuple.
/// @return a future of the values in argument order (`std::monostate` for a `void` input).
template <class... T>
requires(sizeof...(T) > 0) Unfuture<std::tuple<gathered_t<T>...>> gather(Unfuture<T>... futures) {
    return detail::gather_tuple(detail::RunWhenCancelled{"gather"}, std::move(futures)...);
}
/// All of them, failures included, like asyncio's `return_exceptions=True`: the result is done
/// once every input is, and holds the inputs, each done with its value or its exception.
/// Cancelling the result cancels every input.
template <class T>
Unfuture<std::vector<Unfuture<T>>> gather(ReturnExceptions, std::vector<Unfuture<T>> futures) {
    return detail::gather_settled(detail::RunWhenCancelled{"gather"}, std::move(futures));
}

/// The first to finish: its index and its value (or its exception); the others are cancelled.
///
/// Cancelling the result cancels every input. With an empty vector the result fails with
/// `std::invalid_argument`.
/// @return a future of the winner's index in `futures` and its value (`std::monostate` for
///         `void`).
template <class T>
Unfuture<std::pair<std::size_t, gathered_t<T>>> when_any(std::vector<Unfuture<T>> futures) {
    return detail::when_any_range(detail::RunWhenCancelled{"when_any"}, std::move(futures));
}
/// The first to finish, of futures of one type given as arguments: as when_any() of a vector.
template <class T, class... Rest>
requires(std::is_same_v<T, Rest>&&...) Unfuture<std::pair<std::size_t, gathered_t<T>>> when_any(
    Unfuture<T> first, Unfuture<Rest>... rest) {
    return detail::when_any_range(detail::RunWhenCancelled{"when_any"},
                                  std::vector<Unfuture<T>>{std::move(first), std::move(rest)...});
}

/// Futures that complete in the order the inputs finish: the first one returned is done first.
///
/// Each carries the value (or exception) of the input that finished at that place. The inputs
/// are shared, not consumed, and nothing cancels them: cancelling a returned future, or
/// dropping it, leaves the inputs running.
/// @return as many futures as there are inputs.
template <class T>
std::vector<Unfuture<T>> as_completed(const std::vector<Unfuture<T>>& futures) {
    auto out = std::make_shared<std::vector<Unfuture<T>>>(futures.size());
    auto race = std::make_shared<detail::Race>();
    for (const auto& f : futures)
        (void)detail::forward_in_order(f, out, race);
    return *out;
}

}  // namespace unsync
