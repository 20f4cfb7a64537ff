#include "gex/cli_support.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <regex>
#include <sstream>

#include "cores.h"
#include "dist/data_parallel.h"
#include "errors.h"
#include "io/atomic_file.h"

namespace gex::cli {

void add_common_flags(CLI::App* command, CommonFlags& flags) {
  command->add_flag("--json", flags.json, "Print one JSON object on stdout (messages on stderr)");
  command->add_option("--threads", flags.threads, "Intra-op CPU threads (default: one per core this process may use)")
      ->check(CLI::Range(1, 1024));
}

namespace {
int g_argc = 0;
char** g_argv = nullptr;
}  // namespace

void remember_command_line(int argc, char** argv) { g_argc = argc, g_argv = argv; }
int command_line_count() { return g_argc; }
char** command_line_values() { return g_argv; }

void apply_threads(const CommonFlags& flags) {
  torch::set_num_threads(flags.threads > 0 ? flags.threads : available_cores());
}

CLI::Validator not_negative() {
  return CLI::Validator(
      [](std::string& value) {
        const auto first = value.find_first_not_of(" \t");
        return first != std::string::npos && value[first] == '-'
                   ? "Value " + value + " not in range 0 to " + std::to_string(std::numeric_limits<uint64_t>::max())
                   : std::string();
      },
      "");
}

std::string usage_message(const CLI::App* command, const CLI::ParseError& error) {
  const std::string what = error.what();
  static const std::regex not_converted(R"(Could not convert: (\S+) = (.*))");
  static const std::regex out_of_range(R"((\S+): Value (.*) not in range (\S+) to (\S+))");
  std::smatch m;
  const bool converted = std::regex_match(what, m, not_converted);
  if (!command || (!converted && !std::regex_match(what, m, out_of_range))) return what;
  const CLI::Option* option = command->get_option_no_throw(m[1].str());
  if (!option) return what;
  const std::string type = option->get_type_name().substr(0, option->get_type_name().find(':'));
  const bool many = option->get_expected_max() > 1;
  std::string kind = type == "INT" || type == "UINT" ? (many ? "whole numbers" : "a whole number")
                     : type == "FLOAT"               ? (many ? "numbers" : "a number")
                                                     : "";
  if (kind.empty()) return what;
  if (many) kind += " separated by commas";
  if (!converted) {  // (the upper bounds of 2^30 and more only keep a typo from asking for the impossible)
    const bool unbounded = m[4].str().size() >= 10;
    kind += unbounded ? ", " + m[3].str() + " or more" : " from " + m[3].str() + " to " + m[4].str();
  }
  return m[1].str() + " takes " + kind + ", not '" + m[2].str() + "'";
}

void add_model_flags(CLI::App* command, ModelFlags& flags) {
  std::string backbones;
  for (const auto& name : backbone_names()) backbones += (backbones.empty() ? "" : "|") + name;
  command->add_option("--model", flags.model, "Backbone: " + backbones)->capture_default_str();
  command->add_option("--attention", flags.attention, "none|se|ge")->capture_default_str();
  command->add_option("--variant", flags.variant, "GE variant: theta-minus|theta|theta-plus")
      ->capture_default_str();
  command->add_option("--extent", flags.extent, "GE extent ratio: 2|4|8|global")->capture_default_str();
  command->add_option("--pool", flags.pool, "GE-θ⁻ gather pooling: avg|max")->capture_default_str();
  command->add_option("--stride-on", flags.stride_on,
                      "Bottleneck ResNets: the stage's stride on the first 1x1 (the paper's) or the 3x3 (torchvision's)")
      ->capture_default_str();
  command->add_option("--classes", flags.classes, "Number of classes");
  command->add_option("--in-channels", flags.in_channels, "Input channels");
  command->add_option("--input-size", flags.input_size, "Input height and width in pixels");
}

void add_data_flags(CLI::App* command, DataFlags& flags) {
  command->add_option("--data", flags.data,
                      "fashion-mnist | mnist:DIR | idx:DIR | cifar10:DIR | cifar100:DIR | folder:DIR | synthetic")
      ->capture_default_str();
  command->add_option("--cache-mb", flags.cache_mb,
                      "folder:DIR: MB of decoded images kept in memory; a folder that does not fit is streamed "
                      "from disk (0: always streamed)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))
      ->capture_default_str();
  command->add_option("--loader-threads", flags.loader_threads, "folder:DIR: threads decoding images (0: as many as --threads)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
}

void add_checkpoint_run_flags(CLI::App* command, DataFlags& data, CheckpointRunFlags& flags) {
  command->add_option("--checkpoint", flags.checkpoint, "Checkpoint (.safetensors)")->required();
  add_data_flags(command, data);
  command->add_option("--split", flags.split, "test|train")
      ->check(CLI::IsMember({"test", "train"}))
      ->capture_default_str();
  command->add_option("--limit", flags.limit, "Only the first N images of the split, in file order (0: all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  command->add_option("--batch", flags.batch, "Images per forward pass")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  command->add_option("--device", flags.device, "auto|cpu|cuda|cuda:K")->capture_default_str();
}

Dataset load_for_checkpoint(const DataFlags& flags, const CheckpointInfo& info, const CheckpointRunFlags& run,
                            const std::string& command, ProcessGroup* group) {
  const std::string& checkpoint = run.checkpoint;
  const ModelSpec& spec = info.model;
  DataOptions options = checkpoint_data_options(
      info, [command](const std::string& m) { std::fprintf(stderr, "%s: %s\n", command.c_str(), m.c_str()); });
  options.cache_mb = flags.cache_mb;
  options.loader_threads = flags.loader_threads > 0 ? flags.loader_threads : torch::get_num_threads();  // as --threads
  options.decode_train = run.split == "train";
  Dataset data = load_dataset(flags.data, options);
  if (data.channels != spec.in_channels || data.num_classes() != spec.num_classes)
    throw UsageError(flags.data + " has " + std::to_string(data.channels) + " channel(s) and " +
                     std::to_string(data.num_classes()) + " classes; " + checkpoint + " takes " +
                     std::to_string(spec.in_channels) + " and " + std::to_string(spec.num_classes));
  check_same_data(group, flags.data, data.identity);  // the ranks share out one split's images
  return data;
}

ModelSpec to_spec(const ModelFlags& flags) {
  ModelSpec spec;
  spec.backbone = flags.model;
  const auto attention = parse_attention(flags.attention);
  if (!attention) throw UsageError("--attention must be none, se or ge, not '" + flags.attention + "'");
  spec.attention = *attention;
  const auto variant = parse_variant(flags.variant);
  if (!variant)
    throw UsageError("--variant must be theta-minus, theta or theta-plus, not '" + flags.variant + "'");
  spec.variant = *variant;
  const auto extent = parse_extent(flags.extent);
  if (!extent) throw UsageError("--extent must be 2, 4, 8 or global, not '" + flags.extent + "'");
  spec.extent = *extent;
  const auto pool = parse_pool(flags.pool);
  if (!pool) throw UsageError("--pool must be avg or max, not '" + flags.pool + "'");
  spec.pool = *pool;
  const auto stride_on = parse_stride_on(flags.stride_on);
  if (!stride_on) throw UsageError("--stride-on must be 1x1 or 3x3, not '" + flags.stride_on + "'");
  spec.stride_on = *stride_on;
  const bool imagenet = is_imagenet_backbone(flags.model);
  spec.num_classes = flags.classes.value_or(imagenet ? 1000 : 10);
  spec.in_channels = flags.in_channels.value_or(3);
  spec.input_size = flags.input_size.value_or(imagenet ? 224 : 32);
  if (const auto problem = spec.problem()) throw UsageError(*problem);
  return spec;
}

InputRequest input_request(const ModelFlags& flags) { return {flags.classes, flags.in_channels, flags.input_size}; }

void emit(const CommonFlags& flags, const nlohmann::json& result, const std::string& human) {
  if (flags.json) {
    std::cout << result.dump() << std::endl;
    if (!human.empty()) std::cerr << human << std::flush;
  } else {
    std::cout << human << std::flush;
  }
}

void check_new_output(const std::string& flag, const std::string& path, Output kind, const std::string& what) {
  namespace fs = std::filesystem;
  const bool file = kind == Output::File;
  if (path.empty()) throw UsageError(flag + " is empty: give the " + (file ? "file" : "directory") + " to write");
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  const auto refuse = [&](const std::string& state) {
    throw UsageError(path + " " + state + "; choose another " + flag + " or move it away (" + what +
                     " is never overwritten)");
  };
  if (file) {
    if (fs::exists(status)) refuse("exists");
    require_parent_directory(path);
    return;
  }
  if (!fs::exists(status)) return;  // made, with its parents, when written
  if (!fs::is_directory(path, ec)) throw InputError(path, "exists and is not a directory");
  if (!fs::is_empty(path, ec)) refuse("exists and is not empty");
}

void stop_if_interrupted(const WorkControl& control) {
  if (control.cancelled()) throw Interrupted("interrupted before the pass over the data finished; nothing written");
}

void refuse_existing_checkpoint(const std::string& out) { check_new_output("--out", out, Output::File, "a checkpoint"); }

std::string duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600) std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(text, sizeof text, "%lds", s);
  return text;
}

std::function<void(int64_t, int64_t)> pass_progress(const std::string& command, const std::string& unit) {
  using Clock = std::chrono::steady_clock;
  const bool tty = ::isatty(STDERR_FILENO);
  const auto start = Clock::now();
  auto last = std::make_shared<Clock::time_point>(start);
  return [=](int64_t done, int64_t total) {
    const auto now = Clock::now();
    const bool finished = done >= total;
    if (now - *last < (tty ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000)) && !(tty && finished))
      return;
    *last = now;
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const double left = done > 0 ? elapsed * double(total - done) / double(done) : 0;
    std::fprintf(stderr, "%s%s: %lld of %lld %s (%d %%), about %s left%s", tty ? "\r" : "", command.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), unit.c_str(),
                 total > 0 ? int(100 * done / total) : 100, duration(left).c_str(), tty && !finished ? "   " : "\n");
    std::fflush(stderr);
  };
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", 100 * fraction);
  return text;
}

nlohmann::json metadata_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() || j.empty() ? nlohmann::json() : j;
}

std::string si(double value, int precision) {
  const char* units[] = {"", " k", " M", " G", " T"};
  int u = 0;
  while (std::abs(value) >= 1000.0 && u < 4) value /= 1000.0, ++u;
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(u == 0 ? 0 : precision);
  out << value << units[u];
  return out.str();
}

}  // namespace gex::cli
