/* The avx2 level (AVX2+FMA): its exponentials (the same operations as
 * avx512.h's float32 one: bit-identical results, checked over every float32
 * x <= 0), TwoSum, the log_softmax output arithmetic and, at the end, its
 * traits: the primitives of ops/vec_passes.h (simd/README.md).  Included
 * inside the AVX2 target region of ops/instantiate.h.
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
 * through each stage together, so the sum passes work on U_SUM (rows) and
 * U_COL (columns) vectors at a time (interleaved; worth ~15% for float32, ~25% for float64
 * on Zen 4). */
#ifndef FA_SIMD_AVX2_H
#define FA_SIMD_AVX2_H

#include <immintrin.h>
#include <stddef.h>

#include "simd/fa_math.h"

#define FA_NV32 4 /* vectors per step of the float32 sum pass (32 elements) */
#define FA_NV64 4 /* float64 (16 elements) */

/* Lane masks (all-ones lanes) for the first rem lanes, 0 < rem < 8 (f32) or
 * rem < 4 (f64). */
static inline __m256i fa_lanes_ps_avx2(size_t rem)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i fa_lanes_pd_avx2(size_t rem)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)rem), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* Horizontal reductions (no NaN reaches hmax: the accumulators skip it). */
static inline float fa_reduce_max_ps_avx2(__m256 v)
{
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}
static inline double fa_reduce_max_pd_avx2(__m256d v)
{
    __m128d h = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    h = _mm_max_sd(h, _mm_unpackhi_pd(h, h));
    return _mm_cvtsd_f64(h);
}
static inline double fa_reduce_add_pd_avx2(__m256d v)
{
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
    return _mm_cvtsd_f64(h);
}
/* Sum of the 8 uint32 lanes, in size_t (no overflow: lanes < 2^32). */
static inline size_t fa_reduce_add_epu32_avx2(__m256i v)
{
    __m256i w = _mm256_add_epi64(_mm256_and_si256(v, _mm256_set1_epi64x(0xFFFFFFFF)),
                                 _mm256_srli_epi64(v, 32));
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    return (size_t)_mm_cvtsi128_si64(h) + (size_t)_mm_extract_epi64(h, 1);
}

/* ---------------------------------------------------------------- float32 */

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
/* narrow (a constant at each call): the caller knows that hi >= -86 or NaN
 * in every lane, and that lo is finite where hi is (fa_vexpn_narrow_f32_avx2
 * below); the clamp, the mask of lo and the split of 2^k are then left out,
 * with the same results. */
FA_ALWAYS_INLINE void fa_vexpn_f32_avx2_impl(int nv, int narrow, const __m256 *hi_in,
                                             const __m256 *lo_in, __m256 *e)
{
    const __m256 lim = _mm256_set1_ps(-104.0f);
    const __m256 shifter = _mm256_set1_ps(0x1.8p23f + 126.0f); /* encoding 0x4B40007E */
    __m256 r[4], p[4];
    __m256i kb[4];
    for (int i = 0; i < nv; i++) {
        __m256 lo = lo_in[i], hi = hi_in[i];
        if (!narrow) {
            /* -inf - m: hi = -inf and lo = NaN; lo does not matter there */
            lo = _mm256_and_ps(_mm256_cmp_ps(hi, lim, _CMP_GT_OQ), lo);
            hi = _mm256_max_ps(lim, hi); /* NaN stays NaN (second operand) */
        }
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
    if (narrow) {
        /* k >= -124: 2^k normal (biased exponent B + 1), p * 2^k normal and
         * exact, as is each product of the split */
        for (int i = 0; i < nv; i++) {
            __m256i b = _mm256_add_epi32(kb[i], _mm256_set1_epi32(1));
            e[i] = _mm256_mul_ps(p[i], _mm256_castsi256_ps(_mm256_slli_epi32(b, 23)));
        }
        return;
    }
    const __m256i e1min = _mm256_set1_epi32(0x4B400000 + 2), e2max = _mm256_set1_epi32(0x4B400000 + 128);
    for (int i = 0; i < nv; i++) {
        __m256i e1 = _mm256_max_epi32(kb[i], e1min); /* ... + max(B, 2) */
        __m256i e2 = _mm256_min_epi32(_mm256_add_epi32(kb[i], _mm256_set1_epi32(126)), e2max);
        __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(e1, 23));
        __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(e2, 23));
        e[i] = _mm256_mul_ps(_mm256_mul_ps(p[i], s1), s2);
    }
}

FA_ALWAYS_INLINE void fa_vexpn_f32_avx2(int nv, const __m256 *hi_in, const __m256 *lo_in, __m256 *e)
{
    fa_vexpn_f32_avx2_impl(nv, 0, hi_in, lo_in, e);
}

/* fa_vexpn_f32_avx2 where every lane's hi is >= -86 or NaN (rows whose
 * finite min and max are within 86: vrow_max_nr in ops/vec_passes.h): the
 * same results bit for bit, ~8 of ~38 operations per vector fewer.  hi >=
 * -86 gives hi * log2e >= -124.1, so k >= -124 (rounded from above -124.5);
 * no hi is -inf, so lo is not NaN there (NaN hi: NaN results either way);
 * 2^k = (p 2^k1) 2^k2 = p 2^k exactly (p >= 0.7: the result >= 0.7 *
 * 2^-124 is normal). */
FA_ALWAYS_INLINE void fa_vexpn_narrow_f32_avx2(int nv, const __m256 *hi_in, const __m256 *lo_in, __m256 *e)
{
    fa_vexpn_f32_avx2_impl(nv, 1, hi_in, lo_in, e);
}

/* a - b and a + b as a fused multiply-add with 1.0: the same result as
 * vsub/vadd (one rounding) on the FMA pipes, for passes made of additions
 * only (log_softmax's output; see avx512.h). */
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

/* ---------------------------------------------------------------- float64 */

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
FA_ALWAYS_INLINE void fa_vexpn_f64_avx2(int nv, const __m256d *hi_in, const __m256d *lo_in, __m256d *e)
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

/* ------------------------------------------------------------------ traits
 * The primitives the generic passes (ops/vec_passes.h) are written over; the
 * list and contracts are in simd/README.md.  Masks are lane masks (all-ones
 * lanes) in a vector; partial vectors are read and written with vmaskmov. */
typedef __m256 fa_avx2_f32_t;
typedef __m256 fa_avx2_f32_m;
typedef __m256d fa_avx2_f32_acc; /* double sums; the two halves of a vector added first */
typedef __m256i fa_avx2_f32_cnt; /* maxima per 32-bit lane */
typedef struct { __m256 ih, il; } fa_avx2_f32_scale_k;
typedef struct { __m256 m, lh, ll; } fa_avx2_f32_lsm_k;
#define fa_avx2_f32_LANES 8
#define fa_avx2_f32_U_SUM 4
#define fa_avx2_f32_U_MAP 2
#define fa_avx2_f32_TAIL_ACC 1
#define fa_avx2_f32_TAIL_MAX 1
#define fa_avx2_f32_U_COL 4

static inline __m256 fa_avx2_f32_set1(float v) { return _mm256_set1_ps(v); }
static inline __m256 fa_avx2_f32_loadu(const float *p) { return _mm256_loadu_ps(p); }
static inline void fa_avx2_f32_storeu(float *p, __m256 v) { _mm256_storeu_ps(p, v); }
static inline __m256 fa_avx2_f32_first(size_t rem) { return _mm256_castsi256_ps(fa_lanes_ps_avx2(rem)); }
/* maskload zeroes the lanes it does not read: they get `fill` */
static inline __m256 fa_avx2_f32_load_part(const float *p, size_t rem, float fill)
{
    __m256i t = fa_lanes_ps_avx2(rem);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, t), _mm256_castsi256_ps(t));
}
static inline void fa_avx2_f32_store_part(float *p, size_t rem, __m256 v)
{
    _mm256_maskstore_ps(p, fa_lanes_ps_avx2(rem), v);
}
static inline __m256 fa_avx2_f32_max(__m256 x, __m256 m) { return _mm256_max_ps(x, m); }
static inline float fa_avx2_f32_hmax(__m256 v) { return fa_reduce_max_ps_avx2(v); }
/* Always inlined, at every level: GCC (12) may judge an out-of-line call
 * to a function holding only a prefetch free of side effects and delete it
 * (the row sum pass lost its prefetch of the next row so when it was
 * rewritten to serve two rows at once, an experiment not kept: long rows ran
 * 1.2-1.45x slower on a Zen 3). */
FA_ALWAYS_INLINE void fa_avx2_f32_prefetch(const char *p) { _mm_prefetch(p, _MM_HINT_T1); }
static inline __m256 fa_avx2_f32_two_diff(__m256 x, __m256 m, __m256 *lo)
{
    return fa_vtwo_diff_f32_avx2(x, m, lo);
}
FA_ALWAYS_INLINE void fa_avx2_f32_expn(int nv, const __m256 *hi, const __m256 *lo, __m256 *e)
{
    fa_vexpn_f32_avx2(nv, hi, lo, e);
}
#define fa_avx2_f32_NARROW 1
#define fa_avx2_f32_NARROW_MIN (-86.0f) /* expn_narrow's range: hi >= this */
FA_ALWAYS_INLINE void fa_avx2_f32_expn_narrow(int nv, const __m256 *hi, const __m256 *lo, __m256 *e)
{
    fa_vexpn_narrow_f32_avx2(nv, hi, lo, e);
}
static inline __m256 fa_avx2_f32_min(__m256 x, __m256 m) { return _mm256_min_ps(x, m); }
static inline float fa_avx2_f32_hmin(__m256 v)
{
    __m128 h = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_min_ps(h, _mm_movehl_ps(h, h));
    h = _mm_min_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}
static inline void fa_avx2_f32_acc_init(__m256d *a) { *a = _mm256_setzero_pd(); }
/* x - m == 0 exactly at the maxima (never for inf - inf = NaN): counted (the
 * compare mask is -1: subtracting it adds 1); the other valid lanes added in
 * double, the two halves first (rounding <= 2^-53 relative, as the sum) */
static inline void fa_avx2_f32_acc_add(__m256d *a, __m256 e, __m256 hi, const __m256 *valid,
                                       __m256i *cnt)
{
    __m256 one = _mm256_cmp_ps(hi, _mm256_setzero_ps(), _CMP_EQ_OQ), t = e;
    if (valid) {
        one = _mm256_and_ps(one, *valid);
        t = _mm256_and_ps(t, *valid);
    }
    t = _mm256_andnot_ps(one, t); /* NaN stays (one is false there) */
    *cnt = _mm256_sub_epi32(*cnt, _mm256_castps_si256(one));
    *a = _mm256_add_pd(*a, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(t)),
                                         _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1))));
}
static inline __m256i fa_avx2_f32_cnt_zero(void) { return _mm256_setzero_si256(); }
static inline size_t fa_avx2_f32_cnt_total(__m256i c) { return fa_reduce_add_epu32_avx2(c); }
static inline double fa_avx2_f32_acc_finish(const __m256d *a, size_t z)
{
    __m256d s = a[0];
    for (int i = 1; i < fa_avx2_f32_U_SUM; i++) s = _mm256_add_pd(s, a[i]);
    return ((double)z - 1.0) + fa_reduce_add_pd_avx2(s);
}
/* y *= inv with one rounding (as fa_avx512_f32_scale) */
static inline fa_avx2_f32_scale_k fa_avx2_f32_scale_prep(double inv)
{
    float ih = (float)inv;
    fa_avx2_f32_scale_k k = {_mm256_set1_ps(ih), _mm256_set1_ps((float)(inv - (double)ih))};
    return k;
}
static inline __m256 fa_avx2_f32_scale(__m256 v, const fa_avx2_f32_scale_k *k)
{
    return _mm256_fmadd_ps(v, k->ih, _mm256_mul_ps(v, k->il));
}
/* Column state (ops/vec_passes.h): the valid lanes but the maxima added in
 * double to the per-column sums acc[0..8), the maxima counted in cnt[0..8)
 * (whole vectors of FA_CHUNK-long arrays). */
static inline void fa_avx2_f32_col_add(double *acc, int32_t *cnt, __m256 e, __m256 hi,
                                       const __m256 *valid)
{
    __m256 one = _mm256_cmp_ps(hi, _mm256_setzero_ps(), _CMP_EQ_OQ), t = e;
    if (valid) {
        one = _mm256_and_ps(one, *valid);
        t = _mm256_and_ps(t, *valid);
    }
    t = _mm256_andnot_ps(one, t); /* NaN stays */
    __m256i *ct = (__m256i *)cnt;
    _mm256_storeu_si256(ct, _mm256_sub_epi32(_mm256_loadu_si256(ct), _mm256_castps_si256(one)));
    _mm256_storeu_pd(acc, _mm256_add_pd(_mm256_loadu_pd(acc), _mm256_cvtps_pd(_mm256_castps256_ps128(t))));
    _mm256_storeu_pd(acc + 4, _mm256_add_pd(_mm256_loadu_pd(acc + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1))));
}
/* per-column factors inv[0 .. rem), split as scale_prep does */
static inline fa_avx2_f32_scale_k fa_avx2_f32_scale_kv(const double *inv, size_t rem)
{
    __m256d lo = _mm256_maskload_pd(inv, fa_lanes_pd_avx2(rem < 4 ? rem : 4));
    __m256d hi = _mm256_maskload_pd(inv + 4, fa_lanes_pd_avx2(rem > 4 ? rem - 4 : 0));
    __m128 hl = _mm256_cvtpd_ps(lo), hh = _mm256_cvtpd_ps(hi);
    __m128 ll = _mm256_cvtpd_ps(_mm256_sub_pd(lo, _mm256_cvtps_pd(hl)));
    __m128 lh = _mm256_cvtpd_ps(_mm256_sub_pd(hi, _mm256_cvtps_pd(hh)));
    fa_avx2_f32_scale_k k = {_mm256_insertf128_ps(_mm256_castps128_ps256(hl), hh, 1),
                             _mm256_insertf128_ps(_mm256_castps128_ps256(ll), lh, 1)};
    return k;
}
static inline fa_avx2_f32_lsm_k fa_avx2_f32_lsm_kv(const float *m, const double *L, size_t rem)
{
    fa_avx2_f32_scale_k s = fa_avx2_f32_scale_kv(L, rem);
    fa_avx2_f32_lsm_k k = {_mm256_maskload_ps(m, fa_lanes_ps_avx2(rem)), s.ih, s.il};
    return k;
}
static inline fa_avx2_f32_lsm_k fa_avx2_f32_lsm_prep(double m, double L)
{
    float lh = (float)L;
    fa_avx2_f32_lsm_k k = {_mm256_set1_ps((float)m), _mm256_set1_ps(lh),
                           _mm256_set1_ps((float)(L - (double)lh))};
    return k;
}
static inline __m256 fa_avx2_f32_lsm(__m256 x, const fa_avx2_f32_lsm_k *k)
{
    return fa_vlsm_f32_avx2(x, k->m, k->lh, k->ll);
}

typedef __m256d fa_avx2_f64_t;
typedef __m256d fa_avx2_f64_m;
typedef struct { __m256d m, L; } fa_avx2_f64_lsm_k;
#define fa_avx2_f64_LANES 4
#define fa_avx2_f64_U_SUM 4
#define fa_avx2_f64_U_MAP 2
#define fa_avx2_f64_TAIL_ACC 1
#define fa_avx2_f64_TAIL_MAX 1
#define fa_avx2_f64_U_COL 4

static inline __m256d fa_avx2_f64_set1(double v) { return _mm256_set1_pd(v); }
static inline __m256d fa_avx2_f64_loadu(const double *p) { return _mm256_loadu_pd(p); }
static inline void fa_avx2_f64_storeu(double *p, __m256d v) { _mm256_storeu_pd(p, v); }
static inline __m256d fa_avx2_f64_first(size_t rem) { return _mm256_castsi256_pd(fa_lanes_pd_avx2(rem)); }
static inline __m256d fa_avx2_f64_load_part(const double *p, size_t rem, double fill)
{
    __m256i t = fa_lanes_pd_avx2(rem);
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, t), _mm256_castsi256_pd(t));
}
static inline void fa_avx2_f64_store_part(double *p, size_t rem, __m256d v)
{
    _mm256_maskstore_pd(p, fa_lanes_pd_avx2(rem), v);
}
static inline __m256d fa_avx2_f64_max(__m256d x, __m256d m) { return _mm256_max_pd(x, m); }
static inline double fa_avx2_f64_hmax(__m256d v) { return fa_reduce_max_pd_avx2(v); }
FA_ALWAYS_INLINE void fa_avx2_f64_prefetch(const char *p) { _mm_prefetch(p, _MM_HINT_T1); }
static inline __m256d fa_avx2_f64_add(__m256d a, __m256d b) { return _mm256_add_pd(a, b); }
static inline __m256d fa_avx2_f64_sub(__m256d a, __m256d b) { return _mm256_sub_pd(a, b); }
static inline __m256d fa_avx2_f64_mul(__m256d a, __m256d b) { return _mm256_mul_pd(a, b); }
/* v where the lanes of m are set, else 0 */
static inline __m256d fa_avx2_f64_keep(__m256d v, __m256d m) { return _mm256_and_pd(v, m); }
static inline __m256d fa_avx2_f64_two_diff(__m256d x, __m256d m, __m256d *lo)
{
    return fa_vtwo_diff_f64_avx2(x, m, lo);
}
FA_ALWAYS_INLINE void fa_avx2_f64_expn(int nv, const __m256d *hi, const __m256d *lo, __m256d *e)
{
    fa_vexpn_f64_avx2(nv, hi, lo, e);
}
static inline fa_avx2_f64_lsm_k fa_avx2_f64_lsm_kv(const double *m, const double *L, size_t rem)
{
    __m256i t = fa_lanes_pd_avx2(rem);
    fa_avx2_f64_lsm_k k = {_mm256_maskload_pd(m, t), _mm256_maskload_pd(L, t)};
    return k;
}
static inline fa_avx2_f64_lsm_k fa_avx2_f64_lsm_prep(double m, double L)
{
    fa_avx2_f64_lsm_k k = {_mm256_set1_pd(m), _mm256_set1_pd(L)};
    return k;
}
static inline __m256d fa_avx2_f64_lsm(__m256d x, const fa_avx2_f64_lsm_k *k)
{
    return fa_vlsm_f64_avx2(x, k->m, k->L);
}

/* Masks of where= (as sse2.h): 8 / 4 mask bytes zero-extended to the
 * lanes' width, nonzero = kept. */
static inline __m256 fa_avx2_f32_mask_lanes(const uint8_t *p)
{
    __m256i w = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(w, _mm256_setzero_si256()));
}
static inline __m256d fa_avx2_f64_mask_lanes(const uint8_t *p)
{
    int32_t b;
    memcpy(&b, p, 4);
    __m256i w = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(b));
    return _mm256_castsi256_pd(_mm256_cmpgt_epi64(w, _mm256_setzero_si256()));
}

/* Element-wise map primitives (as simd/sse2.h's; stream: p aligned to 32
 * bytes). */
static inline __m256 fa_avx2_f32_mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
static inline __m256 fa_avx2_f32_le(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
static inline __m256 fa_avx2_f32_gt(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline __m256 fa_avx2_f32_blend(__m256 a, __m256 b, __m256 m) { return _mm256_blendv_ps(a, b, m); }
/* v with the lanes of m zeroed (andnot: blendv with a zero operand makes GCC
 * rebuild the mask from its sign bits first, one more instruction per vector) */
static inline __m256 fa_avx2_f32_zero_where(__m256 v, __m256 m) { return _mm256_andnot_ps(m, v); }
static inline void fa_avx2_f32_stream(float *p, __m256 v) { _mm256_stream_ps(p, v); }
static inline void fa_avx2_f32_fence(void) { _mm_sfence(); }
static inline __m256d fa_avx2_f64_le(__m256d a, __m256d b) { return _mm256_cmp_pd(a, b, _CMP_LE_OQ); }
static inline __m256d fa_avx2_f64_gt(__m256d a, __m256d b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
static inline __m256d fa_avx2_f64_blend(__m256d a, __m256d b, __m256d m) { return _mm256_blendv_pd(a, b, m); }
static inline __m256d fa_avx2_f64_zero_where(__m256d v, __m256d m) { return _mm256_andnot_pd(m, v); }
static inline void fa_avx2_f64_stream(double *p, __m256d v) { _mm256_stream_pd(p, v); }
static inline void fa_avx2_f64_fence(void) { _mm_sfence(); }

/* Float-float float32 primitives (ops/sigmoid.c's float32 pass).  FMA: the
 * level has a fused multiply-add, so residuals such as 1 - d q are exact. */
#define fa_avx2_f32_FMA 1
static inline __m256 fa_avx2_f32_add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
static inline __m256 fa_avx2_f32_sub(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
static inline __m256 fa_avx2_f32_div(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }
static inline __m256 fa_avx2_f32_fmadd(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
static inline __m256 fa_avx2_f32_fnmadd(__m256 a, __m256 b, __m256 c) { return _mm256_fnmadd_ps(a, b, c); }
static inline __m256 fa_avx2_f32_fmsub(__m256 a, __m256 b, __m256 c) { return _mm256_fmsub_ps(a, b, c); }
static inline __m256 fa_avx2_f32_ge(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
/* -|x| (the sign bit set; NaN stays NaN) */
static inline __m256 fa_avx2_f32_negabs(__m256 x) { return _mm256_or_ps(x, _mm256_set1_ps(-0.0f)); }
/* 2^n for integer-valued n in [-126, 127] (NaN: garbage, callers multiply
 * it into a NaN) */
static inline __m256 fa_avx2_f32_pow2(__m256 n)
{
    __m256i b = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(b, 23));
}

/* 2^(j/8), j = 0..7, as float pairs hi + lo (within 2^-47 relative) */
static const float fa_exp2_8f_hi[8] __attribute__((aligned(32))) = {
    0x1p+0f, 0x1.172b84p+0f, 0x1.306fep+0f, 0x1.4bfdaep+0f,
    0x1.6a09e6p+0f, 0x1.8ace54p+0f, 0x1.ae89fap+0f, 0x1.d5818ep+0f};
static const float fa_exp2_8f_lo[8] __attribute__((aligned(32))) = {
    0x0p+0f, -0x1.c15742p-27f, 0x1.4636e2p-25f, -0x1.593abcp-25f,
    0x1.9fcef4p-26f, 0x1.15506ep-27f, -0x1.a94b14p-26f, -0x1.822dbcp-27f};

/* exp(s) = 2^n (eh + el) for s <= 0 or NaN, in float32 pairs: eh + el is
 * the exponential to 2^-26 relative (el the exact rounding error of eh,
 * |el| <= 2^-24 eh, eh in [0.95, 2)), n integer-valued in [-151, 0].
 * s below -104 is taken as -104 (the result < 2^-150 rounds to 0 wherever
 * it is used; -inf included).  k = round(8 s / ln2) by the 1.5 * 2^23
 * shifter, whose low 3 bits index the table T = 2^((k mod 8)/8) (vpermps);
 * r = s - k ln2/8 (Cody-Waite: ln2/8 in a 12-bit part, exact times |k| <=
 * 1200, and a low part), |r| <= 0.0434, rounded once: 2^-28.5 (the split's
 * residual adds 2^-31.9); exp(r) - 1 = p by its Taylor polynomial of degree
 * 5 (truncation 2^-36.7; p rounded to 2^-28.5 absolute); T (1 + p) =
 * T_hi + c, c = T_hi p + T_lo rounded (2^-27.4 relative; T_lo p, 2^-28.5,
 * left out), then eh + el = T_hi + c by Fast2Sum (exact).  Sum of the
 * relative errors <= 2^-26.0. */
static inline __m256 fa_avx2_f32_exp_ff(__m256 s, __m256 *el, __m256 *n)
{
    const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
    s = _mm256_max_ps(_mm256_set1_ps(-104.0f), s); /* NaN stays NaN (second operand) */
    __m256 kf = _mm256_fmadd_ps(s, _mm256_set1_ps(0x1.715476p+3f), shifter);
    __m256 k = _mm256_sub_ps(kf, shifter);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0x1.62ep-4f), s);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0x1.0bfbe8p-18f), r);
    __m256i j = _mm256_castps_si256(kf); /* k mod 8 in the low 3 bits */
    __m256 th = _mm256_permutevar8x32_ps(_mm256_load_ps(fa_exp2_8f_hi), j);
    __m256 tl = _mm256_permutevar8x32_ps(_mm256_load_ps(fa_exp2_8f_lo), j);
    __m256 q = _mm256_fmadd_ps(r, _mm256_set1_ps(1.0f / 120.0f), _mm256_set1_ps(1.0f / 24.0f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 6.0f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.5f));
    __m256 p = _mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r);
    __m256 c = _mm256_fmadd_ps(th, p, tl);
    __m256 eh = _mm256_add_ps(th, c);
    *el = _mm256_add_ps(_mm256_sub_ps(th, eh), c);
    *n = _mm256_floor_ps(_mm256_mul_ps(k, _mm256_set1_ps(0.125f)));
    return eh;
}

#undef FA_NV32
#undef FA_NV64
#endif /* FA_SIMD_AVX2_H */
