#pragma once
/// @file
/// unsync::use_unfuture: the Asio completion token that makes an operation return an Unfuture.

#include <type_traits>
#include <utility>

#include <asio/async_result.hpp>
#include <asio/io_context.hpp>

#include <unsync/detail/asio_op.hpp>
#include <unsync/runtime.hpp>
#include <unsync/unfuture.hpp>

namespace unsync {

/// The type of unsync::use_unfuture.
struct UseUnfuture {};

/// An Asio completion token: an Asio asynchronous operation started on
/// unsync::loop().io_context() with it returns an Unfuture, which a coroutine co_awaits and plain
/// code blocks on with result().
///
/// @code
/// std::size_t n = co_await socket.async_read_some(asio::buffer(data), unsync::use_unfuture);
/// @endcode
///
/// The future's type follows the completion signature: a leading error_code (or exception_ptr)
/// becomes the exception (std::system_error), one remaining argument the value, several a
/// tuple, none void. Cancelling the Unfuture cancels the operation through Asio's per-operation
/// cancellation (the future then fails with cancelled_error); an operation without it runs to
/// its end. Start operations from unsync coroutines (the loop thread): Asio I/O objects are not
/// thread-safe. The completion runs on the loop thread. After shutdown() an operation is not
/// started and its future fails with cancelled_error.
inline constexpr UseUnfuture use_unfuture{};

}  // namespace unsync

namespace asio {

template <class... Args>
class async_result<unsync::UseUnfuture, void(Args...)> {
public:
    using value_type = typename unsync::detail::AsioSignature<std::decay_t<Args>...>::value;
    using return_type = unsync::Unfuture<value_type>;

    template <class Initiation, class... InitArgs>
    static return_type initiate(Initiation&& initiation, unsync::UseUnfuture, InitArgs&&... args) {
        auto* op = new unsync::detail::AsioOp<value_type>();
        return_type future = unsync::detail::adopt_state<value_type>(op);
        unsync::detail::AsioHandler<value_type> handler(op);
        // After shutdown the loop runs no I/O: the dropped handler fails the future instead.
        if (unsync::detail::register_asio_op(op)) {
            std::move(initiation)(std::move(handler), std::forward<InitArgs>(args)...);
        }
        return future;
    }
};

}  // namespace asio
