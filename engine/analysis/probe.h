// Probes (DESIGN §6): the analyses recorded as a run trains, one directory per probed step, so
// that gates, class selectivity and pruning curves become timelines. A probe runs the network in
// eval mode and touches no weight, BatchNorm statistic, optimiser state or data order.
//
//   RUN/probes/index.csv                  step,epoch,wall_seconds,top1_error,dir (one row per probe)
//   RUN/probes/step-<8-digit step>/       inputs/<image>.npy, gates/<image>/<module>.npy,
//                                         predictions.json, selectivity.csv, prune-<layer>.csv
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "models/network.h"
#include "sharding.h"

namespace gex {

inline constexpr const char* kProbeIndexHeader = "step,epoch,wall_seconds,top1_error,dir";

// What a probe records (the run's probe settings, TrainConfig's probe_*).
struct ProbeSettings {
  std::vector<std::string> images;  // image files (or folders of them) probed beside the test images
  int64_t limit = 1000;             // selectivity (and the pruning curve) over the first N test images
  std::string prune_layer;          // a block whose pruning curve (csi-desc and random) each probe records
  int64_t batch = 256;
};

// One image every probe follows: its name in the probe's files, where it came from, and the exact
// normalised input (1×C×S×S).
struct ProbeImage {
  std::string name;    // the file stem in inputs/ and gates/
  std::string source;  // the file, or "test:<index>" for an image of the test split
  int64_t label = -1;  // the class of a test image; -1 for a file
  torch::Tensor input;
};

// The first test image of each class (at most 10 classes), then the files and the image files of
// the folders in `files` (sorted). An unreadable file is an InputError naming it, or, with `warn`,
// a warning and left out.
std::vector<ProbeImage> probe_images(const Split& test, const Preprocess& preprocess,
                                     const std::vector<std::string>& files,
                                     const std::function<void(const std::string&)>& warn = nullptr);

struct ProbeRecord {
  int64_t step = 0;
  double epoch = 0;
  double wall_seconds = 0;
  double top1_error = 0;  // over the probe's selectivity images (the first N test images)
  int64_t images = 0;     // how many those were (fewer than N in a small test split)
  std::string dir;        // relative to RUN/probes/
};

std::string probe_dir_name(int64_t step);              // "step-00001234"
std::string probe_checkpoint_path(const std::string& run_dir, int64_t step);  // RUN/checkpoints/step-….safetensors

// Runs the probe's analyses on `net` (eval mode, no gradients; training mode restored by the
// caller) and, when `write`, writes RUN/probes/step-<step>/ (built aside, then renamed: a kill
// never leaves half a probe) and appends its row to index.csv. Data-parallel, every process calls
// with its shard: selectivity and pruning are summed over them; only the writer computes gates.
// UsageError when the prune layer is not a block of `net`.
ProbeRecord record_probe(NetworkImpl& net, const Preprocess& preprocess, const Split& test,
                         const std::vector<ProbeImage>& images, const ProbeSettings& settings,
                         const std::string& run_dir, int64_t step, double epoch, double wall_seconds, bool write,
                         const Shard& shard = {});

// index.csv's rows, in file order (InputError naming the file and line when malformed); none when
// the run has no probes.
std::vector<ProbeRecord> read_probe_index(const std::string& run_dir);
std::vector<ProbeRecord> parse_probe_index(const std::string& text, const std::string& source);

// Whether index.csv has a row for `step`.
bool has_probe(const std::string& run_dir, int64_t step);

// A resumed run continues from its checkpoint at `step`: the probes after it (which the resumed
// run records again), and any half-written probe directory, are dropped.
void drop_probes_after(const std::string& run_dir, int64_t step);

// UsageError when `layer` is set and not a block of `net` (named with the blocks it has).
void check_prune_layer(NetworkImpl& net, const std::string& layer);

}  // namespace gex
