/* Hand-written AVX-512 column passes: the reduced axis is not the last one,
 * and a chunk of w <= FA_CHUNK (256) columns is reduced together, element
 * (i, k) at x[i * inner + k].  Vectors run along the contiguous columns (the
 * last one masked); each lane carries its column's accumulators, so the
 * numerics are the row passes' (rows_avx512.h) lane by lane.
 *
 * Every pass goes row by row over the whole chunk (long contiguous segments,
 * each read once per pass, whether the chunk sits in cache or streams from
 * memory for long columns); the per-column state (maxima, sums, counts,
 * factors) lives in small arrays that stay in L1.  Included after
 * rows_avx512.h in the AVX-512 region of instantiate.h; the templates call
 * these where FA_HAND_COLS is set, with the contracts of the portable column
 * code of reduce_impl.h. */
#ifndef FA_COLS_AVX512_H
#define FA_COLS_AVX512_H

#include <stdint.h>

#include "simd/rows_avx512.h"

static inline __mmask16 fa_cmask16(size_t rem) { return rem >= 16 ? (__mmask16)0xFFFF : fa_tail16(rem); }
static inline __mmask8 fa_cmask8(size_t rem) { return rem >= 8 ? (__mmask8)0xFF : fa_tail8(rem); }

/* ---------------------------------------------------------------- float32 */

/* m[k] = column max (NaN skipped); buf (optional) receives the chunk packed
 * (element (i, k) at buf[i * w + k]).  This pass reads the chunk from
 * memory, so it also prefetches the next chunk's segment of each row. */
static inline void fa_hcols_max_pack_f32_avx512(const float *x, size_t n, size_t inner,
                                                size_t w, float *m, float *buf)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (size_t c = 0; c < w; c += 16) _mm512_mask_storeu_ps(m + c, fa_cmask16(w - c), ninf);
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * inner;
        for (size_t c = 0; c < w; c += 16) {
            __mmask16 k = fa_cmask16(w - c);
            _mm_prefetch((const char *)(xr + c + FA_CHUNK), _MM_HINT_T1);
            __m512 xv = _mm512_mask_loadu_ps(ninf, k, xr + c);
            if (buf) _mm512_mask_storeu_ps(buf + i * w + c, k, xv);
            /* x first: NaN skipped */
            _mm512_mask_storeu_ps(m + c, k, _mm512_max_ps(xv, _mm512_maskz_loadu_ps(k, m + c)));
        }
    }
}

/* One vector of the column sum pass (lanes k; constant 0xFFFF for full
 * vectors lets the compiler drop the masking). */
static inline __attribute__((always_inline)) void
fa_csumexp_vec_f32(const float *xp, const float *mp, float *yp, double *acc, int32_t *cnt,
                   __mmask16 k)
{
    __mmask16 one;
    __m512d a0 = _mm512_maskz_loadu_pd((__mmask8)k, acc);
    __m512d a1 = _mm512_maskz_loadu_pd((__mmask8)(k >> 8), acc + 8);
    __m512 e = fa_vsumexp_step_f32_avx512(_mm512_maskz_loadu_ps(k, xp), _mm512_maskz_loadu_ps(k, mp),
                                          k, &a0, &a1, &one);
    __m512i ct = _mm512_maskz_loadu_epi32(k, cnt);
    _mm512_mask_storeu_epi32(cnt, k, _mm512_mask_sub_epi32(ct, one, ct, _mm512_set1_epi32(-1)));
    _mm512_mask_storeu_pd(acc, (__mmask8)k, a0);
    _mm512_mask_storeu_pd(acc + 8, (__mmask8)(k >> 8), a1);
    if (yp) _mm512_mask_storeu_ps(yp, k, e);
}

/* sm1[k] = s - 1 per column; y (optional, x's layout) receives exp(x - m).
 * Sums in double per lane, the maxima counted per lane (exact integers,
 * below 2^31: n < 2^31 rows per chunk here). */
static inline void fa_hcols_sumexp_m1_f32_avx512(const float *x, size_t n, size_t inner,
                                                 size_t w, const float *m, float *y,
                                                 double *sm1)
{
    double acc[FA_CHUNK] __attribute__((aligned(64)));
    int32_t cnt[FA_CHUNK] __attribute__((aligned(64)));
    size_t wf = w / 16 * 16;
    for (size_t c = 0; c < w; c++) {
        acc[c] = 0.0;
        cnt[c] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * inner;
        float *yr = y ? y + i * inner : NULL;
        for (size_t c = 0; c < wf; c += 16)
            fa_csumexp_vec_f32(xr + c, m + c, yr ? yr + c : NULL, acc + c, cnt + c, 0xFFFF);
        if (wf < w) fa_csumexp_vec_f32(xr + wf, m + wf, yr ? yr + wf : NULL, acc + wf, cnt + wf, fa_tail16(w - wf));
    }
    /* (count - 1) + sum, as the row version: the count is exact */
    for (size_t c = 0; c < w; c++) sm1[c] = ((double)cnt[c] - 1.0) + acc[c];
}

/* d -> float32 hi + lo with hi + lo = d to ~2^-48 (per-column factors for
 * the passes below, as the row passes split theirs). */
static inline void fa_csplit_f32(const double *d, size_t w, float *hi, float *lo)
{
    for (size_t c = 0; c < w; c++) {
        hi[c] = (float)d[c];
        lo[c] = (float)(d[c] - (double)hi[c]);
    }
}

/* dst[i, k] = src[i, k] * inv[k], one rounding (inv = ih + il: y * ih by FMA
 * with y * il added, as fa_hrow_scale_f32_avx512); src may be dst. */
static inline void fa_hcols_scale_to_f32_avx512(const float *src, size_t ss, float *dst,
                                                size_t ds, size_t n, size_t w,
                                                const double *inv)
{
    float ih[FA_CHUNK] __attribute__((aligned(64))), il[FA_CHUNK] __attribute__((aligned(64)));
    fa_csplit_f32(inv, w, ih, il);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < w; c += 16) {
            __mmask16 k = fa_cmask16(w - c);
            __m512 t = _mm512_maskz_loadu_ps(k, src + i * ss + c);
            __m512 r = _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(k, ih + c),
                                       _mm512_mul_ps(t, _mm512_maskz_loadu_ps(k, il + c)));
            _mm512_mask_storeu_ps(dst + i * ds + c, k, r);
        }
}

/* dst[i, k] = (src[i, k] - m[k]) - L[k] (fa_vlsm_f32_avx512 per vector). */
static inline void fa_hcols_log_softmax_out_f32_avx512(const float *src, size_t ss, float *dst,
                                                       size_t ds, size_t n, size_t w,
                                                       const float *m, const double *L)
{
    float lh[FA_CHUNK] __attribute__((aligned(64))), ll[FA_CHUNK] __attribute__((aligned(64)));
    fa_csplit_f32(L, w, lh, ll);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < w; c += 16) {
            __mmask16 k = fa_cmask16(w - c);
            __m512 r = fa_vlsm_f32_avx512(_mm512_maskz_loadu_ps(k, src + i * ss + c),
                                          _mm512_maskz_loadu_ps(k, m + c),
                                          _mm512_maskz_loadu_ps(k, lh + c),
                                          _mm512_maskz_loadu_ps(k, ll + c));
            _mm512_mask_storeu_ps(dst + i * ds + c, k, r);
        }
}

/* ---------------------------------------------------------------- float64 */

static inline void fa_hcols_max_pack_f64_avx512(const double *x, size_t n, size_t inner,
                                                size_t w, double *m, double *buf)
{
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    for (size_t c = 0; c < w; c += 8) _mm512_mask_storeu_pd(m + c, fa_cmask8(w - c), ninf);
    for (size_t i = 0; i < n; i++) {
        const double *xr = x + i * inner;
        for (size_t c = 0; c < w; c += 8) {
            __mmask8 k = fa_cmask8(w - c);
            _mm_prefetch((const char *)(xr + c + FA_CHUNK), _MM_HINT_T1);
            __m512d xv = _mm512_mask_loadu_pd(ninf, k, xr + c);
            if (buf) _mm512_mask_storeu_pd(buf + i * w + c, k, xv);
            _mm512_mask_storeu_pd(m + c, k, _mm512_max_pd(xv, _mm512_maskz_loadu_pd(k, m + c)));
        }
    }
}

static inline __attribute__((always_inline)) void
fa_csumexp_vec_f64(const double *xp, const double *mp, double *yp, double *s, double *cc,
                   __mmask8 k)
{
    __m512d sv = _mm512_maskz_loadu_pd(k, s), cv = _mm512_maskz_loadu_pd(k, cc);
    __m512d e = fa_vsumexp_step_f64_avx512(_mm512_maskz_loadu_pd(k, xp), _mm512_maskz_loadu_pd(k, mp),
                                           k, &sv, &cv);
    _mm512_mask_storeu_pd(s, k, sv);
    _mm512_mask_storeu_pd(cc, k, cv);
    if (yp) _mm512_mask_storeu_pd(yp, k, e);
}

/* As float32, with the row pass's Fast2Sum accumulators (s from 1, c; the
 * maxima added like the other terms, see fa_vsumexp_step_f64_avx512). */
static inline void fa_hcols_sumexp_m1_f64_avx512(const double *x, size_t n, size_t inner,
                                                 size_t w, const double *m, double *y,
                                                 double *sm1)
{
    double s[FA_CHUNK] __attribute__((aligned(64))), cc[FA_CHUNK] __attribute__((aligned(64)));
    size_t wf = w / 8 * 8;
    for (size_t c = 0; c < w; c++) {
        s[c] = 1.0;
        cc[c] = 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        const double *xr = x + i * inner;
        double *yr = y ? y + i * inner : NULL;
        for (size_t c = 0; c < wf; c += 8)
            fa_csumexp_vec_f64(xr + c, m + c, yr ? yr + c : NULL, s + c, cc + c, 0xFF);
        if (wf < w)
            fa_csumexp_vec_f64(xr + wf, m + wf, yr ? yr + wf : NULL, s + wf, cc + wf, fa_tail8(w - wf));
    }
    /* s - 1 - 1 exact (s >= 2 holds the start and the maxima), then + c */
    for (size_t c = 0; c < w; c++) sm1[c] = isfinite(s[c]) ? ((s[c] - 1.0) - 1.0) + cc[c] : s[c];
}

static inline void fa_hcols_scale_to_f64_avx512(const double *src, size_t ss, double *dst,
                                                size_t ds, size_t n, size_t w,
                                                const double *inv)
{
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < w; c += 8) {
            __mmask8 k = fa_cmask8(w - c);
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
            __mmask8 k = fa_cmask8(w - c);
            __m512d r = fa_vlsm_f64_avx512(_mm512_maskz_loadu_pd(k, src + i * ss + c),
                                           _mm512_maskz_loadu_pd(k, m + c),
                                           _mm512_maskz_loadu_pd(k, L + c));
            _mm512_mask_storeu_pd(dst + i * ds + c, k, r);
        }
}

#endif /* FA_COLS_AVX512_H */
