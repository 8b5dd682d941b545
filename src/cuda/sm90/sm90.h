/* sm90.h — the Hopper backend's internal entry points beside la_sm90_check/la_sm90_fwd
 * (src/internal.h): a variant switch the benchmark harness uses to time the milestones. */
#ifndef LITEATTN_SM90_H
#define LITEATTN_SM90_H

#include "../../internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time schedule flags selected at run time (la_sm90_fwd uses the best one). */
typedef struct la_sm90_variant {
  int pingpong;   /* 1: consumer warpgroups alternate their GEMMs through named barriers */
  int persistent; /* 0: one CTA per work item; 1: grid = #SMs, each CTA takes every #SMs-th item;
                     2: grid = #SMs, longest-first (by read-mask popcount) when a read mask is
                     given, else as 1 */
} la_sm90_variant_t;

liteattn_status_t la_sm90_fwd_variant(const la_plan_t *plan, liteattn_stream_t stream,
                                      la_sm90_variant_t variant);

#ifdef __cplusplus
}
#endif
#endif /* LITEATTN_SM90_H */
