#include "fuzz_target.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gex::fuzz::run(data, size, [](const std::string& b) { gex::decode_safetensors(b, "fuzz"); });
}
