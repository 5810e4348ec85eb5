/* log1p in double, accurate enough for results rounded to float32: plain C
 * the compiler vectorises (a loop over a tile), in place of libm's log1p,
 * one call of ~12-20 ns per element, which costs more than the float32
 * passes of a short row or a column of a few classes. */
#ifndef FA_LOG1P_SERIES_H
#define FA_LOG1P_SERIES_H
#include <stdint.h>
#include <string.h>

/* 2 atanh(z) for |z| <= 0.1716 (3 - 2 sqrt2): 2z + 2z^3 (1/3 + ... + z^12 / 15),
 * the atanh series to z^15; the truncation is < z^16 / 17 < 2^-44
 * relative, the roundings a few 2^-53 (damped by z^2 / 3 <= 2^-6 inside the
 * polynomial). */
static inline double fa_atanh2_z15(double z)
{
    double z2 = z * z;
    double p = 1.0 / 15;
    p = p * z2 + 1.0 / 13;
    p = p * z2 + 1.0 / 11;
    p = p * z2 + 1.0 / 9;
    p = p * z2 + 1.0 / 7;
    p = p * z2 + 1.0 / 5;
    p = p * z2 + 1.0 / 3;
    double tz = 2.0 * z;
    return tz + tz * (z2 * p);
}

/* log1p(t) for t >= 0, +inf or NaN (t = s - 1 of a softmax sum: never
 * negative; a negative t gives an unspecified value), relative error
 * < 2^-43.  u = 1 + t rounded, u = 2^k v with v in [sqrt(1/2), sqrt2) read
 * off its bits.  k = 0 (t < sqrt2 - 1, to a rounding): 2 atanh(t / (2 + t)),
 * no 1 + t used, so a small t keeps its relative accuracy.  k >= 1:
 * log u = k ln2 + 2 atanh((v - 1) / (v + 1)), v - 1 exact (Sterbenz), the
 * two terms of one sign or |2 atanh| <= 0.35 < k ln2 (no cancellation);
 * u's rounding moves log u by <= 2^-53 absolute, < 2^-51 relative as
 * log u >= 0.34.  |z| <= 0.1716 either way (fa_atanh2_z15: < 2^-44).  So a
 * float32 result y = (x - m) - L, both terms <= 0, moves by < 2^-43 |y|,
 * 2^-19 ULP of y. */
static inline double fa_log1p_for_f32(double t)
{
    const double sqrt_half = 0.70710678118654752;
    const double ln2 = 0.69314718055994531;
    double u = 1.0 + t;
    uint64_t ub, hb, vb;
    memcpy(&ub, &u, sizeof ub);
    memcpy(&hb, &sqrt_half, sizeof hb);
    /* u >= 1 > sqrt(1/2): the difference of the encodings is >= 0 and its
     * exponent field is k (+inf: k = 1025; NaN: anything, masked below) */
    int k = (int)((ub - hb) >> 52);
    vb = ub - ((uint64_t)k << 52);
    double v;
    memcpy(&v, &vb, sizeof v);
    /* k = 0: u < sqrt2, t < sqrt2 - 1 (to a rounding) */
    double num = k ? v - 1.0 : t, den = k ? v + 1.0 : 2.0 + t;
    double r = (double)k * ln2 + fa_atanh2_z15(num / den);
    return t <= 1.7976931348623157e308 ? r : t; /* +inf and NaN pass through */
}

/* l[j] = fa_log1p_for_f32(t[j]) for j < n (l may be t). */
static inline void fa_log1p_for_f32_tile(const double *t, double *l, size_t n)
{
    for (size_t j = 0; j < n; j++) l[j] = fa_log1p_for_f32(t[j]);
}

#endif /* FA_LOG1P_SERIES_H */
