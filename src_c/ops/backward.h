/* Part of the op templates (see ops/dtype.h): the passes of the two-input
 * backward reductions (ops/softmax_backward.c, ops/log_softmax_backward.c),
 * for one row (inner == 1) and for a chunk of w <= FA_CHUNK columns
 * (element (i, k) at p[i * inner + k]).  Plain C written so that the
 * compiler vectorises it at every level's target (fixed lane loops,
 * branch-free selects): the same C at every level; the levels with FMA
 * (avx2, avx512) form exact products with it, the others by Dekker's split.
 *
 * Sums: float32 in double (products of two floats are exact in double), one
 * rounding to float32 at the end; float64 compensated (TwoSum on every term,
 * TwoProd for the products), so a group sum s carries an error of about
 * 2^-53 |s| + n 2^-106 sum|terms|, far below the output's rounding. */
#include "simd/fa_math.h"
#include "ops/passes.h" /* ops/dtype.h; at the SIMD levels the vector exponential (vexp_row) */
#if FA_VEC
#include "ops/map_passes.h" /* streamed output tiles (vput_tile) */
#endif

#ifndef FA_BW_LANES
/* independent accumulators per row: two AVX-512 vectors of doubles, enough
 * to hide the add latency */
#define FA_BW_LANES 16
#define FA_BW_FMA_scalar 0
#define FA_BW_FMA_sse2 0
#define FA_BW_FMA_avx2 1
#define FA_BW_FMA_avx512 1
#endif
#undef FA_BW_FMA
#define FA_BW_FMA FA_CAT4(FA_BW_FMA_, FA_ISA, , )

/* Prefetch (to L2) the lines holding p[0 .. len): the row passes fetch
 * what the next pass to read memory needs while they compute from cache;
 * the column passes fetch the next chunk (prefetches never fault). */
static inline void FA_FN(bw_prefetch)(const T *p, size_t len)
{
#if FA_VEC
    for (size_t b = 0; b < len * sizeof(T); b += 64) FA_V(prefetch)((const char *)p + b);
#elif defined(__GNUC__) || defined(__clang__)
    for (size_t b = 0; b < len * sizeof(T); b += 64) __builtin_prefetch((const char *)p + b, 0, 2);
#else
    (void)p;
    (void)len;
#endif
}

/* a * b = p + *e exactly (p = fl(a * b)), for finite p away from underflow.
 * Without FMA: Dekker's split (Veltkamp, 2^27 + 1), which overflows for
 * |a|, |b| > 2^996; a non-finite error term is then dropped (p alone). */
static inline double FA_FN(bw_two_prod)(double a, double b, double *e)
{
    double p = a * b;
#if FA_BW_FMA
    *e = __builtin_fma(a, b, -p);
#else
    double ta = 134217729.0 * a, tb = 134217729.0 * b;
    double ah = ta - (ta - a), al = a - ah;
    double bh = tb - (tb - b), bl = b - bh;
    double r = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    *e = (r - r == 0.0) ? r : 0.0;
#endif
    return p;
}

/* The compensated lanes (s, c) of a float64 sum as hi + lo (Fast2Sum of the
 * lanes' total and compensation; hi alone when it is not finite). */
static inline double FA_FN(bw_finish)(const double *s, const double *c, size_t lanes, double *lo)
{
    double S = 0.0, C = 0.0;
    for (size_t l = 0; l < lanes; l++) {
        fa_acc(&S, &C, s[l]);
        C += c[l];
    }
    if (!isfinite(S)) {
        *lo = 0.0;
        return S;
    }
    double hi = S + C;
    *lo = C - (hi - S);
    return hi;
}

/* s = sum_j g[j] * y[j] (y NULL: sum_j g[j]) over a row, as hi + *lo
 * (float32: *lo = 0).  Element j goes to lane j % FA_BW_LANES (the lanes
 * added in order at the end), the tail past the last whole step to lane 0.
 * pf (optional): an array of the row's length to prefetch along. */
static inline double FA_FN(bw_row_sum)(const T *g, const T *y, size_t n, const T *pf,
                                       double *lo)
{
    enum { L = FA_BW_LANES };
    double s[L] = {0};
    size_t nf = n / L * L;
#if FA_DTYPE == 64
    double c[L] = {0};
#endif
    for (size_t j0 = 0; j0 < nf; j0 += FA_TILE) {
        size_t e1 = nf - j0 < FA_TILE ? nf : j0 + FA_TILE;
        if (pf) FA_FN(bw_prefetch)(pf + j0, e1 - j0);
#if FA_DTYPE == 32
        if (y) {
            for (size_t j = j0; j < e1; j += L)
                for (int l = 0; l < L; l++) s[l] += (double)g[j + l] * (double)y[j + l];
        } else {
            for (size_t j = j0; j < e1; j += L)
                for (int l = 0; l < L; l++) s[l] += (double)g[j + l];
        }
#else
        if (y) {
            for (size_t j = j0; j < e1; j += L)
                for (int l = 0; l < L; l++) {
                    double e, p = FA_FN(bw_two_prod)(g[j + l], y[j + l], &e);
                    fa_acc(&s[l], &c[l], p);
                    c[l] += e;
                }
        } else {
            for (size_t j = j0; j < e1; j += L)
                for (int l = 0; l < L; l++) fa_acc(&s[l], &c[l], g[j + l]);
        }
#endif
    }
    if (pf && nf < n) FA_FN(bw_prefetch)(pf + nf, n - nf);
#if FA_DTYPE == 32
    for (size_t j = nf; j < n; j++) s[0] += (double)g[j] * (y ? (double)y[j] : 1.0);
    double S = 0.0;
    for (int l = 0; l < L; l++) S += s[l];
    *lo = 0.0;
    return S;
#else
    for (size_t j = nf; j < n; j++) {
        double e = 0.0, p = y ? FA_FN(bw_two_prod)(g[j], y[j], &e) : g[j];
        fa_acc(&s[0], &c[0], p);
        c[0] += e;
    }
    return FA_FN(bw_finish)(s, c, L, lo);
#endif
}

/* Column version: hi[k] + lo[k] = column k's sum, k < w; rows added in
 * order.  gb, yb (optional): g's and y's chunk copied there, packed
 * (element (i, k) at gb[i * w + k]), see bw_pack_cols.  The hardware does not follow a chunk's rows (inner apart): each
 * row fetches the next chunk's segment of what it reads (g, and y if not
 * NULL), and pf's segment of this chunk (optional: the input the output
 * pass reads first). */
static inline void FA_FN(bw_cols_sum)(const T *g, const T *y, size_t n, size_t inner, size_t w,
                                      const T *pf, T *gb, T *yb, double *hi, double *lo)
{
    double s[FA_CHUNK];
    for (size_t k = 0; k < w; k++) s[k] = 0.0;
#if FA_DTYPE == 64
    double c[FA_CHUNK];
    for (size_t k = 0; k < w; k++) c[k] = 0.0;
#endif
    for (size_t i = 0; i < n; i++) {
        const T *gr = g + i * inner, *yr = y ? y + i * inner : NULL;
        FA_FN(bw_prefetch)(gr + FA_CHUNK, w);
        if (yr) FA_FN(bw_prefetch)(yr + FA_CHUNK, w);
        if (pf) FA_FN(bw_prefetch)(pf + i * inner, w);
        if (gb)
            for (size_t k = 0; k < w; k++) gb[i * w + k] = gr[k];
        if (yb)
            for (size_t k = 0; k < w; k++) yb[i * w + k] = yr[k];
#if FA_DTYPE == 32
        if (yr) {
            for (size_t k = 0; k < w; k++) s[k] += (double)gr[k] * (double)yr[k];
        } else {
            for (size_t k = 0; k < w; k++) s[k] += (double)gr[k];
        }
#else
        if (yr) {
            for (size_t k = 0; k < w; k++) {
                double e, p = FA_FN(bw_two_prod)(gr[k], yr[k], &e);
                fa_acc(&s[k], &c[k], p);
                c[k] += e;
            }
        } else {
            for (size_t k = 0; k < w; k++) fa_acc(&s[k], &c[k], gr[k]);
        }
#endif
    }
#if FA_DTYPE == 32
    for (size_t k = 0; k < w; k++) {
        hi[k] = s[k];
        lo[k] = 0.0;
    }
#else
    for (size_t k = 0; k < w; k++) hi[k] = FA_FN(bw_finish)(&s[k], &c[k], 1, &lo[k]);
#endif
}

/* Column chunks of short groups are packed by the sum pass into stack
 * buffers of FA_BW_PACK bytes per input, so that the output pass reads them
 * from L1/L2 whatever the stride (rows a power of two apart map to the same
 * cache sets, more of them than the ways; as ops/passes.h's pack_cols).
 * Columns per packed block (a multiple of 16, <= FA_CHUNK), or 0. */
#ifndef FA_BW_PACK
#define FA_BW_PACK 16384
#endif
static inline size_t FA_FN(bw_pack_cols)(size_t n)
{
    size_t wp = n ? FA_BW_PACK / sizeof(T) / n / 16 * 16 : FA_CHUNK;
    return wp > FA_CHUNK ? FA_CHUNK : wp;
}

/* The groups of (outer, n, inner): row(g, y, out, n) per row when inner ==
 * 1, else cols(g, y, out, n, inner, w) per chunk of w <= FA_CHUNK columns. */
static inline void FA_FN(bw_cols_range)(const T *g, const T *y, T *out, size_t n, size_t inner,
                                        size_t c0, size_t c1,
                                        void (*cols)(const T *, const T *, T *, size_t, size_t,
                                                     size_t))
{
    if (n == 0) return;
    for (size_t c = c0; c < c1; c += FA_CHUNK)
        cols(g + c, y + c, out + c, n, inner, c1 - c < FA_CHUNK ? c1 - c : FA_CHUNK);
}

/* st (rows): the call's whole output (outer * n elements, one thread's
 * share) is at least FA_STREAM_BYTES, so the rows' output passes stream
 * their stores (ops/map_passes.h; at the SIMD levels only). */
static inline void FA_FN(bw_groups)(const T *g, const T *y, T *out, size_t outer, size_t n,
                                    size_t inner,
                                    void (*row)(const T *, const T *, T *, size_t, int),
                                    void (*cols)(const T *, const T *, T *, size_t, size_t,
                                                 size_t))
{
    if (n == 0) return;
#if FA_VEC
    const int st = inner == 1 && FA_FN(vstream_ok)(out, outer * n);
#else
    const int st = 0;
#endif
    for (size_t o = 0; o < outer; o++) {
        size_t off = o * n * inner;
        if (inner == 1) row(g + off, y + off, out + off, n, st);
        else FA_FN(bw_cols_range)(g + off, y + off, out + off, n, inner, 0, inner, cols);
    }
}

#ifndef FA_EXPORT_REDUCE2
/* fa_<name>(g, y, out, outer, n, inner) and fa_<name>_columns(g, y, out, n,
 * inner, c0, c1) (the thread pool's unit for non-last axes) from the
 * template's FA_FN(name_row)(g, y, out, n) and
 * FA_FN(name_cols)(g, y, out, n, inner, w). */
#define FA_EXPORT_REDUCE2(name)                                                              \
    void FA_FN(name)(const void *g, const void *y, void *out, size_t outer, size_t n,        \
                     size_t inner)                                                           \
    {                                                                                        \
        FA_FN(bw_groups)((const T *)g, (const T *)y, (T *)out, outer, n, inner,              \
                         FA_FN(name##_row), FA_FN(name##_cols));                             \
    }                                                                                        \
    void FA_FN(name##_columns)(const void *g, const void *y, void *out, size_t n,            \
                               size_t inner, size_t c0, size_t c1)                           \
    {                                                                                        \
        FA_FN(bw_cols_range)((const T *)g, (const T *)y, (T *)out, n, inner, c0, c1,         \
                             FA_FN(name##_cols));                                            \
    }
#endif
