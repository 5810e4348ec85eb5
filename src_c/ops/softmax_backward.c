/* Op template (instantiated per dtype and level, ops/instantiate.h):
 * softmax_backward over the middle axis of (outer, n, inner):
 *   out = y * (g - s),  s = sum over the group of g * y
 * (y the softmax output, g the incoming gradient).  Two passes per group:
 * the dot (reads g and y), the output (reads them again, from cache for rows
 * up to L2 size; writes out, which may be g or y exactly).
 * Error: s as in ops/backward.h; float32 forms y * (g - s) in double and
 * rounds once (<= 0.5 ULP + 2^-50 relative of |y| (|g| + |s|)); float64
 * rounds g - s_hi, subtracts s_lo and multiplies by y: <= ~2 ULP of
 * |y| (|g| + |s|).  The result itself may cancel (g close to s): the bound
 * is relative to |y| (|g| + |s|), not to |out|. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/softmax_backward.c"
#include "ops/instantiate.h"
#else
#include "ops/backward.h"

static void FA_FN(softmax_backward_row)(const T *g, const T *y, T *out, size_t n)
{
    double lo, s = FA_FN(bw_row_sum)(g, y, n, NULL, &lo);
    /* the output pass reads the row from cache: fetch the next row (its
     * dot pass reads memory) meanwhile */
    for (size_t j0 = 0; j0 < n; j0 += FA_TILE) {
        size_t len = n - j0 < FA_TILE ? n - j0 : FA_TILE;
        FA_FN(bw_prefetch)(g + n + j0, len);
        FA_FN(bw_prefetch)(y + n + j0, len);
        for (size_t j = j0; j < j0 + len; j++) {
            double d = ((double)g[j] - s) - lo; /* lo == 0 for float32 */
            out[j] = (T)((double)y[j] * d);
        }
    }
}

static void FA_FN(softmax_backward_cols)(const T *g, const T *y, T *out, size_t n, size_t inner,
                                         size_t w)
{
    double s[FA_CHUNK], lo[FA_CHUNK];
    FA_FN(bw_cols_sum)(g, y, n, inner, w, NULL, s, lo);
    for (size_t i = 0; i < n; i++) {
        const T *gr = g + i * inner, *yr = y + i * inner;
        T *orow = out + i * inner;
        for (size_t k = 0; k < w; k++)
            orow[k] = (T)((double)yr[k] * (((double)gr[k] - s[k]) - lo[k]));
    }
}

static void FA_FN(softmax_backward_rows)(const T *g, const T *y, T *out, size_t outer, size_t n,
                                         size_t inner)
{
    FA_FN(bw_groups)(g, y, out, outer, n, inner, FA_FN(softmax_backward_row),
                     FA_FN(softmax_backward_cols));
}

static void FA_FN(softmax_backward_cols_range)(const T *g, const T *y, T *out, size_t n,
                                               size_t inner, size_t c0, size_t c1)
{
    FA_FN(bw_cols_range)(g, y, out, n, inner, c0, c1, FA_FN(softmax_backward_cols));
}

FA_EXPORT_REDUCE2(softmax_backward)
#endif /* FA_TEMPLATE */
