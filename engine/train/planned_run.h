// One run of a planned series (a study, an extent sweep) in its folder: trained when the folder is
// new, resumed from its last checkpoint when it holds this plan's interrupted run, left as it is
// when it holds this plan's finished run. A folder holding anything else is the user's: refused
// (UsageError naming it and the setting that differs), never replaced; a run of this plan that
// never reached a checkpoint is moved aside to DIR.incomplete.
#pragma once

#include <string>

#include "train/trainer.h"

namespace gex {

// The first setting that makes `a` and `b` different experiments (their length, threads and
// device do not), as "config.model.extent"; empty when they are the same experiment.
std::string experiment_difference(const TrainConfig& a, const TrainConfig& b);

// Whether `plan` gives `recorded`'s data set at another place: the same kind (folder, cifar10 …)
// under another directory (not merely another spelling of the same one: data_place) — a study or
// sweep continued where its data was moved or copied to.
// Whether the files there are the ones its runs trained on is asked of each run (its data_files).
bool data_elsewhere(const TrainConfig& recorded, const TrainConfig& plan);

enum class PlannedRunState { kNew, kInterrupted, kFinished };

// Where `dir` stands against `plan`; throws UsageError as above. `data`, when given, is plan.data
// loaded now: a run that recorded other files (added, removed, renamed since; another
// folder) is refused too, for the plan's runs are compared on one data set. A run whose data is
// plan.data at another place (data_elsewhere) with the same files is this plan's; a finished one
// records the new place (rank 0), so that its analyses find its data. With a process group, every
// rank calls it; only rank 0 moves a folder aside or writes.
PlannedRunState planned_run_state(const std::string& dir, const TrainConfig& plan,
                                  const TrainCallbacks& callbacks, ProcessGroup* group = nullptr,
                                  const Dataset* data = nullptr);

// Brings `dir` to the end of `plan` (see above). `data`, when given, is plan.data already loaded.
// An interrupted run goes on with plan.data, wherever it is now.
// Returns the session's summary; for a run already finished, one with no session (step 0).
TrainSummary run_planned(const std::string& dir, const TrainConfig& plan,
                         const TrainCallbacks& callbacks, WorkControl& control,
                         const Dataset* data = nullptr, ProcessGroup* group = nullptr);

}  // namespace gex
