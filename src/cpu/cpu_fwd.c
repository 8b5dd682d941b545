/* cpu_fwd.c — the CPU backend: the executable spec of DESIGN.md §2 (visit order, criteria,
 * voting, marking), tiled exactly like the GPU kernels, fp32 accumulation, OpenMP over
 * (b, hq, q-tile) rows, which makes it deterministic: each row is computed by one thread alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "convert.h"

/* Vector kernels: one build carries AVX-512, AVX2+FMA and baseline versions and picks one at load
 * time, so the library stays portable without leaving SIMD width on the table. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LITEATTN_NO_CLONES)
#define LA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LA_CLONES
#endif

/* One element of a tensor as float. */
static inline float la_load(const void *base, int64_t i, liteattn_dtype_t t) {
  switch (t) {
    case LITEATTN_DTYPE_BF16: return la_bf16_to_float(((const uint16_t *)base)[i]);
    case LITEATTN_DTYPE_FP16: return la_fp16_to_float(((const uint16_t *)base)[i]);
    case LITEATTN_DTYPE_FP32: break;
  }
  return ((const float *)base)[i];
}

static inline void la_store(void *base, int64_t i, liteattn_dtype_t t, float x) {
  switch (t) {
    case LITEATTN_DTYPE_BF16: ((uint16_t *)base)[i] = la_float_to_bf16(x); return;
    case LITEATTN_DTYPE_FP16: ((uint16_t *)base)[i] = la_float_to_fp16(x); return;
    case LITEATTN_DTYPE_FP32: break;
  }
  ((float *)base)[i] = x;
}

/* s[r*BN + c] = sum_d q[r*D + d] * kt[d*BN + c] for r < nq, c < BN (kt is K transposed). */
LA_CLONES static void la_qk(const float *restrict q, const float *restrict kt, float *restrict s,
                            int nq, int D, int BN) {
  for (int r = 0; r < nq; ++r) {
    float *restrict sr = s + (int64_t)r * BN;
    for (int c = 0; c < BN; ++c) sr[c] = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float qd = q[(int64_t)r * D + d];
      const float *restrict kr = kt + (int64_t)d * BN;
      for (int c = 0; c < BN; ++c) sr[c] += qd * kr[c];
    }
  }
}

/* acc[r] = acc[r] * alpha[r] + sum_c p[r*BN + c] * v[c*D + :] for r < nq, c < nk. */
LA_CLONES static void la_pv(const float *restrict p, const float *restrict v,
                            const float *restrict alpha, float *restrict acc, int nq, int nk,
                            int D, int BN) {
  for (int r = 0; r < nq; ++r) {
    float *restrict ar = acc + (int64_t)r * D;
    const float a = alpha[r];
    for (int d = 0; d < D; ++d) ar[d] *= a;
    for (int c = 0; c < nk; ++c) {
      const float pc = p[(int64_t)r * BN + c];
      const float *restrict vr = v + (int64_t)c * D;
      for (int d = 0; d < D; ++d) ar[d] += pc * vr[d];
    }
  }
}

/* max of s[0..n), n >= 1, with 16 partial maxima so it vectorizes without -ffast-math. */
LA_CLONES static float la_row_max(const float *restrict s, int n) {
  float part[16];
  for (int k = 0; k < 16; ++k) part[k] = -INFINITY;
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) part[k] = s[i + k] > part[k] ? s[i + k] : part[k];
  float mx = -INFINITY;
  for (; i < n; ++i) mx = s[i] > mx ? s[i] : mx;
  for (int k = 0; k < 16; ++k) mx = part[k] > mx ? part[k] : mx;
  return mx;
}

/* s[i] = 2^((s[i] - m) * c) for i < n; returns the sum. A polynomial exp2 (max relative error
 * 1.7e-7) that vectorizes, where a libm exp2f call per score does not. */
LA_CLONES static float la_exp2_row(float *restrict s, int n, float m, float c) {
  for (int i = 0; i < n; ++i) {
    float x = (s[i] - m) * c;
    x = x > -126.0f ? x : -126.0f;
    const float r = x + 12582912.0f; /* 1.5 * 2^23: the low mantissa bits hold round(x) */
    const float f = x - (r - 12582912.0f);
    float p = 1.5403530e-4f;
    p = p * f + 1.3333558e-3f;
    p = p * f + 9.6181291e-3f;
    p = p * f + 5.5504109e-2f;
    p = p * f + 2.4022651e-1f;
    p = p * f + 6.9314718e-1f;
    p = p * f + 1.0f;
    uint32_t rb, pb; /* 2^round(x): add round(x) (the low bits of r) to p's exponent */
    memcpy(&rb, &r, 4);
    memcpy(&pb, &p, 4);
    pb += rb << 23;
    memcpy(&p, &pb, 4);
    s[i] = p;
  }
  float part[16] = {0};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) part[k] += s[i + k];
  float sum = 0.0f;
  for (; i < n; ++i) sum += s[i];
  for (int k = 0; k < 16; ++k) sum += part[k];
  return sum;
}

/* Per-thread scratch, one allocation. */
typedef struct la_scratch {
  float *q, *kt, *v, *s, *acc, *m, *l, *alpha;
  uint32_t *bits;
} la_scratch_t;

static float *la_carve(float **cur, int64_t n) {
  float *p = *cur;
  *cur += (n + 15) & ~(int64_t)15; /* keep every array 64-byte aligned */
  return p;
}

/* One (b, hq, q-tile) row of the spec. */
static void la_cpu_row(const la_plan_t *p, int64_t row, la_scratch_t *w) {
  const liteattn_mask_geometry_t *g = &p->geom;
  const int BM = (int)g->block_m, BN = (int)g->block_n, D = (int)p->D;
  const int64_t Tq = g->tiles_q, Tk = g->tiles_k, W = g->words_per_row;
  const int64_t b = row / (p->Hq * Tq), hq = (row / Tq) % p->Hq, qt = row % Tq;
  const int64_t hk = hq / (p->Hq / p->Hkv);
  const int64_t q0 = qt * BM;
  const int nq = (int)(p->Sq - q0 < BM ? p->Sq - q0 : BM);
  const int must_q = la_ranges_hit(p->must_q, p->num_must_q, q0, q0 + nq);
  const float c = p->scale_log2, thr = p->threshold;
  const uint32_t *rrow = p->read_mask ? p->read_mask + row * W : NULL;

  for (int r = 0; r < nq; ++r) {
    const int64_t qi = b * p->q_sb + (q0 + r) * p->q_ss + hq * p->q_sh;
    for (int d = 0; d < D; ++d) w->q[(int64_t)r * D + d] = la_load(p->q, qi + d, p->dtype);
    w->m[r] = -INFINITY;
    w->l[r] = 0.0f;
  }
  memset(w->acc, 0, sizeof(float) * (size_t)nq * (size_t)D);
  memset(w->bits, 0, sizeof(uint32_t) * (size_t)W);

  const int64_t diag = la_diag_tile(qt, BM, BN, p->Sq, p->Sk, Tk);
  int first = 1;
  for (int64_t i = 0; i < Tk; ++i) {
    const int64_t j = diag + i < Tk ? diag + i : diag + i - Tk;
    const int64_t k0 = j * BN;
    const int nk = (int)(p->Sk - k0 < BN ? p->Sk - k0 : BN);
    const int must_k = la_ranges_hit(p->must_k, p->num_must_k, k0, k0 + nk);
    if (!(must_q || must_k || !rrow || (rrow[j >> 5] >> (j & 31)) & 1u)) continue;

    /* K transposed (padding keys zero), V row-major. */
    for (int cc = 0; cc < BN; ++cc) {
      if (cc < nk) {
        const int64_t ki = b * p->k_sb + (k0 + cc) * p->k_ss + hk * p->k_sh;
        const int64_t vi = b * p->v_sb + (k0 + cc) * p->v_ss + hk * p->v_sh;
        for (int d = 0; d < D; ++d) {
          w->kt[(int64_t)d * BN + cc] = la_load(p->k, ki + d, p->dtype);
          w->v[(int64_t)cc * D + d] = la_load(p->v, vi + d, p->dtype);
        }
      } else {
        for (int d = 0; d < D; ++d) w->kt[(int64_t)d * BN + cc] = 0.0f;
      }
    }
    la_qk(w->q, w->kt, w->s, nq, D, BN);

    /* Criterion (against the state before this tile), then the online-softmax update. */
    int negligible = !first;
    const float log2n = log2f((float)nk);
    for (int r = 0; r < nq; ++r) {
      float *sr = w->s + (int64_t)r * BN;
      const float smax = la_row_max(sr, nk);
      if (negligible) {
        float crit = (smax - w->m[r]) * c;
        if (p->criterion == LITEATTN_CRITERION_MASS) crit += log2n - log2f(w->l[r]);
        negligible = crit < thr;
      }
      const float m_new = smax > w->m[r] ? smax : w->m[r];
      const float alpha = exp2f((w->m[r] - m_new) * c);
      const float sum = la_exp2_row(sr, nk, m_new, c);
      w->l[r] = w->l[r] * alpha + sum;
      w->m[r] = m_new;
      w->alpha[r] = alpha;
    }
    la_pv(w->s, w->v, w->alpha, w->acc, nq, nk, D, BN);
    if (!negligible || must_k || must_q) w->bits[j >> 5] |= 1u << (j & 31);
    first = 0;
  }

  for (int r = 0; r < nq; ++r) {
    const int64_t oi = b * p->o_sb + (q0 + r) * p->o_ss + hq * p->o_sh;
    const float l = w->l[r];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int d = 0; d < D; ++d) la_store(p->o, oi + d, p->dtype, w->acc[(int64_t)r * D + d] * inv);
    if (p->lse)
      p->lse[(b * p->Hq + hq) * p->Sq + q0 + r] =
          l > 0.0f ? w->m[r] * p->scale + logf(l) : -INFINITY;
  }
  if (p->write_mask) memcpy(p->write_mask + row * W, w->bits, sizeof(uint32_t) * (size_t)W);
}

liteattn_status_t la_cpu_fwd(const la_plan_t *p) {
  const int64_t BM = p->geom.block_m, BN = p->geom.block_n, D = p->D, W = p->geom.words_per_row;
  const int64_t floats = ((BM * D + 15) & ~15) + ((D * BN + 15) & ~15) * 2
                         + ((BM * BN + 15) & ~15) + ((BM * D + 15) & ~15) + ((BM + 15) & ~15) * 3;
  const int64_t rows = p->geom.rows;
  int failed = 0;
#pragma omp parallel
  {
    float *buf = (float *)aligned_alloc(64, (size_t)floats * sizeof(float));
    uint32_t *bits = (uint32_t *)malloc((size_t)W * sizeof(uint32_t));
    la_scratch_t w;
    memset(&w, 0, sizeof w);
    if (buf && bits) {
      float *cur = buf;
      w.q = la_carve(&cur, BM * D);
      w.kt = la_carve(&cur, D * BN);
      w.v = la_carve(&cur, BN * D);
      w.s = la_carve(&cur, BM * BN);
      w.acc = la_carve(&cur, BM * D);
      w.m = la_carve(&cur, BM);
      w.l = la_carve(&cur, BM);
      w.alpha = la_carve(&cur, BM);
      w.bits = bits;
    } else {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t row = 0; row < rows; ++row)
      if (buf && bits) la_cpu_row(p, row, &w);
    free(buf);
    free(bits);
  }
  if (failed)
    return la_error(LITEATTN_ERR_OUT_OF_MEMORY, "CPU backend: %lld bytes of per-thread scratch",
                    (long long)(floats * 4));
  return LITEATTN_OK;
}
