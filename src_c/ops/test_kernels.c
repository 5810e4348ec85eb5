/* Test-only kernels (instantiated per dtype and level, ops/instantiate.h):
 * the level's exponential and each row and column pass of ops/passes.h on
 * its own, so that the tests can hold every pass at every level against the
 * portable one (tests/test_exp.py sweeps the exponential,
 * tests/test_passes.py the passes at their tail sizes).  Not used by the ops.
 *
 * exp_nonpos: y[j] = exp(d[j]) for d[j] <= 0 (-inf included) or NaN, with the
 * exponential the level's kernels use (the float32 kernels' own float32
 * exponential at levels with vector primitives, else the portable double one
 * rounded to T). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/test_kernels.c"
#include "ops/instantiate.h"
#else
#include "ops/passes.h"

static void FA_FN(t_exp_nonpos)(const void *dv, void *yv, size_t n)
{
    const T *d = (const T *)dv;
    T *y = (T *)yv;
#if FA_VEC
    FA_FN(vexp_row)(d, y, n);
#else
    for (size_t j = 0; j < n; j++) y[j] = (T)FA_EXP((double)d[j], 0.0);
#endif
}

static double FA_FN(t_row_max)(const void *x, size_t n) { return FA_FN(row_max)((const T *)x, n); }

static double FA_FN(t_row_sumexp_m1)(const void *x, size_t n, double m, void *y)
{
    return FA_FN(row_sumexp_m1)((const T *)x, n, m, (T *)y);
}

static void FA_FN(t_row_scale)(void *y, size_t n, double inv) { FA_FN(row_scale)((T *)y, n, inv); }

static void FA_FN(t_row_log_softmax_out)(const void *x, void *y, size_t n, double m, double L)
{
    FA_FN(row_log_softmax_out)((const T *)x, (T *)y, n, m, L);
}

static void FA_FN(t_cols_max_pack)(const void *x, size_t n, size_t inner, size_t w, void *m,
                                   void *buf)
{
    FA_FN(cols_max_pack)((const T *)x, n, inner, w, (T *)m, (T *)buf);
}

static void FA_FN(t_cols_sumexp_m1)(const void *x, size_t n, size_t inner, size_t w,
                                    const void *m, void *y, double *sm1)
{
    FA_FN(cols_sumexp_m1)((const T *)x, n, inner, w, (const T *)m, (T *)y, sm1);
}

static void FA_FN(t_cols_scale_to)(const void *src, size_t ss, void *dst, size_t ds, size_t n,
                                   size_t w, const double *inv)
{
    FA_FN(cols_scale_to)((const T *)src, ss, (T *)dst, ds, n, w, inv);
}

static void FA_FN(t_cols_log_softmax_out)(const void *src, size_t ss, void *dst, size_t ds,
                                          size_t n, size_t w, const void *m, const double *L)
{
    FA_FN(cols_log_softmax_out)((const T *)src, ss, (T *)dst, ds, n, w, (const T *)m, L);
}

/* row_max and row_sumexp_m1 in one (the ops' row path: the narrow sum pass
 * where the level has one and the row allows it) */
static double FA_FN(t_row_stats)(const void *x, size_t n, void *y, double *m)
{
    T mt;
    double sm1 = FA_FN(row_stats)((const T *)x, n, (T *)y, &mt);
    *m = mt;
    return sm1;
}

/* cols_max_pack and cols_sumexp_m1 in one (the ops' column path, as
 * row_stats) */
static void FA_FN(t_cols_stats)(const void *x, size_t n, size_t inner, size_t w, void *m,
                                void *buf, void *y, double *sm1)
{
    FA_FN(cols_stats)((const T *)x, n, inner, w, (T *)m, (T *)buf, (T *)y, sm1);
}

static void FA_FN(t_cols_log1p)(double *L, size_t w) { FA_FN(cols_log1p)(L, w); }

const fa_test_kernels FA_FN(test_kernels) = {
    FA_FN(t_exp_nonpos),        FA_FN(t_row_max),       FA_FN(t_row_sumexp_m1),
    FA_FN(t_row_scale),         FA_FN(t_row_log_softmax_out), FA_FN(t_cols_max_pack),
    FA_FN(t_cols_sumexp_m1),    FA_FN(t_cols_scale_to), FA_FN(t_cols_log_softmax_out),
    FA_FN(t_row_stats),         FA_FN(t_cols_stats),    FA_FN(t_cols_log1p),
};
#endif /* FA_TEMPLATE */
