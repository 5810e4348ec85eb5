/* Template (see dtype.h): softmax over the middle axis of (outer, n, inner).
 * Passes per row: max (reads x), exp (reads x, writes y = exp(x - m) and sums
 * it), scale (reads and writes y, still in cache for rows up to L2 size).
 * Error: exp < 1 ULP, s to ~1 ULP, the product e * (1/s) two more roundings;
 * float32 is computed in double and rounded twice (e, then e/s): <= 1 ULP. */
#include "reduce_impl.h"

static void FA_FN(softmax_row)(const T *x, T *y, size_t n)
{
    double m = FA_FN(row_max)(x, n);
    double inv = 1.0 / (1.0 + FA_FN(row_sumexp_m1)(x, n, m, y));
    for (size_t j = 0; j < n; j++) y[j] = (T)((double)y[j] * inv);
}

static void FA_FN(softmax_cols)(const T *x, T *y, size_t n, size_t inner, size_t w)
{
    T m[FA_CHUNK];
    double inv[FA_CHUNK];
    FA_FN(cols_max)(x, n, inner, w, m);
    FA_FN(cols_sumexp_m1)(x, n, inner, w, m, y, inv);
    for (size_t k = 0; k < w; k++) inv[k] = 1.0 / (1.0 + inv[k]);
    for (size_t i = 0; i < n; i++) {
        T *yr = y + i * inner;
        for (size_t k = 0; k < w; k++) yr[k] = (T)((double)yr[k] * inv[k]);
    }
}

void FA_FN(softmax)(const T *x, T *y, size_t outer, size_t n, size_t inner)
{
    if (n == 0) return;
    for (size_t o = 0; o < outer; o++) {
        const T *xo = x + o * n * inner;
        T *yo = y + o * n * inner;
        if (inner == 1) {
            FA_FN(softmax_row)(xo, yo, n);
            continue;
        }
        for (size_t c0 = 0; c0 < inner; c0 += FA_CHUNK) {
            size_t w = inner - c0 < FA_CHUNK ? inner - c0 : FA_CHUNK;
            FA_FN(softmax_cols)(xo + c0, yo + c0, n, inner, w);
        }
    }
}
