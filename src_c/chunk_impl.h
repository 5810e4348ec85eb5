/* Template (see dtype.h): the passes over one chunk of a long row, for the
 * long-row algorithm of long_rows.c (a row too long for the cache is split
 * into chunks that are: stats with the chunk's own max (pass 1), then
 * output (pass 2); the chunks are combined in double-double in between). */
#include "reduce_impl.h"

/* m = max of the chunk (NaN skipped), sm1 = s - 1 with s = sum exp(x - m);
 * y (optional) receives exp(x - m).  A chunk with no element above -inf
 * (all -inf, or NaN) is left unwritten and reports s = 0 (sm1 = -1), or
 * sm1 = NaN when it holds a NaN. */
void FA_FN(chunk_stats)(const T *x, T *y, size_t n, double *m, double *sm1)
{
    T mx = FA_FN(row_max)(x, n);
    *m = mx;
    if (mx == -INFINITY) *sm1 = FA_FN(has_nan)(x, n, 1) ? (double)NAN : -1.0;
    else *sm1 = FA_FN(row_sumexp_m1)(x, n, mx, y);
}

/* y *= f (softmax's pass 2 over a chunk that pass 1 wrote). */
void FA_FN(chunk_scale)(T *y, size_t n, double f) { FA_FN(row_scale)(y, n, f); }

/* y = exp(x - m) * f (softmax's pass 2 over a chunk that pass 1 left
 * unwritten: all -inf, so every exp is 0, or NaN). */
void FA_FN(chunk_exp_scale)(const T *x, T *y, size_t n, double m, double f)
{
    (void)FA_FN(row_sumexp_m1)(x, n, m, y);
    FA_FN(row_scale)(y, n, f);
}

/* y = (x - m) - L (log_softmax's pass 2). */
void FA_FN(chunk_log_softmax_out)(const T *x, T *y, size_t n, double m, double L)
{
    FA_FN(row_log_softmax_out)(x, y, n, m, L);
}
