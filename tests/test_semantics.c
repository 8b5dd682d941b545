/* test_semantics.c — the skip semantics beyond single-call accuracy: thr = -inf equals dense bit
 * for bit, masks only shrink, must-do tiles stay and are visited, the state helper (policy,
 * ping-pong, reset, refresh, advance-on-success, shape mismatch), the mask helpers (fill,
 * density, padding bits), MASS accuracy against dense at a strict threshold, and determinism
 * (repeated runs and different thread counts give identical bytes). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* One problem: inputs, outputs and geometry. */
typedef struct la_fix {
  la_case_t cs;
  liteattn_dtype_t dtype;
  la_t_tensor_t q, k, v, o;
  float *lse;
  liteattn_mask_geometry_t g;
  size_t o_bytes, lse_bytes;
} la_fix_t;

static la_fix_t la_fix_make(la_case_t cs, liteattn_dtype_t dtype, la_t_inputs_t in, uint64_t seed) {
  la_fix_t f;
  memset(&f, 0, sizeof f);
  f.cs = cs, f.dtype = dtype;
  f.q = la_t_tensor_make(cs.B, cs.Sq, cs.Hq, cs.D, dtype, cs.layout);
  f.k = la_t_tensor_make(cs.B, cs.Sk, cs.Hkv, cs.D, dtype, cs.layout);
  f.v = la_t_tensor_make(cs.B, cs.Sk, cs.Hkv, cs.D, dtype, cs.layout);
  f.o = la_t_tensor_make(cs.B, cs.Sq, cs.Hq, cs.D, dtype, cs.layout);
  la_t_fill_qkv(&f.q, &f.k, &f.v, in, seed);
  f.o_bytes = f.o.elems * la_t_dtype_size(dtype);
  f.lse_bytes = sizeof(float) * (size_t)(cs.B * cs.Hq * cs.Sq);
  f.lse = malloc(f.lse_bytes);
  LA_CHECK_STATUS(liteattn_mask_geometry(cs.B, cs.Hq, cs.Sq, cs.Sk, cs.D, dtype, &f.g),
                  LITEATTN_OK, cs.name);
  return f;
}

static void la_fix_free(la_fix_t *f) {
  la_t_tensor_free(&f->q), la_t_tensor_free(&f->k), la_t_tensor_free(&f->v),
      la_t_tensor_free(&f->o);
  free(f->lse);
}

static liteattn_fwd_args_t la_fix_args(la_fix_t *f) {
  liteattn_fwd_args_t a = la_t_args(&f->q, &f->k, &f->v, &f->o);
  a.lse = f->lse;
  return a;
}

/* Runs and copies O and LSE out (caller frees). */
static liteattn_status_t la_fix_run(la_fix_t *f, const liteattn_fwd_args_t *a, void **o_out,
                                    float **lse_out) {
  memset(f->o.base, 0xff, f->o_bytes);
  memset(f->lse, 0xff, f->lse_bytes);
  liteattn_status_t st = liteattn_fwd(a, NULL);
  *o_out = malloc(f->o_bytes);
  *lse_out = malloc(f->lse_bytes);
  memcpy(*o_out, f->o.base, f->o_bytes);
  memcpy(*lse_out, f->lse, f->lse_bytes);
  return st;
}

static uint32_t *la_mask_alloc(const liteattn_mask_geometry_t *g, uint32_t fill) {
  uint32_t *m = malloc(g->bytes);
  for (int64_t i = 0; i < g->words; ++i) m[i] = fill;
  return m;
}

/* Tiles set in `sub` but not in `super` (padding ignored). */
static long la_not_subset(const uint32_t *sub, const uint32_t *super,
                          const liteattn_mask_geometry_t *g) {
  long n = 0;
  for (int64_t r = 0; r < g->rows; ++r)
    for (int64_t j = 0; j < g->tiles_k; ++j)
      n += la_t_bit(sub, g, r, j) && !la_t_bit(super, g, r, j);
  return n;
}

static long la_popcount_tiles(const uint32_t *m, const liteattn_mask_geometry_t *g) {
  long n = 0;
  for (int64_t r = 0; r < g->rows; ++r)
    for (int64_t j = 0; j < g->tiles_k; ++j) n += la_t_bit(m, g, r, j);
  return n;
}

static const la_t_inputs_t la_peaky = {1.6, 0.5, 40.0};

/* thr = -inf (both criteria), an all-ones read buffer, no LSE: all equal dense bit for bit, and
 * the written mask is the full visited set. */
static void test_dense_equivalence(la_case_t cs, liteattn_dtype_t dtype, uint64_t seed) {
  la_fix_t f = la_fix_make(cs, dtype, la_peaky, seed);
  liteattn_fwd_args_t a = la_fix_args(&f);
  void *o0, *o1;
  float *l0, *l1;
  LA_CHECK_STATUS(la_fix_run(&f, &a, &o0, &l0), LITEATTN_OK, "dense");
  uint32_t *full = la_mask_alloc(&f.g, 0), *w = la_mask_alloc(&f.g, 0x5a5a5a5au);
  LA_CHECK_STATUS(liteattn_mask_fill(full, &f.g), LITEATTN_OK, "mask_fill");
  for (int variant = 0; variant < 4; ++variant) {
    liteattn_fwd_args_t b = a;
    b.threshold = -INFINITY;
    b.write_mask = w, b.write_mask_words = (size_t)f.g.words;
    b.criterion = variant == 1 ? LITEATTN_CRITERION_PEAK : LITEATTN_CRITERION_MASS;
    if (variant == 2) b.read_mask = full, b.read_mask_words = (size_t)f.g.words;
    if (variant == 3) b.write_mask = NULL, b.write_mask_words = 0, b.lse = NULL;
    LA_CHECK_STATUS(la_fix_run(&f, &b, &o1, &l1), LITEATTN_OK, "thr=-inf");
    LA_CHECK(memcmp(o0, o1, f.o_bytes) == 0, "%s %s variant %d: O differs from dense", cs.name,
             la_t_dtype_name(dtype), variant);
    if (variant != 3) {
      LA_CHECK(memcmp(l0, l1, f.lse_bytes) == 0, "%s variant %d: LSE differs from dense",
               cs.name, variant);
      LA_CHECK(memcmp(w, full, f.g.bytes) == 0, "%s variant %d: thr=-inf did not write the full "
               "visited set", cs.name, variant);
    }
    free(o1), free(l1);
  }
  /* A partial read mask plus a must-do key range: thr = -inf writes exactly the visited set. */
  la_rng_t rng = la_rng_make(seed, 11);
  for (int64_t i = 0; i < f.g.words; ++i) full[i] = (uint32_t)la_rng_u64(&rng);
  const liteattn_range_t mk = {cs.Sk - 1, cs.Sk}; /* the last key: the last tile is must-do */
  liteattn_fwd_args_t b = a;
  b.read_mask = full, b.read_mask_words = (size_t)f.g.words;
  b.write_mask = w, b.write_mask_words = (size_t)f.g.words;
  b.must_do_k = &mk, b.num_must_do_k = 1;
  LA_CHECK_STATUS(liteattn_fwd(&b, NULL), LITEATTN_OK, "thr=-inf, partial read");
  long wrong = 0;
  for (int64_t r = 0; r < f.g.rows; ++r)
    for (int64_t j = 0; j < f.g.tiles_k; ++j)
      wrong += la_t_bit(w, &f.g, r, j) != (la_t_bit(full, &f.g, r, j) || j == f.g.tiles_k - 1);
  LA_CHECK(wrong == 0, "%s: thr=-inf with a partial read wrote %ld tiles outside/short of the "
           "visited set", cs.name, wrong);
  LA_CHECK(la_t_padding_bits_zero(w, &f.g), "%s: padding bits written", cs.name);
  free(o0), free(l0), free(full), free(w);
  la_fix_free(&f);
}

/* Masks only shrink along a chain of calls; must-do tiles stay set and are visited even when the
 * read mask lacks them. */
static void test_shrink_and_must_do(uint64_t seed) {
  const la_case_t cs = {"shrink", 1, 1023, 1023, 2, 1, 64, LA_LAYOUT_BSHD};
  la_fix_t f = la_fix_make(cs, LITEATTN_DTYPE_BF16, (la_t_inputs_t){1.2, 0.5, 60.0}, seed);
  const liteattn_mask_geometry_t *g = &f.g;
  uint32_t *m[4];
  for (int i = 0; i < 4; ++i) m[i] = la_mask_alloc(g, 0);
  static const float thr[3] = {-14.0f, -8.0f, -4.0f};
  liteattn_fwd_args_t a = la_fix_args(&f);
  for (int i = 0; i < 3; ++i) { /* m[1] <- full read; m[i+1] <- read m[i], stricter each time */
    a.read_mask = i ? m[i] : NULL, a.read_mask_words = i ? (size_t)g->words : 0;
    a.write_mask = m[i + 1], a.write_mask_words = (size_t)g->words;
    a.threshold = thr[i];
    LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, "shrink chain");
    if (i) LA_CHECK(la_not_subset(m[i + 1], m[i], g) == 0, "call %d wrote tiles it did not read", i);
  }
  const long n1 = la_popcount_tiles(m[1], g), n3 = la_popcount_tiles(m[3], g);
  LA_CHECK(n3 < n1 && n3 > 0, "chain did not shrink: %ld -> %ld tiles", n1, n3);

  /* Must-do: read a mask that lacks the must-do tiles; they must be written and visited (O equals
   * the run whose read mask has them set). Key range [300, 310) is in tile 2 (BN = 128); query
   * range [900, 901) is in q-tile 7. */
  const liteattn_range_t mk = {300, 310}, mq = {900, 901};
  uint32_t *lack = la_mask_alloc(g, 0), *with = la_mask_alloc(g, 0);
  memcpy(lack, m[3], g->bytes);
  for (int64_t r = 0; r < g->rows; ++r) {
    la_t_set_bit(lack, g, r, 2, 0);
    if (r % g->tiles_q == 7) memset(lack + r * g->words_per_row, 0, sizeof(uint32_t) * (size_t)g->words_per_row);
  }
  memcpy(with, lack, g->bytes);
  for (int64_t r = 0; r < g->rows; ++r)
    for (int64_t j = 0; j < g->tiles_k; ++j)
      if (j == 2 || r % g->tiles_q == 7) la_t_set_bit(with, g, r, j, 1);
  void *o_lack, *o_with;
  float *l_lack, *l_with;
  a.must_do_k = &mk, a.num_must_do_k = 1, a.must_do_q = &mq, a.num_must_do_q = 1;
  a.threshold = 0.0f; /* the most aggressive threshold: only must-do and first tiles survive */
  a.read_mask = lack, a.write_mask = m[0];
  LA_CHECK_STATUS(la_fix_run(&f, &a, &o_lack, &l_lack), LITEATTN_OK, "must-do lacking");
  a.read_mask = with, a.write_mask = m[1];
  LA_CHECK_STATUS(la_fix_run(&f, &a, &o_with, &l_with), LITEATTN_OK, "must-do present");
  LA_CHECK(memcmp(o_lack, o_with, f.o_bytes) == 0 && memcmp(l_lack, l_with, f.lse_bytes) == 0,
           "must-do tiles missing from the read mask were not visited");
  LA_CHECK(memcmp(m[0], m[1], g->bytes) == 0, "written masks differ with/without must-do bits");
  long must_missing = 0, qt7_missing = 0;
  for (int64_t r = 0; r < g->rows; ++r) {
    must_missing += !la_t_bit(m[0], g, r, 2);
    if (r % g->tiles_q == 7)
      for (int64_t j = 0; j < g->tiles_k; ++j) qt7_missing += !la_t_bit(m[0], g, r, j);
  }
  LA_CHECK(must_missing == 0, "%ld rows lost the must-do key tile", must_missing);
  LA_CHECK(qt7_missing == 0, "%ld tiles of the must-do q-tile were not written", qt7_missing);
  /* And thr = 0 did mark something else, or this proves nothing. */
  LA_CHECK(la_popcount_tiles(m[0], g) < g->rows * g->tiles_k, "thr=0 marked nothing");
  free(o_lack), free(o_with), free(l_lack), free(l_with), free(lack), free(with);
  for (int i = 0; i < 4; ++i) free(m[i]);
  la_fix_free(&f);
}

/* The state helper against an explicit replay of the same calls with hand-made masks. */
static void test_state(uint64_t seed) {
  const la_case_t cs = {"state", 2, 300, 450, 2, 1, 64, LA_LAYOUT_BHSD};
  la_fix_t f = la_fix_make(cs, LITEATTN_DTYPE_FP16, la_peaky, seed);
  const liteattn_mask_geometry_t *g = &f.g;
  const size_t words = (size_t)g->words;
  uint32_t *masks = calloc(2 * words, sizeof(uint32_t));
  uint32_t *prev = la_mask_alloc(g, 0), *replay_w = la_mask_alloc(g, 0);
  liteattn_state_t st;
  const liteattn_policy_t pol = {2, 3}; /* 2 dense calls, then refresh every 3rd call */
  LA_CHECK_STATUS(liteattn_state_init(&st, cs.B, cs.Hq, cs.Sq, cs.Sk, cs.D, f.dtype, masks,
                                      2 * words, &pol), LITEATTN_OK, "state_init");
  liteattn_fwd_args_t a = la_fix_args(&f);
  a.threshold = -3.0f;
  int have_prev = 0;
  /* Expected mode per call: 0 dense (no read, no write), 1 full read + write, 2 read + write. */
  static const int expect[] = {0, 0, 1, 2, 2, 1, 2, 2, 1};
  for (int call = 0; call < 9; ++call) {
    if (call == 6) { /* a failing call must not advance the state */
      liteattn_fwd_args_t bad = a;
      bad.threshold = 1.0f;
      const liteattn_state_t before = st;
      LA_CHECK_STATUS(liteattn_fwd_state(&st, &bad, NULL), LITEATTN_ERR_BAD_THRESHOLD,
                      "fwd_state with a bad threshold");
      LA_CHECK(memcmp(&before, &st, sizeof st) == 0, "a failed fwd_state changed the state");
    }
    liteattn_fwd_args_t p = a;
    LA_CHECK_STATUS(liteattn_state_prepare(&st, &p), LITEATTN_OK, "prepare");
    const int mode = p.write_mask == NULL ? 0 : p.read_mask == NULL ? 1 : 2;
    LA_CHECK(mode == expect[call], "call %d: mode %d, want %d", call, mode, expect[call]);
    if (p.read_mask && p.write_mask) {
      const uint32_t *r0 = p.read_mask, *w0 = p.write_mask;
      LA_CHECK(r0 + words <= w0 || w0 + words <= r0, "call %d: read and write masks overlap",
               call);
      LA_CHECK(r0 >= masks && r0 + words <= masks + 2 * words && w0 >= masks
                   && w0 + words <= masks + 2 * words, "call %d: masks outside the state buffer",
               call);
      LA_CHECK(have_prev && memcmp(r0, prev, g->bytes) == 0,
               "call %d: read mask is not the previous call's write", call);
    }
    /* Replay with explicit masks. */
    liteattn_fwd_args_t r = a;
    r.read_mask = mode == 2 ? prev : NULL, r.read_mask_words = mode == 2 ? words : 0;
    r.write_mask = mode ? replay_w : NULL, r.write_mask_words = mode ? words : 0;
    void *o_rep, *o_st;
    float *l_rep, *l_st;
    LA_CHECK_STATUS(la_fix_run(&f, &r, &o_rep, &l_rep), LITEATTN_OK, "replay");
    memset(f.o.base, 0xff, f.o_bytes);
    const int64_t calls_before = st.calls;
    LA_CHECK_STATUS(liteattn_fwd_state(&st, &a, NULL), LITEATTN_OK, "fwd_state");
    o_st = malloc(f.o_bytes), l_st = malloc(f.lse_bytes);
    memcpy(o_st, f.o.base, f.o_bytes), memcpy(l_st, f.lse, f.lse_bytes);
    LA_CHECK(st.calls == calls_before + 1, "call %d did not advance the counter", call);
    LA_CHECK(memcmp(o_st, o_rep, f.o_bytes) == 0 && memcmp(l_st, l_rep, f.lse_bytes) == 0,
             "call %d: state call differs from the explicit replay", call);
    const uint32_t *cur = liteattn_state_current_mask(&st);
    if (mode == 0) {
      LA_CHECK(cur == NULL, "call %d: dense call left a current mask", call);
    } else {
      LA_CHECK(cur != NULL && memcmp(cur, replay_w, g->bytes) == 0,
               "call %d: current mask is not what the replay wrote", call);
      if (mode == 2) LA_CHECK(la_not_subset(replay_w, prev, g) == 0, "call %d grew the mask", call);
      memcpy(prev, replay_w, g->bytes);
      have_prev = 1;
    }
    free(o_rep), free(o_st), free(l_rep), free(l_st);
  }
  LA_CHECK(la_popcount_tiles(prev, g) < g->rows * g->tiles_k, "state calls marked nothing");

  /* reset: counter restarts, the next call is dense again (reads full, marks nothing). */
  LA_CHECK_STATUS(liteattn_state_reset(&st), LITEATTN_OK, "reset");
  liteattn_fwd_args_t p = a;
  LA_CHECK_STATUS(liteattn_state_prepare(&st, &p), LITEATTN_OK, "prepare after reset");
  LA_CHECK(st.calls == 0 && p.read_mask == NULL && p.write_mask == NULL,
           "after reset: calls %lld, read %p, write %p", (long long)st.calls,
           (const void *)p.read_mask, (void *)p.write_mask);
  LA_CHECK(liteattn_state_current_mask(&st) == NULL, "after reset the current mask is not NULL");

  /* refresh_every = 0, no dense calls: the first call reads full, then never again. */
  const liteattn_policy_t never = {0, 0};
  LA_CHECK_STATUS(liteattn_state_init(&st, cs.B, cs.Hq, cs.Sq, cs.Sk, cs.D, f.dtype, masks,
                                      2 * words, &never), LITEATTN_OK, "state_init never");
  for (int call = 0; call < 5; ++call) {
    p = a;
    LA_CHECK_STATUS(liteattn_state_prepare(&st, &p), LITEATTN_OK, "prepare never");
    LA_CHECK(p.write_mask != NULL && (call == 0) == (p.read_mask == NULL),
             "refresh_every=0, call %d: read %p write %p", call, (const void *)p.read_mask,
             (void *)p.write_mask);
    LA_CHECK_STATUS(liteattn_fwd_state(&st, &a, NULL), LITEATTN_OK, "fwd_state never");
  }

  /* Shape changes: STATE_MISMATCH, state untouched. */
  const liteattn_state_t before = st;
  static const char *const what[] = {"Sq", "Sk", "dtype", "Hq", "B", "D"};
  for (int i = 0; i < 6; ++i) {
    liteattn_fwd_args_t m = a;
    switch (i) {
      case 0: m.q.seqlen -= 1, m.o.seqlen -= 1; break;
      case 1: m.k.seqlen -= 1, m.v.seqlen -= 1; break;
      case 2:
        m.q.dtype = m.k.dtype = m.v.dtype = m.o.dtype = LITEATTN_DTYPE_BF16;
        break;
      case 3: m.q.heads = m.o.heads = 1; break;
      case 4: m.q.batch = m.k.batch = m.v.batch = m.o.batch = 1; break;
      case 5: m.q.head_dim = m.k.head_dim = m.v.head_dim = m.o.head_dim = 32; break;
    }
    LA_CHECK_STATUS(liteattn_fwd_state(&st, &m, NULL), LITEATTN_ERR_STATE_MISMATCH, what[i]);
    LA_CHECK_STATUS(liteattn_state_prepare(&st, &m), LITEATTN_ERR_STATE_MISMATCH, what[i]);
  }
  LA_CHECK(memcmp(&before, &st, sizeof st) == 0, "STATE_MISMATCH changed the state");
  free(masks), free(prev), free(replay_w);
  la_fix_free(&f);
}

/* mask_fill and mask_density on hand-made masks (padding bits set must be ignored). */
static void test_mask_helpers(void) {
  liteattn_mask_geometry_t g;
  /* B=2, Hq=3, Sq=300 (Tq=3), Sk=5000 (Tk=40, W=2) at D=64. */
  LA_CHECK_STATUS(liteattn_mask_geometry(2, 3, 300, 5000, 64, LITEATTN_DTYPE_BF16, &g),
                  LITEATTN_OK, "geometry");
  LA_CHECK(g.block_m == 128 && g.block_n == 128 && g.tiles_q == 3 && g.tiles_k == 40
               && g.words_per_row == 2 && g.rows == 18 && g.words == 36 && g.bytes == 144,
           "geometry %lld %lld %lld %lld %lld %lld %lld %zu", (long long)g.block_m,
           (long long)g.block_n, (long long)g.tiles_q, (long long)g.tiles_k,
           (long long)g.words_per_row, (long long)g.rows, (long long)g.words, g.bytes);
  uint32_t m[36];
  memset(m, 0xee, sizeof m);
  LA_CHECK_STATUS(liteattn_mask_fill(m, &g), LITEATTN_OK, "fill");
  for (int64_t r = 0; r < g.rows; ++r)
    LA_CHECK(m[2 * r] == 0xffffffffu && m[2 * r + 1] == 0xffu, "fill row %lld: %08x %08x",
             (long long)r, m[2 * r], m[2 * r + 1]);
  double total = -1;
  float per_head[6];
  LA_CHECK_STATUS(liteattn_mask_density(m, &g, &total, per_head), LITEATTN_OK, "density");
  LA_CHECK(total == 1.0, "density of a full mask = %g", total);
  /* Head h (of 6 (b, hq) pairs) gets h+1 tiles per row in row 0 only; padding bits all set. */
  for (int64_t r = 0; r < g.rows; ++r) m[2 * r] = 0, m[2 * r + 1] = 0xffffff00u;
  for (int h = 0; h < 6; ++h)
    for (int t = 0; t <= h; ++t) la_t_set_bit(m, &g, h * 3, 33 + t, 1);
  LA_CHECK_STATUS(liteattn_mask_density(m, &g, &total, per_head), LITEATTN_OK, "density");
  LA_CHECK(fabs(total - 21.0 / 720.0) < 1e-12, "density total %.9f, want %.9f", total, 21.0 / 720);
  for (int h = 0; h < 6; ++h)
    LA_CHECK(per_head[h] == (float)((h + 1) / 120.0), "per_head[%d] = %.9g, want %.9g", h,
             (double)per_head[h], (h + 1) / 120.0);
  LA_CHECK_STATUS(liteattn_mask_density(m, &g, &total, NULL), LITEATTN_OK, "density no per-head");
  LA_CHECK(fabs(total - 21.0 / 720.0) < 1e-12, "density total without per_head %.9f", total);
  /* Tk a multiple of 32: no padding word bits. */
  LA_CHECK_STATUS(liteattn_mask_geometry(1, 1, 1, 4096, 128, LITEATTN_DTYPE_FP16, &g),
                  LITEATTN_OK, "geometry 32");
  LA_CHECK_STATUS(liteattn_mask_fill(m, &g), LITEATTN_OK, "fill 32");
  LA_CHECK(g.words == 1 && m[0] == 0xffffffffu, "fill with Tk = 32: %08x", m[0]);
}

/* MASS at a strict threshold: the next call, reading the mask, stays close to dense. */
static void test_mass_accuracy(uint64_t seed) {
  const la_case_t cs = {"mass_accuracy", 1, 2048, 2048, 1, 1, 64, LA_LAYOUT_BSHD};
  la_fix_t f = la_fix_make(cs, LITEATTN_DTYPE_FP32, la_peaky, seed);
  liteattn_fwd_args_t a = la_fix_args(&f);
  void *o_dense, *o_sparse;
  float *l_dense, *l_sparse;
  LA_CHECK_STATUS(la_fix_run(&f, &a, &o_dense, &l_dense), LITEATTN_OK, "dense");
  uint32_t *m1 = la_mask_alloc(&f.g, 0), *m2 = la_mask_alloc(&f.g, 0);
  a.criterion = LITEATTN_CRITERION_MASS, a.threshold = -12.0f;
  a.write_mask = m1, a.write_mask_words = (size_t)f.g.words;
  LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, "marking call");
  a.read_mask = m1, a.read_mask_words = (size_t)f.g.words, a.write_mask = m2;
  LA_CHECK_STATUS(la_fix_run(&f, &a, &o_sparse, &l_sparse), LITEATTN_OK, "sparse call");
  double diff = 0, norm = 0;
  const float *od = o_dense, *os = o_sparse;
  for (int64_t s = 0; s < cs.Sq; ++s)
    for (int64_t h = 0; h < cs.Hq; ++h)
      for (int64_t d = 0; d < cs.D; ++d) {
        const int64_t i = la_t_index(&f.o.t, 0, s, h, d);
        diff += fabs((double)od[i] - os[i]), norm += fabs((double)od[i]);
      }
  double density;
  LA_CHECK_STATUS(liteattn_mask_density(m1, &f.g, &density, NULL), LITEATTN_OK, "density");
  /* Each skipped tile held < 2^-12 of its row's mass, at most Tk = 16 of them: the L1 error of a
   * convex combination of N(0,1) values is a small multiple of that. */
  LA_CHECK(density < 0.6, "MASS thr=-12 skipped too little to test (density %.3f)", density);
  LA_CHECK(diff / norm < 2e-3, "MASS thr=-12: relative L1 error %.3g vs dense (density %.3f)",
           diff / norm, density);
  printf("  MASS thr=-12: density %.3f, relative L1 error of O vs dense %.2e\n", density,
         diff / norm);
  free(o_dense), free(o_sparse), free(l_dense), free(l_sparse), free(m1), free(m2);
  la_fix_free(&f);
}

/* Identical O, LSE and masks for repeated runs and for 1, 2 and 3 threads. */
static void test_determinism(uint64_t seed) {
  const la_case_t cs = {"determinism", 2, 500, 600, 2, 1, 128, LA_LAYOUT_PADDED};
  la_fix_t f = la_fix_make(cs, LITEATTN_DTYPE_BF16, LA_T_INPUTS_DEFAULT, seed);
  uint32_t *r = la_mask_alloc(&f.g, 0), *w0 = la_mask_alloc(&f.g, 0), *w1 = la_mask_alloc(&f.g, 0);
  la_rng_t rng = la_rng_make(seed, 5);
  for (int64_t i = 0; i < f.g.words; ++i) r[i] = (uint32_t)(la_rng_u64(&rng) | la_rng_u64(&rng));
  const liteattn_range_t mk = {10, 20};
  liteattn_fwd_args_t a = la_fix_args(&f);
  a.read_mask = r, a.read_mask_words = (size_t)f.g.words;
  a.write_mask = w0, a.write_mask_words = (size_t)f.g.words;
  a.threshold = -6.0f, a.must_do_k = &mk, a.num_must_do_k = 1;
  void *o0, *o1;
  float *l0, *l1;
  const int threads0 = omp_get_max_threads();
  LA_CHECK_STATUS(la_fix_run(&f, &a, &o0, &l0), LITEATTN_OK, "determinism run 0");
  static const int threads[] = {0, 1, 2, 3, 0};
  for (int i = 0; i < 5; ++i) {
    omp_set_num_threads(threads[i] ? threads[i] : threads0);
    a.write_mask = w1;
    memset(w1, 0x77, f.g.bytes);
    LA_CHECK_STATUS(la_fix_run(&f, &a, &o1, &l1), LITEATTN_OK, "determinism run");
    LA_CHECK(memcmp(o0, o1, f.o_bytes) == 0, "run %d (%d threads): O differs", i, threads[i]);
    LA_CHECK(memcmp(l0, l1, f.lse_bytes) == 0, "run %d (%d threads): LSE differs", i, threads[i]);
    LA_CHECK(memcmp(w0, w1, f.g.bytes) == 0, "run %d (%d threads): mask differs", i, threads[i]);
    free(o1), free(l1);
  }
  omp_set_num_threads(threads0);
  free(o0), free(l0), free(r), free(w0), free(w1);
  la_fix_free(&f);
}

int main(void) {
  const double t0 = la_t_now();
  const uint64_t seed = la_t_seed();
  test_dense_equivalence(la_cases[2], LITEATTN_DTYPE_BF16, seed + 1);
  test_dense_equivalence(la_cases[6], LITEATTN_DTYPE_FP16, seed + 2);
  test_dense_equivalence(la_cpu_cases[1], LITEATTN_DTYPE_FP32, seed + 3);
  test_shrink_and_must_do(seed + 4);
  test_state(seed + 5);
  test_mask_helpers();
  test_mass_accuracy(seed + 6);
  test_determinism(seed + 7);
  return la_t_summary("test_semantics", la_t_now() - t0);
}
