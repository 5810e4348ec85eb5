"""The NumPy twin of every fastact op: same signatures, semantics and
exceptions as the native path (validation is shared, ``fastact._checks``).

It is the fallback (``FASTACT_BACKEND=numpy``, longdouble input) and the
reference the native kernels are tested and benchmarked against.  It uses
the same numerical formulation as the kernels, in vectorised NumPy:
float16/float32 are computed in float64 (so within ~1 ULP of float32),
float64 in float64 and longdouble in longdouble.  Unlike the native float64
kernels, ``x - max`` is rounded here, which costs up to ``|x - max| * 2^-53``
of relative error in float64 (about 1e-13 for ``|x - max|`` near 700).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import _checks as ck
from . import _docs
from . import _linear_ce as _lce

AxisLike = Union[int, tuple[int, ...], None]

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "relu",
    "cross_entropy",
    "softmax_backward",
    "log_softmax_backward",
    "cross_entropy_with_grad",
    "leaky_relu",
    "sigmoid",
    "relu_backward",
    "leaky_relu_backward",
    "sigmoid_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_with_grad",
    "linear_cross_entropy",
]

_QUIET = dict(invalid="ignore", over="ignore", under="ignore", divide="ignore")


def _compute_dtype(work: np.dtype) -> np.dtype:
    return ck.LONGDOUBLE if work == ck.LONGDOUBLE else ck.F64


def _deliver(
    y: np.ndarray, out: Optional[np.ndarray], result: np.dtype, shape: tuple
) -> Union[np.ndarray, np.generic]:
    """``y`` of ``shape`` copied into ``out``, or as ``result``; a 0-d result
    without ``out`` as a NumPy scalar (as ufuncs)."""
    y = np.asarray(y).reshape(shape)
    if out is not None:
        np.copyto(out, y, casting="unsafe")
        return out
    return ck.unwrap_0d(y.astype(result, copy=False))


def _prepare(x: Any, axis: AxisLike):
    """``(arr, axes, result, xw, xaxes)``: validated input, its normalised
    axes, the result dtype, and its copy in the computing dtype with the axes
    to reduce there.  A 0-d input is seen as shape (1,) (its only possible
    group is its one element)."""
    arr, work, result = ck.as_float(x)
    axes = ck.normalize_axes(axis, arr.ndim)
    xw = arr.astype(_compute_dtype(work))
    if xw.ndim == 0:
        return arr, axes, result, xw.reshape(1), (0,)
    return arr, axes, result, xw, axes


def _prepare_mask(where: Any, shape: tuple, wshape: tuple) -> Optional[np.ndarray]:
    """softmax's ``where`` (validated by ``ck.as_mask`` against x's ``shape``)
    broadcast to the computing copy's shape ``wshape`` (a view), or None."""
    if where is None:
        return None
    return np.broadcast_to(ck.as_mask(where, shape), shape).reshape(wshape)


def _stats(xw: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(d, m, sm1)``: ``d = x - m`` with ``m`` the NaN-propagating group max
    (kept dims), and ``sm1 = sum(exp(d)) - 1`` with the terms at the maximum
    counted exactly apart from the others (so ``log1p(sm1)`` stays accurate
    when one element dominates)."""
    m = np.max(xw, axis=axes, keepdims=True, initial=-np.inf)
    d = xw - m
    e = np.exp(d)
    at_max = d == 0
    np.putmask(e, at_max, 0)
    sm1 = e.sum(axis=axes, keepdims=True) + (at_max.sum(axis=axes, keepdims=True) - 1)
    return d, m, sm1


def softmax(
    x: Any, axis: AxisLike = -1, *, where: Any = None, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    arr, _, result, xw, axes = _prepare(x, axis)
    mb = _prepare_mask(where, arr.shape, xw.shape)
    ck.check_out(out, arr.shape, result)
    with np.errstate(**_QUIET):
        if xw.size == 0:
            y = xw
        elif mb is None:
            m = np.max(xw, axis=axes, keepdims=True)
            e = np.exp(xw - m)
            y = e / e.sum(axis=axes, keepdims=True)
        else:
            xm = np.where(mb, xw, -np.inf)
            m = np.max(xm, axis=axes, keepdims=True)
            e = np.exp(xm - m)
            y = np.where(mb, e / e.sum(axis=axes, keepdims=True), 0)
    return _deliver(y, out, result, arr.shape)


def log_softmax(
    x: Any, axis: AxisLike = -1, *, where: Any = None, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    arr, _, result, xw, axes = _prepare(x, axis)
    mb = _prepare_mask(where, arr.shape, xw.shape)
    ck.check_out(out, arr.shape, result)
    with np.errstate(**_QUIET):
        if xw.size == 0:
            y = xw
        elif mb is None:
            d, _, sm1 = _stats(xw, axes)
            y = d - np.log1p(sm1)
        else:
            d, _, sm1 = _stats(np.where(mb, xw, -np.inf), axes)
            y = np.where(mb, d - np.log1p(sm1), -np.inf)
    return _deliver(y, out, result, arr.shape)


def logsumexp(
    x: Any, axis: AxisLike = -1, *, keepdims: bool = False, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    arr, axes, result, xw, xaxes = _prepare(x, axis)
    rshape = ck.reduced_shape(arr.shape, axes, bool(keepdims))
    ck.check_out(out, rshape, result)
    with np.errstate(**_QUIET):
        _, m, sm1 = _stats(xw, xaxes)
        y = np.where(np.isfinite(m), m + np.log1p(sm1), m)
    return _deliver(y, out, result, rshape)


# relu on the bit patterns: a float is kept (x > 0 or NaN, either sign) iff
# its bits, read as a signed integer of the same width, exceed those of -inf;
# everything else (negatives, -inf, -0.0, +0.0) becomes +0.0.  Exact by
# construction and two fast passes, unlike np.maximum (which returns -0.0
# for some dtypes and code paths) or np.where (slow on mixed signs).
_RELU_BITS = {
    2: (np.int16, -(1 << 10)),
    4: (np.int32, -(1 << 23)),
    8: (np.int64, -(1 << 52)),
}


def _relu_integer(arr: np.ndarray, out: Optional[np.ndarray]) -> Union[np.ndarray, np.generic]:
    """relu of bool/integer input, in its own dtype (as np.maximum and PyTorch)."""
    ck.check_out(out, arr.shape, arr.dtype)
    if arr.dtype.kind == "i":
        y = np.maximum(arr, arr.dtype.type(0), out=out)
    elif out is None:  # unsigned and bool values are never negative
        y = arr.copy()
    else:
        np.copyto(out, arr)
        return out
    return y if out is not None else ck.unwrap_0d(y)


def relu(x: Any, *, out: Optional[np.ndarray] = None) -> Union[np.ndarray, np.generic]:
    arr = ck.as_array(x)
    if arr.dtype.kind in "biu":
        return _relu_integer(arr, out)
    arr, work, result = ck.as_float(arr)
    ck.check_out(out, arr.shape, result)
    src = arr if arr.dtype == result else arr.astype(result)
    if out is None:
        out_ = np.empty(src.shape, result)
    else:
        out_ = out
    if result.itemsize not in _RELU_BITS or result == ck.LONGDOUBLE:
        y = np.where(src <= 0, np.zeros((), result), src)  # longdouble
        np.copyto(out_, y)
    else:
        itype, neg_inf_bits = _RELU_BITS[result.itemsize]
        bits = src.view(itype)
        keep = bits > neg_inf_bits
        np.multiply(bits, keep, out=out_.view(itype))
    return out_ if out is not None else ck.unwrap_0d(out_)


# ------------------------------------------------ leaky_relu, sigmoid and the
# backward passes: the kernels' formulas in the computing dtype (float32 and
# float64 in their own precision for the selects and slope products; sigmoid
# and sigmoid_backward in float64 for float32, as the kernels), so that the
# twin agrees with the native path bit for bit except for sigmoid's
# exponential (NumPy's, < 1 ULP) and NaN payloads.


def leaky_relu(
    x: Any, negative_slope: float = 0.01, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    s = ck.negative_slope(negative_slope)
    arr, work, result = ck.as_float(x)
    ck.check_out(out, arr.shape, result)
    xw = arr.astype(work)
    with np.errstate(**_QUIET):
        y = np.where(xw > 0, xw, xw * work.type(s))
    return _deliver(y, out, result, arr.shape)


def sigmoid(x: Any, *, out: Optional[np.ndarray] = None) -> Union[np.ndarray, np.floating]:
    arr, work, result = ck.as_float(x)
    ck.check_out(out, arr.shape, result)
    xw = arr.astype(work).astype(_compute_dtype(work))
    with np.errstate(**_QUIET):
        e = np.exp(-np.abs(xw))
        # as the kernels: 1 + e = d + dl exactly, num / (d + dl) = q (1 - dl / d)
        d = 1 + e
        dl = (1 - d) + e
        q = np.where(xw >= 0, 1, e) / d
        y = (q - q * (dl / d)).astype(work)  # float32: underflows to subnormals/0 quietly
    return _deliver(y, out, result, arr.shape)


def _prepare2(name: str, a: Any, b: Any, out: Optional[np.ndarray]):
    aa, ba, work, result = ck.as_float_pair(a, b, ck.MAP2_ARGS[name])
    ck.check_out(out, aa.shape, result)
    return aa.astype(work), ba.astype(work), work, result, aa.shape


def relu_backward(
    grad: Any, x: Any, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    g, xw, work, result, shape = _prepare2("relu_backward", grad, x, out)
    with np.errstate(**_QUIET):
        y = np.where(xw <= 0, work.type(0), g)
    return _deliver(y, out, result, shape)


def leaky_relu_backward(
    grad: Any, x: Any, negative_slope: float = 0.01, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    s = ck.negative_slope(negative_slope)
    g, xw, work, result, shape = _prepare2("leaky_relu_backward", grad, x, out)
    with np.errstate(**_QUIET):
        y = np.where(xw > 0, g, g * work.type(s))
    return _deliver(y, out, result, shape)


def sigmoid_backward(
    grad: Any, y: Any, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    g, yw, work, result, shape = _prepare2("sigmoid_backward", grad, y, out)
    cd = _compute_dtype(work)
    g, yw = g.astype(cd), yw.astype(cd)
    with np.errstate(**_QUIET):
        d = (g * (1 - yw)) * yw
    return _deliver(d.astype(work), out, result, shape)


def cross_entropy(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    out: Optional[np.ndarray] = None,
) -> Union[np.ndarray, np.floating]:
    a = ck.ce_prepare(logits, target, axis, weight, ignore_index, reduction, label_smoothing)
    ck.check_out(out, ck.loss_shape(a), a.result)
    cd = _compute_dtype(a.work)
    # the logits as the native path sees them (float16 -> float32 first)
    xw = a.x.astype(a.work).astype(cd)
    C, eps, ax = a.C, a.eps, a.axis
    wshape = [1] * xw.ndim
    wshape[ax] = C
    w = np.ones(C, cd) if a.weight is None else a.weight.astype(cd)
    wb = w.reshape(wshape)
    if a.index_target and a.target.size:
        ck.check_labels(a.target, C, a.ignore_index)
    with np.errstate(**_QUIET):
        if xw.size:
            d, _, sm1 = _stats(xw, (ax,))
            neglogp = np.log1p(sm1) - d  # -log_softmax
        else:
            neglogp = xw
        if a.index_target:
            t = a.target
            keep = t != a.ignore_index
            tc = np.where(keep, t, 0)
            picked = np.take_along_axis(neglogp, np.expand_dims(tc, ax), axis=ax).squeeze(ax)
            wt = w[tc]
            loss = (1 - eps) * wt * picked
            if eps > 0:
                loss = loss + eps / C * (wb * neglogp).sum(axis=ax)
            loss = np.where(keep, loss, 0)
            denom = np.where(keep, wt, 0).sum()
        else:
            p = a.target.astype(a.work).astype(cd)
            q = (1 - eps) * p + eps / C
            loss = (wb * q * neglogp).sum(axis=ax)
            denom = loss.size
    if a.reduction == "none":
        if out is not None:
            np.copyto(out, loss, casting="unsafe")
            return out
        return ck.unwrap_0d(np.asarray(loss).astype(a.result))
    return ck.deliver_loss(ck.finish_loss(loss.sum(), denom, a.reduction, a.result), out)


def _prepare_backward(grad: Any, y: Any, axis: AxisLike, out: Optional[np.ndarray]):
    """``(shape, result, gw, yw, axes)``: validated inputs of the two-input
    ops in the computing dtype (float16/float32 through float32, then
    float64; longdouble stays), a 0-d pair seen as shape (1,)."""
    ga, ya, work, result = ck.as_float_pair(grad, y)
    axes = ck.normalize_axes(axis, ga.ndim)
    ck.check_out(out, ga.shape, result)
    cd = _compute_dtype(work)
    gw = ga.astype(work).astype(cd)
    yw = ya.astype(work).astype(cd)
    if gw.ndim == 0:
        return ga.shape, result, gw.reshape(1), yw.reshape(1), (0,)
    return ga.shape, result, gw, yw, axes


def softmax_backward(
    grad: Any, y: Any, axis: AxisLike = -1, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    shape, result, gw, yw, axes = _prepare_backward(grad, y, axis, out)
    if gw.size == 0:  # no sums (their shape may be huge: (10**4, 10**4, 0))
        return _deliver(gw, out, result, shape)
    with np.errstate(**_QUIET):
        s = np.sum(gw * yw, axis=axes, keepdims=True)
        r = yw * (gw - s)
    return _deliver(r, out, result, shape)


def log_softmax_backward(
    grad: Any, y: Any, axis: AxisLike = -1, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    shape, result, gw, yw, axes = _prepare_backward(grad, y, axis, out)
    if gw.size == 0:
        return _deliver(gw, out, result, shape)
    with np.errstate(**_QUIET):
        s = np.sum(gw, axis=axes, keepdims=True)
        e = np.exp(yw)
        nf = ~np.isfinite(s)
        if nf.any():
            # a group summing to +-inf: exp(y) > 0 for every finite y, also
            # where it underflows, so g - e * s is -+inf there, not NaN
            e = np.where(nf & (e == 0) & (yw > -np.inf), 1, e)
        r = gw - e * s
    return _deliver(r, out, result, shape)


def cross_entropy_with_grad(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    grad_loss: Any = None,
    out: Optional[np.ndarray] = None,
) -> tuple[Union[np.ndarray, np.floating], np.ndarray]:
    a = ck.ce_prepare(logits, target, axis, weight, ignore_index, reduction, label_smoothing)
    gl = ck.check_grad_loss(grad_loss, a)
    ck.check_out(out, a.x.shape, a.result)
    if a.index_target and a.target.size:
        ck.check_labels(a.target, a.C, a.ignore_index)
    # everything is read (into new arrays) before out, which may be the
    # logits or the target, is written
    loss = cross_entropy(
        logits, target, axis=axis, weight=weight, ignore_index=ignore_index,
        reduction=reduction, label_smoothing=label_smoothing,
    )
    cd = _compute_dtype(a.work)
    xw = a.x.astype(a.work).astype(cd)
    C, eps, ax = a.C, a.eps, a.axis
    wshape = [1] * xw.ndim
    wshape[ax] = C
    w = np.ones(C, cd) if a.weight is None else a.weight.astype(cd)
    wb = w.reshape(wshape)
    gs = np.asarray(gl, dtype=cd)  # scalar or per-sample
    with np.errstate(**_QUIET):
        if xw.size:
            m = np.max(xw, axis=ax, keepdims=True)
            e = np.exp(xw - m)
            p = e / e.sum(axis=ax, keepdims=True)
        else:
            p = xw
        if a.index_target:
            t = a.target
            keep = t != a.ignore_index
            tc = np.where(keep, t, 0)
            wt = w[tc]
            if a.reduction == "mean":
                gs = gs / np.where(keep, wt, 0).sum()
            gs = np.where(keep, gs, 0)
            coef = (1 - eps) * wt + (eps * w.sum() / C if eps > 0 else 0)
            gx = np.expand_dims(gs, ax)
            grad = p * np.expand_dims(gs * coef, ax)
            if eps > 0:  # without smoothing the other classes' weights do not enter
                grad = grad - gx * (eps / C) * wb
            onehot = np.arange(C).reshape(wshape) == np.expand_dims(tc, ax)
            grad = grad - np.where(onehot, np.expand_dims(gs * (1 - eps) * wt, ax), 0)
            grad = np.where(np.expand_dims(keep, ax), grad, 0)
        else:
            if a.reduction == "mean":
                gs = gs / (xw.size // C) if xw.size else gs * np.nan
            q = (1 - eps) * a.target.astype(a.work).astype(cd) + eps / C
            wq = wb * q
            gx = np.expand_dims(gs, ax) if gs.ndim else gs
            grad = gx * (p * wq.sum(axis=ax, keepdims=True) - wq)
    if out is not None:
        np.copyto(out, grad, casting="unsafe")
        return loss, out
    return loss, np.asarray(grad).astype(a.result)


def _bce_parts(a: "ck.BCEArgs"):
    """``(cd, x, y, w, pw, e, lp)`` of binary_cross_entropy_with_logits in the
    computing dtype ``cd`` (float64, or longdouble): logits, target, weight
    and pos_weight (None when not given) converted to the logits' dtype
    first, ``e = exp(-|x|)``, ``lp = log1p(e)``."""
    cd = _compute_dtype(a.work)

    def conv(v):
        return None if v is None else np.asarray(v).astype(a.work).astype(cd)

    x, y = conv(a.x), conv(a.target)
    w, pw = conv(a.weight), conv(a.pos_weight)
    with np.errstate(**_QUIET):
        e = np.exp(-np.abs(x))
        lp = np.log1p(e)
    return cd, x, y, w, pw, e, lp


def _bce_elementwise(x, y, w, pw, lp):
    """Per-element loss ``w [a |x| + lw log1p(e)]``, ``lw = (1 - y) + pw y``
    (the kernel's form of
    PyTorch's ``w [(1 - y) x + lw softplus(-x)]``; ``a`` 0 with ``|x|`` inf
    contributes 0)."""
    with np.errstate(**_QUIET):
        if pw is None:
            lw = 1
            a = np.where(x >= 0, 1 - y, y)
        else:
            lw = (1 - y) + pw * y  # 1 + (pw - 1) y without its cancellation
            a = np.where(x >= 0, 1 - y, pw * y)
        lin = np.where(a == 0, 0, a * np.abs(x))
        loss = lin + lw * lp
        if w is not None:
            loss = loss * w
    return loss


def _bce_reduce(loss, reduction: str, result: np.dtype):
    if reduction == "none":
        return loss
    with np.errstate(**_QUIET):
        s = loss.sum(dtype=loss.dtype)
        if reduction == "mean":
            s = s / loss.size if loss.size else s * np.nan
    return result.type(s)


def binary_cross_entropy_with_logits(
    logits: Any,
    target: Any,
    *,
    weight: Any = None,
    pos_weight: Any = None,
    reduction: str = "mean",
    out: Optional[np.ndarray] = None,
) -> Union[np.ndarray, np.floating]:
    a = ck.bce_prepare(logits, target, weight, pos_weight, reduction)
    ck.check_out(out, ck.bce_loss_shape(a), a.result)
    cd, x, y, w, pw, e, lp = _bce_parts(a)
    loss = _bce_elementwise(x, y, w, pw, lp)
    if reduction == "none":
        return _deliver(loss, out, a.result, x.shape)
    return ck.deliver_loss(_bce_reduce(loss, reduction, a.result), out)


def binary_cross_entropy_with_logits_with_grad(
    logits: Any,
    target: Any,
    *,
    weight: Any = None,
    pos_weight: Any = None,
    reduction: str = "mean",
    grad_loss: Any = None,
    out: Optional[np.ndarray] = None,
) -> tuple[Union[np.ndarray, np.floating], np.ndarray]:
    a = ck.bce_prepare(logits, target, weight, pos_weight, reduction)
    gl = ck.bce_grad_loss(grad_loss, a)
    ck.check_out(out, a.x.shape, a.result)
    # everything is read (into new arrays) before out, which may be the
    # logits, is written
    cd, x, y, w, pw, e, lp = _bce_parts(a)
    loss = _bce_elementwise(x, y, w, pw, lp)
    g = np.asarray(gl).astype(a.work).astype(cd) if isinstance(gl, np.ndarray) else gl
    with np.errstate(**_QUIET):
        if reduction == "mean":
            g = g / x.size if x.size else g * np.nan
        s = np.where(x >= 0, 1, e) / (1 + e)
        if pw is None:
            d = s - y
        else:
            t = pw * y
            d = ((t + 1) - y) * s - t
        if w is not None:
            d = d * w
        grad = d * g
    if reduction == "none":
        lres = ck.unwrap_0d(np.asarray(loss).astype(a.result))
    else:
        lres = _bce_reduce(loss, reduction, a.result)
    grad = np.broadcast_to(grad, x.shape)
    if out is not None:
        np.copyto(out, grad, casting="unsafe")
        return lres, out
    return lres, ck.unwrap_0d(np.array(grad, dtype=a.result))


softmax.__doc__ = _docs.SOFTMAX
log_softmax.__doc__ = _docs.LOG_SOFTMAX
logsumexp.__doc__ = _docs.LOGSUMEXP
relu.__doc__ = _docs.RELU
cross_entropy.__doc__ = _docs.CROSS_ENTROPY
softmax_backward.__doc__ = _docs.SOFTMAX_BACKWARD
log_softmax_backward.__doc__ = _docs.LOG_SOFTMAX_BACKWARD
cross_entropy_with_grad.__doc__ = _docs.CROSS_ENTROPY_WITH_GRAD
leaky_relu.__doc__ = _docs.LEAKY_RELU
sigmoid.__doc__ = _docs.SIGMOID
relu_backward.__doc__ = _docs.RELU_BACKWARD
leaky_relu_backward.__doc__ = _docs.LEAKY_RELU_BACKWARD
sigmoid_backward.__doc__ = _docs.SIGMOID_BACKWARD
binary_cross_entropy_with_logits.__doc__ = _docs.BINARY_CROSS_ENTROPY_WITH_LOGITS
binary_cross_entropy_with_logits_with_grad.__doc__ = _docs.BINARY_CROSS_ENTROPY_WITH_LOGITS_WITH_GRAD

def _ce_block_stats(Z: np.ndarray, weight: Optional[np.ndarray], m: np.ndarray,
                    sm1: np.ndarray, gap: Optional[np.ndarray]) -> None:
    """The twin of the native ``ce_block_stats`` (linear_cross_entropy's
    vocabulary tiles; src_c/ops/ce_vocab_block.c has the rules): per row of
    Z, its max (NaN skipped), s - 1 and the smoothing gap, in float64."""
    x = Z.astype(ck.F64)
    with np.errstate(**_QUIET):
        mx = np.fmax.reduce(x, axis=1)
        _, _, s = _stats(x, (1,))  # NaN-propagating max: the same s - 1 where it is finite
        s = s[:, 0]
        has_nan = np.isnan(x).any(axis=1)
        empty = (mx == -np.inf) & ~has_nan  # no element above -inf: s = 0
        bad = ~np.isfinite(mx) & ~empty
        m[...] = mx
        sm1[...] = np.where(empty, -1.0, np.where(bad, np.nan, s))
        if gap is not None:
            w = np.ones(x.shape[1]) if weight is None else weight
            gp = ((mx[:, None] - x) * w).sum(axis=1)
            gap[...] = np.where(empty, 0.0, np.where(bad, np.nan, gp))


def _ce_block_grad(Z: np.ndarray, dZ: np.ndarray, label: np.ndarray, v0: int,
                   ignore_index: int, weight: Optional[np.ndarray], M: np.ndarray,
                   a: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> None:
    """The twin of the native ``ce_block_grad``: dZ = exp(Z - M) a - w b0,
    minus b1 more at the target's column, 0 on ignored rows, NaN on rows
    whose M is not finite; in float64, rounded once."""
    x = Z.astype(ck.F64)
    n = x.shape[1]
    w = np.ones(n) if weight is None else weight
    with np.errstate(**_QUIET):
        g = np.exp(x - M[:, None]) * a[:, None] - w * b0[:, None]
        c = label - v0
        here = np.flatnonzero((c >= 0) & (c < n) & (label != ignore_index))
        g[here, c[here]] -= b1[here]
        g[~np.isfinite(M)] = np.nan
        g[label == ignore_index] = 0.0
    np.copyto(dZ, g, casting="unsafe")


linear_cross_entropy = _lce.bind(
    _lce.Backend(cross_entropy, cross_entropy_with_grad, _ce_block_stats, _ce_block_grad),
    __name__,
)
