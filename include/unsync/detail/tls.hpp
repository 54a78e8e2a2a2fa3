#pragma once
// The library is compiled as position-independent code (it may go into a shared object), where a
// thread_local defaults to the general-dynamic model: a call to __tls_get_addr, and registers
// saved around it, on every hot path that reaches the loop or the frame pool. The initial-exec
// model reads it at a fixed offset from the thread pointer instead. It assumes the library is
// loaded with the program (linked, not dlopen()ed late into a process whose static TLS space is
// used up), which is how it is meant to be used.
// Written first in the declaration, before static, constinit and thread_local.
#define UNSYNC_INITIAL_EXEC [[gnu::tls_model("initial-exec")]]
