# Type stubs of the compiled module (fastact/_native.pyx): the entries
# fastact._api calls, one per op family, and the build and CPU facts.  The
# public, dtype-overloaded signatures are those of fastact/numpy_impl.pyi.
from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray

KERNELS_COMPILED: tuple[str, ...]
CPU_LEVEL: str
ISA_REQUEST: str
KERNEL_IN_USE: str
STREAM_BYTES: int
MAX_THREADS: int
THREADS_AVAILABLE: bool
SANITIZER_BUILD: bool
REDUCE_NAMES: tuple[str, ...]
MAP_NAMES: tuple[str, ...]
REDUCE2_NAMES: tuple[str, ...]
MAP2_NAMES: tuple[str, ...]
MASKED_NAMES: tuple[str, ...]
REDUCE_OPS: dict[str, int]
MAP_OPS: dict[str, int]
REDUCE2_OPS: dict[str, int]
MAP2_OPS: dict[str, int]
MASKED_OPS: dict[str, int]
# the C API's table (fastact/include/fastact_api.h): a PyCapsule named
# "fastact._native._C_API" (types.CapsuleType from Python 3.13 on)
_C_API: object

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def reduce(op: int, x: Any, axis: Any, keepdims: bool, out: Optional[NDArray[Any]]) -> Any: ...
def map(op: int, x: Any, out: Optional[NDArray[Any]], p: float = ...) -> Any: ...
def map2(op: int, g: Any, x: Any, out: Optional[NDArray[Any]], p: float = ...) -> Any: ...
def reduce2(op: int, grad: Any, y: Any, axis: Any, out: Optional[NDArray[Any]]) -> Any: ...
def masked_reduce(op: int, x: Any, where: Any, axis: Any, out: Optional[NDArray[Any]]) -> Any: ...
def cross_entropy(logits: Any, target: Any, axis: Any, weight: Any, ignore_index: Any,
                  reduction: Any, label_smoothing: Any, out: Optional[NDArray[Any]]) -> Any: ...
def cross_entropy_with_grad(logits: Any, target: Any, axis: Any, weight: Any, ignore_index: Any,
                            reduction: Any, label_smoothing: Any, grad_loss: Any,
                            out: Optional[NDArray[Any]]) -> tuple[Any, NDArray[Any]]: ...
def binary_cross_entropy_with_logits(logits: Any, target: Any, weight: Any, pos_weight: Any,
                                     reduction: Any, out: Optional[NDArray[Any]]) -> Any: ...
def binary_cross_entropy_with_logits_with_grad(logits: Any, target: Any, weight: Any, pos_weight: Any,
                                               reduction: Any, grad_loss: Any,
                                               out: Optional[NDArray[Any]]) -> tuple[Any, NDArray[Any]]: ...
def exp_nonpos_raw(d: NDArray[np.floating[Any]], y: NDArray[np.floating[Any]]) -> None: ...

# test support (tests/): kernel level switch, the passes one by one, planted bugs
def _set_kernel_level(name: str) -> str: ...
def _kernel_level() -> str: ...
def _planted_bug(kind: int, x: NDArray[np.float64]) -> int: ...
def __getattr__(name: str) -> Any: ...  # the _pass_* test entries
