# kubelet-plugin: the verbose sandbox info parser and annotation fallback on fixture JSON
# (tests/fixtures/cri), endpoint and error-code handling, deadlines against a socket that never answers.
if(TARGET uvm_kubelet_plugin)
  file(GLOB kubelet_plugin_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/kubelet_plugin/*_test.cc)
  add_executable(kubelet_plugin_tests ${kubelet_plugin_test_sources})
  # The fake runtimes in the tests use the generated services directly.
  target_link_libraries(kubelet_plugin_tests PRIVATE uvm_kubelet_plugin uvm_kubelet_plugin_proto uvm_test_fake_cri GTest::gtest_main GTest::gmock)
  target_compile_definitions(kubelet_plugin_tests PRIVATE UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
  gtest_discover_tests(kubelet_plugin_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 60)
endif()
