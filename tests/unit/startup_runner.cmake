# uvm-sizer-startup run, pure side (uvm_startup_runner_plan): flags -> plan, the order of pods, the memory
# budget, phase arithmetic, the sizer's prediction, and the Kata tier-1 / environment parsers on captured
# text. No runtime, no cgroups.
if(TARGET uvm_startup_runner_plan)
  file(GLOB startup_runner_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/startup_runner/*_test.cc)
  add_executable(startup_runner_tests ${startup_runner_test_sources})
  target_link_libraries(startup_runner_tests PRIVATE uvm_startup_runner_plan fmt::fmt GTest::gtest_main)
  gtest_discover_tests(startup_runner_tests TEST_PREFIX "startup_runner." DISCOVERY_TIMEOUT 60)
endif()
