/* Op template (instantiated per dtype and level, ops/instantiate.h): cross-entropy losses with the class axis in the
 * middle of (outer, C, inner); sample (o, k) has its logits at
 * x[o*C*inner + c*inner + k] and its label/loss at index o*inner + k.
 *
 * With lse = m + L, L = log1p(s - 1) (ops/passes.h):
 *   -logp_c = (m - x_c) + L, a sum of two non-negative terms: no cancellation,
 *   so even a confident, correct prediction (loss ~ 1e-10) keeps full
 *   relative accuracy.
 *   label smoothing: sum_c w_c (-logp_c) = sum_c w_c (m - x_c) + W L, W = sum_c w_c.
 *   probabilities:   sum_c wq_c (-logp_c) = sum_c wq_c (m - x_c) + (sum_c wq_c) L,
 *                    wq_c = w_c ((1 - eps) p_c + eps / C).
 * The logits are read once from memory (max pass); the later passes over a
 * row hit cache.  Sums over classes and samples are compensated. */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/cross_entropy.c"
#include "ops/instantiate.h"
#else
#include "ops/passes.h"

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

static void FA_FN(ce_index_typed)(const T *x, const int64_t *label, const double *w, size_t outer,
                                  size_t C, size_t inner, int64_t ignore_index, double eps,
                                  T *loss, double *sum, double *wsum)
{
    double tot = 0.0, totc = 0.0, ws = 0.0, wsc = 0.0, unused;
    double W = eps > 0.0 ? FA_FN(weight_total)(w, C) : 0.0;
    for (size_t o = 0; o < outer; o++) {
        const T *xo = x + o * C * inner;
        const int64_t *lo = label + o * inner;
        T *out = loss ? loss + o * inner : NULL;
        for (size_t c0 = 0; c0 < inner; c0 += FA_CHUNK) {
            size_t nw = inner - c0 < FA_CHUNK ? inner - c0 : FA_CHUNK;
            T m[FA_CHUNK];
            double L[FA_CHUNK];
            if (inner == 1 && lo[0] == ignore_index) { /* skip the row's logits */
                if (out) out[0] = 0;
                continue;
            }
            FA_FN(group_stats)(xo + c0, C, inner, nw, m, NULL, L);
            for (size_t k = 0; k < nw; k++) {
                int64_t t = lo[c0 + k];
                if (t == ignore_index) {
                    if (out) out[c0 + k] = 0;
                    continue;
                }
                const T *xs = xo + c0 + k; /* this sample's logit of class c: xs[c * inner] */
                double Lk = log1p(L[k]);
                double gap = 0.0;
                if (eps > 0.0) gap = FA_FN(gap_dot)(xs, NULL, w, C, inner, m[k], 0.0, &unused);
                double wt = FA_W(w, (size_t)t);
                double l = FA_FN(index_loss)(m[k], Lk, (double)xs[(size_t)t * inner], wt, eps,
                                             gap, W, C);
                if (out) out[c0 + k] = (T)l;
                fa_acc(&tot, &totc, l);
                fa_acc(&ws, &wsc, wt);
            }
        }
    }
    *sum = fa_acc_value(tot, totc);
    *wsum = fa_acc_value(ws, wsc);
}

static void FA_FN(ce_prob_typed)(const T *x, const T *p, const double *w, size_t outer, size_t C,
                                 size_t inner, double eps, T *loss, double *sum)
{
    double tot = 0.0, totc = 0.0;
    for (size_t o = 0; o < outer; o++) {
        const T *xo = x + o * C * inner;
        const T *po = p + o * C * inner;
        T *out = loss ? loss + o * inner : NULL;
        for (size_t c0 = 0; c0 < inner; c0 += FA_CHUNK) {
            size_t nw = inner - c0 < FA_CHUNK ? inner - c0 : FA_CHUNK;
            T m[FA_CHUNK];
            double L[FA_CHUNK];
            FA_FN(group_stats)(xo + c0, C, inner, nw, m, NULL, L);
            for (size_t k = 0; k < nw; k++) {
                double vsum;
                double gap = FA_FN(gap_dot)(xo + c0 + k, po + c0 + k, w, C, inner, m[k], eps,
                                            &vsum);
                double Lk = log1p(L[k]);
                double l = gap + vsum * Lk;
                if (out) out[c0 + k] = (T)l;
                fa_acc(&tot, &totc, l);
            }
        }
    }
    *sum = fa_acc_value(tot, totc);
}

/* The table's loss kernels (runtime/kernels.h, fa_loss_fn). */
void FA_FN(ce_index)(const void *x, const void *p, const int64_t *label, const double *w,
                     size_t outer, size_t C, size_t inner, int64_t ignore_index, double eps,
                     void *loss, double *sum, double *wsum)
{
    (void)p;
    FA_FN(ce_index_typed)((const T *)x, label, w, outer, C, inner, ignore_index, eps, (T *)loss,
                          sum, wsum);
}

void FA_FN(ce_prob)(const void *x, const void *p, const int64_t *label, const double *w,
                    size_t outer, size_t C, size_t inner, int64_t ignore_index, double eps,
                    void *loss, double *sum, double *wsum)
{
    (void)label;
    (void)ignore_index;
    *wsum = 0.0;
    FA_FN(ce_prob_typed)((const T *)x, (const T *)p, w, outer, C, inner, eps, (T *)loss, sum);
}

#undef FA_W
#endif /* FA_TEMPLATE */
