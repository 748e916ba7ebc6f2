#include "sizer/formats/kubelet_config.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <map>
#include <new>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "base/quote.h"
#include "sizer/quantity.h"

namespace uvm::sizer::formats {
namespace {

// The one eviction signal that lowers memory allocatable (pkg/kubelet/eviction/api SignalMemoryAvailable).
constexpr std::string_view kMemoryAvailable = "memory.available";

Error Invalid(std::string message) {
  return Error{std::move(message), ErrorCode::kInvalidInput};
}

// `value` of `field` as a non-negative quantity: memory in bytes, cpu in millicores.
Result<int64_t> ReservedAmount(std::string_view field, std::string_view resource, std::string_view value) {
  auto quantity = Quantity::Parse(value);
  if (!quantity) return Invalid(fmt::format("{}.{}: {}", field, resource, quantity.error().message));
  if (quantity->IsNegative()) {
    return Invalid(fmt::format("{}.{}: {} is negative", field, resource, QuoteText(value)));
  }
  if (resource == "cpu") {
    if (quantity->MilliValueOverflows()) {
      return Invalid(fmt::format("{}.{}: {} is too large", field, resource, QuoteText(value)));
    }
    return quantity->MilliValue();
  }
  if (quantity->ValueOverflows()) {
    return Invalid(fmt::format("{}.{}: {} is too large", field, resource, QuoteText(value)));
  }
  return quantity->Value();
}

// A reservation map (kubeReserved, systemReserved, --kube-reserved): cpu and memory are read, other
// resources (pid, ephemeral-storage) do not change what the ledger counts.
Status ApplyReserved(std::string_view field, const std::vector<std::pair<std::string, std::string>>& entries,
                     int64_t& memory_bytes, int64_t& cpu_millis) {
  memory_bytes = 0;
  cpu_millis = 0;
  for (const auto& [resource, value] : entries) {
    if (resource != "memory" && resource != "cpu") continue;
    auto amount = ReservedAmount(field, resource, value);
    if (!amount) return amount.error();
    (resource == "memory" ? memory_bytes : cpu_millis) = *amount;
  }
  return {};
}

// evictionHard's memory.available: "750Mi" or "5%". Once evictionHard is given at all, signals it leaves
// out are 0, not the defaults ("If you change the value of any parameter, then the values of other
// parameters will not be inherited as the default values and will be set to zero": kubernetes.io docs,
// Node-pressure Eviction, "Hard eviction thresholds").
Status ApplyEvictionHard(std::string_view field,
                         const std::vector<std::pair<std::string, std::string>>& entries,
                         KubeletReservations& out) {
  out.eviction_hard_memory_bytes = 0;
  out.eviction_hard_memory_percent.reset();
  for (const auto& [signal, value] : entries) {
    if (signal != kMemoryAvailable) continue;
    if (!value.empty() && value.back() == '%') {
      std::string_view number(value.data(), value.size() - 1);
      double percent = 0;
      auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), percent);
      if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(percent) ||
          percent < 0 || percent > 100) {
        return Invalid(
            fmt::format("{}.{}: {} is not a percentage from 0% to 100%", field, signal, QuoteText(value)));
      }
      out.eviction_hard_memory_bytes.reset();
      out.eviction_hard_memory_percent = percent;
      continue;
    }
    auto amount = ReservedAmount(field, signal, value);
    if (!amount) return amount.error();
    out.eviction_hard_memory_bytes = *amount;
  }
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> StringMap(const YAML::Node& node,
                                                                   std::string_view field) {
  if (!node.IsMap()) return Invalid(fmt::format("{}: expected a map of strings", field));
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
      return Invalid(fmt::format("{}: expected a map of strings", field));
    }
    entries.emplace_back(entry.first.Scalar(), entry.second.Scalar());
  }
  return entries;
}

// `key=value,key=value` (kube-reserved) or `signal<value,signal<value` (eviction-hard).
Result<std::vector<std::pair<std::string, std::string>>> FlagMap(std::string_view flag, std::string_view text,
                                                                 char separator) {
  std::vector<std::pair<std::string, std::string>> entries;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    size_t split = item.find(separator);
    if (split == std::string_view::npos) {
      return Invalid(fmt::format("--{}: {} has no '{}'", flag, QuoteText(item), separator));
    }
    entries.emplace_back(std::string(item.substr(0, split)), std::string(item.substr(split + 1)));
  }
  return entries;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\\';
}

// Shell-ish words of an environment file or a command line: quotes are dropped and a `NAME=--flag` word
// (KUBELET_FLAGS=--address=...) gives its flag.
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    size_t assignment = word.find("=--");
    if (!word.starts_with("--") && assignment != std::string::npos) word.erase(0, assignment + 1);
    words.push_back(std::move(word));
    word.clear();
  };
  for (char c : text) {
    if (IsSpace(c)) {
      flush();
    } else if (c != '"' && c != '\'') {
      word.push_back(c);
    }
  }
  flush();
  return words;
}

// yaml-cpp's parser recurses once per nesting level and would overflow the stack on a hostile file; its
// events arrive as it descends, so a first pass that counts them stops it early. A KubeletConfiguration
// nests 3 deep.
class DepthGuard final : public YAML::EventHandler {
 public:
  static constexpr int kMaxDepth = 64;
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Enter();
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    Enter();
  }
  void OnMapEnd() override { --depth_; }

 private:
  void Enter() {
    if (++depth_ > kMaxDepth)
      throw std::runtime_error(fmt::format("nested deeper than {} levels", kMaxDepth));
  }
  int depth_ = 0;
};

}  // namespace

Result<KubeletReservations> ParseKubeletConfiguration(std::string_view text) {
  KubeletReservations out;
  try {
    std::string copy(text);
    {
      std::istringstream stream(copy);
      YAML::Parser parser(stream);
      DepthGuard guard;
      // The configuration is the first document, the only one YAML::Load reads. Only that one is
      // guarded: on some malformed input yaml-cpp 0.7 reports an endless run of empty documents.
      parser.HandleNextDocument(guard);
    }
    YAML::Node root = YAML::Load(copy);
    if (!root || root.IsNull()) return out;
    if (!root.IsMap()) return Invalid("KubeletConfiguration: expected a map at the top level");
    for (std::string_view field : {"kubeReserved", "systemReserved"}) {
      YAML::Node node = root[std::string(field)];
      if (!node || node.IsNull()) continue;
      auto entries = StringMap(node, field);
      if (!entries) return entries.error();
      bool kube = field == "kubeReserved";
      UVM_TRY(ApplyReserved(field, *entries,
                            kube ? out.kube_reserved_memory_bytes : out.system_reserved_memory_bytes,
                            kube ? out.kube_reserved_cpu_millis : out.system_reserved_cpu_millis));
    }
    if (YAML::Node node = root["evictionHard"]; node && !node.IsNull()) {
      auto entries = StringMap(node, "evictionHard");
      if (!entries) return entries.error();
      UVM_TRY(ApplyEvictionHard("evictionHard", *entries, out));
    }
  } catch (const std::bad_alloc&) {
    return Error{"KubeletConfiguration: out of memory", ErrorCode::kResourceExhausted};
  } catch (const std::exception& e) {
    return Invalid(fmt::format("KubeletConfiguration: {}", e.what()));
  }
  return out;
}

Result<KubeletReservations> ParseKubeletFlags(std::string_view text, const KubeletReservations& file) {
  // The last occurrence of a flag wins (pflag sets the value again).
  std::map<std::string, std::string, std::less<>> last;
  std::vector<std::string> words = Words(text);
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view word = words[i];
    for (std::string_view flag : {"kube-reserved", "system-reserved", "eviction-hard"}) {
      std::string name = fmt::format("--{}", flag);
      if (word == name && i + 1 < words.size()) {
        last[std::string(flag)] = words[++i];
      } else if (word.starts_with(name + "=")) {
        last[std::string(flag)] = std::string(word.substr(name.size() + 1));
      }
    }
  }
  KubeletReservations out = file;
  for (std::string_view flag : {"kube-reserved", "system-reserved"}) {
    auto found = last.find(flag);
    if (found == last.end()) continue;
    auto entries = FlagMap(flag, found->second, '=');
    if (!entries) return entries.error();
    bool kube = flag == "kube-reserved";
    UVM_TRY(ApplyReserved(fmt::format("--{}", flag), *entries,
                          kube ? out.kube_reserved_memory_bytes : out.system_reserved_memory_bytes,
                          kube ? out.kube_reserved_cpu_millis : out.system_reserved_cpu_millis));
  }
  if (auto found = last.find("eviction-hard"); found != last.end()) {
    auto entries = FlagMap("eviction-hard", found->second, '<');
    if (!entries) return entries.error();
    UVM_TRY(ApplyEvictionHard("--eviction-hard", *entries, out));
  }
  return out;
}

}  // namespace uvm::sizer::formats
