# Host cgroups on fake trees (tests/fixtures/cgroups, copied to temp dirs when written to): no real
# cgroupfs needed. The real-kernel tests are in tests/integration/cgroups.cmake.
if(TARGET uvm_cgroups)
  file(GLOB cgroups_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/cgroups/*_test.cc)
  add_executable(cgroups_tests ${cgroups_test_sources})
  target_link_libraries(cgroups_tests PRIVATE uvm_cgroups GTest::gtest_main)
  target_compile_definitions(cgroups_tests PRIVATE UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
  gtest_discover_tests(cgroups_tests DISCOVERY_TIMEOUT 60)
endif()
