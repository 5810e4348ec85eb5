"""The native path: public functions that run the C kernels.

Each function first offers its arguments to a ``*_fast`` entry of the
extension, which handles the common case (an exact float32/float64 ndarray,
C-contiguous, ``axis`` an int or None, ``out`` None or a matching array) in a
few hundred nanoseconds and returns None otherwise.  The general path then
validates everything (``_checks``, shared with the NumPy twin so both raise
alike), converts (array-likes, other dtypes and layouts, non-adjacent axes)
and runs the same kernels through ``*_raw``.  Only longdouble input goes to
the NumPy twin.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import _checks as ck
from . import _docs
from . import _native as nat
from . import numpy_impl as twin

AxisLike = Union[int, tuple[int, ...], None]

_ndarray = np.ndarray
_NATIVE = (ck.F32, ck.F64)


def _deliver(dst: np.ndarray, out: Optional[np.ndarray], result: np.dtype) -> np.ndarray:
    """Return ``dst`` as the result: copied into ``out`` when that is another
    array, cast to ``result`` when computed in another dtype."""
    if out is not None:
        if dst is not out:
            np.copyto(out, dst, casting="unsafe")
        return out
    if dst.dtype != result:
        return dst.astype(result, order="C")
    return dst if dst.flags.c_contiguous else np.asarray(dst, order="C")


def _direct_out(out: Optional[np.ndarray], xw: np.ndarray, work: np.dtype, alias_ok: bool) -> bool:
    """The kernels can write ``out`` directly: the computing dtype in native
    order, C-contiguous and aligned, and no overlap with the kernel's input
    ``xw`` (being exactly ``xw`` is fine when ``alias_ok``)."""
    if out is None or out.dtype != work or not (out.flags.c_contiguous and out.flags.aligned):
        return False
    if alias_ok:
        return not ck.overlaps_partially(xw, out)
    return not np.may_share_memory(out, xw)


def _scalar_if_0d(res: np.ndarray, out: Optional[np.ndarray]) -> Union[np.ndarray, np.floating]:
    """A 0-d result without ``out`` is returned as a NumPy scalar, as ufuncs do."""
    return res[()] if out is None and res.ndim == 0 else res


def _shape_preserving(
    op: int, x: Any, axis: AxisLike, out: Optional[np.ndarray]
) -> Union[np.ndarray, np.floating]:
    """General path of softmax (op 0) and log_softmax (op 1)."""
    arr, work, result = ck.as_float(x)
    axes = ck.normalize_axes(axis, arr.ndim)
    ck.check_out(out, arr.shape, result)
    if work not in _NATIVE:
        fn = twin.softmax if op == nat.SOFTMAX else twin.log_softmax
        return fn(arr, axis, out=out)
    xw = np.asarray(arr, dtype=work, order="C")
    perm, outer, n, inner = ck.plan(xw.shape, axes)
    if perm is not None:
        xw = np.ascontiguousarray(xw.transpose(perm))
    dst = out if perm is None and _direct_out(out, xw, work, True) else np.empty(xw.shape, work)
    nat.reduce_raw(op, xw, dst, outer, n, inner)
    if perm is not None:
        dst = dst.transpose(np.argsort(perm))
    return _scalar_if_0d(_deliver(dst, out, result), out)


def softmax(
    x: Any, axis: AxisLike = -1, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    if type(x) is _ndarray:
        y = nat.reduce_fast(0, x, axis, out)
        if y is not None:
            return y
    return _shape_preserving(nat.SOFTMAX, x, axis, out)


def log_softmax(
    x: Any, axis: AxisLike = -1, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    if type(x) is _ndarray:
        y = nat.reduce_fast(1, x, axis, out)
        if y is not None:
            return y
    return _shape_preserving(nat.LOG_SOFTMAX, x, axis, out)


def logsumexp(
    x: Any, axis: AxisLike = -1, *, keepdims: bool = False, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    if type(x) is _ndarray:
        y = nat.logsumexp_fast(x, axis, keepdims, out)
        if y is not None:
            return y
    arr, work, result = ck.as_float(x)
    axes = ck.normalize_axes(axis, arr.ndim)
    rshape = ck.reduced_shape(arr.shape, axes, bool(keepdims))
    ck.check_out(out, rshape, result)
    if work not in _NATIVE:
        return twin.logsumexp(arr, axis, keepdims=keepdims, out=out)
    xw = np.asarray(arr, dtype=work, order="C")
    perm, outer, n, inner = ck.plan(xw.shape, axes)
    if perm is not None:
        xw = np.ascontiguousarray(xw.transpose(perm))
    # The kernel writes the groups in the order of the kept axes: exactly the
    # C order of the result, whatever perm was.
    dst = out if _direct_out(out, xw, work, False) else np.empty(rshape, work)
    nat.reduce_raw(nat.LOGSUMEXP, xw, dst, outer, n, inner)
    return _scalar_if_0d(_deliver(dst, out, result), out)


def relu(x: Any, *, out: Optional[np.ndarray] = None) -> Union[np.ndarray, np.generic]:
    if type(x) is _ndarray:
        y = nat.relu_fast(x, out)
        if y is not None:
            return y
    arr = ck.as_array(x)
    if arr.dtype.kind in "biu":  # kept integer dtype: the twin's np.maximum
        return twin.relu(arr, out=out)
    arr, work, result = ck.as_float(arr)
    ck.check_out(out, arr.shape, result)
    if work not in _NATIVE:
        return twin.relu(arr, out=out)
    xw = np.asarray(arr, dtype=work, order="C")
    dst = out if _direct_out(out, xw, work, True) else np.empty(xw.shape, work)
    nat.relu_raw(xw, dst)
    return _scalar_if_0d(_deliver(dst, out, result), out)


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
    if out is None and weight is None and label_smoothing == 0.0 and type(logits) is _ndarray:
        r = nat.ce_index_fast(logits, target, axis, ignore_index, reduction)
        if r is not None:
            return r
    a = ck.ce_prepare(logits, target, axis, weight, ignore_index, reduction, label_smoothing)
    ck.check_out(out, ck.loss_shape(a), a.result)
    if a.work not in _NATIVE:
        return twin.cross_entropy(
            logits, target, axis=axis, weight=weight, ignore_index=ignore_index,
            reduction=reduction, label_smoothing=label_smoothing, out=out,
        )
    xw = np.ascontiguousarray(a.x, dtype=a.work)
    shape = xw.shape
    outer = ck._prod(shape[: a.axis])
    inner = ck._prod(shape[a.axis + 1 :])
    loss = None
    if a.reduction == "none":
        # the kernel writes out directly when it can (it reads only xw and the labels)
        direct = _direct_out(out, xw, a.work, False) and not np.may_share_memory(out, a.target)
        loss = out if direct else np.empty(a.sample_shape, a.work)
    if a.index_target:
        labels = np.ascontiguousarray(a.target)
        total, denom = nat.ce_index_raw(
            xw, labels, a.weight, outer, a.C, inner, a.ignore_index, a.eps, loss, a.sample_shape
        )
    else:
        p = np.ascontiguousarray(a.target, dtype=a.work)
        total = nat.ce_prob_raw(xw, p, a.weight, outer, a.C, inner, a.eps, loss)
        denom = outer * inner
    if loss is not None:
        return _scalar_if_0d(_deliver(loss, out, a.result), out)
    return ck.deliver_loss(ck.finish_loss(total, denom, a.reduction, a.result), out)


softmax.__doc__ = _docs.SOFTMAX
log_softmax.__doc__ = _docs.LOG_SOFTMAX
logsumexp.__doc__ = _docs.LOGSUMEXP
relu.__doc__ = _docs.RELU
cross_entropy.__doc__ = _docs.CROSS_ENTROPY
