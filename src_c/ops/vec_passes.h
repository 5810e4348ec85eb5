/* Part of the op templates (see ops/dtype.h): the row and column passes of the SIMD
 * levels, written once over the level's vector primitives FA_V(name) =
 * fa_<isa>_<f32|f64>_<name> (simd/<isa>.h; the list is in simd/README.md).
 * ops/passes.h calls these in place of its portable passes at the levels
 * that define FA_VEC.  Contracts as the portable passes:
 *   vrow_max:             max of the row, NaN skipped;
 *   vrow_sumexp_m1:       s - 1 with s = sum exp(x - m), the maxima exact,
 *                         optionally storing exp(x - m) to y;
 *   vrow_scale:           y *= inv (one rounding);
 *   vrow_log_softmax_out: y = (x - m) - L;
 *   vexp_row:             y = exp(d) (the tests' sweep of the exponential).
 * Every element goes through the arithmetic of a full vector: a partial last
 * vector is read with the level's load_part (lanes past the end filled, never
 * read from memory) and written with store_part; what the filled lanes
 * compute is masked out of sums and counts. */

#define FA_VL FA_V(LANES)

#if FA_DTYPE == 64
/* float64 sums, the same at every level: a Fast2Sum pair per vector, s from
 * 1.0.  Every term is <= 1 (or NaN) and s >= 1, so Fast2Sum is exact; the
 * maxima (terms exactly 1) are added like the others, exact too, and s - 1
 * is taken exactly at the end (no count needed). */
typedef struct { FA_V(t) s, c; } FA_FN(vacc);
typedef int FA_FN(vcnt); /* unused */
static inline void FA_FN(vacc_init)(FA_FN(vacc) *a)
{
    a->s = FA_V(set1)(1.0);
    a->c = FA_V(set1)(0.0);
}
static inline void FA_FN(vacc_add)(FA_FN(vacc) *a, FA_V(t) e, FA_V(t) hi, const FA_V(m) *valid,
                                   int *cnt)
{
    (void)hi;
    (void)cnt;
    FA_V(t) t = valid ? FA_V(keep)(e, *valid) : e;
    FA_V(t) u = FA_V(add)(a->s, t);
    a->c = FA_V(add)(a->c, FA_V(add)(FA_V(sub)(a->s, u), t));
    a->s = u;
}
static inline int FA_FN(vcnt_zero)(void) { return 0; }
static inline size_t FA_FN(vcnt_total)(int c) { (void)c; return 0; }
/* the 1.0 each lane started from removed (exact), the lanes added in order
 * with compensation; S >= 1 holds the maxima, so S - 1 is exact */
static inline double FA_FN(vacc_finish)(const FA_FN(vacc) *a, size_t z)
{
    (void)z;
    double sl[FA_V(U_SUM) * FA_VL], cl[FA_V(U_SUM) * FA_VL];
    for (int i = 0; i < FA_V(U_SUM); i++) {
        FA_V(storeu)(sl + i * FA_VL, FA_V(sub)(a[i].s, FA_V(set1)(1.0)));
        FA_V(storeu)(cl + i * FA_VL, a[i].c);
    }
    double S = 0.0, C = 0.0;
    for (int l = 0; l < FA_V(U_SUM) * FA_VL; l++) {
        fa_acc(&S, &C, sl[l]);
        C += cl[l];
    }
    return isfinite(S) ? (S - 1.0) + C : S;
}
/* y *= inv: one rounding */
typedef struct { FA_V(t) iv; } FA_FN(vscale_k);
static inline FA_FN(vscale_k) FA_FN(vscale_prep)(double inv)
{
    FA_FN(vscale_k) k = {FA_V(set1)(inv)};
    return k;
}
static inline FA_V(t) FA_FN(vscale)(FA_V(t) v, const FA_FN(vscale_k) *k) { return FA_V(mul)(v, k->iv); }
/* per-lane factors inv[0 .. rem) (columns) */
static inline FA_FN(vscale_k) FA_FN(vscale_kv)(const double *inv, size_t rem)
{
    FA_FN(vscale_k) k = {FA_V(load_part)(inv, rem, 0.0)};
    return k;
}
#define FA_ACC(name) FA_FN(v##name)
#else
/* float32 sums and scale: the level's own (simd/<isa>.h) */
#define FA_ACC(name) FA_V(name)
#endif

/* Max: four accumulators, the partial last vector (filled with -inf) into
 * accumulator TAIL_MAX; max is exact, so only the signs of zeros could
 * depend on the order, and the order is the level's own.  with_min (a
 * constant at each call; levels with NARROW only): *mn = the row's min, NaN
 * skipped, formed beside the max (+inf for an empty row). */
FA_ALWAYS_INLINE T FA_FN(vrow_max_min)(const T *x, size_t n, int with_min, T *mn)
{
    const FA_V(t) ninf = FA_V(set1)((T)-INFINITY);
    FA_V(t) mv[4] = {ninf, ninf, ninf, ninf};
#if FA_V(NARROW)
    const FA_V(t) pinf = FA_V(set1)((T)INFINITY);
    FA_V(t) nv[4] = {pinf, pinf, pinf, pinf};
#define FA_MIN_(i, v) if (with_min) nv[i] = FA_V(min)(v, nv[i])
#else
    (void)with_min;
    (void)mn;
#define FA_MIN_(i, v) (void)0
#endif
    size_t j = 0;
    /* x first: max(x, m) returns m when x is NaN (min likewise) */
    for (; j + 4 * FA_VL <= n; j += 4 * FA_VL)
        for (int i = 0; i < 4; i++) {
            FA_V(t) v = FA_V(loadu)(x + j + i * FA_VL);
            mv[i] = FA_V(max)(v, mv[i]);
            FA_MIN_(i, v);
        }
    for (; j + FA_VL <= n; j += FA_VL) {
        FA_V(t) v = FA_V(loadu)(x + j);
        mv[0] = FA_V(max)(v, mv[0]);
        FA_MIN_(0, v);
    }
    if (j < n) {
        mv[FA_V(TAIL_MAX)] = FA_V(max)(FA_V(load_part)(x + j, n - j, (T)-INFINITY),
                                       mv[FA_V(TAIL_MAX)]);
        FA_MIN_(FA_V(TAIL_MAX), FA_V(load_part)(x + j, n - j, (T)INFINITY));
    }
#undef FA_MIN_
#if FA_V(NARROW)
    if (with_min) *mn = FA_V(hmin)(FA_V(min)(FA_V(min)(nv[0], nv[1]), FA_V(min)(nv[2], nv[3])));
#endif
    return FA_V(hmax)(FA_V(max)(FA_V(max)(mv[0], mv[1]), FA_V(max)(mv[2], mv[3])));
}

static inline T FA_FN(vrow_max)(const T *x, size_t n) { return FA_FN(vrow_max_min)(x, n, 0, NULL); }

/* The level's expn, or with narrow (a constant at each call) its
 * expn_narrow where it has one (simd/README.md). */
FA_ALWAYS_INLINE void FA_FN(vexpn_sel)(int nv, int narrow, const FA_V(t) *hi, const FA_V(t) *lo,
                                       FA_V(t) *e)
{
#if FA_V(NARROW)
    if (narrow) {
        FA_V(expn_narrow)(nv, hi, lo, e);
        return;
    }
#endif
    (void)narrow;
    FA_V(expn)(nv, hi, lo, e);
}

/* nv vectors of the sum pass: e[i] = exp(x[i] - m) with x - m exact (TwoSum
 * carried into the exponential), added to acc[i] (valid: NULL for full
 * vectors, else the lanes loaded; the level's acc_add keeps the others and,
 * for float32, the maxima out of the sum and counts the maxima in *cnt). */
FA_ALWAYS_INLINE void FA_FN(vsumexp_steps)(int nv, int narrow, const FA_V(t) *x, FA_V(t) m,
                                           const FA_V(m) *valid, FA_ACC(acc) *acc,
                                           FA_ACC(cnt) *cnt, FA_V(t) *e)
{
    FA_V(t) hi[FA_V(U_SUM)], lo[FA_V(U_SUM)];
    for (int i = 0; i < nv; i++) hi[i] = FA_V(two_diff)(x[i], m, &lo[i]);
    FA_FN(vexpn_sel)(nv, narrow, hi, lo, e);
    for (int i = 0; i < nv; i++) FA_ACC(acc_add)(&acc[i], e[i], hi[i], valid, cnt);
}

/* s - 1.  U_SUM vectors per step, one accumulator each (several exponentials
 * in flight hide their latency); then whole vectors into accumulator 0 and the
 * partial one into TAIL_ACC.  Counters of maxima are flushed every 2^32
 * elements (lanes of 32 bits never overflow). */
FA_ALWAYS_INLINE double FA_FN(vrow_sumexp_m1_impl)(const T *x, size_t n, double m, T *y, int narrow)
{
    enum { U = FA_V(U_SUM) };
    const FA_V(t) mv = FA_V(set1)((T)m);
    FA_ACC(acc) acc[U];
    FA_V(t) xv[U], e[U];
    for (int i = 0; i < U; i++) FA_ACC(acc_init)(&acc[i]);
    size_t z = 0, j = 0;
    while (j + U * FA_VL <= n) {
        size_t stop = n - j > ((size_t)1 << 32) ? j + ((size_t)1 << 32) : n;
        FA_ACC(cnt) cnt = FA_ACC(cnt_zero)();
        for (; j + U * FA_VL <= stop; j += U * FA_VL) {
            /* The row after this one (if any) is read from memory next, by
             * its max pass: fetch it now, a 64-byte line at a time, while
             * this row is computed from cache (prefetches do not fault). */
            for (size_t b = 0; b < U * FA_VL * sizeof(T); b += 64)
                FA_V(prefetch)((const char *)(x + n + j) + b);
            for (int i = 0; i < U; i++) xv[i] = FA_V(loadu)(x + j + i * FA_VL);
            FA_FN(vsumexp_steps)(U, narrow, xv, mv, NULL, acc, &cnt, e);
            if (y)
                for (int i = 0; i < U; i++) FA_V(storeu)(y + j + i * FA_VL, e[i]);
        }
        z += FA_ACC(cnt_total)(cnt);
    }
    if (j < n) {
        FA_ACC(cnt) cnt = FA_ACC(cnt_zero)();
        for (; j + FA_VL <= n; j += FA_VL) {
            xv[0] = FA_V(loadu)(x + j);
            FA_FN(vsumexp_steps)(1, narrow, xv, mv, NULL, acc, &cnt, e);
            if (y) FA_V(storeu)(y + j, e[0]);
        }
        if (j < n) {
            const FA_V(m) valid = FA_V(first)(n - j);
            xv[0] = FA_V(load_part)(x + j, n - j, (T)0);
            FA_FN(vsumexp_steps)(1, narrow, xv, mv, &valid, acc + FA_V(TAIL_ACC), &cnt, e);
            if (y) FA_V(store_part)(y + j, n - j, e[0]);
        }
        z += FA_ACC(cnt_total)(cnt);
    }
    return FA_ACC(acc_finish)(acc, z);
}

static inline double FA_FN(vrow_sumexp_m1)(const T *x, size_t n, double m, T *y)
{
    return FA_FN(vrow_sumexp_m1_impl)(x, n, m, y, 0);
}

#if FA_V(NARROW)
/* Values from mn to mx (a row's or a chunk's min and max, NaN skipped) are
 * all in the narrow exponential's range: finite, and x - m >= NARROW_MIN for
 * every x and every max m <= mx (fl(x - m) >= fl(mn - mx), rounding being
 * monotonic). */
static inline int FA_FN(vnarrow_ok)(T mn, T mx)
{
    return isfinite(mn) && isfinite(mx) && (T)(mn - mx) >= FA_V(NARROW_MIN);
}
#endif

/* The max pass for the narrow sum pass: *narrow = 1 when the level has a
 * narrow exponential (NARROW: simd/README.md) and the row's values are
 * finite and within 86 of its max (x - m >= -86 everywhere: the common
 * case, logits within a few tens of each other); its min is formed beside
 * the max then.  vrow_sumexp_m1_nr with that flag gives vrow_sumexp_m1's
 * results with fewer operations. */
static inline T FA_FN(vrow_max_nr)(const T *x, size_t n, int *narrow)
{
#if FA_V(NARROW)
    T mn, m = FA_FN(vrow_max_min)(x, n, 1, &mn);
    *narrow = FA_FN(vnarrow_ok)(mn, m);
    return m;
#else
    *narrow = 0;
    return FA_FN(vrow_max)(x, n);
#endif
}

static inline double FA_FN(vrow_sumexp_m1_nr)(const T *x, size_t n, double m, T *y, int narrow)
{
    return narrow ? FA_FN(vrow_sumexp_m1_impl)(x, n, m, y, 1)
                  : FA_FN(vrow_sumexp_m1_impl)(x, n, m, y, 0);
}

/* exp(d): the level's expn with no low part. */
static inline FA_V(t) FA_FN(vexp1)(FA_V(t) d, const void *unused)
{
    (void)unused;
    FA_V(t) e, z = FA_V(set1)((T)0);
    FA_V(expn)(1, &d, &z, &e);
    return e;
}

/* y[j] = F(x[j], k) over n elements: U_MAP vectors per step, then single
 * vectors, then the partial one (an element-wise pass: the split changes
 * no result).  y may be x. */
#define FA_VMAP(x, y, n, F, k)                                                                \
    do {                                                                                      \
        size_t j_ = 0;                                                                        \
        for (; j_ + FA_V(U_MAP) * FA_VL <= (n); j_ += FA_V(U_MAP) * FA_VL) {                  \
            FA_V(t) v_[FA_V(U_MAP)];                                                          \
            for (int i_ = 0; i_ < FA_V(U_MAP); i_++)                                          \
                v_[i_] = F(FA_V(loadu)((x) + j_ + i_ * FA_VL), k);                            \
            for (int i_ = 0; i_ < FA_V(U_MAP); i_++) FA_V(storeu)((y) + j_ + i_ * FA_VL, v_[i_]); \
        }                                                                                     \
        for (; j_ + FA_VL <= (n); j_ += FA_VL) FA_V(storeu)((y) + j_, F(FA_V(loadu)((x) + j_), k)); \
        if (j_ < (n))                                                                         \
            FA_V(store_part)((y) + j_, (n) - j_, F(FA_V(load_part)((x) + j_, (n) - j_, (T)0), k)); \
    } while (0)

static inline void FA_FN(vrow_scale)(T *y, size_t n, double inv)
{
    const FA_ACC(scale_k) k = FA_ACC(scale_prep)(inv);
    FA_VMAP(y, y, n, FA_ACC(scale), &k);
}

static inline void FA_FN(vrow_log_softmax_out)(const T *x, T *y, size_t n, double m, double L)
{
    const FA_V(lsm_k) k = FA_V(lsm_prep)(m, L);
    FA_VMAP(x, y, n, FA_V(lsm), &k);
}

static inline void FA_FN(vexp_row)(const T *d, T *y, size_t n)
{
    FA_VMAP(d, y, n, FA_FN(vexp1), NULL);
}

/* ------------------------------------------------------------ columns
 * A chunk of w <= FA_CHUNK columns (element (i, k) at x[i * inner + k]),
 * vectors along the contiguous columns, the last one partial; each lane
 * carries its column's state, so the numerics are the row passes' lane by
 * lane (a column's sum runs over its rows in order).  Every pass goes row
 * by row over the whole chunk; the per-column state lives in FA_CHUNK-long
 * arrays (in L1), used in whole vectors (lanes past w hold values nobody
 * reads); the caller's arrays (x, y, buf, m, inv, L) are never touched past
 * w. */

/* m[k] = column max (NaN skipped); buf (optional) receives the chunk packed
 * (buf[i * w + k]).  This pass reads the chunk from memory, so it also
 * prefetches the next chunk's segment of each row.  with_min (a constant at
 * each call; levels with NARROW only): *mn = the chunk's min, NaN skipped. */
FA_ALWAYS_INLINE void FA_FN(vcols_max_pack_min)(const T *x, size_t n, size_t inner, size_t w,
                                                T *m, T *buf, int with_min, T *mn)
{
    const FA_V(t) ninf = FA_V(set1)((T)-INFINITY);
#if FA_V(NARROW)
    FA_V(t) nv = FA_V(set1)((T)INFINITY);
#else
    (void)with_min;
    (void)mn;
#endif
    size_t wf = w / FA_VL * FA_VL, rem = w - wf;
    for (size_t c = 0; c < wf; c += FA_VL) FA_V(storeu)(m + c, ninf);
    if (rem) FA_V(store_part)(m + wf, rem, ninf);
    for (size_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        for (size_t c = 0; c < wf; c += FA_VL) {
            FA_V(prefetch)((const char *)(xr + c + FA_CHUNK));
            FA_V(t) xv = FA_V(loadu)(xr + c);
            if (buf) FA_V(storeu)(buf + i * w + c, xv);
            FA_V(storeu)(m + c, FA_V(max)(xv, FA_V(loadu)(m + c))); /* x first: NaN skipped */
#if FA_V(NARROW)
            if (with_min) nv = FA_V(min)(xv, nv);
#endif
        }
        if (rem) {
            FA_V(t) xv = FA_V(load_part)(xr + wf, rem, (T)-INFINITY);
            if (buf) FA_V(store_part)(buf + i * w + wf, rem, xv);
            FA_V(store_part)(m + wf, rem,
                             FA_V(max)(xv, FA_V(load_part)(m + wf, rem, (T)-INFINITY)));
#if FA_V(NARROW)
            if (with_min) nv = FA_V(min)(FA_V(load_part)(xr + wf, rem, (T)INFINITY), nv);
#endif
        }
    }
#if FA_V(NARROW)
    if (with_min) *mn = FA_V(hmin)(nv);
#endif
}

static inline void FA_FN(vcols_max_pack)(const T *x, size_t n, size_t inner, size_t w, T *m,
                                         T *buf)
{
    FA_FN(vcols_max_pack_min)(x, n, inner, w, m, buf, 0, NULL);
}

/* GCC (12) warns that the column state may be read uninitialised: it
 * cannot see that vcol_init fills every lane vcols_step and vcol_sm1 touch
 * (w rounded up to whole vectors). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#if FA_DTYPE == 64
/* float64 column state: Fast2Sum per column, s from 1.0 (the maxima in s,
 * as the row pass) */
typedef struct { double s[FA_CHUNK], c[FA_CHUNK]; } FA_FN(vcol_state);
static inline void FA_FN(vcol_init)(FA_FN(vcol_state) *st, size_t w)
{
    for (size_t k = 0; k < w; k++) {
        st->s[k] = 1.0;
        st->c[k] = 0.0;
    }
}
/* the row pass's Fast2Sum step on the columns' pairs */
static inline void FA_FN(vcol_add)(FA_FN(vcol_state) *st, size_t c, FA_V(t) e, FA_V(t) hi,
                                   const FA_V(m) *valid)
{
    FA_FN(vacc) a = {FA_V(loadu)(st->s + c), FA_V(loadu)(st->c + c)};
    FA_FN(vacc_add)(&a, e, hi, valid, NULL);
    FA_V(storeu)(st->s + c, a.s);
    FA_V(storeu)(st->c + c, a.c);
}
/* s - 1 - 1 exact (s >= 2 holds the start and the maxima), then + c */
static inline double FA_FN(vcol_sm1)(const FA_FN(vcol_state) *st, size_t k)
{
    return isfinite(st->s[k]) ? ((st->s[k] - 1.0) - 1.0) + st->c[k] : st->s[k];
}
#else
/* float32 column state: double sums and exact counts of the maxima per
 * column (below 2^31: n < 2^31 rows per chunk here) */
typedef struct { double acc[FA_CHUNK]; int32_t cnt[FA_CHUNK]; } FA_FN(vcol_state);
static inline void FA_FN(vcol_init)(FA_FN(vcol_state) *st, size_t w)
{
    for (size_t k = 0; k < w; k++) {
        st->acc[k] = 0.0;
        st->cnt[k] = 0;
    }
}
static inline void FA_FN(vcol_add)(FA_FN(vcol_state) *st, size_t c, FA_V(t) e, FA_V(t) hi,
                                   const FA_V(m) *valid)
{
    FA_V(col_add)(st->acc + c, st->cnt + c, e, hi, valid);
}
/* (count - 1) + sum, as the row version: the count is exact */
static inline double FA_FN(vcol_sm1)(const FA_FN(vcol_state) *st, size_t k)
{
    return ((double)st->cnt[k] - 1.0) + st->acc[k];
}
#endif

/* nv vectors of the column sum pass, from column c of row xr (m, yr at the
 * same columns); valid: NULL, or (nv == 1) the lanes of the partial vector. */
FA_ALWAYS_INLINE void FA_FN(vcols_step)(int nv, int narrow, const T *xr, const T *m, T *yr,
                                        size_t c, size_t rem, FA_FN(vcol_state) *st,
                                        const FA_V(m) *valid)
{
    FA_V(t) hi[FA_V(U_COL)], lo[FA_V(U_COL)], e[FA_V(U_COL)];
    for (int v = 0; v < nv; v++) {
        size_t cv = c + (size_t)v * FA_VL;
        FA_V(t) xv = valid ? FA_V(load_part)(xr + cv, rem, (T)0) : FA_V(loadu)(xr + cv);
        FA_V(t) mv = valid ? FA_V(load_part)(m + cv, rem, (T)0) : FA_V(loadu)(m + cv);
        hi[v] = FA_V(two_diff)(xv, mv, &lo[v]);
    }
    FA_FN(vexpn_sel)(nv, narrow, hi, lo, e);
    for (int v = 0; v < nv; v++) FA_FN(vcol_add)(st, c + (size_t)v * FA_VL, e[v], hi[v], valid);
    if (yr) {
        if (valid) FA_V(store_part)(yr + c, rem, e[0]);
        else
            for (int v = 0; v < nv; v++) FA_V(storeu)(yr + c + (size_t)v * FA_VL, e[v]);
    }
}

/* sm1[k] = s - 1 per column; y (optional, x's layout) receives exp(x - m).
 * U_COL vectors of columns together (their exponentials in flight), then
 * single vectors, then the partial one. */
FA_ALWAYS_INLINE void FA_FN(vcols_sumexp_m1_impl)(const T *x, size_t n, size_t inner, size_t w,
                                                  const T *m, T *y, double *sm1, int narrow)
{
    FA_FN(vcol_state) st;
    size_t wf = w / FA_VL * FA_VL, rem = w - wf;
    const FA_V(m) valid = FA_V(first)(rem ? rem : 1);
    FA_FN(vcol_init)(&st, (w + FA_VL - 1) / FA_VL * FA_VL);
    for (size_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        T *yr = y ? y + i * inner : NULL;
        size_t c = 0;
        for (; c + FA_V(U_COL) * FA_VL <= wf; c += FA_V(U_COL) * FA_VL)
            FA_FN(vcols_step)(FA_V(U_COL), narrow, xr, m, yr, c, 0, &st, NULL);
        for (; c < wf; c += FA_VL) FA_FN(vcols_step)(1, narrow, xr, m, yr, c, 0, &st, NULL);
        if (rem) FA_FN(vcols_step)(1, narrow, xr, m, yr, wf, rem, &st, &valid);
    }
    for (size_t k = 0; k < w; k++) sm1[k] = FA_FN(vcol_sm1)(&st, k);
}

static inline void FA_FN(vcols_sumexp_m1)(const T *x, size_t n, size_t inner, size_t w,
                                          const T *m, T *y, double *sm1)
{
    FA_FN(vcols_sumexp_m1_impl)(x, n, inner, w, m, y, sm1, 0);
}

/* vcols_max_pack with the flag of vrow_max_nr for the chunk: its values
 * finite and within 86 of the largest column max (so of every column's). */
static inline void FA_FN(vcols_max_pack_nr)(const T *x, size_t n, size_t inner, size_t w, T *m,
                                            T *buf, int *narrow)
{
#if FA_V(NARROW)
    T mn, mx = (T)-INFINITY;
    FA_FN(vcols_max_pack_min)(x, n, inner, w, m, buf, 1, &mn);
    for (size_t k = 0; k < w; k++) mx = m[k] > mx ? m[k] : mx;
    *narrow = FA_FN(vnarrow_ok)(mn, mx);
#else
    FA_FN(vcols_max_pack)(x, n, inner, w, m, buf);
    *narrow = 0;
#endif
}

static inline void FA_FN(vcols_sumexp_m1_nr)(const T *x, size_t n, size_t inner, size_t w,
                                             const T *m, T *y, double *sm1, int narrow)
{
    if (narrow) FA_FN(vcols_sumexp_m1_impl)(x, n, inner, w, m, y, sm1, 1);
    else FA_FN(vcols_sumexp_m1_impl)(x, n, inner, w, m, y, sm1, 0);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* dst[i, k] = src[i, k] * inv[k], one rounding (the row pass's arithmetic
 * with per-column factors, prepared once per chunk); src may be dst. */
static inline void FA_FN(vcols_scale_to)(const T *src, size_t ss, T *dst, size_t ds, size_t n,
                                         size_t w, const double *inv)
{
    FA_ACC(scale_k) k[FA_CHUNK / FA_VL];
    size_t wf = w / FA_VL * FA_VL, rem = w - wf;
    for (size_t c = 0; c < w; c += FA_VL) k[c / FA_VL] = FA_ACC(scale_kv)(inv + c, c < wf ? FA_VL : rem);
    for (size_t i = 0; i < n; i++) {
        const FA_ACC(scale_k) *kc = k;
        for (size_t c = 0; c < wf; c += FA_VL, kc++)
            FA_V(storeu)(dst + i * ds + c, FA_ACC(scale)(FA_V(loadu)(src + i * ss + c), kc));
        if (rem)
            FA_V(store_part)(dst + i * ds + wf, rem,
                             FA_ACC(scale)(FA_V(load_part)(src + i * ss + wf, rem, (T)0), &k[wf / FA_VL]));
    }
}

/* dst[i, k] = (src[i, k] - m[k]) - L[k] (the row pass's arithmetic with
 * per-column m and L). */
static inline void FA_FN(vcols_log_softmax_out)(const T *src, size_t ss, T *dst, size_t ds,
                                                size_t n, size_t w, const T *m, const double *L)
{
    FA_V(lsm_k) k[FA_CHUNK / FA_VL];
    size_t wf = w / FA_VL * FA_VL, rem = w - wf;
    for (size_t c = 0; c < w; c += FA_VL) k[c / FA_VL] = FA_V(lsm_kv)(m + c, L + c, c < wf ? FA_VL : rem);
    for (size_t i = 0; i < n; i++) {
        const FA_V(lsm_k) *kc = k;
        for (size_t c = 0; c < wf; c += FA_VL, kc++)
            FA_V(storeu)(dst + i * ds + c, FA_V(lsm)(FA_V(loadu)(src + i * ss + c), kc));
        if (rem)
            FA_V(store_part)(dst + i * ds + wf, rem,
                             FA_V(lsm)(FA_V(load_part)(src + i * ss + wf, rem, (T)0), &k[wf / FA_VL]));
    }
}

#undef FA_VMAP
#undef FA_VL
#undef FA_ACC
