/* race_mbar_test.cu — does compute-sanitizer racecheck model mbarrier ordering of ordinary
 * shared-memory stores and loads? The Hopper kernel's opt-in LA_PUBJ hand-over (NOTES.md, v10) is
 * reported by racecheck although every access is ordered through mbarriers; this runs the same
 * protocol alone, so the tool's answer can be read off without the rest of the kernel.
 *
 * Protocol (as LA_PUBJ): a ring of STAGES one-word slots, a full and an empty mbarrier per slot.
 * One producer thread, for item k = 0..N-1 in slot s = k % STAGES: waits on empty[s] (the
 * consumers freed the slot), stores k into the slot with an ordinary st.shared, arrives on full[s]
 * (release). Each of NW consumer warps: waits on full[s] (acquire), reads the slot, __syncwarp, and
 * lane 0 arrives on empty[s] (count NW), so the reads of all its lanes precede the release.
 *   mode 0: as above (ordered: racecheck should report nothing if it models mbarriers);
 *   mode 1: the producer stores into the slot before its wait on empty[s] (a real write-after-read
 *           race: a consumer may still be reading the slot's previous item; the barrier protocol
 *           is unchanged, so nothing hangs). racecheck must report it, else the test proves
 *           nothing;
 *   mode 2: as the kernel: full[s] completes through arrive.expect_tx(16) and a 16-byte bulk copy
 *           (cp.async.bulk ... complete_tx) into a per-stage buffer nobody reads, as a TMA tile
 *           completes the kernel's full barrier; lane 0 arrives on empty[s] after __syncwarp;
 *   mode 3: mode 2 with every consumer lane arriving on empty[s] (count 32 NW; -DLA_PUBJ_ALL=1).
 * Reading: modes 0/2 reported like mode 1 -> racecheck does not model this ordering (the PUBJ
 * report is that); mode 2 reported but not mode 3 -> it wants each reading thread's own release
 * (build the kernel with -DLA_PUBJ_ALL=1); modes 0, 2 and 3 clean -> the PUBJ report differs from
 * this protocol (note: in the kernel ptxas turns the __syncwarp into a NOP, here it stays a
 * WARPSYNC) and needs a closer look.
 * Each consumer lane sums what it read; mode 0 must give N(N-1)/2 in every lane (checked).
 *
 * Build (any machine with nvcc; runs on sm_90):
 *   nvcc -O2 -std=c++17 -gencode arch=compute_90a,code=sm_90a -I src/cuda/sm90 \
 *     bench/sm90/race_mbar_test.cu -o /tmp/race_mbar_test
 * Run on the device:
 *   for m in 0 2 3; do /tmp/race_mbar_test $m || echo "mode $m: wrong sums"; done
 *   for m in 0 1 2 3; do compute-sanitizer --tool racecheck /tmp/race_mbar_test $m; done
 *   (mode 1 must be reported; bench/sm90/verify_v10.sh does this) */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#include "sm90_ptx.cuh"

#define STAGES 2
#define NW 8     /* consumer warps */
#define N 4096   /* items */

__global__ void __launch_bounds__(32 * (NW + 1), 1)
    race_kernel(int mode, const uint4 *src, long long *sums) {
  __shared__ __align__(8) uint64_t bars[2 * STAGES];
  __shared__ uint32_t slots[STAGES];
  __shared__ __align__(16) uint4 sink[STAGES]; /* modes 2, 3: the bulk copy's target, never read */
  const uint32_t full0 = la_smem_u32(&bars[0]), empty0 = la_smem_u32(&bars[STAGES]);
  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      la_mbar_init(full0 + 8 * s, 1);
      la_mbar_init(empty0 + 8 * s, mode == 3 ? 32 * NW : NW);
    }
    la_mbar_init_fence();
  }
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (warp == 0) {
    if (lane == 0) {
      for (int k = 0; k < N; ++k) {
        const uint32_t s = k % STAGES, ph = (k / STAGES) & 1u;
        if (mode == 1) slots[s] = (uint32_t)k; /* too early: the slot may still be read */
        la_mbar_wait(empty0 + 8 * s, ph ^ 1u);
        if (mode != 1) slots[s] = (uint32_t)k;
        if (mode >= 2) {
          la_mbar_arrive_tx(full0 + 8 * s, 16);
          asm volatile(
              "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], 16, "
              "[%2];" ::"r"(la_smem_u32(&sink[s])),
              "l"(src + k), "r"(full0 + 8 * s)
              : "memory");
        } else {
          la_mbar_arrive(full0 + 8 * s);
        }
      }
    }
    return;
  }
  long long sum = 0;
  for (int k = 0; k < N; ++k) {
    const uint32_t s = k % STAGES, ph = (k / STAGES) & 1u;
    la_mbar_wait(full0 + 8 * s, ph);
    sum += slots[s];
    if (mode == 3) {
      la_mbar_arrive(empty0 + 8 * s);
    } else {
      __syncwarp();
      if (lane == 0) la_mbar_arrive(empty0 + 8 * s);
    }
  }
  sums[threadIdx.x - 32] = sum;
}

int main(int argc, char **argv) {
  const int mode = argc > 1 ? atoi(argv[1]) : 0;
  if (mode < 0 || mode > 3) {
    fprintf(stderr, "usage: race_mbar_test [0|1|2|3]\n");
    return 2;
  }
  long long *d = NULL, h[32 * NW];
  uint4 *src = NULL;
  if (cudaMalloc(&d, sizeof h) != cudaSuccess || cudaMalloc(&src, N * sizeof(uint4)) != cudaSuccess ||
      cudaMemset(src, 0, N * sizeof(uint4)) != cudaSuccess) {
    fprintf(stderr, "race_mbar_test: allocation failed\n");
    return 2;
  }
  race_kernel<<<1, 32 * (NW + 1)>>>(mode, src, d);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e == cudaSuccess) e = cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
  if (e != cudaSuccess) {
    fprintf(stderr, "race_mbar_test: %s\n", cudaGetErrorString(e));
    return 2;
  }
  const long long want = (long long)N * (N - 1) / 2;
  int bad = 0;
  for (int i = 0; i < 32 * NW; ++i) bad += h[i] != want;
  printf("race_mbar_test mode %d: %d of %d consumer lanes read a sum other than %lld%s\n", mode,
         bad, 32 * NW, want, mode == 1 ? " (mode 1 races on purpose; any count is possible)" : "");
  cudaFree(d);
  cudaFree(src);
  return mode != 1 && bad ? 1 : 0;
}
