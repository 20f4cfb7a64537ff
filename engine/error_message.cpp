#include "error_message.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <regex>

namespace gex {

namespace {

// What follows either allocator's "could not be allocated".
constexpr const char* kLessMemory = " (a smaller batch, input size or model needs less)";

// LibTorch's CPU allocator: "DefaultCPUAllocator: can't allocate memory: you tried to allocate
// 1003520000 bytes. Error code 12 (Cannot allocate memory)", after an "[enforce fail at …]" prefix.
std::string cpu_out_of_memory(const std::string& what) {
  static const std::regex kAllocation(R"(can't allocate memory: you tried to allocate (\d+) bytes)");
  std::smatch m;
  if (!std::regex_search(what, m, kAllocation)) return "";
  char size[32];
  std::snprintf(size, sizeof size, "%.2f GB", std::stod(m[1].str()) / 1e9);
  return std::string("out of memory: ") + size + " more could not be allocated" + kLessMemory;
}

// PyTorch's CUDA caching allocator, in its two wordings: LibTorch 1.x "CUDA out of memory. Tried to
// allocate 36.00 MiB (GPU 0; 7.93 GiB total capacity; 130.35 MiB already allocated; 47.06 MiB free;
// …)", LibTorch 2.x "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of
// 79.15 GiB of which 1.20 GiB is free. …" (sizes as its format_size writes them).
std::string gpu_out_of_memory(const std::string& what) {
  static const std::string kSize = R"(([0-9.]+ (?:bytes|[KMGTP]iB)))";
  static const std::regex kAllocation("CUDA out of memory\\. Tried to allocate " + kSize);
  static const std::regex kOld(R"(\(GPU (\d+); )" + kSize + " total capacity;.*?; " + kSize + " free;");
  static const std::regex kNew(R"(GPU (\d+) has a total capacity of )" + kSize + " of which " + kSize + " is free");
  std::smatch m;
  if (!std::regex_search(what, m, kAllocation)) return "";
  std::string message = "out of GPU memory: " + m[1].str() + " more could not be allocated";
  std::smatch device;
  if (std::regex_search(what, device, kOld) || std::regex_search(what, device, kNew))
    message += " on GPU " + device[1].str() + ", which has " + device[2].str() + ", " + device[3].str() + " of it free";
  return message + kLessMemory;
}

}  // namespace

std::string error_message(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  if (!torch_error) return e.what();
  std::string what = torch_error->what_without_backtrace();
  if (const auto memory = cpu_out_of_memory(what); !memory.empty()) return memory;
  if (const auto memory = gpu_out_of_memory(what); !memory.empty()) return memory;
  return what;
}

}  // namespace gex
