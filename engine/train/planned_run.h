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

enum class PlannedRunState { kNew, kInterrupted, kFinished };

// Where `dir` stands against `plan`; throws UsageError as above. With a process group, every rank
// calls it; only rank 0 moves a folder aside.
PlannedRunState planned_run_state(const std::string& dir, const TrainConfig& plan,
                                  const TrainCallbacks& callbacks, ProcessGroup* group = nullptr);

// Brings `dir` to the end of `plan` (see above). `data`, when given, is plan.data already loaded.
// Returns the session's summary; for a run already finished, one with no session (step 0).
TrainSummary run_planned(const std::string& dir, const TrainConfig& plan,
                         const TrainCallbacks& callbacks, WorkControl& control,
                         const Dataset* data = nullptr, ProcessGroup* group = nullptr);

}  // namespace gex
