# bench/startup's reading of the node's own histograms (uvm_startup_node_metrics): captured kubelet and
# containerd 1.6 exposition text -> totals, quantiles at bucket resolution, the scrape table.
if(TARGET uvm_startup_node_metrics)
  file(GLOB startup_node_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/startup_node/*_test.cc)
  add_executable(startup_node_metrics_tests ${startup_node_test_sources})
  target_link_libraries(startup_node_metrics_tests PRIVATE uvm_startup_node_metrics fmt::fmt nlohmann_json::nlohmann_json
                        GTest::gtest_main GTest::gmock)
  gtest_discover_tests(startup_node_metrics_tests TEST_PREFIX "startup_node." DISCOVERY_TIMEOUT 60)
endif()
