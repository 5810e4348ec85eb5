/* Part of the cross-entropy templates (ops/cross_entropy.c,
 * ops/ce_vocab_block.c; see ops/dtype.h): the per-sample terms of the loss
 * with lse = m + L (L = log(s), s = sum_c exp(x_c - m)):
 *   -logp_c = (m - x_c) + L, two non-negative terms (no cancellation);
 *   label smoothing: sum_c w_c (-logp_c) = sum_c w_c (m - x_c) + W L,
 *   W = sum_c w_c.
 * Not include-guarded: instantiated with each dtype and level. */

#define FA_W(w, c) ((w) ? (w)[c] : 1.0)

static inline double FA_FN(weight_total)(const double *w, size_t C)
{
    double s = 0.0, c = 0.0;
    for (size_t j = 0; j < C; j++) fa_acc(&s, &c, FA_W(w, j));
    return fa_acc_value(s, c);
}

/* sum_c v_c (m - x_c) over one sample's logits x[c * stride], where v_c = w_c,
 * or w_c ((1 - eps) p_c + eps / C) when p is given; *vsum = sum_c v_c.
 * (A sequential compensated chain: these sums are not the bottleneck.) */
static inline double FA_FN(gap_dot)(const T *x, const T *p, const double *w, size_t C,
                                    size_t stride, double m, double eps, double *vsum)
{
    double s = 0.0, c = 0.0, vs = 0.0, vc = 0.0;
    double a = 1.0 - eps, b = eps / (double)C;
    for (size_t j = 0; j < C; j++) {
        double v = FA_W(w, j);
        if (p) v *= a * (double)p[j * stride] + b;
        fa_acc(&s, &c, v * (m - (double)x[j * stride]));
        fa_acc(&vs, &vc, v);
    }
    *vsum = fa_acc_value(vs, vc);
    return fa_acc_value(s, c);
}

/* Loss of one non-ignored sample with label t, given m and L of its row. */
static inline double FA_FN(index_loss)(double m, double L, double xt, double wt,
                                       double eps, double smooth_gap, double W, size_t C)
{
    double loss = (1.0 - eps) * wt * ((m - xt) + L);
    if (eps > 0.0) loss += eps / (double)C * (smooth_gap + W * L);
    return loss;
}
