// `gex` run as a user runs it, for the command-line tests: its exit status, stdout and stderr
// (caught in files of the test's scratch directory, then removed).
#pragma once

#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "io/atomic_file.h"
#include "seeded.h"
#include "temp_dir.h"

namespace gex::test {

struct GexResult {
  int code;
  std::string out, err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

// `env` (VAR=value …) is put before the command.
inline GexResult run_gex(const TempDir& dir, const std::string& args, const std::string& env = "") {
  const auto out = dir.file(".stdout"), err = dir.file(".stderr");
  const std::string cmd = env + " " + std::string(GEX_BINARY) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  GexResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

// The fixture of the command-line suites: a scratch folder, and `gex` run with it.
class GexTest : public Seeded {
 protected:
  GexResult run(const std::string& args, const std::string& env = "") { return run_gex(dir, args, env); }
  TempDir dir;
};

}  // namespace gex::test
