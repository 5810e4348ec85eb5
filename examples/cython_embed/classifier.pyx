# cython: language_level=3, boundscheck=False, wraparound=False
"""The loss step of a classifier, in Cython, on fastact's C API.

classifier_step() takes a batch of logits (N rows of C classes) and their
integer labels and, for row blocks running in parallel (prange, without the
GIL), calls fastact's kernels directly on the block's memory:

- the softmax of the block's logits (the class probabilities, for the
  predictions and the accuracy counted in the same loop),
- the fused cross-entropy + gradient (one pass over the logits): the
  block's loss sum, and dlogits = d(mean loss)/d(logits) for its rows.

The mean is PyTorch's with ignore_index: over the labels that are not
ignored, counted first, so that every block scales its gradient by the same
1 / count and the blocks together give the whole batch's gradient (bit for
bit what fastact.cross_entropy_with_grad returns).  Errors (a label out of
range, bad sizes) come back from the kernels as return codes, turned into
Python exceptions after the parallel loop.

Build: python setup.py build_ext --inplace (in this directory).
"""

from cython.parallel cimport prange
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t

from fastact cimport capi

import os

import numpy as np

capi.fastact_import()  # once per module, with the GIL: raises ImportError

ctypedef fused real:
    float
    double


def classifier_step(const real[:, ::1] logits, const int64_t[::1] labels, real[:, ::1] probs,
                    real[:, ::1] dlogits, Py_ssize_t block=256, double label_smoothing=0.0,
                    int64_t ignore_index=-100, num_threads=None):
    """Mean cross-entropy loss, its gradient and the accuracy of a batch.

    Parameters
    ----------
    logits : (N, C) float32 or float64, C-contiguous
    labels : (N,) int64 class indices in [0, C), or ignore_index
    probs : (N, C) output, softmax(logits) over the classes
    dlogits : (N, C) output, d(mean loss)/d(logits); may be logits itself
    block : rows per parallel task
    label_smoothing : in [0, 1], as fastact.cross_entropy
    num_threads : OpenMP threads for the blocks (None: os.cpu_count())

    Returns
    -------
    (loss, accuracy) : the mean loss over the non-ignored labels (float),
        and the fraction of them whose largest probability is the label.
    """
    cdef Py_ssize_t N = logits.shape[0], C = logits.shape[1]
    if labels.shape[0] != N or probs.shape[0] != N or probs.shape[1] != C \
            or dlogits.shape[0] != N or dlogits.shape[1] != C:
        raise ValueError("logits, labels, probs and dlogits must have matching shapes")
    if block < 1:
        raise ValueError("block must be positive")
    cdef Py_ssize_t nb = (N + block - 1) // block, b, r, c, r0, r1, best, count = 0
    cdef double[::1] sums = np.zeros(nb)
    cdef Py_ssize_t[::1] correct = np.zeros(nb, np.intp)
    cdef int[::1] rcs = np.zeros(nb, np.intc)
    cdef double g
    cdef int nthreads = num_threads if num_threads is not None else (os.cpu_count() or 1)
    if nthreads < 1:
        raise ValueError("num_threads must be positive")
    for r in range(N):
        count += labels[r] != ignore_index
    g = 1.0 / count if count else 0.0  # the gradient of the mean: 1 / count per sample
    with nogil:
        for b in prange(nb, num_threads=nthreads, schedule="dynamic"):
            r0 = b * block
            r1 = r0 + block if r0 + block < N else N
            # probabilities first: dlogits may be logits itself (in place)
            if real is float:
                rcs[b] = capi.fastact_softmax_f32(&logits[r0, 0], &probs[r0, 0], r1 - r0, C, 1)
            else:
                rcs[b] = capi.fastact_softmax_f64(&logits[r0, 0], &probs[r0, 0], r1 - r0, C, 1)
            if rcs[b] == 0:
                # reduction "sum" with grad_loss = 1 / count: the block's
                # share of the mean's gradient; its loss sum into sums[b]
                if real is float:
                    rcs[b] = capi.fastact_cross_entropy_grad_f32(
                        &logits[r0, 0], &labels[r0], NULL, r1 - r0, C, 1, ignore_index,
                        label_smoothing, 0, g, NULL, &dlogits[r0, 0], NULL, &sums[b], NULL)
                else:
                    rcs[b] = capi.fastact_cross_entropy_grad_f64(
                        &logits[r0, 0], &labels[r0], NULL, r1 - r0, C, 1, ignore_index,
                        label_smoothing, 0, g, NULL, &dlogits[r0, 0], NULL, &sums[b], NULL)
            for r in range(r0, r1):
                if labels[r] == ignore_index:
                    continue
                best = 0
                for c in range(1, C):
                    if probs[r, c] > probs[r, best]:
                        best = c
                correct[b] += best == labels[r]
    cdef ptrdiff_t bad = -1
    for b in range(nb):
        if rcs[b] == capi.FASTACT_ERR_LABEL \
                and capi.fastact_first_bad_label(&labels[0], N, C, ignore_index, &bad) == 0:
            raise IndexError(f"label {labels[bad]} at row {bad} is outside [0, {C}) "
                             f"and is not ignore_index ({ignore_index})")
        if rcs[b] != capi.FASTACT_OK:
            raise ValueError(f"fastact: {capi.fastact_strerror(rcs[b]).decode()}")
    total = 0.0
    for b in range(nb):
        total += sums[b]
    return (total / count if count else float("nan"),
            float(np.sum(correct)) / count if count else float("nan"))


def kernel_level():
    """The SIMD level fastact's kernels run at (as seen through the C API)."""
    return capi.fastact_kernel_level().decode()
