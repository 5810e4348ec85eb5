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
/* GCC (12) warns that m may be read uninitialised in ce_prob_grad at the
 * scalar level: the max passes fill m[0 .. nw) for every C >= 1 (the
 * binding never passes C == 0).  The location GCC gives is in the included
 * headers, hence the whole template. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "ops/passes.h"
#include "ops/ce_terms.h"

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

/* ------------------------------------------------ loss and gradient
 * Fused cross-entropy and its gradient w.r.t. the logits (fa_loss_grad_fn),
 * dx may be x itself.  With p = softmax(x) = e / s, g_s the sample's
 * upstream gradient, W = sum_c w_c:
 *   index target t: dx_j = g_s [p_j ((1-eps) w_t + eps W / C)
 *                               - eps w_j / C - (1-eps) w_t [j == t]]
 *   probabilities:  dx_j = g_s [p_j sum_c w_c q_c - w_j q_j],
 *                   q_c = (1-eps) p_c + eps / C.
 * Per group: max (reads x from memory), then everything else that needs x
 * (the target logit, the smoothing / probability gap sums) while it is in
 * cache, then sumexp storing e into dx (x may be overwritten from here on),
 * then one output pass dx = e * (g_s coef / s) - (the per-class terms) and
 * the target's term.  The loss is formed exactly as the forward's (same
 * passes, same sums): bit-identical to ce_index / ce_prob.  Ignored
 * samples get dx = 0 exactly. */
static inline void FA_FN(zero_group)(T *y, size_t C, size_t stride)
{
    for (size_t j = 0; j < C; j++) y[j * stride] = 0;
}

/* nw <= FA_CHUNK samples of one outer index: their logits at x[c * xs + k]
 * (x itself, xs = inner, or the chunk packed on the stack, xs = nw), their
 * exponentials stored at e[c * es + k] (dx, or the packed chunk in place),
 * dx at y[c * inner + k]; m already holds the samples' maxima, and nr the
 * flag of their max pass (ops/passes.h's row_max_nr). */
static inline void FA_FN(ce_index_grad_chunk)(const T *x, size_t xs, T *e, size_t es, T *y,
                                              size_t inner, const T *m, int nr, const int64_t *lab,
                                              const double *go, T *out, size_t nw,
                                              const double *w, size_t C, int64_t ignore_index,
                                              double eps, double g, double W, double *acc)
{
    double sm1[FA_CHUNK], xt[FA_CHUNK], gap[FA_CHUNK], a[FA_CHUNK], b0[FA_CHUNK],
        b1[FA_CHUNK], et[FA_CHUNK], unused;
    double ec = eps / (double)C;
    /* what needs x, before e (maybe x) receives the exponentials */
    for (size_t k = 0; k < nw; k++) {
        int64_t t = lab[k];
        xt[k] = gap[k] = 0.0;
        if (t == ignore_index) continue;
        xt[k] = (double)x[(size_t)t * xs + k];
        if (eps > 0.0) gap[k] = FA_FN(gap_dot)(x + k, NULL, w, C, xs, m[k], 0.0, &unused);
    }
    if (inner == 1) sm1[0] = FA_FN(row_sumexp_m1_nr)(x, C, m[0], e, nr);
    else FA_FN(cols_sumexp_m1_nr)(x, C, xs, nw, m, e, sm1, nr);
    for (size_t k = 0; k < nw; k++) {
        int64_t t = lab[k];
        a[k] = b0[k] = b1[k] = et[k] = 0.0;
        if (t == ignore_index) {
            if (out) out[k] = 0;
            continue;
        }
        double Lk = log1p(sm1[k]);
        double wt = FA_W(w, (size_t)t);
        double l = FA_FN(index_loss)(m[k], Lk, xt[k], wt, eps, gap[k], W, C);
        if (out) out[k] = (T)l;
        fa_acc(&acc[0], &acc[1], l);
        fa_acc(&acc[2], &acc[3], wt);
        double gs = go ? g * go[k] : g;
        double coef = (1.0 - eps) * wt + (eps > 0.0 ? ec * W : 0.0);
        a[k] = gs * coef / (1.0 + sm1[k]);
        b0[k] = eps > 0.0 ? gs * ec : 0.0;
        b1[k] = gs * (1.0 - eps) * wt; /* the target's own term */
        et[k] = (double)e[(size_t)t * es + k];
    }
    /* eps == 0: no per-class term, the output pass is softmax's scale */
    if (inner == 1) {
        if (eps > 0.0) FA_FN(row_grad_out)(y, C, a[0], 0.0, b0[0], w, NULL, 0);
        else FA_FN(row_scale)(y, C, a[0]);
    } else if (e == y) {
        if (eps > 0.0) FA_FN(cols_grad_out)(y, C, inner, nw, a, b1, b0, w, NULL);
        else FA_FN(cols_scale_to)(y, inner, y, inner, C, nw, a);
    } else { /* packed: from the stack into dx (by 1.0, exact, after the terms) */
        if (eps > 0.0) {
            double one[FA_CHUNK];
            FA_FN(cols_grad_out)(e, C, es, nw, a, b1, b0, w, NULL);
            for (size_t k = 0; k < nw; k++) one[k] = 1.0;
            FA_FN(cols_scale_to)(e, es, y, inner, C, nw, one);
        } else {
            FA_FN(cols_scale_to)(e, es, y, inner, C, nw, a);
        }
    }
    for (size_t k = 0; k < nw; k++) {
        int64_t t = lab[k];
        if (t == ignore_index) { /* exactly 0, even for NaN logits */
            FA_FN(zero_group)(y + k, C, inner);
            continue;
        }
        /* e_t a - (w_t b0 + g_s (1-eps) w_t): the delta term cancels
         * against p_t coef; each term is within ~1e-16 relative in double,
         * so the result is within 0.5 ULP of T plus ~2^-52 max(|e_t a|,
         * |subtracted|) beyond e's and a's error */
        y[(size_t)t * inner + k] = (T)(et[k] * a[k] - (FA_W(w, (size_t)t) * b0[k] + b1[k]));
    }
}

static void FA_FN(ce_index_grad_typed)(const T *x, const int64_t *label, const double *w,
                                       size_t outer, size_t C, size_t inner,
                                       int64_t ignore_index, double eps, double g,
                                       const double *gvec, T *dx, T *loss, double *sum,
                                       double *wsum)
{
    double acc[4] = {0.0, 0.0, 0.0, 0.0}; /* loss sum, its compensation, weights, theirs */
    double W = eps > 0.0 ? FA_FN(weight_total)(w, C) : 0.0;
    /* short columns (NCHW): the chunk packed by its max pass, as softmax */
    size_t wp = inner > 1 ? FA_FN(pack_cols)(C) : 0;
    for (size_t o = 0; o < outer; o++) {
        const T *xo = x + o * C * inner;
        T *yo = dx + o * C * inner;
        const int64_t *lo = label + o * inner;
        const double *go = gvec ? gvec + o * inner : NULL;
        T *out = loss ? loss + o * inner : NULL;
        if (inner == 1) {
            T m[1];
            int nr;
            if (lo[0] == ignore_index) { /* skip the row's logits */
                FA_FN(zero_group)(yo, C, 1);
                if (out) out[0] = 0;
                continue;
            }
            m[0] = FA_FN(row_max_nr)(xo, C, &nr);
            FA_FN(ce_index_grad_chunk)(xo, 1, yo, 1, yo, 1, m, nr, lo, go, out, 1, w, C,
                                       ignore_index, eps, g, W, acc);
            continue;
        }
        for (size_t c0 = 0; c0 < inner; c0 += FA_CHUNK) {
            size_t nw = inner - c0 < FA_CHUNK ? inner - c0 : FA_CHUNK;
            T m[FA_CHUNK];
            int nr;
            if (wp == 0) {
                FA_FN(cols_max_pack_nr)(xo + c0, C, inner, nw, m, NULL, &nr);
                FA_FN(ce_index_grad_chunk)(xo + c0, inner, yo + c0, inner, yo + c0, inner, m,
                                           nr, lo + c0, go ? go + c0 : NULL, out ? out + c0 : NULL,
                                           nw, w, C, ignore_index, eps, g, W, acc);
                continue;
            }
            T buf[FA_PACK_BYTES / sizeof(T)];
            for (size_t c1 = c0; c1 < c0 + nw; c1 += wp) {
                size_t wc = c0 + nw - c1 < wp ? c0 + nw - c1 : wp;
                FA_FN(cols_max_pack_nr)(xo + c1, C, inner, wc, m, buf, &nr);
                FA_FN(ce_index_grad_chunk)(buf, wc, buf, wc, yo + c1, inner, m, nr, lo + c1,
                                           go ? go + c1 : NULL, out ? out + c1 : NULL, wc, w,
                                           C, ignore_index, eps, g, W, acc);
            }
        }
    }
    *sum = fa_acc_value(acc[0], acc[1]);
    *wsum = fa_acc_value(acc[2], acc[3]);
}

static void FA_FN(ce_prob_grad_typed)(const T *x, const T *p, const double *w, size_t outer,
                                      size_t C, size_t inner, double eps, double g,
                                      const double *gvec, T *dx, T *loss, double *sum)
{
    double tot = 0.0, totc = 0.0;
    for (size_t o = 0; o < outer; o++) {
        const T *xo = x + o * C * inner;
        const T *po = p + o * C * inner;
        T *yo = dx + o * C * inner;
        const double *go = gvec ? gvec + o * inner : NULL;
        T *out = loss ? loss + o * inner : NULL;
        for (size_t c0 = 0; c0 < inner; c0 += FA_CHUNK) {
            size_t nw = inner - c0 < FA_CHUNK ? inner - c0 : FA_CHUNK;
            T m[FA_CHUNK];
            double sm1[FA_CHUNK], gap[FA_CHUNK], vsum[FA_CHUNK], a[FA_CHUNK], b0[FA_CHUNK],
                b1[FA_CHUNK];
            int nr;
            if (inner == 1) m[0] = FA_FN(row_max_nr)(xo, C, &nr);
            else FA_FN(cols_max_pack_nr)(xo + c0, C, inner, nw, m, NULL, &nr);
            for (size_t k = 0; k < nw; k++)
                gap[k] = FA_FN(gap_dot)(xo + c0 + k, po + c0 + k, w, C, inner, m[k], eps,
                                        &vsum[k]);
            if (inner == 1) sm1[0] = FA_FN(row_sumexp_m1_nr)(xo, C, m[0], yo, nr);
            else FA_FN(cols_sumexp_m1_nr)(xo + c0, C, inner, nw, m, yo + c0, sm1, nr);
            for (size_t k = 0; k < nw; k++) {
                double l = gap[k] + vsum[k] * log1p(sm1[k]);
                if (out) out[c0 + k] = (T)l;
                fa_acc(&tot, &totc, l);
                double gs = go ? g * go[c0 + k] : g;
                a[k] = gs * vsum[k] / (1.0 + sm1[k]);
                b1[k] = gs * (1.0 - eps);
                b0[k] = gs * (eps / (double)C);
            }
            if (inner == 1) FA_FN(row_grad_out)(yo, C, a[0], b1[0], b0[0], w, po, 1);
            else FA_FN(cols_grad_out)(yo + c0, C, inner, nw, a, b1, b0, w, po + c0);
        }
    }
    *sum = fa_acc_value(tot, totc);
}

void FA_FN(ce_index_grad)(const void *x, const void *p, const int64_t *label, const double *w,
                          size_t outer, size_t C, size_t inner, int64_t ignore_index,
                          double eps, double g, const double *gvec, void *dx, void *loss,
                          double *sum, double *wsum)
{
    (void)p;
    FA_FN(ce_index_grad_typed)((const T *)x, label, w, outer, C, inner, ignore_index, eps, g,
                               gvec, (T *)dx, (T *)loss, sum, wsum);
}

void FA_FN(ce_prob_grad)(const void *x, const void *p, const int64_t *label, const double *w,
                         size_t outer, size_t C, size_t inner, int64_t ignore_index,
                         double eps, double g, const double *gvec, void *dx, void *loss,
                         double *sum, double *wsum)
{
    (void)label;
    (void)ignore_index;
    *wsum = 0.0;
    FA_FN(ce_prob_grad_typed)((const T *)x, (const T *)p, w, outer, C, inner, eps, g, gvec,
                              (T *)dx, (T *)loss, sum);
}

#undef FA_W
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif /* FA_TEMPLATE */
