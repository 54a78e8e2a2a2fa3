// expect: only works inside a coroutine that returns unsync::Unfuture<T>
#include <coroutine>

#include <unsync/unsync.hpp>

struct Task {
    struct promise_type {
        Task get_return_object() { return {}; }
        std::suspend_never initial_suspend() { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() {}
        void unhandled_exception() {}
    };
};

Task not_an_unsync_coroutine(unsync::Unfuture<int> f) {
    co_await f;
}

int main() {}
