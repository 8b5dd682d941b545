/* test_criterion.c — the marking criteria (PEAK and MASS) checked tile by tile against an
 * independent fp64 computation (test_util.c: running m and l in the diagonal-first visit order,
 * voting over valid rows, first visited tile never negligible, must-do tiles kept), over a sweep
 * of thresholds, read masks and must-do ranges, on every row of every (b, hq, q-tile).
 *
 * Rule: the written bit must equal the fp64 decision for every tile except those whose fp64
 * criterion value (the max over the q-tile's valid rows, which decides the vote) lies within
 * LA_CRIT_TOL of thr; the library's fp32 scores and log2 of fp32 sums are far closer than that.
 * Every (input, criterion, thr) configuration must both mark and keep tiles, so the test cannot
 * pass vacuously. Under sanitizers each case runs one threshold per criterion (rotating). */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define LA_CRIT_TOL 1e-2 /* log2 units */

typedef struct la_crit_case {
  const char *name;
  la_case_t shape;
  liteattn_dtype_t dtype;
  la_t_inputs_t inputs;
  int random_read; /* read a random mask (plus must-do ranges) instead of all tiles */
} la_crit_case_t;

static const la_crit_case_t la_crit_cases[] = {
    {"local_1023_d64_b2", {"", 2, 1023, 1023, 2, 1, 64, LA_LAYOUT_BSHD}, LITEATTN_DTYPE_BF16,
     {1.6, 0.5, 40.0}, 0},
    {"local_sq300_sk1023_d128", {"", 1, 300, 1023, 2, 2, 128, LA_LAYOUT_BHSD},
     LITEATTN_DTYPE_FP16, {1.4, 0.5, 60.0}, 0},
    {"wide_1023_d64_randread", {"", 1, 1023, 1023, 4, 2, 64, LA_LAYOUT_PADDED},
     LITEATTN_DTYPE_FP32, {1.2, 0.4, 150.0}, 1},
    {"sq500_sk1000_d256_randread", {"", 1, 500, 1000, 2, 1, 256, LA_LAYOUT_BSHD},
     LITEATTN_DTYPE_BF16, {1.3, 0.5, 30.0}, 1},
};
#define LA_NUM_CRIT_CASES ((int)(sizeof la_crit_cases / sizeof la_crit_cases[0]))

static const float la_thr[2][3] = {{-12.0f, -7.0f, -3.0f},  /* MASS */
                                   {-9.0f, -5.0f, -2.0f}}; /* PEAK */

static void la_crit_run(const la_crit_case_t *cc, uint64_t seed) {
  const la_case_t *cs = &cc->shape;
  const int64_t B = cs->B, Sq = cs->Sq, Sk = cs->Sk, Hq = cs->Hq, Hkv = cs->Hkv, D = cs->D;
  la_t_tensor_t q = la_t_tensor_make(B, Sq, Hq, D, cc->dtype, cs->layout);
  la_t_tensor_t k = la_t_tensor_make(B, Sk, Hkv, D, cc->dtype, cs->layout);
  la_t_tensor_t v = la_t_tensor_make(B, Sk, Hkv, D, cc->dtype, cs->layout);
  la_t_tensor_t o = la_t_tensor_make(B, Sq, Hq, D, cc->dtype, cs->layout);
  la_t_fill_qkv(&q, &k, &v, cc->inputs, seed);
  liteattn_mask_geometry_t g;
  LA_CHECK_STATUS(liteattn_mask_geometry(B, Hq, Sq, Sk, D, cc->dtype, &g), LITEATTN_OK, cc->name);
  uint32_t *rmask = malloc(g.bytes), *wmask = malloc(g.bytes);
  la_rng_t rng = la_rng_make(seed, 7);
  /* Random read mask with ~3/4 of the tiles set; must-do: one key range and one query range. */
  for (int64_t i = 0; i < g.words; ++i)
    rmask[i] = (uint32_t)(la_rng_u64(&rng) | la_rng_u64(&rng));
  const liteattn_range_t mk[1] = {{Sk / 2, Sk / 2 + 5}}, mq[1] = {{Sq / 4, Sq / 4 + 3}};
  const int nm = cc->random_read ? 1 : 0;
  la_t_problem_t P = {&q.t, &k.t, &v.t, (float)(1.0 / sqrt((double)D)), g,
                      cc->random_read ? rmask : NULL, mk, nm, mq, nm};
  /* The reference does not depend on the threshold: compute every row once. */
  la_t_ref_t *refs = malloc(sizeof(la_t_ref_t) * (size_t)g.rows);
  for (int64_t row = 0; row < g.rows; ++row) {
    refs[row] = la_t_ref_alloc(&P);
    la_t_ref_qtile(&P, row / (Hq * g.tiles_q), (row / g.tiles_q) % Hq, row % g.tiles_q, &refs[row]);
  }
  for (int ci = 0; ci < 2; ++ci)
    for (int ti = 0; ti < 3; ++ti) {
      if (LA_TEST_SANITIZED && ti != (int)(cc - la_crit_cases) % 3) continue; /* one thr each */
      const liteattn_criterion_t crit = ci ? LITEATTN_CRITERION_PEAK : LITEATTN_CRITERION_MASS;
      const float thr = la_thr[ci][ti];
      char what[128];
      snprintf(what, sizeof what, "%s %s thr=%g", cc->name, ci ? "PEAK" : "MASS", (double)thr);
      liteattn_fwd_args_t a = la_t_args(&q, &k, &v, &o);
      a.read_mask = P.read_mask;
      a.read_mask_words = P.read_mask ? (size_t)g.words : 0;
      a.write_mask = wmask;
      a.write_mask_words = (size_t)g.words;
      a.criterion = crit;
      a.threshold = thr;
      a.must_do_k = mk, a.num_must_do_k = nm, a.must_do_q = mq, a.num_must_do_q = nm;
      LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, what);
      long marked = 0, kept = 0, near = 0, bad = 0, must_bad = 0;
      for (int64_t row = 0; row < g.rows; ++row) {
        const la_t_ref_t *r = &refs[row];
        for (int64_t j = 0; j < g.tiles_k; ++j) {
          const int got = la_t_bit(wmask, &g, row, j);
          const int want = la_t_expected_bit(r, j, crit, thr, LA_CRIT_TOL);
          if (r->must[j] && !got) ++must_bad;
          if (r->visited[j] && !r->must[j] && j != r->first) {
            if (want < 0) ++near;
            else if (got) ++kept;
            else ++marked;
          }
          if (want >= 0 && got != want && bad++ < 3) {
            const double cv = ci ? r->crit_peak[j] : r->crit_mass[j];
            fprintf(stderr, "  %s: row %lld tile %lld written %d, fp64 wants %d (criterion "
                    "%.6f, first %lld, visited %d)\n", what, (long long)row, (long long)j, got,
                    want, cv, (long long)r->first, r->visited[j]);
          }
        }
      }
      LA_CHECK(bad == 0, "%s: %ld tiles differ from the fp64 criterion", what, bad);
      LA_CHECK(must_bad == 0, "%s: %ld must-do tiles not written", what, must_bad);
      LA_CHECK(marked > 0 && kept > 0, "%s: %ld marked, %ld kept: not exercised", what, marked,
               kept);
      printf("  %-44s tiles marked %5ld  kept %5ld  within tol of thr %ld\n", what, marked, kept,
             near);
    }
  for (int64_t row = 0; row < g.rows; ++row) la_t_ref_free(&refs[row]);
  free(refs), free(rmask), free(wmask);
  la_t_tensor_free(&q), la_t_tensor_free(&k), la_t_tensor_free(&v), la_t_tensor_free(&o);
}

int main(void) {
  const double t0 = la_t_now();
  const uint64_t seed = la_t_seed();
  for (int i = 0; i < LA_NUM_CRIT_CASES; ++i) la_crit_run(&la_crit_cases[i], seed + 1000u * (uint64_t)i);
  return la_t_summary("test_criterion", la_t_now() - t0);
}
