// Helpers shared by the end-to-end CLI tests: run the built binary, parse what it prints, scratch dirs.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace uvm::cli_test {

inline std::string Fixture(const std::string& name) {
  return std::string(UVM_FIXTURES_DIR) + "/cli/" + name;
}

inline testing::ProcessResult Cli(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), UVM_SIZER_BIN);
  return testing::RunProcess(args, input);
}

inline nlohmann::json Json(const testing::ProcessResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

inline int Lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A fresh directory under the test temp dir, removed with everything in it when the object goes.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "/uvm-cli-XXXXXX";
    path_ = mkdtemp(pattern.data()) ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `text` to `relative` (parents created) and returns its full path.
  std::string Write(const std::string& relative, const std::string& text) const {
    std::filesystem::path p = std::filesystem::path(path_) / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  std::string path_;
};

// RFC 4180 records: fields split on commas outside quotes, "" inside quotes is one quote, records end in
// CRLF. Fails the test on a malformed document (a bare LF, a quote in an unquoted field).
inline std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, in_quotes = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"') {
      EXPECT_TRUE(field.empty() && !quoted) << "quote inside an unquoted field at byte " << i;
      quoted = in_quotes = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      quoted = false;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      record.push_back(std::move(field));
      field.clear();
      quoted = false;
      records.push_back(std::move(record));
      record.clear();
      ++i;
    } else {
      EXPECT_TRUE(c != '\r' && c != '\n') << "bare line break outside quotes at byte " << i;
      field += c;
    }
  }
  EXPECT_FALSE(in_quotes) << "unterminated quoted field";
  EXPECT_TRUE(field.empty() && record.empty()) << "the last record does not end in CRLF";
  return records;
}

// The lines of a text table that start with `prefix` (a node name, a column header).
inline std::vector<std::string> RowsStartingWith(const std::string& out, const std::string& prefix) {
  std::vector<std::string> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix)) rows.push_back(line);
  return rows;
}

// A text-table row split on runs of spaces (names in the fixtures hold none).
inline std::vector<std::string> Fields(const std::string& row) {
  std::vector<std::string> out;
  std::istringstream in(row);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

}  // namespace uvm::cli_test
