# Type stubs of fastact.dask (fastact/dask.py): the ops over dask arrays.
# Every function takes dask arrays or array_likes and returns lazy dask
# arrays (dask's Array carries no dtype parameter: the result dtype follows
# the in-memory function's rules, fastact/numpy_impl.pyi); the "sum"/"mean"
# losses are 0-d dask arrays.  No out= (the results are lazy).
from typing import Literal, Optional, Union, overload

from dask.array import Array
from dask.array.core import PerformanceWarning
from numpy.typing import ArrayLike

_In = Union[Array, ArrayLike]
_AxisLike = Union[int, tuple[int, ...], None]
_Reduction = Literal["none", "sum", "mean"]

__all__: list[str]

class RechunkWarning(PerformanceWarning): ...

def softmax(x: _In, axis: _AxisLike = ..., *, where: Optional[_In] = ...) -> Array: ...
def log_softmax(x: _In, axis: _AxisLike = ..., *, where: Optional[_In] = ...) -> Array: ...
def logsumexp(x: _In, axis: _AxisLike = ..., *, keepdims: bool = ...) -> Array: ...
def relu(x: _In) -> Array: ...
def leaky_relu(x: _In, negative_slope: float = ...) -> Array: ...
def sigmoid(x: _In) -> Array: ...
def relu_backward(grad: _In, x: _In) -> Array: ...
def leaky_relu_backward(grad: _In, x: _In, negative_slope: float = ...) -> Array: ...
def sigmoid_backward(grad: _In, y: _In) -> Array: ...
def softmax_backward(grad: _In, y: _In, axis: _AxisLike = ...) -> Array: ...
def log_softmax_backward(grad: _In, y: _In, axis: _AxisLike = ...) -> Array: ...
def cross_entropy(
    logits: _In,
    target: _In,
    *,
    axis: int = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    reduction: _Reduction = ...,
    label_smoothing: float = ...,
) -> Array: ...
def cross_entropy_with_grad(
    logits: _In,
    target: _In,
    *,
    axis: int = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    reduction: _Reduction = ...,
    label_smoothing: float = ...,
    grad_loss: Optional[_In] = ...,
) -> tuple[Array, Array]: ...
def binary_cross_entropy_with_logits(
    logits: _In,
    target: _In,
    *,
    weight: Optional[_In] = ...,
    pos_weight: Optional[_In] = ...,
    reduction: _Reduction = ...,
) -> Array: ...
def binary_cross_entropy_with_logits_with_grad(
    logits: _In,
    target: _In,
    *,
    weight: Optional[_In] = ...,
    pos_weight: Optional[_In] = ...,
    reduction: _Reduction = ...,
    grad_loss: Optional[_In] = ...,
) -> tuple[Array, Array]: ...
# the loss of a linear head, h @ W (+ bias), by blocks of rows of h: the
# loss alone, or (loss, dh, dW) / (loss, dh, dW, dbias) with return_grad=True
@overload
def linear_cross_entropy(
    h: _In,
    W: _In,
    target: _In,
    *,
    bias: Optional[_In] = ...,
    transpose_W: bool = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    reduction: _Reduction = ...,
    label_smoothing: float = ...,
    chunk: Optional[int] = ...,
    return_grad: Literal[False] = ...,
    grad_loss: None = ...,
    split_every: Optional[int] = ...,
) -> Array: ...
@overload
def linear_cross_entropy(
    h: _In,
    W: _In,
    target: _In,
    *,
    bias: Optional[_In] = ...,
    transpose_W: bool = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    reduction: _Reduction = ...,
    label_smoothing: float = ...,
    chunk: Optional[int] = ...,
    return_grad: Literal[True],
    grad_loss: Optional[_In] = ...,
    split_every: Optional[int] = ...,
) -> tuple[Array, ...]: ...
