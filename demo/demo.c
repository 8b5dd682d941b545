/* demo.c — liteattn-demo: replays a denoising trajectory through the state helper
 * (liteattn_state_init / liteattn_fwd_state) and, per call, compares the sparse call with a dense
 * call on the same inputs: density of the mask read, time, relative L2 error of O. Writes a PNG of
 * the masks over the calls.
 *
 * The trajectory is either recorded (--trajectory FILE: a .latraj file of testbed/trajectory.py,
 * Q/K/V of a few (layer, head) series of the testbed model at every step of one generation; each
 * series is one attention layer's head and gets its own state, B = 1, H = 1, bf16) or synthetic:
 * Q/K/V from a generator that mimics what
 * LiteAttention relies on in video DiTs (attention local in space and time, a few sink tokens,
 * patterns that drift slowly across denoising steps). Tokens are laid out frames x height x width
 * (token n = (f*H + y)*W + x), B = 1, Hq = Hkv = heads, bf16. All features are in "hat" units:
 * q = a*q^, k = a*k^ with a = D^(1/4), so scale*q.k = q^.k^ exactly (scale = 1/sqrt(D)), i.e.
 * q^.k^ is the logit in nats.
 *   position   u = ((f - fc)/tau_h, (y - yc)/sigma_h, (x - xc)/sigma_h) / w(t): centred, in units
 *              of a per-head temporal width tau_h = 0.6 + 0.4*h frames and spatial width
 *              sigma_h = 1.5 + h pixels; w(t) = 1.25 - 0.5*t/(steps-1) narrows the widths
 *              smoothly over the steps (attention sharpens as the sample denoises).
 *   q^[0..2] = 2u, q^[3] = -1, q^[4] = |u|^2         (query side)
 *   k^[0..2] = u', k^[3] = |u'|^2, k^[4] = 0         (ordinary key)
 *   so the positional logit is |u|^2 - |u - u'|^2: a Gaussian bump around the query's own
 *   position (the |u|^2 term is the same for every key of a row, softmax ignores it).
 *   sinks      the first `sinks` tokens (4) are sink keys: k^[0..2] = 0, k^[3] = -beta,
 *              k^[4] = 1, so their logit is beta = -1.5 relative to the query's own position,
 *              for every query wherever it is (key tile 0 therefore never becomes negligible).
 *   content    q^[5..D-1] and k^[5..D-1] = c*(cos(wt) g0 + sin(wt) g1), g0, g1 ~ N(0, 1) fixed
 *              per token and side, w = 0.03 rad per step, c = (D-5)^(-1/4): a "semantic"
 *              logit term of standard deviation ~1 nat that rotates slowly across steps.
 *   values     v = cos(wt) h0 + sin(wt) h1, h0, h1 ~ N(0, 1) per token and dim.
 * The random numbers come from splitmix64 + Box-Muller seeded by --seed: runs are reproducible.
 *
 * Backend: the CPU backend, or CUDA (device buffers) when this demo was built against a
 * CUDA-enabled liteattn (LITEATTN_DEMO_CUDA) and a device is present. If the CUDA path fails,
 * the whole trajectory (each series, for a recorded one) is replayed on the CPU backend. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "convert.h"
#include "latraj.h"
#include "liteattn.h"
#include "png.h"

#ifdef LITEATTN_DEMO_CUDA
#include <cuda_runtime_api.h>
#endif

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------- */
typedef struct demo_opts {
  int steps, frames, height, width, heads, dim, sinks, png_head;
  float thr;
  liteattn_criterion_t criterion;
  int64_t refresh, dense;
  uint64_t seed;
  const char *png;
  liteattn_backend_t backend; /* AUTO, CPU or CUDA */
  const char *trajectory;     /* NULL: the synthetic trajectory */
  int steps_set, thr_set;     /* given on the command line */
  const char *synthetic_only; /* the first generator option given, if any */
} demo_opts_t;

/* Default threshold of a recorded trajectory. In the committed file (testbed/trajectory/
 * main.latraj: layers 0 and 1, head 0, an 11x8x8 = 704-token window) -1 reads 0.69 of the tiles on
 * average (-3: 0.83) at a max rel L2 of 5e-3 against dense; the testbed's own default over the
 * full 4096 tokens is MASS 0 with 3 dense steps (docs/RESULTS.md). */
#define DEMO_TRAJ_THR (-1.0f)

static void demo_usage(FILE *f) {
  fprintf(f,
          "usage: liteattn-demo [options]\n"
          "  --trajectory FILE    replay a recorded trajectory (.latraj) instead of the synthetic\n"
          "                       one (the generator options grid .. seed and --png-head are\n"
          "                       refused with it: the file has its own shapes; every series is\n"
          "                       drawn)\n"
          "  --steps N            denoising calls to replay (default 20; recorded: all steps)\n"
          "  --thr X              threshold, log2 units, <= 0 (default -9; recorded: -1)\n"
          "  --criterion C        peak | mass (default mass)\n"
          "  --refresh N          policy.refresh_every (default 0 = never revive a tile)\n"
          "  --dense N            policy.dense_calls (default 2)\n"
          "  --frames N --height N --width N   token grid (default 8 x 16 x 16 = 2048 tokens)\n"
          "  --heads N            query (= key/value) heads (default 2)\n"
          "  --dim N              head dim, 64 or 128 (default 64)\n"
          "  --sinks N            sink tokens at the start of the sequence (default 4)\n"
          "  --seed N             generator seed (default 1)\n"
          "  --png PATH           mask heatmap (default out/demo_mask.png; \"\" = none)\n"
          "  --png-head N         head drawn in the heatmap (default 0)\n"
          "  --backend B          cpu | cuda | auto (default auto: CUDA if built and present)\n"
          "  --help               this text\n");
}

/* Parses a whole-string integer in [lo, hi]; 0 on success. */
static int demo_int(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Returns 0 on success, 1 for --help, 2 for a bad option (message printed). */
static int demo_parse(int argc, char **argv, demo_opts_t *o) {
  *o = (demo_opts_t){.steps = 20, .frames = 8, .height = 16, .width = 16, .heads = 2, .dim = 64,
                     .sinks = 4, .png_head = 0, .thr = -9.0f,
                     .criterion = LITEATTN_CRITERION_MASS, .refresh = 0, .dense = 2, .seed = 1,
                     .png = "out/demo_mask.png", .backend = LITEATTN_BACKEND_AUTO};
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
    if (i + 1 >= argc) {
      fprintf(stderr, "liteattn-demo: %s needs a value\n", a);
      return 2;
    }
    const char *v = argv[++i];
    long n = 0;
    int bad = 0;
    static const char *const generator[] = {"--frames", "--height", "--width", "--heads",
                                            "--dim", "--sinks", "--seed", "--png-head"};
    for (size_t j = 0; j < sizeof generator / sizeof generator[0]; ++j)
      if (!strcmp(a, generator[j]) && !o->synthetic_only) o->synthetic_only = generator[j];
    if (!strcmp(a, "--trajectory")) o->trajectory = v;
    else if (!strcmp(a, "--steps"))
      bad = demo_int(v, 1, 100000, &n), o->steps = (int)n, o->steps_set = 1;
    else if (!strcmp(a, "--frames")) bad = demo_int(v, 1, 4096, &n), o->frames = (int)n;
    else if (!strcmp(a, "--height")) bad = demo_int(v, 1, 4096, &n), o->height = (int)n;
    else if (!strcmp(a, "--width")) bad = demo_int(v, 1, 4096, &n), o->width = (int)n;
    else if (!strcmp(a, "--heads")) bad = demo_int(v, 1, 256, &n), o->heads = (int)n;
    else if (!strcmp(a, "--dim"))
      bad = demo_int(v, 64, 128, &n) || (n != 64 && n != 128), o->dim = (int)n;
    else if (!strcmp(a, "--sinks")) bad = demo_int(v, 0, 1 << 20, &n), o->sinks = (int)n;
    else if (!strcmp(a, "--png-head")) bad = demo_int(v, 0, 255, &n), o->png_head = (int)n;
    else if (!strcmp(a, "--refresh")) bad = demo_int(v, 0, 1000000, &n), o->refresh = n;
    else if (!strcmp(a, "--dense")) bad = demo_int(v, 0, 1000000, &n), o->dense = n;
    else if (!strcmp(a, "--seed")) bad = demo_int(v, 0, 0x7fffffffL, &n), o->seed = (uint64_t)n;
    else if (!strcmp(a, "--png")) o->png = v;
    else if (!strcmp(a, "--thr")) {
      char *end;
      o->thr = strtof(v, &end);
      bad = end == v || *end || !(o->thr <= 0.0f); /* -inf allowed: marks nothing */
      o->thr_set = 1;
    } else if (!strcmp(a, "--criterion")) {
      if (!strcmp(v, "peak")) o->criterion = LITEATTN_CRITERION_PEAK;
      else if (!strcmp(v, "mass")) o->criterion = LITEATTN_CRITERION_MASS;
      else bad = 1;
    } else if (!strcmp(a, "--backend")) {
      if (!strcmp(v, "cpu")) o->backend = LITEATTN_BACKEND_CPU;
      else if (!strcmp(v, "cuda")) o->backend = LITEATTN_BACKEND_CUDA;
      else if (!strcmp(v, "auto")) o->backend = LITEATTN_BACKEND_AUTO;
      else bad = 1;
    } else {
      fprintf(stderr, "liteattn-demo: unknown option %s\n", a);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "liteattn-demo: bad value for %s: \"%s\"\n", a, v);
      return 2;
    }
  }
  if (o->trajectory) {
    if (o->synthetic_only) {
      fprintf(stderr, "liteattn-demo: %s is an option of the synthetic trajectory; a recorded one "
              "(--trajectory) has its own shapes\n", o->synthetic_only);
      return 2;
    }
    if (!o->thr_set) o->thr = DEMO_TRAJ_THR;
    return 0;
  }
  if ((int64_t)o->frames * o->height * o->width > (1 << 20)) {
    fprintf(stderr, "liteattn-demo: frames*height*width = %lld tokens is more than 2^20\n",
            (long long)o->frames * o->height * o->width);
    return 2;
  }
  if (o->png_head >= o->heads) {
    fprintf(stderr, "liteattn-demo: --png-head %d is not below --heads %d\n", o->png_head,
            o->heads);
    return 2;
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Memory: host, or device when built with CUDA and running on it
 * ------------------------------------------------------------------------------------------- */
static void *mem_alloc(int dev, size_t n) {
#ifdef LITEATTN_DEMO_CUDA
  if (dev) {
    void *p = NULL;
    return cudaMalloc(&p, n) == cudaSuccess ? p : NULL;
  }
#endif
  (void)dev;
  return calloc(1, n);
}

static void mem_free(int dev, void *p) {
#ifdef LITEATTN_DEMO_CUDA
  if (dev) {
    cudaFree(p);
    return;
  }
#endif
  (void)dev;
  free(p);
}

/* Copies n bytes between a buffer of this kind and host memory (to_host: buf -> host). */
static int mem_copy(int dev, void *dst, const void *src, size_t n, int to_host) {
#ifdef LITEATTN_DEMO_CUDA
  if (dev)
    return cudaMemcpy(dst, src, n, to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice)
           != cudaSuccess;
#endif
  (void)dev, (void)to_host;
  memcpy(dst, src, n);
  return 0;
}

static int mem_sync(int dev) {
#ifdef LITEATTN_DEMO_CUDA
  if (dev) return cudaDeviceSynchronize() != cudaSuccess;
#endif
  (void)dev;
  return 0;
}

/* 1 if a CUDA device is usable by this build. */
static int demo_have_device(void) {
#ifdef LITEATTN_DEMO_CUDA
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
#else
  return 0;
#endif
}

static double demo_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------------
 * The synthetic trajectory (see the top of the file)
 * ------------------------------------------------------------------------------------------- */
static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static float rng_normal(uint64_t *s) { /* Box-Muller */
  const double u1 = ((double)(rng_next(s) >> 11) + 0.5) * 0x1.0p-53;
  const double u2 = (double)(rng_next(s) >> 11) * 0x1.0p-53;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

#define DEMO_BETA (-1.5f)  /* sink logit relative to the query's own position, nats */
#define DEMO_OMEGA 0.03f   /* content and value rotation per step, radians */

typedef struct demo_gen {
  int64_t n, hd; /* tokens; heads * dim */
  float *g;      /* 6 * n * hd normals: q content g0, g1; k content g0, g1; v h0, h1 */
} demo_gen_t;

/* Fills q, k, v (bf16, bshd, B = 1) for step t of `steps`. */
static void demo_generate(const demo_opts_t *o, const demo_gen_t *gen, int t, uint16_t *q,
                          uint16_t *k, uint16_t *v) {
  const int H = o->heads, D = o->dim;
  const int64_t n = gen->n, hd = gen->hd;
  const float a = powf((float)D, 0.25f), c = powf((float)(D - 5), -0.25f);
  const float w = 1.25f - 0.5f * (o->steps > 1 ? (float)t / (float)(o->steps - 1) : 0.0f);
  const float cw = cosf(DEMO_OMEGA * (float)t), sw = sinf(DEMO_OMEGA * (float)t);
  const float *qg0 = gen->g, *qg1 = qg0 + n * hd, *kg0 = qg1 + n * hd, *kg1 = kg0 + n * hd;
  const float *vh0 = kg1 + n * hd, *vh1 = vh0 + n * hd;
  const float fc = 0.5f * (float)(o->frames - 1), yc = 0.5f * (float)(o->height - 1),
              xc = 0.5f * (float)(o->width - 1);
  for (int64_t tok = 0; tok < n; ++tok) {
    const int x = (int)(tok % o->width), y = (int)(tok / o->width % o->height);
    const int f = (int)(tok / ((int64_t)o->width * o->height));
    for (int h = 0; h < H; ++h) {
      const float tau = (0.6f + 0.4f * (float)h) * w, sigma = (1.5f + (float)h) * w;
      const float u[3] = {((float)f - fc) / tau, ((float)y - yc) / sigma, ((float)x - xc) / sigma};
      const float uu = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
      const int64_t base = tok * hd + (int64_t)h * D;
      float qh[128], kh[128];
      qh[0] = 2 * u[0], qh[1] = 2 * u[1], qh[2] = 2 * u[2], qh[3] = -1.0f, qh[4] = uu;
      if (tok < o->sinks)
        kh[0] = kh[1] = kh[2] = 0.0f, kh[3] = -DEMO_BETA, kh[4] = 1.0f;
      else
        kh[0] = u[0], kh[1] = u[1], kh[2] = u[2], kh[3] = uu, kh[4] = 0.0f;
      for (int d = 5; d < D; ++d) {
        qh[d] = c * (cw * qg0[base + d] + sw * qg1[base + d]);
        kh[d] = c * (cw * kg0[base + d] + sw * kg1[base + d]);
      }
      for (int d = 0; d < D; ++d) {
        q[base + d] = la_float_to_bf16(a * qh[d]);
        k[base + d] = la_float_to_bf16(a * kh[d]);
        v[base + d] = la_float_to_bf16(cw * vh0[base + d] + sw * vh1[base + d]);
      }
    }
  }
}

/* ---------------------------------------------------------------------------------------------
 * One replay of the trajectory on one kind of memory
 * ------------------------------------------------------------------------------------------- */
typedef struct demo_bufs {
  int dev;
  void *q, *k, *v, *o;
  uint32_t *masks;
} demo_bufs_t;

static void demo_bufs_free(demo_bufs_t *b) {
  mem_free(b->dev, b->q), mem_free(b->dev, b->k), mem_free(b->dev, b->v), mem_free(b->dev, b->o);
  mem_free(b->dev, b->masks);
  memset(b, 0, sizeof *b);
}

static liteattn_tensor_t demo_tensor(void *data, int64_t n, int H, int D) {
  return (liteattn_tensor_t){.data = data, .dtype = LITEATTN_DTYPE_BF16, .batch = 1,
                             .seqlen = n, .heads = H, .head_dim = D, .stride_b = n * H * D,
                             .stride_s = (int64_t)H * D, .stride_h = D};
}

/* Host scratch shared by every replay. */
typedef struct demo_host {
  uint16_t *q, *k, *v, *o_sparse, *o_dense;
  uint32_t *mask;  /* one mask, host copy */
  uint8_t *panels; /* per replay, steps * Tq * Tk: 1 = computed, for the heatmap head */
  float *head_density; /* heads */
} demo_host_t;

/* Where one replay's Q/K/V come from: `fill` writes host q, k, v (bf16, bshd, B = 1) of step t. */
typedef struct demo_source {
  int64_t n;
  int H, D, steps;
  float scale;            /* 0 = 1/sqrt(D) */
  const float *timesteps; /* [steps] (recorded), or NULL */
  int (*fill)(const struct demo_source *src, int t, uint16_t *q, uint16_t *k, uint16_t *v);
  const demo_opts_t *o;   /* synthetic */
  const demo_gen_t *gen;
  latraj_t *traj;         /* recorded */
  uint32_t series;
} demo_source_t;

static int demo_fill_synthetic(const demo_source_t *src, int t, uint16_t *q, uint16_t *k,
                               uint16_t *v) {
  demo_generate(src->o, src->gen, t, q, k, v);
  return 0;
}

static int demo_fill_recorded(const demo_source_t *src, int t, uint16_t *q, uint16_t *k,
                              uint16_t *v) {
  uint16_t *dst[3] = {q, k, v};
  for (int x = 0; x < 3; ++x)
    if (latraj_read(src->traj, (uint32_t)t, src->series, (latraj_tensor_t)x, LITEATTN_DTYPE_BF16,
                    dst[x], src->D)) {
      fprintf(stderr, "liteattn-demo: %s\n", src->traj->error);
      return 1;
    }
  return 0;
}

/* Sums over the calls of every replay. */
typedef struct demo_totals {
  int64_t calls;
  double density, t_sparse, t_dense, max_err, max_row_err;
} demo_totals_t;

/* Relative L2 error of x against ref over n elements; *row_max gets the largest relative L2
 * error of one row of `row` elements (a query token's output in one head). */
static double demo_rel_l2(const uint16_t *x, const uint16_t *ref, int64_t n, int64_t row,
                          double *row_max) {
  double num = 0.0, den = 0.0;
  *row_max = 0.0;
  for (int64_t r0 = 0; r0 < n; r0 += row) {
    double rn = 0.0, rd = 0.0;
    for (int64_t i = r0; i < r0 + row; ++i) {
      const double r = la_bf16_to_float(ref[i]), d = la_bf16_to_float(x[i]) - r;
      rn += d * d, rd += r * r;
    }
    const double e = rd > 0.0 ? sqrt(rn / rd) : sqrt(rn);
    *row_max = e > *row_max ? e : *row_max;
    num += rn, den += rd;
  }
  return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

#define DEMO_CHECK(call)                                                                     \
  do {                                                                                       \
    liteattn_status_t st_ = (call);                                                          \
    if (st_ != LITEATTN_OK) {                                                                \
      fprintf(stderr, "liteattn-demo: %s failed: %s (%s)\n", #call, liteattn_status_name(st_), \
              liteattn_last_error());                                                        \
      goto fail;                                                                             \
    }                                                                                        \
  } while (0)

#define DEMO_MEM(cond, what)                                                \
  do {                                                                      \
    if (cond) {                                                             \
      fprintf(stderr, "liteattn-demo: %s failed on the %s\n", what, where); \
      goto fail;                                                            \
    }                                                                       \
  } while (0)

#define DEMO_MIN_REPS 3
#define DEMO_REPS 9
#define DEMO_REP_SECONDS 0.025

/* Timing one call: the fastest of a few runs, because one run is at the mercy of the scheduler
 * on a shared machine. Runs `a` while fewer than DEMO_MIN_REPS runs were made or the runs so far
 * took less than DEMO_REP_SECONDS, at most DEMO_REPS; `runs` were made before, the first taking
 * `first` seconds. *best = the fastest. Returns 0 on success. */
static int demo_time(const liteattn_fwd_args_t *a, int dev, int runs, double first, double *best) {
  double spent = first;
  *best = runs ? first : INFINITY;
  for (; runs < DEMO_REPS && (runs < DEMO_MIN_REPS || spent < DEMO_REP_SECONDS); ++runs) {
    const double t0 = demo_now();
    const liteattn_status_t st = liteattn_fwd(a, NULL);
    if (st != LITEATTN_OK) {
      fprintf(stderr, "liteattn-demo: a timing run failed: %s (%s)\n", liteattn_status_name(st),
              liteattn_last_error());
      return 1;
    }
    if (mem_sync(dev)) {
      fprintf(stderr, "liteattn-demo: synchronize failed on the device\n");
      return 1;
    }
    const double dt = demo_now() - t0;
    *best = dt < *best ? dt : *best, spent += dt;
  }
  return 0;
}

/* Replays one source through one state with buffers on the device (dev = 1) or host, prints a
 * line per call, records the heatmap head's read masks in `panels` and adds to `tot`. Returns 0
 * on success. */
static int demo_replay(const demo_opts_t *o, const demo_source_t *src, demo_host_t *h,
                       uint8_t *panels, int dev, liteattn_backend_t backend, demo_totals_t *tot) {
  const char *where = dev ? "device" : "host";
  const int H = src->H, D = src->D;
  const int64_t n = src->n, elems = n * H * D;
  const size_t bytes = (size_t)elems * sizeof(uint16_t);
  const int png_head = src->traj ? 0 : o->png_head;
  liteattn_mask_geometry_t g;
  liteattn_state_t state;
  demo_bufs_t b = {.dev = dev};
  demo_totals_t sum = {0};

  DEMO_CHECK(liteattn_mask_geometry(1, H, n, n, D, LITEATTN_DTYPE_BF16, &g));
  const size_t mask_bytes = (size_t)g.words * sizeof(uint32_t);
  b.q = mem_alloc(dev, bytes), b.k = mem_alloc(dev, bytes), b.v = mem_alloc(dev, bytes);
  b.o = mem_alloc(dev, bytes), b.masks = mem_alloc(dev, 2 * mask_bytes);
  DEMO_MEM(!b.q || !b.k || !b.v || !b.o || !b.masks, "allocation");

  const liteattn_policy_t policy = {.dense_calls = o->dense, .refresh_every = o->refresh};
  DEMO_CHECK(liteattn_state_init(&state, 1, H, n, n, D, LITEATTN_DTYPE_BF16, b.masks,
                                 2 * (size_t)g.words, &policy));
  liteattn_fwd_args_t args = LITEATTN_FWD_ARGS_INIT;
  args.q = demo_tensor(b.q, n, H, D), args.k = demo_tensor(b.k, n, H, D);
  args.v = demo_tensor(b.v, n, H, D), args.o = demo_tensor(b.o, n, H, D);
  args.scale = src->scale;
  args.threshold = o->thr;
  args.criterion = o->criterion;
  args.backend = backend;
  liteattn_fwd_args_t dense = args; /* read everything, mark nothing */
  dense.threshold = -INFINITY;
  liteattn_kernel_t kernel;
  DEMO_CHECK(liteattn_fwd_check(&dense, &kernel));

  printf("tiles %lldx%lld (Tq = %lld, Tk = %lld); backend %s, kernel %s\n", (long long)g.block_m,
         (long long)g.block_n, (long long)g.tiles_q, (long long)g.tiles_k, dev ? "cuda" : "cpu",
         liteattn_kernel_name(kernel));
  printf("%4s  %6s  %-5s  %6s  %6s  %6s  %10s  %10s  %7s  %9s  %9s\n", "call", "t", "mode", "thr",
         "read", "marked", "sparse ms", "dense ms", "speedup", "rel_L2", "row_L2max");

  for (int t = 0; t < src->steps; ++t) {
    DEMO_MEM(src->fill(src, t, h->q, h->k, h->v), "reading q/k/v");
    DEMO_MEM(mem_copy(dev, b.q, h->q, bytes, 0) || mem_copy(dev, b.k, h->k, bytes, 0)
                 || mem_copy(dev, b.v, h->v, bytes, 0),
             "copy of q/k/v");

    if (t == 0) { /* warm-up, untimed: thread pool or CUDA context and kernel loading */
      DEMO_CHECK(liteattn_fwd(&dense, NULL));
      DEMO_MEM(mem_sync(dev), "synchronize");
    }

    /* What this call reads (NULL = every tile) and whether it marks. */
    liteattn_fwd_args_t peek = args;
    DEMO_CHECK(liteattn_state_prepare(&state, &peek));
    const char *mode = !peek.write_mask ? "dense" : !peek.read_mask ? "mark" : "skip";
    double read_density = 1.0;
    if (peek.read_mask) {
      DEMO_MEM(mem_copy(dev, h->mask, peek.read_mask, mask_bytes, 1), "copy of the read mask");
      DEMO_CHECK(liteattn_mask_density(h->mask, &g, &read_density, NULL));
    } else {
      DEMO_CHECK(liteattn_mask_fill(h->mask, &g));
    }
    const uint32_t *head_rows = h->mask + (int64_t)png_head * g.tiles_q * g.words_per_row;
    for (int64_t qt = 0; qt < g.tiles_q; ++qt)
      for (int64_t j = 0; j < g.tiles_k; ++j)
        panels[((int64_t)t * g.tiles_q + qt) * g.tiles_k + j] =
            (uint8_t)(head_rows[qt * g.words_per_row + (j >> 5)] >> (j & 31) & 1u);

    const double t0 = demo_now();
    DEMO_CHECK(liteattn_fwd_state(&state, &args, NULL));
    DEMO_MEM(mem_sync(dev), "synchronize");
    double t_sparse = demo_now() - t0;
    /* The repeats run the call just made (`peek`: the same read mask, which the call did not
     * touch, and the same write mask, rewritten with the same bits: calls are deterministic). */
    if (demo_time(&peek, dev, 1, t_sparse, &t_sparse)) goto fail;
    DEMO_MEM(mem_copy(dev, h->o_sparse, b.o, bytes, 1), "copy of o");

    double marked = -1.0;
    const uint32_t *wrote = liteattn_state_current_mask(&state);
    if (peek.write_mask && wrote) {
      DEMO_MEM(mem_copy(dev, h->mask, wrote, mask_bytes, 1), "copy of the written mask");
      DEMO_CHECK(liteattn_mask_density(h->mask, &g, &marked, NULL));
    }

    double t_dense;
    if (demo_time(&dense, dev, 0, 0.0, &t_dense)) goto fail;
    DEMO_MEM(mem_copy(dev, h->o_dense, b.o, bytes, 1), "copy of o");

    double row_err;
    const double err = demo_rel_l2(h->o_sparse, h->o_dense, elems, D, &row_err);
    sum.calls += 1, sum.density += read_density;
    sum.t_sparse += t_sparse, sum.t_dense += t_dense;
    sum.max_err = err > sum.max_err ? err : sum.max_err;
    sum.max_row_err = row_err > sum.max_row_err ? row_err : sum.max_row_err;
    char marked_s[16] = "     -", step_s[16] = "     -";
    if (marked >= 0.0) snprintf(marked_s, sizeof marked_s, "%6.3f", marked);
    if (src->timesteps) snprintf(step_s, sizeof step_s, "%6.3f", (double)src->timesteps[t]);
    printf("%4d  %6s  %-5s  %6.2f  %6.3f  %6s  %10.2f  %10.2f  %6.2fx  %9.2e  %9.2e\n", t, step_s,
           mode, (double)o->thr, read_density, marked_s, 1e3 * t_sparse, 1e3 * t_dense,
           t_dense / t_sparse, err, row_err);
    fflush(stdout);
  }
  printf("summary: %d calls, mean read density %.3f, time sparse %.1f ms vs dense %.1f ms "
         "(%.2fx), max rel_L2 %.2e, max row_L2max %.2e\n",
         src->steps, sum.density / (double)sum.calls, 1e3 * sum.t_sparse, 1e3 * sum.t_dense,
         sum.t_dense / sum.t_sparse, sum.max_err, sum.max_row_err);
  const uint32_t *last = liteattn_state_current_mask(&state);
  if (last) {
    DEMO_MEM(mem_copy(dev, h->mask, last, mask_bytes, 1), "copy of the last mask");
    double total;
    DEMO_CHECK(liteattn_mask_density(h->mask, &g, &total, h->head_density));
    printf("last mask written, density per head:");
    for (int hq = 0; hq < H; ++hq) printf(" %.3f", (double)h->head_density[hq]);
    printf("\n");
  }
  tot->calls += sum.calls, tot->density += sum.density;
  tot->t_sparse += sum.t_sparse, tot->t_dense += sum.t_dense;
  tot->max_err = sum.max_err > tot->max_err ? sum.max_err : tot->max_err;
  tot->max_row_err = sum.max_row_err > tot->max_row_err ? sum.max_row_err : tot->max_row_err;
  demo_bufs_free(&b);
  return 0;
fail:
  demo_bufs_free(&b);
  return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Heatmap: one panel per call (Tq rows x Tk columns, each tile a square of pixels), in a grid
 * ------------------------------------------------------------------------------------------- */
#define DEMO_PANEL_COLS 10
#define DEMO_GAP 4        /* pixels between panels */
#define DEMO_GROUP_GAP 16 /* more pixels between the series of a recorded trajectory */

/* `groups` replays (series) of o->steps panels each; every group starts a new row of panels. */
static int demo_heatmap(const demo_opts_t *o, const uint8_t *panels, int64_t groups, int64_t Tq,
                        int64_t Tk) {
  const int64_t big = Tq > Tk ? Tq : Tk;
  const int64_t px = big >= 128 ? 1 : 128 / big; /* pixels per tile: panels ~128 px */
  const int64_t cols = o->steps < DEMO_PANEL_COLS ? o->steps : DEMO_PANEL_COLS;
  const int64_t group_rows = (o->steps + cols - 1) / cols, rows = groups * group_rows;
  const int64_t pw = Tk * px, ph = Tq * px;
  const int64_t W = DEMO_GAP + cols * (pw + DEMO_GAP);
  const int64_t Hh = DEMO_GAP + rows * (ph + DEMO_GAP) + (groups - 1) * DEMO_GROUP_GAP;
  if (W > 16384 || Hh > 16384) {
    fprintf(stderr, "liteattn-demo: heatmap would be %lldx%lld pixels; not written\n",
            (long long)W, (long long)Hh);
    return 1;
  }
  uint8_t *img = malloc((size_t)(W * Hh));
  if (!img) return 1;
  memset(img, 110, (size_t)(W * Hh)); /* grey background between panels */
  for (int64_t gi = 0; gi < groups; ++gi)
    for (int64_t t = 0; t < o->steps; ++t) {
      const int64_t x0 = DEMO_GAP + (t % cols) * (pw + DEMO_GAP);
      const int64_t y0 =
          DEMO_GAP + (gi * group_rows + t / cols) * (ph + DEMO_GAP) + gi * DEMO_GROUP_GAP;
      const uint8_t *panel = panels + (gi * o->steps + t) * Tq * Tk;
      for (int64_t y = 0; y < ph; ++y)
        for (int64_t x = 0; x < pw; ++x)
          img[(y0 + y) * W + x0 + x] = panel[(y / px) * Tk + x / px] ? 255 : 25;
    }
  /* Create the directory of the path if it is missing (one level, as for out/). */
  char dir[4096];
  const char *slash = strrchr(o->png, '/');
  if (slash && (size_t)(slash - o->png) < sizeof dir && slash != o->png) {
    memcpy(dir, o->png, (size_t)(slash - o->png));
    dir[slash - o->png] = '\0';
    mkdir(dir, 0777); /* EEXIST is fine; a real failure shows up when the file is opened */
  }
  const int bad = png_write_gray(o->png, img, (uint32_t)W, (uint32_t)Hh);
  free(img);
  if (bad) {
    fprintf(stderr, "liteattn-demo: cannot write %s\n", o->png);
    return 1;
  }
  char whose[64];
  if (o->trajectory)
    snprintf(whose, sizeof whose, "every series, each from a new row of %lld",
             (long long)group_rows);
  else
    snprintf(whose, sizeof whose, "head %d", o->png_head);
  printf("heatmap: %s (%s; one panel per call, left to right then down; rows = query tiles, "
         "columns = key tiles; white = computed, dark = skipped)\n", o->png, whose);
  return 0;
}

/* Buffers for `groups` replays of n tokens x hd (heads * dim), Tq x Tk tiles. */
static int demo_host_alloc(demo_host_t *h, const demo_opts_t *o, int64_t groups, int64_t n,
                           int64_t hd, const liteattn_mask_geometry_t *g) {
  const size_t bytes = sizeof(uint16_t) * (size_t)(n * hd);
  h->q = malloc(bytes), h->k = malloc(bytes), h->v = malloc(bytes);
  h->o_sparse = malloc(bytes), h->o_dense = malloc(bytes);
  h->mask = malloc(g->bytes);
  h->panels = malloc((size_t)(groups * o->steps * g->tiles_q * g->tiles_k));
  h->head_density = malloc(sizeof(float) * (size_t)(o->heads > 1 ? o->heads : 1));
  if (h->q && h->k && h->v && h->o_sparse && h->o_dense && h->mask && h->panels && h->head_density)
    return 0;
  fprintf(stderr, "liteattn-demo: out of host memory\n");
  return 1;
}

static void demo_host_free(demo_host_t *h) {
  free(h->q), free(h->k), free(h->v), free(h->o_sparse), free(h->o_dense), free(h->mask);
  free(h->panels), free(h->head_density);
}

static void demo_print_policy(const demo_opts_t *o) {
  printf("policy: dense_calls %lld, refresh_every %lld; criterion %s, thr %g (log2 units)\n",
         (long long)o->dense, (long long)o->refresh,
         o->criterion == LITEATTN_CRITERION_MASS ? "MASS" : "PEAK", (double)o->thr);
  printf("t = the step's timestep (recorded only); read = density of the mask the call read;\n"
         "marked = density of the mask it wrote; rel_L2 = ||O - O_dense||_2 / ||O_dense||_2 over\n"
         "all of O, row_L2max = the largest such error of one query row (bf16 outputs)\n");
}

/* Replays one source on the device if asked, else (or if that fails) on the CPU backend. */
static int demo_replay_any(const demo_opts_t *o, const demo_source_t *src, demo_host_t *h,
                           uint8_t *panels, int dev, demo_totals_t *tot) {
  demo_totals_t before = *tot;
  int rc = demo_replay(o, src, h, panels, dev, dev ? LITEATTN_BACKEND_CUDA : LITEATTN_BACKEND_CPU,
                       tot);
  if (rc && dev) {
    fprintf(stderr, "liteattn-demo: the CUDA path failed; replaying on the CPU backend\n");
    *tot = before;
    rc = demo_replay(o, src, h, panels, 0, LITEATTN_BACKEND_CPU, tot);
  }
  return rc;
}

/* The recorded trajectory: every series through its own state. */
static int demo_run_recorded(demo_opts_t *o, int dev) {
  latraj_t traj;
  if (latraj_open(&traj, o->trajectory)) {
    fprintf(stderr, "liteattn-demo: %s\n", traj.error);
    return 1;
  }
  if (o->steps_set && (uint32_t)o->steps > traj.steps) {
    fprintf(stderr, "liteattn-demo: --steps %d: %s has %u steps\n", o->steps, o->trajectory,
            traj.steps);
    latraj_close(&traj);
    return 2;
  }
  if (!o->steps_set) o->steps = (int)traj.steps;
  const int64_t n = traj.seqlen, D = traj.head_dim;
  liteattn_mask_geometry_t g;
  demo_host_t h = {0};
  demo_totals_t tot = {0};
  int rc = 1;
  if (liteattn_mask_geometry(1, 1, n, n, D, LITEATTN_DTYPE_BF16, &g)) {
    fprintf(stderr, "liteattn-demo: %s: %s\n", o->trajectory, liteattn_last_error());
    goto done;
  }
  if (demo_host_alloc(&h, o, traj.series, n, D, &g)) goto done;
  printf("liteattn-demo: recorded trajectory %s\n", o->trajectory);
  printf("%u steps x %u series (layer, head), window %u frames x %u x %u = %lld tokens, D = %lld, "
         "%s-encoded, replayed in bf16 with the model's scale %g; B = 1, H = 1 per series\n",
         traj.steps, traj.series, traj.frames, traj.rows, traj.cols, (long long)n, (long long)D,
         traj.encoding == LATRAJ_ENCODING_INT8 ? "int8" : "fp16", (double)traj.scale);
  demo_print_policy(o);
  for (uint32_t p = 0; p < traj.series; ++p) {
    printf("\nseries %u: layer %u, head %u (its own state, as one attention layer's head)\n", p,
           traj.layer[p], traj.head[p]);
    const demo_source_t src = {.n = n, .H = 1, .D = (int)D, .steps = o->steps,
                               .scale = traj.scale, .timesteps = traj.timesteps,
                               .fill = demo_fill_recorded, .traj = &traj, .series = p};
    if (demo_replay_any(o, &src, &h, h.panels + (int64_t)p * o->steps * g.tiles_q * g.tiles_k,
                        dev, &tot))
      goto done;
  }
  printf("\nsummary, all series: %u x %d calls, mean read density %.3f, time sparse %.1f ms vs "
         "dense %.1f ms (%.2fx), max rel_L2 %.2e, max row_L2max %.2e\n",
         traj.series, o->steps, tot.density / (double)tot.calls, 1e3 * tot.t_sparse,
         1e3 * tot.t_dense, tot.t_dense / tot.t_sparse, tot.max_err, tot.max_row_err);
  rc = o->png[0] ? demo_heatmap(o, h.panels, traj.series, g.tiles_q, g.tiles_k) : 0;
done:
  demo_host_free(&h);
  latraj_close(&traj);
  return rc;
}

/* The synthetic trajectory (see the top of the file). */
static int demo_run_synthetic(const demo_opts_t *o, int dev) {
  const int64_t n = (int64_t)o->frames * o->height * o->width, hd = (int64_t)o->heads * o->dim;
  liteattn_mask_geometry_t g;
  if (liteattn_mask_geometry(1, o->heads, n, n, o->dim, LITEATTN_DTYPE_BF16, &g)) {
    fprintf(stderr, "liteattn-demo: %s\n", liteattn_last_error());
    return 1;
  }
  demo_gen_t gen = {.n = n, .hd = hd, .g = malloc(sizeof(float) * 6 * (size_t)(n * hd))};
  demo_host_t h = {0};
  demo_totals_t tot = {0};
  int rc = 1;
  if (!gen.g) fprintf(stderr, "liteattn-demo: out of host memory\n");
  if (!gen.g || demo_host_alloc(&h, o, 1, n, hd, &g)) goto done;
  uint64_t seed = o->seed;
  for (int64_t i = 0; i < 6 * n * hd; ++i) gen.g[i] = rng_normal(&seed);
  printf("liteattn-demo: synthetic trajectory, %dx%dx%d = %lld tokens, Hq = Hkv = %d, D = %d, "
         "bf16, %d sink tokens, seed %llu\n", o->frames, o->height, o->width, (long long)n,
         o->heads, o->dim, o->sinks, (unsigned long long)o->seed);
  demo_print_policy(o);
  const demo_source_t src = {.n = n, .H = o->heads, .D = o->dim, .steps = o->steps,
                             .fill = demo_fill_synthetic, .o = o, .gen = &gen};
  rc = demo_replay_any(o, &src, &h, h.panels, dev, &tot);
  if (!rc && o->png[0]) rc = demo_heatmap(o, h.panels, 1, g.tiles_q, g.tiles_k);
done:
  free(gen.g);
  demo_host_free(&h);
  return rc;
}

int main(int argc, char **argv) {
  demo_opts_t o;
  const int pr = demo_parse(argc, argv, &o);
  if (pr) {
    demo_usage(pr == 1 ? stdout : stderr);
    return pr == 1 ? 0 : 2;
  }
  int dev = 0;
  if (o.backend != LITEATTN_BACKEND_CPU) {
#ifdef LITEATTN_DEMO_CUDA
    const char *why = "no CUDA device found";
#else
    const char *why = "this demo was built without CUDA";
#endif
    dev = demo_have_device();
    if (!dev) fprintf(stderr, "liteattn-demo: %s; using the CPU backend\n", why);
  }
  return o.trajectory ? demo_run_recorded(&o, dev) : demo_run_synthetic(&o, dev);
}
