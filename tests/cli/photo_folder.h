// A small folder of photos as users bring them, for the commands that read folder:DIR.
#pragma once

#ifdef GEX_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <map>
#include <string>

namespace gex::test {

// train/<class>/ and val/<class>/ of textured 96×72 JPEGs, classes a, b and c (8 and 2 of each).
inline void make_photo_folder(const std::filesystem::path& root) {
  cv::RNG rng(9);
  for (const char* split : {"train", "val"})
    for (const char* cls : {"a", "b", "c"}) {
      std::filesystem::create_directories(root / split / cls);
      for (int i = 0; i < (std::string(split) == "train" ? 8 : 2); ++i) {
        cv::Mat m(72, 96, CV_8UC3);
        rng.fill(m, cv::RNG::UNIFORM, cv::Scalar(cls[0] == 'a' ? 0 : 100, 0, 0), cv::Scalar(255, 255, cls[0] == 'c' ? 80 : 255));
        cv::imwrite((root / split / cls / ("p" + std::to_string(i) + ".jpg")).string(), m);
      }
    }
}

// The photos of make_photo_folder(`photos`) in one folder per class, without val/, as `flat`; with
// `renamed`, also under other folder names (a → y, b → z, c → x) and a classes.txt naming them a,
// b, c again: the same classes in another order of folders.
inline void make_flat_photo_folders(const std::filesystem::path& photos, const std::filesystem::path& flat,
                                    const std::filesystem::path& renamed = {}) {
  namespace fs = std::filesystem;
  for (const char* split : {"train", "val"})
    for (const auto& [cls, to] : std::map<std::string, std::string>{{"a", "y"}, {"b", "z"}, {"c", "x"}}) {
      fs::create_directories(flat / cls);
      if (!renamed.empty()) fs::create_directories(renamed / to);
      for (const auto& e : fs::directory_iterator(photos / split / cls)) {
        const std::string name = std::string(split) + "-" + e.path().filename().string();
        fs::copy_file(e.path(), flat / cls / name);
        if (!renamed.empty()) fs::copy_file(e.path(), renamed / to / name);
      }
    }
}

}  // namespace gex::test
#endif
