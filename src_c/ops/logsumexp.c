/* Op template (instantiated per dtype and level, ops/instantiate.h): logsumexp over the middle axis of (outer, n, inner);
 * y has outer * inner elements.  m + log1p(s - 1): one rounding of the sum
 * plus the (small, absolute) error of log1p.  With a NaN anywhere the result
 * is NaN; otherwise a non-finite max is the answer itself (+inf, or -inf for
 * an all -inf group); n == 0 gives -inf. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/logsumexp.c"
#include "ops/instantiate.h"
#else
#include "simd/dd_math.h"
#include "ops/passes.h"

/* x: the group's first element, its elements `stride` apart. */
static inline T FA_FN(lse_finish)(const T *x, size_t n, size_t stride, double m, double sm1)
{
    if (!isfinite(m)) return FA_FN(has_nan)(x, n, stride) ? (T)NAN : (T)m;
    double r = m + log1p(sm1); /* NaN in the group: sm1 is NaN */
#if FA_DTYPE == 32 && FA_VEC
    /* The vector float32 sums have a relative error up to ~2^-24 (their
     * exponentials are float32), i.e. that much absolute error in r: fine
     * for |r| >= 1 (<= 1.5 ULP), too much below.  Redo such groups with the
     * exponentials in double. */
    if (fabs(r) < 1.0) {
        double sm1p;
        if (stride == 1) {
            sm1p = FA_FN(row_sumexp_m1_portable)(x, n, m, NULL);
        } else {
            T mt = (T)m;
            FA_FN(cols_sumexp_m1_portable)(x, n, stride, 1, &mt, NULL, &sm1p);
        }
        r = m + log1p(sm1p);
    }
#endif
#if FA_DTYPE == 64
    /* m < 0 and L = log(s) > 0 cancel when r is small beside L.  The error
     * of L is about 2^-53 (1.5 + L) (exponentials within 0.95 ULP, the sum,
     * log1p), i.e. (0.75 + L/2) / |r| ULP of r: beyond ~1 ULP, redo the
     * group with s - 1 good to ~2^-58 (fa_lse_accurate, ~10 ns an element),
     * and when even that is not enough (|r| < 2^-5, L close to -m to 1%),
     * in double-double throughout (fa_dd_logsumexp, ~300 ns an element). */
    if (m < 0.0 && fabs(r) < 0.75 + 0.5 * (r - m)) {
        r = fa_lse_accurate(x, n, stride, m);
        if (fabs(r) < 0x1p-5) r = fa_dd_logsumexp(x, n, stride, m);
    }
#endif
    return (T)r;
}

/* group_stats, with column chunks packed for their sum pass (pack_cols). */
static void FA_FN(lse_stats)(const T *x, size_t n, size_t inner, size_t w, T *m, double *sm1)
{
    size_t wp = inner == 1 ? 0 : FA_FN(pack_cols)(n);
    if (wp == 0) {
        FA_FN(group_stats)(x, n, inner, w, m, NULL, sm1);
        return;
    }
    T buf[FA_PACK_BYTES / sizeof(T)];
    for (size_t c0 = 0; c0 < w; c0 += wp) {
        size_t wc = w - c0 < wp ? w - c0 : wp;
        FA_FN(cols_stats)(x + c0, n, inner, wc, m + c0, buf, NULL, sm1 + c0);
    }
}

/* y[k] for the w groups (columns, or one row when inner == 1) from x. */
static void FA_FN(lse_groups)(const T *x, T *y, size_t n, size_t inner, size_t w)
{
    T m[FA_CHUNK];
    double sm1[FA_CHUNK];
    if (n == 0) {
        for (size_t k = 0; k < w; k++) y[k] = -INFINITY;
        return;
    }
    FA_FN(lse_stats)(x, n, inner, w, m, sm1);
    for (size_t k = 0; k < w; k++) y[k] = FA_FN(lse_finish)(x + k, n, inner, m[k], sm1[k]);
}

/* y[c] for the columns c0 .. c1 - 1 of a (1, n, inner) array (y has inner
 * elements): the unit of the thread pool's split (runtime/parallel.c). */
static void FA_FN(logsumexp_cols_range)(const T *x, T *y, size_t n, size_t inner, size_t c0, size_t c1)
{
    FA_FN(cols_range)(x, y, n, inner, c0, c1, FA_FN(lse_groups));
}

static void FA_FN(logsumexp_rows)(const T *x, T *y, size_t outer, size_t n, size_t inner)
{
    for (size_t o = 0; o < outer; o++)
        FA_FN(logsumexp_cols_range)(x + o * n * inner, y + o * inner, n, inner, 0, inner);
}

FA_EXPORT_REDUCE(logsumexp)

/* *y = logsumexp of one contiguous row of n elements from its max m and
 * s - 1: the long-row algorithm's last step (ops/long_row.c's table). */
void FA_FN(logsumexp_row_finish)(const void *x, size_t n, double m, double sm1, void *y)
{
    *(T *)y = FA_FN(lse_finish)((const T *)x, n, 1, m, sm1);
}
#endif /* FA_TEMPLATE */
