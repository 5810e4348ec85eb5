/* Op template (instantiated per dtype and level, ops/instantiate.h):
 * log_softmax_backward over the middle axis of (outer, n, inner):
 *   out = g - exp(y) * s,  s = sum over the group of g
 * (y the log_softmax output).  Two passes per group: the sum (reads g), the
 * output (reads g and y, writes out, which may be g or y exactly).
 * exp(y) per tile (lsb_exp_tile): the level's vector exponential for y <= 0
 * (-inf -> 0, NaN -> NaN), and for a tile holding any y > 0 (not a
 * log_softmax output, but allowed) libm's exp (a rare slow path).
 * Error: e = exp(y) within ~1 ULP of T; float32 forms g - e * s in double
 * and rounds once (<= 0.5 ULP + 1 ULP of e |s|); float64: e * s one rounding
 * (fused into the subtraction at the FMA levels), g - e s one:
 * <= ~3 ULP of |g| + exp(y) |s| (the result may cancel). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/log_softmax_backward.c"
#include "ops/instantiate.h"
#else
#include "ops/backward.h"

#if FA_VEC
/* e[j] = exp(d[j]) for d <= 0 or NaN: the level's expn on U_SUM vectors at
 * a time (independent polynomial chains in flight), then single vectors,
 * then the partial one (element-wise: the split changes no result). */
static inline void FA_FN(lsb_vexp)(const T *d, T *e, size_t len)
{
    enum { U = FA_V(U_SUM), VL = FA_V(LANES) };
    FA_V(t) hi[U], lo[U], ev[U];
    const FA_V(t) z = FA_V(set1)((T)0);
    size_t j = 0;
    for (; j + U * VL <= len; j += U * VL) {
        for (int i = 0; i < U; i++) {
            hi[i] = FA_V(loadu)(d + j + i * VL);
            lo[i] = z;
        }
        FA_V(expn)(U, hi, lo, ev);
        for (int i = 0; i < U; i++) FA_V(storeu)(e + j + i * VL, ev[i]);
    }
    for (; j < len; j += VL) {
        size_t rem = len - j < VL ? len - j : VL;
        hi[0] = rem == VL ? FA_V(loadu)(d + j) : FA_V(load_part)(d + j, rem, (T)0);
        lo[0] = z;
        FA_V(expn)(1, hi, lo, ev);
        if (rem == VL) FA_V(storeu)(e + j, ev[0]);
        else FA_V(store_part)(e + j, rem, ev[0]);
    }
}
#endif

/* e[j] = exp(y[j]), j < len <= FA_TILE: the level's vector exponential
 * (simd/<isa>.h: float32 <= 0.88 ULP, float64 <= 0.95 ULP; -inf -> 0,
 * NaN -> NaN), at the scalar level the portable one rounded to T.  It takes
 * y <= 0 only: a tile holding some y > 0 (never for a log_softmax output)
 * computes it on min(y, 0) (NaN kept) and redoes those elements with libm's
 * exp (correctly rounded to within 1 ULP).  Returns 1 for such a tile:
 * there e * s may overflow, so its outputs take lsb_out_rare. */
static inline int FA_FN(lsb_exp_tile)(const T *y, size_t len, T *e)
{
    int pos = 0;
    for (size_t j = 0; j < len; j++) pos |= y[j] > 0;
    const T *src = y;
    T t[FA_TILE];
    if (pos) {
        for (size_t j = 0; j < len; j++) t[j] = y[j] > 0 ? (T)0 : y[j];
        src = t;
    }
#if FA_VEC
    FA_FN(lsb_vexp)(src, e, len);
#else
    for (size_t j = 0; j < len; j++) e[j] = (T)FA_EXP((double)src[j], 0.0);
#endif
    if (pos)
        for (size_t j = 0; j < len; j++)
            if (y[j] > 0) e[j] = (T)exp((double)y[j]);
    return pos;
}

/* out[j] = g[j] - e[j] * s (s = hi + lo) */
static inline T FA_FN(lsb_one)(T g, T e, double s, double lo)
{
#if FA_DTYPE == 32
    (void)lo;
    return (T)((double)g - (double)e * s);
#elif FA_BW_FMA
    return __builtin_fma(-e, s, g) - e * lo;
#else
    return ((double)g - e * s) - e * lo;
#endif
}

/* lsb_one where e may be huge (a tile with some y > 0).  float32: for
 * y > 0 all in double with exp(y) unrounded (rounded to float32 it
 * overflows beyond y = 88.7, and inf * 0 would give NaN for s = 0).
 * float64: when g - e * s overflows (e = +inf, or e * s beyond the range),
 * the result is that infinity (NaN for inf * 0, as the formula), not the
 * NaN of inf - inf that the compensation term e * lo would add; otherwise
 * exactly lsb_one. */
static inline T FA_FN(lsb_one_big)(T g, T e, T y, double s, double lo)
{
#if FA_DTYPE == 32
    return y > 0 ? (T)((double)g - exp((double)y) * s) : FA_FN(lsb_one)(g, e, s, lo);
#else
    (void)y;
#if FA_BW_FMA
    T r = __builtin_fma(-e, s, g);
#else
    T r = (double)g - e * s;
#endif
    return r - r != 0 ? r : r - e * lo; /* r - r: NaN for +-inf (and NaN) */
#endif
}

/* lsb_one_big, and for a group whose sum s is +-inf (or NaN): exp(y) > 0
 * for every finite y, so where it underflowed to 0 the exact result is
 * still g - (+0) * inf = -+inf, not NaN: any positive e gives it (1 is used). */
static inline T FA_FN(lsb_one_nf)(T g, T e, T y, double s, double lo)
{
    if (e == 0 && y > -(T)INFINITY && s - s != 0) e = (T)1;
    return FA_FN(lsb_one_big)(g, e, y, s, lo);
}

/* The outputs of a tile holding a y > 0 or of groups whose sum is not
 * finite (never for a log_softmax output and finite grads): element j of
 * sums s[j * ss], lo[j * ss].  Out of line: inlined, it cost the common
 * float64 row loop +84% instructions (callgrind, avx2, 64x1000).  os may be
 * g, e or y (each element read before its store). */
FA_NOINLINE void FA_FN(lsb_out_rare)(const T *g, const T *e, const T *y, T *os, size_t len,
                                     const double *s, const double *lo, size_t ss)
{
    for (size_t j = 0; j < len; j++)
        os[j] = FA_FN(lsb_one_nf)(g[j], e[j], y[j], s[j * ss], lo[j * ss]);
}

static void FA_FN(log_softmax_backward_row)(const T *g, const T *y, T *out, size_t n, int st)
{
    /* the sum pass reads g and fetches y for the output pass; the output
     * pass fetches the next row's g */
    double lo, s = FA_FN(bw_row_sum)(g, NULL, n, y, &lo);
    int nf = s - s != 0; /* s = +-inf or NaN */
    T e[FA_TILE];
    for (size_t j0 = 0; j0 < n; j0 += FA_TILE) {
        size_t len = n - j0 < FA_TILE ? n - j0 : FA_TILE;
        FA_FN(bw_prefetch)(g + n + j0, len);
        int big = FA_FN(lsb_exp_tile)(y + j0, len, e);
#if FA_VEC
        /* st: the tile computed into e itself (each e[j] read before its
         * store), then streamed to out; out may be g or y (read first) */
        T *os = st ? e : out + j0;
#else
        T *os = out + j0;
#endif
        if (nf | big)
            FA_FN(lsb_out_rare)(g + j0, e, y + j0, os, len, &s, &lo, 0);
        else
            for (size_t j = 0; j < len; j++) os[j] = FA_FN(lsb_one)(g[j0 + j], e[j], s, lo);
#if FA_VEC
        if (st) FA_FN(vput_tile)(e, out + j0, len, st);
#endif
    }
#if FA_VEC
    if (st) FA_V(fence)();
#else
    (void)st;
#endif
}

/* The output of w columns: gs rows gss apart (packed, or g itself), y and
 * out rows inner apart. */
static inline void FA_FN(lsb_cols_out)(const T *gs, size_t gss, const T *y, T *out,
                                       size_t inner, size_t n, size_t w, const double *s,
                                       const double *lo)
{
    T e[FA_CHUNK];
    int nf = 0;
    for (size_t k = 0; k < w; k++) nf |= s[k] - s[k] != 0;
    for (size_t i = 0; i < n; i++) {
        const T *gr = gs + i * gss;
        const T *yr = y + i * inner;
        T *orow = out + i * inner;
        int big = FA_FN(lsb_exp_tile)(yr, w, e);
        if (nf | big)
            FA_FN(lsb_out_rare)(gr, e, yr, orow, w, s, lo, 1);
        else
            for (size_t k = 0; k < w; k++) orow[k] = FA_FN(lsb_one)(gr[k], e[k], s[k], lo[k]);
    }
}

static void FA_FN(log_softmax_backward_cols)(const T *g, const T *y, T *out, size_t n,
                                             size_t inner, size_t w)
{
    double s[FA_CHUNK], lo[FA_CHUNK];
    size_t wp = FA_FN(bw_pack_cols)(n);
    if (wp == 0) { /* long columns: read g twice */
        FA_FN(bw_cols_sum)(g, NULL, n, inner, w, y, NULL, NULL, s, lo);
        FA_FN(lsb_cols_out)(g, inner, y, out, inner, n, w, s, lo);
        return;
    }
    T gb[FA_BW_PACK / sizeof(T)];
    for (size_t c0 = 0; c0 < w; c0 += wp) {
        size_t wc = w - c0 < wp ? w - c0 : wp;
        FA_FN(bw_cols_sum)(g + c0, NULL, n, inner, wc, y + c0, gb, NULL, s, lo);
        FA_FN(lsb_cols_out)(gb, wc, y + c0, out + c0, inner, n, wc, s, lo);
    }
}

FA_EXPORT_REDUCE2(log_softmax_backward)
#endif /* FA_TEMPLATE */
