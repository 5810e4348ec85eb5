/* Double-double arithmetic (value = hi + lo, ~106 bits) for the rare rows
 * where a float64 result cancels: logsumexp's m + log(s) with m < 0 and
 * log(s) close to -m.  Plain C (Dekker's product, no FMA needed); relies on
 * -ffp-contract=off like fa_math.h.  Speed does not matter here. */
#ifndef FA_DD_MATH_H
#define FA_DD_MATH_H

#include <math.h>
#include <stddef.h>

#include "simd/fa_math.h"

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

/* 2^(j/64), j = 0..63, as double-doubles (hi + lo within 2^-107). */
static const double fa_exp2_64_hi[64] = {
    0x1.0000000000000p+0, 0x1.02c9a3e778061p+0, 0x1.059b0d3158574p+0, 0x1.0874518759bc8p+0,
    0x1.0b5586cf9890fp+0, 0x1.0e3ec32d3d1a2p+0, 0x1.11301d0125b51p+0, 0x1.1429aaea92de0p+0,
    0x1.172b83c7d517bp+0, 0x1.1a35beb6fcb75p+0, 0x1.1d4873168b9aap+0, 0x1.2063b88628cd6p+0,
    0x1.2387a6e756238p+0, 0x1.26b4565e27cddp+0, 0x1.29e9df51fdee1p+0, 0x1.2d285a6e4030bp+0,
    0x1.306fe0a31b715p+0, 0x1.33c08b26416ffp+0, 0x1.371a7373aa9cbp+0, 0x1.3a7db34e59ff7p+0,
    0x1.3dea64c123422p+0, 0x1.4160a21f72e2ap+0, 0x1.44e086061892dp+0, 0x1.486a2b5c13cd0p+0,
    0x1.4bfdad5362a27p+0, 0x1.4f9b2769d2ca7p+0, 0x1.5342b569d4f82p+0, 0x1.56f4736b527dap+0,
    0x1.5ab07dd485429p+0, 0x1.5e76f15ad2148p+0, 0x1.6247eb03a5585p+0, 0x1.6623882552225p+0,
    0x1.6a09e667f3bcdp+0, 0x1.6dfb23c651a2fp+0, 0x1.71f75e8ec5f74p+0, 0x1.75feb564267c9p+0,
    0x1.7a11473eb0187p+0, 0x1.7e2f336cf4e62p+0, 0x1.82589994cce13p+0, 0x1.868d99b4492edp+0,
    0x1.8ace5422aa0dbp+0, 0x1.8f1ae99157736p+0, 0x1.93737b0cdc5e5p+0, 0x1.97d829fde4e50p+0,
    0x1.9c49182a3f090p+0, 0x1.a0c667b5de565p+0, 0x1.a5503b23e255dp+0, 0x1.a9e6b5579fdbfp+0,
    0x1.ae89f995ad3adp+0, 0x1.b33a2b84f15fbp+0, 0x1.b7f76f2fb5e47p+0, 0x1.bcc1e904bc1d2p+0,
    0x1.c199bdd85529cp+0, 0x1.c67f12e57d14bp+0, 0x1.cb720dcef9069p+0, 0x1.d072d4a07897cp+0,
    0x1.d5818dcfba487p+0, 0x1.da9e603db3285p+0, 0x1.dfc97337b9b5fp+0, 0x1.e502ee78b3ff6p+0,
    0x1.ea4afa2a490dap+0, 0x1.efa1bee615a27p+0, 0x1.f50765b6e4540p+0, 0x1.fa7c1819e90d8p+0,
};
static const double fa_exp2_64_lo[64] = {
    0x0.0p+0, -0x1.19083535b085dp-56, 0x1.d73e2a475b465p-55, 0x1.186be4bb284ffp-57,
    0x1.8a62e4adc610bp-54, 0x1.03a1727c57b53p-59, -0x1.6c51039449b3ap-54, -0x1.32fbf9af1369ep-54,
    -0x1.19041b9d78a76p-55, 0x1.e5b4c7b4968e4p-55, 0x1.e016e00a2643cp-54, 0x1.dc775814a8495p-55,
    0x1.9b07eb6c70573p-54, 0x1.2bd339940e9d9p-55, 0x1.612e8afad1255p-55, 0x1.0024754db41d5p-54,
    0x1.6f46ad23182e4p-55, 0x1.32721843659a6p-54, -0x1.63aeabf42eae2p-54, -0x1.5e436d661f5e3p-56,
    0x1.ada0911f09ebcp-55, -0x1.ef3691c309278p-58, 0x1.89b7a04ef80d0p-59, 0x1.3c1a3b69062f0p-56,
    0x1.d4397afec42e2p-56, -0x1.4b309d25957e3p-54, -0x1.07abe1db13cadp-55, 0x1.9bb2c011d93adp-54,
    0x1.6324c054647adp-54, 0x1.ba6f93080e65ep-54, -0x1.383c17e40b497p-54, -0x1.bb60987591c34p-54,
    -0x1.bdd3413b26456p-54, -0x1.bbe3a683c88abp-57, -0x1.16e4786887a99p-55, -0x1.0245957316dd3p-54,
    -0x1.41577ee04992fp-55, 0x1.05d02ba15797ep-56, -0x1.d4c1dd41532d8p-54, -0x1.fc6f89bd4f6bap-54,
    0x1.6e9f156864b27p-54, 0x1.5cc13a2e3976cp-55, -0x1.75fc781b57ebcp-57, -0x1.d185b7c1b85d1p-54,
    0x1.c7c46b071f2bep-56, -0x1.359495d1cd533p-54, -0x1.d2f6edb8d41e1p-54, 0x1.0fac90ef7fd31p-54,
    0x1.7a1cd345dcc81p-54, -0x1.2805e3084d708p-57, -0x1.5584f7e54ac3bp-56, 0x1.23dd07a2d9e84p-55,
    0x1.11065895048ddp-55, 0x1.2884dff483cadp-54, 0x1.503cbd1e949dbp-56, -0x1.cbc3743797a9cp-54,
    0x1.2ed02d75b3707p-55, 0x1.c2300696db532p-54, -0x1.1a5cd4f184b5cp-54, 0x1.39e8980a9cc8fp-55,
    -0x1.e9c23179c2893p-54, 0x1.dc7f486a4b6b0p-54, 0x1.9d3e12dd8a18bp-54, 0x1.74853f3a5931ep-55,
};

/* exp(hi + lo) for hi <= 0 as an unevaluated sum e.hi + e.lo, relative
 * error below ~2^-59 (0 once the result is below 2^-1022, which cannot
 * matter beside a sum >= 1): 20x cheaper than fa_dd_exp_nonpos.
 * k = round(64 (hi + lo) / ln2); r = hi + lo - k ln2/64 with ln2/64 in three
 * parts (k times the first, 32 bits, and its subtraction exact), |r| <=
 * 0.0055, rounded once (2^-53 |r| <= 2^-60.5); exp(r) - 1 = p by the
 * Taylor polynomial of degree 6 (truncation 2^-65); e = 2^(k/64) (1 + p) as
 * T_hi + (T_hi p + T_lo), scaled by 2^floor(k/64). */
static inline fa_dd fa_dd_exp_table(double hi, double lo)
{
    fa_dd zero = {0.0, 0.0};
    if (!(hi > -708.0)) return zero;
    double kd = nearbyint(hi * 0x1.71547652b82fep+6);
    double r = ((hi - kd * 0x1.62e42fee00000p-7) - kd * 0x1.a39ef35793c76p-39) +
               (lo - kd * 0x1.cc01f97b57a08p-93);
    double q = 1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0));
    double p = r + (r * r) * (0.5 + r * (1.0 / 6.0 + r * q));
    long long k = (long long)kd;
    int j = (int)(k & 63);                    /* two's complement: k mod 64 */
    long long e2 = (k - j) / 64;              /* exact: floor(k / 64) */
    double scale = fa_from_bits((uint64_t)(1023 + e2) << 52); /* e2 >= -1022 */
    fa_dd e = {fa_exp2_64_hi[j] * scale, (fa_exp2_64_hi[j] * p + fa_exp2_64_lo[j]) * scale};
    return e;
}

/* r = m + L finished in double-double from s - 1 = (S, C): L0 = log1p,
 * refined by one Newton step L += (1 + (s - 1)) exp(-L0) - 1. */
static inline double fa_dd_lse_finish(fa_dd s, double m)
{
    double L0 = log1p(s.hi + s.lo);
    fa_dd one = {1.0, 0.0};
    fa_dd u = fa_dd_mul(fa_dd_add(one, s), fa_dd_exp_nonpos(-L0, 0.0));
    fa_dd L = fa_dd_two_sum(L0, (u.hi - 1.0) + u.lo);
    fa_dd r = fa_dd_two_sum(m, L.hi);
    return r.hi + (r.lo + L.lo);
}

/* logsumexp of a float64 group (n elements `stride` apart, finite max m)
 * with s - 1 accurate to ~2^-58 relative (fa_dd_exp_table, TwoSum of the
 * leading parts): L is then within ~2^-58 absolute, r = m + L within 1 ULP
 * for |r| >= 2^-5.  For the groups where m + L cancels; smaller results
 * take fa_dd_logsumexp. */
static inline double fa_lse_accurate(const double *x, size_t n, size_t stride, double m)
{
    double S = -1.0, C = 0.0;
    for (size_t j = 0; j < n; j++) {
        double lo, hi = fa_two_diff(x[j * stride], m, &lo);
        fa_dd e = fa_dd_exp_table(hi, lo);
        fa_acc(&S, &C, e.hi);
        C += e.lo;
    }
    return fa_dd_lse_finish(fa_dd_two_sum(S, C), m);
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
    return fa_dd_lse_finish(s, m);
}

#endif /* FA_DD_MATH_H */
