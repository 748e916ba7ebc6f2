# `runtimeclass --from-prometheus` against a real Prometheus serving a TSDB backfilled by promtool (Debian
# package prometheus), and `--from-node` against the real daemon (runtimeclass_node_test.cc).
find_program(UVM_PROMTOOL promtool)
find_program(UVM_PROMETHEUS prometheus)
add_executable(runtimeclass_prometheus_test ${CMAKE_CURRENT_LIST_DIR}/runtimeclass_prometheus_test.cc)
target_link_libraries(runtimeclass_prometheus_test PRIVATE uvm_sizer uvm_test_support yaml-cpp
                      nlohmann_json::nlohmann_json GTest::gtest_main GTest::gmock)
target_compile_definitions(runtimeclass_prometheus_test PRIVATE
  UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>"
  UVM_PROMETHEUS_BIN="$<IF:$<BOOL:${UVM_PROMETHEUS}>,${UVM_PROMETHEUS},prometheus-not-found>"
  UVM_PROMTOOL_BIN="$<IF:$<BOOL:${UVM_PROMTOOL}>,${UVM_PROMTOOL},promtool-not-found>")
add_dependencies(runtimeclass_prometheus_test uvm-sizer)
# One ctest entry: its tests share one Prometheus, started once.
add_test(NAME runtimeclass_prometheus COMMAND runtimeclass_prometheus_test)
set_tests_properties(runtimeclass_prometheus PROPERTIES LABELS integration TIMEOUT 300)

# --from-node against the real daemon binary: on the fake CRI and a cgroup v2 tree of files, and on a private
# containerd + runc with real pod cgroups; Kata shim monitor sockets served by the test in both. Included after daemon.cmake (alphabetical), whose DaemonProcess it uses.
if(TARGET uvm_daemon_process AND TARGET uvm_test_fake_cri AND TARGET uvm_containerd_fixture)
  add_executable(runtimeclass_node_test ${CMAKE_CURRENT_LIST_DIR}/runtimeclass_node_test.cc)
  target_link_libraries(runtimeclass_node_test PRIVATE uvm_daemon_process uvm_test_fake_cri uvm_containerd_fixture
                        uvm_api uvm_sizer
                        yaml-cpp nlohmann_json::nlohmann_json GTest::gtest_main GTest::gmock)
  target_compile_definitions(runtimeclass_node_test PRIVATE UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>"
                             UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
  add_dependencies(runtimeclass_node_test uvm-sizer)
  add_test(NAME runtimeclass_node COMMAND runtimeclass_node_test)
  set_tests_properties(runtimeclass_node PROPERTIES LABELS "integration;daemon;api" RUN_SERIAL ON TIMEOUT 300)
endif()
