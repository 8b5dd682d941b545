/* cuda_backend.cu — the CUDA half of the selector and the launch of the portable kernel: where a
 * pointer lives, what the current device can run for a plan, and the enqueue. Nothing here
 * synchronizes, allocates device memory or leaves a CUDA error behind. */
#include <cuda_runtime.h>
#include <string.h>

#include "fwd.h"

#ifndef LITEATTN_CUDA_ARCH_LIST
#define LITEATTN_CUDA_ARCH_LIST "?"
#endif

/* Q, K and V tiles, the two mask rows (visit set, write mask being voted) and, when marking,
 * the criterion state (3 floats x 4 row slots x 128 threads). */
size_t la_fwd_smem_bytes(int D, int W, int marking) {
  const int KB = la_cuda_kb(D);
  return (size_t)(LA_CUDA_BM + 2 * KB) * (size_t)D * 2u + 2u * 4u * (size_t)W
         + (marking ? 3u * 4u * LA_CUDA_THREADS * 4u : 0u);
}

/* Errors that mean "there is no usable GPU here": a host pointer is then certainly host memory. */
static int la_cuda_no_device(cudaError_t e) {
  return e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorStubLibrary
         || e == cudaErrorInitializationError || e == cudaErrorDevicesUnavailable
         || e == cudaErrorSystemNotReady || e == cudaErrorSystemDriverMismatch
         || e == cudaErrorCompatNotSupportedOnDevice;
}

/* What cudaPointerGetAttributes says of ptr: 1 with *attr filled, 0 for host memory (or no
 * usable GPU), -1 on a real CUDA failure (recorded). */
static int la_cuda_attributes(const void *ptr, cudaPointerAttributes *attr) {
  memset(attr, 0, sizeof *attr);
  const cudaError_t e = cudaPointerGetAttributes(attr, ptr);
  if (e != cudaSuccess) {
    (void)cudaGetLastError(); /* never leave the (non-sticky) error behind */
    if (e == cudaErrorInvalidValue || la_cuda_no_device(e)) return 0;
    la_error(LITEATTN_ERR_CUDA, "cudaPointerGetAttributes(%p): %s", ptr, cudaGetErrorString(e));
    return -1;
  }
  return attr->type == cudaMemoryTypeDevice || attr->type == cudaMemoryTypeManaged;
}

extern "C" int la_cuda_pointer_is_device(const void *ptr) {
  cudaPointerAttributes a;
  return la_cuda_attributes(ptr, &a);
}

static liteattn_status_t la_cuda_fail(cudaError_t e, const char *what) {
  (void)cudaGetLastError();
  return la_error(LITEATTN_ERR_CUDA, "%s: %s (%s)", what, cudaGetErrorString(e),
                  cudaGetErrorName(e));
}

/* The current device and its compute capability. */
static liteattn_status_t la_cuda_device(int *dev, int *major, int *minor) {
  cudaError_t e = cudaGetDevice(dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, *dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, *dev);
  if (e != cudaSuccess) return la_cuda_fail(e, "querying the current CUDA device");
  return LITEATTN_OK;
}

/* Checks shared by every CUDA kernel: all buffers in device memory of the current device (the
 * kernels launch there; memory of another GPU would fault or race). */
static liteattn_status_t la_cuda_check_pointers(const la_plan_t *p) {
  const void *ptrs[] = {p->q, p->k, p->v, p->o, p->lse, p->read_mask, p->write_mask};
  const char *names[] = {"q", "k", "v", "o", "lse", "read_mask", "write_mask"};
  int cur = -1; /* asked only once a device pointer is seen: host buffers on a machine without
                 * a driver must get WRONG_DEVICE, not a CUDA error */
  for (int i = 0; i < 7; ++i) {
    if (!ptrs[i]) continue;
    cudaPointerAttributes a;
    const int dev = la_cuda_attributes(ptrs[i], &a);
    if (dev < 0) return LITEATTN_ERR_CUDA;
    if (!dev)
      return la_error(LITEATTN_ERR_WRONG_DEVICE,
                      "%s = %p is host memory; the CUDA backend needs device memory", names[i],
                      ptrs[i]);
    if (a.type != cudaMemoryTypeDevice) continue;
    if (cur < 0) {
      const cudaError_t e = cudaGetDevice(&cur);
      if (e != cudaSuccess) return la_cuda_fail(e, "cudaGetDevice");
    }
    if (a.device != cur)
      return la_error(LITEATTN_ERR_WRONG_DEVICE,
                      "%s = %p is memory of CUDA device %d, but the current device is %d (make "
                      "it current, e.g. cudaSetDevice or torch.cuda.device)",
                      names[i], ptrs[i], a.device, cur);
  }
  return LITEATTN_OK;
}

static liteattn_status_t la_portable_check(const la_plan_t *p) {
  int dev, major, minor;
  liteattn_status_t st = la_cuda_device(&dev, &major, &minor);
  if (st) return st;
  if (major < 8)
    return la_error(LITEATTN_ERR_UNSUPPORTED_ARCH,
                    "device %d is sm_%d%d; the portable CUDA kernel needs sm_80 or newer", dev,
                    major, minor);
  if (p->dtype != LITEATTN_DTYPE_BF16 && p->dtype != LITEATTN_DTYPE_FP16)
    return la_error(LITEATTN_ERR_UNSUPPORTED_DTYPE,
                    "dtype fp32 is CPU-only; the CUDA backend takes bf16 or fp16");
  if (p->D != 64 && p->D != 128)
    return la_error(LITEATTN_ERR_UNSUPPORTED_HEAD_DIM,
                    "q.head_dim = %lld is not built for the CUDA backend (have 64, 128)",
                    (long long)p->D);
  if (p->geom.block_m != LA_CUDA_BM || p->geom.block_n != LA_CUDA_BN)
    return la_error(LITEATTN_ERR_UNSUPPORTED_HEAD_DIM,
                    "the tile table gives head_dim %lld a %lldx%lld tile, the CUDA kernel is built "
                    "for %dx%d",
                    (long long)p->D, (long long)p->geom.block_m, (long long)p->geom.block_n,
                    LA_CUDA_BM, LA_CUDA_BN);
  /* 16-byte cp.async: base pointers 16-byte aligned, every row start too (strides % 8 elems). */
  const void *bases[] = {p->q, p->k, p->v, p->o};
  const int64_t strides[4][3] = {{p->q_sb, p->q_ss, p->q_sh},
                                 {p->k_sb, p->k_ss, p->k_sh},
                                 {p->v_sb, p->v_ss, p->v_sh},
                                 {p->o_sb, p->o_ss, p->o_sh}};
  const char *names[] = {"q", "k", "v", "o"};
  for (int i = 0; i < 4; ++i) {
    const int64_t sizes[3] = {p->B, i == 1 || i == 2 ? p->Sk : p->Sq, i == 1 || i == 2 ? p->Hkv : p->Hq};
    if ((uintptr_t)bases[i] % 16 != 0)
      return la_error(LITEATTN_ERR_MISALIGNED,
                      "%s.data = %p is not 16-byte aligned (the CUDA kernel loads 16 bytes)",
                      names[i], bases[i]);
    for (int s = 0; s < 3; ++s)
      if (strides[i][s] % 8 != 0 && sizes[s] > 1) /* a size-1 dim's stride is never used */
        return la_error(LITEATTN_ERR_MISALIGNED,
                        "%s strides (b %lld, s %lld, h %lld): the CUDA kernel needs multiples of "
                        "8 elements",
                        names[i], (long long)strides[i][0], (long long)strides[i][1],
                        (long long)strides[i][2]);
  }
  if (p->Hq > 65535 || p->B > 65535)
    return la_error(LITEATTN_ERR_TOO_LARGE,
                    "batch = %lld, heads_q = %lld: the CUDA grid allows at most 65535 each",
                    (long long)p->B, (long long)p->Hq);
  int smem_max = 0;
  cudaError_t e = cudaDeviceGetAttribute(&smem_max, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  if (e != cudaSuccess) return la_cuda_fail(e, "cudaDeviceGetAttribute(shared memory)");
  const size_t smem = la_fwd_smem_bytes((int)p->D, (int)p->geom.words_per_row, p->write_mask != NULL);
  if (smem > (size_t)smem_max)
    return la_error(LITEATTN_ERR_TOO_LARGE,
                    "seqlen_k = %lld needs %zu bytes of shared memory per block (mask rows of "
                    "%lld words); device %d allows %d",
                    (long long)p->Sk, smem, (long long)p->geom.words_per_row, dev, smem_max);
  /* Is there code for this device in the binary? */
  cudaFuncAttributes attr;
  if (p->D == 64)
    e = p->dtype == LITEATTN_DTYPE_BF16 ? la_fwd_attributes<64, true>(&attr)
                                        : la_fwd_attributes<64, false>(&attr);
  else
    e = p->dtype == LITEATTN_DTYPE_BF16 ? la_fwd_attributes<128, true>(&attr)
                                        : la_fwd_attributes<128, false>(&attr);
  if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction) {
    (void)cudaGetLastError();
    return la_error(LITEATTN_ERR_UNSUPPORTED_ARCH,
                    "device %d is sm_%d%d; this liteattn holds CUDA code for sm %s", dev, major,
                    minor, LITEATTN_CUDA_ARCH_LIST);
  }
  if (e != cudaSuccess) return la_cuda_fail(e, "cudaFuncGetAttributes(portable kernel)");
  return LITEATTN_OK;
}

extern "C" liteattn_status_t la_cuda_check(const la_plan_t *plan, liteattn_kernel_t kernel) {
  liteattn_status_t st = la_cuda_check_pointers(plan);
  if (st) return st;
  if (kernel == LITEATTN_KERNEL_CUDA_SM90) {
#ifdef LITEATTN_WITH_SM90
    return la_sm90_check(plan);
#else
    return la_error(LITEATTN_ERR_BACKEND_UNAVAILABLE,
                    "the Hopper kernel (backend CUDA_SM90) is not built into this liteattn; use "
                    "CUDA or CUDA_PORTABLE");
#endif
  }
  return la_portable_check(plan);
}

extern "C" liteattn_kernel_t la_cuda_select(const la_plan_t *plan, liteattn_status_t *why) {
  liteattn_status_t st = la_cuda_check_pointers(plan);
  if (st) {
    *why = st;
    return LITEATTN_KERNEL_NONE;
  }
#ifdef LITEATTN_WITH_SM90
  int dev, major, minor;
  if ((st = la_cuda_device(&dev, &major, &minor))) {
    *why = st;
    return LITEATTN_KERNEL_NONE;
  }
  if (major == 9 && minor == 0) {
    /* A probe: if the Hopper kernel cannot take this plan the portable one may, and a call that
     * succeeds must not leave the probe's reason as the thread's last error. */
    la_saved_error_t saved;
    la_error_save(&saved);
    if (la_sm90_check(plan) == LITEATTN_OK) return LITEATTN_KERNEL_CUDA_SM90;
    la_error_restore(&saved);
  }
#endif
  if ((st = la_portable_check(plan))) {
    *why = st;
    return LITEATTN_KERNEL_NONE;
  }
  *why = LITEATTN_OK;
  return LITEATTN_KERNEL_CUDA_PORTABLE;
}

extern "C" liteattn_status_t la_cuda_fwd(const la_plan_t *p, liteattn_kernel_t kernel,
                                         liteattn_stream_t stream) {
#ifdef LITEATTN_WITH_SM90
  if (kernel == LITEATTN_KERNEL_CUDA_SM90) return la_sm90_fwd(p, stream);
#endif
  if (kernel != LITEATTN_KERNEL_CUDA_PORTABLE)
    return la_error(LITEATTN_ERR_BACKEND_UNAVAILABLE, "kernel %s is not built into this liteattn",
                    liteattn_kernel_name(kernel));
  la_fwd_params_t f;
  memset(&f, 0, sizeof f);
  f.q = p->q, f.k = p->k, f.v = p->v, f.o = p->o, f.lse = p->lse;
  f.read_mask = p->read_mask, f.write_mask = p->write_mask;
  f.q_sb = p->q_sb, f.q_ss = p->q_ss, f.q_sh = p->q_sh;
  f.k_sb = p->k_sb, f.k_ss = p->k_ss, f.k_sh = p->k_sh;
  f.v_sb = p->v_sb, f.v_ss = p->v_ss, f.v_sh = p->v_sh;
  f.o_sb = p->o_sb, f.o_ss = p->o_ss, f.o_sh = p->o_sh;
  f.B = (int)p->B, f.Sq = (int)p->Sq, f.Sk = (int)p->Sk, f.Hq = (int)p->Hq;
  f.q_per_kv = (int)(p->Hq / p->Hkv);
  f.Tq = (int)p->geom.tiles_q, f.Tk = (int)p->geom.tiles_k, f.W = (int)p->geom.words_per_row;
  f.scale = p->scale, f.scale_log2 = p->scale_log2, f.threshold = p->threshold;
  f.num_must_k = p->num_must_k, f.num_must_q = p->num_must_q;
  memcpy(f.must_k, p->must_k, sizeof f.must_k);
  memcpy(f.must_q, p->must_q, sizeof f.must_q);
  const int mark = !p->write_mask                              ? LA_MARK_NONE
                   : p->criterion == LITEATTN_CRITERION_PEAK ? LA_MARK_PEAK
                                                             : LA_MARK_MASS;
  cudaStream_t s = (cudaStream_t)stream;
  cudaError_t e;
  const int bf16 = p->dtype == LITEATTN_DTYPE_BF16;
  if (p->D == 64)
    e = bf16 ? la_fwd_launch<64, true>(f, mark, s) : la_fwd_launch<64, false>(f, mark, s);
  else
    e = bf16 ? la_fwd_launch<128, true>(f, mark, s) : la_fwd_launch<128, false>(f, mark, s);
  if (e != cudaSuccess) return la_cuda_fail(e, "launching the portable attention kernel");
  return LITEATTN_OK;
}
