/* fwd_kernel.cuh — the portable skip-aware attention forward kernel (sm80+): FlashAttention-2's
 * structure (4 warps, 128 query rows, mma.sync m16n8k16, ldmatrix, cp.async with the next K block
 * in flight during P·V and the V block in flight during Q·Kᵀ) plus LiteAttention's mask: it visits
 * only the read mask's tiles in the spec's visit order, evaluates PEAK/MASS per tile from the
 * online softmax state, votes per q-tile and writes the write-mask row. Included once per
 * (head dim, dtype) by fwd_<dtype>_d<D>.cu so the four instantiations compile in parallel. */
#ifndef LITEATTN_CUDA_FWD_KERNEL_CUH
#define LITEATTN_CUDA_FWD_KERNEL_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include "fwd.h"

/* Which marking path the kernel compiles (bench/gpu/NOTES.md has each version's card): 5 (the
 * default), or 4 / 3 for A/B builds (scripts/ab_portable.sh builds the old side with
 * -DLA_PORTABLE_VERSION=4). All three give the same votes bit for bit; marking off is the same
 * code in all three. -DLA_PORTABLE_V3 is the older spelling of version 3. */
#ifndef LA_PORTABLE_VERSION
#ifdef LA_PORTABLE_V3
#define LA_PORTABLE_VERSION 3
#else
#define LA_PORTABLE_VERSION 5
#endif
#endif
#if LA_PORTABLE_VERSION < 3 || LA_PORTABLE_VERSION > 5
#error "LA_PORTABLE_VERSION must be 3, 4 or 5"
#endif

/* ---- PTX wrappers ---- */
__device__ __forceinline__ uint32_t la_smem_addr(const void *p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16-byte async copy; src_size 0 zero-fills the destination (rows past the end of a sequence). */
__device__ __forceinline__ void la_cp_async16(uint32_t dst, const void *src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0));
}
/* *addr |= bits (shared memory) where `on`, as one predicated reduction. ptxas still branches
 * around it, but at sm_90, D = 64, MASS the loop is 7 instructions shorter and spill-free, where
 * `if (on) atomicOr(..)` spills 8 bytes. */
__device__ __forceinline__ void la_red_or_if(uint32_t addr, uint32_t bits, bool on) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %2, 0;\n @p red.shared.or.b32 [%0], %1;\n}\n" ::"r"(addr),
      "r"(bits), "r"((int)on)
      : "memory");
}
__device__ __forceinline__ void la_cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void la_cp_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

__device__ __forceinline__ void la_ldsm_x4(uint32_t *r, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void la_ldsm_x4_trans(uint32_t *r, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

/* c += a·b for one m16n8k16 tile, fp32 accumulation. */
template <bool BF16>
__device__ __forceinline__ void la_mma(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
  if (BF16)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Two floats rounded to the 16-bit dtype, `lo` in the low half (the lower column index). */
template <bool BF16>
__device__ __forceinline__ uint32_t la_pack(float lo, float hi) {
  uint32_t r;
  if (BF16) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    r = *reinterpret_cast<uint32_t *>(&h);
  } else {
    __half2 h = __floats2half2_rn(lo, hi);
    r = *reinterpret_cast<uint32_t *>(&h);
  }
  return r;
}

/* 2^x with the SFU (exp2(-inf) = 0). */
__device__ __forceinline__ float la_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/* log2 with the SFU, subnormal input flushed to 0. For a normal input it is __log2f's result bit
 * for bit (__log2f only rescales a subnormal input before the same MUFU.LG2), and is one
 * instruction instead of four: for a key count (1..BN) there is nothing to rescale. */
__device__ __forceinline__ float la_log2_ftz(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/* Sum and max over the 4 lanes of a quad (the 4 threads that hold one accumulator row). The
 * butterfly gives every lane the same bits. */
__device__ __forceinline__ float la_quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}
__device__ __forceinline__ float la_quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

/* la_quad_sum of the four row slots x0..x3 at once, each lane keeping one: lane t of the quad
 * (t = lane & 3) gets slot t's sum, bit for bit la_quad_sum(x_t): round 1 adds the partner
 * lane^1's value of the slots whose bit 0 is t's (own value first, as la_quad_sum does), round 2
 * the partner lane^2's pair sum of slot t. 3 shuffles and 3 adds instead of 8 and 8. */
__device__ __forceinline__ float la_quad_sum_slot(float x0, float x1, float x2, float x3, bool t0,
                                                  bool t1) {
  float k0 = t0 ? x1 : x0, k1 = t0 ? x3 : x2;       /* slots t0 and 2 + t0: kept */
  const float s0 = t0 ? x0 : x1, s1 = t0 ? x2 : x3; /* the partner's slots: sent */
  k0 += __shfl_xor_sync(0xffffffffu, s0, 1);
  k1 += __shfl_xor_sync(0xffffffffu, s1, 1);
  return (t1 ? k1 : k0) + __shfl_xor_sync(0xffffffffu, t1 ? k0 : k1, 2);
}

/* Element offset of (row, 16-byte chunk) in a [rows][D] shared tile. XOR-swizzling the chunk with
 * row % 8 puts the 8 rows one ldmatrix phase reads into 8 different 16-byte bank groups (rows are
 * 128 or 256 bytes, so unswizzled they would all hit the same banks: 8-way conflicts). */
template <int D>
__device__ __forceinline__ int la_swz(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

/* addr ^ x, recomputed at every use: keeps the compiler from hoisting one register per unrolled
 * k-step out of the main loop (24 loop-invariant addresses otherwise push the kernel into
 * spills). */
__device__ __forceinline__ uint32_t la_xor(uint32_t addr, uint32_t x) {
  uint32_t r;
  asm volatile("xor.b32 %0, %1, %2;\n" : "=r"(r) : "r"(addr), "r"(x));
  return r;
}

/* Async copy of ROWS rows of D elements, global rows r0.. (row stride in elements), rows >= rmax
 * zero-filled, into a swizzled shared tile. */
template <int D, int ROWS>
__device__ __forceinline__ void la_load_tile(uint32_t s_base, const uint16_t *g,
                                             long long row_stride, int r0, int rmax, int tid) {
  constexpr int CPR = D / 8;                          /* 16-byte chunks per row */
  constexpr int RSTEP = LA_CUDA_THREADS / CPR;        /* rows covered per pass */
  static_assert(ROWS % RSTEP == 0, "tile rows must be a multiple of the rows per pass");
  const int c = tid % CPR;
#pragma unroll
  for (int i = 0; i < ROWS / RSTEP; ++i) {
    const int r = tid / CPR + i * RSTEP;
    const bool ok = r0 + r < rmax;
    const uint16_t *src = g + (ok ? (long long)(r0 + r) * row_stride : 0) + c * 8;
    la_cp_async16(s_base + 2u * (uint32_t)la_swz<D>(r, c), src, ok);
  }
}

/* Bits of word w of a row for the tiles a must-do key range touches. */
__device__ __forceinline__ uint32_t la_must_word(const la_fwd_params_t &p, int w) {
  uint32_t m = 0;
  for (int i = 0; i < p.num_must_k; ++i) {
    const long long lo_t = p.must_k[i].begin / LA_CUDA_BN, hi_t = (p.must_k[i].end - 1) / LA_CUDA_BN;
    const long long lo = lo_t > 32ll * w ? lo_t : 32ll * w;
    const long long hi = hi_t < 32ll * w + 31 ? hi_t : 32ll * w + 31;
    if (lo <= hi) {
      const int n = (int)(hi - lo + 1);
      m |= (n == 32 ? 0xffffffffu : ((1u << n) - 1u)) << (int)(lo - 32ll * w);
    }
  }
  return m;
}

/* The smallest position i' >= i of the visit order (tile (diag + i') mod Tk) whose tile is set in
 * `vis`, or Tk if none. vis has zero padding bits, so the first lap never finds a tile >= Tk; in
 * the second lap (tiles < diag) a hit at or past diag means i' >= Tk. */
__device__ __forceinline__ int la_next_visit(const uint32_t *vis, int Tk, int diag, int i) {
  while (i < Tk) {
    const int j = diag + i < Tk ? diag + i : diag + i - Tk;
    const uint32_t w = vis[j >> 5] >> (j & 31);
    if (w) {
      const int i2 = i + __ffs(w) - 1;
      return i2 < Tk ? i2 : Tk;
    }
    const int step = 32 - (j & 31);
    i += (j >= diag && Tk - j < step) ? Tk - j : step; /* the first lap ends at tile Tk - 1 */
  }
  return Tk;
}

/* v5: the criterion of this lane's row slot for one key block, and after the tile's last block the
 * warp's vote (must-do tiles are already in sbits). The same operations on the same values as
 * v4's per-slot criterion (see there why a vote per block is exactly the spec's vote per tile);
 * the slot's three other lanes computed identical bits, so one lane per (row, tile) loses
 * nothing. Bitwise &/|: &&/|| make the compiler branch around each compare.
 * BRANCH_FREE: every lane issues the reduction, lane 0 to the tile's word (its bit, or 0 if the
 * warp found the tile negligible), the others to a scratch word of their own (scratch[lane]; never
 * read). No branch, so ptxas can interleave the vote chain with the work after it; else one
 * predicated reduction, which ptxas puts behind a branch. */
template <int MARK, bool BRANCH_FREE>
__device__ __forceinline__ void la_vote_v5(bool &negl, bool &first, float mx_t, float mb_t,
                                           float lk_t, float c, float thr, bool row_out, bool last,
                                           uint32_t *sbits, const float *scratch, int j, int lane) {
  float crit = (mx_t - mb_t) * c;
  if (MARK == LA_MARK_MASS) crit += lk_t;
  negl = negl & (row_out | (crit < thr));
  if (last) {
    const bool keep = !__all_sync(0xffffffffu, negl);
    if (BRANCH_FREE) {
      const uint32_t addr =
          lane == 0 ? la_smem_addr(sbits + (j >> 5)) : la_smem_addr(scratch + lane);
      asm volatile("red.shared.or.b32 [%0], %1;\n" ::"r"(addr), "r"(keep ? 1u << (j & 31) : 0u)
                   : "memory");
    } else {
      la_red_or_if(la_smem_addr(sbits + (j >> 5)), 1u << (j & 31), keep & (lane == 0));
    }
    first = false;
  }
}

/* One CTA = one (b, hq, q-tile) row of the mask: 128 query rows, 4 warps of 32 rows (two m16
 * fragments each). Keys come in blocks of KB (the BN-key tile is BN/KB blocks): KB = 64 at D = 128
 * keeps S (64 fp32) + O (128 fp32) in registers; KB = 128 at D = 64 (S 128 + O 64). */
template <int D, int KB, bool BF16, int MARK>
__global__ void __launch_bounds__(LA_CUDA_THREADS, 2)
    la_fwd_kernel(const __grid_constant__ la_fwd_params_t p) {
  constexpr int BM = LA_CUDA_BM, BN = LA_CUDA_BN;
  constexpr int MI = 2;       /* m16 fragments per warp */
  constexpr int NT = KB / 8;  /* n8 tiles of S per block */
  constexpr int KD = D / 16;  /* k16 steps of Q·Kᵀ */
  constexpr int DT = D / 8;   /* n8 tiles of O */
  constexpr int KK = KB / 16; /* k16 steps of P·V */
  constexpr int NSUB = BN / KB;
  static_assert(BM == (LA_CUDA_THREADS / 32) * MI * 16, "BM must be 4 warps x 2 x 16 rows");
  static_assert(BN % KB == 0 && KB % 16 == 0 && D % 64 == 0, "tile shape");

  extern __shared__ __align__(128) uint16_t la_smem[];
  uint16_t *sQ = la_smem;
  uint16_t *sK = sQ + BM * D;
  uint16_t *sV = sK + KB * D;
  uint32_t *vis = reinterpret_cast<uint32_t *>(sV + KB * D); /* visited tiles of this row */
  uint32_t *sbits = vis + p.W;                               /* write-mask row being voted */
  /* Criterion state per thread and (mi, h) row slot, [slot][thread] so a warp's accesses hit 32
   * banks. In shared memory because more live registers push the main loop into spills (the
   * kernel sits at the 255-register cap). v4: the running max before the tile and, for
   * MASS, log2(n) - log2(l) before the tile, used only when a tile has more than one key block
   * (D = 128). v3 (kept for A/B builds): the running max before the tile, this
   * thread's part of l before the tile, the tile's max score so far. */
  /* v5 (default) keeps its state (one row slot per thread) in registers, except crit_l[tid]:
   * log2(n) - log2(l) before the tile, for the tile's second block at D = 128. */
  float *crit_m = reinterpret_cast<float *>(sbits + p.W);
  float *crit_l = crit_m + 4 * LA_CUDA_THREADS;
#if LA_PORTABLE_VERSION == 3
  float *crit_t = crit_l + 4 * LA_CUDA_THREADS;
#endif

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, t = lane & 3, g = lane >> 2;
  const int qt = blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  const int hk = hq / p.q_per_kv;
  const int q0 = qt * BM;
  const int nq = p.Sq - q0 < BM ? p.Sq - q0 : BM;
  const long long row = ((long long)b * p.Hq + hq) * p.Tq + qt;
  const uint16_t *gq = static_cast<const uint16_t *>(p.q) + b * p.q_sb + hq * p.q_sh;
  const uint16_t *gk = static_cast<const uint16_t *>(p.k) + b * p.k_sb + hk * p.k_sh;
  const uint16_t *gv = static_cast<const uint16_t *>(p.v) + b * p.v_sb + hk * p.v_sh;
  const bool must_q = la_ranges_hit(p.must_q, p.num_must_q, q0, q0 + nq);
  const float c = p.scale_log2;

  /* Visit set of this row: read mask (or all), plus must-do key tiles; must-do query rows visit
   * everything. Padding bits cleared. The write mask starts as the must-do tiles (always kept);
   * the vote only adds the visited tiles found not negligible. */
  for (int w = tid; w < p.W; w += LA_CUDA_THREADS) {
    const int left = p.Tk - 32 * w;
    const uint32_t pad = left < 32 ? (1u << left) - 1u : 0xffffffffu;
    const uint32_t must = must_q ? pad : la_must_word(p, w) & pad;
    const uint32_t bits = (!p.read_mask ? pad : p.read_mask[row * p.W + w] & pad) | must;
    vis[w] = bits;
    if (MARK) sbits[w] = must;
  }

  const uint32_t sQa = la_smem_addr(sQ), sKa = la_smem_addr(sK), sVa = la_smem_addr(sV);
  la_load_tile<D, BM>(sQa, gq, p.q_ss, q0, p.Sq, tid);
  __syncthreads(); /* vis complete */

  const int diag = (int)la_diag_tile(qt, BM, BN, p.Sq, p.Sk, p.Tk);
  int pos = la_next_visit(vis, p.Tk, diag, 0), sub = 0;
  if (pos < p.Tk) {
    const int j = diag + pos < p.Tk ? diag + pos : diag + pos - p.Tk;
    la_load_tile<D, KB>(sKa, gk, p.k_ss, j * BN, p.Sk, tid);
  }
  la_cp_commit();

  float o[MI][DT][4];
  float m[MI][2], l[MI][2];
#pragma unroll
  for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) o[mi][dt][0] = o[mi][dt][1] = o[mi][dt][2] = o[mi][dt][3] = 0.f;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      m[mi][h] = -INFINITY;
      l[mi][h] = 0.f;
    }
  }
  bool first = true;
  const int wrow = warp * 32; /* first row of this warp in the tile */
#if LA_PORTABLE_VERSION == 4
  /* v4 vote state: negl is "every valid row of this warp found the tile negligible so far"; row
   * (mi, h) of this thread is past the end of the sequence when mi*16 + h*8 >= rows_left. */
  bool negl = false;
  const int rows_left = p.Sq - q0 - wrow - g;
  const float thr = p.threshold;
#elif LA_PORTABLE_VERSION == 5
  /* v5 vote state. The four lanes of a quad hold the same row values (m, the quad max, the quad
   * sum of l), so each lane evaluates one row slot, slot t = mi*2 + h with mi = t1, h = t0, and
   * the warp's __all_sync still covers every (row, tile). negl: "this lane's row found the tile
   * negligible so far" (true for a row past Sq, which never votes); mb_t: m of the slot before
   * the tile; lk_t (MASS): log2(n) - log2(l) of the slot before the tile. */
  bool negl = false;
  const bool t0 = t & 1, t1 = (t >> 1) & 1;
  const bool row_out = (t1 ? 16 : 0) + (t0 ? 8 : 0) >= p.Sq - q0 - wrow - g;
  float mb_t = 0.f, lk_t = 0.f;
  /* Where the vote runs. Late (as v4): the maxes stay in the softmax loop and the criterion and
   * vote follow it, before P·V; the vote's reduction sits behind a branch at the end of the
   * softmax, and ptxas overlaps the chain before it with the exponentials. EARLY: the four row
   * maxes first, then the criterion and a branch-free vote, then the exponentials, so the tile
   * index j is dead before the softmax's register peak; ptxas interleaves the vote chain with the
   * first exponentials. At sm_90, D = 64 early for both criteria (measured, below): for PEAK late
   * spills 8 bytes (a K/V address reloaded every block) and early none; for MASS late is 8
   * instructions shorter but measured 5 points slower. Early spills 64 bytes at D = 128
   * and 16-20 at sm_80/86/89 D = 64 (late: 8, as v4). LA_V5_EARLY_VOTE (bit MARK set: early for
   * that criterion at D = 64) overrides the choice, for the A/B script's alternative build. */
#ifndef LA_V5_EARLY_VOTE
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ == 900
/* Both early at sm_90 by measurement (H200, scripts/ab_portable.sh, one process, 2026-11-27
 * 08:23 UTC, CogVideoX D=64 full mask, cost of marking): PEAK early +1.6% / late +6.2%, MASS
 * early +2.8% / late +7.9% (against ptxas's counts, which favoured MASS late). Each kernel's SASS
 * with this setting is identical to the measured build's (cuobjdump, CUDA 13.0). */
#define LA_V5_EARLY_VOTE ((1 << LA_MARK_PEAK) | (1 << LA_MARK_MASS))
#else
#define LA_V5_EARLY_VOTE 0
#endif
#endif
  constexpr bool EARLY = NSUB == 1 && ((LA_V5_EARLY_VOTE >> MARK) & 1);
#endif
  /* LATE_COMMIT (marking off, D = 128): the next K block's copy is issued where it always was
   * but committed after the softmax, behind a branch (npos < Tk). Without a branch there the
   * softmax and P·V are one basic block: ptxas sinks the four row sums (16 serial FADDs each)
   * under the P·V HMMAs, keeps their fp32 probabilities live beside the packed ones and spills l
   * (255 registers, 48-52 bytes, 4 LDL + 4 STL per block at every architecture, CUDA 13.0). The
   * branch ends the softmax's block as the vote's branch does when marking: no spill, 245-254
   * registers, the loop 1387 -> 1299 instructions at sm_90, the same arithmetic. (An
   * unconditional commit there is no branch and changes nothing; moving the copy itself there
   * also removes the spill but shortens the copy's overlap.) Every other variant keeps its SASS.
   * -DLA_LATE_COMMIT=0 builds the previous schedule (A/B: scripts/ab_portable.sh ALT_FLAGS). */
#ifndef LA_LATE_COMMIT
#define LA_LATE_COMMIT 1
#endif
  constexpr bool LATE_COMMIT = LA_LATE_COMMIT && MARK == LA_MARK_NONE && D == 128;
  /* Per-lane byte offsets of the ldmatrix rows at k-step 0. Rows are D*2 bytes (a multiple of
   * 128) and every row base used below is too, so step kd's chunk (2*kd + c) ^ (row % 8) lands
   * at offset ^ (kd << 5): c is the low chunk bit, 2*kd only touches the higher ones. */
  const uint32_t qoff = 2u * (uint32_t)la_swz<D>(wrow + (lane & 15), lane >> 4);
  const uint32_t koff = 2u * (uint32_t)la_swz<D>((lane & 7) + ((lane >> 4) << 3), (lane >> 3) & 1);
  const uint32_t voff = 2u * (uint32_t)la_swz<D>((lane & 7) + (((lane >> 3) & 1) << 3), lane >> 4);

  while (pos < p.Tk) {
    const int j = diag + pos < p.Tk ? diag + pos : diag + pos - p.Tk;
    const int k0 = j * BN + sub * KB;
    const int nsub = j == p.Tk - 1 ? (p.Sk - j * BN + KB - 1) / KB : NSUB;
    int npos = pos, nsubi = sub + 1;
    if (nsubi >= nsub) {
      npos = la_next_visit(vis, p.Tk, diag, pos + 1);
      nsubi = 0;
    }

    la_cp_wait_all();
    __syncthreads(); /* K block (and Q) landed; every warp is done with the previous V */
    la_load_tile<D, KB>(sVa, gv, p.v_ss, k0, p.Sk, tid);
    la_cp_commit();

#if LA_PORTABLE_VERSION == 3
    if (MARK && sub == 0) {
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          crit_m[(mi * 2 + h) * LA_CUDA_THREADS + tid] = m[mi][h];
          if (MARK == LA_MARK_MASS) crit_l[(mi * 2 + h) * LA_CUDA_THREADS + tid] = l[mi][h];
        }
    }
#elif LA_PORTABLE_VERSION == 4
    /* The tile's first block starts a fresh vote: the first visited tile is never negligible. */
    if (MARK && (NSUB == 1 || sub == 0)) negl = !first;
#else
    /* The tile's first block starts a fresh vote (the first visited tile is never negligible) and
     * takes this lane's slot's state before the tile: m and, for MASS, log2(n) - log2(l), one
     * log2 per thread instead of four. At D = 128 the tile's second block reuses them: m from a
     * register, log2(n) - log2(l) from shared memory (in a register too it costs 24 bytes of
     * spills at sm_90). */
    if (MARK && (NSUB == 1 || sub == 0)) {
      negl = !first;
      mb_t = t1 ? (t0 ? m[1][1] : m[1][0]) : (t0 ? m[0][1] : m[0][0]);
      if (MARK == LA_MARK_MASS) {
        lk_t = la_log2_ftz((float)(p.Sk - j * BN < BN ? p.Sk - j * BN : BN)) -
               __log2f(la_quad_sum_slot(l[0][0], l[0][1], l[1][0], l[1][1], t0, t1));
        if (NSUB > 1) crit_l[tid] = lk_t;
      }
    } else if (MARK == LA_MARK_MASS) {
      lk_t = crit_l[tid];
    }
#endif

    /* S = Q·Kᵀ (raw scores, fp32). */
    float s[MI][NT][4];
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) s[mi][nt][0] = s[mi][nt][1] = s[mi][nt][2] = s[mi][nt][3] = 0.f;
#pragma unroll
    for (int kd = 0; kd < KD; ++kd) {
      uint32_t a[MI][4];
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
        la_ldsm_x4(a[mi], sQa + la_xor(qoff + mi * 16 * D * 2, kd << 5));
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        uint32_t bk[4];
        la_ldsm_x4(bk, sKa + la_xor(koff + np * 16 * D * 2, kd << 5));
#pragma unroll
        for (int mi = 0; mi < MI; ++mi) {
          la_mma<BF16>(s[mi][2 * np], a[mi], bk[0], bk[1]);
          la_mma<BF16>(s[mi][2 * np + 1], a[mi], bk[2], bk[3]);
        }
      }
    }
    if (k0 + KB > p.Sk) { /* keys past the end of the sequence (only in the last tile) */
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e)
          if (k0 + nt * 8 + 2 * t + e >= p.Sk)
#pragma unroll
            for (int mi = 0; mi < MI; ++mi) s[mi][nt][e] = s[mi][nt][2 + e] = -INFINITY;
    }

    la_cp_wait_all();
    __syncthreads(); /* V block landed; every warp is done with this K block */
    if (npos < p.Tk) {
      const int jn = diag + npos < p.Tk ? diag + npos : diag + npos - p.Tk;
      la_load_tile<D, KB>(sKa, gk, p.k_ss, jn * BN + nsubi * KB, p.Sk, tid);
    }
    if (!LATE_COMMIT) la_cp_commit();

    /* Online softmax in base 2 with the scale folded in: p = 2^(s*c - m*c). */
    uint32_t pa[MI][KK][4];
#if LA_PORTABLE_VERSION == 4
    float log2n = 0.f; /* MASS: log2 of the tile's key count, once per tile */
    if (MARK == LA_MARK_MASS && (NSUB == 1 || sub == 0))
      log2n = __log2f((float)(p.Sk - j * BN < BN ? p.Sk - j * BN : BN));
#elif LA_PORTABLE_VERSION == 5
    /* mx_t: the block's row max of this lane's slot (EARLY: all four row maxes first, and the vote
     * ahead of the exponentials). */
    float mx_t = 0.f, mxv[MI][2];
    if (MARK && EARLY) {
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          float mx = -INFINITY;
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
            mx = fmaxf(mx, fmaxf(s[mi][nt][2 * h], s[mi][nt][2 * h + 1]));
          mxv[mi][h] = la_quad_max(mx);
        }
      mx_t = t1 ? (t0 ? mxv[1][1] : mxv[1][0]) : (t0 ? mxv[0][1] : mxv[0][0]);
      la_vote_v5<MARK, true>(negl, first, mx_t, mb_t, lk_t, c, p.threshold, row_out, true, sbits,
                             crit_m, j, lane);
    }
#endif
#pragma unroll
    for (int mi = 0; mi < MI; ++mi) {
#if LA_PORTABLE_VERSION == 5
      float mx_h = 0.f; /* the block's row max of slot (mi, t0) */
#endif
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float mx = -INFINITY;
#if LA_PORTABLE_VERSION == 5
        if (MARK && EARLY)
          mx = mxv[mi][h];
        else
#endif
        {
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
            mx = fmaxf(mx, fmaxf(s[mi][nt][2 * h], s[mi][nt][2 * h + 1]));
          mx = la_quad_max(mx);
        }
#if LA_PORTABLE_VERSION == 3
        if (MARK) {
          float *tm = &crit_t[(mi * 2 + h) * LA_CUDA_THREADS + tid];
          *tm = sub == 0 ? mx : fmaxf(*tm, mx);
        }
#elif LA_PORTABLE_VERSION == 5
        if (MARK && !EARLY) { /* slot t's: mx_t = t1 ? (t0 ? mx11 : mx10) : (t0 ? mx01 : mx00) */
          mx_h = h == 0 ? mx : t0 ? mx : mx_h;
          if (h == 1) mx_t = mi == 0 ? mx_h : t1 ? mx_h : mx_t;
        }
#else
        if (MARK) {
          /* The criterion block by block. (x - mb)·c + K is non-decreasing in x in fp32 too (c > 0;
           * round-to-nearest is monotone), so "every block's max is below thr" is exactly "the
           * tile's max is below thr": the spec's vote, with no tile max kept anywhere. mx is never
           * NaN (fmaxf drops NaN), so NaN only enters through m or l, as in the spec. */
          const int slot = (mi * 2 + h) * LA_CUDA_THREADS + tid;
          float mb = m[mi][h], lk = 0.f; /* state before the tile: m, log2(n) - log2(l) */
          if (NSUB == 1 || sub == 0) {
            if (MARK == LA_MARK_MASS) lk = log2n - __log2f(la_quad_sum(l[mi][h]));
            if (NSUB > 1) { /* kept for the tile's later blocks, in shared memory (no registers) */
              crit_m[slot] = mb;
              if (MARK == LA_MARK_MASS) crit_l[slot] = lk;
            }
          } else {
            mb = crit_m[slot];
            if (MARK == LA_MARK_MASS) lk = crit_l[slot];
          }
          float crit = (mx - mb) * c;
          if (MARK == LA_MARK_MASS) crit += lk;
          /* bitwise, not &&/||: short-circuit code branches around the compare */
          negl = negl & ((mi * 16 + h * 8 >= rows_left) | (crit < thr));
        }
#endif
        const float m_new = fmaxf(m[mi][h], mx);
        const float ms = m_new == -INFINITY ? 0.f : m_new * c;
        const float alpha = la_exp2(fmaf(m[mi][h], c, -ms));
        m[mi][h] = m_new;
        float rs = 0.f;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const float pe = la_exp2(fmaf(s[mi][nt][2 * h + e], c, -ms));
            s[mi][nt][2 * h + e] = pe;
            rs += pe;
          }
        l[mi][h] = fmaf(l[mi][h], alpha, rs);
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          o[mi][dt][2 * h] *= alpha;
          o[mi][dt][2 * h + 1] *= alpha;
        }
      }
#pragma unroll
      for (int kk = 0; kk < KK; ++kk) {
        pa[mi][kk][0] = la_pack<BF16>(s[mi][2 * kk][0], s[mi][2 * kk][1]);
        pa[mi][kk][1] = la_pack<BF16>(s[mi][2 * kk][2], s[mi][2 * kk][3]);
        pa[mi][kk][2] = la_pack<BF16>(s[mi][2 * kk + 1][0], s[mi][2 * kk + 1][1]);
        pa[mi][kk][3] = la_pack<BF16>(s[mi][2 * kk + 1][2], s[mi][2 * kk + 1][3]);
      }
    }

#if LA_PORTABLE_VERSION == 5
    /* The criterion and the vote, issued ahead of P·V so their latency hides behind the tensor-core
     * work. */
    if (MARK && !EARLY)
      la_vote_v5<MARK, false>(negl, first, mx_t, mb_t, lk_t, c, p.threshold, row_out,
                              NSUB == 1 || sub == nsub - 1, sbits, crit_m, j, lane);
#elif LA_PORTABLE_VERSION == 4
    /* The warp's vote after the tile's last block, issued ahead of P·V so its latency hides behind
     * the tensor-core work (must-do tiles are already in sbits). */
    if (MARK && (NSUB == 1 || sub == nsub - 1)) {
      if (!__all_sync(0xffffffffu, negl) && lane == 0) atomicOr(&sbits[j >> 5], 1u << (j & 31));
      first = false;
    }
#endif

    /* The K copy's group, committed where a copy was issued (the copy is in flight since then). */
    if (LATE_COMMIT && npos < p.Tk) la_cp_commit();

    /* O += P·V. */
#pragma unroll
    for (int kk = 0; kk < KK; ++kk) {
#pragma unroll
      for (int dp = 0; dp < DT / 2; ++dp) {
        uint32_t bv[4];
        la_ldsm_x4_trans(bv, sVa + la_xor(voff + kk * 16 * D * 2, dp << 5));
#pragma unroll
        for (int mi = 0; mi < MI; ++mi) {
          la_mma<BF16>(o[mi][2 * dp], pa[mi][kk], bv[0], bv[1]);
          la_mma<BF16>(o[mi][2 * dp + 1], pa[mi][kk], bv[2], bv[3]);
        }
      }
    }

#if LA_PORTABLE_VERSION == 3
    /* After the tile's last block: criterion against the state before the tile, then the vote.
     * Rows >= Sq never vote; the first visited tile is never negligible (must-do tiles are
     * already in sbits). Branch-free and with the SFU's log2: with only 8 warps per SM every
     * serial instruction here shows in the run time. */
    if (MARK && sub == nsub - 1) {
      const int nk = p.Sk - j * BN < BN ? p.Sk - j * BN : BN;
      const float thr = p.threshold;
      const float log2n = MARK == LA_MARK_MASS ? __log2f((float)nk) : 0.f;
      bool negl = !first;
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int slot = (mi * 2 + h) * LA_CUDA_THREADS + tid;
          float crit = (crit_t[slot] - crit_m[slot]) * c;
          if (MARK == LA_MARK_MASS) crit += log2n - __log2f(la_quad_sum(crit_l[slot]));
          negl = negl && (q0 + wrow + mi * 16 + h * 8 + g >= p.Sq || crit < thr);
        }
      if (!__all_sync(0xffffffffu, negl) && lane == 0) atomicOr(&sbits[j >> 5], 1u << (j & 31));
      first = false;
    }
#endif
    pos = npos;
    sub = nsubi;
  }
  la_cp_wait_all();

  /* O = acc / l (0 for a row that visited nothing), LSE = m*scale + ln l (-inf then). */
  uint16_t *go = static_cast<uint16_t *>(p.o) + b * p.o_sb + hq * p.o_sh;
#pragma unroll
  for (int mi = 0; mi < MI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = q0 + wrow + mi * 16 + h * 8 + g;
      const float lsum = la_quad_sum(l[mi][h]);
      const float inv = lsum > 0.f ? 1.f / lsum : 0.f;
      if (r < p.Sq) {
        uint16_t *orow = go + (long long)r * p.o_ss + 2 * t;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
          *reinterpret_cast<uint32_t *>(orow + dt * 8) =
              la_pack<BF16>(o[mi][dt][2 * h] * inv, o[mi][dt][2 * h + 1] * inv);
        if (p.lse && t == 0)
          p.lse[((long long)b * p.Hq + hq) * p.Sq + r] =
              lsum > 0.f ? m[mi][h] * p.scale + logf(lsum) : -INFINITY;
      }
    }

  if (MARK) {
    __syncthreads(); /* every warp's vote is in sbits */
    for (int w = tid; w < p.W; w += LA_CUDA_THREADS) p.write_mask[row * p.W + w] = sbits[w];
  }
}


/* Runtime flag -> compile-time constant: the one switch helper for the marking variants. */
#define LA_MARK_SWITCH(mark, MARK, ...)                                         \
  [&] {                                                                         \
    if ((mark) == LA_MARK_MASS) {                                               \
      constexpr int MARK = LA_MARK_MASS;                                        \
      return __VA_ARGS__();                                                     \
    } else if ((mark) == LA_MARK_PEAK) {                                        \
      constexpr int MARK = LA_MARK_PEAK;                                        \
      return __VA_ARGS__();                                                     \
    } else {                                                                    \
      constexpr int MARK = LA_MARK_NONE;                                        \
      return __VA_ARGS__();                                                     \
    }                                                                           \
  }()

template <int D, bool BF16>
cudaError_t la_fwd_launch(const la_fwd_params_t &p, int mark, cudaStream_t stream) {
  constexpr int KB = la_cuda_kb(D);
  const size_t smem = la_fwd_smem_bytes(D, p.W, mark != LA_MARK_NONE);
  return LA_MARK_SWITCH(mark, MARK, [&] {
    auto kernel = la_fwd_kernel<D, KB, BF16, MARK>;
    cudaError_t e =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return e;
    kernel<<<dim3((unsigned)p.Tq, (unsigned)p.Hq, (unsigned)p.B), LA_CUDA_THREADS, smem, stream>>>(p);
    return cudaGetLastError();
  });
}

template <int D, bool BF16>
cudaError_t la_fwd_attributes(cudaFuncAttributes *attr) {
  return cudaFuncGetAttributes(attr, la_fwd_kernel<D, la_cuda_kb(D), BF16, LA_MARK_NONE>);
}

/* One translation unit per (D, dtype) instantiates both entry points. */
#define LA_FWD_INSTANTIATE(D, BF16)                                                       \
  template cudaError_t la_fwd_launch<D, BF16>(const la_fwd_params_t &, int, cudaStream_t); \
  template cudaError_t la_fwd_attributes<D, BF16>(cudaFuncAttributes *);

#endif /* LITEATTN_CUDA_FWD_KERNEL_CUH */
