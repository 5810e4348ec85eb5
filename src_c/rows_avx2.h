/* Hand-written AVX2+FMA row primitives that the kernel templates use at the
 * avx2 level in place of the portable ones (reduce_impl.h, FA_HAND).
 * Included inside the AVX2 target region of instantiate.h.  Same contracts
 * and numerics as rows_avx512.h:
 *   row_max:             max of the row, NaN skipped;
 *   row_sumexp_m1:       s - 1 with s = sum exp(x - m), maxima counted
 *                        exactly, optionally storing exp(x - m) to y;
 *   row_scale:           y *= inv;
 *   row_log_softmax_out: y = (x - m) - L.
 * What AVX2 lacks, and what replaces it:
 *   - masks: tails use vmaskmov loads/stores with a lane mask built from the
 *     remaining count (masked-out lanes are neither read nor written, never
 *     fault, and are excluded from every max, sum and count);
 *   - vscalef: 2^k is built from exponent bits, as two normal factors (below);
 *   - vroundscale / 64-bit arithmetic shifts: k comes from the 1.5 * 2^p
 *     shifter, which also leaves -k as an integer in the low bits. */
#ifndef FA_ROWS_AVX2_H
#define FA_ROWS_AVX2_H

#include <immintrin.h>
#include <stddef.h>

#include "fa_math.h"

/* Lane masks (all-ones lanes) for the first rem lanes, 0 < rem < 8 (f32) or
 * rem < 4 (f64). */
static inline __m256i fa_tail8_avx2(size_t rem)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i fa_tail4_avx2(size_t rem)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)rem), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* Horizontal reductions (no NaN reaches hmax: the accumulators skip it). */
static inline float fa_hmax_ps_avx2(__m256 v)
{
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}
static inline double fa_hmax_pd_avx2(__m256d v)
{
    __m128d h = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    h = _mm_max_sd(h, _mm_unpackhi_pd(h, h));
    return _mm_cvtsd_f64(h);
}
static inline double fa_hsum_pd_avx2(__m256d v)
{
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
    return _mm_cvtsd_f64(h);
}
/* Sum of the 8 uint32 lanes, in size_t (no overflow: lanes < 2^32). */
static inline size_t fa_hsum_epu32_avx2(__m256i v)
{
    __m256i w = _mm256_add_epi64(_mm256_and_si256(v, _mm256_set1_epi64x(0xFFFFFFFF)),
                                 _mm256_srli_epi64(v, 32));
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    return (size_t)_mm_cvtsi128_si64(h) + (size_t)_mm_extract_epi64(h, 1);
}
static inline size_t fa_hsum_epi64_avx2(__m256i v)
{
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (size_t)_mm_cvtsi128_si64(h) + (size_t)_mm_extract_epi64(h, 1);
}

/* ---------------------------------------------------------------- float32 */

static inline float fa_hrow_max_f32_avx2(const float *x, size_t n)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    size_t j = 0;
    /* max_ps(a, b) returns b when a is NaN: x first skips NaN */
    for (; j + 32 <= n; j += 32) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + j + 8), m1);
        m2 = _mm256_max_ps(_mm256_loadu_ps(x + j + 16), m2);
        m3 = _mm256_max_ps(_mm256_loadu_ps(x + j + 24), m3);
    }
    for (; j + 8 <= n; j += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
    if (j < n) {
        /* maskload zeroes the lanes it does not read: make them -inf */
        __m256i t = fa_tail8_avx2(n - j);
        __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + j, t), _mm256_castsi256_ps(t));
        m1 = _mm256_max_ps(v, m1);
    }
    return fa_hmax_ps_avx2(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
}

/* exp(hi + lo) in float32 for hi <= 0 (any magnitude, -inf included) or NaN
 * (lo: the exact tail of x - m; ignored where hi <= -104).  Same numerics as
 * fa_vexp_f32_avx512:
 *   k = round(hi / ln2), by adding the shifter 1.5 * 2^23: hi * log2e lies in
 *   [-150.1, 0], so the sum lies in [2^23, 2^24) where the ULP is 1 and the
 *   addition rounds to the nearest integer, ties to even (the shifter is
 *   even): the same k as vroundscaleps.  The low bits of the sum hold k, so
 *   bits(shifter) - bits(sum) = -k in [0, 150] with no float->int conversion.
 *   r = hi - k ln2 (Cody-Waite: k ln2_hi has 16 + 8 significant bits, so
 *   hi - k ln2_hi is exact) + lo, |r| <= 0.347; exp(r) by the degree-6
 *   polynomial fitted for relative error (2^-28.3).
 *   2^k as two normal factors 2^-a * 2^-b, a = floor(-k / 2), b = -k - a,
 *   both in [0, 75] (biased exponents >= 52: normal).  p * 2^-a is exact
 *   (p in [0.7, 1.42], the product >= 0.7 * 2^-75, normal), so the only
 *   rounding of the scale is the last product: a subnormal result is rounded
 *   once (like vscalefps).  Below -104, k = -150 and the result
 *   < 0.98 * 2^-150 rounds to 0.  NaN: p is NaN, whatever the factors.
 * Error <= 1 ULP before the caller's rounding (plus 0.5 ULP of 2^-149 for a
 * subnormal result: the one rounding of the scale). */
static inline __m256 fa_vexp_f32_avx2(__m256 hi, __m256 lo)
{
    const __m256 lim = _mm256_set1_ps(-104.0f);
    const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
    lo = _mm256_and_ps(_mm256_cmp_ps(hi, lim, _CMP_GT_OQ), lo);
    hi = _mm256_max_ps(lim, hi); /* NaN stays NaN (second operand) */
    __m256 kf = _mm256_add_ps(_mm256_mul_ps(hi, _mm256_set1_ps(0x1.715476p0f)), shifter);
    __m256i nk = _mm256_sub_epi32(_mm256_castps_si256(shifter), _mm256_castps_si256(kf));
    kf = _mm256_sub_ps(kf, shifter); /* k, exactly */
    __m256 r = _mm256_fnmadd_ps(kf, _mm256_set1_ps(0x1.62e4p-1f), hi);
    r = _mm256_fnmadd_ps(kf, _mm256_set1_ps(0x1.7f7d1cp-20f), r);
    r = _mm256_add_ps(r, lo);
    __m256 p = _mm256_set1_ps(0x1.6a23cp-10f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.123a22p-7f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.5558f4p-5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.555492p-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0x1.fffffcp-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bias = _mm256_set1_epi32(127);
    __m256i a = _mm256_srli_epi32(nk, 1), b = _mm256_sub_epi32(nk, a);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(bias, a), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(bias, b), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* x - m = hi + lo exactly (TwoSum). */
static inline __m256 fa_vtwo_diff_f32_avx2(__m256 x, __m256 m, __m256 *lo)
{
    __m256 hi = _mm256_sub_ps(x, m);
    __m256 xv = _mm256_add_ps(hi, m);
    __m256 mv = _mm256_sub_ps(xv, hi);
    *lo = _mm256_add_ps(_mm256_sub_ps(x, xv), _mm256_sub_ps(mv, m));
    return hi;
}

/* One vector of the sum pass: e = exp(x - m); the lanes where x - m == 0 are
 * counted in *cnt (each such lane adds 1: the compare mask is -1), the others
 * added (in double) to a0/a1.  valid: NULL for a full vector, else the lanes
 * to use (the others were not loaded and must add nothing). */
static inline __m256 fa_vsumexp_step_f32_avx2(__m256 x, __m256 m, const __m256 *valid,
                                              __m256d *a0, __m256d *a1, __m256i *cnt)
{
    __m256 lo;
    __m256 hi = fa_vtwo_diff_f32_avx2(x, m, &lo);
    __m256 e = fa_vexp_f32_avx2(hi, lo);
    /* x - m == 0 exactly at the maxima (and never for inf - inf = NaN) */
    __m256 one = _mm256_cmp_ps(hi, _mm256_setzero_ps(), _CMP_EQ_OQ);
    __m256 t = e;
    if (valid) {
        one = _mm256_and_ps(one, *valid);
        t = _mm256_and_ps(t, *valid);
    }
    t = _mm256_andnot_ps(one, t); /* NaN stays (one is false there) */
    *cnt = _mm256_sub_epi32(*cnt, _mm256_castps_si256(one));
    *a0 = _mm256_add_pd(*a0, _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
    *a1 = _mm256_add_pd(*a1, _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
    return e;
}

/* s - 1 (float32 row, sums in double: ample for a float32 result). */
static inline double fa_hrow_sumexp_m1_f32_avx2(const float *x, size_t n, double m, float *y)
{
    const __m256 mv = _mm256_set1_ps((float)m);
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d b0 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd();
    size_t z = 0, j = 0;
    while (j + 16 <= n) {
        /* The maxima are counted in uint32 lanes, each incremented at most
         * twice per 16 elements: blocks of at most 2^32 elements keep them
         * below 2^29 (no overflow, whatever n). */
        size_t stop = n - j > ((size_t)1 << 32) ? j + ((size_t)1 << 32) : n;
        __m256i cnt = _mm256_setzero_si256();
        for (; j + 16 <= stop; j += 16) {
            /* The row after this one (if any) is read from memory next, by
             * its max pass: start fetching it now, one 64-byte line per
             * iteration, while this row is computed from cache (prefetches
             * do not fault past the end). */
            _mm_prefetch((const char *)(x + n + j), _MM_HINT_T1);
            __m256 e0 = fa_vsumexp_step_f32_avx2(_mm256_loadu_ps(x + j), mv, NULL, &a0, &a1, &cnt);
            __m256 e1 = fa_vsumexp_step_f32_avx2(_mm256_loadu_ps(x + j + 8), mv, NULL, &b0, &b1, &cnt);
            if (y) {
                _mm256_storeu_ps(y + j, e0);
                _mm256_storeu_ps(y + j + 8, e1);
            }
        }
        z += fa_hsum_epu32_avx2(cnt);
    }
    if (j < n) {
        __m256i cnt = _mm256_setzero_si256();
        if (j + 8 <= n) {
            __m256 e = fa_vsumexp_step_f32_avx2(_mm256_loadu_ps(x + j), mv, NULL, &a0, &a1, &cnt);
            if (y) _mm256_storeu_ps(y + j, e);
            j += 8;
        }
        if (j < n) {
            __m256i t = fa_tail8_avx2(n - j);
            __m256 valid = _mm256_castsi256_ps(t);
            __m256 e = fa_vsumexp_step_f32_avx2(_mm256_maskload_ps(x + j, t), mv, &valid, &b0,
                                                &b1, &cnt);
            if (y) _mm256_maskstore_ps(y + j, t, e);
        }
        z += fa_hsum_epu32_avx2(cnt);
    }
    double s = fa_hsum_pd_avx2(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(b0, b1)));
    return ((double)z - 1.0) + s;
}

/* y *= inv with a single rounding: inv = ih + il (float32 split), y * ih by
 * FMA with the small y * il added first (softmax's last pass, <= 0.5 ULP
 * plus the error already in y). */
static inline void fa_hrow_scale_f32_avx2(float *y, size_t n, double inv)
{
    float ihs = (float)inv;
    const __m256 ih = _mm256_set1_ps(ihs), il = _mm256_set1_ps((float)(inv - (double)ihs));
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 v0 = _mm256_loadu_ps(y + j), v1 = _mm256_loadu_ps(y + j + 8);
        _mm256_storeu_ps(y + j, _mm256_fmadd_ps(v0, ih, _mm256_mul_ps(v0, il)));
        _mm256_storeu_ps(y + j + 8, _mm256_fmadd_ps(v1, ih, _mm256_mul_ps(v1, il)));
    }
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(y + j);
        _mm256_storeu_ps(y + j, _mm256_fmadd_ps(v, ih, _mm256_mul_ps(v, il)));
    }
    if (j < n) {
        __m256i t = fa_tail8_avx2(n - j);
        __m256 v = _mm256_maskload_ps(y + j, t);
        _mm256_maskstore_ps(y + j, t, _mm256_fmadd_ps(v, ih, _mm256_mul_ps(v, il)));
    }
}

/* One vector of log_softmax's output: (hi - Lh) + (lo - Ll) with
 * x - m = hi + lo exactly, L = Lh + Ll; two terms of one sign, rounded
 * twice: <= 1 ULP plus log1p's error. */
static inline __m256 fa_vlsm_f32_avx2(__m256 x, __m256 m, __m256 lh, __m256 ll)
{
    __m256 lo;
    __m256 hi = fa_vtwo_diff_f32_avx2(x, m, &lo);
    /* -inf - m: hi = -inf and lo = NaN; lo does not matter there */
    lo = _mm256_and_ps(_mm256_cmp_ps(hi, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ), lo);
    return _mm256_add_ps(_mm256_sub_ps(hi, lh), _mm256_sub_ps(lo, ll));
}

static inline void fa_hrow_log_softmax_out_f32_avx2(const float *x, float *y, size_t n,
                                                    double m, double L)
{
    float lhs = (float)L;
    const __m256 mv = _mm256_set1_ps((float)m), lh = _mm256_set1_ps(lhs);
    const __m256 ll = _mm256_set1_ps((float)(L - (double)lhs));
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 r0 = fa_vlsm_f32_avx2(_mm256_loadu_ps(x + j), mv, lh, ll);
        __m256 r1 = fa_vlsm_f32_avx2(_mm256_loadu_ps(x + j + 8), mv, lh, ll);
        _mm256_storeu_ps(y + j, r0);
        _mm256_storeu_ps(y + j + 8, r1);
    }
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(y + j, fa_vlsm_f32_avx2(_mm256_loadu_ps(x + j), mv, lh, ll));
    if (j < n) {
        __m256i t = fa_tail8_avx2(n - j);
        _mm256_maskstore_ps(y + j, t, fa_vlsm_f32_avx2(_mm256_maskload_ps(x + j, t), mv, lh, ll));
    }
}

/* ---------------------------------------------------------------- float64 */

static inline double fa_hrow_max_f64_avx2(const double *x, size_t n)
{
    const __m256d ninf = _mm256_set1_pd(-INFINITY);
    __m256d m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        m0 = _mm256_max_pd(_mm256_loadu_pd(x + j), m0);
        m1 = _mm256_max_pd(_mm256_loadu_pd(x + j + 4), m1);
        m2 = _mm256_max_pd(_mm256_loadu_pd(x + j + 8), m2);
        m3 = _mm256_max_pd(_mm256_loadu_pd(x + j + 12), m3);
    }
    for (; j + 4 <= n; j += 4) m0 = _mm256_max_pd(_mm256_loadu_pd(x + j), m0);
    if (j < n) {
        __m256i t = fa_tail4_avx2(n - j);
        __m256d v = _mm256_blendv_pd(ninf, _mm256_maskload_pd(x + j, t), _mm256_castsi256_pd(t));
        m1 = _mm256_max_pd(v, m1);
    }
    return fa_hmax_pd_avx2(_mm256_max_pd(_mm256_max_pd(m0, m1), _mm256_max_pd(m2, m3)));
}

static inline __m256d fa_vtwo_diff_f64_avx2(__m256d x, __m256d m, __m256d *lo)
{
    __m256d hi = _mm256_sub_pd(x, m);
    __m256d xv = _mm256_add_pd(hi, m);
    __m256d mv = _mm256_sub_pd(xv, hi);
    *lo = _mm256_add_pd(_mm256_sub_pd(x, xv), _mm256_sub_pd(mv, m));
    return hi;
}

/* exp(hi + lo) in float64 for hi <= 0 (-inf included) or NaN: as
 * fa_vexp_f64_avx512 / fa_exp_nonpos_f64 (< 1 ULP): k by the 1.5 * 2^52
 * shifter (hi * log2e in [-1076.3, 0]: the sum lies where the ULP is 1, so
 * it is round-to-nearest-even, the same k as vroundscalepd, and
 * bits(shifter) - bits(sum) = -k in [0, 1077] exactly; this also avoids the
 * 64-bit arithmetic shift AVX2 lacks), Cody-Waite with ln2_hi of 32 bits
 * (k ln2_hi exact, hi - k ln2_hi exact), Taylor polynomial of degree 13 by
 * Horner with FMA (truncation < 2^-62 for |r| <= 0.347), and 2^k as two
 * normal factors 2^-a * 2^-b, a = floor(-k / 2), b = -k - a in [0, 539]
 * (biased exponents >= 484): p * 2^-a is exact, the last product rounds a
 * subnormal result once.  Below -746 (lo ignored there): k = -1076 and
 * p * 2^-1076 < 2^-1075 rounds to 0. */
static inline __m256d fa_vexp_f64_avx2(__m256d hi, __m256d lo)
{
    const __m256d lim = _mm256_set1_pd(-746.0);
    const __m256d shifter = _mm256_set1_pd(0x1.8p52);
    lo = _mm256_and_pd(_mm256_cmp_pd(hi, lim, _CMP_GT_OQ), lo);
    hi = _mm256_max_pd(lim, hi); /* NaN stays NaN (second operand) */
    __m256d kf = _mm256_add_pd(_mm256_mul_pd(hi, _mm256_set1_pd(0x1.71547652b82fep0)), shifter);
    __m256i nk = _mm256_sub_epi64(_mm256_castpd_si256(shifter), _mm256_castpd_si256(kf));
    kf = _mm256_sub_pd(kf, shifter); /* k, exactly */
    __m256d r = _mm256_fnmadd_pd(kf, _mm256_set1_pd(0x1.62e42fee00000p-1), hi);
    r = _mm256_fnmadd_pd(kf, _mm256_set1_pd(0x1.a39ef35793c76p-33), r);
    r = _mm256_add_pd(r, lo);
    __m256d p = _mm256_set1_pd(1.0 / 6227020800.0);
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 479001600.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 39916800.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 3628800.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 362880.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 40320.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 5040.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 720.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    const __m256i bias = _mm256_set1_epi64x(1023);
    __m256i a = _mm256_srli_epi64(nk, 1), b = _mm256_sub_epi64(nk, a);
    __m256d s1 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_sub_epi64(bias, a), 52));
    __m256d s2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_sub_epi64(bias, b), 52));
    return _mm256_mul_pd(_mm256_mul_pd(p, s1), s2);
}

/* One vector of the float64 sum pass.  The accumulator lanes start at 1.0
 * and every term is <= 1 (or NaN), so |s| >= |t| and Fast2Sum (3 operations)
 * is exact: (s, c) is a compensated sum.  The maxima are counted in 64-bit
 * lanes of *cnt.  valid: NULL for a full vector, else the lanes to use. */
static inline __m256d fa_vsumexp_step_f64_avx2(__m256d x, __m256d m, const __m256d *valid,
                                               __m256d *s, __m256d *c, __m256i *cnt)
{
    __m256d lo;
    __m256d hi = fa_vtwo_diff_f64_avx2(x, m, &lo);
    __m256d e = fa_vexp_f64_avx2(hi, lo);
    __m256d one = _mm256_cmp_pd(hi, _mm256_setzero_pd(), _CMP_EQ_OQ);
    __m256d t = e;
    if (valid) {
        one = _mm256_and_pd(one, *valid);
        t = _mm256_and_pd(t, *valid);
    }
    t = _mm256_andnot_pd(one, t);
    *cnt = _mm256_sub_epi64(*cnt, _mm256_castpd_si256(one));
    __m256d u = _mm256_add_pd(*s, t);
    *c = _mm256_add_pd(*c, _mm256_add_pd(_mm256_sub_pd(*s, u), t));
    *s = u;
    return e;
}

static inline double fa_hrow_sumexp_m1_f64_avx2(const double *x, size_t n, double m, double *y)
{
    const __m256d mv = _mm256_set1_pd(m);
    __m256d s0 = _mm256_set1_pd(1.0), c0 = _mm256_setzero_pd();
    __m256d s1 = _mm256_set1_pd(1.0), c1 = _mm256_setzero_pd();
    __m256i cnt = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        /* next row: one 64-byte line per iteration (see the float32 pass) */
        _mm_prefetch((const char *)(x + n + j), _MM_HINT_T1);
        __m256d e0 = fa_vsumexp_step_f64_avx2(_mm256_loadu_pd(x + j), mv, NULL, &s0, &c0, &cnt);
        __m256d e1 = fa_vsumexp_step_f64_avx2(_mm256_loadu_pd(x + j + 4), mv, NULL, &s1, &c1, &cnt);
        if (y) {
            _mm256_storeu_pd(y + j, e0);
            _mm256_storeu_pd(y + j + 4, e1);
        }
    }
    if (j + 4 <= n) {
        __m256d e = fa_vsumexp_step_f64_avx2(_mm256_loadu_pd(x + j), mv, NULL, &s0, &c0, &cnt);
        if (y) _mm256_storeu_pd(y + j, e);
        j += 4;
    }
    if (j < n) {
        __m256i t = fa_tail4_avx2(n - j);
        __m256d valid = _mm256_castsi256_pd(t);
        __m256d e = fa_vsumexp_step_f64_avx2(_mm256_maskload_pd(x + j, t), mv, &valid, &s1, &c1,
                                             &cnt);
        if (y) _mm256_maskstore_pd(y + j, t, e);
    }
    /* remove the 1.0 each of the 8 lanes started from (exact: lanes < 2^53),
     * then add the lanes up with compensation */
    double sl[8], cl[8];
    _mm256_storeu_pd(sl, _mm256_sub_pd(s0, _mm256_set1_pd(1.0)));
    _mm256_storeu_pd(sl + 4, _mm256_sub_pd(s1, _mm256_set1_pd(1.0)));
    _mm256_storeu_pd(cl, c0);
    _mm256_storeu_pd(cl + 4, c1);
    double S = 0.0, C = 0.0;
    for (int l = 0; l < 8; l++) {
        fa_acc(&S, &C, sl[l]);
        C += cl[l];
    }
    size_t z = fa_hsum_epi64_avx2(cnt);
    return ((double)z - 1.0) + fa_acc_value(S, C);
}

/* y *= inv (one rounding per element). */
static inline void fa_hrow_scale_f64_avx2(double *y, size_t n, double inv)
{
    const __m256d iv = _mm256_set1_pd(inv);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256d v0 = _mm256_loadu_pd(y + j), v1 = _mm256_loadu_pd(y + j + 4);
        _mm256_storeu_pd(y + j, _mm256_mul_pd(v0, iv));
        _mm256_storeu_pd(y + j + 4, _mm256_mul_pd(v1, iv));
    }
    for (; j + 4 <= n; j += 4) _mm256_storeu_pd(y + j, _mm256_mul_pd(_mm256_loadu_pd(y + j), iv));
    if (j < n) {
        __m256i t = fa_tail4_avx2(n - j);
        _mm256_maskstore_pd(y + j, t, _mm256_mul_pd(_mm256_maskload_pd(y + j, t), iv));
    }
}

/* y = (hi - L) + lo with x - m = hi + lo exactly (as log_softmax_one; lo
 * dropped below -1000, where it may be NaN for x = -inf). */
static inline __m256d fa_vlsm_f64_avx2(__m256d x, __m256d m, __m256d lv)
{
    __m256d lo;
    __m256d hi = fa_vtwo_diff_f64_avx2(x, m, &lo);
    lo = _mm256_and_pd(_mm256_cmp_pd(hi, _mm256_set1_pd(-1000.0), _CMP_GT_OQ), lo);
    return _mm256_add_pd(_mm256_sub_pd(hi, lv), lo);
}

static inline void fa_hrow_log_softmax_out_f64_avx2(const double *x, double *y, size_t n,
                                                    double m, double L)
{
    const __m256d mv = _mm256_set1_pd(m), lv = _mm256_set1_pd(L);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256d r0 = fa_vlsm_f64_avx2(_mm256_loadu_pd(x + j), mv, lv);
        __m256d r1 = fa_vlsm_f64_avx2(_mm256_loadu_pd(x + j + 4), mv, lv);
        _mm256_storeu_pd(y + j, r0);
        _mm256_storeu_pd(y + j + 4, r1);
    }
    for (; j + 4 <= n; j += 4)
        _mm256_storeu_pd(y + j, fa_vlsm_f64_avx2(_mm256_loadu_pd(x + j), mv, lv));
    if (j < n) {
        __m256i t = fa_tail4_avx2(n - j);
        _mm256_maskstore_pd(y + j, t, fa_vlsm_f64_avx2(_mm256_maskload_pd(x + j, t), mv, lv));
    }
}

#endif /* FA_ROWS_AVX2_H */
