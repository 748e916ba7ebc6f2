# uvm-sizer-startup's pure side (uvm_startup_model): records <-> JSON, statistics, summary, reports, compare.
file(GLOB startup_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/startup/*_test.cc)
add_executable(startup_tests ${startup_test_sources})
target_link_libraries(startup_tests PRIVATE uvm_startup_model nlohmann_json::nlohmann_json fmt::fmt CLI11::CLI11
                      GTest::gtest_main)
gtest_discover_tests(startup_tests TEST_PREFIX "startup." DISCOVERY_TIMEOUT 60)
