/* cases.h — the one table of shapes every backend is tested over (CPU tests and GPU tests both
 * include it), so that "the same case table" is literally the same. */
#ifndef LITEATTN_TEST_CASES_H
#define LITEATTN_TEST_CASES_H

#include <stdint.h>

/* Memory layouts the tests build tensors in. */
typedef enum la_layout {
  LA_LAYOUT_BSHD = 0,   /* [B, S, H, D] contiguous */
  LA_LAYOUT_BHSD = 1,   /* [B, H, S, D] contiguous (strides permuted) */
  LA_LAYOUT_PADDED = 2  /* bshd with every stride padded (non-contiguous rows and heads) */
} la_layout_t;

typedef struct la_case {
  const char *name;
  int64_t B, Sq, Sk, Hq, Hkv, D;
  la_layout_t layout;
} la_case_t;

/* Quick tier: lengths 1, 113, 239, 1023, 4224; every built head dim; Hq/Hkv of 1, 2, 8;
 * batch > 1; strided; Sq != Sk. */
static const la_case_t la_cases[] = {
    {"len1", 1, 1, 1, 1, 1, 64, LA_LAYOUT_BSHD},
    {"len113_d64", 1, 113, 113, 2, 2, 64, LA_LAYOUT_BSHD},
    {"len239_d128_gqa2", 2, 239, 239, 4, 2, 128, LA_LAYOUT_BHSD},
    {"len1023_d64_mqa8", 1, 1023, 1023, 8, 1, 64, LA_LAYOUT_PADDED},
    {"len4224_d128", 1, 4224, 4224, 1, 1, 128, LA_LAYOUT_BSHD},
    {"sq300_sk1023_d128", 2, 300, 1023, 2, 1, 128, LA_LAYOUT_PADDED},
    {"sq1023_sk239_d64", 1, 1023, 239, 8, 8, 64, LA_LAYOUT_BHSD},
    {"len640_d128_b3", 3, 640, 640, 2, 2, 128, LA_LAYOUT_BSHD},
};
#define LA_NUM_CASES ((int)(sizeof la_cases / sizeof la_cases[0]))

/* Head dims only the CPU backend builds (the tile table gives D=256 a 128x64 tile, so BM != BN
 * and the diagonal formula's general case is exercised). The GPU tests leave these out. */
static const la_case_t la_cpu_cases[] = {
    {"len113_d32_b2", 2, 113, 113, 2, 2, 32, LA_LAYOUT_BSHD},
    {"sq239_sk500_d256_gqa2", 1, 239, 500, 2, 1, 256, LA_LAYOUT_PADDED},
};
#define LA_NUM_CPU_CASES ((int)(sizeof la_cpu_cases / sizeof la_cpu_cases[0]))

#endif
