# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Private binding of the C kernels in ``src_c/``.

Two kinds of entry points:

* ``*_fast``: the common case, decided entirely in C with the NumPy C API
  (exact ``ndarray`` of float32/float64, C-contiguous, aligned, native byte
  order, ``axis`` an int or None, ``out`` None or a matching C-contiguous
  writeable array).  They return ``None`` for anything else, and the caller
  (``fastact._api``) takes the general path, which validates and raises.
* ``*_raw``: run a kernel on arrays the general path has already prepared.
  They re-check what memory safety depends on (dtype, contiguity, sizes,
  label range) and raise rather than read or write out of bounds.

Every kernel runs with the GIL released.
"""

cimport numpy as cnp
import numpy as np
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t

from fastact._checks import bad_label_error

cnp.import_array()

cdef extern from "fastact.h" nogil:
    int fa_cpu_level()
    int fa_init(const char *request)
    int fa_set_level(int level)
    int fa_get_level()
    const char *fa_level_name(int level)
    const char *fa_compiled_levels()
    const char *fa_op_name(int family, int op)
    enum:
        FA_F32
        FA_F64
        FA_FAMILY_REDUCE
        FA_FAMILY_MAP
        FA_FAMILY_LOSS
        FA_REDUCE_softmax
        FA_REDUCE_log_softmax
        FA_REDUCE_logsumexp
        FA_MAP_relu
        FA_LOSS_ce_index
        FA_LOSS_ce_prob
    ptrdiff_t fa_first_bad_label(const int64_t *, size_t, int64_t, int64_t)
    void fa_reduce(int op, int dtype, const void *x, void *y, size_t outer, size_t n,
                   size_t inner)
    void fa_map(int op, int dtype, const void *x, void *y, size_t len)
    void fa_loss(int op, int dtype, const void *x, const void *p, const int64_t *label,
                 const double *weight, size_t outer, size_t C, size_t inner,
                 int64_t ignore_index, double eps, void *loss, double *sum, double *wsum)

cdef extern from "runtime/kernels.h" nogil:
    # the test-only table: the exponential and each pass on its own
    ctypedef struct fa_test_kernels:
        void (*exp_nonpos)(const void *, void *, size_t) noexcept nogil
        double (*row_max)(const void *, size_t) noexcept nogil
        double (*row_sumexp_m1)(const void *, size_t, double, void *) noexcept nogil
        void (*row_scale)(void *, size_t, double) noexcept nogil
        void (*row_log_softmax_out)(const void *, void *, size_t, double, double) noexcept nogil
        void (*cols_max_pack)(const void *, size_t, size_t, size_t, void *, void *) noexcept nogil
        void (*cols_sumexp_m1)(const void *, size_t, size_t, size_t, const void *, void *,
                               double *) noexcept nogil
        void (*cols_scale_to)(const void *, size_t, void *, size_t, size_t, size_t,
                              const double *) noexcept nogil
        void (*cols_log_softmax_out)(const void *, size_t, void *, size_t, size_t, size_t,
                                     const void *, const double *) noexcept nogil
    const fa_test_kernels *fa_active_test[2]

cdef extern from "runtime/threads.h" nogil:
    enum: FA_MAX_THREADS
    void fa_set_num_threads(int n)
    int fa_get_num_threads()
    int fa_threads_available()

import os as _os

#: Kernel levels compiled into this build, lowest first.
KERNELS_COMPILED = tuple(fa_compiled_levels().decode().split())
#: Highest level this CPU and OS support.
CPU_LEVEL = fa_level_name(fa_cpu_level()).decode()
#: FASTACT_ISA, read once: a lower level to use than the best one.
ISA_REQUEST = _os.environ.get("FASTACT_ISA", "").strip().lower()


def _init_tables():
    level = fa_init(ISA_REQUEST.encode())
    if level < 0:
        raise ImportError(
            f"FASTACT_ISA={ISA_REQUEST!r} is not a kernel level; use one of "
            f"{', '.join(KERNELS_COMPILED)} (or leave it unset for the best one)"
        )
    return fa_level_name(level).decode()


#: Name of the kernel level in use (chosen once, here, at import).
KERNEL_IN_USE = _init_tables()

cdef enum:
    MAXDIMS = 64

# Operation codes of the reductions, for reduce_fast / reduce_raw.
SOFTMAX = FA_REDUCE_softmax
LOG_SOFTMAX = FA_REDUCE_log_softmax
LOGSUMEXP = FA_REDUCE_logsumexp


cdef inline bint _usable(cnp.ndarray a, int typenum):
    """The kernels can read/write ``a`` directly."""
    return (cnp.PyArray_TYPE(a) == typenum and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a))


cdef inline bint _is_float(int typenum):
    return typenum == cnp.NPY_FLOAT32 or typenum == cnp.NPY_FLOAT64


cdef inline bint _overlap_partially(cnp.ndarray a, cnp.ndarray b):
    """Byte ranges of two C-contiguous arrays intersect but do not start at
    the same address (same start + same shape is an exact alias: fine)."""
    cdef char *pa = <char *>cnp.PyArray_DATA(a)
    cdef char *pb = <char *>cnp.PyArray_DATA(b)
    if pa == pb:
        return False
    return pa < pb + cnp.PyArray_NBYTES(b) and pb < pa + cnp.PyArray_NBYTES(a)


cdef inline bint _out_ok(cnp.ndarray out, int typenum, int nd, cnp.npy_intp *dims):
    cdef int i
    if not _usable(out, typenum) or not cnp.PyArray_ISWRITEABLE(out):
        return False
    if cnp.PyArray_NDIM(out) != nd:
        return False
    cdef cnp.npy_intp *od = cnp.PyArray_DIMS(out)
    for i in range(nd):
        if od[i] != dims[i]:
            return False
    return True


cdef object _fast_out(cnp.ndarray x, object out, int typenum, int nd, cnp.npy_intp *dims,
                      bint alias_ok):
    """The array to write a fast-path result to: a new one when out is None,
    out itself when the kernels can write it directly (x's dtype, C-contiguous,
    writeable, exactly `dims`, no overlap with x except, when alias_ok, being
    x itself), else None (the general path will handle it)."""
    if out is None:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    if type(out) is not cnp.ndarray:
        return None
    cdef cnp.ndarray ya = <cnp.ndarray>out
    if not _out_ok(ya, typenum, nd, dims) or _overlap_partially(x, ya):
        return None
    if not alias_ok and cnp.PyArray_DATA(x) == cnp.PyArray_DATA(ya):
        return None
    return ya


cdef inline bint _axis_split(cnp.ndarray x, object axis, size_t *outer, size_t *n,
                             size_t *inner, int *ax):
    """(outer, n, inner) for an int axis (ax >= 0) or None (ax = -1)."""
    cdef int nd = cnp.PyArray_NDIM(x)
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(x)
    cdef Py_ssize_t a
    cdef int i
    if axis is None:
        outer[0] = 1
        n[0] = <size_t>cnp.PyArray_SIZE(x)
        inner[0] = 1
        ax[0] = -1
        return True
    if type(axis) is not int:
        return False
    try:
        a = axis
    except OverflowError:
        return False
    if a < 0:
        a += nd
    if a < 0 or a >= nd:
        return False
    outer[0] = 1
    inner[0] = 1
    for i in range(a):
        outer[0] *= <size_t>dims[i]
    for i in range(a + 1, nd):
        inner[0] *= <size_t>dims[i]
    n[0] = <size_t>dims[a]
    ax[0] = <int>a
    return True


cdef inline int _dtype(cnp.ndarray x):
    """The kernel tables' index of x's (float32 / float64) dtype."""
    return FA_F64 if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT64 else FA_F32


cdef void _reduce(int op, cnp.ndarray x, cnp.ndarray y, size_t outer, size_t n, size_t inner):
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef int dt = _dtype(x)
    with nogil:
        fa_reduce(op, dt, xp, yp, outer, n, inner)


cdef void _relu(cnp.ndarray x, cnp.ndarray y):
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef size_t length = <size_t>cnp.PyArray_SIZE(x)
    cdef int dt = _dtype(x)
    with nogil:
        fa_map(FA_MAP_relu, dt, xp, yp, length)


#: The most threads the kernels use (set_num_threads clamps to it).
MAX_THREADS = FA_MAX_THREADS


def set_num_threads(int n):
    """Threads the kernels may use for large arrays, clamped to [1, MAX_THREADS]."""
    fa_set_num_threads(n)


def get_num_threads():
    """Threads the kernels may use for large arrays."""
    return fa_get_num_threads()


#: True when built with thread support (POSIX threads); else always serial.
THREADS_AVAILABLE = bool(fa_threads_available())


def reduce_fast(int op, x, axis, out):
    """softmax (op 0) / log_softmax (op 1) of the common case, else None."""
    if type(x) is not cnp.ndarray:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int typenum = cnp.PyArray_TYPE(xa)
    cdef size_t outer, n, inner
    cdef int ax
    # 0-d input: the general path (its result is a NumPy scalar)
    if not _is_float(typenum) or not _usable(xa, typenum) or cnp.PyArray_NDIM(xa) == 0:
        return None
    if not _axis_split(xa, axis, &outer, &n, &inner, &ax):
        return None
    ya = _fast_out(xa, out, typenum, cnp.PyArray_NDIM(xa), cnp.PyArray_DIMS(xa), True)
    if ya is not None:
        _reduce(op, xa, <cnp.ndarray>ya, outer, n, inner)
    return ya


def logsumexp_fast(x, axis, bint keepdims, out):
    """logsumexp of the common case, else None.  A 0-d result without out is
    returned as a NumPy scalar."""
    if type(x) is not cnp.ndarray:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int typenum = cnp.PyArray_TYPE(xa)
    cdef size_t outer, n, inner
    cdef int ax, i, rnd = 0
    cdef cnp.npy_intp rdims[MAXDIMS]
    if not _is_float(typenum) or not _usable(xa, typenum):
        return None
    if not _axis_split(xa, axis, &outer, &n, &inner, &ax):
        return None
    cdef int nd = cnp.PyArray_NDIM(xa)
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(xa)
    for i in range(nd):
        if ax == -1 or i == ax:
            if keepdims:
                rdims[rnd] = 1
                rnd += 1
        else:
            rdims[rnd] = dims[i]
            rnd += 1
    # No overlap at all: the output is not laid out like the input, so
    # writing it could clobber groups not yet read.
    ya = _fast_out(xa, out, typenum, rnd, rdims, False)
    if ya is None:
        return None
    _reduce(FA_REDUCE_logsumexp, xa, <cnp.ndarray>ya, outer, n, inner)
    if out is None and rnd == 0:
        return ya[()]
    return ya


def relu_fast(x, out):
    """relu of the common case, else None."""
    if type(x) is not cnp.ndarray:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int typenum = cnp.PyArray_TYPE(xa)
    if not _is_float(typenum) or not _usable(xa, typenum) or cnp.PyArray_NDIM(xa) == 0:
        return None
    ya = _fast_out(xa, out, typenum, cnp.PyArray_NDIM(xa), cnp.PyArray_DIMS(xa), True)
    if ya is not None:
        _relu(xa, <cnp.ndarray>ya)
    return ya


cdef int _check_pair(cnp.ndarray x, cnp.ndarray y, object y_size) except -1:
    cdef int typenum = cnp.PyArray_TYPE(x)
    if not _is_float(typenum) or not _usable(x, typenum):
        raise TypeError("internal: x must be C-contiguous aligned float32/float64")
    if not _usable(y, typenum) or not cnp.PyArray_ISWRITEABLE(y):
        raise TypeError("internal: y must be a writeable C-contiguous array of x's dtype")
    if cnp.PyArray_SIZE(y) != y_size:
        raise ValueError("internal: y has the wrong size")
    return 0


def reduce_raw(int op, cnp.ndarray x, cnp.ndarray y, outer, n, inner):
    """Run reduction ``op`` on x seen as (outer, n, inner) into y (exact alias
    of x allowed for softmax/log_softmax; no other overlap)."""
    if op not in (SOFTMAX, LOG_SOFTMAX, LOGSUMEXP):
        raise ValueError(f"internal: unknown op {op}")
    if min(outer, n, inner) < 0 or outer * n * inner != cnp.PyArray_SIZE(x):
        raise ValueError("internal: (outer, n, inner) does not match x.size")
    _check_pair(x, y, outer * inner if op == LOGSUMEXP else outer * n * inner)
    _reduce(op, x, y, outer, n, inner)


def relu_raw(cnp.ndarray x, cnp.ndarray y):
    """y = relu(x) elementwise (x and y of the same size; exact alias allowed)."""
    _check_pair(x, y, cnp.PyArray_SIZE(x))
    _relu(x, y)


cdef const double *_weight_ptr(object weight, size_t C) except? NULL:
    if weight is None:
        return NULL
    cdef cnp.ndarray w = <cnp.ndarray?>weight
    if not _usable(w, cnp.NPY_FLOAT64) or cnp.PyArray_SIZE(w) != <cnp.npy_intp>C:
        raise TypeError("internal: weight must be a C-contiguous float64 array of length C")
    return <const double *>cnp.PyArray_DATA(w)


cdef void *_loss_ptr(object loss, int typenum, object size) except? NULL:
    if loss is None:
        return NULL
    cdef cnp.ndarray l = <cnp.ndarray?>loss
    if not _usable(l, typenum) or not cnp.PyArray_ISWRITEABLE(l) or cnp.PyArray_SIZE(l) != size:
        raise TypeError("internal: loss must be a writeable C-contiguous array, one per sample")
    return cnp.PyArray_DATA(l)


def ce_index_raw(cnp.ndarray x, cnp.ndarray label, weight, outer, C, inner,
                 int64_t ignore_index, double eps, loss, tuple sample_shape):
    """Cross-entropy with int64 class labels.  Validates every label before
    reading any logit (IndexError naming the first bad one).  Fills ``loss``
    (one per sample) when given; returns (sum of losses, sum of the weights of
    the labels not ignored)."""
    cdef int typenum = cnp.PyArray_TYPE(x)
    if not _is_float(typenum) or not _usable(x, typenum):
        raise TypeError("internal: x must be C-contiguous aligned float32/float64")
    if min(outer, C, inner) < 0 or outer * C * inner != cnp.PyArray_SIZE(x) or C == 0:
        raise ValueError("internal: (outer, C, inner) does not match x.size")
    if not _usable(label, cnp.NPY_INT64) or cnp.PyArray_SIZE(label) != outer * inner:
        raise TypeError("internal: labels must be C-contiguous int64, one per sample")
    cdef size_t o = outer, c = C, i = inner
    cdef const double *wp = _weight_ptr(weight, c)
    cdef void *lp = _loss_ptr(loss, typenum, outer * inner)
    cdef const int64_t *tp = <const int64_t *>cnp.PyArray_DATA(label)
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef ptrdiff_t bad
    cdef double total = 0.0, wsum = 0.0
    cdef int dt = _dtype(x)
    with nogil:
        bad = fa_first_bad_label(tp, o * i, <int64_t>c, ignore_index)
    if bad >= 0:
        raise bad_label_error(int(tp[bad]), bad, sample_shape, C, ignore_index)
    with nogil:
        fa_loss(FA_LOSS_ce_index, dt, xp, NULL, tp, wp, o, c, i, ignore_index, eps, lp,
                &total, &wsum)
    return total, wsum


def ce_prob_raw(cnp.ndarray x, cnp.ndarray p, weight, outer, C, inner, double eps, loss):
    """Cross-entropy with class probabilities ``p`` (x's shape and dtype).
    Fills ``loss`` when given; returns the sum of the losses."""
    cdef int typenum = cnp.PyArray_TYPE(x)
    if not _is_float(typenum) or not _usable(x, typenum) or not _usable(p, typenum):
        raise TypeError("internal: x and p must be C-contiguous aligned, of one float dtype")
    if min(outer, C, inner) < 0 or outer * C * inner != cnp.PyArray_SIZE(x) \
            or cnp.PyArray_SIZE(p) != cnp.PyArray_SIZE(x) or C == 0:
        raise ValueError("internal: (outer, C, inner) does not match x.size and p.size")
    cdef size_t o = outer, c = C, i = inner
    cdef const double *wp = _weight_ptr(weight, c)
    cdef void *lp = _loss_ptr(loss, typenum, outer * inner)
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef const void *pp = cnp.PyArray_DATA(p)
    cdef double total = 0.0, unused = 0.0
    cdef int dt = _dtype(x)
    with nogil:
        fa_loss(FA_LOSS_ce_prob, dt, xp, pp, NULL, wp, o, c, i, 0, eps, lp, &total, &unused)
    return total


def ce_index_fast(x, t, axis, ignore_index, reduction):
    """cross_entropy of the common case (exact ndarrays: C-contiguous aligned
    float32/float64 logits, int64 class indices of the logits' shape without
    `axis`, all labels valid; weight None, label_smoothing 0), else None (the
    general path then validates and raises).  reduction: "mean"/"sum"/"none"."""
    if type(x) is not cnp.ndarray or type(t) is not cnp.ndarray or type(axis) is not int \
            or type(ignore_index) is not int:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, ta = <cnp.ndarray>t
    cdef int typenum = cnp.PyArray_TYPE(xa)
    cdef size_t outer, C, inner
    cdef int ax, i, nd = cnp.PyArray_NDIM(xa)
    if not _is_float(typenum) or not _usable(xa, typenum) or not _usable(ta, cnp.NPY_INT64):
        return None
    if nd == 0 or not _axis_split(xa, axis, &outer, &C, &inner, &ax) or C == 0:
        return None
    if not (-(1 << 62) < ignore_index < (1 << 62)):
        return None
    cdef cnp.npy_intp *xd = cnp.PyArray_DIMS(xa)
    cdef cnp.npy_intp *td = cnp.PyArray_DIMS(ta)
    if cnp.PyArray_NDIM(ta) != nd - 1:
        return None
    for i in range(nd - 1):
        if td[i] != xd[i if i < ax else i + 1]:
            return None
    cdef int mode
    if reduction == "mean":
        mode = 0
    elif reduction == "sum":
        mode = 1
    elif reduction == "none":
        mode = 2
    else:
        return None
    cdef int64_t ign = ignore_index
    cdef const int64_t *tp = <const int64_t *>cnp.PyArray_DATA(ta)
    cdef const void *xp = cnp.PyArray_DATA(xa)
    cdef ptrdiff_t bad
    with nogil:
        bad = fa_first_bad_label(tp, outer * inner, <int64_t>C, ign)
    if bad >= 0:
        return None
    cdef cnp.ndarray loss = None
    cdef void *lp = NULL
    if mode == 2:
        loss = <cnp.ndarray>cnp.PyArray_EMPTY(nd - 1, td, typenum, 0)
        lp = cnp.PyArray_DATA(loss)
    cdef double total = 0.0, wsum = 0.0
    cdef int dt = _dtype(xa)
    with nogil:
        fa_loss(FA_LOSS_ce_index, dt, xp, NULL, tp, NULL, outer, C, inner, ign, 0.0, lp,
                &total, &wsum)
    if mode == 2:
        return loss if nd > 1 else loss[()]
    if mode == 0:
        total = total / wsum  # cdivision: IEEE 0/0 = NaN, as PyTorch
    return (np.float32 if typenum == cnp.NPY_FLOAT32 else np.float64)(total)


def exp_nonpos_raw(cnp.ndarray d, cnp.ndarray y):
    """y = exp(d) for d <= 0 (or -inf, NaN) with the exponential the kernels of
    the level in use compute (float32 or float64 arrays of one dtype).  For
    the tests' accuracy sweep; not part of the API."""
    _check_pair(d, y, cnp.PyArray_SIZE(d))
    cdef size_t n = <size_t>cnp.PyArray_SIZE(d)
    cdef const void *dp = cnp.PyArray_DATA(d)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef int dt = _dtype(d)
    with nogil:
        fa_active_test[dt].exp_nonpos(dp, yp, n)


# ---------------------------------------------------------------- test-only
# Switch the kernel level within the process, and run each pass of the
# level in use on its own (ops/test_kernels.c; tests/test_passes.py).  Not
# part of the API: not safe while another thread runs a kernel.

#: FASTACT_ISA's choice at import: tests restore it with _set_kernel_level.
def _set_kernel_level(str name):
    """Use the kernels of level `name` from now on; returns the previous
    level's name.  ValueError when that level is not compiled or this CPU
    cannot run it."""
    cdef int want = -1, i
    for i in range(len(_LEVEL_NAMES)):
        if _LEVEL_NAMES[i] == name:
            want = i
    prev = fa_level_name(fa_get_level()).decode()
    if want < 0 or fa_set_level(want) < 0:
        raise ValueError(f"kernel level {name!r} is not available here "
                         f"(compiled: {KERNELS_COMPILED}, CPU: {CPU_LEVEL})")
    return prev


_LEVEL_NAMES = tuple(fa_level_name(i).decode() for i in range(4))


def _kernel_level():
    """Name of the level in use now."""
    return fa_level_name(fa_get_level()).decode()


cdef const fa_test_kernels *_tk(cnp.ndarray a) except NULL:
    if not _is_float(cnp.PyArray_TYPE(a)) or not _usable(a, cnp.PyArray_TYPE(a)):
        raise TypeError("internal: a C-contiguous aligned float32/float64 array is needed")
    return fa_active_test[_dtype(a)]


cdef void *_opt(object a, int typenum, Py_ssize_t size) except? NULL:
    """Data pointer of an optional array of `size` elements (None: NULL)."""
    if a is None:
        return NULL
    cdef cnp.ndarray arr = <cnp.ndarray?>a
    if not _usable(arr, typenum) or not cnp.PyArray_ISWRITEABLE(arr) \
            or cnp.PyArray_SIZE(arr) != size:
        raise ValueError(f"internal: a writeable C-contiguous array of {size} elements is needed")
    return cnp.PyArray_DATA(arr)


def _pass_row_max(cnp.ndarray x):
    cdef const fa_test_kernels *k = _tk(x)
    return k.row_max(cnp.PyArray_DATA(x), <size_t>cnp.PyArray_SIZE(x))


def _pass_row_sumexp_m1(cnp.ndarray x, double m, y):
    cdef const fa_test_kernels *k = _tk(x)
    cdef void *yp = _opt(y, cnp.PyArray_TYPE(x), cnp.PyArray_SIZE(x))
    return k.row_sumexp_m1(cnp.PyArray_DATA(x), <size_t>cnp.PyArray_SIZE(x), m, yp)


def _pass_row_scale(cnp.ndarray y, double inv):
    cdef const fa_test_kernels *k = _tk(y)
    _opt(y, cnp.PyArray_TYPE(y), cnp.PyArray_SIZE(y))
    k.row_scale(cnp.PyArray_DATA(y), <size_t>cnp.PyArray_SIZE(y), inv)


def _pass_row_log_softmax_out(cnp.ndarray x, y, double m, double L):
    cdef const fa_test_kernels *k = _tk(x)
    cdef void *yp = _opt(y, cnp.PyArray_TYPE(x), cnp.PyArray_SIZE(x))
    k.row_log_softmax_out(cnp.PyArray_DATA(x), yp, <size_t>cnp.PyArray_SIZE(x), m, L)


cdef int _cols_args(cnp.ndarray x, size_t w, size_t *n, size_t *inner) except -1:
    if cnp.PyArray_NDIM(x) != 2:
        raise ValueError("internal: x must be 2-D (n, inner)")
    n[0] = <size_t>cnp.PyArray_DIMS(x)[0]
    inner[0] = <size_t>cnp.PyArray_DIMS(x)[1]
    if w < 1 or w > 256 or w > inner[0]:
        raise ValueError("internal: need 1 <= w <= min(inner, 256)")
    return 0


def _pass_cols_max_pack(cnp.ndarray x, size_t w, m, buf):
    """m[k] = max of column k < w of x (n, inner); buf (optional, n * w) the packed chunk."""
    cdef const fa_test_kernels *k = _tk(x)
    cdef size_t n, inner
    _cols_args(x, w, &n, &inner)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef void *mp = _opt(m, t, w)
    if mp == NULL:
        raise ValueError("internal: m is needed")
    k.cols_max_pack(cnp.PyArray_DATA(x), n, inner, w, mp, _opt(buf, t, n * w))


def _pass_cols_sumexp_m1(cnp.ndarray x, size_t w, m, y, sm1):
    cdef const fa_test_kernels *k = _tk(x)
    cdef size_t n, inner
    _cols_args(x, w, &n, &inner)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef void *mp = _opt(m, t, w)
    cdef void *sp = _opt(sm1, cnp.NPY_FLOAT64, w)
    if mp == NULL or sp == NULL:
        raise ValueError("internal: m and sm1 are needed")
    k.cols_sumexp_m1(cnp.PyArray_DATA(x), n, inner, w, mp, _opt(y, t, n * inner), <double *>sp)


def _pass_cols_scale_to(cnp.ndarray src, dst, size_t w, inv):
    """dst[i, k] = src[i, k] * inv[k] for k < w (src, dst: (n, inner) arrays)."""
    cdef const fa_test_kernels *k = _tk(src)
    cdef size_t n, inner
    _cols_args(src, w, &n, &inner)
    cdef void *dp = _opt(dst, cnp.PyArray_TYPE(src), n * inner)
    cdef void *ip = _opt(inv, cnp.NPY_FLOAT64, w)
    if dp == NULL or ip == NULL:
        raise ValueError("internal: dst and inv are needed")
    k.cols_scale_to(cnp.PyArray_DATA(src), inner, dp, inner, n, w, <const double *>ip)


def _pass_cols_log_softmax_out(cnp.ndarray src, dst, size_t w, m, L):
    cdef const fa_test_kernels *k = _tk(src)
    cdef size_t n, inner
    _cols_args(src, w, &n, &inner)
    cdef int t = cnp.PyArray_TYPE(src)
    cdef void *dp = _opt(dst, t, n * inner)
    cdef void *mp = _opt(m, t, w)
    cdef void *lp = _opt(L, cnp.NPY_FLOAT64, w)
    if dp == NULL or mp == NULL or lp == NULL:
        raise ValueError("internal: dst, m and L are needed")
    k.cols_log_softmax_out(cnp.PyArray_DATA(src), inner, dp, inner, n, w, mp,
                           <const double *>lp)
