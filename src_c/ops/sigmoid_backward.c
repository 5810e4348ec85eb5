/* Op template (instantiated per dtype and level, ops/instantiate.h):
 * sigmoid's gradient from its output y: d = (g * (1 - y)) * y, PyTorch's
 * order of operations (ATen's sigmoid_backward).  float64: three roundings
 * (1 - y is exact for y in [0.5, 2] by Sterbenz), <= 1.5 ULP plus the
 * error of 1 - y elsewhere.  float32: the same operations in double,
 * rounded once to float32 at the end: each double step is off by <= 2^-53
 * relative, so the result is within 0.5 ULP + 2^-28 of the exact value
 * (overflow and subnormal results rounded once too).  IEEE special values:
 * NaN anywhere gives NaN, inf * 0 (g = inf, y = 0 or 1) gives NaN, as
 * PyTorch. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/sigmoid_backward.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"

static void FA_FN(sigmoid_backward_typed)(const T *g, const T *yv, T *d, size_t len, double p)
{
    (void)p;
    for (size_t i = 0; i < len; i++) {
        double y = (double)yv[i];
        d[i] = (T)(((double)g[i] * (1.0 - y)) * y);
    }
}

FA_EXPORT_MAP2(sigmoid_backward)
#endif /* FA_TEMPLATE */
