# The pure half of cgroups/: text parsers, path rules, layout from mountinfo. std + fmt only, so the fuzz
# build (clang-14, UVM_SIZER_FUZZ) includes this file on its own.
add_library(uvm_cgroups_parsers STATIC
  ${CMAKE_CURRENT_LIST_DIR}/parsers.cc
  ${CMAKE_CURRENT_LIST_DIR}/paths.cc
  ${CMAKE_CURRENT_LIST_DIR}/layout.cc
  ${CMAKE_CURRENT_LIST_DIR}/sample.cc)
target_link_libraries(uvm_cgroups_parsers PUBLIC uvm_base fmt::fmt)
uvm_target_headers(uvm_cgroups_parsers cgroups layout.h parsers.h paths.h sample.h)
