# sm90.cmake — the Hopper kernel (src/cuda/sm90/), included by cmake/cuda.cmake. Its sources are
# an object library built ONLY for sm_90a (wgmma and setmaxnreg exist on the arch-specific target
# alone; the portable architecture list of target liteattn must not reach them), linked into
# liteattn, which then defines LITEATTN_WITH_SM90 so the selector can pick it.
add_library(liteattn_sm90 OBJECT ${CMAKE_CURRENT_LIST_DIR}/sm90_fwd.cu)
target_include_directories(liteattn_sm90 PRIVATE
  ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(liteattn_sm90 PRIVATE LITEATTN_WITH_CUDA=1 LITEATTN_WITH_SM90=1)
# -Xptxas -v always: a spill or a "wgmma serialized" (C7515/C7511/C7519) warning is a regression.
target_compile_options(liteattn_sm90 PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra;-lineinfo;-Xptxas=-v>)
set_target_properties(liteattn_sm90 PROPERTIES
  CUDA_ARCHITECTURES 90a-real
  CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
  POSITION_INDEPENDENT_CODE ON CUDA_VISIBILITY_PRESET hidden)
target_sources(liteattn PRIVATE $<TARGET_OBJECTS:liteattn_sm90>)
target_compile_definitions(liteattn PRIVATE LITEATTN_WITH_SM90=1)
