file(GLOB sizer_bench_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/sizer/*.cc)
add_executable(bench_sizer ${sizer_bench_sources})
target_link_libraries(bench_sizer PRIVATE uvm_sizer uvm_sizer_formats benchmark::benchmark_main)
