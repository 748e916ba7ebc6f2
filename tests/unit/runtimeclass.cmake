# podFixed from measurement (issue 10): the Prometheus client's parsing, and `runtimeclass --from-*`
# run as built where no server is needed. The recommender's own tests are in sizer_tests.
add_executable(runtimeclass_tests ${CMAKE_CURRENT_LIST_DIR}/cli/prometheus_client_test.cc
                                  ${CMAKE_CURRENT_LIST_DIR}/cli/runtimeclass_measured_test.cc)
target_link_libraries(runtimeclass_tests PRIVATE uvm_prometheus_client uvm_test_support yaml-cpp
                      nlohmann_json::nlohmann_json GTest::gtest_main GTest::gmock)
target_compile_definitions(runtimeclass_tests PRIVATE UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>"
                           UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
add_dependencies(runtimeclass_tests uvm-sizer)
gtest_discover_tests(runtimeclass_tests TEST_PREFIX "runtimeclass." DISCOVERY_TIMEOUT 60)
