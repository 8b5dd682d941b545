/* bench_gpu.cu — times liteattn's CUDA kernels at the production shapes (DESIGN §6) with CUDA
 * events: full mask, random and structured (diagonal band) block masks at several densities, an
 * empty mask (the per-call overhead), marking on and off; checks against the CPU backend on a
 * small shape first. Prints a table and writes JSON lines. Each shape is first run dense for 2-4 s
 * (the card clocks down as it heats: a cold first call read 751 TFLOP/s where warm ones read
 * ~670), and
 * every masked row's t/(d*full) divides by a full-mask call of the same marking setting timed
 * right after it (the clock drifts over a shape's run).
 *
 * Usage: bench_gpu [--quick] [--json FILE] [--backend portable|auto]
 * FLOPs: dense-equivalent = 4*B*Hq*Sq*Sk*D per call; computed = dense-equivalent * density, where
 * density is the fraction of (q-tile, k-tile) pairs visited. TFLOP/s = FLOPs / median time. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.cuh"
#include "liteattn.h"

typedef struct la_b_shape {
  const char *name;
  int64_t B, H, S, D;
} la_b_shape_t;

static const la_b_shape_t la_b_shapes[] = {
    {"wan1.3b_480p", 1, 12, 32760, 128},
    {"wan14b_720p", 1, 40, 75600, 128},
    {"hunyuan_720p", 1, 24, 118800, 128},
    {"cogvideox5b", 1, 48, 17776, 64},
};

static double la_b_now_ms(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  LA_B_CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

static int la_b_cmp(const void *x, const void *y) {
  const double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* A block mask on the host: pattern 0 random (each tile with probability d), 1 a band of
 * round(d*Tk) tiles centred on the visit order's diagonal tile (wrapping). Returns the density. */
static double la_b_mask(uint32_t *m, const liteattn_mask_geometry_t *g, int64_t S, int pattern,
                        double d, uint64_t seed) {
  memset(m, 0, (size_t)g->bytes);
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  int64_t set = 0;
  for (int64_t r = 0; r < g->rows; ++r) {
    const int64_t qt = r % g->tiles_q, Tk = g->tiles_k;
    const int64_t diag = (qt * g->block_m * S) / (S * g->block_n) < Tk - 1
                             ? (qt * g->block_m * S) / (S * g->block_n)
                             : Tk - 1;
    int64_t n = (int64_t)llround(d * (double)Tk);
    if (n < 1 && d > 0) n = 1;
    for (int64_t j = 0; j < Tk; ++j) {
      int on;
      if (pattern == 0) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        on = (double)(s >> 11) * 0x1.0p-53 < d;
      } else {
        const int64_t dist = (j - diag + Tk) % Tk; /* position in the visit order */
        const int64_t back = (diag - j + Tk) % Tk;
        on = dist < (n + 1) / 2 || (back > 0 && back <= n / 2);
      }
      if (on) {
        m[r * g->words_per_row + j / 32] |= 1u << (j % 32);
        ++set;
      }
    }
  }
  return (double)set / ((double)g->rows * (double)g->tiles_k);
}

typedef struct la_b_bufs {
  void *q[2], *k[2], *v[2], *o;
  uint32_t *rm, *wm;
} la_b_bufs_t;

/* Median time (ms) of `reps` calls after `warm` warm-up calls, rotating two input sets. */
static double la_b_time(liteattn_fwd_args_t a, const la_b_bufs_t *bb, int warm, int reps,
                        cudaStream_t st) {
  cudaEvent_t e0, e1;
  LA_B_CHECK(cudaEventCreate(&e0));
  LA_B_CHECK(cudaEventCreate(&e1));
  double *t = (double *)malloc(sizeof(double) * (size_t)reps);
  for (int i = -warm; i < reps; ++i) {
    const int set = (i + warm) & 1;
    a.q.data = bb->q[set], a.k.data = bb->k[set], a.v.data = bb->v[set];
    LA_B_CHECK(cudaEventRecord(e0, st));
    liteattn_status_t s = liteattn_fwd(&a, st);
    if (s != LITEATTN_OK) {
      fprintf(stderr, "liteattn_fwd: %s: %s\n", liteattn_status_name(s), liteattn_last_error());
      exit(2);
    }
    LA_B_CHECK(cudaEventRecord(e1, st));
    LA_B_CHECK(cudaEventSynchronize(e1));
    if (i >= 0) t[i] = la_b_now_ms(e0, e1);
  }
  qsort(t, (size_t)reps, sizeof(double), la_b_cmp);
  const double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
  free(t);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return med;
}

static liteattn_tensor_t la_b_tensor(void *p, int64_t B, int64_t S, int64_t H, int64_t D) {
  liteattn_tensor_t t;
  memset(&t, 0, sizeof t);
  t.data = p, t.dtype = LITEATTN_DTYPE_BF16;
  t.batch = B, t.seqlen = S, t.heads = H, t.head_dim = D;
  t.stride_h = D, t.stride_s = H * D, t.stride_b = S * H * D;
  return t;
}

/* Small-shape check of the CUDA result against the CPU backend; returns the worst |diff|. */
static double la_b_check(liteattn_backend_t backend) {
  const int64_t B = 1, H = 2, S = 1000, D = 128, n = B * S * H * D;
  uint16_t *dq, *dk, *dv, *dout;
  LA_B_CHECK(cudaMalloc((void **)&dq, n * 2));
  LA_B_CHECK(cudaMalloc((void **)&dk, n * 2));
  LA_B_CHECK(cudaMalloc((void **)&dv, n * 2));
  LA_B_CHECK(cudaMalloc((void **)&dout, n * 2));
  la_b_fill<<<64, 256>>>(dq, (size_t)n, 11u, 2.0f, 1);
  la_b_fill<<<64, 256>>>(dk, (size_t)n, 12u, 2.0f, 1);
  la_b_fill<<<64, 256>>>(dv, (size_t)n, 13u, 1.0f, 1);
  LA_B_CHECK(cudaGetLastError());
  uint16_t *hq = (uint16_t *)malloc(n * 2), *hk = (uint16_t *)malloc(n * 2),
           *hv = (uint16_t *)malloc(n * 2), *ho = (uint16_t *)malloc(n * 2),
           *hg = (uint16_t *)malloc(n * 2);
  LA_B_CHECK(cudaMemcpy(hq, dq, n * 2, cudaMemcpyDeviceToHost));
  LA_B_CHECK(cudaMemcpy(hk, dk, n * 2, cudaMemcpyDeviceToHost));
  LA_B_CHECK(cudaMemcpy(hv, dv, n * 2, cudaMemcpyDeviceToHost));
  liteattn_fwd_args_t a = LITEATTN_FWD_ARGS_INIT;
  a.q = la_b_tensor(hq, B, S, H, D), a.k = la_b_tensor(hk, B, S, H, D);
  a.v = la_b_tensor(hv, B, S, H, D), a.o = la_b_tensor(ho, B, S, H, D);
  a.backend = LITEATTN_BACKEND_CPU;
  if (liteattn_fwd(&a, NULL) != LITEATTN_OK) {
    fprintf(stderr, "CPU reference failed: %s\n", liteattn_last_error());
    exit(2);
  }
  a.q.data = dq, a.k.data = dk, a.v.data = dv, a.o.data = dout;
  a.backend = backend;
  if (liteattn_fwd(&a, NULL) != LITEATTN_OK) {
    fprintf(stderr, "CUDA run failed: %s\n", liteattn_last_error());
    exit(2);
  }
  LA_B_CHECK(cudaDeviceSynchronize());
  LA_B_CHECK(cudaMemcpy(hg, dout, n * 2, cudaMemcpyDeviceToHost));
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t x = (uint32_t)hg[i] << 16, y = (uint32_t)ho[i] << 16;
    float fx, fy;
    memcpy(&fx, &x, 4), memcpy(&fy, &y, 4);
    const double d = fabs((double)fx - (double)fy);
    if (!(d <= worst)) worst = d; /* NaN sticks */
  }
  free(hq), free(hk), free(hv), free(ho), free(hg);
  cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(dout);
  return worst;
}

int main(int argc, char **argv) {
  int quick = 0;
  const char *json = "bench_gpu.jsonl";
  liteattn_backend_t backend = LITEATTN_BACKEND_CUDA_PORTABLE;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
    else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
      ++i;
      backend = !strcmp(argv[i], "auto") ? LITEATTN_BACKEND_CUDA : LITEATTN_BACKEND_CUDA_PORTABLE;
    }
  }
  struct cudaDeviceProp prop;
  LA_B_CHECK(cudaGetDeviceProperties(&prop, 0));
  int drv = 0, rt = 0;
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  printf("bench_gpu: %s, %d SMs, driver %d, runtime %d, liteattn %d, backend %s\n", prop.name,
         prop.multiProcessorCount, drv, rt, liteattn_version(),
         backend == LITEATTN_BACKEND_CUDA ? "cuda(auto)" : "cuda_portable");
  const double err = la_b_check(backend);
  printf("check vs CPU backend (B=1 H=2 S=1000 D=128 bf16): max |diff| = %.4g\n", err);
  if (!(err < 0.05)) {
    fprintf(stderr, "bench_gpu: CUDA result disagrees with the CPU backend; not timing\n");
    return 1;
  }
  FILE *jf = fopen(json, "w");
  if (!jf) {
    perror(json);
    return 2;
  }
  cudaStream_t st;
  LA_B_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  printf("%-14s %-10s %5s %4s %7s %10s %10s %10s\n", "shape", "mask", "dens", "mark", "ms",
         "dense-eq", "computed", "t/(d*full)");
  const double dens[] = {0.75, 0.5, 0.25, 0.1};
  const int nshapes = (int)(sizeof la_b_shapes / sizeof la_b_shapes[0]);
  for (int si = 0; si < nshapes; ++si) {
    const la_b_shape_t *sh = &la_b_shapes[si];
    if (quick && si != 0 && si != 3) continue;
    const int64_t n = sh->B * sh->S * sh->H * sh->D;
    la_b_bufs_t bb;
    for (int s = 0; s < 2; ++s) {
      LA_B_CHECK(cudaMalloc(&bb.q[s], n * 2));
      LA_B_CHECK(cudaMalloc(&bb.k[s], n * 2));
      LA_B_CHECK(cudaMalloc(&bb.v[s], n * 2));
      /* q, k with std 2 so softmax is peaky like trained models; v std 1 */
      la_b_fill<<<1024, 256>>>((uint16_t *)bb.q[s], (size_t)n, 100u + s, 2.0f, 1);
      la_b_fill<<<1024, 256>>>((uint16_t *)bb.k[s], (size_t)n, 200u + s, 2.0f, 1);
      la_b_fill<<<1024, 256>>>((uint16_t *)bb.v[s], (size_t)n, 300u + s, 1.0f, 1);
    }
    LA_B_CHECK(cudaMalloc(&bb.o, n * 2));
    LA_B_CHECK(cudaGetLastError());
    liteattn_mask_geometry_t g;
    liteattn_mask_geometry(sh->B, sh->H, sh->S, sh->S, sh->D, LITEATTN_DTYPE_BF16, &g);
    LA_B_CHECK(cudaMalloc((void **)&bb.rm, g.bytes));
    LA_B_CHECK(cudaMalloc((void **)&bb.wm, g.bytes));
    uint32_t *hm = (uint32_t *)malloc(g.bytes);
    liteattn_fwd_args_t a = LITEATTN_FWD_ARGS_INIT;
    a.q = la_b_tensor(bb.q[0], sh->B, sh->S, sh->H, sh->D);
    a.k = la_b_tensor(bb.k[0], sh->B, sh->S, sh->H, sh->D);
    a.v = la_b_tensor(bb.v[0], sh->B, sh->S, sh->H, sh->D);
    a.o = la_b_tensor(bb.o, sh->B, sh->S, sh->H, sh->D);
    a.backend = backend;
    const double flops = 4.0 * sh->B * sh->H * (double)sh->S * sh->S * sh->D;
    /* Reps: enough for a stable median, bounded so the big shapes stay within the lease. */
    const double est_ms = flops / 300e12 * 1e3;
    const int reps = quick ? 3 : est_ms > 200 ? 3 : est_ms > 50 ? 5 : 15;
    {
      /* thermal steady state before the shape's first timing (4 s on the first shape, 2 s on
       * the others: allocating and filling a 720p shape's 3 GB idles the card long enough for
       * its first full-mask call to run at burst clocks, 751 against ~670 TFLOP/s) */
      const double warm_ms = si == 0 ? 4000.0 : 2000.0;
      cudaEvent_t w0, w1;
      LA_B_CHECK(cudaEventCreate(&w0));
      LA_B_CHECK(cudaEventCreate(&w1));
      LA_B_CHECK(cudaEventRecord(w0, st));
      for (double spent = 0; spent < warm_ms;) {
        (void)la_b_time(a, &bb, 0, 8, st);
        LA_B_CHECK(cudaEventRecord(w1, st));
        LA_B_CHECK(cudaEventSynchronize(w1));
        spent = la_b_now_ms(w0, w1);
      }
      cudaEventDestroy(w0);
      cudaEventDestroy(w1);
    }
    /* cases: -1 = full, then pattern x density, then empty (density 0) */
    for (int ci = -1; ci <= 8; ++ci) {
      const int pattern = ci < 0 ? -1 : ci < 8 ? ci / 4 : 2;
      const double want = ci < 0 ? 1.0 : ci < 8 ? dens[ci % 4] : 0.0;
      double got = 1.0;
      if (ci >= 0) {
        got = ci < 8 ? la_b_mask(hm, &g, sh->S, pattern, want, 1234u + (uint64_t)ci)
                     : (memset(hm, 0, g.bytes), 0.0);
        LA_B_CHECK(cudaMemcpy(bb.rm, hm, g.bytes, cudaMemcpyHostToDevice));
        LA_B_CHECK(cudaDeviceSynchronize()); /* st is non-blocking; pageable H2D may be in flight */
      }
      if (quick && ci >= 0 && ci < 8 && (pattern == 1 || ci % 4 == 1)) continue;
      const char *pname = pattern < 0 ? "full" : pattern == 0 ? "random" : pattern == 1 ? "band" : "empty";
      for (int mark = 0; mark < 2; ++mark) {
        liteattn_fwd_args_t x = a;
        if (ci >= 0) x.read_mask = bb.rm, x.read_mask_words = (size_t)g.words;
        if (mark) {
          x.write_mask = bb.wm, x.write_mask_words = (size_t)g.words;
          x.threshold = -INFINITY; /* marking on, nothing dropped: the cost of the criterion */
        }
        const double ms = la_b_time(x, &bb, 1, reps, st);
        double base = ms;
        if (ci >= 0 && got > 0) {
          /* the paired full-mask call: the same marking setting, right after */
          liteattn_fwd_args_t f = x;
          f.read_mask = NULL, f.read_mask_words = 0;
          base = la_b_time(f, &bb, 1, reps, st);
        }
        const double ratio = got > 0 ? ms / (got * base) : 0.0;
        printf("%-14s %-10s %5.3f %4s %7.2f %10.1f %10.1f %10.3f\n", sh->name, pname, got,
               mark ? "on" : "off", ms, flops / ms * 1e-9, flops * got / ms * 1e-9, ratio);
        fprintf(jf,
                "{\"impl\": \"liteattn_%s\", \"gpu\": \"%s\", \"shape\": \"%s\", \"B\": %lld, "
                "\"H\": %lld, \"S\": %lld, \"D\": %lld, \"mask\": \"%s\", \"density\": %.4f, "
                "\"marking\": %d, \"ms\": %.4f, \"tflops_dense_eq\": %.2f, "
                "\"tflops_computed\": %.2f, \"paired_full_ms\": %.4f, \"reps\": %d}\n",
                backend == LITEATTN_BACKEND_CUDA ? "auto" : "portable", prop.name, sh->name,
                (long long)sh->B, (long long)sh->H, (long long)sh->S, (long long)sh->D, pname, got,
                mark, ms, flops / ms * 1e-9, flops * got / ms * 1e-9, base, reps);
        fflush(stdout);
        fflush(jf);
      }
    }
    free(hm);
    for (int s = 0; s < 2; ++s) cudaFree(bb.q[s]), cudaFree(bb.k[s]), cudaFree(bb.v[s]);
    cudaFree(bb.o), cudaFree(bb.rm), cudaFree(bb.wm);
  }
  fclose(jf);
  cudaStreamDestroy(st);
  return 0;
}
