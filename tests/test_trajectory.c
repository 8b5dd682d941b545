/* test_trajectory.c — the CPU backend over a recorded attention trajectory (.latraj: Q, K, V of
 * a few (layer, head) series of the testbed model at every step of one generation), and the
 * reader of that format (demo/latraj.c).
 *
 *   test_trajectory FILE [--thr X]
 *
 * X must keep the bound meaningful: (Tk - 1) * 2^X < 1 (Tk key tiles), else the test fails.
 *
 * Reader: files written here with zlib in both encodings decode to the exact values; truncated,
 * inconsistent or corrupt files are refused with a message naming what is wrong.
 * Replay, for every series, one liteattn_state over the steps in order (dense_calls 1,
 * refresh_every 0, criterion MASS, threshold X, default -6 as the testbed's sampler), fp32, each
 * call beside a dense call on the same inputs:
 *   - the mask grows sparser over the calls: no series' read density ever rises, and the mean
 *     read density over the series falls from the first call to the last (the threshold is
 *     finite and marks something; a series whose head stays dense is allowed);
 *   - at every step the sparse output stays within the bound MASS promises against dense. A
 *     skipped tile held < 2^thr of its row's softmax mass when it was marked, so a row r that
 *     skips k_r tiles lost mass eps_r < k_r * 2^thr, and then for every dim d
 *       |O_sparse[r,d] - O_dense[r,d]| <= 2 * eps_r * max_j |v[j,d]|
 *     (O_sparse = A / (1 - eps), O_dense = A + B with |A| <= (1 - eps) vmax, |B| <= eps vmax).
 *     The lost mass eps_r = 1 - exp(LSE_sparse - LSE_dense) is checked against k_r * 2^thr (the
 *     promise itself, made at an earlier step: the trajectory's drift is what is tested) and the
 *     output against 2 * k_r * 2^thr * vmax_d. The relative L1 error of O over the whole call is
 *     also held to test_semantics' MASS accuracy bound, 2e-3 for 16 key tiles at thr = -12, in its
 *     general form 0.5 * Tk * 2^thr (Tk skipped tiles at most, each < 2^thr of the mass);
 *   - thr = -inf through the state helper reproduces the dense call bit for bit (fp32 and bf16),
 *     at every step. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../src/cpu/convert.h"
#include "latraj.h"
#include "test_util.h"

/* ---------------------------------------------------------------------------------------------
 * Reader: files made here
 * ------------------------------------------------------------------------------------------- */
typedef struct la_buf {
  unsigned char *p;
  size_t n, cap;
} la_buf_t;

static void la_put(la_buf_t *b, const void *src, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = 2 * (b->n + n);
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}

static void la_put_u32(la_buf_t *b, uint32_t x) {
  const unsigned char c[4] = {(unsigned char)x, (unsigned char)(x >> 8),
                              (unsigned char)(x >> 16), (unsigned char)(x >> 24)};
  la_put(b, c, 4);
}

static void la_put_f32(la_buf_t *b, float x) { la_put_u32(b, la_float_to_bits(x)); }

static void la_put_u16(la_buf_t *b, uint16_t x) {
  const unsigned char c[2] = {(unsigned char)x, (unsigned char)(x >> 8)};
  la_put(b, c, 2);
}

/* Appends one block: u32 nbytes + zlib stream of `raw` (extra bytes appended inside the block
 * after the stream when `junk` > 0). */
static void la_put_block(la_buf_t *b, const la_buf_t *raw, size_t junk) {
  uLongf n = compressBound((uLong)raw->n);
  unsigned char *z = malloc(n + junk);
  if (!z || compress2(z, &n, raw->p, (uLong)raw->n, 9) != Z_OK) abort();
  memset(z + n, 0x5a, junk);
  la_put_u32(b, (uint32_t)(n + junk));
  la_put(b, z, n + junk);
  free(z);
}

/* The value the file made here holds at (step, series, tensor, s, d): exact in fp16 and in
 * int8 * (fp16 scale 1/8). */
static float la_known(uint32_t step, uint32_t p, int x, uint32_t s, uint32_t d) {
  return (float)((int)((step * 7 + p * 5 + (uint32_t)x * 3 + s * 11 + d) % 31) - 15) / 8.0f;
}

typedef struct la_spec {
  uint32_t version, steps, series, S, D, enc, F, R, C, reserved;
  float scale;
  int payload_delta; /* bytes added to (or, < 0, cut from) every payload */
  size_t junk;       /* bytes after each zlib stream inside its block */
} la_spec_t;

static la_spec_t la_spec_default(uint32_t enc) {
  return (la_spec_t){1, 3, 2, 12, 16, enc, 2, 2, 3, 0, 0.25f, 0, 0};
}

static la_buf_t la_make_file(const la_spec_t *sp) {
  la_buf_t b = {0};
  la_put(&b, "LATRAJ1", 8);
  const uint32_t head[] = {sp->version, sp->steps, sp->series, sp->S, sp->D, sp->enc,
                           sp->F, sp->R, sp->C};
  for (size_t i = 0; i < sizeof head / sizeof head[0]; ++i) la_put_u32(&b, head[i]);
  la_put_f32(&b, sp->scale);
  la_put_u32(&b, 0), la_put_u32(&b, sp->reserved), la_put_u32(&b, 0), la_put_u32(&b, 0);
  for (uint32_t p = 0; p < sp->series; ++p) la_put_u32(&b, 3 + p), la_put_u32(&b, p);
  for (uint32_t s = 0; s < sp->steps; ++s) la_put_f32(&b, 1.0f - (float)s / (float)sp->steps);
  for (uint32_t s = 0; s < sp->steps; ++s)
    for (uint32_t p = 0; p < sp->series; ++p)
      for (int x = 0; x < 3; ++x) {
        la_buf_t raw = {0};
        if (sp->enc == LATRAJ_ENCODING_INT8) {
          for (uint32_t r = 0; r < sp->S; ++r) la_put_u16(&raw, la_float_to_fp16(0.125f));
          for (uint32_t r = 0; r < sp->S; ++r)
            for (uint32_t d = 0; d < sp->D; ++d) {
              const signed char c = (signed char)(la_known(s, p, x, r, d) * 8.0f);
              la_put(&raw, &c, 1);
            }
        } else {
          for (uint32_t r = 0; r < sp->S; ++r)
            for (uint32_t d = 0; d < sp->D; ++d)
              la_put_u16(&raw, la_float_to_fp16(la_known(s, p, x, r, d)));
        }
        if (sp->payload_delta < 0) raw.n -= (size_t)(-sp->payload_delta);
        for (int i = 0; i < sp->payload_delta; ++i) la_put(&raw, "", 1);
        la_put_block(&b, &raw, sp->junk);
        free(raw.p);
      }
  return b;
}

static void test_reader_roundtrip(void) {
  for (uint32_t enc = 0; enc < 2; ++enc) {
    const la_spec_t sp = la_spec_default(enc);
    la_buf_t b = la_make_file(&sp);
    latraj_t t;
    LA_CHECK(latraj_open_buffer(&t, b.p, b.n, "made") == 0, "enc %u: %s", enc, t.error);
    LA_CHECK(t.steps == 3 && t.series == 2 && t.seqlen == 12 && t.head_dim == 16
                 && t.encoding == enc && t.frames * t.rows * t.cols == 12 && t.scale == 0.25f,
             "enc %u: header fields", enc);
    LA_CHECK(t.layer[1] == 4 && t.head[1] == 1 && t.timesteps[2] == 1.0f - 2.0f / 3.0f,
             "enc %u: series table or timesteps", enc);
    const int64_t stride = 20; /* rows padded: the reader honours row_stride */
    float *f = malloc(sizeof(float) * 12 * stride);
    uint16_t *h = malloc(sizeof(uint16_t) * 12 * stride);
    long wrong = 0;
    for (uint32_t s = 0; s < 3; ++s)
      for (uint32_t p = 0; p < 2; ++p)
        for (int x = 0; x < 3; ++x) {
          for (int64_t i = 0; i < 12 * stride; ++i) f[i] = -99.0f, h[i] = 0xdead;
          LA_CHECK(latraj_read(&t, s, p, (latraj_tensor_t)x, LITEATTN_DTYPE_FP32, f, stride) == 0,
                   "%s", t.error);
          LA_CHECK(latraj_read(&t, s, p, (latraj_tensor_t)x, LITEATTN_DTYPE_BF16, h, stride) == 0,
                   "%s", t.error);
          for (uint32_t r = 0; r < 12; ++r)
            for (int64_t d = 0; d < stride; ++d) {
              const int in = d < 16;
              const float want = in ? la_known(s, p, x, r, (uint32_t)d) : -99.0f;
              wrong += f[r * stride + d] != want;
              const uint16_t got = h[r * stride + d];
              wrong += in ? got != la_float_to_bf16(want) : got != 0xdead;
            }
        }
    LA_CHECK(wrong == 0, "enc %u: %ld decoded elements differ from what was written", enc, wrong);
    LA_CHECK(latraj_read(&t, 3, 0, LATRAJ_Q, LITEATTN_DTYPE_FP32, f, stride) != 0
                 && strstr(t.error, "3 steps"),
             "step out of range accepted: %s", t.error);
    LA_CHECK(latraj_read(&t, 0, 0, LATRAJ_Q, LITEATTN_DTYPE_FP32, f, 8) != 0
                 && strstr(t.error, "row_stride"),
             "row_stride < D accepted: %s", t.error);
    free(f), free(h), free(b.p);
    latraj_close(&t);
  }
}

/* One malformed file: opening (or, for `at_read`, reading its first block) must fail with a
 * message that contains `want`. */
static void la_expect_refused(const la_buf_t *b, int at_read, const char *want, const char *what) {
  latraj_t t;
  int rc = latraj_open_buffer(&t, b->p, b->n, what);
  if (at_read) {
    LA_CHECK(rc == 0, "%s: open failed: %s", what, t.error);
    if (rc) return;
    float *f = malloc(sizeof(float) * (size_t)t.seqlen * t.head_dim);
    rc = latraj_read(&t, 0, 0, LATRAJ_Q, LITEATTN_DTYPE_FP32, f, t.head_dim);
    free(f);
  }
  LA_CHECK(rc != 0, "%s: accepted", what);
  LA_CHECK(rc == 0 || strstr(t.error, want) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
           t.error, want);
  if (rc) printf("  refused as expected: %s\n", t.error);
  latraj_close(&t);
}

static void test_reader_refuses(void) {
  const la_spec_t ok = la_spec_default(LATRAJ_ENCODING_INT8);
  la_buf_t good = la_make_file(&ok);
  la_buf_t b = {0};
  /* truncated anywhere: in the header, the tables, a block length, a block */
  const size_t cuts[] = {0, 10, 63, 64 + 8, 64 + 16 + 6, 64 + 16 + 12 + 2, good.n / 2, good.n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; ++i) {
    la_buf_t cut = {good.p, cuts[i], cuts[i]};
    char what[64];
    snprintf(what, sizeof what, "cut at %zu of %zu", cuts[i], good.n);
    la_expect_refused(&cut, 0, "truncated", what);
  }
  b.n = 0, la_put(&b, good.p, good.n), la_put(&b, "xy", 2);
  la_expect_refused(&b, 0, "2 trailing bytes", "trailing bytes");
  b.n = 0, la_put(&b, good.p, good.n), b.p[3] = 'X';
  la_expect_refused(&b, 0, "magic", "bad magic");
  free(b.p);
  struct {
    la_spec_t sp;
    int at_read;
    const char *want, *what;
  } bad[] = {
      {ok, 0, "version = 2", "version 2"},
      {ok, 0, "encoding = 2", "encoding 2"},
      {ok, 0, "but seqlen = 12", "window != seqlen"},
      {ok, 0, "steps = 0", "no steps"},
      {ok, 0, "scale = -1", "negative scale"},
      {ok, 0, "reserved[0] = 7", "reserved field set"},
      {ok, 1, "imply 216", "payload short"},
      {ok, 1, "holds more", "payload long"},
      {ok, 1, "after the zlib stream", "junk after stream"},
  };
  bad[0].sp.version = 2, bad[1].sp.enc = 2, bad[2].sp.C = 4, bad[3].sp.steps = 0;
  bad[4].sp.scale = -1.0f, bad[5].sp.reserved = 7, bad[6].sp.payload_delta = -1;
  bad[7].sp.payload_delta = 1, bad[8].sp.junk = 3;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    la_buf_t f = la_make_file(&bad[i].sp);
    la_expect_refused(&f, bad[i].at_read, bad[i].want, bad[i].what);
    free(f.p);
  }
  /* A corrupt stream: flip bytes inside the first block's deflate data. */
  b = (la_buf_t){0};
  la_put(&b, good.p, good.n);
  const size_t first = 64 + 8 * ok.series + 4 * ok.steps + 4;
  for (size_t i = 4; i < 12; ++i) b.p[first + i] ^= 0xa5;
  la_expect_refused(&b, 1, "zlib stream", "corrupt stream");
  free(b.p), free(good.p);
  latraj_t t;
  LA_CHECK(latraj_open(&t, "/nonexistent/dir/x.latraj") != 0 && strstr(t.error, "cannot open"),
           "missing file: %s", t.error);
}

/* ---------------------------------------------------------------------------------------------
 * Replay of the trajectory
 * ------------------------------------------------------------------------------------------- */
/* One series replayed through one state: inputs loaded step by step, the state's masks (policy:
 * dense_calls 1, refresh_every 0) and args (criterion MASS, the file's scale). */
typedef struct la_series_run {
  la_t_tensor_t q, k, v, o;
  liteattn_mask_geometry_t g;
  uint32_t *masks;
  liteattn_state_t st;
  liteattn_fwd_args_t args;
} la_series_run_t;

static int la_load_step(latraj_t *t, uint32_t step, uint32_t p, la_series_run_t *r) {
  la_t_tensor_t *dst[3] = {&r->q, &r->k, &r->v};
  for (int x = 0; x < 3; ++x) {
    const int rc = latraj_read(t, step, p, (latraj_tensor_t)x, dst[x]->t.dtype, dst[x]->t.data,
                               dst[x]->t.stride_s);
    LA_CHECK(rc == 0, "%s", t->error);
    if (rc) return -1;
  }
  return 0;
}

static la_series_run_t la_series_make(const latraj_t *t, liteattn_dtype_t dtype, float thr) {
  const int64_t S = t->seqlen, D = t->head_dim;
  la_series_run_t r;
  r.q = la_t_tensor_make(1, S, 1, D, dtype, LA_LAYOUT_PADDED);
  r.k = la_t_tensor_make(1, S, 1, D, dtype, LA_LAYOUT_PADDED);
  r.v = la_t_tensor_make(1, S, 1, D, dtype, LA_LAYOUT_PADDED);
  r.o = la_t_tensor_make(1, S, 1, D, dtype, LA_LAYOUT_PADDED);
  LA_CHECK_STATUS(liteattn_mask_geometry(1, 1, S, S, D, dtype, &r.g), LITEATTN_OK, "geometry");
  r.masks = malloc(2 * r.g.bytes);
  const liteattn_policy_t pol = {.dense_calls = 1, .refresh_every = 0};
  LA_CHECK_STATUS(liteattn_state_init(&r.st, 1, 1, S, S, D, dtype, r.masks, 2 * (size_t)r.g.words,
                                      &pol), LITEATTN_OK, "state_init");
  r.args = la_t_args(&r.q, &r.k, &r.v, &r.o);
  r.args.scale = t->scale;
  r.args.criterion = LITEATTN_CRITERION_MASS, r.args.threshold = thr;
  return r;
}

static void la_series_free(la_series_run_t *r) {
  la_t_tensor_free(&r->q), la_t_tensor_free(&r->k), la_t_tensor_free(&r->v);
  la_t_tensor_free(&r->o);
  free(r->masks);
}

/* Steps of the thr = -inf replay: all, or under ASan+UBSan (~15x slower) the first
 * LA_SANITIZED_STEPS. The MASS replay always runs every step: the trained model's heads start
 * marking only after several steps. */
#define LA_SANITIZED_STEPS 6u
static uint32_t la_bitwise_steps(const latraj_t *t) {
#if defined(LA_TEST_SANITIZED) && LA_TEST_SANITIZED
  return t->steps < LA_SANITIZED_STEPS ? t->steps : LA_SANITIZED_STEPS;
#else
  return t->steps;
#endif
}

/* thr = -inf through the state helper equals the dense call bit for bit, every step. */
static void test_dense_bitwise(latraj_t *t, uint32_t p, liteattn_dtype_t dtype) {
  la_series_run_t r = la_series_make(t, dtype, -INFINITY);
  const liteattn_fwd_args_t a = r.args;
  const liteattn_mask_geometry_t g = r.g;
  const size_t o_bytes = r.o.elems * la_t_dtype_size(dtype);
  void *o_dense = malloc(o_bytes);
  long differ = 0;
  for (uint32_t s = 0; s < la_bitwise_steps(t); ++s) {
    if (la_load_step(t, s, p, &r)) break;
    memset(r.o.base, 0x7f, o_bytes); /* padding included: both calls start from the same bytes */
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, "dense");
    memcpy(o_dense, r.o.base, o_bytes);
    memset(r.o.base, 0x7f, o_bytes);
    LA_CHECK_STATUS(liteattn_fwd_state(&r.st, &a, NULL), LITEATTN_OK, "thr=-inf state call");
    differ += memcmp(o_dense, r.o.base, o_bytes) != 0;
  }
  LA_CHECK(differ == 0, "series %u %s: thr=-inf differs from dense at %ld of %u steps", p,
           la_t_dtype_name(dtype), differ, la_bitwise_steps(t));
  const uint32_t *last = liteattn_state_current_mask(&r.st);
  double density = 0.0;
  LA_CHECK(last != NULL, "series %u: no mask written after %u calls", p, la_bitwise_steps(t));
  if (last) {
    LA_CHECK_STATUS(liteattn_mask_density(last, &g, &density, NULL), LITEATTN_OK, "density");
    LA_CHECK(la_bitwise_steps(t) < 2 || density == 1.0,
             "series %u: thr=-inf marked tiles (density %.3f)", p, density);
  }
  free(o_dense);
  la_series_free(&r);
}

/* Figures of one series' sparse replay. */
typedef struct la_replay_stats {
  double first_density, first_skip_density, last_density, mean_density;
  double worst_mass_ratio; /* max over rows of eps_r / (k_r 2^thr) */
  double worst_out_ratio;  /* max over elements of |dO| / (2 k_r 2^thr vmax_d) */
  double worst_rel_l1;
} la_replay_stats_t;

/* `density` gets the read density of every call (t->steps values). */
static la_replay_stats_t test_replay(latraj_t *t, uint32_t p, float thr, double *density_out) {
  la_replay_stats_t res = {-1.0, -1.0, -1.0, 0.0, 0.0, 0.0, 0.0};
  const liteattn_dtype_t dtype = LITEATTN_DTYPE_FP32;
  la_series_run_t r = la_series_make(t, dtype, thr);
  const int64_t S = t->seqlen, D = t->head_dim;
  const liteattn_mask_geometry_t g = r.g;
  float *lse_d = malloc(sizeof(float) * (size_t)S), *lse_s = malloc(sizeof(float) * (size_t)S);
  float *o_d = malloc(sizeof(float) * (size_t)(S * D)), *vmax = malloc(sizeof(float) * (size_t)D);
  liteattn_fwd_args_t a = r.args;
  liteattn_fwd_args_t dense = a;
  dense.threshold = -INFINITY, dense.lse = lse_d;
  a.lse = lse_s;
  const double tile_mass = exp2((double)thr);
  double prev = 2.0, sum_density = 0.0;
  long rises = 0, over_mass = 0, over_out = 0;
  for (uint32_t s = 0; s < t->steps; ++s) {
    if (la_load_step(t, s, p, &r)) break;
    for (int64_t d = 0; d < D; ++d) vmax[d] = 0.0f;
    for (int64_t j = 0; j < S; ++j)
      for (int64_t d = 0; d < D; ++d) {
        const float x = fabsf((float)la_t_get(&r.v.t, 0, j, 0, d));
        vmax[d] = x > vmax[d] ? x : vmax[d];
      }
    LA_CHECK_STATUS(liteattn_fwd(&dense, NULL), LITEATTN_OK, "dense");
    for (int64_t i = 0; i < S; ++i)
      for (int64_t d = 0; d < D; ++d) o_d[i * D + d] = (float)la_t_get(&r.o.t, 0, i, 0, d);
    liteattn_fwd_args_t peek = a;
    LA_CHECK_STATUS(liteattn_state_prepare(&r.st, &peek), LITEATTN_OK, "prepare");
    double density = 1.0;
    if (peek.read_mask)
      LA_CHECK_STATUS(liteattn_mask_density(peek.read_mask, &g, &density, NULL), LITEATTN_OK,
                      "density");
    LA_CHECK_STATUS(liteattn_fwd_state(&r.st, &a, NULL), LITEATTN_OK, "sparse state call");
    sum_density += density;
    density_out[s] = density;
    rises += density > prev;
    prev = density;
    printf("%s%.3f", s ? " " : "    read density per call:", density);
    if (s == 0) res.first_density = density;
    if (peek.read_mask && peek.write_mask && res.first_skip_density < 0.0)
      res.first_skip_density = density;
    res.last_density = density;
    double diff = 0.0, norm = 0.0;
    for (int64_t i = 0; i < S; ++i) {
      long k_r = 0; /* tiles row i skips */
      if (peek.read_mask)
        for (int64_t j = 0; j < g.tiles_k; ++j)
          k_r += !la_t_bit(peek.read_mask, &g, i / g.block_m, j);
      const double lost = 1.0 - exp((double)lse_s[i] - (double)lse_d[i]);
      const double promise = (double)k_r * tile_mass;
      /* fp32 LSEs of O(10): their difference is good to ~1e-5 */
      if (lost > promise + 2e-5) ++over_mass;
      if (k_r) res.worst_mass_ratio = fmax(res.worst_mass_ratio, lost / promise);
      for (int64_t d = 0; d < D; ++d) {
        const double od = o_d[i * D + d], os = la_t_get(&r.o.t, 0, i, 0, d);
        const double bound = 2.0 * promise * vmax[d], tol = 1e-5 * vmax[d];
        if (fabs(os - od) > bound + tol) ++over_out;
        if (bound > 0.0) res.worst_out_ratio = fmax(res.worst_out_ratio, fabs(os - od) / bound);
        diff += fabs(os - od), norm += fabs(od);
      }
    }
    const double rel_l1 = norm > 0.0 ? diff / norm : diff;
    res.worst_rel_l1 = fmax(res.worst_rel_l1, rel_l1);
  }
  printf("\n");
  res.mean_density = sum_density / t->steps;
  LA_CHECK(rises == 0, "series %u: the read density rose %ld times (refresh_every 0)", p, rises);
  LA_CHECK(res.first_skip_density >= 0.0, "series %u: no call skipped over %u steps", p,
           t->steps);
  LA_CHECK(over_mass == 0, "series %u thr %g: %ld rows lost more softmax mass than k_r * 2^thr "
           "(worst ratio %.3g)", p, (double)thr, over_mass, res.worst_mass_ratio);
  LA_CHECK(over_out == 0, "series %u thr %g: %ld elements of O outside 2 k_r 2^thr max|v| "
           "(worst ratio %.3g)", p, (double)thr, over_out, res.worst_out_ratio);
  LA_CHECK(res.worst_rel_l1 < 0.5 * (double)g.tiles_k * tile_mass,
           "series %u thr %g: relative L1 error %.3g vs dense, bound 0.5 Tk 2^thr = %.3g", p,
           (double)thr, res.worst_rel_l1, 0.5 * (double)g.tiles_k * tile_mass);
  free(lse_d), free(lse_s), free(o_d), free(vmax);
  la_series_free(&r);
  return res;
}

int main(int argc, char **argv) {
  const double t0 = la_t_now();
  if (argc < 2 || (argc != 2 && argc != 4) || (argc == 4 && strcmp(argv[2], "--thr"))) {
    fprintf(stderr, "usage: %s FILE.latraj [--thr X]\n", argv[0]);
    return 2;
  }
  float thr = -6.0f;
  if (argc == 4) {
    char *end;
    thr = strtof(argv[3], &end);
    if (end == argv[3] || *end || !(thr <= 0.0f) || !isfinite(thr)) {
      fprintf(stderr, "%s: --thr %s: need a finite value <= 0\n", argv[0], argv[3]);
      return 2;
    }
  }
  test_reader_roundtrip();
  test_reader_refuses();

  latraj_t t;
  const int rc = latraj_open(&t, argv[1]);
  LA_CHECK(rc == 0, "%s", t.error);
  if (rc == 0) {
    liteattn_mask_geometry_t g;
    LA_CHECK_STATUS(liteattn_mask_geometry(1, 1, t.seqlen, t.seqlen, t.head_dim,
                                           LITEATTN_DTYPE_FP32, &g), LITEATTN_OK, "geometry");
    printf("%s: %u steps (%u with thr = -inf), %u series, S = %u (%u x %u x %u), D = %u, %s, scale "
           "%g; %lld x %lld tiles; MASS thr %g\n", argv[1], t.steps, la_bitwise_steps(&t), t.series,
           t.seqlen, t.frames, t.rows, t.cols, t.head_dim, t.encoding ? "int8" : "fp16",
           (double)t.scale, (long long)g.tiles_q, (long long)g.tiles_k, (double)thr);
    LA_CHECK(g.tiles_k >= 2, "S = %u is a single key tile: nothing can be skipped", t.seqlen);
    /* A row skips at most Tk - 1 tiles (the first visited one is never negligible). At
     * (Tk - 1) * 2^thr >= 1 the bound lets such a row lose all of its mass: it could not fail. */
    const double most = (double)(g.tiles_k - 1) * exp2((double)thr);
    LA_CHECK(most < 1.0, "thr %g with %lld key tiles: the MASS bound (Tk - 1) * 2^thr = %g says "
             "nothing; use a lower --thr", (double)thr, (long long)g.tiles_k, most);
    const uint32_t steps = t.steps;
    double *density = malloc(sizeof(double) * steps), *mean = calloc(steps, sizeof(double));
    for (uint32_t p = 0; p < t.series; ++p) {
      test_dense_bitwise(&t, p, LITEATTN_DTYPE_FP32);
      test_dense_bitwise(&t, p, LITEATTN_DTYPE_BF16);
      const la_replay_stats_t s = test_replay(&t, p, thr, density);
      for (uint32_t i = 0; i < steps; ++i) mean[i] += density[i] / t.series;
      printf("  series %u (layer %u, head %u): read density %.3f -> %.3f (first skipping call "
             "%.3f), mean %.3f; lost mass / (k_r 2^thr) <= %.3f; |dO| / (2 k_r 2^thr max|v|) <= "
             "%.3f; rel L1 <= %.2e\n", p, t.layer[p], t.head[p], s.first_density, s.last_density,
             s.first_skip_density, s.mean_density, s.worst_mass_ratio, s.worst_out_ratio,
             s.worst_rel_l1);
    }
    /* The trajectory grows sparser: the mean read density over the series never rises (each
     * series' own was checked) and the last call reads fewer tiles than the first. A series may
     * stay dense (a head whose attention is diffuse at tile granularity). */
    long rises = 0;
    for (uint32_t i = 1; i < steps; ++i) rises += mean[i] > mean[i - 1] + 1e-12;
    LA_CHECK(rises == 0, "the mean read density over the series rose %ld times", rises);
    LA_CHECK(steps > 0 && mean[steps - 1] < mean[0], "thr %g: the last call read as much as the "
             "first (mean read density over the series %.3f -> %.3f): nothing was skipped",
             (double)thr, mean[0], mean[steps ? steps - 1 : 0]);
    printf("  mean read density over the series: %.3f (first call) -> %.3f (last call)\n", mean[0],
           mean[steps ? steps - 1 : 0]);
    free(density), free(mean);
  }
  latraj_close(&t);
  return la_t_summary("test_trajectory", la_t_now() - t0);
}
