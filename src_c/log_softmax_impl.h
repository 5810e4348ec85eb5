/* Template (see dtype.h): log_softmax over the middle axis of (outer, n, inner).
 * y = (x - m) - log1p(s - 1), with x - m exact (TwoSum, its low part added
 * last).  Both terms are <= 0, so no cancellation: <= 2 roundings of y plus
 * the error of log1p (< 1 ULP of a term no larger than |y|). */
#include "reduce_impl.h"

static inline T FA_FN(log_softmax_one)(T x, double m, double L)
{
    double lo;
    double d = FA_DIFF((double)x, m, &lo);
    return (T)((d - L) + lo);
}

static void FA_FN(log_softmax_row)(const T *x, T *y, size_t n)
{
    double m = FA_FN(row_max)(x, n);
    double L = log1p(FA_FN(row_sumexp_m1)(x, n, m, NULL));
    for (size_t j = 0; j < n; j++) y[j] = FA_FN(log_softmax_one)(x[j], m, L);
}

static void FA_FN(log_softmax_cols)(const T *x, T *y, size_t n, size_t inner, size_t w)
{
    T m[FA_CHUNK];
    double L[FA_CHUNK];
    FA_FN(cols_max)(x, n, inner, w, m);
    FA_FN(cols_sumexp_m1)(x, n, inner, w, m, NULL, L);
    for (size_t k = 0; k < w; k++) L[k] = log1p(L[k]);
    for (size_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        T *yr = y + i * inner;
        for (size_t k = 0; k < w; k++) yr[k] = FA_FN(log_softmax_one)(xr[k], m[k], L[k]);
    }
}

void FA_FN(log_softmax)(const T *x, T *y, size_t outer, size_t n, size_t inner)
{
    if (n == 0) return;
    for (size_t o = 0; o < outer; o++) {
        const T *xo = x + o * n * inner;
        T *yo = y + o * n * inner;
        if (inner == 1) {
            FA_FN(log_softmax_row)(xo, yo, n);
            continue;
        }
        for (size_t c0 = 0; c0 < inner; c0 += FA_CHUNK) {
            size_t w = inner - c0 < FA_CHUNK ? inner - c0 : FA_CHUNK;
            FA_FN(log_softmax_cols)(xo + c0, yo + c0, n, inner, w);
        }
    }
}
