// gex import's engine: torch.save archives read without Python (and hostile ones refused), names
// mapped, the stride of a bottleneck where the source put it, and the imported forward equal to
// the source's (torchvision's output, committed by tests/data/import/make_fixtures.py).
#include <gtest/gtest.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <filesystem>
#include <fstream>

#include "errors.h"
#include "io/npy.h"
#include "io/torch_save.h"
#include "seeded.h"
#include "temp_dir.h"
#include "train/import_weights.h"

namespace gex {
namespace {

using test::TempDir;

std::string fixture(const std::string& name) { return std::string(GEX_TEST_DATA) + "/import/" + name; }

std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

// A torch.save file written by LibTorch's own pickler (torch::pickle_save: "compatible with
// Python's torch.save").
void save_with_libtorch(const std::string& path, const TensorList& tensors, const std::string& under = "") {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, t] : tensors) dict.insert(name, t);
  c10::IValue top = dict;
  if (!under.empty()) {
    c10::impl::GenericDict outer(c10::StringType::get(), c10::AnyType::get());
    outer.insert(under, dict);
    outer.insert("epoch", int64_t{90});
    top = outer;
  }
  const std::vector<char> bytes = torch::pickle_save(top);
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A string literal's bytes, NULs included.
template <size_t N>
std::string raw(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// A zip archive as torch.save writes it, with a hand-written data.pkl.
void save_pickle(const std::string& path, const std::string& pickle) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  writer.writeEndOfFile();
}

ModelSpec spec_of(const std::string& backbone, AttentionKind attention = AttentionKind::kNone) {
  ModelSpec spec;
  spec.backbone = backbone;
  spec.attention = attention;
  spec.variant = GEVariant::kThetaPlus;
  spec.num_classes = 1000;
  spec.input_size = 64;
  return spec;
}

torch::Tensor logits(NetworkImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  net.eval();
  return net.forward(x);
}

double max_relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs() / (b.abs() + 1.0)).max().item<double>();
}

class TorchSave : public test::Seeded {};

TEST_F(TorchSave, ReadsWhatLibTorchsPicklerWritesBitForBit) {
  TempDir dir;
  auto net = build_network(spec_of("resnet18"));
  test::randomize(*net);
  TensorList state = model_state(*net);
  state.emplace_back("strided", torch::arange(24, torch::kFloat32).reshape({4, 6}).t());  // a non-contiguous view
  save_with_libtorch(dir.file("flat.pt"), state);
  save_with_libtorch(dir.file("nested.pt"), state, "state_dict");
  for (const char* file : {"flat.pt", "nested.pt"}) {
    const TensorList read = read_torch_save(dir.file(file));
    ASSERT_EQ(read.size(), state.size()) << file;
    std::map<std::string, torch::Tensor> byName(read.begin(), read.end());
    for (const auto& [name, t] : state) {
      ASSERT_TRUE(byName.count(name)) << name;
      EXPECT_EQ(byName[name].scalar_type(), t.scalar_type()) << name;
      EXPECT_TRUE(torch::equal(byName[name], t)) << name;
    }
  }
}

TEST_F(TorchSave, ReadsPythonsTorchSaveOfATorchvisionStateDict) {
  // An OrderedDict with _metadata (a BUILD), overlapping strided views of shared storages.
  const TensorList read = read_torch_save(fixture("resnet18-torchvision.pth"));
  ASSERT_EQ(read.size(), 122u);  // torchvision's resnet18().state_dict(): 62 parameters, 60 BN buffers
  EXPECT_EQ(read.front().first, "conv1.weight");
  EXPECT_EQ(read.back().first, "fc.bias");
  EXPECT_EQ(read.front().second.sizes(), torch::IntArrayRef({64, 3, 7, 7}));
}

TEST_F(TorchSave, RefusesAHostilePickleWithoutRunningIt) {
  const std::string marker = "/tmp/gex-hostile-pickle-ran";
  std::filesystem::remove(marker);
  const std::string message = refusal([&] { read_torch_save(fixture("hostile.pth")); });
  EXPECT_NE(message.find("posix.system"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(marker));

  TempDir dir;
  // builtins.eval named by GLOBAL and builtins.exec by STACK_GLOBAL: refused at the name, before any call.
  save_pickle(dir.file("eval.pt"), raw("\x80\x02" "cbuiltins\neval\n" "q\x00" "X\x03\x00\x00\x00" "1+1" "\x85R."));
  EXPECT_NE(refusal([&] { read_torch_save(dir.file("eval.pt")); }).find("builtins.eval"), std::string::npos);
  save_pickle(dir.file("stack.pt"), raw("\x80\x04" "\x8c\x08" "builtins" "\x8c\x04" "exec" "\x93)R."));
  EXPECT_NE(refusal([&] { read_torch_save(dir.file("stack.pt")); }).find("builtins.exec"), std::string::npos);
  // An allowed name used as something it is not.
  save_pickle(dir.file("call-storage.pt"), raw("\x80\x02" "ctorch\nFloatStorage\n" ")R."));
  EXPECT_NE(refusal([&] { read_torch_save(dir.file("call-storage.pt")); }).find("not a function"), std::string::npos);
  // An opcode a state dict never uses (INST).
  save_pickle(dir.file("inst.pt"), raw("\x80\x02" "(ios\nsystem\n."));
  EXPECT_NE(refusal([&] { read_torch_save(dir.file("inst.pt")); }).find("opcode 0x69"), std::string::npos);
}

TEST_F(TorchSave, RefusesLegacyDamagedAndOutOfBoundsFiles) {
  const std::string legacy = refusal([&] { read_torch_save(fixture("legacy.pth")); });
  EXPECT_NE(legacy.find("legacy format"), std::string::npos) << legacy;
  EXPECT_NE(legacy.find("torch.save(torch.load("), std::string::npos) << legacy;

  TempDir dir;
  std::ifstream in(fixture("resnet18-torchvision.pth"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = dir.write("truncated.pth", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(refusal([&] { read_torch_save(truncated); }).find("truncated.pth"), std::string::npos);
  EXPECT_NE(refusal([&] { read_torch_save(dir.write("text.pth", "hello")); }).find("neither"), std::string::npos);

  // A view that reaches past its storage: 4 floats stored, a 2×3 view with strides (3, 1) asked for.
  const std::string pickle = raw(
      "\x80\x02" "}" "X\x01\x00\x00\x00" "w" "ctorch._utils\n_rebuild_tensor_v2\n" "("
      "(" "X\x07\x00\x00\x00" "storage" "ctorch\nFloatStorage\n" "X\x01\x00\x00\x00" "0" "X\x03\x00\x00\x00" "cpu"
      "K\x04" "tQ" "K\x00" "K\x02K\x03\x86" "K\x03K\x01\x86" "\x89" "}" "tRs.");
  caffe2::serialize::PyTorchStreamWriter writer(dir.file("oob.pt"));
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  const float four[4] = {1, 2, 3, 4};
  writer.writeRecord("data/0", four, sizeof four);
  writer.writeEndOfFile();
  const std::string oob = refusal([&] { read_torch_save(dir.file("oob.pt")); });
  EXPECT_NE(oob.find("runs past its storage"), std::string::npos) << oob;
  // Numbers chosen to overflow a careless bounds check: an offset of 2^62, and 2^33 elements of
  // one float repeated by a zero stride.
  const auto view = [&](const std::string& name, const std::string& offset, const std::string& size,
                        const std::string& stride) {
    const std::string p = raw("\x80\x02" "}" "X\x01\x00\x00\x00" "w" "ctorch._utils\n_rebuild_tensor_v2\n" "("
                              "(" "X\x07\x00\x00\x00" "storage" "ctorch\nFloatStorage\n" "X\x01\x00\x00\x00" "0"
                              "X\x03\x00\x00\x00" "cpu" "K\x04" "tQ") +
                          offset + size + stride + raw("\x89" "}" "tRs.");
    caffe2::serialize::PyTorchStreamWriter w(dir.file(name));
    w.writeRecord("data.pkl", p.data(), p.size());
    w.writeRecord("data/0", four, sizeof four);
    w.writeEndOfFile();
    return refusal([&] { read_torch_save(dir.file(name)); });
  };
  const std::string huge = raw("\x8a\x08" "\x00\x00\x00\x00\x00\x00\x00\x40");  // LONG1: 2^62
  const std::string big = raw("\x8a\x08" "\x00\x00\x00\x00\x02\x00\x00\x00");   // 2^33
  EXPECT_NE(view("offset.pt", huge, raw("K\x01\x85"), raw("K\x01\x85")).find("offset beyond"), std::string::npos);
  EXPECT_NE(view("repeat.pt", raw("K\x00"), big + raw("\x85"), raw("K\x00\x85")).find("2^32 elements"),
            std::string::npos);
  EXPECT_NE(view("stride.pt", raw("K\x00"), raw("K\x02\x85"), big + raw("\x85")).find("runs past its storage"),
            std::string::npos);
}

class Import : public test::Seeded {};

TEST_F(Import, TorchvisionResNet18ForwardEqualsTorchvisions) {
  ImportOptions options;
  options.from = fixture("resnet18-torchvision.pth");
  options.model = spec_of("resnet18");
  options.input_size = 64;
  const ImportedModel imported = import_weights(options);
  EXPECT_EQ(imported.report.loaded.size(), 122u);
  EXPECT_TRUE(imported.report.initialised.empty());
  EXPECT_FALSE(imported.report.reinitialised_head);
  const auto x = read_npy(fixture("input.npy"));
  const auto expected = read_npy(fixture("resnet18-logits.npy"));
  EXPECT_LT(max_relative_error(logits(*imported.net, x), expected), 1e-4);
  EXPECT_EQ(imported.info.preprocess.class_names.size(), 1000u);
  EXPECT_EQ(imported.info.preprocess.class_names.front(), "tench");
  EXPECT_EQ(imported.info.preprocess.class_names.back(), "toilet tissue");
  EXPECT_EQ(imported.info.preprocess.mean, (std::vector<double>{0.485, 0.456, 0.406}));
}

TEST_F(Import, TorchvisionResNet50StridesOnItsThreeByThree) {
  ImportOptions options;
  options.from = fixture("resnet50-torchvision.pth");
  options.model = spec_of("resnet50");
  options.input_size = 64;
  const ImportedModel imported = import_weights(options);
  EXPECT_EQ(imported.info.model.stride_on, StrideOn::k3x3);
  const auto x = read_npy(fixture("input.npy"));
  const auto expected = read_npy(fixture("resnet50-logits.npy"));
  EXPECT_LT(max_relative_error(logits(*imported.net, x), expected), 1e-4);
  // The trap: the same tensors on the paper's layout load without complaint and compute something else.
  options.stride_on = StrideOn::k1x1;
  const ImportedModel paper = import_weights(options);
  EXPECT_GT(max_relative_error(logits(*paper.net, x), expected), 1e-2);
  // Recorded in the checkpoint, and read back.
  TempDir dir;
  save_checkpoint(dir.file("r50.safetensors"), *imported.net, imported.info);
  Checkpoint back = load_checkpoint(dir.file("r50.safetensors"));
  EXPECT_EQ(back.info.model.stride_on, StrideOn::k3x3);
  EXPECT_LT(max_relative_error(logits(*back.net, x), expected), 1e-4);
}

TEST_F(Import, AddingGEKeepsEveryBackboneTensorAndANewHeadIsReported) {
  ImportOptions options;
  options.from = fixture("resnet18-torchvision.pth");
  options.model = spec_of("resnet18", AttentionKind::kGE);
  options.model.extent = 4;
  options.attention_given = true;
  options.classes = 10;
  const ImportedModel imported = import_weights(options);
  EXPECT_TRUE(imported.report.reinitialised_head);
  EXPECT_EQ(imported.report.ignored, (std::vector<std::string>{"fc.bias", "fc.weight"}));
  for (const auto& name : imported.report.initialised)
    EXPECT_TRUE(name.find(".attn.") != std::string::npos || name.rfind("fc.", 0) == 0) << name;
  EXPECT_EQ(imported.report.loaded.size(), 120u);
  const TensorList file = read_torch_save(options.from);
  std::map<std::string, torch::Tensor> ours;
  for (const auto& [name, t] : model_state(*imported.net)) ours[name] = t;
  for (const auto& [name, t] : file) {
    if (name.rfind("fc.", 0) == 0) continue;
    ASSERT_TRUE(ours.count(name)) << name;
    EXPECT_TRUE(torch::equal(ours[name], t)) << name << " changed";
  }
  EXPECT_EQ(ours["fc.weight"].size(0), 10);
}

TEST_F(Import, TimmSEAndDDPNamesMapAndSEIsInferred) {
  TempDir dir;
  ModelSpec spec = spec_of("resnet50", AttentionKind::kSE);
  spec.stride_on = StrideOn::k3x3;
  auto net = build_network(spec);
  test::randomize(*net);
  TensorList renamed;
  for (auto [name, t] : model_state(*net)) {
    const auto at = name.find(".attn.");
    if (at != std::string::npos) name.replace(at, 6, ".se.");
    renamed.emplace_back("module." + name, t);
  }
  save_with_libtorch(dir.file("seresnet50.pth"), renamed, "model");
  ImportOptions options;
  options.from = dir.file("seresnet50.pth");
  options.model = spec_of("resnet50");
  options.input_size = 64;
  const ImportedModel imported = import_weights(options);
  EXPECT_EQ(imported.info.model.attention, AttentionKind::kSE);
  EXPECT_TRUE(imported.report.initialised.empty());
  const auto x = torch::randn({2, 3, 64, 64});
  EXPECT_TRUE(torch::equal(logits(*imported.net, x), logits(*net, x)));
}

TEST_F(Import, ListsMissingUnexpectedAndMisshapedTensors) {
  TempDir dir;
  auto net = build_network(spec_of("resnet18"));
  TensorList state;
  for (auto [name, t] : model_state(*net)) {
    if (name == "layer4.1.conv2.weight") continue;
    if (name == "bn1.weight") t = torch::ones({32});
    state.emplace_back(name, t);
  }
  state.emplace_back("extra.weight", torch::ones({3}));
  save_with_libtorch(dir.file("bad.pth"), state);
  ImportOptions options;
  options.from = dir.file("bad.pth");
  options.model = spec_of("resnet18");
  const std::string message = refusal([&] { import_weights(options); });
  EXPECT_NE(message.find("1 missing: layer4.1.conv2.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("1 unexpected: extra.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("1 mis-shaped: bn1.weight [32]"), std::string::npos) << message;
  // Another backbone's weights: listed, not loaded.
  options.model = spec_of("resnet34");
  EXPECT_NE(refusal([&] { import_weights(options); }).find("missing: layer1.2."), std::string::npos);
  // Class names that do not fit the head.
  options.from = fixture("resnet18-torchvision.pth");
  options.model = spec_of("resnet18");
  options.class_names_file = dir.write("names.txt", "cat\ndog\n");
  EXPECT_NE(refusal([&] { import_weights(options); }).find("has 2 class names; the head has 1000"), std::string::npos);
}

// A state dict halved tensor by tensor (`{k: v.half() for k, v in sd.items()}`, to halve the file)
// halves BatchNorm's batch counters too: they are counters, not weights, and load as the rest does.
// (It was refused: "20 mis-shaped: bn1.num_batches_tracked [] Half (expected [] Long)".)
TEST_F(Import, AStateDictHalvedTensorByTensorLoadsAsItsFloatWeightsRounded) {
  TempDir dir;
  const TensorList file = read_torch_save(fixture("resnet18-torchvision.pth"));
  TensorList halved;
  for (const auto& [name, t] : file) halved.emplace_back(name, t.to(torch::kHalf));
  save_with_libtorch(dir.file("half.pth"), halved);
  ImportOptions options;
  options.from = dir.file("half.pth");
  options.model = spec_of("resnet18");
  options.input_size = 64;
  const ImportedModel imported = import_weights(options);
  EXPECT_EQ(imported.report.loaded.size(), 122u);
  // The float file's weights rounded to half by hand: the same network.
  options.from = fixture("resnet18-torchvision.pth");
  const ImportedModel rounded = import_weights(options);
  {
    torch::NoGradGuard no_grad;
    for (auto& t : model_state(*rounded.net))
      if (t.second.is_floating_point()) t.second.copy_(t.second.to(torch::kHalf));
  }
  const auto x = read_npy(fixture("input.npy"));
  EXPECT_TRUE(torch::equal(logits(*imported.net, x), logits(*rounded.net, x)));
  std::map<std::string, torch::Tensor> ours;
  for (const auto& [name, t] : model_state(*imported.net)) ours[name] = t;
  for (const auto& [name, t] : file)
    if (name.find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(ours.at(name).scalar_type(), torch::kLong) << name;
      EXPECT_EQ(ours.at(name).item<int64_t>(), t.item<int64_t>()) << name;
    }
}

TEST(StrideOn, OldSpecsReadAsTheFirstOneByOne) {
  const auto spec = ModelSpec::from_json(R"({"backbone":"resnet50","attention":"none"})", "old");
  EXPECT_EQ(spec.stride_on, StrideOn::k1x1);
  ModelSpec wrong;
  wrong.backbone = "resnet18";
  wrong.stride_on = StrideOn::k3x3;
  ASSERT_TRUE(wrong.problem().has_value());
  EXPECT_NE(wrong.problem()->find("bottleneck"), std::string::npos);
  ModelSpec v15 = spec_of("resnet101");
  v15.stride_on = StrideOn::k3x3;
  EXPECT_EQ(ModelSpec::from_json(v15.to_json(), "round trip"), v15);
}

}  // namespace
}  // namespace gex
