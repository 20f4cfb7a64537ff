// Image files as the models see them: any format OpenCV decodes, converted to the model's
// channels (luminance for one, RGB for three; alpha dropped; 16-bit and float scaled), resized
// with the aspect kept so the shorter side is `size`, and centre-cropped to size×size.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gex {

// uint8 C×size×size. InputError naming the file when it is missing, empty or not decodable, or
// when this build has no OpenCV.
torch::Tensor load_image(const std::string& path, int channels, int size);
torch::Tensor decode_image(const std::string& bytes, const std::string& source, int channels, int size);

// Photographs for the streamed folder loader (DESIGN §6): decoded once at a reduced size when
// the model needs much fewer pixels, then cropped and resized per sample.

// A rectangle of a decoded image, in its pixels.
struct CropBox {
  int x = 0, y = 0, width = 0, height = 0;
};

// uint8 H×W×C (interleaved), converted as load_image converts. A JPEG whose shorter side is at
// least 2·min_side is decoded by libjpeg at 1/2, 1/4 or 1/8 of its size (the smallest reduction
// keeping the shorter side ≥ min_side): a quarter of the pixels or less to decode. 0: full size.
torch::Tensor decode_photo(const std::string& bytes, const std::string& source, int channels, int min_side = 0);
// The width and height a baseline or progressive JPEG's frame header gives (before any EXIF
// rotation, which keeps the shorter side); nullopt for other files or a damaged header.
std::optional<std::pair<int, int>> jpeg_dimensions(const std::string& bytes);
// Why a PNG cannot be whole, from its chunks alone (nothing decompressed): a chunk that runs past
// the end of the file, no IEND chunk, bytes where a chunk should start, or a critical chunk that
// fails its CRC. Empty for a whole PNG and for any other kind of file.
std::string png_damage(const std::string& bytes);
// Why a JPEG cannot be whole, from its markers (nothing decoded): the file ends before the
// end-of-image marker, in a segment or in a scan's data. Empty for a whole JPEG (whatever follows
// its end) and for any other kind of file.
std::string jpeg_damage(const std::string& bytes);
// Why an uncompressed BMP, or a binary PBM, PGM or PPM, cannot be whole: its header's size needs
// more pixel bytes than the file holds. Empty for a whole one and for any other kind of file.
std::string bmp_damage(const std::string& bytes);
std::string pnm_damage(const std::string& bytes);
// A whole PNG without its colour-space, text, time and layout chunks (iCCP, sRGB, gAMA, tEXt, tIME,
// pHYs, …): libpng checks them and prints its warnings on stderr — for some folders an ICC profile
// it knows to be wrong, in every image, every epoch — though decoding to RGB as OpenCV does uses
// none of them. Empty when there is none to drop, for a PNG cut short and for other files.
std::string png_for_decoding(const std::string& bytes);
// The part `box` of a decoded photo resized to size×size (area averaging when shrinking,
// bilinear when enlarging), mirrored left to right when `flip`: uint8 C×size×size.
torch::Tensor crop_and_resize(const torch::Tensor& photo, const CropBox& box, int size, bool flip);
// Shorter side resized to `resize` (aspect kept), then the centre size×size: uint8 C×size×size.
torch::Tensor resize_and_centre_crop(const torch::Tensor& photo, int resize, int size);

// An animation as a Motion-JPEG AVI, which OpenCV's own writer always supports: `frames` uint8
// H×W×3 RGB, all of one size, at `fps`. Written aside and renamed; InputError naming the file when
// it cannot be written (or the build has no OpenCV).
void write_mjpeg_video(const std::string& path, const std::vector<torch::Tensor>& frames, double fps);

// The extensions of image files, lower case: .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .pgm,
// .ppm, .pnm, .pbm (torchvision's ImageFolder's, and the other two PNM ones).
const std::vector<std::string>& image_extensions();
// Whether a file's name ends in one of them, in any case.
bool is_image_name(const std::filesystem::path& p);

// The files of `given`: a file as it is, a folder as its image files (by extension, hidden ones
// left out) in name order. InputError naming a folder that cannot be listed or holds none.
std::vector<std::string> image_files(const std::vector<std::string>& given);

// Whether `head`, a file's first bytes, start as an image file does (PNG, JPEG, GIF, BMP, TIFF,
// WebP): its signature only, nothing decoded.
bool looks_like_image(const std::string& head);

// Whether this build can decode image files, and with what ("OpenCV 4.6.0"; empty without).
bool have_image_codecs();
std::string image_codec_version();

}  // namespace gex
