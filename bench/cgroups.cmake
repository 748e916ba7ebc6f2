# cgroups/: one normalised sample (real v1 here, a v2 fixture tree) and limit writes (kept fd vs
# openat on the kept dirfd vs open/write/close vs bare pwrite). Needs root for the real-kernel cases.
if(TARGET uvm_cgroups)
  add_executable(bench_cgroups ${CMAKE_CURRENT_LIST_DIR}/cgroups/bench_cgroups.cc)
  target_link_libraries(bench_cgroups PRIVATE uvm_cgroups benchmark::benchmark_main)
  target_compile_definitions(bench_cgroups PRIVATE UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
endif()
