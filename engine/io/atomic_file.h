// Files are written to a temporary sibling, flushed to disk and renamed over the target, so a
// crash or a full disk never leaves a torn file behind.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gex {

// Writes the chunks, in order, as the whole content of `path`. Throws InputError naming the
// file on failure (no partial file is left).
void write_file_atomically(const std::string& path, const std::vector<std::string_view>& chunks);

// Reads a whole file; InputError when it is missing, not a regular file or unreadable.
std::string read_file(const std::string& path);

// Creates a directory and its parents; InputError naming it on failure.
void make_directories(const std::string& path);

// InputError naming `path` unless the directory it would be written in exists.
void require_parent_directory(const std::string& path);

// InputError naming `path` unless it is a directory: "no such directory" (with `hint` after it)
// or "not a directory (a file)".
void require_directory(const std::string& path, const std::string& hint = "");

}  // namespace gex
