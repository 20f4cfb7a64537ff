// A restricted unpickler for the `data.pkl` of a torch.save archive. It knows the opcodes of
// pickle protocols 2–5 that a state dict uses and the globals such a dict names (ordered dicts,
// typed storages, the tensor rebuild functions, the type tag LibTorch's own pickler adds: the allow-list of Python's
// `torch.load(weights_only=True)` cut to state dicts). Nothing in the pickle is ever run: a global
// beyond the allow-list is refused by name the moment the pickle names it, so a hostile file gets
// no further than its first unknown name. No Torch here: tensors come back as references to
// storages that the caller materialises.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gex::pickle {

// Why a pickle was refused (the caller adds the file's name).
class PickleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A storage of the archive: its record `data/<key>`, its element type as torch names the typed
// storage ("FloatStorage", …) and its number of elements.
struct StorageRef {
  std::string key;
  std::string type;
  int64_t numel = 0;
};

// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage.
struct TensorRef {
  std::shared_ptr<const StorageRef> storage;
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTuple, kList, kDict, kTensor, kStorage, kGlobal, kMark };
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;                                // kString, kBytes; kGlobal: "module.name"
  std::vector<ValuePtr> items;                     // kTuple, kList
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;  // kDict, in insertion order
  TensorRef tensor;                                // kTensor
  std::shared_ptr<const StorageRef> storage;       // kStorage

  bool is_string() const { return kind == Kind::kString; }
};

// The object the pickle builds. PickleError on a malformed pickle, an opcode a state dict does not
// use, or a global beyond the allow-list (named in the message).
ValuePtr unpickle(std::string_view bytes);

// "a dict", "a tensor", "the global collections.Counter": for messages.
std::string describe(const Value& value);

}  // namespace gex::pickle
