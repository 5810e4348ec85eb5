/* C-level test of the kernels without Python, for the platforms CI cannot
 * run the Python suite on: built by a cross compiler and run under an
 * emulator (tests/c/cross_aarch64.sh: qemu-user; tests/c/cross_mingw.sh:
 * Windows x86-64 under wine), and natively by .ci/cross as a check of the
 * test itself.
 *
 * Every op of every family (softmax, log_softmax, logsumexp, masked
 * softmax/log_softmax, the two backward reductions, relu, leaky_relu,
 * sigmoid and their backward maps, cross-entropy with index and
 * probability targets and its fused gradient, binary cross-entropy with
 * logits and its gradient), both dtypes, shapes from one element to past
 * the thread and long-row thresholds, last and non-last axes, special
 * values: checked against long double references (smoke_ref.h) with the
 * Python tests' bounds, at every kernel level the CPU runs.  With threads
 * (fa_threads_available()), each result must be bit-identical at 2, 3 and 8
 * threads (also with rounding upward set by the caller: the workers use the
 * caller's floating-point environment), the fused gradients' losses
 * bit-identical to the forward's, and several callers at once (the pool's
 * trylock path) must get the serial results.  Without threads, the count
 * must stay 1.
 *
 * Prints a summary of the runs and a table of the worst error of each output
 * (in its unit: ULP, or eps times the terms' size) against its bound;
 * exits 1 on any failure. */
#include <fenv.h>
#include <stdio.h>

#include "smoke_cases.h"
#include "smoke_ref.h"
#include "runtime/threads.h"
#include "runtime/threads_os.h"

/* ------------------------------------------------ bookkeeping */

typedef struct {
    char name[64];
    double bound, worst;
    long checks, fails;
} out_stat;
static out_stat stats[256];
static int nstats, failures;

static out_stat *stat_for(const char *name, double bound)
{
    for (int i = 0; i < nstats; i++)
        if (stats[i].bound == bound && strcmp(stats[i].name, name) == 0) return &stats[i];
    if (nstats == (int)(sizeof stats / sizeof stats[0])) abort();
    out_stat *s = &stats[nstats++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->bound = bound;
    return s;
}

static const char *dt_name(int dt) { return dt == FA_F32 ? "f32" : "f64"; }

static void fail(const smoke_case *c, int level, const char *msg)
{
    failures++;
    if (failures > 30) return;
    printf("FAIL %s %s (%lu, %lu, %lu) level %s: %s\n", c->name, dt_name(c->dt),
           (unsigned long)c->outer, (unsigned long)c->n, (unsigned long)c->inner,
           fa_level_name(level), msg);
}

/* the value a reference output checks, from a run's outputs */
static LD got_value(const ref_out *r, const smoke_out *o, int dt, size_t i, void *raw)
{
    double v;
    switch (r->src) {
    case SRC_Y: memcpy(raw, (char *)o->y + i * esize(dt), esize(dt)); return get(dt, o->y, i);
    case SRC_LOSS: memcpy(raw, (char *)o->loss + i * esize(dt), esize(dt)); return get(dt, o->loss, i);
    case SRC_SUM: v = o->sum; break;
    case SRC_WSUM: v = o->wsum; break;
    default: v = o->sum / o->wsum; break;
    }
    put(r->dt, raw, 0, v); /* the result as the Python layer returns it: rounded to dt */
    return get(r->dt, raw, 0);
}

static void check(const smoke_case *c, const smoke_ref *ref, const smoke_out *o, int level)
{
    for (int k = 0; k < ref->nout; k++) {
        const ref_out *r = &ref->out[k];
        char name[64];
        snprintf(name, sizeof name, "%s %s %s", c->name, dt_name(c->dt), r->what);
        double bound = r->bound[level];
        out_stat *st = stat_for(name, r->unit ? bound : 0);
        int dt = r->src == SRC_Y || r->src == SRC_LOSS ? c->dt : r->dt;
        for (size_t i = 0; i < r->len; i++) {
            unsigned char raw[8], want_raw[8];
            LD got = got_value(r, o, dt, i, raw), want = r->want[i];
            int ok;
            double err = 0;
            st->checks++;
            if (!r->unit) { /* exact: the same bits (any NaN for NaN) */
                put(r->dt, want_raw, 0, want);
                ok = isnan(want) ? isnan(got) : memcmp(raw, want_raw, esize(r->dt)) == 0;
            } else if (isnan(want)) {
                ok = isnan(got);
            } else if (isinf(want)) {
                ok = got == want;
            } else {
                LD d = fabsl(got - want);
                ok = isfinite(got) && d <= (LD)bound * r->unit[i] + r->tiny;
                err = r->unit[i] > 0 ? (double)(d / r->unit[i]) : d > 0 ? INFINITY : 0.0;
                if (err > st->worst) st->worst = err;
            }
            if (!ok) {
                st->fails++;
                char msg[200];
                snprintf(msg, sizeof msg, "%s[%lu] got %.17g want %.17g (%.3g units, bound %g)",
                         r->what, (unsigned long)i, (double)got, (double)want, err, bound);
                fail(c, level, msg);
            }
        }
    }
}

/* ------------------------------------------------ the cases */

static smoke_case *cases;
static int ncases, cap;

static smoke_case *add(const char *name, int fam, int op, int dt, size_t outer, size_t n,
                       size_t inner)
{
    if (ncases == cap) {
        cap = cap ? 2 * cap : 64;
        cases = realloc(cases, (size_t)cap * sizeof *cases);
        if (!cases) abort();
    }
    smoke_case *c = &cases[ncases++];
    memset(c, 0, sizeof *c);
    c->name = name;
    c->fam = fam;
    c->op = op;
    c->dt = dt;
    c->outer = outer;
    c->n = n;
    c->inner = inner;
    c->ignore = -100;
    c->g = 1.0;
    return c;
}

typedef struct {
    size_t outer, n, inner;
} shape;

/* shapes of the (outer, n, inner) reductions: vector tails, a non-last axis
 * with one and several chunks of columns, and, past the thread threshold
 * (16k elements), rows, chunks of columns and one long row (chunked) */
static const shape RED_SHAPES[] = {{1, 1, 1}, {3, 7, 1}, {5, 33, 1}, {2, 1000, 1},
                                   {4, 17, 5}, {3, 9, 300}, {40, 500, 1}, {1, 40, 700},
                                   {3, 30, 300}, {1, 140001, 1}};
#define NSHAPES(a) (sizeof(a) / sizeof((a)[0]))

/* softmax or log_softmax of random rows (the reference, rounded to dt):
 * the y inputs of the backward reductions */
static void *forward_output(int dt, int is_log, size_t outer, size_t n, size_t inner)
{
    smoke_case t = {0};
    t.fam = F_REDUCE;
    t.op = is_log ? FA_REDUCE_log_softmax : FA_REDUCE_softmax;
    t.dt = dt;
    t.outer = outer;
    t.n = n;
    t.inner = inner;
    t.x = random_array(dt, outer * n * inner, 3.0);
    smoke_ref r;
    make_ref(&t, &r);
    void *y = alloc(outer * n * inner, esize(dt));
    for (size_t i = 0; i < outer * n * inner; i++) put(dt, y, i, r.out[0].want[i]);
    free_ref(&r);
    free(t.x);
    return y;
}

static void *special_array(int dt, size_t len, double scale)
{
    static const double sp[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 100.0, -100.0, 1e-30,
                                -1e-30, 745.0, -745.0, 30.0, -30.0};
    void *p = random_array(dt, len, scale);
    for (size_t i = 0; i < len; i += 5) put(dt, p, i, sp[(i / 5) % (sizeof sp / sizeof sp[0])]);
    return p;
}

static void build_cases(void)
{
    static const char *red[] = {"softmax", "log_softmax", "logsumexp"};
    static const char *map[] = {"relu", "leaky_relu", "sigmoid"};
    static const char *map2[] = {"relu_backward", "leaky_relu_backward", "sigmoid_backward"};
    static const size_t lens[] = {1, 7, 33, 1000, 262147}; /* 2^18 + 3: split over the threads */
    for (int dt = 0; dt < FA_NUM_DTYPES; dt++) {
        for (int op = 0; op < FA_NUM_REDUCE; op++) {
            for (size_t s = 0; s < NSHAPES(RED_SHAPES); s++) {
                const shape *h = &RED_SHAPES[s];
                smoke_case *c = add(red[op], F_REDUCE, op, dt, h->outer, h->n, h->inner);
                c->x = random_array(dt, numel(c), 6.0);
            }
            smoke_case *c = add(red[op], F_REDUCE, op, dt, 6, 33, 1);
            c->x = random_array(dt, numel(c), 6.0);
            plant_specials(c);
            c = add(red[op], F_REDUCE, op, dt, 6, 20, 3);
            c->x = random_array(dt, numel(c), 6.0);
            plant_specials(c);
        }
        /* where=: a random full mask (group 1 with nothing kept, a NaN and
         * an inf where masked out), or one (n, inner) mask for every outer
         * index (lower-triangular: the causal mask) */
        static const shape mshapes[] = {{5, 33, 1}, {4, 17, 5}, {40, 500, 1}, {1, 40, 700},
                                        {6, 64, 1}, {3, 30, 300}, {2, 9, 4}};
        for (int op = 0; op < FA_NUM_MASKED; op++)
            for (size_t s = 0; s < NSHAPES(mshapes); s++) {
                const shape *h = &mshapes[s];
                int bcast = s >= 4;
                smoke_case *c = add(op ? "masked log_softmax" : "masked softmax", F_MASKED, op,
                                    dt, h->outer, h->n, h->inner);
                size_t len = numel(c), ml = bcast ? h->n * h->inner : len;
                c->x = random_array(dt, len, 6.0);
                c->mask = alloc(ml, 1);
                for (size_t i = 0; i < ml; i++) {
                    size_t row = (i / h->inner) % h->n, col = i % h->inner;
                    c->mask[i] = bcast ? row <= (col * 7 + row / 2) % h->n : uniform() < 0.7;
                }
                if (!bcast) {
                    for (size_t i = 0; i < ml; i++)
                        if (!c->mask[i] && i % 3 == 0) put(dt, c->x, i, i % 2 ? NAN : INFINITY);
                    if (h->outer > 1) memset(c->mask + h->n * h->inner, 0, h->n * h->inner);
                }
                c->mv.base = c->mask;
                c->mv.nd = 1;
                c->mv.dims[0] = h->outer;
                c->mv.strides[0] = bcast ? 0 : (ptrdiff_t)(h->n * h->inner);
                c->mv.sn = (ptrdiff_t)h->inner;
            }
        /* backward reductions: y a forward output (log_softmax's with some
         * positive entries: its exact path) */
        static const shape bshapes[] = {{1, 1, 1}, {3, 7, 1}, {5, 33, 1}, {2, 1000, 1},
                                        {4, 17, 5}, {3, 9, 300}, {40, 500, 1}, {1, 40, 700},
                                        {1, 20000, 1}};
        for (int op = 0; op < FA_NUM_REDUCE2; op++)
            for (size_t s = 0; s < NSHAPES(bshapes); s++) {
                const shape *h = &bshapes[s];
                smoke_case *c = add(op ? "log_softmax_backward" : "softmax_backward", F_REDUCE2,
                                    op, dt, h->outer, h->n, h->inner);
                c->x = random_array(dt, numel(c), 2.0);
                c->x2 = forward_output(dt, op == FA_REDUCE2_log_softmax_backward, h->outer, h->n,
                                       h->inner);
                if (op == FA_REDUCE2_log_softmax_backward)
                    for (size_t i = 3; i < numel(c); i += 97) put(dt, c->x2, i, 0.5);
            }
        for (int op = 0; op < FA_NUM_MAP; op++)
            for (size_t s = 0; s < NSHAPES(lens); s++) {
                smoke_case *c = add(map[op], F_MAP, op, dt, 1, lens[s], 1);
                c->x = special_array(dt, lens[s], 8.0);
                c->p = op == FA_MAP_leaky_relu ? 0.1 : 0.0;
            }
        for (int op = 0; op < FA_NUM_MAP2; op++)
            for (size_t s = 0; s < NSHAPES(lens); s++) {
                smoke_case *c = add(map2[op], F_MAP2, op, dt, 1, lens[s], 1);
                c->x = special_array(dt, lens[s], 2.0);
                if (op == FA_MAP2_sigmoid_backward) {
                    c->x2 = alloc(lens[s], esize(dt));
                    for (size_t i = 0; i < lens[s]; i++) put(dt, c->x2, i, uniform());
                } else {
                    c->x2 = special_array(dt, lens[s], 8.0);
                }
                c->p = op == FA_MAP2_leaky_relu_backward ? 0.3 : 0.0;
            }
        /* cross-entropy: (outer, C, inner); weights, label smoothing and
         * ignored labels; the fused gradient with a scale, per-sample
         * scales, and "mean" (divided by the weight sum) */
        static const shape lshapes[] = {{1, 5, 1}, {7, 33, 1}, {4, 10, 6}, {64, 300, 1},
                                        {8, 40, 60}};
        for (int fam = F_LOSS; fam <= F_LOSS_GRAD; fam++)
            for (int op = 0; op < FA_NUM_LOSS; op++)
                for (size_t s = 0; s < NSHAPES(lshapes); s++)
                    for (int v = 0; v < (fam == F_LOSS ? 2 : 3); v++) {
                        const shape *h = &lshapes[s];
                        static const char *nm[2][2] = {{"ce_index", "ce_prob"},
                                                       {"ce_index_grad", "ce_prob_grad"}};
                        smoke_case *c = add(nm[fam == F_LOSS_GRAD][op], fam, op, dt, h->outer,
                                            h->n, h->inner);
                        size_t S = h->outer * h->inner, C = h->n;
                        c->x = random_array(dt, numel(c), 3.0);
                        if (v != 1) {
                            c->weight = alloc(C, sizeof(double));
                            for (size_t j = 0; j < C; j++) c->weight[j] = 0.25 + uniform();
                        }
                        c->eps = v == 1 ? 0.1 : 0.0;
                        c->want_loss = v != 2;
                        if (op == FA_LOSS_ce_index) {
                            c->label = alloc(S, sizeof(int64_t));
                            for (size_t i = 0; i < S; i++)
                                c->label[i] = i % 7 == 3 ? -100 : (int64_t)(uniform() * (double)C);
                        } else {
                            c->x2 = alloc(numel(c), esize(dt));
                            for (size_t o = 0; o < h->outer; o++)
                                for (size_t k = 0; k < h->inner; k++) {
                                    double tot = 0, *q = alloc(C, sizeof(double));
                                    for (size_t j = 0; j < C; j++) tot += q[j] = uniform();
                                    for (size_t j = 0; j < C; j++)
                                        put(dt, c->x2, (o * C + j) * h->inner + k, q[j] / tot);
                                    free(q);
                                }
                        }
                        if (fam == F_LOSS_GRAD) {
                            c->g = v == 0 ? 1.5 : v == 1 ? 1.0 : 0.5;
                            c->divide = v == 1 && op == FA_LOSS_ce_index;
                            if (v == 2) {
                                c->gvec_d = alloc(S, sizeof(double));
                                for (size_t i = 0; i < S; i++) c->gvec_d[i] = normalish();
                            }
                        }
                    }
        /* binary cross-entropy: rows of C; no weights, (C,) weights with a
         * full pos_weight, and the gradient with per-element scales */
        static const shape eshapes[] = {{1, 1, 1}, {3, 7, 1}, {9, 33, 1}, {80, 250, 1}};
        for (size_t s = 0; s < NSHAPES(eshapes); s++)
            for (int v = 0; v < 4; v++) {
                const shape *h = &eshapes[s];
                smoke_case *c = add(v < 2 ? "bce_logits" : "bce_logits_grad", F_ELEM,
                                    FA_ELEM_LOSS_bce_logits, dt, h->outer, h->n, 1);
                size_t len = numel(c), C = h->n;
                c->x = random_array(dt, len, 4.0);
                for (size_t i = 0; i < len; i += 11) put(dt, c->x, i, i % 2 ? 30.0 : -30.0);
                c->x2 = alloc(len, esize(dt));
                for (size_t i = 0; i < len; i++)
                    put(dt, c->x2, i, i % 13 == 0 ? 0.0 : i % 13 == 1 ? 1.0 : uniform());
                if (v % 2) {
                    c->w = alloc(C, esize(dt));
                    for (size_t j = 0; j < C; j++) put(dt, c->w, j, 0.25 + uniform());
                    c->w_col = 1;
                    c->pw = alloc(len, esize(dt));
                    for (size_t i = 0; i < len; i++) put(dt, c->pw, i, 3 * (0.25 + uniform()));
                    c->p_row = C;
                    c->p_col = 1;
                }
                c->with_grad = v >= 2;
                c->want_loss = v != 3;
                c->g = 0.75;
                if (v == 3) c->gvec = random_array(dt, len, 1.0);
            }
    }
}

/* ------------------------------------------------ several callers at once */

#if FA_THREADS_OS
typedef struct {
    int mismatches;
    smoke_out *expected;      /* per case, at the level in use */
    fa_fpstate fp;            /* the main thread's floating-point control state */
} caller_job;

static fa_mutex join_lock = FA_MUTEX_INIT;
static fa_cond join_cond = FA_COND_INIT;
static int callers_done;

FA_THREAD_FN(caller_main, arg)
{
    caller_job *j = (caller_job *)arg;
    /* a new thread starts in the system's floating-point state (Windows: x87
     * at 53 bits, where mingw's main thread has 64 and its log1p uses it):
     * the callers compute as the main thread did */
    fa_fp_set(&j->fp);
    for (int rep = 0; rep < 3; rep++)
        for (int i = 0; i < ncases; i++) {
            if (!j->expected[i].y && !j->expected[i].loss) continue;
            smoke_out o;
            run_case(&cases[i], &o);
            if (!same_out(&cases[i], &o, &j->expected[i])) j->mismatches++;
            free_out(&o);
        }
    fa_mutex_lock(&join_lock);
    callers_done++;
    fa_cond_signal(&join_cond);
    fa_mutex_unlock(&join_lock);
    return FA_THREAD_RETURN;
}

/* CALLERS threads run every large case 3 times on the pool (2 threads) at
 * once: only one call at a time gets the workers, the others run alone;
 * every result must be the serial one. */
#define CALLERS 4
static void concurrent_callers(smoke_out *expected, int level)
{
    caller_job jobs[CALLERS];
    fa_set_num_threads(2);
    callers_done = 0;
    for (int t = 0; t < CALLERS; t++) {
        jobs[t].mismatches = 0;
        jobs[t].expected = expected;
        fa_fp_get(&jobs[t].fp);
        if (fa_thread_start(caller_main, &jobs[t]) != 0) {
            printf("FAIL: cannot start a caller thread\n");
            failures++;
            return;
        }
    }
    fa_mutex_lock(&join_lock);
    while (callers_done < CALLERS) fa_cond_wait(&join_cond, &join_lock);
    fa_mutex_unlock(&join_lock);
    int bad = 0;
    for (int t = 0; t < CALLERS; t++) bad += jobs[t].mismatches;
    printf("%d callers at once, level %s, 2 threads: %d results differ from the serial ones\n",
           CALLERS, fa_level_name(level), bad);
    failures += bad;
}
#endif

/* The workers compute in the caller's floating-point environment: with
 * rounding upward set in the caller after the workers were created, every
 * large case must give the same bits at 1 and 2 threads. */
static long caller_fenv_check(void)
{
    long differ = 0, ran = 0;
    fesetround(FE_UPWARD);
    for (int i = 0; i < ncases; i++) {
        if (numel(&cases[i]) < ((size_t)1 << 14)) continue;
        smoke_out a, b;
        fa_set_num_threads(1);
        run_case(&cases[i], &a);
        fa_set_num_threads(2);
        run_case(&cases[i], &b);
        ran++;
        if (!same_out(&cases[i], &a, &b)) {
            differ++;
            fail(&cases[i], fa_get_level(), "rounding upward: 2 threads change the result");
        }
        free_out(&a);
        free_out(&b);
    }
    fesetround(FE_TONEAREST);
    printf("rounding upward set by the caller: %ld of %ld large cases differ at 2 threads\n",
           differ, ran);
    return differ;
}

/* ------------------------------------------------ main */

static int thread_counts[] = {1, 2, 3, 8};

int main(void)
{
    int best = fa_init(NULL);
    int levels[FA_NUM_LEVELS], nlev = 0;
    for (int l = 0; l < FA_NUM_LEVELS; l++)
        if (fa_set_level(l) == l) levels[nlev++] = l;
    int threads = fa_threads_available();
    int ncounts = threads ? 4 : 1;
    printf("fastact C smoke test: levels compiled: %s; this CPU: %s; threads: %s\n",
           fa_compiled_levels(), fa_level_name(best), threads ? "yes" : "no (serial build)");

    /* the thread count's contract (threads.h) */
    fa_set_num_threads(4);
    int got4 = fa_get_num_threads();
    fa_set_num_threads(1000);
    int got_big = fa_get_num_threads();
    fa_set_num_threads(0);
    int got0 = fa_get_num_threads();
    if (threads ? (got4 != 4 || got_big != FA_MAX_THREADS || got0 != 1) : (got4 | got_big | got0) != 1) {
        printf("FAIL: thread counts set 4, 1000, 0 read back as %d, %d, %d\n", got4, got_big, got0);
        failures++;
    }

    build_cases();
    smoke_out *expected = alloc((size_t)ncases, sizeof(smoke_out));
    long runs = 0, differ = 0, fwd_differ = 0;
    for (int i = 0; i < ncases; i++) {
        smoke_case *c = &cases[i];
        smoke_ref ref;
        make_ref(c, &ref);
        int big = numel(c) >= ((size_t)1 << 14);
        for (int li = 0; li < nlev; li++) {
            fa_set_level(levels[li]);
            fa_set_num_threads(1);
            smoke_out one;
            run_case(c, &one);
            runs++;
            check(c, &ref, &one, levels[li]);
            if (c->fam == F_LOSS_GRAD && c->want_loss) {
                /* the fused gradient's losses are the forward's, bit for bit */
                smoke_case f = *c;
                f.fam = F_LOSS;
                smoke_out fo;
                run_case(&f, &fo);
                if (memcmp(fo.loss, one.loss, nloss_of(c) * esize(c->dt)) != 0
                    || fo.sum != one.sum || fo.wsum != one.wsum) {
                    fwd_differ++;
                    fail(c, levels[li], "the losses differ from the forward's");
                }
                free_out(&fo);
            }
            for (int t = 1; t < ncounts; t++) {
                fa_set_num_threads(thread_counts[t]);
                smoke_out o;
                run_case(c, &o);
                runs++;
                if (!same_out(c, &o, &one)) {
                    differ++;
                    char msg[64];
                    snprintf(msg, sizeof msg, "%d threads change the result", thread_counts[t]);
                    fail(c, levels[li], msg);
                }
                free_out(&o);
            }
            if (big && levels[li] == best) expected[i] = one;
            else free_out(&one);
        }
        free_ref(&ref);
    }
    printf("%d cases x %d levels (%s", ncases, nlev, fa_level_name(levels[0]));
    for (int li = 1; li < nlev; li++) printf(" %s", fa_level_name(levels[li]));
    printf(") x threads");
    for (int t = 0; t < ncounts; t++) printf(" %d", thread_counts[t]);
    printf(": %ld runs; results changed by the thread count: %ld, fused losses differing "
           "from the forward's: %ld\n", runs, differ, fwd_differ);
    if (threads) {
        fa_set_level(best);
        caller_fenv_check();
#if FA_THREADS_OS
        concurrent_callers(expected, best);
#endif
    }
    printf("%-34s %8s %10s %10s %6s\n", "output", "checks", "worst", "bound", "fails");
    for (int i = 0; i < nstats; i++)
        printf("%-34s %8ld %10.4g %10.4g %6ld\n", stats[i].name, stats[i].checks, stats[i].worst,
               stats[i].bound, stats[i].fails);
    for (int i = 0; i < ncases; i++) {
        free_out(&expected[i]);
        free_case(&cases[i]);
    }
    free(expected);
    free(cases);
    printf(failures ? "%d failures\n" : "all good\n", failures);
    return failures != 0;
}
