/* fastact: public C interface of the kernels.
 *
 * Every kernel works on a C-contiguous array viewed as (outer, n, inner): the
 * reduced axis has length n and stride `inner` elements; inner == 1 is the
 * last-axis case.  Lengths are element counts.  Kernels never allocate.
 *
 * Aliasing: `y` may be exactly `x` (in-place) but must not otherwise overlap
 * it; this is why x and y are not declared `restrict`.  The Python layer
 * routes partial overlaps through a temporary.
 *
 * The ops are listed once, in ops.def; their codes below are generated from
 * it.  Calls go through one kernel table per dtype, filled by fa_init() with
 * the best ISA level the CPU runs (runtime/dispatch.c).
 */
#ifndef FASTACT_H
#define FASTACT_H

#include <stddef.h>
#include <stdint.h>

#include "ops.def"

#ifdef __cplusplus
extern "C" {
#endif

/* ISA levels, in increasing order: portable C, then on x86-64 with GCC or
 * Clang SSE2 (the x86-64 baseline), AVX2+FMA and AVX-512 (F/DQ/BW/VL).
 * Elsewhere (aarch64, MSVC) only the portable "scalar" level exists. */
enum { FA_LEVEL_SCALAR = 0, FA_LEVEL_SSE2 = 1, FA_LEVEL_AVX2 = 2, FA_LEVEL_AVX512 = 3,
       FA_NUM_LEVELS = 4 };
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define FA_HAVE_X86_LEVELS 1
#else
#define FA_HAVE_X86_LEVELS 0
#endif

/* Element types: the index of a kernel table. */
enum { FA_F32 = 0, FA_F64 = 1, FA_NUM_DTYPES = 2 };

/* Op codes, one enum per family, in the registry's order. */
#define FA_ENUM_REDUCE_(name, out, a, b) FA_REDUCE_##name,
#define FA_ENUM_(name, a, b) FA_##a##_##name,
enum { FA_REDUCE_OPS(FA_ENUM_REDUCE_, _, _) FA_NUM_REDUCE };
enum { FA_MAP_OPS(FA_ENUM_, MAP, _) FA_NUM_MAP };
enum { FA_LOSS_OPS(FA_ENUM_, LOSS, _) FA_NUM_LOSS };
enum { FA_REDUCE2_OPS(FA_ENUM_, REDUCE2, _) FA_NUM_REDUCE2 };
enum { FA_LOSS_GRAD_OPS(FA_ENUM_, LOSS_GRAD, _) FA_NUM_LOSS_GRAD };
enum { FA_MAP2_OPS(FA_ENUM_, MAP2, _) FA_NUM_MAP2 };
enum { FA_ELEM_LOSS_OPS(FA_ENUM_, ELEM_LOSS, _) FA_NUM_ELEM_LOSS };
#undef FA_ENUM_REDUCE_
#undef FA_ENUM_
#define FA_ENUM_MASKED_(name, a, b) FA_##a##_##name,

/* Family of an op, for fa_op_name. */
enum { FA_FAMILY_REDUCE = 0, FA_FAMILY_MAP = 1, FA_FAMILY_LOSS = 2, FA_FAMILY_REDUCE2 = 3,
       FA_FAMILY_MAP2 = 4, FA_FAMILY_ELEM_LOSS = 5, FA_FAMILY_MASKED = 6 };
/* Name of op `op` of `family` as in ops.def, or NULL when out of range. */
const char *fa_op_name(int family, int op);
/* 1 when reduction `op` keeps x's shape, 0 when y has outer * inner elements. */
int fa_reduce_keeps_shape(int op);

/* Highest level this CPU and OS support (cpuid + xgetbv; runtime/cpu.c). */
int fa_cpu_level(void);
/* Fill the tables with the highest supported level, or a lower one when
 * `request` names one ("scalar", "sse2", "avx2", "avx512"; NULL or "" for
 * the best).  Returns the level used, or -1 for an unknown name. */
int fa_init(const char *request);
/* Switch the tables to `level` (for tests: kernels at every level in one
 * process).  Not safe while another thread is inside a kernel.  Returns the
 * level now in use, or -1 (nothing changed) when `level` is not compiled or
 * not supported by this CPU. */
int fa_set_level(int level);
/* Level in use; name of a level (NULL when out of range); space-separated
 * names of the levels compiled into this build, lowest first. */
int fa_get_level(void);
const char *fa_level_name(int level);
const char *fa_compiled_levels(void);

/* Entry points: run a kernel of the tables on arrays of `dtype`, split
 * across threads when large (runtime/parallel.c); same contracts as the
 * kernels.  A single long contiguous row (outer == inner == 1, at least
 * FA_LONG_ROW_BYTES) goes to the chunked long-row algorithm
 * (runtime/long_rows.c); the choice depends on the shape only, so results
 * are the same for any thread count. */
#define FA_LONG_ROW_BYTES ((size_t)1 << 19)
void fa_reduce(int op, int dtype, const void *x, void *y, size_t outer, size_t n, size_t inner);
/* Two-input reductions (softmax_backward, log_softmax_backward): g, y and
 * out all of the (outer, n, inner) shape; out may be exactly g or y but
 * must not otherwise overlap them.  Split over the threads as fa_reduce
 * (rows, or chunks of columns); a single long row runs on one thread. */
void fa_reduce2(int op, int dtype, const void *g, const void *y, void *out, size_t outer,
                size_t n, size_t inner);
/* Maps: p is the op's parameter (leaky_relu's negative slope, converted to
 * dtype; ignored by the others). */
void fa_map(int op, int dtype, const void *x, void *y, size_t len, double p);
/* Two-input maps: y[i] = f(g[i], x[i], p); y may be exactly g or x (not
 * otherwise overlap them). */
void fa_map2(int op, int dtype, const void *g, const void *x, void *y, size_t len, double p);
/* Losses: ce_index reads int64 labels (which must have passed
 * fa_first_bad_label; p unused), ce_prob class probabilities p of x's shape
 * (label and ignore_index unused).  weight may be NULL (all ones), loss
 * (outer * inner elements) may be NULL.  *sum = sum of the losses;
 * *wsum = sum of weight[label] over the labels that are not ignored
 * (ce_index; 0 for ce_prob). */
void fa_loss(int op, int dtype, const void *x, const void *p, const int64_t *label,
             const double *weight, size_t outer, size_t C, size_t inner, int64_t ignore_index,
             double eps, void *loss, double *sum, double *wsum);

/* Loss and its gradient in one pass: as fa_loss, and dx (x's shape, may be
 * x itself; must not otherwise overlap x, p, label, gvec or loss) receives
 * d(sum_s g_s loss_s)/dx with g_s = g * (gvec ? gvec[s] : 1).  When
 * divide_by_wsum (reduction "mean" with index targets), g is first divided
 * by the weight sum of the non-ignored labels, formed in the same blocks
 * and order as *wsum (bit-identical to it).  Ignored samples get 0. */
void fa_loss_grad(int op, int dtype, const void *x, const void *p, const int64_t *label,
                  const double *weight, size_t outer, size_t C, size_t inner,
                  int64_t ignore_index, double eps, double g, const double *gvec,
                  int divide_by_wsum, void *dx, void *loss, double *sum, double *wsum);

/* Element-wise losses (binary cross-entropy with logits) over the len
 * elements of x and y (C order), seen as rows of C elements: element i has
 * the weight w[(i / C) * w_row + (i % C) * w_col] and the pos_weight
 * pw[(i / C) * p_row + (i % C) * p_col] (w, pw of x's dtype; NULL: 1).
 * loss (len elements, or NULL) receives the per-element losses, dx (len
 * elements, may be exactly x, or NULL) the gradient times g (or times
 * gvec[i] when gvec, of x's dtype, is given); *sum (may be NULL) the sum of
 * the losses, formed in fixed blocks of elements (sizes from len only)
 * added in order: the same for any thread count.  Outputs must not
 * otherwise overlap the inputs. */
void fa_elem_loss(int op, int dtype, const void *x, const void *y, const void *w, size_t w_row,
                  size_t w_col, const void *pw, size_t p_row, size_t p_col, size_t C,
                  size_t len, double g, const void *gvec, void *dx, void *loss, double *sum);

/* linear_cross_entropy's vocabulary blocks (ops/ce_vocab_block.c has the
 * formulas): x holds C-contiguous (rows, n) logits of the n classes
 * [v0, v0 + n) for `rows` samples; per-row values are doubles; w (may be
 * NULL: all ones) holds the block's n class weights.
 * fa_ce_block_stats: m[r] = the row's max, sm1[r] = sum_c exp(x_c - m) - 1,
 * and when gap is not NULL gap[r] = sum_c w_c (m - x_c).
 * fa_ce_block_grad: dx (x's shape, may be exactly x) = the gradient of the
 * loss w.r.t. the block's logits from the row's global max M[r] and the
 * coefficients a, b0, b1 (label: the rows' class indices, whole-vocabulary
 * numbering; ignore_index rows get 0).  Rows are split over the threads;
 * every row's result is the same for any thread count. */
void fa_ce_block_stats(int dtype, const void *x, size_t rows, size_t n, const double *w,
                       double *m, double *sm1, double *gap);
void fa_ce_block_grad(int dtype, const void *x, void *dx, size_t rows, size_t n,
                      const int64_t *label, int64_t v0, int64_t ignore_index, const double *w,
                      const double *M, const double *a, const double *b0, const double *b1);

/* Index of the first label outside [0, C) that is not ignore_index, or -1. */
ptrdiff_t fa_first_bad_label(const int64_t *label, size_t len, int64_t C,
                             int64_t ignore_index);

/* where= (masked softmax / log_softmax, FA_MASKED_OPS): one byte per element
 * of x (nonzero = kept) at byte offset
 *   off(o) + i * sn + k
 * for element (o, i, k) of the (outer, n, inner) view, off(o) the offset of
 * outer index o over the outer dims (dims[0..nd), C order, strides in bytes,
 * 0 along broadcast dims): the mask is never expanded to x's size.  The
 * inner part is contiguous (k bytes); when inner == 1 (a last-axis
 * reduction) sn must be 1. */
#define FA_MASK_MAXDIMS 64
typedef struct {
    const uint8_t *base;
    int nd;
    size_t dims[FA_MASK_MAXDIMS];
    ptrdiff_t strides[FA_MASK_MAXDIMS];
    ptrdiff_t sn;
} fa_mask_view;
enum { FA_MASKED_OPS(FA_ENUM_MASKED_, MASKED, _) FA_NUM_MASKED };
/* Masked op `op` (FA_MASKED_softmax, FA_MASKED_log_softmax): y (x's shape,
 * may be exactly x; must not otherwise overlap x or the mask) = the op over
 * the kept entries of each group, 0 (log_softmax: -inf) at the others.
 * Split over the threads as fa_reduce (rows, or chunks of columns); a long
 * single row stays on one thread. */
void fa_masked_reduce(int op, int dtype, const void *x, void *y, const fa_mask_view *mask,
                      size_t outer, size_t n, size_t inner);

#ifdef __cplusplus
}
#endif
#endif /* FASTACT_H */
