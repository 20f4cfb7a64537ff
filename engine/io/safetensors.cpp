#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "errors.h"
#include "io/atomic_file.h"
#include "io/tensor_limits.h"

namespace gex {

namespace {

struct DType {
  const char* name;
  torch::ScalarType type;
};

constexpr DType kDTypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64}, {"I32", torch::kInt32},
    {"I16", torch::kInt16},   {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

const char* dtype_name(torch::ScalarType type) {
  for (const auto& d : kDTypes)
    if (d.type == type) return d.name;
  throw std::invalid_argument(std::string("safetensors cannot store dtype ") +
                              c10::toString(type));
}

// A header larger than this is not a checkpoint header but a corrupt length.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

void put_u64le(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_u64le(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

}  // namespace

std::string encode_safetensors(const TensorList& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = t.numel() * t.element_size();
    header[name] = {{"dtype", dtype_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(t));
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  std::string out(8 + json.size() + offset, '\0');
  put_u64le(out.data(), json.size());
  std::memcpy(out.data() + 8, json.data(), json.size());
  char* data = out.data() + 8 + json.size();
  for (const auto& t : contiguous) {
    const size_t bytes = t.numel() * t.element_size();
    if (bytes) std::memcpy(data, t.data_ptr(), bytes);
    data += bytes;
  }
  return out;
}

void write_safetensors(const std::string& path, const TensorList& tensors,
                       const Metadata& metadata) {
  const std::string bytes = encode_safetensors(tensors, metadata);
  write_file_atomically(path, {bytes});
}

SafetensorsData read_safetensors(const std::string& path) {
  return decode_safetensors(read_file(path), path);
}

namespace {

struct Entry {
  std::string name;
  torch::ScalarType type;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // byte offsets in the data section
};

// The JSON header after the 8-byte length; every length checked against the file.
nlohmann::json parse_header(const std::string& bytes, const std::string& source) {
  const uint64_t size = bytes.size();
  if (size < 8)
    throw InputError(source, "the file is " + std::to_string(size) +
                                 " bytes; a safetensors file starts with an 8-byte header length");
  const uint64_t header_len = get_u64le(bytes.data());
  if (header_len > kMaxHeaderBytes)
    throw InputError(source, "header length " + std::to_string(header_len) +
                                 " (bytes 0-7) is absurd; the file is not a safetensors file or is corrupt");
  if (header_len > size - 8)
    throw InputError(source, "header length " + std::to_string(header_len) +
                                 " (bytes 0-7) runs past the end of the file (" +
                                 std::to_string(size) + " bytes): truncated?");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + header_len);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(source, "the header is not valid JSON (near byte offset " +
                                 std::to_string(8 + e.byte) + ")");
  } catch (const nlohmann::json::exception& e) {  // e.g. a number beyond double's range
    throw InputError(source, std::string("the header's JSON cannot be read: ") + e.what());
  }
  if (!header.is_object()) throw InputError(source, "the header is not a JSON object");
  return header;
}

Metadata parse_metadata(const nlohmann::json& value, const std::string& source) {
  if (!value.is_object()) throw InputError(source, "'__metadata__' must be an object of strings");
  Metadata metadata;
  for (auto m = value.begin(); m != value.end(); ++m) {
    if (!m.value().is_string())
      throw InputError(source, "'__metadata__' entry '" + m.key() + "' is not a string");
    metadata[m.key()] = m.value().get<std::string>();
  }
  return metadata;
}

// One tensor's header entry, its dtype, shape and offsets checked against the data section.
Entry parse_entry(const std::string& key, const nlohmann::json& value, uint64_t data_start, uint64_t data_size,
                  const std::string& source) {
  auto bad = [&](const std::string& why) { return InputError(source, "tensor '" + key + "': " + why); };
  if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
    throw bad("expected an object with dtype, shape and data_offsets");
  Entry entry{key, torch::kFloat32, {}, 0, 0};
  const auto& dtype = value["dtype"];
  bool known = false;
  if (dtype.is_string())
    for (const auto& d : kDTypes)
      if (dtype.get<std::string>() == d.name) entry.type = d.type, known = true;
  if (!known) throw bad("unsupported dtype " + dtype.dump());
  const auto& shape = value["shape"];
  if (!shape.is_array() || shape.size() > 16) throw bad("shape must be an array of at most 16 sizes");
  uint64_t numel = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > kMaxElements)
      throw bad("shape " + shape.dump() + " holds a negative, non-integer or absurd size");
    const uint64_t size = d.get<uint64_t>();
    if (size != 0 && numel > kMaxElements / size) throw bad("shape " + shape.dump() + " is absurdly large");
    numel *= size;
    entry.shape.push_back(static_cast<int64_t>(size));
  }
  const auto& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    throw bad("data_offsets must be two non-negative integers");
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_size)
    throw bad("data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
              "] lie outside the data section (" + std::to_string(data_size) + " bytes from byte offset " +
              std::to_string(data_start) + "): truncated?");
  const uint64_t expected = numel * torch::elementSize(entry.type);
  if (entry.end - entry.begin != expected)
    throw bad("shape " + shape.dump() + " of " + dtype.get<std::string>() + " needs " + std::to_string(expected) +
              " bytes but data_offsets give " + std::to_string(entry.end - entry.begin));
  return entry;
}

}  // namespace

Metadata read_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot be opened");
  std::string bytes(8, '\0');
  in.read(bytes.data(), 8);
  bytes.resize(size_t(in.gcount()));
  if (bytes.size() == 8) {
    const uint64_t header_len = get_u64le(bytes.data());
    if (header_len <= kMaxHeaderBytes) {
      bytes.resize(8 + header_len);
      in.read(bytes.data() + 8, std::streamsize(header_len));
      bytes.resize(8 + size_t(in.gcount()));
    }
  }
  const auto header = parse_header(bytes, path);  // names a short or absurd header
  return header.contains("__metadata__") ? parse_metadata(header["__metadata__"], path) : Metadata{};
}

SafetensorsData decode_safetensors(const std::string& bytes, const std::string& source) {
  const nlohmann::json header = parse_header(bytes, source);
  const uint64_t data_start = 8 + get_u64le(bytes.data());
  const uint64_t data_size = bytes.size() - data_start;
  SafetensorsData result;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") result.metadata = parse_metadata(it.value(), source);
    else entries.push_back(parse_entry(it.key(), it.value(), data_start, data_size, source));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end)
      throw InputError(source, "tensors '" + entries[i - 1].name + "' and '" + entries[i].name +
                                   "' overlap in the data section");
  }
  for (const auto& e : entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(e.type));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), bytes.data() + data_start + e.begin, e.end - e.begin);
    result.tensors.emplace_back(e.name, std::move(t));
  }
  return result;
}

}  // namespace gex
