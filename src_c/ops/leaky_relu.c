/* Op template (instantiated per dtype and level, ops/instantiate.h): PyTorch's
 * leaky_relu, y = x > 0 ? x : x * s with s the negative slope p rounded to T
 * (as ATen, which converts the slope to the tensor's type): one streaming
 * pass, exact selects and one rounded product.  NaN is not > 0, so it goes to
 * the product and stays NaN; -0.0 gives -0.0 * s. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/leaky_relu.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"

#if FA_VEC
#include "ops/map_passes.h"
typedef struct { FA_V(t) z, s; } FA_FN(vleaky_k);
static inline FA_V(t) FA_FN(vleaky)(FA_FN(vleaky_k) k, FA_V(t) v)
{
    return FA_V(blend)(FA_V(mul)(v, k.s), v, FA_V(gt)(v, k.z));
}
#endif

static void FA_FN(leaky_relu_typed)(const T *x, T *y, size_t len, double p)
{
    const T s = (T)p;
#if FA_VEC
    const FA_FN(vleaky_k) k = {FA_V(set1)((T)0), FA_V(set1)(s)};
    FA_VMAP1(x, y, len, FA_FN(vleaky), k);
#else
    for (size_t i = 0; i < len; i++) {
        T v = x[i];
        y[i] = v > 0 ? v : v * s;
    }
#endif
}

FA_EXPORT_MAP(leaky_relu)
#endif /* FA_TEMPLATE */
