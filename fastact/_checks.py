"""Argument validation and normalisation shared by the native path (``_api``)
and the NumPy twin (``numpy_impl``), so that both raise the same exceptions
with the same messages, always before any output is written."""

from __future__ import annotations

import numbers
import operator
from typing import Any, NamedTuple, Optional

import numpy as np

AxisError = np.exceptions.AxisError  # NumPy >= 1.25

F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
LONGDOUBLE = np.dtype(np.longdouble)
I64 = np.dtype(np.int64)
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min

REDUCTIONS = ("none", "sum", "mean")


def reject_masked(a: Any, name: str) -> None:
    """TypeError for a ``numpy.ma.MaskedArray``: its mask would silently be
    ignored (the masked entries counted as data)."""
    if isinstance(a, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy.ma.MaskedArray; fastact does not honour masks.  Pass "
            f"{name}.filled(v) to choose what the masked entries are (e.g. -inf for softmax "
            f"to leave them out of the group), or np.asarray({name}) to ignore the mask"
        )


# DLPack device types (dlpack.h's DLDeviceType) whose memory the CPU reads
# directly: kDLCPU, kDLCUDAHost (pinned host memory), kDLCUDAManaged,
# kDLROCMHost; NumPy's from_dlpack takes these too.
_DLPACK_CPU_DEVICES = (1, 3, 11, 13)
_DLPACK_DEVICE_NAMES = {2: "cuda", 4: "opencl", 7: "vulkan", 8: "metal", 9: "vpi", 10: "rocm",
                        12: "vulkan", 14: "oneapi", 15: "webgpu", 16: "hexagon", 17: "maia"}


def from_dlpack(x: Any, name: str = "x") -> np.ndarray:
    """An array exporting ``__dlpack__`` (a PyTorch tensor, a JAX array, a
    CuPy array, ...) as an ndarray sharing its memory (no copy), when it is
    in CPU memory.  TypeError, naming the device, for any other device, and
    for a tensor the exporter refuses to share (e.g. a PyTorch tensor that
    requires grad) or whose dtype NumPy has no equivalent of (bfloat16)."""
    device = getattr(x, "__dlpack_device__", None)
    if device is not None:
        kind, index = device()[:2]
        kind = int(kind)
        if kind not in _DLPACK_CPU_DEVICES:
            where = f"{_DLPACK_DEVICE_NAMES.get(kind, 'device type ' + str(kind))}:{int(index)}"
            raise TypeError(
                f"{name} ({type(x).__module__}.{type(x).__qualname__}) is on {where} (DLPack "
                f"device type {kind}); fastact computes on the CPU: move it there first "
                f"(e.g. tensor.cpu(), jax.device_get(x), cupy.asnumpy(x))"
            )
    try:
        return np.from_dlpack(x)
    except (BufferError, RuntimeError, TypeError, ValueError) as e:
        raise TypeError(
            f"{name} ({type(x).__module__}.{type(x).__qualname__}) cannot be read through "
            f"DLPack: {e}"
        ) from e


def as_array(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as an ndarray: an ndarray itself (never copied), a CPU array
    exporting ``__dlpack__`` as a view of its memory (``from_dlpack``),
    anything else through ``np.asarray``; TypeError for a masked array."""
    if isinstance(x, np.ndarray):
        if type(x) is not np.ndarray:
            reject_masked(x, name)
        return x
    if hasattr(type(x), "__dlpack__"):
        return from_dlpack(x, name)
    return np.asarray(x)


def kernel_array(a: Any, dtype: np.dtype) -> np.ndarray:
    """``a`` as the kernels read it: an ndarray of ``dtype`` in native byte
    order, C-contiguous and aligned (a misaligned view, e.g. from
    ``np.frombuffer`` at an odd offset, is copied); ``a`` itself when it
    already is one."""
    arr = np.asarray(a, dtype=dtype, order="C")
    if not arr.flags.aligned:
        arr = arr.copy()
    return arr


def as_float(x: Any, name: str = "x") -> tuple[np.ndarray, np.dtype, np.dtype]:
    """Return ``(arr, work, result)``: ``x`` as an ndarray (not copied when it
    already is one), the dtype to compute in and the dtype of the result.

    float32/float64/longdouble compute and return in their own precision;
    float16 computes in float32 and returns float16; bool and integers
    compute and return float64.  Anything else raises TypeError, as does a
    ``numpy.ma.MaskedArray``."""
    arr = as_array(x, name)
    dt = arr.dtype
    kind = dt.kind
    if kind == "f":
        native = np.dtype(dt.type)
        if native == F16:
            return arr, F32, F16
        return arr, native, native
    if kind in "biu":
        return arr, F64, F64
    raise TypeError(
        f"{name} must be an array of real floating, integer or bool values; got dtype {dt}"
    )


def _axis_int(axis: Any, what: str) -> int:
    """``axis`` as a Python int; TypeError for bools (as NumPy) and non-integers."""
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{what} must be an int, not a bool; got {axis!r}")
    try:
        return operator.index(axis)
    except TypeError:
        raise TypeError(f"{what}; got {type(axis).__name__}") from None


def normalize_axis(axis: Any, ndim: int, what: str = "axis must be an int") -> int:
    """``axis`` (an int, negative counting from the end) as an index in
    ``[0, ndim)``; AxisError when out of range, whatever its size (no
    OverflowError), TypeError for bools and non-integers."""
    ax = _axis_int(axis, what)
    if not -ndim <= ax < ndim:
        raise AxisError(ax, ndim)
    return ax + ndim if ax < 0 else ax


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Sorted, non-negative axes for ``axis`` = int, tuple of ints or None
    (all axes).  AxisError when out of range, ValueError when repeated,
    TypeError when not integers (bools included).

    A 0-d array has one group, its element: as NumPy's reductions, it takes
    ``axis`` = None, ``()``, 0 or -1, all meaning no axes."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is tuple:
        what = "axis entries must be ints"
        axes = tuple(normalize_axis(a, ndim, what) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"repeated axis in axis={axis!r}")
        return tuple(sorted(axes))
    what = "axis must be an int, a tuple of ints or None"
    if ndim == 0 and _axis_int(axis, what) in (0, -1):
        return ()
    return (normalize_axis(axis, ndim, what),)


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    """Shape of a reduction of ``shape`` over ``axes``."""
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """``out`` must be None or a writeable ndarray of exactly ``shape`` and
    ``dtype``: TypeError for a non-array or another dtype, ValueError for
    another shape or a read-only array."""
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray or None; got {type(out).__name__}")
    reject_masked(out, "out")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}; the result has dtype {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}; the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def plan(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[Optional[tuple[int, ...]], int, int, int]:
    """How a C-contiguous array of ``shape`` is seen by the kernels when
    reducing over ``axes``: ``(perm, outer, n, inner)``.  ``perm`` is None when
    the axes are adjacent (the array is viewed as (outer, n, inner) in place);
    otherwise the array must first be transposed to ``perm`` (kept axes, then
    reduced axes) and made contiguous, and inner is 1."""
    prod = _prod
    if not axes:
        return None, prod(shape), 1, 1
    a, b = axes[0], axes[-1]
    if b - a + 1 == len(axes):
        return None, prod(shape[:a]), prod(shape[a : b + 1]), prod(shape[b + 1 :])
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return (
        kept + axes,
        prod(shape[i] for i in kept),
        prod(shape[i] for i in axes),
        1,
    )


# ------------------------------------------- planning for the native path
# (fastact._native's general paths; the NumPy twin needs none of it)

#: Element-wise ops whose integer and bool inputs keep their dtype (computed
#: by the twin, exactly); the others compute integers in float64.
KEEPS_INTEGER_DTYPE = frozenset({"relu"})

#: Ops taking a parameter (passed to the kernels as a double): its name.
OP_PARAM = {"leaky_relu": "negative_slope", "leaky_relu_backward": "negative_slope"}

#: The two inputs' names of each two-input map (error messages).
MAP2_ARGS = {
    "relu_backward": ("grad", "x"),
    "leaky_relu_backward": ("grad", "x"),
    "sigmoid_backward": ("grad", "y"),
}


def negative_slope(value: Any) -> float:
    """leaky_relu's ``negative_slope`` as a Python float: any real number
    (Python or NumPy int or float; NaN and inf accepted, as PyTorch);
    TypeError for anything else (bools, complex, strings, arrays, None),
    ValueError for an int too large for a float."""
    if type(value) is float:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"negative_slope must be a real number; got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"negative_slope is too large for a float; got {value!r}") from None


def as_float_pair(
    a: Any, b: Any, names: tuple[str, str] = ("grad", "y")
) -> tuple[np.ndarray, np.ndarray, np.dtype, np.dtype]:
    """``(a_arr, b_arr, work, result)`` for the two inputs of the two-input
    ops (the backward maps and reductions):
    each as ``as_float`` takes it (TypeError naming it), the same shape
    (ValueError naming both shapes; no broadcasting), ``result`` the
    promotion of their result dtypes (float32 with float64: float64; float16
    with float16: float16, computed in float32; bool/integers count as
    float64; longdouble wins) and ``work`` the dtype computed in."""
    aa, _, ra = as_float(a, names[0])
    ba, _, rb = as_float(b, names[1])
    if aa.shape != ba.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape; got "
            f"{names[0]} {aa.shape} and {names[1]} {ba.shape}"
        )
    result = np.promote_types(ra, rb)
    work = F32 if result == F16 else result
    return aa, ba, work, result


def direct_out(out: Optional[np.ndarray], xw: np.ndarray, work: np.dtype, alias_ok: bool) -> bool:
    """The kernels can write ``out`` directly: the computing dtype in native
    order, C-contiguous and aligned, and no overlap with the kernel's input
    ``xw`` (being exactly ``xw`` is fine when ``alias_ok``)."""
    if out is None or out.dtype != work or not (out.flags.c_contiguous and out.flags.aligned):
        return False
    if alias_ok:
        return not overlaps_partially(xw, out)
    return not np.may_share_memory(out, xw)


def unwrap_0d(a: np.ndarray):
    """A 0-d array as a NumPy scalar (as ufuncs return them), else ``a``."""
    return a[()] if a.ndim == 0 else a


def deliver(dst: np.ndarray, out: Optional[np.ndarray], result: np.dtype):
    """The kernel's output ``dst`` as the result: copied into ``out`` when that
    is another array, cast to ``result`` when computed in another dtype; a
    0-d result without ``out`` as a NumPy scalar (as ufuncs)."""
    if out is not None:
        if dst is not out:
            np.copyto(out, dst, casting="unsafe")
        return out
    if dst.dtype != result:
        dst = dst.astype(result, order="C")
    elif not dst.flags.c_contiguous:
        dst = np.asarray(dst, order="C")
    return unwrap_0d(dst)


def _prod(values) -> int:
    p = 1
    for v in values:
        p *= v
    return p


def overlaps_partially(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``a`` and ``b`` may share memory without being the very same
    view of it (same data pointer, shape and strides)."""
    if not np.may_share_memory(a, b):
        return False
    return not (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
    )


class CEArgs(NamedTuple):
    """Validated cross_entropy arguments."""

    x: np.ndarray  # logits, any layout, dtype not yet converted
    work: np.dtype
    result: np.dtype
    axis: int
    C: int
    sample_shape: tuple[int, ...]
    index_target: bool
    target: np.ndarray  # int64 labels (index) or probabilities (unconverted)
    weight: Optional[np.ndarray]  # float64 1-D of length C, or None
    ignore_index: int
    reduction: str
    eps: float


def ce_prepare(logits, target, axis, weight, ignore_index, reduction, label_smoothing) -> CEArgs:
    """Validate every cross_entropy argument (see ``fastact.cross_entropy``)."""
    x, work, result = as_float(logits, "logits")
    if x.ndim == 0:
        raise ValueError("logits must have at least one dimension (the class axis)")
    if type(axis) is tuple or axis is None:
        raise TypeError("cross_entropy: axis must be a single int (the class axis)")
    ax = normalize_axis(axis, x.ndim)
    C = x.shape[ax]
    if C == 0:
        raise ValueError("cross_entropy needs at least one class (logits.shape[axis] == 0)")
    sample_shape = x.shape[:ax] + x.shape[ax + 1 :]

    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError):
        raise ValueError(f"label_smoothing must be a real number in [0, 1]; got {label_smoothing!r}") from None
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    try:
        ignore = operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"ignore_index must be an int; got {type(ignore_index).__name__}") from None
    if not _INT64_MIN <= ignore <= _INT64_MAX:
        raise ValueError(f"ignore_index must fit in int64; got {ignore}")

    w = None
    if weight is not None:
        wa = as_array(weight, "weight")
        if wa.dtype.kind not in "biuf":
            raise TypeError(f"weight must hold real numbers; got dtype {wa.dtype}")
        if wa.shape != (C,):
            raise ValueError(f"weight must have shape ({C},) (one per class); got {wa.shape}")
        w = wa.astype(F64)

    t = as_array(target, "target")
    tk = t.dtype.kind
    if tk in "iu":
        if t.shape != sample_shape:
            raise ValueError(
                f"class-index target must have shape {sample_shape} (logits shape without "
                f"axis {ax}); got {t.shape}"
            )
        if t.dtype == np.uint64 and t.size and t.max() > _INT64_MAX:
            check_labels(t, C, ignore)  # raises: values above int64 cannot be labels
        if t.dtype != I64:
            t = t.astype(I64)
        index = True
    elif tk == "f":
        if t.shape != x.shape:
            hint = (
                "; to pass class indices, use an integer dtype"
                if t.shape == sample_shape
                else ""
            )
            raise ValueError(
                f"probability target must have the logits' shape {x.shape}; got {t.shape}{hint}"
            )
        index = False
    else:
        raise TypeError(
            "target must be integer class indices or floating class probabilities; "
            f"got dtype {t.dtype}"
        )
    return CEArgs(x, work, result, ax, C, sample_shape, index, t, w, ignore, reduction, eps)


def check_labels(labels: np.ndarray, C: int, ignore_index: int) -> None:
    """IndexError naming the first (C order) label outside [0, C) that is not
    ``ignore_index``."""
    flat = labels.reshape(-1)
    bad = (flat >= C) if flat.dtype.kind == "u" else ((flat < 0) | (flat >= C))
    if ignore_index >= 0 or flat.dtype.kind != "u":
        bad &= flat != ignore_index
    if bad.any():
        i = int(np.argmax(bad))
        raise bad_label_error(int(flat[i]), i, labels.shape, C, ignore_index)


def bad_label_error(label: int, flat_pos: int, shape: tuple[int, ...], C: int, ignore_index: int) -> IndexError:
    pos = tuple(int(p) for p in np.unravel_index(flat_pos, shape)) if shape else ()
    return IndexError(
        f"target label {label} at position {pos} is out of range [0, {C}) "
        f"and is not ignore_index ({ignore_index})"
    )


def loss_shape(a: CEArgs) -> tuple[int, ...]:
    """Shape of cross_entropy's result: the samples' for "none", else ()."""
    return a.sample_shape if a.reduction == "none" else ()


def deliver_loss(value: np.floating, out: Optional[np.ndarray]):
    """A "sum"/"mean" loss: the scalar, or written to the 0-d ``out``."""
    if out is None:
        return value
    out[()] = value
    return out


def finish_loss(value: float, denominator: float, reduction: str, result: np.dtype):
    """``sum``/``mean`` scalar of dtype ``result`` (0/0 gives NaN, as PyTorch)."""
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return result.type(np.float64(value) / np.float64(denominator))
    return result.type(value)


def check_grad_loss_kind(ga: np.ndarray, a: CEArgs) -> bool:
    """Validate the dtype and shape of cross_entropy_with_grad's upstream
    gradient ``ga`` (an ndarray, or a stand-in of a lazy one's shape and
    dtype: fastact.dask): real values (TypeError), a scalar for "sum" /
    "mean" and a scalar or the samples' shape for "none" (ValueError).
    True when it is a scalar."""
    if ga.dtype.kind not in "biuf":
        raise TypeError(f"grad_loss must hold real numbers; got dtype {ga.dtype}")
    if a.reduction != "none" or ga.ndim == 0:
        if ga.ndim != 0:
            raise ValueError(
                f'grad_loss must be a scalar for reduction="{a.reduction}"; got shape {ga.shape}'
            )
        return True
    if ga.shape != a.sample_shape:
        raise ValueError(
            f'grad_loss must be a scalar or have the samples\' shape {a.sample_shape} for '
            f'reduction="none"; got shape {ga.shape}'
        )
    return False


def check_grad_loss(grad_loss: Any, a: CEArgs):
    """The upstream gradient of cross_entropy_with_grad: a float for "sum" /
    "mean" (None: 1.0); for "none" a float64 array of the samples' shape
    (None: ones; a scalar or 0-d array is broadcast).  TypeError for
    non-real values, ValueError for another shape."""
    if grad_loss is None:
        return 1.0
    ga = as_array(grad_loss, "grad_loss")
    if check_grad_loss_kind(ga, a):
        if a.reduction != "none":
            return float(ga)
        return np.full(a.sample_shape, float(ga), F64)
    return ga.astype(F64)


# ------------------------------------------- binary_cross_entropy_with_logits


class BCEArgs(NamedTuple):
    """Validated binary_cross_entropy_with_logits arguments (arrays not yet
    converted to the computing dtype)."""

    x: np.ndarray  # logits
    work: np.dtype
    result: np.dtype
    target: np.ndarray  # the logits' shape
    weight: Optional[np.ndarray]  # broadcastable to the logits' shape, or None
    pos_weight: Optional[np.ndarray]  # broadcastable to the logits' shape, or None
    reduction: str


def _bce_broadcastable(a: Any, name: str, shape: tuple[int, ...]) -> Optional[np.ndarray]:
    """``a`` (None, or real numbers broadcastable to ``shape`` without
    growing it) as an ndarray; TypeError / ValueError otherwise."""
    if a is None:
        return None
    arr = as_array(a, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    try:
        ok = np.broadcast_shapes(arr.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} of shape {arr.shape} does not broadcast to the logits' shape {shape}"
        )
    return arr


def bce_prepare(logits, target, weight, pos_weight, reduction) -> BCEArgs:
    """Validate every binary_cross_entropy_with_logits argument (see
    ``fastact.binary_cross_entropy_with_logits``): floating logits (TypeError
    for bool/integer/complex/object), a real target of exactly the logits'
    shape, weight and pos_weight broadcastable to it, a known reduction."""
    x = as_array(logits, "logits")
    if x.dtype.kind != "f":
        raise TypeError(
            f"logits must be an array of real floating values (float16/32/64, longdouble); "
            f"got dtype {x.dtype}"
        )
    x, work, result = as_float(x, "logits")
    t = as_array(target, "target")
    if t.dtype.kind not in "biuf":
        raise TypeError(f"target must hold real numbers; got dtype {t.dtype}")
    if t.shape != x.shape:
        raise ValueError(
            f"target must have the logits' shape {x.shape}; got {t.shape}"
        )
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    w = _bce_broadcastable(weight, "weight", x.shape)
    pw = _bce_broadcastable(pos_weight, "pos_weight", x.shape)
    return BCEArgs(x, work, result, t, w, pw, reduction)


def bce_loss_shape(a: BCEArgs) -> tuple[int, ...]:
    """Shape of the loss: the logits' for "none", else ()."""
    return a.x.shape if a.reduction == "none" else ()


def bce_grad_loss(grad_loss: Any, a: BCEArgs):
    """The upstream gradient of binary_cross_entropy_with_logits_with_grad:
    a float for "sum" / "mean" (None: 1.0); for "none" a float, or an array
    of the logits' shape (None: 1.0; a scalar or 0-d array: that float for
    every element).  TypeError for non-real values, ValueError for another
    shape."""
    if grad_loss is None:
        return 1.0
    ga = as_array(grad_loss, "grad_loss")
    if ga.dtype.kind not in "biuf":
        raise TypeError(f"grad_loss must hold real numbers; got dtype {ga.dtype}")
    if ga.ndim == 0:
        return float(ga)
    if a.reduction != "none":
        raise ValueError(
            f'grad_loss must be a scalar for reduction="{a.reduction}"; got shape {ga.shape}'
        )
    if ga.shape != a.x.shape:
        raise ValueError(
            f'grad_loss must be a scalar or have the logits\' shape {a.x.shape} for '
            f'reduction="none"; got shape {ga.shape}'
        )
    return ga


def bce_weight_view(a: Optional[np.ndarray], shape: tuple[int, ...], work: np.dtype):
    """``(arr, row, col)``: ``a`` (broadcastable to ``shape``) as a C-contiguous
    array of ``work`` read by the kernels at ``row * o + col * c`` for element
    (o, c) of the (outer, C) view of ``shape`` (C its last axis, 1 for a 0-d
    shape).  No copy beyond the dtype conversion for a scalar, the full
    shape, the last axis (C,) and per-row (..., 1) weights; any other
    broadcast is materialised at full size.  ``(None, 0, 0)`` for None."""
    if a is None:
        return None, 0, 0
    C = shape[-1] if shape else 1
    nd = len(shape)
    s = (1,) * (nd - a.ndim) + a.shape
    if a.size == 1:
        return kernel_array(a, work).reshape(1), 0, 0
    if s == shape:
        return kernel_array(a, work), C, 1
    if all(d == 1 for d in s[:-1]) and s[-1] == C:
        return kernel_array(a, work).reshape(C), 0, 1
    if s[-1] == 1 and s[:-1] == shape[:-1]:
        return kernel_array(a, work).reshape(-1), 1, 0
    return kernel_array(np.broadcast_to(a.astype(work), shape), work), C, 1
# ------------------------------------------------- where= (masked softmax)


def as_mask(where: Any, shape: tuple[int, ...]) -> np.ndarray:
    """softmax / log_softmax's ``where``: an array_like of bool dtype (True =
    keep) broadcastable to ``shape`` (NumPy rules, one way: the result has
    ``shape``).  Returned as an ndarray of its own shape (not broadcast, not
    copied when it already is one).  TypeError for another dtype (float or
    integer masks included: no silent conversion) or a masked array,
    ValueError when it does not broadcast to ``shape``."""
    m = as_array(where, "where")
    if m.dtype != np.bool_:
        raise TypeError(f"where must be an array of bool (True = keep); got dtype {m.dtype}")
    ok = m.ndim <= len(shape) and all(
        ms == 1 or ms == xs for ms, xs in zip(reversed(m.shape), reversed(shape))
    )
    if not ok:
        raise ValueError(f"where of shape {m.shape} does not broadcast to x's shape {shape}")
    return m


def mask_view(
    mask: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...], perm: Optional[tuple[int, ...]]
) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...], int]:
    """The mask as the masked kernels read it (fa_mask_view,
    src_c/include/fastact.h) for a C-contiguous x of ``shape`` reduced over
    ``axes`` (non-empty; ``perm``: ck.plan's transposition of x, or None):
    ``(m, dims, strides, sn)``, ``m`` the bytes (kept alive by the caller),
    ``dims``/``strides`` the outer dims and their byte strides (0 along
    broadcast dims), ``sn`` the stride along the reduced axis.

    The mask is not expanded to x's size: only the dims the kernels read
    contiguously are: the inner dims (a non-last axis: the axis keeps its own
    stride, 0 when broadcast), or for a last axis or several axes every dim
    from the first reduced one on.  A (T, T) causal or (B, 1, 1, T) padding
    mask of last-axis attention scores is used in place, uncopied; axis=None
    copies it to x's size."""
    nd = len(shape)
    m = mask.reshape((1,) * (nd - mask.ndim) + mask.shape)
    if perm is not None:
        m = m.transpose(perm)
        shape = tuple(shape[i] for i in perm)
        axes = tuple(range(nd - len(axes), nd))
    a, b = axes[0], axes[-1]
    # a single axis followed only by 1-sized dims is a row (inner == 1)
    columns = len(axes) == 1 and _prod(shape[b + 1 :]) > 1
    first = b + 1 if columns else a
    tshape = tuple(shape[d] if d >= first else m.shape[d] for d in range(nd))
    m = np.ascontiguousarray(np.broadcast_to(m, tshape))
    full = np.broadcast_to(m, shape)
    sn = full.strides[a] if columns else _prod(shape[b + 1 :])
    return m, tuple(shape[:a]), tuple(full.strides[:a]), sn
