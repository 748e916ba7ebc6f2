# kubelet-plugin/ parsers: containerd's verbose sandbox info and the annotation fallback
# (the uvm_kubelet_plugin_parsers target from kubelet-plugin/parsers.cmake).
if(TARGET uvm_kubelet_plugin_parsers)
  uvm_add_fuzzer(fuzz_sandbox_info ${CMAKE_CURRENT_LIST_DIR}/kubelet_plugin/fuzz_sandbox_info.cc
                 uvm_kubelet_plugin_parsers)
endif()
