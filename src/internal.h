/* internal.h — what the validated front end hands to a backend: one normalized plan per call,
 * the error helper, and the helpers every backend shares (visit order, must-do tests). */
#ifndef LITEATTN_INTERNAL_H
#define LITEATTN_INTERNAL_H

#include "liteattn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything a backend needs, validated and with defaults applied. Strides in elements. */
typedef struct la_plan {
  const void *q, *k, *v;
  void *o;
  float *lse;
  liteattn_dtype_t dtype;
  int64_t B, Sq, Sk, Hq, Hkv, D;
  int64_t q_sb, q_ss, q_sh;
  int64_t k_sb, k_ss, k_sh;
  int64_t v_sb, v_ss, v_sh;
  int64_t o_sb, o_ss, o_sh;
  float scale;     /* resolved (never 0) */
  float scale_log2; /* scale * log2(e) */
  liteattn_mask_geometry_t geom;
  const uint32_t *read_mask; /* NULL = all tiles */
  uint32_t *write_mask;      /* NULL = no marking */
  float threshold;
  liteattn_criterion_t criterion;
  int num_must_k, num_must_q;
  liteattn_range_t must_k[LITEATTN_MAX_RANGES]; /* key token ranges */
  liteattn_range_t must_q[LITEATTN_MAX_RANGES]; /* query token ranges */
} la_plan_t;

/* Records the calling thread's last error (printf-style) and returns `status`. */
/* A probe that may fail without the call failing saves the last error and restores it after. */
typedef struct la_saved_error {
  char text[512];
} la_saved_error_t;
void la_error_save(la_saved_error_t *saved);
void la_error_restore(const la_saved_error_t *saved);

liteattn_status_t la_error(liteattn_status_t status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Backends. Each returns a status; the CUDA ones enqueue on `stream`. */
liteattn_status_t la_cpu_fwd(const la_plan_t *plan);

#ifdef LITEATTN_WITH_CUDA
/* Where a pointer lives: 1 device (or managed), 0 host, -1 if CUDA failed in a way other than
 * "no device / host pointer" (the failure is recorded with la_error). */
int la_cuda_pointer_is_device(const void *ptr);
/* Checks that the current device can run `kernel` for this plan (arch, head dim, dtype,
 * alignment); LITEATTN_OK or a status with the reason recorded. */
liteattn_status_t la_cuda_check(const la_plan_t *plan, liteattn_kernel_t kernel);
/* The best CUDA kernel for the current device and plan (PORTABLE or SM90), or NONE with the
 * reason recorded. */
liteattn_kernel_t la_cuda_select(const la_plan_t *plan, liteattn_status_t *why);
liteattn_status_t la_cuda_fwd(const la_plan_t *plan, liteattn_kernel_t kernel,
                              liteattn_stream_t stream);
#endif

#ifdef LITEATTN_WITH_SM90
/* Hopper kernel (src/cuda/sm90/). la_sm90_check: can it run this plan on the current device
 * (OK or a status with the reason recorded); la_sm90_fwd: enqueue it. */
liteattn_status_t la_sm90_check(const la_plan_t *plan);
liteattn_status_t la_sm90_fwd(const la_plan_t *plan, liteattn_stream_t stream);
#endif

/* ---- shared spec helpers (header-only so that host and device code use one definition) ---- */
#if defined(__CUDACC__)
#define LA_HD __host__ __device__ __forceinline__
#else
#define LA_HD static inline
#endif

/* First key tile of the visit order for q-tile qt (DESIGN §2, liteattn.h "Visit order"). */
LA_HD int64_t la_diag_tile(int64_t qt, int64_t BM, int64_t BN, int64_t Sq, int64_t Sk,
                           int64_t Tk) {
  int64_t d = (qt * BM * Sk) / (Sq * BN);
  return d < Tk - 1 ? d : Tk - 1;
}

/* 1 if the token interval [lo, hi) overlaps any of the n ranges. */
LA_HD int la_ranges_hit(const liteattn_range_t *r, int n, int64_t lo, int64_t hi) {
  for (int i = 0; i < n; ++i)
    if (r[i].begin < hi && lo < r[i].end) return 1;
  return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* LITEATTN_INTERNAL_H */
