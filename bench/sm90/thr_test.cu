/* thr_test.cu — host test of the v8 marking criterion (src/cuda/sm90/sm90_fwd.cu built with
 * -DLA_SM90_V8, compiled here for the host): a float32 emulation of one CTA's 8 consumer warps
 * (16 rows each, a quad of lanes per row pair, the accumulator layout of the kernel) evaluating
 * one tile with v7's code (mark7: both rows per lane, (x - m_old) * c + log2(n) - lmax against
 * thr) and with v8's (mark8: one row per lane, d = fminf(x - m_old, dv) against la_thr_min's
 * thresholds). The tile's bit is the OR over the CTA in both; they must be equal on every case.
 * Inputs are aimed at the decision boundaries (d within a few ulps of each threshold, row sums
 * within a few ulps of the exact path's boundary), with thr = -inf / 0, partial q-tiles (padding
 * rows), forced tiles, NaN and infinite scores. Also checks la_thr_min itself: ok(t) for t = the
 * threshold and not for the float below it, and mark8's reload rule (the entries in use at every
 * visited tile of random rows). -DTHR_MUT=1/2/3 moves the sure / open / PEAK threshold by one
 * float, -DTHR_MUT=4 breaks the reload rule (the test must then fail). Needs no GPU:
 *   nvcc -std=c++17 -DLA_SM90_V8 -gencode arch=compute_90a,code=sm_90a -I include -I src \
 *     -Xcompiler -ffp-contract=off,-fopenmp bench/sm90/thr_test.cu build-sm90-v8/sm90_shim.o \
 *     build-sm90-v8/cpu_fwd.o -o build-sm90-v8/thr_test \
 *     && build-sm90-v8/thr_test */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/cuda/sm90/sm90_fwd.cu"

#if LA_VER < 8
#error "build with -DLA_SM90_V8"
#endif

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}
static float unif(void) { return (float)(rnd() & 0xffffff) / 16777216.0f; }
static float ulps(float x, int k) { /* x moved by k floats */
  for (; k > 0; --k) x = nextafterf(x, INFINITY);
  for (; k < 0; ++k) x = nextafterf(x, -INFINITY);
  return x;
}
static float quad(const float *v, int l) { /* la_quad_sum's order at lane l */
  const float a = v[l] + v[l ^ 1], b = v[l ^ 2] + v[l ^ 3];
  return a + b;
}

/* One warp: rows rw[0..7] (lanes 4i..4i+3 hold rows i and i + 8 of the warp). */
struct warp_in {
  float x[16], mo[16]; /* the tile's row max, the running max before it */
  float lo[2][32];     /* partial row sums before the tile: [row half][lane] */
  int valid[16];
};

/* mark8's reload rule, replayed over whole rows: after the reload test of the nvis-th visited
 * tile, the entries in use must be those of bitlen(nvis - 1) and of that tile (last or not).
 * Returns the number of wrong tiles. */
static long long reload_check(void) {
  long long badn = 0;
  for (int t = 0; t < 20000; ++t) {
    const int n = 1 + (int)(rnd() % (32 * LA_MAX_W)); /* visited tiles of the row */
    const int lastpos = rnd() % 2 ? 1 + (int)(rnd() % n) : 0; /* nvis of the last key tile */
    int nb = 2, cur = -1, curo = -1; /* as mark8: ts = thrt[cur], to = thrt[curo] */
    for (int nvis = 1; nvis <= n; ++nvis) {
      const int last = nvis == lastpos;
      if ((nvis == nb) | last) {
        const int kb = 32 - __builtin_clz((unsigned)(nvis - 1) | 1u) - (nvis == 1);
        cur = 2 * kb + last;
        curo = LA_KB2 + last;
        nb = last ? nvis + 1 : (1 << kb) + 1;
#if defined(THR_MUT) && THR_MUT == 4
        nb = last ? nvis + 2 : nb; /* mutation: the tile after the last one keeps its entry */
#endif
      }
      const int bl = nvis == 1 ? 0 : 32 - __builtin_clz((unsigned)(nvis - 1));
      /* the first tile is forced: its thresholds are never used */
      if (nvis > 1 && (cur != 2 * bl + last || curo != LA_KB2 + last)) ++badn;
    }
  }
  return badn;
}

int main(void) {
  const long long rbad = reload_check();
  printf("thr_test: reload rule, %lld wrong tiles\n", rbad);
  if (rbad) return 1;
  long long cases = 0, kept = 0, exact7 = 0, bad = 0, thrbad = 0, wbad = 0;
  for (int t = 0; t < 300000; ++t) {
    const float scale = t % 7 == 0 ? ldexpf(unif() + 0.01f, -(int)(rnd() % 40)) : 0.02f + unif();
    const float c = (float)((double)scale * 1.4426950408889634);
    const int tk = (int)(rnd() % 6);
    const float thr = tk == 0 ? -INFINITY : tk == 1 ? 0.0f : tk == 2 ? -1e-3f * unif()
                                                                    : -40.0f * unif();
    const int mass = rnd() & 1;
    const int nvis = 1 + (int)(rnd() % (32 * LA_MAX_W));
    const int last = rnd() % 4 == 0;
    const int nkl = 1 + (int)(rnd() % LA_BN);
    const float lnl = nkl == LA_BN ? 7.0f : log2f((float)nkl);
    const int force = nvis == 1 || rnd() % 16 == 0;
    const int nq = rnd() % 4 == 0 ? 1 + (int)(rnd() % LA_BM) : LA_BM;
    /* v8's table entries for this tile, as the kernel computes them */
    const int kb = nvis == 1 ? 0 : 32 - __builtin_clz((unsigned)(nvis - 1)); /* bitlen */
    const float ln = last ? lnl : 7.0f, lmax = 7.0f + (float)kb;
    float ts = la_thr_min(thr, c, ln, lmax), to = la_thr_min(thr, c, ln, 0.0f),
          tp = la_thr_min(thr, c, 0.0f, 0.0f);
#ifdef THR_MUT /* mutation check: a threshold one float off must make the test fail */
    float *mut = THR_MUT == 1 ? (float *)&ts : THR_MUT == 2 ? (float *)&to : (float *)&tp;
    *mut = nextafterf(*mut, THR_MUT == 2 ? -INFINITY : INFINITY);
#endif
    /* la_thr_min: the smallest float that passes */
    const float ths[3] = {ts, to, tp}, as[3] = {ln, ln, 0.0f}, bs_[3] = {lmax, 0.0f, 0.0f};
    for (int k = 0; k < 3; ++k) {
      const float th = ths[k], below = nextafterf(th, -INFINITY);
      const int ok = !((th * c + as[k]) - bs_[k] < thr);
      const int okb = th == -INFINITY ? 0 : !((below * c + as[k]) - bs_[k] < thr);
      if (!ok || okb) ++thrbad;
    }
    /* mostly: every row surely skipped but a few near a boundary, so the CTA's bit is decided by
     * those (else the OR over 128 rows is nearly always 1) */
    const int sparse = rnd() % 4 != 0;
    int bit7 = 0, bit8 = 0;
    for (int w = 0; w < 8; ++w) {
      int w7 = 0, w8 = 0;
      warp_in in;
      for (int i = 0; i < 16; ++i) {
        const int row = 16 * w + i;
        in.valid[i] = row < nq;
        in.mo[i] = nvis == 1 && rnd() % 2 ? -INFINITY : 60.0f * (unif() - 0.5f);
        const float aim[3] = {ts, to, tp};
        float d = aim[rnd() % 3];
        if (!isfinite(d) || rnd() % 8 == 0) d = 30.0f * (unif() - 0.7f) / c;
        d = ulps(d, (int)(rnd() % 9) - 4);
        if (sparse && rnd() % 32 != 0) d = (thr == -INFINITY ? -1e30f : thr - 50.0f) / c;
        in.x[i] = in.mo[i] + d;
        if (rnd() % 64 == 0) in.x[i] = rnd() & 1 ? NAN : (rnd() & 1 ? INFINITY : -INFINITY);
        if (!isfinite(in.x[i]) && !isnan(in.x[i]) && isinf(in.mo[i])) in.x[i] = 1.0f;
      }
      /* partial sums: l in [1, keys so far], often where c0 + ln - log2(l) is near thr */
      for (int i = 0; i < 8; ++i)
        for (int h = 0; h < 2; ++h) {
          const int r = i + 8 * h;
          const float cr = (in.x[r] - in.mo[r]) * c + ln;
          float l = exp2f(cr - thr);
          const float lmx = exp2f(lmax);
          if (!(l >= 1.0f && l <= lmx) || rnd() % 4 == 0) l = 1.0f + unif() * (lmx - 1.0f);
          l = ulps(l, (int)(rnd() % 9) - 4);
          float part[4];
          part[0] = l * 0.25f, part[1] = l * 0.25f, part[2] = l * 0.25f;
          part[3] = l - 0.75f * l;
          for (int q = 0; q < 4; ++q) in.lo[h][4 * i + q] = part[q];
        }
      /* v7 (mark7) */
      {
        int sure[32], open[32], keep[32];
        float c0[32], c1[32];
        int bsv = 0, bov = 0;
        for (int l = 0; l < 32; ++l) {
          const int i = l / 4;
          const int v0 = in.valid[i], v1 = in.valid[i + 8];
          c0[l] = (in.x[i] - in.mo[i]) * c;
          c1[l] = (in.x[i + 8] - in.mo[i + 8]) * c;
          if (mass) {
            c0[l] += ln;
            c1[l] += ln;
            sure[l] = force | (v0 & !(c0[l] - lmax < thr)) | (v1 & !(c1[l] - lmax < thr));
            open[l] = (v0 & !(c0[l] < thr)) | (v1 & !(c1[l] < thr));
            bsv |= sure[l], bov |= open[l];
          } else {
            keep[l] = force | (v0 & !(c0[l] < thr)) | (v1 & !(c1[l] < thr));
          }
        }
        if (mass) {
          const int ex = !bsv && bov;
          exact7 += ex;
          float mine[32];
          for (int l = 0; l < 32; ++l)
            mine[l] = log2f((l & 1) ? quad(in.lo[1], l) : quad(in.lo[0], l));
          for (int l = 0; l < 32; ++l) {
            keep[l] = sure[l];
            if (ex) {
              const int i = l / 4, v0 = in.valid[i], v1 = in.valid[i + 8];
              const float other = mine[l ^ 1];
              const float e0 = c0[l] - ((l & 1) ? other : mine[l]);
              const float e1 = c1[l] - ((l & 1) ? mine[l] : other);
              keep[l] = (v0 & !(e0 < thr)) | (v1 & !(e1 < thr));
            }
          }
        }
        for (int l = 0; l < 32; ++l) w7 |= keep[l];
      }
      /* v8 (mark8) */
      {
        int sure[32], open[32], keep[32];
        float d[32];
        int bsv = 0, bov = 0;
        for (int l = 0; l < 32; ++l) {
          const int r = l / 4 + 8 * (l & 1);
          const float dv = in.valid[r] ? INFINITY : -INFINITY;
          d[l] = fminf(in.x[r] - in.mo[r], dv);
          if (mass) {
            sure[l] = force | !(d[l] < ts);
            open[l] = !(d[l] < to);
            bsv |= sure[l], bov |= open[l];
          } else {
            keep[l] = force | !(d[l] < tp);
          }
        }
        if (mass)
          for (int l = 0; l < 32; ++l) {
            keep[l] = sure[l];
            if (!bsv && bov) {
              const int r = l / 4 + 8 * (l & 1);
              const float lf = (l & 1) ? quad(in.lo[1], l) : quad(in.lo[0], l);
              const float cr = d[l] * c + ln;
              keep[l] = in.valid[r] & !(cr - log2f(lf) < thr);
            }
          }
        for (int l = 0; l < 32; ++l) w8 |= keep[l];
      }
      bit7 |= w7, bit8 |= w8;
      /* a warp's own bit may differ only for thr = -inf (padding rows count there; the tile is
       * kept by any valid row) */
      wbad += w7 != w8 && thr != -INFINITY;
    }
    ++cases;
    kept += bit7;
    if (bit7 != bit8) {
      if (++bad <= 10)
        printf("MISMATCH case %d: v7 %d v8 %d (mass %d thr %g c %g nvis %d last %d nq %d)\n", t,
               bit7, bit8, mass, thr, c, nvis, last, nq);
    }
  }
  printf("thr_test: %lld tiles, %lld kept, %lld v7 exact-path warps, %lld threshold errors, "
         "%lld tile mismatches, %lld warp mismatches (thr > -inf)\n",
         cases, kept, exact7, thrbad, bad, wbad);
  return bad || wbad || thrbad || kept == 0 || kept == cases || exact7 == 0;
}
