// Text from outside (a config value, a manifest key, a file name) quoted for an error message: in double
// quotes, with `"` and `\` escaped and control bytes written as \u00XX, so that a hostile value cannot
// forge a second log line or hide itself; also how TOML writes a basic string. Header-only, std only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace uvm {

// `max_bytes` > 0 cuts longer text there and marks the cut with "...".
inline std::string QuoteText(std::string_view text, size_t max_bytes = 0) {
  constexpr char kHex[] = "0123456789abcdef";
  bool cut = max_bytes > 0 && text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  if (cut) out += "...";
  return out;
}

}  // namespace uvm
