// A plain thread reads a file line by line into a bounded Queue; a coroutine consumes the lines
// as they come. The queue's capacity holds the reader back when the consumer falls behind.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include <unsync/unsync.hpp>

namespace {

// [snippet:queue-1]
unsync::Unfuture<int> count_words(unsync::Queue<std::string>& lines) {
    int words = 0;
    try {
        for (;;) {
            std::istringstream line(co_await lines);
            for (std::string word; line >> word;)
                ++words;
        }
    } catch (const unsync::closed_error&) {
        // the reader closed the queue and every line was taken
    }
    co_return words;
}

int count_words_in(const std::filesystem::path& file) {
    unsync::Queue<std::string> lines(64);
    auto words = count_words(lines);
    std::thread reader([&] {
        std::ifstream in(file);
        for (std::string line; std::getline(in, line);)
            lines.push(std::move(line));  // blocks while 64 lines wait
        lines.close();
    });
    reader.join();
    return words.result();
}
// [end-snippet]

}  // namespace

int queue_main() {
    const auto file = std::filesystem::temp_directory_path() /
                      ("unsync_queue_example_" + std::to_string(::getpid()) + ".txt");
    {
        std::ofstream out(file);
        for (int i = 0; i < 1000; ++i)
            out << "line " << i << " of the file\n";
    }
    const int words = count_words_in(file);
    std::filesystem::remove(file);
    std::cout << words << " words read through the queue\n";
    return words == 5000 ? 0 : 1;
}

#ifndef UNSYNC_TOUR
int main() {
    return queue_main();
}
#endif
