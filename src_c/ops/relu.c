/* Op template (instantiated per dtype and level, ops/instantiate.h): y = IEEE 754-2019 maximum(x, +0.0), one streaming
 * pass.  !(x <= 0) keeps x > 0 and NaN (bits untouched, signalling NaN
 * included); everything else, -0.0 included, becomes +0.0. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/relu.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"

#if FA_VEC
#include "ops/map_passes.h"
/* x <= 0 (ordered: false for NaN) selects +0.0, else x itself */
static inline FA_V(t) FA_FN(vrelu)(FA_V(t) z, FA_V(t) v) { return FA_V(zero_where)(v, FA_V(le)(v, z)); }
#endif

static void FA_FN(relu_typed)(const T *x, T *y, size_t len, double p)
{
    (void)p;
#if FA_VEC
    const FA_V(t) z = FA_V(set1)((T)0);
    FA_VMAP1(x, y, len, FA_FN(vrelu), z);
#else
    for (size_t i = 0; i < len; i++) {
        T v = x[i];
        y[i] = !(v <= 0) ? v : (T)0;
    }
#endif
}

FA_EXPORT_MAP(relu)
#endif /* FA_TEMPLATE */
