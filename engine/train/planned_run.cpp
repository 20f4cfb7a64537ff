#include "train/planned_run.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "data/dataset.h"
#include "dist/process_group.h"
#include "errors.h"
#include "train/run_dir.h"
#include "train/run_lock.h"

namespace gex {

namespace fs = std::filesystem;

namespace {

// The settings that make a run the experiment it is: all but how long, where and how fast it ran,
// and what it recorded on the side (probes never change training). The data set by its kind and
// place, however the place was written (`fashion-mnist` is Debian's fashion-mnist:DIR).
nlohmann::json experiment_of(const TrainConfig& config) {
  auto j = nlohmann::json::parse(config.to_json());
  const DataSpec data = parse_data_spec(config.data);
  if (const std::string place = data_place(data); !place.empty()) j["data"] = data.kind + ":" + place;
  for (const char* key : {"epochs", "steps", "threads", "device", "cache_mb", "loader_threads",
                          "dist_timeout", "checkpoint_every", "log_every", "probes", "probe_every",
                          "probe_images", "probe_limit", "probe_prune", "keep_checkpoints"})
    j.erase(key);
  return j;
}

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b,
                             const std::string& path) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [key, value] : a.items()) {
      if (!b.contains(key)) return path + "." + key;
      if (auto d = first_difference(value, b[key], path + "." + key); !d.empty()) return d;
    }
    for (const auto& [key, value] : b.items())
      if (!a.contains(key)) return path + "." + key;
    return "";
  }
  return a == b ? "" : path;
}

bool same_length(const TrainConfig& a, const TrainConfig& b) {
  return a.steps == b.steps && a.epochs == b.epochs;
}

}  // namespace

std::string experiment_difference(const TrainConfig& a, const TrainConfig& b) {
  return first_difference(experiment_of(a), experiment_of(b), "config");
}

bool data_elsewhere(const TrainConfig& recorded, const TrainConfig& plan) {
  if (recorded.data == plan.data) return false;
  const DataSpec was = parse_data_spec(recorded.data), is = parse_data_spec(plan.data);
  const std::string then = data_place(was), now = data_place(is);
  return was.kind == is.kind && !then.empty() && !now.empty() && then != now;
}

PlannedRunState planned_run_state(const std::string& dir, const TrainConfig& plan,
                                  const TrainCallbacks& callbacks, ProcessGroup* group,
                                  const Dataset* data) {
  if (!fs::exists(fs::path(dir) / "run.json")) {
    if (run_is_locked(dir).value_or(false))  // its run.json not written yet
      throw UsageError(dir + " is being started by another process (another study or sweep on this folder); a run "
                             "has one writer: wait for it to end or stop it");
    if (is_foreign_folder(dir))
      throw UsageError(
          dir + " exists and is not a run of this plan; move it away or choose another --out");
    return PlannedRunState::kNew;
  }
  const auto run = RunDirectory::open(dir);
  const bool moved = data_elsewhere(run.config(), plan);
  TrainConfig recorded = run.config();
  if (moved) recorded.data = plan.data;
  if (const auto field = experiment_difference(recorded, plan); !field.empty())
    throw UsageError(dir + " holds a run of another configuration (" + field + " differs: " +
                     run.config().model.describe() + "); move it away or choose another --out");
  const bool finished = run.status() == RunStatus::kFinished && same_length(run.config(), plan) &&
                        fs::exists(run.best_checkpoint());
  const bool kept = finished || fs::exists(run.last_checkpoint());
  const auto& then = run.data_identity();
  if (kept && data && then && *then != data->identity)
    throw UsageError(dir + " trained on other files than " + plan.data + " holds now (" +
                     describe_change(*then, data->identity) +
                     "): the runs of a study or sweep are compared on one data set; give the files it "
                     "trained on, or choose another --out" +
                     (data->held_out_with && then->train == data->identity.train
                          ? " (a folder without val/ holds out files by the run's seed; in a study made before "
                            "gex did so for each seed, every seed trained on one seed's: train it again)"
                          : ""));
  if (kept && moved && (!group || group->rank() == 0)) {
    const std::string was = data_place(parse_data_spec(run.config().data));
    if (finished) record_data_place(dir, plan.data);
    if (callbacks.on_message)
      callbacks.on_message(dir + ": its data is " + plan.data + " now (" +
                           (data && then ? "the files it trained on at " : "it trained at ") + was + ")");
  }
  if (finished) return PlannedRunState::kFinished;
  if (kept) return PlannedRunState::kInterrupted;
  if (!group || group->rank() == 0) {
    std::string aside = dir + ".incomplete";
    for (int i = 2; fs::exists(aside); ++i) aside = dir + ".incomplete-" + std::to_string(i);
    bool trained_meanwhile = false;
    {
      const RunLock lock(dir);  // a run another process is still starting is not moved away under it
      // Looked at again now that it is ours: the process that held it (another study on this
      // folder) may have reached a checkpoint or finished while the lock was waited for.
      trained_meanwhile = fs::exists(RunDirectory::last_checkpoint_of(dir));
      if (!trained_meanwhile) fs::rename(dir, aside);
    }
    if (trained_meanwhile) {
      if (group)  // the other ranks went on with a new run
        throw UsageError(dir + " was being trained by another process until now; run this again to go on from "
                               "where it stands");
      return planned_run_state(dir, plan, callbacks, group, data);
    }
    if (callbacks.on_message)
      callbacks.on_message(dir + " never reached a checkpoint; moved it to " + aside);
  }
  return PlannedRunState::kNew;
}

TrainSummary run_planned(const std::string& dir, const TrainConfig& plan,
                         const TrainCallbacks& callbacks, WorkControl& control, const Dataset* data,
                         ProcessGroup* group) {
  switch (planned_run_state(dir, plan, callbacks, group, data)) {
    case PlannedRunState::kFinished: {
      TrainSummary done;
      done.run = dir;
      return done;
    }
    case PlannedRunState::kInterrupted: {
      ResumeOptions length;
      if (plan.steps > 0)
        length.steps = plan.steps;
      else
        length.epochs = plan.epochs;
      length.data = plan.data;  // where it is now, if it moved
      return resume(dir, length, callbacks, control, group);
    }
    case PlannedRunState::kNew:
      break;
  }
  return train(dir, plan, callbacks, control, data, group);
}

}  // namespace gex
