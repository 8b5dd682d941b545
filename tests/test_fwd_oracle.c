/* test_fwd_oracle.c — the CPU backend against the fp64 oracle over the case table (tests/cases.h)
 * x dtypes (bf16, fp16, fp32) x read masks (none, empty, one tile per row, random with must-do
 * ranges): O, LSE, the written mask tile by tile, padding of outputs and masks.
 *
 * Tolerance rule (O): the reference is rounded to the output dtype, then
 *   |o - round(ref)| <= ulp(dtype) * |ref| + 2e-5
 * where ulp is the dtype's relative spacing (bf16 2^-7, fp16 2^-10, fp32 2^-23): fp32
 * accumulation puts the library's pre-rounding value within ~1e-5 of ref (|v| ~ 1), and a value
 * that close to a rounding boundary may round to the neighbour, one spacing away. LSE (fp32 in
 * every dtype): |lse - ref| <= 2e-5 + 1e-6 * |ref| (fp32 score error over D products).
 * Empty rows: O exactly 0 and LSE exactly -inf. The written mask must equal the fp64 decision for
 * every tile whose criterion value is not within LA_CRIT_TOL of thr.
 *
 * Usage: test_fwd_oracle [--long]. The quick tier checks a budgeted, evenly spread subset of the
 * (b, hq, q-tile) rows (always the first and the last, partial one) and runs the 4224-long case
 * in one dtype per mask kind; --long checks every row of every run. Under sanitizers the quick
 * tier runs every case in one dtype per mask kind, and the 4224-long case only with the cheap
 * (empty, single-tile) masks. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define LA_CRIT_TOL 1e-2 /* log2 units: fp32 scores and log2 of fp32 sums, far below 0.01 */

typedef enum la_maskkind { LA_MASK_NONE, LA_MASK_EMPTY, LA_MASK_SINGLE, LA_MASK_RANDOM } la_maskkind_t;
static const char *const la_mask_names[] = {"none", "empty", "single", "random+mustdo"};

static double la_ulp(liteattn_dtype_t t) {
  return t == LITEATTN_DTYPE_BF16 ? 0x1p-7 : t == LITEATTN_DTYPE_FP16 ? 0x1p-10 : 0x1p-23;
}

/* Statistics over the whole program. */
static double g_worst_o_ratio = 0.0, g_worst_lse_ratio = 0.0; /* max |diff| / tol */
static long g_tiles_marked[2], g_tiles_kept[2], g_tiles_near[2];
static long g_rows_checked = 0;

static void la_run(const la_case_t *cs, liteattn_dtype_t dtype, la_maskkind_t kind,
                   double budget, uint64_t seed, int run_index) {
  const double t_run = la_t_now();
  const int64_t B = cs->B, Sq = cs->Sq, Sk = cs->Sk, Hq = cs->Hq, Hkv = cs->Hkv, D = cs->D;
  la_t_tensor_t q = la_t_tensor_make(B, Sq, Hq, D, dtype, cs->layout);
  la_t_tensor_t k = la_t_tensor_make(B, Sk, Hkv, D, dtype, cs->layout);
  la_t_tensor_t v = la_t_tensor_make(B, Sk, Hkv, D, dtype, cs->layout);
  la_t_tensor_t o = la_t_tensor_make(B, Sq, Hq, D, dtype, cs->layout);
  la_t_fill_qkv(&q, &k, &v, LA_T_INPUTS_DEFAULT, seed);
  liteattn_mask_geometry_t g;
  LA_CHECK_STATUS(liteattn_mask_geometry(B, Hq, Sq, Sk, D, dtype, &g), LITEATTN_OK, "geometry");
  const int64_t Tk = g.tiles_k, W = g.words_per_row;
  float *lse = malloc(sizeof(float) * (size_t)(B * Hq * Sq));
  uint32_t *rmask = malloc((size_t)g.bytes), *wmask = malloc((size_t)g.bytes);
  for (int64_t i = 0; i < g.words; ++i) wmask[i] = 0xa5a5a5a5u; /* garbage the call must replace */
  la_rng_t rng = la_rng_make(seed, 99);
  /* Padding bits of read masks are set: readers must ignore them. */
  const uint32_t pad = Tk % 32 ? ~(uint32_t)((1ull << (Tk % 32)) - 1u) : 0u;
  liteattn_range_t mk[1], mq[1];
  int nmk = 0, nmq = 0;
  switch (kind) {
    case LA_MASK_NONE: break;
    case LA_MASK_EMPTY:
      for (int64_t r = 0; r < g.rows; ++r)
        for (int64_t w = 0; w < W; ++w) rmask[r * W + w] = w == W - 1 ? pad : 0u;
      break;
    case LA_MASK_SINGLE:
      for (int64_t r = 0; r < g.rows; ++r) {
        for (int64_t w = 0; w < W; ++w) rmask[r * W + w] = w == W - 1 ? pad : 0u;
        la_t_set_bit(rmask, &g, r, (r * 7 + 3) % Tk, 1);
      }
      break;
    case LA_MASK_RANDOM:
      for (int64_t i = 0; i < g.words; ++i) rmask[i] = (uint32_t)la_rng_u64(&rng);
      /* A key range inside one tile's span and a query range of a few tokens. */
      mk[0].begin = Sk / 3, mk[0].end = Sk / 3 + 1 + Sk / 17;
      mq[0].begin = (Sq * 2) / 3, mq[0].end = (Sq * 2) / 3 + 1;
      nmk = nmq = 1;
      break;
  }
  liteattn_fwd_args_t a = la_t_args(&q, &k, &v, &o);
  a.lse = lse;
  a.read_mask = kind == LA_MASK_NONE ? NULL : rmask;
  a.read_mask_words = kind == LA_MASK_NONE ? 0 : (size_t)g.words;
  a.write_mask = wmask;
  a.write_mask_words = (size_t)g.words;
  a.criterion = run_index % 2 ? LITEATTN_CRITERION_PEAK : LITEATTN_CRITERION_MASS;
  static const float thr_mass[] = {-12.0f, -6.0f, -9.0f}, thr_peak[] = {-4.0f, -8.0f, -6.0f};
  a.threshold = a.criterion == LITEATTN_CRITERION_MASS ? thr_mass[(run_index / 2) % 3]
                                                        : thr_peak[(run_index / 2) % 3];
  a.must_do_k = mk, a.num_must_do_k = nmk, a.must_do_q = mq, a.num_must_do_q = nmq;
  char what[160];
  snprintf(what, sizeof what, "%s %s mask=%s %s thr=%g", cs->name, la_t_dtype_name(dtype),
           la_mask_names[kind], a.criterion == LITEATTN_CRITERION_PEAK ? "PEAK" : "MASS",
           (double)a.threshold);
  double t_fwd = la_t_now();
  LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, what);
  t_fwd = la_t_now() - t_fwd;
  LA_CHECK(la_t_padding_intact(&o), "%s: o padding was written", what);
  LA_CHECK(la_t_padding_bits_zero(wmask, &g), "%s: written mask has padding bits set", what);

  if (kind == LA_MASK_EMPTY) { /* every row empty: exact zeros and -inf, nothing written */
    int64_t bad_o = 0, bad_l = 0, bad_m = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < Sq; ++s)
        for (int64_t h = 0; h < Hq; ++h) {
          for (int64_t d = 0; d < D; ++d) bad_o += la_t_get(&o.t, b, s, h, d) != 0.0;
          const float l = lse[(b * Hq + h) * Sq + s];
          bad_l += !(isinf(l) && l < 0);
        }
    for (int64_t i = 0; i < g.words; ++i) bad_m += wmask[i] != 0;
    LA_CHECK(bad_o == 0 && bad_l == 0 && bad_m == 0,
             "%s: %lld non-zero O, %lld LSE != -inf, %lld non-zero mask words", what,
             (long long)bad_o, (long long)bad_l, (long long)bad_m);
  }

  /* Rows the oracle checks: evenly spread, first and last always, within the budget. */
  const double row_cost = (double)g.block_m * (double)Sk * (double)D;
  int64_t n_check = budget > 0 ? (int64_t)(budget / row_cost) : g.rows;
  if (n_check < 2) n_check = 2;
  if (n_check > g.rows) n_check = g.rows;
  la_t_problem_t P = {&q.t, &k.t, &v.t, 0, g, a.read_mask, mk, nmk, mq, nmq};
  P.scale = (float)(1.0 / sqrt((double)D)); /* the library resolves scale 0 to this float */
  la_t_ref_t ref = la_t_ref_alloc(&P);
  const double ulp = la_ulp(dtype);
  double worst_o = -1, worst_l = -1;
  long long wo[4] = {0}, wl[3] = {0};
  double wo_got = 0, wo_ref = 0, wl_got = 0, wl_ref = 0;
  int64_t empty_bad = 0, mask_bad = 0, subset_bad = 0;
  int64_t prev = -1;
  for (int64_t i = 0; i < n_check; ++i) {
    const int64_t row = n_check == 1 ? 0 : i * (g.rows - 1) / (n_check - 1);
    if (row == prev) continue;
    prev = row;
    const int64_t b = row / (Hq * g.tiles_q), hq = (row / g.tiles_q) % Hq, qt = row % g.tiles_q;
    la_t_ref_qtile(&P, b, hq, qt, &ref);
    ++g_rows_checked;
    for (int64_t r = 0; r < ref.nq; ++r) {
      const int64_t s = qt * g.block_m + r;
      const float l = lse[(b * Hq + hq) * Sq + s];
      if (ref.first < 0) {
        empty_bad += !(isinf(l) && l < 0);
        for (int64_t d = 0; d < D; ++d) empty_bad += la_t_get(&o.t, b, s, hq, d) != 0.0;
        continue;
      }
      for (int64_t d = 0; d < D; ++d) {
        const double want = la_t_round(ref.o[r * D + d], dtype), got = la_t_get(&o.t, b, s, hq, d);
        const double tol = ulp * fabs(ref.o[r * D + d]) + 2e-5;
        const double ratio = isnan(got) ? INFINITY : fabs(got - want) / tol;
        if (ratio > worst_o) {
          worst_o = ratio, wo_got = got, wo_ref = want;
          wo[0] = b, wo[1] = s, wo[2] = hq, wo[3] = d;
        }
      }
      const double ltol = 2e-5 + 1e-6 * fabs(ref.lse[r]);
      const double lratio = isnan(l) ? INFINITY : fabs((double)l - ref.lse[r]) / ltol;
      if (lratio > worst_l) {
        worst_l = lratio, wl_got = l, wl_ref = ref.lse[r];
        wl[0] = b, wl[1] = hq, wl[2] = s;
      }
    }
    for (int64_t j = 0; j < Tk; ++j) {
      const int got = la_t_bit(wmask, &g, row, j);
      const int want = la_t_expected_bit(&ref, j, a.criterion, a.threshold, LA_CRIT_TOL);
      const int ci = a.criterion == LITEATTN_CRITERION_PEAK;
      if (ref.visited[j] && !ref.must[j] && j != ref.first) {
        if (want < 0) ++g_tiles_near[ci];
        else if (got) ++g_tiles_kept[ci];
        else ++g_tiles_marked[ci];
      }
      if (got && !ref.visited[j]) ++subset_bad;
      if (want >= 0 && got != want) {
        if (mask_bad++ < 3) {
          const double cv = a.criterion == LITEATTN_CRITERION_PEAK ? ref.crit_peak[j]
                                                                   : ref.crit_mass[j];
          fprintf(stderr, "  %s: row %lld tile %lld written %d, fp64 wants %d (criterion %.6f, "
                  "thr %g, must %d, first %lld)\n", what, (long long)row, (long long)j, got,
                  want, cv, (double)a.threshold, ref.must[j], (long long)ref.first);
        }
      }
    }
  }
  if (worst_o > g_worst_o_ratio) g_worst_o_ratio = worst_o;
  if (worst_l > g_worst_lse_ratio) g_worst_lse_ratio = worst_l;
  LA_CHECK(worst_o <= 1.0, "%s: O max |diff|/tol = %.3g at [b %lld, s %lld, h %lld, d %lld]: "
           "got %.9g, ref (rounded) %.9g", what, worst_o, wo[0], wo[1], wo[2], wo[3], wo_got,
           wo_ref);
  LA_CHECK(worst_l <= 1.0, "%s: LSE max |diff|/tol = %.3g at [b %lld, h %lld, s %lld]: got %.9g, "
           "ref %.9g", what, worst_l, wl[0], wl[1], wl[2], wl_got, wl_ref);
  LA_CHECK(empty_bad == 0, "%s: %lld values of empty rows are not O=0 / LSE=-inf", what,
           (long long)empty_bad);
  LA_CHECK(subset_bad == 0, "%s: %lld written tiles were not visited", what,
           (long long)subset_bad);
  LA_CHECK(mask_bad == 0, "%s: %lld tiles differ from the fp64 criterion", what,
           (long long)mask_bad);
  if (getenv("LITEATTN_TEST_VERBOSE"))
    printf("  %-48s rows %lld/%lld  O %.3f  LSE %.3f (max |diff|/tol)  fwd %.2f s, total %.2f s\n",
           what, (long long)n_check, (long long)g.rows, worst_o, worst_l, t_fwd, la_t_now() - t_run);
  la_t_ref_free(&ref);
  free(lse), free(rmask), free(wmask);
  la_t_tensor_free(&q), la_t_tensor_free(&k), la_t_tensor_free(&v), la_t_tensor_free(&o);
}

int main(int argc, char **argv) {
  const double t0 = la_t_now();
  const int full = argc > 1 && strcmp(argv[1], "--long") == 0;
  const uint64_t seed = la_t_seed();
  /* Multiply-adds of oracle work per run in the quick tier (a 4224-long row costs 69M). */
  const double budget = full ? 0.0 : 4e7;
  static const liteattn_dtype_t dtypes[] = {LITEATTN_DTYPE_BF16, LITEATTN_DTYPE_FP16,
                                            LITEATTN_DTYPE_FP32};
  int run = 0;
  for (int c = 0; c < LA_NUM_CASES + LA_NUM_CPU_CASES; ++c) {
    const la_case_t *cs = c < LA_NUM_CASES ? &la_cases[c] : &la_cpu_cases[c - LA_NUM_CASES];
    const double work = (double)cs->B * cs->Hq * cs->Sq * cs->Sk * cs->D;
    for (int t = 0; t < 3; ++t)
      for (int m = 0; m < 4; ++m) {
        /* Quick tier: the one big case (4224 long) runs each mask kind in one dtype only. */
        if (!full && (work > 1e9 || LA_TEST_SANITIZED) && t != m % 3) continue;
        if (!full && LA_TEST_SANITIZED && work > 1e9 && (m == LA_MASK_NONE || m == LA_MASK_RANDOM))
          continue;
        la_run(cs, dtypes[t], (la_maskkind_t)m, budget, seed + (uint64_t)(c * 16 + t * 4 + m),
               run);
        ++run;
      }
  }
  /* Not vacuous: both criteria both marked and kept tiles over the table. */
  for (int ci = 0; ci < 2; ++ci)
    LA_CHECK(g_tiles_marked[ci] > 0 && g_tiles_kept[ci] > 0,
             "%s: %ld tiles marked, %ld kept: the inputs do not exercise the criterion",
             ci ? "PEAK" : "MASS", g_tiles_marked[ci], g_tiles_kept[ci]);
  printf("oracle: %d runs, %ld q-tile rows checked; worst O |diff|/tol %.3f, LSE %.3f; tiles "
         "MASS marked/kept/near-thr %ld/%ld/%ld, PEAK %ld/%ld/%ld\n",
         run, g_rows_checked, g_worst_o_ratio, g_worst_lse_ratio, g_tiles_marked[0],
         g_tiles_kept[0], g_tiles_near[0], g_tiles_marked[1], g_tiles_kept[1], g_tiles_near[1]);
  return la_t_summary(full ? "test_fwd_oracle --long" : "test_fwd_oracle", la_t_now() - t0);
}
