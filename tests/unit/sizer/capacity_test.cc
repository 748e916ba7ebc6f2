// The node ledger (README "Capacity model"): pods sized by the real rules, counted in both views, and the
// fit of a shape. Numbers are worked out by hand in the comments; MiB = 2^20 bytes.
#include "sizer/capacity.h"

#include <gtest/gtest.h>

#include <limits>

#include "sizing_test_util.h"

namespace uvm::sizer {
namespace {

using testing::Make;
using testing::Q;

constexpr int64_t kMi = 1 << 20;
constexpr int64_t kGi = int64_t{1} << 30;

Pod KataPod(std::string name, const char* cpu_limit, const char* memory_limit, const char* memory_request,
            const char* overhead_memory = "600Mi") {
  Pod pod;
  pod.ref = {.kind = "Pod", .namespace_ = "default", .name = std::move(name)};
  pod.spec.runtime_class_name = "kata-vm-isolation";
  pod.spec.containers.push_back(Make("app", cpu_limit, memory_limit, nullptr, memory_request));
  pod.spec.overhead.memory = Q(overhead_memory);
  return pod;
}

Pod RuncPod(std::string name, const char* cpu_request, const char* memory_request) {
  Pod pod;
  pod.ref = {.kind = "Pod", .namespace_ = "default", .name = std::move(name)};
  pod.spec.containers.push_back(Make("app", nullptr, nullptr, cpu_request, memory_request));
  return pod;
}

LedgerPod Ledger(const Pod& pod) {
  SizingContext context;
  auto sized = SizePod(pod, context);
  EXPECT_TRUE(sized.ok()) << (sized.ok() ? "" : sized.error().message);
  return LedgerPodFromSizing(pod, *sized);
}

// kata (aks-kata-256) with a 2Gi limit: UVM 256 + 2048 = 2304 MiB; VMM = 86 MiB + ceil(4613735 * 2304 /
// 1024) = 90177536 + 10380904 = 100558440 bytes. Host need 2304 MiB + 100558440 = 2516477544.
// Scheduler: request 1Gi + podFixed 600Mi = 1073741824 + 629145600 = 1702887424.
constexpr int64_t kKataHostNeed = 2516477544;
constexpr int64_t kKataSchedulerNeed = 1702887424;

TEST(CapacityAllocatable, CapacityMinusReservationsAndHardEviction) {
  KubeletReservations aks{.kube_reserved_memory_bytes = 1638 * kMi,
                          .kube_reserved_cpu_millis = 100,
                          .eviction_hard_memory_bytes = 750 * kMi};
  EXPECT_EQ(AllocatableFromCapacity(16 * kGi, 4000, 110, aks),
            (NodeAllocatable{.memory_bytes = (16384 - 1638 - 750) * kMi, .cpu_millis = 3900, .pods = 110}));
  // Nothing configured: the kubelet's default memory.available<100Mi still applies.
  EXPECT_EQ(AllocatableFromCapacity(4 * kGi, 2000, 0, {}).memory_bytes, (4096 - 100) * kMi);
  // 5% of 10 GiB = 536870912 bytes.
  KubeletReservations percent{.eviction_hard_memory_percent = 5.0};
  EXPECT_EQ(AllocatableFromCapacity(10 * kGi, 2000, 0, percent).memory_bytes, 10 * kGi - 536870912);
  // Reservations above capacity leave nothing, never a negative allocatable.
  KubeletReservations huge{.system_reserved_memory_bytes = 64 * kGi, .system_reserved_cpu_millis = 9000};
  EXPECT_EQ(AllocatableFromCapacity(8 * kGi, 2000, 0, huge), (NodeAllocatable{}));
}

TEST(CapacityNeeds, VmPodCostsItsUvmOnTheHostAndItsRequestsToTheScheduler) {
  LedgerPod kata = Ledger(KataPod("web", "1", "2Gi", "1Gi"));
  ASSERT_TRUE(kata.vm_isolated);
  EXPECT_EQ(kata.uvm_memory_bytes, 2304 * kMi);
  EXPECT_EQ(kata.host_overhead_model_bytes, 100558440);
  EXPECT_EQ(HostMemoryNeed(kata), kKataHostNeed);
  EXPECT_EQ(SchedulerMemoryNeed(kata), kKataSchedulerNeed);
  EXPECT_EQ(CpuNeed(kata), 1000);  // the CPU limit defaults the request; vCPUs are never counted
  EXPECT_FALSE(kata.pod_cgroup_memory_unlimited);
}

TEST(CapacityNeeds, VmPodWithoutLimitsIsBoundedByItsUvm) {
  // No limits: the kubelet sets no pod-cgroup memory limit, but the UVM is 256 + the implicit 1792 MiB =
  // 2048 MiB and its VMM 90177536 + ceil(4613735 * 2) = 99405006: 2246888654 on the host. The scheduler
  // sees only podFixed.
  LedgerPod kata = Ledger(KataPod("batch", nullptr, nullptr, nullptr));
  EXPECT_TRUE(kata.pod_cgroup_memory_unlimited);
  EXPECT_EQ(HostMemoryNeed(kata), 2246888654);
  EXPECT_EQ(SchedulerMemoryNeed(kata), 600 * kMi);
}

TEST(CapacityNeeds, MeasuredOverheadCountsWhenAboveTheModel) {
  LedgerPod kata = Ledger(KataPod("web", "1", "2Gi", "1Gi"));
  kata.host_overhead_measured_bytes = 150 * kMi;
  EXPECT_EQ(HostMemoryNeed(kata), 2304 * kMi + 150 * kMi);
  kata.host_overhead_measured_bytes = 10 * kMi;  // below the model: the model stays
  EXPECT_EQ(HostMemoryNeed(kata), kKataHostNeed);
}

TEST(CapacityNeeds, NonVmPodCountsItsRequestInBothViews) {
  LedgerPod runc = Ledger(RuncPod("api", "250m", "512Mi"));
  EXPECT_FALSE(runc.vm_isolated);
  EXPECT_EQ(HostMemoryNeed(runc), 512 * kMi);
  EXPECT_EQ(SchedulerMemoryNeed(runc), 512 * kMi);
  EXPECT_EQ(CpuNeed(runc), 250);
  // Request unknown (the daemon over CRI): the host view counts what its cgroup uses, the scheduler 0.
  runc.memory_request_bytes.reset();
  runc.memory_usage_bytes = 300 * kMi;
  EXPECT_EQ(HostMemoryNeed(runc), 300 * kMi);
  EXPECT_EQ(SchedulerMemoryNeed(runc), 0);
}

TEST(CapacityNeeds, InitContainersAndSidecarsFollowTheSchedulersAggregate) {
  // An init container requesting 3Gi outweighs the 1Gi app; a sidecar's 256Mi adds to the app and to the
  // init phase after it (KEP-753): max(256Mi + 1Gi, 3Gi) = 3Gi.
  Pod pod = RuncPod("migrate", nullptr, "1Gi");
  pod.spec.init_containers.push_back(testing::Sidecar("proxy", nullptr, nullptr));
  pod.spec.init_containers.back().resources.requests.memory = Q("256Mi");
  pod.spec.init_containers.push_back(Make("schema", nullptr, nullptr, nullptr, "3Gi"));
  EXPECT_EQ(SchedulerMemoryNeed(Ledger(pod)), 3 * kGi + 256 * kMi);
}

TEST(CapacityNeeds, RefusedPodHoldsNothingOnTheHost) {
  Pod pod = KataPod("huge", "1", "2Gi", "1Gi");
  pod.annotations["io.katacontainers.config.hypervisor.default_memory"] = "4096";  // not enabled: refused
  LedgerPod refused = Ledger(pod);
  ASSERT_TRUE(refused.refused);
  EXPECT_EQ(HostMemoryNeed(refused), 0);
  EXPECT_EQ(SchedulerMemoryNeed(refused), kKataSchedulerNeed);
}

TEST(CapacityLedger, BothViewsFitAndGap) {
  // 8 GiB, 8 CPUs, 110 pods allocatable; on the node: the kata pod above and a runc pod (512Mi, 100m).
  //   scheduler: committed 1702887424 + 536870912 = 2239758336, free 8589934592 - that = 6350176256,
  //              fit 6350176256 / 1702887424 = 3.73 -> 3 (cpu: (8000 - 1100) / 1000 = 6; pods 108)
  //   host:      committed 2516477544 + 536870912 = 3053348456, free 5536586136,
  //              fit 5536586136 / 2516477544 = 2.2 -> 2
  //   gap 3 - 2 = 1: the scheduler admits one pod more than the host holds.
  NodeAllocatable allocatable{.memory_bytes = 8 * kGi, .cpu_millis = 8000, .pods = 110};
  std::vector<LedgerPod> pods{Ledger(KataPod("web-1", "1", "2Gi", "1Gi")),
                              Ledger(RuncPod("api", "100m", "512Mi"))};
  std::vector<Shape> shapes{{.name = "web", .pod = Ledger(KataPod("web", "1", "2Gi", "1Gi"))}};
  NodeLedger ledger = BuildNodeLedger("node-a", allocatable, pods, shapes);

  EXPECT_EQ(ledger.node, "node-a");
  EXPECT_EQ(ledger.pods, 2);
  EXPECT_EQ(ledger.vm_pods, 1);
  EXPECT_EQ(ledger.scheduler.committed_memory_bytes, 2239758336);
  EXPECT_EQ(ledger.host.committed_memory_bytes, 3053348456);
  EXPECT_EQ(ledger.scheduler.free_memory_bytes, 6350176256);
  EXPECT_EQ(ledger.host.free_memory_bytes, 5536586136);
  EXPECT_EQ(ledger.scheduler.committed_cpu_millis, 1100);
  EXPECT_EQ(ledger.host.committed_cpu_millis, 1100);
  ASSERT_EQ(ledger.fits.size(), 1u);
  const ShapeFit& fit = ledger.fits[0];
  EXPECT_EQ(fit.scheduler.count, 3);
  EXPECT_EQ(fit.scheduler.binding, FitResource::kMemory);
  EXPECT_EQ(fit.scheduler.by_cpu, 6);
  EXPECT_EQ(fit.scheduler.by_pods, 108);
  EXPECT_EQ(fit.host.count, 2);
  EXPECT_EQ(fit.host.binding, FitResource::kMemory);
  EXPECT_EQ(fit.gap, 1);
  EXPECT_TRUE(ledger.notes.empty()) << ledger.notes.front();
}

TEST(CapacityLedger, BindingResourceIsNamed) {
  NodeAllocatable allocatable{.memory_bytes = 64 * kGi, .cpu_millis = 2000, .pods = 3};
  std::vector<LedgerPod> none;
  // CPU binds: 2000 / 1000 = 2 by cpu against 64 GiB of memory.
  std::vector<Shape> cpu_bound{{.name = "web", .pod = Ledger(KataPod("web", "1", "2Gi", "1Gi"))}};
  NodeLedger ledger = BuildNodeLedger("n", allocatable, none, cpu_bound);
  EXPECT_EQ(ledger.fits[0].host.count, 2);
  EXPECT_EQ(ledger.fits[0].host.binding, FitResource::kCpu);
  // A runc pod with tiny requests: the pod limit (3) binds.
  std::vector<Shape> tiny{{.name = "tiny", .pod = Ledger(RuncPod("tiny", "10m", "10Mi"))}};
  ledger = BuildNodeLedger("n", allocatable, none, tiny);
  EXPECT_EQ(ledger.fits[0].scheduler.count, 3);
  EXPECT_EQ(ledger.fits[0].scheduler.binding, FitResource::kPods);
  // No requests at all and no pod limit: unbounded, and no gap can be told.
  allocatable.pods = 0;
  std::vector<Shape> best_effort{{.name = "be", .pod = Ledger(RuncPod("be", nullptr, nullptr))}};
  ledger = BuildNodeLedger("n", allocatable, none, best_effort);
  EXPECT_FALSE(ledger.fits[0].scheduler.count.has_value());
  EXPECT_EQ(ledger.fits[0].scheduler.binding, FitResource::kNone);
  EXPECT_FALSE(ledger.fits[0].gap.has_value());
}

TEST(CapacityLedger, OvercommittedHostFitsNothingAndSaysSo) {
  // Four kata pods without limits: the scheduler counts 4 x 600Mi, the host 4 x 2246888654 on 6 GiB.
  NodeAllocatable allocatable{.memory_bytes = 6 * kGi, .cpu_millis = 4000};
  std::vector<LedgerPod> pods(4, Ledger(KataPod("batch", nullptr, nullptr, nullptr)));
  std::vector<Shape> shapes{{.name = "batch", .pod = pods[0]}};
  NodeLedger ledger = BuildNodeLedger("n", allocatable, pods, shapes);
  EXPECT_EQ(ledger.vm_pods_unlimited_cgroup, 4);
  EXPECT_EQ(ledger.host.free_memory_bytes, 6 * kGi - 4 * 2246888654);
  EXPECT_LT(ledger.host.free_memory_bytes, 0);
  EXPECT_EQ(ledger.fits[0].host.count, 0);
  // (6144 - 2400) MiB / 600 MiB = 6.24 -> 6.
  EXPECT_EQ(ledger.fits[0].scheduler.count, 6);
  EXPECT_EQ(ledger.fits[0].gap, 6);
  auto has_note = [&](std::string_view text) {
    return std::any_of(ledger.notes.begin(), ledger.notes.end(),
                       [&](const std::string& note) { return note.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has_note("4 VM pod(s) set no pod-cgroup memory limit"));
  EXPECT_TRUE(has_note("host view: memory committed beyond allocatable"));
  EXPECT_TRUE(has_note("shape batch: sets no pod-cgroup memory limit"));
}

TEST(CapacityLedger, RefusedShapeFitsNothing) {
  Pod pod = KataPod("huge", "1", "2Gi", "1Gi");
  pod.annotations["io.katacontainers.config.hypervisor.default_memory"] = "4096";
  std::vector<Shape> shapes{{.name = "huge", .pod = Ledger(pod)}};
  NodeLedger ledger = BuildNodeLedger("n", {.memory_bytes = 64 * kGi, .cpu_millis = 64000}, {}, shapes);
  EXPECT_EQ(ledger.fits[0].scheduler.count, 0);
  EXPECT_EQ(ledger.fits[0].host.count, 0);
}

TEST(CapacityLedger, ShapeTheSchedulerKeepsOffTheNodeFitsNothing) {
  std::vector<Shape> shapes{{.name = "web",
                             .pod = Ledger(KataPod("web", "1", "2Gi", "1Gi")),
                             .unschedulable_here = "the node is cordoned"}};
  NodeLedger ledger = BuildNodeLedger("n", {.memory_bytes = 64 * kGi, .cpu_millis = 64000}, {}, shapes);
  EXPECT_EQ(ledger.fits[0].scheduler.count, 0);
  EXPECT_EQ(ledger.fits[0].host.count, 0);
  EXPECT_EQ(ledger.fits[0].gap, 0);
  ASSERT_EQ(ledger.notes.size(), 1u);
  EXPECT_EQ(ledger.notes[0], "shape web: the node is cordoned: none fit");
}

TEST(CapacityLedger, ClusterRowSumsNodes) {
  std::vector<Shape> shapes{{.name = "web", .pod = Ledger(KataPod("web", "1", "2Gi", "1Gi"))}};
  std::vector<LedgerPod> one{Ledger(KataPod("web-1", "1", "2Gi", "1Gi"))};
  std::vector<NodeLedger> nodes{
      BuildNodeLedger("a", {.memory_bytes = 8 * kGi, .cpu_millis = 8000}, one, shapes),
      BuildNodeLedger("b", {.memory_bytes = 8 * kGi, .cpu_millis = 8000}, {}, shapes),
  };
  ClusterLedger total = SumLedgers(nodes);
  EXPECT_EQ(total.allocatable.memory_bytes, 16 * kGi);
  EXPECT_EQ(total.pods, 1);
  EXPECT_EQ(total.host.committed_memory_bytes, kKataHostNeed);
  ASSERT_EQ(total.fits.size(), 1u);
  EXPECT_EQ(total.fits[0].host.count, *nodes[0].fits[0].host.count + *nodes[1].fits[0].host.count);
  EXPECT_EQ(total.fits[0].scheduler.count,
            *nodes[0].fits[0].scheduler.count + *nodes[1].fits[0].scheduler.count);
  EXPECT_EQ(total.fits[0].gap, *nodes[0].fits[0].gap + *nodes[1].fits[0].gap);
}

TEST(CapacityLedger, SumsSaturateRatherThanWrap) {
  LedgerPod huge;
  huge.memory_request_bytes = std::numeric_limits<int64_t>::max();
  std::vector<LedgerPod> pods{huge, huge};
  NodeLedger ledger = BuildNodeLedger("n", {.memory_bytes = kGi}, pods, {});
  EXPECT_EQ(ledger.scheduler.committed_memory_bytes, std::numeric_limits<int64_t>::max());
  EXPECT_LT(ledger.scheduler.free_memory_bytes, 0);
}

}  // namespace
}  // namespace uvm::sizer
