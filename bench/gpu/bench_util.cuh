/* bench_util.cuh — what the GPU benchmarks (bench_gpu, ab_portable) share: the CUDA error check
 * (a benchmark exits on the first CUDA error) and the input generator, a device fill with a hashed
 * normal-ish value (sum of 4 uniforms, unit variance times `scale`), never zeros, so both see the
 * same inputs for the same seed. */
#ifndef LITEATTN_BENCH_UTIL_CUH
#define LITEATTN_BENCH_UTIL_CUH

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LA_B_CHECK(call)                                                                 \
  do {                                                                                   \
    cudaError_t e_ = (call);                                                             \
    if (e_ != cudaSuccess) {                                                             \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(2);                                                                           \
    }                                                                                    \
  } while (0)

__global__ void la_b_fill(uint16_t *x, size_t n, uint32_t seed, float scale, int bf16) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    uint32_t h = (uint32_t)i * 2654435761u ^ seed;
    float s = 0.f;
    for (int r = 0; r < 4; ++r) {
      h ^= h >> 15, h *= 2246822519u, h ^= h >> 13, h *= 3266489917u, h ^= h >> 16;
      s += (float)(h >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    const float v = s * 1.7320508f * scale;
    if (bf16) {
      uint32_t b;
      memcpy(&b, &v, 4);
      x[i] = (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
    } else {
      x[i] = __half_as_ushort(__float2half_rn(v));
    }
  }
}

#endif /* LITEATTN_BENCH_UTIL_CUH */
