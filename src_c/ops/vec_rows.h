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
                                        FA_V(acc) *acc, FA_V(cnt) *cnt, FA_V(t) *e)
{
    FA_V(t) hi[FA_V(U_SUM)], lo[FA_V(U_SUM)];
    for (int i = 0; i < nv; i++) hi[i] = FA_V(two_diff)(x[i], m, &lo[i]);
    FA_V(expn)(nv, hi, lo, e);
    for (int i = 0; i < nv; i++) FA_V(acc_add)(&acc[i], e[i], hi[i], valid, cnt);
}

/* s - 1.  U_SUM vectors per step, one accumulator each (several exponentials
 * in flight hide their latency); then whole vectors into accumulator 0 and the
 * partial one into TAIL_ACC.  Counters of maxima are flushed every 2^32
 * elements (lanes of 32 bits never overflow). */
static inline double FA_FN(vrow_sumexp_m1)(const T *x, size_t n, double m, T *y)
{
    enum { U = FA_V(U_SUM) };
    const FA_V(t) mv = FA_V(set1)((T)m);
    FA_V(acc) acc[U];
    FA_V(t) xv[U], e[U];
    for (int i = 0; i < U; i++) FA_V(acc_init)(&acc[i]);
    size_t z = 0, j = 0;
    while (j + U * FA_VL <= n) {
        size_t stop = n - j > ((size_t)1 << 32) ? j + ((size_t)1 << 32) : n;
        FA_V(cnt) cnt = FA_V(cnt_zero)();
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
        z += FA_V(cnt_total)(cnt);
    }
    if (j < n) {
        FA_V(cnt) cnt = FA_V(cnt_zero)();
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
        z += FA_V(cnt_total)(cnt);
    }
    return FA_V(acc_finish)(acc, z);
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
    const FA_V(scale_k) k = FA_V(scale_prep)(inv);
    FA_VMAP(y, y, n, FA_V(scale), &k);
}

static inline void FA_FN(vrow_log_softmax_out)(const T *x, T *y, size_t n, double m, double L)
{
    const FA_V(lsm_k) k = FA_V(lsm_prep)(m, L);
    FA_VMAP(x, y, n, FA_V(lsm), &k);
}

static inline void FA_FN(vexp_row)(const T *d, T *y, size_t n)
{
    FA_VMAP(d, y, n, FA_V(exp1), NULL);
}

#undef FA_VMAP
#undef FA_VL
