/* Op template (instantiated per dtype and level, ops/instantiate.h): relu's
 * gradient, PyTorch's threshold_backward(grad, x, 0):
 * y = !(x <= 0) ? g : +0.0.  The select is exact: g passes where x > 0 or x is
 * NaN (relu keeps NaN), everything else (x <= 0, -0.0 included) gives +0.0,
 * whatever g is (inf or NaN g there: 0, never inf * 0). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/relu_backward.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"

#if FA_VEC
#include "ops/map_passes.h"
static inline FA_V(t) FA_FN(vrelu_bw)(FA_V(t) z, FA_V(t) g, FA_V(t) x)
{
    return FA_V(zero_where)(g, FA_V(le)(x, z));
}
#endif

static void FA_FN(relu_backward_typed)(const T *g, const T *x, T *y, size_t len, double p)
{
    (void)p;
#if FA_VEC
    const FA_V(t) z = FA_V(set1)((T)0);
    FA_VMAP2(g, x, y, len, FA_FN(vrelu_bw), z);
#else
    for (size_t i = 0; i < len; i++) y[i] = !(x[i] <= 0) ? g[i] : (T)0;
#endif
}

FA_EXPORT_MAP2(relu_backward)
#endif /* FA_TEMPLATE */
