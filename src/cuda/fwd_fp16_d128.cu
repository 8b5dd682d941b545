/* fwd_fp16_d128.cu — the portable kernel for fp16, head dim 128 (one file per instantiation so
 * they compile in parallel). */
#include "fwd_kernel.cuh"

LA_FWD_INSTANTIATE(128, false)
