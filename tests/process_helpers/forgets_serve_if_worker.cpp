// A program that uses cpu_bound but forgets unsync::serve_if_worker() in main(): each worker is
// this program again. Every start of main() appends a line to the file named by argv[1], so the
// test can count how many copies ran. Exits 0 if the call succeeded, 1 if it failed.
#include <unsync/process_pool.hpp>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>

#include <unistd.h>

namespace {
int twice(int x) {
    return 2 * x;
}
constexpr auto twice_cpu = unsync::cpu_bound<&twice>;
}  // namespace

int main(int argc, char** argv) {
    if (argc > 1)
        std::ofstream(argv[1], std::ios::app) << ::getpid() << '\n';
    try {
        const int result = twice_cpu(21).result();
        std::cout << "result " << result << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "call failed: " << e.what() << std::endl;
        return 1;
    }
}
