#include "fuzz_target.h"
#include "io/image.h"

// Any format OpenCV decodes, to a gray and a colour model input; the PNG chunk walk, the JPEG
// marker walk, the BMP and PNM size checks and the JPEG frame header read before decoding, and a photo decoded at a reduced size as the folder loader does.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gex::fuzz::run(data, size, [](const std::string& b) {
    gex::png_damage(b);
    gex::jpeg_damage(b);
    gex::bmp_damage(b);
    gex::pnm_damage(b);
    gex::png_for_decoding(b);
    gex::jpeg_dimensions(b);
    try {
      gex::decode_image(b, "fuzz", 1, 28);
    } catch (const gex::Error&) {
    }
    try {
      gex::decode_photo(b, "fuzz", 3, 16);
    } catch (const gex::Error&) {
    }
    gex::decode_image(b, "fuzz", 3, 32);
  });
}
