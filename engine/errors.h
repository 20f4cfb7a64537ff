// Errors the user can read: every failure names the file (or flag) and what was expected.
// The class decides the exit status of `gex` (DESIGN §4).
#pragma once

#include <stdexcept>
#include <string>

namespace gex {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 2,        // a wrong flag or value
  kExitBadInput = 3,     // a file missing, corrupt or of the wrong shape
  kExitRunFailed = 4,    // e.g. the loss became NaN
  kExitInterrupted = 130,
};

class Error : public std::runtime_error {
 public:
  Error(const std::string& what, int exit_code) : std::runtime_error(what), m_exit_code(exit_code) {}
  int exit_code() const { return m_exit_code; }

 private:
  int m_exit_code;
};

// A flag or value the user gave that cannot work (exit 2).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what, kExitUsage) {}
};

// A file that is missing, unreadable, corrupt or does not fit (exit 3).
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what, kExitBadInput) {}
  InputError(const std::string& file, const std::string& problem)
      : Error(file + ": " + problem, kExitBadInput) {}
};

// Work stopped by the user (SIGINT/SIGTERM) before it finished (exit 130).
class Interrupted : public Error {
 public:
  explicit Interrupted(const std::string& what) : Error(what, kExitInterrupted) {}
};

// A run that started but could not finish (exit 4).
class RunError : public Error {
 public:
  explicit RunError(const std::string& what) : Error(what, kExitRunFailed) {}
};

}  // namespace gex
