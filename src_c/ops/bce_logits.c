/* Op template (instantiated per dtype and level, ops/instantiate.h): binary
 * cross-entropy with logits (PyTorch's binary_cross_entropy_with_logits),
 * element-wise over the flat range [i0, i1) of x's C-order elements, with
 * optionally the gradient in the same pass.  Element i sits in row
 * o = i / C, column c = i % C of an (outer, C) view; its weight is
 * w[o * w_row + c * w_col] and its pos_weight pw[o * p_row + c * p_col]
 * (NULL: 1), which covers None, a scalar, the full shape, (C,) and (N, 1)
 * without materialising anything.
 *
 * With e = exp(-|x|) in (0, 1] (never overflows), lw = 1 + (pw - 1) y
 * (computed as (1 - y) + pw y: no cancellation) and
 * softplus(-x) = log1p(e) + max(-x, 0), PyTorch's
 *   l = w [(1 - y) x + lw softplus(-x)]
 * is evaluated as the algebraically identical
 *   l = w [a |x| + lw log1p(e)],  a = x >= 0 ? 1 - y : pw y
 * (for x < 0: (1 - y) x - lw x = -x (lw - 1 + y) = |x| pw y), a sum of two
 * non-negative terms for y in [0, 1] and pw >= 0: no cancellation, so
 * every loss (also a confident, correct one, ~1e-10) keeps full relative
 * accuracy, and x = +-1e4 gives 1e4 (or e ~ 0) without overflow.  A zero
 * coefficient a with |x| = inf contributes 0 (the limit; PyTorch's
 * (1 - y) x gives 0 * inf = NaN there).  Targets outside [0, 1] follow the
 * same formula.
 *
 * Gradient (PyTorch's order): s = sigmoid(x) from the same e
 * (x >= 0 ? 1 / (1 + e) : e / (1 + e)); without pos_weight
 * dx = g_i w (s - y), with it t = pw y, dx = g_i w ((t + 1 - y) s - t);
 * g_i = gvec[i] when given, else g (the caller divides by numel for "mean").
 *
 * Everything is computed in double for both dtypes (float32 rounded once at
 * the store).  The exponential is the level's vector exp of float64 (as
 * sigmoid's, simd/<isa>.h through the traits expn / loadu / storeu /
 * load_part / store_part; the portable one of fa_math.h at the scalar
 * level); log1p is a series in plain C the compiler vectorises
 * (bce_log1p_tile: float64's with the quotient corrected to ~0.5 ULP,
 * float32's shorter).  Error of the float64 loss: e within 1 ULP, log1p(e) within 1 ULP
 * of log1p of the exact e (the series ~0.5 ULP; e's relative error is damped by
 * e / ((1 + e) log1p(e)) <= 1), the two products and the sum 0.5 ULP each:
 * a few ULP in theory, measured <= 1.68 without weights, 2.48 with w,
 * 3.72 with w and pw (tests/test_bce.py).  float32: the
 * float64 result rounded once, <= 0.5 ULP + 2^-40.  The gradient's
 * subtraction cancels when s ~ y: its error is bounded relative to the
 * larger of the two terms, not to the result.
 *
 * *sum (when sum is not NULL): the range's losses in TwoSum-compensated double accumulators, eight
 * lanes (element j of a tile to lane j % 8) combined in lane order at the
 * end: the same order for the same range whatever the thread count. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/bce_logits.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"
#include "simd/fa_math.h"
#include "simd/dd_math.h"
#include "simd/log1p_series.h"
#include "ops/exp_tile.h"

#define FA_BCE_LANES 8

#if FA_DTYPE == 32
/* l[j] = log1p(e[j]) for e[j] in [0, 1] (or NaN), float32's: plain C the
 * compiler vectorises (libm's log1p is one call per element, ~3/4 of the
 * kernel's time).  log1p(e) = k ln2 + log(v), v = (1 + e) / 2^k in
 * [0.85, 1.42] (k = 1 for e > sqrt2 - 1), log(v) = 2 atanh(z) with
 * z = e / (2 + e) or (e - 1) / (e + 3) (no 1 + e formed: small e keeps its
 * relative accuracy), |z| <= 0.1716, and the atanh series to z^15
 * (simd/log1p_series.h: < 2^-44 relative): invisible after the float32
 * rounding (the loss stays <= 0.5 ULP + 2^-40). */
static inline void FA_FN(bce_log1p_tile)(const double *e, double *l, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        double ej = e[j];
        int hi = ej > 0.41421356237309503;
        double z = (hi ? ej - 1.0 : ej) / (hi ? ej + 3.0 : ej + 2.0);
        l[j] = (hi ? 0.69314718055994531 : 0.0) + fa_atanh2_z15(z);
    }
}
#endif

#if FA_DTYPE == 64
/* l[j] = log1p(e[j]) for e[j] in [0, 1] (or NaN), float64's, in plain C
 * the compiler vectorises (replaces libm's per-element call).
 * log1p(e) = k ln2 + 2 atanh(z): k = 0, z = e / (2 + e) for e <= 1/2, else
 * k = 1, z = (e - 1) / (e + 3) (e - 1 exact by Sterbenz), |z| <= 0.2.  The
 * denominator's rounding is caught by Fast2Sum (d + dl exactly) and the
 * quotient's by an exact product (Veltkamp/Dekker, no FMA needed):
 * z + zl is the exact quotient to ~2^-104 relative.  Then
 * 2 atanh = 2 z + 2 zl + 2 z^3 P(z^2), P the series to z^24 / 25
 * (truncation < z^24 / 27 < 2^-60 relative), its roundings damped by
 * z^2 / 3 <= 2^-6.  With k = 1, ln2 = hi + lo and hi + 2 z by Fast2Sum.
 * Result: the final addition's 0.5 ULP plus < 2^-57 relative (measured in
 * tests/test_bce.py through the loss). */
static inline void FA_FN(bce_log1p_tile)(const double *e, double *l, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        double ej = e[j];
        int hi = ej > 0.5;
        double num = hi ? ej - 1.0 : ej;
        double base = hi ? 3.0 : 2.0;
        fa_dd den = fa_dd_fast_two_sum(base, ej); /* base >= ej */
        double d = den.hi, dl = den.lo;
        double z = num / d;
        fa_dd zd = fa_dd_two_prod(z, d); /* r = num - z * d exactly */
        double r = (num - zd.hi) - zd.lo;
        double zl = (r - z * dl) / d;
        double z2 = z * z;
        double p = 1.0 / 25;
        p = p * z2 + 1.0 / 23;
        p = p * z2 + 1.0 / 21;
        p = p * z2 + 1.0 / 19;
        p = p * z2 + 1.0 / 17;
        p = p * z2 + 1.0 / 15;
        p = p * z2 + 1.0 / 13;
        p = p * z2 + 1.0 / 11;
        p = p * z2 + 1.0 / 9;
        p = p * z2 + 1.0 / 7;
        p = p * z2 + 1.0 / 5;
        p = p * z2 + 1.0 / 3;
        double tz = 2.0 * z;
        double tail = 2.0 * zl + tz * (z2 * p);
        double kh = hi ? 0.69314718055994529 : 0.0;      /* ln2 high part */
        double kl = hi ? 2.3190468138462996e-17 : 0.0;   /* ln2 - kh */
        double sh = kh + tz;
        double se = hi ? (kh - sh) + tz : 0.0; /* Fast2Sum: |kh| >= |tz| when hi */
        l[j] = sh + ((se + kl) + tail);
    }
}
#endif

/* v[j] = a[(o, c) of element i0 + j] for j < n, (o, c) advanced through the
 * rows of length C: the weights of a tile. */
static inline void FA_FN(bce_gather)(const T *a, size_t a_row, size_t a_col, size_t C,
                                     size_t o, size_t c, double *v, size_t n)
{
    if (a_col == 1 && a_row == C) { /* the full shape: contiguous */
        const T *p = a + o * C + c;
        for (size_t j = 0; j < n; j++) v[j] = (double)p[j];
        return;
    }
    for (size_t j = 0; j < n; j++) {
        v[j] = (double)a[o * a_row + c * a_col];
        if (++c == C) {
            c = 0;
            o++;
        }
    }
}

static void FA_FN(bce_logits_typed)(const T *x, const T *y, const T *w, size_t w_row,
                                    size_t w_col, const T *pw, size_t p_row, size_t p_col,
                                    size_t C, size_t i0, size_t i1, double g, const T *gvec,
                                    T *dx, T *loss, double *sum)
{
    double e[FA_TILE], l[FA_TILE], wt[FA_TILE], pt[FA_TILE];
    double s[FA_BCE_LANES], sc[FA_BCE_LANES];
    for (int k = 0; k < FA_BCE_LANES; k++) s[k] = sc[k] = 0.0;
    size_t o = C ? i0 / C : 0, c = C ? i0 % C : 0;
    for (size_t b = i0; b < i1; b += FA_TILE) {
        size_t n = i1 - b < FA_TILE ? i1 - b : FA_TILE;
        const T *xs = x + b, *ys = y + b;
        for (size_t j = 0; j < n; j++) e[j] = -fabs((double)xs[j]);
        FA_FN(exp_tile_d)(e, n, 1);
        if (w) FA_FN(bce_gather)(w, w_row, w_col, C, o, c, wt, n);
        if (pw) FA_FN(bce_gather)(pw, p_row, p_col, C, o, c, pt, n);
        if (w || pw) {
            size_t cc = c + n % C, oo = o + n / C;
            if (cc >= C) {
                cc -= C;
                oo++;
            }
            o = oo;
            c = cc;
        }
        FA_FN(bce_log1p_tile)(e, l, n);
        for (size_t j = 0; j < n; j++) {
            double xj = (double)xs[j], yj = (double)ys[j], ax = fabs(xj);
            double pj = pw ? pt[j] : 1.0;
            /* lw = 1 + (pw - 1) y as (1 - y) + pw y: two non-negative terms
             * for y in [0, 1], pw >= 0 (the literal form cancels for pw ~ 0,
             * y ~ 1: measured 50 ULP off) */
            double lw = pw ? (1.0 - yj) + pj * yj : 1.0;
            double a = xj >= 0 ? 1.0 - yj : pj * yj;
            /* a = 0 with |x| = inf: the limit 0, not 0 * inf */
            double lin = a == 0.0 ? 0.0 : a * ax;
            double lj = lin + lw * l[j];
            if (w) lj *= wt[j];
            l[j] = lj;
        }
        if (loss)
            for (size_t j = 0; j < n; j++) loss[b + j] = (T)l[j];
        if (dx) {
            /* dx may be x itself: every x and y of the tile was read above;
             * each element's gradient only needs its own x, y, e. */
            for (size_t j = 0; j < n; j++) {
                double xj = (double)xs[j], yj = (double)ys[j], ej = e[j];
                double sg = (xj >= 0 ? 1.0 : ej) / (1.0 + ej);
                double gj = gvec ? (double)gvec[b + j] : g;
                double d;
                if (pw) {
                    double t = pt[j] * yj;
                    d = ((t + 1.0) - yj) * sg - t;
                } else {
                    d = sg - yj;
                }
                if (w) d *= wt[j];
                dx[b + j] = (T)(d * gj);
            }
        }
        if (sum) {
            for (size_t j = n; j % FA_BCE_LANES; j++) l[j] = 0.0;
            for (size_t j = 0; j < n; j += FA_BCE_LANES)
                for (int k = 0; k < FA_BCE_LANES; k++) fa_acc(&s[k], &sc[k], l[j + k]);
        }
    }
    if (sum) {
        double S = 0.0, Sc = 0.0;
        for (int k = 0; k < FA_BCE_LANES; k++) fa_acc(&S, &Sc, fa_acc_value(s[k], sc[k]));
        *sum = fa_acc_value(S, Sc);
    }
}

void FA_FN(bce_logits)(const void *x, const void *y, const void *w, size_t w_row, size_t w_col,
                       const void *pw, size_t p_row, size_t p_col, size_t C, size_t i0,
                       size_t i1, double g, const void *gvec, void *dx, void *loss, double *sum)
{
    FA_FN(bce_logits_typed)((const T *)x, (const T *)y, (const T *)w, w_row, w_col,
                            (const T *)pw, p_row, p_col, C, i0, i1, g, (const T *)gvec,
                            (T *)dx, (T *)loss, sum);
}
#endif /* FA_TEMPLATE */
