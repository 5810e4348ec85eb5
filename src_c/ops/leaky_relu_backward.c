/* Op template (instantiated per dtype and level, ops/instantiate.h):
 * leaky_relu's gradient, as PyTorch's leaky_relu_backward:
 * y = x > 0 ? g : g * s, s the slope p rounded to T.  Exact select, one
 * rounded product; NaN x is not > 0 (gives g * s). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/leaky_relu_backward.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"

static void FA_FN(leaky_relu_backward_typed)(const T *g, const T *x, T *y, size_t len, double p)
{
    const T s = (T)p;
    for (size_t i = 0; i < len; i++) {
        T gv = g[i];
        y[i] = x[i] > 0 ? gv : gv * s;
    }
}

FA_EXPORT_MAP2(leaky_relu_backward)
#endif /* FA_TEMPLATE */
