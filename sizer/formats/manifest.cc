#include "sizer/formats/manifest.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <initializer_list>
#include <istream>
#include <map>
#include <new>
#include <optional>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/anchor.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "base/error_codes.h"

namespace uvm::sizer::formats {
namespace {

// yaml-cpp 0.7's own recursion guard stops its parser at 500 levels (DepthGuard<500> in
// singledocparser.cpp, thrown as YAML::DeepRecursion); the tree we
// build below is walked only along the fixed paths of a pod, so nothing here recurses with the input
// except `List` items, which we bound ourselves.
constexpr int kMaxListDepth = 8;
// A YAML node costs ~100 bytes here: 2^21 nodes keep a hostile input near 200 MiB of memory while a
// `kubectl get pods -A -o yaml` of several thousand pods still fits.
constexpr size_t kMaxNodes = size_t{1} << 21;
// yaml-cpp's Mark holds positions in an int.
constexpr size_t kMaxInputBytes = size_t{256} << 20;
// Aliases let a few bytes stand for a large tree (the "billion laughs" shape); reading is bounded by
// nodes visited, a generous multiple of the input.
constexpr uint64_t kVisitsPerNode = 64;
constexpr uint64_t kMinVisits = 1 << 18;

// Shortened and escaped text for a message: input may hold control bytes or megabytes.
std::string Quote(std::string_view text, size_t max = 64) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : text) {
    if (n++ == max) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// Names and kinds as they appear in headers and warnings: Quote's escaping and bound, without the quotes.
std::string Plain(std::string_view text, size_t max = 64) {
  std::string q = Quote(text, max);
  return q.substr(1, q.size() - 2);
}

// The YAML event stream folded into a small tree we own: yaml-cpp's YAML::Node would work too, but its
// nodes are several times larger, it cannot tell which document a syntax error is in, and it cannot bound
// how much memory an input takes.
struct YNode {
  enum class Type : uint8_t { kNull, kScalar, kSequence, kMap };
  Type type = Type::kNull;
  bool plain = false;     // an untagged scalar written without quotes (`cpu: 1.5`, not `cpu: "1.5"`)
  bool complete = false;  // its end event was seen; aliases may only point at complete nodes
  YAML::Mark mark;
  std::string scalar;
  // Sequence: the items. Map: key, value, key, value, ... (aliases make this a DAG, never a cycle).
  std::vector<const YNode*> children;
};

struct TooBig {
  std::string message;
};

class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::deque<YNode>& arena, size_t& node_count) : arena_(arena), count_(node_count) {}

  const YNode* root() const { return root_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YNode& n = New(mark, YNode::Type::kNull, anchor);
    n.complete = true;
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    // yaml-cpp already refuses undefined anchors; an alias inside its own anchored node would make a cycle.
    if (it == anchors_.end() || !it->second->complete) {
      throw TooBig{fmt::format("line {}, column {}: an alias refers to a node that contains it",
                               mark.line + 1, mark.column + 1)};
    }
    Attach(it->second);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YNode& n = New(mark, YNode::Type::kScalar, anchor);
    n.scalar = value;
    n.plain = tag == "?";
    n.complete = true;
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    stack_.push_back(&New(mark, YNode::Type::kSequence, anchor));
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    stack_.push_back(&New(mark, YNode::Type::kMap, anchor));
  }
  void OnMapEnd() override { Close(); }

 private:
  YNode& New(const YAML::Mark& mark, YNode::Type type, YAML::anchor_t anchor) {
    if (++count_ > kMaxNodes) {
      throw TooBig{
          fmt::format("the input has more than {} YAML nodes; split it into smaller files", kMaxNodes)};
    }
    YNode& n = arena_.emplace_back();
    n.type = type;
    n.mark = mark;
    if (anchor != YAML::NullAnchor) anchors_[anchor] = &n;
    Attach(&n);
    return n;
  }
  void Attach(const YNode* n) {
    if (stack_.empty()) {
      root_ = n;
    } else {
      stack_.back()->children.push_back(n);
    }
  }
  void Close() {
    if (stack_.empty()) return;
    stack_.back()->complete = true;
    stack_.pop_back();
  }

  std::deque<YNode>& arena_;
  size_t& count_;
  std::vector<YNode*> stack_;
  std::map<YAML::anchor_t, YNode*> anchors_;
  const YNode* root_ = nullptr;
};

// A read-only istream over the caller's text, so parsing does not copy it.
class ViewBuf final : public std::streambuf {
 public:
  explicit ViewBuf(std::string_view text) {
    char* p = const_cast<char*>(text.data());  // NOLINT: get area only, never written
    setg(p, p, p + text.size());
  }
};

const char* TypeName(const YNode& n) {
  switch (n.type) {
    case YNode::Type::kNull:
      return "null";
    case YNode::Type::kScalar:
      return "a scalar";
    case YNode::Type::kSequence:
      return "a list";
    case YNode::Type::kMap:
      return "a map";
  }
  return "?";
}

std::string Describe(const YNode& n) {
  if (n.type == YNode::Type::kScalar) return Quote(n.scalar);
  return TypeName(n);
}

// Reads one document's objects. Every error names the document, the object and the full field path.
class Reader {
 public:
  Reader(int document, uint64_t visit_budget, Manifest& out)
      : document_(document), visits_left_(visit_budget), out_(out) {}

  Status ReadDocument(const YNode* root) {
    if (root == nullptr || root->type == YNode::Type::kNull) return {};  // `---` alone, or only comments
    if (root->type != YNode::Type::kMap) {
      return InvalidInput(fmt::format("document {}: must be a map (a Kubernetes object), got {}", document_,
                                      Describe(*root)));
    }
    return ReadObject(*root, "", "", 0);
  }

 private:
  struct Object {
    std::string kind;
    std::string namespace_;
    std::string name;
  };

  // `prefix` is the path of this object inside its document ("" or "items[3]."); `list_kind` is the
  // element kind of a typed list (PodList items carry no kind of their own).
  Status ReadObject(const YNode& obj, const std::string& prefix, std::string_view list_kind, int list_depth) {
    current_ = Object{};
    auto kind_node = Field(obj, "kind", prefix);
    if (!kind_node) return kind_node.error();
    std::string kind;
    if (*kind_node == nullptr || (*kind_node)->type == YNode::Type::kNull) {
      if (list_kind.empty()) return Fail(prefix + "kind", "missing");
      kind = list_kind;
    } else if ((*kind_node)->type != YNode::Type::kScalar) {
      return Fail(prefix + "kind", fmt::format("must be a string, got {}", Describe(**kind_node)));
    } else {
      kind = (*kind_node)->scalar;
    }
    if (auto st = ReadMetadata(obj, prefix, kind); !st) return st;

    if (kind == "List" || (kind.size() > 4 && kind.ends_with("List"))) {
      return ReadList(obj, prefix,
                      kind == "List" ? std::string_view{} : std::string_view(kind).substr(0, kind.size() - 4),
                      list_depth);
    }
    if (kind == "Pod") return ReadPod(obj, prefix, {"spec"});
    if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "ReplicaSet" ||
        kind == "ReplicationController" || kind == "Job") {
      return ReadPod(obj, prefix, {"spec", "template", "spec"});
    }
    if (kind == "CronJob") return ReadPod(obj, prefix, {"spec", "jobTemplate", "spec", "template", "spec"});
    if (kind == "PodTemplate") return ReadPod(obj, prefix, {"template", "spec"});
    if (kind == "RuntimeClass") return ReadRuntimeClass(obj, prefix);
    out_.warnings.push_back(fmt::format("{}: kind {} skipped", Header(), Plain(kind)));
    return {};
  }

  Status ReadMetadata(const YNode& obj, const std::string& prefix, std::string kind) {
    current_.kind = std::move(kind);
    current_.namespace_ = "default";
    auto meta = Map(obj, "metadata", prefix);
    if (!meta) return meta.error();
    if (*meta == nullptr) return {};
    std::string path = prefix + "metadata.";
    std::string generate_name;
    for (auto [key, target] : {std::pair<const char*, std::string*>{"name", &current_.name},
                               {"namespace", &current_.namespace_},
                               {"generateName", &generate_name}}) {
      auto v = String(**meta, key, path);
      if (!v) return v.error();
      if (*v && !(*v)->empty()) *target = std::move(**v);
    }
    if (current_.name.empty()) current_.name = generate_name;
    return {};
  }

  Status ReadList(const YNode& obj, const std::string& prefix, std::string_view item_kind, int list_depth) {
    if (list_depth >= kMaxListDepth) {
      return Fail(prefix + "items", fmt::format("lists nested more than {} deep", kMaxListDepth));
    }
    auto items = Field(obj, "items", prefix);
    if (!items) return items.error();
    if (*items == nullptr || (*items)->type == YNode::Type::kNull) return {};
    if ((*items)->type != YNode::Type::kSequence) {
      return Fail(prefix + "items", fmt::format("must be a list, got {}", Describe(**items)));
    }
    const Object list = current_;
    for (size_t i = 0; i < (*items)->children.size(); ++i) {
      const YNode& item = *(*items)->children[i];
      std::string path = fmt::format("{}items[{}]", prefix, i);
      if (auto st = Visit(path); !st) return st;
      if (item.type != YNode::Type::kMap) {
        current_ = list;
        return Fail(path, fmt::format("must be a map (a Kubernetes object), got {}", Describe(item)));
      }
      if (auto st = ReadObject(item, path + ".", item_kind, list_depth + 1); !st) return st;
    }
    return {};
  }

  Status ReadPod(const YNode& obj, const std::string& prefix, std::initializer_list<const char*> spec_path) {
    const YNode* node = &obj;
    std::string path = prefix;
    for (const char* step : spec_path) {
      auto next = Map(*node, step, path);
      if (!next) return next.error();
      path += step;
      if (*next == nullptr) return Fail(path, "missing");
      node = *next;
      path += '.';
    }
    Pod pod;
    pod.ref = ObjectRef{current_.kind, current_.namespace_, current_.name, document_};
    if (auto st = ReadPodSpec(*node, path, pod.spec); !st) return st;
    out_.pods.push_back(std::move(pod));
    return {};
  }

  Status ReadPodSpec(const YNode& spec, const std::string& path, PodSpec& out) {
    auto containers = Containers(spec, "containers", path, out.containers);
    if (!containers) return containers;
    if (out.containers.empty())
      return Fail(path + "containers", "missing (a pod needs at least one container)");
    if (auto st = Containers(spec, "initContainers", path, out.init_containers); !st) return st;
    if (auto st = Requirements(spec, "resources", path, out.pod_resources); !st) return st;
    if (auto st = Resources(spec, "overhead", path, out.overhead); !st) return st;
    auto rc = String(spec, "runtimeClassName", path);
    if (!rc) return rc.error();
    if (*rc && !(*rc)->empty()) out.runtime_class_name = std::move(**rc);
    return {};
  }

  Status Containers(const YNode& spec, const char* key, const std::string& path,
                    std::vector<Container>& out) {
    auto list = Field(spec, key, path);
    if (!list) return list.error();
    if (*list == nullptr || (*list)->type == YNode::Type::kNull) return {};
    std::string list_path = path + key;
    if ((*list)->type != YNode::Type::kSequence) {
      return Fail(list_path, fmt::format("must be a list of containers, got {}", Describe(**list)));
    }
    const bool init = std::string_view(key) == "initContainers";
    for (size_t i = 0; i < (*list)->children.size(); ++i) {
      const YNode& c = *(*list)->children[i];
      std::string c_path = fmt::format("{}[{}]", list_path, i);
      if (auto st = Visit(c_path); !st) return st;
      if (c.type != YNode::Type::kMap) {
        return Fail(c_path, fmt::format("must be a map (a container), got {}", Describe(c)));
      }
      c_path += '.';
      Container container;
      auto name = String(c, "name", c_path);
      if (!name) return name.error();
      if (*name) container.name = std::move(**name);
      if (auto st = Requirements(c, "resources", c_path, container.resources); !st) return st;
      if (init) {
        auto policy = String(c, "restartPolicy", c_path);
        if (!policy) return policy.error();
        // KEP-753: an init container with restartPolicy Always is a sidecar.
        container.restart_policy_always = *policy && **policy == "Always";
      }
      out.push_back(std::move(container));
    }
    return {};
  }

  Status ReadRuntimeClass(const YNode& obj, const std::string& prefix) {
    auto api = String(obj, "apiVersion", prefix);
    if (!api) return api.error();
    // node.k8s.io/v1beta1 has the same top-level handler/overhead layout as v1; v1alpha1 nests them in spec.
    if (!*api || (**api != "node.k8s.io/v1" && **api != "node.k8s.io/v1beta1")) {
      out_.warnings.push_back(fmt::format("{}: RuntimeClass with apiVersion {} skipped (want node.k8s.io/v1)",
                                          Header(), *api ? Plain(**api) : std::string("(none)")));
      return {};
    }
    RuntimeClass rc;
    rc.name = current_.name;
    if (rc.name.empty()) return Fail(prefix + "metadata.name", "missing");
    auto handler = String(obj, "handler", prefix);
    if (!handler) return handler.error();
    if (!*handler || (*handler)->empty()) return Fail(prefix + "handler", "missing");
    rc.handler = std::move(**handler);
    auto overhead = Map(obj, "overhead", prefix);
    if (!overhead) return overhead.error();
    if (*overhead) {
      if (auto st = Resources(**overhead, "podFixed", prefix + "overhead.", rc.overhead_pod_fixed); !st)
        return st;
    }
    out_.runtime_classes.push_back(std::move(rc));
    return {};
  }

  Status Requirements(const YNode& parent, const char* key, const std::string& path,
                      ResourceRequirements& out) {
    auto node = Map(parent, key, path);
    if (!node) return node.error();
    if (*node == nullptr) return {};
    std::string p = path + key + ".";
    if (auto st = Resources(**node, "limits", p, out.limits); !st) return st;
    return Resources(**node, "requests", p, out.requests);
  }

  Status Resources(const YNode& parent, const char* key, const std::string& path, ResourceList& out) {
    auto node = Map(parent, key, path);
    if (!node) return node.error();
    if (*node == nullptr) return {};
    std::string p = path + key + ".";
    // Other resources (ephemeral-storage, GPUs, hugepages) do not size the UVM.
    if (auto st = ReadQuantity(**node, "cpu", p, /*cpu=*/true, out.cpu); !st) return st;
    return ReadQuantity(**node, "memory", p, /*cpu=*/false, out.memory);
  }

  Status ReadQuantity(const YNode& list, const char* key, const std::string& path, bool cpu,
                      std::optional<Quantity>& out) {
    auto node = Field(list, key, path);
    if (!node) return node.error();
    // apimachinery reads `cpu: null` as a zero quantity, which every kubelet path treats as undeclared.
    if (*node == nullptr || (*node)->type == YNode::Type::kNull) return {};
    std::string field = path + key;
    const YNode& n = **node;
    if (n.type != YNode::Type::kScalar) {
      return Fail(field, fmt::format("must be a quantity (a string or a number), got {}", TypeName(n)));
    }
    if (n.plain) {
      if (auto st = CheckYaml11Number(n.scalar, field); !st) return st;
    }
    auto q = Quantity::Parse(n.scalar);
    if (!q) return Fail(field, q.error().message);
    // API validation (ValidateResourceQuantityValue) refuses negative resources.
    if (q->IsNegative()) return Fail(field, fmt::format("must not be negative, got {}", Quote(n.scalar)));
    if (cpu && q->MilliValueOverflows()) {
      return Fail(field, fmt::format("{} is too large for a CPU quantity (its millicores overflow int64)",
                                     Quote(n.scalar)));
    }
    out = *q;
    return {};
  }

  // kubectl turns YAML into JSON with YAML 1.1 rules (sigs.k8s.io/yaml on go-yaml v2, whose resolver
  // strips `_` and calls strconv.ParseInt(s, 0, 64)): a bare `010` is octal 8, `0x10` is 16 and `1_000` is
  // 1000, where the quantity grammar reads "010" as 10 and refuses the others. Rather than guess which
  // reading the user meant, say so.
  Status CheckYaml11Number(std::string_view s, const std::string& field) {
    std::string_view d = s;
    if (!d.empty() && (d[0] == '+' || d[0] == '-')) d.remove_prefix(1);
    auto all_of = [](std::string_view v, std::string_view set) {
      return !v.empty() && v.find_first_not_of(set) == std::string_view::npos;
    };
    bool ambiguous = false;
    if (d.find('_') != std::string_view::npos) {
      ambiguous = all_of(d, "0123456789abcdefABCDEFxXoObB_");
    } else if (d.size() > 2 && d[0] == '0' &&
               std::string_view("xXoObB").find(d[1]) != std::string_view::npos) {
      ambiguous = all_of(d.substr(2), "0123456789abcdefABCDEF");
    } else if (d.size() >= 2 && d[0] == '0' && all_of(d, "01234567")) {
      // "007" is 7 either way; "010" is not.
      size_t nonzero = d.find_first_not_of('0');
      ambiguous = nonzero != std::string_view::npos && d.size() - nonzero >= 2;
    }
    if (!ambiguous) return {};
    return Fail(
        field, fmt::format("bare number {} means something else to Kubernetes (YAML 1.1 reads it as an "
                           "octal, hex or binary integer, or drops its `_`); quote it or write it in decimal",
                           Quote(s)));
  }

  // The value of `key` in map `m` (nullptr when absent). A duplicated key is an error, as it is for kubectl.
  Result<const YNode*> Field(const YNode& m, std::string_view key, const std::string& path) {
    const YNode* found = nullptr;
    for (size_t i = 0; i + 1 < m.children.size(); i += 2) {
      const YNode& k = *m.children[i];
      if (k.type != YNode::Type::kScalar || k.scalar != key) continue;
      if (found != nullptr) {
        return Fail(fmt::format("{}{}", path, key), fmt::format("duplicate key (line {})", k.mark.line + 1));
      }
      found = m.children[i + 1];
    }
    // Scanning counts as work: aliases can make one large map be read many times.
    if (auto st = Visit(path, 1 + m.children.size() / 2); !st) return st.error();
    return found;
  }

  // Like Field, and the value must be a map; null counts as absent.
  Result<const YNode*> Map(const YNode& m, std::string_view key, const std::string& path) {
    auto v = Field(m, key, path);
    if (!v || *v == nullptr) return v;
    if ((*v)->type == YNode::Type::kNull) return static_cast<const YNode*>(nullptr);
    if ((*v)->type != YNode::Type::kMap) {
      return Fail(fmt::format("{}{}", path, key), fmt::format("must be a map, got {}", Describe(**v)));
    }
    return v;
  }

  // Like Field, and the value must be a scalar; null counts as absent.
  Result<std::optional<std::string>> String(const YNode& m, std::string_view key, const std::string& path) {
    auto v = Field(m, key, path);
    if (!v) return v.error();
    if (*v == nullptr || (*v)->type == YNode::Type::kNull) return std::optional<std::string>{};
    if ((*v)->type != YNode::Type::kScalar) {
      return Fail(fmt::format("{}{}", path, key), fmt::format("must be a string, got {}", TypeName(**v)));
    }
    return std::optional<std::string>((*v)->scalar);
  }

  Status Visit(std::string_view path, uint64_t cost = 1) {
    if (visits_left_ < cost) {
      return Fail(path, "the input expands into too many objects through YAML aliases");
    }
    visits_left_ -= cost;
    return {};
  }

  std::string Header() const {
    if (current_.kind.empty()) return fmt::format("document {}", document_);
    return fmt::format("document {} ({} {}/{})", document_, Plain(current_.kind), Plain(current_.namespace_),
                       current_.name.empty() ? "<unnamed>" : Plain(current_.name));
  }

  Error Fail(std::string_view field, std::string_view what) const {
    return InvalidInput(fmt::format("{}: {}: {}", Header(), field, what));
  }

  int document_;
  uint64_t visits_left_;
  Manifest& out_;
  Object current_;
};

}  // namespace

Result<Manifest> ParseManifest(std::string_view yaml_text) {
  if (yaml_text.size() > kMaxInputBytes) {
    return Error{.message = fmt::format("the input is {} bytes; at most {} are read", yaml_text.size(),
                                        kMaxInputBytes),
                 .code = ErrorCode::kResourceExhausted};
  }
  int document = 0;
  try {
    Manifest out;
    ViewBuf buf(yaml_text);
    std::istream in(&buf);
    YAML::Parser parser(in);
    size_t node_count = 0;
    for (;;) {
      ++document;
      std::deque<YNode> arena;
      TreeBuilder builder(arena, node_count);
      if (!parser.HandleNextDocument(builder)) break;
      uint64_t budget = std::max<uint64_t>(kMinVisits, arena.size() * kVisitsPerNode);
      Reader reader(document, budget, out);
      if (auto st = reader.ReadDocument(builder.root()); !st) return st.error();
    }
    return out;
  } catch (const YAML::DeepRecursion& e) {
    return InvalidInput(fmt::format("document {}: YAML nested more than {} levels deep at line {}, column {}",
                                    document, e.depth() - 1, e.mark.line + 1, e.mark.column + 1));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null())
      return InvalidInput(fmt::format("document {}: YAML error: {}", document, Plain(e.msg, 200)));
    return InvalidInput(fmt::format("document {}: YAML syntax error at line {}, column {}: {}", document,
                                    e.mark.line + 1, e.mark.column + 1, Plain(e.msg, 200)));
  } catch (const TooBig& e) {
    return InvalidInput(fmt::format("document {}: {}", document, e.message));
  } catch (const std::bad_alloc&) {
    return Error{.message = fmt::format("document {}: out of memory reading the input", document),
                 .code = ErrorCode::kResourceExhausted};
  } catch (const std::exception& e) {
    return Error{fmt::format("document {}: {}", document, Plain(e.what(), 200))};
  }
}

}  // namespace uvm::sizer::formats
