// The systemd writer against a private dbus-daemon and a fake org.freedesktop.systemd1 Manager (sd-bus on
// both ends): the exact method, unit name and property values are asserted.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "cgroups/systemd.h"

namespace uvm::cgroups {
namespace {

// dbus-daemon on a socket in a temp dir, killed and removed on destruction.
class PrivateBus {
 public:
  PrivateBus() {
    std::string tmpl = "/tmp/uvm-dbus-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    std::ofstream(dir_ + "/bus.conf")
        << R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=)"
        << dir_ << R"(/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)";
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    std::string config = "--config-file=" + dir_ + "/bus.conf";
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 3);
      execl(UVM_DBUS_DAEMON_BIN, "dbus-daemon", config.c_str(), "--nofork", "--print-address=3", nullptr);
      _exit(127);
    }
    close(out[1]);
    // The daemon prints its address once it listens: our readiness signal.
    char buf[512];
    ssize_t n = read(out[0], buf, sizeof buf - 1);
    close(out[0]);
    if (n > 0) {
      address_.assign(buf, static_cast<size_t>(n));
      while (!address_.empty() && address_.back() == '\n') address_.pop_back();
    }
  }
  ~PrivateBus() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  const std::string& address() const { return address_; }

 private:
  std::string dir_;
  std::string address_;
  pid_t pid_ = -1;
};

struct RecordedCall {
  std::string member;
  std::string unit;
  int runtime = -1;
  std::vector<std::tuple<std::string, std::string, uint64_t>> properties;  // name, variant type, value
};

// A fake systemd Manager with just SetUnitProperties, on its own thread (sd-bus objects are per thread).
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& address) {
    std::promise<std::string> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, address, ready = std::move(ready)]() mutable { Run(address, ready); });
    startup_error_ = started.get();
  }
  ~FakeSystemd() {
    stop_ = true;
    thread_.join();
  }
  const std::string& startup_error() const { return startup_error_; }
  std::vector<RecordedCall> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  static int SetUnitProperties(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    auto* self = static_cast<FakeSystemd*>(userdata);
    RecordedCall call;
    call.member = sd_bus_message_get_member(m);
    const char* unit = nullptr;
    int runtime = 0;
    int r = sd_bus_message_read(m, "sb", &unit, &runtime);
    if (r < 0) return r;
    call.unit = unit;
    call.runtime = runtime;
    r = sd_bus_message_enter_container(m, 'a', "(sv)");
    if (r < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
      const char* name = nullptr;
      if ((r = sd_bus_message_read(m, "s", &name)) < 0) return r;
      const char* contents = nullptr;
      char type = 0;
      if ((r = sd_bus_message_peek_type(m, &type, &contents)) < 0) return r;
      uint64_t value = 0;
      if (std::string(contents) == "t") {
        if ((r = sd_bus_message_read(m, "v", "t", &value)) < 0) return r;
      } else if ((r = sd_bus_message_skip(m, "v")) < 0) {
        return r;
      }
      call.properties.emplace_back(name, contents, value);
      if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    if (r < 0) return r;
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    {
      std::lock_guard lock(self->mu_);
      self->calls_.push_back(call);
    }
    if (call.unit == "missing.slice") {
      return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", unit);
    }
    return sd_bus_reply_method_return(m, "");
  }

  void Run(const std::string& address, std::promise<std::string>& ready) {
    static const sd_bus_vtable kVtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("SetUnitProperties", "sba(sv)", "", &FakeSystemd::SetUnitProperties,
                      SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END};
    sd_bus* bus = nullptr;
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0) r = sd_bus_start(bus);
    if (r >= 0) {
      r = sd_bus_add_object_vtable(bus, &slot, "/org/freedesktop/systemd1",
                                   "org.freedesktop.systemd1.Manager", kVtable, this);
    }
    if (r >= 0) r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
    ready.set_value(r < 0 ? std::string("fake systemd: ") + std::strerror(-r) : "");
    while (r >= 0 && !stop_) {
      r = sd_bus_process(bus, nullptr);
      if (r > 0) continue;
      if (r >= 0) r = sd_bus_wait(bus, 50000);
    }
    sd_bus_slot_unref(slot);
    sd_bus_flush_close_unref(bus);
  }

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::string startup_error_;
  std::mutex mu_;
  std::vector<RecordedCall> calls_;
};

class SystemdWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(UVM_DBUS_DAEMON_BIN))
        << "dbus-daemon is missing: install the Debian package dbus (scripts/install-deps.sh does)";
    ASSERT_FALSE(bus_.address().empty()) << "dbus-daemon did not start";
    fake_ = std::make_unique<FakeSystemd>(bus_.address());
    ASSERT_EQ(fake_->startup_error(), "");
  }
  PrivateBus bus_;
  std::unique_ptr<FakeSystemd> fake_;
};

constexpr char kUnit[] = "kubepods-burstable-pod1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51.slice";

TEST_F(SystemdWriterTest, SetUnitPropertiesSendsExactlyWhatSystemdExpects) {
  auto writer = SystemdUnitWriter::Connect(bus_.address());
  ASSERT_TRUE(writer) << writer.error().message;
  ASSERT_TRUE(
      writer->SetUnitProperties(kUnit, {.memory_max_bytes = 805306368, .cpu_quota_per_sec_usec = 1750000}));
  auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].member, "SetUnitProperties");
  EXPECT_EQ(calls[0].unit, kUnit);
  EXPECT_EQ(calls[0].runtime, 1) << "runtime=true: lives in /run, like the kubelet's own calls";
  using P = std::tuple<std::string, std::string, uint64_t>;
  EXPECT_EQ(calls[0].properties,
            (std::vector<P>{P{"MemoryMax", "t", 805306368}, P{"CPUQuotaPerSecUSec", "t", 1750000}}));
}

TEST_F(SystemdWriterTest, RaiseUnitLimitsAsksOnlyForWhatIsLower) {
  auto writer = SystemdUnitWriter::Connect(bus_.address());
  ASSERT_TRUE(writer) << writer.error().message;
  CgroupSample current;
  current.memory_limit_bytes = 704643072;
  current.cpu_quota_us = 200000;
  current.cpu_period_us = 100000;
  auto r = writer->RaiseUnitLimits(kUnit, current, 805306368, CpuQuota{175000, 100000});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->written());
  ASSERT_EQ(r->changes.size(), 2u);
  EXPECT_TRUE(r->changes[0].written);
  EXPECT_EQ(r->changes[0].before, "704643072");
  EXPECT_EQ(r->changes[0].after, "805306368");
  EXPECT_FALSE(r->changes[1].written) << "2 CPUs already cover 1.75";
  auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 1u);
  using P = std::tuple<std::string, std::string, uint64_t>;
  EXPECT_EQ(calls[0].properties, (std::vector<P>{P{"MemoryMax", "t", 805306368}}));

  // Everything already covered: no D-Bus call at all.
  current.memory_limit_bytes = 805306368;
  auto none = writer->RaiseUnitLimits(kUnit, current, 805306368, CpuQuota{175000, 100000});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->written());
  EXPECT_EQ(fake_->calls().size(), 1u);

  // Unlimited stays unlimited.
  CgroupSample unlimited;
  unlimited.cpu_period_us = 100000;
  auto u = writer->RaiseUnitLimits(kUnit, unlimited, 805306368, CpuQuota{175000, 100000});
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->written());
  EXPECT_EQ(fake_->calls().size(), 1u);
}

TEST_F(SystemdWriterTest, SystemdErrorsCarryTheDbusErrorName) {
  auto writer = SystemdUnitWriter::Connect(bus_.address());
  ASSERT_TRUE(writer);
  auto st = writer->SetUnitProperties("missing.slice", {.memory_max_bytes = 1 << 30});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("org.freedesktop.systemd1.NoSuchUnit: Unit missing.slice not loaded."),
            std::string::npos)
      << st.error().message;
  EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
}

TEST_F(SystemdWriterTest, NoSystemdOnTheBusIsUnavailable) {
  auto writer = SystemdUnitWriter::Connect(bus_.address());
  ASSERT_TRUE(writer);
  fake_.reset();  // its connection closes, so the bus releases org.freedesktop.systemd1
  auto st = writer->SetUnitProperties(kUnit, {.memory_max_bytes = 1 << 30});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("org.freedesktop.DBus.Error.ServiceUnknown"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable) << st.error().message;
}

TEST_F(SystemdWriterTest, RefusesWhatIsNotAUnitNameWithoutCallingSystemd) {
  auto writer = SystemdUnitWriter::Connect(bus_.address());
  ASSERT_TRUE(writer);
  for (const char* bad : {"../etc/passwd", "kubepods.slice\n"}) {
    auto st = writer->SetUnitProperties(bad, {.memory_max_bytes = 1});
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidInput) << bad;
  }
  EXPECT_TRUE(fake_->calls().empty());
}

TEST(SystemdWriterConnect, UnreachableBusIsAnError) {
  auto writer = SystemdUnitWriter::Connect("unix:path=/nonexistent/uvm-sizer-test/bus");
  ASSERT_FALSE(writer);
  EXPECT_NE(writer.error().message.find("/nonexistent/uvm-sizer-test/bus"), std::string::npos);
  EXPECT_EQ(writer.error().code, ErrorCode::kNotFound) << writer.error().message;
  EXPECT_EQ(writer.error().sys_errno, ENOENT);
}

}  // namespace
}  // namespace uvm::cgroups
