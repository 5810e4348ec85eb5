/* The avx512 level (AVX-512 F/DQ/BW/VL): its exponentials, TwoSum, the
 * log_softmax output arithmetic and, at the end, its traits: the primitives
 * the generic passes of ops/vec_passes.h are written over (simd/README.md).
 * Included inside the AVX-512 target region of ops/instantiate.h.  Partial
 * vectors use masked loads and stores (lanes past the end neither read nor
 * written). */
#ifndef FA_SIMD_AVX512_H
#define FA_SIMD_AVX512_H

#include <immintrin.h>
#include <stddef.h>

#include "simd/fa_math.h"

static inline __mmask16 fa_mask16_avx512(size_t rem) { return (__mmask16)((1u << rem) - 1u); }
static inline __mmask8 fa_mask8_avx512(size_t rem) { return (__mmask8)((1u << rem) - 1u); }

/* a - b and a + b computed as a fused multiply-add with 1.0: one rounding,
 * so the same result as vsub/vadd, but issued to the FMA pipes.  Zen 4 (and
 * 3) run adds and FMAs on separate pipe pairs; passes made only of adds
 * (log_softmax's output) move half their work over and run ~1.6x faster. */
static inline __m512 fa_vsubf_ps(__m512 a, __m512 b) { return _mm512_fnmadd_ps(b, _mm512_set1_ps(1.0f), a); }
static inline __m512 fa_vaddf_ps(__m512 a, __m512 b) { return _mm512_fmadd_ps(b, _mm512_set1_ps(1.0f), a); }
static inline __m512d fa_vsubf_pd(__m512d a, __m512d b) { return _mm512_fnmadd_pd(b, _mm512_set1_pd(1.0), a); }
static inline __m512d fa_vaddf_pd(__m512d a, __m512d b) { return _mm512_fmadd_pd(b, _mm512_set1_pd(1.0), a); }

/* ---------------------------------------------------------------- float32 */

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

/* ---------------------------------------------------------------- float64 */

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

/* ------------------------------------------------------------------ traits
 * The primitives the generic passes (ops/vec_passes.h) are written over; the
 * list and contracts are in simd/README.md. */
typedef __m512 fa_avx512_f32_t;
typedef __mmask16 fa_avx512_f32_m;
typedef struct { __m512d lo, hi; } fa_avx512_f32_acc; /* double sums of the low / high lanes */
typedef size_t fa_avx512_f32_cnt;
typedef struct { __m512 ih, il; } fa_avx512_f32_scale_k;
typedef struct { __m512 m, lh, ll; } fa_avx512_f32_lsm_k;
#define fa_avx512_f32_LANES 16
#define fa_avx512_f32_U_SUM 2
#define fa_avx512_f32_U_MAP 1
#define fa_avx512_f32_TAIL_ACC 0
#define fa_avx512_f32_TAIL_MAX 0
#define fa_avx512_f32_U_COL 1

static inline __m512 fa_avx512_f32_set1(float v) { return _mm512_set1_ps(v); }
static inline __m512 fa_avx512_f32_loadu(const float *p) { return _mm512_loadu_ps(p); }
static inline void fa_avx512_f32_storeu(float *p, __m512 v) { _mm512_storeu_ps(p, v); }
static inline __mmask16 fa_avx512_f32_first(size_t rem) { return fa_mask16_avx512(rem); }
static inline __m512 fa_avx512_f32_load_part(const float *p, size_t rem, float fill)
{
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), fa_mask16_avx512(rem), p);
}
static inline void fa_avx512_f32_store_part(float *p, size_t rem, __m512 v)
{
    _mm512_mask_storeu_ps(p, fa_mask16_avx512(rem), v);
}
static inline __m512 fa_avx512_f32_max(__m512 x, __m512 m) { return _mm512_max_ps(x, m); }
static inline float fa_avx512_f32_hmax(__m512 v) { return _mm512_reduce_max_ps(v); }
FA_ALWAYS_INLINE void fa_avx512_f32_prefetch(const char *p) { _mm_prefetch(p, _MM_HINT_T1); }
static inline __m512 fa_avx512_f32_two_diff(__m512 x, __m512 m, __m512 *lo)
{
    return fa_vtwo_diff_f32_avx512(x, m, lo);
}
FA_ALWAYS_INLINE void fa_avx512_f32_expn(int nv, const __m512 *hi, const __m512 *lo, __m512 *e)
{
    for (int i = 0; i < nv; i++) e[i] = fa_vexp_f32_avx512(hi[i], lo[i]);
}
static inline void fa_avx512_f32_acc_init(fa_avx512_f32_acc *a)
{
    a->lo = a->hi = _mm512_setzero_pd();
}
/* e added in double to the lanes of a where valid and x - m (hi) != 0; the
 * lanes where x - m == 0 (the maxima; never inf - inf = NaN) counted. */
static inline void fa_avx512_f32_acc_add(fa_avx512_f32_acc *a, __m512 e, __m512 hi,
                                         const __mmask16 *valid, size_t *cnt)
{
    __mmask16 v = valid ? *valid : (__mmask16)0xFFFF;
    __mmask16 one = _mm512_mask_cmp_ps_mask(v, hi, _mm512_setzero_ps(), _CMP_EQ_OQ);
    __mmask16 add = v & (__mmask16)~one;
    a->lo = _mm512_mask_add_pd(a->lo, (__mmask8)add, a->lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    a->hi = _mm512_mask_add_pd(a->hi, (__mmask8)(add >> 8), a->hi,
                               _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    *cnt += (size_t)__builtin_popcount(one);
}
static inline size_t fa_avx512_f32_cnt_zero(void) { return 0; }
static inline size_t fa_avx512_f32_cnt_total(size_t c) { return c; }
/* s - 1 = (count - 1) + sum: the count is exact */
static inline double fa_avx512_f32_acc_finish(const fa_avx512_f32_acc *a, size_t z)
{
    __m512d s = _mm512_add_pd(_mm512_add_pd(a[0].lo, a[0].hi), _mm512_add_pd(a[1].lo, a[1].hi));
    return ((double)z - 1.0) + _mm512_reduce_add_pd(s);
}
/* y *= inv with one rounding: inv = ih + il (float32 split), y * ih by FMA
 * with the small y * il added first (<= 0.5 ULP plus the error already in y;
 * up to 0.997 for outputs in [2^-126, 2^-125), where y * il underflows:
 * measured by tests/test_passes.py) */
static inline fa_avx512_f32_scale_k fa_avx512_f32_scale_prep(double inv)
{
    float ih = (float)inv;
    fa_avx512_f32_scale_k k = {_mm512_set1_ps(ih), _mm512_set1_ps((float)(inv - (double)ih))};
    return k;
}
static inline __m512 fa_avx512_f32_scale(__m512 v, const fa_avx512_f32_scale_k *k)
{
    return _mm512_fmadd_ps(v, k->ih, _mm512_mul_ps(v, k->il));
}
/* Column state (ops/vec_passes.h): as acc_add, into the per-column double sums
 * acc[0..16) and counts cnt[0..16) (whole vectors of FA_CHUNK-long arrays). */
static inline void fa_avx512_f32_col_add(double *acc, int32_t *cnt, __m512 e, __m512 hi,
                                         const __mmask16 *valid)
{
    fa_avx512_f32_acc a = {_mm512_loadu_pd(acc), _mm512_loadu_pd(acc + 8)};
    size_t unused = 0;
    __mmask16 v = valid ? *valid : (__mmask16)0xFFFF;
    __mmask16 one = _mm512_mask_cmp_ps_mask(v, hi, _mm512_setzero_ps(), _CMP_EQ_OQ);
    fa_avx512_f32_acc_add(&a, e, hi, valid, &unused);
    _mm512_storeu_pd(acc, a.lo);
    _mm512_storeu_pd(acc + 8, a.hi);
    __m512i ct = _mm512_loadu_si512(cnt);
    _mm512_storeu_si512(cnt, _mm512_mask_sub_epi32(ct, one, ct, _mm512_set1_epi32(-1)));
}
/* per-column factors inv[0 .. rem), split as scale_prep does */
static inline fa_avx512_f32_scale_k fa_avx512_f32_scale_kv(const double *inv, size_t rem)
{
    __m512d lo = _mm512_maskz_loadu_pd(fa_mask8_avx512(rem < 8 ? rem : 8), inv);
    __m512d hi = _mm512_maskz_loadu_pd(rem > 8 ? fa_mask8_avx512(rem - 8) : 0, inv + 8);
    __m256 hl = _mm512_cvtpd_ps(lo), hh = _mm512_cvtpd_ps(hi);
    __m256 ll = _mm512_cvtpd_ps(_mm512_sub_pd(lo, _mm512_cvtps_pd(hl)));
    __m256 lh = _mm512_cvtpd_ps(_mm512_sub_pd(hi, _mm512_cvtps_pd(hh)));
    fa_avx512_f32_scale_k k = {_mm512_insertf32x8(_mm512_castps256_ps512(hl), hh, 1),
                               _mm512_insertf32x8(_mm512_castps256_ps512(ll), lh, 1)};
    return k;
}
static inline fa_avx512_f32_lsm_k fa_avx512_f32_lsm_kv(const float *m, const double *L, size_t rem)
{
    fa_avx512_f32_scale_k s = fa_avx512_f32_scale_kv(L, rem);
    fa_avx512_f32_lsm_k k = {_mm512_maskz_loadu_ps(fa_mask16_avx512(rem), m), s.ih, s.il};
    return k;
}
static inline fa_avx512_f32_lsm_k fa_avx512_f32_lsm_prep(double m, double L)
{
    float lh = (float)L;
    fa_avx512_f32_lsm_k k = {_mm512_set1_ps((float)m), _mm512_set1_ps(lh),
                             _mm512_set1_ps((float)(L - (double)lh))};
    return k;
}
static inline __m512 fa_avx512_f32_lsm(__m512 x, const fa_avx512_f32_lsm_k *k)
{
    return fa_vlsm_f32_avx512(x, k->m, k->lh, k->ll);
}

typedef __m512d fa_avx512_f64_t;
typedef __mmask8 fa_avx512_f64_m;
typedef struct { __m512d m, L; } fa_avx512_f64_lsm_k;
#define fa_avx512_f64_LANES 8
#define fa_avx512_f64_U_SUM 2
#define fa_avx512_f64_U_MAP 1
#define fa_avx512_f64_TAIL_ACC 0
#define fa_avx512_f64_TAIL_MAX 0
#define fa_avx512_f64_U_COL 1

static inline __m512d fa_avx512_f64_set1(double v) { return _mm512_set1_pd(v); }
static inline __m512d fa_avx512_f64_loadu(const double *p) { return _mm512_loadu_pd(p); }
static inline void fa_avx512_f64_storeu(double *p, __m512d v) { _mm512_storeu_pd(p, v); }
static inline __mmask8 fa_avx512_f64_first(size_t rem) { return fa_mask8_avx512(rem); }
static inline __m512d fa_avx512_f64_load_part(const double *p, size_t rem, double fill)
{
    return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), fa_mask8_avx512(rem), p);
}
static inline void fa_avx512_f64_store_part(double *p, size_t rem, __m512d v)
{
    _mm512_mask_storeu_pd(p, fa_mask8_avx512(rem), v);
}
static inline __m512d fa_avx512_f64_max(__m512d x, __m512d m) { return _mm512_max_pd(x, m); }
static inline double fa_avx512_f64_hmax(__m512d v) { return _mm512_reduce_max_pd(v); }
FA_ALWAYS_INLINE void fa_avx512_f64_prefetch(const char *p) { _mm_prefetch(p, _MM_HINT_T1); }
static inline __m512d fa_avx512_f64_add(__m512d a, __m512d b) { return _mm512_add_pd(a, b); }
static inline __m512d fa_avx512_f64_sub(__m512d a, __m512d b) { return _mm512_sub_pd(a, b); }
static inline __m512d fa_avx512_f64_mul(__m512d a, __m512d b) { return _mm512_mul_pd(a, b); }
/* v where the lanes of m are set, else 0 */
static inline __m512d fa_avx512_f64_keep(__m512d v, __mmask8 m) { return _mm512_maskz_mov_pd(m, v); }
static inline __m512d fa_avx512_f64_two_diff(__m512d x, __m512d m, __m512d *lo)
{
    return fa_vtwo_diff_f64_avx512(x, m, lo);
}
FA_ALWAYS_INLINE void fa_avx512_f64_expn(int nv, const __m512d *hi, const __m512d *lo, __m512d *e)
{
    for (int i = 0; i < nv; i++) e[i] = fa_vexp_f64_avx512(hi[i], lo[i]);
}
static inline fa_avx512_f64_lsm_k fa_avx512_f64_lsm_kv(const double *m, const double *L, size_t rem)
{
    fa_avx512_f64_lsm_k k = {_mm512_maskz_loadu_pd(fa_mask8_avx512(rem), m), _mm512_maskz_loadu_pd(fa_mask8_avx512(rem), L)};
    return k;
}
static inline fa_avx512_f64_lsm_k fa_avx512_f64_lsm_prep(double m, double L)
{
    fa_avx512_f64_lsm_k k = {_mm512_set1_pd(m), _mm512_set1_pd(L)};
    return k;
}
static inline __m512d fa_avx512_f64_lsm(__m512d x, const fa_avx512_f64_lsm_k *k)
{
    return fa_vlsm_f64_avx512(x, k->m, k->L);
}

/* Masks of where= (as sse2.h): one byte compare into a mask register. */
static inline __mmask16 fa_avx512_f32_mask_lanes(const uint8_t *p)
{
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    return _mm_test_epi8_mask(b, b);
}
static inline __mmask8 fa_avx512_f64_mask_lanes(const uint8_t *p)
{
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return (__mmask8)_mm_test_epi8_mask(b, b);
}

/* Element-wise map primitives (as simd/sse2.h's; masks in mask registers;
 * stream: p aligned to 64 bytes, one whole line). */
static inline __m512 fa_avx512_f32_mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
static inline __mmask16 fa_avx512_f32_le(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
static inline __mmask16 fa_avx512_f32_gt(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline __m512 fa_avx512_f32_blend(__m512 a, __m512 b, __mmask16 m) { return _mm512_mask_blend_ps(m, a, b); }
static inline __m512 fa_avx512_f32_zero_where(__m512 v, __mmask16 m) { return _mm512_mask_mov_ps(v, m, _mm512_setzero_ps()); }
static inline void fa_avx512_f32_stream(float *p, __m512 v) { _mm512_stream_ps(p, v); }
static inline void fa_avx512_f32_fence(void) { _mm_sfence(); }
static inline __mmask8 fa_avx512_f64_le(__m512d a, __m512d b) { return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ); }
static inline __mmask8 fa_avx512_f64_gt(__m512d a, __m512d b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
static inline __m512d fa_avx512_f64_blend(__m512d a, __m512d b, __mmask8 m) { return _mm512_mask_blend_pd(m, a, b); }
static inline __m512d fa_avx512_f64_zero_where(__m512d v, __mmask8 m) { return _mm512_mask_mov_pd(v, m, _mm512_setzero_pd()); }
static inline void fa_avx512_f64_stream(double *p, __m512d v) { _mm512_stream_pd(p, v); }
static inline void fa_avx512_f64_fence(void) { _mm_sfence(); }

/* Float-float float32 primitives (as avx2.h's; ops/sigmoid.c). */
#define fa_avx512_f32_FMA 1
static inline __m512 fa_avx512_f32_add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
static inline __m512 fa_avx512_f32_sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
static inline __m512 fa_avx512_f32_div(__m512 a, __m512 b) { return _mm512_div_ps(a, b); }
static inline __m512 fa_avx512_f32_fmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
static inline __m512 fa_avx512_f32_fnmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fnmadd_ps(a, b, c); }
static inline __m512 fa_avx512_f32_fmsub(__m512 a, __m512 b, __m512 c) { return _mm512_fmsub_ps(a, b, c); }
static inline __mmask16 fa_avx512_f32_ge(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
static inline __m512 fa_avx512_f32_negabs(__m512 x) { return _mm512_or_ps(x, _mm512_set1_ps(-0.0f)); }
static inline __m512 fa_avx512_f32_pow2(__m512 n) { return _mm512_scalef_ps(_mm512_set1_ps(1.0f), n); }

/* 2^(j/16), j = 0..15, as float pairs hi + lo (within 2^-47 relative) */
static const float fa_exp2_16f_hi[16] __attribute__((aligned(64))) = {
    0x1p+0f, 0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f,
    0x1.306fep+0f, 0x1.3dea64p+0f, 0x1.4bfdaep+0f, 0x1.5ab07ep+0f,
    0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f, 0x1.9c4918p+0f,
    0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f};
static const float fa_exp2_16f_lo[16] __attribute__((aligned(64))) = {
    0x0p+0f, 0x1.9f3122p-25f, -0x1.c15742p-27f, 0x1.ceac48p-25f,
    0x1.4636e2p-25f, 0x1.824684p-25f, -0x1.593abcp-25f, -0x1.5bd5ecp-27f,
    0x1.9fcef4p-26f, -0x1.829fd0p-25f, 0x1.15506ep-27f, 0x1.51f848p-27f,
    -0x1.a94b14p-26f, -0x1.3d56b2p-27f, -0x1.822dbcp-27f, 0x1.52486cp-27f};

/* exp(s) = 2^n (eh + el) as avx2.h's fa_avx2_f32_exp_ff (same contract),
 * with a 16-entry table (vpermps over one register): |k| <= 2401, ln2/16
 * split with a 12-bit part, |r| <= 0.0217 (rounding 2^-29.5), degree 4
 * (truncation 2^-34.5), p to 2^-29.5, c 2^-27.4: <= 2^-26.4 relative. */
static inline __m512 fa_avx512_f32_exp_ff(__m512 s, __m512 *el, __m512 *n)
{
    const __m512 shifter = _mm512_set1_ps(0x1.8p23f);
    s = _mm512_max_ps(_mm512_set1_ps(-104.0f), s); /* NaN stays NaN (second operand) */
    __m512 kf = _mm512_fmadd_ps(s, _mm512_set1_ps(0x1.715476p+4f), shifter);
    __m512 k = _mm512_sub_ps(kf, shifter);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0x1.62ep-5f), s);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0x1.0bfbe8p-19f), r);
    __m512i j = _mm512_castps_si512(kf); /* k mod 16 in the low 4 bits */
    __m512 th = _mm512_permutexvar_ps(j, _mm512_load_ps(fa_exp2_16f_hi));
    __m512 tl = _mm512_permutexvar_ps(j, _mm512_load_ps(fa_exp2_16f_lo));
    __m512 q = _mm512_fmadd_ps(r, _mm512_set1_ps(1.0f / 24.0f), _mm512_set1_ps(1.0f / 6.0f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.5f));
    __m512 p = _mm512_fmadd_ps(q, _mm512_mul_ps(r, r), r);
    __m512 c = _mm512_fmadd_ps(th, p, tl);
    __m512 eh = _mm512_add_ps(th, c);
    *el = _mm512_add_ps(_mm512_sub_ps(th, eh), c);
    *n = _mm512_roundscale_ps(_mm512_mul_ps(k, _mm512_set1_ps(0.0625f)),
                              _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    return eh;
}

#endif /* FA_SIMD_AVX512_H */
