// A study (DESIGN §6): the same training repeated per variant and seed, so that a comparison says
// how sure it is. DIR/<variant>/seed-<k>/ are ordinary run directories; DIR/study.json is the plan,
// DIR/study.csv the table of finished runs, rewritten after each. Resumable as an extent sweep
// is: finished runs kept, interrupted ones resumed, a folder of another experiment refused.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "analysis/study_statistics.h"
#include "train/trainer.h"

namespace gex {

struct StudyVariant {
  std::string
      name;  // its folder: baseline, se, theta-minus, theta, theta-plus ("-e<E>" at a local extent)
  ModelSpec model;
};

// "baseline", "se", "theta-minus", "theta", "theta-plus", a GE one optionally at its own extent
// ("theta:4" or "theta-e4"; else `default_extent`, 0 = global) on `backbone`'s network. UsageError
// naming the text otherwise.
StudyVariant study_variant(const std::string& text, const ModelSpec& backbone, int default_extent);

struct StudyPlan {
  TrainConfig config;  // what every run shares; each run's model and seed are its own
  std::vector<StudyVariant> variants;
  std::vector<uint64_t> seeds;

  TrainConfig run_config(const StudyVariant& variant, uint64_t seed) const;
  std::string to_json() const;
  // InputError naming `source` when the text is not a study plan.
  static StudyPlan from_json(const std::string& text, const std::string& source);
};

// DIR/<variant>/seed-<seed>
std::string study_run_dir(const std::string& out_dir, const std::string& variant, uint64_t seed);

// `plan` joined with the plan DIR/study.json already holds (its variants and seeds first, new ones
// after); UsageError naming study.json when the two differ in anything but variants, seeds and the
// place of the data set (data_elsewhere: moved or copied; said through `on_message`, each run's
// files are then compared with what it recorded).
StudyPlan merge_with_recorded(const std::string& out_dir, const StudyPlan& plan,
                              const std::function<void(const std::string&)>& on_message = {});

// Trains (or resumes) every run of `plan` in turn, seed by seed so that an interrupted study has
// whole pairs, and writes DIR/study.json first and DIR/study.csv after each run. With a process
// group every run is data-parallel over it and rank 0 alone writes. Returns one row per planned run
// (`finished` false for those not reached). `on_run` hears of each run as it starts (or is found
// finished): its variant, seed and folder.
using StudyRunStart =
    std::function<void(const std::string& variant, uint64_t seed, const std::string& dir)>;
std::vector<StudyRow> run_study(const std::string& out_dir, const StudyPlan& plan,
                                const TrainCallbacks& callbacks, WorkControl& control,
                                const Dataset* data = nullptr, ProcessGroup* group = nullptr,
                                const StudyRunStart& on_run = nullptr);

// The row of one run, from its directory (its size from its model, its errors from metrics.csv).
StudyRow study_row(const std::string& run_dir, const std::string& variant, uint64_t seed);

// DIR/study.csv both ways (InputError naming the file and line when malformed).
void write_study_table(const std::string& path, const std::vector<StudyRow>& rows);
std::vector<StudyRow> read_study_table(const std::string& path);
// DIR/study.csv of a study's folder: InputError where DIR is none, the usual slips (its study.json,
// one of its variants' or runs' folders, a run of no study) naming the study or what DIR is.
std::string study_table_of(const std::string& dir);

}  // namespace gex
