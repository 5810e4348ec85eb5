# cython: language_level=3, boundscheck=False, wraparound=False
"""tests/test_capi.py's extension: fastact's C API called from Cython
(``from fastact cimport capi``: cy_call, the prange loops) and from plain C
(plain.c through fastact_api.h only: c_call).  Arrays arrive as addresses
(the test's NumPy arrays), so that the tests can also pass NULL, misaligned
and overlapping pointers."""

from cython.parallel cimport prange, threadid
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t, uintptr_t

from fastact cimport capi

cdef extern from "plain.h":
    int plain_import() except -1
    int plain_call(const char *name, int f64, void *const *p, const size_t *s, const double *d,
                   int64_t i, int flag) nogil
    const char *plain_level()

cdef extern from *:
    """
    #ifdef _OPENMP
    #define PROBE_OPENMP 1
    #else
    #define PROBE_OPENMP 0
    #endif
    """
    int PROBE_OPENMP

capi.fastact_import()

#: 1 when compiled with OpenMP (prange runs on several threads).
OPENMP = PROBE_OPENMP
ABI_VERSION = capi.FASTACT_ABI_VERSION
ERRORS = {name: value for name, value in [
    ("OK", capi.FASTACT_OK), ("NOT_IMPORTED", capi.FASTACT_ERR_NOT_IMPORTED),
    ("NULL", capi.FASTACT_ERR_NULL), ("SIZE", capi.FASTACT_ERR_SIZE),
    ("ALIGN", capi.FASTACT_ERR_ALIGN), ("OVERLAP", capi.FASTACT_ERR_OVERLAP),
    ("LABEL", capi.FASTACT_ERR_LABEL), ("VALUE", capi.FASTACT_ERR_VALUE)]}


def strerror(int code):
    return capi.fastact_strerror(code).decode()


def kernel_level():
    return capi.fastact_kernel_level().decode()


def num_threads():
    return capi.fastact_get_num_threads()


def c_import():
    """plain.c's fastact_import() (raises its ImportError)."""
    plain_import()


def c_level():
    cdef const char *s = plain_level()
    return None if s == NULL else s.decode()


cdef int _args(tuple p, tuple s, tuple d, void **pp, size_t *ss, double *dd) except -1:
    if len(p) > 8 or len(s) > 6 or len(d) > 2:
        raise ValueError("too many arguments")
    cdef int k
    for k in range(len(p)):
        pp[k] = <void *><uintptr_t>p[k]
    for k in range(len(s)):
        ss[k] = <size_t>s[k]
    for k in range(len(d)):
        dd[k] = <double>d[k]
    return 0


def c_call(str name, bint f64, tuple p, tuple s=(), tuple d=(), int64_t i=0, int flag=0):
    """The C API function ``name`` through plain.c (addresses p, sizes s,
    doubles d), without the GIL; its return code."""
    cdef void *pp[8]
    cdef size_t ss[6]
    cdef double dd[2]
    _args(p, s, d, pp, ss, dd)
    cdef bytes nb = name.encode()
    cdef const char *n = nb
    cdef int rc
    with nogil:
        rc = plain_call(n, f64, pp, ss, dd, i, flag)
    return rc


def cy_call(str name, bint f64, tuple p, tuple s=(), tuple d=(), int64_t i=0, int flag=0):
    """The same through the .pxd declarations (typed pointers), without the GIL."""
    cdef void *pp[8]
    cdef size_t ss[6]
    cdef double dd[2]
    _args(p, s, d, pp, ss, dd)
    cdef int rc = -100
    if name == "softmax":
        with nogil:
            rc = (capi.fastact_softmax_f64(<double *>pp[0], <double *>pp[1], ss[0], ss[1], ss[2]) if f64
                  else capi.fastact_softmax_f32(<float *>pp[0], <float *>pp[1], ss[0], ss[1], ss[2]))
    elif name == "log_softmax":
        with nogil:
            rc = (capi.fastact_log_softmax_f64(<double *>pp[0], <double *>pp[1], ss[0], ss[1], ss[2]) if f64
                  else capi.fastact_log_softmax_f32(<float *>pp[0], <float *>pp[1], ss[0], ss[1], ss[2]))
    elif name == "logsumexp":
        with nogil:
            rc = (capi.fastact_logsumexp_f64(<double *>pp[0], <double *>pp[1], ss[0], ss[1], ss[2]) if f64
                  else capi.fastact_logsumexp_f32(<float *>pp[0], <float *>pp[1], ss[0], ss[1], ss[2]))
    elif name == "softmax_backward":
        with nogil:
            rc = (capi.fastact_softmax_backward_f64(<double *>pp[0], <double *>pp[1], <double *>pp[2],
                                                    ss[0], ss[1], ss[2]) if f64
                  else capi.fastact_softmax_backward_f32(<float *>pp[0], <float *>pp[1], <float *>pp[2],
                                                         ss[0], ss[1], ss[2]))
    elif name == "log_softmax_backward":
        with nogil:
            rc = (capi.fastact_log_softmax_backward_f64(<double *>pp[0], <double *>pp[1], <double *>pp[2],
                                                        ss[0], ss[1], ss[2]) if f64
                  else capi.fastact_log_softmax_backward_f32(<float *>pp[0], <float *>pp[1],
                                                             <float *>pp[2], ss[0], ss[1], ss[2]))
    elif name == "relu":
        with nogil:
            rc = (capi.fastact_relu_f64(<double *>pp[0], <double *>pp[1], ss[0]) if f64
                  else capi.fastact_relu_f32(<float *>pp[0], <float *>pp[1], ss[0]))
    elif name == "leaky_relu":
        with nogil:
            rc = (capi.fastact_leaky_relu_f64(<double *>pp[0], <double *>pp[1], ss[0], dd[0]) if f64
                  else capi.fastact_leaky_relu_f32(<float *>pp[0], <float *>pp[1], ss[0], dd[0]))
    elif name == "sigmoid":
        with nogil:
            rc = (capi.fastact_sigmoid_f64(<double *>pp[0], <double *>pp[1], ss[0]) if f64
                  else capi.fastact_sigmoid_f32(<float *>pp[0], <float *>pp[1], ss[0]))
    elif name == "relu_backward":
        with nogil:
            rc = (capi.fastact_relu_backward_f64(<double *>pp[0], <double *>pp[1], <double *>pp[2], ss[0])
                  if f64 else
                  capi.fastact_relu_backward_f32(<float *>pp[0], <float *>pp[1], <float *>pp[2], ss[0]))
    elif name == "leaky_relu_backward":
        with nogil:
            rc = (capi.fastact_leaky_relu_backward_f64(<double *>pp[0], <double *>pp[1], <double *>pp[2],
                                                       ss[0], dd[0]) if f64
                  else capi.fastact_leaky_relu_backward_f32(<float *>pp[0], <float *>pp[1],
                                                            <float *>pp[2], ss[0], dd[0]))
    elif name == "sigmoid_backward":
        with nogil:
            rc = (capi.fastact_sigmoid_backward_f64(<double *>pp[0], <double *>pp[1], <double *>pp[2], ss[0])
                  if f64 else
                  capi.fastact_sigmoid_backward_f32(<float *>pp[0], <float *>pp[1], <float *>pp[2], ss[0]))
    elif name == "first_bad_label":
        with nogil:
            rc = capi.fastact_first_bad_label(<int64_t *>pp[0], ss[0], ss[1], i, <ptrdiff_t *>pp[1])
    elif name == "cross_entropy":
        with nogil:
            rc = (capi.fastact_cross_entropy_f64(<double *>pp[0], <int64_t *>pp[1], <double *>pp[2],
                                                 ss[0], ss[1], ss[2], i, dd[0], <double *>pp[3],
                                                 <double *>pp[4], <double *>pp[5]) if f64
                  else capi.fastact_cross_entropy_f32(<float *>pp[0], <int64_t *>pp[1], <double *>pp[2],
                                                      ss[0], ss[1], ss[2], i, dd[0], <float *>pp[3],
                                                      <double *>pp[4], <double *>pp[5]))
    elif name == "cross_entropy_prob":
        with nogil:
            rc = (capi.fastact_cross_entropy_prob_f64(<double *>pp[0], <double *>pp[1], <double *>pp[2],
                                                      ss[0], ss[1], ss[2], dd[0], <double *>pp[3],
                                                      <double *>pp[4]) if f64
                  else capi.fastact_cross_entropy_prob_f32(<float *>pp[0], <float *>pp[1], <double *>pp[2],
                                                           ss[0], ss[1], ss[2], dd[0], <float *>pp[3],
                                                           <double *>pp[4]))
    elif name == "cross_entropy_grad":
        with nogil:
            rc = (capi.fastact_cross_entropy_grad_f64(
                      <double *>pp[0], <int64_t *>pp[1], <double *>pp[2], ss[0], ss[1], ss[2], i, dd[0],
                      flag, dd[1], <double *>pp[3], <double *>pp[4], <double *>pp[5], <double *>pp[6],
                      <double *>pp[7]) if f64
                  else capi.fastact_cross_entropy_grad_f32(
                      <float *>pp[0], <int64_t *>pp[1], <double *>pp[2], ss[0], ss[1], ss[2], i, dd[0],
                      flag, dd[1], <double *>pp[3], <float *>pp[4], <float *>pp[5], <double *>pp[6],
                      <double *>pp[7]))
    elif name == "cross_entropy_prob_grad":
        with nogil:
            rc = (capi.fastact_cross_entropy_prob_grad_f64(
                      <double *>pp[0], <double *>pp[1], <double *>pp[2], ss[0], ss[1], ss[2], dd[0], flag,
                      dd[1], <double *>pp[3], <double *>pp[4], <double *>pp[5], <double *>pp[6]) if f64
                  else capi.fastact_cross_entropy_prob_grad_f32(
                      <float *>pp[0], <float *>pp[1], <double *>pp[2], ss[0], ss[1], ss[2], dd[0], flag,
                      dd[1], <double *>pp[3], <float *>pp[4], <float *>pp[5], <double *>pp[6]))
    elif name == "bce":
        with nogil:
            rc = (capi.fastact_binary_cross_entropy_with_logits_f64(
                      <double *>pp[0], <double *>pp[1], <double *>pp[2], ss[0], ss[1], <double *>pp[3],
                      ss[2], ss[3], ss[4], ss[5], <double *>pp[4], <double *>pp[5]) if f64
                  else capi.fastact_binary_cross_entropy_with_logits_f32(
                      <float *>pp[0], <float *>pp[1], <float *>pp[2], ss[0], ss[1], <float *>pp[3],
                      ss[2], ss[3], ss[4], ss[5], <float *>pp[4], <double *>pp[5]))
    elif name == "bce_grad":
        with nogil:
            rc = (capi.fastact_binary_cross_entropy_with_logits_grad_f64(
                      <double *>pp[0], <double *>pp[1], <double *>pp[2], ss[0], ss[1], <double *>pp[3],
                      ss[2], ss[3], ss[4], ss[5], flag, dd[0], <double *>pp[4], <double *>pp[5],
                      <double *>pp[6], <double *>pp[7]) if f64
                  else capi.fastact_binary_cross_entropy_with_logits_grad_f32(
                      <float *>pp[0], <float *>pp[1], <float *>pp[2], ss[0], ss[1], <float *>pp[3],
                      ss[2], ss[3], ss[4], ss[5], flag, dd[0], <float *>pp[4], <float *>pp[5],
                      <float *>pp[6], <double *>pp[7]))
    return rc


ctypedef fused real:
    float
    double


def prange_rows(real[:, ::1] logits, const int64_t[::1] labels, real[:, ::1] probs,
                real[:, ::1] dlogits, double[::1] block_sums, int[::1] rcs, int[::1] tids,
                Py_ssize_t block, int nthreads):
    """Row block b (rows [b * block, (b + 1) * block)) on an OpenMP thread:
    softmax of its logits into probs and cross_entropy_with_grad
    (reduction "sum") into dlogits, its loss sum into block_sums[b]; the
    two return codes' worse one into rcs[b], the thread into tids[b]."""
    cdef Py_ssize_t N = logits.shape[0], C = logits.shape[1]
    cdef Py_ssize_t nb = (N + block - 1) // block, b, r0, r1
    cdef int rc1, rc2
    for b in prange(nb, nogil=True, num_threads=nthreads, schedule="static"):
        r0 = b * block
        r1 = r0 + block if r0 + block < N else N
        if real is float:
            rc1 = capi.fastact_softmax_f32(&logits[r0, 0], &probs[r0, 0], r1 - r0, C, 1)
            rc2 = capi.fastact_cross_entropy_grad_f32(&logits[r0, 0], &labels[r0], NULL, r1 - r0, C, 1,
                                                      -100, 0.0, 0, 1.0, NULL, &dlogits[r0, 0], NULL,
                                                      &block_sums[b], NULL)
        else:
            rc1 = capi.fastact_softmax_f64(&logits[r0, 0], &probs[r0, 0], r1 - r0, C, 1)
            rc2 = capi.fastact_cross_entropy_grad_f64(&logits[r0, 0], &labels[r0], NULL, r1 - r0, C, 1,
                                                      -100, 0.0, 0, 1.0, NULL, &dlogits[r0, 0], NULL,
                                                      &block_sums[b], NULL)
        rcs[b] = rc1 if rc1 != 0 else rc2
        tids[b] = threadid()


def prange_slabs(real[:, :, ::1] x, real[:, :, ::1] y, int[::1] rcs, int[::1] tids, int nthreads):
    """log_softmax over axis 1 of (B, C, T) x, one slab x[b] (outer 1, n C,
    inner T: a non-last axis) per OpenMP iteration."""
    cdef Py_ssize_t B = x.shape[0], C = x.shape[1], T = x.shape[2], b
    for b in prange(B, nogil=True, num_threads=nthreads, schedule="static"):
        if real is float:
            rcs[b] = capi.fastact_log_softmax_f32(&x[b, 0, 0], &y[b, 0, 0], 1, C, T)
        else:
            rcs[b] = capi.fastact_log_softmax_f64(&x[b, 0, 0], &y[b, 0, 0], 1, C, T)
        tids[b] = threadid()
