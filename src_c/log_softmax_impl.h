/* Template (see dtype.h): log_softmax over the middle axis of (outer, n, inner).
 * y = (x - m) - log1p(s - 1), with x - m exact (TwoSum, its low part added
 * last).  Both terms are <= 0, so no cancellation: <= 2 roundings of y plus
 * the error of log1p (< 1 ULP of a term no larger than |y|). */
#include "reduce_impl.h"

static void FA_FN(log_softmax_row)(const T *x, T *y, size_t n)
{
    double m = FA_FN(row_max)(x, n);
    FA_FN(row_log_softmax_out)(x, y, n, m, log1p(FA_FN(row_sumexp_m1)(x, n, m, NULL)));
}

static void FA_FN(log_softmax_cols)(const T *x, T *y, size_t n, size_t inner, size_t w)
{
    T m[FA_CHUNK];
    double L[FA_CHUNK];
    FA_FN(group_stats)(x, n, inner, w, m, NULL, L);
    for (size_t k = 0; k < w; k++) L[k] = log1p(L[k]);
    FA_FN(cols_log_softmax_out)(x, y, n, inner, w, m, L);
}

void FA_FN(log_softmax)(const T *x, T *y, size_t outer, size_t n, size_t inner)
{
    FA_FN(map_groups)(x, y, outer, n, inner, FA_FN(log_softmax_row), FA_FN(log_softmax_cols));
}
