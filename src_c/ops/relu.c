/* Op template (instantiated per dtype and level, ops/instantiate.h): y = IEEE 754-2019 maximum(x, +0.0), one streaming
 * pass.  !(x <= 0) keeps x > 0 and NaN (bits untouched, signalling NaN
 * included); everything else, -0.0 included, becomes +0.0. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/relu.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"

static void FA_FN(relu_typed)(const T *x, T *y, size_t len, double p)
{
    (void)p;
    for (size_t i = 0; i < len; i++) {
        T v = x[i];
        y[i] = !(v <= 0) ? v : (T)0;
    }
}

FA_EXPORT_MAP(relu)
#endif /* FA_TEMPLATE */
