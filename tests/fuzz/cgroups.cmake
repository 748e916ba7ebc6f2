# cgroups/ text parsers and path rules (the uvm_cgroups_parsers target from cgroups/parsers.cmake).
if(TARGET uvm_cgroups_parsers)
  uvm_add_fuzzer(fuzz_cgroup_parsers ${CMAKE_CURRENT_LIST_DIR}/cgroups/fuzz_cgroup_parsers.cc uvm_cgroups_parsers)
endif()
