# The private-containerd fixture (tests/integration/harness/containerd_fixture.h) for every integration
# test binary that needs CRI pods. Its own file, named to sort before the files that use it: the
# integration *.cmake files are included in alphabetical order and check `if(TARGET ...)`.
if(TARGET uvm_kubelet_plugin)
  add_library(uvm_containerd_fixture STATIC ${CMAKE_CURRENT_LIST_DIR}/harness/containerd_fixture.cc)
  target_link_libraries(uvm_containerd_fixture PUBLIC uvm_kubelet_plugin uvm_test_support GTest::gtest fmt::fmt)
  target_compile_definitions(uvm_containerd_fixture
                             PRIVATE UVM_CONTAINERD_HARNESS="${CMAKE_CURRENT_LIST_DIR}/harness/containerd.sh")
endif()
