/* Op template (instantiated per dtype and level, ops/instantiate.h): softmax over the middle axis of (outer, n, inner).
 * Passes per row: max (reads x), exp (reads x, writes y = exp(x - m) and sums
 * it), scale (reads and writes y, still in cache for rows up to L2 size).
 * Error: exp < 1 ULP, s to ~1 ULP, the product e * (1/s) two more roundings;
 * float32 is computed in double and rounded twice (e, then e/s): <= 1 ULP. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/softmax.c"
#include "ops/instantiate.h"
#else
#include "ops/passes.h"

static void FA_FN(softmax_row)(const T *x, T *y, size_t n)
{
    double m = FA_FN(row_max)(x, n);
    FA_FN(row_scale)(y, n, 1.0 / (1.0 + FA_FN(row_sumexp_m1)(x, n, m, y)));
}

static inline double FA_FN(softmax_factor)(double sm1) { return 1.0 / (1.0 + sm1); }

static inline void FA_FN(softmax_cols_out)(const T *e, size_t es, T *y, size_t ys, size_t n,
                                           size_t w, const T *m, const double *inv)
{
    (void)m;
    FA_FN(cols_scale_to)(e, es, y, ys, n, w, inv);
}

static void FA_FN(softmax_cols)(const T *x, T *y, size_t n, size_t inner, size_t w)
{
    FA_FN(cols_by_blocks)(x, y, n, inner, w, 1, FA_FN(softmax_factor), FA_FN(softmax_cols_out));
}

static void FA_FN(softmax_rows)(const T *x, T *y, size_t outer, size_t n, size_t inner)
{
    FA_FN(map_groups)(x, y, outer, n, inner, FA_FN(softmax_row), FA_FN(softmax_cols));
}

/* Columns c0 .. c1 - 1 of a (1, n, inner) array: the unit the thread pool
 * splits column reductions by (runtime/parallel.c). */
static void FA_FN(softmax_cols_range)(const T *x, T *y, size_t n, size_t inner, size_t c0, size_t c1)
{
    if (n) FA_FN(cols_range)(x, y, n, inner, c0, c1, FA_FN(softmax_cols));
}

FA_EXPORT_REDUCE(softmax)
#endif /* FA_TEMPLATE */
