# The daemon's config, logging, pod table, core (discovery, sizing, enforcement, pressure, export), PSI
# triggers and scheduler, with fake ports (daemon/fake_ports.h) and a real io_context.
if(TARGET uvm_daemon_core)
  file(GLOB daemon_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/daemon/*_test.cc)
  add_executable(daemon_tests ${daemon_test_sources})
  target_link_libraries(daemon_tests PRIVATE uvm_daemon_core GTest::gtest_main GTest::gmock)
  target_compile_definitions(daemon_tests PRIVATE UVM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  # The label picks the suite for the TSan job (scripts/sanitize.sh). One label only: gtest_discover_tests
  # writes a list property unquoted, so "a;b" would set LABELS to a and a stray property b.
  gtest_discover_tests(daemon_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS daemon)
endif()
