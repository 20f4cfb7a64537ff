#include "data/idx.h"
#include "fuzz_target.h"

// Raw or gzip IDX bytes, read as images and as labels.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gex::fuzz::run(data, size, [](const std::string& b) {
    const std::string raw = gex::gunzip_if_gzip(b, "fuzz");
    try {
      gex::decode_idx_images(raw, "fuzz");
    } catch (const gex::Error&) {
    }
    gex::decode_idx_labels(raw, 10, "fuzz");
  });
}
