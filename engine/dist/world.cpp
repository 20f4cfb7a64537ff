#include "dist/world.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "errors.h"

namespace gex {

namespace {

int parse_int(const char* name, const char* text, int min) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || value < min || value > 1 << 24)
    throw UsageError(std::string("the environment variable ") + name + "=" + text + " is not a number ≥ " +
                     std::to_string(min));
  return static_cast<int>(value);
}

class Env {
 public:
  explicit Env(const Getenv& getenv) : m_getenv(getenv) {}
  const char* raw(const char* name) const { return m_getenv ? m_getenv(name) : std::getenv(name); }
  bool has(const char* name) const { return raw(name) && *raw(name); }
  int integer(const char* name, int min) const {
    if (!has(name)) throw UsageError(std::string("the environment variable ") + name + " is not set");
    return parse_int(name, raw(name), min);
  }
  int integer_or(const char* name, int min, int fallback) const { return has(name) ? integer(name, min) : fallback; }
  std::string text_or(const char* name, const std::string& fallback) const {
    return has(name) ? std::string(raw(name)) : fallback;
  }

 private:
  const Getenv& m_getenv;
};

// This node's tasks. Slurm lists tasks per node as "4" or "4(x2),3" (4, 4, 3) in the order of
// SLURM_NODEID: the step's (SLURM_STEP_TASKS_PER_NODE, from srun), else the job's. Where the list
// does not reach this node, its first count (only the default threads per task are then off);
// where no list is given (variables set by hand), `unsaid`.
int slurm_tasks_per_node(const Env& env, int unsaid) {
  if (!env.has("SLURM_STEP_TASKS_PER_NODE") && env.has("SLURM_NTASKS_PER_NODE"))
    return env.integer("SLURM_NTASKS_PER_NODE", 1);
  const char* name = env.has("SLURM_STEP_TASKS_PER_NODE") ? "SLURM_STEP_TASKS_PER_NODE" : "SLURM_TASKS_PER_NODE";
  if (!env.has(name)) return unsaid;
  const std::string text = env.raw(name);
  int before = env.integer_or("SLURM_NODEID", 0, 0);  // nodes of the list to pass before this one
  int first = 1;
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find(',', at), text.size());
    const std::string entry = text.substr(at, end - at);  // "4" or "4(x2)"
    const size_t times = entry.find("(x");
    const int tasks = parse_int(name, entry.substr(0, times).c_str(), 1);
    const std::string repeat = times == std::string::npos ? "1" : entry.substr(times + 2, entry.size() - times - 3);
    const int nodes = parse_int(name, repeat.c_str(), 1);
    if (at == 0) first = tasks;
    if (before < nodes) return tasks;
    before -= nodes;
    at = end + 1;
  }
  return first;
}

void check(const World& w, const char* rank_name, const char* size_name, const char* local_name) {
  if (w.rank >= w.size)
    throw UsageError(std::string("the environment gives ") + rank_name + "=" + std::to_string(w.rank) + " but " +
                     size_name + "=" + std::to_string(w.size) + ": a rank must be below the world size");
  if (w.local_rank >= w.local_size || w.local_size > w.size)
    throw UsageError(std::string("the environment gives ") + local_name + "=" + std::to_string(w.local_rank) +
                     " of " + std::to_string(w.local_size) + " local processes in a world of " +
                     std::to_string(w.size));
  if (w.master_port < 1 || w.master_port > 65535)
    throw UsageError("the environment gives MASTER_PORT=" + std::to_string(w.master_port) +
                     ": a port is between 1 and 65535");
}

// MASTER_ADDR may be left out where every process is on this machine (127.0.0.1); across
// machines 127.0.0.1 is each node's own, where nothing serves, and every rank off rank 0's node
// would wait out the timeout: refused at once instead.
void check_master_given(const World& w, const Env& env, const std::string& runs, const std::string& how) {
  if (w.local_size < w.size && !env.has("MASTER_ADDR"))
    throw UsageError(runs + " " + std::to_string(w.size) + " processes, " + std::to_string(w.local_size) +
                     " of them on this node, but MASTER_ADDR is not set: give every process the first node's "
                     "address and a port" + how);
}

}  // namespace

std::optional<World> world_from_environment(const Getenv& getenv) {
  const Env env(getenv);
  World w;
  w.master_addr = env.text_or("MASTER_ADDR", "127.0.0.1");
  w.master_port = env.integer_or("MASTER_PORT", 1, 29500);
  if (env.has("RANK") || env.has("WORLD_SIZE")) {
    w.launcher = env.text_or("GEX_LAUNCHER", "torchrun");
    w.rank = env.integer("RANK", 0);
    w.size = env.integer("WORLD_SIZE", 1);
    w.local_rank = env.integer_or("LOCAL_RANK", 0, w.rank);
    w.local_size = env.integer_or("LOCAL_WORLD_SIZE", 1, w.size);
    w.agent_store = env.text_or("TORCHELASTIC_USE_AGENT_STORE", "") == "True" ||
                    env.text_or("TORCHELASTIC_USE_AGENT_STORE", "") == "1";
    w.restart_count = env.integer_or("TORCHELASTIC_RESTART_COUNT", 0, 0);
    check(w, "RANK", "WORLD_SIZE", "LOCAL_RANK");
    check_master_given(w, env, "WORLD_SIZE and LOCAL_WORLD_SIZE say", "");
    return w;
  }
  // srun's tasks. Slurm runs the batch script itself as task 0 of the job (SLURM_PROCID=0 and the
  // job's SLURM_NTASKS) but in no step: a gex started there, not through srun, is one process.
  // SLURM_STEP_NUM_TASKS is the step's size even where SLURM_NTASKS is the job's (srun --preserve-env).
  // Slurm gives every process it starts, batch script or task, SLURM_JOB_ID: without it the
  // variables were set by hand or by a launcher of its own, as srun sets them, and SLURM_NTASKS is
  // the job's size.
  const bool slurm_step = env.has("SLURM_STEP_NUM_TASKS");
  if (env.has("SLURM_PROCID") && (slurm_step || (env.has("SLURM_NTASKS") && !env.has("SLURM_JOB_ID")))) {
    w.launcher = "slurm";
    w.rank = env.integer("SLURM_PROCID", 0);
    w.size_variable = slurm_step ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
    w.size = env.integer(w.size_variable.c_str(), 1);
    w.local_rank = env.integer_or("SLURM_LOCALID", 0, 0);
    w.cpus_per_task = env.integer_or("SLURM_CPUS_PER_TASK", 1, 0);
    // The step's nodes (SLURM_STEP_NUM_NODES in srun, else the job's): on one, the store is on it.
    const int nodes = env.has("SLURM_STEP_NUM_NODES") ? env.integer("SLURM_STEP_NUM_NODES", 1)
                                                      : env.integer_or("SLURM_NNODES", 1, 0);
    // Where neither the nodes nor the tasks per node are said, the tasks spread evenly over the
    // nodes, or all run on this one, as with torchrun's and Open MPI's variables.
    const int even = nodes > 1 ? (w.size + nodes - 1) / nodes : w.size;
    w.local_size = nodes == 1 ? w.size : std::min(w.size, slurm_tasks_per_node(env, even));
    if (w.size > 1 && nodes != 1 && !env.has("MASTER_ADDR"))
      throw UsageError("Slurm runs " + std::to_string(w.size) + " tasks" +
                       (nodes > 1 ? " on " + std::to_string(nodes) + " nodes" : "") +
                       " but MASTER_ADDR is not set: export the first node's address "
                       "(MASTER_ADDR=$(scontrol show hostnames | head -n 1)) and a MASTER_PORT");
    check(w, "SLURM_PROCID", w.size_variable.c_str(), "SLURM_LOCALID");
    return w;
  }
  if (env.has("OMPI_COMM_WORLD_RANK") && env.has("OMPI_COMM_WORLD_SIZE")) {
    w.launcher = "openmpi";
    w.rank = env.integer("OMPI_COMM_WORLD_RANK", 0);
    w.size_variable = "OMPI_COMM_WORLD_SIZE";
    w.size = env.integer(w.size_variable.c_str(), 1);
    w.local_rank = env.integer_or("OMPI_COMM_WORLD_LOCAL_RANK", 0, 0);
    w.local_size = env.integer_or("OMPI_COMM_WORLD_LOCAL_SIZE", 1, w.size);
    check(w, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK");
    check_master_given(w, env, "Open MPI runs", " (mpirun -x MASTER_ADDR=… -x MASTER_PORT=…)");
    return w;
  }
  return std::nullopt;
}

int default_threads(const World& w, int available, int machine) {
  if (w.cpus_per_task > 0) return std::max(1, std::min(available, w.cpus_per_task));
  const int local = std::max(1, w.local_size);
  if (w.launcher == "slurm" || w.launcher == "openmpi") return std::max(1, std::min(available, machine / local));
  return std::max(1, available / local);
}

std::string slurm_batch_script_note(const Getenv& getenv) {
  const Env env(getenv);
  if (world_from_environment(getenv) || !env.has("SLURM_PROCID") || !env.has("SLURM_NTASKS")) return "";
  const std::string tasks = env.raw("SLURM_NTASKS");
  if (tasks == "1") return "";
  return "this is Slurm's batch script, not a task of an srun step: one process (`srun gex train …` starts the "
         "job's " + tasks + " tasks as one data-parallel job)";
}

std::vector<std::pair<std::string, std::string>> torchrun_environment(const World& w) {
  return {{"RANK", std::to_string(w.rank)},
          {"WORLD_SIZE", std::to_string(w.size)},
          {"LOCAL_RANK", std::to_string(w.local_rank)},
          {"LOCAL_WORLD_SIZE", std::to_string(w.local_size)},
          {"MASTER_ADDR", w.master_addr},
          {"MASTER_PORT", std::to_string(w.master_port)},
          {"TORCHELASTIC_USE_AGENT_STORE", w.agent_store ? "True" : "False"},
          {"TORCHELASTIC_RESTART_COUNT", std::to_string(w.restart_count)},
          {"GEX_LAUNCHER", w.launcher}};
}

void check_batch_splits(int64_t batch, int processes, bool recorded) {
  if (batch % processes == 0) return;
  std::string dividing;  // the first few that divide it
  int listed = 0;
  for (int64_t n = 1; n <= batch && listed < 8; ++n)
    if (batch % n == 0) dividing += (listed++ ? ", " : "") + std::to_string(n);
  throw UsageError((recorded ? "the run's batch, " + std::to_string(batch) + ", is" : "--batch " + std::to_string(batch) + " is") +
                   " the global batch and must split evenly across " + std::to_string(processes) +
                   " processes (numbers of processes that divide it: " + dividing + (listed == 8 ? ", …" : "") + ")");
}

std::string ranks_text(const std::vector<int>& ranks) {
  std::string text = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0, end; i < ranks.size(); i = end) {
    for (end = i + 1; end < ranks.size() && ranks[end] == ranks[end - 1] + 1;) ++end;
    if (end - i < 3) end = i + 1;
    text += (i ? ", " : "") + std::to_string(ranks[i]) + (end - i >= 3 ? "–" + std::to_string(ranks[end - 1]) : "");
  }
  return text;
}

}  // namespace gex
