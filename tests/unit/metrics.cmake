# Metrics: series lifecycle, counters and histogram through the text exposition (no network).
file(GLOB metrics_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/metrics/*_test.cc)
add_executable(metrics_tests ${metrics_test_sources})
target_link_libraries(metrics_tests PRIVATE uvm_metrics uvm_guest_parsers GTest::gtest_main GTest::gmock)
gtest_discover_tests(metrics_tests DISCOVERY_TIMEOUT 60)
# promtool's `check metrics` lints a full exposition in metrics_tests (when Debian's prometheus is there).
find_program(UVM_PROMTOOL promtool)
if(UVM_PROMTOOL)
  target_compile_definitions(metrics_tests PRIVATE UVM_PROMTOOL_BIN="${UVM_PROMTOOL}")
endif()

# The shipped alert and recording rules: syntax (promtool check rules) and behaviour (promtool test rules).
find_package(Python3 REQUIRED COMPONENTS Interpreter)  # the coverage check and the dashboard generator
find_program(UVM_PROMTOOL promtool)
if(UVM_PROMTOOL)
  add_test(NAME metrics_rules_check
           COMMAND ${UVM_PROMTOOL} check rules ${PROJECT_SOURCE_DIR}/metrics/rules/uvm-sizer.rules.yml)
  file(GLOB metrics_rule_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/metrics/rules/*_test.yml)
  add_test(NAME metrics_rules_test COMMAND ${UVM_PROMTOOL} test rules ${metrics_rule_tests}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/metrics/rules)
  # Every recording rule is evaluated, and every alert fires, in some promtool test; every alert has a runbook.
  add_test(NAME metrics_rules_coverage
           COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/metrics/rules/check_coverage.py
                   ${PROJECT_SOURCE_DIR}/metrics/rules/uvm-sizer.rules.yml ${metrics_rule_tests})
else()
  # A missing tool must fail loudly, not make the rule tests vanish.
  add_test(NAME metrics_rules_check COMMAND ${CMAKE_COMMAND} -E echo
           "promtool not found: install the Debian package prometheus")
  set_tests_properties(metrics_rules_check PROPERTIES WILL_FAIL ON)
endif()
# The Grafana dashboard is generated: the committed JSON must be exactly what the generator makes.
add_test(NAME metrics_dashboard_generated
         COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/metrics/dashboards/generate.py --check)
