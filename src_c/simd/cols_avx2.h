/* Hand-written AVX2+FMA column passes: the layout and contracts of
 * cols_avx512.h (row by row over a chunk of w <= FA_CHUNK columns, the
 * per-column state in L1 arrays, numerics of the row passes lane by lane),
 * with rows_avx2.h's exponentials.  Tails: the last partial vector is read
 * and written with vmaskmov (lanes past w neither read nor written in x, y
 * and the packed buffer); the state arrays are FA_CHUNK long, so their
 * vectors are used whole (lanes past w hold values nobody reads). */
#ifndef FA_COLS_AVX2_H
#define FA_COLS_AVX2_H

#include <stdint.h>

#include "simd/rows_avx2.h"

/* ---------------------------------------------------------------- float32 */

static inline void fa_hcols_max_pack_f32_avx2(const float *x, size_t n, size_t inner, size_t w,
                                              float *m, float *buf)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    size_t wf = w / 8 * 8;
    __m256i t = fa_tail8_avx2(w - wf); /* used only when wf < w */
    for (size_t c = 0; c < w; c += 8) _mm256_storeu_ps(m + c, ninf);
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * inner;
        for (size_t c = 0; c < wf; c += 8) {
            _mm_prefetch((const char *)(xr + c + FA_CHUNK), _MM_HINT_T1); /* next chunk */
            __m256 xv = _mm256_loadu_ps(xr + c);
            if (buf) _mm256_storeu_ps(buf + i * w + c, xv);
            _mm256_storeu_ps(m + c, _mm256_max_ps(xv, _mm256_loadu_ps(m + c))); /* NaN skipped */
        }
        if (wf < w) {
            __m256 xv = _mm256_blendv_ps(ninf, _mm256_maskload_ps(xr + wf, t), _mm256_castsi256_ps(t));
            if (buf) _mm256_maskstore_ps(buf + i * w + wf, t, xv);
            _mm256_storeu_ps(m + wf, _mm256_max_ps(xv, _mm256_loadu_ps(m + wf)));
        }
    }
}

/* nv <= 4 vectors of the column sum pass (8 columns each, from column 0 of
 * the pointers), their exponentials formed together (rows_avx2.h: the
 * latency of one exponential needs several in flight).  valid (nv == 1
 * only, else NULL): the lanes loaded; the others add nothing and are not
 * counted. */
static inline void fa_csumexp_vecs_f32_avx2(int nv, const __m256 *x, const float *m,
                                            const __m256 *valid, double *acc, int32_t *cnt,
                                            __m256 *e)
{
    __m256 hi[4], lo[4];
    for (int v = 0; v < nv; v++) hi[v] = fa_vtwo_diff_f32_avx2(x[v], _mm256_loadu_ps(m + 8 * v), &lo[v]);
    fa_vexpn_f32_avx2(nv, hi, lo, e);
    for (int v = 0; v < nv; v++) {
        /* x - m == 0 exactly at the maxima (and never for inf - inf = NaN) */
        __m256 one = _mm256_cmp_ps(hi[v], _mm256_setzero_ps(), _CMP_EQ_OQ), t = e[v];
        if (valid) {
            one = _mm256_and_ps(one, *valid);
            t = _mm256_and_ps(t, *valid);
        }
        t = _mm256_andnot_ps(one, t); /* NaN stays */
        double *a = acc + 8 * v;
        __m256i *ct = (__m256i *)(cnt + 8 * v);
        _mm256_storeu_si256(ct, _mm256_sub_epi32(_mm256_loadu_si256(ct), _mm256_castps_si256(one)));
        _mm256_storeu_pd(a, _mm256_add_pd(_mm256_loadu_pd(a), _mm256_cvtps_pd(_mm256_castps256_ps128(t))));
        _mm256_storeu_pd(a + 4, _mm256_add_pd(_mm256_loadu_pd(a + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1))));
    }
}

static inline void fa_hcols_sumexp_m1_f32_avx2(const float *x, size_t n, size_t inner, size_t w,
                                               const float *m, float *y, double *sm1)
{
    double acc[FA_CHUNK];
    int32_t cnt[FA_CHUNK];
    float mt[8] = {0};
    size_t wf = w / 8 * 8;
    __m256i t = fa_tail8_avx2(w - wf);
    __m256 valid = _mm256_castsi256_ps(t), xv[4], e[4];
    for (size_t c = 0; c < (w + 7) / 8 * 8; c++) { /* the vectors in use */
        acc[c] = 0.0;
        cnt[c] = 0;
    }
    for (size_t c = wf; c < w; c++) mt[c - wf] = m[c]; /* the tail's maxima, lanes past w zero */
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * inner;
        float *yr = y ? y + i * inner : NULL;
        size_t c = 0;
        for (; c + 32 <= wf; c += 32) {
            for (int v = 0; v < 4; v++) xv[v] = _mm256_loadu_ps(xr + c + 8 * v);
            fa_csumexp_vecs_f32_avx2(4, xv, m + c, NULL, acc + c, cnt + c, e);
            if (yr)
                for (int v = 0; v < 4; v++) _mm256_storeu_ps(yr + c + 8 * v, e[v]);
        }
        for (; c < wf; c += 8) {
            xv[0] = _mm256_loadu_ps(xr + c);
            fa_csumexp_vecs_f32_avx2(1, xv, m + c, NULL, acc + c, cnt + c, e);
            if (yr) _mm256_storeu_ps(yr + c, e[0]);
        }
        if (wf < w) {
            xv[0] = _mm256_maskload_ps(xr + wf, t);
            fa_csumexp_vecs_f32_avx2(1, xv, mt, &valid, acc + wf, cnt + wf, e);
            if (yr) _mm256_maskstore_ps(yr + wf, t, e[0]);
        }
    }
    for (size_t c = 0; c < w; c++) sm1[c] = ((double)cnt[c] - 1.0) + acc[c];
}

/* dst[i, k] = src[i, k] * inv[k] (inv = ih + il, one rounding). */
static inline void fa_hcols_scale_to_f32_avx2(const float *src, size_t ss, float *dst, size_t ds,
                                              size_t n, size_t w, const double *inv)
{
    float ih[FA_CHUNK], il[FA_CHUNK];
    size_t wf = w / 8 * 8;
    __m256i t = fa_tail8_avx2(w - wf);
    for (size_t c = 0; c < w; c++) {
        ih[c] = (float)inv[c];
        il[c] = (float)(inv[c] - (double)ih[c]);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < wf; c += 8) {
            __m256 v = _mm256_loadu_ps(src + i * ss + c);
            _mm256_storeu_ps(dst + i * ds + c, _mm256_fmadd_ps(v, _mm256_loadu_ps(ih + c),
                                                               _mm256_mul_ps(v, _mm256_loadu_ps(il + c))));
        }
        if (wf < w) {
            __m256 v = _mm256_maskload_ps(src + i * ss + wf, t);
            _mm256_maskstore_ps(dst + i * ds + wf, t, _mm256_fmadd_ps(v, _mm256_maskload_ps(ih + wf, t),
                                                                       _mm256_mul_ps(v, _mm256_maskload_ps(il + wf, t))));
        }
    }
}

/* dst[i, k] = (src[i, k] - m[k]) - L[k] (fa_vlsm_f32_avx2 per vector). */
static inline void fa_hcols_log_softmax_out_f32_avx2(const float *src, size_t ss, float *dst,
                                                     size_t ds, size_t n, size_t w,
                                                     const float *m, const double *L)
{
    float lh[FA_CHUNK], ll[FA_CHUNK];
    size_t wf = w / 8 * 8;
    __m256i t = fa_tail8_avx2(w - wf);
    for (size_t c = 0; c < w; c++) {
        lh[c] = (float)L[c];
        ll[c] = (float)(L[c] - (double)lh[c]);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < wf; c += 8)
            _mm256_storeu_ps(dst + i * ds + c,
                             fa_vlsm_f32_avx2(_mm256_loadu_ps(src + i * ss + c), _mm256_loadu_ps(m + c),
                                              _mm256_loadu_ps(lh + c), _mm256_loadu_ps(ll + c)));
        if (wf < w)
            _mm256_maskstore_ps(dst + i * ds + wf, t,
                                fa_vlsm_f32_avx2(_mm256_maskload_ps(src + i * ss + wf, t),
                                                 _mm256_maskload_ps(m + wf, t),
                                                 _mm256_maskload_ps(lh + wf, t),
                                                 _mm256_maskload_ps(ll + wf, t)));
    }
}

/* ---------------------------------------------------------------- float64 */

static inline void fa_hcols_max_pack_f64_avx2(const double *x, size_t n, size_t inner, size_t w,
                                              double *m, double *buf)
{
    const __m256d ninf = _mm256_set1_pd(-INFINITY);
    size_t wf = w / 4 * 4;
    __m256i t = fa_tail4_avx2(w - wf);
    for (size_t c = 0; c < w; c += 4) _mm256_storeu_pd(m + c, ninf);
    for (size_t i = 0; i < n; i++) {
        const double *xr = x + i * inner;
        for (size_t c = 0; c < wf; c += 4) {
            _mm_prefetch((const char *)(xr + c + FA_CHUNK), _MM_HINT_T1);
            __m256d xv = _mm256_loadu_pd(xr + c);
            if (buf) _mm256_storeu_pd(buf + i * w + c, xv);
            _mm256_storeu_pd(m + c, _mm256_max_pd(xv, _mm256_loadu_pd(m + c)));
        }
        if (wf < w) {
            __m256d xv = _mm256_blendv_pd(ninf, _mm256_maskload_pd(xr + wf, t), _mm256_castsi256_pd(t));
            if (buf) _mm256_maskstore_pd(buf + i * w + wf, t, xv);
            _mm256_storeu_pd(m + wf, _mm256_max_pd(xv, _mm256_loadu_pd(m + wf)));
        }
    }
}

/* nv <= 4 vectors of the float64 column sum pass (4 columns each), with
 * the row pass's Fast2Sum accumulators (s from 1, c).  valid as float32. */
static inline void fa_csumexp_vecs_f64_avx2(int nv, const __m256d *x, const double *m,
                                            const __m256d *valid, double *s, double *cc,
                                            int64_t *cnt, __m256d *e)
{
    __m256d hi[4], lo[4];
    for (int v = 0; v < nv; v++) hi[v] = fa_vtwo_diff_f64_avx2(x[v], _mm256_loadu_pd(m + 4 * v), &lo[v]);
    fa_vexpn_f64_avx2(nv, hi, lo, e);
    for (int v = 0; v < nv; v++) {
        __m256d one = _mm256_cmp_pd(hi[v], _mm256_setzero_pd(), _CMP_EQ_OQ), t = e[v];
        if (valid) {
            one = _mm256_and_pd(one, *valid);
            t = _mm256_and_pd(t, *valid);
        }
        t = _mm256_andnot_pd(one, t);
        __m256i *ct = (__m256i *)(cnt + 4 * v);
        _mm256_storeu_si256(ct, _mm256_sub_epi64(_mm256_loadu_si256(ct), _mm256_castpd_si256(one)));
        __m256d sv = _mm256_loadu_pd(s + 4 * v), u = _mm256_add_pd(sv, t);
        _mm256_storeu_pd(cc + 4 * v, _mm256_add_pd(_mm256_loadu_pd(cc + 4 * v),
                                                   _mm256_add_pd(_mm256_sub_pd(sv, u), t)));
        _mm256_storeu_pd(s + 4 * v, u);
    }
}

static inline void fa_hcols_sumexp_m1_f64_avx2(const double *x, size_t n, size_t inner, size_t w,
                                               const double *m, double *y, double *sm1)
{
    double s[FA_CHUNK], cc[FA_CHUNK], mt[4] = {0};
    int64_t cnt[FA_CHUNK];
    size_t wf = w / 4 * 4;
    __m256i t = fa_tail4_avx2(w - wf);
    __m256d valid = _mm256_castsi256_pd(t), xv[4], e[4];
    for (size_t c = 0; c < (w + 3) / 4 * 4; c++) { /* the vectors in use */
        s[c] = 1.0;
        cc[c] = 0.0;
        cnt[c] = 0;
    }
    for (size_t c = wf; c < w; c++) mt[c - wf] = m[c];
    for (size_t i = 0; i < n; i++) {
        const double *xr = x + i * inner;
        double *yr = y ? y + i * inner : NULL;
        size_t c = 0;
        for (; c + 16 <= wf; c += 16) {
            for (int v = 0; v < 4; v++) xv[v] = _mm256_loadu_pd(xr + c + 4 * v);
            fa_csumexp_vecs_f64_avx2(4, xv, m + c, NULL, s + c, cc + c, cnt + c, e);
            if (yr)
                for (int v = 0; v < 4; v++) _mm256_storeu_pd(yr + c + 4 * v, e[v]);
        }
        for (; c < wf; c += 4) {
            xv[0] = _mm256_loadu_pd(xr + c);
            fa_csumexp_vecs_f64_avx2(1, xv, m + c, NULL, s + c, cc + c, cnt + c, e);
            if (yr) _mm256_storeu_pd(yr + c, e[0]);
        }
        if (wf < w) {
            xv[0] = _mm256_maskload_pd(xr + wf, t);
            fa_csumexp_vecs_f64_avx2(1, xv, mt, &valid, s + wf, cc + wf, cnt + wf, e);
            if (yr) _mm256_maskstore_pd(yr + wf, t, e[0]);
        }
    }
    for (size_t c = 0; c < w; c++) sm1[c] = ((double)cnt[c] - 1.0) + ((s[c] - 1.0) + cc[c]);
}

static inline void fa_hcols_scale_to_f64_avx2(const double *src, size_t ss, double *dst, size_t ds,
                                              size_t n, size_t w, const double *inv)
{
    size_t wf = w / 4 * 4;
    __m256i t = fa_tail4_avx2(w - wf);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < wf; c += 4)
            _mm256_storeu_pd(dst + i * ds + c,
                             _mm256_mul_pd(_mm256_loadu_pd(src + i * ss + c), _mm256_loadu_pd(inv + c)));
        if (wf < w)
            _mm256_maskstore_pd(dst + i * ds + wf, t,
                                _mm256_mul_pd(_mm256_maskload_pd(src + i * ss + wf, t),
                                              _mm256_maskload_pd(inv + wf, t)));
    }
}

static inline void fa_hcols_log_softmax_out_f64_avx2(const double *src, size_t ss, double *dst,
                                                     size_t ds, size_t n, size_t w,
                                                     const double *m, const double *L)
{
    size_t wf = w / 4 * 4;
    __m256i t = fa_tail4_avx2(w - wf);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < wf; c += 4)
            _mm256_storeu_pd(dst + i * ds + c,
                             fa_vlsm_f64_avx2(_mm256_loadu_pd(src + i * ss + c), _mm256_loadu_pd(m + c),
                                              _mm256_loadu_pd(L + c)));
        if (wf < w)
            _mm256_maskstore_pd(dst + i * ds + wf, t,
                                fa_vlsm_f64_avx2(_mm256_maskload_pd(src + i * ss + wf, t),
                                                 _mm256_maskload_pd(m + wf, t),
                                                 _mm256_maskload_pd(L + wf, t)));
    }
}

#endif /* FA_COLS_AVX2_H */
