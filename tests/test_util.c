/* test_util.c — shared test helpers and the fp64 oracle (see test_util.h). The oracle is written
 * from the header's spec alone: it shares no code with src/ except the dtype conversions of
 * src/cpu/convert.h, which define what "rounded to bf16/fp16" means project-wide. */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/cpu/convert.h"

int la_t_failures = 0;
long la_t_checks = 0;

void la_t_fail(const char *file, int line, const char *fmt, ...) {
  ++la_t_failures;
  if (la_t_failures > 50) {
    if (la_t_failures == 51) fprintf(stderr, "... further failures not printed\n");
    return;
  }
  fprintf(stderr, "FAIL %s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

double la_t_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int la_t_summary(const char *program, double seconds) {
  const int ok = la_t_failures == 0 && la_t_checks > 0;
  printf("%s: %s, %ld checks, %d failures, %.2f s, seed %llu\n", program, ok ? "PASS" : "FAIL",
         la_t_checks, la_t_failures, seconds, (unsigned long long)la_t_seed());
  fflush(stdout);
  return ok ? 0 : 1;
}

/* ---- RNG: splitmix64 (one 64-bit state, full period, good enough for test data) ---- */
uint64_t la_t_seed(void) {
  static int done = 0;
  static uint64_t seed = LA_T_DEFAULT_SEED;
  if (!done) {
    const char *env = getenv("LITEATTN_TEST_SEED");
    if (env && *env) seed = strtoull(env, NULL, 0);
    printf("seed %llu (override with LITEATTN_TEST_SEED)\n", (unsigned long long)seed);
    done = 1;
  }
  return seed;
}

uint64_t la_rng_u64(la_rng_t *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

la_rng_t la_rng_make(uint64_t seed, uint64_t stream) {
  la_rng_t r = {seed ^ (stream * 0xd1b54a32d192ed03ull)};
  la_rng_u64(&r);
  return r;
}

double la_rng_uniform(la_rng_t *r) { return (double)(la_rng_u64(r) >> 11) * 0x1.0p-53; }

double la_rng_normal(la_rng_t *r) {
  const double u1 = 1.0 - la_rng_uniform(r), u2 = la_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- tensors ---- */
size_t la_t_dtype_size(liteattn_dtype_t t) { return t == LITEATTN_DTYPE_FP32 ? 4 : 2; }

const char *la_t_dtype_name(liteattn_dtype_t t) {
  return t == LITEATTN_DTYPE_BF16 ? "bf16" : t == LITEATTN_DTYPE_FP16 ? "fp16" : "fp32";
}

double la_t_round(double x, liteattn_dtype_t t) {
  switch (t) {
    case LITEATTN_DTYPE_BF16: return la_bf16_to_float(la_float_to_bf16((float)x));
    case LITEATTN_DTYPE_FP16: return la_fp16_to_float(la_float_to_fp16((float)x));
    case LITEATTN_DTYPE_FP32: break;
  }
  return (float)x;
}

la_t_tensor_t la_t_tensor_make(int64_t B, int64_t S, int64_t H, int64_t D, liteattn_dtype_t dtype,
                               la_layout_t layout) {
  la_t_tensor_t r;
  memset(&r, 0, sizeof r);
  liteattn_tensor_t *t = &r.t;
  t->dtype = dtype;
  t->batch = B, t->seqlen = S, t->heads = H, t->head_dim = D;
  switch (layout) {
    case LA_LAYOUT_BSHD: t->stride_h = D, t->stride_s = H * D, t->stride_b = S * H * D; break;
    case LA_LAYOUT_BHSD: t->stride_s = D, t->stride_h = S * D, t->stride_b = H * S * D; break;
    case LA_LAYOUT_PADDED:
      t->stride_h = D + 8, t->stride_s = H * (D + 8) + 16, t->stride_b = S * t->stride_s + 24;
      break;
  }
  r.elems = (size_t)(B * t->stride_b);
  const size_t es = la_t_dtype_size(dtype);
  r.base = malloc(r.elems * es + 64);
  /* Sentinel: all-ones bytes are NaN in bf16, fp16 and fp32 alike. */
  memset(r.base, 0xff, r.elems * es + 64);
  t->data = r.base;
  return r;
}

void la_t_tensor_free(la_t_tensor_t *t) {
  free(t->base);
  t->base = NULL;
  t->t.data = NULL;
}

int64_t la_t_index(const liteattn_tensor_t *t, int64_t b, int64_t s, int64_t h, int64_t d) {
  return b * t->stride_b + s * t->stride_s + h * t->stride_h + d;
}

double la_t_get(const liteattn_tensor_t *t, int64_t b, int64_t s, int64_t h, int64_t d) {
  const int64_t i = la_t_index(t, b, s, h, d);
  switch (t->dtype) {
    case LITEATTN_DTYPE_BF16: return la_bf16_to_float(((const uint16_t *)t->data)[i]);
    case LITEATTN_DTYPE_FP16: return la_fp16_to_float(((const uint16_t *)t->data)[i]);
    case LITEATTN_DTYPE_FP32: break;
  }
  return ((const float *)t->data)[i];
}

void la_t_set(liteattn_tensor_t *t, int64_t b, int64_t s, int64_t h, int64_t d, double x) {
  const int64_t i = la_t_index(t, b, s, h, d);
  switch (t->dtype) {
    case LITEATTN_DTYPE_BF16: ((uint16_t *)t->data)[i] = la_float_to_bf16((float)x); return;
    case LITEATTN_DTYPE_FP16: ((uint16_t *)t->data)[i] = la_float_to_fp16((float)x); return;
    case LITEATTN_DTYPE_FP32: break;
  }
  ((float *)t->data)[i] = (float)x;
}

int la_t_padding_intact(const la_t_tensor_t *r) {
  const liteattn_tensor_t *t = &r->t;
  const size_t es = la_t_dtype_size(t->dtype);
  unsigned char *in_view = calloc(r->elems, 1);
  for (int64_t b = 0; b < t->batch; ++b)
    for (int64_t s = 0; s < t->seqlen; ++s)
      for (int64_t h = 0; h < t->heads; ++h)
        memset(in_view + la_t_index(t, b, s, h, 0), 1, (size_t)t->head_dim);
  int ok = 1;
  const unsigned char *bytes = r->base;
  for (size_t i = 0; i < r->elems && ok; ++i)
    if (!in_view[i])
      for (size_t e = 0; e < es; ++e) ok &= bytes[i * es + e] == 0xff;
  free(in_view);
  return ok;
}

void la_t_fill_qkv(la_t_tensor_t *q, la_t_tensor_t *k, la_t_tensor_t *v, la_t_inputs_t in,
                   uint64_t seed) {
  const int64_t B = q->t.batch, Sq = q->t.seqlen, Sk = k->t.seqlen, Hq = q->t.heads;
  const int64_t Hkv = k->t.heads, D = q->t.head_dim, group = Hq / Hkv;
  la_rng_t rf = la_rng_make(seed, 1), rq = la_rng_make(seed, 2), rk = la_rng_make(seed, 3),
           rv = la_rng_make(seed, 4);
  /* Random Fourier features of exp(-dist^2 / (2 width^2)), one set per (b, kv head). */
  double *omega = malloc(sizeof(double) * (size_t)(B * Hkv * D));
  double *phase = malloc(sizeof(double) * (size_t)(B * Hkv * D));
  for (int64_t i = 0; i < B * Hkv * D; ++i) {
    omega[i] = la_rng_normal(&rf) / in.width;
    phase[i] = 6.283185307179586 * la_rng_uniform(&rf);
  }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < Sq; ++s)
      for (int64_t h = 0; h < Hq; ++h) {
        const double pos = ((double)s + 0.5) * (double)Sk / (double)Sq - 0.5;
        const double *om = omega + (b * Hkv + h / group) * D, *ph = phase + (b * Hkv + h / group) * D;
        for (int64_t d = 0; d < D; ++d)
          la_t_set(&q->t, b, s, h, d,
                   in.gain * 1.4142135623730951 * cos(om[d] * pos + ph[d])
                       + in.noise * la_rng_normal(&rq));
      }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < Sk; ++s)
      for (int64_t h = 0; h < Hkv; ++h) {
        const double *om = omega + (b * Hkv + h) * D, *ph = phase + (b * Hkv + h) * D;
        for (int64_t d = 0; d < D; ++d) {
          la_t_set(&k->t, b, s, h, d,
                   in.gain * 1.4142135623730951 * cos(om[d] * (double)s + ph[d])
                       + in.noise * la_rng_normal(&rk));
          la_t_set(&v->t, b, s, h, d, la_rng_normal(&rv));
        }
      }
  free(omega);
  free(phase);
}

liteattn_fwd_args_t la_t_args(la_t_tensor_t *q, la_t_tensor_t *k, la_t_tensor_t *v,
                              la_t_tensor_t *o) {
  liteattn_fwd_args_t a = LITEATTN_FWD_ARGS_INIT;
  a.q = q->t, a.k = k->t, a.v = v->t, a.o = o->t;
  a.backend = LITEATTN_BACKEND_CPU;
  return a;
}

/* ---- masks ---- */
int la_t_bit(const uint32_t *m, const liteattn_mask_geometry_t *g, int64_t row, int64_t j) {
  return (int)((m[row * g->words_per_row + j / 32] >> (j % 32)) & 1u);
}

void la_t_set_bit(uint32_t *m, const liteattn_mask_geometry_t *g, int64_t row, int64_t j, int on) {
  uint32_t *w = &m[row * g->words_per_row + j / 32];
  *w = on ? *w | (1u << (j % 32)) : *w & ~(1u << (j % 32));
}

int la_t_padding_bits_zero(const uint32_t *m, const liteattn_mask_geometry_t *g) {
  const int64_t tail = g->tiles_k % 32;
  if (tail == 0) return 1;
  const uint32_t pad = ~(uint32_t)((1ull << tail) - 1u);
  for (int64_t r = 0; r < g->rows; ++r)
    if (m[r * g->words_per_row + g->words_per_row - 1] & pad) return 0;
  return 1;
}

/* ---- the fp64 oracle ---- */
int64_t la_t_diag_tile(int64_t qt, int64_t BM, int64_t BN, int64_t Sq, int64_t Sk, int64_t Tk) {
  const int64_t d = (qt * BM * Sk) / (Sq * BN);
  return d < Tk - 1 ? d : Tk - 1;
}

static int la_t_hits(const liteattn_range_t *r, int n, int64_t lo, int64_t hi) {
  for (int i = 0; i < n; ++i)
    if (r[i].begin < hi && r[i].end > lo) return 1;
  return 0;
}

la_t_ref_t la_t_ref_alloc(const la_t_problem_t *p) {
  la_t_ref_t r;
  r.Tk = p->geom.tiles_k;
  r.nq = 0;
  r.first = -1;
  const size_t BM = (size_t)p->geom.block_m, D = (size_t)p->q->head_dim, Tk = (size_t)r.Tk;
  r.o = malloc(sizeof(double) * BM * D);
  r.lse = malloc(sizeof(double) * BM);
  r.visited = malloc(Tk);
  r.must = malloc(Tk);
  r.crit_peak = malloc(sizeof(double) * Tk);
  r.crit_mass = malloc(sizeof(double) * Tk);
  return r;
}

void la_t_ref_free(la_t_ref_t *r) {
  free(r->o), free(r->lse), free(r->visited), free(r->must), free(r->crit_peak),
      free(r->crit_mass);
  memset(r, 0, sizeof *r);
}

void la_t_ref_qtile(const la_t_problem_t *p, int64_t b, int64_t hq, int64_t qt, la_t_ref_t *r) {
  const liteattn_mask_geometry_t *g = &p->geom;
  const int64_t BM = g->block_m, BN = g->block_n, Tq = g->tiles_q, Tk = g->tiles_k;
  const int64_t Sq = p->q->seqlen, Sk = p->k->seqlen, Hq = p->q->heads, Hkv = p->k->heads;
  const int64_t D = p->q->head_dim, hk = hq / (Hq / Hkv);
  const int64_t q0 = qt * BM, nq = Sq - q0 < BM ? Sq - q0 : BM;
  const int64_t row = (b * Hq + hq) * Tq + qt;
  const double c = p->scale * 1.4426950408889634073599;
  r->nq = nq;

  /* Visit set. */
  const int must_q = la_t_hits(p->must_q, p->num_must_q, q0, q0 + nq);
  for (int64_t j = 0; j < Tk; ++j) {
    const int64_t k0 = j * BN, k1 = k0 + BN < Sk ? k0 + BN : Sk;
    const int must = must_q || la_t_hits(p->must_k, p->num_must_k, k0, k1);
    r->must[j] = (unsigned char)must;
    r->visited[j] = (unsigned char)(must || !p->read_mask || la_t_bit(p->read_mask, g, row, j));
  }

  /* Raw scores of every visited key, fp64 from the stored (already rounded) inputs. */
  double *qd = malloc(sizeof(double) * (size_t)(nq * D));
  double *kd = malloc(sizeof(double) * (size_t)D);
  double *s = malloc(sizeof(double) * (size_t)(nq * Sk));
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t d = 0; d < D; ++d) qd[i * D + d] = la_t_get(p->q, b, q0 + i, hq, d);
  for (int64_t key = 0; key < Sk; ++key) {
    if (!r->visited[key / BN]) continue;
    for (int64_t d = 0; d < D; ++d) kd[d] = la_t_get(p->k, b, key, hk, d);
    for (int64_t i = 0; i < nq; ++i) {
      double acc = 0.0;
      for (int64_t d = 0; d < D; ++d) acc += qd[i * D + d] * kd[d];
      s[i * Sk + key] = acc;
    }
  }

  /* Criteria in visit order with running m and l (log2 domain, as the header defines them). */
  double *m = malloc(sizeof(double) * (size_t)nq), *l = malloc(sizeof(double) * (size_t)nq);
  for (int64_t i = 0; i < nq; ++i) m[i] = -INFINITY, l[i] = 0.0;
  const int64_t diag = la_t_diag_tile(qt, BM, BN, Sq, Sk, Tk);
  r->first = -1;
  for (int64_t step = 0; step < Tk; ++step) {
    const int64_t j = (diag + step) % Tk;
    r->crit_peak[j] = NAN, r->crit_mass[j] = NAN;
    if (!r->visited[j]) continue;
    const int64_t k0 = j * BN, n = Sk - k0 < BN ? Sk - k0 : BN;
    double peak = -INFINITY, mass = -INFINITY;
    for (int64_t i = 0; i < nq; ++i) {
      double smax = -INFINITY;
      for (int64_t key = k0; key < k0 + n; ++key) smax = fmax(smax, s[i * Sk + key]);
      if (r->first >= 0) {
        const double pk = (smax - m[i]) * c;
        peak = fmax(peak, pk);
        mass = fmax(mass, pk + log2((double)n) - log2(l[i]));
      }
      const double m_new = fmax(m[i], smax);
      double sum = 0.0;
      for (int64_t key = k0; key < k0 + n; ++key) sum += exp2((s[i * Sk + key] - m_new) * c);
      l[i] = l[i] * exp2((m[i] - m_new) * c) + sum;
      m[i] = m_new;
    }
    if (r->first < 0) {
      r->first = j;
      peak = mass = INFINITY;
    }
    r->crit_peak[j] = peak, r->crit_mass[j] = mass;
  }

  /* O and LSE: exact softmax over the visited keys, with the final max (natural log). The
   * scores are overwritten by their weights exp((s - max) * scale). */
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t d = 0; d < D; ++d) r->o[i * D + d] = 0.0;
    if (r->first < 0) {
      r->lse[i] = -INFINITY;
      continue;
    }
    double mx = -INFINITY, sum = 0.0;
    for (int64_t key = 0; key < Sk; ++key)
      if (r->visited[key / BN]) mx = fmax(mx, s[i * Sk + key]);
    for (int64_t key = 0; key < Sk; ++key) {
      if (!r->visited[key / BN]) continue;
      s[i * Sk + key] = exp((s[i * Sk + key] - mx) * p->scale);
      sum += s[i * Sk + key];
    }
    r->lse[i] = mx * p->scale + log(sum);
    l[i] = sum;
  }
  for (int64_t key = 0; key < Sk && r->first >= 0; ++key) {
    if (!r->visited[key / BN]) continue;
    for (int64_t d = 0; d < D; ++d) kd[d] = la_t_get(p->v, b, key, hk, d);
    for (int64_t i = 0; i < nq; ++i) {
      const double e = s[i * Sk + key] / l[i];
      for (int64_t d = 0; d < D; ++d) r->o[i * D + d] += e * kd[d];
    }
  }
  free(qd), free(kd), free(s), free(m), free(l);
}

int la_t_expected_bit(const la_t_ref_t *r, int64_t j, liteattn_criterion_t crit, double thr,
                      double tol) {
  if (!r->visited[j]) return 0;
  if (r->must[j] || j == r->first) return 1;
  const double v = crit == LITEATTN_CRITERION_PEAK ? r->crit_peak[j] : r->crit_mass[j];
  if (fabs(v - thr) <= tol) return -1;
  return v >= thr;
}
