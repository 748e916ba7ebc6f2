# Pure sizing rules and text formats: no machine needed.
file(GLOB sizer_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/sizer/*_test.cc
     ${CMAKE_CURRENT_LIST_DIR}/formats/*_test.cc)
add_executable(sizer_tests ${sizer_test_sources})
target_link_libraries(sizer_tests PRIVATE uvm_sizer uvm_sizer_formats GTest::gtest_main GTest::gmock)
target_compile_definitions(sizer_tests PRIVATE UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
gtest_discover_tests(sizer_tests DISCOVERY_TIMEOUT 60)
