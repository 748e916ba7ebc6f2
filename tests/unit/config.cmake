# The daemon's configuration (config/: key table, parser, printer, durations), its file loading and the
# node's Kata handler walk (daemon/config.cc, daemon/node_profiles.cc): no gRPC, no Asio, no machine.
if(TARGET uvm_daemon_config)
  file(GLOB config_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/config/*_test.cc)
  add_executable(config_tests ${config_test_sources})
  target_link_libraries(config_tests PRIVATE uvm_daemon_config GTest::gtest_main)
  target_compile_definitions(config_tests PRIVATE UVM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(config_tests DISCOVERY_TIMEOUT 60)
endif()
