# uvm_startup_node_metrics: the node's own startup histograms (kubelet, containerd) read from their
# /metrics text: the runner's cross-check (node_metrics.h) and `uvm-sizer-startup scrape` (node_scrape.h).
# The text goes through the project's one exposition parser (guest/exposition.h), the GET through the
# project's one HTTP client (cli/http_get.h).
add_library(uvm_startup_node_metrics STATIC ${CMAKE_CURRENT_LIST_DIR}/node_metrics.cc
                                            ${CMAKE_CURRENT_LIST_DIR}/node_scrape.cc)
target_link_libraries(uvm_startup_node_metrics PUBLIC uvm_base
                      PRIVATE uvm_guest_parsers uvm_http_get fmt::fmt nlohmann_json::nlohmann_json CLI11::CLI11)
uvm_target_headers(uvm_startup_node_metrics bench/startup node_metrics.h histograms.h node_scrape.h)
