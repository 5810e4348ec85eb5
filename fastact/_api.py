"""The native path: the public functions, each one call into the op
family's entry of the extension (``fastact._native``: ``reduce``, ``map``,
``map2``, ``cross_entropy``), which handles the common case in C and plans everything
else once through ``fastact._checks`` (the rules the NumPy twin shares).
Op codes come from the registry (``src_c/ops.def``)."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import _checks as ck
from . import _docs
from . import _linear_ce as _lce
from . import _native as nat

AxisLike = Union[int, tuple[int, ...], None]

_reduce = nat.reduce
_map = nat.map
_cross_entropy = nat.cross_entropy
_cross_entropy_with_grad = nat.cross_entropy_with_grad
_SOFTMAX = nat.REDUCE_OPS["softmax"]
_LOG_SOFTMAX = nat.REDUCE_OPS["log_softmax"]
_LOGSUMEXP = nat.REDUCE_OPS["logsumexp"]
_RELU = nat.MAP_OPS["relu"]
_reduce2 = nat.reduce2
_SOFTMAX_BACKWARD = nat.REDUCE2_OPS["softmax_backward"]
_LOG_SOFTMAX_BACKWARD = nat.REDUCE2_OPS["log_softmax_backward"]
_map2 = nat.map2
_slope = ck.negative_slope
_LEAKY_RELU = nat.MAP_OPS["leaky_relu"]
_SIGMOID = nat.MAP_OPS["sigmoid"]
_RELU_BACKWARD = nat.MAP2_OPS["relu_backward"]
_LEAKY_RELU_BACKWARD = nat.MAP2_OPS["leaky_relu_backward"]
_SIGMOID_BACKWARD = nat.MAP2_OPS["sigmoid_backward"]
_bce = nat.binary_cross_entropy_with_logits
_bce_with_grad = nat.binary_cross_entropy_with_logits_with_grad
_masked = nat.masked_reduce
_SOFTMAX_MASKED = nat.MASKED_OPS["softmax"]
_LOG_SOFTMAX_MASKED = nat.MASKED_OPS["log_softmax"]


def softmax(
    x: Any, axis: AxisLike = -1, *, where: Any = None, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    if where is None:
        return _reduce(_SOFTMAX, x, axis, False, out)
    return _masked(_SOFTMAX_MASKED, x, where, axis, out)


def log_softmax(
    x: Any, axis: AxisLike = -1, *, where: Any = None, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    if where is None:
        return _reduce(_LOG_SOFTMAX, x, axis, False, out)
    return _masked(_LOG_SOFTMAX_MASKED, x, where, axis, out)


def logsumexp(
    x: Any, axis: AxisLike = -1, *, keepdims: bool = False, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    return _reduce(_LOGSUMEXP, x, axis, keepdims, out)


def relu(x: Any, *, out: Optional[np.ndarray] = None) -> Union[np.ndarray, np.generic]:
    return _map(_RELU, x, out)


def leaky_relu(
    x: Any, negative_slope: float = 0.01, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    return _map(_LEAKY_RELU, x, out, _slope(negative_slope))


def sigmoid(x: Any, *, out: Optional[np.ndarray] = None) -> Union[np.ndarray, np.floating]:
    return _map(_SIGMOID, x, out)


def relu_backward(
    grad: Any, x: Any, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    return _map2(_RELU_BACKWARD, grad, x, out)


def leaky_relu_backward(
    grad: Any, x: Any, negative_slope: float = 0.01, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    return _map2(_LEAKY_RELU_BACKWARD, grad, x, out, _slope(negative_slope))


def sigmoid_backward(
    grad: Any, y: Any, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    return _map2(_SIGMOID_BACKWARD, grad, y, out)


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
    return _cross_entropy(
        logits, target, axis, weight, ignore_index, reduction, label_smoothing, out
    )


def softmax_backward(
    grad: Any, y: Any, axis: AxisLike = -1, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    return _reduce2(_SOFTMAX_BACKWARD, grad, y, axis, out)


def log_softmax_backward(
    grad: Any, y: Any, axis: AxisLike = -1, *, out: Optional[np.ndarray] = None
) -> Union[np.ndarray, np.floating]:
    return _reduce2(_LOG_SOFTMAX_BACKWARD, grad, y, axis, out)
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
    return _cross_entropy_with_grad(
        logits, target, axis, weight, ignore_index, reduction, label_smoothing, grad_loss, out
    )



def binary_cross_entropy_with_logits(
    logits: Any,
    target: Any,
    *,
    weight: Any = None,
    pos_weight: Any = None,
    reduction: str = "mean",
    out: Optional[np.ndarray] = None,
) -> Union[np.ndarray, np.floating]:
    return _bce(logits, target, weight, pos_weight, reduction, out)


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
    return _bce_with_grad(logits, target, weight, pos_weight, reduction, grad_loss, out)


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


linear_cross_entropy = _lce.bind(
    _lce.Backend(cross_entropy, cross_entropy_with_grad, nat.ce_block_stats, nat.ce_block_grad),
    __name__,
)
