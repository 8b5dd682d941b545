#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "liteattn.h"
int main(void) {
  int B = 1, S = 300, H = 2, D = 64;
  float *q = malloc(sizeof(float) * B * S * H * D), *k = malloc(sizeof(float) * B * S * H * D),
        *v = malloc(sizeof(float) * B * S * H * D), *o = malloc(sizeof(float) * B * S * H * D);
  for (int i = 0; i < B * S * H * D; ++i) {
    q[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    k[i] = (float)((i * 104729) % 1000) / 500.0f - 1.0f;
    v[i] = (float)((i * 1299709) % 1000) / 500.0f - 1.0f;
  }
  liteattn_fwd_args_t a = LITEATTN_FWD_ARGS_INIT;
  liteattn_tensor_t t = {q, LITEATTN_DTYPE_FP32, B, S, H, D, (int64_t)S * H * D, H * D, D};
  a.q = t; t.data = k; a.k = t; t.data = v; a.v = t; t.data = o; a.o = t;
  liteattn_mask_geometry_t g;
  liteattn_mask_geometry(B, H, S, S, D, LITEATTN_DTYPE_FP32, &g);
  uint32_t *w = calloc(g.words, 4);
  a.write_mask = w; a.write_mask_words = g.words; a.threshold = -2.0f;
  liteattn_status_t st = liteattn_fwd(&a, NULL);
  double dens; liteattn_mask_density(w, &g, &dens, NULL);
  printf("status %s (%s) o[0]=%f density %.3f\n", liteattn_status_name(st), liteattn_last_error(), o[0], dens);
  return st != LITEATTN_OK;
}
