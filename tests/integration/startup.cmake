# uvm-sizer-startup run end to end against the private containerd 1.6 + runc of the fixture
# (cri_harness.cmake): the real binary as a subprocess, the real `uvm-sizer size` for the prediction,
# containerd's own /v1/metrics for the cross-check. Root; Debian packages containerd runc gcc libc6-dev.
if(TARGET uvm_containerd_fixture AND TARGET uvm-sizer-startup AND TARGET uvm-sizer)
  add_executable(startup_integration_tests ${CMAKE_CURRENT_LIST_DIR}/startup_run_test.cc)
  target_link_libraries(startup_integration_tests PRIVATE uvm_containerd_fixture uvm_test_support uvm_startup_model uvm_startup_runner_plan
                        nlohmann_json::nlohmann_json fmt::fmt GTest::gtest_main)
  target_compile_definitions(startup_integration_tests PRIVATE
    UVM_SIZER_STARTUP_BIN="$<TARGET_FILE:uvm-sizer-startup>" UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>")
  add_dependencies(startup_integration_tests uvm-sizer-startup uvm-sizer)
  # One ctest entry: the tests share one containerd. Serial: containerd, cgroups, CPU.
  add_test(NAME startup_integration COMMAND startup_integration_tests)
  set_tests_properties(startup_integration PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 600)
endif()
