// gex: everything GE Explorer does, headless (DESIGN §4).
#include <c10/util/Logging.h>
#include <torch/version.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

#include "cores.h"
#include "dist/process_group.h"
#include "dist/world.h"
#include "error_message.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "gex/launcher.h"
#include "heap.h"
#include "io/image.h"
#include "train/device.h"

namespace {

// c10d logs as warnings what gex then reports as an error (a master that does not answer: a line
// a second until the timeout). Its log shows from TORCH_CPP_LOG_LEVEL's level, as in PyTorch;
// gex's default is ERROR. (Where c10 logs through glog, initLogging keeps glog's own threshold
// when that is lower, so it is set here too.)
void set_torch_log_level() {
  const char* level = std::getenv("TORCH_CPP_LOG_LEVEL");
  ::setenv("TORCH_CPP_LOG_LEVEL", level && *level ? level : "ERROR", 1);
  c10::initLogging();
#ifdef C10_USE_GLOG
  FLAGS_minloglevel = std::max<int>(FLAGS_minloglevel, FLAGS_caffe2_log_level);
#endif
}

// `--json` promises one object on stdout; in a data-parallel job every rank fails with the error
// (or with the loss of the rank that had it), so rank 0 alone prints it (each says it on stderr).
bool prints_json_error() {
  try {
    const auto world = gex::world_from_environment();
    return !world || world->rank == 0;
  } catch (const std::exception&) {  // a malformed variable: the usage error itself, from one process
    return true;
  }
}

// `gex --version`: this gex and what it was built with and sees — LibTorch and the GPUs, the
// data-parallel collectives, the image decoder, the cores — for a cluster's nodes and bug reports.
std::string version_text() {
  std::ostringstream text;
  text << "gex " << GEX_VERSION << "\nLibTorch " << TORCH_VERSION;
#if GEX_WITH_CUDA
  const auto found = gex::gpus();
  text << " with CUDA: " << (found.empty() ? "no GPU visible" : std::to_string(found.size()) + " GPU(s)");
  for (const auto& gpu : found)
    text << "\n  cuda:" << gpu.index << "  " << gpu.name << ", " << std::fixed << std::setprecision(1)
         << double(gpu.memory) / double(1LL << 30) << " GiB";
#else
  text << ", CPU only (built without CUDA)";
#endif
  const std::string collectives = gex::collectives_built();
  text << "\ndata-parallel training: "
       << (collectives.empty() ? "none (built without Gloo or NCCL: one process only)" : "c10d with " + collectives);
  const std::string codecs = gex::image_codec_version();
  text << "\nimage files: " << (codecs.empty() ? "none (built without OpenCV: image files are refused)" : codecs);
  text << "\ncores: " << gex::available_cores() << " of the machine's " << gex::machine_cores()
       << " (one process's default --threads)";
  return text.str();
}

// The process's exit status. Where a collective was abandoned for a lost rank, Gloo's threads still
// wait in it: the process ends without the static destructors those threads could wake into.
int ended(int code) {
  if (!gex::collectives_abandoned()) return code;
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();
  // A reader that goes away (`gex info | head`, the application that follows a run) makes writes
  // fail with EPIPE instead of killing gex mid-work: training then saves `last` and stops.
  std::signal(SIGPIPE, SIG_IGN);
  set_torch_log_level();
  CLI::App gex{"gex: train, load and inspect Gather-Excite networks (GE Explorer's command line)",
               "gex"};
  gex.require_subcommand(1);
  gex::cli::remember_command_line(argc, argv);
  gex.set_version_flag("--version", version_text, "Print the version, what this gex was built with (CUDA, data-parallel\n"
                                                  "collectives, image decoder) and the cores and GPUs it sees, and exit");
  std::vector<gex::cli::Command> commands = {
      gex::cli::add_info_command(gex),
      gex::cli::add_init_command(gex),
      gex::cli::add_import_command(gex),
      gex::cli::add_forward_command(gex),
      gex::cli::add_train_command(gex),
      gex::cli::add_eval_command(gex),
      gex::cli::add_gates_command(gex),
      gex::cli::add_selectivity_command(gex),
      gex::cli::add_prune_command(gex),
      gex::cli::add_sweep_command(gex),
      gex::cli::add_probe_command(gex),
      gex::cli::add_study_command(gex),
  };

  // CLI11 reads an unknown first word as a stray argument ("A subcommand is required"): name it.
  std::string known;
  bool is_command = false;
  for (const auto& command : commands) {
    known += (known.empty() ? "" : ", ") + command.app->get_name();
    is_command = is_command || (argc > 1 && command.app->check_name(argv[1]));
  }
  // A usage error that the parser found: said as every other error is (named by its command, and
  // as the JSON object `--json` promises), with the pointer to --help.
  const auto usage_error = [&](const std::string& who, const std::string& message) {
    std::cerr << who << ": error: " << message << "\nRun with --help for more information." << std::endl;
    for (int i = 1; i < argc; ++i)
      if (std::string(argv[i]) == "--json") {
        std::cout << nlohmann::json{{"error", message}, {"exit_code", gex::kExitUsage}}.dump() << std::endl;
        break;
      }
    return gex::kExitUsage;
  };
  if (argc > 1 && argv[1][0] != '-' && !is_command)
    return usage_error("gex", std::string("unknown command '") + argv[1] + "' (commands: " + known + ")");

  bool json = false;
  try {
    gex.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every other parse problem is a usage error (2).
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return gex.exit(e);
    const CLI::App* command = nullptr;
    for (const auto& c : commands)
      if (is_command && c.app->check_name(argv[1])) command = c.app;
    return usage_error(is_command ? std::string("gex ") + argv[1] : std::string("gex"), gex::cli::usage_message(command, e));
  }
  for (auto& command : commands) {
    if (!command.app->parsed()) continue;
    json = command.app->get_option("--json")->as<bool>();
    try {
      return ended(command.run());
    } catch (const gex::Error& e) {
      gex::cli::say_error("gex " + command.app->get_name() + ": error: " + e.what());
      if (json && prints_json_error()) std::cout << nlohmann::json{{"error", e.what()}, {"exit_code", e.exit_code()}}.dump() << std::endl;
      return ended(e.exit_code());
    } catch (const std::exception& e) {
      // Anything unforeseen (a Torch error deep in a run) still ends with a readable message.
      const std::string what = gex::error_message(e);
      gex::cli::say_error("gex " + command.app->get_name() + ": failed: " + what);
      if (json && prints_json_error()) std::cout << nlohmann::json{{"error", what}, {"exit_code", gex::kExitRunFailed}}.dump() << std::endl;
      return ended(gex::kExitRunFailed);
    }
  }
  return gex::kExitUsage;
}
