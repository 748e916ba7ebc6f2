# The guest-side parsers: Prometheus text exposition (and the Kata mapping on top of it).
if(TARGET uvm_guest_parsers)
  uvm_add_fuzzer(fuzz_exposition ${CMAKE_CURRENT_LIST_DIR}/guest/fuzz_exposition.cc uvm_guest_parsers uvm_sizer)
endif()
