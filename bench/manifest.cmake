# Large inputs: a 10,000-pod live List as JSON and as YAML (the issue 9 targets). Its own binary, so the
# quick bench_sizer runs stay quick.
add_executable(bench_manifest_large ${CMAKE_CURRENT_LIST_DIR}/manifest/bench_manifest_large.cc)
target_link_libraries(bench_manifest_large PRIVATE uvm_sizer uvm_sizer_formats fmt::fmt benchmark::benchmark)
