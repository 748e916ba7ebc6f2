# The daemon config parser and printer (the uvm_config target from config/), and the duration grammar.
if(TARGET uvm_config)
  uvm_add_fuzzer(fuzz_config ${CMAKE_CURRENT_LIST_DIR}/config/fuzz_config.cc uvm_config)
endif()
