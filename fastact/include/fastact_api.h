/* fastact C API: fastact's kernels for C, C++ and Cython extensions.
 *
 * The same kernels as the Python functions (fastact.softmax, ...), called
 * on raw pointers without the GIL, dispatched to the same SIMD level (the
 * best the CPU runs, or FASTACT_ISA's) and split over the same thread pool:
 * the results are bit-identical to the Python API's for the same inputs.
 *
 * Building: add fastact.get_include() (the directory of this file) to the
 * include path.  Nothing is linked: the entry points are handed over at run
 * time through a PyCapsule (fastact._native._C_API), which fastact_import()
 * fetches.  Cython: `from fastact cimport capi` (fastact/capi.pxd declares
 * everything below, nogil).
 *
 * Using:
 *   - Call fastact_import() once, with the GIL held, in every C/C++ file
 *     (translation unit) that uses the API, before its first call: e.g. in
 *     the module's init function.  It returns 0, or -1 with a Python
 *     exception set (ImportError when fastact or its native module cannot be
 *     imported, or when its C API is not the one this header describes).
 *     Until then every function returns FASTACT_ERR_NOT_IMPORTED.
 *   - After that every function may be called from any thread, without the
 *     GIL, concurrently, for as long as the interpreter runs.
 *
 * Conventions of every function:
 *   - Element types: the _f32 functions take float arrays, the _f64 ones
 *     double arrays; everything is computed as fastact's Python functions
 *     compute float32 / float64 arrays.  Class labels are int64_t, class
 *     weights and per-sample upstream gradients of cross-entropy double.
 *   - Sizes are element counts (size_t), never bytes.  Every array's byte
 *     size must be at most PTRDIFF_MAX, else FASTACT_ERR_SIZE.
 *   - The (outer, n, inner) view: the reductions and losses work on a
 *     C-contiguous array seen as outer x n x inner, element (o, i, k) at
 *     index (o * n + i) * inner + k; the op runs over i (the reduced axis,
 *     of length n and stride inner) for each of the outer * inner groups
 *     (o, k).  For an array of shape (d0, ..., d_{m-1}) reduced over axis a:
 *     outer = d0 * ... * d_{a-1}, n = d_a, inner = d_{a+1} * ... * d_{m-1}.
 *     inner == 1 is the last axis (rows of n contiguous elements); outer ==
 *     inner == 1 the whole array as one group.  A reduced output
 *     (logsumexp, per-sample losses) holds the outer * inner groups in C
 *     order: group (o, k) at index o * inner + k.
 *   - Pointers: each array must be aligned for its element type.  NULL is
 *     allowed for an array with no elements and where a parameter says
 *     "optional"; FASTACT_ERR_NULL otherwise, FASTACT_ERR_ALIGN when
 *     misaligned.
 *   - Aliasing: an output may be exactly an input where a function says so
 *     (same start, same size: in place); otherwise outputs must not overlap
 *     any input or each other (FASTACT_ERR_OVERLAP, checked from the
 *     address ranges).
 *   - Return value: FASTACT_OK (0), or a negative FASTACT_ERR_* code; on an
 *     error nothing has been written.  An output with no elements is not
 *     touched (FASTACT_OK).  NaN and infinities in the data are not errors:
 *     they give the results the Python API documents.
 *   - Threads: a call on a large array (16k elements and more for the
 *     reductions and losses, 256k for the element-wise ops) is split over
 *     fastact's worker pool, of fastact.get_num_threads() threads (the
 *     process's cores by default; fastact.set_num_threads and threadpoolctl
 *     change it).  The pool runs one call at a time: a call made while it is
 *     busy with another one runs entirely on its calling thread.  So P
 *     threads calling at once (a prange loop) use at most P + (num_threads
 *     - 1) threads; call fastact.set_num_threads(1) to keep every call on
 *     its own thread.  The split never changes a result (bit-identical for
 *     any thread count and any concurrency).
 *   - Memory: nothing is allocated.  The kernels keep fixed-size tiles on
 *     the calling thread's stack, whatever the sizes: every call ran in a
 *     thread of 80 KiB of stack (cross-entropy the deepest; GCC 12 build,
 *     every kernel level), so any thread of 128 KiB or more will do.
 *   - The kernels expect the default floating-point environment (round to
 *     nearest, no flush-to-zero), as the Python functions run in.
 */
#ifndef FASTACT_API_H
#define FASTACT_API_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#include "fastact_api_table.h"

/* Error codes (negative; FASTACT_OK is 0). */
#define FASTACT_OK 0
#define FASTACT_ERR_NOT_IMPORTED (-1) /* fastact_import() not called (or failed) in this file */
#define FASTACT_ERR_NULL (-2)         /* a required pointer is NULL */
#define FASTACT_ERR_SIZE (-3)         /* sizes overflow (an array beyond PTRDIFF_MAX bytes) */
#define FASTACT_ERR_ALIGN (-4)        /* a pointer misaligned for its element type */
#define FASTACT_ERR_OVERLAP (-5)      /* an output overlaps an input it may not */
#define FASTACT_ERR_LABEL (-6)        /* a label outside [0, C) that is not ignore_index */
#define FASTACT_ERR_VALUE (-7)        /* a bad parameter (C == 0, label_smoothing, ...) */

#if defined(__cplusplus) && __cplusplus >= 201103L
#define FASTACT__ALIGNOF(T) alignof(T)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define FASTACT__ALIGNOF(T) _Alignof(T)
#elif defined(_MSC_VER)
#define FASTACT__ALIGNOF(T) __alignof(T)
#elif defined(__GNUC__)
#define FASTACT__ALIGNOF(T) __alignof__(T)
#else
#define FASTACT__ALIGNOF(T) sizeof(T)
#endif

/* The table this file's calls go through (set by fastact_import). */
static const fastact_api_table *fastact_api_ = NULL;

/* ------------------------------------------------------------ set-up */

/* Fetch fastact's C API (importing fastact._native if needed).  Call with
 * the GIL held, once per file, before any other call.  0 on success (also
 * when already imported), -1 with a Python exception set: ImportError when
 * fastact cannot be imported (its own message), when it has no C API, when
 * its ABI version differs from this header's (the extension must be rebuilt
 * against the installed fastact) or when its table is older than this
 * header's (fastact must be upgraded). */
static inline int fastact_import(void)
{
    const fastact_api_table *t;
    if (fastact_api_ != NULL) return 0;
    t = (const fastact_api_table *)PyCapsule_Import(FASTACT_CAPSULE_NAME, 0);
    if (t == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ImportError)) {
            /* fastact imported, but no (or another) capsule: an old fastact */
            PyErr_Clear();
            PyErr_SetString(PyExc_ImportError,
                            "fastact C API: the installed fastact has no C API ("
                            FASTACT_CAPSULE_NAME "); install a fastact that provides it");
        }
        return -1;
    }
    if (t->abi_version != FASTACT_ABI_VERSION) {
        PyErr_Format(PyExc_ImportError,
                     "fastact C API: the installed fastact has ABI version %u, this extension "
                     "was compiled against version %u (fastact_api.h); rebuild it against "
                     "the installed fastact",
                     (unsigned)t->abi_version, (unsigned)FASTACT_ABI_VERSION);
        return -1;
    }
    if (t->size < sizeof(fastact_api_table)) {
        PyErr_Format(PyExc_ImportError,
                     "fastact C API: the installed fastact's table has %u bytes, this "
                     "extension was compiled against a newer fastact_api.h (%u bytes); "
                     "upgrade fastact or rebuild the extension against the installed one",
                     (unsigned)t->size, (unsigned)sizeof(fastact_api_table));
        return -1;
    }
    fastact_api_ = t;
    return 0;
}

/* A static description of an error code ("unknown error code" for others). */
static inline const char *fastact_strerror(int code)
{
    switch (code) {
    case FASTACT_OK: return "success";
    case FASTACT_ERR_NOT_IMPORTED: return "fastact C API not imported (call fastact_import())";
    case FASTACT_ERR_NULL: return "a required pointer is NULL";
    case FASTACT_ERR_SIZE: return "sizes overflow (an array beyond PTRDIFF_MAX bytes)";
    case FASTACT_ERR_ALIGN: return "a pointer is misaligned for its element type";
    case FASTACT_ERR_OVERLAP: return "an output overlaps an input it may not";
    case FASTACT_ERR_LABEL: return "a label is outside [0, C) and is not ignore_index";
    case FASTACT_ERR_VALUE: return "a parameter is out of range";
    default: return "unknown error code";
    }
}

/* Threads the kernels may use for large arrays (fastact.get_num_threads()),
 * or FASTACT_ERR_NOT_IMPORTED. */
static inline int fastact_get_num_threads(void)
{
    return fastact_api_ ? fastact_api_->get_num_threads() : FASTACT_ERR_NOT_IMPORTED;
}

/* Name of the kernel level in use ("scalar", "sse2", "avx2", "avx512";
 * fastact.show_config()'s kernel_in_use), a static string; NULL before
 * fastact_import(). */
static inline const char *fastact_kernel_level(void)
{
    return fastact_api_ ? fastact_api_->level_name(fastact_api_->get_level()) : NULL;
}

/* ------------------------------------------ checks shared by the calls
 * (internal: names with a double underscore are not part of the API) */

/* Counts no function reads (n == 0 inputs are passed this, never NULL). */
static const double fastact__none_[1] = {0.0};

/* *count = a * b * c, or FASTACT_ERR_SIZE when that many elements of esize
 * bytes exceed PTRDIFF_MAX bytes (a zero factor gives 0, never an error). */
static inline int fastact__count(size_t *count, size_t a, size_t b, size_t c, size_t esize)
{
    size_t lim = (size_t)PTRDIFF_MAX / esize;
    *count = 0;
    if (a == 0 || b == 0 || c == 0) return FASTACT_OK;
    if (a > lim || b > lim / a || c > lim / (a * b)) return FASTACT_ERR_SIZE;
    *count = a * b * c;
    return FASTACT_OK;
}

/* A pointer to count elements of alignment align: NULL only when count is 0. */
static inline int fastact__ptr(const void *p, size_t count, size_t align)
{
    if (p == NULL) return count ? FASTACT_ERR_NULL : FASTACT_OK;
    return (uintptr_t)p % align ? FASTACT_ERR_ALIGN : FASTACT_OK;
}

/* 1 when the byte ranges [a, a + na) and [b, b + nb) intersect. */
static inline int fastact__meet(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return a != NULL && b != NULL && na && nb && pa < pb + nb && pb < pa + na;
}

/* 1 when output o meets input i other than by being exactly it. */
static inline int fastact__meet_partly(const void *o, size_t no, const void *i, size_t ni)
{
    return fastact__meet(o, no, i, ni) && !(o == i && no == ni);
}

/* The same float/double code for both types: element size, alignment, code. */
#define FASTACT__F32 sizeof(float), FASTACT__ALIGNOF(float), fastact_api_->dtype_f32
#define FASTACT__F64 sizeof(double), FASTACT__ALIGNOF(double), fastact_api_->dtype_f64
#define FASTACT__I64 sizeof(int64_t), FASTACT__ALIGNOF(int64_t)
#define FASTACT__D sizeof(double), FASTACT__ALIGNOF(double)
#define FASTACT__CHECK(e) do { int fastact__e = (e); if (fastact__e) return fastact__e; } while (0)
#define FASTACT__IMPORTED() do { if (fastact_api_ == NULL) return FASTACT_ERR_NOT_IMPORTED; } while (0)

/* Reductions: keeps = y has x's shape (softmax) or outer * inner elements. */
static inline int fastact__reduce(int op, size_t es, size_t al, int dt, int keeps,
                                  const void *x, void *y, size_t outer, size_t n, size_t inner)
{
    size_t nx, ny;
    FASTACT__CHECK(fastact__count(&nx, outer, n, inner, es));
    FASTACT__CHECK(fastact__count(&ny, outer, keeps ? n : 1, inner, es));
    if (ny == 0) return FASTACT_OK;
    FASTACT__CHECK(fastact__ptr(x, nx, al));
    FASTACT__CHECK(fastact__ptr(y, ny, al));
    if (keeps ? fastact__meet_partly(y, ny * es, x, nx * es) : fastact__meet(y, ny * es, x, nx * es))
        return FASTACT_ERR_OVERLAP;
    fastact_api_->reduce(op, dt, nx ? x : (const void *)fastact__none_, y, outer, n, inner);
    return FASTACT_OK;
}

static inline int fastact__reduce2(int op, size_t es, size_t al, int dt, const void *g,
                                   const void *y, void *out, size_t outer, size_t n,
                                   size_t inner)
{
    size_t nx;
    FASTACT__CHECK(fastact__count(&nx, outer, n, inner, es));
    if (nx == 0) return FASTACT_OK;
    FASTACT__CHECK(fastact__ptr(g, nx, al));
    FASTACT__CHECK(fastact__ptr(y, nx, al));
    FASTACT__CHECK(fastact__ptr(out, nx, al));
    if (fastact__meet_partly(out, nx * es, g, nx * es) || fastact__meet_partly(out, nx * es, y, nx * es))
        return FASTACT_ERR_OVERLAP;
    fastact_api_->reduce2(op, dt, g, y, out, outer, n, inner);
    return FASTACT_OK;
}

static inline int fastact__map(int op, size_t es, size_t al, int dt, const void *x, void *y,
                               size_t len, double p)
{
    size_t nx;
    FASTACT__CHECK(fastact__count(&nx, len, 1, 1, es));
    if (nx == 0) return FASTACT_OK;
    FASTACT__CHECK(fastact__ptr(x, nx, al));
    FASTACT__CHECK(fastact__ptr(y, nx, al));
    if (fastact__meet_partly(y, nx * es, x, nx * es)) return FASTACT_ERR_OVERLAP;
    fastact_api_->map(op, dt, x, y, nx, p);
    return FASTACT_OK;
}

static inline int fastact__map2(int op, size_t es, size_t al, int dt, const void *g,
                                const void *x, void *y, size_t len, double p)
{
    size_t nx;
    FASTACT__CHECK(fastact__count(&nx, len, 1, 1, es));
    if (nx == 0) return FASTACT_OK;
    FASTACT__CHECK(fastact__ptr(g, nx, al));
    FASTACT__CHECK(fastact__ptr(x, nx, al));
    FASTACT__CHECK(fastact__ptr(y, nx, al));
    if (fastact__meet_partly(y, nx * es, g, nx * es) || fastact__meet_partly(y, nx * es, x, nx * es))
        return FASTACT_ERR_OVERLAP;
    fastact_api_->map2(op, dt, g, x, y, nx, p);
    return FASTACT_OK;
}

/* Cross-entropy with index targets (index: labels) or probabilities (p),
 * the loss only (grad == 0) or with the gradient dx (grad == 1). */
static inline int fastact__ce(size_t es, size_t al, int dt, int grad, int index, const void *x,
                              const void *p, const int64_t *label, const double *weight,
                              size_t outer, size_t C, size_t inner, int64_t ignore_index,
                              double eps, int mean, double g, const double *gvec, void *dx,
                              void *loss, double *sum, double *wsum)
{
    size_t nx, ns, nc, bx, bs, bl, bg, bw, bp;
    double s = 0.0, ws = 0.0;
    if (C == 0 || !(eps >= 0.0 && eps <= 1.0)) return FASTACT_ERR_VALUE; /* NaN fails too */
    FASTACT__CHECK(fastact__count(&nx, outer, C, inner, es));
    /* samples: labels and gvec have 8-byte elements */
    FASTACT__CHECK(fastact__count(&ns, outer, inner, 1, index || gvec ? 8 : es));
    /* C weights of 8 bytes: C < 2^60, so (int64_t)C below is exact */
    FASTACT__CHECK(fastact__count(&nc, C, 1, 1, sizeof(double)));
    if (ns != 0) {
        FASTACT__CHECK(fastact__ptr(x, nx, al));
        if (index) FASTACT__CHECK(fastact__ptr(label, ns, FASTACT__ALIGNOF(int64_t)));
        else FASTACT__CHECK(fastact__ptr(p, nx, al));
        if (weight) FASTACT__CHECK(fastact__ptr(weight, nc, FASTACT__ALIGNOF(double)));
        if (gvec) FASTACT__CHECK(fastact__ptr(gvec, ns, FASTACT__ALIGNOF(double)));
        if (loss) FASTACT__CHECK(fastact__ptr(loss, ns, al));
        if (grad) FASTACT__CHECK(fastact__ptr(dx, nx, al));
        bx = nx * es, bs = loss ? ns * es : 0, bw = weight ? nc * sizeof(double) : 0;
        bp = index ? 0 : bx, bl = index ? ns * sizeof(int64_t) : 0;
        bg = gvec ? ns * sizeof(double) : 0;
        /* dx: exactly x or apart from it, apart from everything else */
        if (grad && (fastact__meet_partly(dx, bx, x, bx) || fastact__meet(dx, bx, p, bp)
                     || fastact__meet(dx, bx, label, bl) || fastact__meet(dx, bx, weight, bw)
                     || fastact__meet(dx, bx, gvec, bg) || fastact__meet(dx, bx, loss, bs)))
            return FASTACT_ERR_OVERLAP;
        if (fastact__meet(loss, bs, x, bx) || fastact__meet(loss, bs, p, bp)
            || fastact__meet(loss, bs, label, bl) || fastact__meet(loss, bs, weight, bw)
            || fastact__meet(loss, bs, gvec, bg))
            return FASTACT_ERR_OVERLAP;
        if (index && fastact_api_->first_bad_label(label, ns, (int64_t)C, ignore_index) >= 0)
            return FASTACT_ERR_LABEL;
        if (!grad)
            fastact_api_->loss(index ? fastact_api_->op_ce_index : fastact_api_->op_ce_prob, dt,
                               x, index ? NULL : p, index ? label : NULL, weight, outer, C,
                               inner, index ? ignore_index : 0, eps, loss, &s, &ws);
        else if (index)
            fastact_api_->loss_grad(fastact_api_->op_ce_index_grad, dt, x, NULL, label, weight,
                                    outer, C, inner, ignore_index, eps, g, gvec, mean != 0, dx,
                                    loss, &s, &ws);
        else /* "mean": g over the sample count, as the Python layer divides it */
            fastact_api_->loss_grad(fastact_api_->op_ce_prob_grad, dt, x, p, NULL, weight,
                                    outer, C, inner, 0, eps, mean ? g / (double)ns : g, gvec,
                                    0, dx, loss, &s, &ws);
    }
    if (sum) *sum = s;
    if (wsum) *wsum = index ? ws : 0.0;
    return FASTACT_OK;
}

/* Extent (elements) of an (outer, C) weight view read at o * row + c * col. */
static inline int fastact__view(size_t *count, size_t outer, size_t C, size_t row, size_t col,
                                size_t esize)
{
    size_t a, b, lim = (size_t)PTRDIFF_MAX / esize;
    *count = 0;
    if (outer == 0 || C == 0) return FASTACT_OK;
    if (row && outer - 1 > lim / row) return FASTACT_ERR_SIZE;
    if (col && C - 1 > lim / col) return FASTACT_ERR_SIZE;
    a = (outer - 1) * row, b = (C - 1) * col;
    if (a > lim - b || a + b + 1 > lim) return FASTACT_ERR_SIZE;
    *count = a + b + 1;
    return FASTACT_OK;
}

static inline int fastact__bce(size_t es, size_t al, int dt, int grad, const void *x,
                               const void *y, const void *w, size_t w_row, size_t w_col,
                               const void *pw, size_t p_row, size_t p_col, size_t outer,
                               size_t C, int mean, double g, const void *gvec, void *dx,
                               void *loss, double *sum)
{
    size_t len, nw = 0, np = 0, bx;
    double s = 0.0;
    FASTACT__CHECK(fastact__count(&len, outer, C, 1, es));
    if (w) FASTACT__CHECK(fastact__view(&nw, outer, C, w_row, w_col, es));
    if (pw) FASTACT__CHECK(fastact__view(&np, outer, C, p_row, p_col, es));
    bx = len * es;
    if (len != 0) {
        FASTACT__CHECK(fastact__ptr(x, len, al));
        FASTACT__CHECK(fastact__ptr(y, len, al));
        FASTACT__CHECK(fastact__ptr(w, nw, al));
        FASTACT__CHECK(fastact__ptr(pw, np, al));
        FASTACT__CHECK(fastact__ptr(gvec, gvec ? len : 0, al));
        FASTACT__CHECK(fastact__ptr(loss, loss ? len : 0, al));
        if (grad) FASTACT__CHECK(fastact__ptr(dx, len, al));
        if (grad && (fastact__meet_partly(dx, bx, x, bx) || fastact__meet(dx, bx, y, bx)
                     || fastact__meet(dx, bx, w, nw * es) || fastact__meet(dx, bx, pw, np * es)
                     || fastact__meet(dx, bx, gvec, gvec ? bx : 0)
                     || fastact__meet(dx, bx, loss, loss ? bx : 0)))
            return FASTACT_ERR_OVERLAP;
        if (loss && (fastact__meet(loss, bx, x, bx) || fastact__meet(loss, bx, y, bx)
                     || fastact__meet(loss, bx, w, nw * es) || fastact__meet(loss, bx, pw, np * es)
                     || fastact__meet(loss, bx, gvec, gvec ? bx : 0)))
            return FASTACT_ERR_OVERLAP;
        fastact_api_->elem_loss(fastact_api_->op_bce_logits, dt, x, y, w, w_row, w_col, pw,
                                p_row, p_col, C, len, mean ? g / (double)len : g, gvec,
                                grad ? dx : NULL, loss, &s);
    }
    if (sum) *sum = s;
    return FASTACT_OK;
}

/* ======================================================= the functions
 * Every function exists as _f32 (T = float) and _f64 (T = double); the
 * conventions above apply to all of them.  Each is the kernel of the Python
 * function named, on the (outer, n, inner) view of its axis. */

/* --- softmax, log_softmax (fastact.softmax / log_softmax over one axis)
 * y[(o, i, k)] = exp(x - m) / sum_i exp(x - m) per group (o, k), m its max
 * (log_softmax: (x - m) - log(sum_i exp(x - m))).  x, y: outer * n * inner
 * elements; y may be exactly x (in place).  NaN/inf as the Python API: a
 * group with NaN, with +inf, or all -inf gives NaN. */
static inline int fastact_softmax_f32(const float *x, float *y, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce(fastact_api_->op_softmax, FASTACT__F32, 1, x, y, outer, n, inner); }
static inline int fastact_softmax_f64(const double *x, double *y, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce(fastact_api_->op_softmax, FASTACT__F64, 1, x, y, outer, n, inner); }
static inline int fastact_log_softmax_f32(const float *x, float *y, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce(fastact_api_->op_log_softmax, FASTACT__F32, 1, x, y, outer, n, inner); }
static inline int fastact_log_softmax_f64(const double *x, double *y, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce(fastact_api_->op_log_softmax, FASTACT__F64, 1, x, y, outer, n, inner); }

/* --- logsumexp (fastact.logsumexp over one axis)
 * y[o * inner + k] = m + log(sum_i exp(x - m)) per group; x: outer * n *
 * inner elements, y: outer * inner (must not overlap x at all).  n == 0
 * gives -inf (x may then be NULL); NaN -> NaN, +inf -> +inf. */
static inline int fastact_logsumexp_f32(const float *x, float *y, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce(fastact_api_->op_logsumexp, FASTACT__F32, 0, x, y, outer, n, inner); }
static inline int fastact_logsumexp_f64(const double *x, double *y, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce(fastact_api_->op_logsumexp, FASTACT__F64, 0, x, y, outer, n, inner); }

/* --- softmax_backward, log_softmax_backward (fastact.softmax_backward ...)
 * out = y * (grad - sum_i grad * y) per group (y softmax's output);
 * log_softmax_backward: out = grad - exp(y) * sum_i grad (y log_softmax's
 * output).  grad, y, out: outer * n * inner elements; out may be exactly
 * grad or y. */
static inline int fastact_softmax_backward_f32(const float *grad, const float *y, float *out, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce2(fastact_api_->op_softmax_backward, FASTACT__F32, grad, y, out, outer, n, inner); }
static inline int fastact_softmax_backward_f64(const double *grad, const double *y, double *out, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce2(fastact_api_->op_softmax_backward, FASTACT__F64, grad, y, out, outer, n, inner); }
static inline int fastact_log_softmax_backward_f32(const float *grad, const float *y, float *out, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce2(fastact_api_->op_log_softmax_backward, FASTACT__F32, grad, y, out, outer, n, inner); }
static inline int fastact_log_softmax_backward_f64(const double *grad, const double *y, double *out, size_t outer, size_t n, size_t inner)
{ FASTACT__IMPORTED(); return fastact__reduce2(fastact_api_->op_log_softmax_backward, FASTACT__F64, grad, y, out, outer, n, inner); }

/* --- relu, leaky_relu, sigmoid (element-wise, len elements)
 * relu: IEEE maximum(x, +0.0) (NaN kept); leaky_relu: x > 0 ? x : x *
 * negative_slope (the slope rounded to T; any value, NaN/inf included);
 * sigmoid: 1 / (1 + exp(-x)) without overflow.  y may be exactly x. */
static inline int fastact_relu_f32(const float *x, float *y, size_t len)
{ FASTACT__IMPORTED(); return fastact__map(fastact_api_->op_relu, FASTACT__F32, x, y, len, 0.0); }
static inline int fastact_relu_f64(const double *x, double *y, size_t len)
{ FASTACT__IMPORTED(); return fastact__map(fastact_api_->op_relu, FASTACT__F64, x, y, len, 0.0); }
static inline int fastact_leaky_relu_f32(const float *x, float *y, size_t len, double negative_slope)
{ FASTACT__IMPORTED(); return fastact__map(fastact_api_->op_leaky_relu, FASTACT__F32, x, y, len, negative_slope); }
static inline int fastact_leaky_relu_f64(const double *x, double *y, size_t len, double negative_slope)
{ FASTACT__IMPORTED(); return fastact__map(fastact_api_->op_leaky_relu, FASTACT__F64, x, y, len, negative_slope); }
static inline int fastact_sigmoid_f32(const float *x, float *y, size_t len)
{ FASTACT__IMPORTED(); return fastact__map(fastact_api_->op_sigmoid, FASTACT__F32, x, y, len, 0.0); }
static inline int fastact_sigmoid_f64(const double *x, double *y, size_t len)
{ FASTACT__IMPORTED(); return fastact__map(fastact_api_->op_sigmoid, FASTACT__F64, x, y, len, 0.0); }

/* --- relu_backward, leaky_relu_backward, sigmoid_backward (len elements)
 * relu_backward: !(x <= 0) ? grad : +0.0; leaky_relu_backward: x > 0 ?
 * grad : grad * negative_slope (x the forward input); sigmoid_backward:
 * (grad * (1 - y)) * y (y sigmoid's output).  out may be exactly grad or
 * the second input. */
static inline int fastact_relu_backward_f32(const float *grad, const float *x, float *out, size_t len)
{ FASTACT__IMPORTED(); return fastact__map2(fastact_api_->op_relu_backward, FASTACT__F32, grad, x, out, len, 0.0); }
static inline int fastact_relu_backward_f64(const double *grad, const double *x, double *out, size_t len)
{ FASTACT__IMPORTED(); return fastact__map2(fastact_api_->op_relu_backward, FASTACT__F64, grad, x, out, len, 0.0); }
static inline int fastact_leaky_relu_backward_f32(const float *grad, const float *x, float *out, size_t len, double negative_slope)
{ FASTACT__IMPORTED(); return fastact__map2(fastact_api_->op_leaky_relu_backward, FASTACT__F32, grad, x, out, len, negative_slope); }
static inline int fastact_leaky_relu_backward_f64(const double *grad, const double *x, double *out, size_t len, double negative_slope)
{ FASTACT__IMPORTED(); return fastact__map2(fastact_api_->op_leaky_relu_backward, FASTACT__F64, grad, x, out, len, negative_slope); }
static inline int fastact_sigmoid_backward_f32(const float *grad, const float *y, float *out, size_t len)
{ FASTACT__IMPORTED(); return fastact__map2(fastact_api_->op_sigmoid_backward, FASTACT__F32, grad, y, out, len, 0.0); }
static inline int fastact_sigmoid_backward_f64(const double *grad, const double *y, double *out, size_t len)
{ FASTACT__IMPORTED(); return fastact__map2(fastact_api_->op_sigmoid_backward, FASTACT__F64, grad, y, out, len, 0.0); }

/* --- the labels' check
 * *index = the C-order position of the first label outside [0, C) that is
 * not ignore_index, or -1 when there is none (what the cross-entropy
 * functions reject with FASTACT_ERR_LABEL).  labels: len elements. */
static inline int fastact_first_bad_label(const int64_t *labels, size_t len, size_t C,
                                          int64_t ignore_index, ptrdiff_t *index)
{
    size_t n;
    FASTACT__IMPORTED();
    FASTACT__CHECK(fastact__count(&n, len, 1, 1, sizeof(int64_t)));
    FASTACT__CHECK(fastact__ptr(labels, n, FASTACT__ALIGNOF(int64_t)));
    if (index == NULL) return FASTACT_ERR_NULL;
    if (C > (size_t)INT64_MAX) return FASTACT_ERR_SIZE;
    *index = n ? fastact_api_->first_bad_label(labels, n, (int64_t)C, ignore_index) : -1;
    return FASTACT_OK;
}

/* --- cross_entropy, class-index targets (fastact.cross_entropy)
 * logits: outer * C * inner elements, the classes along the middle axis
 * (axis=1 of (N, C, d1, ...) logits: outer = N, inner = d1 * ...; (N, C)
 * logits: outer = N, inner = 1).  labels: outer * inner int64 class
 * indices in [0, C), or ignore_index (those samples have loss 0 and no
 * weight).  weight: C doubles, optional (NULL: all 1).  label_smoothing in
 * [0, 1] (else FASTACT_ERR_VALUE, as C == 0).  PyTorch's loss per sample s
 * with label t: (1 - eps) * w_t * (-log p_t) + eps / C * sum_c w_c * (-log p_c).
 * Outputs, each optional (NULL: not wanted): loss, the outer * inner
 * per-sample losses (T; reduction "none"); *sum, their sum (double;
 * "sum" is (T)*sum); *weight_sum, the sum of weight[label] over the samples
 * not ignored ("mean" is (T)(*sum / *weight_sum): NaN when all are
 * ignored, as PyTorch).  A label outside [0, C) that is not ignore_index:
 * FASTACT_ERR_LABEL, nothing written (fastact_first_bad_label says where).
 * loss must not overlap the inputs; sum and weight_sum are written last. */
static inline int fastact_cross_entropy_f32(const float *logits, const int64_t *labels, const double *weight,
                                            size_t outer, size_t C, size_t inner, int64_t ignore_index,
                                            double label_smoothing, float *loss, double *sum, double *weight_sum)
{
    FASTACT__IMPORTED();
    return fastact__ce(FASTACT__F32, 0, 1, logits, NULL, labels,
                       weight, outer, C, inner, ignore_index, label_smoothing, 0, 0.0, NULL, NULL,
                       loss, sum, weight_sum);
}
static inline int fastact_cross_entropy_f64(const double *logits, const int64_t *labels, const double *weight,
                                            size_t outer, size_t C, size_t inner, int64_t ignore_index,
                                            double label_smoothing, double *loss, double *sum, double *weight_sum)
{
    FASTACT__IMPORTED();
    return fastact__ce(FASTACT__F64, 0, 1, logits, NULL, labels,
                       weight, outer, C, inner, ignore_index, label_smoothing, 0, 0.0, NULL, NULL,
                       loss, sum, weight_sum);
}

/* --- cross_entropy, class-probability targets
 * target: the logits' layout (outer * C * inner, T), any reals.  Loss per
 * sample: sum_c w_c q_c (-log p_c), q_c = (1 - eps) target_c + eps / C.
 * Outputs as above, optional: loss (per sample), *sum ("mean" is
 * (T)(*sum / (outer * inner)), as PyTorch). */
static inline int fastact_cross_entropy_prob_f32(const float *logits, const float *target, const double *weight,
                                                 size_t outer, size_t C, size_t inner, double label_smoothing,
                                                 float *loss, double *sum)
{
    FASTACT__IMPORTED();
    return fastact__ce(FASTACT__F32, 0, 0, logits, target, NULL, weight, outer, C, inner, 0,
                       label_smoothing, 0, 0.0, NULL, NULL, loss, sum, NULL);
}
static inline int fastact_cross_entropy_prob_f64(const double *logits, const double *target, const double *weight,
                                                 size_t outer, size_t C, size_t inner, double label_smoothing,
                                                 double *loss, double *sum)
{
    FASTACT__IMPORTED();
    return fastact__ce(FASTACT__F64, 0, 0, logits, target, NULL, weight, outer, C, inner, 0,
                       label_smoothing, 0, 0.0, NULL, NULL, loss, sum, NULL);
}

/* --- cross_entropy_with_grad, class-index targets (loss and gradient in
 * one pass over the logits)
 * As fastact_cross_entropy (same arguments, same outputs, bit-identical),
 * and dlogits (the logits' layout, required; may be exactly logits, in
 * place) = d(sum_s g_s loss_s)/d(logits), g_s = grad_loss * (grad_per_sample
 * ? grad_per_sample[s] : 1), divided by the weight sum when mean != 0
 * (reduction "mean"; the sum formed as *weight_sum's).  Ignored samples
 * get 0.  grad_per_sample: outer * inner doubles, optional (reduction
 * "none" with an upstream gradient per sample).  fastact's
 * cross_entropy_with_grad(reduction=r, grad_loss=G): "mean": mean=1,
 * grad_loss=G; "sum": mean=0, grad_loss=G; "none": mean=0, grad_loss=1,
 * grad_per_sample=G.  dlogits must not otherwise overlap any input or loss. */
static inline int fastact_cross_entropy_grad_f32(const float *logits, const int64_t *labels, const double *weight,
                                                 size_t outer, size_t C, size_t inner, int64_t ignore_index,
                                                 double label_smoothing, int mean, double grad_loss,
                                                 const double *grad_per_sample, float *dlogits,
                                                 float *loss, double *sum, double *weight_sum)
{
    FASTACT__IMPORTED();
    return fastact__ce(FASTACT__F32, 1, 1, logits, NULL, labels,
                       weight, outer, C, inner, ignore_index, label_smoothing, mean, grad_loss,
                       grad_per_sample, dlogits, loss, sum, weight_sum);
}
static inline int fastact_cross_entropy_grad_f64(const double *logits, const int64_t *labels, const double *weight,
                                                 size_t outer, size_t C, size_t inner, int64_t ignore_index,
                                                 double label_smoothing, int mean, double grad_loss,
                                                 const double *grad_per_sample, double *dlogits,
                                                 double *loss, double *sum, double *weight_sum)
{
    FASTACT__IMPORTED();
    return fastact__ce(FASTACT__F64, 1, 1, logits, NULL, labels,
                       weight, outer, C, inner, ignore_index, label_smoothing, mean, grad_loss,
                       grad_per_sample, dlogits, loss, sum, weight_sum);
}

/* --- cross_entropy_with_grad, class-probability targets
 * As fastact_cross_entropy_prob, and dlogits as above; mean != 0 divides
 * g_s by outer * inner (reduction "mean"). */
static inline int fastact_cross_entropy_prob_grad_f32(const float *logits, const float *target, const double *weight,
                                                      size_t outer, size_t C, size_t inner, double label_smoothing,
                                                      int mean, double grad_loss, const double *grad_per_sample,
                                                      float *dlogits, float *loss, double *sum)
{
    FASTACT__IMPORTED();
    return fastact__ce(FASTACT__F32, 1, 0, logits, target, NULL, weight, outer, C, inner, 0,
                       label_smoothing, mean, grad_loss, grad_per_sample, dlogits, loss, sum, NULL);
}
static inline int fastact_cross_entropy_prob_grad_f64(const double *logits, const double *target, const double *weight,
                                                      size_t outer, size_t C, size_t inner, double label_smoothing,
                                                      int mean, double grad_loss, const double *grad_per_sample,
                                                      double *dlogits, double *loss, double *sum)
{
    FASTACT__IMPORTED();
    return fastact__ce(FASTACT__F64, 1, 0, logits, target, NULL, weight, outer, C, inner, 0,
                       label_smoothing, mean, grad_loss, grad_per_sample, dlogits, loss, sum, NULL);
}

/* --- binary_cross_entropy_with_logits (+ _with_grad), element-wise
 * logits, target: outer * C elements (T) seen as outer rows of C.  Element
 * (o, c) has the weight weight[o * w_row + c * w_col] and the pos_weight
 * pos_weight[o * p_row + c * p_col] (T; each optional, NULL: 1): strides
 * (C, 1) for a full array, (0, 1) per class, (1, 0) per row, (0, 0) a
 * scalar.  Loss per element (PyTorch's): w * [(1 - y) * x + (1 + (pw - 1)
 * * y) * softplus(-x)].  Outputs, optional: loss (outer * C, per element;
 * "none"), *sum (double; "mean" is (T)(*sum / (outer * C))).  The _grad
 * form also writes dlogits (required; may be exactly logits) =
 * d(sum_i g_i loss_i)/d(logits), g_i = grad_loss * (grad_per_element ?
 * grad_per_element[i] : 1), divided by outer * C when mean != 0;
 * grad_per_element: outer * C elements of T, optional.  Outputs must not
 * otherwise overlap the inputs or each other. */
static inline int fastact_binary_cross_entropy_with_logits_f32(
    const float *logits, const float *target, const float *weight, size_t w_row, size_t w_col,
    const float *pos_weight, size_t p_row, size_t p_col, size_t outer, size_t C, float *loss,
    double *sum)
{
    FASTACT__IMPORTED();
    return fastact__bce(FASTACT__F32, 0, logits, target, weight, w_row, w_col, pos_weight, p_row,
                        p_col, outer, C, 0, 1.0, NULL, NULL, loss, sum);
}
static inline int fastact_binary_cross_entropy_with_logits_f64(
    const double *logits, const double *target, const double *weight, size_t w_row, size_t w_col,
    const double *pos_weight, size_t p_row, size_t p_col, size_t outer, size_t C, double *loss,
    double *sum)
{
    FASTACT__IMPORTED();
    return fastact__bce(FASTACT__F64, 0, logits, target, weight, w_row, w_col, pos_weight, p_row,
                        p_col, outer, C, 0, 1.0, NULL, NULL, loss, sum);
}
static inline int fastact_binary_cross_entropy_with_logits_grad_f32(
    const float *logits, const float *target, const float *weight, size_t w_row, size_t w_col,
    const float *pos_weight, size_t p_row, size_t p_col, size_t outer, size_t C, int mean,
    double grad_loss, const float *grad_per_element, float *dlogits, float *loss, double *sum)
{
    FASTACT__IMPORTED();
    return fastact__bce(FASTACT__F32, 1, logits, target, weight, w_row, w_col, pos_weight, p_row,
                        p_col, outer, C, mean, grad_loss, grad_per_element, dlogits, loss, sum);
}
static inline int fastact_binary_cross_entropy_with_logits_grad_f64(
    const double *logits, const double *target, const double *weight, size_t w_row, size_t w_col,
    const double *pos_weight, size_t p_row, size_t p_col, size_t outer, size_t C, int mean,
    double grad_loss, const double *grad_per_element, double *dlogits, double *loss, double *sum)
{
    FASTACT__IMPORTED();
    return fastact__bce(FASTACT__F64, 1, logits, target, weight, w_row, w_col, pos_weight, p_row,
                        p_col, outer, C, mean, grad_loss, grad_per_element, dlogits, loss, sum);
}

#endif /* FASTACT_API_H */
