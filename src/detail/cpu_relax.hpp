#pragma once
// A pause between polls of a shared word in a bounded spin: lets the sibling hyperthread run and
// saves power. Private to the library's sources.

namespace unsync::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

}  // namespace unsync::detail
