/* Hand-written AVX-512 column passes: the reduced axis is not the last one,
 * and a chunk of w <= FA_CHUNK (256) columns is reduced together, element
 * (i, k) at x[i * inner + k].  Vectors run along the contiguous columns (the
 * last one masked); each lane carries its column's accumulators, so the
 * numerics are the row passes' (rows_avx512.h) lane by lane.
 * The max pass, which reads the chunk from memory, goes row by row over the
 * whole chunk (long contiguous segments for the prefetchers; the maxima stay
 * in L1); the later passes, which find the chunk in cache, go group by group
 * of 64 float32 / 32 float64 columns, rows inner, with the accumulators of a
 * group in registers.  Included after
 * rows_avx512.h in the AVX-512 region of instantiate.h; the templates call
 * them where FA_HAND_COLS is set, with the contracts of the portable
 * cols_max / cols_sumexp_m1 (reduce_impl.h) and of the column loops of
 * softmax_impl.h / log_softmax_impl.h.
 *
 * Each function switches once on the number of vectors to a body inlined
 * with that count constant, so the per-vector state stays in registers. */
#ifndef FA_COLS_AVX512_H
#define FA_COLS_AVX512_H

#include "rows_avx512.h"

#define FA_CV_ALWAYS static inline __attribute__((always_inline))

/* Lane masks of the nv vectors covering w columns of `lanes` lanes each. */
FA_CV_ALWAYS unsigned fa_cv_mask(size_t w, size_t lanes, int v)
{
    size_t rem = w - (size_t)v * lanes;
    return rem >= lanes ? (1u << lanes) - 1u : (1u << rem) - 1u;
}

/* ---------------------------------------------------------------- float32 */

static inline void fa_hcols_max_pack_f32_avx512(const float *x, size_t n, size_t inner,
                                                size_t w, float *m, float *buf)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (size_t c = 0; c < w; c += 16) _mm512_mask_storeu_ps(m + c, (__mmask16)fa_cv_mask(w - c, 16, 0), ninf);
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * inner;
        for (size_t c = 0; c < w; c += 16) {
            __mmask16 k = (__mmask16)fa_cv_mask(w - c, 16, 0);
            /* the next chunk's segment of this row, fetched while this chunk
             * is computed from cache (prefetches do not fault) */
            _mm_prefetch((const char *)(xr + c + FA_CHUNK), _MM_HINT_T1);
            __m512 xv = _mm512_mask_loadu_ps(ninf, k, xr + c);
            if (buf) _mm512_mask_storeu_ps(buf + i * w + c, k, xv);
            /* x first: NaN skipped */
            _mm512_mask_storeu_ps(m + c, k, _mm512_max_ps(xv, _mm512_maskz_loadu_ps(k, m + c)));
        }
    }
}

/* sm1[k] = s - 1 per column, the maxima counted per lane (as integers). */
FA_CV_ALWAYS void fa_cv_sumexp_f32(const float *x, size_t n, size_t inner, size_t w,
                                   const float *m, float *y, double *sm1, const int nv)
{
    __m512 mv[4];
    __m512d a0[4], a1[4];
    __m512i cnt[4];
    __mmask16 k[4];
    for (int v = 0; v < nv; v++) {
        k[v] = (__mmask16)fa_cv_mask(w, 16, v);
        mv[v] = _mm512_maskz_loadu_ps(k[v], m + 16 * v);
        a0[v] = a1[v] = _mm512_setzero_pd();
        cnt[v] = _mm512_setzero_si512();
    }
    for (size_t i = 0; i < n; i++) {
        for (int v = 0; v < nv; v++) {
            size_t off = i * inner + 16 * (size_t)v;
            __mmask16 one;
            __m512 e = fa_vsumexp_step_f32_avx512(_mm512_maskz_loadu_ps(k[v], x + off), mv[v], k[v],
                                                  &a0[v], &a1[v], &one);
            cnt[v] = _mm512_mask_sub_epi32(cnt[v], one, cnt[v], _mm512_set1_epi32(-1));
            if (y) _mm512_mask_storeu_ps(y + off, k[v], e);
        }
    }
    for (int v = 0; v < nv; v++) {
        /* (count - 1) + sum, as the row version: the count is exact */
        __m512d c0 = _mm512_cvtepi32_pd(_mm512_castsi512_si256(cnt[v]));
        __m512d c1 = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(cnt[v], 1));
        const __m512d one = _mm512_set1_pd(1.0);
        _mm512_mask_storeu_pd(sm1 + 16 * v, (__mmask8)k[v],
                              _mm512_add_pd(_mm512_sub_pd(c0, one), a0[v]));
        _mm512_mask_storeu_pd(sm1 + 16 * v + 8, (__mmask8)(k[v] >> 8),
                              _mm512_add_pd(_mm512_sub_pd(c1, one), a1[v]));
    }
}

/* Calls body(c, wc, nv) for the groups of at most 4 vectors of `lanes`
 * lanes covering w columns, with nv a constant in each call. */
#define FA_CV_GROUPS(w, lanes, body)                                  \
    for (size_t c = 0; c < (w); c += 4 * (lanes)) {                   \
        size_t wc = (w) - c < 4 * (lanes) ? (w) - c : 4 * (lanes);    \
        switch ((wc + (lanes) - 1) / (lanes)) {                       \
        case 1: body(c, wc, 1); break;                                \
        case 2: body(c, wc, 2); break;                                \
        case 3: body(c, wc, 3); break;                                \
        default: body(c, wc, 4); break;                               \
        }                                                             \
    }

static inline void fa_hcols_sumexp_m1_f32_avx512(const float *x, size_t n, size_t inner,
                                                 size_t w, const float *m, float *y,
                                                 double *sm1)
{
#define FA_CV_BODY(c, wc, nv) fa_cv_sumexp_f32(x + c, n, inner, wc, m + c, y ? y + c : NULL, sm1 + c, nv)
    FA_CV_GROUPS(w, 16, FA_CV_BODY)
#undef FA_CV_BODY
}

/* dst[i, k] = src[i, k] * inv[k], one rounding: inv split into float32
 * ih + il as in fa_hrow_scale_f32_avx512. */
FA_CV_ALWAYS void fa_cv_scale_f32(const float *src, size_t ss, float *dst, size_t ds, size_t n,
                                  size_t w, const double *inv, const int nv)
{
    __m512 ih[4], il[4];
    __mmask16 k[4];
    for (int v = 0; v < nv; v++) {
        k[v] = (__mmask16)fa_cv_mask(w, 16, v);
        __m512d d0 = _mm512_maskz_loadu_pd((__mmask8)k[v], inv + 16 * v);
        __m512d d1 = _mm512_maskz_loadu_pd((__mmask8)(k[v] >> 8), inv + 16 * v + 8);
        __m256 h0 = _mm512_cvtpd_ps(d0), h1 = _mm512_cvtpd_ps(d1);
        __m256 l0 = _mm512_cvtpd_ps(_mm512_sub_pd(d0, _mm512_cvtps_pd(h0)));
        __m256 l1 = _mm512_cvtpd_ps(_mm512_sub_pd(d1, _mm512_cvtps_pd(h1)));
        ih[v] = _mm512_insertf32x8(_mm512_castps256_ps512(h0), h1, 1);
        il[v] = _mm512_insertf32x8(_mm512_castps256_ps512(l0), l1, 1);
    }
    for (size_t i = 0; i < n; i++)
        for (int v = 0; v < nv; v++) {
            __m512 t = _mm512_maskz_loadu_ps(k[v], src + i * ss + 16 * v);
            _mm512_mask_storeu_ps(dst + i * ds + 16 * v, k[v],
                                  _mm512_fmadd_ps(t, ih[v], _mm512_mul_ps(t, il[v])));
        }
}

static inline void fa_hcols_scale_to_f32_avx512(const float *src, size_t ss, float *dst,
                                                size_t ds, size_t n, size_t w,
                                                const double *inv)
{
#define FA_CV_BODY(c, wc, nv) fa_cv_scale_f32(src + c, ss, dst + c, ds, n, wc, inv + c, nv)
    FA_CV_GROUPS(w, 16, FA_CV_BODY)
#undef FA_CV_BODY
}

/* dst[i, k] = (src[i, k] - m[k]) - L[k] (fa_vlsm_f32_avx512 per vector). */
FA_CV_ALWAYS void fa_cv_lsm_f32(const float *src, size_t ss, float *dst, size_t ds, size_t n,
                                size_t w, const float *m, const double *L, const int nv)
{
    __m512 mv[4], lh[4], ll[4];
    __mmask16 k[4];
    for (int v = 0; v < nv; v++) {
        k[v] = (__mmask16)fa_cv_mask(w, 16, v);
        mv[v] = _mm512_maskz_loadu_ps(k[v], m + 16 * v);
        __m512d d0 = _mm512_maskz_loadu_pd((__mmask8)k[v], L + 16 * v);
        __m512d d1 = _mm512_maskz_loadu_pd((__mmask8)(k[v] >> 8), L + 16 * v + 8);
        __m256 h0 = _mm512_cvtpd_ps(d0), h1 = _mm512_cvtpd_ps(d1);
        __m256 l0 = _mm512_cvtpd_ps(_mm512_sub_pd(d0, _mm512_cvtps_pd(h0)));
        __m256 l1 = _mm512_cvtpd_ps(_mm512_sub_pd(d1, _mm512_cvtps_pd(h1)));
        lh[v] = _mm512_insertf32x8(_mm512_castps256_ps512(h0), h1, 1);
        ll[v] = _mm512_insertf32x8(_mm512_castps256_ps512(l0), l1, 1);
    }
    for (size_t i = 0; i < n; i++)
        for (int v = 0; v < nv; v++) {
            __m512 r = fa_vlsm_f32_avx512(_mm512_maskz_loadu_ps(k[v], src + i * ss + 16 * v), mv[v],
                                          lh[v], ll[v]);
            _mm512_mask_storeu_ps(dst + i * ds + 16 * v, k[v], r);
        }
}

static inline void fa_hcols_log_softmax_out_f32_avx512(const float *src, size_t ss, float *dst,
                                                       size_t ds, size_t n, size_t w,
                                                       const float *m, const double *L)
{
#define FA_CV_BODY(c, wc, nv) fa_cv_lsm_f32(src + c, ss, dst + c, ds, n, wc, m + c, L + c, nv)
    FA_CV_GROUPS(w, 16, FA_CV_BODY)
#undef FA_CV_BODY
}

/* ---------------------------------------------------------------- float64 */

static inline void fa_hcols_max_pack_f64_avx512(const double *x, size_t n, size_t inner,
                                                size_t w, double *m, double *buf)
{
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    for (size_t c = 0; c < w; c += 8) _mm512_mask_storeu_pd(m + c, (__mmask8)fa_cv_mask(w - c, 8, 0), ninf);
    for (size_t i = 0; i < n; i++) {
        const double *xr = x + i * inner;
        for (size_t c = 0; c < w; c += 8) {
            __mmask8 k = (__mmask8)fa_cv_mask(w - c, 8, 0);
            _mm_prefetch((const char *)(xr + c + FA_CHUNK), _MM_HINT_T1); /* as float32 */
            __m512d xv = _mm512_mask_loadu_pd(ninf, k, xr + c);
            if (buf) _mm512_mask_storeu_pd(buf + i * w + c, k, xv);
            _mm512_mask_storeu_pd(m + c, k, _mm512_max_pd(xv, _mm512_maskz_loadu_pd(k, m + c)));
        }
    }
}

/* float64 groups are 4 vectors (32 columns): the sum pass keeps three
 * accumulators per vector. */
FA_CV_ALWAYS void fa_cv_sumexp_f64(const double *x, size_t n, size_t inner, size_t w,
                                   const double *m, double *y, double *sm1, const int nv)
{
    __m512d mv[4], s[4], c[4];
    __m512i cnt[4];
    __mmask8 k[4];
    for (int v = 0; v < nv; v++) {
        k[v] = (__mmask8)fa_cv_mask(w, 8, v);
        mv[v] = _mm512_maskz_loadu_pd(k[v], m + 8 * v);
        s[v] = _mm512_set1_pd(1.0); /* Fast2Sum accumulators start at 1 (rows_avx512.h) */
        c[v] = _mm512_setzero_pd();
        cnt[v] = _mm512_setzero_si512();
    }
    for (size_t i = 0; i < n; i++)
        for (int v = 0; v < nv; v++) {
            size_t off = i * inner + 8 * (size_t)v;
            __mmask8 one;
            __m512d e = fa_vsumexp_step_f64_avx512(_mm512_maskz_loadu_pd(k[v], x + off), mv[v], k[v],
                                                   &s[v], &c[v], &one);
            cnt[v] = _mm512_mask_sub_epi64(cnt[v], one, cnt[v], _mm512_set1_epi64(-1));
            if (y) _mm512_mask_storeu_pd(y + off, k[v], e);
        }
    for (int v = 0; v < nv; v++) {
        /* (s - 1) is exact; then (count - 1) + ((s - 1) + c), the count exact */
        const __m512d one = _mm512_set1_pd(1.0);
        __m512d sum = _mm512_add_pd(_mm512_sub_pd(s[v], one), c[v]);
        __m512d z = _mm512_sub_pd(_mm512_cvtepi64_pd(cnt[v]), one);
        _mm512_mask_storeu_pd(sm1 + 8 * v, k[v], _mm512_add_pd(z, sum));
    }
}

static inline void fa_hcols_sumexp_m1_f64_avx512(const double *x, size_t n, size_t inner,
                                                 size_t w, const double *m, double *y,
                                                 double *sm1)
{
#define FA_CV_BODY(c, wc, nv) fa_cv_sumexp_f64(x + c, n, inner, wc, m + c, y ? y + c : NULL, sm1 + c, nv)
    FA_CV_GROUPS(w, 8, FA_CV_BODY)
#undef FA_CV_BODY
}

static inline void fa_hcols_scale_to_f64_avx512(const double *src, size_t ss, double *dst,
                                                size_t ds, size_t n, size_t w,
                                                const double *inv)
{
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < w; c += 8) {
            __mmask8 k = (__mmask8)fa_cv_mask(w - c, 8, 0);
            _mm512_mask_storeu_pd(dst + i * ds + c, k,
                                  _mm512_mul_pd(_mm512_maskz_loadu_pd(k, src + i * ss + c),
                                                _mm512_maskz_loadu_pd(k, inv + c)));
        }
}

static inline void fa_hcols_log_softmax_out_f64_avx512(const double *src, size_t ss, double *dst,
                                                       size_t ds, size_t n, size_t w,
                                                       const double *m, const double *L)
{
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < w; c += 8) {
            __mmask8 k = (__mmask8)fa_cv_mask(w - c, 8, 0);
            __m512d r = fa_vlsm_f64_avx512(_mm512_maskz_loadu_pd(k, src + i * ss + c),
                                           _mm512_maskz_loadu_pd(k, m + c),
                                           _mm512_maskz_loadu_pd(k, L + c));
            _mm512_mask_storeu_pd(dst + i * ds + c, k, r);
        }
}

#undef FA_CV_GROUPS
#undef FA_CV_ALWAYS
#endif /* FA_COLS_AVX512_H */
