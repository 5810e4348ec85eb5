"""Typical calls, type-checked by mypy --strict (tests/test_typing.py and
.ci/run): the stubs give float32 arrays for float32 input, float64 for
float64, out= returns out, losses are NumPy scalars of the logits' dtype.
Not run by pytest (no test_ prefix); running it is harmless."""

from typing import Any, Union

import numpy as np
from numpy.typing import NDArray
from typing_extensions import assert_type

import fastact
import fastact.numpy_impl as twin

rng = np.random.default_rng(0)
x32: NDArray[np.float32] = rng.standard_normal((8, 10), dtype=np.float32)
x64: NDArray[np.float64] = rng.standard_normal((8, 10))
labels = np.arange(8) % 10

assert_type(fastact.softmax(x32), NDArray[np.float32])
assert_type(fastact.softmax(x64, axis=0), NDArray[np.float64])
assert_type(fastact.log_softmax(x32, axis=(0, 1)), NDArray[np.float32])
assert_type(fastact.softmax(x32, where=x32 > 0), NDArray[np.float32])
assert_type(fastact.softmax([1.0, 2.0]), NDArray[np.float64])
assert_type(fastact.softmax(np.float32(1.0)), np.float32)
assert_type(fastact.logsumexp(x32, axis=None), np.float32)
assert_type(fastact.logsumexp(x64, axis=1), Union[NDArray[np.float64], np.float64])
out = np.empty_like(x32)
assert_type(fastact.softmax(x32, out=out), NDArray[np.float32])
assert_type(fastact.relu(x32), NDArray[np.float32])
assert_type(fastact.relu(labels), NDArray[np.int64])
assert_type(fastact.leaky_relu(x64, 0.2), NDArray[np.float64])
assert_type(fastact.sigmoid(x32), NDArray[np.float32])
assert_type(fastact.softmax_backward(x32, fastact.softmax(x32)), NDArray[np.float32])
assert_type(fastact.log_softmax_backward(x64, fastact.log_softmax(x64)), NDArray[np.float64])
assert_type(fastact.relu_backward(x32, x32), NDArray[np.float32])
assert_type(fastact.sigmoid_backward(x64, fastact.sigmoid(x64)), NDArray[np.float64])
assert_type(fastact.cross_entropy(x32, labels), np.float32)
assert_type(fastact.cross_entropy(x64, labels, reduction="sum"), np.float64)
assert_type(fastact.cross_entropy(x32, labels, reduction="none"), Union[NDArray[np.float32], np.float32])
loss, dlogits = fastact.cross_entropy_with_grad(x32, labels, label_smoothing=0.1)
assert_type(loss, np.float32)
assert_type(dlogits, NDArray[np.float32])
bl, bd = fastact.binary_cross_entropy_with_logits_with_grad(x64, (x64 > 0).astype(np.float64))
assert_type(bl, np.float64)
assert_type(bd, NDArray[np.float64])
assert_type(twin.softmax(x32), NDArray[np.float32])
assert_type(fastact.get_num_threads(), int)


class Tensor:
    """Another library's array, seen only through DLPack (as a PyTorch
    tensor or a JAX array): its dtype is not known statically."""

    def __init__(self, a: NDArray[np.float32]) -> None:
        self._a = a

    def __dlpack__(self, *, stream: Any = None) -> Any:
        return self._a.__dlpack__(stream=stream)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)


t = Tensor(x32)
assert_type(fastact.softmax(t), NDArray[Any])
assert_type(fastact.sigmoid(t), NDArray[Any])
assert_type(fastact.softmax(labels), NDArray[np.float64])  # ints: float64
assert_type(fastact.cross_entropy(t, labels), Any)
assert_type(fastact.softmax_backward(t, fastact.softmax(t)), NDArray[np.floating[Any]])
fastact.set_num_threads(1)
cfg = fastact.show_config()
assert_type(fastact.get_include(), str)
# a linear head's loss (Any: a scalar or an array by reduction) and, with
# return_grad=True, a tuple of the loss and the gradients
assert_type(fastact.linear_cross_entropy(x32, x32.T, labels), Any)
assert_type(fastact.linear_cross_entropy(x32, x32.T, labels, return_grad=True), tuple[Any, ...])
