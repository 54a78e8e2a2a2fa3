// A program that names nothing of unsync::mpi, only links it: under mpirun with two ranks its call
// must still run on rank 1. (A static link would drop the library's registering object unless
// the link keeps it; see unsync_mpi's INTERFACE link option.)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unsync/process_pool.hpp>

namespace {

// A local worker inherits rank 0's environment, so only a serving rank says 1.
std::string served_by() {
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    return rank ? rank : "none";
}
constexpr auto served_by_cpu = unsync::cpu_bound<&served_by>;

}  // namespace

int main() {
    unsync::serve_if_worker();
    std::printf("served by rank %s\n", served_by_cpu().result(std::chrono::seconds(60)).c_str());
    return 0;
}
