// Micro-benchmarks (Google Benchmark) of unsync's hot paths, plus a few hardware baselines that
// bound what they can reach on this machine (allocation, cache-line ping-pong, futex wake-up).
//
// Benchmarks named *_OnLoop run their timing loop inside an unsync coroutine on the loop thread
// (the main thread only blocks on its result), so they time the loop's own path. They use real
// time. *Batch benchmarks report items/s and time per item through SetItemsProcessed.

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <unsync/unsync.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

unsync::Unfuture<int> return_arg(int i) {
    co_return i;
}
unsync::Unfuture<int> one() {
    co_return 1;
}
unsync::Unfuture<void> complete_it(unsync::Unfuture<int> p) {
    p.set_result(1);
    co_return;
}

void warm() {
    return_arg(0).result();
    unsync::thread_executor().submit([] { return 0; }).result();
}

// ---- Unfuture alone ----------------------------------------------------------------------------

// A pending Unfuture allocated, completed with set_result, read, freed (no waiter, no loop).
void BM_Unfuture_CreateSetResult(benchmark::State& st) {
    for (auto _ : st) {
        unsync::Unfuture<int> u;
        u.set_result(1);
        benchmark::DoNotOptimize(u.result());
    }
}
BENCHMARK(BM_Unfuture_CreateSetResult);

void BM_Unfuture_FromValue(benchmark::State& st) {
    for (auto _ : st) {
        auto u = unsync::Unfuture<int>::from_value(1);
        benchmark::DoNotOptimize(u.result());
    }
}
BENCHMARK(BM_Unfuture_FromValue);

void BM_Unfuture_Copy(benchmark::State& st) {
    auto u = unsync::Unfuture<int>::from_value(1);
    for (auto _ : st) {
        unsync::Unfuture<int> c = u;
        benchmark::DoNotOptimize(c);
    }
}
BENCHMARK(BM_Unfuture_Copy);

// ---- co_await on the loop thread ---------------------------------------------------------------

unsync::Unfuture<void> await_ready_loop(benchmark::State& st) {
    const auto ready = unsync::Unfuture<int>::from_value(1);
    for (auto _ : st) {
        const int v = co_await ready;
        benchmark::DoNotOptimize(v);
    }
}
void BM_AwaitReady_OnLoop(benchmark::State& st) {
    await_ready_loop(st).result();
}
BENCHMARK(BM_AwaitReady_OnLoop)->UseRealTime();

// A pending Unfuture completed by another task on the loop: allocate it, start the completing
// coroutine (queued behind us), suspend on the future, get resumed by its set_result.
unsync::Unfuture<void> await_pending_loop(benchmark::State& st) {
    for (auto _ : st) {
        unsync::Unfuture<int> pending;
        auto completer = complete_it(pending);
        const int v = co_await pending;
        benchmark::DoNotOptimize(v);
    }
}
void BM_AwaitPending_OnLoop(benchmark::State& st) {
    await_pending_loop(st).result();
}
BENCHMARK(BM_AwaitPending_OnLoop)->UseRealTime();

// One step of the await_chain workload: call a child coroutine and await it.
unsync::Unfuture<void> await_child_loop(benchmark::State& st) {
    for (auto _ : st) {
        const int v = co_await one();
        benchmark::DoNotOptimize(v);
    }
}
void BM_AwaitChild_OnLoop(benchmark::State& st) {
    await_child_loop(st).result();
}
BENCHMARK(BM_AwaitChild_OnLoop)->UseRealTime();

// A zero sleep: through the timer heap and back.
unsync::Unfuture<void> sleep0_loop(benchmark::State& st) {
    for (auto _ : st)
        co_await unsync::sleep(std::chrono::nanoseconds(0));
}
void BM_Sleep0_OnLoop(benchmark::State& st) {
    sleep0_loop(st).result();
}
BENCHMARK(BM_Sleep0_OnLoop)->UseRealTime();

// ---- cross-thread submission to the loop --------------------------------------------------------

// Main thread calls a coroutine (queued to the loop) and blocks on its result: the pingpong unit.
void BM_LoopCall_RoundTrip(benchmark::State& st) {
    warm();
    for (auto _ : st)
        benchmark::DoNotOptimize(return_arg(1).result());
}
BENCHMARK(BM_LoopCall_RoundTrip)->UseRealTime();

// Main thread calls `range(0)` coroutines, then waits for all: the spawn unit, per task.
void BM_LoopCall_Batch(benchmark::State& st) {
    warm();
    const auto n = static_cast<std::size_t>(st.range(0));
    std::vector<unsync::Unfuture<int>> fs;
    fs.reserve(n);
    for (auto _ : st) {
        for (std::size_t i = 0; i < n; ++i)
            fs.push_back(return_arg(static_cast<int>(i)));
        for (const auto& f : fs)
            benchmark::DoNotOptimize(f.result());
        fs.clear();
    }
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_LoopCall_Batch)->Arg(1000)->UseRealTime();

// ---- thread-pool submission
// ----------------------------------------------------------------------

void BM_PoolSubmit_RoundTrip(benchmark::State& st) {
    warm();
    auto& pool = unsync::thread_executor();
    for (auto _ : st)
        benchmark::DoNotOptimize(pool.submit([] { return 1; }).result());
}
BENCHMARK(BM_PoolSubmit_RoundTrip)->UseRealTime();

void BM_PoolSubmit_Batch(benchmark::State& st) {
    warm();
    auto& pool = unsync::thread_executor();
    const auto n = static_cast<std::size_t>(st.range(0));
    std::vector<unsync::Unfuture<int>> fs;
    fs.reserve(n);
    for (auto _ : st) {
        for (std::size_t i = 0; i < n; ++i)
            fs.push_back(pool.submit([] { return 1; }));
        for (const auto& f : fs)
            benchmark::DoNotOptimize(f.result());
        fs.clear();
    }
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
    st.counters["pool_threads"] = static_cast<double>(pool.thread_count());
}
BENCHMARK(BM_PoolSubmit_Batch)->Arg(1000)->UseRealTime();

// ---- then()
// ----------------------------------------------------------------------------------------

// From the main thread on a done source: then() queues a coroutine to the loop; block on it.
void BM_Then_RoundTrip(benchmark::State& st) {
    warm();
    const auto source = unsync::Unfuture<int>::from_value(1);
    for (auto _ : st) {
        benchmark::DoNotOptimize(source.then([](int v) { return v + 1; }).result());
    }
}
BENCHMARK(BM_Then_RoundTrip)->UseRealTime();

// The `then` workload unit: a chain of range(0) continuations on a pending source.
void BM_Then_Chain(benchmark::State& st) {
    warm();
    for (auto _ : st) {
        unsync::Unfuture<int> source;
        unsync::Unfuture<int> last = source;
        for (std::int64_t i = 0; i < st.range(0); ++i)
            last = last.then([](int v) { return v + 1; });
        source.set_result(0);
        benchmark::DoNotOptimize(last.result());
    }
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_Then_Chain)->Arg(1000)->UseRealTime();

// then() called on the loop thread and awaited there (no cross-thread hop).
unsync::Unfuture<void> then_loop(benchmark::State& st) {
    const auto source = unsync::Unfuture<int>::from_value(1);
    for (auto _ : st) {
        const int v = co_await source.then([](int x) { return x + 1; });
        benchmark::DoNotOptimize(v);
    }
}
void BM_Then_OnLoop(benchmark::State& st) {
    then_loop(st).result();
}
BENCHMARK(BM_Then_OnLoop)->UseRealTime();

// ---- coordination primitives --------------------------------------------------------------------

// Uncontended lock + unlock of an unsync::Mutex in a coroutine (the guard is a unique_lock).
unsync::Unfuture<void> mutex_uncontended_loop(benchmark::State& st) {
    unsync::Mutex m;
    for (auto _ : st) {
        auto lock = co_await m.lock_async();
        benchmark::DoNotOptimize(lock);
    }
}
void BM_Mutex_Uncontended_OnLoop(benchmark::State& st) {
    mutex_uncontended_loop(st).result();
}
BENCHMARK(BM_Mutex_Uncontended_OnLoop)->UseRealTime();

// The same through `co_await m`, which takes a free mutex without a future.
unsync::Unfuture<void> mutex_awaited_loop(benchmark::State& st) {
    unsync::Mutex m;
    for (auto _ : st) {
        auto lock = co_await m;
        benchmark::DoNotOptimize(lock);
    }
}
void BM_Mutex_AwaitUncontended_OnLoop(benchmark::State& st) {
    mutex_awaited_loop(st).result();
}
BENCHMARK(BM_Mutex_AwaitUncontended_OnLoop)->UseRealTime();

// The same from a plain thread (try_lock's CAS and the unlock), beside std::mutex.
void BM_Mutex_Uncontended_Thread(benchmark::State& st) {
    unsync::Mutex m;
    for (auto _ : st) {
        std::scoped_lock lock(m);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_Mutex_Uncontended_Thread);
void BM_Baseline_StdMutex_Uncontended(benchmark::State& st) {
    std::mutex m;
    for (auto _ : st) {
        std::scoped_lock lock(m);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_Baseline_StdMutex_Uncontended);

// Two coroutines on the loop taking turns: each handover goes through the queue of waiters.
unsync::Unfuture<void> mutex_taker(unsync::Mutex& m, long turns) {
    for (long i = 0; i < turns; ++i) {
        auto lock = co_await m.lock_async();
        co_await unsync::sleep(std::chrono::nanoseconds(0));
    }
}
// The same through `co_await m`, whose wait is kept in the coroutine's frame. With
// YieldEveryTurn false only the first turn holds the lock across a sleep(0), which makes the
// other coroutine queue; from then on each unlock hands the lock over and the relock queues
// behind the new holder, so every later turn is one handover and nothing else.
template <bool YieldEveryTurn>
unsync::Unfuture<void> mutex_awaiting_taker(unsync::Mutex& m, long turns) {
    for (long i = 0; i < turns; ++i) {
        auto lock = co_await m;
        if (YieldEveryTurn || i == 0)
            co_await unsync::sleep(std::chrono::nanoseconds(0));
    }
}
template <unsync::Unfuture<void> (*Taker)(unsync::Mutex&, long)>
void handover_on_loop(benchmark::State& st) {
    constexpr long turns = 10000;
    for (auto _ : st) {
        unsync::Mutex m;
        auto a = Taker(m, turns);
        auto b = Taker(m, turns);
        a.result();
        b.result();
    }
    st.SetItemsProcessed(st.iterations() * 2 * turns);
}
void BM_Mutex_Handover_OnLoop(benchmark::State& st) {
    handover_on_loop<&mutex_taker>(st);
}
BENCHMARK(BM_Mutex_Handover_OnLoop)->UseRealTime()->Unit(benchmark::kMillisecond);
void BM_Mutex_AwaitHandover_OnLoop(benchmark::State& st) {
    handover_on_loop<&mutex_awaiting_taker<true>>(st);
}
BENCHMARK(BM_Mutex_AwaitHandover_OnLoop)->UseRealTime()->Unit(benchmark::kMillisecond);
void BM_Mutex_PureHandover_OnLoop(benchmark::State& st) {
    handover_on_loop<&mutex_awaiting_taker<false>>(st);
}
BENCHMARK(BM_Mutex_PureHandover_OnLoop)->UseRealTime()->Unit(benchmark::kMillisecond);

// Two coroutines taking turns yielding with sleep(0), without the mutex: what the handover
// benchmarks spend on their own sleep(0) and the loop's turns.
unsync::Unfuture<void> yielder(long turns) {
    for (long i = 0; i < turns; ++i)
        co_await unsync::sleep(std::chrono::nanoseconds(0));
}
void BM_Baseline_YieldTurns_OnLoop(benchmark::State& st) {
    constexpr long turns = 10000;
    for (auto _ : st) {
        auto a = yielder(turns);
        auto b = yielder(turns);
        a.result();
        b.result();
    }
    st.SetItemsProcessed(st.iterations() * 2 * turns);
}
BENCHMARK(BM_Baseline_YieldTurns_OnLoop)->UseRealTime()->Unit(benchmark::kMillisecond);

unsync::Unfuture<void> semaphore_uncontended_loop(benchmark::State& st) {
    unsync::Semaphore s(1);
    for (auto _ : st) {
        auto permit = co_await s.acquire_async();
        benchmark::DoNotOptimize(permit);
    }
}
void BM_Semaphore_Uncontended_OnLoop(benchmark::State& st) {
    semaphore_uncontended_loop(st).result();
}
BENCHMARK(BM_Semaphore_Uncontended_OnLoop)->UseRealTime();

unsync::Unfuture<void> semaphore_awaited_loop(benchmark::State& st) {
    unsync::Semaphore s(1);
    for (auto _ : st) {
        auto permit = co_await s;
        benchmark::DoNotOptimize(permit);
    }
}
void BM_Semaphore_AwaitUncontended_OnLoop(benchmark::State& st) {
    semaphore_awaited_loop(st).result();
}
BENCHMARK(BM_Semaphore_AwaitUncontended_OnLoop)->UseRealTime();

// Items from a plain thread to a coroutine through a Queue<int> of capacity 1024, popped with
// `co_await q.pop_async()` (a future per item) or `co_await q` (a wait kept in the frame).
unsync::Unfuture<long> queue_consumer(unsync::Queue<int>& q, long n) {
    long sum = 0;
    for (long i = 0; i < n; ++i)
        sum += co_await q.pop_async();
    co_return sum;
}
unsync::Unfuture<long> queue_awaiting_consumer(unsync::Queue<int>& q, long n) {
    long sum = 0;
    for (long i = 0; i < n; ++i)
        sum += co_await q;
    co_return sum;
}
template <unsync::Unfuture<long> (*Consumer)(unsync::Queue<int>&, long)>
void queue_thread_to_coroutine(benchmark::State& st) {
    const long n = st.range(0);
    for (auto _ : st) {
        unsync::Queue<int> q(1024);
        auto consumer = Consumer(q, n);
        for (long i = 0; i < n; ++i)
            q.push(static_cast<int>(i));
        benchmark::DoNotOptimize(consumer.result());
    }
    st.SetItemsProcessed(st.iterations() * n);
}
void BM_Queue_ThreadToCoroutine(benchmark::State& st) {
    queue_thread_to_coroutine<&queue_consumer>(st);
}
BENCHMARK(BM_Queue_ThreadToCoroutine)->Arg(1000000)->UseRealTime()->Unit(benchmark::kMillisecond);
void BM_Queue_ThreadToAwaitingCoroutine(benchmark::State& st) {
    queue_thread_to_coroutine<&queue_awaiting_consumer>(st);
}
BENCHMARK(BM_Queue_ThreadToAwaitingCoroutine)
    ->Arg(1000000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The baseline: a std::deque under std::mutex + std::condition_variable, thread to thread.
void BM_Baseline_StdQueue_ThreadToThread(benchmark::State& st) {
    const long n = st.range(0);
    for (auto _ : st) {
        std::mutex m;
        std::condition_variable not_empty;
        std::condition_variable not_full;
        std::deque<int> items;
        long sum = 0;
        std::thread consumer([&] {
            for (long i = 0; i < n; ++i) {
                std::unique_lock lock(m);
                not_empty.wait(lock, [&] { return !items.empty(); });
                sum += items.front();
                items.pop_front();
                lock.unlock();
                not_full.notify_one();
            }
        });
        for (long i = 0; i < n; ++i) {
            std::unique_lock lock(m);
            not_full.wait(lock, [&] { return items.size() < 1024; });
            items.push_back(static_cast<int>(i));
            lock.unlock();
            not_empty.notify_one();
        }
        consumer.join();
        benchmark::DoNotOptimize(sum);
    }
    st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_Baseline_StdQueue_ThreadToThread)
    ->Arg(1000000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- hardware baselines
// ------------------------------------------------------------------------------

// One malloc+free of a coroutine-frame-sized block: the floor of "one allocation per task".
void BM_Baseline_MallocFree(benchmark::State& st) {
    for (auto _ : st) {
        void* p = std::malloc(160);
        benchmark::DoNotOptimize(p);
        std::free(p);
    }
}
BENCHMARK(BM_Baseline_MallocFree);

// Spins until pred(); yields now and then so that a preempted partner can run (on a loaded
// 2-core machine a pure spin can burn a whole time slice).
template <class Pred>
void spin_until(Pred pred) {
    for (unsigned i = 1; !pred(); ++i) {
        if (i % 4096 == 0)
            std::this_thread::yield();
    }
}

// Two threads hand one cache line back and forth by spinning: the floor of a cross-thread
// round trip when both threads are awake (they need both cores).
void BM_Baseline_SpinPingPong(benchmark::State& st) {
    alignas(64) std::atomic<std::uint32_t> turn{0};
    std::thread partner([&] {
        for (;;) {
            std::uint32_t t = 0;
            spin_until([&] { return (t = turn.load(std::memory_order_acquire)) != 0; });
            if (t == 2)
                return;
            turn.store(0, std::memory_order_release);
        }
    });
    for (auto _ : st) {
        turn.store(1, std::memory_order_release);
        spin_until([&] { return turn.load(std::memory_order_acquire) == 0; });
    }
    turn.store(2, std::memory_order_release);
    partner.join();
}
BENCHMARK(BM_Baseline_SpinPingPong)->UseRealTime();

long futex(std::atomic<std::uint32_t>* w, int op, std::uint32_t v) {
    return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), op, v, nullptr, nullptr, 0);
}

// Two threads that sleep on a futex and wake each other: the floor of a round trip between
// threads that do not spin (two futex waits + two wakes + two context switches).
void BM_Baseline_FutexPingPong(benchmark::State& st) {
    alignas(64) std::atomic<std::uint32_t> turn{0};
    std::thread partner([&] {
        for (;;) {
            std::uint32_t t;
            while ((t = turn.load(std::memory_order_acquire)) == 0)
                futex(&turn, FUTEX_WAIT_PRIVATE, 0);
            if (t == 2)
                return;
            turn.store(0, std::memory_order_release);
            futex(&turn, FUTEX_WAKE_PRIVATE, 1);
        }
    });
    for (auto _ : st) {
        turn.store(1, std::memory_order_release);
        futex(&turn, FUTEX_WAKE_PRIVATE, 1);
        while (turn.load(std::memory_order_acquire) == 1)
            futex(&turn, FUTEX_WAIT_PRIVATE, 1);
    }
    turn.store(2, std::memory_order_release);
    futex(&turn, FUTEX_WAKE_PRIVATE, 1);
    partner.join();
}
BENCHMARK(BM_Baseline_FutexPingPong)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
