/* png.h — a minimal 8-bit grayscale PNG writer (stored deflate blocks, CRC-32, Adler-32) so the
 * demo can draw mask heatmaps without any library dependency. */
#ifndef LITEATTN_DEMO_PNG_H
#define LITEATTN_DEMO_PNG_H

#include <stdint.h>

/* Writes `pixels` (height rows of width bytes, row-major, 0 = black, 255 = white) to `path`.
 * Returns 0 on success, -1 if memory, the size or the file write fails. */
int png_write_gray(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height);

#endif /* LITEATTN_DEMO_PNG_H */
