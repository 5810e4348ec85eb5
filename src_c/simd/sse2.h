/* The sse2 level (the x86-64 baseline): its exponentials, TwoSum, the scale
 * and log_softmax output arithmetic and, at the end, its traits: the
 * primitives of ops/vec_passes.h (simd/README.md).  Included in the sse2
 * region of ops/instantiate.h, which has no target attribute: only SSE2 (no
 * FMA, no SSE4.1 blendv / roundps / pmaxsd / pextrq, no AVX), and
 * -ffp-contract=off keeps every product and sum below rounded once, as
 * written.
 * What SSE2 lacks, and what replaces it:
 *   - FMA: the exponential's reduction keeps the products that must be exact
 *     exact by construction (Cody-Waite with a short ln2_hi), and its
 *     polynomial is evaluated as 1 + (r + r^2 q) with the rounding error of
 *     r carried along, so that the extra roundings of separate mul / add stay
 *     below the 1 ULP bound (measured margins at each kernel);
 *   - masked loads / stores: the last n % 4 float32 elements go through a
 *     small stack buffer: copied in (padding: -inf for the max, 0
 *     elsewhere), one full vector computed, the valid lanes copied out;
 *     padded lanes are kept out of every sum and count.  The float64 tail
 *     (one element) uses the low lane of a vector the same way.  Nothing
 *     outside [0, n) is read or written, and the tail elements get exactly
 *     the arithmetic of the vector lanes;
 *   - blendv: selects by and / andnot / or;
 *   - 32-bit integer min / max (SSE4.1): the biased exponents of the scale
 *     factors fit in the low 16-bit word of each lane, where SSE2 has signed
 *     min / max (pminsw / pmaxsw); the other words do not matter, the shift
 *     that builds the factor drops them.
 * Throughput: as in avx2.h the sum passes push FA_SSE2_NV vectors
 * through each stage of the exponential together (independent chains for the
 * out-of-order window). */
#ifndef FA_SIMD_SSE2_H
#define FA_SIMD_SSE2_H

#include <emmintrin.h>
#include <stddef.h>
#include <string.h>

#include "simd/fa_math.h"

#define FA_SSE2_NV 4 /* vectors per step of the sum passes (16 f32 / 8 f64 elements) */

/* Horizontal reductions (no NaN reaches hmax: the accumulators skip it). */
static inline float fa_reduce_max_ps_sse2(__m128 v)
{
    v = _mm_max_ps(v, _mm_movehl_ps(v, v));
    v = _mm_max_ss(v, _mm_shuffle_ps(v, v, 1));
    return _mm_cvtss_f32(v);
}
static inline double fa_reduce_max_pd_sse2(__m128d v)
{
    return _mm_cvtsd_f64(_mm_max_sd(v, _mm_unpackhi_pd(v, v)));
}
static inline double fa_reduce_add_pd_sse2(__m128d v)
{
    return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v)));
}
/* Sum of the 4 uint32 lanes (each < 2^32), in size_t. */
static inline size_t fa_reduce_add_epu32_sse2(__m128i v)
{
    __m128i w = _mm_add_epi64(_mm_and_si128(v, _mm_set1_epi64x(0xFFFFFFFF)), _mm_srli_epi64(v, 32));
    return (size_t)_mm_cvtsi128_si64(w) + (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(w, w));
}

/* float32 tail buffers: the rem < 4 last elements, padded with `fill`. */
static inline __m128 fa_load_part_ps_sse2(const float *x, size_t rem, float fill)
{
    float b[4] = {fill, fill, fill, fill};
    memcpy(b, x, rem * sizeof(float));
    return _mm_loadu_ps(b);
}
static inline void fa_store_part_ps_sse2(float *y, size_t rem, __m128 v)
{
    float b[4];
    _mm_storeu_ps(b, v);
    memcpy(y, b, rem * sizeof(float));
}
/* all-ones in the first rem lanes */
static inline __m128 fa_lanes_ps_sse2(size_t rem)
{
    return _mm_castsi128_ps(_mm_cmpgt_epi32(_mm_set1_epi32((int)rem), _mm_setr_epi32(0, 1, 2, 3)));
}

/* ---------------------------------------------------------------- float32 */

/* e[i] = exp(hi[i] + lo[i]) in float32 for nv <= FA_SSE2_NV vectors, hi <= 0
 * (any magnitude, -inf included) or NaN; lo: the exact tail of x - m,
 * ignored where hi <= -104.
 *   k = round(hi / ln2) by the shifter S = 1.5 * 2^23 + 126 (as avx2.h:
 *   hi * log2e in [-150.1, 0], the sum lands where the ULP is 1 and rounds to
 *   nearest even; sum - S = k exactly, the sum's encoding is
 *   0x4B400000 + B with B = 126 + k in [-24, 126]).  hi * log2e rounds
 *   before the shifter is added (also in avx2.h): k may differ from
 *   round(hi / ln2) by one at a near-tie, |r| <= ln2 / 2 + 2^-17 < 0.347.
 *   Reduction without FMA: k has <= 8 significant bits and ln2_hi =
 *   0x1.62e4p-1 has 15, so the product k ln2_hi is exact; it is a multiple
 *   of 2^-15, and for k != 0 (|hi| > 0.34) hi is a multiple of
 *   ulp(hi) >= 2^-25, so hi - k ln2_hi, below 0.35, is a multiple of 2^-25
 *   under 2^-1: 24 bits, exact.  The small terms lo - k ln2_lo (|.| <
 *   2^-12; their two roundings are below 2^-35 absolute) are added together
 *   first, then one rounding into r, |r| <= 0.347, whose error rl is
 *   recovered exactly (Fast2Sum: |rh| >= |small| unless r is below 2^-11,
 *   where an inexact rl is harmless: it is below 2^-35).
 *   exp(r) = 1 + (r + (rl + r^2 q(r))): the degree-6 polynomial of
 *   avx2.h (relative error 2^-28.3; 1 + r + r^2 q with q of degree 4,
 *   by Horner).  The roundings of r^2 q (|.| < 0.07) and of the inner sums
 *   are below 1/16 ULP of the result, the sum r + (...) (|.| < 0.42) rounds
 *   at a quarter of the result's ULP or less, then one rounding of 1 + t.
 *   Measured over every float32 in [-104.5, 0] (lo = 0): 0.881 ULP, and
 *   0.881 on 2e7 random exp(x - m) with the TwoSum tail.  Horner over the
 *   whole polynomial with separate mul / add: 1.16 ULP; this form without
 *   rl (r's rounding, up to ~0.18 ULP of the result): 0.976 ULP.
 *   2^k = 2^k1 * 2^k2 with biased exponents max(B, 2) and
 *   min(B + 126, 128) (k1 = max(k - 1, -125), k2 = k - k1 in [-25, 1], both
 *   factors normal; pmaxsw / pminsw on the low 16-bit word, which holds B as
 *   a signed word; the shift by 23 keeps only its low 9 bits).  p * 2^k1 is
 *   exact (p >= 0.7), so the last product is the scale's only rounding and a
 *   subnormal result is rounded once.  Below -104: k = -150 and the result
 *   < 0.98 * 2^-150 rounds to 0.  NaN: p is NaN, whatever the factors. */
FA_ALWAYS_INLINE void fa_vexpn_f32_sse2(int nv, const __m128 *hi_in, const __m128 *lo_in, __m128 *e)
{
    const __m128 lim = _mm_set1_ps(-104.0f);
    const __m128 shifter = _mm_set1_ps(0x1.8p23f + 126.0f); /* encoding 0x4B40007E */
    __m128 r[FA_SSE2_NV], rl[FA_SSE2_NV], q[FA_SSE2_NV];
    __m128i kb[FA_SSE2_NV];
    for (int i = 0; i < nv; i++) {
        /* -inf - m: hi = -inf and lo = NaN; lo does not matter there */
        __m128 lo = _mm_and_ps(_mm_cmpgt_ps(hi_in[i], lim), lo_in[i]);
        __m128 hi = _mm_max_ps(lim, hi_in[i]); /* NaN stays NaN (second operand) */
        __m128 kf = _mm_add_ps(_mm_mul_ps(hi, _mm_set1_ps(0x1.715476p0f)), shifter);
        kb[i] = _mm_castps_si128(kf);
        kf = _mm_sub_ps(kf, shifter); /* k, exactly */
        __m128 rh = _mm_sub_ps(hi, _mm_mul_ps(kf, _mm_set1_ps(0x1.62e4p-1f))); /* exact */
        __m128 small = _mm_sub_ps(lo, _mm_mul_ps(kf, _mm_set1_ps(0x1.7f7d1cp-20f)));
        r[i] = _mm_add_ps(rh, small);
        rl[i] = _mm_sub_ps(small, _mm_sub_ps(r[i], rh)); /* r + rl = rh + small */
    }
    for (int i = 0; i < nv; i++)
        q[i] = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(0x1.6a23cp-10f), r[i]), _mm_set1_ps(0x1.123a22p-7f));
#define FA_H32(c) for (int i = 0; i < nv; i++) q[i] = _mm_add_ps(_mm_mul_ps(q[i], r[i]), _mm_set1_ps(c))
    FA_H32(0x1.5558f4p-5f);
    FA_H32(0x1.555492p-3f);
    FA_H32(0x1.fffffcp-2f);
#undef FA_H32
    for (int i = 0; i < nv; i++) {
        __m128 t = _mm_add_ps(rl[i], _mm_mul_ps(_mm_mul_ps(r[i], r[i]), q[i]));
        q[i] = _mm_add_ps(_mm_set1_ps(1.0f), _mm_add_ps(r[i], t)); /* p */
    }
    const __m128i e1min = _mm_set1_epi32(2), e2max = _mm_set1_epi32(128);
    for (int i = 0; i < nv; i++) {
        __m128i e1 = _mm_max_epi16(kb[i], e1min); /* low word: max(B, 2) */
        __m128i e2 = _mm_min_epi16(_mm_add_epi32(kb[i], _mm_set1_epi32(126)), e2max);
        __m128 s1 = _mm_castsi128_ps(_mm_slli_epi32(e1, 23));
        __m128 s2 = _mm_castsi128_ps(_mm_slli_epi32(e2, 23));
        e[i] = _mm_mul_ps(_mm_mul_ps(q[i], s1), s2);
    }
}

/* x - m = hi + lo exactly (TwoSum). */
static inline __m128 fa_vtwo_diff_f32_sse2(__m128 x, __m128 m, __m128 *lo)
{
    __m128 hi = _mm_sub_ps(x, m);
    __m128 xv = _mm_add_ps(hi, m);
    __m128 mv = _mm_sub_ps(xv, hi);
    *lo = _mm_add_ps(_mm_sub_ps(x, xv), _mm_sub_ps(mv, m));
    return hi;
}

/* y = (float)((double)y * inv): the portable formula, exactly (one double
 * product, rounded to float32: <= 0.5 ULP + 2^-29 plus the error already in
 * y).  SSE2 has no FMA for the float32 split of avx2.h, and the
 * conversions cost less than emulating it. */
static inline __m128 fa_vscale_f32_sse2(__m128 v, __m128d iv_lo, __m128d iv_hi)
{
    __m128d a = _mm_mul_pd(_mm_cvtps_pd(v), iv_lo);
    __m128d b = _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(v, v)), iv_hi);
    return _mm_movelh_ps(_mm_cvtpd_ps(a), _mm_cvtpd_ps(b));
}

/* One vector of log_softmax's output: the portable formula exactly,
 * (float)(((double)x - m) - L): x - m is exact in double unless the exponents
 * of x and m are more than 29 apart (then it rounds at 2^-53 relative), one
 * more double rounding, then one to float32: <= 0.5 ULP + 2^-28 plus
 * log1p's error (avx2.h rounds twice in float32, <= 1 ULP; the
 * conversions cost less than its TwoSum here). */
static inline __m128 fa_vlsm_f32_sse2(__m128 x, __m128d m_lo, __m128d m_hi, __m128d L_lo,
                                      __m128d L_hi)
{
    __m128d a = _mm_sub_pd(_mm_sub_pd(_mm_cvtps_pd(x), m_lo), L_lo);
    __m128d b = _mm_sub_pd(_mm_sub_pd(_mm_cvtps_pd(_mm_movehl_ps(x, x)), m_hi), L_hi);
    return _mm_movelh_ps(_mm_cvtpd_ps(a), _mm_cvtpd_ps(b));
}

/* ---------------------------------------------------------------- float64 */

/* The float64 tail is one element: it goes through the low lane of a vector
 * (_mm_set_sd / _mm_cvtsd_f64), the high lane masked out of sums and counts
 * (or -inf for the max). */

static inline __m128d fa_vtwo_diff_f64_sse2(__m128d x, __m128d m, __m128d *lo)
{
    __m128d hi = _mm_sub_pd(x, m);
    __m128d xv = _mm_add_pd(hi, m);
    __m128d mv = _mm_sub_pd(xv, hi);
    *lo = _mm_add_pd(_mm_sub_pd(x, xv), _mm_sub_pd(mv, m));
    return hi;
}

/* e[i] = exp(hi[i] + lo[i]) in float64 for nv <= FA_SSE2_NV vectors, hi <= 0
 * (-inf included) or NaN; lo ignored below -746.  The structure of
 * fa_exp_nonpos_deg (fa_math.h, degree 13), vectorised:
 *   k by the shifter S = 1.5 * 2^52 + 1022 (as avx2.h: the low bits of
 *   the sum's encoding are B = 1022 + k in [-55, 1022]; hi * log2e rounds
 *   first, which can only move k by one at a near-tie: |r| <= ln2 / 2 +
 *   2^-43);
 *   Cody-Waite with ln2_hi of 32 significant bits: k (11 bits) * ln2_hi is
 *   an exact product, hi - k ln2_hi exact (as for float32: a multiple of
 *   ulp(hi) >= 2^-54 below 2^-1); the small terms lo - k ln2_lo
 *   (|.| < 2^-22, roundings < 2^-74 absolute) added together first, then one
 *   rounding into r, whose error rl is kept (Fast2Sum, as for float32);
 *   exp(r) = 1 + (r + (rl + r^2 (1/2 + r (1/6 + r Q)))), the Taylor
 *   polynomial (truncation < 2^-62), Q by Estrin: the roundings of the tail
 *   are scaled by r^3 < 0.042, the sum r + (...) (|.| < 0.42) rounds at a
 *   quarter of the result's ULP or less, then one rounding of 1 + t.
 *   Measured on 4e7 random points of [-746.5, 0] (uniform, |x| < 0.7, and
 *   x in [-1, -2^-60]): 0.879 ULP; 2e7 random exp(x - m) with the TwoSum
 *   tail: 0.876 ULP.  Without rl (for lo = 0, the operations of
 *   fa_exp_nonpos_deg): 0.957 ULP.
 *   2^k = 2^k1 * 2^k2: biased exponents max(B, 2) and min(B + 1022, 1024)
 *   by pmaxsw / pminsw on the low word of each 64-bit lane (B is a signed
 *   word there; the 64-bit shift by 52 keeps only the low 12 bits), both
 *   factors normal, p * 2^k1 exact (p >= 0.7): a subnormal result is
 *   rounded once.  Below -746: k = -1076 and p * 2^-1076 < 2^-1075 rounds
 *   to 0. */
FA_ALWAYS_INLINE void fa_vexpn_f64_sse2(int nv, const __m128d *hi_in, const __m128d *lo_in, __m128d *e)
{
    const __m128d lim = _mm_set1_pd(-746.0);
    const __m128d shifter = _mm_set1_pd(0x1.8p52 + 1022.0);
    __m128d r[FA_SSE2_NV], rl[FA_SSE2_NV], p[FA_SSE2_NV];
    __m128i kb[FA_SSE2_NV];
    for (int i = 0; i < nv; i++) {
        __m128d lo = _mm_and_pd(_mm_cmpgt_pd(hi_in[i], lim), lo_in[i]);
        __m128d hi = _mm_max_pd(lim, hi_in[i]); /* NaN stays NaN (second operand) */
        __m128d kf = _mm_add_pd(_mm_mul_pd(hi, _mm_set1_pd(0x1.71547652b82fep0)), shifter);
        kb[i] = _mm_castpd_si128(kf);
        kf = _mm_sub_pd(kf, shifter); /* k, exactly */
        __m128d rh = _mm_sub_pd(hi, _mm_mul_pd(kf, _mm_set1_pd(0x1.62e42fee00000p-1))); /* exact */
        __m128d small = _mm_sub_pd(lo, _mm_mul_pd(kf, _mm_set1_pd(0x1.a39ef35793c76p-33)));
        r[i] = _mm_add_pd(rh, small);
        rl[i] = _mm_sub_pd(small, _mm_sub_pd(r[i], rh));
    }
#define FA_MA(a, b, c) _mm_add_pd(_mm_mul_pd(a, b), c)
#define FA_C(c) _mm_set1_pd(c)
    for (int i = 0; i < nv; i++) {
        __m128d x = r[i];
        __m128d r2 = _mm_mul_pd(x, x), r4 = _mm_mul_pd(r2, r2);
        __m128d q45 = FA_MA(x, FA_C(1.0 / 120.0), FA_C(1.0 / 24.0));
        __m128d q67 = FA_MA(x, FA_C(1.0 / 5040.0), FA_C(1.0 / 720.0));
        __m128d q89 = FA_MA(x, FA_C(1.0 / 362880.0), FA_C(1.0 / 40320.0));
        __m128d q1011 = FA_MA(x, FA_C(1.0 / 39916800.0), FA_C(1.0 / 3628800.0));
        __m128d q1213 = FA_MA(x, FA_C(1.0 / 6227020800.0), FA_C(1.0 / 479001600.0));
        __m128d q = _mm_add_pd(FA_MA(r2, q67, q45),
                               _mm_mul_pd(r4, _mm_add_pd(FA_MA(r2, q1011, q89), _mm_mul_pd(r4, q1213))));
        q = FA_MA(x, FA_MA(x, q, FA_C(1.0 / 6.0)), FA_C(0.5));
        __m128d t = _mm_add_pd(rl[i], _mm_mul_pd(r2, q));
        p[i] = _mm_add_pd(FA_C(1.0), _mm_add_pd(x, t));
    }
#undef FA_MA
#undef FA_C
    const __m128i e1min = _mm_set1_epi64x(2), e2max = _mm_set1_epi64x(1024);
    for (int i = 0; i < nv; i++) {
        __m128i e1 = _mm_max_epi16(kb[i], e1min); /* low word: max(B, 2) */
        __m128i e2 = _mm_min_epi16(_mm_add_epi32(kb[i], _mm_set1_epi64x(1022)), e2max);
        __m128d s1 = _mm_castsi128_pd(_mm_slli_epi64(e1, 52));
        __m128d s2 = _mm_castsi128_pd(_mm_slli_epi64(e2, 52));
        e[i] = _mm_mul_pd(_mm_mul_pd(p[i], s1), s2);
    }
}

/* y = (hi - L) + lo with x - m = hi + lo exactly (as log_softmax_one; lo
 * dropped below -1000, where it may be NaN for x = -inf). */
static inline __m128d fa_vlsm_f64_sse2(__m128d x, __m128d m, __m128d lv)
{
    __m128d lo;
    __m128d hi = fa_vtwo_diff_f64_sse2(x, m, &lo);
    lo = _mm_and_pd(_mm_cmpgt_pd(hi, _mm_set1_pd(-1000.0)), lo);
    return _mm_add_pd(_mm_sub_pd(hi, lv), lo);
}

/* ------------------------------------------------------------------ traits
 * The primitives the generic passes (ops/vec_passes.h) are written over; the
 * list and contracts are in simd/README.md.  Partial float32 vectors go
 * through a small stack buffer (fa_load_part_ps_sse2), a partial float64
 * vector is its low lane. */
typedef __m128 fa_sse2_f32_t;
typedef __m128 fa_sse2_f32_m;
typedef __m128d fa_sse2_f32_acc;
typedef __m128i fa_sse2_f32_cnt;
typedef struct { __m128d lo, hi; } fa_sse2_f32_scale_k; /* lanes 0-1, 2-3 */
typedef struct { __m128d m_lo, m_hi, L_lo, L_hi; } fa_sse2_f32_lsm_k;
#define fa_sse2_f32_LANES 4
#define fa_sse2_f32_U_SUM FA_SSE2_NV
#define fa_sse2_f32_U_MAP 2
#define fa_sse2_f32_TAIL_ACC 1
#define fa_sse2_f32_TAIL_MAX 1
#define fa_sse2_f32_U_COL 4

static inline __m128 fa_sse2_f32_set1(float v) { return _mm_set1_ps(v); }
static inline __m128 fa_sse2_f32_loadu(const float *p) { return _mm_loadu_ps(p); }
static inline void fa_sse2_f32_storeu(float *p, __m128 v) { _mm_storeu_ps(p, v); }
static inline __m128 fa_sse2_f32_first(size_t rem) { return fa_lanes_ps_sse2(rem); }
static inline __m128 fa_sse2_f32_load_part(const float *p, size_t rem, float fill)
{
    return fa_load_part_ps_sse2(p, rem, fill);
}
static inline void fa_sse2_f32_store_part(float *p, size_t rem, __m128 v)
{
    fa_store_part_ps_sse2(p, rem, v);
}
static inline __m128 fa_sse2_f32_max(__m128 x, __m128 m) { return _mm_max_ps(x, m); }
static inline float fa_sse2_f32_hmax(__m128 v) { return fa_reduce_max_ps_sse2(v); }
FA_ALWAYS_INLINE void fa_sse2_f32_prefetch(const char *p) { _mm_prefetch(p, _MM_HINT_T1); }
static inline __m128 fa_sse2_f32_two_diff(__m128 x, __m128 m, __m128 *lo)
{
    return fa_vtwo_diff_f32_sse2(x, m, lo);
}
FA_ALWAYS_INLINE void fa_sse2_f32_expn(int nv, const __m128 *hi, const __m128 *lo, __m128 *e)
{
    fa_vexpn_f32_sse2(nv, hi, lo, e);
}
static inline void fa_sse2_f32_acc_init(__m128d *a) { *a = _mm_setzero_pd(); }
/* as fa_avx2_f32_acc_add */
static inline void fa_sse2_f32_acc_add(__m128d *a, __m128 e, __m128 hi, const __m128 *valid,
                                       __m128i *cnt)
{
    __m128 one = _mm_cmpeq_ps(hi, _mm_setzero_ps()), t = e;
    if (valid) {
        one = _mm_and_ps(one, *valid);
        t = _mm_and_ps(t, *valid);
    }
    t = _mm_andnot_ps(one, t);
    *cnt = _mm_sub_epi32(*cnt, _mm_castps_si128(one));
    *a = _mm_add_pd(*a, _mm_add_pd(_mm_cvtps_pd(t), _mm_cvtps_pd(_mm_movehl_ps(t, t))));
}
static inline __m128i fa_sse2_f32_cnt_zero(void) { return _mm_setzero_si128(); }
static inline size_t fa_sse2_f32_cnt_total(__m128i c) { return fa_reduce_add_epu32_sse2(c); }
static inline double fa_sse2_f32_acc_finish(const __m128d *a, size_t z)
{
    __m128d s = a[0];
    for (int i = 1; i < fa_sse2_f32_U_SUM; i++) s = _mm_add_pd(s, a[i]);
    return ((double)z - 1.0) + fa_reduce_add_pd_sse2(s);
}
static inline fa_sse2_f32_scale_k fa_sse2_f32_scale_prep(double inv)
{
    fa_sse2_f32_scale_k k = {_mm_set1_pd(inv), _mm_set1_pd(inv)};
    return k;
}
static inline __m128 fa_sse2_f32_scale(__m128 v, const fa_sse2_f32_scale_k *k)
{
    return fa_vscale_f32_sse2(v, k->lo, k->hi);
}
/* Column state (ops/vec_passes.h): as fa_avx2_f32_col_add */
static inline void fa_sse2_f32_col_add(double *acc, int32_t *cnt, __m128 e, __m128 hi,
                                       const __m128 *valid)
{
    __m128 one = _mm_cmpeq_ps(hi, _mm_setzero_ps()), t = e;
    if (valid) {
        one = _mm_and_ps(one, *valid);
        t = _mm_and_ps(t, *valid);
    }
    t = _mm_andnot_ps(one, t);
    __m128i *ct = (__m128i *)cnt;
    _mm_storeu_si128(ct, _mm_sub_epi32(_mm_loadu_si128(ct), _mm_castps_si128(one)));
    _mm_storeu_pd(acc, _mm_add_pd(_mm_loadu_pd(acc), _mm_cvtps_pd(t)));
    _mm_storeu_pd(acc + 2, _mm_add_pd(_mm_loadu_pd(acc + 2), _mm_cvtps_pd(_mm_movehl_ps(t, t))));
}
/* up to 4 doubles, 0 past rem */
static inline void fa_sse2_load4_pd(const double *p, size_t rem, __m128d *lo, __m128d *hi)
{
    double b[4] = {0.0, 0.0, 0.0, 0.0};
    memcpy(b, p, (rem < 4 ? rem : 4) * sizeof(double));
    *lo = _mm_loadu_pd(b);
    *hi = _mm_loadu_pd(b + 2);
}
static inline fa_sse2_f32_scale_k fa_sse2_f32_scale_kv(const double *inv, size_t rem)
{
    fa_sse2_f32_scale_k k;
    fa_sse2_load4_pd(inv, rem, &k.lo, &k.hi);
    return k;
}
static inline fa_sse2_f32_lsm_k fa_sse2_f32_lsm_kv(const float *m, const double *L, size_t rem)
{
    fa_sse2_f32_lsm_k k;
    __m128 mv = fa_load_part_ps_sse2(m, rem < 4 ? rem : 4, 0.0f);
    k.m_lo = _mm_cvtps_pd(mv);
    k.m_hi = _mm_cvtps_pd(_mm_movehl_ps(mv, mv));
    fa_sse2_load4_pd(L, rem, &k.L_lo, &k.L_hi);
    return k;
}
static inline fa_sse2_f32_lsm_k fa_sse2_f32_lsm_prep(double m, double L)
{
    /* m is a float32 (the row's max) */
    fa_sse2_f32_lsm_k k = {_mm_set1_pd(m), _mm_set1_pd(m), _mm_set1_pd(L), _mm_set1_pd(L)};
    return k;
}
static inline __m128 fa_sse2_f32_lsm(__m128 x, const fa_sse2_f32_lsm_k *k)
{
    return fa_vlsm_f32_sse2(x, k->m_lo, k->m_hi, k->L_lo, k->L_hi);
}

typedef __m128d fa_sse2_f64_t;
typedef __m128d fa_sse2_f64_m;
typedef struct { __m128d m, L; } fa_sse2_f64_lsm_k;
#define fa_sse2_f64_LANES 2
#define fa_sse2_f64_U_SUM FA_SSE2_NV
#define fa_sse2_f64_U_MAP 2
#define fa_sse2_f64_TAIL_ACC 1
#define fa_sse2_f64_TAIL_MAX 1
#define fa_sse2_f64_U_COL 4

static inline __m128d fa_sse2_f64_set1(double v) { return _mm_set1_pd(v); }
static inline __m128d fa_sse2_f64_loadu(const double *p) { return _mm_loadu_pd(p); }
static inline void fa_sse2_f64_storeu(double *p, __m128d v) { _mm_storeu_pd(p, v); }
/* the first rem <= 2 lanes (the row passes' partial vector is one lane; the
 * column passes also ask for whole vectors of per-column factors) */
static inline __m128d fa_sse2_f64_first(size_t rem)
{
    return _mm_castsi128_pd(_mm_set_epi64x(rem >= 2 ? -1 : 0, -1));
}
static inline __m128d fa_sse2_f64_load_part(const double *p, size_t rem, double fill)
{
    return rem >= 2 ? _mm_loadu_pd(p) : _mm_set_pd(fill, p[0]);
}
static inline void fa_sse2_f64_store_part(double *p, size_t rem, __m128d v)
{
    if (rem >= 2) _mm_storeu_pd(p, v);
    else _mm_store_sd(p, v);
}
static inline __m128d fa_sse2_f64_max(__m128d x, __m128d m) { return _mm_max_pd(x, m); }
static inline double fa_sse2_f64_hmax(__m128d v) { return fa_reduce_max_pd_sse2(v); }
FA_ALWAYS_INLINE void fa_sse2_f64_prefetch(const char *p) { _mm_prefetch(p, _MM_HINT_T1); }
static inline __m128d fa_sse2_f64_add(__m128d a, __m128d b) { return _mm_add_pd(a, b); }
static inline __m128d fa_sse2_f64_sub(__m128d a, __m128d b) { return _mm_sub_pd(a, b); }
static inline __m128d fa_sse2_f64_mul(__m128d a, __m128d b) { return _mm_mul_pd(a, b); }
/* v where the lanes of m are set, else 0 */
static inline __m128d fa_sse2_f64_keep(__m128d v, __m128d m) { return _mm_and_pd(v, m); }
static inline __m128d fa_sse2_f64_two_diff(__m128d x, __m128d m, __m128d *lo)
{
    return fa_vtwo_diff_f64_sse2(x, m, lo);
}
FA_ALWAYS_INLINE void fa_sse2_f64_expn(int nv, const __m128d *hi, const __m128d *lo, __m128d *e)
{
    fa_vexpn_f64_sse2(nv, hi, lo, e);
}
static inline fa_sse2_f64_lsm_k fa_sse2_f64_lsm_kv(const double *m, const double *L, size_t rem)
{
    fa_sse2_f64_lsm_k k = {fa_sse2_f64_load_part(m, rem, 0.0), fa_sse2_f64_load_part(L, rem, 0.0)};
    return k;
}
static inline fa_sse2_f64_lsm_k fa_sse2_f64_lsm_prep(double m, double L)
{
    fa_sse2_f64_lsm_k k = {_mm_set1_pd(m), _mm_set1_pd(L)};
    return k;
}
static inline __m128d fa_sse2_f64_lsm(__m128d x, const fa_sse2_f64_lsm_k *k)
{
    return fa_vlsm_f64_sse2(x, k->m, k->L);
}

/* Masks of where= (ops/masked_passes.h): mask_lanes(p) = the lanes whose
 * mask byte p[l] (l < LANES) is nonzero, a lane mask for blend (below:
 * blend(f, v, m) = v in the lanes of m, else f; a select, so NaN in the
 * other lanes never reaches the result). */
static inline __m128 fa_sse2_f32_mask_lanes(const uint8_t *p)
{
    int32_t b;
    memcpy(&b, p, 4);
    const __m128i z = _mm_setzero_si128();
    __m128i w = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(b), z), z);
    return _mm_castsi128_ps(_mm_cmpgt_epi32(w, z)); /* bytes 0..255 as positive int32 */
}
static inline __m128d fa_sse2_f64_mask_lanes(const uint8_t *p)
{
    return _mm_castsi128_pd(_mm_set_epi64x(p[1] ? -1 : 0, p[0] ? -1 : 0));
}

/* Element-wise map primitives (ops/map_passes.h): f32/f64 mul, ordered
 * compares (false where either operand is NaN), blend(a, b, m) = m ? b : a
 * (exact selects, bits untouched), stream(p, v): a non-temporal store to p
 * aligned to 16 bytes (no read of the line for ownership), and fence() to
 * order the streamed stores before the pass returns. */
static inline __m128 fa_sse2_f32_mul(__m128 a, __m128 b) { return _mm_mul_ps(a, b); }
static inline __m128 fa_sse2_f32_le(__m128 a, __m128 b) { return _mm_cmple_ps(a, b); }
static inline __m128 fa_sse2_f32_gt(__m128 a, __m128 b) { return _mm_cmpgt_ps(a, b); }
static inline __m128 fa_sse2_f32_blend(__m128 a, __m128 b, __m128 m)
{
    return _mm_or_ps(_mm_and_ps(m, b), _mm_andnot_ps(m, a));
}
static inline __m128 fa_sse2_f32_zero_where(__m128 v, __m128 m) { return _mm_andnot_ps(m, v); }
static inline void fa_sse2_f32_stream(float *p, __m128 v) { _mm_stream_ps(p, v); }
static inline void fa_sse2_f32_fence(void) { _mm_sfence(); }
static inline __m128d fa_sse2_f64_le(__m128d a, __m128d b) { return _mm_cmple_pd(a, b); }
static inline __m128d fa_sse2_f64_gt(__m128d a, __m128d b) { return _mm_cmpgt_pd(a, b); }
static inline __m128d fa_sse2_f64_blend(__m128d a, __m128d b, __m128d m)
{
    return _mm_or_pd(_mm_and_pd(m, b), _mm_andnot_pd(m, a));
}
static inline __m128d fa_sse2_f64_zero_where(__m128d v, __m128d m) { return _mm_andnot_pd(m, v); }
static inline void fa_sse2_f64_stream(double *p, __m128d v) { _mm_stream_pd(p, v); }
static inline void fa_sse2_f64_fence(void) { _mm_sfence(); }

/* no fused multiply-add: the float-float passes (ops/sigmoid.c) are not
 * built at this level */
#define fa_sse2_f32_FMA 0

#endif /* FA_SIMD_SSE2_H */
