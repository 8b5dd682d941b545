// cluster_occ.cu — how many clusters of 1, 2 and 4 CTAs of the sm90 kernel's footprint (384
// threads, one CTA per SM by shared memory) the card runs at once (cudaOccupancyMaxActiveClusters).
// The -DLA_MCAST=1 prototype launches that many clusters of 2; fewer than SMs / 2 leaves SMs idle.
// Build and run on the device: nvcc -gencode arch=compute_90a,code=sm_90a bench/sm90/cluster_occ.cu
//   -o /tmp/cluster_occ && /tmp/cluster_occ
#include <cstdio>
#include <cuda_runtime.h>

__global__ void __launch_bounds__(384, 1) occ_kernel(int *x) {
  extern __shared__ int s[];
  if (x) x[threadIdx.x] = s[threadIdx.x];
}

int main() {
  int dev = 0, sms = 0;
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  printf("%s: %d SMs\n", prop.name, sms);
  const int smem[] = {150 * 1024, 200 * 1024};
  for (int b : smem) {
    if (cudaFuncSetAttribute(occ_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, b) !=
        cudaSuccess) {
      printf("smem %d: not allowed\n", b);
      return 1;
    }
    if (cudaFuncSetAttribute(occ_kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) !=
        cudaSuccess)
      (void)cudaGetLastError();
    for (int cs : {1, 2, 4, 8}) {
      cudaLaunchConfig_t cfg = {};
      cudaLaunchAttribute attr[1] = {};
      attr[0].id = cudaLaunchAttributeClusterDimension;
      attr[0].val.clusterDim.x = cs;
      attr[0].val.clusterDim.y = 1;
      attr[0].val.clusterDim.z = 1;
      cfg.blockDim = dim3(384, 1, 1);
      cfg.dynamicSmemBytes = b;
      cfg.attrs = attr;
      cfg.numAttrs = 1;
      cfg.gridDim = dim3(cs, 1, 1);
      int n = 0;
      cudaError_t e = cudaOccupancyMaxActiveClusters(&n, occ_kernel, &cfg);
      printf("smem %6d B, cluster %d: %s %d clusters = %d CTAs of %d SMs\n", b, cs,
             e == cudaSuccess ? "" : cudaGetErrorString(e), n, n * cs, sms);
    }
  }
  return 0;
}
