#include "data/cifar.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gex::fuzz::run(data, size, [](const std::string& b) {
    try {
      gex::decode_cifar_records(b, false, "fuzz");
    } catch (const gex::Error&) {
    }
    gex::decode_cifar_records(b, true, "fuzz");
  });
}
