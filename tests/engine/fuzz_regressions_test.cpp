// Inputs the fuzzers (fuzz/, scripts/fuzz.sh) found a problem with, replayed through the same
// readers: each must now be read or refused with gex::Error, nothing else.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>

#include "data/cifar.h"
#include "data/idx.h"
#include "errors.h"
#include "io/pickle.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "train/run_dir.h"

namespace gex {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::function<void(const std::string&)>>& readers() {
  static const std::map<std::string, std::function<void(const std::string&)>> all = {
      {"safetensors", [](const std::string& b) { decode_safetensors(b, "input"); }},
      {"npy", [](const std::string& b) { decode_npy(b, "input"); }},
      {"idx", [](const std::string& b) {
         const auto raw = gunzip_if_gzip(b, "input");
         try {
           decode_idx_images(raw, "input");
         } catch (const Error&) {
         }
         decode_idx_labels(raw, 10, "input");
       }},
      {"cifar", [](const std::string& b) {
         try {
           decode_cifar_records(b, false, "input");
         } catch (const Error&) {
         }
         decode_cifar_records(b, true, "input");
       }},
      {"image", [](const std::string& b) {
         try {
           decode_image(b, "input", 1, 28);
         } catch (const Error&) {
         }
         decode_image(b, "input", 3, 32);
       }},
      {"run_json", [](const std::string& b) { RunDirectory::parse("input", b, "input/run.json"); }},
      {"metrics_csv", [](const std::string& b) { parse_metrics(b, "input/metrics.csv"); }},
      {"pickle", [](const std::string& b) {
         try {
           pickle::unpickle(b);
         } catch (const pickle::PickleError& e) {
           throw InputError("input", e.what());
         }
       }},
  };
  return all;
}

TEST(FuzzRegressions, EveryFoundInputIsReadOrRefusedWithAMessage) {
  const fs::path root = fs::path(GEX_TEST_DATA) / "fuzz";
  int replayed = 0;
  for (const auto& [target, read] : readers()) {
    if (!fs::is_directory(root / target)) continue;
    for (const auto& entry : fs::directory_iterator(root / target)) {
      const std::string bytes = read_file(entry.path().string());
      try {
        read(bytes);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("input"), std::string::npos) << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << target << " " << entry.path().filename() << ": not a gex::Error: " << e.what();
      }
      ++replayed;
    }
  }
  RecordProperty("replayed", replayed);
}

// The seeds the fuzzers start from are valid files: each reader accepts its own.
TEST(FuzzRegressions, TheSeedsAreRead) {
  const fs::path root = fs::path(GEX_TEST_DATA) / ".." / ".." / "fuzz" / "seeds";
  for (const auto& [target, read] : readers())
    for (const auto& entry : fs::directory_iterator(root / target)) {
      if (target == "idx" && entry.path().filename().string().find("labels") == std::string::npos) {
        EXPECT_NO_THROW(decode_idx_images(gunzip_if_gzip(read_file(entry.path().string()), "seed"), "seed"))
            << entry.path();
        continue;
      }
      if (target == "image" && !have_image_codecs()) continue;
      if (target == "cifar") {  // the seeds are CIFAR-10 files (the fuzzer reads them both ways)
        EXPECT_NO_THROW(decode_cifar_records(read_file(entry.path().string()), false, "seed")) << entry.path();
        continue;
      }
      EXPECT_NO_THROW(read(read_file(entry.path().string()))) << entry.path();
    }
}

}  // namespace
}  // namespace gex
