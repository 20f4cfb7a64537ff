// Checkpoints: a bitwise round trip through the file, and a loud refusal of every mismatch.
#include <gtest/gtest.h>

#include <filesystem>

#include "errors.h"
#include "seeded.h"
#include "temp_dir.h"
#include "io/atomic_file.h"
#include "train/checkpoint.h"

namespace gex {
namespace {

using test::TempDir;

ModelSpec ge_plus_spec() {
  ModelSpec spec;
  spec.attention = AttentionKind::kGE;
  spec.variant = GEVariant::kThetaPlus;
  spec.in_channels = 1;
  spec.input_size = 28;
  return spec;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

class Checkpoints : public test::Seeded {};

TEST_F(Checkpoints, RoundTripIsBitwiseAndGivesTheSameLogits) {
  TempDir dir;
  auto net = build_network(ge_plus_spec());
  test::randomize(*net);
  net->eval();
  CheckpointInfo info;
  info.model = net->spec();
  info.preprocess = Preprocess::identity(1, 28, 10);
  info.preprocess.mean = {0.2860};
  info.preprocess.std = {0.3530};
  info.preprocess.class_names[0] = "T-shirt/top";
  info.epoch = 3;
  info.step = 1407;
  const auto path = dir.file("model.safetensors");
  save_checkpoint(path, *net, info, {{"layer1.0.conv1.weight.momentum_buffer", torch::ones({2, 2})}});

  auto loaded = load_checkpoint(path);
  EXPECT_EQ(loaded.info.model, info.model);
  EXPECT_EQ(loaded.info.epoch, 3);
  EXPECT_EQ(loaded.info.step, 1407);
  EXPECT_EQ(loaded.info.preprocess.class_names[0], "T-shirt/top");
  EXPECT_DOUBLE_EQ(loaded.info.preprocess.std[0], 0.3530);
  ASSERT_EQ(loaded.extra.size(), 1u);
  EXPECT_EQ(loaded.extra[0].first, "layer1.0.conv1.weight.momentum_buffer");

  const auto a = model_state(*net), b = model_state(*loaded.net);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  torch::NoGradGuard no_grad;
  auto x = torch::randn({4, 1, 28, 28});
  EXPECT_TRUE(torch::equal(net->forward(x), loaded.net->forward(x)));
  EXPECT_EQ(dir.count(), 1u);
}

// Re-encodes a checkpoint after `edit` changes its tensors or metadata.
std::string edited(const std::string& path, const std::function<void(SafetensorsData&)>& edit) {
  auto data = read_safetensors(path);
  edit(data);
  return encode_safetensors(data.tensors, data.metadata);
}

// A freshly initialised GE-θ⁺ network's checkpoint, dir/good.safetensors.
std::string saved_ge_plus(const TempDir& dir) {
  auto net = build_network(ge_plus_spec());
  CheckpointInfo info;
  info.model = net->spec();
  info.preprocess = Preprocess::identity(1, 28, 10);
  const auto good = dir.file("good.safetensors");
  save_checkpoint(good, *net, info);
  return good;
}

TEST_F(Checkpoints, MismatchesAreRefusedNamingTheKey) {
  TempDir dir;
  const auto good = saved_ge_plus(dir);

  auto drop = edited(good, [](SafetensorsData& d) {
    d.tensors.erase(std::find_if(d.tensors.begin(), d.tensors.end(),
                                 [](auto& p) { return p.first == "layer2.1.attn.mlp.fc1.weight"; }));
  });
  auto msg = message_of([&] { load_checkpoint(dir.write("missing.safetensors", drop)); });
  EXPECT_NE(msg.find("missing.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing tensor 'layer2.1.attn.mlp.fc1.weight'"), std::string::npos) << msg;

  auto extra = edited(good, [](SafetensorsData& d) { d.tensors.emplace_back("layer9.0.conv1.weight", torch::ones({1})); });
  msg = message_of([&] { load_checkpoint(dir.write("extra.safetensors", extra)); });
  EXPECT_NE(msg.find("unexpected tensor 'layer9.0.conv1.weight'"), std::string::npos) << msg;

  auto shape = edited(good, [](SafetensorsData& d) {
    for (auto& [k, t] : d.tensors)
      if (k == "fc.weight") t = torch::zeros({11, 64});
  });
  msg = message_of([&] { load_checkpoint(dir.write("shape.safetensors", shape)); });
  EXPECT_NE(msg.find("tensor 'fc.weight' has shape [11, 64] but the model expects [10, 64]"), std::string::npos) << msg;

  auto dtype = edited(good, [](SafetensorsData& d) {
    for (auto& [k, t] : d.tensors)
      if (k == "fc.bias") t = t.to(torch::kInt32);
  });
  msg = message_of([&] { load_checkpoint(dir.write("dtype.safetensors", dtype)); });
  EXPECT_NE(msg.find("'fc.bias' has dtype"), std::string::npos) << msg;

  auto not_json = edited(good, [](SafetensorsData& d) { d.metadata["model"] = "resnet20, please"; });
  msg = message_of([&] { load_checkpoint(dir.write("notjson.safetensors", not_json)); });
  EXPECT_NE(msg.find("metadata 'model'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not JSON"), std::string::npos) << msg;

  auto other_model = edited(good, [](SafetensorsData& d) {
    d.metadata["model"] = R"({"backbone":"resnet32","attention":"ge","variant":"theta-plus","in_channels":1,"input_size":28})";
  });
  msg = message_of([&] { load_checkpoint(dir.write("other.safetensors", other_model)); });
  EXPECT_NE(msg.find("missing tensor 'layer1.3."), std::string::npos) << msg;

  auto no_format = edited(good, [](SafetensorsData& d) { d.metadata.erase("format"); });
  msg = message_of([&] { load_checkpoint(dir.write("noformat.safetensors", no_format)); });
  EXPECT_NE(msg.find("not a GE Explorer checkpoint"), std::string::npos) << msg;

  auto bad_epoch = edited(good, [](SafetensorsData& d) { d.metadata["epoch"] = "three"; });
  msg = message_of([&] { load_checkpoint(dir.write("epoch.safetensors", bad_epoch)); });
  EXPECT_NE(msg.find("metadata 'epoch'"), std::string::npos) << msg;

  auto bad_pre = edited(good, [](SafetensorsData& d) { d.metadata["preprocess"] = R"({"mean":[0,0],"std":[1],"input_size":28,"channels":1})"; });
  msg = message_of([&] { load_checkpoint(dir.write("pre.safetensors", bad_pre)); });
  EXPECT_NE(msg.find("'preprocess'"), std::string::npos) << msg;

  const std::string bytes = read_file(good);
  msg = message_of([&] { load_checkpoint(dir.write("cut.safetensors", bytes.substr(0, bytes.size() / 2))); });
  EXPECT_NE(msg.find("cut.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

// The usual slips, where a checkpoint is asked for: each file named as what it is, with what to
// give instead, through both ways in (the whole checkpoint, and its header alone).
TEST_F(Checkpoints, FilesOfAnotherKindAreNamedWithWhatToGiveInstead) {
  TempDir dir;
  const auto good = saved_ge_plus(dir);
  std::filesystem::create_directories(dir.path() / "run" / "checkpoints");
  const std::string run_json = dir.write("run/run.json", "{\n  \"config\": {}\n}\n");
  const std::string import = "bring its weights in with `gex import --from FILE --model BACKBONE --out CHECKPOINT.safetensors`";
  const std::pair<std::string, std::string> cases[] = {
      {GEX_TEST_DATA "/import/resnet18-torchvision.pth", "is a torch.save file (PyTorch's own format), not a GE Explorer checkpoint: " + import},
      {GEX_TEST_DATA "/import/legacy.pth", "is a torch.save file"},
      {GEX_TEST_DATA "/import/input.npy", "is a .npy array, not a checkpoint"},
      {GEX_TEST_DATA "/cmyk-red.jpg", "is an image, not a checkpoint"},
      {run_json, "is a run's run.json, not a checkpoint: its best is " + (dir.path() / "run" / "checkpoints" / "best.safetensors").string()},
      {dir.write("study.json", "{\"variants\": []}"), "is a JSON file, not a checkpoint"},
      {dir.write("timm.safetensors", edited(good, [](SafetensorsData& d) { d.metadata = {{"format", "pt"}}; })),
       "metadata 'format' is 'pt', not 'gex-checkpoint/1': not a GE Explorer checkpoint: " + import},
      {dir.write("plain.safetensors", edited(good, [](SafetensorsData& d) { d.metadata.clear(); })),
       "no 'format' in the metadata: not a GE Explorer checkpoint: " + import},
      {dir.write("newer.safetensors", edited(good, [](SafetensorsData& d) { d.metadata["format"] = "gex-checkpoint/2"; })),
       "metadata 'format' is 'gex-checkpoint/2': a checkpoint of another version of GE Explorer; this one reads 'gex-checkpoint/1'"},
  };
  for (const auto& [file, says] : cases) {
    for (const auto& message : {message_of([&] { load_checkpoint(file); }), message_of([&] { read_checkpoint_info(file); })}) {
      EXPECT_EQ(message.rfind(file + ": ", 0), 0u) << message;
      EXPECT_NE(message.find(says), std::string::npos) << message;
    }
  }
  EXPECT_EQ(message_of([&] { read_checkpoint_info(good); }), "(accepted)");  // (the checks pass ours)
}

}  // namespace
}  // namespace gex
