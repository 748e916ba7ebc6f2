# Metrics end to end: a real Prometheus (Debian package prometheus) scrapes a DaemonMetrics endpoint and
# loads the shipped rules; and (issue 10) the real daemon on pods of a private containerd plus a static
# kube-state-metrics exposition, every dashboard query returning data, and a headless-Chromium screenshot of
# Prometheus's graph page saved under test-artifacts/ in the build dir. Assertions go through Prometheus's
# HTTP API. Included after daemon.cmake (alphabetical), whose DaemonProcess helper it uses.
if(TARGET uvm_daemon_process AND TARGET uvm_containerd_fixture)
  find_program(UVM_PROMETHEUS prometheus)
  # Missing chromium fails the screenshot test loudly (CI installs it: scripts/install-deps.sh).
  find_program(UVM_CHROMIUM chromium)
  add_executable(metrics_prometheus_test ${CMAKE_CURRENT_LIST_DIR}/metrics_prometheus_test.cc)
  target_link_libraries(metrics_prometheus_test PRIVATE uvm_metrics uvm_test_support uvm_daemon_process
                        uvm_containerd_fixture nlohmann_json::nlohmann_json GTest::gtest_main GTest::gmock)
  target_compile_definitions(metrics_prometheus_test PRIVATE
    UVM_PROMETHEUS_BIN="$<IF:$<BOOL:${UVM_PROMETHEUS}>,${UVM_PROMETHEUS},prometheus-not-found>"
    UVM_CHROMIUM_BIN="$<IF:$<BOOL:${UVM_CHROMIUM}>,${UVM_CHROMIUM},/usr/bin/chromium>"
    UVM_TEST_ARTIFACTS_DIR="${PROJECT_BINARY_DIR}/test-artifacts"
    UVM_RULES_FILE="${PROJECT_SOURCE_DIR}/metrics/rules/uvm-sizer.rules.yml"
    UVM_DASHBOARD_FILE="${PROJECT_SOURCE_DIR}/metrics/dashboards/uvm-sizer.json")
  # One ctest entry for the binary: its suites share a Prometheus each, started once.
  add_test(NAME metrics_prometheus COMMAND metrics_prometheus_test)
  set_tests_properties(metrics_prometheus PROPERTIES LABELS "integration;daemon" RUN_SERIAL ON TIMEOUT 600)
endif()
