#include "io/npy.h"

#include <cstring>
#include <regex>

#include "errors.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/tensor_limits.h"

namespace gex {

namespace {

struct Descr {
  const char* descr;
  torch::ScalarType type;
};
constexpr Descr kDescrs[] = {{"<f4", torch::kFloat32}, {"<f8", torch::kFloat64},
                             {"<i8", torch::kInt64},   {"<i4", torch::kInt32},
                             {"|u1", torch::kUInt8},   {"|b1", torch::kBool}};

}  // namespace

std::string npy_descr(torch::ScalarType type) {
  for (const auto& d : kDescrs)
    if (d.type == type) return d.descr;
  throw std::invalid_argument(std::string(".npy cannot store dtype ") + c10::toString(type));
}

std::string encode_npy(const torch::Tensor& tensor) {
  auto t = tensor.detach().to(torch::kCPU).contiguous();
  std::string shape;
  for (auto d : t.sizes()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.erase(shape.size() - 2);  // (2, 3) but (5,) and ()
  if (t.dim() == 1) shape.pop_back();
  std::string dict = "{'descr': '" + npy_descr(t.scalar_type()) +
                     "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>((dict.size() >> 8) & 0xff));
  out += dict;
  const size_t bytes = t.numel() * t.element_size();
  const size_t header = out.size();
  out.resize(header + bytes);
  if (bytes) std::memcpy(out.data() + header, t.data_ptr(), bytes);
  return out;
}

void write_npy(const std::string& path, const torch::Tensor& tensor) {
  const std::string bytes = encode_npy(tensor);
  write_file_atomically(path, {bytes});
}

torch::Tensor read_npy(const std::string& path) { return decode_npy(read_file(path), path); }

torch::Tensor decode_npy(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    throw InputError(source, looks_like_image(bytes.substr(0, 16))
                                 ? "is an image, not a .npy file (an N×C×H×W tensor, preprocessed, is asked for here)"
                                 : "not a .npy file (no \\x93NUMPY magic at byte 0)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw InputError(source, "truncated .npy header");
    for (int i = 0; i < 4; ++i) header_len |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    throw InputError(source, "unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > bytes.size() - header_start)
    throw InputError(source, "the .npy header (" + std::to_string(header_len) +
                                 " bytes from offset " + std::to_string(header_start) +
                                 ") runs past the end of the file: truncated?");
  const std::string header = bytes.substr(header_start, header_len);

  std::smatch m;
  static const std::regex descr_re(R"('descr'\s*:\s*'([^']*)')");
  static const std::regex order_re(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex shape_re(R"('shape'\s*:\s*\(([^)]*)\))");
  if (!std::regex_search(header, m, descr_re)) throw InputError(source, ".npy header has no 'descr'");
  const std::string descr = m[1];
  if (!std::regex_search(header, m, order_re))
    throw InputError(source, ".npy header has no 'fortran_order'");
  const bool fortran = m[1] == "True";
  if (!std::regex_search(header, m, shape_re)) throw InputError(source, ".npy header has no 'shape'");
  const std::string shape_text = m[1];

  torch::ScalarType type = torch::kFloat32;
  bool known = false;
  for (const auto& d : kDescrs)
    if (descr == d.descr) type = d.type, known = true;
  if (descr == "<u1" || descr == "|i1") known = false;
  if (!known)
    throw InputError(source, "unsupported dtype '" + descr +
                                 "' (float32 <f4, float64 <f8, int64 <i8, int32 <i4, uint8 |u1 or "
                                 "bool |b1, little-endian)");

  std::vector<int64_t> shape;
  uint64_t numel = 1;
  static const std::regex dim_re(R"(\s*(\d+)\s*)");
  size_t pos = 0;
  while (pos < shape_text.size()) {
    const size_t comma = shape_text.find(',', pos);
    const std::string part = shape_text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? shape_text.size() : comma + 1;
    if (part.find_first_not_of(" \t") == std::string::npos) continue;
    std::smatch dm;
    if (!std::regex_match(part, dm, dim_re) || dm[1].length() > 12)
      throw InputError(source, "bad .npy shape '(" + shape_text + ")'");
    const uint64_t d = std::stoull(dm[1]);
    if (d > kMaxElements || (d != 0 && numel > kMaxElements / d))
      throw InputError(source, ".npy shape '(" + shape_text + ")' is absurdly large");
    numel *= d;
    shape.push_back(static_cast<int64_t>(d));
  }
  const size_t data_start = header_start + header_len;
  const uint64_t expected = numel * torch::elementSize(type);
  const uint64_t available = bytes.size() - data_start;
  if (available != expected)
    throw InputError(source, "shape (" + shape_text + ") of " + descr + " needs " +
                                 std::to_string(expected) + " data bytes from offset " +
                                 std::to_string(data_start) + ", the file has " +
                                 std::to_string(available) +
                                 (available < expected ? ": truncated?" : ""));

  std::vector<int64_t> stored = shape;
  if (fortran) std::reverse(stored.begin(), stored.end());
  auto t = torch::empty(stored, torch::TensorOptions().dtype(type));
  if (expected) std::memcpy(t.data_ptr(), bytes.data() + data_start, expected);
  if (fortran && t.dim() > 1) {
    std::vector<int64_t> order;
    for (int64_t i = t.dim() - 1; i >= 0; --i) order.push_back(i);
    t = t.permute(order).contiguous();
  }
  return t;
}

}  // namespace gex
