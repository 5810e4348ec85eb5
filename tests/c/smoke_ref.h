/* Long double references for tests/c/smoke.c, written from the ops'
 * semantics (README's API table, include/fastact.h), not from the kernels,
 * with the error units and bounds of the Python tests: ULP at the
 * reference rounded to the dtype (tests/_ref.py), or eps times the size of
 * the larger term for the backward ops and gradients (test_softmax_backward,
 * test_cross_entropy_grad, test_bce).  long double is the x87 80-bit type
 * on x86-64 (as np.longdouble there) and IEEE quad on aarch64 Linux. */
#ifndef SMOKE_REF_H
#define SMOKE_REF_H

#include <float.h>

#include "smoke_cases.h"

typedef long double LD;

/* Where a checked value comes from in smoke_out. */
enum { SRC_Y, SRC_LOSS, SRC_SUM, SRC_WSUM, SRC_MEAN };

typedef struct {
    const char *what;
    int src, dt;              /* dtype the value is checked in */
    size_t len;
    LD *want;
    LD *unit;                 /* one error unit per value; NULL: exact (same bits) */
    LD tiny;                  /* allowed on top of bound * unit */
    double bound[FA_NUM_LEVELS];
} ref_out;

typedef struct {
    ref_out out[5];
    int nout;
} smoke_ref;

static ref_out *add_out(smoke_ref *r, const char *what, int src, int dt, size_t len, int exact,
                        double bound)
{
    ref_out *o = &r->out[r->nout++];
    o->what = what;
    o->src = src;
    o->dt = dt;
    o->len = len;
    o->want = alloc(len, sizeof(LD));
    o->unit = exact ? NULL : alloc(len, sizeof(LD));
    o->tiny = 0;
    for (int l = 0; l < FA_NUM_LEVELS; l++) o->bound[l] = bound;
    return o;
}

static void free_ref(smoke_ref *r)
{
    for (int i = 0; i < r->nout; i++) {
        free(r->out[i].want);
        free(r->out[i].unit);
    }
    r->nout = 0;
}

static LD eps_of(int dt) { return dt == FA_F32 ? (LD)FLT_EPSILON : (LD)DBL_EPSILON; }
static LD tiny_of(int dt) { return dt == FA_F32 ? (LD)FLT_MIN : (LD)DBL_MIN; }

/* spacing of the reference rounded to dt (np.spacing; the largest finite
 * spacing when it rounds to inf) */
static LD ulp_at(int dt, LD r)
{
    if (dt == FA_F32) {
        float a = fabsf((float)r);
        if (!isfinite(a)) return (LD)FLT_MAX - (LD)nextafterf(FLT_MAX, 0.0f);
        return (LD)nextafterf(a, INFINITY) - (LD)a;
    }
    double a = fabs((double)r);
    if (!isfinite(a)) return (LD)DBL_MAX - (LD)nextafter(DBL_MAX, 0.0);
    return (LD)nextafter(a, INFINITY) - (LD)a;
}

/* compensated (Neumaier) sum in long double */
typedef struct {
    LD s, c;
} ldsum;
static void lds_add(ldsum *a, LD v)
{
    LD t = a->s + v;
    a->c += fabsl(a->s) >= fabsl(v) ? (a->s - t) + v : (v - t) + a->s;
    a->s = t;
}
static LD lds_get(const ldsum *a) { return a->s + a->c; }

/* ------------------------------------------------ softmax family
 * One group: element i of (o, ., k) at x[(o * n + i) * inner + k], kept
 * where keep (NULL: all) is nonzero at keep[i * inner]. */
typedef struct {
    LD m, logs;               /* max, log(sum exp(x - m)) as log1p of the rest */
    int good, nan, pinf, kept;
} grp;

static grp group_stats(const smoke_case *c, size_t o, size_t k, const uint8_t *keep)
{
    grp g = {-INFINITY, 0, 0, 0, 0, 0};
    size_t base = o * c->n * c->inner + k, am = (size_t)-1;
    for (size_t i = 0; i < c->n; i++) {
        if (keep && !keep[i * c->inner]) continue;
        LD v = get(c->dt, c->x, base + i * c->inner);
        g.kept++;
        if (isnan(v)) g.nan = 1;
        else if (am == (size_t)-1 || v > g.m) {
            g.m = v; /* first occurrence of the max */
            am = i;
        }
        if (v == INFINITY) g.pinf = 1;
    }
    g.good = g.kept > 0 && !g.nan && !g.pinf && isfinite(g.m);
    if (!g.good) return g;
    /* s = 1 + t, t summing every term but one occurrence of the max: log1p(t)
     * stays accurate when one entry dominates */
    ldsum t = {0, 0};
    for (size_t i = 0; i < c->n; i++) {
        if (i == am || (keep && !keep[i * c->inner])) continue;
        lds_add(&t, expl(get(c->dt, c->x, base + i * c->inner) - g.m));
    }
    g.logs = log1pl(lds_get(&t));
    return g;
}

/* softmax, log_softmax, logsumexp (masked: FA_MASKED_softmax/log_softmax,
 * whose codes match FA_REDUCE's) */
static void ref_reduce(const smoke_case *c, smoke_ref *r)
{
    int is_log = c->op == FA_REDUCE_log_softmax, is_lse = c->op == FA_REDUCE_logsumexp;
    /* tests/_ref.py's ULP_BOUND, log_softmax f64 held to 3 */
    double b = is_lse ? 2 : is_log ? (c->dt == FA_F32 ? 2 : 3) : (c->dt == FA_F32 ? 2 : 4);
    ref_out *y = add_out(r, "y", SRC_Y, c->dt, ny_of(c), 0, b);
    for (size_t o = 0; o < c->outer; o++)
        for (size_t k = 0; k < c->inner; k++) {
            const uint8_t *keep = NULL;
            if (c->fam == F_MASKED)
                keep = c->mask + (c->mv.strides[0] ? o * c->n * c->inner : 0) + k;
            grp g = group_stats(c, o, k, keep);
            if (is_lse) {
                LD v = g.good ? g.m + g.logs : g.nan ? NAN : g.m; /* m: +inf, or -inf */
                y->want[o * c->inner + k] = v;
                y->unit[o * c->inner + k] = ulp_at(c->dt, v);
                continue;
            }
            for (size_t i = 0; i < c->n; i++) {
                size_t j = (o * c->n + i) * c->inner + k;
                LD v;
                if (keep && !keep[i * c->inner]) v = is_log ? -INFINITY : 0;
                else if (!g.good && g.kept == 0) v = is_log ? -INFINITY : 0;
                else if (!g.good) v = NAN;
                else {
                    LD d = get(c->dt, c->x, j) - g.m;
                    v = is_log ? d - g.logs : expl(d - g.logs);
                }
                y->want[j] = v;
                y->unit[j] = ulp_at(c->dt, v);
            }
        }
}

/* softmax_backward y * (g - sum(g * y)), log_softmax_backward
 * g - exp(y) * sum(g), per group; unit eps * the terms' size */
static void ref_reduce2(const smoke_case *c, smoke_ref *r)
{
    ref_out *y = add_out(r, "out", SRC_Y, c->dt, numel(c), 0, c->dt == FA_F32 ? 2 : 4);
    y->tiny = tiny_of(c->dt);
    LD eps = eps_of(c->dt);
    int soft = c->op == FA_REDUCE2_softmax_backward;
    for (size_t o = 0; o < c->outer; o++)
        for (size_t k = 0; k < c->inner; k++) {
            ldsum s = {0, 0};
            size_t base = o * c->n * c->inner + k;
            for (size_t i = 0; i < c->n; i++) {
                size_t j = base + i * c->inner;
                LD g = get(c->dt, c->x, j), yy = get(c->dt, c->x2, j);
                lds_add(&s, soft ? g * yy : g);
            }
            LD sv = lds_get(&s);
            for (size_t i = 0; i < c->n; i++) {
                size_t j = base + i * c->inner;
                LD g = get(c->dt, c->x, j), yy = get(c->dt, c->x2, j);
                if (soft) {
                    y->want[j] = yy * (g - sv);
                    y->unit[j] = eps * fabsl(yy) * (fabsl(g) + fabsl(sv));
                } else {
                    LD e = expl(yy);
                    y->want[j] = g - e * sv;
                    y->unit[j] = eps * (fabsl(g) + e * fabsl(sv));
                }
            }
        }
}

/* ------------------------------------------------ element-wise */

static void ref_map(const smoke_case *c, smoke_ref *r)
{
    size_t len = numel(c);
    int exact = c->op != FA_MAP_sigmoid;
    ref_out *y = add_out(r, "y", SRC_Y, c->dt, len, exact, c->dt == FA_F32 ? 0.503 : 2);
    if (!exact && c->dt == FA_F32) /* float32 pairs with FMA (test_elementwise.sigmoid_bound) */
        y->bound[FA_LEVEL_AVX2] = y->bound[FA_LEVEL_AVX512] = 0.875;
    LD slope = c->dt == FA_F32 ? (LD)(float)c->p : (LD)c->p;
    for (size_t i = 0; i < len; i++) {
        LD x = get(c->dt, c->x, i), v;
        if (c->op == FA_MAP_relu) v = (x > 0 || isnan(x)) ? x : 0.0L; /* +0 for -0 */
        else if (c->op == FA_MAP_leaky_relu) {
            /* x * slope rounded to the dtype, as the kernels compute it */
            v = x > 0 ? x : c->dt == FA_F32 ? (LD)((float)x * (float)slope) : (LD)((double)x * (double)slope);
        } else {
            LD e = expl(-fabsl(x));
            v = x >= 0 ? 1 / (1 + e) : isnan(x) ? x : e / (1 + e);
            y->unit[i] = ulp_at(c->dt, v);
        }
        y->want[i] = v;
    }
}

/* the exact formulas of the backward maps, in the kernels' precision */
static void ref_map2(const smoke_case *c, smoke_ref *r)
{
    size_t len = numel(c);
    ref_out *y = add_out(r, "out", SRC_Y, c->dt, len, 1, 0);
    for (size_t i = 0; i < len; i++) {
        double g = (double)get(c->dt, c->x, i), x = (double)get(c->dt, c->x2, i), v;
        if (c->op == FA_MAP2_relu_backward) v = !(x <= 0) ? g : 0.0;
        else if (c->op == FA_MAP2_leaky_relu_backward)
            v = x > 0 ? g : c->dt == FA_F32 ? (double)((float)g * (float)c->p) : g * c->p;
        else v = (g * (1.0 - x)) * x; /* sigmoid_backward: float32 in float64, rounded once */
        y->want[i] = c->dt == FA_F32 ? (LD)(float)v : (LD)v;
    }
}

/* ------------------------------------------------ cross-entropy
 * Per sample (o, k) over the classes c: lp = log_softmax (long double),
 * loss = (1 - eps) w_t (-lp_t) + eps / C sum_c w_c (-lp_c) (index targets;
 * 0 when ignored), -sum_c w_c q_c lp_c with q = (1 - eps) p + eps / C
 * (probabilities); the gradient's A - B of test_cross_entropy_grad. */
static void ref_ce(const smoke_case *c, smoke_ref *r)
{
    size_t C = c->n, in = c->inner, S = c->outer * in;
    int index = c->op == FA_LOSS_ce_index; /* == FA_LOSS_GRAD_ce_index_grad */
    int grad = c->fam == F_LOSS_GRAD;
    LD eps = c->eps, epsd = eps_of(c->dt), wtot = 0;
    for (size_t j = 0; j < C; j++) wtot += c->weight ? c->weight[j] : 1;
    LD *lp = alloc(C, sizeof(LD)), *sm = alloc(C, sizeof(LD));
    LD *dwant = NULL, *dunit = NULL;
    ref_out *dx = NULL, *loss = NULL;
    if (grad) {
        dx = add_out(r, "dx", SRC_Y, c->dt, numel(c), 0, c->dt == FA_F32 ? 3 : 4);
        dx->tiny = tiny_of(c->dt);
        dwant = dx->want;
        dunit = dx->unit;
    }
    if (nloss_of(c)) loss = add_out(r, "loss", SRC_LOSS, c->dt, S, 0, 4);
    ldsum tot = {0, 0}, wsum = {0, 0};
    LD *per = alloc(S, sizeof(LD)), *gs = alloc(S, sizeof(LD));
    for (size_t o = 0; o < c->outer; o++)
        for (size_t k = 0; k < in; k++) {
            size_t s = o * in + k;
            grp g = group_stats(c, o, k, NULL); /* the sample's classes as one group */
            for (size_t j = 0; j < C; j++) {
                lp[j] = get(c->dt, c->x, (o * C + j) * in + k) - g.m - g.logs;
                sm[j] = expl(lp[j]);
            }
            LD l = 0;
            gs[s] = (LD)c->g * (c->gvec_d ? (LD)c->gvec_d[s] : 1);
            if (index) {
                int64_t t = c->label[s];
                if (t == c->ignore) {
                    gs[s] = 0;
                } else {
                    LD wt = c->weight ? c->weight[t] : 1, smooth = 0;
                    for (size_t j = 0; j < C; j++) smooth += (c->weight ? c->weight[j] : 1) * -lp[j];
                    l = (1 - eps) * wt * -lp[t] + (eps != 0 ? eps / C * smooth : 0);
                    lds_add(&wsum, wt);
                }
            } else {
                ldsum a = {0, 0};
                for (size_t j = 0; j < C; j++) {
                    LD q = (1 - eps) * get(c->dt, c->x2, (o * C + j) * in + k) + eps / C;
                    lds_add(&a, -(c->weight ? c->weight[j] : 1) * q * lp[j]);
                }
                l = lds_get(&a);
            }
            per[s] = l;
            lds_add(&tot, l);
            if (!grad) continue;
            /* the gradient's two terms, scaled later by the "mean" divisor */
            LD wq = 0;
            if (!index)
                for (size_t j = 0; j < C; j++)
                    wq += (c->weight ? c->weight[j] : 1)
                          * ((1 - eps) * get(c->dt, c->x2, (o * C + j) * in + k) + eps / C);
            for (size_t j = 0; j < C; j++) {
                size_t e = (o * C + j) * in + k;
                LD wj = c->weight ? c->weight[j] : 1, A, B;
                if (index) {
                    int64_t t = c->label[s];
                    LD wt = t == c->ignore ? 0 : (c->weight ? c->weight[t] : 1);
                    A = sm[j] * ((1 - eps) * wt + eps * wtot / C);
                    B = eps * wj / C + ((int64_t)j == t ? (1 - eps) * wt : 0);
                    if (t == c->ignore) A = B = 0;
                } else {
                    A = sm[j] * wq;
                    B = wj * ((1 - eps) * get(c->dt, c->x2, e) + eps / C);
                }
                dwant[e] = A * gs[s] - B * gs[s];
                dunit[e] = (fabsl(A) > fabsl(B) ? fabsl(A) : fabsl(B)) * fabsl(gs[s]);
            }
        }
    LD W = lds_get(&wsum);
    if (grad && c->divide)
        for (size_t e = 0; e < numel(c); e++) {
            dwant[e] /= W;
            dunit[e] /= fabsl(W);
        }
    if (grad)
        for (size_t e = 0; e < numel(c); e++) dunit[e] *= epsd;
    if (loss)
        for (size_t s = 0; s < S; s++) {
            loss->want[s] = per[s];
            loss->unit[s] = ulp_at(c->dt, per[s]);
        }
    ref_out *sum = add_out(r, "sum", SRC_SUM, c->dt, 1, 0, 4);
    sum->want[0] = lds_get(&tot);
    sum->unit[0] = ulp_at(c->dt, sum->want[0]);
    if (index) {
        ref_out *ws = add_out(r, "wsum", SRC_WSUM, FA_F64, 1, 0, 2);
        ws->want[0] = W;
        ws->unit[0] = ulp_at(FA_F64, W);
        ref_out *mean = add_out(r, "mean", SRC_MEAN, c->dt, 1, 0, 4);
        mean->want[0] = sum->want[0] / W;
        mean->unit[0] = ulp_at(c->dt, mean->want[0]);
    }
    free(lp);
    free(sm);
    free(per);
    free(gs);
}

/* ------------------------------------------------ binary cross-entropy
 * loss = w [(1 - y) max(x, 0) + pw y max(-x, 0) + lw log1p(exp(-|x|))],
 * lw = 1 + (pw - 1) y; gradient g w (sigmoid(x) (pw y + 1 - y) - pw y). */
static void ref_bce(const smoke_case *c, smoke_ref *r)
{
    size_t len = numel(c), C = c->n;
    /* test_bce.LOSS_ULP (+1 with a weight, +1.5 with pos_weight, float64) */
    double lb = c->dt == FA_F32 ? 0.51 : 2 + (c->w ? 1 : 0) + (c->pw ? 1.5 : 0);
    ref_out *dx = NULL, *loss = NULL;
    if (c->with_grad) {
        dx = add_out(r, "dx", SRC_Y, c->dt, len, 0, c->dt == FA_F32 ? 1 : 4);
        dx->tiny = tiny_of(c->dt);
    }
    if (c->want_loss) loss = add_out(r, "loss", SRC_LOSS, c->dt, len, 0, lb);
    ldsum tot = {0, 0};
    for (size_t i = 0; i < len; i++) {
        LD x = get(c->dt, c->x, i), y = get(c->dt, c->x2, i);
        LD w = c->w ? get(c->dt, c->w, (i / C) * c->w_row + (i % C) * c->w_col) : 1;
        LD pw = c->pw ? get(c->dt, c->pw, (i / C) * c->p_row + (i % C) * c->p_col) : 1;
        LD lw = 1 + (pw - 1) * y;
        LD l = w * ((1 - y) * (x > 0 ? x : 0) + pw * y * (x < 0 ? -x : 0) + lw * log1pl(expl(-fabsl(x))));
        lds_add(&tot, l);
        if (loss) {
            loss->want[i] = l;
            loss->unit[i] = ulp_at(c->dt, l);
        }
        if (dx) {
            LD g = c->gvec ? get(c->dt, c->gvec, i) : (LD)c->g;
            LD s = 1 / (1 + expl(-x)), t = c->pw ? pw * y : y, a = s * (t + 1 - y);
            LD big = fabsl(a) > fabsl(t) ? fabsl(a) : fabsl(t);
            dx->want[i] = (a - t) * w * g;
            dx->unit[i] = eps_of(c->dt) * big * fabsl(w) * fabsl(g);
        }
    }
    ref_out *sum = add_out(r, "sum", SRC_SUM, c->dt, 1, 0, 2); /* test_bce: 2 ULP */
    sum->want[0] = lds_get(&tot);
    sum->unit[0] = ulp_at(c->dt, sum->want[0]);
}

static void make_ref(const smoke_case *c, smoke_ref *r)
{
    r->nout = 0;
    switch (c->fam) {
    case F_REDUCE: case F_MASKED: ref_reduce(c, r); break;
    case F_REDUCE2: ref_reduce2(c, r); break;
    case F_MAP: ref_map(c, r); break;
    case F_MAP2: ref_map2(c, r); break;
    case F_LOSS: case F_LOSS_GRAD: ref_ce(c, r); break;
    case F_ELEM: ref_bce(c, r); break;
    }
}

#endif /* SMOKE_REF_H */
