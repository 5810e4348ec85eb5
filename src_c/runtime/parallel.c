/* Entry points used by the binding: run a kernel from the tables, split
 * across the thread pool (threads.h) when the array is large enough to pay
 * for waking the workers.  Work is split by rows of the (outer, n, inner)
 * view (or by blocks of a flat array), so every element is computed by the
 * same code whatever the thread count: results are bit-identical.  The
 * loss sums are formed per fixed block of rows (sizes from the shape only)
 * and the blocks added in order, for the same reason.  The kernels come from
 * the table of the arrays' dtype (runtime/kernels.h). */
#include "kernels.h"
#include "simd/fa_math.h"
#include "threads.h"

/* Below these element counts one thread does it all. */
#define FA_PAR_MIN_REDUCE ((size_t)1 << 14)
#define FA_PAR_MIN_MAP ((size_t)1 << 18)
#define FA_MAP_BLOCK ((size_t)1 << 14) /* elements per map block (64-byte multiple) */
#define FA_CE_BLOCK_ELEMS ((size_t)1 << 15)
#define FA_CE_MAX_BLOCKS 1024

/* One job of the pool: a kernel table and the arrays (as bytes). */
typedef struct {
    const fa_kernels *k;
    int op, keeps_shape;
    const char *x;
    char *y;
    size_t n, inner;
    /* two-input reductions (fa_reduce2): the second input, x's layout; the
     * kernels are then reduce2/cols2[op] (x = g, x2 = y, y = out) */
    const char *x2;
} reduce_job;

static void reduce_rows(void *ctx, size_t b, size_t e)
{
    const reduce_job *j = (const reduce_job *)ctx;
    size_t xoff = b * j->n * j->inner;
    size_t yoff = j->keeps_shape ? xoff : b * j->inner;
    if (j->x2) {
        j->k->reduce2[j->op](j->x + xoff * j->k->esize, j->x2 + xoff * j->k->esize,
                             j->y + yoff * j->k->esize, e - b, j->n, j->inner);
        return;
    }
    j->k->reduce[j->op](j->x + xoff * j->k->esize, j->y + yoff * j->k->esize, e - b, j->n,
                        j->inner);
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
        size_t xoff = o * j->n * j->inner;
        size_t yoff = j->keeps_shape ? xoff : o * j->inner;
        if (j->x2) {
            j->k->cols2[j->op](j->x + xoff * j->k->esize, j->x2 + xoff * j->k->esize,
                               j->y + yoff * j->k->esize, j->n, j->inner, c0, c1);
            continue;
        }
        j->k->cols[j->op](j->x + xoff * j->k->esize, j->y + yoff * j->k->esize, j->n, j->inner,
                          c0, c1);
    }
}

static void run_reduce(reduce_job *j, size_t outer);

void fa_reduce(int op, int dtype, const void *x, void *y, size_t outer, size_t n, size_t inner)
{
    const fa_kernels *k = fa_active[dtype];
    if (outer == 1 && inner == 1 && n * k->esize >= FA_LONG_ROW_BYTES) {
        fa_reduce_long_row(k, op, x, y, n);
        return;
    }
    reduce_job j = {k, op, fa_reduce_keeps_shape(op), (const char *)x, (char *)y, n, inner, NULL};
    run_reduce(&j, outer);
}

void fa_reduce2(int op, int dtype, const void *g, const void *y, void *out, size_t outer,
                size_t n, size_t inner)
{
    /* a single long row stays on the calling thread (no chunked split) */
    reduce_job j = {fa_active[dtype], op, 1, (const char *)g, (char *)out, n, inner,
                    (const char *)y};
    run_reduce(&j, outer);
}

/* The split shared by fa_reduce and fa_reduce2: chunks of columns for a
 * non-last axis, else rows; one thread below FA_PAR_MIN_REDUCE elements. */
static void run_reduce(reduce_job *jp, size_t outer)
{
    reduce_job j = *jp;
    size_t n = j.n, inner = j.inner;
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
    fa_map_fn fn;
    size_t esize;
    const char *x;
    char *y;
    size_t len;
    double p;
} map_job;

static void map_blocks(void *ctx, size_t b, size_t e)
{
    const map_job *j = (const map_job *)ctx;
    size_t lo = b * FA_MAP_BLOCK, hi = e * FA_MAP_BLOCK;
    if (hi > j->len) hi = j->len;
    j->fn(j->x + lo * j->esize, j->y + lo * j->esize, hi - lo, j->p);
}

void fa_map(int op, int dtype, const void *x, void *y, size_t len, double p)
{
    const fa_kernels *k = fa_active[dtype];
    map_job j = {k->map[op], k->esize, (const char *)x, (char *)y, len, p};
    size_t blocks = (len + FA_MAP_BLOCK - 1) / FA_MAP_BLOCK;
    if (len < FA_PAR_MIN_MAP) map_blocks(&j, 0, blocks);
    else fa_parallel_for(blocks, map_blocks, &j);
}

/* Two-input maps: the same fixed blocks as the maps (element-wise: the
 * split changes no result). */
typedef struct {
    fa_map2_fn fn;
    size_t esize;
    const char *g, *x;
    char *y;
    size_t len;
    double p;
} map2_job;

static void map2_blocks(void *ctx, size_t b, size_t e)
{
    const map2_job *j = (const map2_job *)ctx;
    size_t lo = b * FA_MAP_BLOCK, hi = e * FA_MAP_BLOCK;
    if (hi > j->len) hi = j->len;
    j->fn(j->g + lo * j->esize, j->x + lo * j->esize, j->y + lo * j->esize, hi - lo, j->p);
}

void fa_map2(int op, int dtype, const void *g, const void *x, void *y, size_t len, double p)
{
    const fa_kernels *k = fa_active[dtype];
    map2_job j = {k->map2[op], k->esize, (const char *)g, (const char *)x, (char *)y, len, p};
    size_t blocks = (len + FA_MAP_BLOCK - 1) / FA_MAP_BLOCK;
    if (len < FA_PAR_MIN_MAP) map2_blocks(&j, 0, blocks);
    else fa_parallel_for(blocks, map2_blocks, &j);
}

typedef struct {
    fa_loss_fn fn;
    size_t esize;
    const char *x, *p;
    const int64_t *label;
    const double *weight;
    size_t outer, C, inner, rows_per_block;
    int64_t ignore_index;
    double eps;
    char *loss;
    double *block_sum, *block_wsum;
} loss_job;

static void loss_blocks(void *ctx, size_t b, size_t e)
{
    const loss_job *j = (const loss_job *)ctx;
    for (size_t blk = b; blk < e; blk++) {
        size_t r0 = blk * j->rows_per_block, r1 = r0 + j->rows_per_block;
        if (r1 > j->outer) r1 = j->outer;
        size_t xo = r0 * j->C * j->inner, so = r0 * j->inner;
        j->fn(j->x + xo * j->esize, j->p ? j->p + xo * j->esize : NULL,
              j->label ? j->label + so : NULL, j->weight, r1 - r0, j->C, j->inner,
              j->ignore_index, j->eps, j->loss ? j->loss + so * j->esize : NULL,
              &j->block_sum[blk], &j->block_wsum[blk]);
    }
}

/* Rows per block of the loss entries: about FA_CE_BLOCK_ELEMS elements, at
 * most FA_CE_MAX_BLOCKS blocks; from the shape only, so that the block sums
 * (added in order) are the same for any thread count. */
static size_t loss_rows_per_block(size_t outer, size_t row)
{
    size_t rpb = FA_CE_BLOCK_ELEMS / row;
    if (rpb < 1) rpb = 1;
    if ((outer + rpb - 1) / rpb > FA_CE_MAX_BLOCKS) rpb = (outer + FA_CE_MAX_BLOCKS - 1) / FA_CE_MAX_BLOCKS;
    return rpb;
}

/* The block sums added in block order, compensated. */
static void add_block_sums(const double *bs, const double *bw, size_t blocks, double *sum,
                           double *wsum)
{
    double s = 0.0, sc = 0.0, w = 0.0, wc = 0.0;
    for (size_t i = 0; i < blocks; i++) {
        fa_acc(&s, &sc, bs[i]);
        fa_acc(&w, &wc, bw[i]);
    }
    *sum = fa_acc_value(s, sc);
    *wsum = fa_acc_value(w, wc);
}

void fa_loss(int op, int dtype, const void *x, const void *p, const int64_t *label,
             const double *weight, size_t outer, size_t C, size_t inner, int64_t ignore_index,
             double eps, void *loss, double *sum, double *wsum)
{
    const fa_kernels *k = fa_active[dtype];
    double bs[FA_CE_MAX_BLOCKS], bw[FA_CE_MAX_BLOCKS];
    size_t row = C * inner != 0 ? C * inner : 1;
    size_t rpb = loss_rows_per_block(outer, row);
    size_t blocks = outer ? (outer + rpb - 1) / rpb : 0;
    loss_job j = {k->loss[op], k->esize, (const char *)x, (const char *)p, label, weight,
                  outer, C, inner, rpb, ignore_index, eps, (char *)loss, bs, bw};
    for (size_t i = 0; i < blocks; i++) bs[i] = bw[i] = 0.0;
    if (outer * row < FA_PAR_MIN_REDUCE) loss_blocks(&j, 0, blocks);
    else fa_parallel_for(blocks, loss_blocks, &j);
    add_block_sums(bs, bw, blocks, sum, wsum);
}

/* ------------------------------------------------ loss and gradient
 * The same fixed blocks of rows as fa_loss (so the loss sums are formed
 * exactly as the forward's); each block also writes its rows of dx. */
typedef struct {
    fa_loss_grad_fn fn;
    size_t esize;
    const char *x, *p;
    const int64_t *label;
    const double *weight, *gvec;
    size_t outer, C, inner, rows_per_block;
    int64_t ignore_index;
    double eps, g;
    char *dx, *loss;
    double *block_sum, *block_wsum;
} loss_grad_job;

static void loss_grad_blocks(void *ctx, size_t b, size_t e)
{
    const loss_grad_job *j = (const loss_grad_job *)ctx;
    for (size_t blk = b; blk < e; blk++) {
        size_t r0 = blk * j->rows_per_block, r1 = r0 + j->rows_per_block;
        if (r1 > j->outer) r1 = j->outer;
        size_t xo = r0 * j->C * j->inner, so = r0 * j->inner;
        j->fn(j->x + xo * j->esize, j->p ? j->p + xo * j->esize : NULL,
              j->label ? j->label + so : NULL, j->weight, r1 - r0, j->C, j->inner,
              j->ignore_index, j->eps, j->g, j->gvec ? j->gvec + so : NULL,
              j->dx + xo * j->esize, j->loss ? j->loss + so * j->esize : NULL,
              &j->block_sum[blk], &j->block_wsum[blk]);
    }
}

/* sum of weight[label] over the non-ignored labels of each block, in the
 * order and with the compensation the kernels use for *wsum (ce_index). */
static void label_wsum_blocks(void *ctx, size_t b, size_t e)
{
    const loss_grad_job *j = (const loss_grad_job *)ctx;
    for (size_t blk = b; blk < e; blk++) {
        size_t r0 = blk * j->rows_per_block, r1 = r0 + j->rows_per_block;
        if (r1 > j->outer) r1 = j->outer;
        double s = 0.0, c = 0.0;
        for (size_t i = r0 * j->inner; i < r1 * j->inner; i++) {
            int64_t t = j->label[i];
            if (t == j->ignore_index) continue;
            fa_acc(&s, &c, j->weight ? j->weight[t] : 1.0);
        }
        j->block_wsum[blk] = fa_acc_value(s, c);
    }
}

void fa_loss_grad(int op, int dtype, const void *x, const void *p, const int64_t *label,
                  const double *weight, size_t outer, size_t C, size_t inner,
                  int64_t ignore_index, double eps, double g, const double *gvec,
                  int divide_by_wsum, void *dx, void *loss, double *sum, double *wsum)
{
    const fa_kernels *k = fa_active[dtype];
    double bs[FA_CE_MAX_BLOCKS], bw[FA_CE_MAX_BLOCKS];
    size_t row = C * inner != 0 ? C * inner : 1;
    size_t rpb = loss_rows_per_block(outer, row);
    size_t blocks = outer ? (outer + rpb - 1) / rpb : 0;
    loss_grad_job j = {k->loss_grad[op], k->esize, (const char *)x, (const char *)p, label,
                       weight, gvec, outer, C, inner, rpb, ignore_index, eps, g, (char *)dx,
                       (char *)loss, bs, bw};
    if (divide_by_wsum && label) {
        /* "mean" needs D = the weight sum before the gradient pass: one pass
         * over the labels (8 bytes per sample, against C logits), in the
         * blocks of the kernels, so D is bit-identical to *wsum. */
        double w = 0.0, wc = 0.0;
        label_wsum_blocks(&j, 0, blocks);
        for (size_t i = 0; i < blocks; i++) fa_acc(&w, &wc, bw[i]);
        j.g = g / fa_acc_value(w, wc); /* IEEE: 0 / 0 = NaN only reaches non-ignored samples */
    }
    for (size_t i = 0; i < blocks; i++) bs[i] = bw[i] = 0.0;
    if (outer * row < FA_PAR_MIN_REDUCE) loss_grad_blocks(&j, 0, blocks);
    else fa_parallel_for(blocks, loss_grad_blocks, &j);
    add_block_sums(bs, bw, blocks, sum, wsum);
}

/* ------------------------------------------------ element-wise losses
 * Fixed blocks of elements (at least FA_CE_BLOCK_ELEMS, at most
 * FA_CE_MAX_BLOCKS of them: sizes from len only), each block's loss sum
 * formed by the kernel, the block sums added in order (add_block_sums):
 * bit-identical for any thread count. */
typedef struct {
    fa_elem_loss_fn fn;
    const void *x, *y, *w, *pw, *gvec;
    size_t w_row, w_col, p_row, p_col, C, len, block;
    double g;
    void *dx, *loss;
    double *block_sum;
} elem_loss_job;

static void elem_loss_blocks(void *ctx, size_t b, size_t e)
{
    const elem_loss_job *j = (const elem_loss_job *)ctx;
    for (size_t blk = b; blk < e; blk++) {
        size_t i0 = blk * j->block, i1 = i0 + j->block < j->len ? i0 + j->block : j->len;
        j->fn(j->x, j->y, j->w, j->w_row, j->w_col, j->pw, j->p_row, j->p_col, j->C, i0, i1,
              j->g, j->gvec, j->dx, j->loss, j->block_sum ? &j->block_sum[blk] : NULL);
    }
}

void fa_elem_loss(int op, int dtype, const void *x, const void *y, const void *w, size_t w_row,
                  size_t w_col, const void *pw, size_t p_row, size_t p_col, size_t C,
                  size_t len, double g, const void *gvec, void *dx, void *loss, double *sum)
{
    const fa_kernels *k = fa_active[dtype];
    double bs[FA_CE_MAX_BLOCKS], unused[FA_CE_MAX_BLOCKS];
    size_t block = FA_CE_BLOCK_ELEMS;
    if ((len + block - 1) / block > FA_CE_MAX_BLOCKS) {
        block = (len + FA_CE_MAX_BLOCKS - 1) / FA_CE_MAX_BLOCKS;
        block = (block + 63) & ~(size_t)63; /* whole cache lines per block */
    }
    size_t blocks = (len + block - 1) / block;
    elem_loss_job j = {k->elem_loss[op], x, y, w, pw, gvec, w_row, w_col, p_row, p_col, C,
                       len, block, g, dx, loss, sum ? bs : NULL};
    for (size_t i = 0; i < blocks; i++) bs[i] = unused[i] = 0.0;
    if (len < FA_PAR_MIN_REDUCE) elem_loss_blocks(&j, 0, blocks);
    else fa_parallel_for(blocks, elem_loss_blocks, &j);
    if (sum) {
        double ws;
        add_block_sums(bs, unused, blocks, sum, &ws);
    }
}

/* Masked reductions (where=): the split of run_reduce (chunks of columns
 * for a non-last axis, else rows), each unit computing its own mask
 * offsets from its outer index, so the results do not depend on it. */
typedef struct {
    fa_masked_fn fn;
    const void *x;
    void *y;
    const fa_mask_view *mv;
    size_t n, inner;
} masked_job;

static void masked_rows(void *ctx, size_t b, size_t e)
{
    const masked_job *j = (const masked_job *)ctx;
    j->fn(j->x, j->y, j->mv, b, e, j->n, j->inner, 0, j->inner);
}

static void masked_col_chunks(void *ctx, size_t b, size_t e)
{
    const masked_job *j = (const masked_job *)ctx;
    size_t nch = (j->inner + FA_CHUNK - 1) / FA_CHUNK;
    for (size_t u = b; u < e; u++) {
        size_t o = u / nch, c0 = (u % nch) * FA_CHUNK;
        size_t c1 = c0 + FA_CHUNK < j->inner ? c0 + FA_CHUNK : j->inner;
        j->fn(j->x, j->y, j->mv, o, o + 1, j->n, j->inner, c0, c1);
    }
}

void fa_masked_reduce(int op, int dtype, const void *x, void *y, const fa_mask_view *mask,
                      size_t outer, size_t n, size_t inner)
{
    masked_job j = {fa_active[dtype]->masked[op], x, y, mask, n, inner};
    if (inner > 1 && outer * n * inner >= FA_PAR_MIN_REDUCE) {
        size_t units = outer * ((inner + FA_CHUNK - 1) / FA_CHUNK);
        if (units > 1) {
            fa_parallel_for(units, masked_col_chunks, &j);
            return;
        }
    }
    if (outer < 2 || outer * n * inner < FA_PAR_MIN_REDUCE)
        masked_rows(&j, 0, outer);
    else
        fa_parallel_for(outer, masked_rows, &j);
}

/* ------------------------------------------------ vocabulary blocks
 * The loss entries' blocks of rows (loss_rows_per_block); each row is
 * computed on its own, so the split changes no result. */
typedef struct {
    const fa_ce_block_fns *f;
    size_t esize;
    const char *x;
    char *dx;
    size_t rows, n, rows_per_block;
    const int64_t *label;
    int64_t v0, ignore_index;
    const double *w, *M, *a, *b0, *b1;
    double *m, *sm1, *gap;
} ce_block_job;

static void ce_block_span(const ce_block_job *j, size_t b, size_t e, size_t *r0, size_t *r1)
{
    *r0 = b * j->rows_per_block;
    *r1 = e * j->rows_per_block < j->rows ? e * j->rows_per_block : j->rows;
}

static void ce_block_stats_blocks(void *ctx, size_t b, size_t e)
{
    const ce_block_job *j = (const ce_block_job *)ctx;
    size_t r0, r1;
    ce_block_span(j, b, e, &r0, &r1);
    j->f->stats(j->x + r0 * j->n * j->esize, r1 - r0, j->n, j->w, j->m + r0, j->sm1 + r0,
                j->gap ? j->gap + r0 : NULL);
}

static void ce_block_grad_blocks(void *ctx, size_t b, size_t e)
{
    const ce_block_job *j = (const ce_block_job *)ctx;
    size_t r0, r1;
    ce_block_span(j, b, e, &r0, &r1);
    j->f->grad(j->x + r0 * j->n * j->esize, j->dx + r0 * j->n * j->esize, r1 - r0, j->n,
               j->label + r0, j->v0, j->ignore_index, j->w, j->M + r0, j->a + r0, j->b0 + r0,
               j->b1 + r0);
}

static void run_ce_block(ce_block_job *j, fa_task_fn fn)
{
    size_t n = j->n ? j->n : 1;
    j->rows_per_block = loss_rows_per_block(j->rows, n);
    size_t blocks = (j->rows + j->rows_per_block - 1) / j->rows_per_block;
    if (j->rows * n < FA_PAR_MIN_REDUCE) fn(j, 0, blocks);
    else fa_parallel_for(blocks, fn, j);
}

void fa_ce_block_stats(int dtype, const void *x, size_t rows, size_t n, const double *w,
                       double *m, double *sm1, double *gap)
{
    const fa_kernels *k = fa_active[dtype];
    ce_block_job j = {k->ce_block, k->esize, (const char *)x, NULL, rows, n, 0, NULL, 0, 0,
                      w, NULL, NULL, NULL, NULL, m, sm1, gap};
    run_ce_block(&j, ce_block_stats_blocks);
}

void fa_ce_block_grad(int dtype, const void *x, void *dx, size_t rows, size_t n,
                      const int64_t *label, int64_t v0, int64_t ignore_index, const double *w,
                      const double *M, const double *a, const double *b0, const double *b1)
{
    const fa_kernels *k = fa_active[dtype];
    ce_block_job j = {k->ce_block, k->esize, (const char *)x, (char *)dx, rows, n, 0, label,
                      v0, ignore_index, w, M, a, b0, b1, NULL, NULL, NULL};
    run_ce_block(&j, ce_block_grad_blocks);
}
