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
/* Columns processed together when the reduced axis is not the last one:
 * 256 contiguous elements per row (1-2 KiB), so that the first pass over a
 * chunk streams through memory row segment by row segment. */
#define FA_CHUNK 256
/* Elements per tile of a row: the exponentials of a tile are formed in a
 * simple map loop (which the compiler vectorises), then summed. */
#define FA_TILE 256

/* For the exponentials over nv vectors and the pass steps that call them
 * (nv a constant at each call site): only inlined does the loop over nv
 * become straight-line code with the vectors in registers.  GCC's inliner
 * gives up on them once a unit has enough callers: the masked passes' two
 * extra ones made the float64 avx2 exponential an out-of-line call with its
 * operands in memory (callgrind, softmax float64 rows: +8-12% instructions
 * against 0f74995; forced inline: -8%), and forcing only the exponential
 * left the steps out of line with nv a variable (cross_entropy float32 +33%).
 * So the choice is not left to it. */
#if defined(_MSC_VER)
#define FA_ALWAYS_INLINE static __forceinline
#define FA_NOINLINE static __declspec(noinline)
#else
#define FA_ALWAYS_INLINE static inline __attribute__((always_inline))
#define FA_NOINLINE static __attribute__((noinline))
#endif
/* FA_NOINLINE: a rare path kept out of its hot caller, whose code (and
 * vectorisation) would otherwise change with it. */

/* Running maximum that skips NaN (the maxps/maxpd idiom).  NaN inputs are
 * caught later: they make the sum of exponentials NaN. */
static inline float fa_max_f32(float m, float x) { return x > m ? x : m; }
static inline double fa_max_f64(double m, double x) { return x > m ? x : m; }

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
 * (k ln2_hi and the first subtraction are exact), |r| <= 0.3466.
 * exp(r) is its Taylor polynomial 1 + r + r^2/2 + r^3/6 + r^4 Q(r): the
 * first terms by Horner (their rounding errors stay below 1 ULP), the
 * tail Q by Estrin's scheme (short dependency chains; its errors are scaled
 * by r^4 < 0.015).  `degree` 13 truncates at < 2^-62 relative (float64
 * kernels: exp error below 1 ULP); degree 9 at < 2^-37 (float32 kernels,
 * which only need ~2^-30).  The scale 2^k is applied as two normal factors
 * so that a subnormal result is rounded once; below 2^-1075 it is 0. */
static inline double fa_exp_nonpos_deg(double x, double xlo, int degree)
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
    double r2 = r * r, r4 = r2 * r2;
    double q45 = 1.0 / 24.0 + r * (1.0 / 120.0);
    double q67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    double q89 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    double q;
    if (degree >= 13) {
        double q1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
        double q1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
        q = (q45 + r2 * q67) + r4 * ((q89 + r2 * q1011) + r4 * q1213);
    } else {
        q = (q45 + r2 * q67) + r4 * q89;
    }
    /* 1 + (r + r^2 (...)): the sum r + r^2(...) (|.| < 0.42) rounds at a quarter
     * of the result's ULP or less, then one rounding of 1 + t: < 0.8 ULP. */
    double p = 1.0 + (r + r2 * (0.5 + r * ((1.0 / 6.0) + r * q)));
    uint64_t a = nk >> 1, b = nk - a; /* 2^-k = 2^-a * 2^-b, both normal */
    double s1 = fa_from_bits((uint64_t)(1023 - a) << 52);
    double s2 = fa_from_bits((uint64_t)(1023 - b) << 52);
    return (p * s1) * s2;
}

static inline double fa_exp_nonpos_f32(double x, double xlo) { return fa_exp_nonpos_deg(x, xlo, 9); }
static inline double fa_exp_nonpos_f64(double x, double xlo) { return fa_exp_nonpos_deg(x, xlo, 13); }

/* Compensated summation: (s, c) += t with the rounding error of s + t
 * captured exactly by TwoSum (no branch or select, so it vectorises), for
 * terms of any sign.  s + c then tracks the exact sum to ~1 ULP whatever the
 * number of terms. */
static inline void fa_acc(double *s, double *c, double t)
{
    double u = *s + t;
    double tv = u - *s;
    double sv = u - tv;
    *c += (*s - sv) + (t - tv);
    *s = u;
}

/* The value of a compensated sum (s, c).  Once s is infinite the
 * compensation is NaN (inf - inf) and must be dropped. */
static inline double fa_acc_value(double s, double c) { return isfinite(s) ? s + c : s; }

#endif /* FA_MATH_H */
