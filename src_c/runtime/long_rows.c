/* softmax, log_softmax and logsumexp over contiguous rows too long for the
 * cache (FA_LONG_ROW_BYTES and up; a single row is what axis=None gives).
 * Done row by row as before, a long row would be read from memory three
 * times and on one core only.  Here it is split into chunks that fit in L2,
 * and the work on chunks is spread over the thread pool:
 *   pass 1 (per chunk): m_c = max, s_c = sum exp(x - m_c) with the exact
 *          reduction of reduce_impl.h; softmax also stores exp(x - m_c) in y
 *          (the chunk is still in cache for this second read);
 *   combine (serial, double-double): M = max m_c and
 *          s - 1 = sum_c s_c exp(m_c - M) - 1, with the chunks whose max is M
 *          adding exact ones (no cancellation, as in reduce_impl.h);
 *   pass 2 (per chunk): softmax y *= exp(m_c - M) / s (one rounding:
 *          the factor is rounded to double once); log_softmax
 *          y = (x - M) - log1p(s - 1); logsumexp has no pass 2.
 * softmax reads x once and y once, one exponential per element; log_softmax
 * reads x twice.  Chunks depend on n only and the combine runs in order, so
 * results are bit-identical for any thread count.  No allocation: the
 * per-chunk numbers live on this stack frame (at most FA_MAX_CHUNKS chunks;
 * beyond that the chunks grow). */
#include "kernels.h"
#include "simd/dd_math.h"
#include "threads.h"

#define FA_CHUNK_BYTES ((size_t)1 << 16)
#define FA_MAX_CHUNKS 1024

typedef struct {
    const fa_long_row_fns *f;
    const fa_kernels *k; /* the whole-row fallback */
    int op;
    const char *x;
    char *y;
    size_t n, chunk, esize;
    double *m, *v; /* per chunk: max; s - 1 after pass 1, factor for pass 2 */
    double M, L;
} long_job;

static void chunk_span(const long_job *j, size_t c, size_t *off, size_t *len)
{
    *off = c * j->chunk;
    *len = j->n - *off < j->chunk ? j->n - *off : j->chunk;
}

static void pass_stats(void *ctx, size_t b, size_t e)
{
    const long_job *j = (const long_job *)ctx;
    for (size_t c = b; c < e; c++) {
        size_t off, len;
        chunk_span(j, c, &off, &len);
        const void *x = j->x + off * j->esize;
        void *y = j->op == FA_REDUCE_softmax ? j->y + off * j->esize : NULL;
        j->f->stats(x, y, len, &j->m[c], &j->v[c]);
    }
}

static void pass_out(void *ctx, size_t b, size_t e)
{
    const long_job *j = (const long_job *)ctx;
    for (size_t c = b; c < e; c++) {
        size_t off, len;
        chunk_span(j, c, &off, &len);
        const void *x = j->x + off * j->esize;
        void *y = j->y + off * j->esize;
        if (j->op == FA_REDUCE_log_softmax)
            j->f->log_softmax_out(x, y, len, j->M, j->L);
        else if (j->m[c] == -INFINITY) /* left unwritten by pass 1 */
            j->f->exp_scale(x, y, len, j->M, j->v[c]);
        else
            j->f->scale(y, len, j->v[c]);
    }
}

/* s - 1 over the row from the chunks' (m_c, s_c - 1), M = max m_c finite;
 * leaves exp(m_c - M) in (v, w).  A NaN anywhere makes it NaN. */
static fa_dd combine(const double *m, double *v, double *w, size_t nc, double M)
{
    fa_dd acc = {-1.0, 0.0};
    for (size_t c = 0; c < nc; c++) {
        fa_dd sm1 = {v[c], 0.0}, E = {1.0, 0.0};
        if (m[c] != M) {
            /* exp(hi + lo) = exp(hi) (1 + lo): libm's exp is within ~0.5 ULP,
             * so the factors of pass 2 are within ~1 ULP of double (0 for
             * an all -inf chunk, whose s_c is 0) */
            double lo, hi = fa_two_diff(m[c], M, &lo);
            E.hi = exp(hi);
            E.lo = E.hi * lo;
        }
        acc = fa_dd_add(acc, fa_dd_add(E, fa_dd_mul(E, sm1)));
        v[c] = E.hi;
        w[c] = E.lo;
    }
    return acc;
}

/* The row kernel on the whole row (softmax or log_softmax), serially: for
 * the rows whose max is not finite. */
static void whole_row(const long_job *j, const char *x, char *y)
{
    j->k->reduce[j->op](x, y, 1, j->n, 1);
}

static void long_row(long_job *j, const char *x, char *y)
{
    double w[FA_MAX_CHUNKS];
    size_t nc = (j->n + j->chunk - 1) / j->chunk;
    j->x = x;
    j->y = y;
    fa_parallel_for(nc, pass_stats, j);
    double M = -INFINITY;
    for (size_t c = 0; c < nc; c++) M = j->m[c] > M ? j->m[c] : M;
    j->M = M;
    if (j->op == FA_REDUCE_logsumexp) { /* finished over the whole row (x intact) */
        double sm1 = isfinite(M) ? fa_dd_value(combine(j->m, j->v, w, nc, M)) : (double)NAN;
        j->f->logsumexp_finish(x, j->n, M, sm1, y);
        return;
    }
    if (!isfinite(M)) {
        if (j->op == FA_REDUCE_log_softmax || M == -INFINITY) {
            /* nothing written yet (log_softmax writes only in pass 2; an all
             * -inf/NaN row left every chunk alone): the row kernel's rules */
            whole_row(j, x, y);
            return;
        }
        /* softmax with M = +inf: the whole row is NaN, as row by row */
        for (size_t c = 0; c < nc; c++) j->v[c] = NAN;
        fa_parallel_for(nc, pass_out, j);
        return;
    }
    fa_dd sm1 = combine(j->m, j->v, w, nc, M);
    if (j->op == FA_REDUCE_log_softmax) {
        j->L = log1p(fa_dd_value(sm1));
    } else {
        fa_dd one = {1.0, 0.0}, s = fa_dd_add(one, sm1);
        for (size_t c = 0; c < nc; c++) {
            fa_dd E = {j->v[c], w[c]};
            if (j->m[c] == -INFINITY) E = one; /* pass 2 forms exp(x - M) itself */
            j->v[c] = fa_dd_div(E, s).hi;
        }
    }
    fa_parallel_for(nc, pass_out, j);
}

void fa_reduce_long_row(const fa_kernels *k, int op, const void *x, void *y, size_t n)
{
    double m[FA_MAX_CHUNKS], v[FA_MAX_CHUNKS];
    long_job j = {k->long_row, k, op, NULL, NULL, n, 0, k->esize, m, v, 0.0, 0.0};
    size_t chunk = FA_CHUNK_BYTES / j.esize, least = (n + FA_MAX_CHUNKS - 1) / FA_MAX_CHUNKS;
    if (chunk < least) chunk = (least + 63) / 64 * 64; /* whole cache lines */
    j.chunk = chunk;
    long_row(&j, (const char *)x, (char *)y);
}
