#include "fuzz_target.h"
#include "train/run_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gex::fuzz::run(data, size, [](const std::string& b) { gex::RunDirectory::parse("fuzz", b, "fuzz/run.json"); });
}
