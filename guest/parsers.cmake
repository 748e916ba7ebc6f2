# Pure parsers of what the guest side serves (Prometheus text from the Kata shim monitor): text in,
# values out. Included by guest/CMakeLists.txt, and on its own by the fuzz build (top CMakeLists.txt).
add_library(uvm_guest_parsers STATIC ${CMAKE_CURRENT_LIST_DIR}/exposition.cc ${CMAKE_CURRENT_LIST_DIR}/shim_metrics.cc)
target_link_libraries(uvm_guest_parsers PUBLIC uvm_sizer fmt::fmt)
uvm_target_headers(uvm_guest_parsers guest exposition.h shim_metrics.h)
