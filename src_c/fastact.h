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
 * The kernels are reached through one function table per dtype, filled once by
 * fa_init() (dispatch.c): the seam where ISA-specific kernels plug in.
 */
#ifndef FASTACT_H
#define FASTACT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ISA levels, in increasing order.  On x86-64 with GCC or Clang the kernels
 * are also compiled for AVX2+FMA and AVX-512 (instantiate.h); elsewhere
 * (aarch64, MSVC) only the portable "scalar" level exists. */
enum { FA_LEVEL_SCALAR = 0, FA_LEVEL_SSE2 = 1, FA_LEVEL_AVX2 = 2, FA_LEVEL_AVX512 = 3 };
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define FA_HAVE_X86_LEVELS 1
#else
#define FA_HAVE_X86_LEVELS 0
#endif

#define FA_DECLARE_KERNELS(T, SUF)                                                      \
    void fa_softmax_##SUF(const T *x, T *y, size_t outer, size_t n, size_t inner);      \
    void fa_log_softmax_##SUF(const T *x, T *y, size_t outer, size_t n, size_t inner);  \
    /* y has outer * inner elements */                                                  \
    void fa_logsumexp_##SUF(const T *x, T *y, size_t outer, size_t n, size_t inner);    \
    void fa_relu_##SUF(const T *x, T *y, size_t len);                                   \
    /* y = exp(d) for d <= 0 or NaN, as the level's kernels compute it (tests) */       \
    void fa_exp_nonpos_##SUF(const T *d, T *y, size_t n);                               \
    /* labels must have passed fa_first_bad_label; weight may be NULL (all ones);       \
       loss (outer * inner elements) may be NULL.  *sum = sum of the losses,            \
       *wsum = sum of weight[label] over the labels that are not ignored. */            \
    void fa_ce_index_##SUF(const T *x, const int64_t *label, const double *weight,      \
                           size_t outer, size_t C, size_t inner, int64_t ignore_index,  \
                           double label_smoothing, T *loss, double *sum, double *wsum); \
    /* p has the shape of x (class probabilities); weight may be NULL. */               \
    void fa_ce_prob_##SUF(const T *x, const T *p, const double *weight, size_t outer,   \
                          size_t C, size_t inner, double label_smoothing, T *loss,      \
                          double *sum);                                                 \
    /* One chunk of a long contiguous row (chunk_impl.h, long_rows.c). */               \
    void fa_chunk_stats_##SUF(const T *x, T *y, size_t n, double *m, double *sm1);      \
    void fa_chunk_scale_##SUF(T *y, size_t n, double f);                                \
    void fa_chunk_exp_scale_##SUF(const T *x, T *y, size_t n, double m, double f);      \
    void fa_chunk_log_softmax_out_##SUF(const T *x, T *y, size_t n, double m, double L); \
    void fa_logsumexp_row_finish_##SUF(const T *x, size_t n, double m, double sm1, T *y); \
    /* Columns c0 .. c1 - 1 of a (1, n, inner) array (parallel.c's unit). */             \
    void fa_softmax_cols_range_##SUF(const T *x, T *y, size_t n, size_t inner, size_t c0,  \
                                     size_t c1);                                          \
    void fa_log_softmax_cols_range_##SUF(const T *x, T *y, size_t n, size_t inner,         \
                                         size_t c0, size_t c1);                           \
    void fa_logsumexp_cols_range_##SUF(const T *x, T *y, size_t n, size_t inner, size_t c0, \
                                       size_t c1);

FA_DECLARE_KERNELS(float, f32_scalar)
FA_DECLARE_KERNELS(double, f64_scalar)
#if FA_HAVE_X86_LEVELS
FA_DECLARE_KERNELS(float, f32_sse2)
FA_DECLARE_KERNELS(double, f64_sse2)
FA_DECLARE_KERNELS(float, f32_avx2)
FA_DECLARE_KERNELS(double, f64_avx2)
FA_DECLARE_KERNELS(float, f32_avx512)
FA_DECLARE_KERNELS(double, f64_avx512)
#endif

#define FA_DECLARE_TABLE(T, SUF)                                                      \
    typedef struct {                                                                  \
        void (*softmax)(const T *, T *, size_t, size_t, size_t);                      \
        void (*log_softmax)(const T *, T *, size_t, size_t, size_t);                  \
        void (*logsumexp)(const T *, T *, size_t, size_t, size_t);                    \
        void (*relu)(const T *, T *, size_t);                                         \
        void (*exp_nonpos)(const T *, T *, size_t);                                   \
        void (*ce_index)(const T *, const int64_t *, const double *, size_t, size_t,       \
                         size_t, int64_t, double, T *, double *, double *);           \
        void (*ce_prob)(const T *, const T *, const double *, size_t, size_t, size_t,      \
                        double, T *, double *);                                       \
        void (*chunk_stats)(const T *, T *, size_t, double *, double *);             \
        void (*chunk_scale)(T *, size_t, double);                                     \
        void (*chunk_exp_scale)(const T *, T *, size_t, double, double);              \
        void (*chunk_log_softmax_out)(const T *, T *, size_t, double, double);        \
        void (*logsumexp_row_finish)(const T *, size_t, double, double, T *);         \
        /* indexed by FA_OP_SOFTMAX, FA_OP_LOG_SOFTMAX, FA_OP_LOGSUMEXP */            \
        void (*cols_range[3])(const T *, T *, size_t, size_t, size_t, size_t);        \
    } fa_table_##SUF;

FA_DECLARE_TABLE(float, f32)
FA_DECLARE_TABLE(double, f64)

/* The tables in use; valid after fa_init(). */
extern fa_table_f32 fa_f32;
extern fa_table_f64 fa_f64;

/* Highest level this CPU and OS support (cpuid + xgetbv; cpu.c). */
int fa_cpu_level(void);
/* Fill the tables with the highest supported level, or a lower one when
 * `request` names one ("scalar", "sse2", "avx2", "avx512"; NULL or "" for
 * the best).  Returns the level used, or -1 for an unknown name. */
int fa_init(const char *request);
/* Name of a level; NULL when out of range. */
const char *fa_level_name(int level);
/* Space-separated names of the levels compiled into this build. */
const char *fa_compiled_levels(void);

/* Operations of fa_reduce. */
enum { FA_OP_SOFTMAX = 0, FA_OP_LOG_SOFTMAX = 1, FA_OP_LOGSUMEXP = 2 };

/* Run a kernel of the tables, split across threads when large (parallel.c).
 * f64: 0 for float32 arrays, 1 for float64.  Same contracts as the kernels;
 * fa_cross_entropy runs ce_prob when p is not NULL (label unused), else
 * ce_index (*wsum: sum of the weights of the labels not ignored). */
void fa_reduce(int op, int f64, const void *x, void *y, size_t outer, size_t n, size_t inner);
/* A single contiguous row (outer == inner == 1: axis=None, or a 1-D array)
 * of this many bytes or more goes to fa_reduce_long_row (long_rows.c):
 * chunked, and threaded within the row.  Several rows are better spread
 * over the threads whole (measured: 2 threads, 2 to 4 rows of 512 KiB to
 * 4 MiB).  The choice depends on the shape only: results stay the same for
 * any thread count. */
#define FA_LONG_ROW_BYTES ((size_t)1 << 19)
void fa_reduce_long_row(int op, int f64, const void *x, void *y, size_t n);
void fa_relu(int f64, const void *x, void *y, size_t len);
void fa_cross_entropy(int f64, const void *x, const void *p, const int64_t *label,
                      const double *weight, size_t outer, size_t C, size_t inner,
                      int64_t ignore_index, double eps, void *loss, double *sum, double *wsum);

/* Index of the first label outside [0, C) that is not ignore_index, or -1. */
ptrdiff_t fa_first_bad_label(const int64_t *label, size_t len, int64_t C,
                             int64_t ignore_index);

#ifdef __cplusplus
}
#endif
#endif /* FASTACT_H */
