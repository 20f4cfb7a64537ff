#include "errors.h"
#include "fuzz_target.h"
#include "io/pickle.h"

// The restricted unpickler on any bytes: it returns an object or refuses with PickleError.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gex::fuzz::run(data, size, [](const std::string& b) {
    try {
      gex::pickle::unpickle(b);
    } catch (const gex::pickle::PickleError& e) {
      throw gex::InputError("fuzz", e.what());
    }
  });
}
