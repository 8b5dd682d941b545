/* core.c — the front end every call goes through: status texts and per-thread errors, the tile
 * table, argument validation, the one kernel selector, dispatch, mask helpers and call state. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------------------------------------
 * Version, status, errors
 * ------------------------------------------------------------------------------------------- */
int liteattn_version(void) { return LITEATTN_VERSION; }

const char *liteattn_status_string(liteattn_status_t status) {
  switch (status) {
#define LITEATTN_X_TEXT(name, num, text) \
  case name:                            \
    return text;
    LITEATTN_STATUS_TABLE(LITEATTN_X_TEXT)
#undef LITEATTN_X_TEXT
  }
  return "unknown status";
}

const char *liteattn_status_name(liteattn_status_t status) {
  switch (status) {
#define LITEATTN_X_NAME(name, num, text) \
  case name:                            \
    return #name;
    LITEATTN_STATUS_TABLE(LITEATTN_X_NAME)
#undef LITEATTN_X_NAME
  }
  return "LITEATTN_UNKNOWN_STATUS";
}

static __thread char la_last_error[512];

const char *liteattn_last_error(void) { return la_last_error; }

void la_error_save(la_saved_error_t *saved) {
  memcpy(saved->text, la_last_error, sizeof saved->text);
}

void la_error_restore(const la_saved_error_t *saved) {
  memcpy(la_last_error, saved->text, sizeof la_last_error);
}

liteattn_status_t la_error(liteattn_status_t status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(la_last_error, sizeof la_last_error, fmt, ap);
  va_end(ap);
  return status;
}

const char *liteattn_kernel_name(liteattn_kernel_t kernel) {
  switch (kernel) {
    case LITEATTN_KERNEL_CPU: return "cpu";
    case LITEATTN_KERNEL_CUDA_PORTABLE: return "cuda_portable";
    case LITEATTN_KERNEL_CUDA_SM90: return "cuda_sm90";
    case LITEATTN_KERNEL_NONE: break;
  }
  return "none";
}

/* ---------------------------------------------------------------------------------------------
 * Tile table: the only place tile sizes are defined. Rows are tried in order; the first whose
 * max_head_dim covers D wins. The dtype column is kept so a row can specialise one day.
 * ------------------------------------------------------------------------------------------- */
typedef struct la_tile_row {
  int64_t max_head_dim;
  int64_t block_m, block_n;
} la_tile_row_t;

static const la_tile_row_t la_tile_table[] = {
    /* D <= 128: 128x128. 128 keys is the sparse granularity FlexAttention and the Hopper kernel
     * share; 128 query rows = 2 consumer warpgroups x 64 rows (wgmma M=64) on sm90 and
     * 4 warps x 16 rows x 2 on the mma.sync kernel. */
    {128, 128, 128},
    /* D <= 256 (CPU only today): 128x64 keeps one K+V tile of fp32 scratch at 128 KB. */
    {256, 128, 64},
};

liteattn_status_t liteattn_tile_shape(int64_t head_dim, liteattn_dtype_t dtype,
                                      int64_t *block_m, int64_t *block_n) {
  if (!block_m || !block_n) return la_error(LITEATTN_ERR_NULL_POINTER, "block_m/block_n is NULL");
  if (dtype != LITEATTN_DTYPE_BF16 && dtype != LITEATTN_DTYPE_FP16 && dtype != LITEATTN_DTYPE_FP32)
    return la_error(LITEATTN_ERR_UNSUPPORTED_DTYPE, "dtype = %d is not a liteattn_dtype_t",
                    (int)dtype);
  if (head_dim < 8 || head_dim % 8 != 0 || head_dim > 256)
    return la_error(LITEATTN_ERR_UNSUPPORTED_HEAD_DIM,
                    "head_dim = %lld: must be a multiple of 8 in [8, 256]", (long long)head_dim);
  for (size_t i = 0; i < sizeof la_tile_table / sizeof la_tile_table[0]; ++i) {
    if (head_dim <= la_tile_table[i].max_head_dim) {
      *block_m = la_tile_table[i].block_m;
      *block_n = la_tile_table[i].block_n;
      return LITEATTN_OK;
    }
  }
  return la_error(LITEATTN_ERR_UNSUPPORTED_HEAD_DIM, "head_dim = %lld has no tile shape",
                  (long long)head_dim);
}

/* Largest values the kernels index with 32-bit arithmetic inside a (b, h) slice. */
#define LA_MAX_SEQLEN ((int64_t)1 << 30)
#define LA_MAX_BATCH_HEADS ((int64_t)1 << 24)
#define LA_MAX_MASK_WORDS ((int64_t)1 << 40)
/* Largest stride and extent of a tensor, in elements (byte offsets stay far from overflow). */
#define LA_MAX_STRIDE ((int64_t)1 << 40)
#define LA_MAX_EXTENT ((int64_t)1 << 60)

liteattn_status_t liteattn_mask_geometry(int64_t batch, int64_t heads_q, int64_t seqlen_q,
                                         int64_t seqlen_k, int64_t head_dim,
                                         liteattn_dtype_t dtype, liteattn_mask_geometry_t *geom) {
  if (!geom) return la_error(LITEATTN_ERR_NULL_POINTER, "geom is NULL");
  if (batch <= 0 || heads_q <= 0 || seqlen_q <= 0 || seqlen_k <= 0)
    return la_error(LITEATTN_ERR_BAD_SHAPE,
                    "mask geometry: batch = %lld, heads_q = %lld, seqlen_q = %lld, seqlen_k = "
                    "%lld: each must be > 0",
                    (long long)batch, (long long)heads_q, (long long)seqlen_q,
                    (long long)seqlen_k);
  /* Single factors first, so that the product below cannot overflow. */
  if (seqlen_q > LA_MAX_SEQLEN || seqlen_k > LA_MAX_SEQLEN || batch > LA_MAX_BATCH_HEADS
      || heads_q > LA_MAX_BATCH_HEADS)
    return la_error(LITEATTN_ERR_TOO_LARGE,
                    "batch = %lld, heads_q = %lld, seqlen_q = %lld, seqlen_k = %lld: limits are "
                    "2^30 tokens and 2^24 batch elements or heads",
                    (long long)batch, (long long)heads_q, (long long)seqlen_q,
                    (long long)seqlen_k);
  if (batch * heads_q > LA_MAX_BATCH_HEADS)
    return la_error(LITEATTN_ERR_TOO_LARGE, "batch*heads_q = %lld: the limit is 2^24 pairs",
                    (long long)(batch * heads_q));
  int64_t bm, bn;
  liteattn_status_t st = liteattn_tile_shape(head_dim, dtype, &bm, &bn);
  if (st != LITEATTN_OK) return st;
  geom->block_m = bm;
  geom->block_n = bn;
  geom->tiles_q = (seqlen_q + bm - 1) / bm;
  geom->tiles_k = (seqlen_k + bn - 1) / bn;
  geom->words_per_row = (geom->tiles_k + 31) / 32;
  geom->rows = batch * heads_q * geom->tiles_q; /* < 2^24 * 2^30: fits */
  /* rows * W (W < 2^25) could overflow: check before multiplying, and keep a mask (and the
   * state's pair of masks) addressable. */
  if (geom->rows > LA_MAX_MASK_WORDS / geom->words_per_row)
    return la_error(LITEATTN_ERR_TOO_LARGE,
                    "a mask for %lld rows of %lld words exceeds 2^40 words", (long long)geom->rows,
                    (long long)geom->words_per_row);
  geom->words = geom->rows * geom->words_per_row;
  geom->bytes = (size_t)geom->words * sizeof(uint32_t);
  return LITEATTN_OK;
}

static liteattn_status_t la_check_geom(const liteattn_mask_geometry_t *g) {
  if (!g) return la_error(LITEATTN_ERR_NULL_POINTER, "geom is NULL");
  if (g->tiles_k <= 0 || g->tiles_q <= 0 || g->rows <= 0 || g->rows % g->tiles_q != 0
      || g->block_m <= 0 || g->block_n <= 0 || g->words_per_row != (g->tiles_k + 31) / 32
      || g->words != g->rows * g->words_per_row)
    return la_error(LITEATTN_ERR_BAD_SHAPE,
                    "geom is inconsistent (tiles_k = %lld, rows = %lld, words_per_row = %lld, "
                    "words = %lld): fill it with liteattn_mask_geometry",
                    (long long)g->tiles_k, (long long)g->rows, (long long)g->words_per_row,
                    (long long)g->words);
  return LITEATTN_OK;
}

liteattn_status_t liteattn_mask_fill(uint32_t *mask, const liteattn_mask_geometry_t *geom) {
  liteattn_status_t st = la_check_geom(geom);
  if (st != LITEATTN_OK) return st;
  if (!mask) return la_error(LITEATTN_ERR_NULL_POINTER, "mask is NULL");
  const int64_t W = geom->words_per_row, tail = geom->tiles_k % 32;
  const uint32_t last = tail ? (uint32_t)((1ull << tail) - 1u) : 0xffffffffu;
  for (int64_t r = 0; r < geom->rows; ++r) {
    uint32_t *row = mask + r * W;
    for (int64_t w = 0; w < W - 1; ++w) row[w] = 0xffffffffu;
    row[W - 1] = last;
  }
  return LITEATTN_OK;
}

static int la_popcount(uint32_t x) { return __builtin_popcount(x); }

liteattn_status_t liteattn_mask_density(const uint32_t *mask, const liteattn_mask_geometry_t *geom,
                                        double *total, float *per_head) {
  liteattn_status_t st = la_check_geom(geom);
  if (st != LITEATTN_OK) return st;
  if (!mask || !total) return la_error(LITEATTN_ERR_NULL_POINTER, "mask or total is NULL");
  const int64_t W = geom->words_per_row, Tk = geom->tiles_k, tail = Tk % 32;
  const uint32_t last = tail ? (uint32_t)((1ull << tail) - 1u) : 0xffffffffu;
  const int64_t Tq = geom->tiles_q;
  int64_t all = 0, head = 0;
  for (int64_t r = 0; r < geom->rows; ++r) {
    const uint32_t *row = mask + r * W;
    int64_t n = 0;
    for (int64_t w = 0; w < W; ++w) n += la_popcount(w == W - 1 ? row[w] & last : row[w]);
    all += n;
    head += n;
    if (per_head && (r + 1) % Tq == 0) {
      per_head[r / Tq] = (float)((double)head / (double)(Tq * Tk));
      head = 0;
    }
  }
  *total = (double)all / ((double)geom->rows * (double)Tk);
  return LITEATTN_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------------------------- */
liteattn_fwd_args_t liteattn_fwd_args_init_value(void) {
  liteattn_fwd_args_t a;
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.threshold = -INFINITY;
  a.criterion = LITEATTN_CRITERION_MASS;
  a.backend = LITEATTN_BACKEND_AUTO;
  return a;
}

static size_t la_dtype_size(liteattn_dtype_t t) { return t == LITEATTN_DTYPE_FP32 ? 4 : 2; }

static const char *la_dtype_name(liteattn_dtype_t t) {
  switch (t) {
    case LITEATTN_DTYPE_BF16: return "bf16";
    case LITEATTN_DTYPE_FP16: return "fp16";
    case LITEATTN_DTYPE_FP32: return "fp32";
  }
  return "?";
}

/* Byte interval [lo, hi) a buffer touches. */
typedef struct la_span {
  uintptr_t lo, hi;
} la_span_t;

/* One past the last element a tensor touches, in elements; -1 if that exceeds LA_MAX_EXTENT or
 * overflows (dims > 0 and strides in [0, LA_MAX_STRIDE] are checked before). */
static int64_t la_tensor_last(const liteattn_tensor_t *t) {
  int64_t b, s, h, last;
  if (__builtin_mul_overflow(t->batch - 1, t->stride_b, &b)
      || __builtin_mul_overflow(t->seqlen - 1, t->stride_s, &s)
      || __builtin_mul_overflow(t->heads - 1, t->stride_h, &h)
      || __builtin_add_overflow(b, s, &last) || __builtin_add_overflow(last, h, &last)
      || __builtin_add_overflow(last, t->head_dim, &last) || last > LA_MAX_EXTENT)
    return -1;
  return last;
}

static la_span_t la_tensor_span(const liteattn_tensor_t *t) {
  la_span_t s;
  s.lo = (uintptr_t)t->data;
  s.hi = s.lo + (uintptr_t)la_tensor_last(t) * la_dtype_size(t->dtype);
  return s;
}

static int la_spans_overlap(la_span_t a, la_span_t b) { return a.lo < b.hi && b.lo < a.hi; }

static liteattn_status_t la_check_tensor(const liteattn_tensor_t *t, const char *name, int output) {
  if (!t->data) return la_error(LITEATTN_ERR_NULL_POINTER, "%s.data is NULL", name);
  if (t->batch <= 0 || t->seqlen <= 0 || t->heads <= 0 || t->head_dim <= 0)
    return la_error(LITEATTN_ERR_BAD_SHAPE,
                    "%s is [%lld, %lld, %lld, %lld]: every dim of [B, S, H, D] must be > 0", name,
                    (long long)t->batch, (long long)t->seqlen, (long long)t->heads,
                    (long long)t->head_dim);
  if (t->dtype != LITEATTN_DTYPE_BF16 && t->dtype != LITEATTN_DTYPE_FP16
      && t->dtype != LITEATTN_DTYPE_FP32)
    return la_error(LITEATTN_ERR_UNSUPPORTED_DTYPE, "%s.dtype = %d is not a liteattn_dtype_t",
                    name, (int)t->dtype);
  if (t->stride_b < 0 || t->stride_s < 0 || t->stride_h < 0 || t->stride_b > LA_MAX_STRIDE
      || t->stride_s > LA_MAX_STRIDE || t->stride_h > LA_MAX_STRIDE)
    return la_error(LITEATTN_ERR_BAD_STRIDE,
                    "%s strides (b %lld, s %lld, h %lld) must be in [0, 2^40] (elements)", name,
                    (long long)t->stride_b, (long long)t->stride_s, (long long)t->stride_h);
  if (t->head_dim > 256)
    return la_error(LITEATTN_ERR_UNSUPPORTED_HEAD_DIM,
                    "%s.head_dim = %lld: must be a multiple of 8 in [8, 256]", name,
                    (long long)t->head_dim);
  if (la_tensor_last(t) < 0)
    return la_error(LITEATTN_ERR_BAD_STRIDE,
                    "%s [%lld, %lld, %lld, %lld] with strides (b %lld, s %lld, h %lld) spans more "
                    "than 2^60 elements",
                    name, (long long)t->batch, (long long)t->seqlen, (long long)t->heads,
                    (long long)t->head_dim, (long long)t->stride_b, (long long)t->stride_s,
                    (long long)t->stride_h);
  if ((uintptr_t)t->data % la_dtype_size(t->dtype) != 0)
    return la_error(LITEATTN_ERR_MISALIGNED, "%s.data = %p is not aligned to its %s elements",
                    name, t->data, la_dtype_name(t->dtype));
  if (output) {
    /* No two (b, s, h) rows of an output may share memory: sort the three (stride, size) pairs
     * and require each stride to cover the extent of the ones inside it. */
    int64_t st[3] = {t->stride_b, t->stride_s, t->stride_h};
    int64_t sz[3] = {t->batch, t->seqlen, t->heads};
    for (int i = 0; i < 3; ++i)
      for (int j = i + 1; j < 3; ++j)
        if (st[j] < st[i]) {
          int64_t a = st[i], b = sz[i];
          st[i] = st[j], sz[i] = sz[j];
          st[j] = a, sz[j] = b;
        }
    int64_t extent = t->head_dim;
    for (int i = 0; i < 3; ++i) {
      if (sz[i] == 1) continue;
      if (st[i] < extent)
        return la_error(LITEATTN_ERR_BAD_STRIDE,
                        "%s strides (b %lld, s %lld, h %lld) make output elements alias", name,
                        (long long)t->stride_b, (long long)t->stride_s, (long long)t->stride_h);
      if (__builtin_mul_overflow(st[i], sz[i], &extent)) break; /* nothing outside can alias */
    }
  }
  return LITEATTN_OK;
}

static liteattn_status_t la_check_ranges(const liteattn_range_t *r, int n, int64_t len,
                                         const char *name, liteattn_range_t *out) {
  if (n < 0 || n > LITEATTN_MAX_RANGES)
    return la_error(LITEATTN_ERR_BAD_RANGE, "num_%s = %d: must be in [0, %d]", name, n,
                    LITEATTN_MAX_RANGES);
  if (n > 0 && !r) return la_error(LITEATTN_ERR_NULL_POINTER, "%s is NULL with num_%s = %d",
                                   name, name, n);
  for (int i = 0; i < n; ++i) {
    if (r[i].begin < 0 || r[i].end <= r[i].begin || r[i].end > len)
      return la_error(LITEATTN_ERR_BAD_RANGE,
                      "%s[%d] = [%lld, %lld): must satisfy 0 <= begin < end <= %lld", name, i,
                      (long long)r[i].begin, (long long)r[i].end, (long long)len);
    out[i] = r[i];
  }
  return LITEATTN_OK;
}

static liteattn_status_t la_check_struct_size(const liteattn_fwd_args_t *a) {
  if (a->struct_size != sizeof(liteattn_fwd_args_t))
    return la_error(LITEATTN_ERR_STRUCT_SIZE,
                    "args.struct_size = %zu, this library's liteattn_fwd_args_t has %zu bytes "
                    "(initialise with LITEATTN_FWD_ARGS_INIT)",
                    a->struct_size, sizeof(liteattn_fwd_args_t));
  return LITEATTN_OK;
}

/* Validates everything that does not depend on the backend and fills the plan. */
static liteattn_status_t la_make_plan(const liteattn_fwd_args_t *a, la_plan_t *p) {
  liteattn_status_t st;
  if (!a) return la_error(LITEATTN_ERR_NULL_POINTER, "args is NULL");
  if ((st = la_check_struct_size(a))) return st;
  if ((st = la_check_tensor(&a->q, "q", 0)) || (st = la_check_tensor(&a->k, "k", 0))
      || (st = la_check_tensor(&a->v, "v", 0)) || (st = la_check_tensor(&a->o, "o", 1)))
    return st;
  const liteattn_tensor_t *q = &a->q, *k = &a->k, *v = &a->v, *o = &a->o;
  if (k->dtype != q->dtype || v->dtype != q->dtype || o->dtype != q->dtype)
    return la_error(LITEATTN_ERR_DTYPE_MISMATCH, "dtypes q %s, k %s, v %s, o %s must be equal",
                    la_dtype_name(q->dtype), la_dtype_name(k->dtype), la_dtype_name(v->dtype),
                    la_dtype_name(o->dtype));
  if (k->batch != q->batch || v->batch != q->batch || o->batch != q->batch)
    return la_error(LITEATTN_ERR_BAD_SHAPE, "batch: q %lld, k %lld, v %lld, o %lld must be equal",
                    (long long)q->batch, (long long)k->batch, (long long)v->batch,
                    (long long)o->batch);
  if (k->head_dim != q->head_dim || v->head_dim != q->head_dim || o->head_dim != q->head_dim)
    return la_error(LITEATTN_ERR_BAD_SHAPE,
                    "head_dim: q %lld, k %lld, v %lld, o %lld must be equal",
                    (long long)q->head_dim, (long long)k->head_dim, (long long)v->head_dim,
                    (long long)o->head_dim);
  if (v->seqlen != k->seqlen || v->heads != k->heads)
    return la_error(LITEATTN_ERR_BAD_SHAPE, "v is [S %lld, H %lld] but k is [S %lld, H %lld]",
                    (long long)v->seqlen, (long long)v->heads, (long long)k->seqlen,
                    (long long)k->heads);
  if (o->seqlen != q->seqlen || o->heads != q->heads)
    return la_error(LITEATTN_ERR_BAD_SHAPE, "o is [S %lld, H %lld] but q is [S %lld, H %lld]",
                    (long long)o->seqlen, (long long)o->heads, (long long)q->seqlen,
                    (long long)q->heads);
  if (q->heads % k->heads != 0)
    return la_error(LITEATTN_ERR_BAD_GQA, "q.heads = %lld is not a multiple of k.heads = %lld",
                    (long long)q->heads, (long long)k->heads);
  if ((st = liteattn_mask_geometry(q->batch, q->heads, q->seqlen, k->seqlen, q->head_dim,
                                   q->dtype, &p->geom)))
    return st;
  if (!(a->threshold <= 0.0f))
    return la_error(LITEATTN_ERR_BAD_THRESHOLD, "threshold = %g: must be <= 0 and not NaN",
                    (double)a->threshold);
  if (!(a->scale >= 0.0f) || !isfinite(a->scale * 1.4426950408889634f))
    return la_error(LITEATTN_ERR_BAD_SCALE, "scale = %g: must be > 0 with scale*log2(e) finite (0 = 1/sqrt(D))",
                    (double)a->scale);
  if (a->criterion != LITEATTN_CRITERION_PEAK && a->criterion != LITEATTN_CRITERION_MASS)
    return la_error(LITEATTN_ERR_BAD_CRITERION, "criterion = %d: use PEAK (0) or MASS (1)",
                    (int)a->criterion);
  if ((unsigned)a->backend > (unsigned)LITEATTN_BACKEND_CUDA_SM90)
    return la_error(LITEATTN_ERR_BAD_BACKEND, "backend = %d is not a liteattn_backend_t",
                    (int)a->backend);
  if ((st = la_check_ranges(a->must_do_k, a->num_must_do_k, k->seqlen, "must_do_k", p->must_k))
      || (st = la_check_ranges(a->must_do_q, a->num_must_do_q, q->seqlen, "must_do_q",
                               p->must_q)))
    return st;

  /* Masks. */
  const size_t words = (size_t)p->geom.words;
  if (a->read_mask && a->read_mask_words != words)
    return la_error(LITEATTN_ERR_MASK_SIZE,
                    "read_mask_words = %zu, but B=%lld Hq=%lld Tq=%lld Tk=%lld needs %zu words",
                    a->read_mask_words, (long long)q->batch, (long long)q->heads,
                    (long long)p->geom.tiles_q, (long long)p->geom.tiles_k, words);
  if (a->write_mask && a->write_mask_words != words)
    return la_error(LITEATTN_ERR_MASK_SIZE,
                    "write_mask_words = %zu, but B=%lld Hq=%lld Tq=%lld Tk=%lld needs %zu words",
                    a->write_mask_words, (long long)q->batch, (long long)q->heads,
                    (long long)p->geom.tiles_q, (long long)p->geom.tiles_k, words);
  if (((uintptr_t)a->read_mask | (uintptr_t)a->write_mask) % sizeof(uint32_t) != 0)
    return la_error(LITEATTN_ERR_MISALIGNED, "read_mask %p / write_mask %p not 4-byte aligned",
                    (const void *)a->read_mask, (void *)a->write_mask);
  if (a->lse && (uintptr_t)a->lse % sizeof(float) != 0)
    return la_error(LITEATTN_ERR_MISALIGNED, "lse = %p is not 4-byte aligned", (void *)a->lse);
  la_span_t sq = la_tensor_span(q), sk = la_tensor_span(k), sv = la_tensor_span(v),
            so = la_tensor_span(o);
  la_span_t sl = {(uintptr_t)a->lse,
                  (uintptr_t)a->lse + (uintptr_t)(q->batch * q->heads * q->seqlen) * 4u};
  la_span_t sr = {(uintptr_t)a->read_mask, (uintptr_t)a->read_mask + words * 4u};
  la_span_t sw = {(uintptr_t)a->write_mask, (uintptr_t)a->write_mask + words * 4u};
  if (a->read_mask && a->write_mask && la_spans_overlap(sr, sw))
    return la_error(LITEATTN_ERR_MASK_ALIAS,
                    "read_mask %p and write_mask %p overlap (%zu words each): use two buffers",
                    (const void *)a->read_mask, (void *)a->write_mask, words);
  if (la_spans_overlap(so, sq) || la_spans_overlap(so, sk) || la_spans_overlap(so, sv))
    return la_error(LITEATTN_ERR_OVERLAP, "o overlaps %s",
                    la_spans_overlap(so, sq) ? "q" : la_spans_overlap(so, sk) ? "k" : "v");
  if (a->read_mask && la_spans_overlap(so, sr))
    return la_error(LITEATTN_ERR_OVERLAP, "o overlaps read_mask");
  if (a->lse) {
    const la_span_t others[] = {sq, sk, sv, so, sr};
    const char *names[] = {"q", "k", "v", "o", "read_mask"};
    for (int i = 0; i < 5; ++i)
      if ((i < 4 || a->read_mask) && la_spans_overlap(sl, others[i]))
        return la_error(LITEATTN_ERR_OVERLAP, "lse overlaps %s", names[i]);
  }
  if (a->write_mask) {
    const la_span_t others[] = {sq, sk, sv, so, sl};
    const char *names[] = {"q", "k", "v", "o", "lse"};
    for (int i = 0; i < 5; ++i)
      if ((i < 4 || a->lse) && la_spans_overlap(sw, others[i]))
        return la_error(LITEATTN_ERR_OVERLAP, "write_mask overlaps %s", names[i]);
  }

  p->q = q->data, p->k = k->data, p->v = v->data, p->o = o->data, p->lse = a->lse;
  p->dtype = q->dtype;
  p->B = q->batch, p->Sq = q->seqlen, p->Sk = k->seqlen, p->Hq = q->heads, p->Hkv = k->heads;
  p->D = q->head_dim;
  p->q_sb = q->stride_b, p->q_ss = q->stride_s, p->q_sh = q->stride_h;
  p->k_sb = k->stride_b, p->k_ss = k->stride_s, p->k_sh = k->stride_h;
  p->v_sb = v->stride_b, p->v_ss = v->stride_s, p->v_sh = v->stride_h;
  p->o_sb = o->stride_b, p->o_ss = o->stride_s, p->o_sh = o->stride_h;
  p->scale = a->scale > 0.0f ? a->scale : (float)(1.0 / sqrt((double)q->head_dim));
  p->scale_log2 = (float)((double)p->scale * 1.4426950408889634);
  p->read_mask = a->read_mask;
  p->write_mask = a->write_mask;
  p->threshold = a->threshold;
  p->criterion = a->criterion;
  p->num_must_k = a->num_must_do_k;
  p->num_must_q = a->num_must_do_q;
  return LITEATTN_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The selector: the one place that decides which kernel runs.
 * ------------------------------------------------------------------------------------------- */
static liteattn_status_t la_check_cpu(const la_plan_t *p) {
#ifdef LITEATTN_WITH_CUDA
  const void *ptrs[] = {p->q, p->k, p->v, p->o, p->lse, p->read_mask, p->write_mask};
  const char *names[] = {"q", "k", "v", "o", "lse", "read_mask", "write_mask"};
  for (int i = 0; i < 7; ++i) {
    if (!ptrs[i]) continue;
    int dev = la_cuda_pointer_is_device(ptrs[i]);
    if (dev < 0) return LITEATTN_ERR_CUDA;
    if (dev)
      return la_error(LITEATTN_ERR_WRONG_DEVICE,
                      "%s = %p is device memory; the CPU backend needs host memory", names[i],
                      ptrs[i]);
  }
#else
  (void)p;
#endif
  return LITEATTN_OK;
}

static liteattn_status_t la_select(const la_plan_t *p, liteattn_backend_t backend,
                                   liteattn_kernel_t *kernel) {
  *kernel = LITEATTN_KERNEL_NONE;
  liteattn_status_t st;
  if (backend == LITEATTN_BACKEND_AUTO) {
#ifdef LITEATTN_WITH_CUDA
    int dev = la_cuda_pointer_is_device(p->q);
    if (dev < 0) return LITEATTN_ERR_CUDA;
    backend = dev ? LITEATTN_BACKEND_CUDA : LITEATTN_BACKEND_CPU;
#else
    backend = LITEATTN_BACKEND_CPU;
#endif
  }
  if (backend == LITEATTN_BACKEND_CPU) {
    if ((st = la_check_cpu(p))) return st;
    *kernel = LITEATTN_KERNEL_CPU;
    return LITEATTN_OK;
  }
#ifdef LITEATTN_WITH_CUDA
  liteattn_kernel_t k;
  if (backend == LITEATTN_BACKEND_CUDA) {
    k = la_cuda_select(p, &st);
    if (k == LITEATTN_KERNEL_NONE) return st;
  } else {
    k = backend == LITEATTN_BACKEND_CUDA_SM90 ? LITEATTN_KERNEL_CUDA_SM90
                                              : LITEATTN_KERNEL_CUDA_PORTABLE;
    if ((st = la_cuda_check(p, k))) return st;
  }
  *kernel = k;
  return LITEATTN_OK;
#else
  return la_error(LITEATTN_ERR_BACKEND_UNAVAILABLE,
                  "backend %d (CUDA) requested, but this liteattn was built without CUDA",
                  (int)backend);
#endif
}

liteattn_status_t liteattn_fwd_check(const liteattn_fwd_args_t *args, liteattn_kernel_t *kernel) {
  la_plan_t plan;
  liteattn_kernel_t k = LITEATTN_KERNEL_NONE;
  liteattn_status_t st = la_make_plan(args, &plan);
  if (st == LITEATTN_OK) st = la_select(&plan, args->backend, &k);
  if (kernel) *kernel = k;
  return st;
}

liteattn_status_t liteattn_fwd(const liteattn_fwd_args_t *args, liteattn_stream_t stream) {
  la_plan_t plan;
  liteattn_kernel_t k;
  liteattn_status_t st = la_make_plan(args, &plan);
  if (st) return st;
  if ((st = la_select(&plan, args->backend, &k))) return st;
  if (k == LITEATTN_KERNEL_CPU) return la_cpu_fwd(&plan);
#ifdef LITEATTN_WITH_CUDA
  return la_cuda_fwd(&plan, k, stream);
#else
  (void)stream;
  return la_error(LITEATTN_ERR_BACKEND_UNAVAILABLE, "no CUDA in this build");
#endif
}

/* ---------------------------------------------------------------------------------------------
 * State across calls
 * ------------------------------------------------------------------------------------------- */
liteattn_status_t liteattn_state_init(liteattn_state_t *s, int64_t batch, int64_t heads_q,
                                      int64_t seqlen_q, int64_t seqlen_k, int64_t head_dim,
                                      liteattn_dtype_t dtype, uint32_t *masks, size_t masks_words,
                                      const liteattn_policy_t *policy) {
  if (!s || !masks || !policy)
    return la_error(LITEATTN_ERR_NULL_POINTER, "state_init: state %p, masks %p, policy %p",
                    (void *)s, (void *)masks, (const void *)policy);
  if (policy->dense_calls < 0 || policy->refresh_every < 0)
    return la_error(LITEATTN_ERR_BAD_POLICY,
                    "policy.dense_calls = %lld, refresh_every = %lld: each must be >= 0",
                    (long long)policy->dense_calls, (long long)policy->refresh_every);
  liteattn_mask_geometry_t g;
  liteattn_status_t st =
      liteattn_mask_geometry(batch, heads_q, seqlen_q, seqlen_k, head_dim, dtype, &g);
  if (st) return st;
  if (masks_words != 2 * (size_t)g.words)
    return la_error(LITEATTN_ERR_MASK_SIZE,
                    "state masks_words = %zu, needs 2 * %lld = %lld (two ping-pong masks)",
                    masks_words, (long long)g.words, (long long)(2 * g.words));
  if ((uintptr_t)masks % sizeof(uint32_t) != 0)
    return la_error(LITEATTN_ERR_MISALIGNED, "state masks = %p is not 4-byte aligned",
                    (void *)masks);
  memset(s, 0, sizeof *s);
  s->geom = g;
  s->batch = batch, s->heads_q = heads_q, s->seqlen_q = seqlen_q, s->seqlen_k = seqlen_k;
  s->head_dim = head_dim, s->dtype = dtype;
  s->masks = masks;
  s->policy = *policy;
  return liteattn_state_reset(s);
}

liteattn_status_t liteattn_state_reset(liteattn_state_t *s) {
  if (!s) return la_error(LITEATTN_ERR_NULL_POINTER, "state is NULL");
  s->calls = 0;
  s->phase = 0;
  s->read_full = 1;
  return LITEATTN_OK;
}

/* What the state's next call does: 0 = dense (no marking), 1 = full read + marking,
 * 2 = read the current mask + marking. */
static int la_state_mode(const liteattn_state_t *s) {
  if (s->calls < s->policy.dense_calls) return 0;
  const int64_t k = s->calls - s->policy.dense_calls;
  if (s->read_full || (s->policy.refresh_every > 0 && k % s->policy.refresh_every == 0)) return 1;
  return 2;
}

liteattn_status_t liteattn_state_prepare(const liteattn_state_t *s, liteattn_fwd_args_t *a) {
  if (!s || !a) return la_error(LITEATTN_ERR_NULL_POINTER, "state or args is NULL");
  liteattn_status_t st = la_check_struct_size(a);
  if (st) return st;
  if (!s->masks) return la_error(LITEATTN_ERR_NULL_POINTER, "state has no masks (not initialised)");
  if (a->q.batch != s->batch || a->q.heads != s->heads_q || a->q.seqlen != s->seqlen_q
      || a->k.seqlen != s->seqlen_k || a->q.head_dim != s->head_dim || a->q.dtype != s->dtype)
    return la_error(LITEATTN_ERR_STATE_MISMATCH,
                    "state is for B=%lld Hq=%lld Sq=%lld Sk=%lld D=%lld dtype %s; args have "
                    "B=%lld Hq=%lld Sq=%lld Sk=%lld D=%lld dtype %s: re-initialise the state",
                    (long long)s->batch, (long long)s->heads_q, (long long)s->seqlen_q,
                    (long long)s->seqlen_k, (long long)s->head_dim, la_dtype_name(s->dtype),
                    (long long)a->q.batch, (long long)a->q.heads, (long long)a->q.seqlen,
                    (long long)a->k.seqlen, (long long)a->q.head_dim, la_dtype_name(a->q.dtype));
  const size_t words = (size_t)s->geom.words;
  uint32_t *cur = s->masks + (size_t)s->phase * words;
  uint32_t *next = s->masks + (size_t)(1 - s->phase) * words;
  const int mode = la_state_mode(s);
  a->read_mask = mode == 2 ? cur : NULL;
  a->read_mask_words = mode == 2 ? words : 0;
  a->write_mask = mode == 0 ? NULL : next;
  a->write_mask_words = mode == 0 ? 0 : words;
  return LITEATTN_OK;
}

liteattn_status_t liteattn_state_advance(liteattn_state_t *s) {
  if (!s) return la_error(LITEATTN_ERR_NULL_POINTER, "state is NULL");
  if (la_state_mode(s) != 0) {
    s->phase = 1 - s->phase;
    s->read_full = 0;
  }
  s->calls += 1;
  return LITEATTN_OK;
}

liteattn_status_t liteattn_fwd_state(liteattn_state_t *s, const liteattn_fwd_args_t *args,
                                     liteattn_stream_t stream) {
  if (!args) return la_error(LITEATTN_ERR_NULL_POINTER, "args is NULL");
  liteattn_status_t st = la_check_struct_size(args); /* before copying sizeof bytes of it */
  if (st) return st;
  liteattn_fwd_args_t a = *args;
  st = liteattn_state_prepare(s, &a);
  if (st) return st;
  if ((st = liteattn_fwd(&a, stream))) return st;
  return liteattn_state_advance(s);
}

const uint32_t *liteattn_state_current_mask(const liteattn_state_t *s) {
  if (!s || !s->masks || s->read_full) return NULL;
  return s->masks + (size_t)s->phase * (size_t)s->geom.words;
}
