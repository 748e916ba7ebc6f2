# Each fuzz_<name>.cc under tests/fuzz/sizer becomes a fuzzer linked with the pure libraries.
file(GLOB sizer_fuzz_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/sizer/fuzz_*.cc)
foreach(src IN LISTS sizer_fuzz_sources)
  get_filename_component(name ${src} NAME_WE)
  uvm_add_fuzzer(${name} ${src} uvm_sizer uvm_sizer_formats)
endforeach()
