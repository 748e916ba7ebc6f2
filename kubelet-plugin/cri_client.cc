#include "kubelet-plugin/cri_client.h"

#include <fmt/format.h>

#include "base/error_codes.h"
#include "kubelet-plugin/grpc_util.h"
#include "kubelet-plugin/sandbox_info.h"
#include "proto/cri.grpc.pb.h"

namespace uvm::cri {
namespace {

namespace pb = runtime::v1;
using internal::TrackedCall;

template <class Map>
std::map<std::string, std::string> ToMap(const Map& in) {
  return {in.begin(), in.end()};
}

SandboxState FromPb(pb::PodSandboxState state) {
  return state == pb::SANDBOX_READY ? SandboxState::kReady : SandboxState::kNotReady;
}

ContainerState FromPb(pb::ContainerState state) {
  switch (state) {
    case pb::CONTAINER_CREATED:
      return ContainerState::kCreated;
    case pb::CONTAINER_RUNNING:
      return ContainerState::kRunning;
    case pb::CONTAINER_EXITED:
      return ContainerState::kExited;
    default:
      return ContainerState::kUnknown;
  }
}

LinuxResources FromPb(const pb::LinuxContainerResources& r) {
  return {.cpu_period = r.cpu_period(),
          .cpu_quota = r.cpu_quota(),
          .cpu_shares = r.cpu_shares(),
          .memory_limit_in_bytes = r.memory_limit_in_bytes()};
}

void ToPb(const LinuxResources& in, pb::LinuxContainerResources* out) {
  out->set_cpu_period(in.cpu_period);
  out->set_cpu_quota(in.cpu_quota);
  out->set_cpu_shares(in.cpu_shares);
  out->set_memory_limit_in_bytes(in.memory_limit_in_bytes);
}

template <class Sandbox>
SandboxSummary SummaryOf(const Sandbox& s) {
  SandboxSummary out;
  out.id = s.id();
  out.name = s.metadata().name();
  out.namespace_ = s.metadata().namespace_();
  out.uid = s.metadata().uid();
  out.attempt = s.metadata().attempt();
  out.state = FromPb(s.state());
  out.runtime_handler = s.runtime_handler();
  out.created_at_ns = s.created_at();
  out.labels = ToMap(s.labels());
  out.annotations = ToMap(s.annotations());
  return out;
}

std::optional<uint64_t> ValueOf(bool has, const pb::UInt64Value& v) {
  if (!has) return std::nullopt;
  return v.value();
}

ContainerStatsSample StatsOf(const pb::ContainerStats& s) {
  ContainerStatsSample out;
  out.id = s.attributes().id();
  out.name = s.attributes().metadata().name();
  if (s.has_memory()) {
    const pb::MemoryUsage& m = s.memory();
    out.timestamp_ns = m.timestamp();
    out.working_set_bytes = ValueOf(m.has_working_set_bytes(), m.working_set_bytes());
    out.usage_bytes = ValueOf(m.has_usage_bytes(), m.usage_bytes());
    out.rss_bytes = ValueOf(m.has_rss_bytes(), m.rss_bytes());
    out.available_bytes = ValueOf(m.has_available_bytes(), m.available_bytes());
  }
  if (s.has_cpu()) {
    out.cpu_usage_core_nanoseconds =
        ValueOf(s.cpu().has_usage_core_nano_seconds(), s.cpu().usage_core_nano_seconds());
  }
  if (s.has_writable_layer()) {
    const pb::FilesystemUsage& fs = s.writable_layer();
    out.writable_layer_used_bytes = ValueOf(fs.has_used_bytes(), fs.used_bytes());
    out.writable_layer_inodes_used = ValueOf(fs.has_inodes_used(), fs.inodes_used());
    out.writable_layer_mountpoint = fs.fs_id().mountpoint();
  }
  return out;
}

// What the kubelet sends for a pod (kuberuntime_sandbox.go generatePodSandboxConfig, reduced).
void SandboxConfigOf(const PodSandboxSpec& spec, pb::PodSandboxConfig* config) {
  pb::PodSandboxMetadata* md = config->mutable_metadata();
  md->set_name(spec.name);
  md->set_namespace_(spec.namespace_);
  md->set_uid(spec.uid);
  md->set_attempt(spec.attempt);
  // containerd refuses a hostname without a private UTS namespace, and host-network pods get none.
  config->set_hostname(spec.host_network ? "" : spec.hostname);
  config->set_log_directory(spec.log_directory);
  config->mutable_labels()->insert(spec.labels.begin(), spec.labels.end());
  config->mutable_annotations()->insert(spec.annotations.begin(), spec.annotations.end());
  pb::LinuxPodSandboxConfig* linux = config->mutable_linux();
  linux->set_cgroup_parent(spec.cgroup_parent);
  pb::NamespaceOption* ns = linux->mutable_security_context()->mutable_namespace_options();
  ns->set_network(spec.host_network ? pb::NODE : pb::POD);
  ns->set_pid(pb::CONTAINER);
  ns->set_ipc(pb::POD);
  if (spec.resources) ToPb(*spec.resources, linux->mutable_resources());
  if (spec.overhead) ToPb(*spec.overhead, linux->mutable_overhead());
}

class GrpcCriClient final : public CriClient {
 public:
  GrpcCriClient(const CriClientOptions& options, std::string target)
      : options_(options),
        target_(std::move(target)),
        channel_(
            internal::MakeChannel(target_, options.min_reconnect_backoff, options.max_reconnect_backoff)),
        stub_(pb::RuntimeService::NewStub(channel_)),
        image_stub_(pb::ImageService::NewStub(channel_)) {}

  const std::string& endpoint() const override { return target_; }

  Result<VersionInfo> Version() override {
    pb::VersionRequest req;
    req.set_version("v1");
    auto resp = Unary<pb::VersionResponse>("Version", options_.call_timeout, [&](auto* ctx, auto* out) {
      return stub_->Version(ctx, req, out);
    });
    if (!resp.ok()) return resp.error();
    VersionInfo out{resp->runtime_name(), resp->runtime_version(), resp->runtime_api_version()};
    if (out.runtime_api_version != "v1") {
      // Worded like a gRPC failure; the code says what it is: the runtime lacks the API we speak.
      Error error = internal::StatusError(
          "CRI", "Version", target_,
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                       fmt::format("runtime {} {} speaks CRI API {:?}, uvm-sizer needs \"v1\"",
                                   out.runtime_name, out.runtime_version, out.runtime_api_version)));
      error.code = ErrorCode::kUnsupported;
      return error;
    }
    return out;
  }

  Result<std::vector<SandboxSummary>> ListPodSandbox(bool ready_only) override {
    pb::ListPodSandboxRequest req;
    if (ready_only) req.mutable_filter()->mutable_state()->set_state(pb::SANDBOX_READY);
    auto resp = Unary<pb::ListPodSandboxResponse>(
        "ListPodSandbox", options_.call_timeout,
        [&](auto* ctx, auto* out) { return stub_->ListPodSandbox(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    std::vector<SandboxSummary> out;
    out.reserve(resp->items_size());
    for (const pb::PodSandbox& item : resp->items()) out.push_back(SummaryOf(item));
    return out;
  }

  Result<SandboxDetail> PodSandboxStatus(const std::string& sandbox_id) override {
    pb::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(sandbox_id);
    req.set_verbose(true);
    auto resp = Unary<pb::PodSandboxStatusResponse>(
        "PodSandboxStatus", options_.call_timeout,
        [&](auto* ctx, auto* out) { return stub_->PodSandboxStatus(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    SandboxDetail detail;
    detail.summary = SummaryOf(resp->status());
    ApplyVerboseInfo(ToMap(resp->info()), detail);
    return detail;
  }

  Result<std::vector<ContainerSummary>> ListContainers(const std::string& sandbox_id) override {
    pb::ListContainersRequest req;
    if (!sandbox_id.empty()) req.mutable_filter()->set_pod_sandbox_id(sandbox_id);
    auto resp = Unary<pb::ListContainersResponse>(
        "ListContainers", options_.call_timeout,
        [&](auto* ctx, auto* out) { return stub_->ListContainers(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    std::vector<ContainerSummary> out;
    out.reserve(resp->containers_size());
    for (const pb::Container& c : resp->containers()) {
      out.push_back({.id = c.id(),
                     .sandbox_id = c.pod_sandbox_id(),
                     .name = c.metadata().name(),
                     .attempt = c.metadata().attempt(),
                     .state = FromPb(c.state()),
                     .image = c.image().image(),
                     .created_at_ns = c.created_at(),
                     .labels = ToMap(c.labels()),
                     .annotations = ToMap(c.annotations())});
    }
    return out;
  }

  Result<ContainerDetail> ContainerStatus(const std::string& container_id) override {
    pb::ContainerStatusRequest req;
    req.set_container_id(container_id);
    auto resp = Unary<pb::ContainerStatusResponse>(
        "ContainerStatus", options_.call_timeout,
        [&](auto* ctx, auto* out) { return stub_->ContainerStatus(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    const pb::ContainerStatus& s = resp->status();
    ContainerDetail out;
    // ContainerStatus carries no sandbox id; the caller knows which sandbox it asked about.
    out.summary = {.id = s.id(),
                   .sandbox_id = "",
                   .name = s.metadata().name(),
                   .attempt = s.metadata().attempt(),
                   .state = FromPb(s.state()),
                   .image = s.image().image(),
                   .created_at_ns = s.created_at(),
                   .labels = ToMap(s.labels()),
                   .annotations = ToMap(s.annotations())};
    if (s.has_resources() && s.resources().has_linux()) out.resources = FromPb(s.resources().linux());
    out.started_at_ns = s.started_at();
    out.finished_at_ns = s.finished_at();
    out.exit_code = s.exit_code();
    out.reason = s.reason();
    out.message = s.message();
    return out;
  }

  Result<std::vector<ContainerStatsSample>> ListContainerStats(const std::string& sandbox_id) override {
    pb::ListContainerStatsRequest req;
    if (!sandbox_id.empty()) req.mutable_filter()->set_pod_sandbox_id(sandbox_id);
    auto resp = Unary<pb::ListContainerStatsResponse>(
        "ListContainerStats", options_.call_timeout,
        [&](auto* ctx, auto* out) { return stub_->ListContainerStats(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    std::vector<ContainerStatsSample> out;
    out.reserve(resp->stats_size());
    for (const pb::ContainerStats& s : resp->stats()) out.push_back(StatsOf(s));
    return out;
  }

  Result<std::vector<SandboxStatsSample>> ListPodSandboxStats(const std::string& sandbox_id) override {
    pb::ListPodSandboxStatsRequest req;
    if (!sandbox_id.empty()) req.mutable_filter()->set_id(sandbox_id);
    auto resp = Unary<pb::ListPodSandboxStatsResponse>(
        "ListPodSandboxStats", options_.call_timeout,
        [&](auto* ctx, auto* out) { return stub_->ListPodSandboxStats(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    std::vector<SandboxStatsSample> out;
    out.reserve(resp->stats_size());
    for (const pb::PodSandboxStats& s : resp->stats()) {
      SandboxStatsSample sample;
      sample.sandbox_id = s.attributes().id();
      sample.name = s.attributes().metadata().name();
      sample.namespace_ = s.attributes().metadata().namespace_();
      sample.uid = s.attributes().metadata().uid();
      const pb::LinuxPodSandboxStats& linux = s.linux();
      if (linux.has_memory()) {
        sample.timestamp_ns = linux.memory().timestamp();
        sample.working_set_bytes =
            ValueOf(linux.memory().has_working_set_bytes(), linux.memory().working_set_bytes());
        sample.usage_bytes = ValueOf(linux.memory().has_usage_bytes(), linux.memory().usage_bytes());
        sample.available_bytes =
            ValueOf(linux.memory().has_available_bytes(), linux.memory().available_bytes());
      }
      if (linux.has_cpu()) {
        sample.cpu_usage_core_nanoseconds =
            ValueOf(linux.cpu().has_usage_core_nano_seconds(), linux.cpu().usage_core_nano_seconds());
      }
      if (linux.has_process()) {
        sample.process_count = ValueOf(linux.process().has_process_count(), linux.process().process_count());
      }
      for (const pb::ContainerStats& c : linux.containers()) sample.containers.push_back(StatsOf(c));
      out.push_back(std::move(sample));
    }
    return out;
  }

  Result<std::string> RunPodSandbox(const PodSandboxSpec& spec) override {
    pb::RunPodSandboxRequest req;
    SandboxConfigOf(spec, req.mutable_config());
    req.set_runtime_handler(spec.runtime_handler);
    auto resp = Unary<pb::RunPodSandboxResponse>(
        "RunPodSandbox", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return stub_->RunPodSandbox(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    return resp->pod_sandbox_id();
  }

  Status StopPodSandbox(const std::string& sandbox_id) override {
    pb::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(sandbox_id);
    return Done(Unary<pb::StopPodSandboxResponse>(
        "StopPodSandbox", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return stub_->StopPodSandbox(ctx, req, out); }));
  }

  Status RemovePodSandbox(const std::string& sandbox_id) override {
    pb::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(sandbox_id);
    return Done(Unary<pb::RemovePodSandboxResponse>(
        "RemovePodSandbox", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return stub_->RemovePodSandbox(ctx, req, out); }));
  }

  Result<std::string> CreateContainer(const std::string& sandbox_id, const ContainerSpec& spec,
                                      const PodSandboxSpec& sandbox) override {
    pb::CreateContainerRequest req;
    req.set_pod_sandbox_id(sandbox_id);
    pb::ContainerConfig* config = req.mutable_config();
    config->mutable_metadata()->set_name(spec.name);
    config->mutable_metadata()->set_attempt(spec.attempt);
    config->mutable_image()->set_image(spec.image);
    for (const std::string& c : spec.command) config->add_command(c);
    for (const std::string& a : spec.args) config->add_args(a);
    for (const auto& [key, value] : spec.envs) {
      pb::KeyValue* kv = config->add_envs();
      kv->set_key(key);
      kv->set_value(value);
    }
    config->mutable_labels()->insert(spec.labels.begin(), spec.labels.end());
    config->mutable_annotations()->insert(spec.annotations.begin(), spec.annotations.end());
    config->set_log_path(spec.log_path);
    pb::LinuxContainerConfig* linux = config->mutable_linux();
    if (spec.resources) ToPb(*spec.resources, linux->mutable_resources());
    linux->mutable_resources()->set_oom_score_adj(spec.oom_score_adj);
    pb::NamespaceOption* ns = linux->mutable_security_context()->mutable_namespace_options();
    ns->set_network(sandbox.host_network ? pb::NODE : pb::POD);
    ns->set_pid(pb::CONTAINER);
    ns->set_ipc(pb::POD);
    SandboxConfigOf(sandbox, req.mutable_sandbox_config());
    auto resp = Unary<pb::CreateContainerResponse>(
        "CreateContainer", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return stub_->CreateContainer(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    return resp->container_id();
  }

  Status StartContainer(const std::string& container_id) override {
    pb::StartContainerRequest req;
    req.set_container_id(container_id);
    return Done(Unary<pb::StartContainerResponse>(
        "StartContainer", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return stub_->StartContainer(ctx, req, out); }));
  }

  Status StopContainer(const std::string& container_id, std::chrono::seconds grace) override {
    pb::StopContainerRequest req;
    req.set_container_id(container_id);
    req.set_timeout(grace.count());
    return Done(Unary<pb::StopContainerResponse>(
        "StopContainer", options_.lifecycle_timeout + grace,
        [&](auto* ctx, auto* out) { return stub_->StopContainer(ctx, req, out); }));
  }

  Status RemoveContainer(const std::string& container_id) override {
    pb::RemoveContainerRequest req;
    req.set_container_id(container_id);
    return Done(Unary<pb::RemoveContainerResponse>(
        "RemoveContainer", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return stub_->RemoveContainer(ctx, req, out); }));
  }

  Result<std::optional<std::string>> ImageStatus(const std::string& image) override {
    pb::ImageStatusRequest req;
    req.mutable_image()->set_image(image);
    auto resp = Unary<pb::ImageStatusResponse>(
        "ImageStatus", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return image_stub_->ImageStatus(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    // cri-api: "If the image isn't present, the returned image is nil" (no error).
    if (!resp->has_image() || resp->image().id().empty()) return std::optional<std::string>();
    return std::optional<std::string>(resp->image().id());
  }

  Result<std::string> PullImage(const std::string& image, const PodSandboxSpec& sandbox) override {
    pb::PullImageRequest req;
    req.mutable_image()->set_image(image);
    SandboxConfigOf(sandbox, req.mutable_sandbox_config());
    auto resp = Unary<pb::PullImageResponse>(
        "PullImage", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return image_stub_->PullImage(ctx, req, out); });
    if (!resp.ok()) return resp.error();
    return resp->image_ref();
  }

  Status RemoveImage(const std::string& image) override {
    pb::RemoveImageRequest req;
    req.mutable_image()->set_image(image);
    return Done(Unary<pb::RemoveImageResponse>(
        "RemoveImage", options_.lifecycle_timeout,
        [&](auto* ctx, auto* out) { return image_stub_->RemoveImage(ctx, req, out); }));
  }

  void CancelInFlight() override { calls_.CancelAll(); }
  void Shutdown() override { calls_.Shutdown(); }

 private:
  template <class Resp, class Invoke>
  Result<Resp> Unary(std::string_view method, std::chrono::milliseconds timeout, Invoke&& invoke) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    TrackedCall tracked(calls_, &context);
    if (!tracked.ok()) {
      return internal::StatusError("CRI", method, target_,
                                   grpc::Status(grpc::StatusCode::CANCELLED, "client shut down"));
    }
    Resp response;
    grpc::Status status = invoke(&context, &response);
    if (!status.ok()) return internal::StatusError("CRI", method, target_, status);
    return response;
  }

  template <class Resp>
  static Status Done(const Result<Resp>& result) {
    if (!result.ok()) return result.error();
    return {};
  }

  CriClientOptions options_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RuntimeService::Stub> stub_;
  std::unique_ptr<pb::ImageService::Stub> image_stub_;
  internal::CallRegistry calls_;
};

}  // namespace

Result<std::unique_ptr<CriClient>> CriClient::Create(const CriClientOptions& options) {
  Result<std::string> target = NormalizeEndpoint(options.endpoint);
  if (!target.ok()) return target.error();
  if (options.call_timeout.count() <= 0 || options.lifecycle_timeout.count() <= 0) {
    return InvalidInput(fmt::format("CRI client for {}: call timeouts must be positive (call_timeout {} ms)",
                                    *target, options.call_timeout.count()));
  }
  return std::unique_ptr<CriClient>(std::make_unique<GrpcCriClient>(options, *target));
}

}  // namespace uvm::cri
