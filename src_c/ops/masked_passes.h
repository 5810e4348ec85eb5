/* Part of the op templates (see ops/dtype.h): the passes of where= (masked
 * softmax / log_softmax, FA_MASKED_OPS).  A mask byte per element, nonzero
 * = kept; the mask is a broadcast view (fa_mask_view, include/fastact.h),
 * never expanded to x's size: per outer index its row pointer comes from an
 * odometer over the outer dims (strides 0 along broadcast dims).
 *
 * A masked group is computed as the unmasked op's group with the masked-out
 * entries replaced by -inf (written to y by the fill pass, which also forms
 * the max): exp(-inf - m) = 0 exactly and -inf is never the max of a group
 * with a kept finite entry, so the kept entries get the unmasked op's
 * arithmetic over the kept entries only (same error bounds; only the lanes
 * the kept entries sit in differ from a compacted row, i.e. the order of
 * the sum).  The masked-out entries are then 0 (log_softmax: -inf) exactly
 * whenever the group's max and scale are finite; otherwise (a kept NaN or
 * +inf, kept entries all -inf, nothing kept) a fix-up pass writes them. */
/* (after ops/passes.h, which the template includes first) */

#ifndef FA_MASKED_PASSES_UNTYPED
#define FA_MASKED_PASSES_UNTYPED
/* Where a row of outer indices stands in the mask: the odometer of the
 * outer dims and the byte offset it gives. */
typedef struct {
    size_t idx[FA_MASK_MAXDIMS];
    ptrdiff_t off;
} fa_mask_walk;

static inline void fa_mask_walk_start(fa_mask_walk *w, const fa_mask_view *mv, size_t o)
{
    w->off = 0;
    for (int d = mv->nd - 1; d >= 0; d--) {
        size_t dim = mv->dims[d] ? mv->dims[d] : 1;
        w->idx[d] = o % dim;
        o /= dim;
        w->off += (ptrdiff_t)w->idx[d] * mv->strides[d];
    }
}

static inline void fa_mask_walk_next(fa_mask_walk *w, const fa_mask_view *mv)
{
    for (int d = mv->nd - 1; d >= 0; d--) {
        w->off += mv->strides[d];
        if (++w->idx[d] < mv->dims[d]) return;
        w->off -= (ptrdiff_t)w->idx[d] * mv->strides[d];
        w->idx[d] = 0;
    }
}
#endif

/* y[j] = mk[j] ? x[j] : -inf (y may be x). */
static inline void FA_FN(mrow_fill)(const T *x, const uint8_t *mk, T *y, size_t n)
{
    size_t j = 0;
#if FA_VEC
    const FA_V(t) ninf = FA_V(set1)((T)-INFINITY);
    for (; j + FA_V(LANES) <= n; j += FA_V(LANES))
        FA_V(storeu)(y + j, FA_V(blend)(FA_V(mask_lanes)(mk + j), FA_V(loadu)(x + j), ninf));
#endif
    for (; j < n; j++) y[j] = mk[j] ? x[j] : (T)-INFINITY;
}

/* The fill, returning the max of the filled row (NaN skipped, as row_max).
 * Vector levels: four accumulators as vrow_max, the partial tail in scalar
 * (max is exact: the split only decides the sign of a zero max, the same
 * for every thread count). */
static inline T FA_FN(mrow_fill_max)(const T *x, const uint8_t *mk, T *y, size_t n)
{
#if FA_VEC
    enum { VL = FA_V(LANES) };
    const FA_V(t) ninf = FA_V(set1)((T)-INFINITY);
    FA_V(t) mv[4] = {ninf, ninf, ninf, ninf};
    size_t j = 0;
    for (; j + 4 * VL <= n; j += 4 * VL)
        for (int i = 0; i < 4; i++) {
            FA_V(t) v = FA_V(blend)(FA_V(mask_lanes)(mk + j + i * VL), FA_V(loadu)(x + j + i * VL), ninf);
            FA_V(storeu)(y + j + i * VL, v);
            mv[i] = FA_V(max)(v, mv[i]); /* v first: NaN skipped */
        }
    for (; j + VL <= n; j += VL) {
        FA_V(t) v = FA_V(blend)(FA_V(mask_lanes)(mk + j), FA_V(loadu)(x + j), ninf);
        FA_V(storeu)(y + j, v);
        mv[0] = FA_V(max)(v, mv[0]);
    }
    T m = FA_V(hmax)(FA_V(max)(FA_V(max)(mv[0], mv[1]), FA_V(max)(mv[2], mv[3])));
    for (; j < n; j++) {
        T v = mk[j] ? x[j] : (T)-INFINITY;
        y[j] = v;
        m = FA_MAX(m, v);
    }
    return m;
#else
    FA_FN(mrow_fill)(x, mk, y, n);
    return FA_FN(row_max)(y, n);
#endif
}

/* The masked-out entries of y set to fill (0 or -inf). */
static inline void FA_FN(mrow_fixup)(const uint8_t *mk, T *y, size_t n, T fill)
{
    for (size_t j = 0; j < n; j++) y[j] = mk[j] ? y[j] : fill;
}

/* row(x, mk, y, n) on every row of the outer indices [o0, o1) when inner ==
 * 1, else cols(x, mk, sn, y, n, inner, w) on the chunks of w <= FA_CHUNK
 * columns of [c0, c1) (x, y: the whole (outer, n, inner) arrays). */
static inline void FA_FN(masked_groups)(const T *x, T *y, const fa_mask_view *mv, size_t o0,
                                        size_t o1, size_t n, size_t inner, size_t c0, size_t c1,
                                        void (*row)(const T *, const uint8_t *, T *, size_t),
                                        void (*cols)(const T *, const uint8_t *, ptrdiff_t, T *,
                                                     size_t, size_t, size_t))
{
    if (n == 0 || o0 >= o1) return;
    fa_mask_walk w;
    fa_mask_walk_start(&w, mv, o0);
    for (size_t o = o0; o < o1; o++, fa_mask_walk_next(&w, mv)) {
        const T *xo = x + o * n * inner;
        T *yo = y + o * n * inner;
        const uint8_t *mo = mv->base + w.off;
        if (inner == 1) {
            row(xo, mo, yo, n);
            continue;
        }
        for (size_t c = c0; c < c1; c += FA_CHUNK)
            cols(xo + c, mo + c, mv->sn, yo + c, n, inner, c1 - c < FA_CHUNK ? c1 - c : FA_CHUNK);
    }
}

#ifndef FA_EXPORT_MASKED
/* fa_<name>_masked(x, y, mask, o0, o1, n, inner, c0, c1) from the template's
 * FA_FN(name_masked_row) and FA_FN(name_masked_cols). */
#define FA_EXPORT_MASKED(name)                                                               \
    void FA_FN(name##_masked)(const void *x, void *y, const fa_mask_view *mv, size_t o0,    \
                              size_t o1, size_t n, size_t inner, size_t c0, size_t c1)      \
    {                                                                                        \
        FA_FN(masked_groups)((const T *)x, (T *)y, mv, o0, o1, n, inner, c0, c1,             \
                             FA_FN(name##_masked_row), FA_FN(name##_masked_cols));           \
    }
#endif
