// The small study the `gex study` suites train, and its CSV files read back.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "io/atomic_file.h"

namespace gex::test {

// Two variants × two seeds of a small network on generated images, checkpoints every 10 steps.
inline const char* const kSettings =
    "study --data synthetic --input-size 16 --steps 30 --batch 32 --threads 1 --eval-every 10 "
    "--eval-limit 100 --log-every 10 "
    "--no-probes ";
inline const std::string kStudy = std::string(kSettings) + "--variants baseline,theta-minus --seeds 2 ";

// A CSV file's rows after its header, split at commas.
inline std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file(path));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream s(line);
    for (std::string x; std::getline(s, x, ',');) f.push_back(x);
    rows.push_back(f);
  }
  return rows;
}

}  // namespace gex::test
