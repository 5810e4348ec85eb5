/* fastact C API: the table of entry points handed over at run time.
 *
 * This is the binary interface between fastact's compiled module
 * (fastact/_native.pyx fills one table at import and publishes its address
 * as the PyCapsule fastact._native._C_API) and the extensions built against
 * fastact.  Extensions do not use it directly: fastact_api.h includes it and
 * wraps every entry point in a checked, typed function.  Plain C, no
 * Python.h, so that the library itself can include it.
 *
 * Stability rules:
 *   - The table starts with its ABI version and its size in bytes;
 *     fastact_import() (fastact_api.h) refuses a table whose version differs
 *     from FASTACT_ABI_VERSION or which is smaller than the one the extension
 *     was compiled against (an ImportError that says which).
 *   - New fields are only appended; a field is never removed, reordered or
 *     given another meaning.  Changing a contract (a signature, what an
 *     entry point requires or does) increments FASTACT_ABI_VERSION instead.
 *   - The op and dtype codes the entry points take are fields of the table
 *     (filled from the library's op registry), not constants compiled into
 *     the extension, so that the library may renumber its ops freely.
 *
 * The entry points are those the Python layer calls (src_c/include/fastact.h
 * in the source tree); they do no checking at all: fastact_api.h's wrappers
 * do it before calling them. */
#ifndef FASTACT_API_TABLE_H
#define FASTACT_API_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define FASTACT_ABI_VERSION 1
/* The capsule's name: module fastact._native, attribute _C_API. */
#define FASTACT_CAPSULE_NAME "fastact._native._C_API"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fastact_api_table {
    uint32_t abi_version; /* FASTACT_ABI_VERSION of the library */
    uint32_t size;        /* sizeof(fastact_api_table) in the library */

    /* codes of the element types and ops, as the entry points take them */
    int dtype_f32, dtype_f64;
    int op_softmax, op_log_softmax, op_logsumexp;         /* reduce */
    int op_softmax_backward, op_log_softmax_backward;     /* reduce2 */
    int op_relu, op_leaky_relu, op_sigmoid;               /* map */
    int op_relu_backward, op_leaky_relu_backward, op_sigmoid_backward; /* map2 */
    int op_ce_index, op_ce_prob;                          /* loss */
    int op_ce_index_grad, op_ce_prob_grad;                /* loss_grad */
    int op_bce_logits;                                    /* elem_loss */

    /* the entry points (contracts: fastact_api.h, which checks them) */
    void (*reduce)(int op, int dtype, const void *x, void *y, size_t outer, size_t n,
                   size_t inner);
    void (*reduce2)(int op, int dtype, const void *g, const void *y, void *out, size_t outer,
                    size_t n, size_t inner);
    void (*map)(int op, int dtype, const void *x, void *y, size_t len, double p);
    void (*map2)(int op, int dtype, const void *g, const void *x, void *y, size_t len,
                 double p);
    void (*loss)(int op, int dtype, const void *x, const void *p, const int64_t *label,
                 const double *weight, size_t outer, size_t C, size_t inner,
                 int64_t ignore_index, double eps, void *loss, double *sum, double *wsum);
    void (*loss_grad)(int op, int dtype, const void *x, const void *p, const int64_t *label,
                      const double *weight, size_t outer, size_t C, size_t inner,
                      int64_t ignore_index, double eps, double g, const double *gvec,
                      int divide_by_wsum, void *dx, void *loss, double *sum, double *wsum);
    void (*elem_loss)(int op, int dtype, const void *x, const void *y, const void *w,
                      size_t w_row, size_t w_col, const void *pw, size_t p_row, size_t p_col,
                      size_t C, size_t len, double g, const void *gvec, void *dx, void *loss,
                      double *sum);
    ptrdiff_t (*first_bad_label)(const int64_t *label, size_t len, int64_t C,
                                 int64_t ignore_index);
    int (*get_num_threads)(void);
    int (*get_level)(void);
    const char *(*level_name)(int level);
    /* ABI version 1 ends here; new fields go below. */
} fastact_api_table;

#ifdef __cplusplus
}
#endif
#endif /* FASTACT_API_TABLE_H */
