/* Op template (instantiated per dtype and level, ops/instantiate.h):
 * linear_cross_entropy's vocabulary blocks.  When even one sample's logits
 * over the whole vocabulary do not fit the memory budget, the logits are
 * formed in blocks of n consecutive classes [v0, v0 + n) for `rows`
 * samples, C-contiguous (rows, n), and each row of a block is reduced to
 * numbers the caller merges across blocks (fastact/_linear_ce.py):
 *
 *   stats: m = the row's max (NaN skipped), sm1 = s - 1 with
 *          s = sum_c exp(x_c - m) (the passes of ops/passes.h: the maxima
 *          counted apart, so sm1 is free of cancellation), and with label
 *          smoothing gap = sum_c w_c (m - x_c) (non-negative terms).  Two
 *          blocks merge exactly in double-double: with M = max(m_a, m_b),
 *          sm1 = sm1_a + (1 + sm1_b) exp(m_b - M) when m_a = M, and
 *          gap = gap_a + gap_b + W_b (M - m_b): every term non-negative.
 *          A row with no element above -inf reports sm1 = -1 (s = 0) and
 *          gap = 0, or sm1 = gap = NaN when it holds a NaN; a row whose max
 *          is +inf reports sm1 = gap = NaN.
 *   grad:  the backward pass over a block once the row's global max M and
 *          s are known (the logits recomputed): with e_c = exp(x_c - M),
 *          dx_c = e_c a - w_c b0, and at the target's column
 *          dx_t = e_t a - (w_t b0 + b1), each rounded once from double
 *          (ops/passes.h's row_grad_out); a = g coef / s, b0 = g eps / V,
 *          b1 = g (1 - eps) w_t as in ops/cross_entropy.c's fused
 *          gradient, so a row's gradient is formed as there.  Rows whose
 *          label is ignore_index get exactly 0; rows whose M is not finite
 *          get NaN (their loss is NaN). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/ce_vocab_block.c"
#include "ops/instantiate.h"
#else
#include "ops/passes.h"
#include "ops/ce_terms.h"

static void FA_FN(ce_block_stats)(const void *xv, size_t rows, size_t n, const double *w,
                                  double *m, double *sm1, double *gap)
{
    for (size_t r = 0; r < rows; r++) {
        const T *x = (const T *)xv + r * n;
        int nr;
        T mx = FA_FN(row_max_nr)(x, n, &nr);
        m[r] = (double)mx;
        if (!isfinite(mx)) {
            double v = mx == -INFINITY && !FA_FN(has_nan)(x, n, 1) ? -1.0 : (double)NAN;
            sm1[r] = v;
            if (gap) gap[r] = v == -1.0 ? 0.0 : v;
            continue;
        }
        sm1[r] = FA_FN(row_sumexp_m1_nr)(x, n, (double)mx, NULL, nr);
        if (gap) {
            double unused;
            gap[r] = FA_FN(gap_dot)(x, NULL, w, n, 1, (double)mx, 0.0, &unused);
        }
    }
}

static void FA_FN(ce_block_grad)(const void *xv, void *dxv, size_t rows, size_t n,
                                 const int64_t *label, int64_t v0, int64_t ignore_index,
                                 const double *w, const double *M, const double *a,
                                 const double *b0, const double *b1)
{
    for (size_t r = 0; r < rows; r++) {
        const T *x = (const T *)xv + r * n;
        T *y = (T *)dxv + r * n;
        if (label[r] == ignore_index || !isfinite(M[r])) {
            T v = label[r] == ignore_index ? (T)0 : (T)NAN;
            for (size_t j = 0; j < n; j++) y[j] = v;
            continue;
        }
        (void)FA_FN(row_sumexp_m1)(x, n, M[r], y); /* y = exp(x - M): x <= M */
        int64_t c = label[r] - v0;
        int here = c >= 0 && (uint64_t)c < (uint64_t)n;
        double et = here ? (double)y[c] : 0.0;
        if (b0[r] != 0.0) FA_FN(row_grad_out)(y, n, a[r], 0.0, b0[r], w, NULL, 0);
        else FA_FN(row_scale)(y, n, a[r]);
        if (here) y[c] = (T)(et * a[r] - (FA_W(w, (size_t)c) * b0[r] + b1[r]));
    }
}

const fa_ce_block_fns FA_FN(ce_block) = {FA_FN(ce_block_stats), FA_FN(ce_block_grad)};

#undef FA_W
#endif /* FA_TEMPLATE */
