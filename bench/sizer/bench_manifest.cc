// Reading a manifest is the first step of `uvm-sizer size` and of the daemon's SizePod call; a typical
// Deployment should take tens of microseconds, far below the cost of reading the file.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "sizer/formats/manifest.h"

namespace uvm::sizer::formats {
namespace {

constexpr std::string_view kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, tier: frontend}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web, tier: frontend}
      annotations:
        prometheus.io/scrape: "true"
    spec:
      runtimeClassName: kata-vm-isolation
      serviceAccountName: web
      initContainers:
        - name: migrate
          image: registry.example.com/shop/migrate:2.3.1
          command: ["/bin/migrate", "--up"]
          resources:
            limits: {cpu: 500m, memory: 256Mi}
      containers:
        - name: app
          image: registry.example.com/shop/web:2.3.1
          ports:
            - {name: http, containerPort: 8080}
          env:
            - {name: LOG_LEVEL, value: info}
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {name: db, key: password}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
          resources:
            requests: {cpu: 250m, memory: 512Mi}
            limits: {cpu: "1", memory: 1Gi}
          volumeMounts:
            - {name: cache, mountPath: /var/cache/web}
        - name: log-shipper
          image: registry.example.com/infra/fluent-bit:3.0
          resources:
            limits: {cpu: 100m, memory: 128Mi}
      volumes:
        - name: cache
          emptyDir: {sizeLimit: 1Gi}
)";

void BM_ParseManifestDeployment(benchmark::State& state) {
  for (auto _ : state) {
    auto m = ParseManifest(kDeployment);
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kDeployment.size()));
}
BENCHMARK(BM_ParseManifestDeployment);

// A `kubectl get deploy -A -o yaml` style List of 100 such objects.
void BM_ParseManifestList100(benchmark::State& state) {
  std::string list = "apiVersion: v1\nkind: List\nitems:\n";
  for (int i = 0; i < 100; ++i) {
    std::string_view body = kDeployment;
    bool first = true;
    while (!body.empty()) {
      size_t nl = body.find('\n');
      std::string_view line = body.substr(0, nl);
      list += first ? "- " : "  ";
      list += line;
      list += '\n';
      first = false;
      body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    }
  }
  for (auto _ : state) {
    auto m = ParseManifest(list);
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * list.size()));
}
BENCHMARK(BM_ParseManifestList100);

}  // namespace
}  // namespace uvm::sizer::formats
