"""linear_cross_entropy: a classifier head's cross-entropy and its gradients
from the hidden states ``h`` and the weight ``W`` without the ``(N, V)``
logits ``h @ W``, in blocks of rows that each hold the logits of a slice of
the batch over the whole vocabulary (the row-block regime; see the
docstring in ``_docs.LINEAR_CROSS_ENTROPY`` for the semantics).

One orchestration for both paths: the native functions and the NumPy twin
pass their own ``cross_entropy`` / ``cross_entropy_with_grad``, so the twin
uses the same blocking, the same GEMMs (NumPy's matmul) and its own loss
kernels."""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, Optional

import numpy as np

from . import _docs

#: Logits per block by default: 2^23 elements (32 MiB of float32).  Each
#: block after the first adds its dW product into dW, a pass over dW's
#: memory: at N=2048, d=512, V=64000 float32 (bench/linear_ce.py) blocks of
#: 2^22 took 1.65x the three GEMMs, 2^23 1.23x (7% of the logits' memory).
DEFAULT_CHUNK = 1 << 23
#: Elements of the temporary that accumulates one block's dW product
#: (column or row slices of dW: never a dW-sized temporary).
_ACC_ELEMENTS = 1 << 20
_REDUCTIONS = ("none", "sum", "mean")


def _float_array(name: str, a: Any) -> np.ndarray:
    if isinstance(a, np.ma.MaskedArray):
        raise TypeError(f"{name}: a numpy.ma.MaskedArray (its mask would be ignored)")
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf" or arr.dtype == np.longdouble:
        raise TypeError(f"{name}: float32 or float64 (or ints/bools/float16, promoted) "
                        f"expected, got {arr.dtype}")
    return arr


def _work_dtype(*arrays: np.ndarray) -> np.dtype:
    dt = np.result_type(*arrays)
    if dt.kind in "biu":
        return np.dtype(np.float64)
    if dt == np.float16:
        return np.dtype(np.float32)
    return dt


def _chunk_rows(chunk: Any, V: int) -> int:
    if chunk is None:
        chunk = DEFAULT_CHUNK
    elif isinstance(chunk, (bool, np.bool_)):
        raise TypeError("chunk: an integer expected, got a bool")
    else:
        try:
            chunk = operator.index(chunk)
        except TypeError:
            raise TypeError(f"chunk: an integer expected, got {type(chunk).__name__}") from None
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    return max(1, chunk // max(V, 1))


def _targets(target: Any, N: int, V: int, ignore_index: Any) -> tuple[np.ndarray, int]:
    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError("ignore_index: an integer expected, got a bool")
    try:
        ignore = operator.index(ignore_index)
    except TypeError:
        raise TypeError("ignore_index: an integer expected") from None
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"target: integer class indices expected, got {t.dtype}")
    if t.shape != (N,):
        raise ValueError(f"target: shape ({N},) expected (one class index per row of h), "
                         f"got {t.shape}")
    bad = (t != ignore) & ((t < 0) | (t >= V))
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(f"target[{i}] = {int(t[i])} is outside [0, {V}) and is not "
                         f"ignore_index ({ignore})")
    return t, ignore


def bind(ce: Callable[..., Any], ce_grad: Callable[..., Any], module: str) -> Callable[..., Any]:
    """The public function of a backend (module: where it is exported)."""

    def linear_cross_entropy(
        h: Any,
        W: Any,
        target: Any,
        *,
        bias: Any = None,
        transpose_W: bool = False,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        chunk: Optional[int] = None,
        return_grad: bool = False,
        grad_loss: Any = None,
    ) -> Any:
        return _run(ce, ce_grad, h, W, target, bias=bias, transpose_W=transpose_W,
                    weight=weight, ignore_index=ignore_index, reduction=reduction,
                    label_smoothing=label_smoothing, chunk=chunk, return_grad=return_grad,
                    grad_loss=grad_loss)

    linear_cross_entropy.__module__ = module
    linear_cross_entropy.__qualname__ = "linear_cross_entropy"
    linear_cross_entropy.__doc__ = _docs.LINEAR_CROSS_ENTROPY
    return linear_cross_entropy


def _run(
    ce: Callable[..., Any],
    ce_grad: Callable[..., Any],
    h: Any,
    W: Any,
    target: Any,
    *,
    bias: Any = None,
    transpose_W: bool = False,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    chunk: Optional[int] = None,
    return_grad: bool = False,
    grad_loss: Any = None,
) -> Any:
    """The orchestration (the public docstring is _docs.LINEAR_CROSS_ENTROPY);
    ce / ce_grad: the backend's cross_entropy / cross_entropy_with_grad."""
    hh = _float_array("h", h)
    WW = _float_array("W", W)
    if hh.ndim != 2:
        raise ValueError(f"h: a 2-D array (N, d) expected, got {hh.ndim}-D")
    if WW.ndim != 2:
        raise ValueError(f"W: a 2-D array expected, got {WW.ndim}-D")
    if not isinstance(transpose_W, (bool, np.bool_)):
        raise TypeError("transpose_W: a bool expected")
    N, d = hh.shape
    V, dW_ = (WW.shape[0], WW.shape[1]) if transpose_W else (WW.shape[1], WW.shape[0])
    if dW_ != d:
        want = "(V, d)" if transpose_W else "(d, V)"
        raise ValueError(f"W: shape {want} with d = {d} (h's columns) expected, got {WW.shape}")
    bb = None
    if bias is not None:
        bb = _float_array("bias", bias)
        if bb.shape != (V,):
            raise ValueError(f"bias: shape ({V},) expected, got {bb.shape}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not isinstance(return_grad, (bool, np.bool_)):
        raise TypeError("return_grad: a bool expected")
    if grad_loss is not None and not return_grad:
        raise ValueError("grad_loss is only used with return_grad=True")
    t, ignore = _targets(target, N, V, ignore_index)
    wv = None
    if weight is not None:  # (the loss kernels check it too, but D needs it first)
        wv = _float_array("weight", weight)
        if wv.shape != (V,):
            raise ValueError(f"weight: shape ({V},) expected (one weight per class), got {wv.shape}")
    rows = _chunk_rows(chunk, V)
    dt = _work_dtype(hh, WW, *(() if bb is None else (bb,)))
    hh = hh.astype(dt, copy=False)
    WW = WW.astype(dt, copy=False)
    if bb is not None:
        bb = bb.astype(dt, copy=False)
    opts = dict(weight=weight, ignore_index=ignore, label_smoothing=label_smoothing)

    # the upstream gradient of each sample (the loss of a "mean" is the sum
    # over the samples divided by D, the forward's denominator)
    valid = t != ignore
    # the mean's denominator, once for the gradients' scale and the loss
    D = _denominator(t[valid], wv) if reduction == "mean" else 1.0
    g_rows: Any = None
    if return_grad:
        if reduction == "none":
            g = np.ones(N) if grad_loss is None else np.asarray(grad_loss, dtype=np.float64)
            if g.shape not in ((), (N,)):
                raise ValueError(f"grad_loss: a scalar or shape ({N},) expected for "
                                 f"reduction='none', got {g.shape}")
            g_rows = np.broadcast_to(g, (N,))
        else:
            g = 1.0 if grad_loss is None else np.asarray(grad_loss, dtype=np.float64)
            if np.ndim(g) != 0:
                raise ValueError(f"grad_loss: a scalar expected for reduction={reduction!r}")
            g = float(g)
            if reduction == "mean":
                with np.errstate(divide="ignore", invalid="ignore"):
                    g = float(np.float64(g) / np.float64(D))
            g_rows = g

    losses = np.empty(N, dtype=dt)
    buf = np.empty((min(rows, N), V), dtype=dt)
    dh = dWm = db = None
    if return_grad:
        dh = np.empty((N, d), dtype=dt)
        dWm = np.zeros(WW.shape, dtype=dt)
        db = np.zeros(V, dtype=np.float64) if bb is not None else None
    Wf = WW.T if transpose_W else WW           # (d, V)
    first = True
    for r0 in range(0, N, rows):
        r1 = min(N, r0 + rows)
        Z = buf[: r1 - r0]
        hb = hh[r0:r1]
        np.matmul(hb, Wf, out=Z)
        if bb is not None:
            np.add(Z, bb, out=Z)
        tb = t[r0:r1]
        if not return_grad:
            losses[r0:r1] = ce(Z, tb, reduction="none", **opts)
            continue
        gb = g_rows[r0:r1] if isinstance(g_rows, np.ndarray) else g_rows
        lb, _ = ce_grad(Z, tb, reduction="none", grad_loss=gb, out=Z, **opts)
        losses[r0:r1] = lb
        np.matmul(Z, Wf.T, out=dh[r0:r1])       # dh = dZ W^T
        if db is not None:
            db += Z.sum(axis=0, dtype=np.float64)
        _accumulate_dW(dWm, hb, Z, transpose_W, first)
        first = False
    if N == 0:  # no block ran: the backend's own empty result
        losses = np.asarray(ce(np.empty((0, V), dt), t, reduction="none", **opts), dtype=dt)
    loss = _reduce(losses, reduction, D, dt)
    if not return_grad:
        return loss
    if db is None:
        return loss, dh, dWm
    return loss, dh, dWm, db.astype(dt)


def _denominator(tv: np.ndarray, wv: Optional[np.ndarray]) -> float:
    """The mean's denominator: the weights of the non-ignored targets
    (their count without weights), summed exactly."""
    if wv is None:
        return float(tv.size)
    return math.fsum(np.asarray(wv, dtype=np.float64)[tv].tolist())


def _reduce(losses: np.ndarray, reduction: str, D: float,
            dt: np.dtype) -> Any:
    if reduction == "none":
        return losses
    vals = losses.astype(np.float64)
    s = math.fsum(vals.tolist()) if np.isfinite(vals).all() else float(vals.sum())
    if reduction == "sum":
        return dt.type(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        return dt.type(np.float64(s) / np.float64(D))


def _accumulate_dW(dW: np.ndarray, hb: np.ndarray, dZ: np.ndarray, transpose_W: bool,
                   first: bool) -> None:
    """dW += h_blk^T dZ (dW (d, V)), or dZ^T h_blk (dW (V, d)): the first
    block's product straight into dW, the others through a temporary of at
    most _ACC_ELEMENTS elements (slices of V) added in place."""
    if first:
        np.matmul(dZ.T, hb, out=dW) if transpose_W else np.matmul(hb.T, dZ, out=dW)
        return
    d = hb.shape[1]
    V = dZ.shape[1]
    step = max(1, _ACC_ELEMENTS // max(d, 1))
    tmp = np.empty(min(step, V) * d, dtype=dW.dtype)
    for v0 in range(0, V, step):
        v1 = min(V, v0 + step)
        if transpose_W:
            part = tmp[: (v1 - v0) * d].reshape(v1 - v0, d)
            np.matmul(dZ[:, v0:v1].T, hb, out=part)
            np.add(dW[v0:v1], part, out=dW[v0:v1])
        else:
            part = tmp[: (v1 - v0) * d].reshape(d, v1 - v0)
            np.matmul(hb.T, dZ[:, v0:v1], out=part)
            np.add(dW[:, v0:v1], part, out=dW[:, v0:v1])
