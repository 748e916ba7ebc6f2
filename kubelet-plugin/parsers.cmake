# The pure half of kubelet-plugin/: containerd's verbose sandbox info and the annotation fallback. std +
# fmt + nlohmann_json only, so the fuzz build (clang-14, UVM_SIZER_FUZZ) includes this file on its own.
add_library(uvm_kubelet_plugin_parsers STATIC ${CMAKE_CURRENT_LIST_DIR}/sandbox_info.cc)
target_link_libraries(uvm_kubelet_plugin_parsers PUBLIC uvm_base fmt::fmt PRIVATE nlohmann_json::nlohmann_json)
uvm_target_headers(uvm_kubelet_plugin_parsers kubelet-plugin sandbox_info.h types.h)
