# Issue 5 on the real kernel: the real daemon binary watching a kata-cc pod of a private containerd while a
# process in the pod cgroup fills a tmpfs (v1 memory charges) or stalls on memory (PSI triggers on the
# unified tree). Included after daemon.cmake (alphabetical), whose DaemonProcess helper it uses.
if(TARGET uvm_daemon_process AND TARGET uvm_containerd_fixture)
  add_executable(pressure_integration_tests ${CMAKE_CURRENT_LIST_DIR}/pressure_daemon_test.cc)
  target_link_libraries(pressure_integration_tests PRIVATE uvm_daemon_process uvm_containerd_fixture
                        nlohmann_json::nlohmann_json GTest::gtest_main)
  target_compile_definitions(pressure_integration_tests PRIVATE UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>")
  add_test(NAME pressure_integration COMMAND pressure_integration_tests)
  set_tests_properties(pressure_integration PROPERTIES LABELS "integration;daemon;pressure" RUN_SERIAL ON TIMEOUT 300)
endif()
