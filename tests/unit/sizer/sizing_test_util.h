// Builders for pods in sizing tests: limits written as Kubernetes quantity strings.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "sizer/pod.h"

namespace uvm::sizer::testing {

inline std::optional<Quantity> Q(const char* text) {
  if (text == nullptr) return std::nullopt;
  auto q = Quantity::Parse(text);
  EXPECT_TRUE(q.ok()) << text;
  return q.ok() ? std::optional<Quantity>(*q) : std::nullopt;
}

inline Container Make(std::string name, const char* cpu_limit, const char* memory_limit,
                      const char* cpu_request = nullptr, const char* memory_request = nullptr) {
  Container c;
  c.name = std::move(name);
  c.resources.limits = {Q(cpu_limit), Q(memory_limit)};
  c.resources.requests = {Q(cpu_request), Q(memory_request)};
  return c;
}

inline Container Sidecar(std::string name, const char* cpu_limit, const char* memory_limit) {
  Container c = Make(std::move(name), cpu_limit, memory_limit);
  c.restart_policy_always = true;
  return c;
}

}  // namespace uvm::sizer::testing
