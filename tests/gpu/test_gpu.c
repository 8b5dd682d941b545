/* test_gpu.c — the GPU test suite: every CUDA kernel against the CPU backend (the spec) and the
 * fp64 oracle, over the shared case table, on fresh random inputs; determinism; poisoned outputs;
 * the selector's CUDA refusals. Fails (never skips) when no GPU answers.
 *
 * Usage: test_gpu [--small] [--portable]
 *   --small: the cases of <= 300 tokens, bf16 only (for the sanitizers);
 *   --portable: the portable kernel only (skip the Hopper kernel even where it is built).
 *
 * Tolerance rules (u = unit roundoff of the dtype: bf16 2^-8, fp16 2^-11):
 *   O:   |gpu - cpu| <= 2 ulp(cpu) + 2u * max|V|, and ||gpu - cpu||_2 <= 4u * ||cpu||_2.
 *        Both backends accumulate in fp32 and round O once; the GPU also rounds P to the dtype
 *        before P·V (the CPU keeps P in fp32), which moves O by at most u * sum_i p_i |v_i| / l
 *        <= u * max|V|; the factor 2 covers fp32 summation order and the SFU's exp2.
 *   LSE: |gpu - cpu| <= 1e-4 * (1 + |cpu|) (fp32 sums of unrounded P on both sides); -inf equal.
 *   Mask: the bit the spec writes (fp64 oracle), except tiles whose criterion value lies within
 *        0.02 (log2 units) of thr, where either outcome is allowed; elsewhere GPU == CPU == oracle.
 */
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#ifndef LA_TEST_WITH_SM90
#define LA_TEST_WITH_SM90 0
#endif

#define LA_MASK_TOL 0.02

static int la_cuda(cudaError_t e, const char *what) {
  LA_CHECK(e == cudaSuccess, "%s: %s", what, cudaGetErrorString(e));
  return e == cudaSuccess;
}

/* No library call may leave a CUDA error behind. */
static void la_no_cuda_error(const char *after) {
  cudaError_t e = cudaGetLastError();
  LA_CHECK(e == cudaSuccess, "CUDA error left behind after %s: %s", after, cudaGetErrorString(e));
}

/* A host tensor's whole allocation mirrored on the device. */
typedef struct la_dev {
  void *base;
  size_t bytes;
  liteattn_tensor_t t; /* the same view, device pointer */
} la_dev_t;

static la_dev_t la_dev_make(const la_t_tensor_t *h) {
  la_dev_t d;
  memset(&d, 0, sizeof d);
  d.bytes = h->elems * la_t_dtype_size(h->t.dtype) + 64;
  if (!la_cuda(cudaMalloc(&d.base, d.bytes), "cudaMalloc")) return d;
  la_cuda(cudaMemcpy(d.base, h->base, d.bytes, cudaMemcpyHostToDevice), "copy to device");
  d.t = h->t;
  d.t.data = (char *)d.base + ((char *)h->t.data - (char *)h->base);
  return d;
}

typedef struct la_scenario {
  const char *name;
  int read_mask;  /* 1: a random read mask (70% of tiles) */
  int write_mask; /* 1: marking on */
  liteattn_criterion_t criterion;
  float thr;
  int must; /* 1: one must-do key range and one must-do query range */
} la_scenario_t;

static const la_scenario_t la_scenarios[] = {
    {"dense", 0, 0, LITEATTN_CRITERION_MASS, -INFINITY, 0},
    {"mark_inf", 0, 1, LITEATTN_CRITERION_MASS, -INFINITY, 0},
    {"mass_read_must", 1, 1, LITEATTN_CRITERION_MASS, -7.0f, 1},
    {"peak_full", 0, 1, LITEATTN_CRITERION_PEAK, -5.0f, 0},
    {"mass_read", 1, 1, LITEATTN_CRITERION_MASS, -3.0f, 0},
};
#define LA_NUM_SCENARIOS ((int)(sizeof la_scenarios / sizeof la_scenarios[0]))

/* Suite-wide counts that prove the marking tests decided something both ways. */
static long la_kept_tiles, la_dropped_tiles, la_near_thr_tiles;

typedef struct la_run_out {
  void *o;       /* whole O allocation, host copy */
  float *lse;
  uint32_t *mask;
} la_run_out_t;

/* Poisons the outputs, runs `a` on `stream`, copies everything back. */
static liteattn_status_t la_gpu_run(const liteattn_fwd_args_t *a, const la_t_tensor_t *o_host,
                                    const la_dev_t *o_dev, float *lse_dev, size_t lse_n,
                                    uint32_t *wm_dev, size_t words, cudaStream_t stream,
                                    la_run_out_t *out) {
  /* Poison: the host sentinel (all-ones = NaN) over the whole O allocation, padding included. */
  la_cuda(cudaMemcpy(o_dev->base, o_host->base, o_dev->bytes, cudaMemcpyHostToDevice), "poison o");
  if (lse_dev) la_cuda(cudaMemset(lse_dev, 0xff, lse_n * sizeof(float)), "poison lse");
  if (wm_dev) la_cuda(cudaMemset(wm_dev, 0xa5, words * sizeof(uint32_t)), "poison mask");
  /* The run goes on a non-blocking stream: the poison (legacy stream) must land first. */
  la_cuda(cudaDeviceSynchronize(), "poisoning");
  liteattn_status_t st = liteattn_fwd(a, stream);
  la_no_cuda_error("liteattn_fwd");
  la_cuda(cudaStreamSynchronize(stream), "kernel execution");
  la_cuda(cudaMemcpy(out->o, o_dev->base, o_dev->bytes, cudaMemcpyDeviceToHost), "copy o");
  if (lse_dev)
    la_cuda(cudaMemcpy(out->lse, lse_dev, lse_n * sizeof(float), cudaMemcpyDeviceToHost),
            "copy lse");
  if (wm_dev)
    la_cuda(cudaMemcpy(out->mask, wm_dev, words * sizeof(uint32_t), cudaMemcpyDeviceToHost),
            "copy mask");
  return st;
}

static double la_ulp(double x, liteattn_dtype_t t) {
  const int mant = t == LITEATTN_DTYPE_BF16 ? 7 : 10;
  const double ax = fabs(x) < 6.1e-5 ? 6.1e-5 : fabs(x);
  return ldexp(1.0, (int)floor(log2(ax)) - mant);
}

static void la_test_case(const la_case_t *c, liteattn_dtype_t dt, liteattn_backend_t backend,
                         uint64_t seed, cudaStream_t stream) {
  const double u = dt == LITEATTN_DTYPE_BF16 ? 0x1p-8 : 0x1p-11;
  la_t_tensor_t q = la_t_tensor_make(c->B, c->Sq, c->Hq, c->D, dt, c->layout);
  la_t_tensor_t k = la_t_tensor_make(c->B, c->Sk, c->Hkv, c->D, dt, c->layout);
  la_t_tensor_t v = la_t_tensor_make(c->B, c->Sk, c->Hkv, c->D, dt, c->layout);
  la_t_tensor_t oc = la_t_tensor_make(c->B, c->Sq, c->Hq, c->D, dt, c->layout);
  la_t_tensor_t og = la_t_tensor_make(c->B, c->Sq, c->Hq, c->D, dt, c->layout);
  la_t_tensor_t og2 = la_t_tensor_make(c->B, c->Sq, c->Hq, c->D, dt, c->layout);
  la_t_tensor_t odense = la_t_tensor_make(c->B, c->Sq, c->Hq, c->D, dt, c->layout);
  la_t_fill_qkv(&q, &k, &v, LA_T_INPUTS_DEFAULT, seed);
  double vmax = 0;
  for (int64_t b = 0; b < c->B; ++b)
    for (int64_t s = 0; s < c->Sk; ++s)
      for (int64_t h = 0; h < c->Hkv; ++h)
        for (int64_t d = 0; d < c->D; ++d) vmax = fmax(vmax, fabs(la_t_get(&v.t, b, s, h, d)));

  liteattn_mask_geometry_t g;
  LA_CHECK_STATUS(liteattn_mask_geometry(c->B, c->Hq, c->Sq, c->Sk, c->D, dt, &g), LITEATTN_OK,
                  "geometry");
  const size_t words = (size_t)g.words, lse_n = (size_t)(c->B * c->Hq * c->Sq);
  uint32_t *rm = malloc(words * 4), *wc = malloc(words * 4), *wg = malloc(words * 4),
           *wg2 = malloc(words * 4);
  float *lc = malloc(lse_n * 4), *lg = malloc(lse_n * 4), *lg2 = malloc(lse_n * 4);
  la_dev_t dq = la_dev_make(&q), dk = la_dev_make(&k), dv = la_dev_make(&v), dog = la_dev_make(&og);
  float *dl = NULL;
  uint32_t *drm = NULL, *dwm = NULL;
  la_cuda(cudaMalloc((void **)&dl, lse_n * 4), "cudaMalloc lse");
  la_cuda(cudaMalloc((void **)&drm, words * 4), "cudaMalloc read mask");
  la_cuda(cudaMalloc((void **)&dwm, words * 4), "cudaMalloc write mask");
  const liteattn_range_t must_k = {c->Sk / 3, c->Sk / 3 + (c->Sk > 40 ? 40 : 1)};
  const liteattn_range_t must_q = {c->Sq / 2, c->Sq / 2 + 1};

  for (int si = 0; si < LA_NUM_SCENARIOS; ++si) {
    const la_scenario_t *sc = &la_scenarios[si];
    char what[256];
    snprintf(what, sizeof what, "%s %s %s %s", c->name, la_t_dtype_name(dt), sc->name,
             backend == LITEATTN_BACKEND_CUDA_SM90 ? "sm90" : "portable");
    la_rng_t rr = la_rng_make(seed, 100 + (uint64_t)si);
    if (sc->read_mask) {
      memset(rm, 0, words * 4);
      for (int64_t r = 0; r < g.rows; ++r)
        for (int64_t j = 0; j < g.tiles_k; ++j) la_t_set_bit(rm, &g, r, j, la_rng_uniform(&rr) < 0.7);
      la_cuda(cudaMemcpy(drm, rm, words * 4, cudaMemcpyHostToDevice), "copy read mask");
      la_cuda(cudaDeviceSynchronize(), "read mask upload");
    }
    liteattn_fwd_args_t a = la_t_args(&q, &k, &v, &oc);
    a.lse = lc;
    a.threshold = sc->thr;
    a.criterion = sc->criterion;
    if (sc->read_mask) a.read_mask = rm, a.read_mask_words = words;
    if (sc->write_mask) a.write_mask = wc, a.write_mask_words = words;
    if (sc->must) {
      a.must_do_k = &must_k, a.num_must_do_k = 1;
      a.must_do_q = &must_q, a.num_must_do_q = 1;
    }
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, what); /* CPU spec */

    liteattn_fwd_args_t ga = a;
    ga.q = dq.t, ga.k = dk.t, ga.v = dv.t, ga.o = dog.t, ga.lse = dl;
    ga.read_mask = sc->read_mask ? drm : NULL;
    ga.write_mask = sc->write_mask ? dwm : NULL;
    ga.backend = backend;
    liteattn_kernel_t kern = LITEATTN_KERNEL_NONE;
    LA_CHECK_STATUS(liteattn_fwd_check(&ga, &kern), LITEATTN_OK, what);
    LA_CHECK(kern == (backend == LITEATTN_BACKEND_CUDA_SM90 ? LITEATTN_KERNEL_CUDA_SM90
                                                            : LITEATTN_KERNEL_CUDA_PORTABLE),
             "%s: kernel %s", what, liteattn_kernel_name(kern));
    la_run_out_t r1 = {og.base, lg, wg}, r2 = {og2.base, lg2, wg2};
    LA_CHECK_STATUS(la_gpu_run(&ga, &og, &dog, dl, lse_n, ga.write_mask ? dwm : NULL, words,
                               stream, &r1),
                    LITEATTN_OK, what);
    LA_CHECK_STATUS(la_gpu_run(&ga, &og, &dog, dl, lse_n, ga.write_mask ? dwm : NULL, words,
                               stream, &r2),
                    LITEATTN_OK, what);

    /* Determinism: the second run is bit-identical (O allocation, LSE, mask). */
    LA_CHECK(memcmp(og.base, og2.base, dog.bytes) == 0, "%s: O differs between two runs", what);
    LA_CHECK(memcmp(lg, lg2, lse_n * 4) == 0, "%s: LSE differs between two runs", what);
    if (sc->write_mask)
      LA_CHECK(memcmp(wg, wg2, words * 4) == 0, "%s: mask differs between two runs", what);
    /* Nothing written outside the view (padding keeps its poison). */
    LA_CHECK(la_t_padding_intact(&og), "%s: O padding was written", what);

    /* O and LSE against the CPU. */
    double worst = 0, num = 0, den = 0;
    int64_t wb = 0, ws = 0, wh = 0, wd = 0, bad = 0;
    for (int64_t b = 0; b < c->B; ++b)
      for (int64_t s = 0; s < c->Sq; ++s)
        for (int64_t h = 0; h < c->Hq; ++h)
          for (int64_t d = 0; d < c->D; ++d) {
            const double x = la_t_get(&og.t, b, s, h, d), y = la_t_get(&oc.t, b, s, h, d);
            const double diff = fabs(x - y), tol = 2 * la_ulp(y, dt) + 2 * u * vmax;
            if (!(diff <= tol)) ++bad;
            if (!(diff <= worst)) worst = diff, wb = b, ws = s, wh = h, wd = d;
            num += (x - y) * (x - y), den += y * y;
          }
    LA_CHECK(bad == 0, "%s: %lld O elements off; worst |diff| %.3g at (b %lld, s %lld, h %lld, "
             "d %lld): gpu %.6g cpu %.6g", what, (long long)bad, worst, (long long)wb,
             (long long)ws, (long long)wh, (long long)wd, la_t_get(&og.t, wb, ws, wh, wd),
             la_t_get(&oc.t, wb, ws, wh, wd));
    LA_CHECK(sqrt(num) <= 4 * u * sqrt(den), "%s: ||gpu - cpu|| / ||cpu|| = %.3g > %.3g", what,
             sqrt(num / (den > 0 ? den : 1)), 4 * u);
    int64_t lbad = 0, li = 0;
    for (size_t i = 0; i < lse_n; ++i) {
      const int ok = isinf(lc[i]) ? lg[i] == lc[i] : fabs(lg[i] - lc[i]) <= 1e-4 * (1 + fabs(lc[i]));
      if (!ok && !lbad++) li = (int64_t)i;
    }
    LA_CHECK(lbad == 0, "%s: %lld LSE values off, first at %lld: gpu %.7g cpu %.7g", what,
             (long long)lbad, (long long)li, lbad ? lg[li] : 0.0, lbad ? lc[li] : 0.0);
    if (si == 0) memcpy(odense.base, og.base, dog.bytes);
    if (sc->write_mask && isinf(sc->thr) && !sc->read_mask)
      /* thr = -inf marks nothing, and marking must not change the arithmetic. */
      LA_CHECK(memcmp(odense.base, og.base, dog.bytes) == 0,
               "%s: O with marking at thr=-inf differs from the dense run", what);

    if (sc->write_mask) {
      LA_CHECK(la_t_padding_bits_zero(wg, &g), "%s: mask padding bits set", what);
      la_t_problem_t pr = {&q.t, &k.t, &v.t, 0, g, a.read_mask, a.must_do_k, a.num_must_do_k,
                           a.must_do_q, a.num_must_do_q};
      pr.scale = (double)(float)(1.0 / sqrt((double)c->D));
      int64_t mbad = 0, mrow = -1, mj = -1, kept = 0, dropped = 0, near = 0;
#pragma omp parallel reduction(+ : mbad, kept, dropped, near)
      {
        la_t_ref_t ref = la_t_ref_alloc(&pr);
#pragma omp for schedule(dynamic, 1)
        for (int64_t row = 0; row < g.rows; ++row) {
          const int64_t b = row / (c->Hq * g.tiles_q), h = (row / g.tiles_q) % c->Hq,
                        qt = row % g.tiles_q;
          la_t_ref_qtile(&pr, b, h, qt, &ref);
          for (int64_t j = 0; j < g.tiles_k; ++j) {
            const int want = la_t_expected_bit(&ref, j, sc->criterion, sc->thr, LA_MASK_TOL);
            const int got = la_t_bit(wg, &g, row, j), cpu = la_t_bit(wc, &g, row, j);
            if (want < 0) {
              ++near;
              continue;
            }
            if (ref.visited[j]) want ? ++kept : ++dropped;
            if (got != want || cpu != want) {
              ++mbad;
#pragma omp critical
              if (mrow < 0) mrow = row, mj = j;
            }
          }
        }
        la_t_ref_free(&ref);
      }
      la_kept_tiles += kept, la_dropped_tiles += dropped, la_near_thr_tiles += near;
      LA_CHECK(mbad == 0, "%s: %lld mask bits off (beyond the %.2g band), first row %lld tile %lld",
               what, (long long)mbad, LA_MASK_TOL, (long long)mrow, (long long)mj);
    }
  }

  cudaFree(dq.base), cudaFree(dk.base), cudaFree(dv.base), cudaFree(dog.base);
  cudaFree(dl), cudaFree(drm), cudaFree(dwm);
  free(rm), free(wc), free(wg), free(wg2), free(lc), free(lg), free(lg2);
  la_t_tensor_free(&q), la_t_tensor_free(&k), la_t_tensor_free(&v), la_t_tensor_free(&oc);
  la_t_tensor_free(&og), la_t_tensor_free(&og2), la_t_tensor_free(&odense);
}

/* Every refusal the CUDA side of the selector can be forced into, each with its status, and no
 * CUDA error left behind by any of them. */
static void la_test_errors(void) {
  const int64_t S = 256, H = 2, D = 64;
  la_t_tensor_t q = la_t_tensor_make(1, S, H, D, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
  la_t_tensor_t k = la_t_tensor_make(1, S, H, D, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
  la_t_tensor_t v = la_t_tensor_make(1, S, H, D, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
  la_t_tensor_t o = la_t_tensor_make(1, S, H, D, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
  la_t_fill_qkv(&q, &k, &v, LA_T_INPUTS_DEFAULT, 7);
  la_dev_t dq = la_dev_make(&q), dk = la_dev_make(&k), dv = la_dev_make(&v), dog = la_dev_make(&o);
  liteattn_fwd_args_t host = la_t_args(&q, &k, &v, &o);
  liteattn_fwd_args_t dev = host;
  dev.q = dq.t, dev.k = dk.t, dev.v = dv.t, dev.o = dog.t;
  liteattn_kernel_t kern;

  /* AUTO picks CUDA for device pointers, the CPU for host ones. */
  dev.backend = LITEATTN_BACKEND_AUTO;
  LA_CHECK_STATUS(liteattn_fwd_check(&dev, &kern), LITEATTN_OK, "AUTO, device pointers");
  LA_CHECK(kern == LITEATTN_KERNEL_CUDA_PORTABLE || kern == LITEATTN_KERNEL_CUDA_SM90,
           "AUTO with device pointers picked %s", liteattn_kernel_name(kern));
  host.backend = LITEATTN_BACKEND_AUTO;
  LA_CHECK_STATUS(liteattn_fwd_check(&host, &kern), LITEATTN_OK, "AUTO, host pointers");
  LA_CHECK(kern == LITEATTN_KERNEL_CPU, "AUTO with host pointers picked %s",
           liteattn_kernel_name(kern));
  la_no_cuda_error("AUTO selection");

  /* Host buffers to the CUDA backend; device buffers to the CPU backend. */
  const liteattn_backend_t cuda_backends[] = {LITEATTN_BACKEND_CUDA, LITEATTN_BACKEND_CUDA_PORTABLE};
  for (int i = 0; i < 2; ++i) {
    liteattn_fwd_args_t a = host;
    a.backend = cuda_backends[i];
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_ERR_WRONG_DEVICE, "host q to CUDA");
    LA_CHECK(strstr(liteattn_last_error(), "q = ") != NULL, "message names the buffer: \"%s\"",
             liteattn_last_error());
    a = dev;
    a.backend = cuda_backends[i];
    a.o = o.t; /* only o on the host */
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_ERR_WRONG_DEVICE, "host o to CUDA");
    LA_CHECK(strstr(liteattn_last_error(), "o = ") != NULL, "message names o: \"%s\"",
             liteattn_last_error());
  }
  {
    liteattn_fwd_args_t a = dev;
    a.backend = LITEATTN_BACKEND_CPU;
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_ERR_WRONG_DEVICE, "device q to CPU");
  }
  la_no_cuda_error("wrong-device refusals");

  /* Misaligned base pointer (2-byte aligned, not 16) and a stride not a multiple of 8. */
  {
    liteattn_fwd_args_t a = dev;
    a.backend = LITEATTN_BACKEND_CUDA_PORTABLE;
    a.k.data = (char *)dk.base + 2;
    a.k.seqlen = S - 1;
    a.v.seqlen = S - 1;
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_ERR_MISALIGNED, "k.data + 1 element");
    LA_CHECK(strstr(liteattn_last_error(), "k.data") != NULL, "message names k: \"%s\"",
             liteattn_last_error());
    a = dev;
    a.backend = LITEATTN_BACKEND_CUDA_PORTABLE;
    a.q.heads = 1, a.o.heads = 1, a.k.heads = 1, a.v.heads = 1;
    a.q.stride_s = a.o.stride_s = D + 4; /* rows 68 elements apart: valid, not 16-byte aligned */
    a.q.seqlen = a.o.seqlen = S * H * D / (D + 4) - 1;
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_ERR_MISALIGNED, "q.stride_s = D + 4");
  }
  /* Head dim not built (96 is valid for the CPU backend), fp32 (CPU only). */
  {
    la_t_tensor_t q96 = la_t_tensor_make(1, 128, 1, 96, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
    la_t_tensor_t k96 = la_t_tensor_make(1, 128, 1, 96, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
    la_t_tensor_t v96 = la_t_tensor_make(1, 128, 1, 96, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
    la_t_tensor_t o96 = la_t_tensor_make(1, 128, 1, 96, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
    la_t_fill_qkv(&q96, &k96, &v96, LA_T_INPUTS_DEFAULT, 8);
    la_dev_t a1 = la_dev_make(&q96), a2 = la_dev_make(&k96), a3 = la_dev_make(&v96),
             a4 = la_dev_make(&o96);
    liteattn_fwd_args_t a = la_t_args(&q96, &k96, &v96, &o96);
    a.q = a1.t, a.k = a2.t, a.v = a3.t, a.o = a4.t;
    a.backend = LITEATTN_BACKEND_CUDA;
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_ERR_UNSUPPORTED_HEAD_DIM, "head_dim 96");
    LA_CHECK(strstr(liteattn_last_error(), "have 64, 128") != NULL, "message lists head dims: \"%s\"",
             liteattn_last_error());
    a.q.dtype = a.k.dtype = a.v.dtype = a.o.dtype = LITEATTN_DTYPE_FP32;
    a.q.seqlen = a.k.seqlen = a.v.seqlen = a.o.seqlen = 64;
    a.q.head_dim = a.k.head_dim = a.v.head_dim = a.o.head_dim = 64;
    a.q.stride_s = a.k.stride_s = a.v.stride_s = a.o.stride_s = 64;
    a.q.stride_b = a.k.stride_b = a.v.stride_b = a.o.stride_b = 64 * 64;
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_ERR_UNSUPPORTED_DTYPE, "fp32 on CUDA");
    cudaFree(a1.base), cudaFree(a2.base), cudaFree(a3.base), cudaFree(a4.base);
    la_t_tensor_free(&q96), la_t_tensor_free(&k96), la_t_tensor_free(&v96), la_t_tensor_free(&o96);
  }
  /* The Hopper kernel explicitly: refused with a reason where it is not built. */
  {
    liteattn_fwd_args_t a = dev;
    a.backend = LITEATTN_BACKEND_CUDA_SM90;
    const liteattn_status_t st = liteattn_fwd_check(&a, &kern);
    if (!LA_TEST_WITH_SM90)
      LA_CHECK_STATUS(st, LITEATTN_ERR_BACKEND_UNAVAILABLE, "CUDA_SM90 without the Hopper kernel");
    else
      LA_CHECK(st == LITEATTN_OK ? kern == LITEATTN_KERNEL_CUDA_SM90 : kern == LITEATTN_KERNEL_NONE,
               "CUDA_SM90: status %s, kernel %s", liteattn_status_name(st),
               liteattn_kernel_name(kern));
  }
  la_no_cuda_error("refusals");
  cudaFree(dq.base), cudaFree(dk.base), cudaFree(dv.base), cudaFree(dog.base);
  la_t_tensor_free(&q), la_t_tensor_free(&k), la_t_tensor_free(&v), la_t_tensor_free(&o);
}

int main(int argc, char **argv) {
  int small = 0, portable_only = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--small")) small = 1;
    else if (!strcmp(argv[i], "--portable")) portable_only = 1;
    else {
      fprintf(stderr, "usage: test_gpu [--small] [--portable]\n");
      return 2;
    }
  }
  const double t0 = la_t_now();
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  LA_CHECK(e == cudaSuccess && n > 0, "no GPU: cudaGetDeviceCount = %d (%s); the GPU tests need one",
           n, cudaGetErrorString(e));
  if (e != cudaSuccess || n == 0) return la_t_summary("test_gpu", la_t_now() - t0);
  struct cudaDeviceProp prop;
  la_cuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  printf("test_gpu: %s (sm_%d%d)%s\n", prop.name, prop.major, prop.minor, small ? ", --small" : "");
  cudaStream_t stream;
  la_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");

  la_test_errors();

  /* The kernels to test: the portable one always, the Hopper one where the selector offers it. */
  liteattn_backend_t backends[2] = {LITEATTN_BACKEND_CUDA_PORTABLE, LITEATTN_BACKEND_CUDA_SM90};
  const uint64_t seed = la_t_seed();
  for (int ci = 0; ci < LA_NUM_CASES; ++ci) {
    const la_case_t *c = &la_cases[ci];
    if (small && (c->Sq > 300 || c->Sk > 300)) continue;
    for (int di = 0; di < (small ? 1 : 2); ++di) {
      const liteattn_dtype_t dt = di ? LITEATTN_DTYPE_FP16 : LITEATTN_DTYPE_BF16;
      for (int bi = 0; bi < 2; ++bi) {
        if (bi == 1 && (!LA_TEST_WITH_SM90 || portable_only)) continue;
        const double t = la_t_now();
        la_test_case(c, dt, backends[bi], seed + (uint64_t)ci * 7919u + (uint64_t)di, stream);
        printf("  %-20s %s %-8s %.2f s, %d failures so far\n", c->name, la_t_dtype_name(dt),
               bi ? "sm90" : "portable", la_t_now() - t, la_t_failures);
        fflush(stdout);
      }
    }
  }
  if (!small) {
    /* The marking scenarios must have decided both ways somewhere, or they tested nothing. */
    LA_CHECK(la_kept_tiles > 0 && la_dropped_tiles > 0,
             "marking never split: %ld kept, %ld dropped tiles", la_kept_tiles, la_dropped_tiles);
    printf("marking: %ld tiles kept, %ld dropped, %ld within %.2g of thr (not compared)\n",
           la_kept_tiles, la_dropped_tiles, la_near_thr_tiles, LA_MASK_TOL);
  }
  cudaStreamDestroy(stream);
  return la_t_summary("test_gpu", la_t_now() - t0);
}
