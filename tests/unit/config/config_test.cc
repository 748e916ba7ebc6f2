#include "daemon/config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
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

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream in(std::string(UVM_SOURCE_DIR) + "/" + relative);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(DaemonConfig, ShippedConfigIsTheOneTheKeyTableGenerates) {
  std::string text = ReadSourceFile("deploy/config.toml");
  ASSERT_FALSE(text.empty()) << "deploy/config.toml missing";
  EXPECT_EQ(text, DefaultConfigFileText())
      << "deploy/config.toml drifted from the key table: regenerate it with "
         "`build/cli/uvm-sizer config defaults > deploy/config.toml`";
}

TEST(DaemonConfig, ShippedConfigUncommentedIsTheDefaultsAndNamesEveryKey) {
  std::string text = DefaultConfigFileText(), uncommented;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#", 0) == 0 && line.size() > 1 && line[1] != ' ' && line[1] != '#') {
      uncommented += line.substr(1) + "\n";  // "#key = value" -> "key = value"
    }
  }
  DaemonConfig defaults, parsed;
  auto st = Apply(uncommented, parsed);
  ASSERT_TRUE(st.ok()) << st.error().message << "\n" << uncommented;
  EXPECT_EQ(ConfigToToml(parsed), ConfigToToml(defaults));
  for (const ConfigKey& k : ConfigKeys()) {
    std::string leaf(k.path.substr(k.path.find('.') + 1));
    EXPECT_NE(uncommented.find("\n" + leaf + " = " + k.print(defaults) + "\n"), std::string::npos) << k.path;
  }
  // The file itself, as shipped (all commented), is a valid config.
  DaemonConfig as_shipped;
  EXPECT_TRUE(Apply(text, as_shipped).ok());
  for (std::istringstream l(text); std::getline(l, text);) EXPECT_LE(text.size(), 110u) << text;
}

TEST(DaemonConfig, EveryKeyOfTheTableIsPrintedParsedAndDiffedAlone) {
  const DaemonConfig defaults;
  std::set<std::string_view> seen;
  for (const ConfigKey& k : ConfigKeys()) {
    SCOPED_TRACE(std::string(k.path));
    EXPECT_TRUE(seen.insert(k.path).second) << "key listed twice";
    EXPECT_FALSE(k.doc.empty());
    std::string_view section = k.path.substr(0, k.path.find('.'));
    std::string_view leaf = k.path.substr(k.path.find('.') + 1);
    // The example differs from the default and is accepted.
    DaemonConfig changed;
    auto st = Apply(fmt::format("[{}]\n{} = {}\n", section, leaf, k.example), changed);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ(k.print(changed), std::string(k.example)) << "example is not in printed form";
    auto diff = DiffConfig(defaults, changed);
    ASSERT_EQ(diff.size(), 1u) << ConfigToToml(changed);
    EXPECT_EQ(diff[0].key, k.path);
    EXPECT_EQ(diff[0].before, k.print(defaults));
    EXPECT_EQ(diff[0].after, std::string(k.example));
    EXPECT_EQ(diff[0].live, k.apply == ApplyWhen::kLive);
    // Printed and parsed back, the change survives.
    DaemonConfig back;
    ASSERT_TRUE(Apply(ConfigToToml(changed), back).ok());
    EXPECT_TRUE(DiffConfig(changed, back).empty());
    // A value of the wrong TOML type is refused naming the key, and changes nothing.
    DaemonConfig untouched;
    auto bad = Apply(fmt::format("[{}]\n{} = {{ x = 1 }}\n", section, leaf), untouched);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message.rfind(fmt::format("test.toml: {}: ", k.path), 0), 0u)
        << bad.error().message;
    EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
    EXPECT_TRUE(DiffConfig(defaults, untouched).empty());
  }
}

TEST(DaemonConfig, OnlyTheStartupKeysNeedARestart) {
  std::set<std::string_view> restart;
  for (const ConfigKey& k : ConfigKeys()) {
    if (k.apply == ApplyWhen::kRestart) restart.insert(k.path);
  }
  EXPECT_EQ(restart, (std::set<std::string_view>{"cri.endpoint", "metrics.listen", "api.socket", "api.group",
                                                 "cgroups.root", "node.name"}));
}

TEST(DaemonConfig, BadDurationsAreRefusedNamingKeyAndValue) {
  DaemonConfig defaults;
  for (const ConfigKey& k : ConfigKeys()) {
    if (k.type.rfind("duration", 0) != 0) continue;
    std::string_view section = k.path.substr(0, k.path.find('.'));
    std::string_view leaf = k.path.substr(k.path.find('.') + 1);
    for (const char* value :
         {".s", "1.2.3s", "1e400s", "-1s", "5", "10 s", "", "1..5m", "99999999999999999999s", "2562048h"}) {
      DaemonConfig c;
      auto st = Apply(fmt::format("[{}]\n{} = \"{}\"\n", section, leaf, value), c);
      ASSERT_FALSE(st.ok()) << k.path << " = " << value;
      EXPECT_EQ(
          st.error().message.rfind(fmt::format("test.toml: {}: invalid duration \"{}\" (", k.path, value), 0),
          0u)
          << st.error().message;
      EXPECT_TRUE(DiffConfig(defaults, c).empty());
    }
  }
}

TEST(DaemonConfig, NumbersAndSizesAreRefusedOutOfRange) {
  struct Case {
    const char* toml;
    const char* message;
  };
  for (const Case& k : std::vector<Case>{
           {"[pressure]\nwarning_psi_full_avg10 = inf\n",
            "test.toml: pressure.warning_psi_full_avg10: must be a finite number, got inf"},
           {"[pressure]\ncritical_available_fraction = nan\n",
            "test.toml: pressure.critical_available_fraction: must be a finite number, got nan"},
           {"[host_overhead]\nfixed = \"2Ti\"\n",
            "test.toml: host_overhead.fixed: must be at most 1Ti, got \"2Ti\""},
           {"[host_overhead]\nper_gib = \"1e400\"\n",
            "test.toml: host_overhead.per_gib: must be at most 1Gi, got \"1e400\""},
           {"[host_overhead]\nfixed = -5\n",
            "test.toml: host_overhead.fixed: must not be negative, got \"-5\""},
           {"[host_overhead]\nfixed = 1.5\n",
            "test.toml: host_overhead.fixed: must be a quantity like \"86Mi\", got 1.5"},
           {"[kubelet]\ncpu_cfs_quota_period = \"5s\"\n",
            "test.toml: kubelet.cpu_cfs_quota_period: must be between 1ms and 1s, got \"5s\""},
           {"[kubelet]\ncpu_cfs_quota_period = \"100\"\n",
            "test.toml: kubelet.cpu_cfs_quota_period: invalid duration \"100\" (missing unit"},
           {"[pressure]\npsi_trigger_window = \"20s\"\n",
            "test.toml: pressure.psi_trigger_window: must be between 500ms and 10s, got \"20s\""},
           {"[pressure]\npsi_trigger_stall = \"3s\"\n",
            "test.toml: pressure.psi_trigger_stall: \"3s\" must not exceed psi_trigger_window \"2s\""},
       }) {
    DaemonConfig d;
    auto bad = Apply(k.toml, d);
    ASSERT_FALSE(bad.ok()) << k.toml;
    EXPECT_EQ(bad.error().message.rfind(k.message, 0), 0u) << bad.error().message;
    EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  }
}

TEST(DaemonConfig, HandlerNoneIsKeptAndReservedAsAProfileName) {
  DaemonConfig c;
  ASSERT_TRUE(Apply("[handlers]\nkata = \"none\"\n", c).ok());
  EXPECT_EQ(c.handlers.at("kata"), "none");
  EXPECT_TRUE(ValidateConfig(c, "test.toml").ok());
  DaemonConfig back;
  ASSERT_TRUE(Apply(ConfigToToml(c), back).ok());
  EXPECT_EQ(back.handlers.at("kata"), "none");
  auto reserved = Apply("[profiles.none]\nbase_vcpus = 1\n", c);
  ASSERT_FALSE(reserved.ok());
  EXPECT_EQ(reserved.error().message.rfind("test.toml: profiles.none: \"none\" is reserved", 0), 0u)
      << reserved.error().message;
  auto empty = Apply("[handlers]\nkata = \"\"\n", c);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, "test.toml: handlers.kata: must name a profile or \"none\", got \"\"");
}

TEST(DaemonConfig, DynamicTablesAreDiffedPerEntry) {
  DaemonConfig before, after;
  ASSERT_TRUE(
      Apply("[handlers]\nkata = \"aks-kata-256\"\nold = \"aks-2025\"\n[profiles.mine]\nbase_vcpus = 1\n",
            before)
          .ok());
  after = before;
  ASSERT_TRUE(
      Apply("[handlers]\nkata = \"none\"\n\"odd name\" = \"mine\"\n[profiles.mine]\nbase_vcpus = 2\n", after)
          .ok());
  after.handlers.erase("old");
  auto diff = DiffConfig(before, after);
  ASSERT_EQ(diff.size(), 4u);
  EXPECT_EQ(diff[0].key, "handlers.kata");
  EXPECT_EQ(diff[0].before, "\"aks-kata-256\"");
  EXPECT_EQ(diff[0].after, "\"none\"");
  EXPECT_EQ(diff[1].key, "handlers.\"odd name\"");
  EXPECT_EQ(diff[1].before, "(unset)");
  EXPECT_EQ(diff[2].key, "handlers.old");
  EXPECT_EQ(diff[2].after, "(unset)");
  EXPECT_EQ(diff[3].key, "profiles.mine");
  EXPECT_NE(diff[3].before.find("base_vcpus = 1.0"), std::string::npos) << diff[3].before;
  EXPECT_NE(diff[3].after.find("base_vcpus = 2.0"), std::string::npos) << diff[3].after;
  for (const auto& ch : diff) EXPECT_TRUE(ch.live);
}

TEST(DaemonConfig, OneJournalLineNamesEveryChangeAndWhatNeedsARestart) {
  EXPECT_EQ(DescribeChanges({}), "SIGHUP: configuration reloaded: no key changed");
  DaemonConfig before, after;
  ASSERT_TRUE(Apply("[handlers]\nkata = \"aks-kata-256\"\n", before).ok());
  after = before;
  ASSERT_TRUE(Apply("[cri]\npoll_interval = \"5s\"\n[handlers]\nkata = \"none\"\n[metrics]\nlisten = "
                    "\"127.0.0.1:9843\"\n",
                    after)
                  .ok());
  EXPECT_EQ(
      DescribeChanges(DiffConfig(before, after)),
      "SIGHUP: configuration reloaded: cri.poll_interval \"2s\" -> \"5s\", handlers.kata \"aks-kata-256\" -> "
      "\"none\"; needs a restart to apply: metrics.listen \"0.0.0.0:9842\" -> \"127.0.0.1:9843\"");
  DaemonConfig restart_only = before;
  restart_only.api.group = "kube";
  EXPECT_EQ(
      DescribeChanges(DiffConfig(before, restart_only)),
      "SIGHUP: configuration reloaded: nothing to apply live; needs a restart to apply: api.group \"\" -> "
      "\"kube\"");
}

TEST(DaemonConfig, AMissingOrUnreadableFileCarriesItsCode) {
  TempDir dir;
  auto missing = LoadConfig((dir.path() / "nope.toml").string(), true);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  dir.Write("config.toml", "[cri]\npoll_interval = \".s\"\n");
  auto bad = LoadConfig((dir.path() / "config.toml").string(), true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(bad.error().message.find("config.toml: cri.poll_interval: invalid duration \".s\""),
            std::string::npos)
      << bad.error().message;
  fs::create_directories(dir.path() / "config.d" / "dir.toml");
  dir.Write("config.toml", "");
  auto is_dir = LoadConfig((dir.path() / "config.toml").string(), true);
  ASSERT_FALSE(is_dir.ok());
  EXPECT_NE(is_dir.error().message.find("dir.toml: cannot read"), std::string::npos)
      << is_dir.error().message;
}

TEST(DaemonConfig, HostileTextIsAnErrorNotACrash) {
  for (std::string text :
       {std::string("[cri]\npoll_interval = \"\\u0000s\"\n"), std::string("[[cri]]\n"),
        std::string("[profiles]\nx = 1\n"), std::string("a.b.c.d = 1\n"), std::string(100000, '['),
        std::string("[handlers]\nkata = 1\n"), std::string("[pressure]\nlog_mount_patterns = \"x\"\n")}) {
    DaemonConfig c;
    auto st = Apply(text, c);
    EXPECT_FALSE(st.ok()) << text.substr(0, 60);
  }
}

TEST(DaemonConfig, PrintedProfileKeepsItsAnnotationPatterns) {
  DaemonConfig c;
  ASSERT_TRUE(
      Apply("[profiles.mine]\nbase_vcpus = 1\nenabled_annotations = [\"default_vcpus\", \"default_memory\"]\n"
            "forwarded_annotations = [\"io.katacontainers.*\"]\nmin_hypervisor_memory_mib = 0\n",
            c)
          .ok());
  std::string printed = ConfigToToml(c);
  DaemonConfig back;
  auto st = Apply(printed, back);
  ASSERT_TRUE(st.ok()) << st.error().message << "\n" << printed;
  ASSERT_EQ(back.profiles.size(), 1u) << printed;
  const auto& p = back.profiles.front();
  EXPECT_EQ(p.enabled_annotations, (std::vector<std::string>{"default_vcpus", "default_memory"})) << printed;
  EXPECT_EQ(p.forwarded_annotations, std::vector<std::string>{"io.katacontainers.*"});
  EXPECT_EQ(p.min_hypervisor_memory_mib, 0u);
}

}  // namespace
}  // namespace uvm::daemon
