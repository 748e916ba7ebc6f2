#include "guest/exposition.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "base/error_codes.h"

namespace uvm::guest {
namespace {

constexpr size_t kMaxLabels = 128;

bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}
bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9');
}
bool IsLabelStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsLabelChar(char c) {
  return IsLabelStart(c) || (c >= '0' && c <= '9');
}

// Shows a piece of input in an error message: quoted, control bytes escaped, at most 40 bytes.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  out += '"';
  return out;
}

// One byte as an error message shows it: '}' or '\x0a'.
std::string QuoteChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) return fmt::format("'\\x{:02x}'", u);
  return fmt::format("'{}'", c);
}

std::string DescribeNext(std::string_view rest) {
  return rest.empty() ? "end of line" : QuoteChar(rest.front());
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Go's strconv.ParseFloat for the forms exposition writers emit: decimal with optional sign, fraction and
// exponent, and (any case) NaN, Inf, Infinity with an optional sign. Hex floats and '_' are refused.
std::optional<double> ParseValue(std::string_view token) {
  if (token.empty()) return std::nullopt;
  std::string_view body = token;
  bool negative = false;
  if (body.front() == '+' || body.front() == '-') {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (EqualsIgnoreCase(body, "nan")) return std::numeric_limits<double>::quiet_NaN();
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body.front())) || body.front() == '.')) {
    return std::nullopt;
  }
  double v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (end != body.data() + body.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Go returns ±Inf (or ±0) with an error for out-of-range values; a writer would never send them.
    return std::nullopt;
  }
  if (ec != std::errc()) return std::nullopt;
  return negative ? -v : v;
}

std::optional<int64_t> ParseTimestamp(std::string_view token) {
  if (token.empty()) return std::nullopt;
  std::string_view body = token;
  if (body.front() == '+') body.remove_prefix(1);
  if (body.empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;
  return v;
}

std::optional<MetricType> ParseType(std::string_view t) {
  if (t == "counter") return MetricType::kCounter;
  if (t == "gauge") return MetricType::kGauge;
  if (t == "histogram") return MetricType::kHistogram;
  if (t == "summary") return MetricType::kSummary;
  if (t == "untyped") return MetricType::kUntyped;
  return std::nullopt;
}

class Parser {
 public:
  Parser(std::string_view source, const std::function<void(const SampleView&)>& on_sample,
         const std::function<void(const FamilyView&)>& on_family)
      : source_(source), on_sample_(on_sample), on_family_(on_family) {}

  Status Run(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string_view::npos) eol = text.size();
      std::string_view line = text.substr(pos, eol - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_no_;
      if (Status st = Line(line); !st.ok()) return st;
      pos = eol + 1;
    }
    return {};
  }

 private:
  Status Fail(std::string what) const {
    return Status(InvalidInput(fmt::format("{}: line {}: {}", source_, line_no_, what)));
  }

  static void SkipBlanks(std::string_view& s) {
    while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  }
  static std::string_view Token(std::string_view& s) {
    size_t n = 0;
    while (n < s.size() && !IsBlank(s[n])) ++n;
    std::string_view t = s.substr(0, n);
    s.remove_prefix(n);
    return t;
  }
  static std::string_view MetricName(std::string_view& s) {
    if (s.empty() || !IsNameStart(s.front())) return {};
    size_t n = 1;
    while (n < s.size() && IsNameChar(s[n])) ++n;
    std::string_view t = s.substr(0, n);
    s.remove_prefix(n);
    return t;
  }

  Status Line(std::string_view s) {
    SkipBlanks(s);
    if (s.empty()) return {};
    if (s.front() == '#') return Comment(s.substr(1));
    return SampleLine(s);
  }

  Status Comment(std::string_view s) {
    SkipBlanks(s);
    std::string_view keyword = Token(s);
    if (keyword != "HELP" && keyword != "TYPE") return {};  // an ordinary comment
    SkipBlanks(s);
    if (s.empty()) return {};  // "# HELP" alone is a comment, as in expfmt
    std::string_view rest = s;
    std::string_view name = MetricName(s);
    if (name.empty() || (!s.empty() && !IsBlank(s.front()))) {
      return Fail(fmt::format("invalid metric name {} in {} line", Quote(Token(rest)), keyword));
    }
    SkipBlanks(s);
    FamilyView family{.name = name, .type = std::nullopt, .help = std::nullopt, .line = line_no_};
    if (keyword == "TYPE") {
      std::string_view type_token = Token(s);
      SkipBlanks(s);
      if (type_token.empty()) return Fail(fmt::format("TYPE line for {} has no type", Quote(name)));
      if (!s.empty()) return Fail(fmt::format("unexpected {} after the type of {}", Quote(s), Quote(name)));
      auto type = ParseType(type_token);
      if (!type) {
        return Fail(
            fmt::format("unknown metric type {} for {} (want counter, gauge, histogram, summary or untyped)",
                        Quote(type_token), Quote(name)));
      }
      auto it = std::find_if(types_.begin(), types_.end(), [&](const auto& p) { return p.first == name; });
      if (it != types_.end() && it->second != *type) {
        return Fail(fmt::format("second TYPE line for {}: {} after {}", Quote(name), MetricTypeName(*type),
                                MetricTypeName(it->second)));
      }
      if (it == types_.end()) types_.emplace_back(std::string(name), *type);
      family.type = type;
    } else {
      // Docstring: the rest of the line, escapes \\ and \n.
      help_.clear();
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
          help_ += s[i];
          continue;
        }
        if (i + 1 >= s.size())
          return Fail(fmt::format("HELP text of {} ends in a lone backslash", Quote(name)));
        char e = s[++i];
        if (e == '\\') {
          help_ += '\\';
        } else if (e == 'n') {
          help_ += '\n';
        } else {
          return Fail(fmt::format("invalid escape sequence {} in HELP text of {}",
                                  Quote(std::string{'\\', e}), Quote(name)));
        }
      }
      family.help = std::string_view(help_);
    }
    if (on_family_) on_family_(family);
    return {};
  }

  Status SampleLine(std::string_view s) {
    std::string_view name = MetricName(s);
    if (name.empty()) return Fail(fmt::format("invalid metric name at {}", Quote(Token(s))));
    if (!s.empty() && !IsBlank(s.front()) && s.front() != '{') {
      return Fail(fmt::format("invalid character {} in metric name {}", DescribeNext(s), Quote(name)));
    }
    labels_.clear();
    values_.clear();
    // Unescaped values never outgrow the line: reserving it keeps earlier views valid while appending.
    values_.reserve(s.size());
    SkipBlanks(s);
    if (!s.empty() && s.front() == '{') {
      s.remove_prefix(1);
      if (Status st = Labels(s, name); !st.ok()) return st;
    }
    SkipBlanks(s);
    std::string_view value_token = Token(s);
    if (value_token.empty()) return Fail(fmt::format("no value after {}", Quote(name)));
    auto value = ParseValue(value_token);
    if (!value) return Fail(fmt::format("invalid value {} for {}", Quote(value_token), Quote(name)));
    SkipBlanks(s);
    std::optional<int64_t> timestamp;
    if (!s.empty()) {
      std::string_view ts_token = Token(s);
      timestamp = ParseTimestamp(ts_token);
      if (!timestamp) return Fail(fmt::format("invalid timestamp {} for {}", Quote(ts_token), Quote(name)));
      SkipBlanks(s);
      if (!s.empty())
        return Fail(fmt::format("unexpected {} after the timestamp of {}", Quote(s), Quote(name)));
    }
    if (on_sample_) {
      SampleView view{
          .name = name, .labels = labels_, .value = *value, .timestamp_ms = timestamp, .line = line_no_};
      on_sample_(view);
    }
    return {};
  }

  Status Labels(std::string_view& s, std::string_view metric) {
    while (true) {
      SkipBlanks(s);
      if (s.empty()) return Fail(fmt::format("unterminated label set of {}", Quote(metric)));
      if (s.front() == '}') {
        s.remove_prefix(1);
        return {};
      }
      if (!IsLabelStart(s.front())) {
        return Fail(fmt::format("invalid label name at {} in {}", Quote(Token(s)), Quote(metric)));
      }
      size_t n = 1;
      while (n < s.size() && IsLabelChar(s[n])) ++n;
      std::string_view lname = s.substr(0, n);
      s.remove_prefix(n);
      if (lname == "__name__")
        return Fail(fmt::format("label name \"__name__\" is reserved (in {})", Quote(metric)));
      for (const auto& l : labels_) {
        if (l.name == lname)
          return Fail(fmt::format("duplicate label {} in {}", Quote(lname), Quote(metric)));
      }
      if (labels_.size() >= kMaxLabels) {
        return Fail(fmt::format("more than {} labels in {}", kMaxLabels, Quote(metric)));
      }
      SkipBlanks(s);
      if (s.empty() || s.front() != '=') {
        return Fail(fmt::format("expected '=' after label name {}, got {}", Quote(lname), DescribeNext(s)));
      }
      s.remove_prefix(1);
      SkipBlanks(s);
      if (s.empty() || s.front() != '"') {
        return Fail(fmt::format("expected '\"' to open the value of label {}, got {}", Quote(lname),
                                DescribeNext(s)));
      }
      s.remove_prefix(1);
      size_t start = values_.size();
      bool closed = false;
      while (!s.empty()) {
        char c = s.front();
        s.remove_prefix(1);
        if (c == '"') {
          closed = true;
          break;
        }
        if (c != '\\') {
          values_ += c;
          continue;
        }
        if (s.empty()) break;
        char e = s.front();
        s.remove_prefix(1);
        if (e == '\\' || e == '"') {
          values_ += e;
        } else if (e == 'n') {
          values_ += '\n';
        } else {
          return Fail(fmt::format("invalid escape sequence {} in the value of label {}",
                                  Quote(std::string{'\\', e}), Quote(lname)));
        }
      }
      if (!closed) return Fail(fmt::format("unterminated value of label {}", Quote(lname)));
      std::string_view value(values_.data() + start, values_.size() - start);
      if (!ValidUtf8(value)) return Fail(fmt::format("value of label {} is not UTF-8", Quote(lname)));
      labels_.push_back({lname, value});
      SkipBlanks(s);
      if (s.empty()) return Fail(fmt::format("unterminated label set of {}", Quote(metric)));
      if (s.front() == ',') {
        s.remove_prefix(1);
        continue;
      }
      if (s.front() != '}') {
        return Fail(fmt::format("expected ',' or '}}' after the value of label {}, got {}", Quote(lname),
                                DescribeNext(s)));
      }
    }
  }

  std::string_view source_;
  const std::function<void(const SampleView&)>& on_sample_;
  const std::function<void(const FamilyView&)>& on_family_;
  int line_no_ = 0;
  std::vector<LabelView> labels_;
  std::string values_;
  std::string help_;
  std::vector<std::pair<std::string, MetricType>> types_;
};

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kUntyped:
      return "untyped";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
  }
  return "untyped";
}

std::optional<std::string_view> SampleView::Label(std::string_view label_name) const {
  for (const auto& l : labels) {
    if (l.name == label_name) return l.value;
  }
  return std::nullopt;
}

Status ParseExposition(std::string_view text, std::string_view source,
                       const std::function<void(const SampleView&)>& on_sample,
                       const std::function<void(const FamilyView&)>& on_family) {
  Parser parser(source, on_sample, on_family);
  return parser.Run(text);
}

const std::string* Sample::FindLabel(std::string_view label_name) const {
  for (const auto& l : labels) {
    if (l.name == label_name) return &l.value;
  }
  return nullptr;
}

const Family* Exposition::FindFamily(std::string_view name) const {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Family* Exposition::FamilyOf(const Sample& sample) const {
  if (const Family* f = FindFamily(sample.name)) return f;
  std::string_view n = sample.name;
  for (std::string_view suffix : {"_bucket", "_sum", "_count", "_total"}) {
    if (n.size() > suffix.size() && n.substr(n.size() - suffix.size()) == suffix) {
      const Family* f = FindFamily(n.substr(0, n.size() - suffix.size()));
      if (!f) continue;
      bool fits = suffix == "_total" ? f->type == MetricType::kCounter
                                     : (f->type == MetricType::kHistogram || f->type == MetricType::kSummary);
      if (suffix == "_bucket" && f->type != MetricType::kHistogram) fits = false;
      if (fits) return f;
    }
  }
  return nullptr;
}

Result<Exposition> ParseExpositionText(std::string_view text, std::string_view source) {
  Exposition out;
  auto family_slot = [&](std::string_view name) -> Family& {
    for (auto& f : out.families) {
      if (f.name == name) return f;
    }
    out.families.push_back(Family{.name = std::string(name), .type = MetricType::kUntyped, .help = {}});
    return out.families.back();
  };
  Status st = ParseExposition(
      text, source,
      [&](const SampleView& s) {
        Sample owned{.name = std::string(s.name),
                     .labels = {},
                     .value = s.value,
                     .timestamp_ms = s.timestamp_ms,
                     .line = s.line};
        owned.labels.reserve(s.labels.size());
        for (const auto& l : s.labels) owned.labels.push_back({std::string(l.name), std::string(l.value)});
        out.samples.push_back(std::move(owned));
      },
      [&](const FamilyView& f) {
        Family& slot = family_slot(f.name);
        if (f.type) slot.type = *f.type;
        if (f.help) slot.help = std::string(*f.help);
      });
  if (!st.ok()) return st.error();
  return out;
}

}  // namespace uvm::guest
