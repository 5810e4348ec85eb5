/* Op template (instantiated per dtype and level, ops/instantiate.h): log_softmax over the middle axis of (outer, n, inner).
 * y = (x - m) - log1p(s - 1), with x - m exact (TwoSum, its low part added
 * last).  Both terms are <= 0, so no cancellation: <= 2 roundings of y plus
 * the error of log1p (< 1 ULP of a term no larger than |y|). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/log_softmax.c"
#include "ops/instantiate.h"
#else
#include "ops/passes.h"

static void FA_FN(log_softmax_row)(const T *x, T *y, size_t n)
{
    double m = FA_FN(row_max)(x, n);
    FA_FN(row_log_softmax_out)(x, y, n, m, log1p(FA_FN(row_sumexp_m1)(x, n, m, NULL)));
}

static void FA_FN(log_softmax_cols)(const T *x, T *y, size_t n, size_t inner, size_t w)
{
    FA_FN(cols_by_blocks)(x, y, n, inner, w, 0, log1p, FA_FN(cols_log_softmax_out));
}

static void FA_FN(log_softmax_rows)(const T *x, T *y, size_t outer, size_t n, size_t inner)
{
    FA_FN(map_groups)(x, y, outer, n, inner, FA_FN(log_softmax_row), FA_FN(log_softmax_cols));
}

/* As softmax_cols_range. */
static void FA_FN(log_softmax_cols_range)(const T *x, T *y, size_t n, size_t inner, size_t c0, size_t c1)
{
    if (n) FA_FN(cols_range)(x, y, n, inner, c0, c1, FA_FN(log_softmax_cols));
}

FA_EXPORT_REDUCE(log_softmax)
#endif /* FA_TEMPLATE */
