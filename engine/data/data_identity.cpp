#include "data/data_identity.h"

#include <nlohmann/json.hpp>

namespace gex {

std::string identity_json(const DataIdentity& identity) {
  nlohmann::ordered_json j = {{"train", identity.train}, {"test", identity.test}};
  if (!identity.files.empty()) j["digest"] = identity.files;
  return j.dump();
}

DataIdentity parse_identity_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  return {j.at("train").get<int64_t>(), j.at("test").get<int64_t>(), j.value("digest", "")};
}

std::string describe_change(const DataIdentity& a, const DataIdentity& b, const std::string& a_is,
                            const std::string& b_is) {
  std::string change;
  const char* items = a.files.empty() ? " images " : " files ";  // a folder's, readable or not
  const auto count = [&](int64_t x, int64_t y, const char* what) {
    if (x == y) return;
    change += (change.empty() ? "" : ", ") + std::to_string(x) + " " + what + items + a_is + ", " +
              std::to_string(y) + " " + b_is;
  };
  count(a.train, b.train, "training");
  count(a.test, b.test, "test");
  if (change.empty() && a.files != b.files) change = "the same number of files under other names or classes";
  return change;
}

}  // namespace gex
