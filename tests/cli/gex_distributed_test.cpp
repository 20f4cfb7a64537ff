// Data-parallel `gex` end to end (DESIGN §6): real worker processes over loopback Gloo, started by
// `--nproc` or, as torchrun and srun start them, by setting the launcher's environment. What one
// process computes is the reference; the fault cases kill and interrupt real ranks after the job
// formed (how it forms, and what keeps it from forming: gex_joining_test.cpp).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "distributed_job.h"
#include "io/atomic_file.h"
#include "photo_folder.h"
#include "seeded.h"
#include "temp_dir.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"

namespace gex {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::free_port;
using test::proc_stat;

class Distributed : public test::DistributedJob {};

const std::string kFashion = "--data fashion-mnist --seed 3 --batch 64 --augment on --eval-limit 500 --no-probes ";

// The relative difference ‖a − b‖ / ‖a‖ of the worst BatchNorm statistic of two checkpoints.
double worst_statistic(const std::string& a_path, const std::string& b_path, std::string* where) {
  const auto a = load_checkpoint(a_path), b = load_checkpoint(b_path);
  auto theirs = b.net->named_buffers();
  double worst = 0;
  for (const auto& t : a.net->named_buffers()) {
    if (!t.value().is_floating_point()) continue;
    const double d = (t.value() - theirs[t.key()]).norm().item<double>() / std::max(1e-12, t.value().norm().item<double>());
    if (d > worst) worst = d, *where = t.key();
  }
  return worst;
}

// --sync-bn: after a first step, two processes with 32 images each hold the BatchNorm statistics
// one process computes from all 64 (without it, rank 0's own); the global loss is the same; and
// the run continues on one process from the two-process checkpoint.
TEST_F(Distributed, TwoProcessesWithSyncBnSeeTheWholeBatchAndResumeOnOne) {
  const auto two = dir.file("two"), one = dir.file("one"), apart = dir.file("apart");
  const std::string first_step = "train " + kFashion + "--steps 1 --log-every 1 ";
  auto r = run(first_step + "--nproc 2 --sync-bn --json --out " + two);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["world_size"], 2);
  const auto run_json = nlohmann::json::parse(read_file(two + "/run.json"));
  EXPECT_EQ(run_json["world_size"], 2);
  EXPECT_EQ(run_json["backend"], "gloo");
  EXPECT_EQ(run_json["hosts"].size(), 1u);
  EXPECT_EQ(run_json["status"], "finished");
  EXPECT_EQ(run_json["config"]["threads"], 1);  // two processes share the two cores
  ASSERT_EQ(run(first_step + "--threads 2 --out " + one).code, 0);
  ASSERT_EQ(run(first_step + "--nproc 2 --out " + apart).code, 0);
  std::string where;
  const std::string last = "/checkpoints/last.safetensors";
  EXPECT_LT(worst_statistic(one + last, two + last, &where), 2e-4) << where;
  EXPECT_GT(worst_statistic(one + last, apart + last, &where), 1e-2) << "per-process statistics should differ";
  const auto m1 = read_metrics(one + "/metrics.csv"), m2 = read_metrics(two + "/metrics.csv");
  ASSERT_EQ(m1.size(), 2u);
  ASSERT_EQ(m2.size(), 2u);
  EXPECT_NEAR(m1[0].loss, m2[0].loss, 1e-5 * m1[0].loss);  // the step's loss over all 64 images
  EXPECT_EQ(m1[0].top1_error, m2[0].top1_error);
  EXPECT_EQ(m1[1].split, "val");  // 500 validation images, 250 on each rank, counted once
  EXPECT_NEAR(m1[1].loss, m2[1].loss, 1e-4 * m1[1].loss);

  r = run("train --resume " + two + " --steps 4 --nproc 5");  // the run's batch, not a --batch given
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("the run's batch, 64, is the global batch and must split evenly across 5 processes"),
            std::string::npos)
      << r.err;
  r = run("train --resume " + two + " --steps 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming on 1 process(es) where the run trained on 2"), std::string::npos) << r.err;
  EXPECT_EQ(read_checkpoint_info(two + last).step, 4);
  const auto resumed = nlohmann::json::parse(read_file(two + "/run.json"));
  EXPECT_EQ(resumed["world_size"], 1);
  EXPECT_EQ(resumed["status"], "finished");
  EXPECT_EQ(resumed["config"]["threads"], 2);  // one process: all the cores again
  const auto m = read_metrics(two + "/metrics.csv");
  EXPECT_EQ(m.back().step, 4);
  EXPECT_TRUE(std::isfinite(m.back().loss));
}

// Four workers, so that some ranks are not the killed one's neighbours in Gloo's ring: they learn
// of the loss only as its neighbours leave, and must still name the killed rank, not those.
TEST_F(Distributed, AKilledWorkerStopsTheJobWithinTheTimeoutAndTheRunResumes) {
  const auto run_dir = dir.file("run");
  start("job", "train " + kFashion + "--steps 3000 --checkpoint-every 4 --nproc 4 --threads 1 --dist-timeout 10 --out " +
                   run_dir);
  const int launcher = pid_of("job");
  ASSERT_GT(launcher, 0);
  ASSERT_TRUE(wait_until([&] { return fs::exists(run_dir + "/checkpoints/last.safetensors"); }, std::chrono::seconds(60)))
      << read_file(dir.file("job.err"));
  const auto workers = children_of(launcher);
  ASSERT_EQ(workers.size(), 4u);
  const auto victim = std::find_if(workers.begin(), workers.end(), [&](int pid) { return rank_of(pid) == 2; });
  ASSERT_NE(victim, workers.end());
  const auto killed = Clock::now();
  ::kill(*victim, SIGKILL);
  const int code = wait_for("job", std::chrono::seconds(40));
  EXPECT_LT(Clock::now() - killed, std::chrono::seconds(10 + 15));
  EXPECT_EQ(code, 128 + SIGKILL) << read_file(dir.file("job.err"));
  const std::string err = read_file(dir.file("job.err"));
  EXPECT_NE(err.find("killed by signal 9"), std::string::npos) << err;
  std::istringstream lines(err);
  int errors = 0;
  for (std::string line; std::getline(lines, line);)
    if (line.find("error:") != std::string::npos) {
      ++errors;
      EXPECT_NE(line.find("error: rank 2 was lost"), std::string::npos) << line;  // every rank's words
    }
  EXPECT_GE(errors, 1) << err;
  const auto status = RunDirectory::open(run_dir);
  EXPECT_EQ(status.status(), RunStatus::kFailed);
  EXPECT_NE(status.message().find("lost"), std::string::npos) << status.message();
  const int64_t kept = read_checkpoint_info(run_dir + "/checkpoints/last.safetensors").step;
  EXPECT_GT(kept, 0);
  const auto r = run("train --resume " + run_dir + " --steps " + std::to_string(kept + 4) + " --nproc 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(RunDirectory::open(run_dir).status(), RunStatus::kFinished);
  EXPECT_EQ(read_checkpoint_info(run_dir + "/checkpoints/last.safetensors").step, kept + 4);
}

TEST_F(Distributed, SigintStopsEveryRankAtTheSameStepAndSavesLast) {
  const auto run_dir = dir.file("run");
  start("job", "train " + kFashion + "--steps 3000 --log-every 2 --nproc 2 --out " + run_dir);
  const int launcher = pid_of("job");
  ASSERT_TRUE(wait_until([&] { return fs::exists(run_dir + "/metrics.csv") && read_metrics(run_dir + "/metrics.csv").size() >= 2; },
                         std::chrono::seconds(60)))
      << read_file(dir.file("job.err"));
  ::kill(launcher, SIGINT);
  EXPECT_EQ(wait_for("job", std::chrono::seconds(30)), 130) << read_file(dir.file("job.err"));
  EXPECT_EQ(RunDirectory::open(run_dir).status(), RunStatus::kStopped);
  const auto info = read_checkpoint_info(run_dir + "/checkpoints/last.safetensors");
  EXPECT_GT(info.step, 2);
  EXPECT_NE(read_file(dir.file("job.out")).find("interrupted at step " + std::to_string(info.step)), std::string::npos)
      << read_file(dir.file("job.out"));
}

// Stopped as a whole for longer than --dist-timeout and continued, a job goes on: its ranks stopped
// at once by SIGSTOP (Slurm's suspend), then by Ctrl-Z at the launcher (SIGTSTP), which stops its
// workers too. A rank stopped alone is lost: the other stops within the timeout and names it,
// though the collective it waited in never ends (no socket closes).
TEST_F(Distributed, AJobStoppedAsAWholeGoesOnAndARankStoppedAloneIsLost) {
  const auto run_dir = dir.file("run");
  start("job", "train --data synthetic --batch 32 --no-probes --steps 3000 --eval-every 100000 --log-every 2 --nproc 2 "
               "--threads 1 --dist-timeout 2 --out " + run_dir);
  const int launcher = pid_of("job");
  ASSERT_GT(launcher, 0);
  const auto rows = [&] { return fs::exists(run_dir + "/metrics.csv") ? read_metrics(run_dir + "/metrics.csv").size() : 0u; };
  ASSERT_TRUE(wait_until([&] { return rows() >= 2; }, std::chrono::seconds(60))) << read_file(dir.file("job.err"));
  const auto workers = children_of(launcher);
  ASSERT_EQ(workers.size(), 2u);
  const auto all_stopped = [&] {
    return std::all_of(workers.begin(), workers.end(), [&](int pid) { return proc_stat(pid).state == 'T'; });
  };
  for (const bool ctrl_z : {false, true}) {
    if (ctrl_z) ::kill(launcher, SIGTSTP);
    else
      for (int pid : workers) ::kill(pid, SIGSTOP);
    ASSERT_TRUE(wait_until(all_stopped, std::chrono::seconds(10))) << (ctrl_z ? "Ctrl-Z" : "SIGSTOP");
    const size_t before = rows();
    std::this_thread::sleep_for(std::chrono::seconds(5));  // 2.5 × --dist-timeout
    EXPECT_EQ(rows(), before);
    if (ctrl_z) ::kill(launcher, SIGCONT);
    else
      for (int pid : workers) ::kill(pid, SIGCONT);
    ASSERT_TRUE(wait_until([&] { return rows() >= before + 2; }, std::chrono::seconds(30)))
        << (ctrl_z ? "after Ctrl-Z: " : "after SIGSTOP: ") << read_file(dir.file("job.err"));
  }
  const auto rank1 = std::find_if(workers.begin(), workers.end(), [&](int pid) { return rank_of(pid) == 1; });
  const auto rank0 = std::find_if(workers.begin(), workers.end(), [&](int pid) { return rank_of(pid) == 0; });
  ASSERT_TRUE(rank1 != workers.end() && rank0 != workers.end());
  const auto stopped = Clock::now();
  ::kill(*rank1, SIGSTOP);
  EXPECT_TRUE(wait_until([&] { const char s = proc_stat(*rank0).state; return s == '?' || s == 'Z'; }, std::chrono::seconds(20)));
  EXPECT_LT(Clock::now() - stopped, std::chrono::seconds(2 + 8));  // the timeout, and a look at the heartbeats
  ::kill(*rank1, SIGKILL);
  wait_for("job", std::chrono::seconds(30));
  const auto status = RunDirectory::open(run_dir);
  EXPECT_EQ(status.status(), RunStatus::kFailed);
  EXPECT_NE(status.message().find("rank 1 was lost"), std::string::npos) << status.message();
}

// The store's host stopped alone (SIGSTOP; a machine whose network went silent is the same to the
// others) is lost too: the other rank names it within the timeout and two beats, where it asked
// the silent store who was lost and waited out the store's timeout as well (twice the timeout).
TEST_F(Distributed, TheStoresHostStoppedAloneIsNamedWithinTheTimeout) {
  const std::string env = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port());
  const std::string flags = "train --data synthetic --batch 32 --no-probes --steps 3000 --eval-every 100000 "
                            "--log-every 2 --threads 1 --dist-timeout 6 --out " + dir.file("run");
  start("r0", flags, "RANK=0 " + env);
  start("r1", flags, "RANK=1 " + env);
  const auto rows = [&] {
    return fs::exists(dir.file("run/metrics.csv")) ? read_metrics(dir.file("run/metrics.csv")).size() : 0u;
  };
  ASSERT_TRUE(wait_until([&] { return rows() >= 2; }, std::chrono::seconds(60))) << read_file(dir.file("r1.err"));
  const int rank0 = pid_of("r0");
  ASSERT_EQ(::kill(rank0, SIGSTOP), 0);
  const auto stopped = Clock::now();
  EXPECT_EQ(wait_for("r1", std::chrono::seconds(40)), 4) << read_file(dir.file("r1.err"));
  EXPECT_LT(Clock::now() - stopped, std::chrono::seconds(6 + 4));
  EXPECT_NE(read_file(dir.file("r1.err"))
                .find("rank 0 (which hosts the rendezvous store) was lost during an all-reduce; rank 1 stops"),
            std::string::npos)
      << read_file(dir.file("r1.err"));
  ::kill(rank0, SIGKILL);
}

#ifdef GEX_WITH_OPENCV
// A rank that stops on an error of its own after the job formed (here node 1's copy of the folder
// has every training file zeroed, the same names and sizes: its loader refuses it) ends the job at
// once, not after --dist-timeout, and rank 0 says that it stopped on its own error rather than that
// it was lost.
TEST_F(Distributed, ARanksOwnErrorEndsTheJobAtOnceAndIsSaidSo) {
  for (const char* node : {"node0", "node1"}) test::make_photo_folder(dir.path() / node / "photos");
  for (const auto& e : fs::recursive_directory_iterator(dir.path() / "node1/photos/train"))
    if (e.is_regular_file()) std::ofstream(e.path(), std::ios::binary) << std::string(fs::file_size(e.path()), '\0');
  const int port = free_port();
  const auto on = [&](const char* node, int rank) {
    return "cd " + dir.file(node) + " && RANK=" + std::to_string(rank) +
           " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
  };
  const std::string flags = " --data folder:photos --steps 2 --batch 8 --threads 1 --no-probes --dist-timeout 60 --out " +
                            dir.file("run");
  const auto started = Clock::now();
  start("r0", "train" + flags, on("node0", 0));
  start("r1", "train" + flags, on("node1", 1));
  EXPECT_EQ(wait_for("r1", std::chrono::seconds(60)), 3) << read_file(dir.file("r1.err"));
  EXPECT_EQ(wait_for("r0", std::chrono::seconds(60)), 4) << read_file(dir.file("r0.err"));
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(30));  // not the 60 s timeout
  EXPECT_NE(read_file(dir.file("r1.err")).find("no readable image"), std::string::npos) << read_file(dir.file("r1.err"));
  EXPECT_NE(read_file(dir.file("r0.err")).find("error: rank 1 stopped on an error of its own (its log says which)"),
            std::string::npos)
      << read_file(dir.file("r0.err"));
}

// Files that cannot be read make their share of a batch shorter without moving the rows after
// them: each kept row takes its own place's augmentation draws, so two processes still train on
// the one-process batch, in memory and streamed (a file left out of rank 0's share shifted rank
// 1's crops and flips by one).
TEST_F(Distributed, UnreadableFilesLeaveTheBatchesAugmentationAsInOneProcess) {
  test::make_photo_folder(dir.path() / "photos");
  for (int i = 0; i < 4; ++i)
    write_file_atomically(dir.file("photos") + "/train/b/zz-broken" + std::to_string(i) + ".jpg",
                          {"\xff\xd8\xff\xe0 cut short"});
  const std::string step =
      "train --data folder:" + dir.file("photos") + " --seed 3 --batch 28 --steps 1 --augment on --no-probes ";
  const std::string one = dir.file("one"), last = "/checkpoints/last.safetensors";
  const auto r = run(step + "--threads 2 --out " + one);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(read_file(one + "/run.json")).value("skipped_files", 0), 4);
  for (const char* cache : {"512", "0"}) {
    const auto two = dir.file(std::string("two") + cache);
    const auto t = run(step + "--nproc 2 --sync-bn --cache-mb " + cache + " --out " + two);
    ASSERT_EQ(t.code, 0) << t.err;
    std::string where;
    EXPECT_LT(worst_statistic(one + last, two + last, &where), 2e-4) << "--cache-mb " << cache << ": " << where;
  }
}
#endif

// --json's one object on stdout, also when every rank fails: rank 0's alone.
// The same input error in every rank is said once, on stderr and as `--json`'s one object: a
// worker other than rank 0 hands its error to the launcher, which says it only where rank 0 said
// something else (as "rank 1: …", after the job).
TEST_F(Distributed, AFailedDataParallelCommandSaysItsErrorOnce) {
  const std::string tmp = dir.file("tmp");  // the launcher's folder for its workers' errors
  fs::create_directory(tmp);
  const auto r = run("eval --checkpoint " + dir.file("missing.safetensors") + " --data synthetic --json --nproc 3",
                     "TMPDIR=" + tmp);
  EXPECT_EQ(r.code, 3) << r.err;
  const auto lines = std::count(r.out.begin(), r.out.end(), '\n');
  EXPECT_EQ(lines, 1) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_NE(j["error"].get<std::string>().find("missing.safetensors: no such file"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "gex eval: error: " + dir.file("missing.safetensors") + ": no such file\n");
  for (const auto& entry : fs::directory_iterator(tmp)) ADD_FAILURE() << entry.path() << " left behind";
  // A worker's side: rank 1 (here with no rank 0 to reach) leaves its error in the launcher's
  // folder, not on stderr (where c10d's own log line stays).
  const std::string errors = dir.file("errors");
  fs::create_directory(errors);
  const auto worker = test::run_gex(dir, "eval --checkpoint " + dir.file("missing.safetensors") +
                                    " --data synthetic --dist-timeout 1",
                                    "RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 "
                                    "MASTER_PORT=1 GEX_WORKER_ERRORS=" + errors);
  EXPECT_EQ(worker.code, 3) << worker.err;
  EXPECT_EQ(worker.err.find("gex eval:"), std::string::npos) << worker.err;
  EXPECT_EQ(read_file(errors + "/rank-1").rfind("gex eval: error: rank 1 cannot reach the rendezvous store", 0), 0u)
      << read_file(errors + "/rank-1");
}

// Each image counted exactly once: a two-process pass gives one process's figures (499 images: the
// shards are 249 and 250).
//
// The training and the two-process eval run as in Slurm's batch script, which Slurm runs as task 0
// of the job (here of 8 tasks on 2 nodes) in no srun step: there gex is one process, or the
// launcher of its own --nproc workers; it neither waits for 7 more ranks nor refuses --nproc.
TEST_F(Distributed, ShardedEvalSelectivityAndPruningEqualOneProcess) {
  const std::string batch_script = "SLURM_JOB_ID=7 SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NODEID=0 SLURM_NTASKS=8 "
                                   "SLURM_NNODES=2 SLURM_TASKS_PER_NODE='4(x2)' MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                                   std::to_string(free_port());
  const std::string ckpt = dir.file("ckpt.safetensors");
  const auto t = run("train --data synthetic --steps 3 --batch 64 --attention ge --variant theta-minus --no-probes "
                     "--dist-timeout 5 --out " + dir.file("run"), batch_script);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.err.find("gex train: this is Slurm's batch script, not a task of an srun step: one process (`srun gex "
                       "train …` starts the job's 8 tasks"),
            std::string::npos)
      << t.err;
  fs::copy_file(dir.file("run/checkpoints/last.safetensors"), ckpt);
  const std::string data = " --checkpoint " + ckpt + " --data synthetic --limit 499";
  const auto e1 = run("eval" + data + " --json"), e2 = run("eval" + data + " --json --nproc 2", batch_script);
  ASSERT_EQ(e1.code, 0) << e1.err;
  ASSERT_EQ(e2.code, 0) << e2.err;
  const auto j1 = nlohmann::json::parse(e1.out), j2 = nlohmann::json::parse(e2.out);
  EXPECT_EQ(j2["images"], 499);
  EXPECT_EQ(j1["top1_error"], j2["top1_error"]);
  EXPECT_EQ(j1["top5_error"], j2["top5_error"]);
  EXPECT_NEAR(j1["loss"].get<double>(), j2["loss"].get<double>(), 1e-6 * j1["loss"].get<double>());  // float batch sums
  for (const char* command : {"selectivity", "prune --layer layer1.0 --order csi-desc --ratios 0,0.5,1",
                              "prune --stage 3 --order gate-asc --ratios 0,0.25"}) {
    ASSERT_EQ(run(std::string(command) + data + " --out " + dir.file("one.csv")).code, 0) << command;
    const auto r = run(std::string(command) + data + " --nproc 2 --out " + dir.file("two.csv"));
    ASSERT_EQ(r.code, 0) << command << r.err;
    EXPECT_EQ(read_file(dir.file("one.csv")), read_file(dir.file("two.csv"))) << command;
    fs::remove(dir.file("one.csv")), fs::remove(dir.file("two.csv"));  // results are never overwritten
  }
}

// gex study --analyses over two processes: the files it leaves in the runs' analyses/ are one
// process's, byte for byte, and asked again with every file there, nothing is computed.
TEST_F(Distributed, AStudysAnalysesOverTwoProcessesEqualOneProcess) {
  const std::string one = dir.file("one"), two = dir.file("two");
  ASSERT_EQ(run("study --data synthetic --input-size 16 --steps 10 --batch 32 --threads 1 --eval-every 10 "
                "--eval-limit 100 --no-probes --variants baseline,theta-minus --seeds 1 --out " + one).code, 0);
  fs::copy(one, two, fs::copy_options::recursive);
  const std::string ask = " --limit 299 --layer layer3.2 --order csi-desc,random --repeats 2 --threads 1 --json";
  const auto r1 = run("study --analyses " + one + ask), r2 = run("study --analyses " + two + ask + " --nproc 2");
  ASSERT_EQ(r1.code, 0) << r1.err;
  ASSERT_EQ(r2.code, 0) << r2.err;
  const auto j1 = nlohmann::json::parse(r1.out), j2 = nlohmann::json::parse(r2.out);
  ASSERT_EQ(j2["computed"].size(), 2u * 3u) << "a selectivity and two curves per run, written once";
  for (const auto& written : j2["computed"]) {
    const std::string mine = written.get<std::string>();
    EXPECT_EQ(read_file(one + mine.substr(two.size())), read_file(mine)) << mine;
  }
  EXPECT_EQ(j1["selectivity"], j2["selectivity"]);
  EXPECT_EQ(j1["pruning"], j2["pruning"]);
  const auto again = run("study --analyses " + two + ask + " --nproc 2");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(nlohmann::json::parse(again.out)["computed"].empty());
  EXPECT_EQ(run("study --analyses " + two + " --step 10 --nproc 2").code, 2) << "--step computes nothing";
}

}  // namespace
}  // namespace gex
