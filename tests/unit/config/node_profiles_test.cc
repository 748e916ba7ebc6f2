#include "daemon/node_profiles.h"

#include <gtest/gtest.h>

#include <map>

namespace uvm::daemon {
namespace {

std::string Fixture(const std::string& relative) {
  auto text = ReadWholeFile(std::string(UVM_SOURCE_DIR) + "/tests/fixtures/" + relative);
  EXPECT_TRUE(text.ok()) << text.error().message;
  return text.ok() ? *text : std::string();
}

// A node's files: path -> contents; anything else is missing, as ReadWholeFile reports it.
struct FakeNode {
  std::map<std::string, std::string> files;
  std::vector<std::string> reads;
  FileReader Reader() {
    return [this](const std::string& path) -> Result<std::string> {
      reads.push_back(path);
      auto it = files.find(path);
      if (it == files.end()) {
        return Error{.message = path + ": cannot read: No such file or directory",
                     .code = ErrorCode::kNotFound};
      }
      return it->second;
    };
  }
};

constexpr const char* kContainerd = "/etc/containerd/config.toml";
constexpr const char* kAksKata = "/usr/share/defaults/kata-containers/configuration.toml";
constexpr const char* kAksKataCc =
    "/opt/confidential-containers/share/defaults/kata-containers/configuration-clh-snp.toml";

TEST(NodeCatalog, EachKataHandlerGetsTheProfileOfItsConfigPath) {
  FakeNode node;
  node.files[kContainerd] = Fixture("containerd/config-v2.toml");
  node.files[kAksKata] = Fixture("kata/configuration-clh-aks.toml");
  node.files[kAksKataCc] = Fixture("kata/configuration-clh-snp-aks-min128.toml");
  auto c = BuildNodeCatalog(DaemonConfig{}, node.Reader(), 8);
  ASSERT_TRUE(c.ok()) << c.error().message;
  const sizer::Profile* kata = c->catalog.ForHandler("kata");
  ASSERT_NE(kata, nullptr);
  EXPECT_EQ(kata->name, "node-kata");
  EXPECT_EQ(kata->default_workload_mem_mib, 512u);
  EXPECT_EQ(kata->mode, sizer::SizingMode::kStatic);
  EXPECT_EQ(kata->description, std::string("derived from ") + kAksKata + " (handler kata)");
  const sizer::Profile* cc = c->catalog.ForHandler("kata-cc");
  ASSERT_NE(cc, nullptr);
  EXPECT_EQ(cc->name, "node-kata-cc");
  EXPECT_EQ(cc->workload_mem_min_mib, 128u);
  EXPECT_EQ(c->catalog.ForHandler("runc"), nullptr);
  ASSERT_EQ(c->runtimes.size(), 3u);
  EXPECT_EQ(c->runtimes[0].handler, "kata");
  EXPECT_EQ(c->runtimes[0].kata_config, kAksKata);
  EXPECT_EQ(c->runtimes[2].handler, "runc");
  EXPECT_FALSE(c->runtimes[2].kata);
  EXPECT_TRUE(c->runtimes[2].tried.empty());
}

TEST(NodeCatalog, ARuntimeWithoutConfigPathReadsKataDefaultsInOrder) {
  FakeNode node;
  node.files[kContainerd] = Fixture("containerd/config-v2-kata-default-paths.toml");
  // Only the second default exists: /etc/kata-containers is tried first and is missing.
  node.files[KataDefaultConfigPaths()[1]] = Fixture("kata/configuration-clh.toml");
  auto c = BuildNodeCatalog(DaemonConfig{}, node.Reader(), 8);
  ASSERT_TRUE(c.ok()) << c.error().message;
  for (const char* handler : {"kata", "kata-qemu"}) {
    const sizer::Profile* p = c->catalog.ForHandler(handler);
    ASSERT_NE(p, nullptr) << handler;
    EXPECT_EQ(p->name, std::string("node-") + handler);
  }
  EXPECT_EQ(c->runtimes[0].tried, KataDefaultConfigPaths());
  EXPECT_EQ(c->runtimes[0].kata_config, KataDefaultConfigPaths()[1]);
  // A handler called kata-fake that runs runc is not Kata: no profile.
  EXPECT_EQ(c->catalog.ForHandler("kata-fake"), nullptr);
  // The first default path wins when it exists.
  node.files[KataDefaultConfigPaths()[0]] = Fixture("kata/configuration-clh-aks.toml");
  auto first = BuildNodeCatalog(DaemonConfig{}, node.Reader(), 8);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->runtimes[0].kata_config, KataDefaultConfigPaths()[0]);
  EXPECT_EQ(first->catalog.ForHandler("kata")->default_workload_mem_mib, 512u);
}

TEST(NodeCatalog, WithoutKataFilesBuiltinsStayAndUnknownKataHandlersAreNotVmIsolated) {
  FakeNode node;
  node.files[kContainerd] = Fixture("containerd/config-v2-kata-default-paths.toml");
  auto c = BuildNodeCatalog(DaemonConfig{}, node.Reader(), 8);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_NE(c->catalog.ForHandler("kata"), nullptr);
  EXPECT_EQ(c->catalog.ForHandler("kata")->name, "aks-kata-256");
  EXPECT_EQ(c->catalog.ForHandler("kata-qemu"), nullptr);
  std::string notes;
  for (const auto& n : c->notes) notes += n + "\n";
  EXPECT_NE(
      notes.find("handler kata: no readable Kata configuration (/etc/kata-containers/configuration.toml, "
                 "/usr/share/defaults/kata-containers/configuration.toml); keeping the built-in profile "
                 "aks-kata-256"),
      std::string::npos)
      << notes;
  EXPECT_NE(notes.find("handler kata-qemu: no readable Kata configuration"), std::string::npos) << notes;
  EXPECT_NE(notes.find("no built-in profile either: not VM-isolated"), std::string::npos) << notes;
}

TEST(NodeCatalog, AMissingContainerdConfigKeepsTheBuiltins) {
  FakeNode node;
  auto c = BuildNodeCatalog(DaemonConfig{}, node.Reader(), 8);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->catalog.ForHandler("kata")->name, "aks-kata-256");
  EXPECT_EQ(c->catalog.ForHandler("kata-cc")->name, "aks-kata-cc-2048");
  ASSERT_EQ(c->notes.size(), 1u);
  EXPECT_NE(c->notes[0].find("using built-in handler profiles"), std::string::npos);
  // An empty containerd_config is not read at all.
  DaemonConfig none;
  none.node.containerd_config.clear();
  node.reads.clear();
  ASSERT_TRUE(BuildNodeCatalog(none, node.Reader(), 8).ok());
  EXPECT_TRUE(node.reads.empty());
}

TEST(NodeCatalog, ABrokenKataFileIsAnErrorNamingIt) {
  FakeNode node;
  node.files[kContainerd] = Fixture("containerd/config-v2.toml");
  node.files[kAksKata] = "[hypervisor.clh\n";
  auto c = BuildNodeCatalog(DaemonConfig{}, node.Reader(), 8);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message.rfind(std::string(kAksKata) + ": ", 0), 0u) << c.error().message;
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidInput);
  node.files[kContainerd] = "version = 9\n";
  auto bad = BuildNodeCatalog(DaemonConfig{}, node.Reader(), 8);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind(std::string(kContainerd) + ": version: unsupported", 0), 0u)
      << bad.error().message;
}

TEST(NodeCatalog, HandlersWinOverTheNodeAndNoneUnmaps) {
  FakeNode node;
  node.files[kContainerd] = Fixture("containerd/config-v2.toml");
  node.files[kAksKata] = Fixture("kata/configuration-clh-aks.toml");
  DaemonConfig config;
  config.handlers["kata"] = std::string(kNoProfile);  // derived from the node, but not VM-isolated here
  config.handlers["kata-cc"] = "aks-2025";            // the operator's word over the node's file
  config.handlers["runc"] = std::string(kNoProfile);  // never mapped: nothing to remove
  config.handlers["kata-extra"] = "mine";
  config.profiles.push_back({.name = "mine", .base_vcpus = 2, .base_memory_mib = 512});
  auto c = BuildNodeCatalog(config, node.Reader(), 8);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->catalog.ForHandler("kata"), nullptr);
  EXPECT_EQ(c->catalog.ForHandler("kata-cc")->name, "aks-2025");
  EXPECT_EQ(c->catalog.ForHandler("runc"), nullptr);
  EXPECT_EQ(c->catalog.ForHandler("kata-extra")->base_memory_mib, 512u);
  // The derived profile is still in the catalog (it is named by the notes), only unmapped.
  EXPECT_NE(c->catalog.Find("node-kata"), nullptr);
  // Without the node's files, "none" also overrides the built-in default.
  FakeNode bare;
  DaemonConfig only_none;
  only_none.handlers["kata"] = std::string(kNoProfile);
  auto b = BuildNodeCatalog(only_none, bare.Reader(), 8);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->catalog.ForHandler("kata"), nullptr);
  EXPECT_NE(b->catalog.ForHandler("kata-cc"), nullptr);
}

TEST(NodeCatalog, ReadWholeFileReportsMissingFilesAsNotFound) {
  auto r = ReadWholeFile("/nonexistent/uvm-sizer/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message, "/nonexistent/uvm-sizer/file: cannot read: No such file or directory");
  EXPECT_GE(HostCpus(), 1u);
}

}  // namespace
}  // namespace uvm::daemon

namespace uvm::daemon {
namespace {

TEST(NodeCatalogAnnotations, ContainerdPodAnnotationsBecomeTheForwardedList) {
  // Kata sees only what containerd forwards (getPassthroughAnnotations over the runtime's pod_annotations);
  // a runtime without the key forwards nothing.
  std::map<std::string, std::string> files = {
      {"/etc/containerd/config.toml",
       "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\n"
       "runtime_type = \"io.containerd.kata.v2\"\npod_annotations = [\"io.katacontainers.*\"]\n"
       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata.options]\nConfigPath = \"/k1.toml\"\n"
       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-cc]\n"
       "runtime_type = \"io.containerd.kata-cc.v2\"\n"
       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-cc.options]\nConfigPath = "
       "\"/k2.toml\"\n"},
      {"/k1.toml", "[hypervisor.clh]\nenable_annotations = [\"default_vcpus\"]\n"},
      {"/k2.toml", "[hypervisor.clh]\n"},
  };
  FileReader read = [&](const std::string& path) -> Result<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return Error{.message = path + ": missing", .code = ErrorCode::kNotFound};
    return it->second;
  };
  DaemonConfig config;
  config.node.containerd_config = "/etc/containerd/config.toml";
  auto c = BuildNodeCatalog(config, read, 8);
  ASSERT_TRUE(c.ok()) << c.error().message;
  const sizer::Profile* kata = c->catalog.ForHandler("kata");
  ASSERT_NE(kata, nullptr);
  EXPECT_EQ(kata->forwarded_annotations, (std::vector<std::string>{"io.katacontainers.*"}));
  EXPECT_EQ(kata->enabled_annotations, (std::vector<std::string>{"default_vcpus"}));
  const sizer::Profile* cc = c->catalog.ForHandler("kata-cc");
  ASSERT_NE(cc, nullptr);
  EXPECT_TRUE(cc->forwarded_annotations.empty());
}

}  // namespace
}  // namespace uvm::daemon
