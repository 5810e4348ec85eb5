"""fastact: fast, accurate softmax, log_softmax, logsumexp, relu,
leaky_relu, sigmoid and cross_entropy for NumPy arrays on CPUs, with their
backward ops (softmax_backward, log_softmax_backward, relu_backward,
leaky_relu_backward, sigmoid_backward), the fused
cross_entropy_with_grad, and linear_cross_entropy (a classifier head's loss
and gradients without its logits array).

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
    "softmax_backward",
    "log_softmax_backward",
    "logsumexp",
    "relu",
    "cross_entropy",
    "cross_entropy_with_grad",
    "leaky_relu",
    "sigmoid",
    "relu_backward",
    "leaky_relu_backward",
    "sigmoid_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_with_grad",
    "linear_cross_entropy",
    "show_config",
    "get_include",
    "set_num_threads",
    "get_num_threads",
    "MAX_THREADS",
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
        from ._api import log_softmax_backward, softmax_backward
        from ._api import cross_entropy_with_grad
        from ._api import leaky_relu, leaky_relu_backward, relu_backward, sigmoid
        from ._api import sigmoid_backward
        from ._api import binary_cross_entropy_with_logits
        from ._api import binary_cross_entropy_with_logits_with_grad
        from ._api import linear_cross_entropy
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
    from .numpy_impl import log_softmax_backward, softmax_backward
    from .numpy_impl import cross_entropy_with_grad
    from .numpy_impl import leaky_relu, leaky_relu_backward, relu_backward, sigmoid
    from .numpy_impl import sigmoid_backward
    from .numpy_impl import binary_cross_entropy_with_logits
    from .numpy_impl import binary_cross_entropy_with_logits_with_grad
    from .numpy_impl import linear_cross_entropy


def _default_threads() -> int:
    try:
        return max(1, len(_os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, _os.cpu_count() or 1)


try:
    from . import _native as _nat
except ImportError:  # NumPy backend without a build: nothing to configure
    _nat = None
#: The most threads the native kernels use: ``set_num_threads`` rejects more.
MAX_THREADS: int = _nat.MAX_THREADS if _nat is not None else 256

if _nat is not None:
    _nat.set_num_threads(min(_default_threads(), MAX_THREADS))
    import importlib.util as _ilu

    if _ilu.find_spec("threadpoolctl") is not None:  # let it see and limit the pool
        from . import _threadpoolctl  # noqa: F401


def set_num_threads(n: int) -> None:
    """Set how many threads the native kernels may use for large arrays.

    The default is the number of cores this process may run on.  Arrays
    below 16k elements (256k for relu) always run on the calling thread;
    larger ones are split by rows across a pool of worker threads (the GIL
    is released).  After a job, idle workers poll for the next one for
    about 0.1 ms before they sleep (waking a sleeping thread costs tens of
    microseconds).  The thread count never changes results: each
    element is computed by the same code whatever the split, and sums over
    samples are formed in fixed blocks.  When several Python threads call
    fastact at once, only one call at a time uses the pool; the others run
    on their own thread, so the machine is not oversubscribed.  When
    threadpoolctl is installed, ``threadpool_limits`` controls this count
    too (user_api "fastact"; it clamps a larger limit to ``MAX_THREADS``).
    No effect on the NumPy backend.  Workers compute in the calling
    thread's floating-point control state (rounding mode, flush-to-zero,
    x87 precision).  In a build without threads (``FASTACT_NO_THREADS=1``
    at build time; ``fastact._native.THREADS_AVAILABLE`` False) every call
    runs on the calling thread and ``get_num_threads()`` is always 1 (the
    argument is still checked).

    Parameters
    ----------
    n : int
        The number of threads, in ``[1, MAX_THREADS]`` (256).

    Raises
    ------
    TypeError
        A non-integer ``n`` (bools included).
    ValueError
        An ``n`` outside ``[1, MAX_THREADS]``.

    See Also
    --------
    get_num_threads : The count in use.

    Examples
    --------
    >>> n = fa.get_num_threads()
    >>> fa.set_num_threads(1)
    >>> fa.get_num_threads()
    1
    >>> fa.set_num_threads(n)
    >>> fa.set_num_threads(0)
    Traceback (most recent call last):
        ...
    ValueError: the number of threads must be in [1, 256]; got 0
    """
    import operator

    if isinstance(n, bool):
        raise TypeError("the number of threads must be an int, not a bool")
    n = operator.index(n)
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"the number of threads must be in [1, {MAX_THREADS}]; got {n}")
    if _nat is not None:
        _nat.set_num_threads(n)


def get_num_threads() -> int:
    """Return the number of threads the native kernels may use.

    By default the number of cores this process may run on; set by
    ``set_num_threads`` (or threadpoolctl's ``threadpool_limits``).  1 when
    the native extension is not available, and in a build without threads.

    Returns
    -------
    int
        The thread count, in ``[1, MAX_THREADS]``.

    See Also
    --------
    set_num_threads : Set it.

    Examples
    --------
    >>> 1 <= fa.get_num_threads() <= fa.MAX_THREADS
    True
    """
    return _nat.get_num_threads() if _nat is not None else 1


def get_include() -> str:
    """Return the directory holding fastact's C API header, ``fastact_api.h``.

    Extensions that call fastact's kernels from compiled code (C, C++ or
    Cython, without the GIL) add it to their include path, as
    ``numpy.get_include()``: ``Extension(..., include_dirs=[fastact.get_include()])``.
    Nothing is linked: the header's ``fastact_import()`` fetches the entry
    points at run time from the capsule ``fastact._native._C_API``.  Cython
    code declares them with ``from fastact cimport capi`` (``fastact/capi.pxd``,
    shipped beside this package's modules).  The header documents every
    function, its sizes, aliasing rules, error codes and thread safety.  The
    directory exists whichever backend is active; using the API needs the
    native extension.

    Returns
    -------
    str
        The absolute path of the package's ``include`` directory.

    See Also
    --------
    show_config : The build configuration (the kernel levels the C API
        dispatches to, as the Python functions).

    Examples
    --------
    >>> import os, fastact
    >>> os.path.isfile(os.path.join(fastact.get_include(), "fastact_api.h"))
    True
    """
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "include")


def show_config() -> dict:
    """Print and return the build configuration.

    The version, the active backend, the kernel levels compiled in, the
    best one this CPU supports and the one in use (chosen once at import:
    the best, or ``FASTACT_ISA`` when that names a lower one; ``None`` when
    the native extension cannot be loaded), the thread count and NumPy's
    version.

    Returns
    -------
    dict
        The printed values, keyed ``"version"``, ``"backend"``,
        ``"kernels_compiled"``, ``"cpu_level"``, ``"kernel_in_use"``,
        ``"num_threads"`` and ``"numpy"``.

    See Also
    --------
    get_num_threads : The thread count alone.

    Examples
    --------
    >>> cfg = fa.show_config()  # doctest: +ELLIPSIS
              version: ...
              backend: ...
    >>> cfg["version"] == fa.__version__
    True
    >>> cfg["kernel_in_use"] in cfg["kernels_compiled"]
    True
    """
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
        "num_threads": get_num_threads(),
        "numpy": numpy.__version__,
    }
    for k, v in cfg.items():
        print(f"{k:>17}: {v}")
    return cfg
