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

/* y * ((g - s) - lo): float32 in double (lo == 0 there), one rounding */
static inline T FA_FN(sbw_one)(T g, T y, double s, double lo)
{
#if FA_DTYPE == 32
    (void)lo;
    return (T)((double)y * ((double)g - s));
#else
    return y * ((g - s) - lo);
#endif
}

static void FA_FN(softmax_backward_row)(const T *g, const T *y, T *out, size_t n, int st)
{
    double lo, s = FA_FN(bw_row_sum)(g, y, n, NULL, &lo);
#if FA_VEC
    T o[FA_TILE]; /* st: the tile computed here, then streamed to out */
#endif
    /* the output pass reads the row from cache: fetch the next row (its
     * dot pass reads memory) meanwhile.  out may be g or y: each tile is
     * read before its own stores (streamed or not). */
    for (size_t j0 = 0; j0 < n; j0 += FA_TILE) {
        size_t len = n - j0 < FA_TILE ? n - j0 : FA_TILE;
        FA_FN(bw_prefetch)(g + n + j0, len);
        FA_FN(bw_prefetch)(y + n + j0, len);
#if FA_VEC
        T *os = st ? o : out + j0;
#else
        T *os = out + j0;
#endif
        for (size_t j = 0; j < len; j++) os[j] = FA_FN(sbw_one)(g[j0 + j], y[j0 + j], s, lo);
#if FA_VEC
        if (st) FA_FN(vput_tile)(o, out + j0, len, st);
#endif
    }
#if FA_VEC
    if (st) FA_V(fence)();
#else
    (void)st;
#endif
}

/* The output of w columns: gs, ys rows ss apart (the packed copies, or g
 * and y themselves), out rows inner apart. */
static inline void FA_FN(sbw_cols_out)(const T *gs, const T *ys, size_t ss, T *out,
                                       size_t inner, size_t n, size_t w, const double *s,
                                       const double *lo)
{
    for (size_t i = 0; i < n; i++) {
        const T *gr = gs + i * ss, *yr = ys + i * ss;
        T *orow = out + i * inner;
        for (size_t k = 0; k < w; k++)
            orow[k] = FA_FN(sbw_one)(gr[k], yr[k], s[k], lo[k]);
    }
}

static void FA_FN(softmax_backward_cols)(const T *g, const T *y, T *out, size_t n, size_t inner,
                                         size_t w)
{
    double s[FA_CHUNK], lo[FA_CHUNK];
    size_t wp = FA_FN(bw_pack_cols)(n);
    if (wp == 0) { /* long columns: read g and y twice */
        FA_FN(bw_cols_sum)(g, y, n, inner, w, NULL, NULL, NULL, s, lo);
        FA_FN(sbw_cols_out)(g, y, inner, out, inner, n, w, s, lo);
        return;
    }
    T gb[FA_BW_PACK / sizeof(T)], yb[FA_BW_PACK / sizeof(T)];
    for (size_t c0 = 0; c0 < w; c0 += wp) {
        size_t wc = w - c0 < wp ? w - c0 : wp;
        FA_FN(bw_cols_sum)(g + c0, y + c0, n, inner, wc, NULL, gb, yb, s, lo);
        FA_FN(sbw_cols_out)(gb, yb, wc, out + c0, inner, n, wc, s, lo);
    }
}

FA_EXPORT_REDUCE2(softmax_backward)
#endif /* FA_TEMPLATE */
