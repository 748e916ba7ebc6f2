// Hermetic cgroup trees for tests: a temp dir removed on destruction (even when the test fails), filled
// from the static fixtures in tests/fixtures/cgroups or file by file.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace uvm::cgroups::testing {

inline std::string FixturePath(const std::string& rel) {
  return std::string(UVM_FIXTURES_DIR) + "/cgroups/" + rel;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string ReadFixture(const std::string& rel) {
  return ReadText(FixturePath(rel));
}

class TempTree {
 public:
  TempTree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "uvm-cgroups-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    root_ = tmpl;
  }
  // A copy of fixture tree `name` (symlinks copied as symlinks).
  explicit TempTree(const std::string& fixture_tree) : TempTree() {
    std::filesystem::copy(
        FixturePath(fixture_tree), root_,
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& root() const { return root_; }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }
  void Write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories(std::filesystem::path(Path(rel)).parent_path());
    std::ofstream(Path(rel), std::ios::binary | std::ios::trunc) << text;
  }
  std::string Read(const std::string& rel) const { return ReadText(Path(rel)); }

 private:
  std::string root_;
};

}  // namespace uvm::cgroups::testing
