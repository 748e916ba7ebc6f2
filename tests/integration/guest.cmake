# The shim-monitor client over a real unix socket against a test shim-monitor server (Beast), feeding
# the pure pressure model: prediction, levels and attribution end to end. No root needed; sockets live
# in a temp dir removed after each test.
if(TARGET uvm_guest)
  find_package(Boost 1.74 REQUIRED)
  find_package(Threads REQUIRED)
  add_executable(guest_integration_tests ${CMAKE_CURRENT_LIST_DIR}/guest_shim_monitor_test.cc)
  target_link_libraries(guest_integration_tests PRIVATE uvm_guest uvm_guest_parsers uvm_sizer Boost::headers
                        Threads::Threads GTest::gtest_main GTest::gmock)
  add_test(NAME guest_shim_monitor COMMAND guest_integration_tests)
  set_tests_properties(guest_shim_monitor PROPERTIES LABELS "integration;pressure" TIMEOUT 120)
endif()
