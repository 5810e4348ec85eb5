# Type stubs of the package: the public functions (signatures and dtype
# overloads in numpy_impl.pyi, shared by the native path and the twin) and
# the configuration helpers.
from typing import Any

from . import numpy_impl as numpy_impl
from .numpy_impl import (
    binary_cross_entropy_with_logits as binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_with_grad as binary_cross_entropy_with_logits_with_grad,
    cross_entropy as cross_entropy,
    cross_entropy_with_grad as cross_entropy_with_grad,
    leaky_relu as leaky_relu,
    leaky_relu_backward as leaky_relu_backward,
    linear_cross_entropy as linear_cross_entropy,
    log_softmax as log_softmax,
    log_softmax_backward as log_softmax_backward,
    logsumexp as logsumexp,
    relu as relu,
    relu_backward as relu_backward,
    sigmoid as sigmoid,
    sigmoid_backward as sigmoid_backward,
    softmax as softmax,
    softmax_backward as softmax_backward,
)

__version__: str
__all__: list[str]
BACKEND: str
MAX_THREADS: int

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def show_config() -> dict[str, Any]: ...
def get_include() -> str: ...
