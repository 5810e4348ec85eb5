/* Op template (instantiated per dtype and level, ops/instantiate.h): log_softmax over the middle axis of (outer, n, inner).
 * y = (x - m) - log1p(s - 1), with x - m exact (TwoSum, its low part added
 * last).  Both terms are <= 0, so no cancellation: <= 2 roundings of y plus
 * the error of log1p (< 1 ULP of a term no larger than |y|). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/log_softmax.c"
#include "ops/instantiate.h"
#else
#include "ops/passes.h"

static void FA_FN(log_softmax_row)(const T *x, T *y, size_t n)
{
    T m;
    double L = log1p(FA_FN(row_stats)(x, n, NULL, &m));
    FA_FN(row_log_softmax_out)(x, y, n, m, L);
}

static void FA_FN(log_softmax_cols)(const T *x, T *y, size_t n, size_t inner, size_t w)
{
    /* (initialised only because GCC cannot see the masked stores of the
     * avx512 max pass fill it) */
    T m[FA_CHUNK] = {0};
    double L[FA_CHUNK];
    size_t wp = FA_FN(pack_cols)(n);
    if (wp == 0) { /* long columns: read x twice */
        FA_FN(group_stats)(x, n, inner, w, m, NULL, L);
        FA_FN(cols_log1p)(L, w);
        FA_FN(cols_log_softmax_out)(x, inner, y, inner, n, w, m, L);
        return;
    }
    T buf[FA_PACK_BYTES / sizeof(T)];
    for (size_t c0 = 0; c0 < w; c0 += wp) {
        size_t wc = w - c0 < wp ? w - c0 : wp;
        FA_FN(cols_stats)(x + c0, n, inner, wc, m, buf, NULL, L);
        FA_FN(cols_log1p)(L, wc);
        FA_FN(cols_log_softmax_out)(buf, wc, y + c0, inner, n, wc, m, L);
    }
}

static void FA_FN(log_softmax_rows)(const T *x, T *y, size_t outer, size_t n, size_t inner)
{
    FA_FN(map_groups)(x, y, outer, n, inner, FA_FN(log_softmax_row), FA_FN(log_softmax_cols));
}

/* As softmax_cols_range. */
static void FA_FN(log_softmax_cols_range)(const T *x, T *y, size_t n, size_t inner, size_t c0, size_t c1)
{
    if (n) FA_FN(cols_range)(x, y, n, inner, c0, c1, FA_FN(log_softmax_cols));
}

FA_EXPORT_REDUCE(log_softmax)

/* where= (ops/masked_passes.h), as softmax's: masked-out entries are
 * (-inf - m) - L = -inf exactly when m and L are finite; else the fix-up. */
#include "ops/masked_passes.h"

static void FA_FN(log_softmax_masked_row)(const T *x, const uint8_t *mk, T *y, size_t n)
{
    double m = FA_FN(mrow_max)(x, mk, y, n);
    double L = log1p(FA_FN(mrow_sumexp_m1)(x, mk, n, m, y, 0));
    FA_FN(mrow_log_softmax_out)(x, mk, y, n, m, L);
    if (!isfinite(m) || !isfinite(L)) FA_FN(mrow_fixup)(mk, y, n, (T)-INFINITY);
}

/* columns: as softmax_masked_cols */
static void FA_FN(log_softmax_masked_cols)(const T *x, const uint8_t *mk, ptrdiff_t sn, T *y,
                                           size_t n, size_t inner, size_t w)
{
    for (size_t i = 0; i < n; i++) FA_FN(mrow_fill)(x + i * inner, mk + (ptrdiff_t)i * sn, y + i * inner, w);
#if FA_VEC
    T m[FA_CHUNK] = {0};
    double L[FA_CHUNK];
    int fix = 0;
    size_t wp = FA_FN(pack_cols)(n);
    if (wp == 0) { /* long columns: y read twice */
        FA_FN(cols_max)(y, n, inner, w, m);
        FA_FN(mvcols_sumexp_m1)(y, mk, sn, n, inner, w, m, NULL, L);
        for (size_t k = 0; k < w; k++) {
            L[k] = log1p(L[k]);
            fix |= !isfinite(m[k]) || !isfinite(L[k]);
        }
        FA_FN(cols_log_softmax_out)(y, inner, y, inner, n, w, m, L);
    } else {
        T buf[FA_PACK_BYTES / sizeof(T)];
        for (size_t c0 = 0; c0 < w; c0 += wp) {
            size_t wc = w - c0 < wp ? w - c0 : wp;
            FA_FN(cols_max_pack)(y + c0, n, inner, wc, m, buf);
            FA_FN(mvcols_sumexp_m1)(buf, mk + c0, sn, n, wc, wc, m, NULL, L);
            for (size_t k = 0; k < wc; k++) {
                L[k] = log1p(L[k]);
                fix |= !isfinite(m[k]) || !isfinite(L[k]);
            }
            FA_FN(cols_log_softmax_out)(buf, wc, y + c0, inner, n, wc, m, L);
        }
    }
    if (!fix) return;
#else
    FA_FN(log_softmax_cols)(y, y, n, inner, w);
#endif
    for (size_t i = 0; i < n; i++)
        FA_FN(mrow_fixup)(mk + (ptrdiff_t)i * sn, y + i * inner, w, (T)-INFINITY);
}

FA_EXPORT_MASKED(log_softmax)
#endif /* FA_TEMPLATE */
