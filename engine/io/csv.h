// Reading back the CSVs gex writes: the header checked, each row split on commas, each field that
// is a number parsed whole; errors name the file and line.
#pragma once

#include <string>
#include <vector>

namespace gex {

struct CsvRow {
  std::string where;  // "FILE:LINE", for messages
  std::vector<std::string> fields;
};

// The rows of `path` (blank lines skipped). InputError when the first line is not `header` or a
// row has another number of fields than the header.
std::vector<CsvRow> read_csv(const std::string& path, const std::string& header);

// The field as a number; InputError naming the row's place when it is not one.
double csv_number(const CsvRow& row, size_t field);
int csv_int(const CsvRow& row, size_t field);

}  // namespace gex
