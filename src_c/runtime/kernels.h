/* Internal: the kernel tables.  One fa_kernels per (level, dtype), generated
 * from the registry (ops.def); the runtime (parallel.c, long_rows.c) calls
 * through fa_active[dtype], which fa_init() / fa_set_level() point at a
 * level's tables.  Kernels take untyped pointers: the table's dtype says
 * what they point to, so no caller branches on the dtype. */
#ifndef FA_KERNELS_H
#define FA_KERNELS_H

#include "fastact.h"

/* Element-wise and backward passes whose output (per kernel call: one
 * thread's share) is at least this many bytes write it with streaming
 * stores (ops/map_passes.h); tests read it as _native.STREAM_BYTES.  8 MiB:
 * on a Zen 3 class EPYC (512 KiB L2, 32 MiB L3), relu f32 in and out of 4
 * MiB ran 1.8-3.6x slower streamed than with plain stores (the pair stays in
 * L3 between repeated calls) and 1.7-2.5x faster at 8 MiB; a Zen 4 measured
 * gains from 4 MiB on, which this gives up for 4-8 MiB outputs. */
#ifndef FA_STREAM_BYTES
#define FA_STREAM_BYTES ((size_t)8 << 20)
#endif

typedef void (*fa_reduce_fn)(const void *x, void *y, size_t outer, size_t n, size_t inner);
/* columns c0 .. c1 - 1 of a (1, n, inner) array; y advanced like x (SAME) or
 * holding one value per column (REDUCED) */
typedef void (*fa_cols_fn)(const void *x, void *y, size_t n, size_t inner, size_t c0, size_t c1);
/* two-input reductions (FA_REDUCE2_OPS): as fa_reduce_fn / fa_cols_fn with
 * the inputs g, y and the output out, all of one layout */
typedef void (*fa_reduce2_fn)(const void *g, const void *y, void *out, size_t outer, size_t n,
                              size_t inner);
typedef void (*fa_cols2_fn)(const void *g, const void *y, void *out, size_t n, size_t inner,
                            size_t c0, size_t c1);
typedef void (*fa_map_fn)(const void *x, void *y, size_t len, double p);
typedef void (*fa_map2_fn)(const void *g, const void *x, void *y, size_t len, double p);
typedef void (*fa_loss_fn)(const void *x, const void *p, const int64_t *label,
                           const double *weight, size_t outer, size_t C, size_t inner,
                           int64_t ignore_index, double eps, void *loss, double *sum,
                           double *wsum);
/* element-wise losses (FA_ELEM_LOSS_OPS) over the flat range [i0, i1) of
 * x's elements (fa_elem_loss, fastact.h; *sum: the range's sum) */
typedef void (*fa_elem_loss_fn)(const void *x, const void *y, const void *w, size_t w_row,
                                size_t w_col, const void *pw, size_t p_row, size_t p_col,
                                size_t C, size_t i0, size_t i1, double g, const void *gvec,
                                void *dx, void *loss, double *sum);
typedef void (*fa_loss_grad_fn)(const void *x, const void *p, const int64_t *label,
                                const double *weight, size_t outer, size_t C, size_t inner,
                                int64_t ignore_index, double eps, double g, const double *gvec,
                                void *dx, void *loss, double *sum, double *wsum);

/* masked reductions (FA_MASKED_OPS): outer indices [o0, o1) and columns
 * [c0, c1) of the whole arrays (include/fastact.h, fa_mask_view) */
typedef void (*fa_masked_fn)(const void *x, void *y, const fa_mask_view *mask, size_t o0,
                             size_t o1, size_t n, size_t inner, size_t c0, size_t c1);

/* The passes over one chunk of a long row (ops/long_row.c). */
typedef struct {
    void (*stats)(const void *x, void *y, size_t n, double *m, double *sm1);
    void (*scale)(void *y, size_t n, double f);
    void (*exp_scale)(const void *x, void *y, size_t n, double m, double f);
    void (*log_softmax_out)(const void *x, void *y, size_t n, double m, double L);
    void (*logsumexp_finish)(const void *x, size_t n, double m, double sm1, void *y);
} fa_long_row_fns;

/* linear_cross_entropy's vocabulary blocks (ops/ce_vocab_block.c): C-contiguous
 * (rows, n) logits of n consecutive classes; per-row doubles. */
typedef struct {
    void (*stats)(const void *x, size_t rows, size_t n, const double *w, double *m,
                  double *sm1, double *gap);
    void (*grad)(const void *x, void *dx, size_t rows, size_t n, const int64_t *label,
                 int64_t v0, int64_t ignore_index, const double *w, const double *M,
                 const double *a, const double *b0, const double *b1);
} fa_ce_block_fns;

typedef struct {
    size_t esize; /* bytes per element */
    fa_reduce_fn reduce[FA_NUM_REDUCE];
    fa_cols_fn cols[FA_NUM_REDUCE];
    fa_map_fn map[FA_NUM_MAP];
    fa_loss_fn loss[FA_NUM_LOSS];
    fa_loss_grad_fn loss_grad[FA_NUM_LOSS_GRAD];
    fa_map2_fn map2[FA_NUM_MAP2];
    const fa_long_row_fns *long_row;
    fa_reduce2_fn reduce2[FA_NUM_REDUCE2];
    fa_cols2_fn cols2[FA_NUM_REDUCE2];
    fa_elem_loss_fn elem_loss[FA_NUM_ELEM_LOSS];
    fa_masked_fn masked[FA_NUM_MASKED];
    const fa_ce_block_fns *ce_block;
} fa_kernels;

/* Test-only kernels (ops/test_kernels.c): the level's exponential and each of its
 * row and column passes on its own (contracts in ops/passes.h). */
typedef struct {
    void (*exp_nonpos)(const void *d, void *y, size_t n);
    double (*row_max)(const void *x, size_t n);
    double (*row_sumexp_m1)(const void *x, size_t n, double m, void *y);
    void (*row_scale)(void *y, size_t n, double inv);
    void (*row_log_softmax_out)(const void *x, void *y, size_t n, double m, double L);
    void (*cols_max_pack)(const void *x, size_t n, size_t inner, size_t w, void *m, void *buf);
    void (*cols_sumexp_m1)(const void *x, size_t n, size_t inner, size_t w, const void *m,
                           void *y, double *sm1);
    void (*cols_scale_to)(const void *src, size_t ss, void *dst, size_t ds, size_t n, size_t w,
                          const double *inv);
    void (*cols_log_softmax_out)(const void *src, size_t ss, void *dst, size_t ds, size_t n,
                                 size_t w, const void *m, const double *L);
    double (*row_stats)(const void *x, size_t n, void *y, double *m);
    void (*cols_stats)(const void *x, size_t n, size_t inner, size_t w, void *m, void *buf,
                       void *y, double *sm1);
    void (*cols_log1p)(double *L, size_t w);
} fa_test_kernels;

/* The tables in use, per dtype (valid after fa_init). */
extern const fa_kernels *fa_active[FA_NUM_DTYPES];
extern const fa_test_kernels *fa_active_test[FA_NUM_DTYPES];

/* The levels compiled in: X(level, a) for each, lowest first.  A new level
 * adds its line here and its simd/ header (ops/instantiate.h). */
#if FA_HAVE_X86_LEVELS
#define FA_COMPILED_LEVELS(X, a) X(scalar, a) X(sse2, a) X(avx2, a) X(avx512, a)
#else
#define FA_COMPILED_LEVELS(X, a) X(scalar, a)
#endif
#define FA_DTYPES(X, a) X(f32, a) X(f64, a)

/* A single long contiguous row, chunked and threaded within the row
 * (runtime/long_rows.c; fa_reduce sends it there). */
void fa_reduce_long_row(const fa_kernels *k, int op, const void *x, void *y, size_t n);

/* Kernel symbols: fa_<name>_<dtype>_<level>. */
#define FA_K(name, dt, lvl) fa_##name##_##dt##_##lvl

#define FA_DECL_REDUCE_(name, out, dt, lvl)                                                  \
    void FA_K(name, dt, lvl)(const void *, void *, size_t, size_t, size_t);               \
    void FA_K(name##_columns, dt, lvl)(const void *, void *, size_t, size_t, size_t, size_t);
#define FA_DECL_MAP_(name, dt, lvl) void FA_K(name, dt, lvl)(const void *, void *, size_t, double);
#define FA_DECL_MAP2_(name, dt, lvl)                                                          \
    void FA_K(name, dt, lvl)(const void *, const void *, void *, size_t, double);
#define FA_DECL_LOSS_(name, dt, lvl)                                                          \
    void FA_K(name, dt, lvl)(const void *, const void *, const int64_t *, const double *,    \
                             size_t, size_t, size_t, int64_t, double, void *, double *,      \
                             double *);
#define FA_DECL_REDUCE2_(name, dt, lvl)                                                     \
    void FA_K(name, dt, lvl)(const void *, const void *, void *, size_t, size_t, size_t);  \
    void FA_K(name##_columns, dt, lvl)(const void *, const void *, void *, size_t, size_t,  \
                                       size_t, size_t);
#define FA_DECL_LOSS_GRAD_(name, dt, lvl)                                                     \
    void FA_K(name, dt, lvl)(const void *, const void *, const int64_t *, const double *,    \
                             size_t, size_t, size_t, int64_t, double, double,               \
                             const double *, void *, void *, double *, double *);
#define FA_DECL_ELEM_LOSS_(name, dt, lvl)                                                     \
    void FA_K(name, dt, lvl)(const void *, const void *, const void *, size_t, size_t,      \
                             const void *, size_t, size_t, size_t, size_t, size_t, double,  \
                             const void *, void *, void *, double *);
#define FA_DECL_DTYPE_(dt, lvl)                                                             \
    FA_REDUCE_OPS(FA_DECL_REDUCE_, dt, lvl)                                                 \
    FA_REDUCE2_OPS(FA_DECL_REDUCE2_, dt, lvl)                                               \
    FA_MAP_OPS(FA_DECL_MAP_, dt, lvl)                                                       \
    FA_LOSS_OPS(FA_DECL_LOSS_, dt, lvl)                                                     \
    FA_LOSS_GRAD_OPS(FA_DECL_LOSS_GRAD_, dt, lvl)                                           \
    FA_MAP2_OPS(FA_DECL_MAP2_, dt, lvl)                                                     \
    FA_ELEM_LOSS_OPS(FA_DECL_ELEM_LOSS_, dt, lvl)                                           \
    extern const fa_long_row_fns FA_K(long_row, dt, lvl);                                  \
    extern const fa_ce_block_fns FA_K(ce_block, dt, lvl);                                  \
    extern const fa_test_kernels FA_K(test_kernels, dt, lvl);
#define FA_DECL_LEVEL_(lvl, a) FA_DTYPES(FA_DECL_DTYPE_, lvl)
FA_COMPILED_LEVELS(FA_DECL_LEVEL_, _)
#undef FA_DECL_LEVEL_

#define FA_DECL_MASKED_(name, dt, lvl)                                                        \
    void FA_K(name##_masked, dt, lvl)(const void *, void *, const fa_mask_view *, size_t,    \
                                      size_t, size_t, size_t, size_t, size_t);
#define FA_DECL_MASKED_DTYPE_(dt, lvl) FA_MASKED_OPS(FA_DECL_MASKED_, dt, lvl)
#define FA_DECL_MASKED_LEVEL_(lvl, a) FA_DTYPES(FA_DECL_MASKED_DTYPE_, lvl)
FA_COMPILED_LEVELS(FA_DECL_MASKED_LEVEL_, _)
#undef FA_DECL_MASKED_LEVEL_

#endif /* FA_KERNELS_H */
