/* Op template (instantiated per dtype and level, ops/instantiate.h): softmax over the middle axis of (outer, n, inner).
 * Passes per row: max (reads x), exp (reads x, writes y = exp(x - m) and sums
 * it), scale (reads and writes y, still in cache for rows up to L2 size).
 * Error: exp < 1 ULP, s to ~1 ULP, the product e * (1/s) two more roundings;
 * float32 is computed in double and rounded twice (e, then e/s): <= 1 ULP. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/softmax.c"
#include "ops/instantiate.h"
#else
#include "ops/passes.h"

static void FA_FN(softmax_row)(const T *x, T *y, size_t n)
{
    T m;
    FA_FN(row_scale)(y, n, 1.0 / (1.0 + FA_FN(row_stats)(x, n, y, &m)));
}

static void FA_FN(softmax_cols)(const T *x, T *y, size_t n, size_t inner, size_t w)
{
    T m[FA_CHUNK];
    double inv[FA_CHUNK];
    size_t wp = FA_FN(pack_cols)(n);
    if (wp == 0) { /* long columns: in place in y */
        FA_FN(group_stats)(x, n, inner, w, m, y, inv);
        for (size_t k = 0; k < w; k++) inv[k] = 1.0 / (1.0 + inv[k]);
        FA_FN(cols_scale_to)(y, inner, y, inner, n, w, inv);
        return;
    }
    T buf[FA_PACK_BYTES / sizeof(T)];
    for (size_t c0 = 0; c0 < w; c0 += wp) {
        size_t wc = w - c0 < wp ? w - c0 : wp;
        FA_FN(cols_stats)(x + c0, n, inner, wc, m, buf, buf, inv);
        for (size_t k = 0; k < wc; k++) inv[k] = 1.0 / (1.0 + inv[k]);
        FA_FN(cols_scale_to)(buf, wc, y + c0, inner, n, wc, inv);
    }
}

static void FA_FN(softmax_rows)(const T *x, T *y, size_t outer, size_t n, size_t inner)
{
    FA_FN(map_groups)(x, y, outer, n, inner, FA_FN(softmax_row), FA_FN(softmax_cols));
}

/* Columns c0 .. c1 - 1 of a (1, n, inner) array: the unit the thread pool
 * splits column reductions by (runtime/parallel.c). */
static void FA_FN(softmax_cols_range)(const T *x, T *y, size_t n, size_t inner, size_t c0, size_t c1)
{
    if (n) FA_FN(cols_range)(x, y, n, inner, c0, c1, FA_FN(softmax_cols));
}

FA_EXPORT_REDUCE(softmax)

/* where= (ops/masked_passes.h): the fill pass writes x with -inf at the
 * masked-out entries to y and forms the max; then softmax's own passes on y
 * in place.  Masked-out entries are exp(-inf - m) * inv = 0 exactly when m
 * and inv are finite; else (a kept NaN / +inf, nothing kept) the fix-up. */
#include "ops/masked_passes.h"

static void FA_FN(softmax_masked_row)(const T *x, const uint8_t *mk, T *y, size_t n)
{
    double m = FA_FN(mrow_max)(x, mk, y, n);
    double inv = 1.0 / (1.0 + FA_FN(mrow_sumexp_m1)(x, mk, n, m, y, 1));
    FA_FN(row_scale)(y, n, inv);
    if (!isfinite(m) || !isfinite(inv)) FA_FN(mrow_fixup)(mk, y, n, (T)0);
}

/* columns: the chunk filled into y (-inf at the masked-out entries: the
 * max passes need nothing else), then softmax_cols' passes with the masked
 * sum pass (vector levels: the masked-out lanes never reach the
 * exponential with -inf, see ops/masked_passes.h); the fix-up where a
 * column's m or inv is not finite.  Portable: softmax_cols on the filled
 * chunk, the fix-up on every row. */
static void FA_FN(softmax_masked_cols)(const T *x, const uint8_t *mk, ptrdiff_t sn, T *y,
                                       size_t n, size_t inner, size_t w)
{
    for (size_t i = 0; i < n; i++) FA_FN(mrow_fill)(x + i * inner, mk + (ptrdiff_t)i * sn, y + i * inner, w);
#if FA_VEC
    T m[FA_CHUNK] = {0};
    double inv[FA_CHUNK];
    int fix = 0;
    size_t wp = FA_FN(pack_cols)(n);
    if (wp == 0) { /* long columns: in place in y */
        FA_FN(cols_max)(y, n, inner, w, m);
        FA_FN(mvcols_sumexp_m1)(y, mk, sn, n, inner, w, m, y, inv);
        for (size_t k = 0; k < w; k++) {
            inv[k] = 1.0 / (1.0 + inv[k]);
            fix |= !isfinite(m[k]) || !isfinite(inv[k]);
        }
        FA_FN(cols_scale_to)(y, inner, y, inner, n, w, inv);
    } else {
        T buf[FA_PACK_BYTES / sizeof(T)];
        for (size_t c0 = 0; c0 < w; c0 += wp) {
            size_t wc = w - c0 < wp ? w - c0 : wp;
            FA_FN(cols_max_pack)(y + c0, n, inner, wc, m, buf);
            FA_FN(mvcols_sumexp_m1)(buf, mk + c0, sn, n, wc, wc, m, buf, inv);
            for (size_t k = 0; k < wc; k++) {
                inv[k] = 1.0 / (1.0 + inv[k]);
                fix |= !isfinite(m[k]) || !isfinite(inv[k]);
            }
            FA_FN(cols_scale_to)(buf, wc, y + c0, inner, n, wc, inv);
        }
    }
    if (!fix) return;
#else
    FA_FN(softmax_cols)(y, y, n, inner, w);
#endif
    for (size_t i = 0; i < n; i++) FA_FN(mrow_fixup)(mk + (ptrdiff_t)i * sn, y + i * inner, w, (T)0);
}

FA_EXPORT_MASKED(softmax)
#endif /* FA_TEMPLATE */
