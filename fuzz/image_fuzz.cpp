#include "fuzz_target.h"
#include "io/image.h"

// Any format OpenCV decodes, to a gray and a colour model input.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gex::fuzz::run(data, size, [](const std::string& b) {
    try {
      gex::decode_image(b, "fuzz", 1, 28);
    } catch (const gex::Error&) {
    }
    gex::decode_image(b, "fuzz", 3, 32);
  });
}
