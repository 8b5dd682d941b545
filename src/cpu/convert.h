/* convert.h — bf16/fp16 <-> fp32 conversions (round to nearest even) shared by the CPU backend,
 * the tests and the demo, so every host-side conversion in the project is the same one. */
#ifndef LITEATTN_CONVERT_H
#define LITEATTN_CONVERT_H

#include <stdint.h>
#include <string.h>

static inline float la_bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline uint32_t la_float_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static inline float la_bf16_to_float(uint16_t h) { return la_bits_to_float((uint32_t)h << 16); }

static inline uint16_t la_float_to_bf16(float f) {
  uint32_t u = la_float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float la_fp16_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1fu) return la_bits_to_float(sign | 0x7f800000u | (man << 13)); /* inf/nan */
  if (exp == 0) {
    if (man == 0) return la_bits_to_float(sign);
    /* subnormal: value = man * 2^-24 */
    float f = (float)man * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  return la_bits_to_float(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline uint16_t la_float_to_fp16(float f) {
  uint32_t u = la_float_to_bits(f);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN */
  if (u >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
  if (u < 0x38800000u) {                                   /* below 2^-14: subnormal or zero */
    if (u < 0x33000000u) return sign;                      /* below 2^-25: rounds to 0 */
    const uint32_t exp = u >> 23, man = (u & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp; /* 14..24 */
    uint32_t r = man >> shift;
    const uint32_t rem = man & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) r += 1u;
    return (uint16_t)(sign | r);
  }
  u += 0x0fffu + ((u >> 13) & 1u); /* round mantissa to 10 bits, nearest even */
  return (uint16_t)(sign | ((u >> 13) - (112u << 10)));
}

#endif /* LITEATTN_CONVERT_H */
