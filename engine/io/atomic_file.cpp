#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "errors.h"

namespace gex {

namespace fs = std::filesystem;

void write_file_atomically(const std::string& path, const std::vector<std::string_view>& chunks) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  require_parent_directory(path);
  std::error_code ec;
  if (fs::is_directory(target, ec)) throw InputError(path, "cannot write: it is a directory");

  std::random_device rd;
  const fs::path temp = dir / ("." + target.filename().string() + ".tmp-" +
                               std::to_string(::getpid()) + "-" + std::to_string(rd()));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(path, std::string("cannot write: ") + std::strerror(errno));

  auto fail = [&](const std::string& why) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw InputError(path, "cannot write: " + why);
  };
  for (const auto chunk : chunks) {
    const char* p = chunk.data();
    size_t left = chunk.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(std::strerror(errno));
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  if (::fsync(fd) != 0) fail(std::strerror(errno));
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    throw InputError(path, std::string("cannot write: ") + std::strerror(errno));
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    throw InputError(path, "cannot write: " + why);
  }
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw InputError(path, "no such file");
  if (fs::is_directory(status)) throw InputError(path, "is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, std::string("cannot open: ") + std::strerror(errno));
  std::string data;
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) throw InputError(path, "cannot read");
  data.resize(static_cast<size_t>(size));
  in.seekg(0, std::ios::beg);
  in.read(data.data(), size);
  if (in.gcount() != size) throw InputError(path, "read fewer bytes than the file holds");
  return data;
}

void make_directories(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path))
    throw InputError(path, "cannot create directory: " + (ec ? ec.message() : "not a directory"));
}

void require_parent_directory(const std::string& path) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError(path, "cannot write: the directory " + dir.string() + " does not exist");
}

void require_directory(const std::string& path, const std::string& hint) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return;
  if (fs::exists(path, ec)) throw InputError(path, "not a directory (a file)");
  throw InputError(path, "no such directory" + hint);
}

}  // namespace gex
