/* Part of the op templates (see ops/dtype.h): the passes of where= (masked
 * softmax / log_softmax, FA_MASKED_OPS).  A mask byte per element, nonzero
 * = kept; the mask is a broadcast view (fa_mask_view, include/fastact.h),
 * never expanded to x's size: per outer index its row pointer comes from an
 * odometer over the outer dims (strides 0 along broadcast dims).
 *
 * A group's kept entries get the unmasked op's arithmetic over the kept
 * entries only (same error bounds; only the lanes the kept entries sit in
 * differ from a compacted row, i.e. the order of the sum):
 *   vector levels: max over the kept lanes (-inf elsewhere); the sum pass
 *     with the masked-out lanes at x = m, kept out of the sum and of the
 *     count of the maxima by the accumulators' lane mask (never exp(-inf),
 *     which is slow: see below), 0 stored there; softmax's scale pass
 *     unchanged (0 * inv = 0); log_softmax's output blended to -inf;
 *   portable (scalar level) and the max pass of the columns: x with -inf
 *     at the masked-out entries written to y (the fill), then the unmasked
 *     passes on y (exp(-inf - m) = 0 exactly).
 * The masked-out entries are then 0 (log_softmax: -inf) exactly whenever
 * the group's max and scale are finite; otherwise (a kept NaN or +inf,
 * kept entries all -inf, nothing kept) a fix-up pass writes them. */
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

/* 1 when the len mask bytes at p are all zero (8 at a time). */
static inline int fa_mask_none(const uint8_t *p, size_t len)
{
    uint64_t acc = 0, w;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < len; i++) acc |= p[i];
    return acc == 0;
}
#endif

/* y[j] = mk[j] ? x[j] : -inf (y may be x). */
static inline void FA_FN(mrow_fill)(const T *x, const uint8_t *mk, T *y, size_t n)
{
    size_t j = 0;
#if FA_VEC
    const FA_V(t) ninf = FA_V(set1)((T)-INFINITY);
    for (; j + FA_V(LANES) <= n; j += FA_V(LANES))
        FA_V(storeu)(y + j, FA_V(blend)(ninf, FA_V(loadu)(x + j), FA_V(mask_lanes)(mk + j)));
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
            FA_V(t) v = FA_V(blend)(ninf, FA_V(loadu)(x + j + i * VL), FA_V(mask_lanes)(mk + j + i * VL));
            FA_V(storeu)(y + j + i * VL, v);
            mv[i] = FA_V(max)(v, mv[i]); /* v first: NaN skipped */
        }
    for (; j + VL <= n; j += VL) {
        FA_V(t) v = FA_V(blend)(ninf, FA_V(loadu)(x + j), FA_V(mask_lanes)(mk + j));
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

#if FA_VEC
/* ------------------------------------------- vector passes of the rows
 * Masked-out lanes never reach the exponential with -inf (an underflowing
 * exponential runs into the CPU's slow subnormal/underflow path: softmax of
 * a row half -inf measured 4x slower on Zen 4): the sum pass gives them x =
 * m (exp(0) = 1, cheap) and keeps them out of the sum and the count of the
 * maxima through the accumulators' lane mask (acc_add's `valid`, the tail's
 * mechanism), then stores 0 there.  The partial last vector goes through
 * a stack copy (its mask bytes zero-padded), as a full vector. */
#if FA_DTYPE == 64
#define FA_MACC(name) FA_FN(v##name)
#else
#define FA_MACC(name) FA_V(name)
#endif

/* max over the kept entries (NaN skipped), -inf when none */
static inline T FA_FN(mvrow_max)(const T *x, const uint8_t *mk, size_t n)
{
    enum { VL = FA_V(LANES) };
    const FA_V(t) ninf = FA_V(set1)((T)-INFINITY);
    FA_V(t) mv[4] = {ninf, ninf, ninf, ninf};
    size_t j = 0;
    for (; j + 4 * VL <= n; j += 4 * VL)
        for (int i = 0; i < 4; i++)
            mv[i] = FA_V(max)(FA_V(blend)(ninf, FA_V(loadu)(x + j + i * VL), FA_V(mask_lanes)(mk + j + i * VL)), mv[i]);
    for (; j + VL <= n; j += VL)
        mv[0] = FA_V(max)(FA_V(blend)(ninf, FA_V(loadu)(x + j), FA_V(mask_lanes)(mk + j)), mv[0]);
    T m = FA_V(hmax)(FA_V(max)(FA_V(max)(mv[0], mv[1]), FA_V(max)(mv[2], mv[3])));
    for (; j < n; j++) m = mk[j] ? FA_MAX(m, x[j]) : m;
    return m;
}

/* nv vectors of the masked sum pass (valid[i]: the kept lanes of vector i) */
FA_ALWAYS_INLINE void FA_FN(msumexp_steps)(int nv, const FA_V(t) *x, FA_V(t) m, const FA_V(m) *valid,
                                           FA_MACC(acc) *acc, FA_MACC(cnt) *cnt, FA_V(t) *e)
{
    FA_V(t) hi[FA_V(U_SUM)], lo[FA_V(U_SUM)];
    for (int i = 0; i < nv; i++) hi[i] = FA_V(two_diff)(FA_V(blend)(m, x[i], valid[i]), m, &lo[i]);
    FA_V(expn)(nv, hi, lo, e);
    const FA_V(t) zero = FA_V(set1)((T)0);
    for (int i = 0; i < nv; i++) {
        FA_MACC(acc_add)(&acc[i], e[i], hi[i], &valid[i], cnt);
        e[i] = FA_V(blend)(zero, e[i], valid[i]);
    }
}

/* s - 1 over the kept entries (vrow_sumexp_m1's order of accumulators);
 * y (optional) = exp(x - m) at the kept entries, 0 at the others */
static inline double FA_FN(mvrow_sumexp_m1)(const T *x, const uint8_t *mk, size_t n, double m, T *y)
{
    enum { U = FA_V(U_SUM), VL = FA_V(LANES) };
    const FA_V(t) mv = FA_V(set1)((T)m);
    FA_MACC(acc) acc[U];
    FA_V(t) xv[U], e[U];
    FA_V(m) valid[U];
    for (int i = 0; i < U; i++) FA_MACC(acc_init)(&acc[i]);
    size_t z = 0, j = 0;
    while (j + U * VL <= n) {
        size_t stop = n - j > ((size_t)1 << 32) ? j + ((size_t)1 << 32) : n;
        FA_MACC(cnt) cnt = FA_MACC(cnt_zero)();
        for (; j + U * VL <= stop; j += U * VL) {
            /* the next row's x, read next by its max pass (as vrow_sumexp_m1) */
            for (size_t b = 0; b < U * VL * sizeof(T); b += 64)
                FA_V(prefetch)((const char *)(x + n + j) + b);
            /* nothing kept in this step (e.g. past a causal mask's
             * diagonal): it would add nothing, so no exponentials */
            if (fa_mask_none(mk + j, U * VL)) {
                if (y)
                    for (int i = 0; i < U; i++) FA_V(storeu)(y + j + i * VL, FA_V(set1)((T)0));
                continue;
            }
            for (int i = 0; i < U; i++) {
                xv[i] = FA_V(loadu)(x + j + i * VL);
                valid[i] = FA_V(mask_lanes)(mk + j + i * VL);
            }
            FA_FN(msumexp_steps)(U, xv, mv, valid, acc, &cnt, e);
            if (y)
                for (int i = 0; i < U; i++) FA_V(storeu)(y + j + i * VL, e[i]);
        }
        z += FA_MACC(cnt_total)(cnt);
    }
    if (j < n) {
        FA_MACC(cnt) cnt = FA_MACC(cnt_zero)();
        for (; j + VL <= n; j += VL) {
            xv[0] = FA_V(loadu)(x + j);
            valid[0] = FA_V(mask_lanes)(mk + j);
            FA_FN(msumexp_steps)(1, xv, mv, valid, acc, &cnt, e);
            if (y) FA_V(storeu)(y + j, e[0]);
        }
        if (j < n) {
            uint8_t mb[VL] = {0};
            memcpy(mb, mk + j, n - j);
            xv[0] = FA_V(load_part)(x + j, n - j, (T)0);
            valid[0] = FA_V(mask_lanes)(mb);
            FA_FN(msumexp_steps)(1, xv, mv, valid, acc + FA_V(TAIL_ACC), &cnt, e);
            if (y) FA_V(store_part)(y + j, n - j, e[0]);
        }
        z += FA_MACC(cnt_total)(cnt);
    }
    return FA_MACC(acc_finish)(acc, z);
}

/* y = (x - m) - L at the kept entries, -inf at the others */
static inline void FA_FN(mvrow_log_softmax_out)(const T *x, const uint8_t *mk, T *y, size_t n,
                                                double m, double L)
{
    enum { VL = FA_V(LANES) };
    const FA_V(lsm_k) k = FA_V(lsm_prep)(m, L);
    const FA_V(t) ninf = FA_V(set1)((T)-INFINITY);
    size_t j = 0;
    for (; j + VL <= n; j += VL)
        FA_V(storeu)(y + j, FA_V(blend)(ninf, FA_V(lsm)(FA_V(loadu)(x + j), &k), FA_V(mask_lanes)(mk + j)));
    if (j < n) {
        uint8_t mb[VL] = {0};
        memcpy(mb, mk + j, n - j);
        FA_V(store_part)(y + j, n - j,
                         FA_V(blend)(ninf, FA_V(lsm)(FA_V(load_part)(x + j, n - j, (T)0), &k), FA_V(mask_lanes)(mb)));
    }
}
/* ------------------------------------------ vector pass of the columns
 * vcols_sumexp_m1 with the mask (row i's bytes at mk + i * sn, contiguous
 * over the columns): the masked-out lanes at x = m, out of the column sums
 * and counts (the column state's lane mask), 0 stored there.  Single
 * vectors of columns (a column's sum runs over its rows in order whatever
 * the grouping). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
static inline void FA_FN(mvcols_sumexp_m1)(const T *x, const uint8_t *mk, ptrdiff_t sn, size_t n,
                                           size_t inner, size_t w, const T *m, T *y, double *sm1)
{
    enum { VL = FA_V(LANES) };
    FA_FN(vcol_state) st;
    size_t wf = w / VL * VL, rem = w - wf;
    FA_FN(vcol_init)(&st, (w + VL - 1) / VL * VL);
    const FA_V(t) zero = FA_V(set1)((T)0);
    for (size_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        const uint8_t *mr = mk + (ptrdiff_t)i * sn;
        T *yr = y ? y + i * inner : NULL;
        for (size_t c = 0; c < wf + (rem ? VL : 0); c += VL) {
            FA_V(t) xv, mv, hi, lo, e;
            FA_V(m) valid;
            if (c < wf && fa_mask_none(mr + c, VL)) { /* nothing kept: adds nothing */
                if (yr) FA_V(storeu)(yr + c, zero);
                continue;
            }
            if (c < wf) {
                valid = FA_V(mask_lanes)(mr + c);
                xv = FA_V(loadu)(xr + c);
                mv = FA_V(loadu)(m + c);
            } else {
                uint8_t mb[VL] = {0};
                memcpy(mb, mr + c, rem);
                valid = FA_V(mask_lanes)(mb);
                xv = FA_V(load_part)(xr + c, rem, (T)0);
                mv = FA_V(load_part)(m + c, rem, (T)0);
            }
            hi = FA_V(two_diff)(FA_V(blend)(mv, xv, valid), mv, &lo);
            FA_V(expn)(1, &hi, &lo, &e);
            FA_FN(vcol_add)(&st, c, e, hi, &valid);
            if (yr) {
                e = FA_V(blend)(zero, e, valid);
                if (c < wf) FA_V(storeu)(yr + c, e);
                else FA_V(store_part)(yr + c, rem, e);
            }
        }
    }
    for (size_t k = 0; k < w; k++) sm1[k] = FA_FN(vcol_sm1)(&st, k);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#undef FA_MACC
#endif /* FA_VEC */

/* The level's masked row passes: the vector ones above, or (portable) the
 * fill to -inf into y and the unmasked passes on y. */
static inline double FA_FN(mrow_max)(const T *x, const uint8_t *mk, T *y, size_t n)
{
#if FA_VEC
    (void)y;
    return FA_FN(mvrow_max)(x, mk, n);
#else
    return FA_FN(mrow_fill_max)(x, mk, y, n);
#endif
}

/* after mrow_max(x, mk, y, n): s - 1, and y = exp(x - m) (0 at the
 * masked-out entries) when store */
static inline double FA_FN(mrow_sumexp_m1)(const T *x, const uint8_t *mk, size_t n, double m, T *y,
                                           int store)
{
#if FA_VEC
    return FA_FN(mvrow_sumexp_m1)(x, mk, n, m, store ? y : NULL);
#else
    (void)x;
    (void)mk;
    return FA_FN(row_sumexp_m1)(y, n, m, store ? y : NULL);
#endif
}

/* after mrow_sumexp_m1: y = (x - m) - L, -inf at the masked-out entries
 * (when m and L are finite) */
static inline void FA_FN(mrow_log_softmax_out)(const T *x, const uint8_t *mk, T *y, size_t n,
                                               double m, double L)
{
#if FA_VEC
    FA_FN(mvrow_log_softmax_out)(x, mk, y, n, m, L);
#else
    (void)x;
    (void)mk;
    FA_FN(row_log_softmax_out)(y, y, n, m, L);
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
