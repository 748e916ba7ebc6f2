#include "kubelet-plugin/api/api_server.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "base/error_codes.h"
#include "uvmsizer.grpc.pb.h"

namespace uvm::api {
namespace {

namespace pb = uvmsizer::v1;
using std::chrono::milliseconds;

void ToProto(const PodView& v, pb::Pod& p) {
  p.set_sandbox_id(v.sandbox_id);
  p.set_namespace_(v.namespace_);
  p.set_name(v.name);
  p.set_uid(v.uid);
  p.set_runtime_handler(v.runtime_handler);
  p.set_profile(v.profile.value_or(""));
  p.set_vm_isolated(v.profile.has_value());
  p.set_phase(v.phase);
  if (v.vcpus && v.memory_mib) {
    p.mutable_uvm()->set_vcpus(*v.vcpus);
    p.mutable_uvm()->set_memory_mib(*v.memory_mib);
  }
  p.set_refusal(v.refusal.value_or(""));
  p.set_host_memory_bytes(v.host_memory_bytes.value_or(0));
  auto* o = p.mutable_overhead();
  o->set_required_memory_bytes(v.overhead_required_bytes);
  o->set_declared_memory_bytes(v.overhead_declared_bytes);
  o->set_shortfall_bytes(v.overhead_shortfall_bytes);
  auto* c = p.mutable_cgroup();
  c->set_parent(v.cgroup_parent);
  c->set_has_memory_limit(v.cgroup_memory_limit_bytes.has_value());
  c->set_memory_limit_bytes(v.cgroup_memory_limit_bytes.value_or(0));
  c->set_has_memory_usage(v.cgroup_memory_usage_bytes.has_value());
  c->set_memory_usage_bytes(v.cgroup_memory_usage_bytes.value_or(0));
  c->set_writes(v.cgroup_writes);
  for (const auto& n : v.notes) p.add_notes(n);
  p.set_last_error(v.last_error.value_or(""));
  auto* pr = p.mutable_pressure();
  pr->set_level(v.pressure_level);
  pr->set_cause(v.pressure_cause);
  pr->set_basis(v.pressure_basis);
  pr->set_has_exhaustion_seconds(v.exhaustion_seconds.has_value());
  pr->set_exhaustion_seconds(v.exhaustion_seconds.value_or(0));
  pr->set_advice(v.pressure_advice);
  p.set_has_host_overhead_measured(v.host_overhead_measured_bytes.has_value());
  p.set_host_overhead_measured_bytes(v.host_overhead_measured_bytes.value_or(0));
  p.set_host_overhead_model_bytes(v.host_overhead_model_bytes);
}

void ToProto(const LedgerView& v, pb::NodeLedger& p) {
  p.set_node(v.node);
  p.set_allocatable_memory_bytes(v.allocatable_memory_bytes);
  p.set_allocatable_cpu_millis(v.allocatable_cpu_millis);
  p.set_allocatable_pods(v.allocatable_pods);
  p.set_allocatable_source(v.allocatable_source);
  p.set_committed_memory_bytes(v.committed_memory_bytes);
  p.set_committed_cpu_millis(v.committed_cpu_millis);
  p.set_free_memory_bytes(v.free_memory_bytes);
  p.set_free_cpu_millis(v.free_cpu_millis);
  p.set_pods(v.pods);
  p.set_vm_pods(v.vm_pods);
  p.set_vm_pods_unlimited_cgroup(v.vm_pods_unlimited_cgroup);
  p.set_pods_request_unknown(v.pods_request_unknown);
  p.set_vm_pods_measured_above_model(v.vm_pods_measured_above_model);
  for (const auto& s : v.shapes) {
    auto* f = p.add_shapes();
    f->set_shape(s.shape);
    f->set_host_bounded(s.host_fit.has_value());
    f->set_host_fit(s.host_fit.value_or(0));
    f->set_host_binding(s.host_binding);
    f->set_host_memory_bytes(s.host_memory_bytes);
    f->set_scheduler_memory_bytes(s.scheduler_memory_bytes);
    f->set_cpu_millis(s.cpu_millis);
  }
  for (const auto& n : v.notes) p.add_notes(n);
}

LedgerView FromProto(const pb::NodeLedger& p) {
  LedgerView v;
  v.node = p.node();
  v.allocatable_memory_bytes = p.allocatable_memory_bytes();
  v.allocatable_cpu_millis = p.allocatable_cpu_millis();
  v.allocatable_pods = p.allocatable_pods();
  v.allocatable_source = p.allocatable_source();
  v.committed_memory_bytes = p.committed_memory_bytes();
  v.committed_cpu_millis = p.committed_cpu_millis();
  v.free_memory_bytes = p.free_memory_bytes();
  v.free_cpu_millis = p.free_cpu_millis();
  v.pods = p.pods();
  v.vm_pods = p.vm_pods();
  v.vm_pods_unlimited_cgroup = p.vm_pods_unlimited_cgroup();
  v.pods_request_unknown = p.pods_request_unknown();
  v.vm_pods_measured_above_model = p.vm_pods_measured_above_model();
  for (const auto& f : p.shapes()) {
    ShapeFitView s{.shape = f.shape(),
                   .host_fit = std::nullopt,
                   .host_binding = f.host_binding(),
                   .host_memory_bytes = f.host_memory_bytes(),
                   .scheduler_memory_bytes = f.scheduler_memory_bytes(),
                   .cpu_millis = f.cpu_millis()};
    if (f.host_bounded()) s.host_fit = f.host_fit();
    v.shapes.push_back(std::move(s));
  }
  v.notes.assign(p.notes().begin(), p.notes().end());
  return v;
}

PodView FromProto(const pb::Pod& p) {
  PodView v;
  v.sandbox_id = p.sandbox_id();
  v.namespace_ = p.namespace_();
  v.name = p.name();
  v.uid = p.uid();
  v.runtime_handler = p.runtime_handler();
  if (p.vm_isolated()) v.profile = p.profile();
  v.phase = p.phase();
  if (p.has_uvm()) {
    v.vcpus = p.uvm().vcpus();
    v.memory_mib = p.uvm().memory_mib();
  }
  if (!p.refusal().empty()) v.refusal = p.refusal();
  if (p.host_memory_bytes() != 0) v.host_memory_bytes = p.host_memory_bytes();
  v.overhead_required_bytes = p.overhead().required_memory_bytes();
  v.overhead_declared_bytes = p.overhead().declared_memory_bytes();
  v.overhead_shortfall_bytes = p.overhead().shortfall_bytes();
  v.cgroup_parent = p.cgroup().parent();
  if (p.cgroup().has_memory_limit()) v.cgroup_memory_limit_bytes = p.cgroup().memory_limit_bytes();
  if (p.cgroup().has_memory_usage()) v.cgroup_memory_usage_bytes = p.cgroup().memory_usage_bytes();
  v.cgroup_writes = p.cgroup().writes();
  v.notes.assign(p.notes().begin(), p.notes().end());
  if (!p.last_error().empty()) v.last_error = p.last_error();
  v.pressure_level = p.pressure().level();
  v.pressure_cause = p.pressure().cause();
  v.pressure_basis = p.pressure().basis();
  if (p.pressure().has_exhaustion_seconds()) v.exhaustion_seconds = p.pressure().exhaustion_seconds();
  v.pressure_advice = p.pressure().advice();
  if (p.has_host_overhead_measured()) v.host_overhead_measured_bytes = p.host_overhead_measured_bytes();
  v.host_overhead_model_bytes = p.host_overhead_model_bytes();
  return v;
}

std::array<int64_t, 4> FromProto(const pb::CriResources& r) {
  return {r.cpu_period(), r.cpu_quota(), r.cpu_shares(), r.memory_limit_in_bytes()};
}

class ApiServerImpl final : public ApiServer, public pb::UvmSizer::Service {
 public:
  ApiServerImpl(std::string socket_path, SizeHandler size)
      : socket_path_(std::move(socket_path)), size_(std::move(size)), view_(std::make_shared<DaemonView>()) {}

  ~ApiServerImpl() override { Stop(milliseconds(500)); }

  Status Listen(const std::string& group) {
    // systemd's tmpfiles entry makes the directory; a foreground run makes it here.
    if (auto slash = socket_path_.rfind('/'); slash != std::string::npos && slash > 0) {
      std::string dir = socket_path_.substr(0, slash);
      if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
        int err = errno;
        return SysError(err, fmt::format("api.socket: cannot create {}: {}", dir, std::strerror(err)));
      }
    }
    struct stat st {};
    if (lstat(socket_path_.c_str(), &st) == 0) {
      // Only a stale socket is replaced: never delete a file someone put there.
      if (!S_ISSOCK(st.st_mode)) {
        return InvalidInput(fmt::format("api.socket: {} exists and is not a socket", socket_path_));
      }
      unlink(socket_path_.c_str());
    }
    std::optional<gid_t> gid;
    if (!group.empty()) {
      struct group* g = getgrnam(group.c_str());
      if (!g) {
        return Error{.message = fmt::format("api.group: no group named \"{}\"", group),
                     .code = ErrorCode::kNotFound};
      }
      gid = g->gr_gid;
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_path_, grpc::InsecureServerCredentials());
    builder.RegisterService(this);
    builder.SetMaxReceiveMessageSize(16 << 20);
    builder.SetMaxSendMessageSize(16 << 20);
    server_ = builder.BuildAndStart();
    if (!server_) return Error{fmt::format("api.socket: cannot listen on {}", socket_path_)};
    if (chmod(socket_path_.c_str(), 0660) != 0 ||
        (gid && chown(socket_path_.c_str(), static_cast<uid_t>(-1), *gid) != 0)) {
      int err = errno;
      Stop(milliseconds(100));
      return SysError(err, fmt::format("api.socket: cannot set mode 0660{} on {}: {}",
                                       gid ? " and group " + group : "", socket_path_, std::strerror(err)));
    }
    return {};
  }

  void Publish(DaemonView view) override {
    {
      std::lock_guard lock(mu_);
      view_ = std::make_shared<const DaemonView>(std::move(view));
      ++version_;
    }
    cv_.notify_all();
  }

  void Stop(milliseconds grace) override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() + grace);
      server_->Wait();
    }
    unlink(socket_path_.c_str());
  }

  grpc::Status GetStatus(grpc::ServerContext*, const pb::GetStatusRequest*, pb::Status* out) override {
    auto view = Snapshot();
    out->set_version(view->version);
    out->set_cri_endpoint(view->cri_endpoint);
    out->set_cri_up(view->cri_up);
    out->set_cgroup_mode(view->cgroup_mode);
    out->set_change_feed(view->change_feed);
    out->set_started_at_unix_seconds(view->started_at_unix_seconds);
    for (const auto& p : view->pods) ToProto(p, *out->add_pods());
    if (view->ledger) ToProto(*view->ledger, *out->mutable_ledger());
    return grpc::Status::OK;
  }

  grpc::Status ListPods(grpc::ServerContext*, const pb::ListPodsRequest*,
                        pb::ListPodsResponse* out) override {
    // The snapshot is held for the loop: `for (x : Snapshot()->pods)` would free it (and the pods) at once
    // when a Publish replaced the view meanwhile (a temporary in a range-for initializer dies before the
    // loop; C++23's P2718 fix is not in GCC 12).
    auto view = Snapshot();
    for (const auto& p : view->pods) ToProto(p, *out->add_pods());
    return grpc::Status::OK;
  }

  grpc::Status GetPod(grpc::ServerContext*, const pb::GetPodRequest* req, pb::Pod* out) override {
    if (req->sandbox_id().empty() == req->uid().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "give exactly one of sandbox_id and uid"};
    }
    auto view = Snapshot();  // held for the loop, as in ListPods
    for (const auto& p : view->pods) {
      if ((!req->sandbox_id().empty() && p.sandbox_id == req->sandbox_id()) ||
          (!req->uid().empty() && p.uid == req->uid())) {
        ToProto(p, *out);
        return grpc::Status::OK;
      }
    }
    return {grpc::StatusCode::NOT_FOUND, "no such pod"};
  }

  grpc::Status SizePod(grpc::ServerContext*, const pb::SizePodRequest* req,
                       pb::SizePodResponse* out) override {
    SizeRequest r{.handler = req->handler(), .profile = req->profile()};
    if (req->has_resources()) {
      r.resources = FromProto(req->resources());
    } else if (req->input_case() == pb::SizePodRequest::kManifestYaml) {
      r.manifest_yaml = req->manifest_yaml();
    } else {
      return {grpc::StatusCode::INVALID_ARGUMENT, "give manifest_yaml or resources"};
    }
    if (req->has_declared_overhead()) r.declared_overhead = FromProto(req->declared_overhead());
    auto res = size_(r);
    if (!res) return {grpc::StatusCode::INVALID_ARGUMENT, res.error().message};
    out->set_result_json(res->result_json);
    out->set_refused(res->refused);
    return grpc::Status::OK;
  }

  grpc::Status WatchPods(grpc::ServerContext* ctx, const pb::WatchPodsRequest*,
                         grpc::ServerWriter<pb::PodEvent>* writer) override {
    std::map<std::string, PodView> sent;
    return Follow(ctx, [&](const DaemonView& view) {
      std::map<std::string, const PodView*> now;
      for (const auto& p : view.pods) now[p.sandbox_id] = &p;
      for (const auto& [id, p] : now) {
        auto it = sent.find(id);
        if (it != sent.end() && it->second == *p) continue;
        pb::PodEvent ev;
        ev.set_type(it == sent.end() ? pb::PodEvent::ADDED : pb::PodEvent::UPDATED);
        ToProto(*p, *ev.mutable_pod());
        if (!writer->Write(ev)) return false;
        sent[id] = *p;
      }
      for (auto it = sent.begin(); it != sent.end();) {
        if (now.count(it->first)) {
          ++it;
          continue;
        }
        pb::PodEvent ev;
        ev.set_type(pb::PodEvent::REMOVED);
        ToProto(it->second, *ev.mutable_pod());
        if (!writer->Write(ev)) return false;
        it = sent.erase(it);
      }
      return true;
    });
  }

  grpc::Status WatchPressure(grpc::ServerContext* ctx, const pb::WatchPressureRequest*,
                             grpc::ServerWriter<pb::PressureEvent>* writer) override {
    std::map<std::string, std::string> levels;  // sandbox id -> last level sent
    return Follow(ctx, [&](const DaemonView& view) {
      for (const auto& p : view.pods) {
        if (!p.profile) continue;
        auto it = levels.find(p.sandbox_id);
        if (it != levels.end() && it->second == p.pressure_level) continue;
        pb::PressureEvent ev;
        ToProto(p, *ev.mutable_pod());
        ev.set_previous_level(it == levels.end() ? "" : it->second);
        if (!writer->Write(ev)) return false;
        levels[p.sandbox_id] = p.pressure_level;
      }
      return true;
    });
  }

 private:
  std::shared_ptr<const DaemonView> Snapshot() {
    std::lock_guard lock(mu_);
    return view_;
  }

  // Calls `send` with the current view, then with each new one, until the client leaves, `send` fails or
  // the server stops.
  template <class Send>
  grpc::Status Follow(grpc::ServerContext* ctx, Send send) {
    uint64_t seen = 0;
    while (true) {
      std::shared_ptr<const DaemonView> view;
      {
        std::unique_lock lock(mu_);
        // A new view wakes the stream at once. The sync API has no cancellation callback, so an open stream
        // also wakes once a second to notice a client that went away (it holds a server thread until then);
        // a closed stream costs nothing.
        cv_.wait_for(lock, kCancelCheck, [&] { return stopped_ || version_ != seen; });
        if (stopped_) return grpc::Status::OK;
        if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
        if (version_ == seen) continue;
        seen = version_;
        view = view_;
      }
      if (!send(*view)) return grpc::Status::CANCELLED;
    }
  }

  static constexpr milliseconds kCancelCheck{1000};

  std::string socket_path_;
  SizeHandler size_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const DaemonView> view_;
  uint64_t version_ = 1;
  bool stopped_ = false;
};

std::unique_ptr<pb::UvmSizer::Stub> Connect(const std::string& socket_path) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  return pb::UvmSizer::NewStub(
      grpc::CreateCustomChannel("unix://" + socket_path, grpc::InsecureChannelCredentials(), args));
}

Error RpcError(const std::string& socket_path, const grpc::Status& s) {
  return Error{
      .message = fmt::format("{}: {} ({})", socket_path, s.error_message(), static_cast<int>(s.error_code())),
      .code = CodeFromGrpcStatus(static_cast<int>(s.error_code()))};
}

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const std::string& socket_path, const std::string& group,
                                                    SizeHandler size) {
  auto server = std::make_unique<ApiServerImpl>(socket_path, std::move(size));
  if (auto st = server->Listen(group); !st) return st.error();
  return std::unique_ptr<ApiServer>(std::move(server));
}

Result<DaemonView> FetchStatus(const std::string& socket_path, milliseconds timeout) {
  auto stub = Connect(socket_path);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  pb::Status out;
  auto s = stub->GetStatus(&ctx, pb::GetStatusRequest{}, &out);
  if (!s.ok()) return RpcError(socket_path, s);
  DaemonView v{.version = out.version(),
               .cri_endpoint = out.cri_endpoint(),
               .cgroup_mode = out.cgroup_mode(),
               .change_feed = out.change_feed(),
               .cri_up = out.cri_up(),
               .started_at_unix_seconds = out.started_at_unix_seconds()};
  for (const auto& p : out.pods()) v.pods.push_back(FromProto(p));
  if (out.has_ledger()) v.ledger = FromProto(out.ledger());
  return v;
}

Result<std::vector<PodView>> ListPods(const std::string& socket_path, milliseconds timeout) {
  auto stub = Connect(socket_path);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  pb::ListPodsResponse out;
  auto s = stub->ListPods(&ctx, pb::ListPodsRequest{}, &out);
  if (!s.ok()) return RpcError(socket_path, s);
  std::vector<PodView> pods;
  for (const auto& p : out.pods()) pods.push_back(FromProto(p));
  return pods;
}

Status WatchPods(const std::string& socket_path, milliseconds timeout,
                 const std::function<bool(const std::string&, const PodView&)>& on_event) {
  auto stub = Connect(socket_path);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  auto reader = stub->WatchPods(&ctx, pb::WatchPodsRequest{});
  pb::PodEvent ev;
  while (reader->Read(&ev)) {
    if (!on_event(pb::PodEvent::Type_Name(ev.type()), FromProto(ev.pod()))) {
      ctx.TryCancel();
      break;
    }
  }
  auto s = reader->Finish();
  if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) return RpcError(socket_path, s);
  return {};
}

Status WatchPressure(const std::string& socket_path, milliseconds timeout,
                     const std::function<bool(const PodView&, const std::string&)>& on_event) {
  auto stub = Connect(socket_path);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  auto reader = stub->WatchPressure(&ctx, pb::WatchPressureRequest{});
  pb::PressureEvent ev;
  while (reader->Read(&ev)) {
    if (!on_event(FromProto(ev.pod()), ev.previous_level())) {
      ctx.TryCancel();
      break;
    }
  }
  auto s = reader->Finish();
  if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) return RpcError(socket_path, s);
  return {};
}

Result<SizeResponse> CallSizePod(const std::string& socket_path, const SizeRequest& request,
                                 milliseconds timeout) {
  auto stub = Connect(socket_path);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  pb::SizePodRequest req;
  req.set_handler(request.handler);
  req.set_profile(request.profile);
  if (request.manifest_yaml) req.set_manifest_yaml(*request.manifest_yaml);
  auto set = [](pb::CriResources* r, const std::array<int64_t, 4>& v) {
    r->set_cpu_period(v[0]);
    r->set_cpu_quota(v[1]);
    r->set_cpu_shares(v[2]);
    r->set_memory_limit_in_bytes(v[3]);
  };
  if (request.resources) set(req.mutable_resources(), *request.resources);
  set(req.mutable_declared_overhead(), request.declared_overhead);
  pb::SizePodResponse out;
  auto s = stub->SizePod(&ctx, req, &out);
  if (!s.ok()) return RpcError(socket_path, s);
  return SizeResponse{out.result_json(), out.refused()};
}

}  // namespace uvm::api
