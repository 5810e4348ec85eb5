/* Op template (instantiated per dtype and level, ops/instantiate.h): the
 * passes over one chunk of a long row, for the long-row algorithm of
 * runtime/long_rows.c (a row too long for the cache is split
 * into chunks that are: stats with the chunk's own max (pass 1), then
 * output (pass 2); the chunks are combined in double-double in between). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/long_row.c"
#include "ops/instantiate.h"
#else
#include "ops/passes.h"

/* m = max of the chunk (NaN skipped), sm1 = s - 1 with s = sum exp(x - m);
 * y (optional) receives exp(x - m).  A chunk with no element above -inf
 * (all -inf, or NaN) is left unwritten and reports s = 0 (sm1 = -1), or
 * sm1 = NaN when it holds a NaN. */
static void FA_FN(chunk_stats)(const void *xv, void *yv, size_t n, double *m, double *sm1)
{
    const T *x = (const T *)xv;
    T *y = (T *)yv;
    T mx = FA_FN(row_max)(x, n);
    *m = mx;
    if (mx == -INFINITY) *sm1 = FA_FN(has_nan)(x, n, 1) ? (double)NAN : -1.0;
    else *sm1 = FA_FN(row_sumexp_m1)(x, n, mx, y);
}

/* y *= f (softmax's pass 2 over a chunk that pass 1 wrote). */
static void FA_FN(chunk_scale)(void *y, size_t n, double f) { FA_FN(row_scale)((T *)y, n, f); }

/* y = exp(x - m) * f (softmax's pass 2 over a chunk that pass 1 left
 * unwritten: all -inf, so every exp is 0, or NaN). */
static void FA_FN(chunk_exp_scale)(const void *x, void *y, size_t n, double m, double f)
{
    (void)FA_FN(row_sumexp_m1)((const T *)x, n, m, (T *)y);
    FA_FN(row_scale)((T *)y, n, f);
}

/* y = (x - m) - L (log_softmax's pass 2). */
static void FA_FN(chunk_log_softmax_out)(const void *x, void *y, size_t n, double m, double L)
{
    FA_FN(row_log_softmax_out)((const T *)x, (T *)y, n, m, L);
}

/* defined by ops/logsumexp.c */
void FA_FN(logsumexp_row_finish)(const void *x, size_t n, double m, double sm1, void *y);

const fa_long_row_fns FA_FN(long_row) = {
    FA_FN(chunk_stats), FA_FN(chunk_scale), FA_FN(chunk_exp_scale),
    FA_FN(chunk_log_softmax_out), FA_FN(logsumexp_row_finish),
};
#endif /* FA_TEMPLATE */
