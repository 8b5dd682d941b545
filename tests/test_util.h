/* test_util.h — what every C test program shares: checks that count failures, the seeded RNG,
 * strided test tensors with realistic (local, peaky) attention inputs, and the fp64 oracle of
 * DESIGN.md §2 (visit set, visit order, O, LSE and both marking criteria), written from the spec in
 * include/liteattn.h without any of the library's code. The GPU tests may use it too. */
#ifndef LITEATTN_TEST_UTIL_H
#define LITEATTN_TEST_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cases.h"
#include "liteattn.h"

/* ---- checks: a failed check prints where and why and is counted; main() returns the count ---- */
extern int la_t_failures;
extern long la_t_checks;
void la_t_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#define LA_CHECK(cond, ...)                                             \
  do {                                                                  \
    ++la_t_checks;                                                      \
    if (!(cond)) la_t_fail(__FILE__, __LINE__, "(" #cond ") " __VA_ARGS__); \
  } while (0)
/* A status check that names both statuses and the library's last error. */
#define LA_CHECK_STATUS(got, want, what)                                                     \
  do {                                                                                       \
    liteattn_status_t la_got_ = (got), la_want_ = (want);                                    \
    ++la_t_checks;                                                                           \
    if (la_got_ != la_want_)                                                                 \
      la_t_fail(__FILE__, __LINE__, "%s: got %s, want %s (last error: \"%s\")", (what),      \
                liteattn_status_name(la_got_), liteattn_status_name(la_want_),               \
                liteattn_last_error());                                                      \
  } while (0)
/* Prints "<program>: PASS|FAIL, <n> checks, <f> failures, <seconds> s, seed <s>" and returns the
 * exit code (0 iff nothing failed and at least one check ran). */
int la_t_summary(const char *program, double seconds);
double la_t_now(void);

/* ---- seeded RNG: seed fixed, printed, overridable with env LITEATTN_TEST_SEED ---- */
#define LA_T_DEFAULT_SEED 20251127u
uint64_t la_t_seed(void); /* reads the env once, prints it once */
typedef struct la_rng {
  uint64_t s;
} la_rng_t;
la_rng_t la_rng_make(uint64_t seed, uint64_t stream);
uint64_t la_rng_u64(la_rng_t *r);
double la_rng_uniform(la_rng_t *r); /* [0, 1) */
double la_rng_normal(la_rng_t *r);

/* ---- tensors ---- */
typedef struct la_t_tensor {
  liteattn_tensor_t t;
  void *base;      /* allocation, t.data points into it */
  size_t elems;    /* elements in the allocation */
} la_t_tensor_t;

/* Allocates [B, S, H, D] in `layout`. Every element, padding included, starts as a sentinel
 * (NaN for inputs read by the library: reading padding would poison the result). */
la_t_tensor_t la_t_tensor_make(int64_t B, int64_t S, int64_t H, int64_t D, liteattn_dtype_t dtype,
                               la_layout_t layout);
void la_t_tensor_free(la_t_tensor_t *t);
int64_t la_t_index(const liteattn_tensor_t *t, int64_t b, int64_t s, int64_t h, int64_t d);
double la_t_get(const liteattn_tensor_t *t, int64_t b, int64_t s, int64_t h, int64_t d);
void la_t_set(liteattn_tensor_t *t, int64_t b, int64_t s, int64_t h, int64_t d, double x);
/* x rounded to dtype (round to nearest even), as a double. */
double la_t_round(double x, liteattn_dtype_t dtype);
/* Bytes of one element. */
size_t la_t_dtype_size(liteattn_dtype_t dtype);
const char *la_t_dtype_name(liteattn_dtype_t dtype);
/* 1 if every padding element (not in the [B,S,H,D] view) still holds its initial bytes. */
int la_t_padding_intact(const la_t_tensor_t *t);

/* Realistic attention inputs: token positions (queries mapped onto the key axis so that the
 * diagonal lines up for Sq != Sk) carry random Fourier features of a Gaussian kernel of width
 * `width` tokens, times `gain`, plus N(0, noise^2) per element; v ~ N(0, 1). Scores then peak
 * near the diagonal and decay with distance like video attention, so softmax is peaky enough that
 * thresholds actually mark tiles. Never zeros. */
typedef struct la_t_inputs {
  double gain, noise, width;
} la_t_inputs_t;
#define LA_T_INPUTS_DEFAULT ((la_t_inputs_t){1.0, 0.5, 40.0})
void la_t_fill_qkv(la_t_tensor_t *q, la_t_tensor_t *k, la_t_tensor_t *v, la_t_inputs_t in,
                   uint64_t seed);

/* Args for q, k, v, o (host, CPU backend), everything else from LITEATTN_FWD_ARGS_INIT. */
liteattn_fwd_args_t la_t_args(la_t_tensor_t *q, la_t_tensor_t *k, la_t_tensor_t *v,
                              la_t_tensor_t *o);

/* ---- masks ---- */
int la_t_bit(const uint32_t *mask, const liteattn_mask_geometry_t *g, int64_t row, int64_t j);
void la_t_set_bit(uint32_t *mask, const liteattn_mask_geometry_t *g, int64_t row, int64_t j,
                  int on);
/* 1 if every padding bit (>= Tk in the last word of each row) is 0. */
int la_t_padding_bits_zero(const uint32_t *mask, const liteattn_mask_geometry_t *g);

/* ---- the fp64 oracle ---- */
typedef struct la_t_problem {
  const liteattn_tensor_t *q, *k, *v;
  double scale; /* the float scale the library uses, widened */
  liteattn_mask_geometry_t geom;
  const uint32_t *read_mask; /* NULL = all tiles */
  const liteattn_range_t *must_k;
  int num_must_k;
  const liteattn_range_t *must_q;
  int num_must_q;
} la_t_problem_t;

/* The reference for one (b, hq, q-tile) row, all in fp64. */
typedef struct la_t_ref {
  int64_t nq, Tk;
  double *o;     /* [nq, D] */
  double *lse;   /* [nq], natural log; -INFINITY for an empty row */
  unsigned char *visited; /* [Tk] */
  unsigned char *must;    /* [Tk]: visited and must-do (key range or query range) */
  int64_t first;          /* first visited tile in visit order, -1 if none */
  /* [Tk] the criterion value that decides the vote: the max over valid rows of the row's value
   * (a tile is negligible iff every row's value < thr iff this max < thr). +INFINITY for the
   * first visited tile, NAN for an unvisited one. */
  double *crit_peak, *crit_mass;
} la_t_ref_t;

la_t_ref_t la_t_ref_alloc(const la_t_problem_t *p);
void la_t_ref_free(la_t_ref_t *r);
/* Fills `r` for row (b, hq, qt). */
void la_t_ref_qtile(const la_t_problem_t *p, int64_t b, int64_t hq, int64_t qt, la_t_ref_t *r);
/* The first tile of the visit order for q-tile qt (the header's formula, in exact integers). */
int64_t la_t_diag_tile(int64_t qt, int64_t BM, int64_t BN, int64_t Sq, int64_t Sk, int64_t Tk);
/* The bit the spec writes for tile j given the reference, criterion and thr; -1 if the criterion
 * value lies within `tol` of thr (either outcome is allowed there). */
int la_t_expected_bit(const la_t_ref_t *r, int64_t j, liteattn_criterion_t crit, double thr,
                      double tol);

#endif
