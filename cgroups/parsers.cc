#include "cgroups/parsers.h"

#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cgroups {
namespace {

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Splits on runs of spaces/tabs.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <class Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    ++line_no;
    if (!fn(line, line_no)) return;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

std::optional<uint64_t> ToU64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.front() == '+' || s.front() == '-') return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> ToDouble(std::string_view s) {
  double v = 0;
  if (s.empty() || s.front() == '+' || s.front() == '-') return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// mountinfo escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c: mangle()).
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      auto oct = [](char c) { return c >= '0' && c <= '7'; };
      if (oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
        int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
        if (v <= 0xff) {
          out.push_back(static_cast<char>(v));
          i += 3;
          continue;
        }
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::string QuoteForError(std::string_view text, size_t max_bytes) {
  bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out += cut ? "...\"" : "\"";
  return out;
}

Result<std::vector<CgroupMount>> ParseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  std::optional<Error> error;
  ForEachLine(mountinfo, [&](std::string_view line, size_t line_no) {
    if (TrimSpace(line).empty()) return true;
    std::vector<std::string_view> f = Fields(line);
    // Optional fields (shared:N master:N ...) end at a lone "-"; fstype and source follow it.
    size_t sep = 6;
    while (sep < f.size() && f[sep] != "-") ++sep;
    if (f.size() < 5 || sep + 2 >= f.size()) {
      // A line we cannot split is only our business when it could be a cgroup mount.
      if (line.find("cgroup") == std::string_view::npos) return true;
      error = InvalidInput(
          fmt::format("mountinfo line {}: expected at least 10 fields with a \"-\" separator, got {}",
                      line_no, QuoteForError(line)));
      return false;
    }
    std::string_view fstype = f[sep + 1];
    if (fstype != "cgroup" && fstype != "cgroup2") return true;
    CgroupMount m;
    m.root = Unescape(f[3]);
    m.mount_point = Unescape(f[4]);
    m.v2 = fstype == "cgroup2";
    if (!m.v2) {
      std::string_view opts = sep + 3 < f.size() ? f[sep + 3] : std::string_view();
      while (!opts.empty()) {
        size_t comma = opts.find(',');
        std::string_view opt = opts.substr(0, comma);
        // Super options mix flags (rw, nsdelegate, clone_children...) with controller names; the
        // controllers we use are recognised by name, named hierarchies carry "name=".
        static constexpr std::string_view kControllers[] = {
            "cpu",   "cpuacct",    "cpuset",   "memory",  "devices", "freezer", "net_cls",
            "blkio", "perf_event", "net_prio", "hugetlb", "pids",    "rdma",    "misc"};
        for (std::string_view c : kControllers) {
          if (opt == c) m.controllers.emplace_back(opt);
        }
        if (comma == std::string_view::npos) break;
        opts.remove_prefix(comma + 1);
      }
    }
    mounts.push_back(std::move(m));
    return true;
  });
  if (error) return *error;
  return mounts;
}

Result<uint64_t> ParseU64(std::string_view text, std::string_view source) {
  std::string_view t = TrimSpace(text);
  if (auto v = ToU64(t)) return *v;
  return InvalidInput(fmt::format("{}: expected an unsigned integer, got {}", source, QuoteForError(text)));
}

Result<std::optional<uint64_t>> ParseV2Limit(std::string_view text, std::string_view source) {
  std::string_view t = TrimSpace(text);
  if (t == "max") return std::optional<uint64_t>();
  if (auto v = ToU64(t)) return std::optional<uint64_t>(*v);
  return InvalidInput(
      fmt::format("{}: expected \"max\" or an unsigned integer, got {}", source, QuoteForError(text)));
}

Result<std::optional<uint64_t>> ParseV1MemoryLimit(std::string_view text, std::string_view source) {
  auto v = ParseU64(text, source);
  if (!v) return v.error();
  if (*v >= kV1UnlimitedBytes) return std::optional<uint64_t>();
  return std::optional<uint64_t>(*v);
}

Result<std::optional<uint64_t>> ParseV1CfsQuota(std::string_view text, std::string_view source) {
  std::string_view t = TrimSpace(text);
  if (t == "-1") return std::optional<uint64_t>();
  if (auto v = ToU64(t)) return std::optional<uint64_t>(*v);
  return InvalidInput(
      fmt::format("{}: expected -1 or an unsigned integer, got {}", source, QuoteForError(text)));
}

Result<CpuMax> ParseCpuMax(std::string_view text, std::string_view source) {
  std::vector<std::string_view> f = Fields(TrimSpace(text));
  if (f.size() != 2) {
    return InvalidInput(
        fmt::format("{}: expected \"<quota|max> <period>\", got {}", source, QuoteForError(text)));
  }
  CpuMax out;
  auto period = ToU64(f[1]);
  if (!period || *period == 0) {
    return InvalidInput(
        fmt::format("{}: period: expected a positive integer, got {}", source, QuoteForError(f[1])));
  }
  out.period_us = *period;
  if (f[0] != "max") {
    auto quota = ToU64(f[0]);
    if (!quota) {
      return InvalidInput(fmt::format("{}: quota: expected \"max\" or an unsigned integer, got {}", source,
                                      QuoteForError(f[0])));
    }
    out.quota_us = *quota;
  }
  return out;
}

Result<std::vector<KeyedValue>> ParseKeyedValues(std::string_view text, std::string_view source) {
  std::vector<KeyedValue> out;
  std::optional<Error> error;
  ForEachLine(text, [&](std::string_view line, size_t line_no) {
    if (TrimSpace(line).empty()) return true;
    std::vector<std::string_view> f = Fields(line);
    std::optional<uint64_t> v = f.size() == 2 ? ToU64(f[1]) : std::nullopt;
    if (!v) {
      error = InvalidInput(fmt::format("{} line {}: expected \"<key> <unsigned integer>\", got {}", source,
                                       line_no, QuoteForError(line)));
      return false;
    }
    out.push_back({f[0], *v});
    return true;
  });
  if (error) return *error;
  return out;
}

std::optional<uint64_t> FindKey(const std::vector<KeyedValue>& values, std::string_view key) {
  for (const auto& kv : values) {
    if (kv.key == key) return kv.value;
  }
  return std::nullopt;
}

Result<Pressure> ParsePressure(std::string_view text, std::string_view source) {
  Pressure out;
  bool have_some = false;
  std::optional<Error> error;
  ForEachLine(text, [&](std::string_view line, size_t line_no) {
    if (TrimSpace(line).empty()) return true;
    std::vector<std::string_view> f = Fields(line);
    auto fail = [&](std::string_view what) {
      error = InvalidInput(fmt::format("{} line {}: {}, got {}", source, line_no, what, QuoteForError(line)));
      return false;
    };
    if (f.size() != 5 || (f[0] != "some" && f[0] != "full")) {
      return fail("expected \"some|full avg10=.. avg60=.. avg300=.. total=..\"");
    }
    PressureLine p;
    static constexpr std::string_view kKeys[] = {"avg10=", "avg60=", "avg300=", "total="};
    for (size_t i = 0; i < 4; ++i) {
      std::string_view field = f[i + 1];
      if (field.substr(0, kKeys[i].size()) != kKeys[i]) return fail(fmt::format("expected {}", kKeys[i]));
      std::string_view value = field.substr(kKeys[i].size());
      if (i == 3) {
        auto v = ToU64(value);
        if (!v) return fail("total: expected an unsigned integer");
        p.total_us = *v;
      } else {
        auto v = ToDouble(value);
        if (!v) return fail(fmt::format("{} expected a decimal number", kKeys[i]));
        (i == 0 ? p.avg10 : i == 1 ? p.avg60 : p.avg300) = *v;
      }
    }
    if (f[0] == "some") {
      out.some = p;
      have_some = true;
    } else {
      out.full = p;
    }
    return true;
  });
  if (error) return *error;
  if (!have_some) return InvalidInput(fmt::format("{}: no \"some\" line in {}", source, QuoteForError(text)));
  return out;
}

}  // namespace uvm::cgroups
