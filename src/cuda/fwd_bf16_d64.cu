/* fwd_bf16_d64.cu — the portable kernel for bf16, head dim 64 (one file per instantiation so
 * they compile in parallel). */
#include "fwd_kernel.cuh"

LA_FWD_INSTANTIATE(64, true)
