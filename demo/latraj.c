/* latraj.c — reader of .latraj trajectory files (see latraj.h and testbed/README.md). */
#include "latraj.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "convert.h"

static const char latraj_magic[8] = {'L', 'A', 'T', 'R', 'A', 'J', '1', '\0'};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int latraj_fail(latraj_t *t, const char *fmt, ...) {
  int n = snprintf(t->error, sizeof t->error, "%s: ", t->name);
  if (n < 0 || (size_t)n >= sizeof t->error) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->error + n, sizeof t->error - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

static uint32_t latraj_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float latraj_f32(const unsigned char *p) { return la_bits_to_float(latraj_u32(p)); }

const char *latraj_tensor_name(latraj_tensor_t which) {
  return which == LATRAJ_Q ? "q" : which == LATRAJ_K ? "k" : which == LATRAJ_V ? "v" : "?";
}

static void latraj_free_all(latraj_t *t) {
  free(t->layer), free(t->head), free(t->timesteps), free(t->bytes);
  free(t->block_offset), free(t->block_bytes), free(t->scratch);
  t->layer = t->head = NULL, t->timesteps = NULL, t->bytes = NULL;
  t->block_offset = t->block_bytes = NULL, t->scratch = NULL;
}

void latraj_close(latraj_t *t) {
  if (!t) return;
  latraj_free_all(t);
  t->size = 0;
}

/* Bytes of one decompressed payload. */
static size_t latraj_payload_bytes(const latraj_t *t) {
  const size_t S = t->seqlen, D = t->head_dim;
  return t->encoding == LATRAJ_ENCODING_FP16 ? 2 * S * D : 2 * S + S * D;
}

/* Validates the header and walks the block chain; t->bytes/size are set. */
static int latraj_parse(latraj_t *t) {
  const unsigned char *b = t->bytes;
  const size_t size = t->size;
  if (size < LATRAJ_HEADER_BYTES)
    return latraj_fail(t, "truncated: %zu bytes, less than the %d-byte header", size,
                       LATRAJ_HEADER_BYTES);
  if (memcmp(b, latraj_magic, sizeof latraj_magic) != 0)
    return latraj_fail(t, "not a liteattn trajectory (magic is not \"LATRAJ1\\0\")");
  const uint32_t version = latraj_u32(b + 8);
  if (version != 1) return latraj_fail(t, "version = %u: this reader knows version 1", version);
  t->steps = latraj_u32(b + 12), t->series = latraj_u32(b + 16);
  t->seqlen = latraj_u32(b + 20), t->head_dim = latraj_u32(b + 24);
  t->encoding = latraj_u32(b + 28);
  t->frames = latraj_u32(b + 32), t->rows = latraj_u32(b + 36), t->cols = latraj_u32(b + 40);
  t->scale = latraj_f32(b + 44);
  t->batch_index = latraj_u32(b + 48);
  if (t->steps == 0) return latraj_fail(t, "steps = 0");
  if (t->series == 0) return latraj_fail(t, "series = 0");
  if (t->seqlen == 0 || t->seqlen > LATRAJ_MAX_SEQLEN)
    return latraj_fail(t, "seqlen = %u: must be in [1, %u]", t->seqlen, LATRAJ_MAX_SEQLEN);
  if (t->head_dim == 0 || t->head_dim > LATRAJ_MAX_HEAD_DIM)
    return latraj_fail(t, "head_dim = %u: must be in [1, %u]", t->head_dim, LATRAJ_MAX_HEAD_DIM);
  if (t->encoding != LATRAJ_ENCODING_FP16 && t->encoding != LATRAJ_ENCODING_INT8)
    return latraj_fail(t, "encoding = %u: must be 0 (fp16) or 1 (int8 rows)", t->encoding);
  if ((uint64_t)t->frames * t->rows * t->cols != t->seqlen)
    return latraj_fail(t, "window %u x %u x %u = %llu tokens, but seqlen = %u", t->frames,
                       t->rows, t->cols, (unsigned long long)t->frames * t->rows * t->cols,
                       t->seqlen);
  if (!(t->scale > 0.0f) || !isfinite(t->scale))
    return latraj_fail(t, "scale = %g: must be finite and > 0", (double)t->scale);
  for (int i = 0; i < 3; ++i)
    if (latraj_u32(b + 52 + 4 * i) != 0)
      return latraj_fail(t, "reserved[%d] = %u: must be 0 in version 1", i,
                         latraj_u32(b + 52 + 4 * i));
  /* Tables: every block takes at least 4 bytes, so the counts are bounded by the file size
   * before anything is allocated from them. */
  const uint64_t blocks = (uint64_t)t->steps * t->series * 3;
  const uint64_t tables = LATRAJ_HEADER_BYTES + 8ull * t->series + 4ull * t->steps;
  if (tables > size || blocks > (size - tables) / 4)
    return latraj_fail(t, "truncated: %u steps x %u series need more than the file's %zu bytes "
                       "(tables %llu bytes, then 4 bytes or more for each of %llu blocks)",
                       t->steps, t->series, size, (unsigned long long)tables,
                       (unsigned long long)blocks);
  t->layer = malloc(sizeof(uint32_t) * t->series), t->head = malloc(sizeof(uint32_t) * t->series);
  t->timesteps = malloc(sizeof(float) * t->steps);
  t->block_offset = malloc(sizeof(size_t) * blocks);
  t->block_bytes = malloc(sizeof(size_t) * blocks);
  t->scratch = malloc(latraj_payload_bytes(t));
  if (!t->layer || !t->head || !t->timesteps || !t->block_offset || !t->block_bytes || !t->scratch)
    return latraj_fail(t, "out of memory");
  size_t off = LATRAJ_HEADER_BYTES;
  for (uint32_t p = 0; p < t->series; ++p, off += 8)
    t->layer[p] = latraj_u32(b + off), t->head[p] = latraj_u32(b + off + 4);
  for (uint32_t s = 0; s < t->steps; ++s, off += 4) {
    t->timesteps[s] = latraj_f32(b + off);
    if (!isfinite(t->timesteps[s]))
      return latraj_fail(t, "timestep of step %u is %g", s, (double)t->timesteps[s]);
  }
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint32_t step = (uint32_t)(i / 3 / t->series), p = (uint32_t)(i / 3 % t->series);
    const char *name = latraj_tensor_name((latraj_tensor_t)(i % 3));
    if (size - off < 4)
      return latraj_fail(t, "truncated: the file ends at %zu, inside the length of block %llu "
                         "(step %u, series %u, %s)", size, (unsigned long long)i, step, p, name);
    const uint32_t n = latraj_u32(b + off);
    off += 4;
    if (n == 0)
      return latraj_fail(t, "block %llu (step %u, series %u, %s) is empty",
                         (unsigned long long)i, step, p, name);
    if (n > size - off)
      return latraj_fail(t, "truncated: block %llu (step %u, series %u, %s) needs %u bytes at "
                         "offset %zu, the file has %zu", (unsigned long long)i, step, p, name, n,
                         off, size);
    t->block_offset[i] = off, t->block_bytes[i] = n;
    off += n;
  }
  if (off != size)
    return latraj_fail(t, "%zu trailing bytes after the last block (offset %zu)", size - off, off);
  return 0;
}

static void latraj_reset(latraj_t *t, const char *name) {
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name ? name : "(buffer)");
}

int latraj_open_buffer(latraj_t *t, const void *data, size_t size, const char *name) {
  latraj_reset(t, name);
  if (!data && size) return latraj_fail(t, "data is NULL");
  t->bytes = malloc(size ? size : 1);
  if (!t->bytes) return latraj_fail(t, "out of memory for %zu bytes", size);
  if (size) memcpy(t->bytes, data, size);
  t->size = size;
  if (latraj_parse(t)) {
    latraj_free_all(t);
    return -1;
  }
  return 0;
}

int latraj_open(latraj_t *t, const char *path) {
  latraj_reset(t, path);
  FILE *f = fopen(path, "rb");
  if (!f) return latraj_fail(t, "cannot open: %s", strerror(errno));
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return latraj_fail(t, "cannot determine the size");
  }
  t->bytes = malloc(size ? (size_t)size : 1);
  if (!t->bytes) {
    fclose(f);
    return latraj_fail(t, "out of memory for %ld bytes", size);
  }
  const size_t got = fread(t->bytes, 1, (size_t)size, f);
  fclose(f);
  t->size = got;
  if (got != (size_t)size) {
    latraj_free_all(t);
    return latraj_fail(t, "read %zu of %ld bytes", got, size);
  }
  if (latraj_parse(t)) {
    latraj_free_all(t);
    return -1;
  }
  return 0;
}

/* dtype is one of the three (checked by the caller). */
static void latraj_store(float x, liteattn_dtype_t dtype, void *dst, size_t i) {
  if (dtype == LITEATTN_DTYPE_FP32) ((float *)dst)[i] = x;
  else if (dtype == LITEATTN_DTYPE_BF16) ((uint16_t *)dst)[i] = la_float_to_bf16(x);
  else ((uint16_t *)dst)[i] = la_float_to_fp16(x);
}

int latraj_read(latraj_t *t, uint32_t step, uint32_t series, latraj_tensor_t which,
                liteattn_dtype_t dtype, void *dst, int64_t row_stride) {
  if (!t->bytes) return latraj_fail(t, "not open");
  if (step >= t->steps || series >= t->series || (unsigned)which > LATRAJ_V)
    return latraj_fail(t, "no block (step %u, series %u, tensor %d): the file has %u steps, %u "
                       "series", step, series, (int)which, t->steps, t->series);
  if (dtype != LITEATTN_DTYPE_FP32 && dtype != LITEATTN_DTYPE_BF16 && dtype != LITEATTN_DTYPE_FP16)
    return latraj_fail(t, "dtype = %d is not fp32, bf16 or fp16", (int)dtype);
  if (!dst || row_stride < (int64_t)t->head_dim)
    return latraj_fail(t, "dst is NULL or row_stride = %lld < head_dim %u",
                       (long long)row_stride, t->head_dim);
  const size_t i = ((size_t)step * t->series + series) * 3 + (size_t)which;
  const size_t want = latraj_payload_bytes(t);
  uLongf got = (uLongf)want;
  uLong used = (uLong)t->block_bytes[i];
  const int zs = uncompress2(t->scratch, &got, t->bytes + t->block_offset[i], &used);
  const char *name = latraj_tensor_name(which);
  if (zs == Z_BUF_ERROR && got == want)
    return latraj_fail(t, "block (step %u, series %u, %s) holds more than the %zu bytes S = %u, "
                       "D = %u, encoding %u imply", step, series, name, want, t->seqlen,
                       t->head_dim, t->encoding);
  if (zs != Z_OK)
    return latraj_fail(t, "block (step %u, series %u, %s) at offset %zu: zlib stream %s (%d)",
                       step, series, name, t->block_offset[i],
                       zs == Z_DATA_ERROR ? "is corrupt" : zs == Z_BUF_ERROR ? "ends early"
                                                                             : "failed", zs);
  if (got != want)
    return latraj_fail(t, "block (step %u, series %u, %s) holds %lu bytes, S = %u, D = %u, "
                       "encoding %u imply %zu", step, series, name, (unsigned long)got,
                       t->seqlen, t->head_dim, t->encoding, want);
  if (used != t->block_bytes[i])
    return latraj_fail(t, "block (step %u, series %u, %s): %lu bytes after the zlib stream's end",
                       step, series, name, (unsigned long)(t->block_bytes[i] - used));
  const size_t S = t->seqlen, D = t->head_dim;
  const unsigned char *raw = t->scratch;
  for (size_t s = 0; s < S; ++s) {
    const float row_scale = t->encoding == LATRAJ_ENCODING_INT8
                                ? la_fp16_to_float((uint16_t)(raw[2 * s] | raw[2 * s + 1] << 8))
                                : 1.0f;
    for (size_t d = 0; d < D; ++d) {
      float x;
      if (t->encoding == LATRAJ_ENCODING_FP16) {
        const unsigned char *p = raw + 2 * (s * D + d);
        x = la_fp16_to_float((uint16_t)(p[0] | p[1] << 8));
      } else {
        x = (float)(int8_t)raw[2 * S + s * D + d] * row_scale;
      }
      if (!isfinite(x))
        return latraj_fail(t, "block (step %u, series %u, %s): element [%zu, %zu] is %g", step,
                           series, name, s, d, (double)x);
      latraj_store(x, dtype, dst, s * (size_t)row_stride + d);
    }
  }
  return 0;
}
