/* ab_portable.cu — one-process A/B of two builds of libliteattn.so (the portable kernel, old and
 * new), on the same inputs, the two builds timed in alternation so clock and thermal drift hit
 * both alike. First it requires the two builds to agree bit for bit (O and write mask) at the
 * benchmark shapes, for PEAK and MASS, full and half read masks, each at a threshold that keeps
 * some tiles and drops others (found by bisection on the new build: with these inputs a fixed
 * MASS threshold kept every tile, so it compared nothing but "keep"): new claims the same votes
 * as old, not merely votes within tolerance. Then, per shape: full mask with marking off,
 * PEAK and MASS (threshold -inf: marking on, nothing dropped, the pure cost of the criterion), and
 * random read masks at densities 0.5 and 0.25 with marking off, PEAK and MASS. Prints per build the
 * median ms, computed TFLOP/s, and the cost of marking (time with marking / time without - 1).
 *
 * Usage: ab_portable OLD.so NEW.so [--reps N] [--quick] [--tags OLDNAME,NEWNAME]
 *   --quick: the full-mask rows only; --tags: the two builds' names in the output (old, new).
 * Exit status: 0 all agree, 1 the builds disagree (timings are still printed), 2 setup error. */
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.cuh"
#include "liteattn.h"

/* The entry points of one loaded build. */
typedef struct ab_lib {
  const char *path;
  liteattn_status_t (*fwd)(const liteattn_fwd_args_t *, liteattn_stream_t);
  const char *(*last_error)(void);
  liteattn_fwd_args_t (*args_init)(void);
  liteattn_status_t (*geometry)(int64_t, int64_t, int64_t, int64_t, int64_t, liteattn_dtype_t,
                                liteattn_mask_geometry_t *);
} ab_lib_t;

static void *ab_sym(void *h, const char *path, const char *name) {
  void *s = dlsym(h, name);
  if (!s) {
    fprintf(stderr, "%s: no symbol %s\n", path, name);
    exit(2);
  }
  return s;
}

/* RTLD_LOCAL: each build keeps its own symbols (and its own static CUDA runtime). */
static ab_lib_t ab_load(const char *path) {
  ab_lib_t l;
  l.path = path;
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    exit(2);
  }
  l.fwd = (liteattn_status_t(*)(const liteattn_fwd_args_t *, liteattn_stream_t))ab_sym(
      h, path, "liteattn_fwd");
  l.last_error = (const char *(*)(void))ab_sym(h, path, "liteattn_last_error");
  l.args_init = (liteattn_fwd_args_t(*)(void))ab_sym(h, path, "liteattn_fwd_args_init_value");
  l.geometry = (liteattn_status_t(*)(int64_t, int64_t, int64_t, int64_t, int64_t, liteattn_dtype_t,
                                     liteattn_mask_geometry_t *))ab_sym(h, path,
                                                                        "liteattn_mask_geometry");
  return l;
}

static void ab_run(const ab_lib_t *l, const liteattn_fwd_args_t *a, cudaStream_t st) {
  const liteattn_status_t s = l->fwd(a, (liteattn_stream_t)st);
  if (s != LITEATTN_OK) {
    fprintf(stderr, "%s: liteattn_fwd: status %d: %s\n", l->path, (int)s, l->last_error());
    exit(2);
  }
}

static liteattn_tensor_t ab_tensor(void *p, int64_t H, int64_t S, int64_t D) {
  liteattn_tensor_t t;
  memset(&t, 0, sizeof t);
  t.data = p, t.dtype = LITEATTN_DTYPE_BF16;
  t.batch = 1, t.seqlen = S, t.heads = H, t.head_dim = D;
  t.stride_h = D, t.stride_s = H * D, t.stride_b = S * H * D;
  return t;
}

/* Random block mask, each tile with probability d (fixed seed); returns the density set. */
static double ab_mask(uint32_t *m, const liteattn_mask_geometry_t *g, double d, uint64_t seed) {
  memset(m, 0, (size_t)g->bytes);
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  int64_t set = 0;
  for (int64_t r = 0; r < g->rows; ++r)
    for (int64_t j = 0; j < g->tiles_k; ++j) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      if ((double)(s >> 11) * 0x1.0p-53 < d) {
        m[r * g->words_per_row + j / 32] |= 1u << (j % 32);
        ++set;
      }
    }
  return (double)set / ((double)g->rows * (double)g->tiles_k);
}

/* Runs build l with write mask wm (criterion, threshold thr) and copies the mask to hm; O to ho
 * if ho is not NULL. The read mask rm is used when dens < 1. */
static void ab_marked(const ab_lib_t *l, const liteattn_fwd_args_t *base, liteattn_criterion_t crit,
                      float thr, uint32_t *wm, uint32_t *hm, const liteattn_mask_geometry_t *g,
                      uint16_t *o, uint16_t *ho, size_t n, cudaStream_t st) {
  liteattn_fwd_args_t a = *base;
  a.write_mask = wm, a.write_mask_words = (size_t)g->words;
  a.criterion = crit, a.threshold = thr;
  if (ho) LA_B_CHECK(cudaMemset(o, 0xff, n * 2)); /* poison: a tile left unwritten shows */
  LA_B_CHECK(cudaMemset(wm, 0xa5, g->bytes));
  /* st is non-blocking: the legacy-stream memsets are not ordered before the launch without this
   * (seen on an H100: a poisoned mask word landed after the kernel's store). */
  LA_B_CHECK(cudaDeviceSynchronize());
  ab_run(l, &a, st);
  LA_B_CHECK(cudaStreamSynchronize(st));
  LA_B_CHECK(cudaMemcpy(hm, wm, g->bytes, cudaMemcpyDeviceToHost));
  if (ho) LA_B_CHECK(cudaMemcpy(ho, o, n * 2, cudaMemcpyDeviceToHost));
}

static int ab_cmp(const void *x, const void *y) {
  const double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}
static double ab_median(double *t, int n) {
  qsort(t, (size_t)n, sizeof(double), ab_cmp);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static long ab_popcount(const uint32_t *m, size_t words) {
  long n = 0;
  for (size_t i = 0; i < words; ++i) n += __builtin_popcount(m[i]);
  return n;
}

typedef struct ab_shape {
  const char *name;
  int64_t H, S, D;
} ab_shape_t;

/* The two builds' arguments over the same tensors (o per build), portable backend, optionally
 * reading `rm` (NULL: full mask). */
static void ab_args(liteattn_fwd_args_t a[2], const ab_lib_t lib[2], const ab_shape_t *sh,
                    uint16_t *q, uint16_t *k, uint16_t *v, uint16_t *o[2], uint32_t *rm,
                    int64_t words) {
  for (int b = 0; b < 2; ++b) {
    a[b] = lib[b].args_init();
    a[b].q = ab_tensor(q, sh->H, sh->S, sh->D), a[b].k = ab_tensor(k, sh->H, sh->S, sh->D);
    a[b].v = ab_tensor(v, sh->H, sh->S, sh->D), a[b].o = ab_tensor(o[b], sh->H, sh->S, sh->D);
    a[b].backend = LITEATTN_BACKEND_CUDA_PORTABLE;
    if (rm) a[b].read_mask = rm, a[b].read_mask_words = (size_t)words;
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: ab_portable OLD.so NEW.so [--reps N] [--quick] [--tags OLD,NEW]\n");
    return 2;
  }
  int reps = 21, quick = 0;
  char tags[64] = "old,new";
  for (int i = 3; i < argc; ++i) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--tags") && i + 1 < argc) snprintf(tags, sizeof tags, "%s", argv[++i]);
  }
  char *comma = strchr(tags, ',');
  if (!comma || comma == tags || !comma[1] || strlen(comma + 1) > 8 || comma - tags > 8) {
    fprintf(stderr, "--tags %s: want OLDNAME,NEWNAME, each 1..8 characters\n", tags);
    return 2;
  }
  *comma = 0;
  const char *tag[2] = {tags, comma + 1};
  if (reps < 1 || reps > 1000) {
    fprintf(stderr, "--reps %d: want 1..1000\n", reps);
    return 2;
  }
  ab_lib_t lib[2] = {ab_load(argv[1]), ab_load(argv[2])};
  struct cudaDeviceProp prop;
  LA_B_CHECK(cudaGetDeviceProperties(&prop, 0));
  printf("ab_portable: %s, %d SMs; %s = %s, %s = %s; %d reps per case, alternating\n", prop.name,
         prop.multiProcessorCount, tag[0], argv[1], tag[1], argv[2], reps);

  const ab_shape_t shapes[] = {{"wan1.3b", 12, 32760, 128}, {"cogvideox", 48, 17776, 64}};
  int disagree = 0;
  cudaStream_t st;
  LA_B_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  cudaEvent_t ev[5];
  for (int i = 0; i < 5; ++i) LA_B_CHECK(cudaEventCreate(&ev[i]));

  for (int si = 0; si < 2; ++si) {
    const ab_shape_t *sh = &shapes[si];
    const int64_t n = sh->S * sh->H * sh->D;
    uint16_t *q, *k, *v, *o[2];
    LA_B_CHECK(cudaMalloc((void **)&q, n * 2));
    LA_B_CHECK(cudaMalloc((void **)&k, n * 2));
    LA_B_CHECK(cudaMalloc((void **)&v, n * 2));
    for (int b = 0; b < 2; ++b) LA_B_CHECK(cudaMalloc((void **)&o[b], n * 2));
    la_b_fill<<<1024, 256>>>(q, (size_t)n, 100u + (uint32_t)si, 2.0f, 1); /* peaky, as bench_gpu */
    la_b_fill<<<1024, 256>>>(k, (size_t)n, 200u + (uint32_t)si, 2.0f, 1);
    la_b_fill<<<1024, 256>>>(v, (size_t)n, 300u + (uint32_t)si, 1.0f, 1);
    LA_B_CHECK(cudaGetLastError());
    liteattn_mask_geometry_t g;
    if (lib[1].geometry(1, sh->H, sh->S, sh->S, sh->D, LITEATTN_DTYPE_BF16, &g) != LITEATTN_OK) {
      fprintf(stderr, "mask geometry: %s\n", lib[1].last_error());
      return 2;
    }
    uint32_t *rm, *wm[2];
    LA_B_CHECK(cudaMalloc((void **)&rm, g.bytes));
    for (int b = 0; b < 2; ++b) LA_B_CHECK(cudaMalloc((void **)&wm[b], g.bytes));
    uint32_t *hm[2] = {(uint32_t *)malloc(g.bytes), (uint32_t *)malloc(g.bytes)};
    uint16_t *ho[2] = {(uint16_t *)malloc(n * 2), (uint16_t *)malloc(n * 2)};
    const double flops = 4.0 * sh->H * (double)sh->S * (double)sh->S * (double)sh->D;
    printf("\n== %s: B=1 H=%lld S=%lld D=%lld bf16, %ld mask words\n", sh->name, (long long)sh->H,
           (long long)sh->S, (long long)sh->D, (long)g.words);

    /* 1. Same answer, bit for bit, PEAK and MASS, full read and a random read mask of density
     * 0.5, each at a threshold where the new build keeps between 50% and 95% of the visited tiles
     * (bisection on thr in [-40, 0]; the kept count only grows as thr falls). */
    struct {
      liteattn_criterion_t crit;
      double dens;
    } eq[] = {{LITEATTN_CRITERION_PEAK, 1.0},
              {LITEATTN_CRITERION_MASS, 1.0},
              {LITEATTN_CRITERION_MASS, 0.5},
              {LITEATTN_CRITERION_PEAK, 0.5}};
    for (size_t ei = 0; ei < sizeof eq / sizeof eq[0]; ++ei) {
      double got = 1.0;
      if (eq[ei].dens < 1.0) {
        got = ab_mask(hm[0], &g, eq[ei].dens, 77u + ei);
        LA_B_CHECK(cudaMemcpy(rm, hm[0], g.bytes, cudaMemcpyHostToDevice));
        LA_B_CHECK(cudaDeviceSynchronize()); /* pageable H2D may still be in flight */
      }
      const double visited = got * (double)g.rows * (double)g.tiles_k;
      liteattn_fwd_args_t a[2];
      ab_args(a, lib, sh, q, k, v, o, eq[ei].dens < 1.0 ? rm : NULL, g.words);
      float lo = -40.f, hi = 0.f, thr = hi;
      for (int it = 0; it < 24; ++it) {
        ab_marked(&lib[1], &a[1], eq[ei].crit, thr, wm[1], hm[1], &g, NULL, NULL, 0, st);
        const double share = (double)ab_popcount(hm[1], (size_t)g.words) / visited;
        if (share > 0.95) lo = thr; /* too few dropped: raise thr */
        else if (share < 0.5) hi = thr;
        else break;
        if (it == 0 && share > 0.95) break; /* nothing to drop even at thr = 0 */
        thr = 0.5f * (lo + hi);
      }
      for (int b = 0; b < 2; ++b)
        ab_marked(&lib[b], &a[b], eq[ei].crit, thr, wm[b], hm[b], &g, o[b], ho[b], (size_t)n, st);
      long mask_diff = 0, o_diff = 0;
      for (int64_t w = 0; w < g.words; ++w) mask_diff += __builtin_popcount(hm[0][w] ^ hm[1][w]);
      for (int64_t i = 0; i < n; ++i) o_diff += ho[0][i] != ho[1][i];
      const long kept = ab_popcount(hm[1], (size_t)g.words);
      const int ok = mask_diff == 0 && o_diff == 0 && kept > 0 && kept < (long)visited;
      printf("equal? %s thr %8.4f read density %.3f: kept %ld of %.0f visited tiles; mask bits "
             "differing %ld, O elements differing %ld  %s\n",
             eq[ei].crit == LITEATTN_CRITERION_PEAK ? "PEAK" : "MASS", thr, got, kept, visited,
             mask_diff, o_diff,
             ok ? "OK" : mask_diff || o_diff ? "MISMATCH" : "OK (but did not decide both ways)");
      if (mask_diff || o_diff) disagree = 1;
    }

    /* 2. Timing: each rep times old then new, or new then old (alternating), same inputs. */
    struct {
      const char *name;
      double dens;
      int mark; /* 0 off, 1 PEAK, 2 MASS */
    } cs[] = {{"full", 1.0, 0},   {"full", 1.0, 1},   {"full", 1.0, 2},
              {"rand.50", 0.5, 0}, {"rand.50", 0.5, 1}, {"rand.50", 0.5, 2},
              {"rand.25", 0.25, 0}, {"rand.25", 0.25, 1}, {"rand.25", 0.25, 2}};
    const int ncs = quick ? 3 : (int)(sizeof cs / sizeof cs[0]);
    const char *mname[3] = {"off", "PEAK", "MASS"};
    double med[9][2], medoff[9][2], got = 1.0;
    double *t[2] = {(double *)malloc(sizeof(double) * reps), (double *)malloc(sizeof(double) * reps)};
    double *toff[2] = {(double *)malloc(sizeof(double) * reps),
                       (double *)malloc(sizeof(double) * reps)};
    char hdr[3][24];
    snprintf(hdr[0], sizeof hdr[0], "%s ms", tag[0]);
    snprintf(hdr[1], sizeof hdr[1], "%s ms", tag[1]);
    snprintf(hdr[2], sizeof hdr[2], "%s/%s", tag[1], tag[0]);
    printf("%-8s %-5s %6s | %9s %8s | %9s %8s | %7s\n", "mask", "mark", "dens", hdr[0], "TFLOP/s",
           hdr[1], "TFLOP/s", hdr[2]);
    for (int ci = 0; ci < ncs; ++ci) {
      if (cs[ci].mark == 0 && cs[ci].dens < 1.0) { /* a new read mask, kept for the marking rows */
        got = ab_mask(hm[0], &g, cs[ci].dens, 1234u + (uint64_t)ci);
        LA_B_CHECK(cudaMemcpy(rm, hm[0], g.bytes, cudaMemcpyHostToDevice));
        LA_B_CHECK(cudaDeviceSynchronize()); /* pageable H2D may still be in flight */
      } else if (cs[ci].dens >= 1.0) {
        got = 1.0;
      }
      liteattn_fwd_args_t a[2], aoff[2];
      ab_args(a, lib, sh, q, k, v, o, cs[ci].dens < 1.0 ? rm : NULL, g.words);
      aoff[0] = a[0], aoff[1] = a[1]; /* the same call without marking */
      for (int b = 0; b < 2; ++b) {
        if (cs[ci].mark) {
          a[b].write_mask = wm[b], a[b].write_mask_words = (size_t)g.words;
          a[b].criterion = cs[ci].mark == 1 ? LITEATTN_CRITERION_PEAK : LITEATTN_CRITERION_MASS;
          a[b].threshold = -INFINITY; /* marking on, nothing dropped */
        }
      }
      for (int b = 0; b < 2; ++b) ab_run(&lib[b], &a[b], st); /* warm-up */
      for (int r = 0; r < reps; ++r) {
        const int first = r & 1; /* which build goes first in this rep */
        LA_B_CHECK(cudaEventRecord(ev[0], st));
        ab_run(&lib[first], &a[first], st);
        LA_B_CHECK(cudaEventRecord(ev[1], st));
        ab_run(&lib[!first], &a[!first], st);
        LA_B_CHECK(cudaEventRecord(ev[2], st));
        if (cs[ci].mark) { /* marking rows: each build's unmarked call in the same rep */
          ab_run(&lib[!first], &aoff[!first], st);
          LA_B_CHECK(cudaEventRecord(ev[3], st));
          ab_run(&lib[first], &aoff[first], st);
          LA_B_CHECK(cudaEventRecord(ev[4], st));
        }
        LA_B_CHECK(cudaEventSynchronize(cs[ci].mark ? ev[4] : ev[2]));
        float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        LA_B_CHECK(cudaEventElapsedTime(&m0, ev[0], ev[1]));
        LA_B_CHECK(cudaEventElapsedTime(&m1, ev[1], ev[2]));
        t[first][r] = m0, t[!first][r] = m1;
        if (cs[ci].mark) {
          LA_B_CHECK(cudaEventElapsedTime(&m2, ev[2], ev[3]));
          LA_B_CHECK(cudaEventElapsedTime(&m3, ev[3], ev[4]));
          toff[!first][r] = m2, toff[first][r] = m3;
        }
      }
      for (int b = 0; b < 2; ++b) {
        med[ci][b] = ab_median(t[b], reps);
        medoff[ci][b] = cs[ci].mark ? ab_median(toff[b], reps) : med[ci][b];
      }
      printf("%-8s %-5s %6.3f | %9.3f %8.1f | %9.3f %8.1f | %7.3f\n", cs[ci].name,
             mname[cs[ci].mark], got, med[ci][0], flops * got / med[ci][0] * 1e-9, med[ci][1],
             flops * got / med[ci][1] * 1e-9, med[ci][1] / med[ci][0]);
      fflush(stdout);
    }
    /* Against the unmarked calls timed in the same reps (the card's clock drifts by a few % over
     * a run as it heats, so the "off" row timed seconds earlier is not the reference). */
    printf("cost of marking (median with marking / median of the same reps' unmarked calls - 1), "
           "%s:\n", sh->name);
    for (int ci = 0; ci < ncs; ++ci) {
      if (!cs[ci].mark) continue;
      printf("  %-8s %-5s %s %+6.1f%%   %s %+6.1f%%\n", cs[ci].name, mname[cs[ci].mark], tag[0],
             100.0 * (med[ci][0] / medoff[ci][0] - 1.0), tag[1],
             100.0 * (med[ci][1] / medoff[ci][1] - 1.0));
    }
    free(t[0]), free(t[1]), free(toff[0]), free(toff[1]);
    free(hm[0]), free(hm[1]), free(ho[0]), free(ho[1]);
    cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o[0]), cudaFree(o[1]);
    cudaFree(rm), cudaFree(wm[0]), cudaFree(wm[1]);
  }
  for (int i = 0; i < 5; ++i) cudaEventDestroy(ev[i]);
  cudaStreamDestroy(st);
  printf("\nab_portable: %s and %s %s\n", tag[0], tag[1],
         disagree ? "DISAGREE (see MISMATCH above): FAIL" : "agree bit for bit on every check");
  return disagree;
}
