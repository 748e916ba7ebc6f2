// File and stdin reading for the CLI: the libraries take text, the CLI fetches it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace uvm::cli {

// The most bytes read from one input. The manifest reader refuses a larger text anyway
// (sizer/formats/manifest.cc), so reading more would only cost memory before the refusal.
inline constexpr size_t kMaxInputBytes = size_t{256} << 20;

// Reads a whole file, or standard input for "-". An input larger than `max_bytes` is refused with
// kResourceExhausted without holding more than max_bytes + 1 bytes (a regular file's size is checked
// before reading it). The error names the path and the reason.
Result<std::string> ReadInput(const std::string& path, size_t max_bytes = kMaxInputBytes);

// The name to prefix to messages about `path` ("<stdin>" for "-").
std::string DisplayName(const std::string& path);

// The manifest inputs named on the command line, as `kubectl -f` expands them (k8s.io/cli-runtime
// pkg/resource builder.go FilenameParam and Path, visitor.go ExpandPathsToFileVisitors): "-" is standard
// input, at most once; a file is read whatever its name; a directory contributes its files ending in
// .json, .yaml or .yml (FileExtensions; case-sensitive, as Go's filepath.Ext compares), in lexical byte
// order, depth-first, its subdirectories only when `recursive` (symbolic links to directories are not
// followed, as filepath.Walk does not). Unlike kubectl, a directory that contributes no file is an error
// naming it rather than silently nothing, and so is a path that cannot be examined.
Result<std::vector<std::string>> ExpandInputPaths(const std::vector<std::string>& args, bool recursive);

}  // namespace uvm::cli
