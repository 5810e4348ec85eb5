# cython: language_level=3
"""Cython declarations of fastact's C API (fastact/include/fastact_api.h).

    from fastact cimport capi        # or: cimport fastact.capi as capi

    capi.fastact_import()            # once, at module level (raises ImportError)

    cdef int rc
    with nogil:
        rc = capi.fastact_softmax_f32(&x[0, 0], &y[0, 0], rows, cols, 1)
    if rc != capi.FASTACT_OK:
        raise ValueError(capi.fastact_strerror(rc).decode())

Build with ``include_dirs=[fastact.get_include()]``; nothing is linked.
The header is the reference: every function's semantics, the (outer, n,
inner) view, sizes, aliasing, error codes and thread safety are documented
there.  In short: the ``_f32`` functions take ``float`` arrays, the ``_f64``
ones ``double``; lengths are element counts; every function returns
``FASTACT_OK`` (0) or a negative ``FASTACT_ERR_*`` code (nothing written on
an error), may be called from any thread without the GIL, concurrently,
once ``fastact_import()`` has run in the module; none raises (``noexcept``).
"""

from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t

cdef extern from "fastact_api.h":
    # with the GIL: 0, or -1 with ImportError set (fastact not importable,
    # no C API, another ABI version, or an older table than this header's)
    int fastact_import() except -1

    enum:
        FASTACT_ABI_VERSION
        FASTACT_OK
        FASTACT_ERR_NOT_IMPORTED
        FASTACT_ERR_NULL
        FASTACT_ERR_SIZE
        FASTACT_ERR_ALIGN
        FASTACT_ERR_OVERLAP
        FASTACT_ERR_LABEL
        FASTACT_ERR_VALUE

cdef extern from "fastact_api.h" nogil:
    const char *fastact_strerror(int code) noexcept
    int fastact_get_num_threads() noexcept
    const char *fastact_kernel_level() noexcept

    # reductions over the (outer, n, inner) view; y may be exactly x
    # (logsumexp: y has outer * inner elements, apart from x)
    int fastact_softmax_f32(const float *x, float *y, size_t outer, size_t n, size_t inner) noexcept
    int fastact_softmax_f64(const double *x, double *y, size_t outer, size_t n, size_t inner) noexcept
    int fastact_log_softmax_f32(const float *x, float *y, size_t outer, size_t n, size_t inner) noexcept
    int fastact_log_softmax_f64(const double *x, double *y, size_t outer, size_t n, size_t inner) noexcept
    int fastact_logsumexp_f32(const float *x, float *y, size_t outer, size_t n, size_t inner) noexcept
    int fastact_logsumexp_f64(const double *x, double *y, size_t outer, size_t n, size_t inner) noexcept

    # their backward ops; out may be exactly grad or y
    int fastact_softmax_backward_f32(const float *grad, const float *y, float *out,
                                     size_t outer, size_t n, size_t inner) noexcept
    int fastact_softmax_backward_f64(const double *grad, const double *y, double *out,
                                     size_t outer, size_t n, size_t inner) noexcept
    int fastact_log_softmax_backward_f32(const float *grad, const float *y, float *out,
                                         size_t outer, size_t n, size_t inner) noexcept
    int fastact_log_softmax_backward_f64(const double *grad, const double *y, double *out,
                                         size_t outer, size_t n, size_t inner) noexcept

    # element-wise; y may be exactly x
    int fastact_relu_f32(const float *x, float *y, size_t len) noexcept
    int fastact_relu_f64(const double *x, double *y, size_t len) noexcept
    int fastact_leaky_relu_f32(const float *x, float *y, size_t len, double negative_slope) noexcept
    int fastact_leaky_relu_f64(const double *x, double *y, size_t len, double negative_slope) noexcept
    int fastact_sigmoid_f32(const float *x, float *y, size_t len) noexcept
    int fastact_sigmoid_f64(const double *x, double *y, size_t len) noexcept

    # element-wise backward; out may be exactly grad or the second input
    int fastact_relu_backward_f32(const float *grad, const float *x, float *out, size_t len) noexcept
    int fastact_relu_backward_f64(const double *grad, const double *x, double *out, size_t len) noexcept
    int fastact_leaky_relu_backward_f32(const float *grad, const float *x, float *out, size_t len,
                                        double negative_slope) noexcept
    int fastact_leaky_relu_backward_f64(const double *grad, const double *x, double *out, size_t len,
                                        double negative_slope) noexcept
    int fastact_sigmoid_backward_f32(const float *grad, const float *y, float *out, size_t len) noexcept
    int fastact_sigmoid_backward_f64(const double *grad, const double *y, double *out, size_t len) noexcept

    # *index = position of the first label outside [0, C) that is not
    # ignore_index, or -1
    int fastact_first_bad_label(const int64_t *labels, size_t len, size_t C, int64_t ignore_index,
                                ptrdiff_t *index) noexcept

    # cross-entropy, class-index targets (FASTACT_ERR_LABEL for a bad label);
    # weight (C doubles), loss (outer * inner), sum, weight_sum: optional (NULL)
    int fastact_cross_entropy_f32(const float *logits, const int64_t *labels, const double *weight,
                                  size_t outer, size_t C, size_t inner, int64_t ignore_index,
                                  double label_smoothing, float *loss, double *sum,
                                  double *weight_sum) noexcept
    int fastact_cross_entropy_f64(const double *logits, const int64_t *labels, const double *weight,
                                  size_t outer, size_t C, size_t inner, int64_t ignore_index,
                                  double label_smoothing, double *loss, double *sum,
                                  double *weight_sum) noexcept
    # class-probability targets (the logits' layout)
    int fastact_cross_entropy_prob_f32(const float *logits, const float *target, const double *weight,
                                       size_t outer, size_t C, size_t inner, double label_smoothing,
                                       float *loss, double *sum) noexcept
    int fastact_cross_entropy_prob_f64(const double *logits, const double *target, const double *weight,
                                       size_t outer, size_t C, size_t inner, double label_smoothing,
                                       double *loss, double *sum) noexcept

    # loss and gradient in one pass; dlogits required, may be exactly logits;
    # mean != 0: reduction "mean"; grad_per_sample (outer * inner doubles) optional
    int fastact_cross_entropy_grad_f32(const float *logits, const int64_t *labels, const double *weight,
                                       size_t outer, size_t C, size_t inner, int64_t ignore_index,
                                       double label_smoothing, int mean, double grad_loss,
                                       const double *grad_per_sample, float *dlogits, float *loss,
                                       double *sum, double *weight_sum) noexcept
    int fastact_cross_entropy_grad_f64(const double *logits, const int64_t *labels, const double *weight,
                                       size_t outer, size_t C, size_t inner, int64_t ignore_index,
                                       double label_smoothing, int mean, double grad_loss,
                                       const double *grad_per_sample, double *dlogits, double *loss,
                                       double *sum, double *weight_sum) noexcept
    int fastact_cross_entropy_prob_grad_f32(const float *logits, const float *target, const double *weight,
                                            size_t outer, size_t C, size_t inner, double label_smoothing,
                                            int mean, double grad_loss, const double *grad_per_sample,
                                            float *dlogits, float *loss, double *sum) noexcept
    int fastact_cross_entropy_prob_grad_f64(const double *logits, const double *target, const double *weight,
                                            size_t outer, size_t C, size_t inner, double label_smoothing,
                                            int mean, double grad_loss, const double *grad_per_sample,
                                            double *dlogits, double *loss, double *sum) noexcept

    # binary cross-entropy with logits over outer rows of C; weight / pos_weight
    # (optional) read at o * row + c * col
    int fastact_binary_cross_entropy_with_logits_f32(
        const float *logits, const float *target, const float *weight, size_t w_row, size_t w_col,
        const float *pos_weight, size_t p_row, size_t p_col, size_t outer, size_t C, float *loss,
        double *sum) noexcept
    int fastact_binary_cross_entropy_with_logits_f64(
        const double *logits, const double *target, const double *weight, size_t w_row, size_t w_col,
        const double *pos_weight, size_t p_row, size_t p_col, size_t outer, size_t C, double *loss,
        double *sum) noexcept
    int fastact_binary_cross_entropy_with_logits_grad_f32(
        const float *logits, const float *target, const float *weight, size_t w_row, size_t w_col,
        const float *pos_weight, size_t p_row, size_t p_col, size_t outer, size_t C, int mean,
        double grad_loss, const float *grad_per_element, float *dlogits, float *loss,
        double *sum) noexcept
    int fastact_binary_cross_entropy_with_logits_grad_f64(
        const double *logits, const double *target, const double *weight, size_t w_row, size_t w_col,
        const double *pos_weight, size_t p_row, size_t p_col, size_t outer, size_t C, int mean,
        double grad_loss, const double *grad_per_element, double *dlogits, double *loss,
        double *sum) noexcept
