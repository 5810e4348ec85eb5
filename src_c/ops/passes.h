/* Part of the op templates (see ops/dtype.h): the passes every reduction is built from, for one
 * row (contiguous, inner == 1) and for a chunk of w <= FA_CHUNK columns
 * (element (i, k) at x[i * inner + k]).
 *
 *   max:     m = max_j x_j, skipping NaN.
 *   sumexp:  s - 1, where s = sum_j exp(x_j - m).  The terms equal to 1 (the
 *            maxima, and elements within 2^-54 of them) are counted apart from
 *            the others, so s - 1 is free of cancellation and
 *            log(s) = log1p(s - 1) keeps full relative accuracy even when s is
 *            within 1e-10 of 1 (one dominant class).  The rest is summed in
 *            double with TwoSum compensation.
 *
 * Non-finite m (+inf, or -inf for an all -inf row) and NaN anywhere in the
 * row make sumexp NaN; callers that need to tell NaN from +-inf (logsumexp)
 * look at the row again, which only happens on that rare path. */
#include "simd/fa_math.h"
#include "simd/log1p_series.h"
#include "ops/dtype.h"

/* FA_VEC: the level has vector primitives (simd/<isa>.h): its row and
 * column passes are the generic ones of ops/vec_passes.h, written over them,
 * with the contracts of the portable passes below. */
#ifndef FA_VEC
#define FA_VEC 0
#endif
#if FA_VEC
#include "ops/vec_passes.h"
#endif

static inline T FA_FN(row_max)(const T *x, size_t n)
{
#if FA_VEC
    return FA_FN(vrow_max)(x, n);
#else
    T mv[FA_LANES];
    for (size_t l = 0; l < FA_LANES; l++) mv[l] = -INFINITY;
    size_t j = 0;
    for (; j + FA_LANES <= n; j += FA_LANES)
        for (size_t l = 0; l < FA_LANES; l++) mv[l] = FA_MAX(mv[l], x[j + l]);
    for (; j < n; j++) mv[0] = FA_MAX(mv[0], x[j]);
    T m = mv[0];
    for (size_t l = 1; l < FA_LANES; l++) m = FA_MAX(m, mv[l]);
    return m;
#endif
}

/* e[j] = exp(x[j] - m) for j < len (a map loop: vectorised). */
static inline void FA_FN(exp_tile)(const T *restrict x, size_t len, double m,
                                   double *restrict e)
{
    for (size_t j = 0; j < len; j++) {
        double lo;
        double d = FA_DIFF((double)x[j], m, &lo);
        e[j] = FA_EXP(d, lo);
    }
}

/* One term of the sum: the ones (maxima) go to the exact count z. */
static inline void FA_FN(sum_term)(double e, double *s, double *c, double *z)
{
    int one = (e == 1.0);
    fa_acc(s, c, one ? 0.0 : e);
    *z += one ? 1.0 : 0.0;
}

/* s - 1 from the partials: (z - 1) is an exact integer. */
static inline double FA_FN(finish_sm1)(double S, double Cc, double Z)
{
    return (Z - 1.0) + fa_acc_value(S, Cc);
}

/* Row version.  When y is not NULL, y[j] = exp(x[j] - m) rounded to T.
 * The portable one forms the exponentials in double for both dtypes. */
static inline double FA_FN(row_sumexp_m1_portable)(const T *x, size_t n, double m, T *y)
{
    double s[FA_LANES] = {0}, c[FA_LANES] = {0}, z[FA_LANES] = {0};
    double e[FA_TILE];
    for (size_t j0 = 0; j0 < n; j0 += FA_TILE) {
        size_t len = n - j0 < FA_TILE ? n - j0 : FA_TILE;
        FA_FN(exp_tile)(x + j0, len, m, e);
        if (y)
            for (size_t j = 0; j < len; j++) y[j0 + j] = (T)e[j];
        size_t j = 0;
        for (; j + FA_LANES <= len; j += FA_LANES)
            for (size_t l = 0; l < FA_LANES; l++) FA_FN(sum_term)(e[j + l], &s[l], &c[l], &z[l]);
        for (; j < len; j++) FA_FN(sum_term)(e[j], &s[0], &c[0], &z[0]);
    }
    double S = 0.0, Cc = 0.0, Z = 0.0;
    for (size_t l = 0; l < FA_LANES; l++) {
        fa_acc(&S, &Cc, s[l]);
        Cc += c[l];
        Z += z[l];
    }
    return FA_FN(finish_sm1)(S, Cc, Z);
}

/* The level's row version: the vector pass where the level has one (float32
 * there forms the exponentials in float32: each within ~1 ULP, summed in
 * double). */
static inline double FA_FN(row_sumexp_m1)(const T *x, size_t n, double m, T *y)
{
#if FA_VEC
    return FA_FN(vrow_sumexp_m1)(x, n, m, y);
#else
    return FA_FN(row_sumexp_m1_portable)(x, n, m, y);
#endif
}

/* row_max, and in *narrow whether row_sumexp_m1_nr may take the narrow
 * sum pass (ops/vec_passes.h's vrow_max_nr: SIMD levels with a narrow
 * exponential, rows in its range; 0 elsewhere); row_sumexp_m1_nr with that
 * flag: row_sumexp_m1's results bit for bit, fewer operations. */
static inline T FA_FN(row_max_nr)(const T *x, size_t n, int *narrow)
{
#if FA_VEC
    return FA_FN(vrow_max_nr)(x, n, narrow);
#else
    *narrow = 0;
    return FA_FN(row_max)(x, n);
#endif
}

static inline double FA_FN(row_sumexp_m1_nr)(const T *x, size_t n, double m, T *y, int narrow)
{
#if FA_VEC
    return FA_FN(vrow_sumexp_m1_nr)(x, n, m, y, narrow);
#else
    (void)narrow;
    return FA_FN(row_sumexp_m1)(x, n, m, y);
#endif
}

/* Both passes of one row: *m = row_max(x, n), returns row_sumexp_m1(x, n,
 * *m, y), by the two above. */
static inline double FA_FN(row_stats)(const T *x, size_t n, T *y, T *m)
{
    int nr;
    *m = FA_FN(row_max_nr)(x, n, &nr);
    return FA_FN(row_sumexp_m1_nr)(x, n, *m, y, nr);
}

/* y[j] *= inv: softmax's last pass (one rounding per element). */
static inline void FA_FN(row_scale)(T *y, size_t n, double inv)
{
#if FA_VEC
    FA_FN(vrow_scale)(y, n, inv);
#else
    for (size_t j = 0; j < n; j++) y[j] = (T)((double)y[j] * inv);
#endif
}

/* (x - m) - L with x - m exact (TwoSum, its low part added last).  Both
 * terms are <= 0, so no cancellation: <= 2 roundings of the result plus the
 * error of L. */
static inline T FA_FN(log_softmax_one)(T x, double m, double L)
{
    double lo;
    double d = FA_DIFF((double)x, m, &lo);
    return (T)((d - L) + lo);
}

/* y[j] = (x[j] - m) - L: log_softmax's output pass. */
static inline void FA_FN(row_log_softmax_out)(const T *x, T *y, size_t n, double m, double L)
{
#if FA_VEC
    FA_FN(vrow_log_softmax_out)(x, y, n, m, L);
#else
    for (size_t j = 0; j < n; j++) y[j] = FA_FN(log_softmax_one)(x[j], m, L);
#endif
}

/* Column-chunk versions: m[k] and sm1[k] for k < w. */
/* m[k] = max over the column (NaN skipped); when buf is not NULL the chunk
 * is also copied there, packed (element (i, k) at buf[i * w + k]). */
static inline void FA_FN(cols_max_pack)(const T *x, size_t n, size_t inner, size_t w, T *m,
                                        T *buf)
{
#if FA_VEC
    FA_FN(vcols_max_pack)(x, n, inner, w, m, buf);
#else
    for (size_t k = 0; k < w; k++) m[k] = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        for (size_t k = 0; k < w; k++) m[k] = FA_MAX(m[k], xr[k]);
        if (buf)
            for (size_t k = 0; k < w; k++) buf[i * w + k] = xr[k];
    }
#endif
}

static inline void FA_FN(cols_max)(const T *x, size_t n, size_t inner, size_t w, T *m)
{
    FA_FN(cols_max_pack)(x, n, inner, w, m, NULL);
}

/* The portable column version forms the exponentials in double for both
 * dtypes (as row_sumexp_m1_portable). */
static inline void FA_FN(cols_sumexp_m1_portable)(const T *x, size_t n, size_t inner, size_t w,
                                                  const T *m, T *y, double *sm1)
{
    double s[FA_CHUNK], c[FA_CHUNK], z[FA_CHUNK], md[FA_CHUNK], e[FA_CHUNK];
    for (size_t k = 0; k < w; k++) {
        s[k] = c[k] = z[k] = 0.0;
        md[k] = (double)m[k];
    }
    for (size_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        for (size_t k = 0; k < w; k++) {
            double lo;
            double d = FA_DIFF((double)xr[k], md[k], &lo);
            e[k] = FA_EXP(d, lo);
        }
        if (y) {
            T *yr = y + i * inner;
            for (size_t k = 0; k < w; k++) yr[k] = (T)e[k];
        }
        for (size_t k = 0; k < w; k++) FA_FN(sum_term)(e[k], &s[k], &c[k], &z[k]);
    }
    for (size_t k = 0; k < w; k++) sm1[k] = FA_FN(finish_sm1)(s[k], c[k], z[k]);
}

static inline void FA_FN(cols_sumexp_m1)(const T *x, size_t n, size_t inner, size_t w,
                                         const T *m, T *y, double *sm1)
{
#if FA_VEC
    FA_FN(vcols_sumexp_m1)(x, n, inner, w, m, y, sm1);
#else
    FA_FN(cols_sumexp_m1_portable)(x, n, inner, w, m, y, sm1);
#endif
}

/* The column versions of row_max_nr / row_sumexp_m1_nr (a chunk's flag:
 * all of its values in the range). */
static inline void FA_FN(cols_max_pack_nr)(const T *x, size_t n, size_t inner, size_t w, T *m,
                                           T *buf, int *narrow)
{
#if FA_VEC
    FA_FN(vcols_max_pack_nr)(x, n, inner, w, m, buf, narrow);
#else
    *narrow = 0;
    FA_FN(cols_max_pack)(x, n, inner, w, m, buf);
#endif
}

static inline void FA_FN(cols_sumexp_m1_nr)(const T *x, size_t n, size_t inner, size_t w,
                                            const T *m, T *y, double *sm1, int narrow)
{
#if FA_VEC
    FA_FN(vcols_sumexp_m1_nr)(x, n, inner, w, m, y, sm1, narrow);
#else
    (void)narrow;
    FA_FN(cols_sumexp_m1)(x, n, inner, w, m, y, sm1);
#endif
}

/* cols_max_pack(x, n, inner, w, m, buf), then cols_sumexp_m1 over the
 * chunk as packed in buf (buf not NULL) or read from x (y, optional, in the
 * layout read), by the two above. */
static inline void FA_FN(cols_stats)(const T *x, size_t n, size_t inner, size_t w, T *m, T *buf,
                                     T *y, double *sm1)
{
    int nr;
    FA_FN(cols_max_pack_nr)(x, n, inner, w, m, buf, &nr);
    if (buf) FA_FN(cols_sumexp_m1_nr)(buf, n, w, w, m, y, sm1, nr);
    else FA_FN(cols_sumexp_m1_nr)(x, n, inner, w, m, y, sm1, nr);
}

/* dst[i, k] = src[i, k] * inv[k] over a column chunk (softmax's last
 * pass), rows sstride / dstride elements apart; src may be dst. */
static inline void FA_FN(cols_scale_to)(const T *src, size_t sstride, T *dst, size_t dstride,
                                        size_t n, size_t w, const double *inv)
{
#if FA_VEC
    FA_FN(vcols_scale_to)(src, sstride, dst, dstride, n, w, inv);
#else
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < w; k++) dst[i * dstride + k] = (T)((double)src[i * sstride + k] * inv[k]);
#endif
}

/* L[k] = log1p(L[k]) for k < w: a column chunk's s - 1 to log s, for
 * results whose error is bounded relative to L (log_softmax's
 * (x - m) - L, both terms <= 0).  float32: the vectorised series of
 * simd/log1p_series.h (< 2^-43 relative: < 2^-19 ULP of the float32
 * result; libm's scalar log1p took a third of log_softmax's time over 21
 * classes); float64: libm's. */
static inline void FA_FN(cols_log1p)(double *L, size_t w)
{
#if FA_DTYPE == 32
    fa_log1p_for_f32_tile(L, L, w);
#else
    for (size_t k = 0; k < w; k++) L[k] = log1p(L[k]);
#endif
}

/* dst[i, k] = (src[i, k] - m[k]) - L[k] over a column chunk. */
static inline void FA_FN(cols_log_softmax_out)(const T *src, size_t sstride, T *dst,
                                               size_t dstride, size_t n, size_t w, const T *m,
                                               const double *L)
{
#if FA_VEC
    FA_FN(vcols_log_softmax_out)(src, sstride, dst, dstride, n, w, m, L);
#else
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < w; k++)
            dst[i * dstride + k] = FA_FN(log_softmax_one)(src[i * sstride + k], m[k], L[k]);
#endif
}

/* Column chunks are copied into a contiguous stack buffer by their max pass
 * (the one that reads them from memory) when n rows of 16 columns fit in
 * FA_PACK_BYTES: the later passes then find them in L1/L2 whatever the
 * stride (a power-of-two stride maps a chunk's rows to the same cache sets,
 * more of them than the ways), and softmax writes y once.  Returns the
 * columns per packed block (a multiple of 16, <= FA_CHUNK), or 0. */
#define FA_PACK_BYTES 32768
static inline size_t FA_FN(pack_cols)(size_t n)
{
    size_t wp = n ? FA_PACK_BYTES / sizeof(T) / n / 16 * 16 : FA_CHUNK;
    return wp > FA_CHUNK ? FA_CHUNK : wp;
}

/* Both passes for w groups starting at x: one contiguous row when inner == 1
 * (then w == 1), else w <= FA_CHUNK columns of stride inner.  y (optional,
 * x's layout) receives the exponentials. */
static inline void FA_FN(group_stats)(const T *x, size_t n, size_t inner, size_t w, T *m,
                                      T *y, double *sm1)
{
    if (inner == 1) {
        sm1[0] = FA_FN(row_stats)(x, n, y, &m[0]);
    } else {
        FA_FN(cols_stats)(x, n, inner, w, m, NULL, y, sm1);
    }
}

/* cols(x, y, n, inner, w) on the columns c0 .. c1 - 1 of one outer index,
 * in chunks of w <= FA_CHUNK; y is advanced by the same column offset (x's
 * layout for the shape-preserving ops, one value per column for logsumexp). */
static inline void FA_FN(cols_range)(const T *x, T *y, size_t n, size_t inner, size_t c0,
                                     size_t c1,
                                     void (*cols)(const T *, T *, size_t, size_t, size_t))
{
    for (size_t c = c0; c < c1; c += FA_CHUNK)
        cols(x + c, y + c, n, inner, c1 - c < FA_CHUNK ? c1 - c : FA_CHUNK);
}

/* Shape-preserving ops: row(x, y, n) on every row when inner == 1, else
 * cols(x, y, n, inner, w) on chunks of w <= FA_CHUNK columns (y has x's
 * layout).  Static inline with constant callbacks: fully inlined. */
static inline void FA_FN(map_groups)(const T *x, T *y, size_t outer, size_t n, size_t inner,
                                     void (*row)(const T *, T *, size_t),
                                     void (*cols)(const T *, T *, size_t, size_t, size_t))
{
    if (n == 0) return;
    for (size_t o = 0; o < outer; o++) {
        const T *xo = x + o * n * inner;
        T *yo = y + o * n * inner;
        if (inner == 1) {
            row(xo, yo, n);
            continue;
        }
        FA_FN(cols_range)(xo, yo, n, inner, 0, inner, cols);
    }
}

/* 1 if the row (stride `stride`) holds a NaN: for the rare non-finite-max path. */
static inline int FA_FN(has_nan)(const T *x, size_t n, size_t stride)
{
    for (size_t j = 0; j < n; j++)
        if (x[j * stride] != x[j * stride]) return 1;
    return 0;
}

/* Gradient output pass of the fused losses (ops/cross_entropy_grad.c), on
 * the exponentials e = exp(x - m) that sumexp stored in y:
 *   y[j] = e_j * a - w_j * (b1 * q_j + b0)
 * (w: per-class weights or NULL = 1; q: per-class values of stride qs, or
 * NULL = 0), in double, rounded once to T.  Plain C the compiler
 * vectorises at every level (the b0 = 0 case without q is row_scale's).
 * Error: e_j * a and the subtracted term each within ~2^-52 relative in
 * double, so the result is within 0.5 ULP of T plus ~1e-16 of
 * max(|e_j a|, |w_j (b1 q_j + b0)|) beyond the error already in e and a. */
static inline void FA_FN(row_grad_out)(T *y, size_t n, double a, double b1, double b0,
                                       const double *w, const T *q, size_t qs)
{
    if (q && w)
        for (size_t j = 0; j < n; j++)
            y[j] = (T)((double)y[j] * a - w[j] * (b1 * (double)q[j * qs] + b0));
    else if (q)
        for (size_t j = 0; j < n; j++) y[j] = (T)((double)y[j] * a - (b1 * (double)q[j * qs] + b0));
    else if (w)
        for (size_t j = 0; j < n; j++) y[j] = (T)((double)y[j] * a - w[j] * b0);
    else
        for (size_t j = 0; j < n; j++) y[j] = (T)((double)y[j] * a - b0);
}

/* Column-chunk version: y[i, k] = e * a[k] - w_i * (b1[k] * q[i, k] + b0[k])
 * for k < nw, rows `inner` elements apart (q in y's layout). */
static inline void FA_FN(cols_grad_out)(T *y, size_t n, size_t inner, size_t nw,
                                        const double *a, const double *b1, const double *b0,
                                        const double *w, const T *q)
{
    for (size_t i = 0; i < n; i++) {
        T *yr = y + i * inner;
        double wi = w ? w[i] : 1.0;
        if (q) {
            const T *qr = q + i * inner;
            for (size_t k = 0; k < nw; k++)
                yr[k] = (T)((double)yr[k] * a[k] - wi * (b1[k] * (double)qr[k] + b0[k]));
        } else {
            for (size_t k = 0; k < nw; k++) yr[k] = (T)((double)yr[k] * a[k] - wi * b0[k]);
        }
    }
}
