#include <unsync/detail/frame_pool.hpp>

#include <sys/mman.h>

#include <array>
#include <mutex>

#include <pthread.h>
#include <new>
#include <utility>

#include <unsync/detail/tls.hpp>

#include "detail/cpu_relax.hpp"

// Under AddressSanitizer every frame is its own allocation, so that use-after-free and leaks of
// frames are still found.
#if defined(__SANITIZE_ADDRESS__)
#define UNSYNC_FRAME_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNSYNC_FRAME_POOL 0
#endif
#endif
#ifndef UNSYNC_FRAME_POOL
#define UNSYNC_FRAME_POOL 1
#endif

// LeakSanitizer's interface, when it is linked in (a weak reference: null otherwise).
extern "C" [[gnu::weak]] void __lsan_register_root_region(const void* p, std::size_t size);

namespace unsync::detail {

namespace {

constexpr std::size_t k_granule = frame_pool_granule;
constexpr std::size_t k_classes = frame_pool_classes;
// Blocks a thread takes from or gives to the depot at once; it keeps at most twice as many.
constexpr std::size_t k_batch = 32;
static_assert(frame_pool_keep == 2 * k_batch);
// Fresh blocks are cut from chunks (mapped memory) this big at first; chunks are never returned
// (blocks are reused).
constexpr std::size_t k_chunk = 64 * 1024;
// Past the first chunks, memory comes in regions of half this size, then this size, mapped with
// their pages populated: the kernel fills a region in one call for about 30% less than first touch
// costs, a fault per page (1.7 vs 2.4 us per page on a VM, the same from 128 KiB to 2 MiB). Small
// enough that the thread that maps one pauses well under a millisecond. A program keeps at most
// two regions partly unused (the current one and a spare).
constexpr unsigned k_chunks_before_regions = 4;
constexpr std::size_t k_region_max = 256 * 1024;

using Block = FrameBlock;
using List = FrameList;

// The lists' operations, here rather than on FrameList: the header keeps only what the inlined
// common case needs.
void push(List& l, Block* b) noexcept {
    b->m_next = l.m_head;
    l.m_head = b;
    ++l.m_size;
}
Block* pop(List& l) noexcept {
    Block* b = l.m_head;
    l.m_head = b->m_next;
    --l.m_size;
    return b;
}
// Moves up to n blocks into a list of their own.
List split(List& l, std::size_t n) noexcept {
    List out;
    while (out.m_size < n && l.m_head)
        push(out, pop(l));
    return out;
}

// Shared by all threads, and never destroyed: frames may be freed during static destruction.
class Depot {
public:
    List take(std::size_t cls) {
        std::unique_lock lock(m_lock);
        if (Block* first = m_lists[cls]) {
            m_lists[cls] = first->m_next_list;
            List l;
            l.m_head = first;
            for (Block* b = first; b; b = b->m_next)
                ++l.m_size;
            return l;
        }
        const std::size_t bytes = (cls + 1) * k_granule;
        while (room() < bytes) {
            // The tail of the old chunk (less than one block) is left unused.
            if (m_spare) {
                install(std::exchange(m_spare, nullptr), m_spare_size);
                continue;
            }
            // Mapping a region takes a while: not under the lock, which threads that free blocks
            // or refill from the lists must get at once.
            const std::size_t size = next_size();
            lock.unlock();
            char* fresh = map(size);
            lock.lock();
            ++m_chunks;
            if (room() < bytes) {
                install(fresh, size);
            } else if (!m_spare) {
                m_spare = fresh;  // another thread brought one meanwhile: this one comes next
                m_spare_size = size;
            } else {
                ::munmap(fresh, size);
            }
        }
        // Up to a batch: the chunk may end sooner, and the next take maps the next one.
        List l;
        for (std::size_t i = 0; i < k_batch && room() >= bytes; ++i) {
            push(l, ::new (m_next) Block);
            m_next += bytes;
        }
        return l;
    }
    // Across fork(): the child's only thread must not find the lock held by a thread it lacks.
    void lock_for_fork() noexcept { m_lock.lock(); }
    void unlock_after_fork() noexcept { m_lock.unlock(); }

    void give(std::size_t cls, List l) noexcept {
        if (!l.m_head)
            return;
        std::lock_guard lock(m_lock);
        l.m_head->m_next_list = m_lists[cls];
        m_lists[cls] = l.m_head;
    }

private:
    // The rest of the current chunk; with the lock held, as the helpers below.
    std::size_t room() const noexcept { return static_cast<std::size_t>(m_end - m_next); }
    void install(char* chunk, std::size_t size) noexcept {
        m_next = chunk;
        m_end = chunk + size;
    }
    // The first chunks are small and left to fault in as they are used; then regions.
    std::size_t next_size() const noexcept {
        if (m_chunks < k_chunks_before_regions)
            return k_chunk;
        return m_chunks == k_chunks_before_regions ? k_region_max / 2 : k_region_max;
    }
    static char* map(std::size_t size) {
        const int populate = size > k_chunk ? MAP_POPULATE : 0;
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | populate, -1, 0);
        if (p == MAP_FAILED)
            throw std::bad_alloc();
        // A leak checker does not look into anonymous mappings: without this, what only live
        // frames point to would be reported as leaked.
        if (__lsan_register_root_region)
            __lsan_register_root_region(p, size);
        return static_cast<char*>(p);
    }

    SpinLock m_lock;
    std::array<Block*, k_classes> m_lists{};  // guarded by m_lock
    unsigned m_chunks = 0;                    // guarded by m_lock: chunks and regions mapped
    char* m_next = nullptr;                   // guarded by m_lock: the current chunk's rest
    char* m_end = nullptr;
    char* m_spare = nullptr;  // guarded by m_lock: mapped by a thread that lost a race, unused
    std::size_t m_spare_size = 0;
};

Depot& depot() {
    // Leaked on purpose, see Depot.
    static Depot* d = [] {
        auto* made = new Depot;
        ::pthread_atfork([] { depot().lock_for_fork(); }, [] { depot().unlock_after_fork(); },
                         [] { depot().unlock_after_fork(); });
        return made;
    }();
    return *d;
}

class ThreadCache {
public:
    ThreadCache() = default;
    ~ThreadCache() {
        t_gone = true;
        t_frame_lists = nullptr;
        for (std::size_t cls = 0; cls < k_classes; ++cls)
            depot().give(cls, m_free[cls]);
    }
    ThreadCache(const ThreadCache&) = delete;
    ThreadCache& operator=(const ThreadCache&) = delete;

    void* alloc(std::size_t cls) {
        List& l = m_free[cls];
        if (!l.m_head)
            l = depot().take(cls);
        return pop(l);
    }
    void free(std::size_t cls, Block* b) noexcept {
        List& l = m_free[cls];
        push(l, b);
        if (l.m_size > frame_pool_keep)
            depot().give(cls, split(l, k_batch));
    }

    // Null once this thread's cache is destroyed (at thread exit): frames freed later go
    // straight to the depot.
    static ThreadCache* get() noexcept {
        if (t_gone)
            return nullptr;
        thread_local ThreadCache cache;
        t_frame_lists = cache.m_free.data();
        return &cache;
    }

private:
    std::array<List, k_classes> m_free{};
    UNSYNC_INITIAL_EXEC static thread_local bool t_gone;
};

UNSYNC_INITIAL_EXEC thread_local bool ThreadCache::t_gone = false;

}  // namespace

// The lists of the cache once get() made it, without the guard a thread_local with a destructor
// needs.
UNSYNC_INITIAL_EXEC constinit thread_local FrameList* t_frame_lists = nullptr;

// Out of line so that the common case (frame_alloc, frame_free) stays a few instructions.
void* frame_alloc_slow(std::size_t size) {
    if (!UNSYNC_FRAME_POOL || size == 0 || size > frame_pool_max)
        return ::operator new(size);
    const std::size_t cls = (size - 1) / k_granule;
    if (ThreadCache* cache = ThreadCache::get())
        return cache->alloc(cls);
    List l = depot().take(cls);
    void* block = pop(l);
    depot().give(cls, l);
    return block;
}

void frame_free_slow(void* block, std::size_t size) noexcept {
    if (!UNSYNC_FRAME_POOL || size == 0 || size > frame_pool_max) {
        ::operator delete(block);
        return;
    }
    const std::size_t cls = (size - 1) / k_granule;
    auto* b = ::new (block) Block;
    if (ThreadCache* cache = ThreadCache::get()) {
        cache->free(cls, b);
        return;
    }
    List l;
    push(l, b);
    depot().give(cls, l);
}

}  // namespace unsync::detail
