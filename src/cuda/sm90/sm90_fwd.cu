/* sm90_fwd.cu — the Hopper (sm_90a) forward kernel: TMA loads into 128B-swizzled shared memory
 * through an mbarrier ring, wgmma for Q*K^T (SS) and P*V (RS, P from registers), one producer
 * warpgroup and two consumer warpgroups (setmaxnreg 24/240), optional pingpong between the
 * consumers, a persistent grid. Semantics exactly as src/cpu/cpu_fwd.c (DESIGN.md §2). */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <string.h>

#include <type_traits>

#include "sm90.h"
#include "sm90_ptx.cuh"
#include "sm90_wgmma.cuh"

/* The compiled tile: 128 query rows (2 consumer warpgroups x wgmma M=64) x 128 keys (the sparse
 * granularity). la_sm90_check refuses a plan whose geometry (from the one tile table) differs. */
#define LA_BM 128
#define LA_BN 128
#define LA_THREADS 384 /* producer warpgroup + 2 consumer warpgroups */
/* Marking keeps a per-CTA bitset of the row's kept tiles in shared memory: 64 words = 2048 key
 * tiles = 262144 keys (HunyuanVideo 720p is ~119k). Longer Sk with marking is refused. */
#define LA_MAX_W 64
/* Longest-first persistent schedule: each CTA keeps its list of work items in shared memory
 * (4 KB); more than this many items per CTA falls back to the plain static stride. */
#define LA_MAX_LIST 1024
/* Named barrier ids (0 is __syncthreads): pingpong turn of consumer 0 / 1, end-of-item marking,
 * the staged epilogue of consumer 0 / 1 (LA_OTMA). */
#define LA_NB_PP 1
#define LA_NB_MARK 3
#define LA_NB_EPI 4
/* Versions kept buildable from one tree for A/B timing (bench/sm90/ab.sh):
 * - -DLA_SM90_V14 (opt-in, lost on the H100, kept for the next try; NOTES.md "v14"), v13 plus:
 *   la_schedule rewritten: each warp copies its rounds' read-mask rows into shared memory
 *   (coalesced), ranks every item of the round, sums the CTAs' loads over the snake rounds and
 *   matches the last round's items to those CTAs heaviest to least loaded (v13's snake leaves
 *   1.4-7 % of a sparse launch idle behind its last CTAs). Measured (this form: cp.async copy,
 *   keys in shared memory, an int4 rank loop): the idle tail down (3.8 % from 5.0 % at H=12
 *   S=32760 D=128 d = 0.25), every row within +-1.4 % of v13, but the ranking 2.2-2.9x slower
 *   than v13's, cause not found. An earlier form with a larger callee moved the kernel body's
 *   register allocation (D=64 1.5-4 % slower, dense included).
 * - v19 (default): v18 plus, at D=128, the wgmma descriptors from one base per stage
 *   (LA_DESC_BASE) and marking's lean per-tile bookkeeping (LA_LEAN), both below, and at D=64
 *   the last-key-tile flag alone in the kernels without marking (la_tkl). H100, in one process
 *   against v18 (bench/sm90/lean.sh twice, v19ab.sh, v19.sh): D=128 dense 0.988-1.003, MASS with
 *   nothing skipped 0.982-0.993, d = 0.5 0.985-0.986, d = 0.25 0.962-0.988, d = 0.10 0.984-0.992;
 *   D=64 dense 0.978-0.982, d = 0.25 0.976-0.982 (LEAN + DESC_BASE at D=64 measured dense
 *   1.010-1.015, lean marking there MASS 1.024-1.031 and PEAK 1.049-1.054: D=64's marking kernels
 *   are v18's, SASS byte for byte). -DLA_SM90_V18 builds v18.
 * - -DLA_SM90_V18: v17 plus the drift-free longest-first schedule (LA_DF below) for read-mask
 *   calls at D=128 with >= 64 rounds and >= 65536 keys. H100 against v17 (bench/sm90/df2.sh):
 *   d = 0.25 / 0.10 0.964 / 0.970 at H=40 S=75600, 0.943 / 0.953 at H=24 S=118800; other calls
 *   take v17's code. -DLA_SM90_V17 builds v17.
 * - -DLA_SM90_V17: v15 plus Q K^T with Q in registers at D=128 (LA_QRS below). H100, paired
 *   against v15 (bench/sm90/qrs.sh): dense D=128 0.989 at H=12 S=32760 and H=40 S=75600, MASS
 *   with nothing skipped 0.976 / 0.986, d = 0.25 0.997 / 0.988, d = 0.10 1.002 / 0.997; at D=64
 *   it lost (dense 1.025, d = 0.10 1.036), so D=64 keeps Q in shared memory. -DLA_SM90_V15
 *   builds v15.
 * - -DLA_SM90_V15: v13's kernel body and schedule, plus the spec-exact CTA-pair K/V multicast
 *   for calls without a read mask at D=128 (LA_MCAST below: clusters of 2 CTAs take q-tiles 2p
 *   and 2p + 1, each in its own visit order, rank 1 one ring slot behind, every K/V tile but one
 *   per item loaded once for both). H100, paired against v13: dense 0.971-0.973 at the three
 *   D=128 production shapes, marking with nothing skipped the same ratio to its dense as v13,
 *   read-mask calls unchanged (they run v13's path). -DLA_SM90_V13 builds v13.
 * - -DLA_SM90_V13, v11 plus: the longest-first ranking by every warp of the CTA at once, one
 *   round per warp, as a radix select of the CTA's own item (la_rank_round: no shared memory, no
 *   barrier per round) instead of all threads walking the rounds one after another with two
 *   __syncthreads each (v11: 60 / 125 kcycles before any work at D=128 / D=64, d = 0.25).
 * - -DLA_SM90_V11, v10 plus: the visit sequence published by the producer (LA_PUBJ: the key
 *   tile of each K stage and whether it is the item's last, in shared memory beside the stage;
 *   the consumers read it after the stage's full barrier instead of walking the read mask
 *   themselves), every consumer thread releasing the stage after its read (LA_PUBJ_ALL).
 * - -DLA_SM90_V10, v8 plus: the steady-state `wgmma.wait_group 0` pinned after the softmax
 *   (LA_W0PIN: the softmax of S(j) runs under PV(j-1)) and the row maxima as a tree (LA_TREE).
 * - -DLA_SM90_V8 (the default before v10), v7 plus: the criterion compares the
 *   tile's row-max step x - m_old of one row per lane (even lanes row r0, odd lanes r0 + 8) with
 *   thresholds precomputed per CTA (la_thr_min: exact, so the same decisions as v7's float
 *   expressions) that change only when the MASS bound log2(keys so far) grows or at the last key
 *   tile, instead of computing (x - m_old) * c + log2(n) - lmax for both rows of every tile.
 * - -DLA_SM90_V7: the marking criterion of tile j runs in the next iteration's PV window (after
 *   `wgmma.wait_group 1` and the release of K, before the wait for PV), branch-free, with one
 *   warp vote in the common case; the next-tile look-up runs in the GEMM wait (after the issue)
 *   and keeps the current read-mask word in a register (one load per word, not per look-up);
 *   with pingpong consumer 0 does not wait at the end of a row for the write-mask row; the
 *   longest-first ranking loads a round ahead and compares one integer key per item.
 * - -DLA_SM90_V6: the criterion of tile j in the next iteration's GEMM wait (after the issue,
 *   before `wait_group 1`, so ahead of the release of K), v4's criterion code; look-up a mask
 *   word at a time, one load per look-up.
 * - -DLA_SM90_V4_MARK: the criterion right after the tile's softmax, the look-up a tile at a
 *   time on the path to the next issue.
 * -DLA_MARK_AT=0/1/2/3 overrides where the criterion runs (0: after the tile's softmax, 1: before
 * wait_group 1, 2: after it, 3: the previous tile's after this tile's softmax) for any version. */
#if defined(LA_SM90_V4_MARK)
#define LA_VER 4
#elif defined(LA_SM90_V6)
#define LA_VER 6
#elif defined(LA_SM90_V7)
#define LA_VER 7
#elif defined(LA_SM90_V8)
#define LA_VER 8
#elif defined(LA_SM90_V10)
#define LA_VER 10
#elif defined(LA_SM90_V11)
#define LA_VER 11
#elif defined(LA_SM90_V14)
#define LA_VER 14
#else
#define LA_VER 13
#endif
#ifndef LA_MARK_AT
#define LA_MARK_AT (LA_VER == 4 ? 0 : LA_VER == 6 ? 1 : 2)
#endif
/* LA_W0PIN: the steady-state wgmma.wait_group 0 (PV(j-1) landed) is pinned after the softmax
 * of S(j) (la_wgmma_wait0_after), so the softmax runs under the PV GEMM; without it ptxas hoists
 * the wait above the exponentials in every instance. */
#ifndef LA_W0PIN
#define LA_W0PIN (LA_VER >= 10)
#endif
/* LA_TREE: the row maxima of a tile as a tree instead of a chain. */
#ifndef LA_TREE
#define LA_TREE (LA_VER >= 10)
#endif
/* LA_OTMA (opt-in, -DLA_OTMA=1): the epilogue stages O through shared memory (stmatrix into a
 * 128B-swizzled buffer per consumer warpgroup, +Q_BYTES of shared memory) and one thread stores
 * it with a TMA tile store, instead of 32 (D=128) / 16 (D=64) 4-byte global stores per thread,
 * which write each 32-byte sector in two halves (bench/sm90/trace.py: ~2600-3000 cycles per item
 * at D=128). Used when O is TMA-able (16-byte aligned base and strides), else the plain stores.
 * Checked on the H100 (quick CPU-spec check, memcheck, racecheck, synccheck clean) but no gain
 * seen in a quick A/B whose noise was +-5 % (NOTES.md, "Tried after v11"): opt-in until timed
 * properly and until its fallback, empty rows and full marking have run on a GPU. */
#ifndef LA_OTMA
#define LA_OTMA 0
#endif
/* LA_MCAST (v15's default 1: D=128; 2: D=64 as well; 0: off, as -DLA_SM90_V13 and the older
 * versions build it): calls without a read mask (marking or not), with Sq == Sk, run on clusters of 2 CTAs that take adjacent q-tiles (2p, 2p + 1) of
 * one head together and share the K/V loads (TMA multicast; each CTA's producer issues every
 * other slot; a stage is free when both CTAs' consumers released it). Each CTA walks its own
 * q-tile's spec visit order: rank 1's is rank 0's one tile later, so rank 1 runs one ring slot
 * behind in the sequence (la_pair_item) and only the slot where rank 0 starts an item is loaded
 * twice (Tk + 1 loads per pair instead of 2 Tk). The first prototype (both CTAs in q-tile 2p's
 * order; not spec-exact, failed tests/gpu's bitwise "marking at thr = -inf == dense") measured
 * dense D=128 -0.7 % (H=12 S=32760), -1.6 % (H=40 S=75600), -1.7 % (H=24 S=118800) on the H100
 * (NOTES.md, "K/V multicast across a CTA pair"). */
#ifndef LA_MCAST
#if LA_VER == 13 && !defined(LA_SM90_V13)
#define LA_MCAST 1
#else
#define LA_MCAST 0
#endif
#endif
/* LA_QRS (v17's default 1: D=128; 2: D=64 as well; 0: off, as -DLA_SM90_V15 and older versions
 * build it): Q K^T with Q held in registers
 * (wgmma RS, K-major B) instead of read from shared memory at every tile. Each consumer thread
 * loads its warpgroup's Q fragment once per item (ldmatrix, D / 4 registers: 32 at D=128, 16 at
 * D=64) and releases the Q buffer after the item's first Q K^T (every consumer thread arrives on
 * empty_q), so the producer loads the next item's Q as soon as it has issued this item's last
 * K/V, not after the consumers' last Q K^T (the v13 trace's 1400-1750-cycle Q wait per item),
 * and each tile reads 32 KB less shared memory at D=128 (16 KB at D=64): energy per tile, which
 * sets the clock on a card at its power cap (NOTES.md, session of 20:12 UTC). */
#ifndef LA_QRS
#if LA_VER == 13 && !defined(LA_SM90_V13) && !defined(LA_SM90_V15)
#define LA_QRS 1
#else
#define LA_QRS 0
#endif
#endif
template <int D> __host__ __device__ constexpr bool la_qrs() {
  return LA_QRS == 2 || (LA_QRS == 1 && D == 128);
}
/* LA_DF (v18's default 1; 0 as -DLA_SM90_V17 and older versions build it): read-mask calls at
 * D=128 with long keys get the longest-first schedule without drift (la_schedule_df): round r's
 * heaviest item goes to the CTA with the least work so far (v13's snake keeps the CTAs'
 * cumulative loads 0.63 items apart on average at H=40 S=75600 d = 0.25, this rule 0.20:
 * bench/sm90/sim_drift.py), so the CTAs start each round's items together and read the K/V
 * tiles they share within a shorter window (L2: NOTES.md, LA_DYN). */
#ifndef LA_DF
#if LA_VER == 13 && !defined(LA_SM90_V13) && !defined(LA_SM90_V15) && !defined(LA_SM90_V17)
#define LA_DF 1
#else
#define LA_DF 0
#endif
#endif
/* Where LA_DF's rule applies: from LA_DF_MIN_ROUNDS rounds (items / grid) up, as its ranking is
 * paid before any work (~1 kcycle a round; H=12 S=32760, 24 rounds: d = 0.10 2.5 % slower with
 * the rule), and from LA_DF_MIN_SK keys up: at H=40 S=32760 (78 rounds, 16.8 MB of K/V per head)
 * it lost 1.2-1.9 %, at the 720p shapes (S = 75600 / 118800, 169-179 rounds) it gained 3-6 %
 * (H100, bench/sm90/df.sh, df2.sh). Two measured points, not a model: where between them it
 * starts to pay is not known. */
#ifndef LA_DF_MIN_ROUNDS
#define LA_DF_MIN_ROUNDS 64
#endif
#ifndef LA_DF_MIN_SK
#define LA_DF_MIN_SK 65536
#endif
/* LA_KV_POLICY: the L2 cache hint of the K/V tile loads (experiments: -DLA_KV_POLICY=
 * 0x1000000000000000ull is evict-normal; default evict-last). */
#ifndef LA_KV_POLICY
#define LA_KV_POLICY LA_L2_EVICT_LAST
#endif
/* v19 (the default; -DLA_SM90_V18 builds v18): two per-tile instruction cuts at D=128.
 * LA_DESC_BASE: each GEMM's wgmma descriptors as one base low word per stage plus a constant per
 * k-step (la_desc_lo / la_desc_from_lo; 2 SASS instructions per HGMMA instead of 5).
 * LA_LEAN: marking's per-tile bookkeeping cut. The producer flags a partial last key tile in
 * its published slot (LA_TKL_BIT), so neither the softmax's partial-tile test nor the
 * criterion compares j with Tk - 1 or reloads Sk / Tk; the word change, the lmax step and the
 * last key tile share one rare branch; PEAK runs MASS's code with its threshold as the "sure"
 * one and +inf as the "open" one (no p.mass test per tile); a padding row's d is selected to
 * -inf instead of min'ed with a rebuilt +-inf. Per tile and consumer warp at H=12 S=32760 (ncu):
 * dense 465 -> 422 instructions, MASS marking 517 -> 467. At D=64 both together measured slower
 * (bench/sm90/lean.sh), lean marking alone slower in the marking kernels: la_desc_base<D>() and
 * la_lean<D>() take D=128, la_tkl<D, MARK>() adds D=64's kernels without marking. */
#if LA_VER == 13 && !defined(LA_SM90_V13) && !defined(LA_SM90_V15) && !defined(LA_SM90_V17) \
    && !defined(LA_SM90_V18)
#define LA_V19 1
#else
#define LA_V19 0
#endif
#ifndef LA_DESC_BASE
#define LA_DESC_BASE LA_V19
#endif
#ifndef LA_LEAN
#define LA_LEAN LA_V19
#endif
/* whether a head dim takes them (experiments: -DLA_V19_D64=1 both at D=64 too, -DLA_DESC_D64=1
 * or -DLA_LEAN_D64=1 one of them) */
#ifndef LA_V19_D64
#define LA_V19_D64 0
#endif
#ifndef LA_DESC_D64
#define LA_DESC_D64 LA_V19_D64
#endif
#ifndef LA_LEAN_D64
#define LA_LEAN_D64 LA_V19_D64
#endif
template <int D> __host__ __device__ constexpr bool la_desc_base() {
  return LA_DESC_BASE && (D == 128 || LA_DESC_D64);
}
template <int D> __host__ __device__ constexpr bool la_lean() {
  return LA_LEAN && (D == 128 || LA_LEAN_D64);
}
/* The last-key-tile flag alone (producer, softmax): with la_lean, and at D=64 in the kernels
 * without marking (there it measured dense 0.978-0.982 and d = 0.25 0.980-0.982 against v18 in
 * two runs; the D=64 marking kernels lost 2-5 % with lean marking and keep v18's code). */
template <int D, int MARK> __host__ __device__ constexpr bool la_tkl() {
  return la_lean<D>() || (LA_LEAN && D == 64 && !MARK);
}
/* LA_LEAN: in a published slot and the consumer's j: j is the last key tile and it is partial
 * (Sk % BN != 0; a full last tile has the thresholds of every other, log2(BN) = 7) */
#define LA_TKL_BIT 0x40000000u
/* LA_PUBJ (v11; -DLA_PUBJ=1 on older versions): the producer publishes the visit sequence
 * (NOTES.md, v10 and v11). */
#ifndef LA_PUBJ
#define LA_PUBJ (LA_VER >= 11)
#endif
/* LA_PUBJ_ALL (with LA_PUBJ; v11): every consumer thread arrives on the stage's empty barrier
 * after reading the slot. With -DLA_PUBJ_ALL=0 lane 0 arrives after __syncwarp, which ptxas
 * compiles to a NOP: correct on the hardware, but racecheck then reports the slot hand-over
 * (race_mbar_test.cu: mode 0, a lane-0 release after __syncwarp, is reported like the racy
 * mode 1; mode 3, every thread releasing its own read, is clean; NOTES.md, v11). */
#ifndef LA_PUBJ_ALL
#define LA_PUBJ_ALL LA_PUBJ
#endif
#define LA_SCHED_NI 5 /* v13 ranking: items per lane of one round, so G <= 32 * 5 */
static_assert(!LA_PUBJ || LA_VER >= 6, "LA_PUBJ replaces the look-up in the GEMM wait (v6+)");
static_assert(!LA_LEAN || (LA_PUBJ && LA_VER >= 8), "LA_LEAN's flag travels in the published slot");
#define LA_LAST_BIT 0x80000000u /* in a published slot: the item's last visited tile */
#define LA_LOOK_WAIT (LA_VER >= 6) /* look-up in the GEMM wait, a mask word at a time */
#define LA_WCACHE (LA_VER >= 7)    /* the look-up keeps the current mask word in a register */
#if LA_VER >= 8
static_assert(LA_MARK_AT != 0, "v8 marks in the next iteration (LA_MARK_AT 1 or 2)");
/* v8 threshold table (per CTA, shared memory): for b = bitlen(nvis - 1) in [0, LA_KB) and the
 * key tile being the last one or not, entry 2b + last is the MASS "surely keep" threshold; then
 * LA_KB2 + last the MASS "open" threshold and LA_KB2 + 2 the PEAK one. Marking needs Tk <= 32 *
 * LA_MAX_W, so nvis - 1 < 2^LA_KB. */
#define LA_KB 12
#define LA_KB2 (2 * LA_KB)
#define LA_NTHR (LA_KB2 + 3)
static_assert(32 * LA_MAX_W - 1 < (1 << LA_KB), "bitlen(nvis - 1) indexes the table");
#endif

/* -DLA_TRACE=1 (diagnostics, never in the library): %clock64 stamps of the first LA_TR_ITEMS
 * items of CTAs 0..LA_TR_CTAS-1 into la_trace (slots: bench/sm90/trace.py), read back with
 * la_sm90_trace_get. Where a consumer warpgroup, the producer and the ranking spend an item. */
#ifndef LA_TRACE
#define LA_TRACE 0
#endif
#if LA_TRACE
#define LA_TR_CTAS 16
#define LA_TR_ITEMS 64
#define LA_TR_SLOTS 32
__device__ long long la_trace[LA_TR_CTAS * LA_TR_ITEMS * LA_TR_SLOTS];
__device__ __forceinline__ long long la_clk(void) {
  long long c;
  asm volatile("mov.u64 %0, %%clock64;" : "=l"(c)::"memory");
  return c;
}
#define LA_CLK() la_clk()
#define LA_TR(n, slot, val)                                                            \
  do {                                                                                 \
    if (blockIdx.x < LA_TR_CTAS && (n) < LA_TR_ITEMS)                                  \
      la_trace[((int64_t)blockIdx.x * LA_TR_ITEMS + (n)) * LA_TR_SLOTS + (slot)] = (val); \
  } while (0)
/* Per CTA (all of them, up to LA_TR_ALL): %globaltimer (ns, one clock for every SM) at the
 * start, after the ranking, at each consumer warpgroup's end (2, 3); 4: tiles of consumer 0;
 * 5: %smid; 6: items. When each CTA ends and why (bench/sm90/trace.py, "CTA ends"). 8-13: v14's
 * schedule, warp 0's %clock64 cycles in its rounds' mask copy and sums, keys, ranks,
 * assignment, the wait at the barrier after its last round, and its rounds. */
#define LA_TR_ALL 1024
#define LA_TR_CTA_SLOTS 16
__device__ long long la_trace_cta[LA_TR_ALL * LA_TR_CTA_SLOTS];
__device__ __forceinline__ long long la_gtime(void) {
  long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)::"memory");
  return t;
}
__device__ __forceinline__ unsigned la_smid(void) {
  unsigned r;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(r));
  return r;
}
#define LA_TRA(slot, val)                                                  \
  do {                                                                     \
    if (blockIdx.x < LA_TR_ALL) la_trace_cta[blockIdx.x * LA_TR_CTA_SLOTS + (slot)] = (val); \
  } while (0)
extern "C" int la_sm90_trace_cta_get(long long *dst, int clear) {
  cudaError_t e = cudaMemcpyFromSymbol(dst, la_trace_cta, sizeof la_trace_cta);
  if (e == cudaSuccess && clear) {
    static long long zero[LA_TR_ALL * LA_TR_CTA_SLOTS];
    e = cudaMemcpyToSymbol(la_trace_cta, zero, sizeof zero);
  }
  return (int)e;
}
extern "C" int la_sm90_trace_get(long long *dst, int clear) {
  cudaError_t e = cudaMemcpyFromSymbol(dst, la_trace, sizeof la_trace);
  if (e == cudaSuccess && clear) {
    static long long zero[LA_TR_CTAS * LA_TR_ITEMS * LA_TR_SLOTS];
    e = cudaMemcpyToSymbol(la_trace, zero, sizeof zero);
  }
  return (int)e;
}
#else
#define LA_CLK() 0LL
#define LA_TR(n, slot, val) ((void)0)
#define LA_TRA(slot, val) ((void)0)
#endif

/* Shared memory of one CTA. Every tile buffer is a multiple of 1024 B from a 1024-aligned base,
 * as 128B swizzle requires (the swizzle atom is 8 rows x 128 B). Tiles are slab-major:
 * [D/64 slabs][rows][64 elements], each slab 128B-swizzled, as the 5-D TMA box lands them. */
template <int D>
struct la_layout {
  /* Stages per K/V ring: D=128 2 (Q 32 KB + 2x2x32 KB = 160 KB; FA3 uses 2), D=64 4 (144 KB). */
  static constexpr int STAGES = D == 128 ? 2 : 4;
  static constexpr int Q_BYTES = LA_BM * D * 2;
  static constexpr int KV_BYTES = LA_BN * D * 2;
  static constexpr int Q_OFF = 0;
  static constexpr int K_OFF = Q_OFF + Q_BYTES;
  static constexpr int V_OFF = K_OFF + STAGES * KV_BYTES;
  /* LA_OTMA: the staged O tile, [consumer][D/64 slabs][64 rows][128 B] */
  static constexpr int O_OFF = V_OFF + STAGES * KV_BYTES;
  static constexpr int BAR_OFF = O_OFF + (LA_OTMA ? Q_BYTES : 0);
  /* mbarriers: full/empty Q, then full K, empty K, full V, empty V per stage (8 B each). */
  static constexpr int NBARS = 2 + 4 * STAGES;
  static constexpr int NN_OFF = BAR_OFF + NBARS * 8;
  static constexpr int SCHED_OFF = NN_OFF + 2 * LA_MAX_W * 4; /* two bitsets: item parity */
  /* schedule: this CTA's item list, then one round's costs */
  static constexpr int THR_OFF = SCHED_OFF + (LA_MAX_LIST + LA_THREADS) * 4;
  /* v8 threshold table (LA_NTHR floats), then the published key tile of each stage (LA_PUBJ) */
  static constexpr int SLOT_OFF = THR_OFF + 32 * 4;
  static constexpr int BYTES = SLOT_OFF + 16 * 4;
  static_assert(STAGES <= 16, "one slot per stage");
  static constexpr int ALLOC = BYTES + 1024;              /* slack to align the base */
  static_assert(ALLOC <= 227 * 1024, "shared memory per block on sm90 is 227 KB");
};

typedef struct la_sm90_params {
  CUtensorMap tq, tk, tv; /* 5-D maps {64, S, D/64, H, B}, box {64, 128, D/64, 1, 1} */
#if LA_OTMA
  CUtensorMap to; /* O, box {64, 64, D/64, 1, 1} (one consumer warpgroup's rows) */
  int otma;       /* O is TMA-able: the epilogue stores through `to` */
#endif
  void *o;
  float *lse;
  const uint32_t *rmask;
  uint32_t *wmask;
  int64_t o_sb, o_ss, o_sh;
  int64_t items; /* B * Hq * Tq */
  int Hq, Hkv, Sq, Sk, Tq, Tk, W;
  float scale, c, thr; /* c = scale * log2(e) */
  int mass;
  int lpt; /* persistent CTAs walk a longest-first list (la_schedule) instead of a stride */
  int nmk, nmq;
  liteattn_range_t mk[LITEATTN_MAX_RANGES], mq[LITEATTN_MAX_RANGES];
} la_sm90_params_t;

/* One (b, hq, q-tile) work item and its position in the visit order. */
typedef struct la_item {
  int b, hq, hk, qt;
  int must_q;           /* the q-tile holds a must-do query: visit every tile, mark every one */
  int all;              /* no read mask, or must_q: visit every tile */
  const uint32_t *rrow; /* read-mask row */
  int diag, i;          /* first tile of the visit order; visit position */
  int wi;               /* v7 look-up: 1 + index of the mask word held in wb (0: none) */
  uint32_t wb;          /* that word's read-mask bits OR its must-do key tiles */
} la_item_t;

/* Whether q-tile qt holds a must-do query (it then visits and keeps every key tile). */
__device__ __forceinline__ int la_must_q_tile(const la_sm90_params_t &p, int qt) {
  const int64_t q0 = (int64_t)qt * LA_BM;
  const int64_t q1 = q0 + LA_BM < p.Sq ? q0 + LA_BM : p.Sq;
  return la_ranges_hit(p.mq, p.nmq, q0, q1);
}

__device__ __forceinline__ la_item_t la_item_decode(const la_sm90_params_t &p, int64_t item) {
  la_item_t it;
  it.qt = (int)(item % p.Tq);
  it.hq = (int)((item / p.Tq) % p.Hq);
  it.b = (int)(item / ((int64_t)p.Tq * p.Hq));
  it.hk = it.hq / (p.Hq / p.Hkv);
  it.must_q = la_must_q_tile(p, it.qt);
  it.all = !p.rmask || it.must_q;
  it.rrow = p.rmask ? p.rmask + item * p.W : NULL;
  it.diag = (int)la_diag_tile(it.qt, LA_BM, LA_BN, p.Sq, p.Sk, p.Tk);
  it.i = 0;
  it.wi = 0;
  it.wb = 0;
  return it;
}

__device__ __forceinline__ int la_must_k(const la_sm90_params_t &p, int j) {
  const int64_t k0 = (int64_t)j * LA_BN;
  return la_ranges_hit(p.mk, p.nmk, k0, k0 + LA_BN < p.Sk ? k0 + LA_BN : p.Sk);
}

/* Must-do key tiles among tiles [32w, 32w + 32), one bit each: tile t overlaps [begin, end) iff
 * begin / BN <= t < ceil(end / BN), as core.c validates 0 <= begin < end <= Sk. */
__host__ __device__ __forceinline__ uint32_t la_must_k_word(const la_sm90_params_t &p, int w) {
  uint32_t m = 0;
#ifdef __CUDA_ARCH__
#pragma unroll 1
#endif
  for (int r = 0; r < p.nmk; ++r) {
    int64_t lo = (int64_t)((uint64_t)p.mk[r].begin / LA_BN) - 32 * (int64_t)w;
    int64_t hi = (int64_t)(((uint64_t)p.mk[r].end + LA_BN - 1) / LA_BN) - 32 * (int64_t)w;
    lo = lo < 0 ? 0 : lo;
    hi = hi > 32 ? 32 : hi;
    if (lo < hi) m |= (hi - lo == 32 ? ~0u : (1u << (hi - lo)) - 1u) << lo;
  }
  return m;
}
/* Next visited key tile of the item in the visit order (diagonal first, then wrap), or -1. The
 * producer and both consumer warpgroups walk the same sequence. */
#if !LA_LOOK_WAIT
__device__ __forceinline__ int la_visit_next(const la_sm90_params_t &p, la_item_t &it) {
  while (it.i < p.Tk) {
    int j = it.diag + it.i;
    j = j < p.Tk ? j : j - p.Tk;
    ++it.i;
    if (it.all || ((__ldg(it.rrow + (j >> 5)) >> (j & 31)) & 1u) || la_must_k(p, j)) return j;
  }
  return -1;
}
#else
__host__ __device__ __forceinline__ int la_visit_next(const la_sm90_params_t &p, la_item_t &it) {
  if (it.all) {
    if (it.i >= p.Tk) return -1;
    const int j = it.diag + it.i++;
    return j < p.Tk ? j : j - p.Tk;
  }
  /* Read-mask (or must-do) bits a word at a time: one load per word, not per skipped tile. */
  while (it.i < p.Tk) {
    int j = it.diag + it.i;
    j = j < p.Tk ? j : j - p.Tk;
    uint32_t bits;
    if (LA_WCACHE && it.wi == (j >> 5) + 1) {
      bits = it.wb; /* the word of the previous look-up (warp-uniform branch) */
    } else {
#ifdef __CUDA_ARCH__
      bits = __ldg(it.rrow + (j >> 5));
#else
      bits = it.rrow[j >> 5];
#endif
      if (p.nmk) bits |= la_must_k_word(p, j >> 5);
      it.wi = (j >> 5) + 1;
      it.wb = bits;
    }
    bits >>= j & 31; /* bit 0: tile j */
    /* the positions left in this run: to the word's end, to Tk (the wrap), to the last one */
    int n = 32 - (j & 31);
    n = n < p.Tk - j ? n : p.Tk - j;
    n = n < p.Tk - it.i ? n : p.Tk - it.i;
    if (n < 32) bits &= (1u << n) - 1u;
    if (bits) {
#ifdef __CUDA_ARCH__
      const int k = __ffs(bits) - 1;
#else
      const int k = __builtin_ffs((int)bits) - 1;
#endif
      it.i += k + 1;
      return j + k;
    }
    it.i += n;
  }
  return -1;
}
#endif

#if LA_VER >= 8
/* The smallest float t (ordered -inf < ... < +inf) with !(((t * c) + a) - b < thr), each
 * operation rounded to nearest as the v7 criterion computes it. The expression is monotone in t
 * (c > 0, as core.c validates), so for every x, !(x < t) gives the same answer as evaluating it
 * on x (NaN included: both true). Bisection over the order-preserving integer key of the float
 * bits (a key in [key(-inf), key(+inf)] is never a NaN); once per CTA. */
__host__ __device__ __noinline__ float la_thr_min(float thr, float c, float a, float b) {
  auto ok = [&](int k) {
    k = k >= 0 ? k : k ^ 0x7fffffff;
#ifdef __CUDA_ARCH__
    return !(__fsub_rn(__fadd_rn(__fmul_rn(__int_as_float(k), c), a), b) < thr);
#else /* bench/sm90/thr_test.cu: x86-64 float arithmetic rounds each operation to nearest */
    float t;
    memcpy(&t, &k, 4);
    return !((t * c + a) - b < thr);
#endif
  };
  int lo = (int)(0xff800000u ^ 0x7fffffffu), hi = 0x7f800000; /* key(-inf), key(+inf) */
  if (ok(lo)) return -INFINITY;
  /* !ok(lo), ok(hi): +inf stays +inf through the expression (a, b finite) */
  while ((uint32_t)hi - (uint32_t)lo > 1u) {
    const int mid = (int)((uint32_t)lo + ((uint32_t)hi - (uint32_t)lo) / 2u);
    if (ok(mid))
      hi = mid;
    else
      lo = mid;
  }
  hi = hi >= 0 ? hi : hi ^ 0x7fffffff;
  float t;
  memcpy(&t, &hi, 4);
  return t;
}
#endif

__device__ __forceinline__ float la_quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ __forceinline__ float la_quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

/* ORs a word of kept-tile bits over the warp into the CTA's shared bitset (word -1: none). */
__device__ __forceinline__ void la_flush(uint32_t *kept, int word, uint32_t bits, int lane) {
  if (word < 0) return;
  bits = __reduce_or_sync(0xffffffffu, bits);
  if (lane == 0 && bits) atomicOr(&kept[word], bits);
}

/* Two floats as one register of 16-bit values, `lo` in the low half (the lower column). */
template <int F16>
__device__ __forceinline__ uint32_t la_pack(float lo, float hi) {
  uint32_t r;
  if constexpr (F16) {
    __half2 h = __floats2half2_rn(lo, hi);
    memcpy(&r, &h, 4);
  } else {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    memcpy(&r, &h, 4);
  }
  return r;
}

/* Barrier addresses. */
template <int D>
struct la_bars {
  uint32_t base;
  __device__ uint32_t full_q() const { return base; }
  __device__ uint32_t empty_q() const { return base + 8; }
  __device__ uint32_t full_k(uint32_t s) const { return base + 16 + 8 * s; }
  __device__ uint32_t empty_k(uint32_t s) const {
    return base + 16 + 8 * (la_layout<D>::STAGES + s);
  }
  __device__ uint32_t full_v(uint32_t s) const {
    return base + 16 + 8 * (2 * la_layout<D>::STAGES + s);
  }
  __device__ uint32_t empty_v(uint32_t s) const {
    return base + 16 + 8 * (3 * la_layout<D>::STAGES + s);
  }
};

/* Longest-first without workspace or a global sort, keeping the L2 locality of the static
 * stride: round r hands the gridDim items [r*G, r*G + G) to the G CTAs as the stride would, but
 * sorted by cost, heaviest to CTA 0 in even rounds and to CTA G-1 in odd rounds (a snake), so
 * heavy and light items pair up across rounds. Every CTA ranks every round the same way and keeps
 * its own item of each round. All threads of the CTA take part; needs G <= LA_THREADS. */
#if LA_VER < 7
/* Work of an item for scheduling: its visited tiles (read-mask popcount; all tiles for a
 * must-do query tile). */
__device__ __forceinline__ int la_cost(const la_sm90_params_t &p, int64_t item) {
  const int qt = (int)(item % p.Tq);
  const int64_t q0 = (int64_t)qt * LA_BM, q1 = q0 + LA_BM < p.Sq ? q0 + LA_BM : p.Sq;
  if (la_ranges_hit(p.mq, p.nmq, q0, q1)) return p.Tk;
  int cost = 0;
  for (int w = 0; w < p.W; ++w) cost += __popc(__ldg(p.rmask + item * p.W + w));
  return cost;
}

__device__ __noinline__ void la_schedule(const la_sm90_params_t &p, int *list) {
  int *cost = list + LA_MAX_LIST; /* [LA_THREADS] */
  const int t = threadIdx.x, G = (int)gridDim.x;
  const int64_t rounds = (p.items + G - 1) / G;
  for (int64_t r = 0; r < rounds; ++r) {
    const int64_t w0 = r * G;
    const int nw = p.items - w0 < G ? (int)(p.items - w0) : G;
    __syncthreads(); /* the previous round's readers are done with cost[] */
    if (t < nw) cost[t] = la_cost(p, w0 + t);
    __syncthreads();
    if (t < nw) {
      const int ct = cost[t];
      int rank = 0;
      for (int u = 0; u < nw; ++u) rank += cost[u] > ct || (cost[u] == ct && u < t);
      if (((r & 1) ? nw - 1 - rank : rank) == (int)blockIdx.x) list[r] = (int)(w0 + t);
    }
  }
}
#elif LA_VER < 13
/* v7: the same ranking, faster. v6's took ~W dependent mask loads plus a G-long rank loop per
 * round (~2-4k cycles; D=64 at S=17776 has 51 rounds of 132: ~100 us per launch, before any
 * work). Here the next round's mask words are loaded while this round is ranked, and the order
 * "more visited tiles, then the lower index" is one integer key, cost * 512 + (511 - index)
 * (G <= LA_THREADS < 512; the host enables the schedule only for Tk < 2^22, so it fits an
 * int), compared four at a time. Same ranks, so the same lists as v6. */
__device__ __noinline__ void la_schedule(const la_sm90_params_t &pr, int *list) {
  int *key = list + LA_MAX_LIST; /* [LA_THREADS], 16-byte aligned */
  const int t = threadIdx.x, G = (int)gridDim.x;
  const int64_t items = pr.items;
  const int W = pr.W, Tq = pr.Tq, Tk = pr.Tk, nmq = pr.nmq, Sq = pr.Sq;
  const uint32_t *rmask = pr.rmask;
  const int64_t rounds = (items + G - 1) / G;
  /* Visited tiles of item `item`: the read-mask popcount, or Tk for a must-do query tile. The
   * first LA_PRE words come from `load` (a round ahead), the rest are loaded here. */
  constexpr int LA_PRE = 8;
  uint32_t pre[LA_PRE];
  auto load = [&](int64_t item) {
#pragma unroll
    for (int w = 0; w < LA_PRE; ++w) pre[w] = w < W ? __ldg(rmask + item * W + w) : 0u;
  };
  auto cost_of = [&](int64_t item) {
    const int qt = (int)(item % Tq);
    const int64_t q0 = (int64_t)qt * LA_BM, q1 = q0 + LA_BM < Sq ? q0 + LA_BM : Sq;
    if (nmq && la_ranges_hit(pr.mq, nmq, q0, q1)) return Tk;
    int cost = 0;
#pragma unroll
    for (int w = 0; w < LA_PRE; ++w) cost += __popc(pre[w]);
    for (int w = LA_PRE; w < W; ++w) cost += __popc(__ldg(rmask + item * W + w));
    return cost;
  };
  if (t < G && t < items) load(t);
  for (int64_t r = 0; r < rounds; ++r) {
    const int64_t w0 = r * G;
    const int nw = items - w0 < G ? (int)(items - w0) : G;
    const int ct = t < nw ? cost_of(w0 + t) : 0;
    __syncthreads(); /* the previous round's readers are done with key[] */
    if (t < ((nw + 3) & ~3)) key[t] = t < nw ? ct * 512 + (511 - t) : -1; /* -1: padding */
    __syncthreads();
    if (r + 1 < rounds && w0 + G + t < items && t < G) load(w0 + G + t); /* under the ranking */
    if (t < nw) {
      const int kt = key[t];
      int rank = 0;
      for (int u = 0; u < nw; u += 4) {
        const int4 k = *(const int4 *)(key + u);
        rank += (k.x > kt) + (k.y > kt) + (k.z > kt) + (k.w > kt);
      }
      if (((r & 1) ? nw - 1 - rank : rank) == (int)blockIdx.x) list[r] = (int)(w0 + t);
    }
  }
}
#endif

#if LA_VER == 13
/* The 128-byte lines of `words` words from p into L1, a line per lane at a time (a hint). */
__device__ __forceinline__ void la_prefetch_l1_block(const uint32_t *p, int words, int lane) {
  const uintptr_t a = (uintptr_t)p & ~(uintptr_t)127, e = (uintptr_t)(p + words);
  for (uintptr_t l = a + 128 * lane; l < e; l += 128 * 32)
    asm volatile("prefetch.global.L1 [%0];" ::"l"(l));
}
/* v13: this CTA's item of round r, ranked by one warp (lanes 0-31) without shared memory (the
 * kernel's prologue runs one round per warp, all warps at once): the same order as v7's
 * la_schedule (more visited tiles first, then the lower index; the key cost * 512 + (511 - index)
 * of each of the round's nw <= 32 * LA_SCHED_NI items is unique and >= 1), and the same snake (round r hands rank `target` to this CTA). Instead of every item's rank, a radix
 * select finds the one key with exactly `target` keys above it: bit by bit from the top, the keys
 * that match the bits decided so far and have this bit set are counted over the warp; the target
 * lies among them if fewer than that many lie above it, else below them. bitlen(Tk * 512 + 511)
 * steps of one warp reduction each, against v7's nw compares per item and two __syncthreads per
 * round. Lane 0 writes list[r]. */
__device__ __forceinline__ void la_rank_round(const la_sm90_params_t &pr, int *list, int r,
                                              int lane, int step) {
  /* 32-bit indices (lpt needs items < 2^31) */
  const int G = (int)gridDim.x, items = (int)pr.items;
  const int w0 = r * G;
  const int nw = items - w0 < G ? items - w0 : G;
  int k = (r & 1) ? nw - 1 - (int)blockIdx.x : (int)blockIdx.x;
  if (k < 0 || k >= nw) return; /* the last round may have none for this CTA (la_my_items) */
  const int W = pr.W;
  /* The round's words are one contiguous block (nw * W words). The warp's next round (r + step)
   * has its 128-byte lines prefetched into L1 now. */
  const uint32_t *rm = pr.rmask + (int64_t)w0 * W;
  if (w0 + step * G < items) {
    const int nwn = items - w0 - step * G < G ? items - w0 - step * G : G;
    la_prefetch_l1_block(pr.rmask + (int64_t)(w0 + step * G) * W, nwn * W, lane);
  }
  /* word w of the lane's items in one step: their loads are in flight together (the first
   * step waits for L2 once, the rest mostly hit the lines it brought into L1) */
  int cost[LA_SCHED_NI];
#pragma unroll
  for (int i = 0; i < LA_SCHED_NI; ++i) cost[i] = 0;
  for (int w = 0; w < W; ++w) {
#pragma unroll
    for (int i = 0; i < LA_SCHED_NI; ++i)
      if (lane + 32 * i < nw) cost[i] += __popc(__ldg(rm + (lane + 32 * i) * W + w));
  }
  uint32_t key[LA_SCHED_NI];
#pragma unroll
  for (int i = 0; i < LA_SCHED_NI; ++i) {
    const int t = lane + 32 * i;
    key[i] = 0u; /* 0: no item (never counted) */
    if (t < nw) {
      const int ct = pr.nmq && la_must_q_tile(pr, (w0 + t) % pr.Tq) ? pr.Tk : cost[i];
      key[i] = (uint32_t)ct * 512u + (uint32_t)(511 - t);
    }
  }
  uint32_t prefix = 0u, mask = 0u;
  for (int b = 31 - __clz(pr.Tk * 512 + 511); b >= 0; --b) {
    const uint32_t m2 = mask | (1u << b), cand = prefix | (1u << b);
    int cnt = 0;
#pragma unroll
    for (int i = 0; i < LA_SCHED_NI; ++i) cnt += (key[i] & m2) == cand;
    cnt = (int)__reduce_add_sync(0xffffffffu, (unsigned)cnt);
    if (k < cnt)
      prefix = cand;
    else
      k -= cnt;
    mask = m2;
  }
  if (lane == 0) list[r] = w0 + (511 - (int)(prefix & 511u));
}

/* v13's ranking: warp w ranks rounds w, w + 12, ... (a launch costs ~rounds / 12 selects).
 * Not inlined, like v7's: its code then leaves the consumers' schedule as it was. */
__device__ __noinline__ void la_schedule(const la_sm90_params_t &p, int *list) {
  for (int r = threadIdx.x / 32; r * (int)gridDim.x < (int)p.items; r += LA_THREADS / 32)
    la_rank_round(p, list, r, threadIdx.x % 32, LA_THREADS / 32);
}
#if LA_DF
#define LA_DF_G (32 * LA_SCHED_NI) /* the host's grid bound for lpt */
static_assert(LA_THREADS >= 2 * LA_DF_G, "la_schedule_df ranks items and CTAs on separate threads");
/* LA_DF: scratch ints (in the K and V rings, free until the producer starts) for `items`. */
__host__ __device__ constexpr int la_df_words(int items) { return items + 5 * LA_DF_G; }
/* LA_DF's schedule (all threads of the CTA; every CTA computes the same assignment): every
 * item's cost (visited tiles) into scratch, then round by round, as the stride's rounds: the
 * round's items ranked by cost (more first, then the lower index, as v13), the CTAs by their
 * load so far (less first, then the lower index; in a last, partial round of nw items only CTAs
 * 0 .. nw - 1 take part, as la_my_items counts), the k-th heaviest item to the k-th least loaded
 * CTA. Round 0 is v13's (all loads 0). */
__device__ __noinline__ void la_schedule_df(const la_sm90_params_t &p, int *list, int *scr) {
  const int t = threadIdx.x, G = (int)gridDim.x, items = (int)p.items, W = p.W;
  int *cost = scr;               /* [items] */
  int *load = scr + items;       /* [G] the CTAs' visited tiles so far */
  int *rk_it = load + LA_DF_G;   /* [nw] the rank of the round's item t (heaviest 0) */
  int *rk_cta = rk_it + LA_DF_G; /* [nw] the rank of CTA c by load (least 0) */
  int *sc = rk_cta + LA_DF_G;    /* [nw] the cost of the item of rank k */
  int *si = sc + LA_DF_G;        /* [nw] its index in the round */
  /* four rows per thread at a time: their words' loads are in flight together */
  for (int i0 = t; i0 < items; i0 += 4 * LA_THREADS) {
    int c[4] = {0, 0, 0, 0};
    for (int w = 0; w < W; ++w) {
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int i = i0 + u * LA_THREADS;
        if (i < items) c[u] += __popc(__ldg(p.rmask + (int64_t)i * W + w));
      }
    }
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int i = i0 + u * LA_THREADS;
      if (i < items) cost[i] = p.nmq && la_must_q_tile(p, i % p.Tq) ? p.Tk : c[u];
    }
  }
  if (t < G) load[t] = 0;
  __syncthreads();
  const int rounds = (items + G - 1) / G;
  for (int r = 0; r < rounds; ++r) {
    const int w0 = r * G, nw = items - w0 < G ? items - w0 : G;
    if (t < nw) {
      const int ct = cost[w0 + t];
      int k = 0;
      for (int u = 0; u < nw; ++u) {
        const int cu = cost[w0 + u];
        k += cu > ct || (cu == ct && u < t);
      }
      rk_it[t] = k;
    } else if (t >= LA_DF_G && t < LA_DF_G + nw) {
      const int c = t - LA_DF_G, lc = load[c];
      int k = 0;
      for (int u = 0; u < nw; ++u) {
        const int lu = load[u];
        k += lu < lc || (lu == lc && u < c);
      }
      rk_cta[c] = k;
    }
    __syncthreads();
    if (t < nw) {
      sc[rk_it[t]] = cost[w0 + t];
      si[rk_it[t]] = t;
    }
    __syncthreads();
    if (t < nw) {
      const int k = rk_cta[t];
      load[t] += sc[k];
      if (t == (int)blockIdx.x) list[r] = w0 + si[k];
    }
    __syncthreads();
  }
}
#endif
#elif LA_VER >= 14
/* v14's schedule. Shared memory: list[LA_MAX_LIST] (this CTA's item of each round), then
 * aux[LA_THREADS]: the CTAs' loads aux[0, G), the last round's item of each rank aux[160, 160 +
 * nw); per warp a scratch of LA_SCR_BYTES in the K and V rings (free until the producer starts,
 * after the __syncthreads that follows the schedule). */
#define LA_AUX_LAST 160
#define LA_SCR_WORDS 2048 /* a group of rows x <= 32 words */
#define LA_SCR_BYTES ((LA_SCR_WORDS + 32 * LA_SCHED_NI) * 4)
static_assert(32 * LA_SCHED_NI <= LA_AUX_LAST && LA_AUX_LAST + 32 * LA_SCHED_NI <= LA_THREADS,
              "aux layout");

/* The visited tiles (cost) of the round's items t < nw, whose rows start at rm, into kc[t]: rows
 * go in groups that fit the warp's scratch buf (LA_SCR_WORDS), by pieces of <= 32 words of each
 * row; a group's words are copied with cp.async (every word of the group in flight at once, no
 * register round trip; a piece of whole rows is one contiguous block), then lane l sums rows l,
 * l + 32, ... of the group from shared memory, starting at word l % wc (fewer bank conflicts). */
__device__ __forceinline__ void la_round_costs(const uint32_t *rm, int nw, int W, int lane,
                                               uint32_t *buf, int *kc) {
  for (int t = lane; t < nw; t += 32) kc[t] = 0;
  const uint32_t sbuf = la_smem_u32(buf);
  for (int wp = 0; wp < W; wp += 32) {
    const int wc = W - wp < 32 ? W - wp : 32;
    const int rg = 32 * (LA_SCR_WORDS / (32 * wc)); /* rows per group, a multiple of 32 */
    const float inv = 1.0f / (float)wc; /* e / wc for e < 2^12: exact as (e + 0.5) * inv */
    for (int r0 = 0; r0 < nw; r0 += rg) {
      const int nr = nw - r0 < rg ? nw - r0 : rg, n = nr * wc;
      for (int e = lane; e < n; e += 32) {
        const int row = (int)(((float)e + 0.5f) * inv), w = e - row * wc;
        asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(sbuf + 4u * (uint32_t)e),
                     "l"(rm + (int64_t)(r0 + row) * W + wp + w)
                     : "memory");
      }
      asm volatile("cp.async.wait_all;" ::: "memory");
      __syncwarp();
      for (int row = lane; row < nr; row += 32) {
        int sum = 0;
        for (int w = 0, ww = lane % wc; w < wc; ++w) {
          sum += __popc(buf[row * wc + ww]);
          ww = ww + 1 == wc ? 0 : ww + 1;
        }
        kc[r0 + row] += sum;
      }
      __syncwarp();
    }
  }
}

/* Each warp takes rounds w, w + 12, ...: the costs of the round's items (la_round_costs; Tk for
 * a must-do q-tile), their keys cost * 512 + (511 - t) (unique; v7's order: more tiles first,
 * then the lower index) and every item's rank among them (a compare against each key of the
 * round in the warp's scratch). A round r other than the last (L) goes by a snake whose phase
 * ends at L: rank k to CTA G - 1 - k when L - 1 - r is even, else to CTA k (so round L - 1
 * gives its lightest items to the lowest CTAs); its costs are added to those CTAs' loads. The
 * last round's nwl items go to CTAs 0 .. nwl - 1, as the stride's count per CTA (la_my_items)
 * has it, matched: after the __syncthreads, CTA b's rank among them by load (ascending, then
 * the index) is the rank of the item it takes (every CTA computes the same loads, so the same
 * matching). */
extern __shared__ __align__(1024) uint8_t la_smem_raw[];
template <int D>
__device__ __noinline__ void la_schedule(const la_sm90_params_t &pr, int *list) {
  /* the scratch: the K and V rings (found here, not passed: an argument more changed the
   * kernel's register allocation around the call and, with it, the consumers' code) */
  uint8_t *scratch = la_smem_raw + ((la_smem_u32(la_smem_raw) + 1023u) & ~1023u)
                     - la_smem_u32(la_smem_raw) + la_layout<D>::K_OFF;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int G = (int)gridDim.x, items = (int)pr.items, W = pr.W;
  const int rounds = (items + G - 1) / G, last = rounds - 1;
  int *aux = list + LA_MAX_LIST;
  for (int i = threadIdx.x; i < G; i += LA_THREADS) aux[i] = 0;
  __syncthreads();
  uint32_t *buf = (uint32_t *)(scratch + warp * LA_SCR_BYTES);
  int *keys = (int *)(buf + LA_SCR_WORDS); /* costs, then keys (16-byte aligned) */
#if LA_TRACE
  long long tph[5] = {0, 0, 0, 0, 0}, tc = LA_CLK(), tn; /* warp 0's phases (la_trace_cta) */
  int nr_w = 0;
#define LA_TPH(i)            \
  do {                       \
    tn = LA_CLK();           \
    tph[i] += tn - tc;       \
    tc = tn;                 \
  } while (0)
#else
#define LA_TPH(i) ((void)0)
#endif
  for (int r = warp; r < rounds; r += LA_THREADS / 32) {
    const int w0 = r * G, nw = items - w0 < G ? items - w0 : G;
    la_round_costs(pr.rmask + (int64_t)w0 * W, nw, W, lane, buf, keys);
    __syncwarp();
    LA_TPH(0);
#if LA_TRACE
    ++nr_w;
#endif
    for (int t = lane; t < ((nw + 3) & ~3); t += 32) {
      int ct = t < nw ? keys[t] : 0;
      if (pr.nmq && t < nw && la_must_q_tile(pr, (w0 + t) % pr.Tq)) ct = pr.Tk;
      keys[t] = t < nw ? ct * 512 + (511 - t) : -1; /* -1: padding to a multiple of 4 */
    }
    __syncwarp();
    LA_TPH(1);
    /* every key of the round read once per warp (int4 broadcasts, several in flight) and
     * compared with the lane's LA_SCHED_NI keys (-1 for none: it never counts) */
    int kt[LA_SCHED_NI], rank[LA_SCHED_NI];
#pragma unroll
    for (int i = 0; i < LA_SCHED_NI; ++i) {
      kt[i] = lane + 32 * i < nw ? keys[lane + 32 * i] : -1;
      rank[i] = 0;
    }
#pragma unroll 4
    for (int u = 0; u < nw; u += 4) {
      const int4 k = *(const int4 *)(keys + u); /* one address for the warp: a broadcast */
#pragma unroll
      for (int i = 0; i < LA_SCHED_NI; ++i)
        rank[i] += (k.x > kt[i]) + (k.y > kt[i]) + (k.z > kt[i]) + (k.w > kt[i]);
    }
    LA_TPH(2);
#pragma unroll
    for (int i = 0; i < LA_SCHED_NI; ++i) {
      const int t = lane + 32 * i;
      if (t >= nw) continue;
      if (r == last) {
        aux[LA_AUX_LAST + rank[i]] = t;
      } else {
        const int b = ((last - 1 - r) & 1) ? rank[i] : G - 1 - rank[i]; /* nw == G here */
        atomicAdd(&aux[b], kt[i] >> 9); /* the cost (Tk for a must-do q-tile) */
        if (b == (int)blockIdx.x) list[r] = w0 + t;
      }
    }
    __syncwarp(); /* keys and buf are rewritten for the warp's next round */
    LA_TPH(3);
  }
  __syncthreads();
  LA_TPH(4);
#if LA_TRACE
  if (threadIdx.x == 0) {
    for (int i = 0; i < 5; ++i) LA_TRA(8 + i, tph[i]);
    LA_TRA(13, nr_w);
  }
#endif
#undef LA_TPH
  const int nwl = items - last * G;
  if (warp == 0 && (int)blockIdx.x < nwl) {
    const int me = aux[blockIdx.x];
    int below = 0;
    for (int c = lane; c < nwl; c += 32) {
      const int lc = aux[c];
      below += lc < me || (lc == me && c < (int)blockIdx.x);
    }
    below = (int)__reduce_add_sync(0xffffffffu, (unsigned)below);
    if (lane == 0) list[last] = last * G + aux[LA_AUX_LAST + below];
  }
}
#endif

/* The n-th work item of this CTA: from its longest-first list, or a static stride. */
__device__ __forceinline__ int64_t la_nth_item(const la_sm90_params_t &p, const int *list,
                                               int64_t n) {
  return p.lpt ? (int64_t)list[n] : blockIdx.x + n * gridDim.x;
}
__device__ __forceinline__ int64_t la_my_items(const la_sm90_params_t &p) {
  return (p.items - blockIdx.x + gridDim.x - 1) / gridDim.x;
}

/* LA_MCAST: work items are pairs (b, hq, q-tiles 2p and 2p + 1); cluster c of gridDim.x / 2
 * takes pairs c, c + clusters, ...; rank r of the cluster takes q-tile 2p + r (q-tile Tq when Tq
 * is odd: a row past Sq, whose Q the producer loads from q-tile Tq - 1 and whose O and LSE are
 * never stored), each in its own spec visit order. The host takes this path only for Sq == Sk
 * (and BM == BN), where q-tile qt's first tile is qt: rank 1's order (a+1, ..., Tk-1, 0, ..., a)
 * is rank 0's (a, a+1, ..., a-1) one tile later. Both CTAs count one shared sequence of ring
 * slots: rank 1 starts with one empty slot (the "bubble": its producer completes the stage's
 * full barriers without a load, its consumers release the stage unread), so at every slot both
 * CTAs hold the same key tile, except where rank 0 starts an item (tile a) and rank 1 ends its
 * previous one (its tile a'): those slots each CTA loads for itself; all others are loaded once,
 * multicast to both. Each CTA keeps its own order, so O, LSE (and the rounding) are the spec's. */
template <int MC>
__device__ __forceinline__ int64_t la_my_items_mc(const la_sm90_params_t &p) {
  if constexpr (!MC) return la_my_items(p);
  const int64_t ncl = gridDim.x >> 1, cid = blockIdx.x >> 1;
  return (p.items - cid + ncl - 1) / ncl;
}
/* The row of q-tile 2p of this cluster's n-th pair: its b, hq, hk and visit order (the caller
 * then adds the rank to the decoded q-tile). */
__device__ __forceinline__ int64_t la_pair_item(const la_sm90_params_t &p, int64_t n) {
  const int64_t pair = (int64_t)(blockIdx.x >> 1) + n * (int64_t)(gridDim.x >> 1);
  const int Tqp = (p.Tq + 1) / 2;
  return (pair / Tqp) * p.Tq + 2 * (pair % Tqp);
}

/* LA_MCAST: rank r's row of the pair whose q-tile 2p `it` holds: q-tile 2p + r, rank 1 starting
 * its visit order one tile after rank 0 (la_diag_tile of 2p + 1 for Sq == Sk, and the same
 * rotation for the phantom q-tile Tq). */
__device__ __forceinline__ void la_pair_rank(const la_sm90_params_t &p, la_item_t &it, int r) {
  if (r == 0) return;
  it.qt += 1;
  it.diag = it.diag + 1 == p.Tk ? 0 : it.diag + 1;
  it.must_q = it.qt < p.Tq && la_must_q_tile(p, it.qt);
  it.all = !p.rmask || it.must_q;
}

/* Producer: one thread walks the work items and the visit order and issues the TMA loads. */
template <int D, int MARK, int MC = 0>
__device__ __forceinline__ void la_producer(const la_sm90_params_t &p, uint32_t sbase,
                                            const int *list, uint32_t *slots) {
  using L = la_layout<D>;
  const la_bars<D> bar{sbase + L::BAR_OFF};
  la_tma_prefetch_map(&p.tq);
  la_tma_prefetch_map(&p.tk);
  la_tma_prefetch_map(&p.tv);
  uint32_t kcount = 0, qcount = 0;
  const uint32_t rank = MC ? la_cluster_rank() : 0u;
  if constexpr (MC) {
    if (rank == 1u) {
      /* the bubble: slot 0 completes its full barriers' first phase with no bytes */
      la_mbar_arrive(bar.full_k(0));
      la_mbar_arrive(bar.full_v(0));
      kcount = 1;
    }
  }
  for (int64_t n = 0, nmy = la_my_items_mc<MC>(p); n < nmy; ++n) {
    LA_TR(n, 24, LA_CLK());
    const int64_t item = MC ? la_pair_item(p, n) : la_nth_item(p, list, n);
    la_item_t it = la_item_decode(p, item);
    if constexpr (MC) la_pair_rank(p, it, (int)rank);
    int j = la_visit_next(p, it);
    LA_TR(n, 25, LA_CLK());
    if (j < 0) continue; /* empty row: no loads; the consumers write O = 0, LSE = -inf */
    la_mbar_wait(bar.empty_q(), (qcount & 1u) ^ 1u);
    LA_TR(n, 26, LA_CLK());
    ++qcount;
#if LA_TRACE
    long long twk = 0, twv = 0, tt;
#endif
    la_mbar_arrive_tx(bar.full_q(), L::Q_BYTES);
    /* (LA_MCAST: the phantom q-tile Tq loads q-tile Tq - 1 instead of a box wholly past Sq, whose
     * zero fill the PTX ISA does not state; nothing of that row is stored) */
    la_tma_load_5d(sbase + L::Q_OFF, &p.tq, bar.full_q(), 0,
                   (MC && it.qt == p.Tq ? it.qt - 1 : it.qt) * LA_BM, 0, it.hq, it.b,
                   LA_L2_EVICT_FIRST);
    /* Stage s of the K or V ring (ring offset off) gets key tile j, its full barrier `full` the
     * bytes. LA_MCAST: kcount is the shared slot number (see la_pair_item); a shared slot of even
     * number comes from rank 0, of odd number from rank 1, into both CTAs (each sets its own
     * expected bytes here); an unshared one (`mine`) each CTA loads for itself. */
    int first = 1; /* LA_MCAST: j is the item's first tile */
    (void)first;
    auto load_kv = [&](uint32_t off, const CUtensorMap *map, uint32_t full, uint32_t s, int j,
                       int mine) {
      la_mbar_arrive_tx(full, L::KV_BYTES);
      if constexpr (MC) {
        if (mine)
          la_tma_load_5d(sbase + off + s * L::KV_BYTES, map, full, 0, j * LA_BN, 0, it.hk, it.b,
                         LA_KV_POLICY);
        else if (((kcount - 1) & 1u) == rank)
          la_tma_load_5d_mc(sbase + off + s * L::KV_BYTES, map, full, 0, j * LA_BN, 0, it.hk,
                            it.b, (uint16_t)3, LA_KV_POLICY);
      } else {
        (void)mine;
        la_tma_load_5d(sbase + off + s * L::KV_BYTES, map, full, 0, j * LA_BN, 0, it.hk, it.b,
                       LA_KV_POLICY);
      }
    };
    for (int jn; j >= 0; j = jn) {
      jn = la_visit_next(p, it);
      /* LA_MCAST: rank 0's first tile and rank 1's last are not the peer's tile of that slot */
      int mine = 0;
      if constexpr (MC) {
        mine = rank == 0u ? first : jn < 0;
        first = 0;
      }
      const uint32_t s = kcount % L::STAGES, ph = (kcount / L::STAGES) & 1u;
      ++kcount;
#if LA_TRACE
      tt = la_clk();
#endif
      la_mbar_wait(bar.empty_k(s), ph ^ 1u);
#if LA_TRACE
      twk += la_clk() - tt;
#endif
      /* LA_PUBJ: the stage's key tile for the consumers, released by the arrive below; every
       * consumer warp reads it after the stage's full barrier and before its own arrive on the
       * stage's empty barrier, so it is not overwritten while in use. */
      if (LA_PUBJ)
        slots[s] = (uint32_t)j | (jn < 0 ? LA_LAST_BIT : 0u)
                   | (la_tkl<D, MARK>() && j == p.Tk - 1 && p.Sk % LA_BN ? LA_TKL_BIT : 0u);
      load_kv(L::K_OFF, &p.tk, bar.full_k(s), s, j, mine);
#if LA_TRACE
      tt = la_clk();
#endif
      la_mbar_wait(bar.empty_v(s), ph ^ 1u);
#if LA_TRACE
      twv += la_clk() - tt;
#endif
      load_kv(L::V_OFF, &p.tv, bar.full_v(s), s, j, mine);
    }
    LA_TR(n, 27, twk);
    LA_TR(n, 28, twv);
    LA_TR(n, 29, LA_CLK());
  }
}

/* Consumer warpgroup cw (0/1) owns q-tile rows [64cw, 64cw + 64). Thread layout of the wgmma
 * accumulator: rows r0 = 64cw + 16*warp + lane/4 and r0 + 8; element 4i+e (e < 2) is row r0,
 * column 8i + 2(lane%4) + e; 4i+2+e is row r0 + 8, same column.
 * Schedule (FA3 Algorithm 2): S(j) = Q K(j)^T is issued together with O += P(j-1) V(j-1); the
 * softmax of S(j) runs while the PV GEMM is in flight; O is rescaled once PV has landed. With PP
 * the two warpgroups take turns issuing their GEMM pair (named barriers LA_NB_PP + cw). */
template <int D, int F16, int PP, int MARK, int MC = 0>
__device__ __forceinline__ void la_consumer(const la_sm90_params_t &p, uint32_t sbase,
                                            uint32_t *nn, const int *list,
                                            const uint32_t *slots) {
  using L = la_layout<D>;
  typedef typename std::conditional<F16, __half, __nv_bfloat16>::type T;
  const la_bars<D> bar{sbase + L::BAR_OFF};
  const int tid = threadIdx.x - 128;
  const int cw = tid / 128, lt = tid % 128, lane = tid % 32;
  const int r0 = cw * 64 + (lt / 32) * 16 + lane / 4;
  const int cb = 2 * (lane & 3);
  const float c = p.c;
  /* v7 criterion: thr, and log2 of the valid keys of the last key tile (v4: per tile, as
   * nk == BN ? 7 : log2(nk); every other tile has BN = 128 keys, log2 = 7). */
  const float thr = p.thr;
  const int nkl = p.Sk - (p.Tk - 1) * LA_BN;
  const float lnl = nkl == LA_BN ? 7.0f : __log2f((float)nkl);
#if LA_VER >= 8
  const float *thrt = (const float *)((uint8_t *)nn + (L::THR_OFF - L::NN_OFF));
  const float tp = MARK ? thrt[LA_KB2 + 2] : 0.0f;
  (void)tp; /* (LA_LEAN: PEAK's threshold comes from the table like MASS's) */
#endif
  uint32_t kcount = 0, qcount = 0, icount = 0;
  if (PP && cw == 1) la_bar_arrive(LA_NB_PP, 256); /* consumer 0 issues first */

  /* S = Q K^T: D/16 k-steps of m64n128k16; k-step t is slab t/4, byte 32*(t%4) in the row. */
#if LA_QRS
  /* LA_QRS: this thread's part of its warpgroup's Q rows, the A operand of every Q K^T k-step t
   * (registers 4t..4t+3: rows r0 / r0 + 8, columns 16t + 2 (lane % 4) (+1, +8, +9)). */
  uint32_t qr[D / 4];
  /* The fragment by ldmatrix from the 128B-swizzled Q buffer (the TMA's LA_BM-row slabs): k-step
   * t is the warp's 16 rows, 8-column blocks 2t and 2t + 1. */
  auto load_q = [&]() {
#pragma unroll
    for (int t = 0; t < D / 16; ++t)
      la_ldmatrix_x4(la_sw128_x4_addr(sbase + L::Q_OFF, LA_BM, cw * 64 + (lt / 32) * 16, 2 * t,
                                      lane),
                     qr[4 * t], qr[4 * t + 1], qr[4 * t + 2], qr[4 * t + 3]);
  };
#endif
  /* wgmma descriptors of k-step offset `off` from a 1024-aligned base: v19 at D=128 adds off / 16
   * to the base's low word (la_desc_base), the others build each one from the address. */
  auto desc = [&](uint32_t base, uint32_t off, uint32_t lbo) -> uint64_t {
    if constexpr (la_desc_base<D>())
      return la_desc_from_lo(la_desc_lo(base, lbo) + (off >> 4), 1024);
    else
      return la_desc_sw128(base + off, lbo, 1024);
  };
  auto issue_qk = [&](float (&sc)[64], uint32_t s) {
#pragma unroll
    for (int t = 0; t < D / 16; ++t) {
      const uint64_t db =
          desc(sbase + L::K_OFF + s * L::KV_BYTES, (t / 4) * (LA_BN * 128) + (t % 4) * 32, 16);
#if LA_QRS
      if constexpr (la_qrs<D>()) {
        la_wgmma_rsk_n128<F16>(sc, &qr[4 * t], db, t > 0);
        continue;
      }
#endif
      const uint64_t da =
          desc(sbase + L::Q_OFF + cw * (64 * 128), (t / 4) * (LA_BM * 128) + (t % 4) * 32, 16);
      la_wgmma_ss_n128<F16>(sc, da, db, t > 0);
    }
    la_wgmma_commit();
  };
  /* O += P V: 8 k-steps of 16 keys; V is MN-major (transposed B): a k-step is 16 rows (2048 B),
   * LBO is the distance between 64-column slabs (BN rows x 128 B). */
  auto issue_pv = [&](float (&o)[D / 2], const uint32_t (&pr)[32], uint32_t s) {
#pragma unroll
    for (int t = 0; t < LA_BN / 16; ++t) {
      const uint64_t db = desc(sbase + L::V_OFF + s * L::KV_BYTES, t * 2048, LA_BN * 128);
      if constexpr (D == 128)
        la_wgmma_rs_n128<F16>(o, &pr[4 * t], db);
      else
        la_wgmma_rs_n64<F16>(o, &pr[4 * t], db);
    }
    la_wgmma_commit();
  };

  /* Frees K stage s for the producer. With LA_PUBJ every warp arrives once its lanes have read
   * the stage's published slot (__syncwarp orders their reads before lane 0's release), so the
   * producer cannot overwrite the slot while a warp may still read it; else one arrive per
   * warpgroup (the wgmma reads of the stage are complete at wait_group). */
  /* LA_MCAST: the peer issues the stages of its parity (s & 1 == peer; STAGES is even, so that is
   * the stage counter's parity) into both CTAs: its empty barriers of those stages count one
   * arrive per warpgroup of this CTA as well (after this warpgroup's wgmma reads). Only the
   * issuer's barrier counts remote arrives: a non-issuer's barrier counting them too could take
   * the peer's arrives of the stage's next use into the phase of this one (an arrive carries no
   * phase), before all of this CTA's own arrives landed (review of the prototype). */
  const uint32_t peer = MC ? la_cluster_rank() ^ 1u : 0u;
  auto release_peer = [&](uint32_t b, uint32_t s) {
    if constexpr (MC)
      if (lt == 0 && (s & 1u) == peer) la_mbar_arrive_cluster(la_mapa(b, peer));
  };
  auto release_k = [&](uint32_t s) {
    release_peer(bar.empty_k(s), s);
    if constexpr (LA_PUBJ && LA_PUBJ_ALL) {
      la_mbar_arrive(bar.empty_k(s)); /* every lane: its own read precedes its own release */
    } else if constexpr (LA_PUBJ) {
      __syncwarp();
      if (lane == 0) la_mbar_arrive(bar.empty_k(s));
    } else {
      if (lt == 0) la_mbar_arrive(bar.empty_k(s));
    }
  };

#if LA_TRACE
  long long tiles_all = 0; /* this warpgroup's tiles over all its items (la_trace_cta) */
  const int trb = lt == 0 ? 12 * cw : -1; /* this warpgroup's slots (thread lt 0 writes) */
#define LA_TRC(slot, val)                        \
  do {                                           \
    if (trb >= 0) LA_TR(n, trb + (slot), (val)); \
  } while (0)
#else
#define LA_TRC(slot, val) ((void)0)
#endif
  if constexpr (MC) {
    if (peer == 0u) {
      /* rank 1's bubble (la_pair_item): slot 0 holds nothing for this CTA; its full barriers
       * complete without bytes, and the stage is released (here and to rank 0, its issuer) */
      la_mbar_wait(bar.full_k(0), 0);
      release_k(0);
      la_mbar_wait(bar.full_v(0), 0);
      if (lt == 0) la_mbar_arrive(bar.empty_v(0));
      release_peer(bar.empty_v(0), 0);
      kcount = 1;
    }
  }
  for (int64_t n = 0, nmy = la_my_items_mc<MC>(p); n < nmy; ++n) {
    LA_TRC(0, LA_CLK());
    const int64_t item = MC ? la_pair_item(p, n) : la_nth_item(p, list, n);
    la_item_t it = la_item_decode(p, item);
    if constexpr (MC) la_pair_rank(p, it, (int)(peer ^ 1u));
#if LA_TRACE
    long long twk = 0, twv = 0, tt, ntl = 0;
#endif
    /* LA_PUBJ: whether the current tile has a successor (published with its stage); the
     * successor's index itself is read after its stage's full barrier */
    int more = 0;
    /* The look-up of the next visited tile in the GEMM wait (-1: none). */
    auto look_next = [&]() -> int {
      if constexpr (LA_PUBJ)
        return more ? 0 : -1;
      else
        return la_visit_next(p, it);
    };
    uint32_t *kept = nn + (icount & 1u) * LA_MAX_W;
    ++icount;
    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
    const int q0 = it.qt * LA_BM + r0;
    int nvis = 0;       /* tiles whose softmax is done */
    int kw = -1;        /* mask word the register kbits gathers (marking) */
    uint32_t kbits = 0;
    uint32_t kmust = 0; /* v7: the must-do key tiles of word kw */
#if LA_VER >= 8
    /* v8: this tile's MASS thresholds (sure, open) or PEAK threshold, and the nvis at which
     * they change next (bitlen(nvis - 1) grows, or the tile after the last key tile). */
    float ts = 0.0f, to = 0.0f;
    int nb = 2;
#endif

    /* Mask, criterion and online softmax of tile j in place (S becomes unnormalised P); returns
     * the factors that rescale O and the row sums. */
    auto softmax = [&](float (&sc)[64], int j, float &a0, float &a1, float &x0, float &x1) {
      /* Partial last key tile: keys >= Sk score -inf (TMA zero-filled them). */
      auto mask_keys = [&](int nk) {
#pragma unroll
        for (int i = 0; i < 16; ++i)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            if (8 * i + cb + e >= nk) sc[4 * i + e] = sc[4 * i + 2 + e] = -INFINITY;
      };
      if constexpr (la_tkl<D, MARK>()) {
        /* v19: j carries the flag of a partial last key tile (LA_TKL_BIT) */
        if (j & LA_TKL_BIT) mask_keys(p.Sk - (p.Tk - 1) * LA_BN);
      } else {
        const int nk = p.Sk - j * LA_BN < LA_BN ? p.Sk - j * LA_BN : LA_BN;
        if (nk < LA_BN) mask_keys(nk);
      }
#if LA_TREE
      /* Row maxima as a tree (depth 5, not a chain of 32 dependent FMNMX): the same value, as a
       * max that ignores NaN is associative; the chain's -inf start is applied last, so a row
       * of NaN scores still gives -inf (as the CPU spec), not NaN. */
      float t0[16], t1[16];
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        t0[i] = fmaxf(sc[4 * i], sc[4 * i + 1]);
        t1[i] = fmaxf(sc[4 * i + 2], sc[4 * i + 3]);
      }
      /* four levels written out: a loop over the level is not unrolled, and t0/t1 then live
       * in local memory */
#define LA_TREE_LEVEL(w)                         \
  _Pragma("unroll") for (int i = 0; i < w; ++i) { \
    t0[i] = fmaxf(t0[i], t0[i + w]);              \
    t1[i] = fmaxf(t1[i], t1[i + w]);              \
  }
      LA_TREE_LEVEL(8)
      LA_TREE_LEVEL(4)
      LA_TREE_LEVEL(2)
      LA_TREE_LEVEL(1)
#undef LA_TREE_LEVEL
      x0 = fmaxf(t0[0], -INFINITY);
      x1 = fmaxf(t1[0], -INFINITY);
#else
      x0 = -INFINITY;
      x1 = -INFINITY;
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        x0 = fmaxf(x0, fmaxf(sc[4 * i], sc[4 * i + 1]));
        x1 = fmaxf(x1, fmaxf(sc[4 * i + 2], sc[4 * i + 3]));
      }
#endif
      x0 = la_quad_max(x0);
      x1 = la_quad_max(x1);

      ++nvis;

      /* P = 2^(S*c - m*c); O and the row sums scale by 2^((m_old - m)*c). */
      const float mn0 = fmaxf(m0, x0), mn1 = fmaxf(m1, x1);
      a0 = la_ex2((m0 - mn0) * c);
      a1 = la_ex2((m1 - mn1) * c);
      m0 = mn0;
      m1 = mn1;
      const float mc0 = mn0 * c, mc1 = mn1 * c;
      float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        sc[4 * i] = la_ex2(fmaf(sc[4 * i], c, -mc0));
        sc[4 * i + 1] = la_ex2(fmaf(sc[4 * i + 1], c, -mc0));
        sc[4 * i + 2] = la_ex2(fmaf(sc[4 * i + 2], c, -mc1));
        sc[4 * i + 3] = la_ex2(fmaf(sc[4 * i + 3], c, -mc1));
        ps0 += sc[4 * i] + sc[4 * i + 1];
        ps1 += sc[4 * i + 2] + sc[4 * i + 3];
      }
      l0 = l0 * a0 + ps0;
      l1 = l1 * a1 + ps1;
    };
    /* Marking of tile j: the criterion against the state before the tile (c: the PEAK term
     * (x - mo) * c of the tile's row maxima x and the running maxima mo before it; lo: the
     * partial row sums before it). nvis must still count tiles up to j (j is the nvis-th). A
     * thread keeps the tile if one of its valid rows does; the bits of one mask word gather in
     * a register and are OR-ed over the warp and into shared memory when the word changes
     * (la_flush). The v4/v6 code; v7 evaluates the same criterion in mark7. Where it runs:
     * LA_MARK_AT (see the top of the file). */
    auto mark = [&](int j, float c0, float c1, float lo0, float lo1) {
      const int nk = p.Sk - j * LA_BN < LA_BN ? p.Sk - j * LA_BN : LA_BN;
      if ((int)(j >> 5) != kw) {
        la_flush(kept, kw, kbits, lane);
        kw = j >> 5;
        kbits = 0;
      }
      int keep = nvis == 1 || it.must_q || (p.nmk && la_must_k(p, j));
      if (!keep) {
        const int v0 = q0 < p.Sq, v1 = q0 + 8 < p.Sq;
        if (p.mass) {
          /* c + log2(n) bounds MASS from above (l >= 1: the running max contributes 1) and
           * c + log2(n) - log2(keys so far) from below (l <= keys so far). Only when thr
           * falls between the bounds is log2(l) needed, with one lg2 per thread (even lanes
           * row r0, odd lanes r0 + 8). */
          const float ln = nk == LA_BN ? 7.0f : __log2f((float)nk);
          const float lmax = 7.0f + (float)(32 - __clz(nvis - 1));
          c0 += ln;
          c1 += ln;
          const int open = (v0 && !(c0 < p.thr) && c0 - lmax < p.thr)
                           || (v1 && !(c1 < p.thr) && c1 - lmax < p.thr);
          if (__any_sync(0xffffffffu, open)) {
            const float lf0 = la_quad_sum(lo0), lf1 = la_quad_sum(lo1);
            const float mine = __log2f((lane & 1) ? lf1 : lf0);
            const float other = __shfl_xor_sync(0xffffffffu, mine, 1);
            c0 -= (lane & 1) ? other : mine;
            c1 -= (lane & 1) ? mine : other;
          }
        }
        keep = (v0 && !(c0 < p.thr)) || (v1 && !(c1 < p.thr));
      }
      kbits |= (uint32_t)keep << (j & 31);
    };
    /* v7 criterion, the same bits as `mark`. The tile's bit is the OR over every thread of the
     * CTA (la_flush, then atomicOr), so a warp in which one lane surely keeps the tile decides
     * "keep" for itself without any log2: with lmax = log2(BN * 2^bitlen(nvis - 1)) >= log2(l),
     * MASS keeps a valid row surely when c + log2(n) - lmax >= thr and skips it surely when
     * c + log2(n) < thr (l >= 1). Only a warp where no lane is sure and some row lies between the
     * bounds computes log2(l) (v4's exact path, the same expressions). Branch-free apart from
     * that warp-uniform branch and the word change; must-do key tiles come from one bitset
     * word (la_must_k_word) per 32 tiles instead of a range loop per tile. */
    const int v0 = q0 < p.Sq, v1 = q0 + 8 < p.Sq;
#if LA_VER >= 8
    /* Whether the row this lane evaluates (r0 + 8 on odd lanes) is a query row: dv folds it into
     * d = fminf(x - m_old, dv): +inf keeps d (a NaN d becomes +inf: kept, as mark7 keeps a NaN
     * criterion), -inf makes d = -inf, which no test counts while thr > -inf (the thresholds
     * are then > -inf). With thr = -inf every valid row is surely kept, and every q-tile has
     * one, so the tile's bit (the OR over the CTA) is 1 either way. */
    const int qv = q0 + 8 * (lane & 1);
    const float dv = qv < p.Sq ? INFINITY : -INFINITY; /* (v19 at D=128 selects instead) */
#endif
    auto mark7 = [&](int j, float c0, float c1, float lo0, float lo1) {
      if ((j >> 5) != kw) {
        la_flush(kept, kw, kbits, lane);
        kw = j >> 5;
        kbits = 0;
        kmust = p.nmk ? la_must_k_word(p, kw) : 0u;
      }
      const int force = (nvis == 1) | it.must_q | (int)((kmust >> (j & 31)) & 1u);
      int keep;
      if (p.mass) {
        const float ln = j == p.Tk - 1 ? lnl : 7.0f;
        const float lmax = 7.0f + (float)(32 - __clz(nvis - 1));
        c0 += ln;
        c1 += ln;
        const int sure = force | (v0 & !(c0 - lmax < thr)) | (v1 & !(c1 - lmax < thr));
        const int open = (v0 & !(c0 < thr)) | (v1 & !(c1 < thr));
        const unsigned bs = __ballot_sync(0xffffffffu, sure);
        const unsigned bo = __ballot_sync(0xffffffffu, open);
        keep = sure;
        if (bs == 0u && bo != 0u) {
          const float lf0 = la_quad_sum(lo0), lf1 = la_quad_sum(lo1);
          const float mine = __log2f((lane & 1) ? lf1 : lf0);
          const float other = __shfl_xor_sync(0xffffffffu, mine, 1);
          c0 -= (lane & 1) ? other : mine;
          c1 -= (lane & 1) ? mine : other;
          keep = (v0 & !(c0 < thr)) | (v1 & !(c1 < thr));
        }
      } else {
        keep = force | (v0 & !(c0 < thr)) | (v1 & !(c1 < thr));
      }
      kbits |= (uint32_t)keep << (j & 31);
    };
#if LA_VER >= 8
    /* v8 criterion, the same bits as mark7 (and v4's mark). A lane evaluates one row: r0 on
     * even lanes, r0 + 8 on odd ones (a quad holds both rows twice), and d = x - m_old is that
     * row's max step, without the factor c (-inf for a padding row, see dv). MASS: mark7's
     * tests !(d*c + ln - lmax < thr) and !(d*c + ln < thr) are !(d < ts) and !(d < to) with
     * la_thr_min's thresholds, which change only when lmax (bitlen(nvis - 1)) grows or at the
     * last key tile (ln = lnl): a warp-uniform branch reloads them from the CTA's table then.
     * The exact path is mark7's (the same rounding: v7 multiplies by c at the save, a separate
     * FMUL, and __fmul_rn keeps d * c + ln from becoming one FMA here). PEAK: !(d < tp). */
    /* v19 at D=128 (la_lean): j carries LA_TKL_BIT on a partial last key tile; then j >> 5
     * differs from every word, so the one rare branch (word change, lmax step, last key tile and
     * the tile after it) sees it. The reload there is exact at any nvis (kb = bitlen(nvis - 1),
     * nb the next change). The else branch is v18's code, left as it was so that D=64 and
     * -DLA_SM90_V18 build v18's SASS byte for byte (a shared lambda for the word change and the
     * reload moved D=64's register allocation). */
    auto mark8 = [&](int j, float d, float lo0, float lo1) {
      if constexpr (la_lean<D>()) {
        if (((j >> 5) != kw) | (nvis == nb)) {
          const int jc = j & (int)~LA_TKL_BIT, last = j != jc;
          if ((jc >> 5) != kw) {
            la_flush(kept, kw, kbits, lane);
            kw = jc >> 5;
            kbits = 0;
            kmust = (p.nmk ? la_must_k_word(p, kw) : 0u) | (it.must_q ? ~0u : 0u)
                    | (nvis == 1 ? 1u << (jc & 31) : 0u);
          }
          const int kb = 32 - __clz(nvis - 1);
          ts = thrt[2 * kb + last];
          to = thrt[LA_KB2 + last];
          nb = last ? nvis + 1 : (1 << kb) + 1;
        }
        const int force = (int)((kmust >> (j & 31)) & 1u);
        const int sure = force | !(d < ts);
        const int open = !(d < to);
        const int anys = __any_sync(0xffffffffu, sure), anyo = __any_sync(0xffffffffu, open);
        int keep = sure;
        if (!anys & anyo) {
          const float lf0 = la_quad_sum(lo0), lf1 = la_quad_sum(lo1);
          const float cr = __fmul_rn(d, c) + ((j & LA_TKL_BIT) ? lnl : 7.0f);
          keep = (qv < p.Sq) & !(cr - __log2f((lane & 1) ? lf1 : lf0) < thr);
        }
        kbits |= (uint32_t)keep << (j & 31);
      } else {
        if ((j >> 5) != kw) {
          la_flush(kept, kw, kbits, lane);
          kw = j >> 5;
          kbits = 0;
          /* the forced tiles of the word: must-do key tiles, all for a must-do q-tile, and the
           * item's first tile (always a word change: kw is -1 at the item's start) */
          kmust = (p.nmk ? la_must_k_word(p, kw) : 0u) | (it.must_q ? ~0u : 0u)
                  | (nvis == 1 ? 1u << (j & 31) : 0u);
        }
        const int force = (int)((kmust >> (j & 31)) & 1u);
        const int last = j == p.Tk - 1;
        int keep;
        if (p.mass) {
          if ((nvis == nb) | last) {
            const int kb = 32 - __clz(nvis - 1);
            ts = thrt[2 * kb + last];
            to = thrt[LA_KB2 + last];
            nb = last ? nvis + 1 : (1 << kb) + 1;
          }
          const int sure = force | !(d < ts);
          const int open = !(d < to);
          const int anys = __any_sync(0xffffffffu, sure), anyo = __any_sync(0xffffffffu, open);
          keep = sure;
          if (!anys & anyo) {
            const float lf0 = la_quad_sum(lo0), lf1 = la_quad_sum(lo1);
            const float cr = __fmul_rn(d, c) + (last ? lnl : 7.0f);
            keep = (qv < p.Sq) & !(cr - __log2f((lane & 1) ? lf1 : lf0) < thr);
          }
        } else {
          keep = force | !(d < tp);
        }
        kbits |= (uint32_t)keep << (j & 31);
      }
    };
#endif
    /* The criterion of tile j, as this build places it (v8: c0 is the lane's row step d). */
    auto crit = [&](int j, float c0, float c1, float lo0, float lo1) {
#if LA_VER >= 8
      (void)c1;
      mark8(j, c0, lo0, lo1);
#else
      if constexpr (LA_VER >= 7)
        mark7(j, c0, c1, lo0, lo1);
      else
        mark(j, c0, c1, lo0, lo1);
#endif
    };
    /* Rescale O, then P as the RS A operand: register 4t+k of k-slice t is the pair
     * (S[8t+2k], S[8t+2k+1]). */
    auto to_p = [&](const float (&sc)[64], uint32_t (&pr)[32], float a0, float a1) {
      /* Once the running maxima settle, the factors are exactly 1 for the whole warp: skip. */
      if (!__all_sync(0xffffffffu, a0 == 1.0f && a1 == 1.0f)) {
#pragma unroll
        for (int i = 0; i < D / 8; ++i) {
          o[4 * i] *= a0;
          o[4 * i + 1] *= a0;
          o[4 * i + 2] *= a1;
          o[4 * i + 3] *= a1;
        }
      }
#pragma unroll
      for (int i = 0; i < 32; ++i) pr[i] = la_pack<F16>(sc[2 * i], sc[2 * i + 1]);
    };

    int j = la_visit_next(p, it);
    const int visits = j >= 0; /* an empty row has no loads, no GEMMs, no marks */
    if (la_tkl<D, MARK>() && j == p.Tk - 1 && p.Sk % LA_BN) j |= (int)LA_TKL_BIT; /* as published */
    if (j >= 0) {
      la_mbar_wait(bar.full_q(), qcount & 1u);
      LA_TRC(1, LA_CLK());
      ++qcount;
#if LA_QRS
      if constexpr (la_qrs<D>()) load_q(); /* Q in registers; released after the first Q K^T */
#endif
      float sc[64];
      uint32_t pr[32];
      float a0, a1;
      /* Prologue: S(j0) alone. */
      uint32_t s = kcount % L::STAGES, ph = (kcount / L::STAGES) & 1u;
      ++kcount;
      la_mbar_wait(bar.full_k(s), ph);
      LA_TRC(2, LA_CLK());
      if constexpr (LA_PUBJ) more = !(slots[s] & LA_LAST_BIT);
      if (PP) la_bar_sync(LA_NB_PP + cw, 256);
      la_wgmma_fence();
      issue_qk(sc, s);
      if (PP) la_bar_arrive(LA_NB_PP + (1 - cw), 256);
      int jn = -1;
      if constexpr (LA_LOOK_WAIT) jn = look_next(); /* under the GEMM */
      la_wgmma_wait<0>();
      la_fence_regs(sc);
      LA_TRC(3, LA_CLK());
      release_k(s);
#if LA_QRS
      /* every consumer thread releases Q once its fragment has been read by a completed wgmma
       * (so its ldmatrix reads are surely done; the producer may overwrite the buffer with the
       * next item's Q from here on, as CUTLASS's RS pipelines release after use) */
      if constexpr (la_qrs<D>()) la_mbar_arrive(bar.empty_q());
#endif
      float x0, x1, mo0 = m0, mo1 = m1, lo0 = l0, lo1 = l1;
      softmax(sc, j, a0, a1, x0, x1);
      /* The tile whose marking is pending (LA_MARK_AT 1, 2): its index, PEAK terms, row sums
       * before it. */
      int jm = j;
      float cm0 = 0.0f, cm1 = 0.0f, lm0 = lo0, lm1 = lo1; /* the first tile is always kept */
      if constexpr (MARK && LA_MARK_AT == 0) crit(j, (x0 - mo0) * c, (x1 - mo1) * c, lo0, lo1);
      to_p(sc, pr, a0, a1);
      uint32_t vs = s, vph = ph; /* stage of the V that P(j) multiplies */
      LA_TRC(4, LA_CLK());

      /* Steady state: issue S(j) and O += P(j-1) V(j-1); softmax S(j) under the PV GEMM. */
      if constexpr (!LA_LOOK_WAIT) jn = la_visit_next(p, it);
      for (j = jn; j >= 0; j = jn) {
        s = kcount % L::STAGES;
        ph = (kcount / L::STAGES) & 1u;
        ++kcount;
#if LA_TRACE
        ++ntl;
        tt = la_clk();
#endif
        la_mbar_wait(bar.full_k(s), ph);
#if LA_TRACE
        twk += la_clk() - tt;
        tt = la_clk();
#endif
        if constexpr (LA_PUBJ) {
          const uint32_t e = slots[s];
          j = (int)(e & ~LA_LAST_BIT);
          more = !(e & LA_LAST_BIT);
        }
        la_mbar_wait(bar.full_v(vs), vph);
        if (PP) la_bar_sync(LA_NB_PP + cw, 256);
#if LA_TRACE
        twv += la_clk() - tt;
#endif
        la_fence_regs(o);
        la_fence_regs(pr);
        la_wgmma_fence();
        issue_qk(sc, s);
        issue_pv(o, pr, vs);
        if (PP) la_bar_arrive(LA_NB_PP + (1 - cw), 256);
        /* The GEMM wait: mark the previous tile (v6), find the next. */
        if constexpr (MARK && LA_MARK_AT == 1) crit(jm, cm0, cm1, lm0, lm1);
        if constexpr (LA_LOOK_WAIT) jn = look_next();
        la_wgmma_wait<1>();
        la_fence_regs(sc);
        release_k(s);
        /* The PV window (v7): K is released, the softmax needs PV to land first. */
        if constexpr (MARK && LA_MARK_AT == 2) crit(jm, cm0, cm1, lm0, lm1);
        mo0 = m0, mo1 = m1, lo0 = l0, lo1 = l1;
        softmax(sc, j, a0, a1, x0, x1);
        if constexpr (MARK && LA_MARK_AT == 3) {
          /* after this tile's softmax (its exponentials issued): the pending tile is the
           * (nvis - 1)-th visited */
          --nvis;
          crit(jm, cm0, cm1, lm0, lm1);
          ++nvis;
        }
        if constexpr (MARK) {
          if constexpr (LA_MARK_AT != 0)
#if LA_VER >= 8
          {
            jm = j, lm0 = lo0, lm1 = lo1;
            /* v19 at D=128: a padding row's d is -inf; a valid row's NaN d counts as +inf in
             * every test, as fminf with dv makes it */
            if constexpr (la_lean<D>())
              cm0 = qv < p.Sq ? ((lane & 1) ? x1 - mo1 : x0 - mo0) : -INFINITY;
            else
              cm0 = fminf((lane & 1) ? x1 - mo1 : x0 - mo0, dv);
          }
#else
            jm = j, cm0 = (x0 - mo0) * c, cm1 = (x1 - mo1) * c, lm0 = lo0, lm1 = lo1;
#endif
          else
            crit(j, (x0 - mo0) * c, (x1 - mo1) * c, lo0, lo1);
        }
#if LA_W0PIN
        la_wgmma_wait0_after(l0 + l1); /* the softmax above runs under PV(j-1) */
#else
        la_wgmma_wait<0>();
#endif
        la_fence_regs(o);
        la_fence_regs(pr);
        if (lt == 0) la_mbar_arrive(bar.empty_v(vs));
        release_peer(bar.empty_v(vs), vs);
        to_p(sc, pr, a0, a1);
        vs = s;
        vph = ph;
        if constexpr (!LA_LOOK_WAIT) jn = la_visit_next(p, it);
      }
      LA_TRC(5, LA_CLK());
      LA_TRC(9, ntl);
#if LA_TRACE
      tiles_all += ntl + 1;
#endif
      LA_TRC(10, twk);
      LA_TRC(11, twv);
      /* Every Q K^T of the item is done: the producer may load the next Q now. */
      if (!la_qrs<D>() && lt == 0) la_mbar_arrive(bar.empty_q());
      /* Tail: the last PV. */
      la_mbar_wait(bar.full_v(vs), vph);
      if (PP) la_bar_sync(LA_NB_PP + cw, 256);
      la_fence_regs(o);
      la_fence_regs(pr);
      la_wgmma_fence();
      issue_pv(o, pr, vs);
      if (PP) la_bar_arrive(LA_NB_PP + (1 - cw), 256);
      if constexpr (MARK && LA_MARK_AT != 0) crit(jm, cm0, cm1, lm0, lm1); /* the last tile */
      la_wgmma_wait<0>();
      la_fence_regs(o);
      LA_TRC(6, LA_CLK());
      if (lt == 0) la_mbar_arrive(bar.empty_v(vs));
      release_peer(bar.empty_v(vs), vs);
    }

    /* Epilogue: O / l straight from registers, LSE (natural log), empty rows O = 0, -inf. */
    l0 = la_quad_sum(l0);
    l1 = la_quad_sum(l1);
    const float i0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, i1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    T *ob = (T *)p.o + (int64_t)it.b * p.o_sb + (int64_t)it.hq * p.o_sh;
#if LA_OTMA
    if (p.otma) {
      /* Stage this warpgroup's 64 x D tile: warp w's rows 16w..16w+15; stmatrix x4 stores column
       * blocks i, i+1 (8 columns each) of both 8-row halves; lane l addresses row l % 8 of matrix
       * l / 8 (matrix m: row half m & 1, block i + m / 2). 128B swizzle: the 16-byte chunk index
       * XOR the row % 8 (= l % 8 here), within 1024-byte aligned 8-row atoms. */
      const uint32_t obuf = sbase + L::O_OFF + cw * (64 * D * 2);
      if (lt == 0) la_bulk_wait_read0(); /* the previous item's store has read the buffer */
      la_bar_sync(LA_NB_EPI + cw, 128);
#pragma unroll
      for (int i = 0; i < D / 8; i += 2) {
        la_stmatrix_x4(la_sw128_x4_addr(obuf, 64, (lt / 32) * 16, i, lane),
                       la_pack<F16>(o[4 * i] * i0, o[4 * i + 1] * i0),
                       la_pack<F16>(o[4 * i + 2] * i1, o[4 * i + 3] * i1),
                       la_pack<F16>(o[4 * i + 4] * i0, o[4 * i + 5] * i0),
                       la_pack<F16>(o[4 * i + 6] * i1, o[4 * i + 7] * i1));
      }
      la_fence_proxy_async_smem();
      la_bar_sync(LA_NB_EPI + cw, 128);
      if (lt == 0) {
        la_tma_store_5d(&p.to, obuf, 0, it.qt * LA_BM + 64 * cw, 0, it.hq, it.b);
        la_bulk_commit();
      }
    } else
#endif
    {
      if (q0 < p.Sq) {
        T *orow = ob + (int64_t)q0 * p.o_ss + cb;
#pragma unroll
        for (int i = 0; i < D / 8; ++i) {
          const uint32_t v = la_pack<F16>(o[4 * i] * i0, o[4 * i + 1] * i0);
          *(uint32_t *)(orow + 8 * i) = v;
        }
      }
      if (q0 + 8 < p.Sq) {
        T *orow = ob + (int64_t)(q0 + 8) * p.o_ss + cb;
#pragma unroll
        for (int i = 0; i < D / 8; ++i) {
          const uint32_t v = la_pack<F16>(o[4 * i + 2] * i1, o[4 * i + 3] * i1);
          *(uint32_t *)(orow + 8 * i) = v;
        }
      }
    }
    if (p.lse && (lane & 3) == 0) {
      float *lrow = p.lse + ((int64_t)it.b * p.Hq + it.hq) * p.Sq;
      if (q0 < p.Sq) lrow[q0] = l0 > 0.0f ? m0 * p.scale + logf(l0) : -INFINITY;
      if (q0 + 8 < p.Sq) lrow[q0 + 8] = l1 > 0.0f ? m1 * p.scale + logf(l1) : -INFINITY;
    }
    LA_TRC(7, LA_CLK());
    /* One owner per row writes the write-mask row (unvisited and padding bits are 0). LA_MCAST:
     * this CTA's row is the pair's q-tile 2p + rank; the phantom row (q-tile Tq) has none. */
    const int64_t mrow = MC ? item + (it.qt & 1) : item;
    const bool mown = !MC || it.qt < p.Tq;
    if constexpr (MARK && LA_VER >= 7 && PP) {
      /* v7 with pingpong: consumer 1, whose turn follows consumer 0's, writes the row once
       * consumer 0 has arrived (its flushes are then visible); consumer 0 does not wait. An
       * empty row needs no barrier (nothing was flushed): consumer 1 writes zeros. Consumer 0
       * can be at most one barrier ahead: its last issue of the next visited row needs
       * consumer 1's turn in that row, after consumer 1's bar.sync here. For the same reason
       * consumer 0 flushes into this item's buffer again (two items on) only after consumer 1
       * has read and cleared it (the clearing threads' bar.arrive of their next turn orders it). */
      la_flush(kept, kw, kbits, lane); /* nothing for an empty row (kw < 0) */
      /* cw is the same in the whole warp; the shuffle tells ptxas, which otherwise treats the
       * item loop as divergent and keeps the row state out of uniform registers. */
      if (__shfl_sync(0xffffffffu, cw, 0) == 0) {
        if (visits) la_bar_arrive(LA_NB_MARK, 256);
      } else {
        if (visits) la_bar_sync(LA_NB_MARK, 256);
        for (int w = lt; w < p.W; w += 128) {
          if (mown) p.wmask[mrow * p.W + w] = visits ? kept[w] : 0u;
          if (visits) kept[w] = 0;
        }
      }
    } else if constexpr (MARK) {
      la_flush(kept, kw, kbits, lane);
      la_bar_sync(LA_NB_MARK, 256);
      for (int w = tid; w < p.W; w += 256) {
        if (mown) p.wmask[mrow * p.W + w] = kept[w];
        kept[w] = 0;
      }
    }
    LA_TRC(8, LA_CLK());
  }
#if LA_OTMA
  if (p.otma && lt == 0) la_bulk_wait0(); /* the last item's O is written before the exit */
#endif
#if LA_TRACE
  if (lt == 0) {
    LA_TRA(2 + cw, la_gtime());
    if (cw == 0) {
      LA_TRA(4, tiles_all);
      LA_TRA(6, la_my_items_mc<MC>(p));
    }
  }
#endif
#undef LA_TRC
}

template <int D, int F16, int PP, int MARK, int MC = 0>
__global__ void __launch_bounds__(LA_THREADS, 1)
    la_sm90_kernel(const __grid_constant__ la_sm90_params_t p) {
  using L = la_layout<D>;
  static_assert(!MC || L::STAGES % 2 == 0, "LA_MCAST: a stage's issuer is its index's parity");
#if LA_VER >= 14
  static_assert(LA_THREADS / 32 * LA_SCR_BYTES <= 2 * L::STAGES * L::KV_BYTES
                    && L::V_OFF == L::K_OFF + L::STAGES * L::KV_BYTES,
                "v14's schedule scratch fits the K and V rings");
#endif
  extern __shared__ __align__(1024) uint8_t la_smem_raw[];
  const uint32_t raw = la_smem_u32(la_smem_raw);
  const uint32_t sbase = (raw + 1023u) & ~1023u;
  uint32_t *nn = (uint32_t *)(la_smem_raw + (sbase - raw) + L::NN_OFF);
  int *list = (int *)(la_smem_raw + (sbase - raw) + L::SCHED_OFF);
  uint32_t *slots = (uint32_t *)(la_smem_raw + (sbase - raw) + L::SLOT_OFF);
  if (threadIdx.x == 0) {
    const la_bars<D> bar{sbase + L::BAR_OFF};
    la_mbar_init(bar.full_q(), 1);
    /* one arrive per consumer warpgroup; LA_QRS: per consumer thread */
    la_mbar_init(bar.empty_q(), la_qrs<D>() ? 256 : 2);
    for (uint32_t s = 0; s < L::STAGES; ++s) {
      la_mbar_init(bar.full_k(s), 1);
      /* LA_PUBJ: one arrive per consumer warp (LA_PUBJ_ALL: per consumer thread) */
      /* LA_MCAST: + the peer's 2 warpgroups on the stages this CTA issues (la_consumer) */
      const uint32_t mine = MC && (s & 1u) == la_cluster_rank() ? 2 : 0;
      la_mbar_init(bar.empty_k(s), (LA_PUBJ ? (LA_PUBJ_ALL ? 256 : 8) : 2) + mine);
      la_mbar_init(bar.full_v(s), 1);
      la_mbar_init(bar.empty_v(s), 2 + mine);
    }
    la_mbar_init_fence();
  }
  if (threadIdx.x < 2 * LA_MAX_W) nn[threadIdx.x] = 0;
#if LA_VER >= 8
  /* v8 thresholds (the layout at LA_KB): lmax = 7 + b, ln = log2 of the tile's valid keys (7,
   * or lnl, the consumers' expression, for the last key tile). */
  if (MARK && threadIdx.x >= 128 - LA_NTHR && threadIdx.x < 128) {
    float *thrt = (float *)(la_smem_raw + (sbase - raw) + L::THR_OFF);
    const int t = threadIdx.x - (128 - LA_NTHR);
    const int nkl = p.Sk - (p.Tk - 1) * LA_BN;
    const float lnl = nkl == LA_BN ? 7.0f : __log2f((float)nkl);
    const float ln = (t < LA_KB2 ? t & 1 : t - LA_KB2) ? lnl : 7.0f;
    float v;
    if constexpr (la_lean<D>()) {
      /* sure: d*c + ln - lmax; open: d*c + ln; PEAK: d*c. v19 (D=128) runs PEAK as MASS's code:
       * every "sure" threshold is PEAK's, every "open" one +inf. Invariant PEAK relies on: sure
       * <= open, so an open lane (d = +inf or NaN) is also sure and mark8 never takes MASS's
       * exact path for PEAK. One call site: a second one made ptxas fail its register
       * allocation. */
      const int pk = t >= LA_KB2 + 2 || !p.mass;
      const float a = pk ? 0.0f : ln, b = pk || t >= LA_KB2 ? 0.0f : 7.0f + (float)(t >> 1);
      v = la_thr_min(p.thr, p.c, a, b);
      if (!p.mass && t >= LA_KB2 && t < LA_KB2 + 2) v = INFINITY;
    } else {
      if (t < LA_KB2)
        v = la_thr_min(p.thr, p.c, ln, 7.0f + (float)(t >> 1)); /* sure: d*c + ln - lmax */
      else if (t < LA_KB2 + 2)
        v = la_thr_min(p.thr, p.c, ln, 0.0f); /* open: d*c + ln */
      else
        v = la_thr_min(p.thr, p.c, 0.0f, 0.0f); /* PEAK: d*c */
    }
    thrt[t] = v;
  }
#endif
  if (threadIdx.x == 0) {
    LA_TR(0, 30, LA_CLK());
    LA_TRA(0, la_gtime());
    LA_TRA(5, la_smid());
  }
#if LA_VER >= 14
  if (p.lpt) la_schedule<D>(p, list);
#elif LA_DF
  /* (D=128 only: the call's code moved the D=64 kernel body's register allocation, which v14 saw
   * cost D=64 1.5-4 %) */
  if (p.lpt) {
    if (D == 128 && !MC && p.items >= (int64_t)LA_DF_MIN_ROUNDS * gridDim.x
        && p.Sk >= LA_DF_MIN_SK && la_df_words((int)p.items) * 4 <= 2 * L::STAGES * L::KV_BYTES)
      la_schedule_df(p, list, (int *)(la_smem_raw + (sbase - raw) + L::K_OFF));
    else
      la_schedule(p, list);
  }
#else
  if (p.lpt) la_schedule(p, list);
#endif
  if constexpr (MC)
    la_cluster_sync(); /* the peer's barriers are initialised before any remote arrive or load */
  else
    __syncthreads();
  if (threadIdx.x == 0) {
    LA_TR(0, 31, LA_CLK());
    LA_TRA(1, la_gtime());
  }
  if (threadIdx.x < 128) {
    la_setmaxnreg_dec<24>();
    if (threadIdx.x == 0) {
      la_producer<D, MARK, MC>(p, sbase, list, slots);
      if constexpr (MC) la_cluster_sync(); /* see below */
    }
  } else {
    la_setmaxnreg_inc<240>();
    la_consumer<D, F16, PP, MARK, MC>(p, sbase, nn, list, slots);
    /* LA_MCAST: no CTA leaves while its peer may still arrive on its barriers or load into it
     * (the producer warpgroup's idle threads exit at once: an exited thread does not hold up
     * barrier.cluster) */
    if constexpr (MC) la_cluster_sync();
  }
}

/* ---------------------------------------------------------------------------------------------
 * Host side
 * ------------------------------------------------------------------------------------------- */
static PFN_cuTensorMapEncodeTiled_v12000 la_encoder(void) {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = NULL;
  if (!fn) {
    void *f = NULL;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault,
                                         &q) == cudaSuccess
        && q == cudaDriverEntryPointSuccess)
      fn = (PFN_cuTensorMapEncodeTiled_v12000)f;
  }
  return fn;
}

/* 5-D map over a strided [B, S, H, D] tensor: {64 elements, S, D/64 slabs (128 B apart), H, B},
 * box {64, 128, D/64, 1, 1}: one TMA per 128-row tile lands it slab-major. A dimension of size 1
 * gets a harmless stride (its stride is never applied). */
static liteattn_status_t la_make_map(CUtensorMap *map, const void *base, liteattn_dtype_t dt,
                                     int64_t D, int64_t S, int64_t H, int64_t B, int64_t ss,
                                     int64_t sh, int64_t sb, const char *name,
                                     int box_rows = LA_BM) {
  PFN_cuTensorMapEncodeTiled_v12000 enc = la_encoder();
  if (!enc)
    return la_error(LITEATTN_ERR_CUDA,
                    "sm90: cuTensorMapEncodeTiled not available from the driver (needs CUDA 12+)");
  cuuint64_t dims[5] = {64, (cuuint64_t)S, (cuuint64_t)(D / 64), (cuuint64_t)H, (cuuint64_t)B};
  cuuint64_t strides[4] = {(cuuint64_t)(S > 1 ? ss * 2 : 128), 128,
                           (cuuint64_t)(H > 1 ? sh * 2 : 128), (cuuint64_t)(B > 1 ? sb * 2 : 128)};
  cuuint32_t box[5] = {64, (cuuint32_t)box_rows, (cuuint32_t)(D / 64), 1, 1};
  cuuint32_t estr[5] = {1, 1, 1, 1, 1};
  CUresult r = enc(map,
                   dt == LITEATTN_DTYPE_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                             : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
                   5, (void *)base, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                   CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    return la_error(LITEATTN_ERR_CUDA,
                    "sm90: cuTensorMapEncodeTiled for %s failed (CUresult %d; S=%lld H=%lld B=%lld "
                    "strides s=%lld h=%lld b=%lld elements)",
                    name, (int)r, (long long)S, (long long)H, (long long)B, (long long)ss,
                    (long long)sh, (long long)sb);
  return LITEATTN_OK;
}

/* TMA: base 16-byte aligned, byte strides of dims with more than one entry multiples of 16. */
static liteattn_status_t la_check_tma_tensor(const void *ptr, int64_t S, int64_t H, int64_t B,
                                             int64_t ss, int64_t sh, int64_t sb,
                                             const char *name) {
  if ((uintptr_t)ptr % 16 != 0)
    return la_error(LITEATTN_ERR_MISALIGNED,
                    "%s = %p: the sm90 kernel loads with TMA and needs 16-byte alignment", name,
                    ptr);
  const int64_t n[3] = {S, H, B}, st[3] = {ss, sh, sb};
  const char *dn[3] = {"stride_s", "stride_h", "stride_b"};
  for (int i = 0; i < 3; ++i)
    if (n[i] > 1 && (st[i] % 8 != 0 || st[i] <= 0 || st[i] * 2 >= ((int64_t)1 << 40)))
      return la_error(LITEATTN_ERR_MISALIGNED,
                      "%s.%s = %lld elements: the sm90 kernel (TMA) needs a positive multiple of "
                      "8 (16 bytes) below 2^39",
                      name, dn[i], (long long)st[i]);
  return LITEATTN_OK;
}

extern "C" liteattn_status_t la_sm90_check(const la_plan_t *p) {
  if (p->dtype != LITEATTN_DTYPE_BF16 && p->dtype != LITEATTN_DTYPE_FP16)
    return la_error(LITEATTN_ERR_UNSUPPORTED_DTYPE,
                    "dtype = %d is not built for the sm90 kernel (have bf16, fp16)",
                    (int)p->dtype);
  if (p->D != 64 && p->D != 128)
    return la_error(LITEATTN_ERR_UNSUPPORTED_HEAD_DIM,
                    "head_dim = %lld is not built for the sm90 kernel (have 64, 128)",
                    (long long)p->D);
  if (p->geom.block_m != LA_BM || p->geom.block_n != LA_BN)
    return la_error(LITEATTN_ERR_UNSUPPORTED_HEAD_DIM,
                    "the tile table gives %lldx%lld tiles for head_dim = %lld; the sm90 kernel "
                    "is compiled for %dx%d",
                    (long long)p->geom.block_m, (long long)p->geom.block_n, (long long)p->D,
                    LA_BM, LA_BN);
  int dev = 0, major = 0, minor = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  if (e != cudaSuccess)
    return la_error(LITEATTN_ERR_CUDA, "sm90: querying the current device: %s",
                    cudaGetErrorString(e));
  if (major != 9 || minor != 0)
    return la_error(LITEATTN_ERR_UNSUPPORTED_ARCH,
                    "device %d is sm_%d%d; the sm90 kernel runs on sm_90 (Hopper) only", dev,
                    major, minor);
  liteattn_status_t st;
  if ((st = la_check_tma_tensor(p->q, p->Sq, p->Hq, p->B, p->q_ss, p->q_sh, p->q_sb, "q"))
      || (st = la_check_tma_tensor(p->k, p->Sk, p->Hkv, p->B, p->k_ss, p->k_sh, p->k_sb, "k"))
      || (st = la_check_tma_tensor(p->v, p->Sk, p->Hkv, p->B, p->v_ss, p->v_sh, p->v_sb, "v")))
    return st;
  if ((uintptr_t)p->o % 4 != 0 || p->o_ss % 2 != 0 || p->o_sh % 2 != 0 || p->o_sb % 2 != 0)
    return la_error(LITEATTN_ERR_MISALIGNED,
                    "o = %p with strides s=%lld h=%lld b=%lld: the sm90 kernel stores element "
                    "pairs and needs a 4-byte aligned base and even strides",
                    p->o, (long long)p->o_ss, (long long)p->o_sh, (long long)p->o_sb);
  if (p->write_mask && p->geom.words_per_row > LA_MAX_W)
    return la_error(LITEATTN_ERR_TOO_LARGE,
                    "seqlen_k = %lld needs %lld mask words per row; the sm90 kernel marks up to "
                    "%d (seqlen_k <= %d)",
                    (long long)p->Sk, (long long)p->geom.words_per_row, LA_MAX_W,
                    LA_MAX_W * 32 * LA_BN);
  return LITEATTN_OK;
}

template <int D, int F16, int PP, int MARK>
static liteattn_status_t la_launch(const la_sm90_params_t &prm, int grid, cudaStream_t stream) {
  using L = la_layout<D>;
  cudaError_t e = cudaFuncSetAttribute(la_sm90_kernel<D, F16, PP, MARK>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, L::ALLOC);
  if (e != cudaSuccess)
    return la_error(LITEATTN_ERR_CUDA, "sm90: allowing %d bytes of shared memory: %s", L::ALLOC,
                    cudaGetErrorString(e));
  la_sm90_kernel<D, F16, PP, MARK><<<grid, LA_THREADS, L::ALLOC, stream>>>(prm);
  e = cudaGetLastError();
  if (e != cudaSuccess)
    return la_error(LITEATTN_ERR_CUDA, "sm90: kernel launch (grid %d, D=%d): %s", grid, D,
                    cudaGetErrorString(e));
  return LITEATTN_OK;
}

#if LA_MCAST
/* LA_MCAST: clusters of 2 over the pairs in prm.items, as many clusters as fit at once (up to
 * the pairs); a persistent grid of clusters. *launched = 0 (and LITEATTN_OK) when no cluster of 2
 * fits: the caller runs the unclustered kernel. */
template <int D, int F16, int MARK>
static liteattn_status_t la_launch_mc(const la_sm90_params_t &prm, cudaStream_t stream, int dev,
                                      int sms, int *launched) {
  *launched = 0;
  using L = la_layout<D>;
  auto kern = la_sm90_kernel<D, F16, 1, MARK, 1>;
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, L::ALLOC);
  if (e != cudaSuccess)
    return la_error(LITEATTN_ERR_CUDA, "sm90: allowing %d bytes of shared memory: %s", L::ALLOC,
                    cudaGetErrorString(e));
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1] = {};
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 2;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.blockDim = dim3(LA_THREADS, 1, 1);
  cfg.dynamicSmemBytes = L::ALLOC;
  cfg.stream = stream;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  cfg.gridDim = dim3(2, 1, 1);
  /* The clusters that fit, asked once per device and kernel (a host-side query on every call
   * would add to the per-call overhead): 0 not asked yet, -1 none fits. Racing threads store the
   * same value. */
  static int fits[64];
  int clusters = dev >= 0 && dev < 64 ? fits[dev] : 0;
  if (clusters == 0) {
    e = cudaOccupancyMaxActiveClusters(&clusters, kern, &cfg);
    if (e != cudaSuccess) (void)cudaGetLastError(); /* only a fallback: leave no error set */
    if (e != cudaSuccess || clusters < 1) clusters = -1;
    if (dev >= 0 && dev < 64) fits[dev] = clusters;
  }
  /* clusters that leave SMs idle (a part whose SMs do not pair up) run the unclustered kernel,
   * whose persistent grid takes every SM: measured only where all pair up (H100: 66 x 2) */
  if (clusters < 1 || 2 * clusters < sms - sms / 16) return LITEATTN_OK;
  const int64_t ncl = prm.items < clusters ? prm.items : clusters;
  cfg.gridDim = dim3((unsigned)(2 * ncl), 1, 1);
  e = cudaLaunchKernelEx(&cfg, kern, prm);
  if (e == cudaSuccess) e = cudaGetLastError();
  if (e != cudaSuccess)
    return la_error(LITEATTN_ERR_CUDA, "sm90: cluster launch (%lld clusters, D=%d): %s",
                    (long long)ncl, D, cudaGetErrorString(e));
  *launched = 1;
  return LITEATTN_OK;
}

/* LA_MCAST: run-time flags (fp16, marking) to la_launch_mc's template arguments. */
template <int D>
static liteattn_status_t la_launch_mc_any(const la_sm90_params_t &prm, cudaStream_t stream,
                                          int dev, int sms, int f16, int mark, int *launched) {
  if (f16)
    return mark ? la_launch_mc<D, 1, 1>(prm, stream, dev, sms, launched)
                : la_launch_mc<D, 1, 0>(prm, stream, dev, sms, launched);
  return mark ? la_launch_mc<D, 0, 1>(prm, stream, dev, sms, launched)
              : la_launch_mc<D, 0, 0>(prm, stream, dev, sms, launched);
}
#endif

/* Run-time flags to template arguments: pingpong, marking (write mask given). */
template <int D, int F16>
static liteattn_status_t la_launch_pp(const la_sm90_params_t &prm, int grid, cudaStream_t stream,
                                      int pingpong) {
  const int mark = prm.wmask != NULL;
  if (pingpong)
    return mark ? la_launch<D, F16, 1, 1>(prm, grid, stream)
                : la_launch<D, F16, 1, 0>(prm, grid, stream);
  return mark ? la_launch<D, F16, 0, 1>(prm, grid, stream)
              : la_launch<D, F16, 0, 0>(prm, grid, stream);
}

extern "C" liteattn_status_t la_sm90_fwd_variant(const la_plan_t *p, liteattn_stream_t stream,
                                                 la_sm90_variant_t variant) {
  liteattn_status_t st = la_sm90_check(p);
  if (st) return st;
  la_sm90_params_t prm;
  memset(&prm, 0, sizeof prm);
  if ((st = la_make_map(&prm.tq, p->q, p->dtype, p->D, p->Sq, p->Hq, p->B, p->q_ss, p->q_sh,
                        p->q_sb, "q"))
      || (st = la_make_map(&prm.tk, p->k, p->dtype, p->D, p->Sk, p->Hkv, p->B, p->k_ss, p->k_sh,
                           p->k_sb, "k"))
      || (st = la_make_map(&prm.tv, p->v, p->dtype, p->D, p->Sk, p->Hkv, p->B, p->v_ss, p->v_sh,
                           p->v_sb, "v")))
    return st;
  prm.o = p->o;
#if LA_OTMA
  {
    /* O through a TMA store when it passes the TMA rule q, k and v must pass; else the plain
     * stores. Either refusal only selects the fallback: the error state is left as it was. */
    la_saved_error_t sv;
    la_error_save(&sv);
    prm.otma = la_check_tma_tensor(p->o, p->Sq, p->Hq, p->B, p->o_ss, p->o_sh, p->o_sb, "o")
                   == LITEATTN_OK
               && la_make_map(&prm.to, p->o, p->dtype, p->D, p->Sq, p->Hq, p->B, p->o_ss,
                              p->o_sh, p->o_sb, "o", 64) == LITEATTN_OK;
    la_error_restore(&sv);
  }
#endif
  prm.lse = p->lse;
  prm.rmask = p->read_mask;
  prm.wmask = p->write_mask;
  prm.o_sb = p->o_sb, prm.o_ss = p->o_ss, prm.o_sh = p->o_sh;
  prm.items = p->geom.rows;
  prm.Hq = (int)p->Hq, prm.Hkv = (int)p->Hkv, prm.Sq = (int)p->Sq, prm.Sk = (int)p->Sk;
  prm.Tq = (int)p->geom.tiles_q, prm.Tk = (int)p->geom.tiles_k;
  prm.W = (int)p->geom.words_per_row;
  prm.scale = p->scale, prm.c = p->scale_log2, prm.thr = p->threshold;
  prm.mass = p->criterion == LITEATTN_CRITERION_MASS;
  prm.nmk = p->num_must_k, prm.nmq = p->num_must_q;
  memcpy(prm.mk, p->must_k, sizeof prm.mk);
  memcpy(prm.mq, p->must_q, sizeof prm.mq);

  int dev = 0, sms = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  if (e != cudaSuccess)
    return la_error(LITEATTN_ERR_CUDA, "sm90: querying the SM count: %s", cudaGetErrorString(e));
  const int64_t grid64 = variant.persistent && prm.items > sms ? sms : prm.items;
  if (grid64 > 0x7fffffff)
    return la_error(LITEATTN_ERR_TOO_LARGE, "sm90: %lld work items exceed one grid",
                    (long long)grid64);
  const int grid = (int)grid64;
  prm.lpt = variant.persistent == 2 && p->read_mask && grid < prm.items
            && grid <= (LA_VER >= 13 ? 32 * LA_SCHED_NI : LA_THREADS)
            && (prm.items + grid - 1) / grid <= LA_MAX_LIST && prm.items <= 0x7fffffff
            && prm.Tk < (1 << 22); /* v7's ranking key, cost * 512 + index, fits an int */
  cudaStream_t cs = (cudaStream_t)stream;
  const int f16 = p->dtype == LITEATTN_DTYPE_FP16, pp = variant.pingpong;
#if LA_MCAST
  /* no read mask (with or without marking), the pingpong persistent variant, Sq == Sk (q-tile
   * qt's visit order starts at tile qt, so q-tile 2p + 1's is 2p's one tile later): pairs of
   * q-tiles on clusters */
  static_assert(LA_BM == LA_BN, "LA_MCAST pairs rows whose visit orders are one tile apart");
  if (!prm.rmask && pp && variant.persistent && prm.Tq >= 2 && prm.Sq == prm.Sk
      && (p->D == 128 || LA_MCAST >= 2)) {
    la_sm90_params_t pm = prm;
    pm.items = prm.items / prm.Tq * ((prm.Tq + 1) / 2); /* pairs */
    pm.lpt = 0;
    int launched = 0;
    liteattn_status_t st = LITEATTN_OK;
    const int mark = prm.wmask != NULL;
    if (p->D == 128)
      st = la_launch_mc_any<128>(pm, cs, dev, sms, f16, mark, &launched);
#if LA_MCAST >= 2
    else
      st = la_launch_mc_any<64>(pm, cs, dev, sms, f16, mark, &launched);
#endif
    if (st != LITEATTN_OK || launched) return st;
  }
#endif
  if (p->D == 128)
    return f16 ? la_launch_pp<128, 1>(prm, grid, cs, pp) : la_launch_pp<128, 0>(prm, grid, cs, pp);
  return f16 ? la_launch_pp<64, 1>(prm, grid, cs, pp) : la_launch_pp<64, 0>(prm, grid, cs, pp);
}

extern "C" liteattn_status_t la_sm90_fwd(const la_plan_t *p, liteattn_stream_t stream) {
  const la_sm90_variant_t best = {1, 2};
  return la_sm90_fwd_variant(p, stream, best);
}
