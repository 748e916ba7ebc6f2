# cgroups/ against the real kernel (v1 memory/cpu, tmpfs charges, PSI on the unified tree), the systemd
# writer against a private dbus-daemon with a fake systemd, and `uvm-sizer inspect` end to end.
# Needs root and a writable cgroupfs; tests skip loudly where the kernel lacks a hierarchy or PSI.
if(TARGET uvm_cgroups)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
  find_program(UVM_DBUS_DAEMON dbus-daemon)
  file(GLOB cgroups_it_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/cgroups_*_test.cc)
  add_executable(cgroups_integration_tests ${cgroups_it_sources})
  target_link_libraries(cgroups_integration_tests PRIVATE uvm_cgroups uvm_test_support PkgConfig::LIBSYSTEMD
                        nlohmann_json::nlohmann_json GTest::gtest_main)
  target_compile_definitions(cgroups_integration_tests PRIVATE
    UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures"
    UVM_DBUS_DAEMON_BIN="$<IF:$<BOOL:${UVM_DBUS_DAEMON}>,${UVM_DBUS_DAEMON},dbus-daemon-not-found>")
  if(TARGET uvm-sizer)
    target_compile_definitions(cgroups_integration_tests PRIVATE UVM_SIZER_BIN="$<TARGET_FILE:uvm-sizer>")
    add_dependencies(cgroups_integration_tests uvm-sizer)
  endif()
  # One ctest entry: the tests share machine state (cgroupfs), so they run in one process, in order.
  add_test(NAME cgroups_integration COMMAND cgroups_integration_tests)
  set_tests_properties(cgroups_integration PROPERTIES LABELS integration TIMEOUT 180)
endif()
