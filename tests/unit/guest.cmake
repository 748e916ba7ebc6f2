# Guest side, pure parts: the Prometheus text parser and the Kata shim metrics mapping.
file(GLOB guest_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/guest/*_test.cc)
add_executable(guest_tests ${guest_test_sources})
target_link_libraries(guest_tests PRIVATE uvm_guest_parsers GTest::gtest_main GTest::gmock)
target_compile_definitions(guest_tests PRIVATE UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
gtest_discover_tests(guest_tests DISCOVERY_TIMEOUT 60)
