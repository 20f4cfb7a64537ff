#include "analysis/probe.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "analysis/gate_maps.h"
#include "analysis/pruning.h"
#include "analysis/selectivity.h"
#include "data/batch_stream.h"
#include "data/batches.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"

namespace gex {

namespace fs = std::filesystem;

namespace {

constexpr int kTestImagesPerProbe = 10;  // the first test image of each of the first ten classes

std::string slug(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c)) out += char(std::tolower(c));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "image" : out;
}

std::string unique_name(const std::string& wanted, std::map<std::string, int>& used) {
  const int n = used[wanted]++;
  return n == 0 ? wanted : wanted + "-" + std::to_string(n + 1);
}

torch::Device device_of(NetworkImpl& net) {
  const auto params = net.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

std::string probe_row(const ProbeRecord& r) {
  char line[256];
  std::snprintf(line, sizeof line, "%lld,%.9g,%.3f,%.9g,%s\n", static_cast<long long>(r.step), r.epoch,
                r.wall_seconds, r.top1_error, r.dir.c_str());
  return line;
}

// index.csv holding exactly `rows`, atomically.
void write_index(const std::string& run_dir, const std::vector<ProbeRecord>& rows) {
  std::string text = std::string(kProbeIndexHeader) + "\n";
  for (const auto& r : rows) text += probe_row(r);
  write_file_atomically((fs::path(run_dir) / "probes" / "index.csv").string(), {text});
}

// index.csv with `record` in step order (a probe of the same step replaced).
void add_to_index(const std::string& run_dir, const ProbeRecord& record) {
  auto rows = read_probe_index(run_dir);
  rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const ProbeRecord& r) { return r.step == record.step; }),
             rows.end());
  rows.push_back(record);
  std::stable_sort(rows.begin(), rows.end(), [](const ProbeRecord& a, const ProbeRecord& b) { return a.step < b.step; });
  write_index(run_dir, rows);
}

// The gates, inputs and predictions of the probe images, into `dir`.
void write_gates(NetworkImpl& net, const Preprocess& pre, const std::vector<ProbeImage>& images, const fs::path& dir,
                 int64_t step) {
  make_directories((dir / "inputs").string());
  const auto device = device_of(net);
  nlohmann::ordered_json predictions = {{"checkpoint", net.spec().describe()}, {"step", step},
                                        {"images", nlohmann::json::array()}};
  for (const auto& image : images) {
    const GateInspection seen = inspect_input(net, pre, image.input.to(device));
    write_npy((dir / "inputs" / (image.name + ".npy")).string(), image.input);
    if (!seen.gates.empty()) make_directories((dir / "gates" / image.name).string());
    for (const auto& [module, gate] : seen.gates)
      write_npy((dir / "gates" / image.name / (module + ".npy")).string(), gate);
    nlohmann::ordered_json top5 = nlohmann::json::array();
    for (const auto& [name, p] : seen.top5) top5.push_back({{"class", name}, {"probability", p}});
    nlohmann::ordered_json entry = {{"file", image.source}, {"stem", image.name}};
    if (image.label >= 0)
      entry["label"] = image.label < int64_t(pre.class_names.size()) ? pre.class_names[image.label]
                                                                      : std::to_string(image.label);
    entry["top5"] = top5;
    predictions["images"].push_back(entry);
  }
  write_file_atomically((dir / "predictions.json").string(), {predictions.dump(2) + "\n"});
}

// The block's pruning curve as `gex prune` draws it, in the two orders a probe records.
std::vector<PruneRow> probe_pruning(NetworkImpl& net, const Split& test, const Preprocess& pre,
                                    const ProbeSettings& settings, const Shard& shard) {
  std::vector<PruneRow> rows;
  for (const char* order : {"csi-desc", "random"}) {
    PruneOptions po;
    po.blocks = {settings.prune_layer};
    po.label = settings.prune_layer;
    po.order = order;
    po.repeats = 1;
    po.seed = 0;
    po.limit = settings.limit;
    po.batch = settings.batch;
    po.device = device_of(net);
    po.shard = shard;
    for (auto& r : pruning_curve(net, test, pre, po)) rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace

std::string probe_dir_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return name;
}

std::string probe_checkpoint_path(const std::string& run_dir, int64_t step) {
  return (fs::path(run_dir) / "checkpoints" / (probe_dir_name(step) + ".safetensors")).string();
}

std::vector<ProbeImage> probe_images(const Split& test, const Preprocess& pre, const std::vector<std::string>& files,
                                     const std::function<void(const std::string&)>& warn) {
  std::vector<ProbeImage> out;
  std::map<std::string, int> used;
  const BatchMaker normalise(pre, false);
  if (test.size() > 0) {
    const auto labels = test.labels.contiguous();
    const auto* l = labels.data_ptr<int64_t>();
    std::map<int64_t, int64_t> first;  // class → its first test image
    for (int64_t i = 0; i < test.size() && int(first.size()) < kTestImagesPerProbe; ++i)
      if (l[i] < kTestImagesPerProbe && !first.count(l[i])) first[l[i]] = i;
    for (const auto& [label, index] : first) {
      const Rows rows = split_rows(test, index, index + 1);
      if (rows.labels.size(0) == 0) continue;  // an unreadable file of a streamed split
      ProbeImage image;
      const std::string cls = label < int64_t(pre.class_names.size()) ? pre.class_names[label] : std::to_string(label);
      char name[64];
      std::snprintf(name, sizeof name, "test-%05lld-", static_cast<long long>(index));
      image.name = unique_name(name + slug(cls), used);
      image.source = "test:" + std::to_string(index);
      image.label = label;
      image.input = normalise(rows.images).contiguous();
      out.push_back(std::move(image));
    }
  }
  for (const auto& file : image_files(files)) {
    ProbeImage image;
    try {
      image.input = preprocess_image(file, pre);
    } catch (const InputError& e) {
      if (!warn) throw;
      warn(std::string("a probe image is left out: ") + e.what());
      continue;
    }
    image.name = unique_name(slug(fs::path(file).stem().string()), used);
    image.source = file;
    out.push_back(std::move(image));
  }
  return out;
}

void check_prune_layer(NetworkImpl& net, const std::string& layer) {
  if (layer.empty()) return;
  for (const auto& [name, block] : net.blocks())
    if (name == layer) return;
  throw UsageError("--probe-prune: no block '" + layer + "' in this model (blocks: " + block_list(net) + ")");
}

ProbeRecord record_probe(NetworkImpl& net, const Preprocess& pre, const Split& test,
                         const std::vector<ProbeImage>& images, const ProbeSettings& settings,
                         const std::string& run_dir, int64_t step, double epoch, double wall_seconds, bool write,
                         const Shard& shard) {
  check_prune_layer(net, settings.prune_layer);
  net.eval();
  SelectivityOptions so;
  so.limit = settings.limit;
  so.batch = settings.batch;
  so.device = device_of(net);
  so.shard = shard;
  const SelectivityResult selectivity = class_selectivity(net, test, pre, so);
  const std::vector<PruneRow> pruning =
      settings.prune_layer.empty() ? std::vector<PruneRow>{} : probe_pruning(net, test, pre, settings, shard);

  ProbeRecord record;
  record.step = step;
  record.epoch = epoch;
  record.wall_seconds = wall_seconds;
  record.top1_error = selectivity.top1_error;
  record.images = selectivity.images;
  record.dir = probe_dir_name(step);
  if (!write) return record;
  const fs::path probes = fs::path(run_dir) / "probes";
  const fs::path partial = probes / (".partial-" + record.dir), done = probes / record.dir;
  std::error_code ec;
  fs::remove_all(partial, ec);
  make_directories(partial.string());
  write_gates(net, pre, images, partial, step);
  write_selectivity_csv((partial / "selectivity.csv").string(), selectivity);
  if (!pruning.empty()) write_pruning_csv((partial / ("prune-" + settings.prune_layer + ".csv")).string(), pruning);
  fs::remove_all(done, ec);  // a probe of this step from a session that did not reach its checkpoint
  fs::rename(partial, done, ec);
  if (ec) throw InputError(done.string(), "cannot move the probe into place: " + ec.message());
  add_to_index(run_dir, record);
  return record;
}

std::vector<ProbeRecord> parse_probe_index(const std::string& text, const std::string& source) {
  std::vector<ProbeRecord> rows;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1) {
      if (line != kProbeIndexHeader)
        throw InputError(source, std::string("line 1 must be the header ") + kProbeIndexHeader);
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string v; std::getline(fields, v, ',');) f.push_back(v);
    const auto bad = [&](const std::string& why) {
      return InputError(source, "line " + std::to_string(number) + ": " + why);
    };
    if (f.size() != 5) throw bad("expected 5 fields (" + std::string(kProbeIndexHeader) + ")");
    ProbeRecord r;
    try {
      size_t used = 0;
      r.step = std::stoll(f[0], &used);
      if (used != f[0].size() || r.step < 0) throw std::invalid_argument("step");
      r.epoch = std::stod(f[1]);
      r.wall_seconds = std::stod(f[2]);
      r.top1_error = std::stod(f[3]);
    } catch (const std::exception&) {
      throw bad("a number is malformed");
    }
    if (f[4].empty() || f[4].find('/') != std::string::npos || f[4].find("..") != std::string::npos)
      throw bad("the probe directory must be a plain name");
    r.dir = f[4];
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<ProbeRecord> read_probe_index(const std::string& run_dir) {
  const fs::path index = fs::path(run_dir) / "probes" / "index.csv";
  std::error_code ec;
  if (!fs::exists(index, ec)) return {};
  return parse_probe_index(read_file(index.string()), index.string());
}

bool has_probe(const std::string& run_dir, int64_t step) {
  const auto rows = read_probe_index(run_dir);
  return std::any_of(rows.begin(), rows.end(), [&](const ProbeRecord& r) { return r.step == step; });
}

void drop_probes_after(const std::string& run_dir, int64_t step) {
  const fs::path probes = fs::path(run_dir) / "probes";
  std::error_code ec;
  if (!fs::is_directory(probes, ec)) return;
  auto rows = read_probe_index(run_dir);
  const auto kept = std::stable_partition(rows.begin(), rows.end(), [&](const ProbeRecord& r) { return r.step <= step; });
  std::set<std::string> stale;
  for (auto it = kept; it != rows.end(); ++it) stale.insert(it->dir);
  for (const auto& e : fs::directory_iterator(probes, ec)) {
    const std::string name = e.path().filename().string();
    long long s = -1;
    if (name.rfind(".partial-", 0) == 0) stale.insert(name);
    else if (std::sscanf(name.c_str(), "step-%lld", &s) == 1 && s > step) stale.insert(name);
  }
  for (const auto& name : stale) fs::remove_all(probes / name, ec);
  if (kept == rows.end() && !fs::exists(probes / "index.csv", ec)) return;
  rows.erase(kept, rows.end());
  write_index(run_dir, rows);
}

}  // namespace gex
