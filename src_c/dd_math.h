/* Double-double arithmetic (value = hi + lo, ~106 bits) for the rare rows
 * where a float64 result cancels: logsumexp's m + log(s) with m < 0 and
 * log(s) close to -m.  Plain C (Dekker's product, no FMA needed); relies on
 * -ffp-contract=off like fa_math.h.  Speed does not matter here. */
#ifndef FA_DD_MATH_H
#define FA_DD_MATH_H

#include <math.h>
#include <stddef.h>

#include "fa_math.h"

typedef struct {
    double hi, lo;
} fa_dd;

static inline fa_dd fa_dd_two_sum(double a, double b)
{
    double s = a + b, bb = s - a;
    fa_dd r = {s, (a - (s - bb)) + (b - bb)};
    return r;
}

static inline fa_dd fa_dd_fast_two_sum(double a, double b) /* |a| >= |b| */
{
    double s = a + b;
    fa_dd r = {s, b - (s - a)};
    return r;
}

static inline fa_dd fa_dd_two_prod(double a, double b)
{
    const double split = 134217729.0; /* 2^27 + 1: Dekker's splitting */
    double p = a * b;
    double ta = split * a, ah = ta - (ta - a), al = a - ah;
    double tb = split * b, bh = tb - (tb - b), bl = b - bh;
    fa_dd r = {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
    return r;
}

static inline fa_dd fa_dd_add(fa_dd a, fa_dd b)
{
    fa_dd s = fa_dd_two_sum(a.hi, b.hi);
    s.lo += a.lo + b.lo;
    return fa_dd_fast_two_sum(s.hi, s.lo);
}

static inline fa_dd fa_dd_mul(fa_dd a, fa_dd b)
{
    fa_dd p = fa_dd_two_prod(a.hi, b.hi);
    p.lo += a.hi * b.lo + a.lo * b.hi;
    return fa_dd_fast_two_sum(p.hi, p.lo);
}

static inline double fa_dd_value(fa_dd a) { return a.hi + a.lo; }

/* a / b to ~2^-104 relative: the quotient of the leading parts, corrected
 * once with the remainder a - q b formed in double-double. */
static inline fa_dd fa_dd_div(fa_dd a, fa_dd b)
{
    double q = a.hi / b.hi;
    fa_dd nq = {-q, 0.0};
    fa_dd r = fa_dd_add(a, fa_dd_mul(nq, b));
    return fa_dd_fast_two_sum(q, r.hi / b.hi);
}

/* 1/i! as double-doubles, i = 0..20 */
static const double fa_dd_inv_fact[21][2] = {
    {0x1.0000000000000p+0, 0x0.0p+0},
    {0x1.0000000000000p+0, 0x0.0p+0},
    {0x1.0000000000000p-1, 0x0.0p+0},
    {0x1.5555555555555p-3, 0x1.5555555555555p-57},
    {0x1.5555555555555p-5, 0x1.5555555555555p-59},
    {0x1.1111111111111p-7, 0x1.1111111111111p-63},
    {0x1.6c16c16c16c17p-10, -0x1.f49f49f49f49fp-65},
    {0x1.a01a01a01a01ap-13, 0x1.a01a01a01a01ap-73},
    {0x1.a01a01a01a01ap-16, 0x1.a01a01a01a01ap-76},
    {0x1.71de3a556c734p-19, -0x1.c154f8ddc6c00p-73},
    {0x1.27e4fb7789f5cp-22, 0x1.cbbc05b4fa99ap-76},
    {0x1.ae64567f544e4p-26, -0x1.c062e06d1f209p-80},
    {0x1.1eed8eff8d898p-29, -0x1.2aec959e14c06p-83},
    {0x1.6124613a86d09p-33, 0x1.f28e0cc748ebep-87},
    {0x1.93974a8c07c9dp-37, 0x1.05d6f8a2efd1fp-92},
    {0x1.ae7f3e733b81fp-41, 0x1.1d8656b0ee8cbp-97},
    {0x1.ae7f3e733b81fp-45, 0x1.1d8656b0ee8cbp-101},
    {0x1.952c77030ad4ap-49, 0x1.ac981465ddc6cp-103},
    {0x1.6827863b97d97p-53, 0x1.eec01221a8b0bp-107},
    {0x1.2f49b46814157p-57, 0x1.2650f61dbdcb4p-112},
    {0x1.e542ba4020225p-62, 0x1.ea72b4afe3c2fp-120},
};

/* exp(hi + lo) as a double-double, for hi + lo <= 0.  k = round((hi) / ln 2),
 * r = hi + lo - k ln2 with ln2 in three parts (the first two times k are
 * exact), |r| <= 0.35; Taylor to degree 20 in double-double (truncation
 * 2^-98); times 2^k.  Relative error ~2^-100 while the result is normal. */
static inline fa_dd fa_dd_exp_nonpos(double hi, double lo)
{
    fa_dd zero = {0.0, 0.0};
    if (!(hi > -746.0)) return zero;
    double k = nearbyint(hi * 0x1.71547652b82fep0);
    fa_dd r = fa_dd_two_sum(hi - k * 0x1.62e42fee00000p-1, -k * 0x1.a39ef35600000p-33);
    r.lo += lo - k * 0x1.93c7673007e5fp-65;
    r = fa_dd_fast_two_sum(r.hi, r.lo);
    fa_dd p = {fa_dd_inv_fact[20][0], fa_dd_inv_fact[20][1]};
    for (int i = 19; i >= 0; i--) {
        fa_dd c = {fa_dd_inv_fact[i][0], fa_dd_inv_fact[i][1]};
        p = fa_dd_add(fa_dd_mul(p, r), c);
    }
    p.hi = ldexp(p.hi, (int)k);
    p.lo = ldexp(p.lo, (int)k);
    return p;
}

/* logsumexp of a float64 group (n elements `stride` apart, finite max m)
 * carried in double-double to the end: the sum s - 1 of exp(x - m) (x - m
 * exact by TwoSum), L = log1p(s - 1) refined by one Newton step
 * L += (1 + (s - 1)) exp(-L) - 1, and m + L rounded once.  For the rows where
 * m + L cancels; ~1 ULP however small the result. */
static inline double fa_dd_logsumexp(const double *x, size_t n, size_t stride, double m)
{
    fa_dd s = {-1.0, 0.0};
    for (size_t j = 0; j < n; j++) {
        double lo, hi = fa_two_diff(x[j * stride], m, &lo);
        s = fa_dd_add(s, fa_dd_exp_nonpos(hi, lo));
    }
    double L0 = log1p(s.hi + s.lo);
    fa_dd one = {1.0, 0.0};
    fa_dd u = fa_dd_mul(fa_dd_add(one, s), fa_dd_exp_nonpos(-L0, 0.0));
    fa_dd L = fa_dd_two_sum(L0, (u.hi - 1.0) + u.lo);
    fa_dd r = fa_dd_two_sum(m, L.hi);
    return r.hi + (r.lo + L.lo);
}

#endif /* FA_DD_MATH_H */
