// unsync::mpi: the same program (tests/mpi/mpi_app.cpp) under mpirun, over shared memory and
// over TCP, and without MPI. Each run has a watchdog (coreutils timeout), so a hang fails the
// test instead of stopping the suite.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

#ifdef UNSYNC_MPI_APP

struct Outcome {
    int status = -1;  // the exit status, or -1 when the command did not exit
    std::string out;
    std::string err;
    double seconds = 0;
};

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A token on the command line of this run's processes, to find any left running.
std::string unique_token() {
    static int n = 0;
    return "unsync-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

bool process_with_token_runs(const std::string& token) {
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string cmdline = read_file(e.path() / "cmdline");
        if (cmdline.find(token) != std::string::npos)
            return true;
    }
    return false;
}

// Runs `program mode token` under mpirun with the given options (or alone, for an empty
// launcher), killed after the watchdog's time.
Outcome run_app(const std::string& launcher, const std::string& mode, const std::string& token,
                int watchdog_s = 90, const char* program = UNSYNC_MPI_APP) {
    const auto dir = std::filesystem::temp_directory_path();
    const auto out = dir / (token + ".out");
    const auto err = dir / (token + ".err");
    const std::string command = "timeout -k 5 " + std::to_string(watchdog_s) + " " + launcher +
                                " " + program + " " + mode + " " + token + " >" + out.string() +
                                " 2>" + err.string() + " </dev/null";
    const auto start = std::chrono::steady_clock::now();
    const int rc = std::system(command.c_str());
    Outcome r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.out = read_file(out);
    r.err = read_file(err);
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return r;
}

void prepare_mpirun_environment() {
    // Open MPI refuses to run as root without these (CI runs as root in a container).
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    // Under AddressSanitizer: Open MPI keeps allocations past MPI_Finalize in components it has
    // unloaded by then, which no suppression can name; the ranks are checked for memory errors,
    // and the library's own leaks by the rest of the suite.
    const char* asan = std::getenv("ASAN_OPTIONS");
    ::setenv("ASAN_OPTIONS", (std::string(asan ? asan : "") + ":detect_leaks=0").c_str(), 1);
#if defined(__SANITIZE_THREAD__)
    // Under ThreadSanitizer: Open MPI's handler for a crashing rank prints a backtrace with
    // calls a signal handler must not make, which TSan reports (and exits 66) instead of letting
    // the rank die by its signal. Without it, mpirun still names the rank and the signal.
    ::setenv("OMPI_MCA_opal_signal", "", 1);
    // Likewise TSan's own SIGSEGV handler, which exits instead of dying by the signal.
    const char* tsan = std::getenv("TSAN_OPTIONS");
    ::setenv("TSAN_OPTIONS", (std::string(tsan ? tsan : "") + " handle_segv=0").c_str(), 1);
#endif
}

class Mpi : public testing::TestWithParam<const char*> {
protected:
    void SetUp() override { prepare_mpirun_environment(); }
    std::string mpirun(int ranks) const {
        return std::string(UNSYNC_MPIRUN) + " --oversubscribe -np " + std::to_string(ranks) +
               " --mca btl " + GetParam();
    }
    // mpirun prints nothing of its own for a normal exit.
    static void expect_quiet(const Outcome& r) {
        EXPECT_EQ(r.err.find("mpirun"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("rror"), std::string::npos) << r.err;
    }
    void expect_ok(int ranks, const std::string& mode) {
        const std::string token = unique_token();
        const Outcome r = run_app(mpirun(ranks), mode, token);
        EXPECT_EQ(r.status, 0) << r.out << r.err;
        EXPECT_NE(r.out.find("OK " + mode), std::string::npos) << r.out << r.err;
        expect_quiet(r);
        EXPECT_FALSE(process_with_token_runs(token));
    }
    // A serving rank that dies ends the job, soon, with a message that names it.
    void expect_job_ends(const std::string& mode) {
        const std::string token = unique_token();
        const Outcome r = run_app(mpirun(3), mode, token);
        EXPECT_NE(r.status, 0) << r.out << r.err;
        EXPECT_NE(r.status, 124) << "the watchdog ended the job: " << r.out << r.err;
        EXPECT_LT(r.seconds, 30.0);
        const std::string all = r.out + r.err;
        EXPECT_NE(all.find("rank"), std::string::npos) << all;
        EXPECT_NE(all.find("signal"), std::string::npos) << all;
        EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << all;
        EXPECT_FALSE(process_with_token_runs(token));
    }
};

TEST_P(Mpi, CallsRunOnTheRanksWithTheLocalPoolsSemantics) {
    expect_ok(3, "semantics");
}

// Several calls queued on each rank (Options::calls_per_rank) still reach their own futures.
TEST_P(Mpi, SeveralCallsPerRankKeepTheirResults) {
    const std::string token = unique_token();
    const Outcome r = run_app(mpirun(3) + " -x UNSYNC_MPI_CALLS_PER_RANK=3", "semantics", token);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("OK semantics"), std::string::npos) << r.out << r.err;
}

TEST_P(Mpi, PayloadsLargerThanAPieceArriveWhole) {
    expect_ok(3, "pieces");
}

TEST_P(Mpi, CallsGoToFreeRanks) {
    expect_ok(4, "balance");
}

TEST_P(Mpi, IdleRanksUseNoCpu) {
    expect_ok(3, "idle");
}

TEST_P(Mpi, ReturnFromMainEndsTheJobCleanly) {
    expect_ok(3, "return0");
}

TEST_P(Mpi, ExitStatusOfRankZeroIsTheJobs) {
    const std::string token = unique_token();
    const Outcome r = run_app(mpirun(3), "exit3", token);
    EXPECT_EQ(r.status, 3) << r.out << r.err;
    EXPECT_FALSE(process_with_token_runs(token));
}

TEST_P(Mpi, UncaughtExceptionOnRankZeroEndsTheJob) {
    const std::string token = unique_token();
    const Outcome r = run_app(mpirun(3), "throw", token);
    EXPECT_NE(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.status, 124) << "the watchdog ended the job: " << r.out << r.err;
    EXPECT_LT(r.seconds, 30.0);
    EXPECT_NE(r.err.find("rank 0 gives up"), std::string::npos) << r.err;
    EXPECT_FALSE(process_with_token_runs(token));
}

TEST_P(Mpi, RankThatAbortsEndsTheJob) {
    expect_job_ends("abort");
}

TEST_P(Mpi, RankThatSegfaultsEndsTheJob) {
    expect_job_ends("segv");
}

TEST_P(Mpi, RankThatIsKilledEndsTheJob) {
    expect_job_ends("kill");
}

INSTANTIATE_TEST_SUITE_P(Transports, Mpi, testing::Values("self,vader", "self,tcp"),
                         [](const testing::TestParamInfo<const char*>& info) {
                             return std::string(info.param) == "self,vader" ? "SharedMemory"
                                                                            : "Tcp";
                         });

TEST(MpiLocal, OneRankLaunchUsesLocalWorkers) {
    prepare_mpirun_environment();
    const Outcome r = run_app(std::string(UNSYNC_MPIRUN) + " -np 1", "local", unique_token());
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("OK local"), std::string::npos) << r.out << r.err;
}

// The program names nothing of unsync::mpi; linking it is enough, static or shared.
TEST(MpiLink, LinkingTheLibraryIsEnough) {
    prepare_mpirun_environment();
    const Outcome r = run_app(std::string(UNSYNC_MPIRUN) + " --oversubscribe -np 2", "",
                              unique_token(), 90, UNSYNC_MPI_PLAIN);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    // Not "served by rank 0" and "served by rank 1": two copies of the program on local workers.
    EXPECT_EQ(r.out, "served by rank 1\n") << r.err;
}

// UNSYNC_PROCESS_BACKEND=local under mpirun: no MPI; each rank runs main() on local workers.
TEST(MpiLink, BackendForcedLocalIgnoresTheRanks) {
    prepare_mpirun_environment();
    const Outcome r = run_app(
        std::string(UNSYNC_MPIRUN) + " --oversubscribe -np 2 -x UNSYNC_PROCESS_BACKEND=local", "",
        unique_token(), 90, UNSYNC_MPI_PLAIN);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("served by rank 0\n"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find("served by rank 1\n"), std::string::npos) << r.out << r.err;
}

TEST(MpiLocal, WithoutMpirunUsesLocalWorkers) {
    const Outcome r = run_app("", "local", unique_token());
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("OK local"), std::string::npos) << r.out << r.err;
}

#else

TEST(Mpi, NotBuilt) {
    GTEST_SKIP() << "unsync::mpi is not built (UNSYNC_MPI=OFF, or no mpirun)";
}

#endif

}  // namespace
