# The daemon (issue 4 "Benchmarks"): reconcile of 250 VM pods with no change, through the real CRI adapter
# against a fake CRI server and without gRPC; the real `uvm-sizer daemon`'s RSS and steady-state CPU with
# 250 pods. Both binaries host the shared fake CRI server (tests/support/fake_cri.h) in a child of themselves.
if(TARGET uvm_daemon AND TARGET uvm_test_fake_cri AND TARGET uvm-sizer)

  add_executable(bench_daemon ${CMAKE_CURRENT_LIST_DIR}/daemon/bench_reconcile.cc)
  target_link_libraries(bench_daemon PRIVATE uvm_test_fake_cri uvm_daemon uvm_daemon_core uvm_metrics
                        benchmark::benchmark)

  add_executable(bench_daemon_rss ${CMAKE_CURRENT_LIST_DIR}/daemon/bench_daemon_rss.cc)
  target_link_libraries(bench_daemon_rss PRIVATE uvm_test_fake_cri benchmark::benchmark)
  target_compile_definitions(bench_daemon_rss PRIVATE UVM_SIZER_BINARY="$<TARGET_FILE:uvm-sizer>"
                                                   UVM_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
  # The daemon under measurement is built with the benchmark.
  add_dependencies(bench_daemon_rss uvm-sizer)
endif()
