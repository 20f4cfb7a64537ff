// `gex` end to end: the binary as a user runs it, its exit codes (DESIGN §4), its JSON, and its
// outputs checked against the engine. (Imported weights and photo folders: gex_pretrained_test.cpp;
// runs stopped and resumed: gex_interrupt_test.cpp.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <sys/wait.h>
#include <torch/version.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "io/npy.h"
#include "gex_process.h"
#include "seeded.h"
#include "temp_dir.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/core/version.hpp>
#endif

namespace gex {
namespace {

namespace fs = std::filesystem;


class Gex : public test::GexTest {};

TEST_F(Gex, HelpOnEveryCommand) {
  for (const char* command :
       {"", "info", "init", "import", "forward", "train", "eval", "gates", "selectivity", "prune", "sweep", "probe", "study"}) {
    const auto r = run(std::string(command) + " --help");
    EXPECT_EQ(r.code, 0) << command;
    EXPECT_NE(r.out.find("--"), std::string::npos) << command;
  }
}

// `gex --version` says what this gex was built with and the cores it may use, here against the
// test's own view: its build's options, its affinity mask (narrowed by taskset), the online cores.
TEST_F(Gex, VersionSaysWhatThisBuildHasAndSees) {
  const auto r = run("--version");
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines;
  std::istringstream out(r.out);
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  ASSERT_GE(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], std::string("gex ") + GEX_VERSION);
#if GEX_WITH_CUDA
  EXPECT_EQ(lines[1].rfind(std::string("LibTorch ") + TORCH_VERSION + " with CUDA: ", 0), 0u) << lines[1];
#else
  EXPECT_EQ(lines[1], std::string("LibTorch ") + TORCH_VERSION + ", CPU only (built without CUDA)");
#endif
  EXPECT_NE(r.out.find(GEX_TEST_WITH_GLOO ? "\ndata-parallel training: c10d with Gloo"
                                          : "\ndata-parallel training: none (built without Gloo"),
            std::string::npos)
      << r.out;
#ifdef GEX_WITH_OPENCV
  EXPECT_NE(r.out.find("\nimage files: OpenCV " CV_VERSION "\n"), std::string::npos) << r.out;
#else
  EXPECT_NE(r.out.find("\nimage files: none"), std::string::npos) << r.out;
#endif
  cpu_set_t mine;
  CPU_ZERO(&mine);
  ASSERT_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
  const std::string online = std::to_string(sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_NE(r.out.find("\ncores: " + std::to_string(CPU_COUNT(&mine)) + " of the machine's " + online + " "),
            std::string::npos)
      << r.out;
  if (online != "1" && std::system("command -v taskset > /dev/null") == 0) {
    const auto one = run("--version", "taskset -c 0");
    EXPECT_NE(one.out.find("\ncores: 1 of the machine's " + online + " "), std::string::npos) << one.out;
  }
}

TEST_F(Gex, InfoReportsThePapersResNet50GETheta) {
  const auto r = run("info --model resnet50 --attention ge --variant theta --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = r.json();
  EXPECT_NEAR(j["params"].get<double>() / 1e6, 31.2, 0.2);
  EXPECT_NEAR(j["macs"].get<double>() / 1e9, 3.87, 3.87 * 0.005);
  EXPECT_EQ(j["attention_modules"], 16);
  ASSERT_EQ(j["gate_layers"].size(), 16u);
  EXPECT_EQ(j["gate_layers"][0], "layer1.0.attn");
  EXPECT_EQ(j["gate_layers"][15], "layer4.2.attn");
  EXPECT_EQ(j["model"]["extent"], "global");
}

// A checkpoint's info is its model's (as the model flags give it) and what it was trained to: the
// shipped run's best checkpoint against the best validation row of the run's own metrics.csv.
TEST_F(Gex, InfoOfACheckpointIsItsModelAndWhatItWasTrainedTo) {
  const std::string model = "--model resnet20 --attention ge --variant theta --extent 4 --in-channels 1 --input-size 28";
  ASSERT_EQ(run("init " + model + " --out " + dir.file("a.safetensors")).code, 0);
  const auto fresh = run("info --checkpoint " + dir.file("a.safetensors") + " --json");
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  const auto by_flags = run("info " + model + " --json").json();
  auto j = fresh.json();
  for (const char* key : {"params", "macs", "attention_modules", "gate_layers", "model"})
    EXPECT_EQ(j[key], by_flags[key]) << key;
  EXPECT_EQ(j["checkpoint"]["step"], 0);
  EXPECT_TRUE(j["checkpoint"]["metrics"].is_null());

  const fs::path shipped = fs::path(GEX_RESOURCES) / "default-runs/resnet20-fashion-mnist-study/theta-minus/seed-1";
  int64_t best_step = -1;
  double best_error = 2.0;
  std::istringstream csv(read_file((shipped / "metrics.csv").string()));
  std::string line;
  std::getline(csv, line);  // step,epoch,split,loss,top1_error,…
  while (std::getline(csv, line)) {
    std::vector<std::string> f;
    std::istringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) f.push_back(cell);
    if (f.size() > 4 && f[2] == "val" && std::stod(f[4]) < best_error) best_error = std::stod(f[4]), best_step = std::stoll(f[0]);
  }
  const auto r = run("info --checkpoint " + (shipped / "checkpoints/best.safetensors").string() + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = r.json();
  EXPECT_EQ(j["checkpoint"]["step"], best_step);
  EXPECT_NEAR(j["checkpoint"]["metrics"]["val"]["top1_error"].get<double>(), best_error, 1e-6);
  EXPECT_EQ(j["checkpoint"]["preprocess"]["class_names"][9], "Ankle boot");
  EXPECT_EQ(j["model"]["variant"], "theta-minus");

  // The model comes from the file or from the flags, never both; a file that is not one is named.
  EXPECT_EQ(run("info --checkpoint " + dir.file("a.safetensors") + " --model resnet50").code, 2);
  dir.write("not.safetensors", "not a checkpoint");
  const auto bad = run("info --checkpoint " + dir.file("not.safetensors"));
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find(dir.file("not.safetensors")), std::string::npos) << bad.err;
}

TEST_F(Gex, InitIsDeterministicAndForwardMatchesTheEngine) {
  const std::string flags = "--model resnet20 --attention ge --variant theta --extent 2 --in-channels 1 "
                            "--input-size 28 --seed 7";
  ASSERT_EQ(run("init " + flags + " --out " + dir.file("a.safetensors")).code, 0);
  ASSERT_EQ(run("init " + flags + " --out " + dir.file("b.safetensors") + " --json").code, 0);
  EXPECT_EQ(read_file(dir.file("a.safetensors")), read_file(dir.file("b.safetensors")));
  // A checkpoint is never overwritten: another seed onto a.safetensors is refused, the file kept.
  const auto again = run("init --model resnet20 --seed 8 --out " + dir.file("a.safetensors"));
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find(dir.file("a.safetensors") + " exists"), std::string::npos) << again.err;
  EXPECT_EQ(read_file(dir.file("a.safetensors")), read_file(dir.file("b.safetensors")));

  auto x = torch::randn({3, 1, 28, 28});
  write_npy(dir.file("x.npy"), x);
  const auto r = run("forward --checkpoint " + dir.file("a.safetensors") + " --input " + dir.file("x.npy") +
                     " --out " + dir.file("logits.npy") + " --gates " + dir.file("gates") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["shape"], nlohmann::json({3, 10}));

  auto ckpt = load_checkpoint(dir.file("a.safetensors"));
  ckpt.net->eval();
  ckpt.net->set_gate_capture(true);
  torch::NoGradGuard no_grad;
  const auto expected = ckpt.net->forward(x);
  const auto logits = read_npy(dir.file("logits.npy"));
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-5));
  // NumPy's default float64 is taken and rounded to float32: the same logits.
  write_npy(dir.file("x64.npy"), x.to(torch::kFloat64));
  ASSERT_EQ(run("forward --checkpoint " + dir.file("a.safetensors") + " --input " + dir.file("x64.npy") + " --out " +
                dir.file("logits64.npy")).code, 0);
  EXPECT_TRUE(torch::equal(read_npy(dir.file("logits64.npy")), logits));

  const auto attns = ckpt.net->attention_modules();
  ASSERT_EQ(attns.size(), 9u);
  for (const auto& [path, attn] : attns) {
    const auto gate = read_npy(dir.file("gates/" + path + ".npy"));
    EXPECT_EQ(gate.scalar_type(), torch::kFloat32);
    ASSERT_EQ(gate.dim(), 4);
    EXPECT_EQ(gate.size(0), 3);
    EXPECT_TRUE(torch::allclose(gate, attn->last_gate(), 1e-5, 1e-6)) << path;
    EXPECT_GT(gate.min().item<float>(), 0.0f);
    EXPECT_LT(gate.max().item<float>(), 1.0f);
  }
  EXPECT_EQ(read_npy(dir.file("gates/layer1.0.attn.npy")).sizes(), (std::vector<int64_t>{3, 16, 28, 28}));
  EXPECT_EQ(read_npy(dir.file("gates/layer3.2.attn.npy")).sizes(), (std::vector<int64_t>{3, 64, 7, 7}));
}

TEST_F(Gex, GlobalGatesAreNByCByOneByOne) {
  ASSERT_EQ(run("init --attention ge --variant theta-plus --out " + dir.file("g.safetensors")).code, 0);
  write_npy(dir.file("x.npy"), torch::randn({2, 3, 32, 32}));
  const auto r = run("forward --checkpoint " + dir.file("g.safetensors") + " --input " + dir.file("x.npy") +
                     " --out " + dir.file("l.npy") + " --gates " + dir.file("gates"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_npy(dir.file("gates/layer2.0.attn.npy")).sizes(), (std::vector<int64_t>{2, 32, 1, 1}));
}

TEST_F(Gex, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").code, 2);
  const auto unknown = run("frobnicate");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
  EXPECT_EQ(run("info --no-such-flag").code, 2);
  EXPECT_EQ(run("info --attention maybe").code, 2);
  EXPECT_EQ(run("info --extent 3").code, 2);
  EXPECT_EQ(run("info --model resnet21").code, 2);
  EXPECT_EQ(run("info --threads 0").code, 2);
  EXPECT_EQ(run("init").code, 2);  // --out is required
  // A value not of its option's kind says what the option takes (CLI11: "Could not convert: …").
  for (const auto& [args, said] : std::vector<std::pair<std::string, std::string>>{
           {"eval --checkpoint x.safetensors --limit -1", "gex eval: error: --limit takes a whole number, 0 or more, not '-1'"},
           {"train --steps 1e5", "gex train: error: --steps takes a whole number, not '1e5'"},
           {"prune --ratios 0,x", "gex prune: error: --ratios takes numbers separated by commas, not '0,x'"},
           // (CLI11 read a seed of -1 as 2^64 − 1)
           {"train --seed -1", "gex train: error: --seed takes a whole number, 0 or more, not '-1'"}}) {
    const auto bad = run(args);
    EXPECT_EQ(bad.code, 2) << args;
    EXPECT_EQ(bad.err.rfind(said + "\n", 0), 0u) << bad.err;
  }
  const auto r = run("info --variant theta-max --json");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--variant"), std::string::npos) << r.err;
  EXPECT_EQ(r.json()["exit_code"], 2);
  // What the parser itself refuses reads as every other error: named by its command, and as JSON.
  for (const std::string args : {"info --threads 0 --json", "train --nproc 0 --json", "info --no-such-flag --json"}) {
    const auto p = run(args);
    EXPECT_EQ(p.code, 2) << args;
    const std::string who = "gex " + args.substr(0, args.find(' ')) + ": error: ";
    EXPECT_EQ(p.err.rfind(who, 0), 0u) << args << "\n" << p.err;
    EXPECT_EQ(p.json()["exit_code"], 2) << args;
    EXPECT_NE(p.json()["error"].get<std::string>().find(args.substr(args.find(' ') + 1, 6)), std::string::npos)
        << p.out;
    if (args.find("--threads 0") != std::string::npos) {
      EXPECT_EQ(p.json()["error"], "--threads takes a whole number from 1 to 1024, not '0'") << p.out;
    }
  }
  EXPECT_EQ(run("frobnicate --json").json()["exit_code"], 2);
}

TEST_F(Gex, BadInputsExitThreeNamingTheFileAndLeaveNothingBehind) {
  ASSERT_EQ(run("init --in-channels 1 --input-size 28 --attention ge --variant theta --out " +
                dir.file("m.safetensors")).code, 0);
  const auto ckpt = dir.file("m.safetensors");
  write_npy(dir.file("ok.npy"), torch::randn({2, 1, 28, 28}));
  write_npy(dir.file("rgb.npy"), torch::randn({2, 3, 28, 28}));
  write_npy(dir.file("rank3.npy"), torch::randn({1, 28, 28}));
  write_npy(dir.file("i64.npy"), torch::ones({2, 1, 28, 28}, torch::kInt64));
  write_npy(dir.file("size.npy"), torch::randn({2, 1, 32, 32}));
  const std::string bytes = read_file(ckpt);
  dir.write("cut.safetensors", bytes.substr(0, bytes.size() - 100));
  dir.write("junk.safetensors", "this is not a checkpoint at all");
  fs::create_directories(dir.file("a-run"));
  dir.write("a-run/run.json", "{}");  // a run directory given for its checkpoint: named
  fs::create_directories(dir.file("folder"));

  struct Case {
    std::string checkpoint, input, expect;
  };
  const Case cases[] = {
      {dir.file("none.safetensors"), dir.file("ok.npy"), "none.safetensors: no such file"},
      {dir.file("cut.safetensors"), dir.file("ok.npy"), "cut.safetensors"},
      {dir.file("junk.safetensors"), dir.file("ok.npy"), "junk.safetensors"},
      {ckpt, dir.file("missing.npy"), "missing.npy: no such file"},
      {ckpt, dir.file("rgb.npy"), "rgb.npy: the model takes 1 input channel(s)"},
      {ckpt, dir.file("rank3.npy"), "rank3.npy: expected a 4-D"},
      {ckpt, dir.file("i64.npy"), "i64.npy: expected float32"},
      {ckpt, dir.file("size.npy"), "size.npy: this model"},
      {ckpt, ckpt, "not a .npy"},
      {dir.file("a-run"), dir.file("ok.npy"), "a-run: is a run directory, not a checkpoint: its best is " +
                                                  dir.file("a-run") + "/checkpoints/best.safetensors"},
      {dir.file("folder"), dir.file("ok.npy"), "folder: is a directory, not a checkpoint file"},
  };
  for (const auto& c : cases) {
    const auto r = run("forward --checkpoint " + c.checkpoint + " --input " + c.input + " --out " +
                       dir.file("out.npy") + " --gates " + dir.file("gates"));
    EXPECT_EQ(r.code, 3) << c.expect << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir.file("out.npy"))) << c.expect;
    EXPECT_FALSE(fs::exists(dir.file("gates"))) << c.expect;
  }
  const auto r = run("forward --checkpoint " + dir.file("junk.safetensors") + " --input " +
                     dir.file("ok.npy") + " --out " + dir.file("out.npy") + " --json");
  EXPECT_EQ(r.json()["exit_code"], 3);
  EXPECT_EQ(run("init --out " + dir.file("no/such/dir/x.safetensors")).code, 3);
  const auto info = run("info --checkpoint " + dir.file("a-run"));  // the header alone: the same message
  EXPECT_EQ(info.code, 3);
  EXPECT_NE(info.err.find("is a run directory, not a checkpoint"), std::string::npos) << info.err;
}

TEST_F(Gex, TrainThenEvalAgree) {
  const auto run_dir = dir.file("run");
  const auto r = run("train --data synthetic --input-size 16 --attention ge --steps 12 --batch 32 --eval-limit 100 --no-probes "
                     "--threads 2 --out " + run_dir + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = r.json();
  EXPECT_EQ(j["run"], run_dir);
  EXPECT_EQ(j["threads"], 2);
  // images/s is the session's images over its training seconds: the same as metrics.csv's rows
  // (each an interval's images/s) give.
  double images = 0, seconds = 0;
  int64_t previous = 0;
  for (const auto& row : read_metrics(run_dir + "/metrics.csv")) {
    if (row.split != "train") continue;
    const double n = double(row.step - previous) * 32;
    images += n;
    seconds += n / row.images_per_second;
    previous = row.step;
  }
  EXPECT_EQ(previous, 12);
  EXPECT_NEAR(j["images_per_second"].get<double>(), images / seconds, 1e-4 * images / seconds);
  for (const char* key : {"loss", "top1_error", "top5_error"}) EXPECT_TRUE(j["final"].contains(key)) << key;
  for (const char* f : {"run.json", "metrics.csv", "checkpoints/last.safetensors", "checkpoints/best.safetensors"})
    EXPECT_TRUE(fs::exists(run_dir + "/" + f)) << f;
  const auto e = run("eval --checkpoint " + run_dir + "/checkpoints/best.safetensors --data synthetic --limit 100 --json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.json()["images"], 100);
  EXPECT_NEAR(e.json()["top1_error"].get<double>(), j["best"]["top1_error"].get<double>(), 1e-9);
  EXPECT_NEAR(e.json()["loss"].get<double>(), j["best"]["loss"].get<double>(), 1e-4);

  // Resume to a longer run; flags that would change the run are refused.
  for (const char* flag : {"--lr 0.5", "--schedule cosine", "--momentum 0.5", "--batch 16", "--attention se",
                           "--eval-every 3"}) {
    const auto refused = run("train --resume " + run_dir + " " + flag + " --steps 20");
    EXPECT_EQ(refused.code, 2) << flag;
    EXPECT_NE(refused.err.find("cannot change a run on --resume"), std::string::npos) << refused.err;
  }
  // --data only as the run's data at another place (Pretrained.ARunWhoseDataMovedResumes…).
  const auto other_data = run("train --resume " + run_dir + " --data mnist:/tmp --steps 20");
  EXPECT_EQ(other_data.code, 2);
  EXPECT_NE(other_data.err.find("is not the run's data set (synthetic) at another place"), std::string::npos)
      << other_data.err;
  const auto resumed = run("train --resume " + run_dir + " --steps 16 --json");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(resumed.json()["step"], 16);
  // Shorter than it has trained: refused, and run.json keeps the length it trained to.
  const auto cut = run("train --resume " + run_dir + " --steps 10");
  EXPECT_EQ(cut.code, 2) << cut.err;
  EXPECT_NE(cut.err.find("--steps 10 is shorter than " + run_dir + " has trained: step 16"), std::string::npos)
      << cut.err;
  EXPECT_EQ(RunDirectory::open(run_dir).config().steps, 16);
  EXPECT_EQ(run("train --data synthetic --steps 2 --out " + run_dir).code, 2);  // exists
}

// `--progress json` (what the application reads): every stderr line one JSON object; the last
// progress is the last step; evaluations carry their error; stdout keeps `--json`'s result alone.
TEST_F(Gex, ProgressJsonIsOneObjectPerLine) {
  const auto run_dir = dir.file("run");
  const auto r = run("train --data synthetic --input-size 16 --steps 9 --batch 16 --eval-every 3 --eval-limit 50 --no-probes "
                     "--threads 1 --out " + run_dir + " --progress json --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["step"], 9);
  std::istringstream lines(r.err);
  std::vector<nlohmann::json> progress, evals;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.rfind("finished", 0) == 0 || line.rfind("best top-1", 0) == 0) continue;  // --json's human text
    const auto j = nlohmann::json::parse(line);  // throws (fails) on anything but JSON
    if (j.contains("progress")) progress.push_back(j["progress"]);
    if (j.contains("eval")) evals.push_back(j["eval"]);
  }
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back()["step"], 9);
  EXPECT_EQ(progress.back()["total_steps"], 9);
  ASSERT_EQ(evals.size(), 3u);
  for (size_t i = 0; i < evals.size(); ++i) {
    EXPECT_EQ(evals[i]["step"], int64_t(3 * (i + 1)));
    EXPECT_GE(evals[i]["top1_error"].get<double>(), 0.0);
    EXPECT_LE(evals[i]["top1_error"].get<double>(), 1.0);
  }
  EXPECT_NE(run("train --data synthetic --steps 1 --progress yaml --out " + dir.file("x")).code, 0);
}

TEST_F(Gex, TrainErrorsHaveTheirExitCodes) {
  EXPECT_EQ(run("train --data synthetic --steps 2").code, 2);  // no --out
  EXPECT_EQ(run("train --data nonsense --steps 2 --out " + dir.file("r")).code, 2);
  EXPECT_EQ(run("train --data idx:" + dir.file("nowhere") + " --steps 2 --out " + dir.file("r")).code, 3);
  EXPECT_EQ(run("train --data synthetic --schedule sometimes --steps 2 --out " + dir.file("r")).code, 2);
  EXPECT_EQ(run("train --resume " + dir.file("nowhere")).code, 3);
  // A wrong setting is said before the data is read (a big folder takes minutes): here a folder
  // that reading would refuse (exit 3, its files no images).
  for (const std::string cls : {"a", "b"}) {
    fs::create_directories(dir.file("unread/" + cls));
    dir.write("unread/" + cls + "/notes.png", "not an image");
  }
  const auto early = run("train --data folder:" + dir.file("unread") + " --lr -1 --steps 2 --out " + dir.file("r"));
  EXPECT_EQ(early.code, 2) << early.err;
  EXPECT_NE(early.err.find("--lr must be a positive number"), std::string::npos) << early.err;
  EXPECT_EQ(early.err.find("notes.png"), std::string::npos) << early.err;
  // Numbers out of range, NaN and infinity, each refused naming its flag (a NaN
  // momentum trained, and its run.json then held null: a study over it failed, exit 3).
  for (const char* flag : {"--momentum nan", "--weight-decay inf", "--milestones nan", "--log-every 0"}) {
    const auto refused = run("train --data synthetic --steps 2 " + std::string(flag) + " --out " + dir.file("r"));
    EXPECT_EQ(refused.code, 2) << flag;
    const std::string name = std::string(flag).substr(0, std::string(flag).find(' '));
    EXPECT_NE(refused.err.find("error: " + name + " "), std::string::npos) << flag << ": " << refused.err;
  }
  EXPECT_FALSE(fs::exists(dir.file("r")));
  // A folder of the user's (`--out .` by mistake): refused, and nothing of a run is put in it.
  fs::create_directories(dir.file("mine"));
  dir.write("mine/notes.txt", "my notes");
  const auto mine = run("train --data synthetic --steps 2 --out " + dir.file("mine"));
  EXPECT_EQ(mine.code, 2);
  EXPECT_NE(mine.err.find(dir.file("mine") + " is a folder with other files in it, not a run"), std::string::npos)
      << mine.err;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.file("mine")), fs::directory_iterator()), 1);
  const auto nan = run("train --data synthetic --input-size 16 --lr 1e12 --steps 30 --out " + dir.file("nan"));
  EXPECT_EQ(nan.code, 4) << nan.err;
  EXPECT_NE(nan.err.find("loss became"), std::string::npos) << nan.err;
  EXPECT_EQ(RunDirectory::open(dir.file("nan")).status(), RunStatus::kFailed);
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer's shadow memory needs far more address space
  // A batch the memory cannot hold (here 2 GB of address space; a step of 2000 images of 64×64
  // needs more): exit 4 saying so and how much, not LibTorch's enforce message, and run.json alike.
  const auto memory = run("train --data synthetic --input-size 64 --batch 2000 --steps 1 --out " + dir.file("big"),
                          "ulimit -v 2000000;");
  EXPECT_EQ(memory.code, 4) << memory.err;
  EXPECT_NE(memory.err.find("gex train: error: out of memory: 0.52 GB more could not be allocated"), std::string::npos)
      << memory.err;
  EXPECT_EQ(memory.err.find("enforce"), std::string::npos) << memory.err;
  const auto big = RunDirectory::open(dir.file("big"));
  EXPECT_EQ(big.status(), RunStatus::kFailed);
  EXPECT_EQ(big.message().rfind("out of memory: ", 0), 0u) << big.message();
#endif

  // A checkpoint that cannot be written mid-run (here its folder turned into a file; a full disk
  // alike): exit 4, and run.json says failed and why, not "running".
  const auto broken = dir.file("broken");
  const std::string cmd = std::string(GEX_BINARY) + " train --data synthetic --input-size 16 --steps 100000 "
                          "--batch 16 --log-every 1 --checkpoint-every 2 --out " + broken + " >/dev/null 2>" +
                          dir.file("broken.err") + " & pid=$!; while [ ! -s " + broken + "/checkpoints/last.safetensors ]; "
                          "do sleep 0.1; done; mv " + broken + "/checkpoints " + broken + "/moved; touch " + broken +
                          "/checkpoints; wait $pid; exit $?";
  const int status = std::system(("bash -c '" + cmd + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4) << read_file(dir.file("broken.err"));
  const auto failed = RunDirectory::open(broken);
  EXPECT_EQ(failed.status(), RunStatus::kFailed);
  EXPECT_NE(failed.message().find(broken + "/checkpoints/"), std::string::npos) << failed.message();
}

TEST_F(Gex, GatesSkipBadImagesAndExitThree) {
  ASSERT_EQ(run("init --attention ge --extent 4 --in-channels 1 --input-size 28 --out " + dir.file("m.safetensors")).code, 0);
  // A tiny valid PGM (the format OpenCV reads without any library), and a file that is not an image.
  std::string pgm = "P5\n4 3\n255\n";
  for (int i = 0; i < 12; ++i) pgm.push_back(char(i * 20));
  dir.write("tiny.pgm", pgm);
  dir.write("notes.png", "hello");
  // A PNG cut short (as by an interrupted copy): named as such, without libpng's own lines.
  const auto sample = read_file(std::string(GEX_RESOURCES) + "/samples/fashion-0-t-shirt.png");
  dir.write("cut.png", sample.substr(0, sample.size() / 2));
  const auto r = run("gates --checkpoint " + dir.file("m.safetensors") + " --image " + dir.file("tiny.pgm") + " " +
                     dir.file("notes.png") + " " + dir.file("cut.png") + " --out " + dir.file("g") + " --json");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("notes.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir.file("cut.png") + ": a truncated PNG"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("libpng"), std::string::npos) << r.err;
  EXPECT_EQ(r.json()["bad"], 2);
  EXPECT_TRUE(fs::exists(dir.file("g/tiny/gates/layer3.2.attn.npy")));
  EXPECT_EQ(read_npy(dir.file("g/tiny/input.npy")).sizes(), (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_EQ(run("gates --checkpoint " + dir.file("m.safetensors") + " --image " + dir.file("tiny.pgm") +
                " --out " + dir.file("g2") + " --colormap rainbow").code, 2);
  // No image read: exit 3 and nothing written.
  const auto none = run("gates --checkpoint " + dir.file("m.safetensors") + " --image " + dir.file("notes.png") +
                        " --out " + dir.file("g3") + " --json");
  EXPECT_EQ(none.code, 3) << none.err;
  EXPECT_TRUE(none.json()["predictions"].is_null());
  EXPECT_FALSE(fs::exists(dir.file("g3")));
  // A folder: its image files in name order (others left out); one without any is named.
  fs::create_directories(dir.file("photos/empty"));
  dir.write("photos/b.pgm", pgm);
  dir.write("photos/a.pgm", pgm);
  dir.write("photos/readme.txt", "not an image");
  const auto folder = run("gates --checkpoint " + dir.file("m.safetensors") + " --image " + dir.file("photos") +
                          " --out " + dir.file("g4") + " --json");
  ASSERT_EQ(folder.code, 0) << folder.err;
  ASSERT_EQ(folder.json()["images"].size(), 2u);
  EXPECT_EQ(folder.json()["images"][0]["file"], dir.file("photos/a.pgm"));
  EXPECT_EQ(folder.json()["images"][1]["file"], dir.file("photos/b.pgm"));
  EXPECT_TRUE(fs::exists(dir.file("g4/b/gates/layer3.2.attn.npy")));
  const auto empty = run("gates --checkpoint " + dir.file("m.safetensors") + " --image " + dir.file("photos/empty") +
                         " --out " + dir.file("g5"));
  EXPECT_EQ(empty.code, 3);
  EXPECT_NE(empty.err.find(dir.file("photos/empty") + ": holds no image files"), std::string::npos) << empty.err;
  EXPECT_FALSE(fs::exists(dir.file("g5")));
  // A file that cannot be written (here over a file-size limit, as on a full disk) is no bad image
  // to skip: the work stops there, exit 3 naming it, and no half-written image folder is left.
  const auto full = run("gates --checkpoint " + dir.file("m.safetensors") + " --image " + dir.file("photos") +
                            " --out " + dir.file("g6"),
                        "trap '' XFSZ; ulimit -f 16;");
  EXPECT_EQ(full.code, 3) << full.err;
  EXPECT_NE(full.err.find(dir.file("g6/a/gates/")), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("File too large"), std::string::npos) << full.err;
  EXPECT_EQ(full.err.find("skipped"), std::string::npos) << full.err;
  EXPECT_FALSE(fs::exists(dir.file("g6")));
}

TEST_F(Gex, SelectivityWritesOneRowPerUnit) {
  ASSERT_EQ(run("init --attention ge --in-channels 1 --input-size 16 --out " + dir.file("m.safetensors")).code, 0);
  const auto r = run("selectivity --checkpoint " + dir.file("m.safetensors") + " --data synthetic --limit 50 --out " +
                     dir.file("csi.csv") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["images"], 50);
  ASSERT_EQ(r.json()["layers"].size(), 9u);
  EXPECT_EQ(r.json()["layers"][8]["layer"], "layer3.2");
  const auto csv = read_file(dir.file("csi.csv"));
  EXPECT_EQ(csv.rfind("layer,unit,csi,max_class,mean_activation\nlayer1.0,0,", 0), 0u) << csv.substr(0, 80);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 3 * 16 + 3 * 32 + 3 * 64);
  EXPECT_EQ(run("selectivity --checkpoint " + dir.file("m.safetensors") + " --data cifar10:" + dir.file("none") +
                " --out " + dir.file("x.csv")).code, 3);
}

TEST_F(Gex, PruneWritesTheCurve) {
  ASSERT_EQ(run("init --attention ge --in-channels 1 --input-size 16 --out " + dir.file("m.safetensors")).code, 0);
  const auto base = "prune --checkpoint " + dir.file("m.safetensors") + " --data synthetic --limit 60 ";
  auto r = run(base + "--stage 3 --order random --repeats 2 --ratios 0,0.5,1 --out " + dir.file("p.csv") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["points"].size(), 3u);
  const auto csv = read_file(dir.file("p.csv"));
  EXPECT_EQ(csv.rfind("layer,order,ratio,repeat,top1_error,top5_error\nlayer3,random,0,0,", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 3 * 2);
  const auto e = run("eval --checkpoint " + dir.file("m.safetensors") + " --data synthetic --limit 60 --json");
  EXPECT_NEAR(r.json()["points"][0]["top1_error"].get<double>(), e.json()["top1_error"].get<double>(), 1e-12);
  EXPECT_EQ(run(base + "--layer layer7.0 --order csi-desc --out " + dir.file("q.csv")).code, 2);
  EXPECT_EQ(run(base + "--order csi-desc --out " + dir.file("q.csv")).code, 2);
  // A block, order or ratio that cannot work is said before the data is read: here a folder that
  // reading would refuse (exit 3, its files no images).
  for (const std::string cls : {"a", "b"}) {
    fs::create_directories(dir.file("unread/" + cls));
    dir.write("unread/" + cls + "/notes.png", "not an image");
  }
  const auto unread = "prune --checkpoint " + dir.file("m.safetensors") + " --data folder:" + dir.file("unread") + " ";
  const auto early = run(unread + "--layer layer7.0 --order random --out " + dir.file("q.csv"));
  EXPECT_EQ(early.code, 2) << early.err;
  EXPECT_NE(early.err.find("no block 'layer7.0'"), std::string::npos) << early.err;
  EXPECT_EQ(early.err.find("notes.png"), std::string::npos) << early.err;
}

// DESIGN §7: a result already there is never overwritten, and where a command will write is
// checked before it does any work (a selectivity pass over ImageNet is hours).
TEST_F(Gex, ResultsAreNeverOverwrittenAndTheirPlaceIsCheckedFirst) {
  ASSERT_EQ(run("init --attention ge --in-channels 1 --input-size 16 --out " + dir.file("m.safetensors")).code, 0);
  write_npy(dir.file("x.npy"), torch::randn({2, 1, 16, 16}));
  dir.write("mine.csv", "my figures\n");
  fs::create_directories(dir.file("maps"));
  fs::create_directories(dir.file("empty"));
  dir.write("maps/predictions.json", "my predictions\n");
  const std::string data = " --checkpoint " + dir.file("m.safetensors") + " --data synthetic --limit 20 ";
  const std::string forward = "forward --checkpoint " + dir.file("m.safetensors") + " --input " + dir.file("x.npy");
  const std::string gates = "gates --checkpoint " + dir.file("m.safetensors") + " --image " + dir.file("x.npy");
  struct Case {
    std::string args;
    int code;
    std::string expect;
  };
  const Case cases[] = {
      {"selectivity" + data + "--out " + dir.file("mine.csv"), 2, "mine.csv exists; choose another --out"},
      {"selectivity" + data + "--nproc 2 --out " + dir.file("mine.csv"), 2, "mine.csv exists"},
      {"prune" + data + "--stage 1 --order random --out " + dir.file("mine.csv"), 2, "mine.csv exists"},
      {forward + " --out " + dir.file("mine.csv"), 2, "mine.csv exists"},
      {forward + " --out " + dir.file("l.npy") + " --gates " + dir.file("maps"), 2, "maps exists and is not empty"},
      {forward + " --out " + dir.file("l.npy") + " --gates " + dir.file("mine.csv"), 3, "not a directory"},
      {gates + " --out " + dir.file("maps"), 2, "maps exists and is not empty; choose another --out"},
      {"selectivity" + data + "--out ''", 2, "--out is empty"},
      // The output's place before the checkpoint: the checkpoint named here does not exist.
      {"selectivity --checkpoint " + dir.file("none.safetensors") + " --data synthetic --out " +
           dir.file("no/such/s.csv"), 3, "the directory " + dir.file("no/such") + " does not exist"},
      {"prune --checkpoint " + dir.file("none.safetensors") + " --data synthetic --stage 1 --order random --out " +
           dir.file("mine.csv"), 2, "mine.csv exists"},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_EQ(r.code, c.code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
  }
  EXPECT_EQ(read_file(dir.file("mine.csv")), "my figures\n");
  EXPECT_EQ(read_file(dir.file("maps/predictions.json")), "my predictions\n");
  EXPECT_FALSE(fs::exists(dir.file("l.npy")));
  // An empty directory is a new place for gates.
  const auto r = run(forward + " --out " + dir.file("l.npy") + " --gates " + dir.file("empty"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("empty/layer3.2.attn.npy")));
}

TEST_F(Gex, SweepTrainsEachExtentAndResumes) {
  const auto args = "sweep --data synthetic --input-size 16 --variant theta --steps 6 --batch 32 --eval-limit 50 --no-probes "
                    "--extents 4,global --out " + dir.file("sw") + " --json";
  const auto r = run(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto table = r.json()["table"];
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table[0]["extent"], "1");
  EXPECT_EQ(table[2]["extent"], "global");
  // GE-θ adds depthwise gathers and BN: more parameters than the baseline, more at global extent.
  EXPECT_LT(table[0]["params"].get<int64_t>(), table[1]["params"].get<int64_t>());
  EXPECT_LT(table[1]["params"].get<int64_t>(), table[2]["params"].get<int64_t>());
  for (const char* run_dir : {"sw/baseline", "sw/e4", "sw/eglobal"})
    EXPECT_TRUE(fs::exists(dir.file(std::string(run_dir) + "/metrics.csv"))) << run_dir;
  const auto csv = read_file(dir.file("sw/sweep.csv"));
  EXPECT_EQ(csv.rfind("extent,params,macs,final_top1_error,best_top1_error,run\n1,", 0), 0u) << csv;
  // Again: every run is finished, so nothing trains and the table is the same.
  const auto again = run(args);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.json()["table"][2]["best_top1_error"], table[2]["best_top1_error"]);
  EXPECT_EQ(run("sweep --data synthetic --extents 3 --steps 2 --out " + dir.file("x")).code, 2);
}

TEST_F(Gex, SweepNeverReplacesARunOfAnotherConfiguration) {
  // A finished baseline run sits where the sweep would put its e4 run.
  ASSERT_EQ(run("train --data synthetic --input-size 16 --steps 4 --batch 32 --eval-limit 50 --no-probes --out " +
                dir.file("sw/e4")).code, 0);
  const std::string metrics = read_file(dir.file("sw/e4/metrics.csv"));
  const std::string last = read_file(dir.file("sw/e4/checkpoints/last.safetensors"));
  const auto r = run("sweep --data synthetic --input-size 16 --variant theta --steps 4 --batch 32 --eval-limit 50 --no-probes "
                     "--extents 4 --no-baseline --out " + dir.file("sw"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(dir.file("sw/e4")), std::string::npos) << r.err;
  EXPECT_EQ(read_file(dir.file("sw/e4/metrics.csv")), metrics);
  EXPECT_EQ(read_file(dir.file("sw/e4/checkpoints/last.safetensors")), last);
}

}  // namespace
}  // namespace gex
