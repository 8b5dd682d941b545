/* sm90_shim.c — benchmark/check bridge for the Hopper kernel until the CUDA glue (la_cuda_fwd)
 * exists: one flat C entry point that Python calls through ctypes with torch data_ptr()s. It
 * compiles the front end in (core.c, for its static la_make_plan) so that the kernel receives
 * exactly the validated plan liteattn_fwd would build. Not part of the library. */
#include "../../src/core.c"

#include "../../src/cuda/sm90/sm90.h"

LITEATTN_API int la_sm90h_run(int kernel, int pingpong, int persistent, int dtype, void *q,
                              void *k, void *v, void *o, float *lse, const int64_t *shape,
                              const int64_t *strides, float scale, const uint32_t *read_mask,
                              uint32_t *write_mask, float threshold, int criterion,
                              const int64_t *must_k, int num_must_k, const int64_t *must_q,
                              int num_must_q, void *stream);

/* shape = {B, Sq, Sk, Hq, Hkv, D}; strides = {b, s, h} for q, k, v, o (12 values, elements);
 * must_k / must_q = begin, end pairs. kernel 0 = CPU spec backend (host pointers), 1 = sm90. */
int la_sm90h_run(int kernel, int pingpong, int persistent, int dtype, void *q, void *k, void *v,
                 void *o, float *lse, const int64_t *shape, const int64_t *strides, float scale,
                 const uint32_t *read_mask, uint32_t *write_mask, float threshold, int criterion,
                 const int64_t *must_k, int num_must_k, const int64_t *must_q, int num_must_q,
                 void *stream) {
  liteattn_range_t mk[LITEATTN_MAX_RANGES], mq[LITEATTN_MAX_RANGES];
  for (int i = 0; i < num_must_k && i < LITEATTN_MAX_RANGES; ++i)
    mk[i].begin = must_k[2 * i], mk[i].end = must_k[2 * i + 1];
  for (int i = 0; i < num_must_q && i < LITEATTN_MAX_RANGES; ++i)
    mq[i].begin = must_q[2 * i], mq[i].end = must_q[2 * i + 1];
  liteattn_fwd_args_t a = LITEATTN_FWD_ARGS_INIT;
  const int64_t B = shape[0], Sq = shape[1], Sk = shape[2], Hq = shape[3], Hkv = shape[4];
  const int64_t D = shape[5];
  liteattn_tensor_t *t[4] = {&a.q, &a.k, &a.v, &a.o};
  void *data[4] = {q, k, v, o};
  for (int i = 0; i < 4; ++i) {
    t[i]->data = data[i];
    t[i]->dtype = (liteattn_dtype_t)dtype;
    t[i]->batch = B;
    t[i]->seqlen = (i == 1 || i == 2) ? Sk : Sq;
    t[i]->heads = (i == 1 || i == 2) ? Hkv : Hq;
    t[i]->head_dim = D;
    t[i]->stride_b = strides[3 * i], t[i]->stride_s = strides[3 * i + 1];
    t[i]->stride_h = strides[3 * i + 2];
  }
  a.lse = lse;
  a.scale = scale;
  liteattn_mask_geometry_t g;
  liteattn_status_t st = liteattn_mask_geometry(B, Hq, Sq, Sk, D, (liteattn_dtype_t)dtype, &g);
  if (st) return st;
  a.read_mask = read_mask, a.read_mask_words = read_mask ? (size_t)g.words : 0;
  a.write_mask = write_mask, a.write_mask_words = write_mask ? (size_t)g.words : 0;
  a.threshold = threshold;
  a.criterion = (liteattn_criterion_t)criterion;
  a.must_do_k = mk, a.num_must_do_k = num_must_k;
  a.must_do_q = mq, a.num_must_do_q = num_must_q;
  a.backend = LITEATTN_BACKEND_CPU;
  if (kernel == 0) return liteattn_fwd(&a, stream);
  la_plan_t plan;
  if ((st = la_make_plan(&a, &plan))) return st;
  la_sm90_variant_t var = {pingpong, persistent};
  return la_sm90_fwd_variant(&plan, stream, var);
}
