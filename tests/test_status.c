/* test_status.c — every status code forced by a test: one table of bad-argument cases, each
 * expecting its exact status from liteattn_fwd_check and liteattn_fwd, with a last-error text that
 * names the argument; the helpers' own errors; status names and texts; version; kernel names.
 *
 * Build-dependent codes follow LA_TEST_WITH_CUDA (set by tests/CMakeLists.txt from the library's
 * build): without CUDA every CUDA backend request must give BACKEND_UNAVAILABLE; with CUDA, host
 * buffers handed to a CUDA backend must give WRONG_DEVICE (GPU present or not).
 * Not forced here, on purpose:
 *   LITEATTN_ERR_CUDA           needs a failing CUDA runtime call; no portable way to cause one.
 *   LITEATTN_ERR_UNSUPPORTED_ARCH (CUDA build) needs device buffers on a GPU the kernel does not
 *                               support; tests/gpu covers the CUDA-side codes on a GPU machine.
 *   LITEATTN_ERR_BACKEND_UNAVAILABLE (CUDA build) is only reachable with device buffers (the
 *                               pointer check comes first); tests/gpu again.
 * LITEATTN_ERR_OUT_OF_MEMORY is forced by test_oom.c (allocation failure injected). */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* The baseline: a valid call every case mutates. */
typedef struct la_base {
  la_t_tensor_t q, k, v, o;
  float *lse;
  uint32_t *rmask, *wmask;
  liteattn_mask_geometry_t g;
  liteattn_range_t ranges[LITEATTN_MAX_RANGES + 1];
  unsigned char *raw; /* 64-byte aligned scratch for misaligned pointers */
} la_base_t;

static la_base_t B0;

static liteattn_fwd_args_t la_base_args(void) {
  liteattn_fwd_args_t a = la_t_args(&B0.q, &B0.k, &B0.v, &B0.o);
  a.backend = LITEATTN_BACKEND_AUTO;
  a.lse = B0.lse;
  a.read_mask = B0.rmask, a.read_mask_words = (size_t)B0.g.words;
  a.write_mask = B0.wmask, a.write_mask_words = (size_t)B0.g.words;
  a.threshold = -4.0f;
  a.must_do_k = B0.ranges, a.num_must_do_k = 1;
  a.must_do_q = B0.ranges, a.num_must_do_q = 1;
  return a;
}

/* Sets head_dim of tensor `which` (4 = all) and gives it bshd strides for that head dim. */
static void la_set_dim(liteattn_fwd_args_t *a, int which, int64_t d) {
  liteattn_tensor_t *t[4] = {&a->q, &a->k, &a->v, &a->o};
  for (int i = 0; i < 4; ++i)
    if (which == 4 || which == i) {
      t[i]->head_dim = t[i]->stride_h = d;
      t[i]->stride_s = t[i]->heads * d;
      t[i]->stride_b = t[i]->seqlen * t[i]->stride_s;
    }
}

typedef struct la_bad {
  const char *what;
  liteattn_status_t want;
  const char *mentions; /* must appear in liteattn_last_error() */
} la_bad_t;

/* The cases, in the order of la_mutate's switch. */
static const la_bad_t la_bad[] = {
    {"struct_size 0", LITEATTN_ERR_STRUCT_SIZE, "struct_size"},
    {"struct_size + 8", LITEATTN_ERR_STRUCT_SIZE, "struct_size"},
    {"q.data NULL", LITEATTN_ERR_NULL_POINTER, "q.data"},
    {"v.data NULL", LITEATTN_ERR_NULL_POINTER, "v.data"},
    {"o.data NULL", LITEATTN_ERR_NULL_POINTER, "o.data"},
    {"must_do_k NULL, num 1", LITEATTN_ERR_NULL_POINTER, "must_do_k"},
    {"q.seqlen 0", LITEATTN_ERR_BAD_SHAPE, "q is"},
    {"k.heads -1", LITEATTN_ERR_BAD_SHAPE, "k is"},
    {"o.batch 0", LITEATTN_ERR_BAD_SHAPE, "o is"},
    {"k.batch 1 of 2", LITEATTN_ERR_BAD_SHAPE, "batch"},
    {"v.head_dim 32 of 64", LITEATTN_ERR_BAD_SHAPE, "head_dim"},
    {"v.seqlen != k.seqlen", LITEATTN_ERR_BAD_SHAPE, "v is"},
    {"o.heads != q.heads", LITEATTN_ERR_BAD_SHAPE, "o is"},
    {"Hq 4, Hkv 3", LITEATTN_ERR_BAD_GQA, "k.heads = 3"},
    {"q.stride_s -1", LITEATTN_ERR_BAD_STRIDE, "q strides"},
    {"o.stride_s 0 (rows alias)", LITEATTN_ERR_BAD_STRIDE, "o strides"},
    {"o.stride_h 8 < D (heads alias)", LITEATTN_ERR_BAD_STRIDE, "o strides"},
    {"head_dim 12", LITEATTN_ERR_UNSUPPORTED_HEAD_DIM, "head_dim = 12"},
    {"head_dim 264", LITEATTN_ERR_UNSUPPORTED_HEAD_DIM, "head_dim = 264"},
    {"q.dtype 9", LITEATTN_ERR_UNSUPPORTED_DTYPE, "q.dtype = 9"},
    {"k.dtype bf16, rest fp16", LITEATTN_ERR_DTYPE_MISMATCH, "k bf16"},
    {"q.data odd address", LITEATTN_ERR_MISALIGNED, "q.data"},
    {"read_mask odd address", LITEATTN_ERR_MISALIGNED, "read_mask"},
    {"lse odd address", LITEATTN_ERR_MISALIGNED, "lse"},
    {"o = q", LITEATTN_ERR_OVERLAP, "o overlaps q"},
    {"o starting inside v", LITEATTN_ERR_OVERLAP, "o overlaps"},
    {"lse inside k", LITEATTN_ERR_OVERLAP, "lse overlaps k"},
    {"read_mask inside o", LITEATTN_ERR_OVERLAP, "o overlaps read_mask"},
    {"write_mask inside lse", LITEATTN_ERR_OVERLAP, "write_mask overlaps lse"},
    {"write_mask = read_mask", LITEATTN_ERR_MASK_ALIAS, "read_mask"},
    {"write_mask = read_mask + 1 word", LITEATTN_ERR_MASK_ALIAS, "overlap"},
    {"read_mask_words - 1", LITEATTN_ERR_MASK_SIZE, "read_mask_words"},
    {"write_mask_words + 1", LITEATTN_ERR_MASK_SIZE, "write_mask_words"},
    {"threshold 0.5", LITEATTN_ERR_BAD_THRESHOLD, "threshold"},
    {"threshold NaN", LITEATTN_ERR_BAD_THRESHOLD, "threshold"},
    {"threshold +inf", LITEATTN_ERR_BAD_THRESHOLD, "threshold"},
    {"scale -1", LITEATTN_ERR_BAD_SCALE, "scale"},
    {"scale inf", LITEATTN_ERR_BAD_SCALE, "scale"},
    {"scale NaN", LITEATTN_ERR_BAD_SCALE, "scale"},
    {"criterion 2", LITEATTN_ERR_BAD_CRITERION, "criterion = 2"},
    {"criterion -1", LITEATTN_ERR_BAD_CRITERION, "criterion = -1"},
    {"must_do_k reversed", LITEATTN_ERR_BAD_RANGE, "must_do_k[0]"},
    {"must_do_k empty", LITEATTN_ERR_BAD_RANGE, "must_do_k[0]"},
    {"must_do_k past Sk", LITEATTN_ERR_BAD_RANGE, "must_do_k[0]"},
    {"must_do_q negative begin", LITEATTN_ERR_BAD_RANGE, "must_do_q[0]"},
    {"num_must_do_q 9", LITEATTN_ERR_BAD_RANGE, "num_must_do_q"},
    {"num_must_do_k -1", LITEATTN_ERR_BAD_RANGE, "num_must_do_k"},
    {"backend 7", LITEATTN_ERR_BAD_BACKEND, "backend = 7"},
    {"backend -1", LITEATTN_ERR_BAD_BACKEND, "backend = -1"},
#if LA_TEST_WITH_CUDA
    {"backend CUDA, host buffers", LITEATTN_ERR_WRONG_DEVICE, "host memory"},
    {"backend CUDA_PORTABLE, host buffers", LITEATTN_ERR_WRONG_DEVICE, "host memory"},
    {"backend CUDA_SM90, host buffers", LITEATTN_ERR_WRONG_DEVICE, "host memory"},
#else
    {"backend CUDA, no CUDA build", LITEATTN_ERR_BACKEND_UNAVAILABLE, "without CUDA"},
    {"backend CUDA_PORTABLE, no CUDA build", LITEATTN_ERR_BACKEND_UNAVAILABLE, "without CUDA"},
    {"backend CUDA_SM90, no CUDA build", LITEATTN_ERR_BACKEND_UNAVAILABLE, "without CUDA"},
#endif
    {"seqlen 2^31", LITEATTN_ERR_TOO_LARGE, "seqlen_q = 2147483648"},
    {"batch*heads 2^25", LITEATTN_ERR_TOO_LARGE, "batch*heads_q"},
    {"o stride_b 2^62 (would wrap)", LITEATTN_ERR_BAD_STRIDE, "o strides"},
    {"q extent over 2^60", LITEATTN_ERR_BAD_STRIDE, "q ["},
    {"scale 3e38 (scale*log2e inf)", LITEATTN_ERR_BAD_SCALE, "scale"},
};
#define LA_NUM_BAD ((int)(sizeof la_bad / sizeof la_bad[0]))

/* Applies case i to a baseline args. */
static void la_mutate(int i, liteattn_fwd_args_t *a) {
  const int64_t W = (int64_t)B0.g.words;
  switch (i) {
    case 0: a->struct_size = 0; break;
    case 1: a->struct_size += 8; break;
    case 2: a->q.data = NULL; break;
    case 3: a->v.data = NULL; break;
    case 4: a->o.data = NULL; break;
    case 5: a->must_do_k = NULL; break;
    case 6: a->q.seqlen = 0; break;
    case 7: a->k.heads = -1; break;
    case 8: a->o.batch = 0; break;
    case 9: a->k.batch = 1; break;
    case 10: la_set_dim(a, 2, 32); break;
    case 11: a->v.seqlen -= 1; break;
    case 12: a->o.heads = 2; break;
    case 13: a->k.heads = a->v.heads = 3; break;
    case 14: a->q.stride_s = -1; break;
    case 15: a->o.stride_s = 0; break;
    case 16: a->o.stride_h = 8; break;
    case 17: la_set_dim(a, 4, 12); break;
    case 18: la_set_dim(a, 4, 264); break;
    case 19: a->q.dtype = (liteattn_dtype_t)9; break;
    case 20: a->k.dtype = LITEATTN_DTYPE_BF16; break;
    case 21: a->q.data = B0.raw + 1; break;
    case 22: a->read_mask = (const uint32_t *)(B0.raw + 2); break;
    case 23: a->lse = (float *)(B0.raw + 2); break;
    case 24: a->o.data = a->q.data; break;
    case 25: a->o.data = (char *)a->v.data + 64; a->o.seqlen = a->q.seqlen; break;
    case 26: a->lse = (float *)a->k.data + 16; break;
    case 27: a->read_mask = (const uint32_t *)a->o.data + 8; break;
    case 28: a->write_mask = (uint32_t *)a->lse + 4; break;
    case 29: a->write_mask = (uint32_t *)a->read_mask; break;
    case 30: a->write_mask = (uint32_t *)a->read_mask + 1; break;
    case 31: a->read_mask_words = (size_t)(W - 1); break;
    case 32: a->write_mask_words = (size_t)(W + 1); break;
    case 33: a->threshold = 0.5f; break;
    case 34: a->threshold = NAN; break;
    case 35: a->threshold = INFINITY; break;
    case 36: a->scale = -1.0f; break;
    case 37: a->scale = INFINITY; break;
    case 38: a->scale = NAN; break;
    case 39: a->criterion = (liteattn_criterion_t)2; break;
    case 40: a->criterion = (liteattn_criterion_t)-1; break;
    case 41: B0.ranges[0] = (liteattn_range_t){5, 3}; break;
    case 42: B0.ranges[0] = (liteattn_range_t){5, 5}; break;
    case 43: B0.ranges[0] = (liteattn_range_t){100, 151}; break; /* Sk = 150, Sq = 100 */
    case 44: a->must_do_q = B0.ranges + 1, B0.ranges[1] = (liteattn_range_t){-1, 3}; break;
    case 45: a->num_must_do_q = LITEATTN_MAX_RANGES + 1; break;
    case 46: a->num_must_do_k = -1; break;
    case 47: a->backend = (liteattn_backend_t)7; break;
    case 48: a->backend = (liteattn_backend_t)-1; break;
    case 49: a->backend = LITEATTN_BACKEND_CUDA; break;
    case 50: a->backend = LITEATTN_BACKEND_CUDA_PORTABLE; break;
    case 51: a->backend = LITEATTN_BACKEND_CUDA_SM90; break;
    case 52: /* Validation never touches memory: claim a 2^31-long q and o. */
      a->q.seqlen = a->o.seqlen = (int64_t)1 << 31;
      a->q.stride_b = a->o.stride_b = a->q.stride_s << 31;
      a->lse = NULL, a->write_mask = NULL, a->read_mask = NULL;
      a->num_must_do_q = 0;
      break;
    case 53:
      a->q.heads = a->o.heads = (int64_t)1 << 24, a->k.heads = a->v.heads = 1;
      a->q.stride_s = a->o.stride_s = ((int64_t)1 << 24) * 64;
      a->q.stride_b = a->o.stride_b = a->q.stride_s * 100;
      a->lse = NULL, a->write_mask = NULL, a->read_mask = NULL;
      break;
    case 54: a->o.stride_b = (int64_t)1 << 62; break;
    case 55: /* 2^21 rows x a stride of 2^40 elements: 2^61 > 2^60 */
      a->q.seqlen = a->o.seqlen = (int64_t)1 << 21, a->q.stride_s = (int64_t)1 << 40;
      break;
    case 56: a->scale = 3e38f; break;
  }
}

/* Overwrites the last error with an unrelated text ("head_dim = 7: ..."), so that a stale
 * message cannot pass a check. */
static void la_scrub_last_error(void) {
  liteattn_mask_geometry_t g;
  liteattn_mask_geometry(1, 1, 1, 1, 7, LITEATTN_DTYPE_BF16, &g);
}

static int forced[64]; /* status codes some check has produced */

static void la_expect_(liteattn_status_t got, liteattn_status_t want, const char *what,
                      const char *mentions) {
  LA_CHECK_STATUS(got, want, what);
  if (got == want) forced[want] = 1;
  if (mentions && got != LITEATTN_OK)
    LA_CHECK(strstr(liteattn_last_error(), mentions) != NULL,
             "%s: last error \"%s\" does not mention \"%s\"", what, liteattn_last_error(),
             mentions);
}

/* Scrubs the last error, then makes the call and checks status and message. */
#define la_expect(call, want, what, mentions) \
  (la_scrub_last_error(), la_expect_((call), (want), (what), (mentions)))

static void test_bad_args(void) {
  liteattn_fwd_args_t a = la_base_args();
  liteattn_kernel_t kernel = LITEATTN_KERNEL_NONE;
  LA_CHECK_STATUS(liteattn_fwd_check(&a, &kernel), LITEATTN_OK, "baseline check");
  LA_CHECK(kernel == LITEATTN_KERNEL_CPU, "AUTO on host buffers picked %s",
           liteattn_kernel_name(kernel));
  la_scrub_last_error();
  char before[600];
  snprintf(before, sizeof before, "%s", liteattn_last_error());
  LA_CHECK_STATUS(liteattn_fwd(&a, NULL), LITEATTN_OK, "baseline run");
  forced[LITEATTN_OK] = 1;
  LA_CHECK(strcmp(before, liteattn_last_error()) == 0, "a successful call changed the last error");
  a.backend = LITEATTN_BACKEND_CPU;
  LA_CHECK_STATUS(liteattn_fwd_check(&a, &kernel), LITEATTN_OK, "CPU check");
  LA_CHECK(kernel == LITEATTN_KERNEL_CPU, "CPU backend picked %s", liteattn_kernel_name(kernel));
  LA_CHECK_STATUS(liteattn_fwd_check(&a, NULL), LITEATTN_OK, "check with kernel NULL");

  for (int i = 0; i < LA_NUM_BAD; ++i) {
    B0.ranges[0] = (liteattn_range_t){3, 9};
    a = la_base_args();
    la_mutate(i, &a);
    char what[160];
    snprintf(what, sizeof what, "case %d \"%s\" (fwd_check)", i, la_bad[i].what);
    la_scrub_last_error();
    kernel = LITEATTN_KERNEL_CPU;
    const liteattn_status_t st = liteattn_fwd_check(&a, &kernel);
    la_expect_(st, la_bad[i].want, what, la_bad[i].mentions);
    LA_CHECK(kernel == LITEATTN_KERNEL_NONE, "%s: kernel %s on failure", what,
             liteattn_kernel_name(kernel));
    if (st == LITEATTN_OK) continue; /* never run a call that validation let through by mistake */
    snprintf(what, sizeof what, "case %d \"%s\" (fwd)", i, la_bad[i].what);
    la_expect(liteattn_fwd(&a, NULL), la_bad[i].want, what, la_bad[i].mentions);
  }
  B0.ranges[0] = (liteattn_range_t){3, 9};
  la_expect(liteattn_fwd(NULL, NULL), LITEATTN_ERR_NULL_POINTER, "fwd(NULL)", "args");
  la_expect(liteattn_fwd_check(NULL, &kernel), LITEATTN_ERR_NULL_POINTER, "fwd_check(NULL)",
            "args");
  LA_CHECK(kernel == LITEATTN_KERNEL_NONE, "fwd_check(NULL) left kernel %s",
           liteattn_kernel_name(kernel));
}

/* The helpers' own errors. */
static void test_helpers(void) {
  int64_t bm = 0, bn = 0;
  liteattn_mask_geometry_t g;
  la_expect(liteattn_tile_shape(64, LITEATTN_DTYPE_BF16, NULL, &bn), LITEATTN_ERR_NULL_POINTER,
            "tile_shape NULL", "block_m");
  la_expect(liteattn_tile_shape(64, (liteattn_dtype_t)3, &bm, &bn), LITEATTN_ERR_UNSUPPORTED_DTYPE,
            "tile_shape dtype 3", "dtype = 3");
  la_expect(liteattn_tile_shape(0, LITEATTN_DTYPE_FP16, &bm, &bn),
            LITEATTN_ERR_UNSUPPORTED_HEAD_DIM, "tile_shape D=0", "head_dim = 0");
  la_expect(liteattn_tile_shape(100, LITEATTN_DTYPE_FP16, &bm, &bn),
            LITEATTN_ERR_UNSUPPORTED_HEAD_DIM, "tile_shape D=100", "head_dim = 100");
  /* Every multiple of 8 in [8, 256] has a tile shape: 128x128 up to 128, then 128x64. */
  for (int64_t d = 8; d <= 256; d += 8) {
    bm = bn = 0;
    LA_CHECK_STATUS(liteattn_tile_shape(d, LITEATTN_DTYPE_FP32, &bm, &bn), LITEATTN_OK, "tile");
    LA_CHECK(bm == 128 && bn == (d <= 128 ? 128 : 64), "D=%lld: tile %lldx%lld", (long long)d,
             (long long)bm, (long long)bn);
  }
  la_expect(liteattn_mask_geometry(1, 1, 1, 1, 64, LITEATTN_DTYPE_BF16, NULL),
            LITEATTN_ERR_NULL_POINTER, "geometry NULL", "geom");
  la_expect(liteattn_mask_geometry(0, 1, 1, 1, 64, LITEATTN_DTYPE_BF16, &g),
            LITEATTN_ERR_BAD_SHAPE, "geometry batch 0", "batch = 0");
  la_expect(liteattn_mask_geometry(1, 1, 1, -5, 64, LITEATTN_DTYPE_BF16, &g),
            LITEATTN_ERR_BAD_SHAPE, "geometry Sk -5", "seqlen_k = -5");
  la_expect(liteattn_mask_geometry(1, 1, (int64_t)1 << 31, 1, 64, LITEATTN_DTYPE_BF16, &g),
            LITEATTN_ERR_TOO_LARGE, "geometry Sq 2^31", "seqlen_q");
  la_expect(liteattn_mask_geometry(1, 1, 1, 1, 72 + 1, LITEATTN_DTYPE_BF16, &g),
            LITEATTN_ERR_UNSUPPORTED_HEAD_DIM, "geometry D=73", "head_dim = 73");
  LA_CHECK_STATUS(liteattn_mask_geometry(1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, &g), LITEATTN_OK,
                  "geometry");
  uint32_t m[2] = {0, 0};
  double total;
  la_expect(liteattn_mask_fill(NULL, &g), LITEATTN_ERR_NULL_POINTER, "fill NULL mask", "mask");
  la_expect(liteattn_mask_fill(m, NULL), LITEATTN_ERR_NULL_POINTER, "fill NULL geom", "geom");
  liteattn_mask_geometry_t bad = g;
  bad.words += 1;
  la_expect(liteattn_mask_fill(m, &bad), LITEATTN_ERR_BAD_SHAPE, "fill inconsistent geom",
            "geom is inconsistent");
  la_expect(liteattn_mask_density(m, &g, NULL, NULL), LITEATTN_ERR_NULL_POINTER,
            "density NULL total", "total");
  la_expect(liteattn_mask_density(m, &bad, &total, NULL), LITEATTN_ERR_BAD_SHAPE,
            "density inconsistent geom", "geom is inconsistent");
  float per_head[2];
  bad = g;
  bad.tiles_q = 0; /* rows / tiles_q would index per_head out of bounds */
  la_expect(liteattn_mask_density(m, &bad, &total, per_head), LITEATTN_ERR_BAD_SHAPE,
            "density tiles_q 0", "geom is inconsistent");
  /* Geometry whose word count would overflow int64 (2^24 pairs x 2^23 q-tiles x 2^20 words). */
  la_expect(liteattn_mask_geometry(4096, 4096, (int64_t)1 << 30, (int64_t)1 << 30, 128,
                                   LITEATTN_DTYPE_BF16, &g),
            LITEATTN_ERR_TOO_LARGE, "geometry words overflow", "2^40 words");
  LA_CHECK_STATUS(liteattn_mask_geometry(1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, &g), LITEATTN_OK,
                  "geometry");

  /* State. */
  liteattn_state_t st;
  uint32_t sm[4];
  const liteattn_policy_t pol = {0, 0}, neg_dense = {-1, 0}, neg_refresh = {0, -2};
  la_expect(liteattn_state_init(NULL, 1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, sm, 4, &pol),
            LITEATTN_ERR_NULL_POINTER, "state_init NULL state", "state");
  la_expect(liteattn_state_init(&st, 1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, NULL, 4, &pol),
            LITEATTN_ERR_NULL_POINTER, "state_init NULL masks", "masks");
  la_expect(liteattn_state_init(&st, 1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, sm, 4, NULL),
            LITEATTN_ERR_NULL_POINTER, "state_init NULL policy", "policy");
  la_expect(liteattn_state_init(&st, 1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, sm, 4, &neg_dense),
            LITEATTN_ERR_BAD_POLICY, "state_init dense_calls -1", "dense_calls = -1");
  la_expect(liteattn_state_init(&st, 1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, sm, 4, &neg_refresh),
            LITEATTN_ERR_BAD_POLICY, "state_init refresh_every -2", "refresh_every = -2");
  la_expect(liteattn_state_init(&st, 1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, sm, 3, &pol),
            LITEATTN_ERR_MASK_SIZE, "state_init 3 words of 4", "masks_words = 3");
  la_expect(liteattn_state_init(&st, 1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16,
                                (uint32_t *)((char *)sm + 2), 4, &pol),
            LITEATTN_ERR_MISALIGNED, "state_init masks odd address", "masks");
  la_expect(liteattn_state_init(&st, 1, 0, 10, 10, 64, LITEATTN_DTYPE_BF16, sm, 4, &pol),
            LITEATTN_ERR_BAD_SHAPE, "state_init Hq 0", "heads_q = 0");
  la_expect(liteattn_state_reset(NULL), LITEATTN_ERR_NULL_POINTER, "state_reset NULL", "state");
  la_expect(liteattn_state_advance(NULL), LITEATTN_ERR_NULL_POINTER, "state_advance NULL",
            "state");
  liteattn_fwd_args_t a = la_base_args();
  la_expect(liteattn_state_prepare(NULL, &a), LITEATTN_ERR_NULL_POINTER, "state_prepare NULL",
            "state");
  LA_CHECK(liteattn_state_current_mask(NULL) == NULL, "current_mask(NULL) is not NULL");
  /* A state for other shapes than the baseline call (Sq 10 instead of 100). */
  LA_CHECK_STATUS(liteattn_state_init(&st, 1, 2, 10, 10, 64, LITEATTN_DTYPE_BF16, sm, 4, &pol),
                  LITEATTN_OK, "state_init");
  la_expect(liteattn_fwd_state(&st, &a, NULL), LITEATTN_ERR_STATE_MISMATCH, "fwd_state shapes",
            "state is for");
  la_expect(liteattn_fwd_state(&st, NULL, NULL), LITEATTN_ERR_NULL_POINTER, "fwd_state NULL args",
            "args");
  liteattn_fwd_args_t small = a;
  small.struct_size = 8; /* checked before the args are copied */
  la_expect(liteattn_fwd_state(&st, &small, NULL), LITEATTN_ERR_STRUCT_SIZE,
            "fwd_state struct_size 8", "struct_size");
  la_expect(liteattn_state_prepare(&st, &small), LITEATTN_ERR_STRUCT_SIZE,
            "state_prepare struct_size 8", "struct_size");
  la_expect(liteattn_fwd_state(NULL, &a, NULL), LITEATTN_ERR_NULL_POINTER, "fwd_state NULL state",
            "state");
}

/* Names and texts: every code of the table, and an unknown number. */
static void test_names(void) {
  int n = 0;
#define LA_X_CHECK(name, num, text)                                                          \
  LA_CHECK((int)name == num, #name " = %d", (int)name);                                      \
  LA_CHECK(strcmp(liteattn_status_name(name), #name) == 0, "name of %d: %s", num,            \
           liteattn_status_name(name));                                                      \
  LA_CHECK(strcmp(liteattn_status_string(name), text) == 0, "text of %d: %s", num,           \
           liteattn_status_string(name));                                                    \
  LA_CHECK(num == n, #name " = %d breaks the numbering (expected %d)", num, n);               \
  ++n;
  LITEATTN_STATUS_TABLE(LA_X_CHECK)
#undef LA_X_CHECK
  const int unknown[] = {-1, n, 999};
  for (int i = 0; i < 3; ++i) {
    const liteattn_status_t s = (liteattn_status_t)unknown[i];
    LA_CHECK(strcmp(liteattn_status_string(s), "unknown status") == 0, "text of %d: %s",
             unknown[i], liteattn_status_string(s));
    LA_CHECK(strcmp(liteattn_status_name(s), "LITEATTN_UNKNOWN_STATUS") == 0, "name of %d: %s",
             unknown[i], liteattn_status_name(s));
  }
  LA_CHECK(liteattn_version() == LITEATTN_VERSION, "liteattn_version() = %d, header says %d",
           liteattn_version(), LITEATTN_VERSION);
  LA_CHECK(LITEATTN_VERSION == LITEATTN_VERSION_CODE(0, 1, 0) && LITEATTN_VERSION == 100,
           "LITEATTN_VERSION = %d", LITEATTN_VERSION);
  static const struct {
    liteattn_kernel_t k;
    const char *name;
  } kn[] = {{LITEATTN_KERNEL_NONE, "none"},
            {LITEATTN_KERNEL_CPU, "cpu"},
            {LITEATTN_KERNEL_CUDA_PORTABLE, "cuda_portable"},
            {LITEATTN_KERNEL_CUDA_SM90, "cuda_sm90"},
            {(liteattn_kernel_t)42, "none"}};
  for (int i = 0; i < 5; ++i)
    LA_CHECK(strcmp(liteattn_kernel_name(kn[i].k), kn[i].name) == 0, "kernel %d: %s",
             (int)kn[i].k, liteattn_kernel_name(kn[i].k));
  liteattn_fwd_args_t a = LITEATTN_FWD_ARGS_INIT;
  LA_CHECK(a.struct_size == sizeof a && isinf(a.threshold) && a.threshold < 0
               && a.criterion == LITEATTN_CRITERION_MASS && a.backend == LITEATTN_BACKEND_AUTO
               && a.q.data == NULL && a.read_mask == NULL && a.scale == 0.0f,
           "LITEATTN_FWD_ARGS_INIT is not the documented default");
}

int main(void) {
  const double t0 = la_t_now();
  (void)la_t_seed();
  /* B=2, Sq=100, Sk=150, Hq=4, Hkv=2, D=64, fp16, bshd. */
  B0.q = la_t_tensor_make(2, 100, 4, 64, LITEATTN_DTYPE_FP16, LA_LAYOUT_BSHD);
  B0.k = la_t_tensor_make(2, 150, 2, 64, LITEATTN_DTYPE_FP16, LA_LAYOUT_BSHD);
  B0.v = la_t_tensor_make(2, 150, 2, 64, LITEATTN_DTYPE_FP16, LA_LAYOUT_BSHD);
  B0.o = la_t_tensor_make(2, 100, 4, 64, LITEATTN_DTYPE_FP16, LA_LAYOUT_BSHD);
  la_t_fill_qkv(&B0.q, &B0.k, &B0.v, LA_T_INPUTS_DEFAULT, la_t_seed());
  LA_CHECK_STATUS(liteattn_mask_geometry(2, 4, 100, 150, 64, LITEATTN_DTYPE_FP16, &B0.g),
                  LITEATTN_OK, "geometry");
  B0.lse = malloc(sizeof(float) * 2 * 4 * 100);
  B0.rmask = malloc(B0.g.bytes), B0.wmask = malloc(B0.g.bytes);
  liteattn_mask_fill(B0.rmask, &B0.g);
  B0.ranges[0] = (liteattn_range_t){3, 9};
  B0.raw = aligned_alloc(64, 1 << 16);
  memset(B0.raw, 0, 1 << 16);

  test_bad_args();
  test_helpers();
  test_names();

  /* Every code of the table was produced, except those this build cannot produce portably. */
#define LA_X_COVERED(name, num, text)                                                          \
  {                                                                                            \
    const int skip = num == LITEATTN_ERR_CUDA || num == LITEATTN_ERR_OUT_OF_MEMORY             \
                     || (LA_TEST_WITH_CUDA && (num == LITEATTN_ERR_UNSUPPORTED_ARCH            \
                                               || num == LITEATTN_ERR_BACKEND_UNAVAILABLE))    \
                     || (!LA_TEST_WITH_CUDA && (num == LITEATTN_ERR_UNSUPPORTED_ARCH           \
                                                || num == LITEATTN_ERR_WRONG_DEVICE));         \
    LA_CHECK(skip || forced[num], #name " was never forced by a test");                         \
    if (skip) printf("  not forced here: %s\n", #name);                                        \
  }
  LITEATTN_STATUS_TABLE(LA_X_COVERED)
#undef LA_X_COVERED
  la_t_tensor_free(&B0.q), la_t_tensor_free(&B0.k), la_t_tensor_free(&B0.v),
      la_t_tensor_free(&B0.o);
  free(B0.lse), free(B0.rmask), free(B0.wmask), free(B0.raw);
  return la_t_summary("test_status", la_t_now() - t0);
}
