# Guest memory pressure: one model tick for 250 pods, and parsing a shim-monitor payload.
if(TARGET uvm_guest_parsers)
  add_executable(bench_guest ${CMAKE_CURRENT_LIST_DIR}/guest/bench_pressure.cc)
  target_link_libraries(bench_guest PRIVATE uvm_guest_parsers uvm_sizer benchmark::benchmark_main)
  target_compile_definitions(bench_guest PRIVATE UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
endif()
