#include "train/trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "analysis/probe.h"
#include "cores.h"
#include "dist/data_parallel.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "models/registry.h"
#include "train/checkpoint.h"
#include "train/cuda_graph.h"
#include "train/run_dir.h"
#include "train/run_lock.h"
#include "train/import_weights.h"
#include "train/session.h"

namespace gex {

namespace {

std::optional<EvalReport> eval_from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("top1_error")) return std::nullopt;
  EvalReport r;
  r.step = j.value("step", int64_t{0});
  r.epoch = j.value("epoch", 0.0);
  r.eval.loss = j.value("loss", 0.0);
  r.eval.top1_error = j.value("top1_error", 1.0);
  r.eval.top5_error = j.value("top5_error", 1.0);
  r.eval.images = j.value("images", int64_t{0});
  return r;
}

EvalReport eval_from_row(const MetricsRow& row) {
  EvalReport r;
  r.step = row.step;
  r.epoch = row.epoch;
  r.eval.loss = row.loss;
  r.eval.top1_error = row.top1_error;
  r.eval.top5_error = row.top5_error;
  return r;
}

void check_fits(const Dataset& data, const ModelSpec& spec) {
  if (data.channels != spec.in_channels)
    throw UsageError("the data set " + data.source + " has " + std::to_string(data.channels) +
                     " channel(s) but the model takes " + std::to_string(spec.in_channels));
  if (data.num_classes() != spec.num_classes)
    throw UsageError("the data set " + data.source + " has " + std::to_string(data.num_classes()) +
                     " classes but the model has " + std::to_string(spec.num_classes));
  if (data.train.size() == 0) throw InputError(data.source, "the training split is empty");
}

// --cuda-graph on where no graph can run: refused before anything is written.
void check_cuda_graph(const TrainConfig& config, torch::Device device, ProcessGroup* group) {
  if (config.cuda_graph != "on") return;
  const std::string why = group ? "not with several processes (their gradients meet in host memory)"
                                : GraphedFunction::unavailable(device);
  if (!why.empty()) throw UsageError("--cuda-graph on: " + why);
}

InputRequest recorded_input(const ModelSpec& spec) { return {spec.num_classes, spec.in_channels, spec.input_size}; }

// The best and latest evaluations up to the checkpoint: from its metadata, else from metrics.csv.
void recover_evaluations(const Checkpoint& ckpt, const RunDirectory& run, StartState& start,
                         const TrainCallbacks& callbacks) {
  try {
    const auto metrics = nlohmann::json::parse(ckpt.info.metrics);
    start.wall_seconds = metrics.value("wall_seconds", 0.0);
    if (metrics.contains("best")) start.best = eval_from_json(metrics["best"]);
    if (metrics.contains("val")) start.last_eval = eval_from_json(metrics["val"]);
  } catch (const nlohmann::json::exception&) {
  }
  if (start.best) return;
  // Without it the next evaluation would overwrite best.safetensors even when worse.
  for (const auto& row : read_metrics(run.metrics_path())) {
    if (row.split != "val" || row.step > start.step) continue;
    start.last_eval = eval_from_row(row);
    if (!start.best || row.top1_error < start.best->eval.top1_error) start.best = eval_from_row(row);
    start.wall_seconds = std::max(start.wall_seconds, row.wall_seconds);
  }
  if (start.best && callbacks.on_message)
    callbacks.on_message("the metrics stored in " + run.last_checkpoint() + " could not be read; the best so far " +
                         "(top-1 error " + std::to_string(start.best->eval.top1_error) + " at step " +
                         std::to_string(start.best->step) + ") is taken from " + run.metrics_path());
}

}  // namespace

int resolved_threads(int threads) {
  return threads > 0 ? threads : available_cores();
}

DataOptions training_data_options(const TrainConfig& config, const InputRequest& asked,
                                  const std::function<void(const std::string&)>& warn) {
  DataOptions options;
  options.seed = config.seed;
  options.warn = warn;
  options.cache_mb = config.cache_mb;
  // A process's decoders, as many as its intra-op threads: a rank's share of the cores, not all of them.
  options.loader_threads = config.loader_threads > 0 ? config.loader_threads : resolved_threads(config.threads);
  options.input_size = asked.size.value_or(is_imagenet_backbone(config.model.backbone) ? 224 : 32);
  options.synthetic_size = asked.size.value_or(28);
  options.synthetic_channels = asked.channels.value_or(1);
  return options;
}

DataOptions checkpoint_data_options(const CheckpointInfo& info, const std::function<void(const std::string&)>& warn) {
  DataOptions options;
  const auto trainer = nlohmann::json::parse(info.trainer, nullptr, false);
  if (trainer.is_object() && trainer.contains("seed") && trainer["seed"].is_number_unsigned())
    options.seed = trainer["seed"].get<uint64_t>();
  options.class_order = info.preprocess.class_names;
  options.input_size = info.model.input_size;
  options.synthetic_size = info.model.input_size;
  options.synthetic_channels = info.model.in_channels;
  options.warn = warn;
  return options;
}

std::string other_files_note(const std::string& run, const std::string& data, const std::optional<DataIdentity>& then,
                             const Dataset& now) {
  if (!then || *then == now.identity) return "";
  return run + " trained on other files than " + data + " holds now (" + describe_change(*then, now.identity) +
         "): measured on the files there now" +
         (now.held_out_with && then->train + then->test != now.identity.train + now.identity.test
              ? ", held out anew: some of them may be ones it trained on"
              : "");
}

Dataset load_training_data(const TrainConfig& config, const InputRequest& asked,
                           const std::function<void(const std::string&)>& warn) {
  return load_dataset(config.data, training_data_options(config, asked, warn));
}

TrainConfig fit_to_data(TrainConfig config, const Dataset& data, const InputRequest& asked) {
  config.model.num_classes = asked.classes.value_or(data.num_classes());
  config.model.in_channels = asked.channels.value_or(data.channels);
  config.model.input_size = asked.size.value_or(data.height);
  config.validate();
  check_fits(data, config.model);
  return config;
}

namespace {

// --init-from: the checkpoint's weights in the new network, and its input normalisation (a
// pretrained network expects the statistics it was trained with, not the new data's).
void start_from_checkpoint(const TrainConfig& config, const Dataset& data, StartState& start,
                           const TrainCallbacks& callbacks) {
  const Checkpoint source = load_checkpoint(config.init_from);
  const ImportReport r = init_from_checkpoint(*start.net, source, config.init_from);
  if (source.info.preprocess.channels == data.channels) {
    start.preprocess.mean = source.info.preprocess.mean;
    start.preprocess.std = source.info.preprocess.std;
  }
  if (!callbacks.on_message) return;
  std::string note = "started from " + config.init_from + ": " + std::to_string(r.loaded.size()) + " tensors";
  if (!r.initialised.empty()) note += ", " + std::to_string(r.initialised.size()) + " created";
  if (r.reinitialised_head)
    note += ", head re-initialised (" + std::to_string(r.file_classes) + " → " +
            std::to_string(config.model.num_classes) + " classes)";
  if (!r.ignored.empty()) note += ", " + std::to_string(r.ignored.size()) + " of its tensors not used";
  if (config.freeze_backbone) note += "; the backbone is frozen (weights and BN statistics): only the attention "
                                      "modules and the head train";
  callbacks.on_message(note);
}

// A run's start at step 0: the seeded network (or --init-from's weights) on `device`, and the
// data's input normalisation. The same for a new run and for one that stopped before its first
// checkpoint, so that training it again from here is training it straight.
StartState fresh_start(const TrainConfig& config, const Dataset& data, const torch::Device& device,
                       const TrainCallbacks& callbacks) {
  StartState start;
  start.preprocess.channels = data.channels;
  start.preprocess.input_size = config.model.input_size;
  start.preprocess.class_names = data.class_names;
  channel_statistics(data.train, start.preprocess.mean, start.preprocess.std);
  torch::manual_seed(config.seed);
  start.net = build_network(config.model);
  if (!config.init_from.empty()) start_from_checkpoint(config, data, start, callbacks);
  start.net->to(device);
  to_channels_last(*start.net);
  return start;
}

// Whether a run stopped before it saved its first checkpoint (killed within its first epoch,
// without --checkpoint-every): no checkpoint, and no evaluation in its metrics (each one saves
// `last`), so nothing was removed by hand and step 0 is where it resumes.
bool stopped_before_first_checkpoint(const RunDirectory& run) {
  std::error_code ec;
  if (std::filesystem::exists(run.last_checkpoint(), ec) || std::filesystem::exists(run.best_checkpoint(), ec))
    return false;
  if (!std::filesystem::exists(run.metrics_path(), ec)) return true;
  const auto rows = read_metrics(run.metrics_path());
  return std::none_of(rows.begin(), rows.end(), [](const MetricsRow& r) { return r.split == "val"; });
}

// --data on --resume: the run's data set at its new place, of the same kind.
std::string moved_data(const std::string& recorded, const std::string& given) {
  if (parse_data_spec(given).kind != parse_data_spec(recorded).kind)
    throw UsageError("--data " + given + " is not the run's data set (" + recorded +
                     ") at another place: a resume goes on with the data it trained on");
  return given;
}

// A run whose data folder is not where it recorded it: moved, or the run was started from another
// working directory (a relative path). Said so, with the way on.
void require_data_in_place(const std::string& data) {
  const std::string dir = parse_data_spec(data).dir;
  if (std::error_code ec; dir.empty() || std::filesystem::exists(dir, ec)) return;
  throw InputError(dir, "no such directory: the run's data (" + data + ") is not there" +
                            (std::filesystem::path(dir).is_relative() ? " (a path relative to where the run was started)"
                                                                      : "") +
                            "; if it moved, resume with --data naming its new place");
}

}  // namespace

TrainSummary train(const std::string& run_dir, const TrainConfig& asked, const TrainCallbacks& callbacks,
                   WorkControl& control, const Dataset* loaded, ProcessGroup* group) {
  asked.validate();
  asked.require_length();
  TrainConfig config = asked;
  config.threads = resolved_threads(asked.threads);
  torch::set_num_threads(config.threads);
  check_world(group, config, false);
  const torch::Device device = device_of_rank(choose_device(config.device), group);
  check_cuda_graph(config, device, group);
  Dataset data;
  on_all_ranks(group, "loading the data", [&] {
    // Data held out with another seed than the run's (a study's seeds share one loading) is loaded
    // again: a run trains and is measured on the files its own seed holds out.
    const bool fits = loaded && (!loaded->held_out_with || *loaded->held_out_with == config.seed);
    data = fits ? *loaded : load_training_data(config, recorded_input(config.model), loaded ? nullptr : callbacks.on_message);
    check_fits(data, config.model);
  });
  check_same_data(group, config.data, data.identity);
  StartState start = fresh_start(config, data, device, callbacks);
  std::optional<RunDirectory> run;
  std::optional<RunLock> lock;  // rank 0, the run's one writer, holds it until the session ends
  on_all_ranks(group, "creating the run directory", [&] {
    if (group && group->rank() != 0) return;
    // A folder another process is making a run in (its run.json not written yet) is no foreign
    // folder: the lock below names that process.
    if (!run_is_locked(run_dir).value_or(false) && is_foreign_folder(run_dir))
      throw UsageError(run_dir + " is a folder with other files in it, not a run: give --out a new or empty folder "
                       "(a run's files are not mixed with others)");
    make_directories(run_dir);
    lock.emplace(run_dir);  // before looking for run.json: two processes never both create the run
    run = RunDirectory::create(run_dir, config, device.str());
    run->set_data_identity(data.identity);
  });
  return run_session(std::move(run), run_dir, config, data, std::move(start), device, callbacks, control, group);
}

void record_data_place(const std::string& run_dir, const std::string& data) {
  const RunLock lock(run_dir);
  RunDirectory run = RunDirectory::open(run_dir);
  TrainConfig config = run.config();
  config.data = moved_data(config.data, data);
  run.set_config(config, run.device());
}

TrainSummary resume(const std::string& run_dir, const ResumeOptions& options, const TrainCallbacks& callbacks,
                    WorkControl& control, ProcessGroup* group) {
  std::optional<RunDirectory> opened;
  std::optional<RunLock> lock;  // rank 0, the run's one writer, holds it until the session ends
  on_all_ranks(group, "opening the run", [&] {
    opened = RunDirectory::open(run_dir);
    if (!group || group->rank() == 0) lock.emplace(run_dir);
  });
  auto& run = *opened;
  TrainConfig config = run.config();
  const auto say = [&](const std::string& m) {
    if (callbacks.on_message) callbacks.on_message(m);
  };
  if (options.steps) config.steps = *options.steps, config.epochs = 0;
  if (options.epochs) config.epochs = *options.epochs, config.steps = 0;
  const int world = group ? group->size() : 1;
  int recorded_threads = resolved_threads(config.threads);
  // Another number of processes: the recorded threads per process no longer fit the cores.
  if (world != run.world_size() && !options.threads)
    recorded_threads = default_threads(group ? group->world() : World{}, available_cores(), machine_cores());
  config.threads = resolved_threads(options.threads.value_or(recorded_threads));
  if (config.threads != recorded_threads)
    say("resuming on " + std::to_string(config.threads) + " thread(s) where the run used " +
        std::to_string(recorded_threads) + ": sums are taken in another order, so the weights will not be "
        "bitwise those of an uninterrupted run");
  torch::set_num_threads(config.threads);
  if (options.device) config.device = *options.device;
  if (options.data) config.data = moved_data(config.data, *options.data);
  config.validate();
  check_world(group, config, true);
  if (world != run.world_size())
    say("resuming on " + std::to_string(world) + " process(es) where the run trained on " +
        std::to_string(run.world_size()) + ": the same global batch, summed in another order");
  Checkpoint ckpt;
  Dataset data;
  const torch::Device device = device_of_rank(choose_device(config.device), group);
  check_cuda_graph(config, device, group);
  const bool from_step_0 = stopped_before_first_checkpoint(run);
  on_all_ranks(group, "loading the checkpoint and the data", [&] {
    if (!from_step_0) {
      if (std::error_code ec; !std::filesystem::exists(run.last_checkpoint(), ec))
        throw InputError(run.last_checkpoint(), "no such file, although the run saved it (it has evaluated): it "
                                                "was moved or deleted, and there is nothing to resume from");
      ckpt = load_checkpoint(run.last_checkpoint());
      if (!(ckpt.info.model == config.model))
        throw InputError(run.last_checkpoint(), "its model differs from the run's run.json");
    }
    if (!options.data) require_data_in_place(config.data);
    // Labelled by the checkpoint's class names: a folder renamed since (a mapping file) keeps its classes.
    DataOptions options = training_data_options(config, recorded_input(config.model), callbacks.on_message);
    if (!from_step_0) options.class_order = ckpt.info.preprocess.class_names;
    data = load_dataset(config.data, options);
    check_fits(data, config.model);
  });
  check_same_data(group, config.data, data.identity);
  if (const auto& then = run.data_identity(); then && *then != data.identity)
    say(config.data + " changed since the run last trained on it (" + describe_change(*then, data.identity) +
        "): it goes on with the files there now, and is not what an uninterrupted run would have been");
  if (device.str() != run.device())
    say("resuming on " + device.str() + " where the run trained on " + run.device() +
        ": the weights will not be bitwise those of an uninterrupted run");
  StartState start;
  if (from_step_0) {
    say(run_dir + " stopped before its first checkpoint: it trains again from step 0 (the same seeded start)");
    start = fresh_start(config, data, device, callbacks);
  } else {
    // A run is never cut back: run.json would record a length shorter than what it trained.
    if (const int64_t total = planned_steps(config, data.train.size());
        (options.steps || options.epochs) && total < ckpt.info.step)
      throw UsageError((options.steps ? "--steps " + std::to_string(*options.steps)
                                      : "--epochs " + std::to_string(*options.epochs) + " (" + std::to_string(total) +
                                            " steps)") +
                       " is shorter than " + run_dir + " has trained: step " + std::to_string(ckpt.info.step) +
                       " (its last checkpoint); give a longer length to go on");
    start.step = ckpt.info.step;
    start.preprocess = ckpt.info.preprocess;
    start.optimizer_state = ckpt.extra;
    recover_evaluations(ckpt, run, start, callbacks);
    const auto written_under = nlohmann::json::parse(ckpt.info.trainer, nullptr, false);
    const auto length = [&](const char* key) {
      const auto& j = written_under;
      return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
    };
    TrainConfig plan = config;
    plan.steps = length("steps");
    plan.epochs = length("epochs");
    start.plan_total = planned_steps(plan, data.train.size());
    start.net = ckpt.net;
    start.net->to(device);
    to_channels_last(*start.net);
  }
  if (group && group->rank() != 0) opened.reset();  // rank 0 alone writes the run
  if (opened) {
    opened->truncate_metrics_after(start.step);
    drop_probes_after(run_dir, start.step);
    opened->set_config(config, device.str());
    opened->set_data_identity(data.identity);
  }
  return run_session(std::move(opened), run_dir, config, data, std::move(start), device, callbacks, control, group);
}

}  // namespace gex
