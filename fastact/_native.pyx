# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Private binding of the C kernels in ``src_c/``.

One entry per op family, ``reduce``, ``map``, ``cross_entropy`` and
``cross_entropy_with_grad``, the
whole native path of its ops: the common case decided in C with the NumPy C
API, everything else planned once through ``fastact._checks`` (the rules the
NumPy twin shares), then the kernel (see "the entries" below).  Op codes
come from the registry (``REDUCE_OPS``, ``MAP_OPS``).  Every kernel runs
with the GIL released.  The ``_pass_*`` and ``_set_kernel_level`` functions
at the end are for the tests only; ``_C_API`` (last) is the C API's capsule
(fastact/include/fastact_api.h).
"""

cimport numpy as cnp
import numpy as np
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t

from fastact import _checks as ck

cnp.import_array()

cdef extern from "fastact.h" nogil:
    int fa_cpu_level()
    int fa_init(const char *request)
    int fa_set_level(int level)
    int fa_get_level()
    const char *fa_level_name(int level)
    const char *fa_compiled_levels()
    const char *fa_op_name(int family, int op)
    int fa_reduce_keeps_shape(int op)
    enum:
        FA_F32
        FA_F64
        FA_FAMILY_REDUCE
        FA_FAMILY_MAP
        FA_FAMILY_LOSS
        FA_FAMILY_MAP2
        FA_NUM_REDUCE
        FA_NUM_MAP
        FA_FAMILY_REDUCE2
        FA_NUM_REDUCE2
        FA_NUM_MAP2
        FA_LOSS_ce_index
        FA_LOSS_ce_prob
        FA_LOSS_GRAD_ce_index_grad
        FA_LOSS_GRAD_ce_prob_grad
    ptrdiff_t fa_first_bad_label(const int64_t *, size_t, int64_t, int64_t)
    void fa_ce_block_stats(int dtype, const void *x, size_t rows, size_t n, const double *w,
                           double *m, double *sm1, double *gap)
    void fa_ce_block_grad(int dtype, const void *x, void *dx, size_t rows, size_t n,
                          const int64_t *label, int64_t v0, int64_t ignore_index,
                          const double *w, const double *M, const double *a, const double *b0,
                          const double *b1)
    void fa_elem_loss(int op, int dtype, const void *x, const void *y, const void *w,
                      size_t w_row, size_t w_col, const void *pw, size_t p_row, size_t p_col,
                      size_t C, size_t len, double g, const void *gvec, void *dx, void *loss,
                      double *sum)
    enum:
        FA_ELEM_LOSS_bce_logits
    void fa_reduce(int op, int dtype, const void *x, void *y, size_t outer, size_t n,
                   size_t inner)
    void fa_reduce2(int op, int dtype, const void *g, const void *y, void *out, size_t outer,
                    size_t n, size_t inner)
    void fa_map(int op, int dtype, const void *x, void *y, size_t len, double p)
    void fa_map2(int op, int dtype, const void *g, const void *x, void *y, size_t len, double p)
    void fa_loss(int op, int dtype, const void *x, const void *p, const int64_t *label,
                 const double *weight, size_t outer, size_t C, size_t inner,
                 int64_t ignore_index, double eps, void *loss, double *sum, double *wsum)
    void fa_loss_grad(int op, int dtype, const void *x, const void *p, const int64_t *label,
                      const double *weight, size_t outer, size_t C, size_t inner,
                      int64_t ignore_index, double eps, double g, const double *gvec,
                      int divide_by_wsum, void *dx, void *loss, double *sum, double *wsum)

cdef extern from "runtime/kernels.h" nogil:
    enum: FA_STREAM_BYTES
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
        double (*row_stats)(const void *, size_t, void *, double *) noexcept nogil
        void (*cols_stats)(const void *, size_t, size_t, size_t, void *, void *, void *,
                           double *) noexcept nogil
        void (*cols_log1p)(double *, size_t) noexcept nogil
    const fa_test_kernels *fa_active_test[2]

cdef extern from "runtime/threads.h" nogil:
    enum: FA_MAX_THREADS
    void fa_set_num_threads(int n)
    int fa_get_num_threads()
    int fa_threads_available()

import os as _os

#: Kernel levels compiled into this build, lowest first.
KERNELS_COMPILED = tuple(fa_compiled_levels().decode().split())
#: Outputs of at least this many bytes per kernel call are written with
#: streaming stores (element-wise and backward passes; for the tests).
STREAM_BYTES = FA_STREAM_BYTES
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

#: Op codes by name, from the registry (src_c/ops.def), per family entry.
REDUCE_NAMES = tuple(fa_op_name(FA_FAMILY_REDUCE, i).decode() for i in range(FA_NUM_REDUCE))
MAP_NAMES = tuple(fa_op_name(FA_FAMILY_MAP, i).decode() for i in range(FA_NUM_MAP))
REDUCE_OPS = {name: i for i, name in enumerate(REDUCE_NAMES)}
MAP_OPS = {name: i for i, name in enumerate(MAP_NAMES)}
REDUCE2_NAMES = tuple(fa_op_name(FA_FAMILY_REDUCE2, i).decode() for i in range(FA_NUM_REDUCE2))
REDUCE2_OPS = {name: i for i, name in enumerate(REDUCE2_NAMES)}
MAP2_NAMES = tuple(fa_op_name(FA_FAMILY_MAP2, i).decode() for i in range(FA_NUM_MAP2))
MAP2_OPS = {name: i for i, name in enumerate(MAP2_NAMES)}


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


cdef void _reduce2(int op, cnp.ndarray g, cnp.ndarray y, cnp.ndarray out, size_t outer,
                   size_t n, size_t inner):
    cdef const void *gp = cnp.PyArray_DATA(g)
    cdef const void *yp = cnp.PyArray_DATA(y)
    cdef void *op_ = cnp.PyArray_DATA(out)
    cdef int dt = _dtype(g)
    with nogil:
        fa_reduce2(op, dt, gp, yp, op_, outer, n, inner)


cdef void _map(int op, cnp.ndarray x, cnp.ndarray y, double p):
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef size_t length = <size_t>cnp.PyArray_SIZE(x)
    cdef int dt = _dtype(x)
    with nogil:
        fa_map(op, dt, xp, yp, length, p)


cdef void _map2(int op, cnp.ndarray g, cnp.ndarray x, cnp.ndarray y, double p):
    cdef const void *gp = cnp.PyArray_DATA(g)
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef size_t length = <size_t>cnp.PyArray_SIZE(x)
    cdef int dt = _dtype(x)
    with nogil:
        fa_map2(op, dt, gp, xp, yp, length, p)


cdef void _loss(int op, cnp.ndarray x, const void *p, const int64_t *label,
                const double *weight, size_t outer, size_t C, size_t inner,
                int64_t ignore_index, double eps, void *loss, double *sum, double *wsum):
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef int dt = _dtype(x)
    with nogil:
        fa_loss(op, dt, xp, p, label, weight, outer, C, inner, ignore_index, eps, loss, sum,
                wsum)


#: The most threads the kernels use (set_num_threads clamps to it).
MAX_THREADS = FA_MAX_THREADS


def set_num_threads(int n):
    """Threads the kernels may use for large arrays, clamped to [1, MAX_THREADS]."""
    fa_set_num_threads(n)


def get_num_threads():
    """Threads the kernels may use for large arrays."""
    return fa_get_num_threads()


#: True when built with thread support (POSIX threads, or Win32 threads on
#: Windows); False for a FASTACT_NO_THREADS=1 build (always serial, thread count 1).
THREADS_AVAILABLE = bool(fa_threads_available())


# ------------------------------------------------------------- the entries
# One entry per op family: reduce (softmax, log_softmax, logsumexp), map
# (relu, leaky_relu, sigmoid), map2 (relu_backward, leaky_relu_backward,
# sigmoid_backward) and loss (cross_entropy).  Each decides the common case in C (an
# exact float32/float64 ndarray, C-contiguous, aligned, native byte order,
# axis an int or None, out None or writable by the kernel directly) and
# runs the kernel; anything else goes to the family's general path, which
# validates through fastact._checks (shared with the NumPy twin, so that
# both raise alike, before anything is written), converts and plans once
# (fastact._checks.plan, direct_out), runs the same kernel and delivers the
# result.  Only longdouble input goes to the twin.

cdef object _F32 = np.dtype(np.float32)
cdef object _F64 = np.dtype(np.float64)


cdef inline int _check_read(cnp.ndarray x, cnp.ndarray a, Py_ssize_t a_size) except -1:
    """What memory safety depends on, re-checked before a general-path kernel
    call (the plan guarantees it; this makes a planning bug an exception):
    ``x`` and ``a`` (another input, read-only allowed) of one float dtype,
    both as the kernels read them, ``a`` of ``a_size`` elements."""
    cdef int typenum = cnp.PyArray_TYPE(x)
    if not _is_float(typenum) or not _usable(x, typenum) or not _usable(a, typenum) \
            or cnp.PyArray_SIZE(a) != a_size:
        raise AssertionError("internal: the plan gave arrays the kernel cannot take")
    return 0


cdef inline int _check_run(cnp.ndarray x, cnp.ndarray y, Py_ssize_t y_size) except -1:
    """_check_read, and ``y`` (the kernel's output) writeable."""
    _check_read(x, y, y_size)
    if not cnp.PyArray_ISWRITEABLE(y):
        raise AssertionError("internal: the plan gave the kernel a read-only output")
    return 0


def reduce(int op, x, axis, bint keepdims, out):
    """Reduction ``op`` of REDUCE_OPS over ``axis`` (keepdims: the reduced
    ops only), with fastact.softmax's semantics (see fastact._docs)."""
    if op < 0 or op >= FA_NUM_REDUCE:
        raise ValueError(f"internal: unknown reduction {op}")
    cdef bint keeps = fa_reduce_keeps_shape(op)
    cdef cnp.ndarray xa
    cdef int typenum, nd, ax, i, rnd = 0
    cdef size_t outer, n, inner
    cdef cnp.npy_intp rdims[MAXDIMS]
    cdef cnp.npy_intp *dims
    if type(x) is cnp.ndarray:
        xa = <cnp.ndarray>x
        typenum = cnp.PyArray_TYPE(xa)
        nd = cnp.PyArray_NDIM(xa)
        # (0-d input: the general path, whose result is a NumPy scalar)
        if nd > 0 and _is_float(typenum) and _usable(xa, typenum) \
                and _axis_split(xa, axis, &outer, &n, &inner, &ax):
            dims = cnp.PyArray_DIMS(xa)
            if keeps:
                ya = _fast_out(xa, out, typenum, nd, dims, True)
            else:
                for i in range(nd):
                    if ax == -1 or i == ax:
                        if keepdims:
                            rdims[rnd] = 1
                            rnd += 1
                    else:
                        rdims[rnd] = dims[i]
                        rnd += 1
                # no overlap at all: the output is not laid out like the
                # input, so writing it could clobber groups not yet read
                ya = _fast_out(xa, out, typenum, rnd, rdims, False)
            if ya is not None:
                _reduce(op, xa, <cnp.ndarray>ya, outer, n, inner)
                if out is None and not keeps and rnd == 0:
                    return ya[()]
                return ya
    return _reduce_general(op, keeps, x, axis, keepdims, out)


cdef object _reduce_general(int op, bint keeps, x, axis, bint keepdims, out):
    arr, work, result = ck.as_float(x)
    axes = ck.normalize_axes(axis, arr.ndim)
    rshape = arr.shape if keeps else ck.reduced_shape(arr.shape, axes, keepdims)
    ck.check_out(out, rshape, result)
    if work != _F32 and work != _F64:
        fn = getattr(_twin(), REDUCE_NAMES[op])
        if keeps:
            return fn(arr, axis, out=out)
        return fn(arr, axis, keepdims=keepdims, out=out)
    xw = ck.kernel_array(arr, work)
    perm, outer, n, inner = ck.plan(xw.shape, axes)
    if perm is not None:
        xw = np.ascontiguousarray(xw.transpose(perm))
    if keeps:
        # the kernel writes x's layout: out directly when it is x's view
        direct = perm is None and ck.direct_out(out, xw, work, True)
        dst = out if direct else np.empty(xw.shape, work)
    else:
        # the groups come out in the order of the kept axes: exactly the C
        # order of the result, whatever perm was
        dst = out if ck.direct_out(out, xw, work, False) else np.empty(rshape, work)
    _check_run(xw, dst, outer * inner if not keeps else cnp.PyArray_SIZE(xw))
    _reduce(op, xw, dst, outer, n, inner)
    if perm is not None and keeps:
        dst = dst.transpose(np.argsort(perm))
    return ck.deliver(dst, out, result)


def map(int op, x, out, double p=0.0):
    """Element-wise op ``op`` of MAP_OPS, with fastact.relu's semantics; ``p``
    the op's parameter (leaky_relu's negative slope, already validated)."""
    if op < 0 or op >= FA_NUM_MAP:
        raise ValueError(f"internal: unknown map {op}")
    cdef cnp.ndarray xa
    cdef int typenum
    if type(x) is cnp.ndarray:
        xa = <cnp.ndarray>x
        typenum = cnp.PyArray_TYPE(xa)
        if cnp.PyArray_NDIM(xa) > 0 and _is_float(typenum) and _usable(xa, typenum):
            ya = _fast_out(xa, out, typenum, cnp.PyArray_NDIM(xa), cnp.PyArray_DIMS(xa), True)
            if ya is not None:
                _map(op, xa, <cnp.ndarray>ya, p)
                return ya
    return _map_general(op, x, out, p)


cdef object _twin_call(str name, tuple args, double p, out):
    """The twin's op ``name`` on ``args`` (its parameter ``p`` passed when
    the op has one, ck.OP_PARAM)."""
    fn = getattr(_twin(), name)
    if name in ck.OP_PARAM:
        return fn(*args, p, out=out)
    return fn(*args, out=out)


cdef object _map_general(int op, x, out, double p):
    name = MAP_NAMES[op]
    arr = ck.as_array(x)
    if arr.dtype.kind in "biu" and name in ck.KEEPS_INTEGER_DTYPE:
        return _twin_call(name, (arr,), p, out)
    arr, work, result = ck.as_float(arr)
    ck.check_out(out, arr.shape, result)
    if work != _F32 and work != _F64:
        return _twin_call(name, (arr,), p, out)
    xw = ck.kernel_array(arr, work)
    dst = out if ck.direct_out(out, xw, work, True) else np.empty(xw.shape, work)
    _check_run(xw, dst, cnp.PyArray_SIZE(xw))
    _map(op, xw, dst, p)
    return ck.deliver(dst, out, result)


cdef inline bint _same_shape(cnp.ndarray a, cnp.ndarray b):
    """Same number of dimensions and lengths (the two-input entries' fast
    paths: map2 and reduce2)."""
    cdef int i, nd = cnp.PyArray_NDIM(a)
    if cnp.PyArray_NDIM(b) != nd:
        return False
    for i in range(nd):
        if cnp.PyArray_DIMS(a)[i] != cnp.PyArray_DIMS(b)[i]:
            return False
    return True


def map2(int op, g, x, out, double p=0.0):
    """Two-input element-wise op ``op`` of MAP2_OPS (the maps' backward
    passes: ``g`` the gradient, ``x`` the forward input or output) with
    fastact.relu_backward's semantics; ``p`` the op's parameter (already
    validated).  Fast path: g and x exact float32/float64 ndarrays of one
    dtype and shape, C-contiguous, aligned, native order; out None or
    writable directly (it may be exactly g or x, not overlap them otherwise)."""
    if op < 0 or op >= FA_NUM_MAP2:
        raise ValueError(f"internal: unknown map2 {op}")
    cdef cnp.ndarray ga, xa
    cdef int typenum
    if type(g) is cnp.ndarray and type(x) is cnp.ndarray:
        ga = <cnp.ndarray>g
        xa = <cnp.ndarray>x
        typenum = cnp.PyArray_TYPE(xa)
        if cnp.PyArray_NDIM(xa) > 0 and _is_float(typenum) and _usable(xa, typenum) \
                and _usable(ga, typenum) and _same_shape(ga, xa):
            ya = _fast_out(xa, out, typenum, cnp.PyArray_NDIM(xa), cnp.PyArray_DIMS(xa), True)
            if ya is not None and (out is None or not _overlap_partially(ga, <cnp.ndarray>ya)):
                _map2(op, ga, xa, <cnp.ndarray>ya, p)
                return ya
    return _map2_general(op, g, x, out, p)


cdef object _map2_general(int op, g, x, out, double p):
    name = MAP2_NAMES[op]
    ga, xa, work, result = ck.as_float_pair(g, x, ck.MAP2_ARGS[name])
    ck.check_out(out, ga.shape, result)
    if work != _F32 and work != _F64:
        return _twin_call(name, (ga, xa), p, out)
    gw = ck.kernel_array(ga, work)
    xw = ck.kernel_array(xa, work)
    direct = ck.direct_out(out, gw, work, True) and ck.direct_out(out, xw, work, True)
    dst = out if direct else np.empty(xw.shape, work)
    _check_run(xw, dst, cnp.PyArray_SIZE(xw))
    _check_run(gw, dst, cnp.PyArray_SIZE(xw))
    if cnp.PyArray_SIZE(gw) != cnp.PyArray_SIZE(xw):
        raise AssertionError("internal: the two inputs of a map2 differ in size")
    _map2(op, gw, xw, dst, p)
    return ck.deliver(dst, out, result)


def reduce2(int op, grad, y, axis, out):
    """Two-input reduction ``op`` of REDUCE2_OPS (softmax_backward,
    log_softmax_backward) over ``axis``, with the semantics of
    fastact.softmax_backward (see fastact._docs)."""
    if op < 0 or op >= FA_NUM_REDUCE2:
        raise ValueError(f"internal: unknown two-input reduction {op}")
    cdef cnp.ndarray ga, ya
    cdef int typenum, nd, ax
    cdef size_t outer, n, inner
    if type(grad) is cnp.ndarray and type(y) is cnp.ndarray:
        ga = <cnp.ndarray>grad
        ya = <cnp.ndarray>y
        typenum = cnp.PyArray_TYPE(ga)
        nd = cnp.PyArray_NDIM(ga)
        if nd > 0 and _is_float(typenum) and _usable(ga, typenum) and _usable(ya, typenum) \
                and _same_shape(ga, ya) and _axis_split(ga, axis, &outer, &n, &inner, &ax):
            # out: new, or writable directly and no partial overlap with
            # either input (being exactly grad or y is fine)
            oa = _fast_out(ga, out, typenum, nd, cnp.PyArray_DIMS(ga), True)
            if oa is not None and out is not None and _overlap_partially(ya, <cnp.ndarray>oa):
                oa = None
            if oa is not None:
                _reduce2(op, ga, ya, <cnp.ndarray>oa, outer, n, inner)
                return oa
    return _reduce2_general(op, grad, y, axis, out)


cdef object _reduce2_general(int op, grad, y, axis, out):
    garr, yarr, work, result = ck.as_float_pair(grad, y)
    axes = ck.normalize_axes(axis, garr.ndim)
    ck.check_out(out, garr.shape, result)
    if work != _F32 and work != _F64:
        return getattr(_twin(), REDUCE2_NAMES[op])(garr, yarr, axis, out=out)
    gw = ck.kernel_array(garr, work)
    yw = ck.kernel_array(yarr, work)
    perm, outer, n, inner = ck.plan(gw.shape, axes)
    if perm is not None:
        gw = np.ascontiguousarray(gw.transpose(perm))
        yw = np.ascontiguousarray(yw.transpose(perm))
    direct = perm is None and ck.direct_out(out, gw, work, True) \
        and ck.direct_out(out, yw, work, True)
    dst = out if direct else np.empty(gw.shape, work)
    _check_run(gw, dst, cnp.PyArray_SIZE(gw))
    _check_run(yw, dst, cnp.PyArray_SIZE(gw))
    _reduce2(op, gw, yw, dst, outer, n, inner)
    if perm is not None:
        dst = dst.transpose(np.argsort(perm))
    return ck.deliver(dst, out, result)


cdef const double *_weight_ptr(object weight, size_t C) except? NULL:
    if weight is None:
        return NULL
    cdef cnp.ndarray w = <cnp.ndarray?>weight
    if not _usable(w, cnp.NPY_FLOAT64) or cnp.PyArray_SIZE(w) != <cnp.npy_intp>C:
        raise AssertionError("internal: weight must be a C-contiguous float64 array of length C")
    return <const double *>cnp.PyArray_DATA(w)


def cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing, out):
    """fastact.cross_entropy (arguments as there, all given)."""
    cdef cnp.ndarray xa, ta
    cdef int typenum, ax, i, nd, mode
    cdef size_t outer, C, inner
    cdef int64_t ign
    cdef ptrdiff_t bad
    cdef double total = 0.0, wsum = 0.0
    cdef cnp.npy_intp *xd
    cdef cnp.npy_intp *td
    cdef cnp.ndarray loss
    cdef void *lp = NULL
    # the common case: exact ndarrays, int64 labels of the logits' shape
    # without axis, all valid; no weight, no smoothing, no out
    if out is None and weight is None and type(label_smoothing) is float \
            and label_smoothing == 0.0 and type(logits) is cnp.ndarray \
            and type(target) is cnp.ndarray and type(axis) is int \
            and type(ignore_index) is int:
        xa = <cnp.ndarray>logits
        ta = <cnp.ndarray>target
        typenum = cnp.PyArray_TYPE(xa)
        nd = cnp.PyArray_NDIM(xa)
        mode = 0 if reduction == "mean" else 1 if reduction == "sum" else \
            2 if reduction == "none" else -1
        if mode >= 0 and nd > 0 and _is_float(typenum) and _usable(xa, typenum) \
                and _usable(ta, cnp.NPY_INT64) and cnp.PyArray_NDIM(ta) == nd - 1 \
                and _axis_split(xa, axis, &outer, &C, &inner, &ax) and C > 0 \
                and -(1 << 62) < ignore_index < (1 << 62):
            xd = cnp.PyArray_DIMS(xa)
            td = cnp.PyArray_DIMS(ta)
            for i in range(nd - 1):
                if td[i] != xd[i if i < ax else i + 1]:
                    mode = -1
            if mode >= 0:
                ign = ignore_index
                with nogil:
                    bad = fa_first_bad_label(<const int64_t *>cnp.PyArray_DATA(ta),
                                             outer * inner, <int64_t>C, ign)
                if bad < 0:
                    if mode == 2:
                        loss = <cnp.ndarray>cnp.PyArray_EMPTY(nd - 1, td, typenum, 0)
                        lp = cnp.PyArray_DATA(loss)
                    _loss(FA_LOSS_ce_index, xa, NULL, <const int64_t *>cnp.PyArray_DATA(ta),
                          NULL, outer, C, inner, ign, 0.0, lp, &total, &wsum)
                    if mode == 2:
                        return loss if nd > 1 else loss[()]
                    if mode == 0:
                        total = total / wsum  # cdivision: IEEE 0/0 = NaN, as PyTorch
                    return (np.float32 if typenum == cnp.NPY_FLOAT32 else np.float64)(total)
    return _cross_entropy_general(logits, target, axis, weight, ignore_index, reduction,
                                  label_smoothing, out)


cdef object _cross_entropy_general(logits, target, axis, weight, ignore_index, reduction,
                                   label_smoothing, out):
    a = ck.ce_prepare(logits, target, axis, weight, ignore_index, reduction, label_smoothing)
    ck.check_out(out, ck.loss_shape(a), a.result)
    if a.work != _F32 and a.work != _F64:
        return _twin().cross_entropy(
            logits, target, axis=axis, weight=weight, ignore_index=ignore_index,
            reduction=reduction, label_smoothing=label_smoothing, out=out)
    cdef cnp.ndarray xw = ck.kernel_array(a.x, a.work)
    shape = a.x.shape
    cdef size_t outer = ck._prod(shape[: a.axis]), C = a.C
    cdef size_t inner = ck._prod(shape[a.axis + 1:])
    cdef const double *wp = _weight_ptr(a.weight, C)
    cdef cnp.ndarray lab, p
    cdef cnp.ndarray loss = None
    cdef void *lp = NULL
    cdef ptrdiff_t bad
    cdef double total = 0.0, wsum = 0.0
    cdef int64_t ign = a.ignore_index
    if a.reduction == "none":
        # the kernel writes out directly when it can (it reads only the
        # logits, the labels or probabilities and the weights)
        direct = ck.direct_out(out, xw, a.work, False) and not np.may_share_memory(out, a.target)
        loss = out if direct else np.empty(a.sample_shape, a.work)
        _check_run(xw, loss, outer * inner)
        lp = cnp.PyArray_DATA(loss)
    if a.index_target:
        lab = ck.kernel_array(a.target, ck.I64)
        if not _usable(lab, cnp.NPY_INT64) or <size_t>cnp.PyArray_SIZE(lab) != outer * inner:
            raise AssertionError("internal: labels must be C-contiguous int64, one per sample")
        with nogil:
            bad = fa_first_bad_label(<const int64_t *>cnp.PyArray_DATA(lab), outer * inner,
                                     <int64_t>C, ign)
        if bad >= 0:
            raise ck.bad_label_error(int(lab.reshape(-1)[bad]), bad, a.sample_shape, a.C,
                                     a.ignore_index)
        _loss(FA_LOSS_ce_index, xw, NULL, <const int64_t *>cnp.PyArray_DATA(lab), wp, outer,
              C, inner, ign, a.eps, lp, &total, &wsum)
        denom = wsum
    else:
        p = ck.kernel_array(a.target, a.work)
        if cnp.PyArray_SIZE(p) != cnp.PyArray_SIZE(xw):
            raise AssertionError("internal: probabilities must have the logits' size")
        _loss(FA_LOSS_ce_prob, xw, cnp.PyArray_DATA(p), NULL, wp, outer, C, inner, 0, a.eps,
              lp, &total, &wsum)
        denom = outer * inner
    if loss is not None:
        return ck.deliver(loss, out, a.result)
    return ck.deliver_loss(ck.finish_loss(total, denom, a.reduction, a.result), out)


def cross_entropy_with_grad(logits, target, axis, weight, ignore_index, reduction,
                            label_smoothing, grad_loss, out):
    """fastact.cross_entropy_with_grad (arguments as there, all given)."""
    cdef cnp.ndarray xa, ta, dxa
    cdef int typenum, ax, i, nd, mode
    cdef size_t outer, C, inner
    cdef int64_t ign
    cdef ptrdiff_t bad
    cdef double total = 0.0, wsum = 0.0, g = 1.0
    cdef cnp.npy_intp *xd
    cdef cnp.npy_intp *td
    # the common case: exact ndarrays, int64 labels, no weight, no
    # smoothing, mean/sum, grad_loss None or a Python float/int, out None or
    # writable directly (the logits themselves, or no overlap)
    if weight is None and type(label_smoothing) is float and label_smoothing == 0.0 \
            and type(logits) is cnp.ndarray and type(target) is cnp.ndarray \
            and type(axis) is int and type(ignore_index) is int \
            and (grad_loss is None or type(grad_loss) is float or type(grad_loss) is int) \
            and (reduction == "mean" or reduction == "sum"):
        xa = <cnp.ndarray>logits
        ta = <cnp.ndarray>target
        typenum = cnp.PyArray_TYPE(xa)
        nd = cnp.PyArray_NDIM(xa)
        mode = 0 if reduction == "mean" else 1
        if nd > 0 and _is_float(typenum) and _usable(xa, typenum) \
                and _usable(ta, cnp.NPY_INT64) and cnp.PyArray_NDIM(ta) == nd - 1 \
                and _axis_split(xa, axis, &outer, &C, &inner, &ax) and C > 0 \
                and -(1 << 62) < ignore_index < (1 << 62):
            xd = cnp.PyArray_DIMS(xa)
            td = cnp.PyArray_DIMS(ta)
            for i in range(nd - 1):
                if td[i] != xd[i if i < ax else i + 1]:
                    mode = -1
            ya = _fast_out(xa, out, typenum, nd, xd, True) if mode >= 0 else None
            if ya is not None and out is not None and np.may_share_memory(ya, ta):
                ya = None
            if ya is not None:
                if grad_loss is not None:
                    g = grad_loss
                ign = ignore_index
                with nogil:
                    bad = fa_first_bad_label(<const int64_t *>cnp.PyArray_DATA(ta),
                                             outer * inner, <int64_t>C, ign)
                if bad < 0:
                    dxa = <cnp.ndarray>ya
                    _loss_grad(FA_LOSS_GRAD_ce_index_grad, xa, NULL,
                               <const int64_t *>cnp.PyArray_DATA(ta), NULL, outer, C, inner,
                               ign, 0.0, g, NULL, mode == 0, dxa, NULL, &total, &wsum)
                    if mode == 0:
                        total = total / wsum  # cdivision: IEEE 0/0 = NaN, as PyTorch
                    return (np.float32 if typenum == cnp.NPY_FLOAT32 else np.float64)(total), dxa
    return _cross_entropy_with_grad_general(logits, target, axis, weight, ignore_index,
                                            reduction, label_smoothing, grad_loss, out)


cdef void _loss_grad(int op, cnp.ndarray x, const void *p, const int64_t *label,
                     const double *weight, size_t outer, size_t C, size_t inner,
                     int64_t ignore_index, double eps, double g, const double *gvec,
                     bint divide, cnp.ndarray dx, void *loss, double *sum, double *wsum):
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef void *dp = cnp.PyArray_DATA(dx)
    cdef int dt = _dtype(x)
    cdef int dv = divide
    with nogil:
        fa_loss_grad(op, dt, xp, p, label, weight, outer, C, inner, ignore_index, eps, g,
                     gvec, dv, dp, loss, sum, wsum)


cdef object _cross_entropy_with_grad_general(logits, target, axis, weight, ignore_index,
                                             reduction, label_smoothing, grad_loss, out):
    a = ck.ce_prepare(logits, target, axis, weight, ignore_index, reduction, label_smoothing)
    gl = ck.check_grad_loss(grad_loss, a)
    ck.check_out(out, a.x.shape, a.result)
    if a.work != _F32 and a.work != _F64:
        return _twin().cross_entropy_with_grad(
            logits, target, axis=axis, weight=weight, ignore_index=ignore_index,
            reduction=reduction, label_smoothing=label_smoothing, grad_loss=grad_loss, out=out)
    cdef cnp.ndarray xw = ck.kernel_array(a.x, a.work)
    shape = a.x.shape
    cdef size_t outer = ck._prod(shape[: a.axis]), C = a.C
    cdef size_t inner = ck._prod(shape[a.axis + 1:])
    cdef const double *wp = _weight_ptr(a.weight, C)
    cdef cnp.ndarray lab = None, p = None, gv = None, dst
    cdef cnp.ndarray loss = None
    cdef void *lp = NULL
    cdef const double *gp = NULL
    cdef ptrdiff_t bad
    cdef double total = 0.0, wsum = 0.0, g = 1.0
    cdef int64_t ign = a.ignore_index
    if a.index_target:
        lab = ck.kernel_array(a.target, ck.I64)
        if not _usable(lab, cnp.NPY_INT64) or <size_t>cnp.PyArray_SIZE(lab) != outer * inner:
            raise AssertionError("internal: labels must be C-contiguous int64, one per sample")
        with nogil:
            bad = fa_first_bad_label(<const int64_t *>cnp.PyArray_DATA(lab), outer * inner,
                                     <int64_t>C, ign)
        if bad >= 0:
            raise ck.bad_label_error(int(lab.reshape(-1)[bad]), bad, a.sample_shape, a.C,
                                     a.ignore_index)
        src = lab
    else:
        p = ck.kernel_array(a.target, a.work)
        if cnp.PyArray_SIZE(p) != cnp.PyArray_SIZE(xw):
            raise AssertionError("internal: probabilities must have the logits' size")
        src = p
    if isinstance(gl, np.ndarray):
        gv = ck.kernel_array(gl, np.float64)
        if <size_t>cnp.PyArray_SIZE(gv) != outer * inner:
            raise AssertionError("internal: grad_loss must hold one value per sample")
        gp = <const double *>cnp.PyArray_DATA(gv)
    else:
        g = gl
    # dlogits straight into out when the kernel can write it: the computing
    # dtype, C-contiguous, exactly xw or no overlap with it, and no overlap
    # with anything else the kernel reads
    direct = ck.direct_out(out, xw, a.work, True) and not np.may_share_memory(out, src) \
        and (gv is None or not np.may_share_memory(out, gv))
    dst = out if direct else np.empty(shape, a.work)
    _check_run(xw, dst, cnp.PyArray_SIZE(xw))
    if a.reduction == "none":
        loss = np.empty(a.sample_shape, a.work)
        lp = cnp.PyArray_DATA(loss)
    elif a.reduction == "mean" and not a.index_target:
        g = g / (outer * inner) if outer * inner else g * np.nan
    if a.index_target:
        _loss_grad(FA_LOSS_GRAD_ce_index_grad, xw, NULL, <const int64_t *>cnp.PyArray_DATA(lab),
                   wp, outer, C, inner, ign, a.eps, g, gp, a.reduction == "mean", dst, lp,
                   &total, &wsum)
        denom = wsum
    else:
        _loss_grad(FA_LOSS_GRAD_ce_prob_grad, xw, cnp.PyArray_DATA(p), NULL, wp, outer, C,
                   inner, 0, a.eps, g, gp, False, dst, lp, &total, &wsum)
        denom = outer * inner
    if loss is not None:
        lres = ck.unwrap_0d(loss.astype(a.result, copy=False))
    else:
        lres = ck.finish_loss(total, denom, a.reduction, a.result)
    return lres, ck.deliver(dst, out, a.result)


# ---------------------------------------------------------------- vocabulary blocks
# linear_cross_entropy's per-block passes (src_c/ops/ce_vocab_block.c;
# fastact/_linear_ce.py merges their per-row results).  Private: the
# arguments are checked only so that a misuse raises instead of crashing.

cdef inline double *_rows_f64(object a, Py_ssize_t rows, str name, bint out=True) except NULL:
    cdef cnp.ndarray v = <cnp.ndarray?>a
    if not _usable(v, cnp.NPY_FLOAT64) or (out and not cnp.PyArray_ISWRITEABLE(v)) \
            or cnp.PyArray_SIZE(v) != rows:
        raise ValueError(f"{name}: a C-contiguous float64 array of {rows} elements"
                         + (" (writeable)" if out else ""))
    return <double *>cnp.PyArray_DATA(v)


cdef inline int _block_args(cnp.ndarray Z, size_t *rows, size_t *n) except -1:
    if cnp.PyArray_NDIM(Z) != 2 or not _usable(Z, cnp.PyArray_TYPE(Z)) \
            or not _is_float(cnp.PyArray_TYPE(Z)):
        raise ValueError("Z: a C-contiguous 2-D float32 or float64 array")
    rows[0] = <size_t>cnp.PyArray_DIM(Z, 0)
    n[0] = <size_t>cnp.PyArray_DIM(Z, 1)
    if n[0] == 0:
        raise ValueError("Z: at least one column")
    return 0


def ce_block_stats(cnp.ndarray Z, weight, m, sm1, gap):
    """Per row of the block Z (rows, n): ``m`` its max, ``sm1`` = sum(exp(Z -
    m)) - 1 and, when ``gap`` is not None, sum(w (m - Z)) with w the block's
    class weights (``weight``, float64 (n,), or None: ones), into the given
    float64 (rows,) arrays."""
    cdef size_t rows, n
    _block_args(Z, &rows, &n)
    cdef const double *w = _weight_ptr(weight, n)
    cdef double *mp = _rows_f64(m, rows, "m")
    cdef double *sp = _rows_f64(sm1, rows, "sm1")
    cdef double *gp = NULL if gap is None else _rows_f64(gap, rows, "gap")
    cdef const void *x = cnp.PyArray_DATA(Z)
    cdef int dt = _dtype(Z)
    with nogil:
        fa_ce_block_stats(dt, x, rows, n, w, mp, sp, gp)


def ce_block_grad(cnp.ndarray Z, cnp.ndarray dZ, cnp.ndarray label, int64_t v0,
                  int64_t ignore_index, weight, M, a, b0, b1):
    """dZ (Z's shape and dtype, may be Z) = the block's gradient, from each
    row's global max ``M`` and the coefficients ``a``, ``b0``, ``b1``
    (float64 (rows,)); ``label`` int64 (rows,) in whole-vocabulary numbering,
    ``v0`` the block's first class (src_c/ops/ce_vocab_block.c)."""
    cdef size_t rows, n
    _block_args(Z, &rows, &n)
    if not _same_shape(Z, dZ) or cnp.PyArray_TYPE(dZ) != cnp.PyArray_TYPE(Z) \
            or not _usable(dZ, cnp.PyArray_TYPE(Z)) or not cnp.PyArray_ISWRITEABLE(dZ) \
            or (dZ is not Z and _overlap_partially(Z, dZ)):
        raise ValueError("dZ: a writeable C-contiguous array of Z's shape and dtype")
    if not _usable(label, cnp.NPY_INT64) or cnp.PyArray_SIZE(label) != <cnp.npy_intp>rows:
        raise ValueError(f"label: a C-contiguous int64 array of {rows} elements")
    cdef const double *w = _weight_ptr(weight, n)
    cdef const double *Mp = _rows_f64(M, rows, "M", False)
    cdef const double *ap = _rows_f64(a, rows, "a", False)
    cdef const double *b0p = _rows_f64(b0, rows, "b0", False)
    cdef const double *b1p = _rows_f64(b1, rows, "b1", False)
    cdef const void *x = cnp.PyArray_DATA(Z)
    cdef void *dx = cnp.PyArray_DATA(dZ)
    cdef const int64_t *lab = <const int64_t *>cnp.PyArray_DATA(label)
    cdef int dt = _dtype(Z)
    with nogil:
        fa_ce_block_grad(dt, x, dx, rows, n, lab, v0, ignore_index, w, Mp, ap, b0p, b1p)


cdef object _twin_module = None


cdef object _twin():
    """fastact.numpy_impl (imported on first use: it imports nothing of ours)."""
    global _twin_module
    if _twin_module is None:
        from fastact import numpy_impl
        _twin_module = numpy_impl
    return _twin_module


def exp_nonpos_raw(cnp.ndarray d, cnp.ndarray y):
    """y = exp(d) for d <= 0 (or -inf, NaN) with the exponential the kernels of
    the level in use compute (float32 or float64 arrays of one dtype).  For
    the tests' accuracy sweep; not part of the API."""
    _check_run(d, y, cnp.PyArray_SIZE(d))
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


cdef extern from "runtime/planted.h" nogil:
    int fa_sanitizer_build()
    int fa_planted_bug(int kind, const double *x, size_t n)

#: True in a FASTACT_SANITIZE build (setup.py), which holds the planted bugs
SANITIZER_BUILD = bool(fa_sanitizer_build())


def _planted_bug(int kind, cnp.ndarray x):
    """Sanitizer builds only: run planted bug ``kind`` (1: read one past the
    end of the float64 array ``x``; 2: a signed int overflow), which the
    sanitizers must report (tests/test_sanitizers_catch.py).  Elsewhere
    nothing happens (returns -1)."""
    if cnp.PyArray_TYPE(x) != cnp.NPY_FLOAT64 or not cnp.PyArray_IS_C_CONTIGUOUS(x):
        raise TypeError("a C-contiguous float64 array is needed")
    return fa_planted_bug(kind, <const double *>cnp.PyArray_DATA(x), <size_t>cnp.PyArray_SIZE(x))


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


def _pass_row_stats(cnp.ndarray x, y):
    """(m, s - 1) of the row x by the ops' row path; y (optional) receives exp(x - m)."""
    cdef const fa_test_kernels *k = _tk(x)
    cdef void *yp = _opt(y, cnp.PyArray_TYPE(x), cnp.PyArray_SIZE(x))
    cdef double m = 0.0
    cdef double sm1 = k.row_stats(cnp.PyArray_DATA(x), <size_t>cnp.PyArray_SIZE(x), yp, &m)
    return m, sm1


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


cdef int _cols_m_sm1(cnp.ndarray x, size_t w, m, sm1, size_t *n, size_t *inner, void **mp,
                     double **sp) except -1:
    """The chunk's shape and the pointers of its m (w of x's dtype) and sm1
    (w float64), both needed."""
    _cols_args(x, w, n, inner)
    mp[0] = _opt(m, cnp.PyArray_TYPE(x), w)
    sp[0] = <double *>_opt(sm1, cnp.NPY_FLOAT64, w)
    if mp[0] == NULL or sp[0] == NULL:
        raise ValueError("internal: m and sm1 are needed")
    return 0


def _pass_cols_sumexp_m1(cnp.ndarray x, size_t w, m, y, sm1):
    cdef const fa_test_kernels *k = _tk(x)
    cdef size_t n, inner
    cdef void *mp
    cdef double *sp
    _cols_m_sm1(x, w, m, sm1, &n, &inner, &mp, &sp)
    k.cols_sumexp_m1(cnp.PyArray_DATA(x), n, inner, w, mp,
                     _opt(y, cnp.PyArray_TYPE(x), n * inner), sp)


def _pass_cols_stats(cnp.ndarray x, size_t w, m, buf, y, sm1):
    """cols_max_pack then cols_sumexp_m1 by the ops' column path: y (optional)
    is buf itself (the exponentials over the packed chunk) or x's layout."""
    cdef const fa_test_kernels *k = _tk(x)
    cdef size_t n, inner
    cdef void *mp
    cdef double *sp
    _cols_m_sm1(x, w, m, sm1, &n, &inner, &mp, &sp)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef void *bp = _opt(buf, t, n * w)
    cdef void *yp = bp if (y is not None and y is buf) else _opt(y, t, n * inner)
    k.cols_stats(cnp.PyArray_DATA(x), n, inner, w, mp, bp, yp, sp)


def _pass_cols_log1p(cnp.ndarray x, cnp.ndarray L):
    """L[k] = log1p(L[k]) in place (float64, C-contiguous) by the column
    path's log1p of x's dtype (float32: the vectorised series)."""
    cdef const fa_test_kernels *k = _tk(x)
    if cnp.PyArray_TYPE(L) != cnp.NPY_FLOAT64 or not cnp.PyArray_IS_C_CONTIGUOUS(L):
        raise ValueError("internal: L must be C-contiguous float64")
    k.cols_log1p(<double *>cnp.PyArray_DATA(L), <size_t>cnp.PyArray_SIZE(L))


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


# ------------------------------------------- binary cross-entropy with logits
# One kernel (FA_ELEM_LOSS_OPS' bce_logits) for the loss and the fused loss +
# gradient.  The common case (exact float32/float64 C-contiguous ndarrays,
# target of the logits' dtype, no weights, "mean"/"sum", out None or
# writable directly) is decided here; everything else goes through
# ck.bce_prepare (the rules the twin shares) and ck.bce_weight_view (weights
# read in place for a scalar, the full shape, (C,) and per-row shapes).

cdef inline bint _bce_plain(object logits, object target, object weight, object pos_weight,
                            object reduction):
    if weight is not None or pos_weight is not None or type(logits) is not cnp.ndarray \
            or type(target) is not cnp.ndarray:
        return False
    if not (reduction == "mean" or reduction == "sum"):
        return False
    cdef cnp.ndarray xa = <cnp.ndarray>logits
    cdef cnp.ndarray ta = <cnp.ndarray>target
    cdef int typenum = cnp.PyArray_TYPE(xa)
    return _is_float(typenum) and _usable(xa, typenum) and _usable(ta, typenum) \
        and _same_shape(xa, ta)


cdef void _bce_run(cnp.ndarray x, cnp.ndarray t, object w, size_t w_row, size_t w_col,
                   object pw, size_t p_row, size_t p_col, double g, object gvec, object dx,
                   object loss, double *sum):
    """The kernel on C-contiguous arrays of one dtype (weights, gvec, dx, loss
    optional: None)."""
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef const void *tp = cnp.PyArray_DATA(t)
    cdef const void *wp = NULL
    cdef const void *pp = NULL
    cdef const void *gp = NULL
    cdef void *dp = NULL
    cdef void *lp = NULL
    cdef int dt = _dtype(x)
    cdef int nd = cnp.PyArray_NDIM(x)
    cdef size_t n = <size_t>cnp.PyArray_SIZE(x)
    cdef size_t C = <size_t>cnp.PyArray_DIMS(x)[nd - 1] if nd > 0 else 1
    if w is not None:
        wp = cnp.PyArray_DATA(<cnp.ndarray>w)
    if pw is not None:
        pp = cnp.PyArray_DATA(<cnp.ndarray>pw)
    if gvec is not None:
        gp = cnp.PyArray_DATA(<cnp.ndarray>gvec)
    if dx is not None:
        dp = cnp.PyArray_DATA(<cnp.ndarray>dx)
    if loss is not None:
        lp = cnp.PyArray_DATA(<cnp.ndarray>loss)
    if C == 0:
        C = 1  # no elements: the kernel is not entered
    with nogil:
        fa_elem_loss(FA_ELEM_LOSS_bce_logits, dt, xp, tp, wp, w_row, w_col, pp, p_row, p_col,
                     C, n, g, gp, dp, lp, sum)


cdef int _bce_check_view(cnp.ndarray x, object w, size_t row, size_t col) except -1:
    """A weight view the kernel may read (memory safety re-checked as
    _check_run does): x's dtype, C-contiguous, every (o, c) index in range."""
    if w is None:
        return 0
    cdef cnp.ndarray wa = <cnp.ndarray?>w
    cdef int nd = cnp.PyArray_NDIM(x)
    cdef size_t n = <size_t>cnp.PyArray_SIZE(x)
    cdef size_t C = <size_t>cnp.PyArray_DIMS(x)[nd - 1] if nd > 0 else 1
    if n == 0:
        return 0
    cdef size_t last = (n // C - 1) * row + (C - 1) * col
    if not _usable(wa, cnp.PyArray_TYPE(x)) or last >= <size_t>cnp.PyArray_SIZE(wa):
        raise AssertionError("internal: weight view out of range")
    return 0


cdef tuple _bce_general(logits, target, weight, pos_weight, reduction, grad_loss, out,
                        bint with_grad):
    """Validation, conversion and the kernel; returns (loss, dlogits or None)."""
    a = ck.bce_prepare(logits, target, weight, pos_weight, reduction)
    if with_grad:
        gl = ck.bce_grad_loss(grad_loss, a)
        ck.check_out(out, a.x.shape, a.result)
    else:
        gl = 1.0
        ck.check_out(out, ck.bce_loss_shape(a), a.result)
    if a.work != _F32 and a.work != _F64:
        tw = _twin()
        if with_grad:
            return tw.binary_cross_entropy_with_logits_with_grad(
                logits, target, weight=weight, pos_weight=pos_weight, reduction=reduction,
                grad_loss=grad_loss, out=out)
        return tw.binary_cross_entropy_with_logits(
            logits, target, weight=weight, pos_weight=pos_weight, reduction=reduction,
            out=out), None
    shape = a.x.shape
    cdef cnp.ndarray xw = ck.kernel_array(a.x, a.work)
    cdef cnp.ndarray tw_ = ck.kernel_array(a.target, a.work)
    w, w_row, w_col = ck.bce_weight_view(a.weight, shape, a.work)
    pw, p_row, p_col = ck.bce_weight_view(a.pos_weight, shape, a.work)
    cdef double g = 1.0, total = 0.0
    cdef Py_ssize_t size = cnp.PyArray_SIZE(xw)
    gv = None
    if isinstance(gl, np.ndarray):
        gv = ck.kernel_array(gl, a.work)
    else:
        g = gl
    if a.reduction == "mean":
        g = g / size if size else g * np.nan
    reads = [tw_] + [v for v in (w, pw, gv) if v is not None]
    loss = None
    if a.reduction == "none":
        if with_grad:
            loss = np.empty(shape, a.work)
        else:
            direct = ck.direct_out(out, xw, a.work, False) \
                and not any(np.may_share_memory(out, v) for v in reads)
            loss = out if direct else np.empty(shape, a.work)
            _check_run(xw, loss, size)
    dst = None
    if with_grad:
        # dlogits straight into out when the kernel can write it: the
        # computing dtype, C-contiguous, exactly xw or no overlap with it, and
        # no overlap with anything else the kernel reads
        direct = ck.direct_out(out, xw, a.work, True) \
            and not any(np.may_share_memory(out, v) for v in reads)
        dst = out if direct else np.empty(shape, a.work)
        _check_run(xw, dst, size)
    _bce_check_view(xw, w, w_row, w_col)
    _bce_check_view(xw, pw, p_row, p_col)
    if gv is not None:
        _check_read(xw, gv, size)
    _check_read(xw, tw_, size)
    _bce_run(xw, tw_, w, w_row, w_col, pw, p_row, p_col, g, gv, dst, loss,
             NULL if a.reduction == "none" else &total)
    if a.reduction == "none":
        lres = ck.deliver(loss, None if with_grad else out, a.result)
    else:
        val = ck.finish_loss(total, size, a.reduction, a.result)
        lres = val if with_grad else ck.deliver_loss(val, out)
    if not with_grad:
        return lres, None
    return lres, ck.deliver(dst, out, a.result)


def binary_cross_entropy_with_logits(logits, target, weight, pos_weight, reduction, out):
    """fastact.binary_cross_entropy_with_logits (arguments as there, all given)."""
    cdef double total = 0.0
    cdef cnp.npy_intp size
    if out is None and _bce_plain(logits, target, weight, pos_weight, reduction):
        _bce_run(<cnp.ndarray>logits, <cnp.ndarray>target, None, 0, 0, None, 0, 0, 1.0, None,
                 None, None, &total)
        size = cnp.PyArray_SIZE(<cnp.ndarray>logits)
        if reduction == "mean":
            total = total / <double>size  # cdivision: IEEE 0/0 = NaN, as PyTorch
        return (np.float32 if cnp.PyArray_TYPE(<cnp.ndarray>logits) == cnp.NPY_FLOAT32
                else np.float64)(total)
    return _bce_general(logits, target, weight, pos_weight, reduction, None, out, False)[0]


def binary_cross_entropy_with_logits_with_grad(logits, target, weight, pos_weight, reduction,
                                               grad_loss, out):
    """fastact.binary_cross_entropy_with_logits_with_grad (arguments as there,
    all given)."""
    cdef double total = 0.0, g = 1.0
    cdef cnp.npy_intp size
    cdef cnp.ndarray xa
    if (grad_loss is None or type(grad_loss) is float or type(grad_loss) is int) \
            and _bce_plain(logits, target, weight, pos_weight, reduction):
        xa = <cnp.ndarray>logits
        ya = _fast_out(xa, out, cnp.PyArray_TYPE(xa), cnp.PyArray_NDIM(xa),
                       cnp.PyArray_DIMS(xa), True)
        if ya is not None and out is not None and np.may_share_memory(ya, target):
            ya = None
        if ya is not None:
            if grad_loss is not None:
                g = grad_loss
            size = cnp.PyArray_SIZE(xa)
            if reduction == "mean":
                g = g / <double>size  # cdivision: NaN for empty arrays (nothing written)
            _bce_run(xa, <cnp.ndarray>target, None, 0, 0, None, 0, 0, g, None, ya, None,
                     &total)
            if reduction == "mean":
                total = total / <double>size
            return (np.float32 if cnp.PyArray_TYPE(xa) == cnp.NPY_FLOAT32
                    else np.float64)(total), ya if out is not None else ck.unwrap_0d(ya)
    return _bce_general(logits, target, weight, pos_weight, reduction, grad_loss, out, True)
# ------------------------------------------------ where= (masked softmax)
# The masked entry of softmax / log_softmax: planned in Python (the mask's
# broadcast view, ck.mask_view), then one kernel call; where=None never
# comes here (fastact._api keeps the unmasked entry).

cdef extern from "fastact.h" nogil:
    enum:
        FA_MASK_MAXDIMS
        FA_NUM_MASKED
        FA_FAMILY_MASKED
    ctypedef struct fa_mask_view:
        const unsigned char *base
        int nd
        size_t dims[64]
        ptrdiff_t strides[64]
        ptrdiff_t sn
    void fa_masked_reduce(int op, int dtype, const void *x, void *y, const fa_mask_view *mask,
                          size_t outer, size_t n, size_t inner)

#: Masked op codes (FA_MASKED_OPS: the reductions that take where=).
MASKED_NAMES = tuple(fa_op_name(FA_FAMILY_MASKED, i).decode() for i in range(FA_NUM_MASKED))
MASKED_OPS = {name: i for i, name in enumerate(MASKED_NAMES)}


def masked_reduce(int op, x, where, axis, out):
    """Masked op ``op`` of MASKED_OPS (softmax, log_softmax) with
    ``where`` (see fastact._docs): validated through fastact._checks as the
    twin (x, axis, where, out, in that order), before anything is written."""
    if op < 0 or op >= FA_NUM_MASKED:
        raise ValueError(f"internal: unknown masked reduction {op}")
    arr, work, result = ck.as_float(x)
    axes = ck.normalize_axes(axis, arr.ndim)
    mask = ck.as_mask(where, arr.shape)
    ck.check_out(out, arr.shape, result)
    if work != _F32 and work != _F64:
        return getattr(_twin(), MASKED_NAMES[op])(arr, axis, where=mask, out=out)
    xw = ck.kernel_array(arr, work)
    shape = xw.shape
    if not axes:
        # groups of one element (0-d x, or axis=()): a trailing axis of 1
        shape = shape + (1,)
        xw = xw.reshape(shape)
        mask = mask.reshape(mask.shape + (1,))
        axes = (len(shape) - 1,)
    perm, outer, n, inner = ck.plan(shape, axes)
    m, dims, strides, sn = ck.mask_view(mask, shape, axes, perm)
    if perm is not None:
        xw = np.ascontiguousarray(xw.transpose(perm))
    direct = perm is None and out is not None and out.shape == shape \
        and ck.direct_out(out, xw, work, True) and not np.may_share_memory(out, m)
    dst = out if direct else np.empty(xw.shape, work)
    _check_run(xw, dst, cnp.PyArray_SIZE(xw))
    cdef fa_mask_view mv
    cdef int d
    cdef cnp.ndarray ma = <cnp.ndarray?>m
    if len(dims) > FA_MASK_MAXDIMS or (inner == 1 and n > 1 and sn != 1) \
            or cnp.PyArray_ITEMSIZE(ma) != 1:
        raise AssertionError("internal: the plan gave a mask the kernels cannot take")
    mv.base = <const unsigned char *>cnp.PyArray_DATA(ma)
    mv.nd = len(dims)
    for d in range(mv.nd):
        mv.dims[d] = <size_t>dims[d]
        mv.strides[d] = <ptrdiff_t>strides[d]
    mv.sn = <ptrdiff_t>sn
    cdef const void *xp = cnp.PyArray_DATA(<cnp.ndarray>xw)
    cdef void *yp = cnp.PyArray_DATA(<cnp.ndarray>dst)
    cdef int dt = _dtype(<cnp.ndarray>xw)
    cdef size_t so = outer, sn_ = n, si = inner
    with nogil:
        fa_masked_reduce(op, dt, xp, yp, &mv, so, sn_, si)
    if perm is not None:
        dst = dst.transpose(np.argsort(perm))
    if dst.shape != arr.shape:
        dst = dst.reshape(arr.shape)
    return ck.deliver(dst, out, result)


# ------------------------------------------------------------------ C API
# The table of fastact/include/fastact_api_table.h, published as the capsule
# _C_API for extensions built against fastact (fastact_api.h's
# fastact_import() fetches it): the entry points above and the codes they
# take, filled once here, after fa_init.  (The header is found next to this
# file's C output: quoted includes search the including file's directory.)

from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uint32_t

cdef extern from "fastact.h" nogil:
    enum:
        FA_REDUCE_softmax
        FA_REDUCE_log_softmax
        FA_REDUCE_logsumexp
        FA_REDUCE2_softmax_backward
        FA_REDUCE2_log_softmax_backward
        FA_MAP_relu
        FA_MAP_leaky_relu
        FA_MAP_sigmoid
        FA_MAP2_relu_backward
        FA_MAP2_leaky_relu_backward
        FA_MAP2_sigmoid_backward

cdef extern from "include/fastact_api_table.h" nogil:
    enum: FASTACT_ABI_VERSION
    const char *FASTACT_CAPSULE_NAME
    ctypedef struct fastact_api_table:
        uint32_t abi_version, size
        int dtype_f32, dtype_f64
        int op_softmax, op_log_softmax, op_logsumexp
        int op_softmax_backward, op_log_softmax_backward
        int op_relu, op_leaky_relu, op_sigmoid
        int op_relu_backward, op_leaky_relu_backward, op_sigmoid_backward
        int op_ce_index, op_ce_prob, op_ce_index_grad, op_ce_prob_grad, op_bce_logits
        void (*reduce)(int, int, const void *, void *, size_t, size_t, size_t) noexcept nogil
        void (*reduce2)(int, int, const void *, const void *, void *, size_t, size_t,
                        size_t) noexcept nogil
        void (*map)(int, int, const void *, void *, size_t, double) noexcept nogil
        void (*map2)(int, int, const void *, const void *, void *, size_t,
                     double) noexcept nogil
        void (*loss)(int, int, const void *, const void *, const int64_t *, const double *,
                     size_t, size_t, size_t, int64_t, double, void *, double *,
                     double *) noexcept nogil
        void (*loss_grad)(int, int, const void *, const void *, const int64_t *,
                          const double *, size_t, size_t, size_t, int64_t, double, double,
                          const double *, int, void *, void *, double *, double *) noexcept nogil
        void (*elem_loss)(int, int, const void *, const void *, const void *, size_t, size_t,
                          const void *, size_t, size_t, size_t, size_t, double, const void *,
                          void *, void *, double *) noexcept nogil
        ptrdiff_t (*first_bad_label)(const int64_t *, size_t, int64_t, int64_t) noexcept nogil
        int (*get_num_threads)() noexcept nogil
        int (*get_level)() noexcept nogil
        const char *(*level_name)(int) noexcept nogil

cdef fastact_api_table _capi


cdef object _make_c_api():
    _capi.abi_version = FASTACT_ABI_VERSION
    _capi.size = sizeof(fastact_api_table)
    _capi.dtype_f32, _capi.dtype_f64 = FA_F32, FA_F64
    _capi.op_softmax = FA_REDUCE_softmax
    _capi.op_log_softmax = FA_REDUCE_log_softmax
    _capi.op_logsumexp = FA_REDUCE_logsumexp
    _capi.op_softmax_backward = FA_REDUCE2_softmax_backward
    _capi.op_log_softmax_backward = FA_REDUCE2_log_softmax_backward
    _capi.op_relu, _capi.op_leaky_relu, _capi.op_sigmoid = FA_MAP_relu, FA_MAP_leaky_relu, FA_MAP_sigmoid
    _capi.op_relu_backward = FA_MAP2_relu_backward
    _capi.op_leaky_relu_backward = FA_MAP2_leaky_relu_backward
    _capi.op_sigmoid_backward = FA_MAP2_sigmoid_backward
    _capi.op_ce_index, _capi.op_ce_prob = FA_LOSS_ce_index, FA_LOSS_ce_prob
    _capi.op_ce_index_grad = FA_LOSS_GRAD_ce_index_grad
    _capi.op_ce_prob_grad = FA_LOSS_GRAD_ce_prob_grad
    _capi.op_bce_logits = FA_ELEM_LOSS_bce_logits
    _capi.reduce = fa_reduce
    _capi.reduce2 = fa_reduce2
    _capi.map = fa_map
    _capi.map2 = fa_map2
    _capi.loss = fa_loss
    _capi.loss_grad = fa_loss_grad
    _capi.elem_loss = fa_elem_loss
    _capi.first_bad_label = fa_first_bad_label
    _capi.get_num_threads = fa_get_num_threads
    _capi.get_level = fa_get_level
    _capi.level_name = fa_level_name
    return PyCapsule_New(<void *>&_capi, FASTACT_CAPSULE_NAME, NULL)


#: The C API's table (fastact/include/fastact_api.h), a PyCapsule named
#: "fastact._native._C_API".
_C_API = _make_c_api()
