// The kubelet's reservations, from the two places a node keeps them: a KubeletConfiguration file
// (kubelet.config.k8s.io/v1beta1, YAML or JSON: kubeReserved, systemReserved, evictionHard) and the command
// line flags AKS writes to /etc/default/kubelet (`--kube-reserved=cpu=100m,memory=1638Mi`,
// `--system-reserved=...`, `--eviction-hard=memory.available<750Mi,nodefs.available<10%`). Takes text,
// never opens a file.
#pragma once

#include <string_view>

#include "base/result.h"
#include "sizer/capacity.h"

namespace uvm::sizer::formats {

// A KubeletConfiguration document. Keys other than the three are ignored; a malformed quantity or an
// evictionHard signal other than `memory.available` that is not a string is an error naming the key.
Result<KubeletReservations> ParseKubeletConfiguration(std::string_view text);

// Kubelet flags: a whole /etc/default/kubelet (`KUBELET_FLAGS="..."` and other lines) or a bare command
// line, applied over `file` (what the KubeletConfiguration file says): a flag given replaces that whole
// field, as the kubelet's flags override its --config file field by field. Flags other than the three are
// ignored; `--flag value` and `--flag=value` both work; the last occurrence of a flag wins, as with the
// kubelet's pflag parsing.
Result<KubeletReservations> ParseKubeletFlags(std::string_view text, const KubeletReservations& file = {});

}  // namespace uvm::sizer::formats
