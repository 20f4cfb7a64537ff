// safetensors and .npy: byte-exact layouts, round trips, and every malformed file refused with the
// file and the offending key or offset named.
#include <gtest/gtest.h>

#include <cstring>

#include "errors.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "seeded.h"
#include "temp_dir.h"

namespace gex {
namespace {

using test::TempDir;

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file written by hand from a header and data bytes.
std::string by_hand(const std::string& header, const std::string& data) {
  return u64le(header.size()) + header + data;
}

// Expects an InputError whose message holds every one of `parts`.
template <typename F>
void expect_refused(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    FAIL() << "accepted a malformed input";
  } catch (const InputError& e) {
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << "'" << p << "' not in: " << what;
  }
}

class Safetensors : public test::Seeded {};

TEST_F(Safetensors, LayoutIsTheStandardOne) {
  auto t = torch::tensor({1.0f, -2.0f, 3.5f});
  const auto bytes = encode_safetensors({{"w", t}}, {{"format", "x"}});
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);  // data stays aligned
  const std::string header = bytes.substr(8, n);
  EXPECT_NE(header.find(R"("w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]})"), std::string::npos) << header;
  EXPECT_NE(header.find(R"("__metadata__":{"format":"x"})"), std::string::npos);
  ASSERT_EQ(bytes.size(), 8 + n + 12);
  float v[3];
  std::memcpy(v, bytes.data() + 8 + n, 12);
  EXPECT_EQ(v[1], -2.0f);
}

TEST_F(Safetensors, RoundTripIsBitwise) {
  TempDir dir;
  TensorList in = {{"a", torch::randn({3, 4, 5})},
                   {"b", torch::randint(-1000, 1000, {7}, torch::kInt64)},
                   {"c", torch::randn({2, 3}).to(torch::kFloat64)},
                   {"empty", torch::zeros({0, 4})},
                   {"scalar", torch::tensor(3.25f)},
                   {"strided", torch::randn({4, 6}).t()}};
  write_safetensors(dir.file("t.safetensors"), in, {{"k", "v"}, {"json", R"({"a":1})"}});
  const auto out = read_safetensors(dir.file("t.safetensors"));
  ASSERT_EQ(out.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    auto it = std::find_if(out.tensors.begin(), out.tensors.end(), [&](auto& p) { return p.first == name; });
    ASSERT_NE(it, out.tensors.end()) << name;
    EXPECT_EQ(it->second.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(it->second, t)) << name;
  }
  EXPECT_EQ(out.metadata.at("json"), R"({"a":1})");
  EXPECT_EQ(dir.count(), 1u);  // no temporary file left
}

TEST_F(Safetensors, ReadsAFileWrittenByHand) {
  TempDir dir;
  std::string data(8, '\0');
  const int64_t v = -42;
  std::memcpy(data.data(), &v, 8);
  const auto path = dir.write("x.safetensors",
                              by_hand(R"({"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", data));
  const auto out = read_safetensors(path);
  EXPECT_EQ(out.tensors.at(0).second.item<int64_t>(), -42);
}

TEST_F(Safetensors, MalformedFilesAreRefusedWithFileAndPlace) {
  TempDir dir;
  const std::string f4(12, '\0');
  const std::string ok = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  auto p = [&](const std::string& name, const std::string& bytes) { return dir.write(name, bytes); };

  expect_refused([&] { read_safetensors(dir.file("missing.safetensors")); }, {"missing.safetensors", "no such file"});
  expect_refused([&] { read_safetensors(p("empty.st", "")); }, {"empty.st", "0 bytes"});
  expect_refused([&] { read_safetensors(p("short.st", std::string("\x05\x00\x00", 3))); }, {"short.st", "3 bytes"});
  expect_refused([&] { read_safetensors(p("absurd.st", u64le(1ull << 60) + "{}")); }, {"absurd.st", "absurd"});
  expect_refused([&] { read_safetensors(p("past.st", u64le(500) + "{}")); }, {"past.st", "runs past the end"});
  expect_refused([&] { read_safetensors(p("notjson.st", by_hand("{\"w\": [1,", ""))); }, {"notjson.st", "not valid JSON", "byte offset"});
  expect_refused([&] { read_safetensors(p("array.st", by_hand("[1,2]", ""))); }, {"array.st", "not a JSON object"});
  expect_refused([&] { read_safetensors(p("truncated.st", by_hand(ok, f4.substr(0, 7)))); },
                 {"truncated.st", "'w'", "outside the data section"});
  expect_refused([&] {
    read_safetensors(p("count.st", by_hand(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", f4)));
  }, {"count.st", "'w'", "needs 16 bytes"});
  expect_refused([&] {
    read_safetensors(p("dtype.st", by_hand(R"({"w":{"dtype":"F99","shape":[3],"data_offsets":[0,12]}})", f4)));
  }, {"dtype.st", "'w'", "dtype"});
  expect_refused([&] {
    read_safetensors(p("neg.st", by_hand(R"({"w":{"dtype":"F32","shape":[-3],"data_offsets":[0,12]}})", f4)));
  }, {"neg.st", "'w'", "shape"});
  expect_refused([&] {
    read_safetensors(p("huge.st", by_hand(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,12]}})", f4)));
  }, {"huge.st", "'w'", "absurd"});
  expect_refused([&] {
    read_safetensors(p("overlap.st", by_hand(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", f4)));
  }, {"overlap.st", "overlap"});
  expect_refused([&] {
    read_safetensors(p("meta.st", by_hand(R"({"__metadata__":{"epoch":3}})", "")));
  }, {"meta.st", "__metadata__", "epoch"});
  expect_refused([&] { read_safetensors(p("fields.st", by_hand(R"({"w":{"dtype":"F32"}})", ""))); },
                 {"fields.st", "'w'", "data_offsets"});
}

TEST_F(Safetensors, WriteIntoAMissingDirectoryFailsCleanly) {
  TempDir dir;
  EXPECT_THROW(write_safetensors(dir.file("nope/x.safetensors"), {{"a", torch::ones({1})}}, {}), InputError);
  EXPECT_EQ(dir.count(), 0u);
}

class Npy : public test::Seeded {};

TEST_F(Npy, HeaderIsNumPys) {
  const auto bytes = encode_npy(torch::zeros({2, 3}));
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + len) % 64, 0u);
  const auto header = bytes.substr(10, len);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes.size(), 10 + len + 24);
  EXPECT_NE(encode_npy(torch::zeros({5}, torch::kInt64)).find("'shape': (5,)"), std::string::npos);
  EXPECT_NE(encode_npy(torch::tensor(1.0f)).find("'shape': ()"), std::string::npos);
}

TEST_F(Npy, RoundTripsAndReadsFortranOrder) {
  TempDir dir;
  for (auto t : {torch::randn({2, 3, 4, 5}), torch::randint(0, 9, {6}, torch::kInt64), torch::randn({3, 1}),
                 torch::zeros({0, 3})}) {
    write_npy(dir.file("a.npy"), t);
    auto back = read_npy(dir.file("a.npy"));
    EXPECT_EQ(back.scalar_type(), t.scalar_type());
    EXPECT_TRUE(torch::equal(back, t));
  }
  // A Fortran-ordered 2×3 int64 array [[0,1,2],[3,4,5]] stores its columns first.
  std::string dict = "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }";
  dict.append(64 - (10 + dict.size() + 1) % 64, ' ');
  dict += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(dict.size() & 0xff) + char(dict.size() >> 8) + dict;
  for (int64_t v : {0, 3, 1, 4, 2, 5}) bytes.append(reinterpret_cast<const char*>(&v), 8);
  auto t = decode_npy(bytes, "fortran.npy");
  EXPECT_TRUE(torch::equal(t, torch::arange(6, torch::kInt64).reshape({2, 3})));
}

TEST_F(Npy, MalformedFilesAreRefused) {
  const auto good = encode_npy(torch::zeros({2, 3}));
  expect_refused([&] { decode_npy("", "e.npy"); }, {"e.npy", "not a .npy"});
  expect_refused([&] { decode_npy("PK\x03\x04 zip", "z.npy"); }, {"z.npy", "magic"});
  expect_refused([&] { decode_npy(std::string("\x89PNG\r\n\x1a\n", 8) + "rest of a PNG", "photo.png"); },
                 {"photo.png", "is an image, not a .npy file"});
  expect_refused([&] { decode_npy(good.substr(0, 40), "h.npy"); }, {"h.npy", "truncated"});
  expect_refused([&] { decode_npy(good.substr(0, good.size() - 4), "d.npy"); }, {"d.npy", "needs 24 data bytes", "truncated"});
  std::string big_endian = good;
  big_endian.replace(big_endian.find("<f4"), 3, ">f4");
  expect_refused([&] { decode_npy(big_endian, "be.npy"); }, {"be.npy", "unsupported dtype '>f4'"});
  std::string bad_shape = good;
  bad_shape.replace(bad_shape.find("(2, 3)"), 6, "(2, x)");
  expect_refused([&] { decode_npy(bad_shape, "s.npy"); }, {"s.npy", "shape"});
  std::string huge = good;
  huge.replace(huge.find("(2, 3)"), 6, "(9999999999999, 99999)");
  expect_refused([&] { decode_npy(huge, "huge.npy"); }, {"huge.npy"});
}

}  // namespace
}  // namespace gex
