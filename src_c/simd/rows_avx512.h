/* Hand-written AVX-512 row passes that the kernel templates use at the
 * avx512 level in place of the portable ones (ops/passes.h, FA_HAND).
 * Included inside the AVX-512 target region of ops/instantiate.h.  Same
 * contracts as the portable versions:
 *   row_max:             max of the row, NaN skipped;
 *   row_sumexp_m1:       s - 1 with s = sum exp(x - m), maxima counted
 *                        exactly, optionally storing exp(x - m) to y;
 *   row_scale:           y *= inv;
 *   row_log_softmax_out: y = (x - m) - L;
 *   exp_row:             y = exp(d) (the tests' sweep of the exponential).
 * Tails use masked loads and stores (no scalar loop). */
#ifndef FA_ROWS_AVX512_H
#define FA_ROWS_AVX512_H

#include <immintrin.h>
#include <stddef.h>

#include "simd/fa_math.h"

static inline __mmask16 fa_tail16(size_t rem) { return (__mmask16)((1u << rem) - 1u); }
static inline __mmask8 fa_tail8(size_t rem) { return (__mmask8)((1u << rem) - 1u); }

/* a - b and a + b computed as a fused multiply-add with 1.0: one rounding,
 * so the same result as vsub/vadd, but issued to the FMA pipes.  Zen 4 (and
 * 3) run adds and FMAs on separate pipe pairs; passes made only of adds
 * (log_softmax's output) move half their work over and run ~1.6x faster. */
static inline __m512 fa_vsubf_ps(__m512 a, __m512 b) { return _mm512_fnmadd_ps(b, _mm512_set1_ps(1.0f), a); }
static inline __m512 fa_vaddf_ps(__m512 a, __m512 b) { return _mm512_fmadd_ps(b, _mm512_set1_ps(1.0f), a); }
static inline __m512d fa_vsubf_pd(__m512d a, __m512d b) { return _mm512_fnmadd_pd(b, _mm512_set1_pd(1.0), a); }
static inline __m512d fa_vaddf_pd(__m512d a, __m512d b) { return _mm512_fmadd_pd(b, _mm512_set1_pd(1.0), a); }

/* ---------------------------------------------------------------- float32 */

static inline float fa_hrow_max_f32_avx512(const float *x, size_t n)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    size_t j = 0;
    /* max_ps(a, b) returns b when a is NaN: x first skips NaN */
    for (; j + 64 <= n; j += 64) {
        m0 = _mm512_max_ps(_mm512_loadu_ps(x + j), m0);
        m1 = _mm512_max_ps(_mm512_loadu_ps(x + j + 16), m1);
        m2 = _mm512_max_ps(_mm512_loadu_ps(x + j + 32), m2);
        m3 = _mm512_max_ps(_mm512_loadu_ps(x + j + 48), m3);
    }
    for (; j + 16 <= n; j += 16) m0 = _mm512_max_ps(_mm512_loadu_ps(x + j), m0);
    if (j < n) m0 = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, fa_tail16(n - j), x + j), m0);
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
}

/* exp(hi + lo) in float32 for hi <= 0 (any magnitude, -inf included) or NaN
 * (lo: the exact tail of x - m; ignored where hi <= -104).  k = round(hi / ln2), r = hi - k ln2 (Cody-Waite: k ln2_hi has 16
 * significant bits, so hi - k ln2_hi is exact) + lo, |r| <= 0.347; exp(r) by
 * a degree-6 polynomial fitted for relative error (2^-28.3); the scale 2^k
 * by vscalefps, which rounds subnormal results once (below -104: 0).
 * Error <= 1 ULP before the caller's rounding. */
static inline __m512 fa_vexp_f32_avx512(__m512 hi, __m512 lo)
{
    const __m512 lim = _mm512_set1_ps(-104.0f);
    lo = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(hi, lim, _CMP_GT_OQ), lo);
    hi = _mm512_max_ps(lim, hi); /* NaN stays NaN (second operand) */
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(hi, _mm512_set1_ps(0x1.715476p0f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0x1.62e4p-1f), hi);
    /* the small terms first, then one rounding into r: adding lo to an
     * already rounded r cost up to 1.07 ULP, this keeps <= 0.9 */
    r = _mm512_add_ps(r, _mm512_fnmadd_ps(k, _mm512_set1_ps(0x1.7f7d1cp-20f), lo));
    __m512 p = _mm512_set1_ps(0x1.6a23cp-10f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0x1.123a22p-7f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0x1.5558f4p-5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0x1.555492p-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0x1.fffffcp-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

/* x - m = hi + lo exactly (TwoSum). */
static inline __m512 fa_vtwo_diff_f32_avx512(__m512 x, __m512 m, __m512 *lo)
{
    __m512 hi = _mm512_sub_ps(x, m);
    __m512 xv = _mm512_add_ps(hi, m);
    __m512 mv = _mm512_sub_ps(xv, hi);
    *lo = _mm512_add_ps(_mm512_sub_ps(x, xv), _mm512_sub_ps(mv, m));
    return hi;
}

/* One vector of the sum pass: e = exp(x - m) for the lanes in `valid`; the
 * lanes where x - m == 0 are returned in *one (the caller counts them), the
 * others added (in double) to a0/a1. */
static inline __m512 fa_vsumexp_step_f32_avx512(__m512 x, __m512 m, __mmask16 valid,
                                                __m512d *a0, __m512d *a1, __mmask16 *one)
{
    __m512 lo;
    __m512 hi = fa_vtwo_diff_f32_avx512(x, m, &lo);
    __m512 e = fa_vexp_f32_avx512(hi, lo);
    /* x - m == 0 exactly at the maxima (and never for inf - inf = NaN) */
    *one = _mm512_mask_cmp_ps_mask(valid, hi, _mm512_setzero_ps(), _CMP_EQ_OQ);
    __mmask16 add = valid & (__mmask16)~*one;
    *a0 = _mm512_mask_add_pd(*a0, (__mmask8)add, *a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    *a1 = _mm512_mask_add_pd(*a1, (__mmask8)(add >> 8), *a1,
                             _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    return e;
}

/* s - 1 (float32 row, sums in double: ample for a float32 result). */
static inline double fa_hrow_sumexp_m1_f32_avx512(const float *x, size_t n, double m, float *y)
{
    const __m512 mv = _mm512_set1_ps((float)m);
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    __m512d b0 = _mm512_setzero_pd(), b1 = _mm512_setzero_pd();
    size_t z = 0, j = 0;
    for (; j + 32 <= n; j += 32) {
        /* The row after this one (if any) is read from memory next, by its
         * max pass: start fetching it now, while this row is computed from
         * cache (prefetches do not fault past the end). */
        _mm_prefetch((const char *)(x + n + j), _MM_HINT_T1);
        _mm_prefetch((const char *)(x + n + j + 16), _MM_HINT_T1);
        __mmask16 o0, o1;
        __m512 e0 = fa_vsumexp_step_f32_avx512(_mm512_loadu_ps(x + j), mv, 0xFFFF, &a0, &a1, &o0);
        __m512 e1 = fa_vsumexp_step_f32_avx512(_mm512_loadu_ps(x + j + 16), mv, 0xFFFF, &b0, &b1, &o1);
        z += (size_t)__builtin_popcount(o0) + (size_t)__builtin_popcount(o1);
        if (y) {
            _mm512_storeu_ps(y + j, e0);
            _mm512_storeu_ps(y + j + 16, e1);
        }
    }
    for (; j < n; j += 16) {
        __mmask16 valid = n - j >= 16 ? (__mmask16)0xFFFF : fa_tail16(n - j);
        __mmask16 o;
        __m512 e = fa_vsumexp_step_f32_avx512(_mm512_maskz_loadu_ps(valid, x + j), mv, valid, &a0,
                                              &a1, &o);
        z += (size_t)__builtin_popcount(o);
        if (y) _mm512_mask_storeu_ps(y + j, valid, e);
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(b0, b1)));
    return ((double)z - 1.0) + s;
}

/* y *= inv with a single rounding: inv = ih + il (float32 split), y * ih by
 * FMA with the small y * il added first (softmax's last pass, <= 0.5 ULP
 * plus the error already in y; up to ~0.63 near 2^-126, where y * il
 * underflows: outputs below 1e-38). */
static inline void fa_hrow_scale_f32_avx512(float *y, size_t n, double inv)
{
    float ihs = (float)inv;
    const __m512 ih = _mm512_set1_ps(ihs), il = _mm512_set1_ps((float)(inv - (double)ihs));
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(y + j);
        _mm512_storeu_ps(y + j, _mm512_fmadd_ps(v, ih, _mm512_mul_ps(v, il)));
    }
    if (j < n) {
        __mmask16 t = fa_tail16(n - j);
        __m512 v = _mm512_maskz_loadu_ps(t, y + j);
        _mm512_mask_storeu_ps(y + j, t, _mm512_fmadd_ps(v, ih, _mm512_mul_ps(v, il)));
    }
}

/* One vector of log_softmax's output in float32: y = (x - m) - L with
 * x - m = hi + lo exactly (TwoSum), L = Lh + Ll; the sum (hi - Lh) + (lo - Ll)
 * of two terms of one sign rounds twice: <= 1 ULP plus log1p's error.  Half
 * the additions go to the FMA pipes (same results). */
static inline __m512 fa_vlsm_f32_avx512(__m512 x, __m512 m, __m512 lh, __m512 ll)
{
    __m512 hi = _mm512_sub_ps(x, m);
    __m512 xv = fa_vaddf_ps(hi, m);
    __m512 mv = _mm512_sub_ps(xv, hi);
    __m512 lo = _mm512_add_ps(fa_vsubf_ps(x, xv), fa_vsubf_ps(mv, m));
    /* -inf - m: hi = -inf and lo = NaN; lo does not matter there */
    lo = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(hi, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ), lo);
    return _mm512_add_ps(fa_vsubf_ps(hi, lh), _mm512_sub_ps(lo, ll));
}

static inline void fa_hrow_log_softmax_out_f32_avx512(const float *x, float *y, size_t n,
                                                      double m, double L)
{
    float lhs = (float)L;
    const __m512 mv = _mm512_set1_ps((float)m), lh = _mm512_set1_ps(lhs);
    const __m512 ll = _mm512_set1_ps((float)(L - (double)lhs));
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        _mm512_storeu_ps(y + j, fa_vlsm_f32_avx512(_mm512_loadu_ps(x + j), mv, lh, ll));
    if (j < n) {
        __mmask16 t = fa_tail16(n - j);
        _mm512_mask_storeu_ps(y + j, t, fa_vlsm_f32_avx512(_mm512_maskz_loadu_ps(t, x + j), mv, lh, ll));
    }
}

/* y = exp(d) over a row (the tests' sweep of fa_vexp_f32_avx512). */
static inline void fa_hexp_row_f32_avx512(const float *d, float *y, size_t n)
{
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 t = n - j >= 16 ? (__mmask16)0xFFFF : fa_tail16(n - j);
        __m512 v = _mm512_maskz_loadu_ps(t, d + j);
        _mm512_mask_storeu_ps(y + j, t, fa_vexp_f32_avx512(v, _mm512_setzero_ps()));
    }
}

/* ---------------------------------------------------------------- float64 */

static inline double fa_hrow_max_f64_avx512(const double *x, size_t n)
{
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    __m512d m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        m0 = _mm512_max_pd(_mm512_loadu_pd(x + j), m0);
        m1 = _mm512_max_pd(_mm512_loadu_pd(x + j + 8), m1);
        m2 = _mm512_max_pd(_mm512_loadu_pd(x + j + 16), m2);
        m3 = _mm512_max_pd(_mm512_loadu_pd(x + j + 24), m3);
    }
    for (; j + 8 <= n; j += 8) m0 = _mm512_max_pd(_mm512_loadu_pd(x + j), m0);
    if (j < n) m0 = _mm512_max_pd(_mm512_mask_loadu_pd(ninf, fa_tail8(n - j), x + j), m0);
    return _mm512_reduce_max_pd(_mm512_max_pd(_mm512_max_pd(m0, m1), _mm512_max_pd(m2, m3)));
}

static inline __m512d fa_vtwo_diff_f64_avx512(__m512d x, __m512d m, __m512d *lo)
{
    __m512d hi = _mm512_sub_pd(x, m);
    __m512d xv = _mm512_add_pd(hi, m);
    __m512d mv = _mm512_sub_pd(xv, hi);
    *lo = _mm512_add_pd(_mm512_sub_pd(x, xv), _mm512_sub_pd(mv, m));
    return hi;
}

/* 2^(j/16), j = 0..15, as double-doubles (hi + lo within 2^-107 relative):
 * the table of fa_vexp_f64_avx512, held in four registers. */
static const double fa_exp2_16_hi[16] __attribute__((aligned(64))) = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};
static const double fa_exp2_16_lo[16] __attribute__((aligned(64))) = {
    0x0.0p+0, 0x1.8a62e4adc610bp-54, -0x1.19041b9d78a76p-55, 0x1.9b07eb6c70573p-54,
    0x1.6f46ad23182e4p-55, 0x1.ada0911f09ebcp-55, 0x1.d4397afec42e2p-56, 0x1.6324c054647adp-54,
    -0x1.bdd3413b26456p-54, -0x1.41577ee04992fp-55, 0x1.6e9f156864b27p-54, 0x1.c7c46b071f2bep-56,
    0x1.7a1cd345dcc81p-54, 0x1.11065895048ddp-55, 0x1.2ed02d75b3707p-55, -0x1.e9c23179c2893p-54};

/* exp(hi + lo) in float64 for hi <= 0 (-inf included) or NaN, table-driven
 * (the degree-13 polynomial of the portable kernel kept the FMA pipes busy:
 * this is ~13% faster per sum pass on Zen 4, and more accurate).
 * k = round(16 hi / ln2) by the 1.5 * 2^52 shifter, whose low 4 bits index
 * the table T = 2^((k mod 16)/16) (vpermt2pd over two registers, for hi and
 * lo parts); r = hi - k ln2/16 (Cody-Waite: ln2/16 in a 38-bit part, exact
 * times k < 2^15, and a low part) + lo, |r| <= 0.0217; exp(r) - 1 = p by
 * its Taylor polynomial of degree 7 (truncation 2^-59.5); T (1 + p) as
 * T_hi + (T_hi p + T_lo), then the scale 2^floor(k/16) by vscalefpd
 * (subnormals rounded once more; below -746: 0, lo ignored there).
 * Error <= 0.52 ULP before a subnormal rounding (tests/test_exp.py sweeps it). */
static inline __m512d fa_vexp_f64_avx512(__m512d hi, __m512d lo)
{
    const __m512d lim = _mm512_set1_pd(-746.0), shifter = _mm512_set1_pd(0x1.8p52);
    lo = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(hi, lim, _CMP_GT_OQ), lo);
    hi = _mm512_max_pd(lim, hi); /* NaN stays NaN (second operand) */
    __m512d kf = _mm512_fmadd_pd(hi, _mm512_set1_pd(0x1.71547652b82fep+4), shifter);
    __m512d k = _mm512_sub_pd(kf, shifter);
    __m512i j = _mm512_castpd_si512(kf); /* k mod 16 in the low bits */
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(0x1.62e42fefa0000p-5), hi);
    r = _mm512_fnmadd_pd(k, _mm512_set1_pd(0x1.cf79abc9e3b3ap-44), r);
    r = _mm512_add_pd(r, lo);
    __m512d th = _mm512_permutex2var_pd(_mm512_load_pd(fa_exp2_16_hi), j,
                                        _mm512_load_pd(fa_exp2_16_hi + 8));
    __m512d tl = _mm512_permutex2var_pd(_mm512_load_pd(fa_exp2_16_lo), j,
                                        _mm512_load_pd(fa_exp2_16_lo + 8));
    __m512d q = _mm512_fmadd_pd(r, _mm512_set1_pd(1.0 / 5040.0), _mm512_set1_pd(1.0 / 720.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 120.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 24.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 6.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.5));
    __m512d p = _mm512_fmadd_pd(q, _mm512_mul_pd(r, r), r);
    __m512d e = _mm512_add_pd(th, _mm512_fmadd_pd(th, p, tl));
    return _mm512_scalef_pd(e, _mm512_mul_pd(k, _mm512_set1_pd(0.0625)));
}

/* One vector of the float64 sum pass.  The accumulator lanes start at 1.0
 * and every term is <= 1, so Fast2Sum (3 operations) is exact: (s, c) is a
 * compensated sum.  The maxima (terms exactly 1) need no separate count
 * here: added to s >= 1 they are exact too, and s - 1 is taken exactly at
 * the end, so s - 1 keeps its relative accuracy when the other terms are
 * tiny (8% faster than counting them). */
static inline __m512d fa_vsumexp_step_f64_avx512(__m512d x, __m512d m, __mmask8 valid,
                                                 __m512d *s, __m512d *c)
{
    __m512d lo;
    __m512d hi = fa_vtwo_diff_f64_avx512(x, m, &lo);
    __m512d e = fa_vexp_f64_avx512(hi, lo);
    __m512d t = _mm512_maskz_mov_pd(valid, e);
    __m512d u = _mm512_add_pd(*s, t);
    *c = _mm512_add_pd(*c, _mm512_add_pd(_mm512_sub_pd(*s, u), t));
    *s = u;
    return e;
}

static inline double fa_hrow_sumexp_m1_f64_avx512(const double *x, size_t n, double m, double *y)
{
    const __m512d mv = _mm512_set1_pd(m);
    __m512d s0 = _mm512_set1_pd(1.0), c0 = _mm512_setzero_pd();
    __m512d s1 = _mm512_set1_pd(1.0), c1 = _mm512_setzero_pd();
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        _mm_prefetch((const char *)(x + n + j), _MM_HINT_T1);
        _mm_prefetch((const char *)(x + n + j + 8), _MM_HINT_T1);
        __m512d e0 = fa_vsumexp_step_f64_avx512(_mm512_loadu_pd(x + j), mv, 0xFF, &s0, &c0);
        __m512d e1 = fa_vsumexp_step_f64_avx512(_mm512_loadu_pd(x + j + 8), mv, 0xFF, &s1, &c1);
        if (y) {
            _mm512_storeu_pd(y + j, e0);
            _mm512_storeu_pd(y + j + 8, e1);
        }
    }
    for (; j < n; j += 8) {
        __mmask8 valid = n - j >= 8 ? (__mmask8)0xFF : fa_tail8(n - j);
        __m512d e = fa_vsumexp_step_f64_avx512(_mm512_maskz_loadu_pd(valid, x + j), mv, valid, &s0,
                                               &c0);
        if (y) _mm512_mask_storeu_pd(y + j, valid, e);
    }
    /* remove the 1.0 each of the 16 lanes started from (exact: lanes < 2^53),
     * then add the lanes up with compensation */
    double sl[16], cl[16];
    _mm512_storeu_pd(sl, _mm512_sub_pd(s0, _mm512_set1_pd(1.0)));
    _mm512_storeu_pd(sl + 8, _mm512_sub_pd(s1, _mm512_set1_pd(1.0)));
    _mm512_storeu_pd(cl, c0);
    _mm512_storeu_pd(cl + 8, c1);
    double S = 0.0, C = 0.0;
    for (int l = 0; l < 16; l++) {
        fa_acc(&S, &C, sl[l]);
        C += cl[l];
    }
    /* S >= 1 holds the maxima: S - 1 is exact (no cancellation left) */
    return isfinite(S) ? (S - 1.0) + C : S;
}

/* y *= inv (one rounding per element). */
static inline void fa_hrow_scale_f64_avx512(double *y, size_t n, double inv)
{
    const __m512d iv = _mm512_set1_pd(inv);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) _mm512_storeu_pd(y + j, _mm512_mul_pd(_mm512_loadu_pd(y + j), iv));
    if (j < n) {
        __mmask8 t = fa_tail8(n - j);
        _mm512_mask_storeu_pd(y + j, t, _mm512_mul_pd(_mm512_maskz_loadu_pd(t, y + j), iv));
    }
}

/* One vector of log_softmax's output in float64: y = (hi - L) + lo with
 * x - m = hi + lo exactly (as log_softmax_one; lo dropped below -1000,
 * where it may be NaN for x = -inf).  Half the additions on the FMA pipes. */
static inline __m512d fa_vlsm_f64_avx512(__m512d x, __m512d m, __m512d lv)
{
    __m512d hi = _mm512_sub_pd(x, m);
    __m512d xv = fa_vaddf_pd(hi, m);
    __m512d mv = _mm512_sub_pd(xv, hi);
    __m512d lo = _mm512_add_pd(fa_vsubf_pd(x, xv), fa_vsubf_pd(mv, m));
    lo = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(hi, _mm512_set1_pd(-1000.0), _CMP_GT_OQ), lo);
    return _mm512_add_pd(fa_vsubf_pd(hi, lv), lo);
}

static inline void fa_hrow_log_softmax_out_f64_avx512(const double *x, double *y, size_t n,
                                                      double m, double L)
{
    const __m512d mv = _mm512_set1_pd(m), lv = _mm512_set1_pd(L);
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm512_storeu_pd(y + j, fa_vlsm_f64_avx512(_mm512_loadu_pd(x + j), mv, lv));
    if (j < n) {
        __mmask8 t = fa_tail8(n - j);
        _mm512_mask_storeu_pd(y + j, t, fa_vlsm_f64_avx512(_mm512_maskz_loadu_pd(t, x + j), mv, lv));
    }
}

static inline void fa_hexp_row_f64_avx512(const double *d, double *y, size_t n)
{
    for (size_t j = 0; j < n; j += 8) {
        __mmask8 t = n - j >= 8 ? (__mmask8)0xFF : fa_tail8(n - j);
        __m512d v = _mm512_maskz_loadu_pd(t, d + j);
        _mm512_mask_storeu_pd(y + j, t, fa_vexp_f64_avx512(v, _mm512_setzero_pd()));
    }
}

#endif /* FA_ROWS_AVX512_H */
