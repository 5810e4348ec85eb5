/* Hand-written AVX2+FMA row primitives that the kernel templates use at the
 * avx2 level in place of the portable ones (reduce_impl.h, FA_HAND).
 * Included inside the AVX2 target region of instantiate.h.  Same contracts
 * and numerics as rows_avx512.h (the exponentials are the same operations:
 * bit-identical results, checked over every float32 x <= 0):
 *   row_max:             max of the row, NaN skipped;
 *   row_sumexp_m1:       s - 1 with s = sum exp(x - m), maxima counted
 *                        exactly, optionally storing exp(x - m) to y;
 *   row_scale:           y *= inv;
 *   row_log_softmax_out: y = (x - m) - L.
 * What AVX2 lacks, and what replaces it:
 *   - masks: tails use vmaskmov loads/stores with a lane mask built from the
 *     remaining count (masked-out lanes are neither read nor written, cannot
 *     fault, and are kept out of every max, sum and count);
 *   - vroundscale: k = round(x / ln2) by the 1.5 * 2^p shifter, which also
 *     leaves k in the low bits of the sum (no float->int conversion);
 *   - vscalef: 2^k as two normal factors built from those bits, so that a
 *     subnormal result is still rounded once.
 * Throughput: one exponential is a dependency chain of ~70 cycles (~90 for
 * float64); with half the work per instruction of AVX-512 the out-of-order
 * window only overlaps enough of them when several independent vectors go
 * through each stage together, so the sum passes work on FA_NV32 / FA_NV64
 * vectors at a time (interleaved; worth ~15% for float32, ~25% for float64
 * on Zen 4). */
#ifndef FA_ROWS_AVX2_H
#define FA_ROWS_AVX2_H

#include <immintrin.h>
#include <stddef.h>

#include "simd/fa_math.h"

#define FA_NV32 4 /* vectors per step of the float32 sum pass (32 elements) */
#define FA_NV64 4 /* float64 (16 elements) */

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

/* e[i] = exp(hi[i] + lo[i]) in float32 for nv <= 4 vectors, hi <= 0 (any
 * magnitude, -inf included) or NaN; lo: the exact tail of x - m, ignored
 * where hi <= -104.  The operations of fa_vexp_f32_avx512, results bit for
 * bit the same:
 *   k = round(hi / ln2): hi * log2e lies in [-150.1, 0], so adding the
 *   shifter S = 1.5 * 2^23 + 126 lands in [2^23, 2^24) where the ULP is 1:
 *   the addition rounds to the nearest integer, ties to even (S is even),
 *   the same k as vroundscaleps; sum - S = k exactly, and the low bits of the
 *   sum's encoding hold B = 126 + k in [-24, 126].
 *   r = hi - k ln2 (Cody-Waite: k ln2_hi has 16 + 8 significant bits, so
 *   hi - k ln2_hi is exact) + lo, |r| <= 0.347; exp(r) by the degree-6
 *   polynomial fitted for relative error (2^-28.3), Horner with FMA.
 *   2^k = 2^k1 * 2^k2 with k1 = max(k - 1, -125) and k2 = k - k1 =
 *   min(1, k + 125) in [-25, 1]: both factors normal (biased exponents
 *   max(B, 2) and min(B + 126, 128), by 32-bit integer min/max on the sum's
 *   encoding, then a shift by 23 that keeps only its low 9 bits), and
 *   p * 2^k1 is exact (p >= 0.7, so p * 2^-125 > 2^-126 is normal): the last
 *   product is the scale's only rounding and a subnormal result is rounded
 *   once, as by vscalefps.  Below -104: k = -150 and the result
 *   < 0.98 * 2^-150 rounds to 0.  NaN: p is NaN, whatever the factors.
 * Error <= 1 ULP before the caller's rounding (swept over every float32
 * in [-110, 0] with lo = 0: 0.88 ULP for normal results; a subnormal result
 * adds the 0.5 ULP of its single rounding). */
static inline void fa_vexpn_f32_avx2(int nv, const __m256 *hi_in, const __m256 *lo_in, __m256 *e)
{
    const __m256 lim = _mm256_set1_ps(-104.0f);
    const __m256 shifter = _mm256_set1_ps(0x1.8p23f + 126.0f); /* encoding 0x4B40007E */
    __m256 r[4], p[4];
    __m256i kb[4];
    for (int i = 0; i < nv; i++) {
        /* -inf - m: hi = -inf and lo = NaN; lo does not matter there */
        __m256 lo = _mm256_and_ps(_mm256_cmp_ps(hi_in[i], lim, _CMP_GT_OQ), lo_in[i]);
        __m256 hi = _mm256_max_ps(lim, hi_in[i]); /* NaN stays NaN (second operand) */
        __m256 kf = _mm256_add_ps(_mm256_mul_ps(hi, _mm256_set1_ps(0x1.715476p0f)), shifter);
        kb[i] = _mm256_castps_si256(kf);
        kf = _mm256_sub_ps(kf, shifter); /* k, exactly */
        r[i] = _mm256_fnmadd_ps(kf, _mm256_set1_ps(0x1.62e4p-1f), hi);
        /* the small terms first, then one rounding into r: adding lo to an
         * already rounded r cost up to 1.07 ULP, this keeps <= 0.9 */
        r[i] = _mm256_add_ps(r[i], _mm256_fnmadd_ps(kf, _mm256_set1_ps(0x1.7f7d1cp-20f), lo));
    }
    for (int i = 0; i < nv; i++) p[i] = _mm256_set1_ps(0x1.6a23cp-10f);
#define FA_H32(c) for (int i = 0; i < nv; i++) p[i] = _mm256_fmadd_ps(p[i], r[i], _mm256_set1_ps(c))
    FA_H32(0x1.123a22p-7f);
    FA_H32(0x1.5558f4p-5f);
    FA_H32(0x1.555492p-3f);
    FA_H32(0x1.fffffcp-2f);
    FA_H32(1.0f);
    FA_H32(1.0f);
#undef FA_H32
    const __m256i e1min = _mm256_set1_epi32(0x4B400000 + 2), e2max = _mm256_set1_epi32(0x4B400000 + 128);
    for (int i = 0; i < nv; i++) {
        __m256i e1 = _mm256_max_epi32(kb[i], e1min); /* ... + max(B, 2) */
        __m256i e2 = _mm256_min_epi32(_mm256_add_epi32(kb[i], _mm256_set1_epi32(126)), e2max);
        __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(e1, 23));
        __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(e2, 23));
        e[i] = _mm256_mul_ps(_mm256_mul_ps(p[i], s1), s2);
    }
}

static inline __m256 fa_vexp_f32_avx2(__m256 hi, __m256 lo)
{
    __m256 e;
    fa_vexpn_f32_avx2(1, &hi, &lo, &e);
    return e;
}

/* y = exp(d) over a row (the tests' sweep of fa_vexp_f32_avx2). */
static inline void fa_hexp_row_f32_avx2(const float *d, float *y, size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(y + j, fa_vexp_f32_avx2(_mm256_loadu_ps(d + j), _mm256_setzero_ps()));
    if (j < n) {
        __m256i t = fa_tail8_avx2(n - j);
        _mm256_maskstore_ps(y + j, t, fa_vexp_f32_avx2(_mm256_maskload_ps(d + j, t), _mm256_setzero_ps()));
    }
}

/* a - b and a + b as a fused multiply-add with 1.0: the same result as
 * vsub/vadd (one rounding) on the FMA pipes, for passes made of additions
 * only (log_softmax's output; see rows_avx512.h). */
static inline __m256 fa_vsubf256_ps(__m256 a, __m256 b) { return _mm256_fnmadd_ps(b, _mm256_set1_ps(1.0f), a); }
static inline __m256 fa_vaddf256_ps(__m256 a, __m256 b) { return _mm256_fmadd_ps(b, _mm256_set1_ps(1.0f), a); }
static inline __m256d fa_vsubf256_pd(__m256d a, __m256d b) { return _mm256_fnmadd_pd(b, _mm256_set1_pd(1.0), a); }
static inline __m256d fa_vaddf256_pd(__m256d a, __m256d b) { return _mm256_fmadd_pd(b, _mm256_set1_pd(1.0), a); }

/* x - m = hi + lo exactly (TwoSum). */
static inline __m256 fa_vtwo_diff_f32_avx2(__m256 x, __m256 m, __m256 *lo)
{
    __m256 hi = _mm256_sub_ps(x, m);
    __m256 xv = _mm256_add_ps(hi, m);
    __m256 mv = _mm256_sub_ps(xv, hi);
    *lo = _mm256_add_ps(_mm256_sub_ps(x, xv), _mm256_sub_ps(mv, m));
    return hi;
}

/* nv vectors of the sum pass: e[i] = exp(x[i] - m); the lanes where
 * x - m == 0 are counted in *cnt (the compare mask is -1: subtracting it
 * adds 1), the others added in double to acc[i].  valid: NULL for full
 * vectors, else (nv == 1) the lanes to use: the others were not loaded and
 * must add nothing to the sum or the count. */
static inline void fa_vsumexp_steps_f32_avx2(int nv, const __m256 *x, __m256 m, const __m256 *valid,
                                             __m256d *acc, __m256i *cnt, __m256 *e)
{
    __m256 hi[4], lo[4];
    for (int i = 0; i < nv; i++) hi[i] = fa_vtwo_diff_f32_avx2(x[i], m, &lo[i]);
    fa_vexpn_f32_avx2(nv, hi, lo, e);
    for (int i = 0; i < nv; i++) {
        /* x - m == 0 exactly at the maxima (and never for inf - inf = NaN) */
        __m256 one = _mm256_cmp_ps(hi[i], _mm256_setzero_ps(), _CMP_EQ_OQ);
        __m256 t = e[i];
        if (valid) {
            one = _mm256_and_ps(one, *valid);
            t = _mm256_and_ps(t, *valid);
        }
        t = _mm256_andnot_ps(one, t); /* NaN stays (one is false there) */
        *cnt = _mm256_sub_epi32(*cnt, _mm256_castps_si256(one));
        /* halves to double, added (rounding <= 2^-53 relative, as the
         * accumulation itself) and accumulated: one accumulator per vector */
        acc[i] = _mm256_add_pd(acc[i], _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(t)),
                                                     _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1))));
    }
}

/* s - 1 (float32 row, sums in double: ample for a float32 result). */
static inline double fa_hrow_sumexp_m1_f32_avx2(const float *x, size_t n, double m, float *y)
{
    const __m256 mv = _mm256_set1_ps((float)m);
    __m256d acc[FA_NV32];
    __m256 xv[FA_NV32], e[FA_NV32];
    for (int i = 0; i < FA_NV32; i++) acc[i] = _mm256_setzero_pd();
    size_t z = 0, j = 0;
    while (j + 8 * FA_NV32 <= n) {
        /* The maxima are counted in uint32 lanes, each incremented at most
         * FA_NV32 times per 8 * FA_NV32 elements: blocks of at most 2^32
         * elements keep them below 2^29 (no overflow, whatever n). */
        size_t stop = n - j > ((size_t)1 << 32) ? j + ((size_t)1 << 32) : n;
        __m256i cnt = _mm256_setzero_si256();
        for (; j + 8 * FA_NV32 <= stop; j += 8 * FA_NV32) {
            /* The row after this one (if any) is read from memory next, by
             * its max pass: start fetching it now, one 64-byte line per 16
             * elements, while this row is computed from cache (prefetches
             * do not fault past the end). */
            for (int i = 0; i < FA_NV32; i += 2)
                _mm_prefetch((const char *)(x + n + j + 8 * i), _MM_HINT_T1);
            for (int i = 0; i < FA_NV32; i++) xv[i] = _mm256_loadu_ps(x + j + 8 * i);
            fa_vsumexp_steps_f32_avx2(FA_NV32, xv, mv, NULL, acc, &cnt, e);
            if (y)
                for (int i = 0; i < FA_NV32; i++) _mm256_storeu_ps(y + j + 8 * i, e[i]);
        }
        z += fa_hsum_epu32_avx2(cnt);
    }
    if (j < n) {
        __m256i cnt = _mm256_setzero_si256();
        for (; j + 8 <= n; j += 8) {
            xv[0] = _mm256_loadu_ps(x + j);
            fa_vsumexp_steps_f32_avx2(1, xv, mv, NULL, acc, &cnt, e);
            if (y) _mm256_storeu_ps(y + j, e[0]);
        }
        if (j < n) {
            __m256i t = fa_tail8_avx2(n - j);
            __m256 valid = _mm256_castsi256_ps(t);
            xv[0] = _mm256_maskload_ps(x + j, t);
            fa_vsumexp_steps_f32_avx2(1, xv, mv, &valid, acc + 1, &cnt, e);
            if (y) _mm256_maskstore_ps(y + j, t, e[0]);
        }
        z += fa_hsum_epu32_avx2(cnt);
    }
    __m256d s = acc[0];
    for (int i = 1; i < FA_NV32; i++) s = _mm256_add_pd(s, acc[i]);
    return ((double)z - 1.0) + fa_hsum_pd_avx2(s);
}

/* y *= inv with a single rounding: inv = ih + il (float32 split), y * ih by
 * FMA with the small y * il added first (softmax's last pass, <= 0.5 ULP
 * plus the error already in y; up to ~0.63 near 2^-126, where y * il
 * underflows: outputs below 1e-38). */
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
    /* TwoSum with half its additions on the FMA pipes */
    __m256 hi = _mm256_sub_ps(x, m);
    __m256 xv = fa_vaddf256_ps(hi, m);
    __m256 mv = _mm256_sub_ps(xv, hi);
    __m256 lo = _mm256_add_ps(fa_vsubf256_ps(x, xv), fa_vsubf256_ps(mv, m));
    /* -inf - m: hi = -inf and lo = NaN; lo does not matter there */
    lo = _mm256_and_ps(_mm256_cmp_ps(hi, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ), lo);
    return _mm256_add_ps(fa_vsubf256_ps(hi, lh), _mm256_sub_ps(lo, ll));
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

/* e[i] = exp(hi[i] + lo[i]) in float64 for nv <= 4 vectors, hi <= 0 (-inf
 * included) or NaN: the operations of fa_vexp_f64_avx512 (< 1 ULP; results
 * bit for bit the same).  k by the shifter S = 1.5 * 2^52 + 1022 (hi * log2e
 * in [-1076.3, 0]: the sum lies where the ULP is 1, so it rounds to nearest
 * even, S being even: the same k as vroundscalepd; sum - S = k exactly, and
 * the low dword of the sum's encoding is B = 1022 + k in [-55, 1022],
 * signed), Cody-Waite with ln2_hi of 32 bits (k ln2_hi and hi - k ln2_hi
 * exact), Taylor polynomial of degree 13 by Horner with FMA (truncation
 * < 2^-62 for |r| <= 0.347).  2^k = 2^k1 * 2^k2, k1 = max(k - 1, -1021),
 * k2 = min(1, k + 1021) in [-56, 1]: biased exponents max(B, 2) and
 * min(B + 1022, 1024), by 32-bit min/max on the low dword (AVX2 has no
 * 64-bit ones; the 64-bit shift by 52 then keeps only the low 12 bits), both
 * normal; p * 2^k1 is exact (p >= 0.7), so the last product rounds a
 * subnormal result once.  Below -746 (lo ignored there): k = -1076 and
 * p * 2^-1076 < 2^-1075 rounds to 0. */
static inline void fa_vexpn_f64_avx2(int nv, const __m256d *hi_in, const __m256d *lo_in, __m256d *e)
{
    const __m256d lim = _mm256_set1_pd(-746.0);
    const __m256d shifter = _mm256_set1_pd(0x1.8p52 + 1022.0);
    __m256d r[4], p[4];
    __m256i kb[4];
    for (int i = 0; i < nv; i++) {
        __m256d lo = _mm256_and_pd(_mm256_cmp_pd(hi_in[i], lim, _CMP_GT_OQ), lo_in[i]);
        __m256d hi = _mm256_max_pd(lim, hi_in[i]); /* NaN stays NaN (second operand) */
        __m256d kf = _mm256_add_pd(_mm256_mul_pd(hi, _mm256_set1_pd(0x1.71547652b82fep0)), shifter);
        kb[i] = _mm256_castpd_si256(kf);
        kf = _mm256_sub_pd(kf, shifter); /* k, exactly */
        r[i] = _mm256_fnmadd_pd(kf, _mm256_set1_pd(0x1.62e42fee00000p-1), hi);
        r[i] = _mm256_fnmadd_pd(kf, _mm256_set1_pd(0x1.a39ef35793c76p-33), r[i]);
        r[i] = _mm256_add_pd(r[i], lo);
    }
    for (int i = 0; i < nv; i++) p[i] = _mm256_set1_pd(1.0 / 6227020800.0);
#define FA_H64(c) for (int i = 0; i < nv; i++) p[i] = _mm256_fmadd_pd(p[i], r[i], _mm256_set1_pd(c))
    FA_H64(1.0 / 479001600.0);
    FA_H64(1.0 / 39916800.0);
    FA_H64(1.0 / 3628800.0);
    FA_H64(1.0 / 362880.0);
    FA_H64(1.0 / 40320.0);
    FA_H64(1.0 / 5040.0);
    FA_H64(1.0 / 720.0);
    FA_H64(1.0 / 120.0);
    FA_H64(1.0 / 24.0);
    FA_H64(1.0 / 6.0);
    FA_H64(0.5);
    FA_H64(1.0);
    FA_H64(1.0);
#undef FA_H64
    const __m256i e1min = _mm256_set1_epi64x(2), e2max = _mm256_set1_epi64x(1024);
    for (int i = 0; i < nv; i++) {
        __m256i e1 = _mm256_max_epi32(kb[i], e1min); /* low dword: max(B, 2) */
        __m256i e2 = _mm256_min_epi32(_mm256_add_epi32(kb[i], _mm256_set1_epi64x(1022)), e2max);
        __m256d s1 = _mm256_castsi256_pd(_mm256_slli_epi64(e1, 52));
        __m256d s2 = _mm256_castsi256_pd(_mm256_slli_epi64(e2, 52));
        e[i] = _mm256_mul_pd(_mm256_mul_pd(p[i], s1), s2);
    }
}

static inline __m256d fa_vexp_f64_avx2(__m256d hi, __m256d lo)
{
    __m256d e;
    fa_vexpn_f64_avx2(1, &hi, &lo, &e);
    return e;
}

static inline void fa_hexp_row_f64_avx2(const double *d, double *y, size_t n)
{
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
        _mm256_storeu_pd(y + j, fa_vexp_f64_avx2(_mm256_loadu_pd(d + j), _mm256_setzero_pd()));
    if (j < n) {
        __m256i t = fa_tail4_avx2(n - j);
        _mm256_maskstore_pd(y + j, t, fa_vexp_f64_avx2(_mm256_maskload_pd(d + j, t), _mm256_setzero_pd()));
    }
}

/* nv vectors of the float64 sum pass.  The accumulator lanes start at 1.0
 * and every term is <= 1 (or NaN), so |s| >= |t| and Fast2Sum (3 operations)
 * is exact: (s[i], c[i]) is a compensated sum.  The maxima are counted in
 * the 64-bit lanes of *cnt.  valid: as in the float32 pass. */
static inline void fa_vsumexp_steps_f64_avx2(int nv, const __m256d *x, __m256d m, const __m256d *valid,
                                             __m256d *s, __m256d *c, __m256i *cnt, __m256d *e)
{
    __m256d hi[4], lo[4];
    for (int i = 0; i < nv; i++) hi[i] = fa_vtwo_diff_f64_avx2(x[i], m, &lo[i]);
    fa_vexpn_f64_avx2(nv, hi, lo, e);
    for (int i = 0; i < nv; i++) {
        __m256d one = _mm256_cmp_pd(hi[i], _mm256_setzero_pd(), _CMP_EQ_OQ);
        __m256d t = e[i];
        if (valid) {
            one = _mm256_and_pd(one, *valid);
            t = _mm256_and_pd(t, *valid);
        }
        t = _mm256_andnot_pd(one, t);
        *cnt = _mm256_sub_epi64(*cnt, _mm256_castpd_si256(one));
        __m256d u = _mm256_add_pd(s[i], t);
        c[i] = _mm256_add_pd(c[i], _mm256_add_pd(_mm256_sub_pd(s[i], u), t));
        s[i] = u;
    }
}

static inline double fa_hrow_sumexp_m1_f64_avx2(const double *x, size_t n, double m, double *y)
{
    const __m256d mv = _mm256_set1_pd(m);
    __m256d s[FA_NV64], c[FA_NV64], xv[FA_NV64], e[FA_NV64];
    for (int i = 0; i < FA_NV64; i++) {
        s[i] = _mm256_set1_pd(1.0);
        c[i] = _mm256_setzero_pd();
    }
    __m256i cnt = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 4 * FA_NV64 <= n; j += 4 * FA_NV64) {
        /* next row: one 64-byte line per 8 elements (see the float32 pass) */
        for (int i = 0; i < FA_NV64; i += 2)
            _mm_prefetch((const char *)(x + n + j + 4 * i), _MM_HINT_T1);
        for (int i = 0; i < FA_NV64; i++) xv[i] = _mm256_loadu_pd(x + j + 4 * i);
        fa_vsumexp_steps_f64_avx2(FA_NV64, xv, mv, NULL, s, c, &cnt, e);
        if (y)
            for (int i = 0; i < FA_NV64; i++) _mm256_storeu_pd(y + j + 4 * i, e[i]);
    }
    for (; j + 4 <= n; j += 4) {
        xv[0] = _mm256_loadu_pd(x + j);
        fa_vsumexp_steps_f64_avx2(1, xv, mv, NULL, s, c, &cnt, e);
        if (y) _mm256_storeu_pd(y + j, e[0]);
    }
    if (j < n) {
        __m256i t = fa_tail4_avx2(n - j);
        __m256d valid = _mm256_castsi256_pd(t);
        xv[0] = _mm256_maskload_pd(x + j, t);
        fa_vsumexp_steps_f64_avx2(1, xv, mv, &valid, s + 1, c + 1, &cnt, e);
        if (y) _mm256_maskstore_pd(y + j, t, e[0]);
    }
    /* remove the 1.0 each of the 4 * FA_NV64 lanes started from (exact:
     * lanes < 2^53), then add the lanes up with compensation */
    double sl[4 * FA_NV64], cl[4 * FA_NV64];
    for (int i = 0; i < FA_NV64; i++) {
        _mm256_storeu_pd(sl + 4 * i, _mm256_sub_pd(s[i], _mm256_set1_pd(1.0)));
        _mm256_storeu_pd(cl + 4 * i, c[i]);
    }
    double S = 0.0, C = 0.0;
    for (int l = 0; l < 4 * FA_NV64; l++) {
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
    /* TwoSum with half its additions on the FMA pipes */
    __m256d hi = _mm256_sub_pd(x, m);
    __m256d xv = fa_vaddf256_pd(hi, m);
    __m256d mv = _mm256_sub_pd(xv, hi);
    __m256d lo = _mm256_add_pd(fa_vsubf256_pd(x, xv), fa_vsubf256_pd(mv, m));
    lo = _mm256_and_pd(_mm256_cmp_pd(hi, _mm256_set1_pd(-1000.0), _CMP_GT_OQ), lo);
    return _mm256_add_pd(fa_vsubf256_pd(hi, lv), lo);
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

#undef FA_NV32
#undef FA_NV64
#endif /* FA_ROWS_AVX2_H */
