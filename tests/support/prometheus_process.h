// A real Prometheus for end-to-end tests: a temp dir of its own (config, TSDB, log), a free loopback
// port, started and waited for until ready; killed and its dir removed by the destructor, whatever happened.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::testing {

class PrometheusProcess {
 public:
  PrometheusProcess() = default;
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;
  ~PrometheusProcess();

  // Creates the temp dir (/tmp/<prefix>-XXXXXX), where a caller may prepare files before Start (a TSDB
  // backfilled into dir()/data).
  Status MakeDir(std::string_view prefix);
  const std::string& dir() const { return dir_; }

  // Writes `config` to dir()/prometheus.yml and runs `prometheus_bin` on it (TSDB dir()/data, working
  // directory dir()), until /-/ready answers 200 (TSDB open, rules loaded) or `patience` runs out. An
  // early exit (a bad config, a port taken meanwhile) is an error carrying its log.
  Status Start(const std::string& prometheus_bin, const std::string& config,
               std::chrono::milliseconds patience);

  uint16_t port() const { return port_; }
  std::string url() const;
  std::string LogTail() const;  // the last 4000 bytes of its log

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_, log_;
};

}  // namespace uvm::testing
