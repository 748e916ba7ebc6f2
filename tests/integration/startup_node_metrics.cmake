# bench/startup's node metrics against a real private containerd 1.6 + runc (the fixture of
# cri_harness.cmake, with /v1/metrics turned on): the runner's cross-check counts every sandbox, and the
# scrape table has a row for the runtime type, in the library and from `uvm-sizer-startup scrape`.
if(TARGET uvm_containerd_fixture AND TARGET uvm_startup_node_metrics)
  add_executable(startup_node_metrics_integration_tests ${CMAKE_CURRENT_LIST_DIR}/startup_node_metrics_test.cc)
  target_link_libraries(startup_node_metrics_integration_tests PRIVATE uvm_containerd_fixture uvm_startup_node_metrics
                        uvm_test_support fmt::fmt nlohmann_json::nlohmann_json GTest::gtest_main GTest::gmock)
  if(TARGET uvm-sizer-startup)
    target_compile_definitions(startup_node_metrics_integration_tests
                               PRIVATE UVM_SIZER_STARTUP_BIN="$<TARGET_FILE:uvm-sizer-startup>")
    add_dependencies(startup_node_metrics_integration_tests uvm-sizer-startup)
  endif()
  # One ctest entry: the tests share one containerd, started once. Serial: containerd, cgroups, CPU.
  add_test(NAME startup_node_metrics COMMAND startup_node_metrics_integration_tests)
  set_tests_properties(startup_node_metrics PROPERTIES LABELS "integration;startup" RUN_SERIAL ON TIMEOUT 300)
endif()
