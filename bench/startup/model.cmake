# uvm_startup_model: the pure side of uvm-sizer-startup. Pod records <-> JSON (pods.jsonl, run.json),
# statistics, the summary, the reports and plots of a result directory, and the `report` and `compare`
# subcommands. No gRPC, no cgroups: its only I/O is the files of a result directory (and running gnuplot).
add_library(uvm_startup_model STATIC
            ${CMAKE_CURRENT_LIST_DIR}/record.cc ${CMAKE_CURRENT_LIST_DIR}/jsonl.cc
            ${CMAKE_CURRENT_LIST_DIR}/stats.cc ${CMAKE_CURRENT_LIST_DIR}/summary.cc
            ${CMAKE_CURRENT_LIST_DIR}/report.cc ${CMAKE_CURRENT_LIST_DIR}/plots.cc
            ${CMAKE_CURRENT_LIST_DIR}/outputs.cc ${CMAKE_CURRENT_LIST_DIR}/report_commands.cc)
uvm_target_headers(uvm_startup_model bench/startup record.h outputs.h commands.h stats.h summary.h report.h
                   plots.h)
target_link_libraries(uvm_startup_model PUBLIC uvm_base PRIVATE fmt::fmt nlohmann_json::nlohmann_json
                      CLI11::CLI11)
