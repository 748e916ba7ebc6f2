# The real daemon binary against a private containerd 1.6 + runc (handlers kata, kata-cc, runc) and the
# real cgroup tree: what issue 4's acceptance list asks, end to end.
if(TARGET uvm_containerd_fixture AND TARGET uvm-sizer AND TARGET uvm_guest_parsers)
  add_library(uvm_daemon_process STATIC ${CMAKE_CURRENT_LIST_DIR}/daemon_process.cc)
  target_link_libraries(uvm_daemon_process PUBLIC uvm_test_support uvm_guest_parsers fmt::fmt)
  target_compile_definitions(uvm_daemon_process PRIVATE UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>")
  add_dependencies(uvm_daemon_process uvm-sizer)

  add_executable(daemon_integration_tests ${CMAKE_CURRENT_LIST_DIR}/daemon_cri_test.cc
                 ${CMAKE_CURRENT_LIST_DIR}/daemon_capacity_test.cc ${CMAKE_CURRENT_LIST_DIR}/daemon_startup_test.cc)
  target_link_libraries(daemon_integration_tests PRIVATE uvm_daemon_process uvm_containerd_fixture uvm_api
                        uvm_sizer_formats nlohmann_json::nlohmann_json GTest::gtest_main)
  target_compile_definitions(daemon_integration_tests PRIVATE UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>")
  add_test(NAME daemon_integration COMMAND daemon_integration_tests)
  set_tests_properties(daemon_integration PROPERTIES LABELS "integration;daemon;api" RUN_SERIAL ON TIMEOUT 600)
endif()

# scripts/demo.sh: containerd + demo pods + the daemon, and what it reports.
if(TARGET uvm_daemon_process)
  add_executable(uvm-sizer-demo ${CMAKE_CURRENT_LIST_DIR}/harness/demo.cc)
  target_link_libraries(uvm-sizer-demo PRIVATE uvm_daemon_process uvm_containerd_fixture fmt::fmt)
  target_compile_definitions(uvm-sizer-demo PRIVATE UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>")
endif()
