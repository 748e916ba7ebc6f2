# CRI client and change feed against a real private containerd 1.6 + runc, started by the fixture of
# cri_harness.cmake (root; Debian packages containerd runc gcc libc6-dev).
if(TARGET uvm_containerd_fixture)
  add_executable(cri_integration_tests ${CMAKE_CURRENT_LIST_DIR}/cri_client_test.cc)
  target_link_libraries(cri_integration_tests PRIVATE uvm_containerd_fixture GTest::gtest_main GTest::gmock)
  # One ctest entry: the tests share one containerd, started once. Serial: containerd, cgroups, CPU.
  add_test(NAME cri_integration COMMAND cri_integration_tests)
  set_tests_properties(cri_integration PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 300)
endif()
