/* cpu_bench.c — liteattn-cpu-bench: speed of the CPU backend against a naive fp32 attention
 * (one pass over each query row, no tiling) on the same inputs and the same OpenMP threads,
 * plus the time ratio of a density-0.5 read mask. Checks the output against the naive one first.
 *
 * GFLOP/s = 4*B*Hq*Sq*Sk*D / time (dense-equivalent), median of --reps runs after one warm-up.
 * Usage: liteattn-cpu-bench [--seq S] [--heads H] [--reps N] [--seed N] */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convert.h"
#include "liteattn.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Process CPU time over the OpenMP threads: the time the run would take if it had the cores to
 * itself (other processes share this machine), idle-spinning threads included. */
static double cpu_s(int threads) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ((double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec) / threads;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static uint64_t rng_state;
static float rng_uniform(void) { /* xorshift64*, in [-1, 1) */
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return (float)((rng_state * 0x2545f4914f6cdd1dull) >> 40) * 0x1.0p-23f - 1.0f;
}

/* The baseline: for every (h, i) row, all Sk scores into one buffer, max, exp, sum, then P.V.
 * fp32 inputs [S, H, D] (B = 1), OpenMP over rows like the CPU backend; the D loops carry
 * `omp simd` so the baseline is vectorized (naive in algorithm, not in code generation). */
static void naive_attention(const float *q, const float *k, const float *v, float *o, int S,
                            int H, int D, float *scores /* threads * S */) {
  const float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < (int64_t)H * S; ++row) {
    const int h = (int)(row / S), i = (int)(row % S);
    float *s = scores + (int64_t)omp_get_thread_num() * S;
    const float *qi = q + ((int64_t)i * H + h) * D;
    float m = -INFINITY;
    for (int j = 0; j < S; ++j) {
      const float *kj = k + ((int64_t)j * H + h) * D;
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int d = 0; d < D; ++d) acc += qi[d] * kj[d];
      s[j] = acc * scale;
      m = s[j] > m ? s[j] : m;
    }
    float l = 0.0f;
    for (int j = 0; j < S; ++j) l += (s[j] = expf(s[j] - m));
    float *oi = o + ((int64_t)i * H + h) * D;
    for (int d = 0; d < D; ++d) oi[d] = 0.0f;
    for (int j = 0; j < S; ++j) {
      const float *vj = v + ((int64_t)j * H + h) * D;
#pragma omp simd
      for (int d = 0; d < D; ++d) oi[d] += s[j] * vj[d];
    }
    for (int d = 0; d < D; ++d) oi[d] /= l;
  }
}

/* Medians over reps runs after one warm-up: wall seconds and CPU seconds per thread. */
typedef struct timing {
  double wall, cpu;
} timing_t;

typedef struct naive_args {
  const float *q, *k, *v;
  float *o, *scores;
  int S, H, D;
} naive_args_t;

/* Times liteattn_fwd(a) (n = NULL) or the naive baseline (n); 0 on success. */
static int time_runs(const liteattn_fwd_args_t *a, const naive_args_t *n, int reps, int threads,
                     double *t, double *tc, timing_t *out) {
  for (int r = -1; r < reps; ++r) {
    const double t0 = now_s(), c0 = cpu_s(threads);
    if (n) {
      naive_attention(n->q, n->k, n->v, n->o, n->S, n->H, n->D, n->scores);
    } else {
      const liteattn_status_t st = liteattn_fwd(a, NULL);
      if (st) {
        fprintf(stderr, "liteattn_fwd: %s (%s)\n", liteattn_status_name(st),
                liteattn_last_error());
        return -1;
      }
    }
    if (r >= 0) t[r] = now_s() - t0, tc[r] = cpu_s(threads) - c0;
  }
  out->wall = median(t, reps);
  out->cpu = median(tc, reps);
  return 0;
}

static liteattn_tensor_t tensor(void *data, liteattn_dtype_t t, int S, int H, int D) {
  return (liteattn_tensor_t){.data = data, .dtype = t, .batch = 1, .seqlen = S, .heads = H,
                             .head_dim = D, .stride_b = (int64_t)S * H * D,
                             .stride_s = (int64_t)H * D, .stride_h = D};
}

/* The 1-minute load average (other processes share these cores: timings are only as good as
 * this), or -1 if unknown. */
static double load_average(void) {
  double l = -1.0;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1.0;
    fclose(f);
  }
  return l;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
  char *end;
  const long v = strtol(s, &end, 10);
  if (end == s || *end || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

int main(int argc, char **argv) {
  int S = 2048, H = 4, reps = 5, seed = 1;
  for (int i = 1; i < argc; ++i) {
    int bad = i + 1 >= argc;
    if (!bad && !strcmp(argv[i], "--seq")) bad = parse_int(argv[++i], 1, 1 << 20, &S);
    else if (!bad && !strcmp(argv[i], "--heads")) bad = parse_int(argv[++i], 1, 256, &H);
    else if (!bad && !strcmp(argv[i], "--reps")) bad = parse_int(argv[++i], 1, 1000, &reps);
    else if (!bad && !strcmp(argv[i], "--seed")) bad = parse_int(argv[++i], 0, 1 << 30, &seed);
    else bad = 1;
    if (bad) {
      fprintf(stderr, "usage: liteattn-cpu-bench [--seq S] [--heads H] [--reps N] [--seed N]\n");
      return 2;
    }
  }
  const int threads = omp_get_max_threads();
  const int64_t n = (int64_t)S * H * 128;
  float *qf = malloc(sizeof(float) * n), *kf = malloc(sizeof(float) * n);
  float *vf = malloc(sizeof(float) * n), *of = malloc(sizeof(float) * n);
  float *ref = malloc(sizeof(float) * n), *scores = malloc(sizeof(float) * S * threads);
  uint16_t *qh = malloc(2 * n), *kh = malloc(2 * n), *vh = malloc(2 * n), *oh = malloc(2 * n);
  double *t = malloc(sizeof(double) * reps), *tc = malloc(sizeof(double) * reps);
  int rc = 1;
  if (!qf || !kf || !vf || !of || !ref || !scores || !qh || !kh || !vh || !oh || !t || !tc) {
    fprintf(stderr, "out of memory\n");
    goto done;
  }
  printf("liteattn-cpu-bench: B=1 Hq=Hkv=%d Sq=Sk=%d, %d OpenMP threads (both the CPU backend "
         "and the naive baseline), median of %d runs, seed %d, load average %.2f\n", H, S, threads, reps, seed, load_average());
  printf("GFLOP/s = 4*B*Hq*Sq*Sk*D / time; naive = fp32 single-pass attention on the same "
         "(rounded) inputs; sparse = read mask of density 0.5 (every other key tile)\n"
         ":c = from process CPU time / threads (robust to other processes on the cores); "
         "vs:c = naive / liteattn CPU time; s/d = sparse / dense time\n\n");
  printf("%-5s %4s %9s %7s %7s %9s %7s %7s %7s %9s %7s %7s %9s\n", "dtype", "D", "ms", "GF/s",
         "GF/s:c", "naive ms", "GF/s", "GF/s:c", "vs:c", "sparse ms", "s/d", "s/d:c",
         "max|diff|");

  static const int dims[2] = {64, 128};
  static const liteattn_dtype_t dtypes[2] = {LITEATTN_DTYPE_BF16, LITEATTN_DTYPE_FP32};
  for (int di = 0; di < 2; ++di) {
    const int D = dims[di];
    const int64_t e = (int64_t)S * H * D;
    const double flops = 4.0 * H * (double)S * S * D;
    rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(seed + 1) * 0x2545f4914f6cdd1dull;
    /* bf16-representable inputs, so both dtypes and the baseline see the same numbers. */
    for (int64_t i = 0; i < e; ++i) {
      qh[i] = la_float_to_bf16(rng_uniform()), qf[i] = la_bf16_to_float(qh[i]);
      kh[i] = la_float_to_bf16(rng_uniform()), kf[i] = la_bf16_to_float(kh[i]);
      vh[i] = la_float_to_bf16(rng_uniform()), vf[i] = la_bf16_to_float(vh[i]);
    }
    const naive_args_t na = {qf, kf, vf, ref, scores, S, H, D};
    timing_t t_naive; /* warm-up + up to 3 runs: it is slow */
    if (time_runs(NULL, &na, reps < 3 ? reps : 3, threads, t, tc, &t_naive)) goto fail;

    liteattn_mask_geometry_t g;
    if (liteattn_mask_geometry(1, H, S, S, D, LITEATTN_DTYPE_BF16, &g)) goto fail;
    uint32_t *half = calloc((size_t)g.words, sizeof(uint32_t));
    if (!half) goto fail;
    int64_t set = 0;
    for (int64_t row = 0; row < g.rows; ++row)
      for (int64_t j = 0; j < g.tiles_k; ++j)
        if ((j + row) % 2 == 0) half[row * g.words_per_row + j / 32] |= 1u << (j % 32), ++set;
    const double density = (double)set / (double)(g.rows * g.tiles_k);

    for (int ti = 0; ti < 2; ++ti) {
      const liteattn_dtype_t dt = dtypes[ti];
      const int f32 = dt == LITEATTN_DTYPE_FP32;
      liteattn_fwd_args_t a = LITEATTN_FWD_ARGS_INIT;
      a.q = tensor(f32 ? (void *)qf : qh, dt, S, H, D);
      a.k = tensor(f32 ? (void *)kf : kh, dt, S, H, D);
      a.v = tensor(f32 ? (void *)vf : vh, dt, S, H, D);
      a.o = tensor(f32 ? (void *)of : oh, dt, S, H, D);
      a.backend = LITEATTN_BACKEND_CPU;
      timing_t t_dense, t_sparse;
      if (time_runs(&a, NULL, reps, threads, t, tc, &t_dense)) {
        free(half);
        goto fail;
      }
      /* Check the dense output against the baseline (tolerance: the output dtype's rounding). */
      const double rtol = f32 ? 1e-4 : 1.0 / 128, atol = f32 ? 1e-5 : 1e-3;
      double worst = 0.0;
      int64_t bad = -1;
      for (int64_t i = 0; i < e; ++i) {
        const double o = f32 ? of[i] : la_bf16_to_float(oh[i]), diff = fabs(o - ref[i]);
        if (diff > worst) worst = diff;
        if (bad < 0 && diff > atol + rtol * fabs(ref[i])) bad = i;
      }
      a.read_mask = half;
      a.read_mask_words = (size_t)g.words;
      if (time_runs(&a, NULL, reps, threads, t, tc, &t_sparse)) {
        free(half);
        goto fail;
      }
      printf("%-5s %4d %9.1f %7.2f %7.2f %9.1f %7.2f %7.2f %6.2fx %9.1f %7.3f %7.3f %9.2e\n",
             f32 ? "fp32" : "bf16", D, 1e3 * t_dense.wall, flops / t_dense.wall * 1e-9,
             flops / t_dense.cpu * 1e-9, 1e3 * t_naive.wall, flops / t_naive.wall * 1e-9,
             flops / t_naive.cpu * 1e-9, t_naive.cpu / t_dense.cpu, 1e3 * t_sparse.wall,
             t_sparse.wall / t_dense.wall, t_sparse.cpu / t_dense.cpu, worst);
      if (bad >= 0) {
        fprintf(stderr, "MISMATCH %s D=%d at %lld: liteattn %g vs naive %g\n",
                f32 ? "fp32" : "bf16", D, (long long)bad,
                f32 ? of[bad] : la_bf16_to_float(oh[bad]), ref[bad]);
        free(half);
        goto fail;
      }
      fflush(stdout);
    }
    printf("%-5s %4d sparse mask density %.3f\n", "", D, density);
    free(half);
  }
  printf("load average at the end %.2f\n", load_average());
  rc = 0;
  goto done;
fail:
  fprintf(stderr, "liteattn-cpu-bench: failed\n");
done:
  free(qf), free(kf), free(vf), free(of), free(ref), free(scores);
  free(qh), free(kh), free(vh), free(oh), free(t), free(tc);
  return rc;
}
