#include "io/pickle.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace gex::pickle {

namespace {

using Kind = Value::Kind;

// More objects than a state dict of any network has; bounds memory on a hostile pickle.
constexpr size_t kMaxObjects = size_t(1) << 22;
constexpr int64_t kMaxDims = 64;

// The typed storages a tensor of a state dict is rebuilt from.
constexpr const char* kStorageTypes[] = {"FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage",
                                         "LongStorage",  "IntStorage",    "ShortStorage", "CharStorage",
                                         "ByteStorage",  "BoolStorage"};

// The globals a state dict names (the rebuild functions, ordered dicts, storages, the two tensor types).
bool allowed_global(const std::string& name) {
  static const char* const kAllowed[] = {
      "collections.OrderedDict",          "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_tensor_v2",  "torch._utils._rebuild_parameter",
      "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
      "torch.Tensor",                     "torch.nn.parameter.Parameter",
      "torch.jit._pickle.restore_type_tag"};  // LibTorch's torch::pickle_save tags typed dicts with it
  for (const char* a : kAllowed)
    if (name == a) return true;
  for (const char* s : kStorageTypes)
    if (name == std::string("torch.") + s) return true;
  return false;
}

ValuePtr make(Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

class Unpickler {
 public:
  explicit Unpickler(std::string_view data) : m_data(data) {}

  ValuePtr run() {
    while (true) {
      const size_t at = m_pos;
      const uint8_t op = byte();
      if (op == '.') break;  // STOP
      step(op, at);
      if (m_stack.size() + m_memo.size() > kMaxObjects) fail(at, "more objects than any state dict has");
    }
    if (m_stack.size() != 1 || !m_marks.empty()) fail(m_pos, "the pickle does not end with one object");
    return m_stack.back();
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw PickleError("pickle byte " + std::to_string(at) + ": " + what);
  }

  uint8_t byte() {
    if (m_pos >= m_data.size()) fail(m_pos, "ends before its STOP opcode");
    return static_cast<uint8_t>(m_data[m_pos++]);
  }

  std::string_view take(uint64_t n) {
    if (n > m_data.size() - m_pos) fail(m_pos, "a length of " + std::to_string(n) + " runs past the end");
    const auto out = m_data.substr(m_pos, n);
    m_pos += n;
    return out;
  }

  uint64_t little(int n) {
    const auto bytes = take(n);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(static_cast<uint8_t>(bytes[i])) << (8 * i);
    return v;
  }

  std::string line() {
    const size_t end = m_data.find('\n', m_pos);
    if (end == std::string_view::npos) fail(m_pos, "a GLOBAL without its newline");
    std::string out(m_data.substr(m_pos, end - m_pos));
    m_pos = end + 1;
    return out;
  }

  ValuePtr pop(size_t at) {
    if (m_stack.empty() || (!m_marks.empty() && m_stack.size() <= m_marks.back())) fail(at, "pops an empty stack");
    auto v = std::move(m_stack.back());
    m_stack.pop_back();
    return v;
  }

  ValuePtr& top(size_t at) {
    if (m_stack.empty()) fail(at, "uses an empty stack");
    return m_stack.back();
  }

  std::vector<ValuePtr> pop_to_mark(size_t at) {
    if (m_marks.empty()) fail(at, "no MARK to pop to");
    const size_t mark = m_marks.back();
    m_marks.pop_back();
    std::vector<ValuePtr> out(m_stack.begin() + long(mark), m_stack.end());
    m_stack.resize(mark);
    return out;
  }

  void push(ValuePtr v) { m_stack.push_back(std::move(v)); }

  void push_int(int64_t i) {
    auto v = make(Kind::kInt);
    v->integer = i;
    push(std::move(v));
  }

  void push_text(Kind kind, std::string_view s) {
    auto v = make(kind);
    v->text = std::string(s);
    push(std::move(v));
  }

  void push_tuple(std::vector<ValuePtr> items) {
    auto v = make(Kind::kTuple);
    v->items = std::move(items);
    push(std::move(v));
  }

  void push_global(size_t at, const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!allowed_global(full))
      fail(at, "names the global " + full + ", which a state dict does not need; refused, nothing of the file ran");
    push_text(Kind::kGlobal, full);
  }

  void put(size_t at, uint64_t index) {
    if (index > kMaxObjects) fail(at, "a memo index beyond any state dict's");
    if (m_memo.size() <= index) m_memo.resize(index + 1);
    m_memo[index] = top(at);
  }

  void get(size_t at, uint64_t index) {
    if (index >= m_memo.size() || !m_memo[index]) fail(at, "reads memo " + std::to_string(index) + ", never stored");
    push(m_memo[index]);
  }

  static void set_item(Value& dict, ValuePtr key, ValuePtr value) {
    if (key->is_string())
      for (auto& [k, v] : dict.dict)
        if (k->is_string() && k->text == key->text) {
          v = std::move(value);
          return;
        }
    dict.dict.emplace_back(std::move(key), std::move(value));
  }

  Value& dict_on_top(size_t at) {
    Value& d = *top(at);
    if (d.kind != Kind::kDict) fail(at, "sets an item of " + describe(d));
    return d;
  }

  Value& list_on_top(size_t at) {
    Value& l = *top(at);
    if (l.kind != Kind::kList) fail(at, "appends to " + describe(l));
    return l;
  }

  static int64_t as_int(const Value& v, size_t at, const Unpickler& self, const char* what) {
    if (v.kind != Kind::kInt) self.fail(at, std::string(what) + " is " + describe(v) + ", not an integer");
    return v.integer;
  }

  std::vector<int64_t> int_tuple(const Value& v, size_t at, const char* what) const {
    if (v.kind != Kind::kTuple) fail(at, std::string(what) + " is " + describe(v) + ", not a tuple");
    if (int64_t(v.items.size()) > kMaxDims) fail(at, std::string(what) + " has more dimensions than any tensor");
    std::vector<int64_t> out;
    for (const auto& item : v.items) out.push_back(as_int(*item, at, *this, what));
    return out;
  }

  // torch._utils._rebuild_tensor(_v2)(storage, storage_offset, size, stride, …)
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args, size_t at) const {
    if (args.size() < 4) fail(at, "a tensor rebuilt from fewer than 4 arguments");
    if (args[0]->kind != Kind::kStorage) fail(at, "a tensor rebuilt from " + describe(*args[0]) + ", not a storage");
    auto t = make(Kind::kTensor);
    t->tensor.storage = args[0]->storage;
    t->tensor.offset = as_int(*args[1], at, *this, "a tensor's storage offset");
    t->tensor.size = int_tuple(*args[2], at, "a tensor's size");
    t->tensor.stride = int_tuple(*args[3], at, "a tensor's stride");
    if (t->tensor.size.size() != t->tensor.stride.size()) fail(at, "a tensor's size and stride differ in length");
    return t;
  }

  ValuePtr call(const Value& callable, const std::vector<ValuePtr>& args, size_t at) const {
    if (callable.kind != Kind::kGlobal) fail(at, "calls " + describe(callable));
    const std::string& f = callable.text;
    if (f == "collections.OrderedDict") {
      auto d = make(Kind::kDict);
      if (args.empty()) return d;
      if (args.size() != 1 || (args[0]->kind != Kind::kList && args[0]->kind != Kind::kTuple))
        fail(at, "an OrderedDict built from something other than a list of pairs");
      for (const auto& pair : args[0]->items) {
        if (pair->kind != Kind::kTuple || pair->items.size() != 2) fail(at, "an OrderedDict item that is not a pair");
        set_item(*d, pair->items[0], pair->items[1]);
      }
      return d;
    }
    if (f == "torch._utils._rebuild_tensor" || f == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args, at);
    if (f == "torch._utils._rebuild_parameter" || f == "torch._utils._rebuild_parameter_with_state") {
      if (args.empty() || args[0]->kind != Kind::kTensor) fail(at, "a parameter rebuilt from something other than a tensor");
      return args[0];
    }
    if (f == "torch.jit._pickle.restore_type_tag") {  // (object, "Dict[str, Tensor]"): the object
      if (args.size() != 2 || !args[1]->is_string()) fail(at, "restore_type_tag with unexpected arguments");
      return args[0];
    }
    if (f == "torch._tensor._rebuild_from_type_v2") {
      // (func, type, args, state): a tensor of type torch.Tensor or Parameter, rebuilt by func.
      if (args.size() != 4 || args[1]->kind != Kind::kGlobal || args[2]->kind != Kind::kTuple)
        fail(at, "_rebuild_from_type_v2 with unexpected arguments");
      if (args[1]->text != "torch.Tensor" && args[1]->text != "torch.nn.parameter.Parameter")
        fail(at, "a tensor of type " + args[1]->text);
      return call(*args[0], args[2]->items, at);
    }
    fail(at, "calls " + f + ", which is not a function");
  }

  // ('storage', torch.<T>Storage, key, location, numel): a storage record of the archive.
  ValuePtr persistent_load(const Value& pid, size_t at) {
    if (pid.kind != Kind::kTuple || pid.items.size() != 5 || !pid.items[0]->is_string() ||
        pid.items[0]->text != "storage" || pid.items[1]->kind != Kind::kGlobal || !pid.items[2]->is_string())
      fail(at, "a persistent id that is not a storage (" + describe(pid) + ")");
    const std::string& type = pid.items[1]->text;
    if (type.rfind("torch.", 0) != 0 || type.size() < 13 || type.compare(type.size() - 7, 7, "Storage") != 0)
      fail(at, "a storage of type " + type);
    const std::string& key = pid.items[2]->text;
    const int64_t numel = as_int(*pid.items[4], at, *this, "a storage's size");
    if (numel < 0) fail(at, "a storage of negative size");
    auto& known = m_storages[key];
    if (!known) {
      auto s = std::make_shared<StorageRef>();
      s->key = key;
      s->type = type.substr(6);
      s->numel = numel;
      known = s;
    } else if (known->type != type.substr(6) || known->numel != numel) {
      fail(at, "storage " + key + " is named twice with different types or sizes");
    }
    auto v = make(Kind::kStorage);
    v->storage = known;
    return v;
  }

  void step(uint8_t op, size_t at) {
    switch (op) {
      case 0x80: {  // PROTO
        const int proto = byte();
        if (proto < 2 || proto > 5) fail(at, "pickle protocol " + std::to_string(proto) + " (torch.save writes 2)");
        return;
      }
      case 0x95: take(8); return;  // FRAME: a length hint only
      case '(': m_marks.push_back(m_stack.size()); return;
      case '1': pop_to_mark(at); return;  // POP_MARK
      case '0': pop(at); return;          // POP
      case '2': push(top(at)); return;    // DUP
      case 'N': push(make(Kind::kNone)); return;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        auto v = make(Kind::kBool);
        v->boolean = op == 0x88;
        push(std::move(v));
        return;
      }
      case 'J': push_int(int32_t(uint32_t(little(4)))); return;  // BININT
      case 'K': push_int(int64_t(little(1))); return;            // BININT1
      case 'M': push_int(int64_t(little(2))); return;            // BININT2
      case 0x8a: {                                               // LONG1
        const int n = byte();
        if (n > 8) fail(at, "an integer of " + std::to_string(n) + " bytes");
        uint64_t v = n ? little(n) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
        push_int(int64_t(v));
        return;
      }
      case 'G': {  // BINFLOAT, big-endian
        const auto b = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(b[i]);
        auto v = make(Kind::kFloat);
        std::memcpy(&v->real, &bits, 8);
        push(std::move(v));
        return;
      }
      case 'X': push_text(Kind::kString, take(little(4))); return;    // BINUNICODE
      case 0x8c: push_text(Kind::kString, take(byte())); return;      // SHORT_BINUNICODE
      case 0x8d: push_text(Kind::kString, take(little(8))); return;   // BINUNICODE8
      case 'T': push_text(Kind::kString, take(little(4))); return;    // BINSTRING (Python 2)
      case 'U': push_text(Kind::kString, take(byte())); return;       // SHORT_BINSTRING
      case 'B': push_text(Kind::kBytes, take(little(4))); return;     // BINBYTES
      case 'C': push_text(Kind::kBytes, take(byte())); return;        // SHORT_BINBYTES
      case 0x8e: push_text(Kind::kBytes, take(little(8))); return;    // BINBYTES8
      case '}': push(make(Kind::kDict)); return;
      case ']': push(make(Kind::kList)); return;
      case ')': push_tuple({}); return;
      case 't': push_tuple(pop_to_mark(at)); return;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        std::vector<ValuePtr> items(size_t(op - 0x84));
        for (size_t i = items.size(); i-- > 0;) items[i] = pop(at);
        push_tuple(std::move(items));
        return;
      }
      case 'l': {  // LIST
        auto v = make(Kind::kList);
        v->items = pop_to_mark(at);
        push(std::move(v));
        return;
      }
      case 'd': {  // DICT
        auto items = pop_to_mark(at);
        if (items.size() % 2) fail(at, "a dict with an odd number of items");
        auto v = make(Kind::kDict);
        for (size_t i = 0; i < items.size(); i += 2) set_item(*v, items[i], items[i + 1]);
        push(std::move(v));
        return;
      }
      case 'a': {  // APPEND
        auto v = pop(at);
        list_on_top(at).items.push_back(std::move(v));
        return;
      }
      case 'e': {  // APPENDS
        auto items = pop_to_mark(at);
        auto& list = list_on_top(at).items;
        list.insert(list.end(), items.begin(), items.end());
        return;
      }
      case 's': {  // SETITEM
        auto value = pop(at);
        auto key = pop(at);
        set_item(dict_on_top(at), std::move(key), std::move(value));
        return;
      }
      case 'u': {  // SETITEMS
        auto items = pop_to_mark(at);
        if (items.size() % 2) fail(at, "SETITEMS with an odd number of items");
        Value& d = dict_on_top(at);
        for (size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1]);
        return;
      }
      case 'q': put(at, little(1)); return;  // BINPUT
      case 'r': put(at, little(4)); return;  // LONG_BINPUT
      case 0x94: put(at, m_memo.size()); return;  // MEMOIZE
      case 'h': get(at, little(1)); return;  // BINGET
      case 'j': get(at, little(4)); return;  // LONG_BINGET
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = line();
        const std::string name = line();
        push_global(at, module, name);
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop(at);
        auto module = pop(at);
        if (!module->is_string() || !name->is_string()) fail(at, "STACK_GLOBAL of something other than two strings");
        push_global(at, module->text, name->text);
        return;
      }
      case 'R': {  // REDUCE
        auto args = pop(at);
        auto callable = pop(at);
        if (args->kind != Kind::kTuple) fail(at, "REDUCE with arguments that are not a tuple");
        push(call(*callable, args->items, at));
        return;
      }
      case 'b': {  // BUILD: an OrderedDict's attributes (`_metadata`), or an empty tensor state
        auto state = pop(at);
        const Value& object = *top(at);
        const bool dict_attrs = object.kind == Kind::kDict && (state->kind == Kind::kDict || state->kind == Kind::kNone);
        const bool empty_tensor_state = object.kind == Kind::kTensor &&
                                        (state->kind == Kind::kNone || (state->kind == Kind::kDict && state->dict.empty()));
        if (!dict_attrs && !empty_tensor_state) fail(at, "sets the state of " + describe(object));
        return;
      }
      case 'Q': {  // BINPERSID
        auto pid = pop(at);
        push(persistent_load(*pid, at));
        return;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(at, std::string("opcode ") + hex + ", which a state dict does not use");
      }
    }
  }

  std::string_view m_data;
  size_t m_pos = 0;
  std::vector<ValuePtr> m_stack;
  std::vector<size_t> m_marks;
  std::vector<ValuePtr> m_memo;
  std::map<std::string, std::shared_ptr<StorageRef>> m_storages;
};

}  // namespace

ValuePtr unpickle(std::string_view bytes) { return Unpickler(bytes).run(); }

std::string describe(const Value& v) {
  switch (v.kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "a bool";
    case Kind::kInt: return "an integer";
    case Kind::kFloat: return "a float";
    case Kind::kString: return "a string";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "a tuple";
    case Kind::kList: return "a list";
    case Kind::kDict: return "a dict";
    case Kind::kTensor: return "a tensor";
    case Kind::kStorage: return "a storage";
    case Kind::kGlobal: return "the global " + v.text;
    case Kind::kMark: return "a mark";
  }
  return "an object";
}

}  // namespace gex::pickle
