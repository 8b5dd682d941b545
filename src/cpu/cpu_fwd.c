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
#if defined(__GNUC__)
#define LA_INLINE static inline __attribute__((always_inline))
#else
#define LA_INLINE static inline
#endif

/* dst[0..n) = the n elements of a tensor from element i on, as float. */
LA_CLONES static void la_load_row(float *restrict dst, const void *base, int64_t i, int n,
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

/* Layout. Scores and probabilities are kept transposed, st[c*ldq + r] for key c and query r,
 * with the queries transposed to match (qt[d*ldq + r]), so that everything done per query row
 * (row max, exp, row sum) runs down columns: query rows in the SIMD lanes, no horizontal
 * reductions. K and V stay row-major, rows ldkv apart. Row strides: ldq = BM rounded up to LA_RB,
 * ldkv = D, each plus 16 floats (64 bytes), so that successive rows of these power-of-two sized
 * arrays do not fall into the same few L1 sets (with ldq = 128 floats, a kernel's 32-column
 * slice of qt used only 16 of the 64 sets and was evicted before its reuse). Rows nq..nr-1 of a
 * short last q-tile are zero queries, computed and never stored.
 *
 * Register blocking: both matmuls keep an LA_RB x (up to LA_CB) block of fp32 accumulators in
 * registers (8 x 32 = 16 zmm with AVX-512) across the whole reduction, so each step is 2 vector
 * loads + 8 broadcasts + 16 FMAs. Blocks are instantiated at compile-time widths 32, 16 and 8
 * (BM, BN and D are multiples of 8) through la_width; the column block is the outer loop, so
 * its slice of the vector operand stays in L1 while all blocks of the other dimension use it. */
#define LA_RB 8
#define LA_CB 32

/* The widest block width in {32, 16, 8} that fits in n (n >= 8 and a multiple of 8). */
static inline int la_width(int n) { return n >= 32 ? 32 : n >= 16 ? 16 : 8; }

/* st[(c0+i)*ldq + r0 + r] = sum_d k[(c0+i)*D + d] * qt[d*ldq + r0 + r], i < LA_RB, r < C. */
LA_INLINE void la_qk_block(const float *restrict qt, const float *restrict k, float *restrict st,
                           int D, int ldq, int ldkv, int c0, int r0,
                           const int C) {
  float a[LA_RB][LA_CB] = {{0}};
  for (int d = 0; d < D; ++d) {
    const float *restrict qd = qt + (int64_t)d * ldq + r0;
    for (int i = 0; i < LA_RB; ++i) {
      const float kd = k[(int64_t)(c0 + i) * ldkv + d];
      for (int r = 0; r < C; ++r) a[i][r] += kd * qd[r];
    }
  }
  for (int i = 0; i < LA_RB; ++i)
    for (int r = 0; r < C; ++r) st[(int64_t)(c0 + i) * ldq + r0 + r] = a[i][r];
}

/* Scores st = k qt for keys c < nkr (nk rounded up to LA_RB; k's padding keys are zero) and
 * query rows r < nr. */
LA_CLONES static void la_qk(const float *restrict qt, const float *restrict k, float *restrict st,
                            int nr, int nkr, int D, int ldq, int ldkv) {
  for (int r0 = 0; r0 < nr;) {
    const int C = la_width(nr - r0);
    for (int c0 = 0; c0 < nkr; c0 += LA_RB) switch (C) {
        case 32: la_qk_block(qt, k, st, D, ldq, ldkv, c0, r0, 32); break;
        case 16: la_qk_block(qt, k, st, D, ldq, ldkv, c0, r0, 16); break;
        default: la_qk_block(qt, k, st, D, ldq, ldkv, c0, r0, 8); break;
      }
    r0 += C;
  }
}

/* acc[(r0+i)*D + d0 + d] = acc[...] * alpha[r0+i] + sum_c pt[c*ldq + r0 + i] * v[c*D + d0 + d]
 * for i < LA_RB, c < nk, d < C. */
LA_INLINE void la_pv_block(const float *restrict pt, const float *restrict v,
                           const float *restrict alpha, float *restrict acc, int nk, int D,
                           int ldq, int ldkv, int r0, int d0, const int C) {
  float a[LA_RB][LA_CB];
  for (int i = 0; i < LA_RB; ++i)
    for (int d = 0; d < C; ++d) a[i][d] = acc[(int64_t)(r0 + i) * D + d0 + d] * alpha[r0 + i];
  for (int c = 0; c < nk; ++c) {
    const float *restrict vc = v + (int64_t)c * ldkv + d0;
    for (int i = 0; i < LA_RB; ++i) {
      const float pc = pt[(int64_t)c * ldq + r0 + i];
      for (int d = 0; d < C; ++d) a[i][d] += pc * vc[d];
    }
  }
  for (int i = 0; i < LA_RB; ++i)
    for (int d = 0; d < C; ++d) acc[(int64_t)(r0 + i) * D + d0 + d] = a[i][d];
}

/* acc[r] = acc[r] * alpha[r] + sum_c pt[c*ldq + r] * v[c*D + :] for rows r < nr, keys c < nk. */
LA_CLONES static void la_pv(const float *restrict pt, const float *restrict v,
                            const float *restrict alpha, float *restrict acc, int nr, int nk,
                            int D, int ldq, int ldkv) {
  for (int d0 = 0; d0 < D;) {
    const int C = la_width(D - d0);
    for (int r0 = 0; r0 < nr; r0 += LA_RB) switch (C) {
        case 32: la_pv_block(pt, v, alpha, acc, nk, D, ldq, ldkv, r0, d0, 32); break;
        case 16: la_pv_block(pt, v, alpha, acc, nk, D, ldq, ldkv, r0, d0, 16); break;
        default: la_pv_block(pt, v, alpha, acc, nk, D, ldq, ldkv, r0, d0, 8); break;
      }
    d0 += C;
  }
}

/* smax[r] = max_c st[c*ldq + r] over keys c < nk (nk >= 1), for rows r < nr. */
LA_CLONES static void la_row_max(const float *restrict st, int nk, int nr, int ldq,
                                 float *restrict smax) {
  for (int r = 0; r < nr; ++r) smax[r] = -INFINITY;
  for (int c = 0; c < nk; ++c)
    for (int r = 0; r < nr; ++r) {
      const float x = st[(int64_t)c * ldq + r];
      smax[r] = x > smax[r] ? x : smax[r];
    }
}

/* 2^x: a polynomial exp2 (max relative error 1.7e-7 over [-126, 0]) that vectorizes, where a
 * libm exp2f call per score does not. */
LA_INLINE float la_exp2(float x) {
  const float x0 = x;
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
  return x0 == x0 ? p : x0; /* NaN in (from NaN/inf scores), NaN out, as ex2 on the GPU */
}

/* st[c*ldq + r] = 2^((st[c*ldq + r] - m[r]) * scale_log2) and sum[r] = its sum over keys c < nk,
 * for rows r < nr. */
LA_CLONES static void la_exp2_rows(float *restrict st, int nk, int nr, int ldq,
                                   const float *restrict m, float scale_log2,
                                   float *restrict sum) {
  for (int r = 0; r < nr; ++r) sum[r] = 0.0f;
  for (int c = 0; c < nk; ++c)
    for (int r = 0; r < nr; ++r) {
      float *x = st + (int64_t)c * ldq + r;
      *x = la_exp2((*x - m[r]) * scale_log2);
      sum[r] += *x;
    }
}

/* Converted K/V tiles are kept per thread for reuse by the following q-tiles of the same
 * (b, hkv): a direct-mapped cache of `slots` tiles, tile j of a slice in slot j % slots, each slot
 * holding K and V (BN x D each, padding keys zero) in fp32. `slots` covers all Tk tiles up to
 * LA_CACHE_BYTES per thread; below that, or if that much cannot be allocated, tiles are converted
 * again when evicted (1 slot: once per visit). Tiles are converted on first use, so a sparse
 * read mask converts only what it reads. */
#define LA_CACHE_BYTES ((int64_t)64 << 20)

/* Per-thread scratch. Per q-tile row: qt (D rows of ldq), st (BN rows of ldq), acc (BMr x D),
 * and per query row m, l, alpha, smax, sum. */
typedef struct la_scratch {
  int ldq, ldkv;
  float *qt, *st, *acc, *m, *l, *alpha, *smax, *sum;
  float *kv;    /* slots x (K tile, V tile), each BN rows of ldkv */
  int64_t *tag; /* per slot: (b*Hkv + hk)*Tk + j of the tile it holds, or -1 */
  int64_t slots;
  uint32_t *bits;
} la_scratch_t;

static float *la_carve(float **cur, int64_t n) {
  float *p = *cur;
  *cur += (n + 15) & ~(int64_t)15; /* keep every array 64-byte aligned */
  return p;
}

/* Pointers to the fp32 K and V of key tile j of (b, hk), converting it if its slot holds
 * another tile. */
static void la_kv_tile(const la_plan_t *p, la_scratch_t *w, int64_t b, int64_t hk, int64_t j,
                       const float **k, const float **v) {
  const int BN = (int)p->geom.block_n, D = (int)p->D, ldkv = w->ldkv;
  const int64_t slot = j % w->slots, tag = (b * p->Hkv + hk) * p->geom.tiles_k + j;
  float *ks = w->kv + slot * 2 * ((int64_t)BN * ldkv), *vs = ks + (int64_t)BN * ldkv;
  *k = ks;
  *v = vs;
  if (w->tag[slot] == tag) return;
  w->tag[slot] = tag;
  const int64_t k0 = j * BN;
  const int nk = (int)(p->Sk - k0 < BN ? p->Sk - k0 : BN);
  for (int c = 0; c < nk; ++c) {
    la_load_row(ks + (int64_t)c * ldkv, p->k, b * p->k_sb + (k0 + c) * p->k_ss + hk * p->k_sh,
                D, p->dtype);
    la_load_row(vs + (int64_t)c * ldkv, p->v, b * p->v_sb + (k0 + c) * p->v_ss + hk * p->v_sh,
                D, p->dtype);
  }
  memset(ks + (int64_t)nk * ldkv, 0, sizeof(float) * (size_t)(BN - nk) * (size_t)ldkv);
  memset(vs + (int64_t)nk * ldkv, 0, sizeof(float) * (size_t)(BN - nk) * (size_t)ldkv);
}

/* One (b, hq, q-tile) row of the spec. */
static void la_cpu_row(const la_plan_t *p, int64_t row, la_scratch_t *w) {
  const liteattn_mask_geometry_t *g = &p->geom;
  const int BM = (int)g->block_m, BN = (int)g->block_n, D = (int)p->D;
  const int ldq = w->ldq, ldkv = w->ldkv;
  const int64_t Tq = g->tiles_q, Tk = g->tiles_k, W = g->words_per_row;
  const int64_t b = row / (p->Hq * Tq), hq = (row / Tq) % p->Hq, qt = row % Tq;
  const int64_t hk = hq / (p->Hq / p->Hkv);
  const int64_t q0 = qt * BM;
  const int nq = (int)(p->Sq - q0 < BM ? p->Sq - q0 : BM);
  const int nr = (nq + LA_RB - 1) / LA_RB * LA_RB; /* rows computed; rows >= nq are zero queries */
  const int must_q = la_ranges_hit(p->must_q, p->num_must_q, q0, q0 + nq);
  const float c = p->scale_log2, thr = p->threshold;
  const uint32_t *rrow = p->read_mask ? p->read_mask + row * W : NULL;

  for (int r = 0; r < nr; ++r) {
    float *qr = w->acc; /* staging for one query row; acc is zeroed below */
    if (r < nq)
      la_load_row(qr, p->q, b * p->q_sb + (q0 + r) * p->q_ss + hq * p->q_sh, D, p->dtype);
    else
      memset(qr, 0, sizeof(float) * (size_t)D);
    for (int d = 0; d < D; ++d) w->qt[(int64_t)d * ldq + r] = qr[d];
    w->m[r] = -INFINITY;
    w->l[r] = 0.0f;
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

    const float *k, *v;
    la_kv_tile(p, w, b, hk, j, &k, &v);
    la_qk(w->qt, k, w->st, nr, (nk + LA_RB - 1) / LA_RB * LA_RB, D, ldq, ldkv);
    la_row_max(w->st, nk, nr, ldq, w->smax);

    /* Criterion (against the state before this tile), then the online-softmax update. */
    int negligible = !first;
    const float log2n = log2f((float)nk);
    for (int r = 0; r < nr; ++r) {
      if (negligible && r < nq) {
        float crit = (w->smax[r] - w->m[r]) * c;
        if (p->criterion == LITEATTN_CRITERION_MASS) crit += log2n - log2f(w->l[r]);
        negligible = crit < thr;
      }
      const float m_new = w->smax[r] > w->m[r] ? w->smax[r] : w->m[r];
      w->alpha[r] = exp2f((w->m[r] - m_new) * c);
      w->m[r] = m_new;
    }
    la_exp2_rows(w->st, nk, nr, ldq, w->m, c, w->sum);
    for (int r = 0; r < nr; ++r) w->l[r] = w->l[r] * w->alpha[r] + w->sum[r];
    la_pv(w->st, v, w->alpha, w->acc, nr, nk, D, ldq, ldkv);
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
  const int64_t ldq = BMr + 16, ldkv = D + 16; /* see "Layout" */
  const int64_t row_floats = ((D * ldq + 15) & ~15) + ((BN * ldq + 15) & ~15)
                             + ((BMr * D + 15) & ~15) + ((BMr + 15) & ~15) * 5;
  const int64_t tile_floats = 2 * BN * ldkv; /* a multiple of 16: BN and D are multiples of 8 */
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
      w.ldq = (int)ldq;
      w.ldkv = (int)ldkv;
      w.qt = la_carve(&cur, D * ldq);
      w.st = la_carve(&cur, BN * ldq);
      w.acc = la_carve(&cur, BMr * D);
      w.m = la_carve(&cur, BMr);
      w.l = la_carve(&cur, BMr);
      w.alpha = la_carve(&cur, BMr);
      w.smax = la_carve(&cur, BMr);
      w.sum = la_carve(&cur, BMr);
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
