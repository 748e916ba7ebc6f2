# Issue 8's faults and load, against the real daemon binary: containerd SIGKILLed while pods come and go,
# SIGHUP storms with broken files, 1,000 pods of the shared fake CRI in waves, scrape storms with watch
# streams cut abruptly, a full tmpfs under the API socket, cgroup faults of the real kernel. Included after
# daemon.cmake (alphabetical), whose DaemonProcess helper it uses.
if(TARGET uvm_daemon_process AND TARGET uvm_containerd_fixture AND TARGET uvm_test_fake_cri)
  add_executable(daemon_faults_tests ${CMAKE_CURRENT_LIST_DIR}/daemon_faults_test.cc)
  # Its own main(): the binary also runs as the watch-stream clients the storm test kills.
  target_link_libraries(daemon_faults_tests PRIVATE uvm_daemon_process uvm_containerd_fixture uvm_api
                        uvm_test_fake_cri GTest::gtest)
  target_compile_definitions(daemon_faults_tests PRIVATE UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
  add_test(NAME daemon_faults COMMAND daemon_faults_tests)
  set_tests_properties(daemon_faults PROPERTIES LABELS integration RUN_SERIAL ON TIMEOUT 900)
endif()
