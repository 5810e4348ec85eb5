/* Template (see dtype.h): the two reductions every op is built from, for one
 * row (contiguous, inner == 1) and for a chunk of w <= FA_CHUNK columns
 * (element (i, c) at x[i * inner + c]).
 *
 *   max:     m = max_j x_j, NaN-propagating.
 *   sumexp:  s - 1, where s = sum_j exp(x_j - m).  The terms with x_j == m
 *            (exactly 1 each) are counted apart from the others, so s - 1 is
 *            free of cancellation and log(s) = log1p(s - 1) stays accurate to
 *            a few ULP even when s is within 1e-10 of 1 (one dominant class).
 *            The rest is summed in double with Neumaier compensation.
 *
 * m must come from the max pass.  With a non-finite m the result is NaN. */
#include "fa_math.h"
#include "dtype.h"

static inline T FA_FN(row_max)(const T *x, size_t n)
{
    T mv[FA_LANES];
    for (size_t l = 0; l < FA_LANES; l++) mv[l] = -INFINITY;
    size_t j = 0;
    for (; j + FA_LANES <= n; j += FA_LANES)
        for (size_t l = 0; l < FA_LANES; l++) mv[l] = FA_PMAX(mv[l], x[j + l]);
    for (; j < n; j++) mv[0] = FA_PMAX(mv[0], x[j]);
    T m = mv[0];
    for (size_t l = 1; l < FA_LANES; l++) m = FA_PMAX(m, mv[l]);
    return m;
}

/* One element of the sumexp pass: returns exp(x - m); adds it to (s, c)
 * unless x == m, in which case it counts one more maximum in z. */
static inline double FA_FN(sumexp_step)(T x, double m, double *s, double *c, double *z)
{
    double lo;
    double d = FA_DIFF((double)x, m, &lo);
    double e = fa_exp_nonpos(d, lo);
    int at_max = (d == 0.0);
    fa_acc(s, c, at_max ? 0.0 : e);
    *z += at_max ? 1.0 : 0.0;
    return e;
}

/* s - 1 from lane partials; z >= 1 counts the maxima exactly. */
static inline double FA_FN(finish_sm1)(const double *s, const double *c, const double *z,
                                       size_t lanes)
{
    double S = 0.0, Cc = 0.0, Z = 0.0;
    for (size_t l = 0; l < lanes; l++) {
        fa_acc(&S, &Cc, s[l]);
        Cc += c[l];
        Z += z[l];
    }
    return (Z - 1.0) + fa_acc_value(S, Cc);
}

/* Row version.  When y is not NULL, y[j] = exp(x[j] - m) rounded to T.
 * (static inline with y NULL or not at each call site: the compiler
 * specialises the loop.) */
static inline double FA_FN(row_sumexp_m1)(const T *x, size_t n, double m, T *y)
{
    double s[FA_LANES] = {0}, c[FA_LANES] = {0}, z[FA_LANES] = {0};
    size_t j = 0;
    for (; j + FA_LANES <= n; j += FA_LANES)
        for (size_t l = 0; l < FA_LANES; l++) {
            double e = FA_FN(sumexp_step)(x[j + l], m, &s[l], &c[l], &z[l]);
            if (y) y[j + l] = (T)e;
        }
    for (; j < n; j++) {
        double e = FA_FN(sumexp_step)(x[j], m, &s[0], &c[0], &z[0]);
        if (y) y[j] = (T)e;
    }
    return FA_FN(finish_sm1)(s, c, z, FA_LANES);
}

/* Column-chunk versions: m[c] and sm1[c] for c < w. */
static inline void FA_FN(cols_max)(const T *x, size_t n, size_t inner, size_t w, T *m)
{
    for (size_t c = 0; c < w; c++) m[c] = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        for (size_t c = 0; c < w; c++) m[c] = FA_PMAX(m[c], xr[c]);
    }
}

static inline void FA_FN(cols_sumexp_m1)(const T *x, size_t n, size_t inner, size_t w,
                                         const T *m, T *y, double *sm1)
{
    double s[FA_CHUNK], c[FA_CHUNK], z[FA_CHUNK];
    for (size_t k = 0; k < w; k++) s[k] = c[k] = z[k] = 0.0;
    for (size_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        T *yr = y ? y + i * inner : NULL;
        for (size_t k = 0; k < w; k++) {
            double e = FA_FN(sumexp_step)(xr[k], (double)m[k], &s[k], &c[k], &z[k]);
            if (yr) yr[k] = (T)e;
        }
    }
    for (size_t k = 0; k < w; k++) sm1[k] = FA_FN(finish_sm1)(&s[k], &c[k], &z[k], 1);
}
