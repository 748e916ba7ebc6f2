// pods.jsonl and run.json: what the runner writes is what `report` reads back, field for field; a damaged
// line is refused with its line number, field and value.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bench/startup/outputs.h"

namespace uvm::startup {
namespace {

// Every field set, none to its default, so a field the writer or the reader forgets shows up.
PodRecord FullPod() {
  PodRecord pod;
  pod.run_id = "run-20261202-1";
  pod.handler = "kata-cc";
  pod.runtime_type = "io.containerd.kata-cc.v2";
  pod.stand_in = true;
  pod.mode = "open";
  pod.level = 2;
  pod.rate = 2.5;
  pod.iteration = 7;
  pod.warmup = true;
  pod.cold = true;
  pod.mem_limit = "256Mi";
  pod.cpu_limit = "500m";
  pod.memory_limit_bytes = 268435456;
  pod.cpu_limit_millis = 500;
  pod.overhead = "cpu=250m,memory=160Mi";
  pod.predicted_uvm = {.vm_isolated = true,
                       .profile = "kata-cc-card",
                       .vcpus = 2,
                       .memory_mib = 2304,
                       .host_memory_bytes = 2600000000,
                       .refusal = "overhead too small"};
  pod.observed_uvm = ObservedUvm{.vcpus = 3, .memory_mib = 2048, .source = "qemu -m"};
  pod.pod_name = "bench-kata-cc-7";
  pod.pod_uid = "0f1e2d3c";
  pod.sandbox_id = "abcdef0123";
  pod.start_unix_ns = 1764678000123456789;
  pod.start_offset_ns = 9876543210;
  pod.burst = 4;
  pod.budget_wait_ns = 1234;
  for (int i = 0; i < kPhaseCount; ++i) pod.phase_ns[i] = 1000000 * (i + 1) + i;
  pod.total_ns = 30000123;
  pod.unaccounted_ns = -17;
  pod.stop_sandbox_ns = 4000000;
  pod.remove_sandbox_ns = 5000000;
  pod.kata = KataTimings{.shim_create_ms = 812.25,
                         .agent_create_sandbox_ms = 11.5,
                         .agent_create_container_ms = 22.75,
                         .agent_start_container_ms = 3.125,
                         .vmm_spawn_ns = 40000000,
                         .mem_ramp_t50_ns = 500000000,
                         .mem_ramp_t90_ns = 700000000,
                         .mem_peak_bytes = 18446744073709551000ULL};
  pod.error =
      PodError{.phase = "create_container", .code = "DEADLINE_EXCEEDED", .message = "took \"too\" long"};
  return pod;
}

RunInfo FullRunInfo() {
  RunInfo info;
  info.run_id = "run-20261202-1";
  info.tool_version = "0.1.0";
  info.command_line = "uvm-sizer-startup run --handlers runc,kata";
  info.started_at = "2026-12-02T12:00:00Z";
  info.cri_endpoint = "unix:///run/test/containerd.sock";
  info.image = "localhost/pause:bench";
  info.mode = "open";
  info.levels = {1, 4, 16};
  info.rates = {0.5, 1, 2.25};
  info.mem_budget_bytes = 3000000000;
  info.wall_ns = 61000000000;
  info.env.cpu_model = "AMD EPYC 7763";
  info.env.nproc = 2;
  info.env.kernel = "6.1.0-18-amd64";
  info.env.mem_total_bytes = 8000000000;
  info.env.mem_available_bytes = 6000000000;
  info.env.containerd_version = "1.6.20";
  info.env.handlers = {{.handler = "runc", .runtime_type = "io.containerd.runc.v2"},
                       {.handler = "kata",
                        .runtime_type = "io.containerd.kata.v2",
                        .stand_in = true,
                        .kata_version = "3.2.0",
                        .hypervisor = "clh"}};
  info.env.sev_snp = "Y";
  info.env.tdx = "N";
  info.containerd = {.url = "http://127.0.0.1:1338/v1/metrics",
                     .sandbox_create_sum_before_s = 1.5,
                     .sandbox_create_sum_after_s = 4.75,
                     .sandbox_create_count_before = 3,
                     .sandbox_create_count_after = 51,
                     .error = "partial"};
  return info;
}

void ExpectSamePod(const PodRecord& a, const PodRecord& b) {
  EXPECT_EQ(a.schema_version, b.schema_version);
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.handler, b.handler);
  EXPECT_EQ(a.runtime_type, b.runtime_type);
  EXPECT_EQ(a.stand_in, b.stand_in);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.level, b.level);
  EXPECT_EQ(a.rate, b.rate);
  EXPECT_EQ(a.iteration, b.iteration);
  EXPECT_EQ(a.warmup, b.warmup);
  EXPECT_EQ(a.cold, b.cold);
  EXPECT_EQ(a.mem_limit, b.mem_limit);
  EXPECT_EQ(a.cpu_limit, b.cpu_limit);
  EXPECT_EQ(a.memory_limit_bytes, b.memory_limit_bytes);
  EXPECT_EQ(a.cpu_limit_millis, b.cpu_limit_millis);
  EXPECT_EQ(a.overhead, b.overhead);
  EXPECT_EQ(a.predicted_uvm.vm_isolated, b.predicted_uvm.vm_isolated);
  EXPECT_EQ(a.predicted_uvm.profile, b.predicted_uvm.profile);
  EXPECT_EQ(a.predicted_uvm.vcpus, b.predicted_uvm.vcpus);
  EXPECT_EQ(a.predicted_uvm.memory_mib, b.predicted_uvm.memory_mib);
  EXPECT_EQ(a.predicted_uvm.host_memory_bytes, b.predicted_uvm.host_memory_bytes);
  EXPECT_EQ(a.predicted_uvm.refusal, b.predicted_uvm.refusal);
  ASSERT_EQ(a.observed_uvm.has_value(), b.observed_uvm.has_value());
  if (a.observed_uvm) {
    EXPECT_EQ(a.observed_uvm->vcpus, b.observed_uvm->vcpus);
    EXPECT_EQ(a.observed_uvm->memory_mib, b.observed_uvm->memory_mib);
    EXPECT_EQ(a.observed_uvm->source, b.observed_uvm->source);
  }
  EXPECT_EQ(a.pod_name, b.pod_name);
  EXPECT_EQ(a.pod_uid, b.pod_uid);
  EXPECT_EQ(a.sandbox_id, b.sandbox_id);
  EXPECT_EQ(a.start_unix_ns, b.start_unix_ns);
  EXPECT_EQ(a.start_offset_ns, b.start_offset_ns);
  EXPECT_EQ(a.burst, b.burst);
  EXPECT_EQ(a.budget_wait_ns, b.budget_wait_ns);
  EXPECT_EQ(a.phase_ns, b.phase_ns);
  EXPECT_EQ(a.total_ns, b.total_ns);
  EXPECT_EQ(a.unaccounted_ns, b.unaccounted_ns);
  EXPECT_EQ(a.stop_sandbox_ns, b.stop_sandbox_ns);
  EXPECT_EQ(a.remove_sandbox_ns, b.remove_sandbox_ns);
  ASSERT_EQ(a.kata.has_value(), b.kata.has_value());
  if (a.kata) {
    EXPECT_EQ(a.kata->shim_create_ms, b.kata->shim_create_ms);
    EXPECT_EQ(a.kata->agent_create_sandbox_ms, b.kata->agent_create_sandbox_ms);
    EXPECT_EQ(a.kata->agent_create_container_ms, b.kata->agent_create_container_ms);
    EXPECT_EQ(a.kata->agent_start_container_ms, b.kata->agent_start_container_ms);
    EXPECT_EQ(a.kata->vmm_spawn_ns, b.kata->vmm_spawn_ns);
    EXPECT_EQ(a.kata->mem_ramp_t50_ns, b.kata->mem_ramp_t50_ns);
    EXPECT_EQ(a.kata->mem_ramp_t90_ns, b.kata->mem_ramp_t90_ns);
    EXPECT_EQ(a.kata->mem_peak_bytes, b.kata->mem_peak_bytes);
  }
  ASSERT_EQ(a.error.has_value(), b.error.has_value());
  if (a.error) {
    EXPECT_EQ(a.error->phase, b.error->phase);
    EXPECT_EQ(a.error->code, b.error->code);
    EXPECT_EQ(a.error->message, b.error->message);
  }
}

TEST(PodsJsonl, FullyPopulatedRecordRoundTrips) {
  const PodRecord pod = FullPod();
  const std::string line = PodRecordToJsonLine(pod);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = PodRecordFromJson(line, 1);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSamePod(pod, *back);
  EXPECT_EQ(PodRecordToJsonLine(*back), line);
}

TEST(PodsJsonl, DefaultRecordRoundTripsWithNulls) {
  PodRecord pod;
  pod.run_id = "r";
  pod.handler = "runc";
  pod.mode = "burst";
  const std::string line = PodRecordToJsonLine(pod);
  auto j = nlohmann::json::parse(line);
  EXPECT_TRUE(j["total_ns"].is_null());
  EXPECT_TRUE(j["kata"].is_null());
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_TRUE(j["phase_ns"]["run_sandbox"].is_null());
  EXPECT_EQ(j["schema_version"], kSchemaVersion);
  auto back = PodRecordFromJson(line);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSamePod(pod, *back);
}

TEST(PodsJsonl, UnknownFieldsAreIgnored) {
  auto j = nlohmann::json::parse(PodRecordToJsonLine(FullPod()));
  j["added_by_a_newer_tool"] = {{"x", 1}};
  j["predicted_uvm"]["also_new"] = "y";
  auto back = PodRecordFromJson(j.dump(), 3);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSamePod(FullPod(), *back);
}

struct BadLine {
  const char* name;
  const char* json_pointer;  // the field to damage
  nlohmann::json value;      // its new value (discarded = remove the field)
  const char* message_part;  // what the error must say
};

class PodsJsonlBadField : public testing::TestWithParam<BadLine> {};

TEST_P(PodsJsonlBadField, IsRefusedNamingLineFieldAndValue) {
  const BadLine& c = GetParam();
  auto j = nlohmann::json::parse(PodRecordToJsonLine(FullPod()));
  nlohmann::json::json_pointer ptr(c.json_pointer);
  if (c.value.is_discarded()) {
    j[ptr.parent_pointer()].erase(ptr.back());
  } else {
    j[ptr] = c.value;
  }
  auto pod = PodRecordFromJson(j.dump(), 12);
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(pod.error().message.find("line 12: "), std::string::npos) << pod.error().message;
  EXPECT_NE(pod.error().message.find(c.message_part), std::string::npos) << pod.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodsJsonlBadField,
    testing::Values(
        BadLine{"level_string", "/level", "four", "field \"level\" must be an integer, not \"four\""},
        BadLine{"level_too_big", "/level", 4294967296LL, "field \"level\" must be in range, not 4294967296"},
        BadLine{"vcpus_negative", "/predicted_uvm/vcpus", -2,
                "field \"predicted_uvm.vcpus\" must be not negative, not -2"},
        BadLine{"phase_float", "/phase_ns/create_container", 1.5,
                "field \"phase_ns.create_container\" must be an integer, not 1.5"},
        BadLine{"stand_in_string", "/stand_in", "yes",
                "field \"stand_in\" must be true or false, not \"yes\""},
        BadLine{"handler_missing", "/handler", nlohmann::json(nlohmann::json::value_t::discarded),
                "field \"handler\" is missing"},
        BadLine{"kata_not_object", "/kata", 5, "field \"kata\" must be an object, not 5"},
        BadLine{"kata_field", "/kata/shim_create_ms", "fast",
                "field \"kata.shim_create_ms\" must be a number, not \"fast\""},
        BadLine{"error_code", "/error/code", 14, "field \"error.code\" must be a string, not 14"},
        BadLine{"schema_newer", "/schema_version", 2,
                "field \"schema_version\" is 2; this tool reads version 1"}),
    [](const testing::TestParamInfo<BadLine>& param_info) { return std::string(param_info.param.name); });

TEST(PodsJsonl, NotJsonIsRefusedWithLine) {
  auto pod = PodRecordFromJson("{\"handler\": ", 4);
  ASSERT_FALSE(pod.ok());
  EXPECT_NE(pod.error().message.find("line 4: not valid JSON"), std::string::npos) << pod.error().message;
  auto array = PodRecordFromJson("[1]", 5);
  ASSERT_FALSE(array.ok());
  EXPECT_NE(array.error().message.find("line 5: must be a JSON object, not [1]"), std::string::npos)
      << array.error().message;
}

TEST(PodsJsonl, ReadFileNamesPathAndLineOfTheBadRow) {
  const auto path =
      std::filesystem::temp_directory_path() / ("startup-jsonl-" + std::to_string(::getpid()) + ".jsonl");
  {
    std::ofstream out(path);
    out << PodRecordToJsonLine(FullPod()) << "\n\n" << PodRecordToJsonLine(FullPod()) << "\n";
  }
  auto good = ReadPodsJsonl(path.string());
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->size(), 2u);
  {
    std::ofstream out(path, std::ios::app);
    out << "{\"schema_version\":1,\"run_id\":3}\n";
  }
  auto bad = ReadPodsJsonl(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path.string() + ": line 4: field \"run_id\" must be a string, not 3"),
            std::string::npos)
      << bad.error().message;
  auto missing = ReadPodsJsonl(path.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(RunJson, FullyPopulatedRunInfoRoundTrips) {
  const RunInfo info = FullRunInfo();
  const std::string text = RunInfoToJson(info);
  auto back = RunInfoFromJson(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->schema_version, info.schema_version);
  EXPECT_EQ(back->run_id, info.run_id);
  EXPECT_EQ(back->tool_version, info.tool_version);
  EXPECT_EQ(back->command_line, info.command_line);
  EXPECT_EQ(back->started_at, info.started_at);
  EXPECT_EQ(back->cri_endpoint, info.cri_endpoint);
  EXPECT_EQ(back->image, info.image);
  EXPECT_EQ(back->mode, info.mode);
  EXPECT_EQ(back->levels, info.levels);
  EXPECT_EQ(back->rates, info.rates);
  EXPECT_EQ(back->mem_budget_bytes, info.mem_budget_bytes);
  EXPECT_EQ(back->wall_ns, info.wall_ns);
  EXPECT_EQ(back->env.cpu_model, info.env.cpu_model);
  EXPECT_EQ(back->env.nproc, info.env.nproc);
  EXPECT_EQ(back->env.kernel, info.env.kernel);
  EXPECT_EQ(back->env.mem_total_bytes, info.env.mem_total_bytes);
  EXPECT_EQ(back->env.mem_available_bytes, info.env.mem_available_bytes);
  EXPECT_EQ(back->env.containerd_version, info.env.containerd_version);
  ASSERT_EQ(back->env.handlers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back->env.handlers[i].handler, info.env.handlers[i].handler);
    EXPECT_EQ(back->env.handlers[i].runtime_type, info.env.handlers[i].runtime_type);
    EXPECT_EQ(back->env.handlers[i].stand_in, info.env.handlers[i].stand_in);
    EXPECT_EQ(back->env.handlers[i].kata_version, info.env.handlers[i].kata_version);
    EXPECT_EQ(back->env.handlers[i].hypervisor, info.env.handlers[i].hypervisor);
  }
  EXPECT_EQ(back->env.sev_snp, info.env.sev_snp);
  EXPECT_EQ(back->env.tdx, info.env.tdx);
  EXPECT_EQ(back->containerd.url, info.containerd.url);
  EXPECT_EQ(back->containerd.sandbox_create_sum_before_s, info.containerd.sandbox_create_sum_before_s);
  EXPECT_EQ(back->containerd.sandbox_create_sum_after_s, info.containerd.sandbox_create_sum_after_s);
  EXPECT_EQ(back->containerd.sandbox_create_count_before, info.containerd.sandbox_create_count_before);
  EXPECT_EQ(back->containerd.sandbox_create_count_after, info.containerd.sandbox_create_count_after);
  EXPECT_EQ(back->containerd.error, info.containerd.error);
  EXPECT_EQ(RunInfoToJson(*back), text);
}

TEST(RunJson, BadFieldsAreNamed) {
  auto j = nlohmann::json::parse(RunInfoToJson(FullRunInfo()));
  j["levels"][1] = "four";
  auto bad_level = RunInfoFromJson(j.dump());
  ASSERT_FALSE(bad_level.ok());
  EXPECT_NE(bad_level.error().message.find("run.json: field \"levels[1]\" must be an integer, not \"four\""),
            std::string::npos)
      << bad_level.error().message;

  j = nlohmann::json::parse(RunInfoToJson(FullRunInfo()));
  j["env"]["handlers"][1]["stand_in"] = 1;
  auto bad_handler = RunInfoFromJson(j.dump());
  ASSERT_FALSE(bad_handler.ok());
  EXPECT_NE(
      bad_handler.error().message.find("field \"env.handlers[1].stand_in\" must be true or false, not 1"),
      std::string::npos)
      << bad_handler.error().message;

  j = nlohmann::json::parse(RunInfoToJson(FullRunInfo()));
  j.erase("schema_version");
  auto no_version = RunInfoFromJson(j.dump());
  ASSERT_FALSE(no_version.ok());
  EXPECT_NE(no_version.error().message.find("field \"schema_version\" is missing"), std::string::npos)
      << no_version.error().message;
}

}  // namespace
}  // namespace uvm::startup
