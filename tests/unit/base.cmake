# base/: the error type and where its codes come from (errno, gRPC status codes).
file(GLOB base_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/base/*_test.cc)
add_executable(base_tests ${base_test_sources})
target_link_libraries(base_tests PRIVATE uvm_base GTest::gtest_main)
gtest_discover_tests(base_tests DISCOVERY_TIMEOUT 60)
