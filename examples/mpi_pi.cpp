// A Monte-Carlo estimate of pi split into CPU-bound calls: the same program runs its calls on
// local worker processes (./mpi_pi) or on the ranks of an MPI job (mpirun -np 4 ./mpi_pi),
// when it is linked with unsync::mpi.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include <unsync/combinators.hpp>
#include <unsync/mpi.hpp>
#include <unsync/process_pool.hpp>

namespace {

// [snippet:mpi-pi-1]
// How many of `samples` random points in the unit square fall inside the quarter circle.
std::uint64_t count_inside(std::uint64_t seed, std::uint64_t samples) {
    std::mt19937_64 random(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::uint64_t inside = 0;
    for (std::uint64_t i = 0; i < samples; ++i) {
        const double x = unit(random);
        const double y = unit(random);
        inside += x * x + y * y <= 1.0 ? 1 : 0;
    }
    return inside;
}

constexpr auto count_inside_cpu = unsync::cpu_bound<&count_inside>;
// [end-snippet]

}  // namespace

// [snippet:mpi-pi-2]
int main() {
    unsync::serve_if_worker();  // on ranks 1..N-1 (or in a local worker): serves, never returns
    constexpr std::uint64_t calls = 64;
    constexpr std::uint64_t samples = 1'000'000;
    std::vector<unsync::Unfuture<std::uint64_t>> parts;
    for (std::uint64_t i = 0; i < calls; ++i)
        parts.push_back(count_inside_cpu(i + 1, samples));
    std::uint64_t inside = 0;
    for (const std::uint64_t n : unsync::gather(std::move(parts)).result())
        inside += n;
    const double pi = 4.0 * static_cast<double>(inside) / static_cast<double>(calls * samples);
    if (unsync::mpi::world_size() > 1) {
        std::printf("pi ~ %.4f (%llu calls on %d MPI ranks)\n", pi,
                    static_cast<unsigned long long>(calls), unsync::mpi::world_size() - 1);
    } else {
        std::printf("pi ~ %.4f (%llu calls on local worker processes)\n", pi,
                    static_cast<unsigned long long>(calls));
    }
    return std::abs(pi - 3.14159) < 0.01 ? 0 : 1;
}
// [end-snippet]
