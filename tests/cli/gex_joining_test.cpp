// How the ranks of a data-parallel `gex` form a job (DESIGN §6), end to end with real worker
// processes: ranks that differ are refused, and a master, port, rank or limit that keeps the job
// from forming is said to every rank with its exit code, within the timeout, never a hang.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "distributed_job.h"
#include "photo_folder.h"

namespace gex {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::free_port;

class Joining : public test::DistributedJob {
 protected:
  // The environment that makes a rank's connections to its peers fail as `setting` says
  // (peer_connect_fault.cpp).
  static std::string peer_connect_fault(const std::string& setting) {
    const char* asan = std::getenv("ASAN_OPTIONS");  // (a preloaded library before ASan's runtime)
    return " LD_PRELOAD=" + std::string(GEX_PEER_CONNECT_FAULT) + " " + setting +
           (asan ? " ASAN_OPTIONS=" + std::string(asan) + ":verify_asan_link_order=0" : "");
  }
};

// Workers started as torchrun starts them: the environment is the whole contract.
TEST_F(Joining, RanksStartedWithDifferentFlagsAreRefusedWithExitTwo) {
  const std::string env = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
  start("r0", "train --data synthetic --steps 2 --batch 32 --seed 1 --out " + dir.file("run"), "RANK=0 " + env);
  start("r1", "train --data synthetic --steps 2 --batch 32 --seed 2 --out " + dir.file("run"), "RANK=1 " + env);
  EXPECT_EQ(wait_for("r0", std::chrono::seconds(60)), 2) << read_file(dir.file("r0.err"));
  EXPECT_EQ(wait_for("r1", std::chrono::seconds(60)), 2) << read_file(dir.file("r1.err"));
  EXPECT_NE(read_file(dir.file("r1.err")).find("'seed' is 1 on rank 0 but 2 on rank 1"), std::string::npos)
      << read_file(dir.file("r1.err"));
  EXPECT_FALSE(fs::exists(dir.file("run/checkpoints/last.safetensors")));
}

// Slurm's and Open MPI's task variables as a hand-made launcher (or a test) sets them, without the
// ones their own launchers add (Slurm's step and job, Open MPI's local size), as torchrun's are
// throughout these tests: two ranks on this machine form one job — rank 0 says the figures of all
// 99 images, rank 1 nothing.
TEST_F(Joining, RanksFormAJobFromEachLaunchersTaskVariablesAlone) {
  ASSERT_EQ(run("init --out " + dir.file("init.safetensors")).code, 0);
  const std::string eval = "eval --checkpoint " + dir.file("init.safetensors") + " --data synthetic --limit 99 --json";
  const std::vector<std::string> launchers = {"SLURM_PROCID=R SLURM_NTASKS=2 SLURM_LOCALID=R",
                                              "OMPI_COMM_WORLD_RANK=R OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_LOCAL_RANK=R"};
  for (size_t l = 0; l < launchers.size(); ++l) {
    const std::string master = " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
    for (const char rank : {'0', '1'}) {
      std::string env = launchers[l];
      for (size_t at; (at = env.find("=R")) != std::string::npos;) env[at + 1] = rank;
      start("e" + std::to_string(l) + rank, eval, env + master);
    }
    const std::string e0 = "e" + std::to_string(l) + "0", e1 = "e" + std::to_string(l) + "1";
    EXPECT_EQ(wait_for(e0, std::chrono::seconds(60)), 0) << launchers[l] << read_file(dir.file(e0 + ".err"));
    EXPECT_EQ(wait_for(e1, std::chrono::seconds(60)), 0) << launchers[l] << read_file(dir.file(e1 + ".err"));
    EXPECT_NE(read_file(dir.file(e0 + ".out")).find("{\"images\":99,"), std::string::npos) << launchers[l];
    EXPECT_EQ(read_file(dir.file(e1 + ".out")), "") << launchers[l] << ": rank 1 is a rank of rank 0's job";
  }
}

#ifdef GEX_WITH_OPENCV
// The same --data on every rank, but not the same files (a node's copy of a folder lacking one):
// each rank would index its own files, so the job is refused at start, before a run is written;
// the sharded passes (eval, a study's analyses) too.
TEST_F(Joining, RanksThatSeeOtherFilesUnderOneDataAreRefusedWithExitTwo) {
  for (const char* node : {"node0", "node1"}) test::make_photo_folder(dir.path() / node / "photos");
  fs::remove(dir.path() / "node1/photos/train/b/p3.jpg");
  const auto on = [&](const char* node, int rank, int port) {
    return "cd " + dir.file(node) + " && RANK=" + std::to_string(rank) +
           " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
  };
  const std::string flags = " --data folder:photos --steps 2 --batch 8 --threads 1 --no-probes --out " + dir.file("run");
  int port = free_port();
  start("r0", "train" + flags, on("node0", 0, port));
  start("r1", "train" + flags, on("node1", 1, port));
  EXPECT_EQ(wait_for("r0", std::chrono::seconds(60)), 2) << read_file(dir.file("r0.err"));
  EXPECT_EQ(wait_for("r1", std::chrono::seconds(60)), 2) << read_file(dir.file("r1.err"));
  EXPECT_NE(read_file(dir.file("r0.err")).find("folder:photos is not the same on rank 1 as on rank 0 (24 training "
                                               "files on rank 0, 23 on rank 1)"),
            std::string::npos)
      << read_file(dir.file("r0.err"));
  EXPECT_FALSE(fs::exists(dir.file("run")));
  ASSERT_EQ(run("init --in-channels 3 --classes 3 --input-size 32 --out " + dir.file("init.safetensors")).code, 0);
  port = free_port();
  const std::string eval = "eval --data folder:photos --threads 1 --checkpoint " + dir.file("init.safetensors");
  start("e0", eval, on("node0", 0, port));
  start("e1", eval, on("node1", 1, port));
  EXPECT_EQ(wait_for("e0", std::chrono::seconds(60)), 2) << read_file(dir.file("e0.err"));
  EXPECT_EQ(wait_for("e1", std::chrono::seconds(60)), 2) << read_file(dir.file("e1.err"));
  // A study's analyses shared out over the two: refused before anything is measured or written.
  const std::string study = dir.file("study");
  ASSERT_EQ(run("study --data folder:" + dir.file("node0/photos") + " --steps 2 --batch 8 --threads 1 --no-probes "
                "--variants baseline --seeds 1 --out " + study).code, 0);
  port = free_port();
  const std::string analyses = "study --analyses " + study + " --data folder:photos --threads 1";
  start("s0", analyses, on("node0", 0, port));
  start("s1", analyses, on("node1", 1, port));
  EXPECT_EQ(wait_for("s0", std::chrono::seconds(60)), 2) << read_file(dir.file("s0.err"));
  EXPECT_EQ(wait_for("s1", std::chrono::seconds(60)), 2) << read_file(dir.file("s1.err"));
  EXPECT_NE(read_file(dir.file("s0.err")).find("folder:photos is not the same on rank 1 as on rank 0"), std::string::npos)
      << read_file(dir.file("s0.err"));
  for (const auto& e : fs::recursive_directory_iterator(study + "/baseline/seed-1"))
    EXPECT_EQ(e.path().string().find("/analyses/"), std::string::npos) << e.path() << " was written";
}
#endif

TEST_F(Joining, AMasterThatCannotBeReachedOrAPortInUseExitsThreeWithinTheTimeout) {
  const auto t0 = Clock::now();
  auto r = run("train --data synthetic --steps 2 --dist-timeout 3 --out " + dir.file("a"),
               "RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  EXPECT_NE(r.err.find("cannot reach the rendezvous store"), std::string::npos) << r.err;

  const int s = ::socket(AF_INET, SOCK_STREAM, 0);  // someone else's server on the port
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(s, 1);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  r = run("train --data synthetic --steps 2 --dist-timeout 3 --out " + dir.file("b"),
          "RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(ntohs(a.sin_port)));
  ::close(s);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("is the port in use?"), std::string::npos) << r.err;
  // c10d's own warnings (one per address it tried to bind) stay below gex's default log level.
  EXPECT_EQ(r.err.find("] [c10d] The server socket has failed to bind"), std::string::npos) << r.err;

  // Another service on MASTER_PORT (here a web server's answer to anything): said as such at once,
  // where it passed for a store whose host was lost. First one that keeps the connection open until
  // the client closes it (the client reads its answer), then one that answers and closes at once
  // (the client finds the connection closed while it sends or before it reads: which one is a race).
  for (const bool holds : {true, false}) {
    const int web = ::socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ASSERT_EQ(::bind(web, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(web, 8), 0);
    ::getsockname(web, reinterpret_cast<sockaddr*>(&a), &len);
    std::thread server([web, holds] {
      for (int client; (client = ::accept(web, nullptr, nullptr)) >= 0; ::close(client)) {
        char query[64];
        if (::recv(client, query, sizeof query, 0) <= 0) continue;  // (c10d's second connection says nothing)
        const char reply[] = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        ::send(client, reply, sizeof reply - 1, MSG_NOSIGNAL);
        while (holds && ::recv(client, query, sizeof query, 0) > 0) {
        }
      }
    });
    r = run("eval --checkpoint " + dir.file("none.safetensors") + " --data synthetic --dist-timeout 5",
            "RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(ntohs(a.sin_port)));
    ::shutdown(web, SHUT_RDWR), ::close(web);
    server.join();
    EXPECT_EQ(r.code, 3) << r.err;
    const std::string said = holds ? " is not a rendezvous store (it answered \"HTTP/1.1…\" where a store answers "
                                   : " is not a rendezvous store (";
    EXPECT_NE(r.err.find(said), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is MASTER_PORT another service's port"), std::string::npos) << r.err;
  }

  // A master's name that does not resolve (.invalid never does, RFC 6761) is said at once, not
  // retried until the timeout.
  const auto t1 = Clock::now();
  r = run("train --data synthetic --steps 2 --dist-timeout 60 --out " + dir.file("d"),
          "RANK=1 WORLD_SIZE=2 MASTER_ADDR=master.invalid MASTER_PORT=29500");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_LT(Clock::now() - t1, std::chrono::seconds(30));
  EXPECT_NE(r.err.find("MASTER_ADDR master.invalid does not resolve to an address"), std::string::npos) << r.err;

  r = run("train --data synthetic --steps 2 --batch 64 --nproc 3 --out " + dir.file("c"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--batch 64 is the global batch and must split evenly across 3 processes (numbers of "
                       "processes that divide it: 1, 2, 4, 8, 16, 32, 64)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir.file("c")));
}

// A rank that cannot take part (here rank 1's GLOO_SOCKET_IFNAME names no interface of its
// machine) says so at the rendezvous, and every rank stops at once with its words, rather than wait
// out --dist-timeout inside Gloo's connection and say "Socket Timeout"; a rank that never comes is
// named when the timeout is up.
TEST_F(Joining, ARankThatCannotJoinIsNamedByEveryRankAtOnce) {
  std::string env = "WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
  const std::string flags = "train --data synthetic --steps 2 --batch 30 --threads 1 --out " + dir.file("run") + " ";
  const auto t0 = Clock::now();
  start("r0", flags + "--dist-timeout 60", "RANK=0 " + env);
  start("r1", flags + "--dist-timeout 60", "RANK=1 GLOO_SOCKET_IFNAME=gex-no-such0 " + env);
  start("r2", flags + "--dist-timeout 60", "RANK=2 " + env);
  for (const char* r : {"r0", "r1", "r2"})
    EXPECT_EQ(wait_for(r, std::chrono::seconds(90)), 3) << read_file(dir.file(r) + ".err");
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(30));  // not the 60 s timeout
  const std::string words = "rank 1 cannot open its network interface for Gloo (GLOO_SOCKET_IFNAME=gex-no-such0";
  EXPECT_NE(read_file(dir.file("r0.err")).find(words), std::string::npos) << read_file(dir.file("r0.err"));
  EXPECT_NE(read_file(dir.file("r2.err")).find(words), std::string::npos) << read_file(dir.file("r2.err"));
  EXPECT_NE(read_file(dir.file("r2.err")).find("; rank 2 stops"), std::string::npos) << read_file(dir.file("r2.err"));
  EXPECT_EQ(read_file(dir.file("r0.err")).find("[enforce fail"), std::string::npos)  // Gloo's words, not its check's
      << read_file(dir.file("r0.err"));
  EXPECT_FALSE(fs::exists(dir.file("run")));
  // Under --nproc every worker has the launcher's environment, so each says it of itself: said once.
  const auto r = run(flags + "--nproc 3", "GLOO_SOCKET_IFNAME=gex-no-such0");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.err.rfind("gex train: error: rank 0 cannot open its network interface for Gloo", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find("rank 1 cannot"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\nranks 1, 2: the same\n"), std::string::npos) << r.err;

  // A launch that gave two processes the same RANK (and none the last): refused at once by all.
  env = "WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
  const auto t1 = Clock::now();
  start("d0", flags + "--dist-timeout 60", "RANK=0 " + env);
  start("d1", flags + "--dist-timeout 60", "RANK=1 " + env);
  start("d1b", flags + "--dist-timeout 60", "RANK=1 " + env);
  for (const char* r : {"d0", "d1", "d1b"}) {
    EXPECT_EQ(wait_for(r, std::chrono::seconds(90)), 3) << read_file(dir.file(r) + ".err");
    EXPECT_NE(read_file(dir.file(r) + ".err").find("two processes say they are rank 1 of 3"), std::string::npos)
        << read_file(dir.file(r) + ".err");
  }
  EXPECT_LT(Clock::now() - t1, std::chrono::seconds(30));

  // A launch that gave the ranks different world sizes: refused at once by both, where the one of
  // two took the job as formed and the one of three waited for a third, each then naming the other lost.
  const std::string master = " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
  const auto t2 = Clock::now();
  start("w0", flags + "--dist-timeout 60", "RANK=0 WORLD_SIZE=2" + master);
  start("w1", flags + "--dist-timeout 60", "RANK=1 WORLD_SIZE=3" + master);
  for (const char* r : {"w0", "w1"}) {
    EXPECT_EQ(wait_for(r, std::chrono::seconds(90)), 3) << read_file(dir.file(r) + ".err");
    EXPECT_NE(read_file(dir.file(r) + ".err").find("the ranks were started with different numbers of ranks: "),
              std::string::npos)
        << read_file(dir.file(r) + ".err");
    EXPECT_NE(read_file(dir.file(r) + ".err").find(" (WORLD_SIZE; every rank of a job must be given the same)"),
              std::string::npos)
        << read_file(dir.file(r) + ".err");
  }
  EXPECT_LT(Clock::now() - t2, std::chrono::seconds(30));

  env = "WORLD_SIZE=6 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
  start("m0", flags + "--dist-timeout 3", "RANK=0 " + env);
  start("m2", flags + "--dist-timeout 3", "RANK=2 " + env);
  for (const char* r : {"m0", "m2"}) {
    EXPECT_EQ(wait_for(r, std::chrono::seconds(30)), 3) << read_file(dir.file(r) + ".err");
    EXPECT_NE(read_file(dir.file(r) + ".err").find("ranks 1, 3–5 did not join the job within 3 s"), std::string::npos)
        << read_file(dir.file(r) + ".err");
  }
}

// A rank killed while the ranks connect — here one stalled inside Gloo's connection to a peer by a
// preloaded connect(), then SIGKILLed — is named by the others within seconds, exit 4, where they
// waited out --dist-timeout in Gloo's connection and its retries (104 s with --dist-timeout 20) and
// said only that their own failed. Which side of a pair connects follows the ranks' addresses:
// with three ranks and the stall preloaded into ranks 1 and 2, one of those two always stalls
// (rank 0, the store's host, would be named through its store's loss).
TEST_F(Joining, ARankKilledWhileTheRanksConnectIsNamedAtOnce) {
  const std::string env = "WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
  const std::string stall = peer_connect_fault("GEX_TEST_STALLED=" + dir.file("stalled"));
  const std::string flags =
      "train --data synthetic --steps 2 --batch 30 --threads 1 --dist-timeout 60 --out " + dir.file("run") + " ";
  start("r0", flags, "RANK=0 " + env);
  start("r1", flags, "RANK=1 " + env + stall);
  start("r2", flags, "RANK=2 " + env + stall);
  int stalled = -1;
  ASSERT_TRUE(wait_until([&] { return bool(std::ifstream(dir.file("stalled")) >> stalled); }, std::chrono::seconds(60)))
      << read_file(dir.file("r0.err")) << read_file(dir.file("r1.err")) << read_file(dir.file("r2.err"));
  ASSERT_TRUE(stalled == 1 || stalled == 2) << stalled;
  const auto t0 = Clock::now();
  ASSERT_EQ(::kill(pid_of("r" + std::to_string(stalled)), SIGKILL), 0);
  for (int r = 0; r < 3; ++r) {
    if (r == stalled) continue;
    const std::string err = dir.file("r" + std::to_string(r)) + ".err";
    EXPECT_EQ(wait_for("r" + std::to_string(r), std::chrono::seconds(90)), 4) << read_file(err);
    EXPECT_NE(read_file(err).find("gex train: error: rank " + std::to_string(stalled) +
                                  " was lost while the ranks connected; rank " + std::to_string(r) + " stops"),
              std::string::npos)
        << read_file(err);
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(15));  // not the 60 s timeout
  EXPECT_FALSE(fs::exists(dir.file("run")));
}

// A rank whose own connection to a peer fails (here rank 1's, refused by a preloaded connect())
// says why to every rank: each exits 3 with a failed rank's words. The store's host waits until
// the others have read them; it left at once, and a rank yet to read them said "rank 0 (which
// hosts the rendezvous store) was lost", exit 4 (in 2 of 2 such jobs by hand). Rank 1 fails only
// where it is the connecting side of a pair (that follows the ranks' addresses: 3 jobs in 4), so
// the job is tried until it does.
TEST_F(Joining, ARankWhoseConnectionFailsIsNamedByEveryRank) {
  const std::string flags =
      "train --data synthetic --steps 2 --batch 30 --threads 1 --dist-timeout 10 --out " + dir.file("run") + " ";
  const auto t0 = Clock::now();
  for (int attempt = 0; attempt < 6; ++attempt) {
    const std::string env = "WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
    const std::string job = "job" + std::to_string(attempt) + "-r";
    start(job + "0", flags, "RANK=0 " + env);
    start(job + "1", flags, "RANK=1 " + env + peer_connect_fault("GEX_TEST_REFUSED=1"));
    start(job + "2", flags, "RANK=2 " + env);
    int code[3];
    for (int r = 0; r < 3; ++r) code[r] = wait_for(job + std::to_string(r), std::chrono::seconds(60));
    if (code[0] == 0 && code[1] == 0 && code[2] == 0) {  // rank 1 only listened: try again
      fs::remove_all(dir.file("run"));
      continue;
    }
    for (int r = 0; r < 3; ++r) {
      const std::string err = read_file(dir.file(job + std::to_string(r) + ".err"));
      EXPECT_EQ(code[r], 3) << "rank " << r << ": " << err;
      EXPECT_NE(err.find("could not connect to the other 2 rank(s) through 127.0.0.1:"), std::string::npos) << err;
      EXPECT_EQ(err.find("was lost"), std::string::npos) << err;
    }
    EXPECT_NE(read_file(dir.file(job + "1.err")).find("rank 1 could not connect"), std::string::npos);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(60));
    EXPECT_FALSE(fs::exists(dir.file("run")));
    return;
  }
  FAIL() << "rank 1 never had to connect to a peer in 6 jobs";
}

// The store's host holds sockets for every rank: a soft limit of open files too low for the job is
// raised to the hard one (at 20, c10d's store aborted the launcher: "Too many open files"), and a
// hard limit too low refuses the job at start, exit 3, rather than abort rank 0 as the ranks come.
TEST_F(Joining, TheOpenFilesLimitIsRaisedForTheJobOrTheJobRefusedAtStart) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 1024) GTEST_SKIP() << "a hard limit of " << limit.rlim_max;
  auto r = run("train --data synthetic --steps 2 --batch 32 --threads 1 --nproc 2 --out " + dir.file("run"),
               "ulimit -S -n 20;");
  EXPECT_EQ(r.code, 0) << r.err;
  const auto t0 = Clock::now();
  r = run("train --data synthetic --steps 2 --out " + dir.file("big") + " --dist-timeout 60",
          "ulimit -n 100; RANK=0 WORLD_SIZE=300 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(20));
  EXPECT_NE(r.err.find("rank 0 hosts the rendezvous store of 300 ranks, which takes about"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("but it may have 100 (ulimit -n"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("big")));
  // Another rank's limit too low (its node's): said at the check-in, to every rank, at once.
  const std::string env = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
  const std::string flags = "train --data synthetic --steps 2 --batch 32 --threads 1 --dist-timeout 60 --out " +
                            dir.file("small");
  start("r0", flags, "RANK=0 " + env);
  start("r1", flags, "ulimit -n 30; RANK=1 " + env);
  for (const char* rank : {"r0", "r1"}) {
    EXPECT_EQ(wait_for(rank, std::chrono::seconds(90)), 3) << read_file(dir.file(rank) + ".err");
    EXPECT_NE(read_file(dir.file(rank) + ".err").find("rank 1 is one of 2 ranks, which takes about"), std::string::npos)
        << read_file(dir.file(rank) + ".err");
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(30));  // not the 60 s timeout
}

}  // namespace
}  // namespace gex
