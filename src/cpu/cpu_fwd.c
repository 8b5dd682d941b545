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

/* dst[0..n) = the n elements of a tensor from element i on, as float. */
static void la_load_row(float *restrict dst, const void *base, int64_t i, int n,
                        liteattn_dtype_t t) {
  switch (t) {
    case LITEATTN_DTYPE_BF16:
      for (int d = 0; d < n; ++d) dst[d] = la_bf16_to_float(((const uint16_t *)base)[i + d]);
      return;
    case LITEATTN_DTYPE_FP16:
      for (int d = 0; d < n; ++d) dst[d] = la_fp16_to_float(((const uint16_t *)base)[i + d]);
      return;
    case LITEATTN_DTYPE_FP32: break;
  }
  memcpy(dst, (const float *)base + i, sizeof(float) * (size_t)n);
}

static inline void la_store(void *base, int64_t i, liteattn_dtype_t t, float x) {
  switch (t) {
    case LITEATTN_DTYPE_BF16: ((uint16_t *)base)[i] = la_float_to_bf16(x); return;
    case LITEATTN_DTYPE_FP16: ((uint16_t *)base)[i] = la_float_to_fp16(x); return;
    case LITEATTN_DTYPE_FP32: break;
  }
  ((float *)base)[i] = x;
}

/* Register blocking of the two matmuls: LA_RB query rows x up to LA_CB columns of accumulators
 * (4 x 64 fp32 = 16 zmm registers with AVX-512) stay in registers across the whole reduction,
 * so each step is loads + FMAs with no accumulator traffic. The blocks are instantiated with
 * compile-time widths (64, 32, 16, 8: D and BN are multiples of 8) through la_width. */
#define LA_RB 4
#define LA_CB 64
#define LA_INLINE static inline __attribute__((always_inline))

/* The widest block width in {64, 32, 16, 8} that fits in n (n >= 8 and a multiple of 8). */
static inline int la_width(int n) { return n >= 64 ? 64 : n >= 32 ? 32 : n >= 16 ? 16 : 8; }

/* s[r*BN + c0 + c] = sum_d q[r*D + d] * kt[d*BN + c0 + c] for r < LA_RB, c < C. */
LA_INLINE void la_qk_block(const float *restrict q, const float *restrict kt, float *restrict s,
                           int D, int BN, int c0, const int C) {
  float a[LA_RB][LA_CB] = {{0}};
  for (int d = 0; d < D; ++d) {
    const float *restrict kd = kt + (int64_t)d * BN + c0;
    for (int r = 0; r < LA_RB; ++r) {
      const float qd = q[(int64_t)r * D + d];
      for (int c = 0; c < C; ++c) a[r][c] += qd * kd[c];
    }
  }
  for (int r = 0; r < LA_RB; ++r)
    for (int c = 0; c < C; ++c) s[(int64_t)r * BN + c0 + c] = a[r][c];
}

/* s = q kt for nr rows (a multiple of LA_RB) and BN columns; kt is K transposed (D x BN). */
LA_CLONES static void la_qk(const float *restrict q, const float *restrict kt, float *restrict s,
                            int nr, int D, int BN) {
  for (int r0 = 0; r0 < nr; r0 += LA_RB) {
    const float *restrict qr = q + (int64_t)r0 * D;
    float *restrict sr = s + (int64_t)r0 * BN;
    for (int c0 = 0; c0 < BN;) {
      const int C = la_width(BN - c0);
      switch (C) {
        case 64: la_qk_block(qr, kt, sr, D, BN, c0, 64); break;
        case 32: la_qk_block(qr, kt, sr, D, BN, c0, 32); break;
        case 16: la_qk_block(qr, kt, sr, D, BN, c0, 16); break;
        default: la_qk_block(qr, kt, sr, D, BN, c0, 8); break;
      }
      c0 += C;
    }
  }
}

/* acc[r*D + d0 + d] = acc[...] * alpha[r] + sum_c p[r*BN + c] * v[c*D + d0 + d], r < LA_RB,
 * c < nk, d < C. */
LA_INLINE void la_pv_block(const float *restrict p, const float *restrict v,
                           const float *restrict alpha, float *restrict acc, int nk, int D,
                           int BN, int d0, const int C) {
  float a[LA_RB][LA_CB];
  for (int r = 0; r < LA_RB; ++r)
    for (int d = 0; d < C; ++d) a[r][d] = acc[(int64_t)r * D + d0 + d] * alpha[r];
  for (int c = 0; c < nk; ++c) {
    const float *restrict vc = v + (int64_t)c * D + d0;
    for (int r = 0; r < LA_RB; ++r) {
      const float pc = p[(int64_t)r * BN + c];
      for (int d = 0; d < C; ++d) a[r][d] += pc * vc[d];
    }
  }
  for (int r = 0; r < LA_RB; ++r)
    for (int d = 0; d < C; ++d) acc[(int64_t)r * D + d0 + d] = a[r][d];
}

/* acc[r] = acc[r] * alpha[r] + sum_c p[r*BN + c] * v[c*D + :] for r < nr (a multiple of LA_RB),
 * c < nk. */
LA_CLONES static void la_pv(const float *restrict p, const float *restrict v,
                            const float *restrict alpha, float *restrict acc, int nr, int nk,
                            int D, int BN) {
  for (int r0 = 0; r0 < nr; r0 += LA_RB) {
    const float *restrict pr = p + (int64_t)r0 * BN;
    float *restrict ar = acc + (int64_t)r0 * D;
    for (int d0 = 0; d0 < D;) {
      const int C = la_width(D - d0);
      switch (C) {
        case 64: la_pv_block(pr, v, alpha + r0, ar, nk, D, BN, d0, 64); break;
        case 32: la_pv_block(pr, v, alpha + r0, ar, nk, D, BN, d0, 32); break;
        case 16: la_pv_block(pr, v, alpha + r0, ar, nk, D, BN, d0, 16); break;
        default: la_pv_block(pr, v, alpha + r0, ar, nk, D, BN, d0, 8); break;
      }
      d0 += C;
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

/* Converted K/V tiles are kept per thread for reuse by the following q-tiles of the same
 * (b, hkv): a direct-mapped cache of `slots` tiles, tile j of a slice in slot j % slots, each slot
 * holding K transposed (D x BN, padding keys zero) and V (BN x D) in fp32. `slots` covers all Tk
 * tiles up to LA_CACHE_BYTES per thread; below that, or if that much cannot be allocated, tiles
 * are converted again when evicted (1 slot: once per visit). Tiles are converted on first use,
 * so a sparse read mask converts only what it reads. */
#define LA_CACHE_BYTES ((int64_t)64 << 20)

/* Per-thread scratch. */
typedef struct la_scratch {
  float *q, *s, *acc, *m, *l, *alpha; /* one q-tile row; q, s, acc have BMr = BM rounded to LA_RB rows */
  float *kv;                          /* slots x (K^T tile, V tile) */
  int64_t *tag;                       /* per slot: (b*Hkv + hk)*Tk + j of the tile it holds, or -1 */
  int64_t slots;
  uint32_t *bits;
} la_scratch_t;

static float *la_carve(float **cur, int64_t n) {
  float *p = *cur;
  *cur += (n + 15) & ~(int64_t)15; /* keep every array 64-byte aligned */
  return p;
}

/* Pointers to the fp32 K^T and V of key tile j of (b, hk), converting it if its slot holds
 * another tile. */
static void la_kv_tile(const la_plan_t *p, la_scratch_t *w, int64_t b, int64_t hk, int64_t j,
                       const float **kt, const float **v) {
  const int BN = (int)p->geom.block_n, D = (int)p->D;
  const int64_t slot = j % w->slots, tag = (b * p->Hkv + hk) * p->geom.tiles_k + j;
  float *kts = w->kv + slot * 2 * ((int64_t)BN * D), *vs = kts + (int64_t)BN * D;
  *kt = kts;
  *v = vs;
  if (w->tag[slot] == tag) return;
  w->tag[slot] = tag;
  const int64_t k0 = j * BN;
  const int nk = (int)(p->Sk - k0 < BN ? p->Sk - k0 : BN);
  for (int cc = 0; cc < nk; ++cc) {
    float *vr = vs + (int64_t)cc * D;
    /* K row cc converted into V's row as staging, then scattered into column cc of K^T. */
    la_load_row(vr, p->k, b * p->k_sb + (k0 + cc) * p->k_ss + hk * p->k_sh, D, p->dtype);
    for (int d = 0; d < D; ++d) kts[(int64_t)d * BN + cc] = vr[d];
    la_load_row(vr, p->v, b * p->v_sb + (k0 + cc) * p->v_ss + hk * p->v_sh, D, p->dtype);
  }
  for (int d = 0; d < D; ++d)
    for (int cc = nk; cc < BN; ++cc) kts[(int64_t)d * BN + cc] = 0.0f;
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
  const int nr = (nq + LA_RB - 1) / LA_RB * LA_RB; /* rows the matmuls compute; >= nq are zero */
  const int must_q = la_ranges_hit(p->must_q, p->num_must_q, q0, q0 + nq);
  const float c = p->scale_log2, thr = p->threshold;
  const uint32_t *rrow = p->read_mask ? p->read_mask + row * W : NULL;

  for (int r = 0; r < nr; ++r) {
    float *qr = w->q + (int64_t)r * D;
    if (r < nq)
      la_load_row(qr, p->q, b * p->q_sb + (q0 + r) * p->q_ss + hq * p->q_sh, D, p->dtype);
    else
      memset(qr, 0, sizeof(float) * (size_t)D);
    w->m[r] = -INFINITY;
    w->l[r] = 0.0f;
    w->alpha[r] = 0.0f;
  }
  memset(w->acc, 0, sizeof(float) * (size_t)nr * (size_t)D);
  memset(w->bits, 0, sizeof(uint32_t) * (size_t)W);

  const int64_t diag = la_diag_tile(qt, BM, BN, p->Sq, p->Sk, Tk);
  int first = 1;
  for (int64_t i = 0; i < Tk; ++i) {
    const int64_t j = diag + i < Tk ? diag + i : diag + i - Tk;
    const int64_t k0 = j * BN;
    const int nk = (int)(p->Sk - k0 < BN ? p->Sk - k0 : BN);
    const int must_k = la_ranges_hit(p->must_k, p->num_must_k, k0, k0 + nk);
    if (!(must_q || must_k || !rrow || (rrow[j >> 5] >> (j & 31)) & 1u)) continue;

    const float *kt, *v;
    la_kv_tile(p, w, b, hk, j, &kt, &v);
    la_qk(w->q, kt, w->s, nr, D, BN);

    /* Criterion (against the state before this tile), then the online-softmax update. Rows
     * >= nq keep alpha = 0 and scores 0 (zero queries, zero padding keys), so their
     * accumulators stay 0. */
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
    la_pv(w->s, v, w->alpha, w->acc, nr, nk, D, BN);
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
  const int64_t BN = p->geom.block_n, D = p->D, W = p->geom.words_per_row, Tk = p->geom.tiles_k;
  const int64_t BMr = (p->geom.block_m + LA_RB - 1) / LA_RB * LA_RB;
  const int64_t row_floats = ((BMr * D + 15) & ~15) * 2 + ((BMr * BN + 15) & ~15)
                             + ((BMr + 15) & ~15) * 3;
  const int64_t tile_floats = 2 * BN * D; /* a multiple of 16: BN and D are multiples of 8 */
  const int64_t max_slots = LA_CACHE_BYTES / (tile_floats * 4);
  const int64_t want_slots = Tk < max_slots ? Tk : max_slots > 1 ? max_slots : 1;
  const int64_t rows = p->geom.rows;
  int failed = 0;
#pragma omp parallel
  {
    /* The full cache, or one slot if that much memory is not available. */
    int64_t slots = want_slots;
    float *buf = (float *)aligned_alloc(64, (size_t)(row_floats + slots * tile_floats) * 4);
    if (!buf && slots > 1) {
      slots = 1;
      buf = (float *)aligned_alloc(64, (size_t)(row_floats + slots * tile_floats) * 4);
    }
    uint32_t *bits = (uint32_t *)malloc((size_t)W * sizeof(uint32_t));
    int64_t *tag = (int64_t *)malloc((size_t)slots * sizeof(int64_t));
    la_scratch_t w;
    memset(&w, 0, sizeof w);
    if (buf && bits && tag) {
      float *cur = buf;
      w.q = la_carve(&cur, BMr * D);
      w.s = la_carve(&cur, BMr * BN);
      w.acc = la_carve(&cur, BMr * D);
      w.m = la_carve(&cur, BMr);
      w.l = la_carve(&cur, BMr);
      w.alpha = la_carve(&cur, BMr);
      w.kv = la_carve(&cur, slots * tile_floats);
      w.tag = tag;
      w.slots = slots;
      for (int64_t s = 0; s < slots; ++s) tag[s] = -1;
      w.bits = bits;
    } else {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t row = 0; row < rows; ++row)
      if (w.bits) la_cpu_row(p, row, &w);
    free(buf);
    free(bits);
    free(tag);
  }
  if (failed)
    return la_error(LITEATTN_ERR_OUT_OF_MEMORY, "CPU backend: %lld bytes of per-thread scratch",
                    (long long)((row_floats + tile_floats) * 4));
  return LITEATTN_OK;
}
