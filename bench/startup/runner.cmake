# uvm_startup_runner: `uvm-sizer-startup run`. Its pure side, uvm_startup_runner_plan (run_plan.cc: flags
# -> plan, the order of pods, the memory budget, the phase arithmetic; kata_probe.cc: the Kata tier-1 and
# environment parsers), is unit-tested without a machine (tests/unit/startup_runner); run.cc and
# bench_cgroups.cc drive the CRI runtime and make the kubelet-like pod cgroups.
add_library(uvm_startup_runner_plan STATIC ${CMAKE_CURRENT_LIST_DIR}/run_plan.cc
                                           ${CMAKE_CURRENT_LIST_DIR}/kata_probe.cc)
uvm_target_headers(uvm_startup_runner_plan bench/startup run_plan.h kata_probe.h)
target_link_libraries(uvm_startup_runner_plan PUBLIC uvm_sizer uvm_base uvm_startup_model
                      PRIVATE uvm_kubelet_plugin uvm_guest_parsers fmt::fmt)

add_library(uvm_startup_runner STATIC ${CMAKE_CURRENT_LIST_DIR}/bench_cgroups.cc ${CMAKE_CURRENT_LIST_DIR}/run.cc)
uvm_target_headers(uvm_startup_runner bench/startup bench_cgroups.h runner.h)
find_package(Threads REQUIRED)
target_link_libraries(uvm_startup_runner PUBLIC uvm_startup_runner_plan
                      PRIVATE uvm_kubelet_plugin uvm_cgroups uvm_guest uvm_startup_model uvm_startup_node_metrics
                              CLI11::CLI11 fmt::fmt Threads::Threads)
target_compile_definitions(uvm_startup_runner PRIVATE UVM_SIZER_VERSION="${UVM_SIZER_VERSION}")
