#include "daemon/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace uvm::daemon {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "uvm-config-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path path() const { return path_; }
  void Write(const std::string& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name) << text;
  }

 private:
  fs::path path_;
};

Status Apply(const std::string& text, DaemonConfig& c) {
  return ApplyConfigText(text, "test.toml", c);
}

TEST(DaemonConfig, DefaultsAreTheDocumentedOnes) {
  DaemonConfig c;
  EXPECT_EQ(c.cri.endpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(c.cri.resync_interval, milliseconds(30000));
  EXPECT_EQ(c.cri.poll_interval, milliseconds(2000));
  EXPECT_EQ(c.cgroups.root, "/sys/fs/cgroup");
  EXPECT_EQ(c.cgroups.mode, CgroupMode::kObserve);
  EXPECT_EQ(c.metrics.listen, "0.0.0.0:9842");
  EXPECT_EQ(c.api.socket, "/run/uvm-sizer/uvm-sizer.sock");
  EXPECT_TRUE(c.handlers.empty());
}

TEST(DaemonConfig, NoFileAtTheDefaultPathRunsOnDefaults) {
  TempDir dir;
  auto c = LoadConfig((dir.path() / "config.toml").string(), false);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->cgroups.mode, CgroupMode::kObserve);
  auto must = LoadConfig((dir.path() / "config.toml").string(), true);
  ASSERT_FALSE(must.ok());
  EXPECT_NE(must.error().message.find("config.toml: cannot read"), std::string::npos);
}

TEST(DaemonConfig, EveryKeyIsRead) {
  DaemonConfig c;
  auto st = Apply(R"(
[cri]
endpoint = "unix:///tmp/x/containerd.sock"
resync_interval = "1m"
poll_interval = "500ms"
[cgroups]
root = "/tmp/cg"
mode = "enforce"
[metrics]
listen = "127.0.0.1:0"
[api]
socket = "/tmp/x/api.sock"
group = "kube"
[handlers]
kata-cc = "aks-2025"
[host_overhead]
fixed = "100Mi"
per_gib = 1048576
[kubelet]
cpu_cfs_quota = false
cpu_cfs_quota_period = "50ms"
static_cpu_manager = true
[node]
containerd_config = "/tmp/x/config.toml"
[pressure]
interval = "10s"
shim_monitor_dir = "/tmp/sbs"
[log]
level = "debug"
)",
                  c);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(c.cri.endpoint, "unix:///tmp/x/containerd.sock");
  EXPECT_EQ(c.cri.resync_interval, milliseconds(60000));
  EXPECT_EQ(c.cri.poll_interval, milliseconds(500));
  EXPECT_EQ(c.cgroups.mode, CgroupMode::kEnforce);
  EXPECT_EQ(c.api.group, "kube");
  EXPECT_EQ(c.handlers.at("kata-cc"), "aks-2025");
  EXPECT_EQ(c.host_overhead.fixed_bytes, 100LL << 20);
  EXPECT_EQ(c.host_overhead.per_gib_bytes, 1048576);
  EXPECT_FALSE(c.kubelet.cpu_cfs_quota);
  EXPECT_EQ(c.kubelet.cpu_cfs_quota_period_us, 50000);
  EXPECT_TRUE(c.kubelet.static_cpu_manager);
  EXPECT_EQ(c.pressure.interval, milliseconds(10000));
  EXPECT_EQ(c.log.level, "debug");
}

TEST(DaemonConfig, ErrorsNameFileKeyAndValueAndChangeNothing) {
  struct Case {
    const char* toml;
    const char* message;
  };
  std::vector<Case> cases = {
      {"[cgroups]\nmode = \"enforcing\"\n",
       "test.toml: cgroups.mode: invalid value \"enforcing\" (observe or enforce)"},
      {"[cri]\nendpoint = \"tcp://x\"\n", "test.toml: cri.endpoint: must be unix:///path, got \"tcp://x\""},
      {"[cri]\npoll_interval = \"2 s\"\n", "test.toml: cri.poll_interval: invalid duration \"2 s\""},
      {"[cri]\npoll_interval = 2\n", "test.toml: cri.poll_interval: must be a string, got 2"},
      {"[cri]\npoll = \"2s\"\n", "test.toml: cri.poll: unknown key"},
      {"[crii]\n", "test.toml: crii: unknown key"},
      {"[host_overhead]\nfixed = \"1.5.5Mi\"\n",
       "test.toml: host_overhead.fixed: invalid quantity \"1.5.5Mi\""},
      {"[host_overhead]\nfixed = \"-1Mi\"\n", "test.toml: host_overhead.fixed: must not be negative"},
      {"[kubelet]\ncpu_cfs_quota_period = \"5s\"\n",
       "test.toml: kubelet.cpu_cfs_quota_period: must be between"},
      {"[log]\nlevel = \"loud\"\n", "test.toml: log.level: invalid value \"loud\""},
      {"[api]\nsocket = \"relative.sock\"\n", "test.toml: api.socket: must be an absolute path"},
      {"cri = 3\n", "test.toml: cri: must be a table"},
      {"[cri\n", "test.toml:1:"},
  };
  for (const auto& c : cases) {
    DaemonConfig config;
    config.cri.poll_interval = milliseconds(1234);
    auto st = Apply(c.toml, config);
    ASSERT_FALSE(st.ok()) << c.toml;
    EXPECT_EQ(st.error().message.rfind(c.message, 0), 0u) << "got: " << st.error().message;
    EXPECT_EQ(config.cri.poll_interval, milliseconds(1234)) << "half-applied: " << c.toml;
  }
}

TEST(DaemonConfig, DropInsApplyInLexicalOrderAfterTheMainFile) {
  TempDir dir;
  dir.Write("config.toml", "[cgroups]\nmode = \"enforce\"\n[cri]\npoll_interval = \"3s\"\n");
  dir.Write("config.d/20-b.toml", "[cri]\npoll_interval = \"5s\"\n");
  dir.Write("config.d/10-a.toml", "[cri]\npoll_interval = \"4s\"\nresync_interval = \"45s\"\n");
  dir.Write("config.d/notes.txt", "[garbage");
  auto c = LoadConfig((dir.path() / "config.toml").string(), true);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->cgroups.mode, CgroupMode::kEnforce);
  EXPECT_EQ(c->cri.poll_interval, milliseconds(5000));
  EXPECT_EQ(c->cri.resync_interval, milliseconds(45000));
  dir.Write("config.d/30-bad.toml", "[cgroups]\nmode = 1\n");
  auto bad = LoadConfig((dir.path() / "config.toml").string(), true);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("30-bad.toml: cgroups.mode: must be a string, got 1"), std::string::npos)
      << bad.error().message;
}

TEST(DaemonConfig, HandlersMustNameAKnownProfile) {
  TempDir dir;
  dir.Write("config.toml", "[handlers]\nkata = \"no-such\"\n");
  auto c = LoadConfig((dir.path() / "config.toml").string(), true);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("unknown profile \"no-such\""), std::string::npos) << c.error().message;
}

TEST(DaemonConfig, PrintedConfigParsesBackToTheSameValues) {
  DaemonConfig c;
  ASSERT_TRUE(Apply("[cgroups]\nmode = \"enforce\"\n[cri]\npoll_interval = \"1500ms\"\n[handlers]\nkata = "
                    "\"aks-2025\"\n",
                    c)
                  .ok());
  std::string printed = ConfigToToml(c);
  DaemonConfig back;
  auto st = Apply(printed, back);
  ASSERT_TRUE(st.ok()) << st.error().message << "\n" << printed;
  EXPECT_EQ(back.cgroups.mode, CgroupMode::kEnforce);
  EXPECT_EQ(back.cri.poll_interval, milliseconds(1500));
  EXPECT_EQ(back.handlers.at("kata"), "aks-2025");
  EXPECT_EQ(back.host_overhead.fixed_bytes, c.host_overhead.fixed_bytes);
  EXPECT_EQ(back.host_overhead.per_gib_bytes, c.host_overhead.per_gib_bytes);
}

TEST(DaemonConfig, ShippedDefaultConfigListsEveryKeyCommentedOut) {
  std::ifstream in(std::string(UVM_SOURCE_DIR) + "/deploy/config.toml");
  ASSERT_TRUE(in) << "deploy/config.toml missing";
  std::string text((std::istreambuf_iterator<char>(in)), {}), uncommented;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#", 0) == 0 && line.size() > 1 && line[1] != ' ' && line[1] != '#') {
      uncommented += line.substr(1) + "\n";  // "#key = value" -> "key = value"
    }
  }
  DaemonConfig defaults, parsed;
  auto st = Apply(uncommented, parsed);
  ASSERT_TRUE(st.ok()) << st.error().message << "\n" << uncommented;
  EXPECT_EQ(ConfigToToml(parsed), ConfigToToml(defaults)) << "the commented defaults drifted from the code";
  for (const char* key :
       {"endpoint", "resync_interval", "poll_interval", "call_timeout", "root", "mode", "read_interval",
        "listen", "socket", "group", "fixed", "per_gib", "cpu_cfs_quota", "cpu_cfs_quota_period",
        "static_cpu_manager", "containerd_config", "interval", "shim_monitor_dir", "level"}) {
    EXPECT_NE(uncommented.find(std::string(key) + " ="), std::string::npos) << key;
  }
  // The file itself, as shipped (all commented), is a valid config.
  DaemonConfig as_shipped;
  EXPECT_TRUE(Apply(text, as_shipped).ok());
}

TEST(Duration, Units) {
  EXPECT_EQ(*ParseDuration("30s"), milliseconds(30000));
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("1m30s"), milliseconds(90000));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("5d").ok());
  EXPECT_FALSE(ParseDuration("10us").ok());   // below 1 ms
  EXPECT_FALSE(ParseDuration("9999h").ok());  // above a week
}

}  // namespace
}  // namespace uvm::daemon
