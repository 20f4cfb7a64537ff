#include "data/preprocess.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "errors.h"

namespace gex {

Preprocess Preprocess::identity(int channels, int input_size, int num_classes) {
  Preprocess p;
  p.mean.assign(channels, 0.0);
  p.std.assign(channels, 1.0);
  p.input_size = input_size;
  p.channels = channels;
  for (int k = 0; k < num_classes; ++k) p.class_names.push_back(std::to_string(k));
  return p;
}

std::string Preprocess::to_json() const {
  nlohmann::ordered_json j;
  j["mean"] = mean;
  j["std"] = std;
  j["input_size"] = input_size;
  j["channels"] = channels;
  j["class_names"] = class_names;
  return j.dump();
}

Preprocess Preprocess::from_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(source, "'preprocess' is not JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::exception& e) {  // e.g. a number beyond double's range
    throw InputError(source, std::string("'preprocess' cannot be read: ") + e.what());
  }
  auto bad = [&](const std::string& why) { return InputError(source, "'preprocess': " + why); };
  if (!j.is_object()) throw bad("expected a JSON object");
  Preprocess p;
  try {
    p.mean = j.at("mean").get<std::vector<double>>();
    p.std = j.at("std").get<std::vector<double>>();
    for (const char* key : {"input_size", "channels"})
      if (!j.at(key).is_number_integer() || j.at(key).get<int64_t>() < 1 || j.at(key).get<int64_t>() > 100000)
        throw bad(std::string("'") + key + "' must be a positive integer");
    p.input_size = j.at("input_size").get<int>();
    p.channels = j.at("channels").get<int>();
    if (j.contains("class_names")) p.class_names = j.at("class_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("expected mean, std (numbers), input_size, channels, class_names: ") +
              e.what());
  }
  if (p.channels < 1 || p.mean.size() != size_t(p.channels) || p.std.size() != size_t(p.channels))
    throw bad("mean and std must have one value per channel (" + std::to_string(p.channels) + ")");
  for (double s : p.std)
    if (!(s > 0.0) || !std::isfinite(s)) throw bad("std values must be positive");
  if (p.input_size < 1) throw bad("input_size must be positive");
  return p;
}

}  // namespace gex
