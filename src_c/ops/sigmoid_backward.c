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
#if FA_VEC
#include "ops/map_passes.h"
#endif

/* d[i] for i < len (the arithmetic, plain C the compiler vectorises) */
static inline void FA_FN(sbw_map)(const T *g, const T *yv, T *d, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        double y = (double)yv[i];
        d[i] = (T)(((double)g[i] * (1.0 - y)) * y);
    }
}

static void FA_FN(sigmoid_backward_typed)(const T *g, const T *yv, T *d, size_t len, double p)
{
    (void)p;
#if FA_VEC
    /* large outputs: tiles on the stack streamed to d (ops/map_passes.h);
     * d may be g or yv: each tile is read before its stores */
    if (FA_FN(vstream_ok)(d, len)) {
        T o[FA_TILE];
        size_t n;
        for (size_t j0 = 0; j0 < len; j0 += n) {
            n = j0 == 0 ? FA_FN(vtile_first)(d, 1) : FA_TILE;
            if (n > len - j0) n = len - j0;
            FA_FN(sbw_map)(g + j0, yv + j0, o, n);
            FA_FN(vput_tile)(o, d + j0, n, 1);
        }
        FA_V(fence)();
        return;
    }
#endif
    FA_FN(sbw_map)(g, yv, d, len);
}

FA_EXPORT_MAP2(sigmoid_backward)
#endif /* FA_TEMPLATE */
