#include "daemon/pod_table.h"

namespace uvm::daemon {

const char* PhaseName(PodPhase phase) {
  switch (phase) {
    case PodPhase::kDiscovered:
      return "discovered";
    case PodPhase::kSized:
      return "sized";
    case PodPhase::kApplied:
      return "applied";
    case PodPhase::kGone:
      return "gone";
  }
  return "?";
}

PodState& PodTable::Upsert(const SandboxSummary& summary, bool* inserted) {
  auto [it, added] = by_sandbox_.try_emplace(summary.id);
  if (added) {
    it->second.detail.summary = summary;
    sandboxes_by_uid_[summary.uid].insert(summary.id);
  }
  if (inserted) *inserted = added;
  return it->second;
}

PodState* PodTable::Find(const std::string& sandbox_id) {
  auto it = by_sandbox_.find(sandbox_id);
  return it == by_sandbox_.end() ? nullptr : &it->second;
}

const PodState* PodTable::Find(const std::string& sandbox_id) const {
  auto it = by_sandbox_.find(sandbox_id);
  return it == by_sandbox_.end() ? nullptr : &it->second;
}

std::string PodTable::Erase(const std::string& sandbox_id) {
  auto it = by_sandbox_.find(sandbox_id);
  if (it == by_sandbox_.end()) return {};
  std::string uid = it->second.detail.summary.uid;
  by_sandbox_.erase(it);
  if (auto u = sandboxes_by_uid_.find(uid); u != sandboxes_by_uid_.end()) {
    u->second.erase(sandbox_id);
    if (u->second.empty()) sandboxes_by_uid_.erase(u);
  }
  return uid;
}

const PodState* PodTable::Exported(const std::string& uid) const {
  auto u = sandboxes_by_uid_.find(uid);
  if (u == sandboxes_by_uid_.end()) return nullptr;
  const PodState* best = nullptr;
  for (const auto& id : u->second) {
    const PodState* pod = Find(id);
    if (!pod) continue;
    // Ids ascend in the set, so ">=" makes the greater id win a tie.
    if (!best || pod->summary().created_at_ns >= best->summary().created_at_ns) best = pod;
  }
  return best;
}

PodState* PodTable::Exported(const std::string& uid) {
  return const_cast<PodState*>(static_cast<const PodTable*>(this)->Exported(uid));
}

bool PodTable::IsExported(const PodState& pod) const {
  return Exported(pod.summary().uid) == &pod;
}

}  // namespace uvm::daemon
