// Data-parallel arithmetic with two ranks over loopback Gloo (two threads of this process, each
// its own c10d process group, as two processes would be): the bucketed gradient sum equals the
// one-process gradient of the union batch, and synchronised BatchNorm makes two halves train as
// one whole batch. The one-process side is computed by a plain network, not by the code under test.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <future>
#include <map>
#include <optional>
#include <thread>

#include "dist/data_parallel.h"
#include "dist/gradient_buckets.h"
#include "dist/process_group.h"
#include "dist/world.h"
#include "errors.h"
#include "models/global_gate.h"
#include "models/registry.h"
#include "seeded.h"

namespace gex {
namespace {

using test::Seeded;

ModelSpec small_ge_spec() {
  ModelSpec spec;
  spec.backbone = "resnet20";
  spec.attention = AttentionKind::kGE;
  spec.variant = GEVariant::kThetaMinus;
  spec.num_classes = 10;
  spec.in_channels = 1;
  spec.input_size = 16;
  return spec;
}

// Runs fn(rank, group) on two threads joined into one job, on the launcher's `store` (a new one
// where none is given) as its attempt `restart_count`.
template <typename Fn>
void on_two_ranks(Fn fn, const RendezvousHost* store = nullptr, int restart_count = 0) {
  std::optional<RendezvousHost> own;
  if (!store) store = &own.emplace("127.0.0.1", 0, 2, std::chrono::seconds(30));
  std::vector<std::future<void>> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(std::async(std::launch::async, [&, r] {
      torch::set_num_threads(1);
      World w;
      w.rank = w.local_rank = r;
      w.size = w.local_size = 2;
      w.master_port = store->port();
      w.agent_store = true;
      w.restart_count = restart_count;
      auto group = ProcessGroup::join(w, std::chrono::seconds(30));
      fn(r, *group);
    }));
  for (auto& r : ranks) r.get();
}

std::map<std::string, torch::Tensor> gradients(NetworkImpl& net) {
  std::map<std::string, torch::Tensor> g;
  for (const auto& p : net.named_parameters())
    if (p.value().grad().defined()) g[p.key()] = p.value().grad().clone();
  return g;
}

double worst_relative(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b,
                      std::string* where = nullptr) {
  double worst = 0;
  for (const auto& [k, t] : a) {
    if (!t.is_floating_point()) {
      if (!torch::equal(t, b.at(k))) return 1.0;
      continue;
    }
    const double scale = std::max(1e-3, t.abs().max().item<double>());
    const double d = (t - b.at(k)).abs().max().item<double>() / scale;
    if (d > worst && where) *where = k;
    worst = std::max(worst, d);
  }
  return worst;
}

// `to` takes `from`'s parameters and buffers (the ranks build their networks on threads that
// share Torch's generator, so seeds alone would not make them equal).
void copy_state(NetworkImpl& from, NetworkImpl& to) {
  torch::NoGradGuard no_grad;
  auto params = to.named_parameters(), buffers = to.named_buffers();
  for (const auto& p : from.named_parameters()) params[p.key()].copy_(p.value());
  for (const auto& b : from.named_buffers()) buffers[b.key()].copy_(b.value());
}

class DataParallelTest : public Seeded {};

TEST_F(DataParallelTest, TheBucketedSumOfTwoHalvesIsTheGradientOfTheWholeBatch) {
  const auto spec = small_ge_spec();
  torch::manual_seed(3);
  Network reference = build_network(spec);
  reference->eval();  // running statistics: each image's loss depends on that image only
  const auto x = torch::randn({12, 1, 16, 16});
  const auto y = torch::randint(0, 10, {12}, torch::kInt64);
  torch::nn::functional::cross_entropy(reference->forward(x), y).backward();
  const auto expected = gradients(*reference);

  std::vector<std::map<std::string, torch::Tensor>> got(2);
  std::vector<int64_t> buckets(2);
  on_two_ranks([&](int r, ProcessGroup& group) {
    torch::manual_seed(100 + r);  // different initial weights: rank 0's must be broadcast
    Network net = build_network(spec);
    net->eval();
    DataParallel parallel(group);
    if (r == 0) copy_state(*reference, *net);  // rank 0 starts from the reference's weights
    parallel.attach(*net, false);
    const int64_t begin = parallel.shard().begin(12), end = parallel.shard().end(12);
    EXPECT_EQ(end - begin, 6);
    parallel.begin_backward();
    const auto loss = torch::nn::functional::cross_entropy(
                          net->forward(x.slice(0, begin, end)), y.slice(0, begin, end),
                          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                      12.0;
    loss.backward();
    parallel.finish_backward();
    got[r] = gradients(*net);
  });
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(got[r].size(), expected.size());
    std::string where;
    EXPECT_LT(worst_relative(expected, got[r], &where), 1e-5) << "rank " << r << " at " << where;
  }
  // Both ranks hold the same sums, bit for bit.
  for (const auto& [k, t] : got[0]) EXPECT_TRUE(torch::equal(t, got[1].at(k))) << k;
}

TEST_F(DataParallelTest, BucketsAreFewMegabytesAndCoverEveryTrainableParameterOnce) {
  on_two_ranks([&](int, ProcessGroup& group) {
    torch::manual_seed(1);
    Network net = build_network(small_ge_spec());
    std::vector<torch::Tensor> params;
    int64_t bytes = 0;
    for (const auto& p : net->parameters()) params.push_back(p), bytes += p.numel() * 4;
    GradientBuckets small(group, params, 64 << 10, 16 << 10);
    EXPECT_EQ(small.bytes(), bytes);
    EXPECT_GT(small.bucket_count(), 3);  // 1.1 MB of ResNet-20 weights in buckets of 64 kB
    GradientBuckets big(group, params);
    EXPECT_EQ(big.bytes(), bytes);
    EXPECT_EQ(big.bucket_count(), 2);  // the first of 1 MB, the rest in the second
  });
}

// Host tensors go to Gloo; CUDA tensors to NCCL only where every rank can, which a build without
// NCCL or a machine without GPUs cannot: the ranks agree on Gloo and say whose answer decided it.
// A tensor that is not contiguous is summed through a copy and gets the sum back in place.
TEST_F(DataParallelTest, TheRanksAgreeOnTheirBackendAndSumAnyTensorInPlace) {
  std::vector<std::string> why(2);
  std::vector<torch::Tensor> sums(2);
  on_two_ranks([&](int r, ProcessGroup& group) {
    EXPECT_EQ(group.backend_for(torch::kCPU), "gloo");
    if (torch::cuda::device_count() == 0) {
      EXPECT_EQ(group.backend_for(torch::Device(torch::kCUDA, 0)), "gloo");
    }
    why[r] = group.why_not_nccl();
    auto t = torch::arange(6, torch::kFloat32).view({2, 3}).mul(r + 1).t();  // a transposed view
    ASSERT_FALSE(t.is_contiguous());
    group.all_reduce_sum(t);
    sums[r] = t.clone();
    // The exchanges that follow the agreement stay in step.
    EXPECT_EQ(group.exchange("after", std::to_string(r)), (std::vector<std::string>{"0", "1"}));
  });
  if (torch::cuda::device_count() == 0) {
    EXPECT_EQ(why[0], why[1]);
    EXPECT_NE(why[0].find("rank 0"), std::string::npos) << why[0];
  }
  // (0..5 viewed 2x3, transposed) x (1 + 2)
  const auto expected = torch::tensor({0.f, 9.f, 3.f, 12.f, 6.f, 15.f}).view({3, 2});
  for (const auto& s : sums) EXPECT_TRUE(torch::equal(s, expected)) << s;
}

// A rank that fails on its own (memory run out) says why before it leaves: the other rank's failed
// collective names it with its words, not as lost. The words are the store's (set by say_failed),
// not the collective's.
TEST_F(DataParallelTest, ARankThatFailsOnItsOwnIsNamedWithItsWords) {
  std::string said;
  on_two_ranks([&](int r, ProcessGroup& group) {
    auto t = torch::ones({4});
    group.all_reduce_sum(t);  // both are in the job
    if (r == 1) {
      group.say_failed("out of memory: 1.00 GB more could not be allocated\n(more lines)");
      return;  // its group ends: the connections close as its process would end
    }
    try {
      group.all_reduce_sum(t);
      ADD_FAILURE() << "the all-reduce with a rank gone succeeded";
    } catch (const RunError& e) {
      said = e.what();
    }
  });
  EXPECT_EQ(said.rfind("rank 1 failed (out of memory: 1.00 GB more could not be allocated) during an all-reduce; "
                       "rank 0 stops",
                       0),
            0u)
      << said;
}

// torchrun restarts the workers of a failed job on the store its agent keeps: the new attempt joins,
// exchanges and sums afresh, without the keys the failed one left (its Gloo addresses, its
// exchanges, who stopped it).
TEST_F(DataParallelTest, ARestartedAttemptOnTheLaunchersStoreStartsAfresh) {
  const RendezvousHost store("127.0.0.1", 0, 2, std::chrono::seconds(30));
  bool failed = false;
  on_two_ranks(
      [&](int r, ProcessGroup& group) {
        EXPECT_EQ(group.exchange("seed", std::to_string(r)), (std::vector<std::string>{"0", "1"}));
        if (r == 1) return group.say_failed("out of memory");
        auto t = torch::ones({4});
        EXPECT_THROW(group.all_reduce_sum(t), RunError);
        failed = true;
      },
      &store, 0);
  ASSERT_TRUE(failed);
  std::vector<torch::Tensor> sums(2);
  on_two_ranks(
      [&](int r, ProcessGroup& group) {
        EXPECT_EQ(group.exchange("seed", std::to_string(10 + r)), (std::vector<std::string>{"10", "11"}));
        sums[r] = torch::full({4}, float(r + 1));
        group.all_reduce_sum(sums[r]);
      },
      &store, 1);
  for (const auto& s : sums) EXPECT_TRUE(torch::equal(s, torch::full({4}, 3.f))) << s;
}

// Two processes with half the batch each and synchronised BatchNorm train as one process with the
// whole batch: the same gradients and BatchNorm statistics at every step of a few, to rounding
// (measured: the same network through the generic graph instead of the fused nodes). The
// one-process side runs the fused block tails (asserted); the ranks cannot (their statistics come
// from both), so this also checks the two graphs against each other. In double: in float, a
// pre-activation within rounding of a ReLU's kink sends one side the other way now and then
// (seen with oneDNN's SSE4.1 kernels: 1e-3 on the weights upstream), which says nothing of the
// algebra; in double a slip of the algebra stands out of rounding by ten orders.
TEST_F(DataParallelTest, SynchronisedBatchNormMakesTwoHalvesTrainAsTheWholeBatch) {
  const auto spec = small_ge_spec();
  const int steps = 3;
  torch::manual_seed(5);
  const auto x = torch::randn({steps, 16, 1, 16, 16}, torch::kFloat64);
  const auto y = torch::randint(0, 10, {steps, 16}, torch::kInt64);
  const auto sgd = [](NetworkImpl& net) {
    torch::NoGradGuard no_grad;
    for (auto& p : net.parameters()) p.sub_(p.grad(), 0.1), p.mutable_grad() = torch::Tensor();
  };
  torch::manual_seed(7);
  Network reference = build_network(spec);
  Network start = build_network(spec);
  reference->to(torch::kFloat64);
  start->to(torch::kFloat64);
  copy_state(*reference, *start);
  reference->train();
  to_channels_last(*reference);  // as the trainer has it
  std::vector<std::map<std::string, torch::Tensor>> expected(steps);
  const auto fused_before = fused_node_counts().tails;
  for (int s = 0; s < steps; ++s) {
    torch::nn::functional::cross_entropy(reference->forward(x[s].contiguous(torch::MemoryFormat::ChannelsLast)), y[s])
        .backward();
    expected[s] = gradients(*reference);
    for (const auto& b : reference->named_buffers()) expected[s]["buffer " + b.key()] = b.value().clone();
    sgd(*reference);
  }
  EXPECT_GE(fused_node_counts().tails - fused_before, steps * 9);  // the reference ran the fused tails
  // What float rounding alone does over these steps: the same network through the generic graph.
  std::vector<double> rounding(steps);
  {
    Network generic = build_network(spec);
    generic->to(torch::kFloat64);
    copy_state(*start, *generic);
    generic->train();
    to_channels_last(*generic);
    GenericGraphGuard no_fused_nodes;
    for (int s = 0; s < steps; ++s) {
      torch::nn::functional::cross_entropy(generic->forward(x[s].contiguous(torch::MemoryFormat::ChannelsLast)), y[s])
          .backward();
      auto g = gradients(*generic);
      for (const auto& b : generic->named_buffers()) g["buffer " + b.key()] = b.value().clone();
      rounding[s] = worst_relative(expected[s], g);
      sgd(*generic);
    }
  }

  std::vector<std::vector<std::map<std::string, torch::Tensor>>> got(2, std::vector<std::map<std::string, torch::Tensor>>(steps));
  on_two_ranks([&](int r, ProcessGroup& group) {
    Network net = build_network(spec);
    net->to(torch::kFloat64);
    if (r == 0) copy_state(*start, *net);
    to_channels_last(*net);
    net->train();
    DataParallel parallel(group);
    parallel.attach(*net, true);
    const int64_t begin = parallel.shard().begin(16), end = parallel.shard().end(16);
    const auto own_before = fused_node_counts().tails;
    for (int s = 0; s < steps; ++s) {
      parallel.begin_backward();
      (torch::nn::functional::cross_entropy(net->forward(x[s].slice(0, begin, end)), y[s].slice(0, begin, end),
                                            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
       16.0)
          .backward();
      parallel.finish_backward();
      got[r][s] = gradients(*net);
      for (const auto& b : net->named_buffers()) got[r][s]["buffer " + b.key()] = b.value().clone();
      sgd(*net);
    }
    EXPECT_EQ(fused_node_counts().tails, own_before);  // synchronised statistics: the generic graph
  });
  for (int r = 0; r < 2; ++r)
    for (int s = 0; s < steps; ++s) {
      std::string where;
      ASSERT_EQ(got[r][s].size(), expected[s].size());
      // Within twice what rounding alone does (measured: 1e-14 to 3e-14; the ranks' ~7e-15).
      EXPECT_LT(worst_relative(expected[s], got[r][s], &where), std::max(1e-13, 2 * rounding[s]))
          << "rank " << r << ", step " << s << ": " << where << " (rounding alone: " << rounding[s] << ")";
    }
}

TEST(World, ReadsTorchrunSlurmAndOpenMpiAndRefusesWhatDoesNotFit) {
  const auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  EXPECT_FALSE(world_from_environment(env({})));
  auto w = world_from_environment(env({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"},
                                       {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "node1"}, {"MASTER_PORT", "29400"}}));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->rank, 3);
  EXPECT_EQ(w->size, 8);
  EXPECT_EQ(w->local_rank, 1);
  EXPECT_EQ(w->local_size, 2);
  EXPECT_EQ(w->master_addr, "node1");
  EXPECT_EQ(w->master_port, 29400);
  EXPECT_EQ(w->launcher, "torchrun");
  EXPECT_FALSE(w->agent_store);
  EXPECT_EQ(w->store_prefix(), "");  // rank 0's own store, new for each attempt
  w = world_from_environment(env({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                  {"TORCHELASTIC_RESTART_COUNT", "2"}}));
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->agent_store);
  EXPECT_EQ(w->restart_count, 2);
  EXPECT_EQ(w->store_prefix(), "/worker/attempt_2");  // PyTorch's env:// rendezvous's prefix
  w = world_from_environment(env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_STEP_NUM_TASKS", "8"}, {"SLURM_LOCALID", "1"},
                                  {"SLURM_TASKS_PER_NODE", "4(x2)"}, {"MASTER_ADDR", "n0"}, {"MASTER_PORT", "1234"}}));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->launcher, "slurm");
  EXPECT_EQ(w->rank, 5);
  EXPECT_EQ(w->size, 8);
  EXPECT_EQ(w->local_rank, 1);
  EXPECT_EQ(w->local_size, 4);
  w = world_from_environment(env({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                                  {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}}));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->launcher, "openmpi");
  EXPECT_EQ(w->rank, 1);
  EXPECT_EQ(w->master_addr, "127.0.0.1");  // every process on this machine: the store is here
  // Across nodes the master must be named (127.0.0.1 is each node's own), as with Slurm.
  try {
    world_from_environment(env({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                                {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}}));
    ADD_FAILURE() << "Open MPI over two nodes without MASTER_ADDR was taken";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("Open MPI runs 4 processes, 2 of them on this node, but MASTER_ADDR is not set"),
              std::string::npos)
        << e.what();
  }
  w = world_from_environment(env({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                                  {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                                  {"MASTER_ADDR", "n0"}}));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->master_addr, "n0");
  EXPECT_EQ(w->local_size, 2);
  EXPECT_THROW(world_from_environment(env({{"RANK", "2"}, {"WORLD_SIZE", "2"}})), UsageError);
  EXPECT_THROW(world_from_environment(env({{"RANK", "x"}, {"WORLD_SIZE", "2"}})), UsageError);
  EXPECT_THROW(world_from_environment(env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}})), UsageError);
  EXPECT_THROW(world_from_environment(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_STEP_NUM_TASKS", "2"}})), UsageError);  // no master
  EXPECT_THROW(world_from_environment(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_STEP_NUM_TASKS", "4"}, {"SLURM_NNODES", "2"}})),
               UsageError);
  // This node's tasks from the step's list, in SLURM_NODEID's order (uneven: 4, 4, 3).
  for (const auto& [node, tasks] : std::vector<std::pair<const char*, int>>{{"0", 4}, {"1", 4}, {"2", 3}}) {
    w = world_from_environment(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "11"}, {"SLURM_STEP_NUM_TASKS", "11"}, {"SLURM_NNODES", "3"},
                                    {"SLURM_NODEID", node}, {"SLURM_TASKS_PER_NODE", "8(x3)"},
                                    {"SLURM_STEP_TASKS_PER_NODE", "4(x2),3"}, {"MASTER_ADDR", "n0"}}));
    ASSERT_TRUE(w);
    EXPECT_EQ(w->local_size, tasks) << "node " << node;
  }
  EXPECT_THROW(world_from_environment(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_STEP_NUM_TASKS", "8"}, {"SLURM_NNODES", "2"},
                                           {"SLURM_TASKS_PER_NODE", "4(x"}, {"MASTER_ADDR", "n0"}})),
               UsageError);
  // srun over one node of a larger job: the step's one node is where the store is.
  w = world_from_environment(env({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_LOCALID", "1"},
                                  {"SLURM_NNODES", "3"}, {"SLURM_STEP_NUM_NODES", "1"},
                                  {"SLURM_TASKS_PER_NODE", "1(x3)"}}));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->master_addr, "127.0.0.1");
  EXPECT_EQ(w->local_size, 2);
  // Slurm runs the batch script as task 0 of the job, with the job's SLURM_NTASKS but in no step: a
  // gex there, not started by srun, is one process (it waited out the timeout for 7 ranks), and
  // training says how the tasks would run together.
  const std::map<std::string, std::string> batch_script = {
      {"SLURM_JOB_ID", "77"}, {"SLURM_PROCID", "0"}, {"SLURM_LOCALID", "0"}, {"SLURM_NODEID", "0"},
      {"SLURM_NTASKS", "8"},  {"SLURM_NNODES", "2"}, {"SLURM_TASKS_PER_NODE", "4(x2)"}, {"MASTER_ADDR", "n0"}};
  EXPECT_FALSE(world_from_environment(env(batch_script)));
  EXPECT_NE(slurm_batch_script_note(env(batch_script)).find("the job's 8 tasks"), std::string::npos);
  auto step = batch_script;  // srun --preserve-env: SLURM_NTASKS stays the job's; the step has 2
  step.insert({{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_STEP_NUM_NODES", "1"}, {"SLURM_STEP_TASKS_PER_NODE", "2"}});
  w = world_from_environment(env(step));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->size, 2);
  EXPECT_EQ(w->local_size, 2);
  EXPECT_EQ(slurm_batch_script_note(env(step)), "");
  EXPECT_EQ(slurm_batch_script_note(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}})), "");
  // Slurm's task variables set by hand (no SLURM_JOB_ID: Slurm started nothing): a task of
  // SLURM_NTASKS; the tasks of this machine, where not said, all of them, or even over SLURM_NNODES.
  const std::map<std::string, std::string> by_hand = {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"},
                                                      {"SLURM_LOCALID", "1"}, {"MASTER_ADDR", "127.0.0.1"}};
  w = world_from_environment(env(by_hand));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->launcher, "slurm");
  EXPECT_EQ(w->rank, 1);
  EXPECT_EQ(w->size, 2);
  EXPECT_EQ(w->local_rank, 1);
  EXPECT_EQ(w->local_size, 2);
  EXPECT_EQ(slurm_batch_script_note(env(by_hand)), "");
  auto beyond = by_hand;
  beyond["SLURM_PROCID"] = "2";
  try {
    world_from_environment(env(beyond));
    ADD_FAILURE() << "rank 2 of 2 was taken";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "the environment gives SLURM_PROCID=2 but SLURM_NTASKS=2: a rank must be below the world size");
  }
  auto spread = by_hand;
  spread["SLURM_NTASKS"] = "7", spread["SLURM_NNODES"] = "2", spread["SLURM_PROCID"] = "5";
  EXPECT_EQ(world_from_environment(env(spread))->local_size, 4);
  auto in_a_job = by_hand;  // the same in Slurm's batch script: one process, as above
  in_a_job["SLURM_JOB_ID"] = "78";
  EXPECT_FALSE(world_from_environment(env(in_a_job)));
  // Open MPI's without the local size: every process on this machine.
  w = world_from_environment(env({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                                  {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}}));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->local_size, 2);
  // Threads per process without --threads (128-core machines): workers that gex or torchrun start
  // share the launcher's cores; a task Slurm or mpirun bound to 8 cores of its own takes those 8,
  // one of 8 tasks bound to the job's 64 takes its share of the machine; Slurm's cores per task win.
  World shared;
  shared.launcher = "torchrun", shared.size = shared.local_size = 8;
  EXPECT_EQ(default_threads(shared, 128, 128), 16);
  EXPECT_EQ(default_threads(shared, 32, 128), 4);  // a container's cpuset of 32
  EXPECT_EQ(default_threads(shared, 4, 128), 1);
  World bound = shared;
  bound.launcher = "slurm";
  EXPECT_EQ(default_threads(bound, 8, 128), 8);
  EXPECT_EQ(default_threads(bound, 64, 128), 16);
  EXPECT_EQ(default_threads(bound, 128, 128), 16);
  bound.cpus_per_task = 6;
  EXPECT_EQ(default_threads(bound, 64, 128), 6);
  EXPECT_EQ(default_threads(World{}, 3, 128), 3);  // one process: its mask (taskset -c 0-2)
  step.insert({"SLURM_CPUS_PER_TASK", "6"});
  EXPECT_EQ(world_from_environment(env(step))->cpus_per_task, 6);
  // torchrun's variables set by hand across two nodes, the master left out: the same refusal.
  EXPECT_THROW(world_from_environment(env({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "2"}})),
               UsageError);
  EXPECT_TRUE(world_from_environment(env({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "4"}})));
}

}  // namespace
}  // namespace gex
