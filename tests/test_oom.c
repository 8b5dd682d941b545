/* test_oom.c — forces LITEATTN_ERR_OUT_OF_MEMORY: this program defines aligned_alloc, which the
 * dynamic linker binds the shared library's calls to (ELF symbol interposition), and fails the
 * CPU backend's per-thread scratch allocation on demand; every other allocation is forwarded to
 * the next definition (libc, or the sanitizer's). ELF/glibc-specific by nature, hence its own
 * program; it fails loudly if the interposition did not take effect rather than passing. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static int la_fail_large = 0;     /* fail aligned_alloc of >= la_fail_from bytes while set */
static size_t la_fail_from = (size_t)64 << 10;
static long la_intercepted = 0;   /* large requests seen while failing */
static size_t la_largest = 0;     /* largest request seen while not failing */

void *aligned_alloc(size_t alignment, size_t size) {
  static void *(*next)(size_t, size_t);
  if (!next) *(void **)&next = dlsym(RTLD_NEXT, "aligned_alloc");
  if (la_fail_large && size >= la_fail_from) {
    __atomic_add_fetch(&la_intercepted, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  if (!la_fail_large && size > __atomic_load_n(&la_largest, __ATOMIC_RELAXED))
    __atomic_store_n(&la_largest, size, __ATOMIC_RELAXED); /* racy max: only a size hint */
  return next ? next(alignment, size) : NULL;
}

int main(void) {
  const double t0 = la_t_now();
  const uint64_t seed = la_t_seed();
  la_t_tensor_t q = la_t_tensor_make(1, 300, 2, 64, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
  la_t_tensor_t k = la_t_tensor_make(1, 300, 2, 64, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
  la_t_tensor_t v = la_t_tensor_make(1, 300, 2, 64, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
  la_t_tensor_t o = la_t_tensor_make(1, 300, 2, 64, LITEATTN_DTYPE_BF16, LA_LAYOUT_BSHD);
  la_t_fill_qkv(&q, &k, &v, LA_T_INPUTS_DEFAULT, seed);
  liteattn_fwd_args_t a = la_t_args(&q, &k, &v, &o);
  /* A first call initialises everything lazily initialised (OpenMP, the CUDA runtime in CUDA
   * builds), so that the injected failure hits only the backend's scratch. */
  LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, "warm-up fwd");

  la_fail_large = 1;
  const liteattn_status_t st = liteattn_fwd(&a, NULL);
  la_fail_large = 0;
  LA_CHECK(la_intercepted > 0, "the library's scratch allocation was not intercepted (is "
           "aligned_alloc still its allocator?)");
  LA_CHECK_STATUS(st, LITEATTN_ERR_OUT_OF_MEMORY, "fwd with failing scratch allocation");
  LA_CHECK(strstr(liteattn_last_error(), "scratch") != NULL, "last error \"%s\" does not say what "
           "could not be allocated", liteattn_last_error());
  /* The library recovers: the next call succeeds. */
  la_largest = 0;
  LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, "fwd after the failure");

  /* The K/V tile cache's fallback: when the full per-thread cache (all Tk = 3 tiles) cannot be
   * allocated, the backend retries with one slot and must give the same output bit for bit. */
  const size_t bytes = o.elems * 2 /* bf16 */;
  void *want = malloc(bytes);
  memcpy(want, o.base, bytes);
  memset(o.base, 0, bytes);
  la_intercepted = 0;
  la_fail_from = la_largest; /* the full cache; the one-slot retry asks for less */
  la_fail_large = 1;
  const liteattn_status_t st1 = liteattn_fwd(&a, NULL);
  la_fail_large = 0;
  LA_CHECK(la_intercepted > 0, "the full-cache allocation (%zu bytes) was not intercepted",
           la_fail_from);
  LA_CHECK_STATUS(st1, LITEATTN_OK, "fwd with only a one-slot K/V cache");
  LA_CHECK(memcmp(want, o.base, bytes) == 0, "one-slot fallback output differs from the full "
           "cache's");
  free(want);
  la_t_tensor_free(&q), la_t_tensor_free(&k), la_t_tensor_free(&v), la_t_tensor_free(&o);
  return la_t_summary("test_oom", la_t_now() - t0);
}
