#include "io/torch_save.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <map>

#include "errors.h"
#include "io/pickle.h"

namespace gex {

namespace {

using pickle::Value;
using Kind = Value::Kind;

std::string first_bytes(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(n, '\0');
  in.read(bytes.data(), std::streamsize(n));
  bytes.resize(size_t(in.gcount()));
  return bytes;
}

torch::ScalarType storage_dtype(const std::string& type, const std::string& path) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64}, {"HalfStorage", torch::kFloat16},
      {"BFloat16Storage", torch::kBFloat16}, {"LongStorage", torch::kInt64}, {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},      {"ByteStorage", torch::kUInt8},
      {"BoolStorage", torch::kBool}};
  const auto it = kTypes.find(type);
  if (it == kTypes.end()) throw InputError(path, "a storage of type " + type + ", which is not read");
  return it->second;
}

class Materialiser {
 public:
  Materialiser(caffe2::serialize::PyTorchStreamReader& archive, const std::string& path)
      : m_archive(archive), m_path(path) {}

  torch::Tensor tensor(const pickle::TensorRef& ref, const std::string& name) {
    const torch::Tensor storage = load(*ref.storage);
    // The view must lie inside its storage: as_strided would read past it otherwise. Sizes and
    // strides are bounded first, so that no sum below can overflow.
    constexpr int64_t kLimit = int64_t(1) << 40;
    bool empty = false;
    for (size_t d = 0; d < ref.size.size(); ++d) {
      if (ref.size[d] < 0 || ref.stride[d] < 0) throw InputError(m_path, name + ": a negative size or stride");
      if (ref.size[d] > kLimit || ref.stride[d] > kLimit)
        throw InputError(m_path, name + ": a size or stride beyond any tensor's");
      empty = empty || ref.size[d] == 0;
    }
    // Views may repeat storage elements (stride 0), so their element count is bounded on its own.
    double numel = 1;
    for (const int64_t size : ref.size) numel *= double(size);
    if (numel > double(int64_t(1) << 32))
      throw InputError(m_path, name + ": more than 2^32 elements, beyond any network this reads");
    if (ref.offset < 0 || ref.offset > kLimit) throw InputError(m_path, name + ": a storage offset beyond any tensor's");
    const auto past = [&] {
      return InputError(m_path, name + ": its view runs past its storage (" + std::to_string(storage.numel()) +
                                    " elements)");
    };
    if (!empty) {
      // The last element's index: offset + Σ (size − 1)·stride, each term checked against the storage.
      int64_t last = ref.offset;
      if (last >= storage.numel()) throw past();
      for (size_t d = 0; d < ref.size.size(); ++d) {
        const double reach = double(ref.size[d] - 1) * double(ref.stride[d]);
        if (reach >= double(storage.numel())) throw past();
        last += int64_t(reach);
        if (last >= storage.numel()) throw past();
      }
    }
    if (empty) return torch::empty(ref.size, storage.options());
    return storage.as_strided(ref.size, ref.stride, ref.offset).clone(at::MemoryFormat::Contiguous);
  }

 private:
  torch::Tensor load(const pickle::StorageRef& s) {
    auto& cached = m_storages[s.key];
    if (cached.defined()) return cached;
    const std::string record = "data/" + s.key;
    if (!m_archive.hasRecord(record)) throw InputError(m_path, "the archive has no record " + record);
    const auto dtype = storage_dtype(s.type, m_path);
    at::DataPtr data;
    size_t bytes = 0;
    std::tie(data, bytes) = m_archive.getRecord(record);
    const size_t element = c10::elementSize(dtype);
    if (uint64_t(s.numel) > bytes / element)
      throw InputError(m_path, "record " + record + " holds " + std::to_string(bytes) + " bytes, not the " +
                                   std::to_string(s.numel) + " elements its storage says");
    cached = torch::empty({s.numel}, torch::TensorOptions().dtype(dtype));
    if (s.numel > 0) std::memcpy(cached.data_ptr(), data.get(), size_t(s.numel) * element);
    return cached;
  }

  caffe2::serialize::PyTorchStreamReader& m_archive;
  const std::string& m_path;
  std::map<std::string, torch::Tensor> m_storages;
};

bool all_tensors(const Value& dict) {
  if (dict.kind != Kind::kDict || dict.dict.empty()) return false;
  for (const auto& [k, v] : dict.dict)
    if (!k->is_string() || v->kind != Kind::kTensor) return false;
  return true;
}

// The state dict: the top object, or its "state_dict" or "model" entry.
const Value& find_state_dict(const Value& top, const std::string& path) {
  if (all_tensors(top)) return top;
  if (top.kind == Kind::kDict) {
    for (const char* key : {"state_dict", "model"})
      for (const auto& [k, v] : top.dict)
        if (k->is_string() && k->text == key && all_tensors(*v)) return *v;
    std::string keys;
    for (const auto& [k, v] : top.dict)
      if (keys.size() < 200) keys += (keys.empty() ? "" : ", ") + (k->is_string() ? k->text : pickle::describe(*k));
    throw InputError(path, "holds a dict (" + keys + ") that is not a state dict of tensors and has none under "
                           "'state_dict' or 'model'");
  }
  throw InputError(path, "holds " + pickle::describe(top) + ", not a state dict");
}

}  // namespace

bool looks_like_zip(const std::string& path) { return first_bytes(path, 4) == std::string("PK\x03\x04", 4); }

namespace {
// The legacy format (PyTorch < 1.6) starts with a pickled magic number.
const std::string kLegacyMagic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14);
}  // namespace

bool looks_like_torch_save(const std::string& path) {
  return looks_like_zip(path) || first_bytes(path, kLegacyMagic.size()) == kLegacyMagic;
}

TensorList read_torch_save(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw InputError(path, "cannot be opened");
  const std::string head = first_bytes(path, kLegacyMagic.size());
  if (head == kLegacyMagic)
    throw InputError(path, "is in PyTorch's legacy format (before 1.6), which is not read; re-save it with PyTorch 1.6 "
                           "or newer: python3 -c \"import torch; torch.save(torch.load('" + path +
                           "', weights_only=True), 'resaved.pth')\"");
  if (!looks_like_zip(path)) throw InputError(path, "is neither a torch.save archive (zip) nor a safetensors file");
  try {
    caffe2::serialize::PyTorchStreamReader archive(path);
    bool torchscript = false;
    for (const auto& record : archive.getAllRecords())
      torchscript = torchscript || record == "constants.pkl" || record.rfind("code/", 0) == 0;
    if (torchscript)
      throw InputError(path, "is a TorchScript archive (torch.jit.save), not a state dict; save "
                             "model.state_dict() with torch.save or safetensors");
    if (!archive.hasRecord("data.pkl")) throw InputError(path, "is a zip archive without data.pkl: not a torch.save file");
    if (archive.hasRecord("byteorder")) {
      auto [data, size] = archive.getRecord("byteorder");
      if (std::string(static_cast<const char*>(data.get()), size) != "little")
        throw InputError(path, "was written big-endian, which is not read");
    }
    auto [data, size] = archive.getRecord("data.pkl");
    pickle::ValuePtr top;
    try {
      top = pickle::unpickle(std::string_view(static_cast<const char*>(data.get()), size));
    } catch (const pickle::PickleError& e) {
      std::string message = std::string("data.pkl refused: ") + e.what();
      if (message.find("names the global") != std::string::npos)  // e.g. a training checkpoint's argparse.Namespace
        message += ". If you trust the file, keep only its weights: python3 -c \"import torch; c = torch.load('" +
                   path + "', weights_only=False); torch.save(c.get('state_dict', c), 'weights.pth')\"";
      throw InputError(path, message);
    }
    const Value& dict = find_state_dict(*top, path);
    Materialiser materialise(archive, path);
    TensorList out;
    for (const auto& [k, v] : dict.dict) out.emplace_back(k->text, materialise.tensor(v->tensor, k->text));
    return out;
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw InputError(path, std::string("is a damaged torch.save archive: ") + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw InputError(path, "declares a record larger than memory: a damaged archive");
  }
}

}  // namespace gex
