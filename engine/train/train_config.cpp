#include "train/train_config.h"

#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include <cmath>

#include "errors.h"
#include "train/device.h"

namespace gex {

std::string TrainConfig::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = nlohmann::ordered_json::parse(model.to_json());
  j["data"] = data;
  j["epochs"] = epochs;
  j["steps"] = steps;
  j["batch"] = batch;
  j["lr"] = lr;
  j["schedule"] = schedule;
  j["milestones"] = milestones;
  j["gamma"] = gamma;
  j["warmup_steps"] = warmup_steps;
  j["momentum"] = momentum;
  j["nesterov"] = nesterov;
  j["weight_decay"] = weight_decay;
  j["seed"] = seed;
  j["device"] = device;
  j["threads"] = threads;
  j["cache_mb"] = cache_mb;
  j["loader_threads"] = loader_threads;
  j["augment"] = augment;
  j["amp"] = amp;
  j["cuda_graph"] = cuda_graph;
  j["checkpoint_every"] = checkpoint_every;
  j["eval_every"] = eval_every;
  j["eval_limit"] = eval_limit;
  j["log_every"] = log_every;
  if (!init_from.empty()) j["init_from"] = init_from;
  if (freeze_backbone) j["freeze_backbone"] = true;
  if (sync_bn) j["sync_bn"] = true;
  if (dist_timeout != 60) j["dist_timeout"] = dist_timeout;
  j["probes"] = probes;
  j["probe_every"] = probe_every;
  j["probe_images"] = probe_images;
  j["probe_limit"] = probe_limit;
  j["probe_prune"] = probe_prune;
  j["keep_checkpoints"] = keep_checkpoints;
  return j.dump();
}

namespace {

// An integer field: a JSON integer that fits T (a float such as 1e58 would not convert defined).
template <typename T>
T integer(const nlohmann::json& j, const char* key, T fallback, const std::string& source) {
  if (!j.contains(key)) return fallback;
  const auto& v = j[key];
  constexpr auto kMax = uint64_t(std::numeric_limits<T>::max());
  if (v.is_number_unsigned() && v.get<uint64_t>() <= kMax) return T(v.get<uint64_t>());
  if (v.is_number_integer() && !v.is_number_unsigned()) {
    const int64_t i = v.get<int64_t>();  // negative here: positive integers parse as unsigned
    if (i >= int64_t(std::numeric_limits<T>::min())) return T(i);
  }
  throw InputError(source, std::string("the run config's '") + key + "' must be an integer in range");
}

}  // namespace

TrainConfig TrainConfig::from_json(const std::string& text, const std::string& source) {
  TrainConfig c;
  try {
    const auto j = nlohmann::json::parse(text);
    c.model = ModelSpec::from_json(j.at("model").dump(), source);
    c.data = j.value("data", c.data);
    c.epochs = integer<int64_t>(j, "epochs", c.epochs, source);
    c.steps = integer<int64_t>(j, "steps", c.steps, source);
    c.batch = integer<int64_t>(j, "batch", c.batch, source);
    c.lr = j.value("lr", c.lr);
    c.schedule = j.value("schedule", c.schedule);
    c.milestones = j.value("milestones", c.milestones);
    c.gamma = j.value("gamma", c.gamma);
    c.warmup_steps = integer<int64_t>(j, "warmup_steps", c.warmup_steps, source);
    c.momentum = j.value("momentum", c.momentum);
    c.nesterov = j.value("nesterov", c.nesterov);
    c.weight_decay = j.value("weight_decay", c.weight_decay);
    c.seed = integer<uint64_t>(j, "seed", c.seed, source);
    c.device = j.value("device", c.device);
    c.threads = integer<int>(j, "threads", c.threads, source);
    c.cache_mb = integer<int64_t>(j, "cache_mb", c.cache_mb, source);
    c.loader_threads = integer<int>(j, "loader_threads", c.loader_threads, source);
    c.augment = j.value("augment", c.augment);
    c.amp = j.value("amp", c.amp);
    c.cuda_graph = j.value("cuda_graph", c.cuda_graph);
    c.checkpoint_every = integer<int64_t>(j, "checkpoint_every", c.checkpoint_every, source);
    c.eval_every = integer<int64_t>(j, "eval_every", c.eval_every, source);
    c.eval_limit = integer<int64_t>(j, "eval_limit", c.eval_limit, source);
    c.log_every = integer<int64_t>(j, "log_every", c.log_every, source);
    c.init_from = j.value("init_from", c.init_from);
    c.freeze_backbone = j.value("freeze_backbone", c.freeze_backbone);
    c.sync_bn = j.value("sync_bn", c.sync_bn);
    c.dist_timeout = integer<int>(j, "dist_timeout", c.dist_timeout, source);
    c.probes = j.value("probes", c.probes);
    c.probe_every = integer<int64_t>(j, "probe_every", c.probe_every, source);
    c.probe_images = j.value("probe_images", c.probe_images);
    c.probe_limit = integer<int64_t>(j, "probe_limit", c.probe_limit, source);
    c.probe_prune = j.value("probe_prune", c.probe_prune);
    c.keep_checkpoints = j.value("keep_checkpoints", c.keep_checkpoints);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, std::string("the run config is not valid: ") + e.what());
  }
  try {
    c.validate();
  } catch (const UsageError& e) {
    throw InputError(source, std::string("the run config is not valid: ") + e.what());
  }
  return c;
}

void TrainConfig::validate() const {
  if (const auto p = model.problem()) throw UsageError(*p);
  validate_settings();
}

void TrainConfig::require_length() const {
  if (steps == 0 && epochs == 0) throw UsageError("give the length of the run: --epochs or --steps");
}

void TrainConfig::validate_settings() const {
  if (epochs < 0 || steps < 0) throw UsageError("--epochs and --steps must not be negative");
  if (batch < 1 || batch > 65536) throw UsageError("--batch must be between 1 and 65536");
  if (!(lr > 0) || !std::isfinite(lr)) throw UsageError("--lr must be a positive number");
  if (schedule != "multistep" && schedule != "cosine" && schedule != "constant")
    throw UsageError("--schedule must be multistep, cosine or constant, not '" + schedule + "'");
  for (double m : milestones)
    if (!(m > 0 && m < 1)) throw UsageError("--milestones are fractions of the run, between 0 and 1");
  if (!(gamma > 0) || gamma > 1) throw UsageError("--gamma must be in (0, 1]");
  if (warmup_steps < 0) throw UsageError("--warmup must not be negative");
  // Written the other way round, NaN (`--momentum nan`) would pass: it trains, and its run.json
  // (NaN written as null) can be neither resumed nor read.
  if (!(momentum >= 0 && momentum < 1)) throw UsageError("--momentum must be in [0, 1)");
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
    throw UsageError("--weight-decay must be a finite number, 0 or more");
  if (!is_device_name(device))
    throw UsageError("--device must be auto, cpu, cuda or cuda:K (K the GPU's index), not '" + device + "'");
  if (cache_mb < 0) throw UsageError("--cache-mb must be 0 or more");
  if (loader_threads < 0) throw UsageError("--loader-threads must be 0 (as many as --threads) or more");
  if (augment != "auto" && augment != "on" && augment != "off")
    throw UsageError("--augment must be auto, on or off");
  if (amp != "auto" && amp != "on" && amp != "off") throw UsageError("--amp must be auto, on or off");
  if (cuda_graph != "auto" && cuda_graph != "on" && cuda_graph != "off")
    throw UsageError("--cuda-graph must be auto, on or off, not '" + cuda_graph + "'");
  if (cuda_graph == "on" && device == "cpu") throw UsageError("--cuda-graph on needs a GPU (--device cuda)");
  if (checkpoint_every < 0 || eval_every < 0 || eval_limit < 0)
    throw UsageError("--checkpoint-every, --eval-every and --eval-limit must not be negative");
  if (log_every < 1) throw UsageError("--log-every must be 1 or more");
  if (dist_timeout < 1 || dist_timeout > 86400) throw UsageError("--dist-timeout must be between 1 and 86400 seconds");
  if (probe_every < 0 || probe_limit < 0) throw UsageError("--probe-every and --probe-limit must not be negative");
  if (keep_checkpoints != "probes" && keep_checkpoints != "all" && keep_checkpoints != "none")
    throw UsageError("--keep-checkpoints must be probes, all or none, not '" + keep_checkpoints + "'");
  if (freeze_backbone && init_from.empty())
    throw UsageError("--freeze-backbone needs --init-from: a backbone worth keeping");
}

int64_t steps_per_epoch(int64_t train_size, int64_t batch) { return (train_size + batch - 1) / batch; }

int64_t planned_steps(const TrainConfig& config, int64_t train_size) {
  return config.steps > 0 ? config.steps : config.epochs * steps_per_epoch(train_size, config.batch);
}

double learning_rate(const TrainConfig& c, int64_t step, int64_t total) {
  if (c.warmup_steps > 0 && step < c.warmup_steps) return c.lr * double(step + 1) / double(c.warmup_steps);
  if (c.schedule == "constant") return c.lr;
  if (c.schedule == "cosine") {
    const double span = std::max<int64_t>(1, total - c.warmup_steps);
    const double t = std::clamp(double(step - c.warmup_steps) / span, 0.0, 1.0);
    return 0.5 * c.lr * (1.0 + std::cos(std::acos(-1.0) * t));
  }
  double lr = c.lr;
  for (double m : c.milestones)
    if (step >= static_cast<int64_t>(std::llround(m * total))) lr *= c.gamma;
  return lr;
}

}  // namespace gex
