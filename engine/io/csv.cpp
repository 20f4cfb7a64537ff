#include "io/csv.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "errors.h"
#include "io/atomic_file.h"

namespace gex {

namespace {

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, ',');) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();  // getline drops a last empty field
  return fields;
}

}  // namespace

std::vector<CsvRow> read_csv(const std::string& path, const std::string& header) {
  std::istringstream in(read_file(path));
  std::string line;
  if (!std::getline(in, line) || line != header) throw InputError(path, "line 1 is not the header " + header);
  const size_t columns = split_fields(header).size();
  std::vector<CsvRow> rows;
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    CsvRow row{path + ":" + std::to_string(number), split_fields(line)};
    if (row.fields.size() != columns)
      throw InputError(row.where, "has " + std::to_string(row.fields.size()) + " fields, not " + std::to_string(columns));
    rows.push_back(std::move(row));
  }
  return rows;
}

double csv_number(const CsvRow& row, size_t field) {
  const std::string& text = row.fields.at(field);
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size()) throw InputError(row.where, "field " + std::to_string(field + 1) + " ('" + text + "') is not a number");
  return value;
}

int csv_int(const CsvRow& row, size_t field) {
  const double value = csv_number(row, field);
  if (!(std::abs(value) < 2e9) || value != std::trunc(value))
    throw InputError(row.where, "field " + std::to_string(field + 1) + " ('" + row.fields.at(field) + "') is not a whole number");
  return static_cast<int>(value);
}

}  // namespace gex
