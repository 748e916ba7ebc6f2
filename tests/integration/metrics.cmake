# Metrics end to end: a real Prometheus (Debian package prometheus) scrapes a DaemonMetrics endpoint and
# loads the shipped rules; assertions go through its HTTP API.
find_program(UVM_PROMETHEUS prometheus)
add_executable(metrics_prometheus_test ${CMAKE_CURRENT_LIST_DIR}/metrics_prometheus_test.cc)
target_link_libraries(metrics_prometheus_test PRIVATE uvm_metrics uvm_test_support nlohmann_json::nlohmann_json
                                                      GTest::gtest_main GTest::gmock)
target_compile_definitions(metrics_prometheus_test PRIVATE
  UVM_PROMETHEUS_BIN="$<IF:$<BOOL:${UVM_PROMETHEUS}>,${UVM_PROMETHEUS},prometheus-not-found>"
  UVM_RULES_FILE="${PROJECT_SOURCE_DIR}/metrics/rules/uvm-sizer.rules.yml"
  UVM_DASHBOARD_FILE="${PROJECT_SOURCE_DIR}/metrics/dashboards/uvm-sizer.json")
# One ctest entry for the binary: its tests share one Prometheus, started once.
add_test(NAME metrics_prometheus COMMAND metrics_prometheus_test)
set_tests_properties(metrics_prometheus PROPERTIES LABELS integration TIMEOUT 300)
