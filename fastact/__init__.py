"""fastact: fast, accurate softmax, log_softmax, logsumexp, relu and
cross_entropy for NumPy arrays on CPUs.

The public functions run hand-written C kernels (GIL released) for float32
and float64; ``fastact.numpy_impl`` is their NumPy twin with the same
semantics.  Setting the environment variable ``FASTACT_BACKEND=numpy``
before import binds the public names to the twin (``fastact.BACKEND`` says
which is active).  ``FASTACT_ISA=scalar|sse2|avx2|avx512`` (also read at
import) caps the SIMD level of the kernels below the best one the CPU runs.
"""

from __future__ import annotations

import os as _os

from . import numpy_impl

__version__ = "0.1.0"
__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "relu",
    "cross_entropy",
    "show_config",
    "numpy_impl",
    "BACKEND",
    "__version__",
]

BACKEND = _os.environ.get("FASTACT_BACKEND", "native").strip().lower() or "native"
if BACKEND not in ("native", "numpy"):
    raise ImportError(f"FASTACT_BACKEND must be 'native' or 'numpy'; got {BACKEND!r}")

if BACKEND == "native":
    try:
        from ._api import cross_entropy, log_softmax, logsumexp, relu, softmax
    except ImportError as _exc:
        if "FASTACT_ISA" in str(_exc):
            raise
        raise ImportError(
            f"fastact's native extension could not be loaded ({_exc}). Build it with "
            "'pip install .' (or 'pip install -e .' in a source tree), or set "
            "FASTACT_BACKEND=numpy to use the NumPy implementation."
        ) from _exc
else:
    from .numpy_impl import cross_entropy, log_softmax, logsumexp, relu, softmax


def show_config() -> dict:
    """Print and return the build configuration: version, active backend,
    the kernel levels compiled in, the best one this CPU supports and the one
    in use (chosen once at import: the best, or ``FASTACT_ISA`` when that
    names a lower one; ``None`` when the native extension cannot be loaded)."""
    try:
        from . import _native

        compiled, in_use = list(_native.KERNELS_COMPILED), _native.KERNEL_IN_USE
        cpu = _native.CPU_LEVEL
    except ImportError as exc:  # pragma: no cover - only without a build
        compiled, in_use, cpu = [], None, None
        print(f"fastact: native extension not available: {exc}")
    import numpy

    cfg = {
        "version": __version__,
        "backend": BACKEND,
        "kernels_compiled": compiled,
        "cpu_level": cpu,
        "kernel_in_use": in_use,
        "numpy": numpy.__version__,
    }
    for k, v in cfg.items():
        print(f"{k:>17}: {v}")
    return cfg
