#include "data/idx.h"

#include <zlib.h>

#include <cstring>
#include <filesystem>

#include "errors.h"
#include "io/atomic_file.h"

namespace gex {

namespace {

uint32_t be32(const std::string& bytes, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Checks the magic (0x0000 0x08 rank) and returns the dimensions.
std::vector<uint32_t> idx_header(const std::string& bytes, int rank, const std::string& path) {
  const size_t header = 4 + 4 * size_t(rank);
  if (bytes.size() < header)
    throw InputError(path, "the file is " + std::to_string(bytes.size()) +
                               " bytes, shorter than an IDX header (" + std::to_string(header) + ")");
  const uint32_t magic = be32(bytes, 0);
  const uint32_t expected = 0x00000800u | uint32_t(rank);
  if (magic != expected) {
    char text[64];
    std::snprintf(text, sizeof text, "bad IDX magic 0x%08x at offset 0 (expected 0x%08x)", magic, expected);
    throw InputError(path, text);
  }
  std::vector<uint32_t> dims;
  uint64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    dims.push_back(be32(bytes, 4 + 4 * size_t(i)));
    total *= dims.back();
    if (total > (1ull << 36)) throw InputError(path, "absurd IDX dimensions");
  }
  if (bytes.size() - header != total)
    throw InputError(path, "the IDX header promises " + std::to_string(total) +
                               " data bytes from offset " + std::to_string(header) + ", the file has " +
                               std::to_string(bytes.size() - header) +
                               (bytes.size() - header < total ? ": truncated?" : ""));
  return dims;
}

}  // namespace

std::string read_maybe_gzip(const std::string& path) { return gunzip_if_gzip(read_file(path), path); }

std::string gunzip_if_gzip(const std::string& bytes, const std::string& path) {
  std::string raw = bytes;
  if (raw.size() < 2 || static_cast<unsigned char>(raw[0]) != 0x1f ||
      static_cast<unsigned char>(raw[1]) != 0x8b)
    return raw;
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) throw InputError(path, "cannot start gzip decoding");
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  char buffer[1 << 16];
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    status = inflate(&z, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      const auto at = z.total_in;
      inflateEnd(&z);
      throw InputError(path, "corrupt or truncated gzip data near compressed byte " + std::to_string(at));
    }
    out.append(buffer, sizeof buffer - z.avail_out);
    if (status == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      throw InputError(path, "truncated gzip file (" + std::to_string(raw.size()) + " bytes)");
    }
    if (out.size() > (1ull << 34)) {
      inflateEnd(&z);
      throw InputError(path, "decompresses to an absurd size");
    }
  }
  inflateEnd(&z);
  return out;
}

torch::Tensor read_idx_images(const std::string& path) { return decode_idx_images(read_maybe_gzip(path), path); }

torch::Tensor read_idx_labels(const std::string& path, int num_classes) {
  return decode_idx_labels(read_maybe_gzip(path), num_classes, path);
}

torch::Tensor decode_idx_images(const std::string& bytes, const std::string& path) {
  const auto dims = idx_header(bytes, 3, path);
  auto images = torch::empty({dims[0], 1, dims[1], dims[2]}, torch::kUInt8);
  if (images.numel() > 0) std::memcpy(images.data_ptr(), bytes.data() + 16, images.numel());  // none: no buffer
  return images;
}

torch::Tensor decode_idx_labels(const std::string& bytes, int num_classes, const std::string& path) {
  const auto dims = idx_header(bytes, 1, path);
  auto labels = torch::empty({dims[0]}, torch::kInt64);
  auto* out = labels.data_ptr<int64_t>();
  for (uint32_t i = 0; i < dims[0]; ++i) {
    const int label = static_cast<unsigned char>(bytes[8 + i]);
    if (label >= num_classes)
      throw InputError(path, "label " + std::to_string(label) + " at offset " + std::to_string(8 + i) +
                                 " is out of range (" + std::to_string(num_classes) + " classes)");
    out[i] = label;
  }
  return labels;
}

}  // namespace gex
