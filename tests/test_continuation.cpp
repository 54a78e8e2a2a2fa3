// The continuation concepts: which callables then() takes, and in which form it calls them.

#include <unsync/continuation.hpp>
#include <unsync/unsync.hpp>

#include <gtest/gtest.h>

#include "support.hpp"

#include <memory>
#include <string>

using unsync::future_continuation;
using unsync::Unfuture;
using unsync::value_continuation;
using unsync_test::kWait;

namespace {

struct TakesBoth {
    int operator()(Unfuture<int>&) const { return 1; }
    int operator()(int) const { return 2; }
};

}  // namespace

TEST(Continuation, ClassifiesByWhatTheCallableTakes) {
    auto by_future = [](Unfuture<int>& f) { return f.result(); };
    auto by_value = [](int v) { return v; };
    auto by_ref = [](const std::unique_ptr<int>& p) { return *p; };
    auto nothing = [] {};
    auto wrong = [](std::string) {};

    static_assert(future_continuation<decltype(by_future), int>);
    static_assert(!value_continuation<decltype(by_future), int>);
    static_assert(value_continuation<decltype(by_value), int>);
    static_assert(!future_continuation<decltype(by_value), int>);
    static_assert(value_continuation<decltype(by_ref), std::unique_ptr<int>>);
    static_assert(value_continuation<decltype(nothing), void>);
    static_assert(!value_continuation<decltype(nothing), int>);
    static_assert(!unsync::continuation<decltype(wrong), int>);
    static_assert(!unsync::continuation<decltype(by_value), void>);
    // A callable that takes both forms is called with the future, as Python unsync calls it.
    static_assert(future_continuation<TakesBoth, int> && value_continuation<TakesBoth, int>);
    SUCCEED();
}

TEST(Continuation, ACallableTakingBothFormsGetsTheFuture) {
    EXPECT_EQ(Unfuture<int>::from_value(5).then(TakesBoth{}).result(kWait), 1);
}

TEST(Continuation, AValueContinuationGetsTheValue) {
    EXPECT_EQ(Unfuture<int>::from_value(5).then([](int v) { return v * 2; }).result(kWait), 10);
}
