#include "error_message.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <regex>

namespace gex {

namespace {

// LibTorch's CPU allocator: "DefaultCPUAllocator: can't allocate memory: you tried to allocate
// 1003520000 bytes. Error code 12 (Cannot allocate memory)", after an "[enforce fail at …]" prefix.
std::string cpu_out_of_memory(const std::string& what) {
  static const std::regex kAllocation(R"(can't allocate memory: you tried to allocate (\d+) bytes)");
  std::smatch m;
  if (!std::regex_search(what, m, kAllocation)) return "";
  char size[32];
  std::snprintf(size, sizeof size, "%.2f GB", std::stod(m[1].str()) / 1e9);
  return std::string("out of memory: ") + size +
         " more could not be allocated (a smaller batch, input size or model needs less)";
}

}  // namespace

std::string error_message(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  if (!torch_error) return e.what();
  std::string what = torch_error->what_without_backtrace();
  if (const auto memory = cpu_out_of_memory(what); !memory.empty()) return memory;
  return what;
}

}  // namespace gex
