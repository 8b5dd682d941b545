/* sm90_ptx.cuh — the Hopper instructions the sm_90a kernel needs, as small inline-PTX wrappers:
 * mbarriers, TMA tile loads, wgmma fences and descriptors, named barriers, setmaxnreg, ex2.
 * Semantics: PTX ISA (mbarrier, cp.async.bulk.tensor, wgmma, bar, setmaxnreg sections). */
#ifndef LA_SM90_PTX_CUH
#define LA_SM90_PTX_CUH

#include <stdint.h>

/* Shared-memory (shared::cta) address of a generic pointer into shared memory. */
__device__ __forceinline__ uint32_t la_smem_u32(const void *p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}

/* ---- mbarrier ---- */
__device__ __forceinline__ void la_mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}

/* Makes barrier initialisation visible to the async proxy (the TMA unit) before first use. */
__device__ __forceinline__ void la_mbar_init_fence(void) {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

/* The producer's arrive: one arrival plus `bytes` of transactions the TMA will complete. */
__device__ __forceinline__ void la_mbar_arrive_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void la_mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}

/* Spins until the phase with this parity has completed (a fresh barrier counts parity 1 done). */
__device__ __forceinline__ void la_mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n.reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

/* ---- TMA ---- */
/* L2 policies (CUTLASS CacheHintSm90 values): Q is read once per q-tile, K/V by every q-tile. */
#define LA_L2_EVICT_FIRST 0x12F0000000000000ull
#define LA_L2_EVICT_LAST 0x14F0000000000000ull

__device__ __forceinline__ void la_tma_prefetch_map(const void *map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(map) : "memory");
}

/* 5-D tile load into shared memory, completing `bar` with the box's full byte count. */
__device__ __forceinline__ void la_tma_load_5d(uint32_t dst, const void *map, uint32_t bar, int c0,
                                               int c1, int c2, int c3, int c4, uint64_t policy) {
  asm volatile(
      "cp.async.bulk.tensor.5d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      ".L2::cache_hint [%0], [%1, {%2, %3, %4, %5, %6}], [%7], %8;" ::"r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(c4), "r"(bar), "l"(policy)
      : "memory");
}

/* ---- clusters (LA_MCAST) ---- */
__device__ __forceinline__ uint32_t la_cluster_rank(void) {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
/* Every thread of both CTAs of the cluster (non-.aligned: divergent warps may take part). */
__device__ __forceinline__ void la_cluster_sync(void) {
  asm volatile("barrier.cluster.arrive.release;\n\tbarrier.cluster.wait.acquire;" ::: "memory");
}
/* The shared::cluster address of the same offset in CTA `rank` of the cluster. */
__device__ __forceinline__ uint32_t la_mapa(uint32_t addr, uint32_t rank) {
  uint32_t r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(r) : "r"(addr), "r"(rank));
  return r;
}
/* An arrive on another CTA's mbarrier (a consumer release: it orders this thread's reads of the
 * stage, which the wgmma wait already completed). Default semantics (release, CTA scope): with
 * .release.cluster ptxas puts a MEMBAR.ALL.GPU before every arrive, in the steady-state loop. */
__device__ __forceinline__ void la_mbar_arrive_cluster(uint32_t cluster_addr) {
  asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];" ::"r"(cluster_addr) : "memory");
}
/* la_tma_load_5d into the same offset of every CTA in `mask`, completing each one's mbarrier at
 * `bar`'s offset. */
__device__ __forceinline__ void la_tma_load_5d_mc(uint32_t dst, const void *map, uint32_t bar,
                                                  int c0, int c1, int c2, int c3, int c4,
                                                  uint16_t mask, uint64_t policy) {
  asm volatile(
      "cp.async.bulk.tensor.5d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      ".multicast::cluster.L2::cache_hint [%0], [%1, {%2, %3, %4, %5, %6}], [%7], %8, %9;" ::"r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(c4), "r"(bar), "h"(mask), "l"(policy)
      : "memory");
}

/* The address lane `lane` gives to ldmatrix / stmatrix x4 over a warp's 16 rows of a TMA
 * 128B-swizzled buffer (64-column slabs of `rows` rows x 128 B, 1024-byte aligned): matrix
 * m = lane / 8 is rows row16 + 8 (m & 1) .. + 7 (row16 a multiple of 8, so row % 8 = lane % 8),
 * 8-column block blk + m / 2; the block's 16-byte chunk within its 128-byte row XOR row % 8. */
__device__ __forceinline__ uint32_t la_sw128_x4_addr(uint32_t base, int rows, int row16, int blk,
                                                     int lane) {
  const int row = row16 + ((lane >> 3) & 1) * 8 + (lane & 7), chunk = blk + (lane >> 4);
  return base + (chunk >> 3) * (rows * 128) + row * 128 + (((chunk & 7) ^ (lane & 7)) << 4);
}
/* ldmatrix x4 (LA_QRS: the Q fragment): four 8x8 b16 matrices from shared memory; lane l gives
 * the row address of matrix l / 8, row l % 8; register i of every lane gets its pair of matrix i
 * (row lane / 4, columns 2 (lane % 4), +1). */
__device__ __forceinline__ void la_ldmatrix_x4(uint32_t addr, uint32_t &a, uint32_t &b, uint32_t &c,
                                               uint32_t &d) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(a), "=r"(b), "=r"(c), "=r"(d)
               : "r"(addr)
               : "memory");
}
/* ---- epilogue through shared memory (LA_OTMA) ---- */
/* Four 8x8 b16 matrices from the mma fragment layout (register i: matrix i; lane l addresses row
 * l % 8 of matrix l / 8). */
__device__ __forceinline__ void la_stmatrix_x4(uint32_t addr, uint32_t a, uint32_t b, uint32_t c,
                                               uint32_t d) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(addr),
               "r"(a), "r"(b), "r"(c), "r"(d)
               : "memory");
}
/* Generic-proxy shared-memory writes visible to the async proxy (a TMA store that follows). */
__device__ __forceinline__ void la_fence_proxy_async_smem(void) {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
/* 5-D tile store from shared memory (bulk group of the issuing thread; rows outside the tensor
 * are not written). */
__device__ __forceinline__ void la_tma_store_5d(const void *map, uint32_t src, int c0, int c1,
                                                int c2, int c3, int c4) {
  asm volatile(
      "cp.async.bulk.tensor.5d.global.shared::cta.bulk_group [%0, {%1, %2, %3, %4, %5}], [%6];" ::"l"(
          map),
      "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(c4), "r"(src)
      : "memory");
}
__device__ __forceinline__ void la_bulk_commit(void) {
  asm volatile("cp.async.bulk.commit_group;" ::: "memory");
}
/* The issuing thread's bulk stores have read their shared memory (.read) / completed. */
__device__ __forceinline__ void la_bulk_wait_read0(void) {
  asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");
}
__device__ __forceinline__ void la_bulk_wait0(void) {
  asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
}

/* ---- wgmma ---- */
__device__ __forceinline__ void la_wgmma_fence(void) {
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}
__device__ __forceinline__ void la_wgmma_commit(void) {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
template <int N>
__device__ __forceinline__ void la_wgmma_wait(void) {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

/* wgmma.wait_group 0 that ptxas cannot schedule before `after` is computed. A plain wait has no
 * operands, and ptxas hoists it to the top of its basic block, above the softmax meant to run
 * under the PV GEMM (every v8 instance: bench/sm90/sass_wait0.py); a predicated wait makes ptxas
 * serialize the wgmmas (C7514). Here a branch on `after` ends the basic block and both paths
 * wait, so the wait stays behind whatever computes `after` (the caller passes the row sums of the
 * tile's exponentials). Labels are local to the braces, so the function may be inlined often.
 * The vote makes p uniform in the warp only; the wait is .aligned over the warpgroup, which holds
 * because p is true for every row sum in every warp. Any `after` that can be negative would make
 * the warps of a warpgroup take different waits: undefined. */
__device__ __forceinline__ void la_wgmma_wait0_after(float after) {
  asm volatile(
      "{\n.reg .pred p, q;\n"
      "setp.geu.f32 q, %0, 0f00000000;\n" /* true for every row sum (x >= 0 or NaN) */
      "vote.sync.all.pred p, q, 0xffffffff;\n" /* a warp-uniform predicate for ptxas */
      "@p bra.uni LA_W0_B;\n"
      "wgmma.wait_group.sync.aligned 0;\n"
      "bra.uni LA_W0_E;\n"
      "LA_W0_B:\n"
      "wgmma.wait_group.sync.aligned 0;\n"
      "LA_W0_E:\n}\n" ::"f"(after)
      : "memory");
}

/* Keeps the compiler from moving reads/writes of wgmma operand registers across the
 * asynchronous region (FA3's warpgroup_fence_operand). */
template <int N>
__device__ __forceinline__ void la_fence_regs(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N>
__device__ __forceinline__ void la_fence_regs(uint32_t (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i])::"memory");
}

/* Shared-memory matrix descriptor for a 128B-swizzled operand (swizzle mode 1 in bits 62-63).
 * lbo/sbo in bytes; the address field holds 14 bits of (addr >> 4), enough for 256 KB. */
__device__ __forceinline__ uint64_t la_desc_sw128(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((addr & 0x3FFFFu) >> 4) | ((uint64_t)(lbo >> 4) << 16)
         | ((uint64_t)(sbo >> 4) << 32) | (1ull << 62);
}

/* The descriptor's low word (start address / 16 and LBO / 16) of a 1024-aligned swizzled base:
 * k-step offsets add to it without a carry out of the 14-bit address field (shared memory is
 * below 256 KB), so a GEMM's descriptors are one 32-bit add each (LA_DESC_BASE). */
__device__ __forceinline__ uint32_t la_desc_lo(uint32_t addr, uint32_t lbo) {
  return ((addr & 0x3FFFFu) >> 4) | ((lbo >> 4) << 16);
}
__device__ __forceinline__ uint64_t la_desc_from_lo(uint32_t lo, uint32_t sbo) {
  uint64_t d;
  asm("mov.b64 %0, {%1, %2};" : "=l"(d) : "r"(lo), "r"((sbo >> 4) | (1u << 30)));
  return d;
}

/* ---- barriers among warps, registers, special functions ---- */
__device__ __forceinline__ void la_bar_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void la_bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

template <int R>
__device__ __forceinline__ void la_setmaxnreg_dec(void) {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(R));
}
template <int R>
__device__ __forceinline__ void la_setmaxnreg_inc(void) {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(R));
}

/* 2^x on the MUFU unit (ex2.approx.ftz: -inf -> +0). */
__device__ __forceinline__ float la_ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

#endif /* LA_SM90_PTX_CUH */
