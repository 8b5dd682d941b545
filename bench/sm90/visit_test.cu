/* visit_test.cu — host test of the sm90 kernel's visit order (la_visit_next, la_must_k_word in
 * src/cuda/sm90/sm90_fwd.cu, compiled here for the host): on random geometries, read masks
 * (padding bits set too), must-do ranges and diagonals, the sequence of visited key tiles must
 * equal the CPU spec's (src/cpu/cpu_fwd.c: for i < Tk, j = (diag + i) mod Tk, visited iff
 * must_q || must_k(j) || no read mask || bit j). Needs no GPU (after bench/sm90/build.sh):
 *   nvcc -std=c++17 -gencode arch=compute_90a,code=sm_90a -I include -I src \
 *     bench/sm90/visit_test.cu build-sm90/sm90_shim.o build-sm90/cpu_fwd.o -Xcompiler -fopenmp \
 *     -o build-sm90/visit_test && build-sm90/visit_test */
#include <stdio.h>
#include <stdlib.h>

#include "../../src/cuda/sm90/sm90_fwd.cu"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

int main(void) {
  static uint32_t mask[LA_MAX_W * 4];
  long long cases = 0, visits = 0;
  for (int t = 0; t < 200000; ++t) {
    la_sm90_params_t p;
    memset(&p, 0, sizeof p);
    p.Tk = 1 + (int)(rnd() % (t % 10 == 0 ? 4000 : 200));
    p.Sk = (p.Tk - 1) * LA_BN + 1 + (int)(rnd() % LA_BN);
    const int W = (p.Tk + 31) / 32;
    const uint32_t dens = rnd() % 5; /* 0: empty, 1..3: sparse to dense, 4: random words */
    for (int w = 0; w < W; ++w) {
      uint32_t x = 0;
      for (int b = 0; b < 32; ++b) x |= (uint32_t)(dens && rnd() % 4 < dens) << b;
      mask[w] = dens == 4 ? rnd() ^ (rnd() << 16) : x; /* padding bits >= Tk may be set */
    }
    p.nmk = rnd() % 3 == 0 ? (int)(rnd() % (LITEATTN_MAX_RANGES + 1)) : 0;
    for (int r = 0; r < p.nmk; ++r) {
      const int64_t b = rnd() % p.Sk, len = 1 + rnd() % (rnd() % 2 ? 300 : p.Sk);
      p.mk[r].begin = b, p.mk[r].end = b + len < p.Sk ? b + len : p.Sk;
    }
    la_item_t it;
    memset(&it, 0, sizeof it);
    it.all = rnd() % 8 == 0;
    it.rrow = mask;
    it.diag = (int)(rnd() % p.Tk);
    int i = 0, bad = 0;
    for (int pos = 0; pos < p.Tk && !bad; ++pos) {
      const int j = (it.diag + pos) % p.Tk;
      const int mk = la_ranges_hit(p.mk, p.nmk, (int64_t)j * LA_BN,
                                   (int64_t)j * LA_BN + LA_BN < p.Sk ? (int64_t)j * LA_BN + LA_BN
                                                                     : p.Sk);
      if (!(it.all || mk || ((mask[j >> 5] >> (j & 31)) & 1u))) continue;
      const int got = la_visit_next(p, it);
      bad = got != j;
      ++i;
      if (bad) printf("FAIL case %d: visit %d is tile %d, expected %d (Tk %d diag %d)\n", t, i,
                      got, j, p.Tk, it.diag);
    }
    if (!bad && la_visit_next(p, it) != -1) {
      printf("FAIL case %d: a visit after the last (Tk %d)\n", t, p.Tk);
      bad = 1;
    }
    if (bad) return 1;
    ++cases;
    visits += i;
  }
  printf("visit_test: %lld cases, %lld visits, all as the CPU spec\n", cases, visits);
  return 0;
}
