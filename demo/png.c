/* png.c — a minimal PNG writer: one IHDR, one IDAT holding a zlib stream of "stored" (uncompressed)
 * deflate blocks, one IEND. Enough for mask heatmaps, with no zlib/libpng dependency. */
#include "png.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t png_crc32(uint32_t crc, const uint8_t *data, size_t n) {
  static uint32_t table[256];
  if (!table[1]) /* table[1] is nonzero once built (0x77073096) */
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1u ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

static uint32_t png_adler32(const uint8_t *data, size_t n) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n; ++i) {
    a = (a + data[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  return b << 16 | a;
}

static void png_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* One chunk: length, type, data, CRC over type + data. Returns 0 on success. */
static int png_chunk(FILE *f, const char type[4], const uint8_t *data, uint32_t n) {
  uint8_t head[8], tail[4];
  png_be32(head, n);
  memcpy(head + 4, type, 4);
  png_be32(tail, png_crc32(png_crc32(0, head + 4, 4), data, n));
  return fwrite(head, 1, 8, f) != 8 || (n && fwrite(data, 1, n, f) != n)
         || fwrite(tail, 1, 4, f) != 4;
}

int png_write_gray(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height) {
  if (!path || !pixels || width == 0 || height == 0 || width > (1u << 20) || height > (1u << 20))
    return -1;
  /* Raw scanlines: filter byte 0 (None) + the row. */
  const size_t stride = (size_t)width + 1, raw_n = stride * height;
  const size_t blocks = (raw_n + 65534) / 65535;
  const size_t z_n = 2 + raw_n + 5 * blocks + 4;
  if (z_n > 0x7fffffffu) return -1;
  uint8_t *raw = malloc(raw_n), *z = malloc(z_n);
  if (!raw || !z) {
    free(raw);
    free(z);
    return -1;
  }
  for (uint32_t y = 0; y < height; ++y) {
    raw[y * stride] = 0;
    memcpy(raw + y * stride + 1, pixels + (size_t)y * width, width);
  }
  /* zlib: CMF 0x78 (deflate, 32K window), FLG 0x01 (no dict, fastest; 0x7801 % 31 == 0). */
  uint8_t *o = z;
  *o++ = 0x78, *o++ = 0x01;
  for (size_t off = 0; off < raw_n;) {
    const uint32_t len = (uint32_t)(raw_n - off < 65535 ? raw_n - off : 65535);
    *o++ = off + len == raw_n; /* BFINAL on the last block, BTYPE 00 = stored */
    *o++ = (uint8_t)len, *o++ = (uint8_t)(len >> 8);
    *o++ = (uint8_t)~len, *o++ = (uint8_t)(~len >> 8);
    memcpy(o, raw + off, len);
    o += len, off += len;
  }
  png_be32(o, png_adler32(raw, raw_n));

  uint8_t ihdr[13];
  png_be32(ihdr, width);
  png_be32(ihdr + 4, height);
  ihdr[8] = 8;  /* bit depth */
  ihdr[9] = 0;  /* colour type: grayscale */
  ihdr[10] = 0; /* compression: deflate */
  ihdr[11] = 0; /* filter method 0 */
  ihdr[12] = 0; /* no interlace */
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  FILE *f = fopen(path, "wb");
  int bad = !f;
  if (f) {
    bad = fwrite(sig, 1, 8, f) != 8 || png_chunk(f, "IHDR", ihdr, 13)
          || png_chunk(f, "IDAT", z, (uint32_t)z_n) || png_chunk(f, "IEND", NULL, 0);
    bad |= fclose(f) != 0;
  }
  free(raw);
  free(z);
  return bad ? -1 : 0;
}
