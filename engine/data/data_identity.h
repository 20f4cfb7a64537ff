// What a data set held when it was loaded, to tell a later load that sees other data: a run resumed
// after files were added to its folder, a rank whose copy of a folder differs from rank 0's.
#pragma once

#include <cstdint>
#include <string>

namespace gex {

// The images of each split (a folder's: its files, readable or not) and, for a folder, a digest of
// their names and classes.
struct DataIdentity {
  int64_t train = 0, test = 0;
  std::string files;  // folders: 16 hex digits of FNV-1a; empty for the other data sets' fixed files

  bool operator==(const DataIdentity& o) const { return train == o.train && test == o.test && files == o.files; }
  bool operator!=(const DataIdentity& o) const { return !(*this == o); }
};

// As run.json's data_files ({"train","test","digest"}, the digest left out when empty), and back
// (nlohmann::json::exception on malformed text).
std::string identity_json(const DataIdentity& identity);
DataIdentity parse_identity_json(const std::string& text);

// What differs from `a` to `b`, for a message: "112 training files then, 113 now" (where `a_is`
// and `b_is` are "then" and "now"), or "the same number of files under other names or classes".
std::string describe_change(const DataIdentity& a, const DataIdentity& b, const std::string& a_is = "then",
                            const std::string& b_is = "now");

}  // namespace gex
