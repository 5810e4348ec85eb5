/* Part of the op templates (see ops/dtype.h): the row passes of the SIMD
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
#define FA_ACC(name) FA_FN(v##name)
#else
/* float32 sums and scale: the level's own (simd/<isa>.h) */
#define FA_ACC(name) FA_V(name)
#endif

/* Max: four accumulators, the partial last vector (filled with -inf) into
 * accumulator TAIL_MAX; max is exact, so only the signs of zeros could
 * depend on the order, and the order is the level's own. */
static inline T FA_FN(vrow_max)(const T *x, size_t n)
{
    const FA_V(t) ninf = FA_V(set1)((T)-INFINITY);
    FA_V(t) mv[4] = {ninf, ninf, ninf, ninf};
    size_t j = 0;
    /* x first: max(x, m) returns m when x is NaN */
    for (; j + 4 * FA_VL <= n; j += 4 * FA_VL)
        for (int i = 0; i < 4; i++) mv[i] = FA_V(max)(FA_V(loadu)(x + j + i * FA_VL), mv[i]);
    for (; j + FA_VL <= n; j += FA_VL) mv[0] = FA_V(max)(FA_V(loadu)(x + j), mv[0]);
    if (j < n)
        mv[FA_V(TAIL_MAX)] = FA_V(max)(FA_V(load_part)(x + j, n - j, (T)-INFINITY),
                                       mv[FA_V(TAIL_MAX)]);
    return FA_V(hmax)(FA_V(max)(FA_V(max)(mv[0], mv[1]), FA_V(max)(mv[2], mv[3])));
}

/* nv vectors of the sum pass: e[i] = exp(x[i] - m) with x - m exact (TwoSum
 * carried into the exponential), added to acc[i] (valid: NULL for full
 * vectors, else the lanes loaded; the level's acc_add keeps the others and,
 * for float32, the maxima out of the sum and counts the maxima in *cnt). */
static inline void FA_FN(vsumexp_steps)(int nv, const FA_V(t) *x, FA_V(t) m, const FA_V(m) *valid,
                                        FA_ACC(acc) *acc, FA_ACC(cnt) *cnt, FA_V(t) *e)
{
    FA_V(t) hi[FA_V(U_SUM)], lo[FA_V(U_SUM)];
    for (int i = 0; i < nv; i++) hi[i] = FA_V(two_diff)(x[i], m, &lo[i]);
    FA_V(expn)(nv, hi, lo, e);
    for (int i = 0; i < nv; i++) FA_ACC(acc_add)(&acc[i], e[i], hi[i], valid, cnt);
}

/* s - 1.  U_SUM vectors per step, one accumulator each (several exponentials
 * in flight hide their latency); then whole vectors into accumulator 0 and the
 * partial one into TAIL_ACC.  Counters of maxima are flushed every 2^32
 * elements (lanes of 32 bits never overflow). */
static inline double FA_FN(vrow_sumexp_m1)(const T *x, size_t n, double m, T *y)
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
            FA_FN(vsumexp_steps)(U, xv, mv, NULL, acc, &cnt, e);
            if (y)
                for (int i = 0; i < U; i++) FA_V(storeu)(y + j + i * FA_VL, e[i]);
        }
        z += FA_ACC(cnt_total)(cnt);
    }
    if (j < n) {
        FA_ACC(cnt) cnt = FA_ACC(cnt_zero)();
        for (; j + FA_VL <= n; j += FA_VL) {
            xv[0] = FA_V(loadu)(x + j);
            FA_FN(vsumexp_steps)(1, xv, mv, NULL, acc, &cnt, e);
            if (y) FA_V(storeu)(y + j, e[0]);
        }
        if (j < n) {
            const FA_V(m) valid = FA_V(first)(n - j);
            xv[0] = FA_V(load_part)(x + j, n - j, (T)0);
            FA_FN(vsumexp_steps)(1, xv, mv, &valid, acc + FA_V(TAIL_ACC), &cnt, e);
            if (y) FA_V(store_part)(y + j, n - j, e[0]);
        }
        z += FA_ACC(cnt_total)(cnt);
    }
    return FA_ACC(acc_finish)(acc, z);
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

#undef FA_VMAP
#undef FA_VL
#undef FA_ACC
