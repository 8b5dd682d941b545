# cuda.cmake — the CUDA backends (included when nvcc is found): sources, architectures, flags.
# Real SASS for every architecture in LITEATTN_CUDA_ARCHS (CI compiles them all, it cannot run
# them); the CUDA runtime is linked statically so libliteattn.so needs no libcudart at run time.
option(LITEATTN_PTXAS_VERBOSE "CUDA: -lineinfo -Xptxas -v (registers, spills per kernel)" OFF)

set(LITEATTN_CUDA_REAL_ARCHS "")
foreach(arch IN LISTS LITEATTN_CUDA_ARCHS)
  list(APPEND LITEATTN_CUDA_REAL_ARCHS "${arch}-real")
endforeach()
string(REPLACE ";" "," LITEATTN_CUDA_ARCH_TEXT "${LITEATTN_CUDA_ARCHS}")

target_sources(liteattn PRIVATE
  src/cuda/cuda_backend.cu
  src/cuda/fwd_bf16_d64.cu src/cuda/fwd_bf16_d128.cu
  src/cuda/fwd_fp16_d64.cu src/cuda/fwd_fp16_d128.cu)
target_compile_definitions(liteattn PRIVATE LITEATTN_WITH_CUDA=1
  $<$<COMPILE_LANGUAGE:CUDA>:LITEATTN_CUDA_ARCH_LIST="${LITEATTN_CUDA_ARCH_TEXT}">)
target_compile_options(liteattn PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>
  $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${LITEATTN_PTXAS_VERBOSE}>>:-lineinfo;-Xptxas=-v>)
set_target_properties(liteattn PROPERTIES
  CUDA_ARCHITECTURES "${LITEATTN_CUDA_REAL_ARCHS}"
  CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
  CUDA_RUNTIME_LIBRARY Static)
target_link_libraries(liteattn PRIVATE CUDA::cudart_static)

if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/src/cuda/sm90/sm90.cmake)
  include(${CMAKE_CURRENT_SOURCE_DIR}/src/cuda/sm90/sm90.cmake)
endif()
