#include "sizer/kata_annotations.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <regex>
#include <utility>

#include <fmt/format.h>

#include "base/error_codes.h"
#include "base/quote.h"

namespace uvm::sizer {
namespace {

// apimachinery validation.go: DNS1123SubdomainMaxLength (253) + "/" + qualifiedNameMaxLength (63).
constexpr size_t kMaxAnnotationKeyBytes = 253 + 1 + 63;

using Pairs = std::vector<std::pair<std::string_view, std::string_view>>;

// Go strconv.ParseBool.
std::optional<bool> ParseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") return false;
  return std::nullopt;
}

// Go strconv.ParseUint(s, 10, 64): decimal digits only, no sign, no underscores, at most 2^64-1.
std::optional<uint64_t> ParseGoUint(std::string_view s) {
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// Go strconv.ParseFloat(s, 32) for decimal input: an optional sign, digits with an optional point and
// exponent, or inf/infinity/nan; rounded straight to float32, as Go does. Out of float32 range is an
// error there (ErrRange), and here. Differences: Go also takes hex floats ("0x1p-2") and underscores
// between digits of base-prefixed numbers; both are refused here as unparsable.
std::optional<float> ParseGoFloat32(std::string_view s) {
  bool negative = false;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
    return negative ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  }
  if (EqualsIgnoreCase(body, "nan")) return std::numeric_limits<float>::quiet_NaN();
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body[0])) || body[0] == '.'))
    return std::nullopt;
  for (char c : body) {
    bool ok = std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' || c == '+' ||
              c == '-';
    if (!ok) return std::nullopt;
  }
  float v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;
  return negative ? -v : v;
}

std::string PositiveNumericError(std::string_view key) {
  // oci/utils.go errAnnotationPositiveNumericKey
  return fmt::format("Error parsing annotation for {}: Please specify positive numeric value", key);
}

bool Forwarded(const Profile& profile, std::string_view key) {
  for (const auto& pattern : profile.forwarded_annotations) {
    if (GlobMatch(pattern, key).value_or(false)) return true;
  }
  return false;
}

bool Enabled(const Profile& profile, std::string_view suffix) {
  for (const auto& pattern : profile.enabled_annotations) {
    // A pattern that does not compile matches nothing, as in Kata (`matched, _ := regexp.MatchString`);
    // profile loading refuses such patterns, so this only guards hand-built profiles.
    if (AnnotationPatternMatches(pattern, suffix).value_or(false)) return true;
  }
  return false;
}

AnnotatedProfile Apply(const Profile& input, const Pairs& all, uint32_t host_cpus) {
  AnnotatedProfile out{.profile = input};
  auto refuse = [&](std::string message) {
    out.profile = input;
    out.refusal = std::move(message);
    return out;
  };
  // containerd sandbox_run_linux.go: only getPassthroughAnnotations(config.Annotations,
  // ociRuntime.PodAnnotations) reach the sandbox spec Kata reads.
  Pairs seen;
  for (const auto& [key, value] : all) {
    // The API server never admits a longer key (apimachinery validation.go IsQualifiedName: a DNS
    // subdomain prefix of at most 253 bytes, '/', a name of at most 63), and std::regex's backtracking
    // recursion grows with the subject's length, so a key from a lying peer must not reach the matcher.
    if (key.size() > kMaxAnnotationKeyBytes) {
      return refuse(fmt::format("annotation key {} is {} bytes, longer than Kubernetes allows ({})",
                                QuoteText(key, 64), key.size(), kMaxAnnotationKeyBytes));
    }
    if (Forwarded(input, key)) {
      seen.emplace_back(key, value);
    } else if (key.starts_with("io.katacontainers.")) {
      out.notes.push_back(fmt::format(
          "annotation {} is not forwarded to the runtime (not in containerd's pod_annotations): ignored",
          QuoteText(key, 128)));
    }
  }
  auto find = [&](std::string_view key) -> std::optional<std::string_view> {
    for (const auto& [k, v] : seen) {
      if (k == key) return v;
    }
    return std::nullopt;
  };

  for (const auto& [key, value] : seen) {
    if (!key.starts_with(kKataHypervisorAnnotationPrefix)) continue;
    if (!Enabled(input, key.substr(kKataHypervisorAnnotationPrefix.size()))) {
      return refuse(fmt::format("annotation {} is not enabled", key));
    }
  }

  Profile& p = out.profile;
  if (auto v = find(kKataDefaultVcpusAnnotation)) {
    auto vcpus = ParseGoFloat32(*v);
    if (!vcpus || *vcpus < 0) return refuse(PositiveNumericError(kKataDefaultVcpusAnnotation));
    if (std::isinf(*vcpus)) {
      return refuse(
          fmt::format("Error parsing annotation for {}: The number exceeds the maximum allowed for its type",
                      kKataDefaultVcpusAnnotation));
    }
    // Go lets NaN through every comparison and boots with garbage; refuse it rather than guess.
    if (std::isnan(*vcpus)) {
      return refuse(fmt::format("annotation {}: \"{}\" is not a number (Kata would size with NaN)",
                                kKataDefaultVcpusAnnotation, *v));
    }
    if (host_cpus > 0 && *vcpus > static_cast<float>(host_cpus)) {
      return refuse(fmt::format(
          "Number of cpus {:.6f} specified in annotation default_vcpus is greater than the number of CPUs {} "
          "on the system",
          *vcpus, host_cpus));
    }
    if (host_cpus == 0) {
      out.notes.push_back(fmt::format(
          "annotation default_vcpus {}: the node's CPU count is unknown, so Kata's check that it does not "
          "exceed it was skipped",
          *v));
    }
    p.base_vcpus = *vcpus;
    out.notes.push_back(
        fmt::format("annotation default_vcpus: base vCPUs {} (profile: {})", *vcpus, input.base_vcpus));
  }
  if (auto v = find(kKataDefaultMaxVcpusAnnotation)) {
    auto max = ParseGoUint(*v);
    if (!max) return refuse(PositiveNumericError(kKataDefaultMaxVcpusAnnotation));
    auto max32 = static_cast<uint32_t>(*max);  // `max := uint32(maxVCPUs)`: Go keeps the low 32 bits
    if (host_cpus > 0 && max32 > host_cpus) {
      return refuse(fmt::format(
          "Number of cpus {} in annotation default_maxvcpus is greater than the number of CPUs {} on the "
          "system",
          max32, host_cpus));
    }
    if (p.mode == SizingMode::kStatic) {
      // SandboxConfig: static sizing sets DefaultMaxVCPUs = NumVCPUs() after the annotations.
      out.notes.push_back("annotation default_max_vcpus has no effect on static sizing");
    } else {
      p.max_vcpus = max32;
      out.notes.push_back(fmt::format("annotation default_max_vcpus: at most {} vCPUs", max32));
    }
  }
  if (auto v = find(kKataDefaultMemoryAnnotation)) {
    auto mib = ParseGoUint(*v);
    if (!mib) return refuse(PositiveNumericError(kKataDefaultMemoryAnnotation));
    if (*mib < input.min_hypervisor_memory_mib) {
      return refuse(fmt::format(
          "Memory specified in annotation {} is less than minimum required {}, please specify a larger value",
          kKataDefaultMemoryAnnotation, input.min_hypervisor_memory_mib));
    }
    auto mib32 = static_cast<uint32_t>(*mib);  // `MemorySize = uint32(memorySz)`: wraps
    if (mib32 != *mib) {
      out.notes.push_back(fmt::format(
          "annotation default_memory {} does not fit the runtime's uint32 MiB: it boots with {} MiB", *mib,
          mib32));
    }
    p.base_memory_mib = mib32;
    out.notes.push_back(fmt::format("annotation default_memory: base memory {} MiB (profile: {} MiB)", mib32,
                                    input.base_memory_mib));
  }
  if (find("io.katacontainers.config.hypervisor.default_maxmemory")) {
    out.notes.push_back(
        "annotation default_maxmemory: the Go runtime has no such annotation (only the TOML key): no effect");
  }
  if (auto v = find(kKataSandboxCgroupOnlyAnnotation)) {
    auto only = ParseGoBool(*v);
    if (!only) {
      return refuse(fmt::format("Error parsing annotation for {}: Please specify boolean value 'true|false'",
                                kKataSandboxCgroupOnlyAnnotation));
    }
    p.sandbox_cgroup_only = *only;
    out.notes.push_back(fmt::format("annotation sandbox_cgroup_only={}: the VMM is charged to {}",
                                    *only ? "true" : "false",
                                    *only ? "the pod cgroup" : "/kata_overhead, not the pod cgroup"));
  }
  return out;
}

// One class `[...]` of path.Match starting after '['; advances `i` past ']'. nullopt: malformed.
std::optional<bool> MatchClass(std::string_view pattern, size_t& i, char c) {
  bool negate = false;
  if (i < pattern.size() && pattern[i] == '^') {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  auto next_char = [&](char& out) -> bool {
    if (i >= pattern.size()) return false;
    if (pattern[i] == '\\') {
      ++i;
      if (i >= pattern.size()) return false;
    } else if (pattern[i] == '-' || pattern[i] == ']') {
      return false;  // Go: ErrBadPattern for an unescaped '-' or an empty range
    }
    out = pattern[i++];
    return true;
  };
  for (;;) {
    if (i >= pattern.size()) return std::nullopt;
    if (pattern[i] == ']' && !first) {
      ++i;
      break;
    }
    first = false;
    char lo = 0;
    if (!next_char(lo)) return std::nullopt;
    char hi = lo;
    if (i < pattern.size() && pattern[i] == '-') {
      ++i;
      if (!next_char(hi)) return std::nullopt;
    }
    if (lo <= c && c <= hi) matched = true;
  }
  return matched != negate;
}

// Checks the whole pattern is well formed, as Go's path.Match does even after a mismatch.
bool GlobWellFormed(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size();) {
    char ch = pattern[i++];
    if (ch == '\\') {
      if (i >= pattern.size()) return false;
      ++i;
    } else if (ch == '[') {
      if (!MatchClass(pattern, i, 'a')) return false;
    }
  }
  return true;
}

bool GlobFrom(std::string_view p, size_t pi, std::string_view s, size_t si) {
  while (pi < p.size()) {
    char ch = p[pi];
    if (ch == '*') {
      // `*` runs over non-'/' bytes only; try every split.
      for (size_t k = si;; ++k) {
        if (GlobFrom(p, pi + 1, s, k)) return true;
        if (k >= s.size() || s[k] == '/') return false;
      }
    }
    if (si >= s.size()) return false;
    if (ch == '?') {
      if (s[si] == '/') return false;
      ++pi;
      ++si;
    } else if (ch == '[') {
      if (s[si] == '/') return false;
      size_t i = pi + 1;
      auto m = MatchClass(p, i, s[si]);
      if (!m || !*m) return false;
      pi = i;
      ++si;
    } else {
      if (ch == '\\') ++pi;
      if (pi >= p.size() || p[pi] != s[si]) return false;
      ++pi;
      ++si;
    }
  }
  return si == s.size();
}

template <class Map>
Pairs ToPairs(const Map& annotations) {
  Pairs out;
  out.reserve(annotations.size());
  for (const auto& [k, v] : annotations) out.emplace_back(k, v);
  return out;
}

}  // namespace

std::optional<bool> GlobMatch(std::string_view pattern, std::string_view name) {
  if (!GlobWellFormed(pattern)) return std::nullopt;
  return GlobFrom(pattern, 0, name, 0);
}

std::optional<bool> AnnotationPatternMatches(const std::string& pattern, std::string_view suffix) {
  // std::regex reports a bad pattern by throwing; nothing past this function sees it.
  try {
    std::regex re(pattern, std::regex::ECMAScript);
    return std::regex_search(suffix.begin(), suffix.end(), re);
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
}

AnnotatedProfile ApplyKataAnnotations(const Profile& profile, const Annotations& annotations,
                                      uint32_t host_cpus) {
  return Apply(profile, ToPairs(annotations), host_cpus);
}

AnnotatedProfile ApplyKataAnnotations(const Profile& profile,
                                      const std::map<std::string, std::string>& annotations,
                                      uint32_t host_cpus) {
  return Apply(profile, ToPairs(annotations), host_cpus);
}

Status ValidateAnnotationPatterns(const Profile& profile, std::string_view enabled_key,
                                  std::string_view forwarded_key) {
  // Kata compiles these with Go's RE2 and we with ECMAScript std::regex. They agree on the plain names
  // and `.*`-style patterns Kata's configs use; RE2-only syntax (`(?i)`, `\z`, `\pL`, `(?P<n>...)`) does
  // not compile here and is refused, and ECMAScript-only syntax (back-references, look-around), which
  // Kata cannot compile and so never matches, would match here.
  for (const auto& pattern : profile.enabled_annotations) {
    if (!AnnotationPatternMatches(pattern, "")) {
      return InvalidInput(fmt::format("{}: \"{}\" is not a valid regular expression", enabled_key, pattern));
    }
  }
  for (const auto& pattern : profile.forwarded_annotations) {
    if (!GlobWellFormed(pattern)) {
      return InvalidInput(fmt::format("{}: \"{}\" is not a valid glob pattern", forwarded_key, pattern));
    }
  }
  return {};
}

}  // namespace uvm::sizer
