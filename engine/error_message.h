// What a failure says to the user, whatever threw it: our own errors as they are; Torch's errors
// without the C++ backtrace LibTorch appends to them; running out of memory said as such, with
// the size that could not be had.
#pragma once

#include <exception>
#include <string>

namespace gex {

std::string error_message(const std::exception& e);

}  // namespace gex
