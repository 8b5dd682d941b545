/* fwd.h — what the portable CUDA kernel (sm80+) takes and how it is launched: the parameter block
 * (passed by value), the compiled tile shape, and one launch function per (head dim, dtype). */
#ifndef LITEATTN_CUDA_FWD_H
#define LITEATTN_CUDA_FWD_H

#include <cuda_runtime.h>

#include "../internal.h"

/* The tile the kernel is compiled for. It must equal the tile table's (core.c) shape for every
 * head dim the kernel builds; la_cuda_check compares it with plan->geom and refuses a mismatch,
 * so a change of the table can never silently disagree with the kernel's mask indexing. */
#define LA_CUDA_BM 128 /* 4 warps x 2 m16 fragments x 16 rows */
#define LA_CUDA_BN 128 /* the mask granularity; computed as BN/KB key blocks of KB keys */
#define LA_CUDA_THREADS 128

/* Keys per block (the BN-key tile is computed as BN/KB blocks), set by the register file: at
 * D = 128, S (64 fp32) + O (128 fp32) per thread; at D = 64, S (128) + O (64). */
static constexpr int la_cuda_kb(int D) { return D == 128 ? 64 : 128; }

/* Marking variants (compile-time): no write mask, PEAK criterion, MASS criterion. */
enum { LA_MARK_NONE = 0, LA_MARK_PEAK = 1, LA_MARK_MASS = 2 };

/* Everything the kernel reads, by value. Strides are in elements. */
typedef struct la_fwd_params {
  const void *q, *k, *v;
  void *o;
  float *lse;
  const uint32_t *read_mask; /* NULL = all tiles */
  uint32_t *write_mask;      /* NULL = no marking */
  long long q_sb, q_ss, q_sh, k_sb, k_ss, k_sh, v_sb, v_ss, v_sh, o_sb, o_ss, o_sh;
  int B, Sq, Sk, Hq, q_per_kv, Tq, Tk, W;
  float scale, scale_log2, threshold;
  int num_must_k, num_must_q;
  liteattn_range_t must_k[LITEATTN_MAX_RANGES];
  liteattn_range_t must_q[LITEATTN_MAX_RANGES];
} la_fwd_params_t;

/* Dynamic shared memory of one CTA for head dim D, W mask words per row, marking on or off. */
size_t la_fwd_smem_bytes(int D, int W, int marking);

/* Enqueues the kernel for head dim D and dtype on `stream` (mark: LA_MARK_*). Returns the CUDA
 * error of the attribute setting or the launch. */
template <int D, bool BF16>
cudaError_t la_fwd_launch(const la_fwd_params_t &p, int mark, cudaStream_t stream);

/* Attributes of the (D, dtype, no-marking) kernel: fails with cudaErrorNoKernelImageForDevice
 * (or InvalidDeviceFunction) when the binary holds no code for the current device. */
template <int D, bool BF16>
cudaError_t la_fwd_attributes(cudaFuncAttributes *attr);

#endif /* LITEATTN_CUDA_FWD_H */
