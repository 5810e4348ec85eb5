"""Fuzzing fastact's argument parsing and kernels: one input = one call.

The input bytes are decoded into a call of one public function: its arrays
(dtype among the float, integer, bool, byte-swapped, complex and object
kinds; 0 to 4 dimensions, 0- and 1-sized axes, sometimes long; contiguous,
reversed, strided, transposed, Fortran-ordered, zero-stride broadcast or
misaligned; values of any magnitude with +-inf, NaN, -0.0 and subnormals
planted), its axis (ints, tuples, None, out of range, duplicated, not an
int), its keywords (masks, weights, labels out of range, reductions, label
smoothing, slopes, gradients, each sometimes of the wrong kind or shape) and
its ``out`` (right, wrong shape, wrong dtype, read-only, strided, misaligned,
an input itself, not an array), with the kernel level and the thread count.

Each call runs twice, through ``fastact`` (the native kernels) and through
``fastact.numpy_impl`` (the twin), on fresh copies, and ``check_input``
raises ``Finding`` unless

* both raise the same kind of clear exception (AxisError, TypeError,
  IndexError, ValueError; anything else, e.g. SystemError, is a finding),
  with every ``out`` and every input left exactly as they were; or
* both return results of the same structure, type, shape and dtype, ``out``
  returned where given, inputs other than ``out`` unchanged, the same
  NaN / +-inf pattern, and finite values that agree within a loose bound
  (the accuracy tests hold the tight ones; this catches wrong answers).

Crashes (and ASan / UBSan reports, when run against the sanitizer build)
end the process: libFuzzer writes the input as a ``crash-<sha1>`` file.  A
finding is kept: its file goes into ``tests/fuzz/crashes/`` and
``tests/test_fuzz_regressions.py`` replays every file there in the suite.

Run (needs ``pip install "fastact[fuzz]"``, i.e. atheris; libFuzzer's
options pass through; new inputs go into the first folder)::

    python tests/fuzz/fuzz_fastact.py CORPUS tests/fuzz/crashes -max_total_time=600 \
        -rss_limit_mb=3072 -artifact_prefix=/tmp/
    python tests/fuzz/fuzz_fastact.py --replay CORPUS tests/fuzz/crashes

``.ci/run`` fuzzes for 60 s against the release build, then replays the
corpus it grew (and the kept findings) against the ASan + UBSan build:
preloaded, ASan's runtime takes over the coverage hooks, so atheris would
get no feedback there.  The feedback is atheris's coverage of ``fastact``'s
Python layer (the checks and the twin); the Cython and C layers are
exercised but give none (no compiler here builds them with libFuzzer's
coverage instrumentation: gcc only).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, Callable

import numpy as np

ALLOWED = (TypeError, ValueError, IndexError)  # AxisError is ValueError and IndexError
MAX_ELEMENTS = 1 << 16


class Finding(AssertionError):
    """The native path and the twin disagree, or a rule of the API broke."""


class Reader:
    """Choices decoded from the input bytes; past the end every read is 0,
    so the first option of each choice is the ordinary one.  The decoding is
    part of the kept findings' meaning (tests/fuzz/crashes): change the
    order or width of the reads only together with re-deriving them."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        b = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return b

    def int(self, lo: int, hi: int) -> int:
        """An int in [lo, hi] (from one or, for wide ranges, four bytes)."""
        span = hi - lo + 1
        v = self.byte()
        if span > 256:
            for _ in range(3):
                v = (v << 8) | self.byte()
        return lo + v % span

    def pick(self, options):
        return options[self.int(0, len(options) - 1)]

    def rare(self, one_in: int) -> bool:
        return self.int(0, one_in - 1) == one_in - 1


# ---------------------------------------------------------------- arrays

DTYPES = ("float32", "float64", "float32", "float64", "float16", "longdouble", "int64",
          "int32", "uint8", "bool", ">f4", ">f8", "complex64", "object")
SPECIALS = (np.inf, -np.inf, np.nan, 0.0, -0.0, 1e30, -1e30, 1e300, -1e300, 5e-324,
            1e-40, -1e-40, 3.4e38, 88.7, -103.9, 709.8, -745.2, 1.0, -1.0)
SCALES = (1.0, 30.0, 1e-3, 1e4, 1e30, 0.0)
LAYOUTS = ("contiguous", "contiguous", "reversed", "strided", "transposed", "fortran",
           "broadcast", "misaligned")
SIDES = (1, 2, 3, 5, 8, 16, 17, 31, 64, 100, 257, 1000, 4097, 40000)


def bounded(shape) -> tuple:
    """``shape`` with its largest sides cut until it holds at most
    MAX_ELEMENTS, 0-sized sides counted as 1 (every array the harness
    makes, and the results of reducing an empty axis: a (40000, 40000, 0)
    input must not bring a 1.6e9-element mask or result)."""
    shape = list(shape)
    while int(np.prod([max(d, 1) for d in shape], dtype=np.float64)) > MAX_ELEMENTS:
        shape[int(np.argmax(shape))] //= 4
    return tuple(shape)


def shape_spec(r: Reader) -> tuple:
    ndim = r.pick((2, 1, 2, 3, 0, 4))
    return bounded(r.int(0, 6) if r.int(0, 2) else r.pick(SIDES) for _ in range(ndim))


def array_spec(r: Reader, shape: tuple, dtype: Any = None) -> dict:
    """What to build: values from a seed and a scale, specials planted."""
    return {
        "shape": bounded(shape),
        "dtype": r.pick(DTYPES) if dtype is None else dtype,
        "seed": r.int(0, 1 << 20),
        "scale": r.pick(SCALES),
        "specials": [(r.int(0, 1 << 20), r.pick(SPECIALS)) for _ in range(r.pick((0, 0, 1, 3)))],
        "layout": r.pick(LAYOUTS),
        "bcast_axis": r.int(0, 7),
    }


def _values(spec: dict, n: int) -> np.ndarray:
    rng = np.random.default_rng(spec["seed"])
    v = rng.standard_normal(n) * spec["scale"]
    if n:
        for pos, val in spec["specials"]:
            v[pos % n] = val
    return np.abs(v) if spec.get("abs") else v


def _cast(v: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype == "bool":
            return v > 0
        if dtype in ("int64", "int32", "uint8"):
            lim = np.iinfo(dtype)
            return np.clip(np.nan_to_num(v), lim.min, lim.max).astype(dtype)
        if dtype == "object":
            return v.astype(object)
        return v.astype(dtype)


def build_array(spec: dict) -> np.ndarray:
    """A fresh array of spec's shape, dtype, values and memory layout."""
    shape, dtype, layout = spec["shape"], spec["dtype"], spec["layout"]
    ndim = len(shape)
    if layout in ("reversed", "strided", "transposed", "broadcast", "fortran") and ndim == 0:
        layout = "contiguous"
    if layout == "broadcast":
        ax = spec["bcast_axis"] % ndim
        base_shape = shape[:ax] + (1,) + shape[ax + 1:]
        base = _cast(_values(spec, int(np.prod(base_shape))), dtype).reshape(base_shape)
        return np.broadcast_to(base, shape)
    if layout == "strided":
        base_shape = shape[:-1] + (2 * shape[-1],)
    elif layout == "transposed":
        base_shape = shape[::-1]
    else:
        base_shape = shape
    base = _cast(_values(spec, int(np.prod(base_shape))), dtype).reshape(base_shape)
    if layout == "reversed":
        return base[..., ::-1]
    if layout == "strided":
        return base[..., ::2]
    if layout == "transposed":
        return base.T
    if layout == "fortran":
        return np.asfortranarray(base)
    if layout == "misaligned" and base.dtype != object and base.itemsize > 1:
        buf = bytearray(base.nbytes + 1)
        view = np.frombuffer(buf, base.dtype, base.size, offset=1).reshape(shape)
        view[...] = base
        return view
    return base


def label_spec(r: Reader, shape: tuple, classes: int) -> dict:
    """Integer class indices, a few of them replaced by bad or ignored ones."""
    bad = (-100, -1, classes, classes + 1, 2**31, -(2**40), 2**62, 0, classes - 1)
    return {
        "shape": bounded(shape),
        "dtype": r.pick(("int64", "int64", "int32", "uint8", "int16", "float64", "bool", "uint64")),
        "seed": r.int(0, 1 << 20),
        "classes": max(classes, 1),
        "planted": [(r.int(0, 1 << 20), r.pick(bad)) for _ in range(r.pick((0, 0, 1, 2)))],
        "layout": r.pick(("contiguous", "contiguous", "reversed", "strided")),
    }


def build_labels(spec: dict) -> np.ndarray:
    shape = spec["shape"]
    n = int(np.prod(shape))
    v = np.random.default_rng(spec["seed"]).integers(0, spec["classes"], n, dtype=np.int64)
    if n:
        for pos, val in spec["planted"]:
            v[pos % n] = val
    dtype = spec["dtype"]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype == "bool":
            lab = v > 0
        else:
            lab = v.astype(dtype)  # wraps out-of-range values, as a user's cast would
    lab = lab.reshape(shape)
    if spec["layout"] == "reversed" and lab.ndim:
        return np.ascontiguousarray(lab[..., ::-1])[..., ::-1]
    if spec["layout"] == "strided" and lab.ndim:
        wide = np.repeat(lab, 2, axis=-1)
        return wide[..., ::2]
    return lab


# ----------------------------------------------------- options and calls

def axis_spec(r: Reader, ndim: int, allow_tuple: bool = True):
    kind = r.pick(("default", "int", "int", "tuple", "none", "bad"))
    if kind == "default":
        return "default"
    if kind == "int":
        return ("value", r.int(-ndim - 1, ndim))
    if kind == "tuple" and allow_tuple:
        return ("value", tuple(r.int(-ndim - 1, ndim) for _ in range(r.pick((1, 2, 2, 3)))))
    if kind == "none" and allow_tuple:
        return ("value", None)
    return ("value", r.pick((1.5, "0", [0], np.int64(0), True, (), (0.5,), -(2**70))))


BAD_OBJECTS = (None, "x", 1.5, [1.0, 2.0], object())


def op_spec(r: Reader) -> dict:
    """The whole call: op name, argument specs, keyword specs, out spec."""
    op = r.pick(OPS)
    shape = shape_spec(r)
    ndim = len(shape)
    spec: dict[str, Any] = {"op": op, "args": [], "kwargs": {}, "out": None}
    x = array_spec(r, shape)
    spec["args"].append(("array", x))
    second_shape = shape
    if r.rare(8):  # a second input of another shape
        second_shape = shape_spec(r)
    if op in ("softmax", "log_softmax", "logsumexp"):
        spec["axis"] = axis_spec(r, ndim)
        if op == "logsumexp":
            spec["kwargs"]["keepdims"] = ("plain", r.pick((False, True, 1, "yes", None)))
        elif r.int(0, 2) == 0:
            spec["kwargs"]["where"] = ("mask", mask_spec(r, shape))
    elif op in ("relu", "sigmoid", "leaky_relu"):
        if op == "leaky_relu" and r.int(0, 1):
            spec["kwargs"]["negative_slope"] = ("plain", r.pick(SLOPES))
    elif op in ("softmax_backward", "log_softmax_backward", "relu_backward",
                "leaky_relu_backward", "sigmoid_backward"):
        spec["args"].append(("array", array_spec(r, second_shape, x["dtype"] if r.int(0, 3) else None)))
        if op in ("softmax_backward", "log_softmax_backward"):
            spec["axis"] = axis_spec(r, ndim)
        if op == "leaky_relu_backward" and r.int(0, 1):
            spec["kwargs"]["negative_slope"] = ("plain", r.pick(SLOPES))
    elif op in ("cross_entropy", "cross_entropy_with_grad"):
        spec["axis"] = axis_spec(r, ndim, allow_tuple=False)
        ax = spec["axis"][1] if spec["axis"] != "default" else -1
        classes = shape[ax] if isinstance(ax, int) and not isinstance(ax, bool) and -ndim <= ax < ndim else 3
        sample_shape = shape[:ax % ndim] + shape[ax % ndim + 1:] if ndim and isinstance(ax, int) else shape
        kind = r.pick(("labels", "labels", "labels", "probs", "other_shape", "object"))
        if kind == "labels":
            spec["args"].append(("labels", label_spec(r, sample_shape, classes)))
        elif kind == "probs":
            spec["args"].append(("array", array_spec(r, shape, r.pick(("float32", "float64", x["dtype"])))))
        elif kind == "other_shape":
            spec["args"].append(("labels", label_spec(r, shape_spec(r), classes)))
        else:
            spec["args"].append(("plain", r.pick(BAD_OBJECTS)))
        kw = spec["kwargs"]
        if r.int(0, 2) == 0:
            wshape = r.pick(((classes,), (classes,), (classes + 1,), (1,), (), (2, classes)))
            kw["weight"] = ("array", weight_spec(r, wshape, ("float64", "float32", "int64", "complex64")))
        if r.int(0, 2) == 0:
            kw["ignore_index"] = ("plain", r.pick((-100, 0, classes - 1, -1, 2**63 - 1, 2**64, 1.5, None, True)))
        if r.int(0, 1):
            kw["reduction"] = ("plain", r.pick(REDUCTIONS))
        if r.int(0, 2) == 0:
            kw["label_smoothing"] = ("plain", r.pick((0.1, 1.0, 0.0, -0.1, 1.5, np.nan, "x", None)))
        if op == "cross_entropy_with_grad" and r.int(0, 2) == 0:
            kw["grad_loss"] = grad_loss_spec(r, sample_shape)
    else:  # binary cross-entropy
        spec["args"].append(("array", array_spec(r, second_shape, r.pick((x["dtype"], "float64", "float32", None)))))
        kw = spec["kwargs"]
        last = shape[-1:] if ndim else ()
        for name in ("weight", "pos_weight"):
            if r.int(0, 2) == 0:
                wshape = r.pick(((), last, shape, shape[:1] + (1,) * (ndim - 1), (7, 7, 7, 7, 7)))
                kw[name] = ("array", weight_spec(r, wshape, ("float64", "float32", "int64", "bool", "complex64")))
        if r.int(0, 1):
            kw["reduction"] = ("plain", r.pick(REDUCTIONS))
        if op.endswith("_with_grad") and r.int(0, 2) == 0:
            kw["grad_loss"] = grad_loss_spec(r, shape)
    spec["out"] = r.pick(OUTS)
    spec["out_dtype"] = r.pick(("float32", "float64", "float16", "int64", ">f4"))
    spec["level"] = r.int(0, 255)
    spec["threads"] = r.pick((1, 2))
    return spec


SLOPES = (0.2, -1.5, 0.0, np.nan, np.inf, 1e40, True, "x", None, np.float32(0.3), 3, 1 + 2j)
REDUCTIONS = ("none", "sum", "mean", "bad", None, "MEAN")
OUTS = (None, None, "ok", "ok", "wrong_shape", "wrong_dtype", "readonly", "strided",
        "misaligned", "fortran", "alias0", "alias1", "not_array")
OPS = ("softmax", "log_softmax", "logsumexp", "relu", "leaky_relu", "sigmoid",
       "softmax_backward", "log_softmax_backward", "relu_backward", "leaky_relu_backward",
       "sigmoid_backward", "cross_entropy", "cross_entropy_with_grad",
       "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_with_grad")


def weight_spec(r: Reader, shape: tuple, dtypes: tuple) -> dict:
    """Class / element weights: mostly non-negative (as real weights are);
    sometimes of both signs, whose sums cancel (then compare() checks only
    which results are finite: such a loss has no accurate value in float64)."""
    spec = array_spec(r, shape, r.pick(dtypes))
    # from a byte already read: a new read would shift the decoding of
    # every later choice, and the kept findings would decode differently
    spec["abs"] = spec["seed"] % 4 != 0
    return spec


def mask_spec(r: Reader, shape: tuple):
    kind = r.pick(("full", "broadcast", "trailing", "wrong", "int", "scalar"))
    ndim = len(shape)
    if kind == "full":
        mshape = shape
    elif kind == "broadcast":
        mshape = tuple(1 if r.int(0, 1) else s for s in shape)
    elif kind == "trailing":
        mshape = shape[r.int(0, ndim):] if ndim else ()
    elif kind == "wrong":
        mshape = tuple(s + 1 for s in shape) or (2,)
    elif kind == "int":
        return array_spec(r, shape, "int64")
    else:
        mshape = ()
    spec = array_spec(r, mshape, "bool")
    spec["scale"] = r.pick((1.0, 1.0, 0.0))  # 0.0: nothing kept (values 0 > 0 is False)
    return spec


def grad_loss_spec(r: Reader, sample_shape: tuple):
    kind = r.pick(("scalar", "samples", "wrong", "bad"))
    if kind == "scalar":
        return ("plain", r.pick((2.0, 0.0, -1.0, np.nan, np.inf, np.float32(0.5), 1)))
    if kind == "samples":
        return ("array", array_spec(r, sample_shape, r.pick(("float64", "float32"))))
    if kind == "wrong":
        return ("array", array_spec(r, tuple(s + 1 for s in sample_shape) or (3,), "float64"))
    return ("plain", r.pick(("x", [1.0], None, 1 + 1j)))


def _build(kind_spec):
    kind, spec = kind_spec
    if kind == "array" or kind == "mask":
        return build_array(spec)
    if kind == "labels":
        return build_labels(spec)
    return spec


def materialize(spec: dict, probe_result: Any):
    """Fresh (args, kwargs, out) for one call."""
    args = [_build(a) for a in spec["args"]]
    kwargs = {k: _build(v) for k, v in spec["kwargs"].items()}
    if spec.get("axis", "default") != "default":
        kwargs["axis"] = spec["axis"][1]
    out = None
    kind = spec["out"]
    if kind is not None:
        ref = probe_result[1] if isinstance(probe_result, tuple) else probe_result
        if isinstance(ref, (np.ndarray, np.generic)):
            shape, dtype = np.shape(ref), np.asarray(ref).dtype
        else:
            shape, dtype = np.shape(args[0]), np.dtype("float64")
        shape = bounded(shape)
        if kind == "ok":
            out = np.full(shape, 7.0, dtype)
        elif kind == "wrong_shape":
            out = np.full(bounded(s + 1 for s in shape) or (1,), 7.0, dtype)
        elif kind == "wrong_dtype":
            out = np.full(shape, 7.0, spec["out_dtype"])
        elif kind == "readonly":
            out = np.full(shape, 7.0, dtype)
            out.flags.writeable = False
        elif kind == "strided":
            out = np.full(shape[:-1] + (2 * shape[-1],), 7.0, dtype)[..., ::2] if shape else np.full((), 7.0, dtype)
        elif kind == "misaligned" and dtype != object and dtype.itemsize > 1:
            buf = bytearray(int(np.prod(shape)) * dtype.itemsize + 1)
            out = np.frombuffer(buf, dtype, int(np.prod(shape)), offset=1).reshape(shape)
            out[...] = 7.0
        elif kind == "fortran":
            out = np.asfortranarray(np.full(shape, 7.0, dtype))
        elif kind in ("alias0", "alias1"):
            i = int(kind[-1])
            if i < len(args) and isinstance(args[i], np.ndarray):
                out = args[i]
        elif kind == "not_array":
            out = [7.0] * (shape[0] if shape else 1)
    if out is not None:
        kwargs["out"] = out
    return args, kwargs, out


# ------------------------------------------------------------ the check

def _snapshot(obj):
    """A copy to compare against (object arrays: the repr of their items)."""
    if isinstance(obj, np.ndarray):
        return obj.copy() if obj.dtype != object else repr(obj.tolist()) + repr(obj.shape)
    return None


def _same_bits(a, b) -> bool:
    if isinstance(b, str):
        return a.dtype == object and repr(a.tolist()) + repr(a.shape) == b
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _family(exc: BaseException) -> str:
    if isinstance(exc, np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError):
        return "AxisError"
    for cls in ALLOWED:
        if isinstance(exc, cls):
            return cls.__name__
    return type(exc).__name__


def run_call(fn: Callable, spec: dict, probe: Any, who: str):
    """('error', family, message) or ('ok', result, out); Finding when the
    call breaks a rule (a foreign exception, a write before an error, an
    input changed)."""
    args, kwargs, out = materialize(spec, probe)
    inputs = list(args) + [v for k, v in kwargs.items() if k != "out"]
    before = [(a, _snapshot(a)) for a in inputs if isinstance(a, np.ndarray) and a is not out]
    out_before = _snapshot(out)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fn(*args, **kwargs)
    except ALLOWED as exc:
        if out_before is not None and not _same_bits(out, out_before):
            raise Finding(f"{who}: out written before {type(exc).__name__}: {exc}") from exc
        for a, snap in before:
            if not _same_bits(a, snap):
                raise Finding(f"{who}: an input changed by a call that raised {exc!r}") from exc
        return ("error", _family(exc), str(exc))
    except Exception as exc:  # anything else (SystemError, RuntimeError, ...) is a bug
        raise Finding(f"{who}: {type(exc).__name__} is not a clear argument error: {exc}") from exc
    for a, snap in before:
        if any(a is o or np.shares_memory(a, o) for o in ([out] if isinstance(out, np.ndarray) else [])):
            continue
        if not _same_bits(a, snap):
            raise Finding(f"{who}: an input changed")
    return ("ok", res, out)


TOL = {"float16": 4e-3, "float32": 2e-4, "float64": 1e-9, "longdouble": 1e-9}


def _compare_values(a, t, where: str, scale: float, loose: bool) -> None:
    a_arr, t_arr = np.asarray(a), np.asarray(t)
    if type(a) is not type(t) and not (isinstance(a, np.ndarray) and isinstance(t, np.ndarray)):
        raise Finding(f"{where}: native returns {type(a).__name__}, twin {type(t).__name__}")
    if a_arr.shape != t_arr.shape or a_arr.dtype != t_arr.dtype:
        raise Finding(f"{where}: native {a_arr.dtype}{a_arr.shape}, twin {t_arr.dtype}{t_arr.shape}")
    if a_arr.dtype.kind in "biu":
        if not np.array_equal(a_arr, t_arr):
            raise Finding(f"{where}: integer results differ")
        return
    if a_arr.dtype.kind != "f":
        raise Finding(f"{where}: result dtype {a_arr.dtype}")
    tol = TOL[a_arr.dtype.name if a_arr.dtype.name in TOL else "longdouble"]
    scale = np.asarray(scale, np.longdouble)
    if scale.ndim and scale.shape != t_arr.shape:
        scale = scale.max()
    fin = np.isfinite(t_arr)
    t64 = np.where(fin, t_arr, 0).astype(np.longdouble)
    bound = tol * (np.abs(t64) + np.abs(t64).max(initial=0) + scale) \
        + np.finfo(a_arr.dtype).tiny
    # where the allowed error exceeds the dtype's range (float16 results of
    # inputs beyond it; inf times a sum that cancels, whose sign or zero the
    # twin's plain sum may get wrong), any overflow or NaN is within it
    care = ~(bound > np.finfo(a_arr.dtype).max)
    for test in (np.isfinite,) if loose else (np.isnan, np.isposinf, np.isneginf):
        differ = (test(a_arr) != test(t_arr)) & care
        if differ.any():
            bad = tuple(np.argwhere(differ)[0])
            raise Finding(f"{where}: {test.__name__} differs at {bad}: "
                          f"native {a_arr[bad]!r}, twin {t_arr[bad]!r}")
    if loose:
        return
    both = fin & np.isfinite(a_arr)
    err = np.abs(np.where(both, a_arr, 0).astype(np.longdouble) - np.where(both, t64, 0))
    if (err > bound).any():
        i = np.unravel_index(int(np.argmax(err - bound)), err.shape) if err.ndim else ()
        raise Finding(f"{where}: values differ: native {a_arr[i]!r}, twin {t_arr[i]!r} "
                      f"(bound {bound[i]!r})")


def _max_finite(a) -> float:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = np.abs(np.asarray(a, dtype=np.float64))
    except (TypeError, ValueError):
        return 0.0
    v = v[np.isfinite(v)]
    return float(v.max()) if v.size else 0.0


def _input_scale(spec: dict, args: list, kwargs: dict):
    """What the results' rounding errors are relative to (rounding in sums
    that cancel: the comparison is loose against it, not against the
    result).  The backward ops: their per-element error scales, formed by
    the twin on absolute values (log_softmax_backward |g| + exp(y) sum|g|,
    softmax_backward |y| (|g| + sum|g y|)); otherwise the product of
    1 + the largest finite magnitude of each input, weight and upstream
    gradient (the terms of BCE and cross-entropy multiply them; a sum of
    such terms that cancels keeps an error relative to them)."""
    op = spec["op"]
    if op in ("softmax_backward", "log_softmax_backward") and len(args) == 2:
        import fastact.numpy_impl as twin
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g = np.abs(np.asarray(args[0], dtype=np.float64))
                y = np.asarray(args[1], dtype=np.float64)
                axis = kwargs.get("axis", -1)
                if op == "log_softmax_backward":
                    sc = 2 * g - twin.log_softmax_backward(g, y, axis)
                else:
                    sc = -twin.softmax_backward(g, -np.abs(y), axis)
            return np.where(np.isnan(sc), 0, sc) + 1.0  # inf: undetermined there
        except Exception:
            pass
    s = 1.0  # products of inputs (x * y in BCE, p * x in cross-entropy) may cancel
    for a in args:
        s *= 1.0 + _max_finite(a)
    for k in ("weight", "pos_weight", "grad_loss"):
        s *= 1.0 + _max_finite(kwargs.get(k))
    return s  # inf: the products may overflow, nothing is determined


def compare(nat, tw, spec: dict, loose: bool, scale) -> None:
    """``loose``: only which results are finite must agree (cross-entropy
    with non-finite probabilities, weights or grad_loss: documented as NaN
    or +-inf; losses weighted with both signs: cancelling sums)."""
    if nat[0] != tw[0]:
        detail = nat[2] if nat[0] == "error" else tw[2]
        raise Finding(f"native {nat[0]}, twin {tw[0]} ({detail})")
    if nat[0] == "error":
        if nat[1] != tw[1]:
            raise Finding(f"native raises {nat[1]} ({nat[2]}), twin {tw[1]} ({tw[2]})")
        return
    a, t = nat[1], tw[1]
    if isinstance(a, tuple) != isinstance(t, tuple) or (isinstance(a, tuple) and len(a) != len(t)):
        raise Finding("result structures differ")
    pairs = list(zip(a, t)) if isinstance(a, tuple) else [(a, t)]
    for i, (ai, ti) in enumerate(pairs):
        _compare_values(ai, ti, f"result[{i}]", scale, loose)
    if spec["out"] is not None and nat[2] is not None:
        ret = pairs[-1][0] if isinstance(a, tuple) else a
        for who, res, out in (("native", ret, nat[2]), ("twin", pairs[-1][1] if isinstance(t, tuple) else t, tw[2])):
            if res is not out:
                raise Finding(f"{who}: out given but not returned")


def _modules():
    import fastact
    import fastact.numpy_impl as twin
    return fastact, twin


def check_input(data: bytes) -> None:
    """Decode one input, run it natively and through the twin, compare."""
    fastact, twin = _modules()
    spec = op_spec(Reader(data))
    native_fn, twin_fn = getattr(fastact, spec["op"]), getattr(twin, spec["op"])
    if fastact.BACKEND == "native":
        from fastact import _native
        levels = _native.KERNELS_COMPILED[: _native.KERNELS_COMPILED.index(_native.CPU_LEVEL) + 1]
        _native._set_kernel_level(levels[spec["level"] % len(levels)])
    fastact.set_num_threads(spec["threads"])
    probe_args, probe_kwargs, _ = materialize(dict(spec, out=None), None)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe = twin_fn(*probe_args, **probe_kwargs)
    except Exception:
        probe = None
    # (probabilities are converted to the logits' computing dtype: 1e300 is
    # inf for float32 logits)
    x0 = probe_args[0] if probe_args else None
    work = np.float32 if isinstance(x0, np.ndarray) and x0.dtype in (np.float16, np.float32) \
        else np.float64
    loose = spec["op"].startswith("cross_entropy") and any(
        _nonfinite_float(a, work) for a in probe_args[1:] + [probe_kwargs.get("weight")])
    loose = loose or any(_negative(probe_kwargs.get(k)) for k in ("weight", "pos_weight"))
    # binary cross-entropy with an infinite weight: inf, or NaN where the
    # element's loss underflows to 0 (which the native exponential and the
    # twin's may round differently: documented)
    loose = loose or (spec["op"].startswith("binary_cross_entropy") and any(
        _nonfinite_float(probe_kwargs.get(k), work) for k in ("weight", "pos_weight")))
    # cross-entropy gradients of a non-finite grad_loss: NaN or +-inf (documented)
    gl = probe_kwargs.get("grad_loss")
    loose = loose or (spec["op"] == "cross_entropy_with_grad" and _nonfinite_number(gl))
    tw = run_call(twin_fn, spec, probe, "twin")
    nat = run_call(native_fn, spec, probe, "native")
    compare(nat, tw, spec, loose, _input_scale(spec, probe_args, probe_kwargs))


def _nonfinite_number(a) -> bool:
    """``a`` holds numbers, some of them not finite."""
    try:
        return not np.isfinite(np.asarray(a, dtype=np.complex128)).all()
    except (TypeError, ValueError):
        return False


def _negative(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind in "fi" and bool((a < 0).any())


def _nonfinite_float(a, work=np.float64) -> bool:
    with np.errstate(all="ignore"):
        return (isinstance(a, np.ndarray) and a.dtype.kind == "f"
                and not np.isfinite(a.astype(work)).all())


def replay(paths: list[str]) -> int:
    """Run every input file under ``paths`` (files or folders) once through
    check_input, without atheris: how the corpus the fuzzer grew is checked
    against the sanitizer build (whose ASan runtime, preloaded, takes over
    the coverage hooks atheris needs, so the fuzzing itself runs against the
    release build).  Returns the number of inputs run; raises on a finding,
    naming the file."""
    import pathlib

    files = []
    for p in map(pathlib.Path, paths):
        files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix != ".md")
                     if p.is_dir() else [p])
    for f in files:
        try:
            check_input(f.read_bytes())
        except Finding as exc:
            raise Finding(f"{f}: {exc}") from exc
    return len(files)


def main(argv: list[str]) -> None:
    if len(argv) > 1 and argv[1] == "--replay":
        print(f"replayed {replay(argv[2:])} inputs: no finding")
        return
    import atheris

    with atheris.instrument_imports(include=["fastact"]):
        import fastact  # noqa: F401
        import fastact.numpy_impl  # noqa: F401

    def one_input(data: bytes) -> None:
        check_input(data)

    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
