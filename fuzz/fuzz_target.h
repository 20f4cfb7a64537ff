// What every fuzz target checks: a reader given any bytes either returns or throws the engine's
// gex::Error (a message naming the input and the problem). Anything else — a crash, a sanitizer
// report, another exception type — is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "errors.h"

namespace gex::fuzz {

template <typename Read>
int run(const uint8_t* data, size_t size, Read&& read) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    read(bytes);
  } catch (const gex::Error&) {
  }
  return 0;
}

}  // namespace gex::fuzz
