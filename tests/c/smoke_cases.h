/* The cases of tests/c/smoke.c: one op of one family on one dtype and shape,
 * its inputs (made here, deterministically, without libm so that every
 * platform tests the same numbers) and how to run it through the public
 * entry points of include/fastact.h into freshly allocated outputs. */
#ifndef SMOKE_CASES_H
#define SMOKE_CASES_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastact.h"

enum { F_REDUCE, F_MASKED, F_REDUCE2, F_MAP, F_MAP2, F_LOSS, F_LOSS_GRAD, F_ELEM };

typedef struct {
    const char *name;         /* op name, for messages */
    int fam, op, dt;
    /* (outer, n, inner) view; maps: len = outer * n * inner; losses: n = C;
     * element-wise losses: outer rows of C = n elements, inner = 1 */
    size_t outer, n, inner;
    void *x, *x2;             /* x; second input: g / y / probabilities / targets */
    double p;                 /* map parameter (slope) */
    uint8_t *mask;            /* masked: full (x's shape) or (n, inner) broadcast */
    fa_mask_view mv;
    int64_t *label;           /* ce_index */
    int64_t ignore;
    double *weight;           /* cross-entropy class weights (C) or NULL */
    void *w, *pw;             /* bce weights, pos_weights (dt), NULL: none */
    size_t w_row, w_col, p_row, p_col;
    double eps;               /* label smoothing */
    double g;                 /* gradient scale */
    double *gvec_d;           /* loss_grad: per-sample scales or NULL */
    void *gvec;               /* bce: per-element scales (dt) or NULL */
    int divide, want_loss, with_grad;
} smoke_case;

typedef struct {
    void *y;                  /* main output (ny elements of dt) or NULL */
    void *loss;               /* per-sample / per-element losses or NULL */
    double sum, wsum;
} smoke_out;

static size_t esize(int dt) { return dt == FA_F32 ? 4 : 8; }
static size_t numel(const smoke_case *c) { return c->outer * c->n * c->inner; }

/* elements of y: x's shape, or one per (outer, inner) group (logsumexp) */
static size_t ny_of(const smoke_case *c)
{
    if (c->fam == F_REDUCE && !fa_reduce_keeps_shape(c->op)) return c->outer * c->inner;
    if (c->fam == F_LOSS) return 0;
    if (c->fam == F_ELEM && !c->with_grad) return 0;
    return numel(c);
}

static size_t nloss_of(const smoke_case *c)
{
    if (c->fam == F_LOSS || c->fam == F_LOSS_GRAD) return c->want_loss ? c->outer * c->inner : 0;
    if (c->fam == F_ELEM) return c->want_loss ? numel(c) : 0;
    return 0;
}

/* ------------------------------------------------------------- inputs */

/* xorshift64*: uniform in [0, 1) */
static uint64_t rng_state = 88172645463325252ull;
static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1p-53;
}
/* about N(0, 1): a sum of four uniforms, rescaled (no libm) */
static double normalish(void)
{
    return (uniform() + uniform() + uniform() + uniform() - 2.0) * 1.7320508075688772;
}

static void *alloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    if (!p) abort();
    return p;
}

static void put(int dt, void *p, size_t i, long double v)
{
    if (dt == FA_F32) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = (double)v;
}

static long double get(int dt, const void *p, size_t i)
{
    return dt == FA_F32 ? (long double)((const float *)p)[i] : (long double)((const double *)p)[i];
}

static void *random_array(int dt, size_t len, double scale)
{
    void *p = alloc(len, esize(dt));
    for (size_t i = 0; i < len; i++) put(dt, p, i, normalish() * scale);
    return p;
}

/* Rows (of the last axis when inner == 1) with the special values of the
 * spec, in the first groups of x: NaN, +inf, all -inf, some -inf, one
 * dominant entry, all equal. */
static void plant_specials(smoke_case *c)
{
    size_t n = c->n, in = c->inner;
    size_t groups = c->outer < 6 ? c->outer : 6;
    for (size_t o = 0; o < groups; o++)
        for (size_t i = 0; i < n; i++) {
            size_t j = (o * n + i) * in; /* column 0 of outer index o */
            switch (o) {
            case 0: if (i == n / 2) put(c->dt, c->x, j, NAN); break;
            case 1: if (i == n / 3) put(c->dt, c->x, j, INFINITY); break;
            case 2: put(c->dt, c->x, j, -INFINITY); break;
            case 3: if (i % 3 == 1) put(c->dt, c->x, j, -INFINITY); break;
            case 4: put(c->dt, c->x, j, i == 1 ? 60.0 : normalish()); break;
            case 5: put(c->dt, c->x, j, 0.75); break;
            }
        }
}

/* ----------------------------------------------------------------- run */

static void run_case(const smoke_case *c, smoke_out *o)
{
    size_t ny = ny_of(c), nl = nloss_of(c);
    o->y = ny ? alloc(ny, esize(c->dt)) : NULL;
    o->loss = nl ? alloc(nl, esize(c->dt)) : NULL;
    o->sum = o->wsum = 0.0;
    switch (c->fam) {
    case F_REDUCE:
        fa_reduce(c->op, c->dt, c->x, o->y, c->outer, c->n, c->inner);
        break;
    case F_MASKED:
        fa_masked_reduce(c->op, c->dt, c->x, o->y, &c->mv, c->outer, c->n, c->inner);
        break;
    case F_REDUCE2:
        fa_reduce2(c->op, c->dt, c->x, c->x2, o->y, c->outer, c->n, c->inner);
        break;
    case F_MAP:
        fa_map(c->op, c->dt, c->x, o->y, numel(c), c->p);
        break;
    case F_MAP2:
        fa_map2(c->op, c->dt, c->x, c->x2, o->y, numel(c), c->p);
        break;
    case F_LOSS:
        fa_loss(c->op, c->dt, c->x, c->x2, c->label, c->weight, c->outer, c->n, c->inner,
                c->ignore, c->eps, o->loss, &o->sum, &o->wsum);
        break;
    case F_LOSS_GRAD:
        fa_loss_grad(c->op, c->dt, c->x, c->x2, c->label, c->weight, c->outer, c->n, c->inner,
                     c->ignore, c->eps, c->g, c->gvec_d, c->divide, o->y, o->loss, &o->sum,
                     &o->wsum);
        break;
    case F_ELEM:
        fa_elem_loss(c->op, c->dt, c->x, c->x2, c->w, c->w_row, c->w_col, c->pw, c->p_row,
                     c->p_col, c->n, numel(c), c->g, c->gvec, c->with_grad ? o->y : NULL,
                     o->loss, &o->sum);
        break;
    }
}

static void free_out(smoke_out *o)
{
    free(o->y);
    free(o->loss);
    o->y = o->loss = NULL;
}

/* the outputs of two runs of c are the same bits */
static int same_out(const smoke_case *c, const smoke_out *a, const smoke_out *b)
{
    size_t es = esize(c->dt);
    if (a->y && memcmp(a->y, b->y, ny_of(c) * es) != 0) return 0;
    if (a->loss && memcmp(a->loss, b->loss, nloss_of(c) * es) != 0) return 0;
    return memcmp(&a->sum, &b->sum, sizeof a->sum) == 0
           && memcmp(&a->wsum, &b->wsum, sizeof a->wsum) == 0;
}

static void free_case(smoke_case *c)
{
    free(c->x);
    free(c->x2);
    free(c->mask);
    free(c->label);
    free(c->weight);
    free(c->w);
    free(c->pw);
    free(c->gvec_d);
    free(c->gvec);
}

#endif /* SMOKE_CASES_H */
