/* Op template (instantiated per dtype and level, ops/instantiate.h):
 * leaky_relu's gradient, as PyTorch's leaky_relu_backward:
 * y = x > 0 ? g : g * s, s the slope p rounded to T.  Exact select, one
 * rounded product; NaN x is not > 0 (gives g * s). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/leaky_relu_backward.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"

#if FA_VEC
#include "ops/map_passes.h"
typedef struct { FA_V(t) z, s; } FA_FN(vleaky_bw_k);
static inline FA_V(t) FA_FN(vleaky_bw)(FA_FN(vleaky_bw_k) k, FA_V(t) g, FA_V(t) x)
{
    return FA_V(blend)(FA_V(mul)(g, k.s), g, FA_V(gt)(x, k.z));
}
#endif

static void FA_FN(leaky_relu_backward_typed)(const T *g, const T *x, T *y, size_t len, double p)
{
    const T s = (T)p;
#if FA_VEC
    const FA_FN(vleaky_bw_k) k = {FA_V(set1)((T)0), FA_V(set1)(s)};
    FA_VMAP2(g, x, y, len, FA_FN(vleaky_bw), k);
#else
    for (size_t i = 0; i < len; i++) {
        T gv = g[i];
        y[i] = x[i] > 0 ? gv : gv * s;
    }
#endif
}

FA_EXPORT_MAP2(leaky_relu_backward)
#endif /* FA_TEMPLATE */
