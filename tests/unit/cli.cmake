# The uvm-sizer CLI end to end: runs the built binary on real files; and the size report it prints.
add_executable(cli_tests ${CMAKE_CURRENT_LIST_DIR}/cli/cli_test.cc ${CMAKE_CURRENT_LIST_DIR}/cli/size_inputs_test.cc
                         ${CMAKE_CURRENT_LIST_DIR}/cli/size_report_test.cc
                         ${CMAKE_CURRENT_LIST_DIR}/cli/readme_examples_test.cc
                         ${CMAKE_CURRENT_LIST_DIR}/cli/capacity_test.cc)
target_link_libraries(cli_tests PRIVATE uvm_test_support uvm_sizer uvm_sizer_formats yaml-cpp
                      nlohmann_json::nlohmann_json GTest::gtest_main)
target_compile_definitions(cli_tests PRIVATE UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>"
                           UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures"
                           UVM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(cli_tests uvm-sizer)
gtest_discover_tests(cli_tests TEST_PREFIX "cli." DISCOVERY_TIMEOUT 60)
