/* liteattn.h — the one public header of liteattn: temporal sparse attention for video diffusion
 * transformers (LiteAttention, arXiv 2511.11062) as a C99 library. No CUDA or torch types here. */
#ifndef LITEATTN_H
#define LITEATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LITEATTN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define LITEATTN_API __attribute__((visibility("default")))
#else
#define LITEATTN_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */
#define LITEATTN_VERSION_MAJOR 0
#define LITEATTN_VERSION_MINOR 1
#define LITEATTN_VERSION_PATCH 0
#define LITEATTN_VERSION_CODE(a, b, c) ((a) * 10000 + (b) * 100 + (c))
#define LITEATTN_VERSION \
  LITEATTN_VERSION_CODE(LITEATTN_VERSION_MAJOR, LITEATTN_VERSION_MINOR, LITEATTN_VERSION_PATCH)

/* The version the library was built as (LITEATTN_VERSION of its build); compare with the macro
 * to detect a header/library mismatch. */
LITEATTN_API int liteattn_version(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes. Every call returns one; 0 is success. Numbers are stable and only appended.
 * liteattn_status_string() gives the fixed text of a code; liteattn_last_error() gives the
 * detail of the last failure on the calling thread (e.g. "q.head_dim = 80 is not built for the
 * CUDA backend (have 64, 128)"). A successful call does not clear the last error.
 * ------------------------------------------------------------------------------------------- */
#define LITEATTN_STATUS_TABLE(X)                                                                  \
  X(LITEATTN_OK, 0, "success")                                                                    \
  X(LITEATTN_ERR_NULL_POINTER, 1, "a required pointer is NULL")                                   \
  X(LITEATTN_ERR_STRUCT_SIZE, 2, "struct_size is not a size this library knows")                  \
  X(LITEATTN_ERR_BAD_SHAPE, 3, "a dimension is zero, negative or inconsistent")                   \
  X(LITEATTN_ERR_BAD_GQA, 4, "query heads are not a multiple of key/value heads")                 \
  X(LITEATTN_ERR_BAD_STRIDE, 5, "a stride is invalid (last dim must be contiguous)")              \
  X(LITEATTN_ERR_UNSUPPORTED_HEAD_DIM, 6, "head dim not supported by the chosen backend")         \
  X(LITEATTN_ERR_UNSUPPORTED_DTYPE, 7, "dtype not supported by the chosen backend")               \
  X(LITEATTN_ERR_DTYPE_MISMATCH, 8, "q, k, v and o must share one dtype")                         \
  X(LITEATTN_ERR_MISALIGNED, 9, "a buffer or stride is not aligned as the backend requires")      \
  X(LITEATTN_ERR_OVERLAP, 10, "an output buffer overlaps another buffer")                         \
  X(LITEATTN_ERR_MASK_ALIAS, 11, "read mask and write mask overlap")                              \
  X(LITEATTN_ERR_MASK_SIZE, 12, "a mask buffer has the wrong number of words")                    \
  X(LITEATTN_ERR_BAD_THRESHOLD, 13, "threshold must be <= 0 and not NaN")                         \
  X(LITEATTN_ERR_BAD_SCALE, 14, "scale must be finite and > 0 (or 0 for 1/sqrt(D))")              \
  X(LITEATTN_ERR_BAD_CRITERION, 15, "unknown criterion")                                          \
  X(LITEATTN_ERR_BAD_RANGE, 16, "a must-do range is empty, reversed, out of bounds or too many")  \
  X(LITEATTN_ERR_BAD_BACKEND, 17, "unknown backend")                                              \
  X(LITEATTN_ERR_BACKEND_UNAVAILABLE, 18, "backend not built into this library")                  \
  X(LITEATTN_ERR_WRONG_DEVICE, 19, "buffers are not in the memory the backend works on")          \
  X(LITEATTN_ERR_UNSUPPORTED_ARCH, 20, "the GPU architecture is not supported by this kernel")    \
  X(LITEATTN_ERR_CUDA, 21, "a CUDA call failed")                                                  \
  X(LITEATTN_ERR_OUT_OF_MEMORY, 22, "host memory allocation failed")                              \
  X(LITEATTN_ERR_STATE_MISMATCH, 23, "state was made for other shapes than these args")           \
  X(LITEATTN_ERR_BAD_POLICY, 24, "a state policy value is invalid")                               \
  X(LITEATTN_ERR_TOO_LARGE, 25, "a size exceeds what the library indexes")

typedef enum liteattn_status {
#define LITEATTN_X_ENUM(name, num, text) name = num,
  LITEATTN_STATUS_TABLE(LITEATTN_X_ENUM)
#undef LITEATTN_X_ENUM
} liteattn_status_t;

/* Fixed text of a status code ("unknown status" for a number not in the table). */
LITEATTN_API const char *liteattn_status_string(liteattn_status_t status);
/* Fixed name of a status code ("LITEATTN_ERR_BAD_SHAPE"). */
LITEATTN_API const char *liteattn_status_name(liteattn_status_t status);
/* Detail of the calling thread's last failure; "" if none. Valid until the next failing call on
 * the same thread (a successful call leaves it as it was). */
LITEATTN_API const char *liteattn_last_error(void);

/* ---------------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------------- */
typedef enum liteattn_dtype {
  LITEATTN_DTYPE_BF16 = 0,
  LITEATTN_DTYPE_FP16 = 1,
  LITEATTN_DTYPE_FP32 = 2 /* CPU backend only */
} liteattn_dtype_t;

typedef enum liteattn_criterion {
  /* The original paper's rule: tile j is negligible for row r if (smax - m)*c < thr. */
  LITEATTN_CRITERION_PEAK = 0,
  /* Ours: (smax - m)*c + log2(n) - log2(l) < thr. Bounds the share of row r's final softmax mass
   * that tile j can carry by 2^thr. */
  LITEATTN_CRITERION_MASS = 1
} liteattn_criterion_t;

typedef enum liteattn_backend {
  LITEATTN_BACKEND_AUTO = 0,          /* CUDA for device pointers, CPU for host pointers */
  LITEATTN_BACKEND_CPU = 1,           /* the executable spec; host memory */
  LITEATTN_BACKEND_CUDA = 2,          /* the best CUDA kernel for the current device */
  LITEATTN_BACKEND_CUDA_PORTABLE = 3, /* the mma.sync kernel (sm80+), forced */
  LITEATTN_BACKEND_CUDA_SM90 = 4      /* the Hopper kernel (sm_90a), forced */
} liteattn_backend_t;

/* A strided [B, S, H, D] tensor. Strides are in elements; the last dim (D) is contiguous.
 * bshd memory: stride_b = S*H*D, stride_s = H*D, stride_h = D.
 * bhsd memory: stride_b = H*S*D, stride_h = S*D, stride_s = D. */
typedef struct liteattn_tensor {
  void *data;
  liteattn_dtype_t dtype;
  int64_t batch, seqlen, heads, head_dim; /* B, S, H, D */
  int64_t stride_b, stride_s, stride_h;   /* elements */
} liteattn_tensor_t;

/* A half-open token range [begin, end). */
typedef struct liteattn_range {
  int64_t begin, end;
} liteattn_range_t;

/* Most must-do ranges per side (they travel in the kernel's parameter block). */
#define LITEATTN_MAX_RANGES 8

/* Opaque CUDA stream (a cudaStream_t cast to void*; NULL = the legacy default stream). */
typedef void *liteattn_stream_t;

/* ---------------------------------------------------------------------------------------------
 * Tiles and masks
 *
 * One table maps (head dim, dtype) to the tile shape (BM query rows x BN keys). Every backend
 * and the Python layer take tile sizes from liteattn_mask_geometry() so that a mask made on one
 * backend is valid on every other. Tq = ceil(Sq/BM), Tk = ceil(Sk/BN).
 *
 * A mask is, for every (b, hq, qt), a bitset of Tk bits (bit set => tile computed), stored as
 * W = ceil(Tk/32) uint32 words per row, rows contiguous in (b, hq, qt) order: bit (j % 32) of
 * word (j / 32) of row ((b*Hq + hq)*Tq + qt). Bits >= Tk in the last word are padding: readers
 * ignore them and writers write them 0.
 * ------------------------------------------------------------------------------------------- */
typedef struct liteattn_mask_geometry {
  int64_t block_m, block_n; /* BM, BN */
  int64_t tiles_q, tiles_k; /* Tq, Tk */
  int64_t words_per_row;    /* W */
  int64_t rows;             /* B * Hq * Tq */
  int64_t words;            /* rows * W */
  size_t bytes;             /* words * 4 */
} liteattn_mask_geometry_t;

/* Tile shape for a head dim and dtype: writes BM and BN. Fails with UNSUPPORTED_HEAD_DIM for a
 * head dim no backend handles (D must be a multiple of 8 in [8, 256]). */
LITEATTN_API liteattn_status_t liteattn_tile_shape(int64_t head_dim, liteattn_dtype_t dtype,
                                                   int64_t *block_m, int64_t *block_n);

/* Mask geometry for B batch elements, Hq query heads, Sq queries, Sk keys at this head dim and
 * dtype. */
LITEATTN_API liteattn_status_t liteattn_mask_geometry(int64_t batch, int64_t heads_q,
                                                      int64_t seqlen_q, int64_t seqlen_k,
                                                      int64_t head_dim, liteattn_dtype_t dtype,
                                                      liteattn_mask_geometry_t *geom);

/* Sets every tile of a host mask to "computed" (padding bits 0). */
LITEATTN_API liteattn_status_t liteattn_mask_fill(uint32_t *mask,
                                                  const liteattn_mask_geometry_t *geom);

/* Density of a host mask: computed tiles / all tiles. `total` gets the whole mask's density;
 * `per_head` (optional, B*Hq floats) gets each (b, hq)'s density. */
LITEATTN_API liteattn_status_t liteattn_mask_density(const uint32_t *mask,
                                                     const liteattn_mask_geometry_t *geom,
                                                     double *total, float *per_head);

/* ---------------------------------------------------------------------------------------------
 * The forward call
 *
 * Semantics (DESIGN.md §2), for every (b, hq, qt):
 * 1. Visit set. A tile j is visited iff read_mask has bit j (read_mask NULL = all tiles), or j
 *    holds a key of a must-do key range, or qt holds a query of a must-do query range (then every
 *    tile is visited). Exact softmax attention is computed over the union of the visited tiles'
 *    keys; unvisited tiles act as if their scores were -inf. A row with no visited tile gets
 *    O = 0 and LSE = -inf.
 * 2. Visit order (part of the spec: it decides which tiles get marked). Diagonal first, then
 *    wrap around: with d = min(Tk-1, floor(qt*BM*Sk / (Sq*BN))), the tiles are visited in the
 *    order d, d+1, ..., Tk-1, 0, 1, ..., d-1, skipping unvisited ones. For Sq = Sk and BM = BN,
 *    d = qt: the tile holding the query tile's own positions comes first.
 * 3. Marking (write_mask non-NULL): bit j of the row is set iff j is visited and (not
 *    negligible(j), or j is must-do). Unvisited tiles are written 0: the computed set only
 *    shrinks from call to call. negligible(j) is the AND over every valid row r of the q-tile
 *    (rows >= Sq never vote) of row_negligible(r, j); the first tile visited is never negligible.
 *    With c = scale*log2(e), smax = max of the raw scores q_r.k over the valid keys of tile j,
 *    m = running max of raw scores over the tiles visited before j in this row,
 *    l = sum of exp2((s - m)*c) over those tiles, n = number of valid keys in tile j:
 *      PEAK: (smax - m)*c < thr
 *      MASS: (smax - m)*c + log2(n) - log2(l) < thr
 *    thr = -INFINITY marks nothing; thr = 0 is the most aggressive allowed value.
 *
 * Buffers: q [B,Sq,Hq,D], k and v [B,Sk,Hkv,D], o [B,Sq,Hq,D] (one dtype, strided, contiguous
 * last dim), lse optional fp32 [B,Hq,Sq] contiguous (natural log). Hq % Hkv == 0. o and lse must
 * not overlap any other buffer; read_mask and write_mask must not overlap (use a ping-pong pair,
 * or liteattn_state_t). Mask capacities are given in words and must equal geometry.words.
 * All buffers live in host memory (CPU backend) or device memory (CUDA backends).
 *
 * Streams: CUDA backends enqueue on `stream` and never synchronize; the CPU backend runs
 * synchronously on the calling thread's OpenMP team and ignores `stream`.
 * Determinism: each backend is deterministic (repeated runs give identical O, LSE and masks).
 * Backends agree within rounding (outputs within the tests' tolerance; masks may differ only for
 * tiles whose criterion value lies within a small tolerance of thr). NaN or infinite inputs give
 * NaN outputs on every backend.
 * ------------------------------------------------------------------------------------------- */
typedef struct liteattn_fwd_args {
  size_t struct_size; /* sizeof(liteattn_fwd_args_t); set by LITEATTN_FWD_ARGS_INIT */
  liteattn_tensor_t q, k, v, o;
  float *lse;  /* optional [B, Hq, Sq] fp32, contiguous */
  float scale; /* softmax scale; 0 = 1/sqrt(D) */
  const uint32_t *read_mask; /* NULL = visit all tiles */
  size_t read_mask_words;
  uint32_t *write_mask; /* NULL = no marking */
  size_t write_mask_words;
  float threshold; /* <= 0, log2 units; -INFINITY marks nothing */
  liteattn_criterion_t criterion;
  const liteattn_range_t *must_do_k; /* key token ranges, host memory */
  int num_must_do_k;
  const liteattn_range_t *must_do_q; /* query token ranges, host memory */
  int num_must_do_q;
  liteattn_backend_t backend;
} liteattn_fwd_args_t;

/* Zero everything, struct_size set, threshold -INFINITY (no marking), criterion MASS, AUTO. */
#define LITEATTN_FWD_ARGS_INIT liteattn_fwd_args_init_value()
LITEATTN_API liteattn_fwd_args_t liteattn_fwd_args_init_value(void);

/* The kernel the selector picks for these args. */
typedef enum liteattn_kernel {
  LITEATTN_KERNEL_NONE = 0,
  LITEATTN_KERNEL_CPU = 1,
  LITEATTN_KERNEL_CUDA_PORTABLE = 2,
  LITEATTN_KERNEL_CUDA_SM90 = 3
} liteattn_kernel_t;

/* Validates args and runs the selector without enqueueing any work: LITEATTN_OK and *kernel set
 * if liteattn_fwd would run, else the status it would fail with (and *kernel = NONE). */
LITEATTN_API liteattn_status_t liteattn_fwd_check(const liteattn_fwd_args_t *args,
                                                  liteattn_kernel_t *kernel);

/* Runs one attention call (see the semantics above). */
LITEATTN_API liteattn_status_t liteattn_fwd(const liteattn_fwd_args_t *args,
                                            liteattn_stream_t stream);

/* Name of a kernel ("cpu", "cuda_portable", "cuda_sm90", "none"). */
LITEATTN_API const char *liteattn_kernel_name(liteattn_kernel_t kernel);

/* ---------------------------------------------------------------------------------------------
 * State across calls: one per attention layer and per guidance branch.
 *
 * The caller owns the state struct and one mask buffer of 2 * geometry.words words (host memory
 * for the CPU backend, device memory for CUDA). The state hands each call its read and write mask
 * (ping-pong) and applies the policy:
 *   dense_calls    the first N calls after init/reset read everything and mark nothing;
 *   refresh_every  every N-th call (counting calls after the dense ones) reads everything again
 *                  and re-derives the mask (0 = never: tiles never come back);
 * A "full" read needs no memory traffic: the state passes read_mask = NULL.
 * Never share a state between guidance branches (cond/uncond), batched or sequential.
 * ------------------------------------------------------------------------------------------- */
typedef struct liteattn_policy {
  int64_t dense_calls;
  int64_t refresh_every;
} liteattn_policy_t;

typedef struct liteattn_state {
  liteattn_mask_geometry_t geom;
  int64_t batch, heads_q, seqlen_q, seqlen_k, head_dim; /* shapes the state was made for */
  liteattn_dtype_t dtype;
  uint32_t *masks;  /* 2 * geom.words words, caller-owned */
  liteattn_policy_t policy;
  int64_t calls;    /* calls since init/reset */
  int phase;        /* which half holds the current read mask */
  int read_full;    /* 1: the current read mask is "all tiles" (no buffer read) */
} liteattn_state_t;

/* Makes a state for these shapes over caller-owned `masks` (masks_words must be 2 * geometry
 * words). */
LITEATTN_API liteattn_status_t liteattn_state_init(liteattn_state_t *state, int64_t batch,
                                                   int64_t heads_q, int64_t seqlen_q,
                                                   int64_t seqlen_k, int64_t head_dim,
                                                   liteattn_dtype_t dtype, uint32_t *masks,
                                                   size_t masks_words,
                                                   const liteattn_policy_t *policy);

/* A new video: the next call reads a full mask and the call counter restarts. */
LITEATTN_API liteattn_status_t liteattn_state_reset(liteattn_state_t *state);

/* Fills args' read/write masks for the state's next call (without advancing it). Fails with
 * STATE_MISMATCH if args' shapes differ from the state's. */
LITEATTN_API liteattn_status_t liteattn_state_prepare(const liteattn_state_t *state,
                                                      liteattn_fwd_args_t *args);

/* Advances the state after a successful call prepared by liteattn_state_prepare. */
LITEATTN_API liteattn_status_t liteattn_state_advance(liteattn_state_t *state);

/* prepare + liteattn_fwd + advance (advance only if the call succeeded). args' own masks are
 * ignored; args is not modified. */
LITEATTN_API liteattn_status_t liteattn_fwd_state(liteattn_state_t *state,
                                                  const liteattn_fwd_args_t *args,
                                                  liteattn_stream_t stream);

/* The mask the most recent marking call wrote (NULL if none since init/reset). Useful for
 * statistics: copy it to the host and call liteattn_mask_density. Whether the next call reads it
 * or reads everything (a dense or refresh call) is what liteattn_state_prepare says. */
LITEATTN_API const uint32_t *liteattn_state_current_mask(const liteattn_state_t *state);

#ifdef __cplusplus
}
#endif
#endif /* LITEATTN_H */
