/* Scalar numerical helpers shared by the portable kernels.  Written so that
 * GCC/Clang vectorise loops calling them (branch-free selects, integer bit
 * manipulation instead of float->int conversions). Build with
 * -ffp-contract=off: several of these rely on each operation rounding once. */
#ifndef FA_MATH_H
#define FA_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Independent accumulators per loop: wide enough for one AVX-512 vector of
 * doubles, and to hide the latency of the summation chains. */
#define FA_LANES 8
/* Columns processed together when the reduced axis is not the last one. */
#define FA_CHUNK 64

/* NaN-propagating maximum: the result is NaN if either argument is. */
static inline float fa_pmax_f32(float m, float x) { return (m >= x || m != m) ? m : x; }
static inline double fa_pmax_f64(double m, double x) { return (m >= x || m != m) ? m : x; }

static inline uint64_t fa_bits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double fa_from_bits(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* x - m as an unevaluated sum hi + lo with no rounding error (Knuth's TwoSum,
 * valid for any order of magnitudes).  Rounding x - m to a double costs up to
 * |x - m| * 2^-53 of relative error in exp(x - m): ~100 ULP for |x - m| ~ 700;
 * carrying lo into the exponential removes it.  lo is set to 0 when hi is
 * below -1000 (exp underflows there anyway), so that -inf inputs do not make
 * lo NaN. */
static inline double fa_two_diff(double x, double m, double *lo)
{
    double hi = x - m;
    double xv = hi + m;
    double mv = xv - hi;
    double err = (x - xv) + (mv - m);
    *lo = (hi > -1000.0) ? err : 0.0;
    return hi;
}

/* float32 inputs are reduced in double: x - m then has a relative error below
 * 2^-53, i.e. at most ~1e-14 relative after exp, far below a float32 ULP. */
static inline double fa_diff_f32(double x, double m, double *lo)
{
    *lo = 0.0;
    return x - m;
}

/* exp(x + xlo) for x <= 0 (including -inf), or NaN; |xlo| <= ulp(x).
 * k = round(x / ln 2) through the 1.5 * 2^52 shifter (no float->int
 * conversion), r = (x - k ln2_hi) - k ln2_lo + xlo with a Cody-Waite split
 * (k ln2_hi and the first subtraction are exact), |r| <= 0.3466.  exp(r) is
 * its Taylor polynomial of degree 13: truncation < 2^-62 relative.  The scale
 * 2^k is applied as two normal factors so that a subnormal result is rounded
 * once.  Error below 1 ULP over [-746, 0]; results below 2^-1075 round to 0. */
static inline double fa_exp_nonpos(double x, double xlo)
{
    const double shifter = 0x1.8p52;
    const double log2e = 0x1.71547652b82fep0;
    const double ln2_hi = 0x1.62e42fee00000p-1; /* 32 significant bits */
    const double ln2_lo = 0x1.a39ef35793c76p-33;
    x = (x < -746.0) ? -746.0 : x; /* exp(-746) < 2^-1075 rounds to 0 */
    double kf = x * log2e + shifter;
    uint64_t nk = fa_bits(shifter) - fa_bits(kf); /* -k, in [0, 1077] */
    kf -= shifter;
    double r = (x - kf * ln2_hi) - kf * ln2_lo;
    r += xlo;
    double p = 1.0 / 6227020800.0;     /* 1/13! */
    p = p * r + 1.0 / 479001600.0;     /* 1/12! */
    p = p * r + 1.0 / 39916800.0;      /* 1/11! */
    p = p * r + 1.0 / 3628800.0;       /* 1/10! */
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t a = nk >> 1, b = nk - a; /* 2^-k = 2^-a * 2^-b, both normal */
    double s1 = fa_from_bits((uint64_t)(1023 - a) << 52);
    double s2 = fa_from_bits((uint64_t)(1023 - b) << 52);
    return (p * s1) * s2;
}

/* Neumaier's compensated step for non-negative terms: s + c tracks the exact
 * sum to ~1 ULP regardless of the number of terms. */
static inline void fa_acc(double *s, double *c, double t)
{
    double u = *s + t;
    *c += (*s >= t) ? (*s - u) + t : (t - u) + *s;
    *s = u;
}

/* The same for terms of any sign (weighted losses may be negative). */
static inline void fa_acc_any(double *s, double *c, double t)
{
    double u = *s + t;
    *c += (fabs(*s) >= fabs(t)) ? (*s - u) + t : (t - u) + *s;
    *s = u;
}

/* The value of a compensated sum (s, c).  Once s is infinite the
 * compensation is NaN (inf - inf) and must be dropped. */
static inline double fa_acc_value(double s, double c) { return isfinite(s) ? s + c : s; }

#endif /* FA_MATH_H */
