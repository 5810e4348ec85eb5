/* Entry points used by the binding: run a kernel from the tables, split
 * across the thread pool (threads.h) when the array is large enough to pay
 * for waking the workers.  Work is split by rows of the (outer, n, inner)
 * view (or by blocks of a flat array), so every element is computed by the
 * same code whatever the thread count: results are bit-identical.  The
 * cross-entropy sums are formed per fixed block of rows (sizes from the
 * shape only) and the blocks added in order, for the same reason. */
#include "fastact.h"
#include "fa_math.h"
#include "threads.h"

/* Below these element counts one thread does it all. */
#define FA_PAR_MIN_REDUCE ((size_t)1 << 14)
#define FA_PAR_MIN_RELU ((size_t)1 << 18)
#define FA_RELU_BLOCK ((size_t)1 << 14) /* elements per relu block (64-byte multiple) */
#define FA_CE_BLOCK_ELEMS ((size_t)1 << 15)
#define FA_CE_MAX_BLOCKS 1024

typedef struct {
    int op, f64;
    const void *x;
    void *y;
    size_t n, inner;
} reduce_job;

static void reduce_rows(void *ctx, size_t b, size_t e)
{
    const reduce_job *j = (const reduce_job *)ctx;
    size_t xoff = b * j->n * j->inner;
    size_t yoff = j->op == FA_OP_LOGSUMEXP ? b * j->inner : xoff;
    if (j->f64) {
        const double *x = (const double *)j->x + xoff;
        double *y = (double *)j->y + yoff;
        if (j->op == FA_OP_SOFTMAX) fa_f64.softmax(x, y, e - b, j->n, j->inner);
        else if (j->op == FA_OP_LOG_SOFTMAX) fa_f64.log_softmax(x, y, e - b, j->n, j->inner);
        else fa_f64.logsumexp(x, y, e - b, j->n, j->inner);
    } else {
        const float *x = (const float *)j->x + xoff;
        float *y = (float *)j->y + yoff;
        if (j->op == FA_OP_SOFTMAX) fa_f32.softmax(x, y, e - b, j->n, j->inner);
        else if (j->op == FA_OP_LOG_SOFTMAX) fa_f32.log_softmax(x, y, e - b, j->n, j->inner);
        else fa_f32.logsumexp(x, y, e - b, j->n, j->inner);
    }
}

/* Reductions over a non-last axis are split by (outer index, chunk of
 * FA_CHUNK columns), so that a single outer index (axis 0 of a matrix) is
 * spread over the threads too when it has several chunks.  Each column is
 * computed the same way whatever the split (its sums run over its own rows,
 * in order).  Narrower blocks would spread axis 0 of (32000, 256) too, but
 * measured 5x slower on one thread: long columns need whole chunks. */
static void reduce_col_chunks(void *ctx, size_t b, size_t e)
{
    const reduce_job *j = (const reduce_job *)ctx;
    size_t nch = (j->inner + FA_CHUNK - 1) / FA_CHUNK;
    for (size_t u = b; u < e; u++) {
        size_t o = u / nch, c0 = (u % nch) * FA_CHUNK;
        size_t c1 = c0 + FA_CHUNK < j->inner ? c0 + FA_CHUNK : j->inner;
        size_t xoff = o * j->n * j->inner, yoff = j->op == FA_OP_LOGSUMEXP ? o * j->inner : xoff;
        if (j->f64)
            fa_f64.cols_range[j->op]((const double *)j->x + xoff, (double *)j->y + yoff, j->n,
                                     j->inner, c0, c1);
        else
            fa_f32.cols_range[j->op]((const float *)j->x + xoff, (float *)j->y + yoff, j->n,
                                     j->inner, c0, c1);
    }
}

void fa_reduce(int op, int f64, const void *x, void *y, size_t outer, size_t n, size_t inner)
{
    if (outer == 1 && inner == 1 && n * (f64 ? sizeof(double) : sizeof(float)) >= FA_LONG_ROW_BYTES) {
        fa_reduce_long_row(op, f64, x, y, n);
        return;
    }
    reduce_job j = {op, f64, x, y, n, inner};
    if (inner > 1 && outer * n * inner >= FA_PAR_MIN_REDUCE) {
        size_t units = outer * ((inner + FA_CHUNK - 1) / FA_CHUNK);
        if (units > 1) {
            fa_parallel_for(units, reduce_col_chunks, &j);
            return;
        }
    }
    if (outer < 2 || outer * n * inner < FA_PAR_MIN_REDUCE)
        reduce_rows(&j, 0, outer);
    else
        fa_parallel_for(outer, reduce_rows, &j);
}

typedef struct {
    int f64;
    const void *x;
    void *y;
    size_t len;
} relu_job;

static void relu_blocks(void *ctx, size_t b, size_t e)
{
    const relu_job *j = (const relu_job *)ctx;
    size_t lo = b * FA_RELU_BLOCK, hi = e * FA_RELU_BLOCK;
    if (hi > j->len) hi = j->len;
    if (j->f64) fa_f64.relu((const double *)j->x + lo, (double *)j->y + lo, hi - lo);
    else fa_f32.relu((const float *)j->x + lo, (float *)j->y + lo, hi - lo);
}

void fa_relu(int f64, const void *x, void *y, size_t len)
{
    relu_job j = {f64, x, y, len};
    size_t blocks = (len + FA_RELU_BLOCK - 1) / FA_RELU_BLOCK;
    if (len < FA_PAR_MIN_RELU) relu_blocks(&j, 0, blocks);
    else fa_parallel_for(blocks, relu_blocks, &j);
}

typedef struct {
    int f64, prob;
    const void *x, *p;
    const int64_t *label;
    const double *weight;
    size_t outer, C, inner, rows_per_block;
    int64_t ignore_index;
    double eps;
    void *loss;
    double *block_sum, *block_wsum;
} ce_job;

static void ce_blocks(void *ctx, size_t b, size_t e)
{
    const ce_job *j = (const ce_job *)ctx;
    for (size_t blk = b; blk < e; blk++) {
        size_t r0 = blk * j->rows_per_block, r1 = r0 + j->rows_per_block;
        if (r1 > j->outer) r1 = j->outer;
        size_t xo = r0 * j->C * j->inner, so = r0 * j->inner, rows = r1 - r0;
        double *s = &j->block_sum[blk], *w = &j->block_wsum[blk];
        if (j->f64) {
            double *loss = j->loss ? (double *)j->loss + so : NULL;
            if (j->prob)
                fa_f64.ce_prob((const double *)j->x + xo, (const double *)j->p + xo, j->weight,
                               rows, j->C, j->inner, j->eps, loss, s);
            else
                fa_f64.ce_index((const double *)j->x + xo, j->label + so, j->weight, rows, j->C,
                                j->inner, j->ignore_index, j->eps, loss, s, w);
        } else {
            float *loss = j->loss ? (float *)j->loss + so : NULL;
            if (j->prob)
                fa_f32.ce_prob((const float *)j->x + xo, (const float *)j->p + xo, j->weight,
                               rows, j->C, j->inner, j->eps, loss, s);
            else
                fa_f32.ce_index((const float *)j->x + xo, j->label + so, j->weight, rows, j->C,
                                j->inner, j->ignore_index, j->eps, loss, s, w);
        }
    }
}

void fa_cross_entropy(int f64, const void *x, const void *p, const int64_t *label,
                      const double *weight, size_t outer, size_t C, size_t inner,
                      int64_t ignore_index, double eps, void *loss, double *sum, double *wsum)
{
    double bs[FA_CE_MAX_BLOCKS], bw[FA_CE_MAX_BLOCKS];
    size_t row = C * inner;
    if (row == 0) row = 1;
    size_t rpb = FA_CE_BLOCK_ELEMS / row;
    if (rpb < 1) rpb = 1;
    if ((outer + rpb - 1) / rpb > FA_CE_MAX_BLOCKS) rpb = (outer + FA_CE_MAX_BLOCKS - 1) / FA_CE_MAX_BLOCKS;
    size_t blocks = outer ? (outer + rpb - 1) / rpb : 0;
    ce_job j = {f64, p != NULL, x, p, label, weight, outer, C, inner, rpb, ignore_index, eps,
                loss, bs, bw};
    for (size_t i = 0; i < blocks; i++) bs[i] = bw[i] = 0.0;
    if (outer * row < FA_PAR_MIN_REDUCE) ce_blocks(&j, 0, blocks);
    else fa_parallel_for(blocks, ce_blocks, &j);
    double s = 0.0, sc = 0.0, w = 0.0, wc = 0.0;
    for (size_t i = 0; i < blocks; i++) {
        fa_acc(&s, &sc, bs[i]);
        fa_acc(&w, &wc, bw[i]);
    }
    *sum = fa_acc_value(s, sc);
    *wsum = fa_acc_value(w, wc);
}
