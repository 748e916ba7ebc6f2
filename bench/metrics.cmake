file(GLOB metrics_bench_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/metrics/*.cc)
add_executable(bench_metrics ${metrics_bench_sources})
target_link_libraries(bench_metrics PRIVATE uvm_metrics benchmark::benchmark_main)
