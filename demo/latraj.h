/* latraj.h — reader of liteattn trajectory files (.latraj, version 1): Q, K, V of a few
 * (layer, head) series at every step of one generation, recorded by testbed/trajectory.py. The
 * byte layout is documented in testbed/README.md ("Trajectory file"); in short, little-endian:
 *   64-byte header: char magic[8] "LATRAJ1\0"; u32 version (1), steps N, series P, seqlen S,
 *   head_dim D, encoding (0 fp16, 1 int8 rows), frames F, rows R, cols C; f32 scale;
 *   u32 batch_index, reserved[3] (0);
 *   P pairs u32 (layer, head); N f32 timesteps;
 *   for step in N, series in P, tensor in (q, k, v): u32 nbytes, then a zlib stream of nbytes
 *   whose payload is S*D fp16 (encoding 0) or S fp16 row scales then S*D int8 (encoding 1,
 *   x[s, d] = int8[s, d] * scale[s]).
 * Used by the demo and the tests; it depends on zlib and on the public header's dtype enum only.
 * Functions return 0 on success; on failure, -1 and a message naming the file, the field and its
 * value in latraj_t.error. Nothing here prints or exits. */
#ifndef LITEATTN_LATRAJ_H
#define LITEATTN_LATRAJ_H

#include <stddef.h>
#include <stdint.h>

#include "liteattn.h"

#define LATRAJ_HEADER_BYTES 64
#define LATRAJ_ENCODING_FP16 0u
#define LATRAJ_ENCODING_INT8 1u
/* Limits the reader accepts (far above the 16 MB files the recorder writes): they keep every
 * product below 2^63 and every allocation bounded by the file. */
#define LATRAJ_MAX_SEQLEN (1u << 24)
#define LATRAJ_MAX_HEAD_DIM 1024u

typedef enum latraj_tensor { LATRAJ_Q = 0, LATRAJ_K = 1, LATRAJ_V = 2 } latraj_tensor_t;

typedef struct latraj {
  uint32_t steps, series, seqlen, head_dim, encoding; /* N, P, S, D, encoding */
  uint32_t frames, rows, cols;                        /* the token window: S = F * R * C */
  float scale;                                        /* the model's softmax scale */
  uint32_t batch_index;
  uint32_t *layer, *head; /* [series] */
  float *timesteps;       /* [steps], 1 = noise ... 0 */
  /* private: the file's bytes and, per (step, series, tensor), the offset of its zlib stream */
  unsigned char *bytes;
  size_t size;
  size_t *block_offset, *block_bytes;
  unsigned char *scratch; /* one decompressed payload */
  char name[256];
  char error[512];
} latraj_t;

/* Reads and validates a whole file: header fields, the sizes they imply, and the chain of block
 * lengths up to exactly the end of the file (a truncated file or trailing bytes are refused).
 * The zlib streams themselves are checked when read. On failure `t` holds only the message (and
 * needs no latraj_close, though calling it is harmless). */
int latraj_open(latraj_t *t, const char *path);

/* The same over a buffer (copied); `name` is used in messages. */
int latraj_open_buffer(latraj_t *t, const void *data, size_t size, const char *name);

/* Decodes tensor `which` of (step, series) into `dst`, S rows of D elements of `dtype`
 * (FP32, BF16 or FP16, rounded to nearest even), row r at dst + r * row_stride elements
 * (row_stride >= D). Refuses a stream that is corrupt, ends early, holds more or fewer bytes than
 * the encoding implies, or decodes to a non-finite value. */
int latraj_read(latraj_t *t, uint32_t step, uint32_t series, latraj_tensor_t which,
                liteattn_dtype_t dtype, void *dst, int64_t row_stride);

/* Frees what latraj_open allocated; `t` may then be opened again. */
void latraj_close(latraj_t *t);

/* "q", "k" or "v". */
const char *latraj_tensor_name(latraj_tensor_t which);

#endif
