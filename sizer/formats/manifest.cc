#include "sizer/formats/manifest.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <initializer_list>
#include <istream>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <streambuf>
#include <string>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/anchor.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/emitterstyle.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>
#include <nlohmann/json.hpp>

#include "base/error_codes.h"

namespace uvm::sizer::formats {
namespace {

// yaml-cpp 0.7's own recursion guard stops its parser at 500 levels (DepthGuard<500> in
// singledocparser.cpp, thrown as YAML::DeepRecursion); JSON input gets the same bound from us. The tree
// built below is walked only along the fixed paths of a pod, so nothing here recurses with the input
// except `List` items, which we bound ourselves.
constexpr int kMaxListDepth = 8;
constexpr size_t kMaxJsonDepth = 499;
// A YAML node costs ~100 bytes here: 2^21 nodes held at once keep a hostile input near 200 MiB. The bound
// is on nodes held: items of a document's root `items` list are read and freed as they complete, so a
// `kubectl get pods -A -o yaml` of any size stays far below it.
constexpr size_t kMaxNodes = size_t{1} << 21;
// yaml-cpp's Mark holds positions in an int.
constexpr size_t kMaxInputBytes = size_t{256} << 20;
// Map keys are field names, label and annotation keys (at most 317 bytes in the API); YAML's own simple
// keys stop at 1024 characters (go-yaml scannerc.go, yaml_simple_key_is_valid).
constexpr size_t kMaxKeyBytes = size_t{64} << 10;
// apimachinery validation (pkg/api/validation/objectmeta.go, ValidateAnnotationsSize,
// TotalAnnotationSizeLimitB = 256 * (1 << 10)) sums len(key) + len(value) over all annotations.
constexpr size_t kMaxAnnotationBytes = size_t{256} << 10;
// Aliases let a few bytes stand for a large tree (the "billion laughs" shape); reading is bounded by
// nodes visited, a generous multiple of the nodes the input really has.
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

// The event streams of yaml-cpp and of nlohmann's JSON SAX parser, folded into one small tree we own:
// yaml-cpp's YAML::Node is several times larger, cannot tell which document a syntax error is in, and
// cannot bound how much memory an input takes.
struct YNode {
  enum class Type : uint8_t { kNull, kScalar, kSequence, kMap };
  Type type = Type::kNull;
  bool plain = false;      // an untagged scalar written without quotes (`cpu: 1.5`, not `cpu: "1.5"`)
  bool complete = false;   // its end event was seen; aliases may only point at complete nodes
  bool merge_key = false;  // the scalar `<<` (YAML 1.1 merge), untagged or tagged !!merge
  bool has_merge = false;  // a map with a `<<` key, resolved when it closes
  bool block = false;      // a block (indented) map, not a flow `{...}` one
  YAML::Mark mark;
  std::string scalar;
  // Sequence: the items. Map: key, value, key, value, ... (aliases make this a DAG, never a cycle).
  std::vector<const YNode*> children;
};

// Nodes are allocated in arenas: one per document, and one per item of the root `items` list, freed
// once the item is read unless an anchor in it may still be referred to.
struct Arena {
  std::deque<YNode> nodes;
  bool has_anchor = false;
};

// Thrown inside the parse and caught in ParseManifest: the event handlers cannot return errors.
struct Stop {
  Error error;
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

bool IsListKind(std::string_view kind) {
  return kind == "List" || (kind.size() > 4 && kind.ends_with("List"));
}

// True when go-yaml v2 (what kubectl's sigs.k8s.io/yaml uses) resolves a plain scalar to a bool, int or
// float rather than a string (resolve.go: resolveMapList and resolve()); kubectl then refuses it where
// the API wants a string: `json: cannot unmarshal bool into Go struct field ... of type string`.
bool Yaml11NonString(std::string_view s) {
  static const std::unordered_set<std::string_view> kWords = {
      "y",    "Y",    "yes",  "Yes",  "YES",   "true",  "True",  "TRUE",  "on",    "On",   "ON",   "n",
      "N",    "no",   "No",   "NO",   "false", "False", "FALSE", "off",   "Off",   "OFF",  ".nan", ".NaN",
      ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"};
  if (kWords.contains(s)) return true;
  std::string_view d = s;
  if (!d.empty() && (d[0] == '+' || d[0] == '-')) d.remove_prefix(1);
  if (d.empty()) return false;
  auto only = [](std::string_view v, std::string_view set) {
    return !v.empty() && v.find_first_not_of(set) == std::string_view::npos;
  };
  if (d.size() > 2 && d[0] == '0' && std::string_view("xXoObB").find(d[1]) != std::string_view::npos)
    return only(d.substr(2), "0123456789abcdefABCDEF_");
  if (d[0] != '.' && (d[0] < '0' || d[0] > '9')) return false;
  // Decimal integers (with `_`) and floats: [0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?
  size_t i = 0;
  bool digits = false;
  while (i < d.size() && ((d[i] >= '0' && d[i] <= '9') || d[i] == '_')) digits |= d[i++] != '_';
  if (i < d.size() && d[i] == '.') {
    ++i;
    while (i < d.size() && ((d[i] >= '0' && d[i] <= '9') || d[i] == '_')) digits |= d[i++] != '_';
  }
  if (!digits) return false;
  if (i < d.size() && (d[i] == 'e' || d[i] == 'E')) {
    ++i;
    if (i < d.size() && (d[i] == '+' || d[i] == '-')) ++i;
    if (!only(d.substr(i), "0123456789")) return false;
    return true;
  }
  return i == d.size();
}

// Reads one document's objects. Every error names the document, the object and the full field path.
class Reader {
 public:
  // The root `items` list of a document, read item by item while it was parsed (see TreeBuilder).
  struct StreamedItem {
    // Read as soon as it completed (it had its own `kind`): its results, or its error.
    std::optional<Manifest> result;
    std::optional<Error> error;
    // Kept to be read at document end: an item without `kind` (a typed list's) or not a map.
    const YNode* retained = nullptr;
  };
  struct StreamedList {
    const YNode* node = nullptr;
    std::vector<StreamedItem>* items = nullptr;
  };

  Reader(int document, uint64_t& visits_left, Manifest& out, ManifestKinds kinds)
      : document_(document), visits_left_(visits_left), out_(out), kinds_(kinds) {}
  Reader(int document, uint64_t& visits_left, Manifest& out, ManifestKinds kinds, StreamedList streamed)
      : document_(document), visits_left_(visits_left), out_(out), kinds_(kinds), streamed_(streamed) {}

  Status ReadDocument(const YNode* root) {
    if (root == nullptr || root->type == YNode::Type::kNull) return {};  // `---` alone, or only comments
    if (root->type != YNode::Type::kMap) {
      return InvalidInput(fmt::format("document {}: must be a map (a Kubernetes object), got {}", document_,
                                      Describe(*root)));
    }
    return ReadObject(*root, "", "", 0);
  }

  // One item of a root `items` list whose own `kind` says what it is, read before the list's kind is
  // known (kubectl prints `kind: List` after `items`).
  Status ReadListItem(const YNode& item, size_t index) {
    return ReadObject(item, fmt::format("items[{}].", index), "", 1);
  }

  // The `kind` of a map, when it is a non-empty scalar; else empty.
  static std::string_view KindOf(const YNode& obj) {
    for (size_t i = 0; i + 1 < obj.children.size(); i += 2) {
      const YNode& k = *obj.children[i];
      if (k.type == YNode::Type::kScalar && k.scalar == "kind") {
        const YNode& v = *obj.children[i + 1];
        return v.type == YNode::Type::kScalar ? std::string_view(v.scalar) : std::string_view();
      }
    }
    return {};
  }

 private:
  struct Object {
    std::string kind;
    std::string namespace_;
    std::string name;
    std::string uid;
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

    if (IsListKind(kind)) {
      return ReadList(obj, prefix,
                      kind == "List" ? std::string_view{} : std::string_view(kind).substr(0, kind.size() - 4),
                      list_depth);
    }
    if (kinds_ == ManifestKinds::kNodes) {
      if (kind == "Node") return ReadNode(obj, prefix);
      out_.warnings.push_back(fmt::format("{}: kind {} skipped (want Node)", Header(), Plain(kind)));
      return {};
    }
    if (kind == "Pod") return ReadPod(obj, prefix, {});
    if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "ReplicaSet" ||
        kind == "ReplicationController" || kind == "Job") {
      return ReadPod(obj, prefix, {"spec", "template"});
    }
    if (kind == "CronJob") return ReadPod(obj, prefix, {"spec", "jobTemplate", "spec", "template"});
    if (kind == "PodTemplate") return ReadPod(obj, prefix, {"template"});
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
                               {"generateName", &generate_name},
                               {"uid", &current_.uid}}) {
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
    auto read_item = [&](const YNode& item, size_t i) -> Status {
      std::string path = fmt::format("{}items[{}]", prefix, i);
      if (auto st = Visit(path); !st) return st;
      if (item.type != YNode::Type::kMap) {
        current_ = list;
        return Fail(path, fmt::format("must be a map (a Kubernetes object), got {}", Describe(item)));
      }
      return ReadObject(item, path + ".", item_kind, list_depth + 1);
    };
    if (*items == streamed_.node && streamed_.items != nullptr) {
      for (size_t i = 0; i < streamed_.items->size(); ++i) {
        StreamedItem& s = (*streamed_.items)[i];
        if (s.retained != nullptr) {
          if (auto st = read_item(*s.retained, i); !st) return st;
        } else if (s.error) {
          return *s.error;
        } else if (s.result) {
          for (auto& p : s.result->pods) out_.pods.push_back(std::move(p));
          for (auto& rc : s.result->runtime_classes) out_.runtime_classes.push_back(std::move(rc));
          for (auto& n : s.result->nodes) out_.nodes.push_back(std::move(n));
          for (auto& w : s.result->warnings) out_.warnings.push_back(std::move(w));
        }
      }
      return {};
    }
    for (size_t i = 0; i < (*items)->children.size(); ++i) {
      if (auto st = read_item(*(*items)->children[i], i); !st) return st;
    }
    return {};
  }

  // `template_path` leads from the object to its pod template (metadata + spec); empty for a Pod.
  Status ReadPod(const YNode& obj, const std::string& prefix,
                 std::initializer_list<const char*> template_path) {
    const YNode* node = &obj;
    std::string path = prefix;
    for (const char* step : template_path) {
      auto next = Map(*node, step, path);
      if (!next) return next.error();
      path += step;
      if (*next == nullptr) return Fail(path, "missing");
      node = *next;
      path += '.';
    }
    const YNode& pod_template = *node;
    auto spec = Map(pod_template, "spec", path);
    if (!spec) return spec.error();
    if (*spec == nullptr) return Fail(path + "spec", "missing");
    Pod pod;
    pod.ref = ObjectRef{.kind = current_.kind,
                        .namespace_ = current_.namespace_,
                        .name = current_.name,
                        .document = document_};
    std::string spec_path = path + "spec.";
    if (auto st = ReadPodSpec(**spec, spec_path, pod.spec); !st) return st;
    if (template_path.size() == 0) {
      // A live pod's node (`kubectl get pods -o yaml`); a template's nodeName is a scheduling constraint,
      // not where a pod runs.
      auto node_name = String(**spec, "nodeName", spec_path);
      if (!node_name) return node_name.error();
      if (*node_name) pod.ref.node_name = std::move(**node_name);
      // A live pod's phase, so terminated pods can be left out of a node's ledger.
      auto status = Map(obj, "status", prefix);
      if (!status) return status.error();
      if (*status) {
        auto phase = String(**status, "phase", prefix + "status.");
        if (!phase) return phase.error();
        if (*phase) pod.ref.phase = std::move(**phase);
      }
      pod.ref.uid = current_.uid;
    }
    // The pod gets its template's annotations (for a Pod, its own), which containerd hands to Kata.
    auto meta = Map(pod_template, "metadata", path);
    if (!meta) return meta.error();
    if (*meta) {
      if (auto st = StringMap(**meta, "annotations", path + "metadata.", pod.annotations); !st) return st;
    }
    out_.pods.push_back(std::move(pod));
    return {};
  }

  // A map[string]string field: annotations, labels, a nodeSelector.
  Status StringMap(const YNode& parent, const char* key, const std::string& path,
                   std::map<std::string, std::string, std::less<>>& out) {
    auto node = Map(parent, key, path);
    if (!node) return node.error();
    if (*node == nullptr) return {};
    const YNode& m = **node;
    std::string field = path + key;
    size_t total = 0;
    for (size_t i = 0; i + 1 < m.children.size(); i += 2) {
      const YNode& k = *m.children[i];
      const YNode& v = *m.children[i + 1];
      if (k.type != YNode::Type::kScalar) {
        return Fail(field, fmt::format("keys must be strings, got {}", TypeName(k)));
      }
      std::string entry = fmt::format("{}[{}]", field, Quote(k.scalar));
      std::string value;
      // encoding/json leaves a map[string]string entry empty for JSON null.
      if (v.type == YNode::Type::kScalar) {
        if (v.plain && Yaml11NonString(v.scalar)) {
          return Fail(entry, fmt::format("must be a string, got the bare {} (YAML reads it as a number or a "
                                         "boolean, which the API refuses): quote it",
                                         Quote(v.scalar)));
        }
        value = v.scalar;
      } else if (v.type != YNode::Type::kNull) {
        return Fail(entry, fmt::format("must be a string, got {}", TypeName(v)));
      }
      total += k.scalar.size() + value.size();
      if (total > kMaxAnnotationBytes) {
        return Fail(field, fmt::format("more than {} bytes in total (the API's limit for annotations)",
                                       kMaxAnnotationBytes));  // far above any label set too
      }
      if (!out.emplace(k.scalar, std::move(value)).second) {
        return Fail(entry, fmt::format("duplicate key (line {})", k.mark.line + 1));
      }
    }
    return Visit(field, 1 + m.children.size() / 2);
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

  // A Node of `kubectl get nodes -o json|yaml`: status.allocatable (else status.capacity, with a
  // warning), status.capacity, spec.unschedulable.
  Status ReadNode(const YNode& obj, const std::string& prefix) {
    NodeObject node;
    node.ref = ObjectRef{.kind = "Node", .namespace_ = "", .name = current_.name, .document = document_};
    node.ref.uid = current_.uid;
    if (node.ref.name.empty()) return Fail(prefix + "metadata.name", "missing");
    auto meta = Map(obj, "metadata", prefix);
    if (!meta) return meta.error();
    if (*meta) {
      if (auto st = StringMap(**meta, "labels", prefix + "metadata.", node.labels); !st) return st;
    }
    auto spec = Map(obj, "spec", prefix);
    if (!spec) return spec.error();
    if (*spec) {
      auto unschedulable = String(**spec, "unschedulable", prefix + "spec.");
      if (!unschedulable) return unschedulable.error();
      node.unschedulable = *unschedulable && **unschedulable == "true";
    }
    auto status = Map(obj, "status", prefix);
    if (!status) return status.error();
    std::string status_path = prefix + "status.";
    if (*status == nullptr) return Fail(status_path + "allocatable", "missing (the node has no status)");
    for (auto [key, target, present] : {std::tuple<const char*, NodeResources*, bool*>{
                                            "allocatable", &node.allocatable, &node.has_allocatable},
                                        {"capacity", &node.capacity, &node.has_capacity}}) {
      auto list = Map(**status, key, status_path);
      if (!list) return list.error();
      if (*list == nullptr) continue;
      std::string p = status_path + key + ".";
      ResourceList cpu_memory;
      if (auto st = ReadQuantity(**list, "cpu", p, /*cpu=*/true, cpu_memory.cpu); !st) return st;
      if (auto st = ReadQuantity(**list, "memory", p, /*cpu=*/false, cpu_memory.memory); !st) return st;
      std::optional<Quantity> pods;
      if (auto st = ReadQuantity(**list, "pods", p, /*cpu=*/false, pods); !st) return st;
      if (cpu_memory.cpu) target->cpu_millis = cpu_memory.cpu->MilliValue();
      if (cpu_memory.memory) target->memory_bytes = cpu_memory.memory->Value();
      if (pods) target->pods = pods->Value();
      *present = true;
    }
    if (!node.has_allocatable) {
      if (!node.has_capacity) {
        return Fail(status_path + "allocatable",
                    "missing, and so is status.capacity (need the node's memory and cpu)");
      }
      node.allocatable = node.capacity;
      node.allocatable_from_capacity = true;
      out_.warnings.push_back(fmt::format(
          "{}: status.allocatable missing: status.capacity used, which includes what the kubelet reserves",
          Header()));
    }
    const char* resources_key = node.allocatable_from_capacity ? "capacity" : "allocatable";
    if (!node.allocatable.memory_bytes)
      return Fail(fmt::format("{}{}.memory", status_path, resources_key), "missing");
    if (!node.allocatable.cpu_millis)
      return Fail(fmt::format("{}{}.cpu", status_path, resources_key), "missing");
    out_.nodes.push_back(std::move(node));
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
    auto scheduling = Map(obj, "scheduling", prefix);
    if (!scheduling) return scheduling.error();
    if (*scheduling) {
      if (auto st = StringMap(**scheduling, "nodeSelector", prefix + "scheduling.", rc.node_selector); !st)
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
    // apimachinery's Value() of a decimal memory quantity above 2^63-1 (`1e19`, a 20-digit number) is 0 or
    // its low 64 bits (quantity.go positiveScaleInt64 / scaledValue), which the kubelet passes on as the
    // limit: no well-defined size to report (SIZING.md §6).
    if (!cpu && q->ValueOverflows()) {
      return Fail(field, fmt::format("{} is too large for a memory quantity (its bytes overflow int64)",
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
    if (current_.kind == "Node") {  // cluster-scoped: no namespace
      return fmt::format("document {} (Node {})", document_,
                         current_.name.empty() ? "<unnamed>" : Plain(current_.name));
    }
    return fmt::format("document {} ({} {}/{})", document_, Plain(current_.kind), Plain(current_.namespace_),
                       current_.name.empty() ? "<unnamed>" : Plain(current_.name));
  }

  Error Fail(std::string_view field, std::string_view what) const {
    return InvalidInput(fmt::format("{}: {}: {}", Header(), field, what));
  }

  int document_;
  uint64_t& visits_left_;
  Manifest& out_;
  ManifestKinds kinds_;
  StreamedList streamed_;
  Object current_;
};

// Builds each document's tree from events (yaml-cpp's, or the JSON adapter's below) and reads it into
// `out`. Streams the root `items` list: an item is read when it completes and its nodes are freed, so
// memory and work are bounded per item and per document, not per input.
class TreeBuilder final : public YAML::EventHandler {
 public:
  // `yaml_text` is the YAML input, for checks yaml-cpp does not make (empty for JSON input).
  TreeBuilder(Manifest& out, std::string_view yaml_text, ManifestKinds kinds)
      : out_(out), text_(yaml_text), kinds_(kinds) {
    if (text_.starts_with("\xEF\xBB\xBF")) text_offset_ = 3;  // yaml-cpp's positions start after a BOM
  }

  int document() const { return document_; }

  // Starts the next document of the stream (before its events).
  void BeginDocument() {
    ResetDocument();
    ++document_;
    split_ = {};
  }

  // Reads the document whose events just ended.
  void EndDocument() {
    if (!stack_.empty()) return;  // an error stopped the parse mid-document
    ReadDocumentNow();
    ResetDocument();
  }

  // yaml-cpp 0.7 reads some inputs (`,{` and a tab) as endless empty documents that all start at the same
  // place; go-yaml says "did not find expected node content" there (parserc.go, yaml_parser_parse_node).
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (last_document_start_ && *last_document_start_ == mark.pos) {
      throw Stop{SyntaxError(mark, "did not find expected node content")};
    }
    last_document_start_ = mark.pos;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    BeforeNode(mark, nullptr);
    CheckStrayKey(mark);
    YNode& n = New(mark, YNode::Type::kNull, anchor);
    n.complete = true;
    Attach(&n);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    // yaml-cpp already refuses undefined anchors; an alias inside its own anchored node would make a cycle.
    if (it == anchors_.end() || !it->second->complete) {
      throw Stop{SyntaxError(mark, "an alias refers to a node that contains it")};
    }
    BeforeNode(mark, it->second->type == YNode::Type::kScalar ? &it->second->scalar : nullptr);
    visits_left_ += kVisitsPerNode;
    Attach(it->second);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    const bool key = AtKey();
    if (key && value.size() > kMaxKeyBytes) {
      throw Stop{
          SyntaxError(mark, fmt::format("a map key of {} bytes (at most {})", value.size(), kMaxKeyBytes))};
    }
    BeforeNode(mark, &value);
    if (tag == "!" && !text_.empty()) CheckQuotedScalarEnds(mark);
    YNode& n = New(mark, YNode::Type::kScalar, anchor);
    n.scalar = value;
    n.plain = tag == "?";
    // go-yaml v2 resolve.go: `<<` resolves to the merge tag only when untagged and unquoted (isMerge in
    // decode.go: implicit, or tagged !!merge).
    n.merge_key = key && ((n.plain && value == "<<") || tag == "tag:yaml.org,2002:merge");
    n.complete = true;
    Attach(&n);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    BeforeNode(mark, nullptr);
    const bool stream_items = anchor == YAML::NullAnchor && stack_.size() == 1 && stack_[0] == root_ &&
                              items_seq_ == nullptr && LastKeyIs("items");
    YNode& n = New(mark, YNode::Type::kSequence, anchor);
    Attach(&n);
    stack_.push_back(&n);
    if (stream_items) items_seq_ = &n;
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override {
    BeforeNode(mark, nullptr);
    YNode& n = New(mark, YNode::Type::kMap, anchor);
    n.block = style == YAML::EmitterStyle::Block;
    Attach(&n);
    stack_.push_back(&n);
  }
  void OnMapEnd() override { Close(); }

  // JSON input has no anchors and is never checked against the YAML text.
  void JsonKey(const YAML::Mark& mark, const std::string& key) { OnScalar(mark, "!", YAML::NullAnchor, key); }

  Error SyntaxError(const YAML::Mark& mark, std::string_view what) const {
    return InvalidInput(fmt::format("document {}: {} error at line {}, column {}: {}", document_,
                                    text_.empty() ? "JSON" : "YAML syntax", mark.line + 1, mark.column + 1,
                                    what));
  }

 private:
  struct Split {
    int line = 0;  // 1-based line where a repeated top-level key began this document
    std::string key;
  };

  void ReadDocumentNow() {
    Reader::StreamedList streamed{items_seq_, &items_};
    Reader reader(document_, visits_left_, out_, kinds_, streamed);
    Status st = reader.ReadDocument(root_);
    if (st) return;
    Error e = st.error();
    if (split_.line > 0) {
      e.message += fmt::format(
          " (document {} began at line {}, where key {} repeats at the top level of document {}; "
          "separate objects with `---`)",
          document_, split_.line, Quote(split_.key), document_ - 1);
    }
    throw Stop{std::move(e)};
  }

  void ResetDocument() {
    stack_.clear();
    arenas_.clear();
    item_arena_.reset();
    anchors_.clear();
    root_ = nullptr;
    root_keys_.clear();
    items_seq_ = nullptr;
    items_.clear();
    item_failed_ = false;
    live_nodes_ = 0;
    visits_left_ = kMinVisits;
  }

  bool AtKey() const {
    return !stack_.empty() && stack_.back()->type == YNode::Type::kMap &&
           stack_.back()->children.size() % 2 == 0;
  }

  bool LastKeyIs(std::string_view key) const {
    const auto& c = stack_.back()->children;
    return stack_.back()->type == YNode::Type::kMap && c.size() % 2 == 1 &&
           c.back()->type == YNode::Type::kScalar && c.back()->scalar == key;
  }

  // Concatenated files without `---` (`cat a.yaml b.yaml`, `kubectl get -o yaml | cat - b.yaml`) read as
  // one block map whose top-level keys repeat. A repeated top-level key of a document's root block map
  // therefore starts a new object; anywhere else a repeated key stays an error.
  void BeforeNode(const YAML::Mark& mark, const std::string* scalar_key) {
    if (stack_.size() != 1 || stack_[0] != root_ || !root_->block || !AtKey()) return;
    if (scalar_key == nullptr || *scalar_key == "<<") return;
    if (root_keys_.insert(*scalar_key).second) return;
    const int previous = document_;
    Close();  // completes the root (and applies its merges)
    ReadDocumentNow();
    // Aliases after this point may still refer to anchors before it: keep the arenas that hold them.
    std::vector<std::unique_ptr<Arena>> keep;
    size_t kept_nodes = 0;
    for (auto& a : arenas_) {
      if (!a->has_anchor) continue;
      kept_nodes += a->nodes.size();
      keep.push_back(std::move(a));
    }
    auto anchors = std::move(anchors_);
    ResetDocument();
    ++document_;
    arenas_ = std::move(keep);
    anchors_ = std::move(anchors);
    live_nodes_ = kept_nodes;
    split_ = Split{.line = mark.line + 1, .key = *scalar_key};
    out_.warnings.push_back(fmt::format(
        "document {}: a new object starts at line {}: key {} repeats at the top level of document {} "
        "without a `---` between them (files concatenated?)",
        document_, mark.line + 1, Quote(*scalar_key), previous));
    YNode& n = New(mark, YNode::Type::kMap, YAML::NullAnchor);
    n.block = true;
    Attach(&n);
    stack_.push_back(&n);
    root_keys_.insert(*scalar_key);
  }

  YNode& New(const YAML::Mark& mark, YNode::Type type, YAML::anchor_t anchor) {
    if (++live_nodes_ > kMaxNodes) {
      throw Stop{InvalidInput(fmt::format(
          "document {}: more than {} YAML nodes; split it into smaller files (the bound is per document "
          "and per item of a List)",
          document_, kMaxNodes))};
    }
    visits_left_ += kVisitsPerNode;
    Arena* arena = nullptr;
    if (items_seq_ != nullptr && stack_.size() >= 2 && stack_[1] == items_seq_) {
      if (!item_arena_) item_arena_ = std::make_unique<Arena>();
      arena = item_arena_.get();
    } else {
      if (arenas_.empty()) arenas_.push_back(std::make_unique<Arena>());
      arena = arenas_.front().get();
    }
    YNode& n = arena->nodes.emplace_back();
    n.type = type;
    n.mark = mark;
    if (anchor != YAML::NullAnchor) {
      anchors_[anchor] = &n;
      arena->has_anchor = true;
    }
    return n;
  }

  void Attach(const YNode* n) {
    if (stack_.empty()) {
      root_ = const_cast<YNode*>(n);  // NOLINT: only New()'s nodes become roots
      root_keys_.clear();
      return;
    }
    YNode* parent = stack_.back();
    if (parent == items_seq_ && stack_.size() == 2) {
      if (n->complete) ItemDone(*n);  // a scalar or an alias: complete at once
      return;                         // containers are attached when they close
    }
    if (n->merge_key) parent->has_merge = true;
    parent->children.push_back(n);
  }

  void Close() {
    if (stack_.empty()) return;
    YNode* n = stack_.back();
    if (n->has_merge) ApplyMerges(*n);
    n->complete = true;
    stack_.pop_back();
    if (n == items_seq_) return;
    if (stack_.size() == 2 && stack_[1] == items_seq_) ItemDone(*n);
  }

  // An item of the root `items` list is complete: read it now if its own `kind` says what it is, and free
  // its nodes unless an anchor in them may still be referred to; else keep it for the document's end.
  void ItemDone(const YNode& item) {
    const size_t index = items_.size();
    Reader::StreamedItem& s = items_.emplace_back();
    if (item_failed_) {
      ReleaseItemArena();
      return;  // only the first error is reported
    }
    if (item.type != YNode::Type::kMap || Reader::KindOf(item).empty()) {
      s.retained = &item;
      if (item_arena_) arenas_.push_back(std::move(item_arena_));
      return;
    }
    Manifest result;
    Reader reader(document_, visits_left_, result, kinds_);
    if (Status st = reader.ReadListItem(item, index); !st) {
      s.error = st.error();
      item_failed_ = true;
    } else {
      s.result = std::move(result);
    }
    ReleaseItemArena();
  }

  // Frees the finished item's nodes, unless an anchor among them may still be referred to.
  void ReleaseItemArena() {
    if (!item_arena_) return;
    if (item_arena_->has_anchor) {
      arenas_.push_back(std::move(item_arena_));
      return;
    }
    live_nodes_ -= item_arena_->nodes.size();
    item_arena_.reset();
  }

  // YAML merge keys as go-yaml v2 applies them (decode.go, decoder.mapping and decoder.merge): the keys
  // of a map are set in document order and a later one overwrites an earlier one; a merge sets every
  // key of its map, and a merge list `[*a, *b]` is applied from its last map to its first, so earlier
  // maps win. So a key written after `<<` wins over the merged one (the usual layout, and the YAML merge
  // spec's rule); a key written before `<<` that the merge also sets would lose to it in kubectl but win
  // by the spec: refused rather than guessed.
  void ApplyMerges(YNode& m) {
    std::vector<const YNode*> explicit_pairs;
    std::vector<const YNode*> sources;
    std::map<std::string_view, size_t> explicit_at;  // key -> pair index
    const YNode* merge_key = nullptr;
    size_t merge_at = 0;
    for (size_t i = 0; i + 1 < m.children.size(); i += 2) {
      const YNode* k = m.children[i];
      const YNode* v = m.children[i + 1];
      if (k->merge_key) {
        if (merge_key != nullptr) {
          throw Stop{SyntaxError(k->mark,
                                 "a second `<<` merge key in one map; merge several maps with "
                                 "`<<: [*a, *b]`")};
        }
        merge_key = k;
        merge_at = i / 2;
        if (v->type == YNode::Type::kMap) {
          sources.push_back(v);
        } else if (v->type == YNode::Type::kSequence) {
          for (const YNode* s : v->children) {
            if (s->type != YNode::Type::kMap) {
              throw Stop{
                  SyntaxError(s->mark, "map merge requires a map or a list of maps as the value of `<<`")};
            }
            sources.push_back(s);
          }
        } else {
          throw Stop{SyntaxError(v->mark, "map merge requires a map or a list of maps as the value of `<<`")};
        }
        continue;
      }
      if (k->type == YNode::Type::kScalar) explicit_at.emplace(k->scalar, explicit_pairs.size() / 2);
      explicit_pairs.push_back(k);
      explicit_pairs.push_back(v);
    }
    std::unordered_set<std::string_view> merged;
    std::vector<const YNode*> out = explicit_pairs;
    for (const YNode* s : sources) {
      for (size_t i = 0; i + 1 < s->children.size(); i += 2) {
        const YNode* k = s->children[i];
        if (k->type == YNode::Type::kScalar) {
          if (auto it = explicit_at.find(k->scalar); it != explicit_at.end()) {
            if (it->second < merge_at) {
              const YNode* ek = explicit_pairs[2 * it->second];
              throw Stop{SyntaxError(
                  ek->mark, fmt::format("key {} is set before the `<<` merge at line {} that sets it too: "
                                        "kubectl (go-yaml) keeps the merged value, the YAML merge spec the "
                                        "explicit one; put `<<` first",
                                        Quote(k->scalar), merge_key->mark.line + 1))};
            }
            continue;  // written after `<<`: the explicit value wins
          }
          if (!merged.insert(k->scalar).second) continue;  // an earlier map of the list wins
        }
        if (++live_nodes_ > kMaxNodes) {
          throw Stop{InvalidInput(
              fmt::format("document {}: YAML merges expand into more than {} nodes", document_, kMaxNodes))};
        }
        out.push_back(k);
        out.push_back(s->children[i + 1]);
      }
    }
    m.children = std::move(out);
    m.has_merge = false;
  }

  // yaml-cpp 0.7 reads a line without `:` at the end of a block map (`  labels` before a dedent or the
  // end of the file) as a key with a null value; libyaml and go-yaml refuse it: a simple key at the block
  // indentation is required (yaml_parser_save_simple_key) and must be followed by `:` on its line, else
  // "could not find expected ':'" (scannerc.go, yaml_simple_key_is_valid). yaml-cpp gives such a null the
  // key's own position, which a real `key:` followed by a dedent never has unless the `:` is there.
  void CheckStrayKey(const YAML::Mark& null_mark) {
    if (text_.empty() || stack_.empty()) return;
    const YNode& m = *stack_.back();
    if (m.type != YNode::Type::kMap || !m.block || m.children.size() % 2 != 1) return;
    const YNode& key = *m.children.back();
    if (key.type != YNode::Type::kScalar || key.mark.pos != null_mark.pos) return;
    size_t pos = static_cast<size_t>(key.mark.pos) + text_offset_;
    pos = SkipProperties(pos);
    if (pos >= text_.size()) return;
    size_t end = 0;
    if (text_[pos] == '"' || text_[pos] == '\'') {
      auto close = QuotedScalarEnd(pos);
      if (!close) return;  // reported by CheckQuotedScalarEnds
      end = *close;
    } else if (key.plain && text_.substr(pos).starts_with(key.scalar)) {
      end = pos + key.scalar.size();
    } else {
      return;  // not the text we expect (a multi-line key): leave it to the parser
    }
    while (end < text_.size() && (text_[end] == ' ' || text_[end] == '\t')) ++end;
    if (end < text_.size() && text_[end] == ':') return;
    throw Stop{SyntaxError(key.mark, fmt::format("could not find expected ':' after {} (a line without `:` "
                                                 "inside a map; kubectl refuses it too)",
                                                 Quote(key.scalar)))};
  }

  // yaml-cpp 0.7 ends a quoted scalar that is never closed at the end of the input as if it were closed
  // (`b: "text` + newline reads "text "; `b: 'x` + newline + `c: 3` swallows `c: 3`). go-yaml refuses it:
  // "found unexpected end of stream" while scanning a quoted scalar (scannerc.go,
  // yaml_parser_scan_flow_scalar).
  void CheckQuotedScalarEnds(const YAML::Mark& mark) {
    size_t pos = SkipProperties(static_cast<size_t>(mark.pos) + text_offset_);
    if (pos >= text_.size() || (text_[pos] != '"' && text_[pos] != '\'')) return;  // a block scalar
    if (QuotedScalarEnd(pos)) return;
    throw Stop{SyntaxError(mark,
                           "found unexpected end of stream while scanning a quoted scalar (its closing "
                           "quote is missing)")};
  }

  // Skips an anchor (`&a`) and a tag (`!t`) before a node's text.
  size_t SkipProperties(size_t pos) const {
    for (int i = 0; i < 2 && pos < text_.size() && (text_[pos] == '&' || text_[pos] == '!'); ++i) {
      while (pos < text_.size() && text_[pos] != ' ' && text_[pos] != '\t' && text_[pos] != '\n') ++pos;
      while (pos < text_.size() && (text_[pos] == ' ' || text_[pos] == '\t')) ++pos;
    }
    return pos;
  }

  // The position just past the quote closing the quoted scalar that opens at `open`, if there is one.
  std::optional<size_t> QuotedScalarEnd(size_t open) const {
    const char q = text_[open];
    for (size_t i = open + 1; i < text_.size(); ++i) {
      if (q == '"' && text_[i] == '\\') {
        ++i;  // an escape: the next byte cannot close
      } else if (text_[i] == q) {
        if (q == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') {
          ++i;  // '' is an escaped quote
          continue;
        }
        return i + 1;
      }
    }
    return std::nullopt;
  }

  Manifest& out_;
  std::string_view text_;
  ManifestKinds kinds_;
  size_t text_offset_ = 0;
  int document_ = 0;
  std::optional<int> last_document_start_;
  Split split_;
  std::vector<YNode*> stack_;
  std::vector<std::unique_ptr<Arena>> arenas_;
  std::unique_ptr<Arena> item_arena_;
  std::map<YAML::anchor_t, YNode*> anchors_;
  YNode* root_ = nullptr;
  std::unordered_set<std::string> root_keys_;
  const YNode* items_seq_ = nullptr;
  std::vector<Reader::StreamedItem> items_;
  bool item_failed_ = false;
  size_t live_nodes_ = 0;
  uint64_t visits_left_ = kMinVisits;
};

// A read-only istream over the caller's text, so parsing does not copy it.
class ViewBuf final : public std::streambuf {
 public:
  explicit ViewBuf(std::string_view text) {
    char* p = const_cast<char*>(text.data());  // NOLINT: get area only, never written
    setg(p, p, p + text.size());
  }
};

// Where nlohmann's lexer is in the input: it reads each byte once through this iterator, so the
// position of the byte just read is the end of the token an event reports.
struct JsonCursor {
  const char* begin = nullptr;
  const char* next = nullptr;  // the next byte to read
  int line = 0;
  const char* line_start = nullptr;

  YAML::Mark Mark() const {
    YAML::Mark m;
    m.pos = static_cast<int>(next - begin);
    m.line = line;
    m.column = static_cast<int>(next - line_start);
    return m;
  }
};

class JsonIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  JsonIterator(const char* p, JsonCursor* cursor) : p_(p), cursor_(cursor) {}
  reference operator*() const { return *p_; }
  JsonIterator& operator++() {
    if (*p_ == '\n') {
      ++cursor_->line;
      cursor_->line_start = p_ + 1;
    }
    ++p_;
    cursor_->next = p_;
    return *this;
  }
  JsonIterator operator++(int) {
    JsonIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const JsonIterator& o) const { return p_ == o.p_; }
  bool operator!=(const JsonIterator& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  JsonCursor* cursor_;
};

// JSON is YAML: nlohmann's SAX events become the same tree the YAML path builds, so every rule holds for
// both. Strings are quoted scalars; numbers plain scalars with their text (an integer's text is its
// value printed back); true/false plain scalars; null a null node.
class JsonEvents final : public nlohmann::json::json_sax_t {
 public:
  JsonEvents(TreeBuilder& builder, const JsonCursor& cursor) : b_(builder), c_(cursor) {}

  bool null() override {
    b_.OnNull(c_.Mark(), YAML::NullAnchor);
    return true;
  }
  bool boolean(bool v) override { return PlainScalar(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return PlainScalar(fmt::format("{}", v)); }
  bool number_unsigned(number_unsigned_t v) override { return PlainScalar(fmt::format("{}", v)); }
  bool number_float(number_float_t, const string_t& text) override { return PlainScalar(text); }
  bool string(string_t& v) override {
    b_.OnScalar(c_.Mark(), "!", YAML::NullAnchor, v);
    return true;
  }
  bool binary(binary_t&) override { return false; }  // never produced by the JSON parser
  bool start_object(std::size_t) override {
    Enter();
    b_.OnMapStart(c_.Mark(), "", YAML::NullAnchor, YAML::EmitterStyle::Flow);
    return true;
  }
  bool key(string_t& k) override {
    b_.JsonKey(c_.Mark(), k);
    return true;
  }
  bool end_object() override {
    --depth_;
    b_.OnMapEnd();
    return true;
  }
  bool start_array(std::size_t) override {
    Enter();
    b_.OnSequenceStart(c_.Mark(), "", YAML::NullAnchor, YAML::EmitterStyle::Flow);
    return true;
  }
  bool end_array() override {
    --depth_;
    b_.OnSequenceEnd();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) override {
    // "[json.exception.parse_error.101] parse error at line 3, column 7: syntax error while parsing ...":
    // nlohmann counts lines from where this value began; the cursor counts them from the input's start.
    std::string_view what = e.what();
    if (auto at = what.find(": "); at != std::string_view::npos && what.find("parse error") < at) {
      what.remove_prefix(at + 2);
    }
    const YAML::Mark mark = c_.Mark();
    error_ = InvalidInput(fmt::format("document {}: JSON parse error at line {}, column {}: {}",
                                      b_.document(), mark.line + 1, mark.column, Plain(what, 300)));
    return false;
  }

  const std::optional<Error>& error() const { return error_; }

 private:
  bool PlainScalar(const std::string& text) {
    b_.OnScalar(c_.Mark(), "?", YAML::NullAnchor, text);
    return true;
  }
  void Enter() {
    if (++depth_ > kMaxJsonDepth) {
      throw Stop{b_.SyntaxError(c_.Mark(), fmt::format("nested more than {} levels deep", kMaxJsonDepth))};
    }
  }

  TreeBuilder& b_;
  const JsonCursor& c_;
  size_t depth_ = 0;
  std::optional<Error> error_;
};

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Every JSON value of the input is a document (kubectl's decoder also reads concatenated JSON objects).
void ParseJson(std::string_view text, TreeBuilder& builder) {
  JsonCursor cursor{.begin = text.data(), .next = text.data(), .line = 0, .line_start = text.data()};
  const char* end = text.data() + text.size();
  for (;;) {
    const char* p = cursor.next;
    while (p < end && IsJsonSpace(*p)) {
      if (*p == '\n') {
        ++cursor.line;
        cursor.line_start = p + 1;
      }
      ++p;
    }
    if (p == end) return;
    cursor.next = p;
    builder.BeginDocument();
    JsonEvents events(builder, cursor);
    bool ok = nlohmann::json::sax_parse(JsonIterator(p, &cursor), JsonIterator(end, &cursor), &events,
                                        nlohmann::json::input_format_t::json, /*strict=*/false);
    if (!ok) {
      if (events.error()) throw Stop{*events.error()};
      throw Stop{builder.SyntaxError(cursor.Mark(), "invalid JSON")};
    }
    builder.EndDocument();
  }
}

void ParseYaml(std::string_view text, TreeBuilder& builder) {
  ViewBuf buf(text);
  std::istream in(&buf);
  YAML::Parser parser(in);
  for (;;) {
    builder.BeginDocument();
    if (!parser.HandleNextDocument(builder)) return;
    builder.EndDocument();
  }
}

}  // namespace

Result<Manifest> ParseManifest(std::string_view text, ManifestKinds kinds) {
  if (text.size() > kMaxInputBytes) {
    return Error{
        .message = fmt::format("the input is {} bytes; at most {} are read", text.size(), kMaxInputBytes),
        .code = ErrorCode::kResourceExhausted};
  }
  // kubectl reads input whose first non-space byte is `{` as JSON (apimachinery pkg/util/yaml
  // decoder.go, GuessJSONStream/hasJSONPrefix); `[` cannot start an object in either language.
  size_t first = text.find_first_not_of(" \t\r\n");
  const bool json = first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
  Manifest out;
  TreeBuilder builder(out, json ? std::string_view{} : text, kinds);
  auto document = [&] { return std::max(builder.document(), 1); };
  try {
    if (json) {
      ParseJson(text, builder);
    } else {
      ParseYaml(text, builder);
    }
    return out;
  } catch (const Stop& e) {
    return e.error;
  } catch (const YAML::DeepRecursion& e) {
    return InvalidInput(fmt::format("document {}: YAML nested more than {} levels deep at line {}, column {}",
                                    document(), e.depth() - 1, e.mark.line + 1, e.mark.column + 1));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null())
      return InvalidInput(fmt::format("document {}: YAML error: {}", document(), Plain(e.msg, 200)));
    return InvalidInput(fmt::format("document {}: YAML syntax error at line {}, column {}: {}", document(),
                                    e.mark.line + 1, e.mark.column + 1, Plain(e.msg, 200)));
  } catch (const std::bad_alloc&) {
    return Error{.message = fmt::format("document {}: out of memory reading the input", document()),
                 .code = ErrorCode::kResourceExhausted};
  } catch (const std::exception& e) {
    return Error{fmt::format("document {}: {}", document(), Plain(e.what(), 200))};
  }
}

}  // namespace uvm::sizer::formats
