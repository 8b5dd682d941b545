#include <math.h>
#include <stdio.h>
#include "sm90_ptx.cuh" /* with bench/sm90/results/pexp_tried.diff applied */
__global__ void k(const float *x, float *y, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] = la_ex2_poly(x[i]); }
int main(void) {
  double worst = 0; int bad = 0; long cnt = 0;
  for (double x = -130.0; x <= 1.0; x += 1.0 / 4096) {
    const float xf = (float)x, r = la_ex2_poly(xf);
    ++cnt;
    if (xf < -125.0f) { if (r != 0.0f) { bad++; } continue; }
    const double e = fabs((double)r / exp2((double)xf) - 1.0);
    if (e > worst) worst = e;
  }
  const float sp[5] = {-INFINITY, NAN, 0.0f, -125.0f, -124.99999f};
  for (int i = 0; i < 5; ++i) printf("la_ex2_poly(%g) = %.9g (exp2 %.9g)\n", sp[i], la_ex2_poly(sp[i]), exp2f(sp[i]));
  printf("%ld points, max rel err %.3g for x >= -125, %d nonzero below\n", cnt, worst, bad);
  return worst < 4e-6 && bad == 0 && la_ex2_poly(-INFINITY) == 0.0f && isnan(la_ex2_poly(NAN)) ? 0 : 1;
}
