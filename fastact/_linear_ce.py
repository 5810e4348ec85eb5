"""linear_cross_entropy: a classifier head's cross-entropy and its gradients
from the hidden states ``h`` and the weight ``W`` without the ``(N, V)``
logits ``h @ W`` (see the docstring in ``_docs.LINEAR_CROSS_ENTROPY`` for
the semantics).  Two regimes, chosen by ``_plan``:

* row blocks: a slice of the batch over the whole vocabulary per block; the
  backend's ``cross_entropy_with_grad`` turns it into the slice's losses
  and dZ in place (three GEMMs with the gradients);
* vocabulary blocks (tiles of rows x classes): the backend's block passes
  reduce each row of a tile to its max, sum of exponentials and smoothing
  gap, merged across the tiles of a row in double-double (online
  logsumexp); with the gradients a second sweep recomputes each tile and
  turns it into dZ (four GEMMs).

One orchestration for both paths: the native functions and the NumPy twin
pass their own loss functions and block passes (a ``Backend``), so the twin
uses the same blocking and the same GEMMs (NumPy's matmul)."""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from . import _checks as ck
from . import _docs

#: Logits per block by default: 2^23 elements (32 MiB of float32).  Each
#: block after the first adds its dW product into dW, a pass over dW's
#: memory: at N=2048, d=512, V=64000 float32 (bench/linear_ce.py) blocks of
#: 2^22 took 1.65x the three GEMMs, 2^23 1.23x (7% of the logits' memory).
DEFAULT_CHUNK = 1 << 23
#: Elements of the temporary that accumulates one block's dW product
#: (column or row slices of dW: never a dW-sized temporary).
_ACC_ELEMENTS = 1 << 20
#: Fewest rows of the whole vocabulary per block for the row-block regime
#: with the gradients (when the batch has more): each row block reads W
#: twice and adds into dW, so short blocks are bound by memory.  At N=2048,
#: d=512, V=64000 float32, 2 threads (AVX2-only EPYC, alternating runs),
#: vocabulary tiles took 0.73x the row blocks' time at 65 rows a block,
#: 0.82x at 131, 1.09x at 262.
MIN_GRAD_ROWS = 256
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


def _chunk(chunk: Any) -> int:
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
    return int(chunk)


def _plan(N: int, V: int, chunk: int, return_grad: bool) -> tuple[int, int]:
    """``(rows, cols)`` of a block.  Tiles of about sqrt(chunk) x sqrt(chunk)
    (all N rows when fewer) read the least memory: a tile reads its block of
    W once per tile row and its rows of h once per tile column.  Row blocks
    (``cols == V``, as many rows as fit) when such tiles would span the
    whole vocabulary anyway, and with the gradients (whose tiles cost a
    fourth GEMM) when at least min(N, MIN_GRAD_ROWS) rows fit.  The loss
    alone in tiles took 0.73-0.94x the time of row blocks (bench/linear_ce.py
    sizes, chunks 2^22-2^24)."""
    full = chunk // max(V, 1)
    rows = max(1, min(N, math.isqrt(chunk)))
    cols = max(1, min(V, chunk // rows))
    if cols == V or (return_grad and full >= min(N, MIN_GRAD_ROWS)):
        return max(1, min(N, full)), V
    return rows, cols


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
    check_targets(t, V, ignore)
    return t, ignore


def check_targets(t: np.ndarray, V: int, ignore: int, start: int = 0) -> None:
    """IndexError for the first class index of ``t`` outside [0, V) that is
    not ``ignore``, named by its position in the whole target (``t`` its
    rows from ``start`` on: fastact.dask checks it block by block)."""
    bad = (t != ignore) & ((t < 0) | (t >= V))
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(f"target[{start + i}] = {int(t[i])} is outside [0, {V}) and is not "
                         f"ignore_index ({ignore})")


class Backend(NamedTuple):
    """A path's loss functions and vocabulary-block passes."""

    #: cross_entropy(Z, t, reduction="none", weight=, ignore_index=, label_smoothing=)
    ce: Callable[..., Any]
    #: cross_entropy_with_grad(Z, t, reduction="none", grad_loss=, out=Z, ...)
    ce_grad: Callable[..., Any]
    #: block_stats(Z, w, m, sm1, gap): per row of the tile Z (rows, n), its
    #: max, sum(exp(Z - max)) - 1 and (gap not None) sum(w (max - Z)), into
    #: float64 (rows,) arrays (src_c/ops/ce_vocab_block.c has the rules)
    block_stats: Callable[..., Any]
    #: block_grad(Z, dZ, label, v0, ignore_index, w, M, a, b0, b1): dZ = the
    #: tile's gradient (may be Z) from each row's global max and coefficients
    block_grad: Callable[..., Any]


def bind(backend: Backend, module: str) -> Callable[..., Any]:
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
        return _run(backend, h, W, target, bias=bias, transpose_W=transpose_W,
                    weight=weight, ignore_index=ignore_index, reduction=reduction,
                    label_smoothing=label_smoothing, chunk=chunk, return_grad=return_grad,
                    grad_loss=grad_loss)

    linear_cross_entropy.__module__ = module
    linear_cross_entropy.__qualname__ = "linear_cross_entropy"
    linear_cross_entropy.__doc__ = _docs.LINEAR_CROSS_ENTROPY
    return linear_cross_entropy


class _Head(NamedTuple):
    """The validated problem, in the working dtype."""

    h: np.ndarray          # (N, d)
    Wf: np.ndarray         # (d, V): W, or the transpose of a (V, d) W (a view)
    bias: Optional[np.ndarray]
    t: np.ndarray          # (N,) int64 labels
    ignore: int
    w: Optional[np.ndarray]  # (V,) float64 class weights, or None
    eps: float
    dt: np.dtype
    transposed: bool       # W (and dW) given as (V, d)


def _run(
    backend: Backend,
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
    """The orchestration (the public docstring is _docs.LINEAR_CROSS_ENTROPY)."""
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
    if weight is not None:
        wv = _float_array("weight", weight)
        if wv.shape != (V,):
            raise ValueError(f"weight: shape ({V},) expected (one weight per class), got {wv.shape}")
    chunk_ = _chunk(chunk)
    dt = _work_dtype(hh, WW, *(() if bb is None else (bb,)))
    # the remaining cross_entropy arguments (label_smoothing, ignore_index's
    # range, the weights' values) checked by its own rules, on a stand-in of
    # the logits' shape that holds no memory
    a = ck.ce_prepare(np.broadcast_to(np.zeros((), dt), (N, V)), t, -1, weight, ignore,
                      reduction, label_smoothing)
    hh = hh.astype(dt, copy=False)
    WW = WW.astype(dt, copy=False)
    if bb is not None:
        bb = bb.astype(dt, copy=False)
    head = _Head(hh, WW.T if transpose_W else WW, bb, np.ascontiguousarray(a.target), ignore,
                 a.weight, a.eps, dt, bool(transpose_W))

    # the upstream gradient of each sample (the loss of a "mean" is the sum
    # over the samples divided by D, the forward's denominator)
    valid = head.t != ignore
    # the mean's denominator, once for the gradients' scale and the loss
    D = _denominator(head.t[valid], head.w) if reduction == "mean" else 1.0
    g_rows: Any = None
    if return_grad:
        g_rows = _upstream(grad_loss, reduction, N, D)

    rows, cols = _plan(N, V, chunk_, return_grad)
    losses = np.empty(N, dtype=dt)
    grads = None
    if return_grad:
        grads = (np.empty((N, d), dtype=dt), np.zeros(WW.shape, dtype=dt),
                 np.zeros(V, dtype=np.float64) if bb is not None else None)
    if N == 0:  # no block runs: the backend's own empty result
        losses = np.asarray(backend.ce(np.empty((0, V), dt), head.t, reduction="none",
                                       weight=weight, ignore_index=ignore,
                                       label_smoothing=head.eps), dtype=dt)
    elif cols == V:
        _row_blocks(backend, head, rows, weight, losses, g_rows, grads)
    else:
        _vocab_tiles(backend, head, rows, cols, losses, g_rows, grads)
    loss = _reduce(losses, reduction, D, dt)
    if grads is None:
        return loss
    dh, dWm, db = grads
    if db is None:
        return loss, dh, dWm
    return loss, dh, dWm, db.astype(dt)


def _upstream(grad_loss: Any, reduction: str, N: int, D: float) -> Any:
    """Each sample's upstream gradient: a float, or a (N,) float64 array."""
    if reduction == "none":
        g = np.ones(N) if grad_loss is None else np.asarray(grad_loss, dtype=np.float64)
        if g.shape not in ((), (N,)):
            raise ValueError(f"grad_loss: a scalar or shape ({N},) expected for "
                             f"reduction='none', got {g.shape}")
        return np.broadcast_to(g, (N,))
    g = 1.0 if grad_loss is None else np.asarray(grad_loss, dtype=np.float64)
    if np.ndim(g) != 0:
        raise ValueError(f"grad_loss: a scalar expected for reduction={reduction!r}")
    g = float(g)
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            g = float(np.float64(g) / np.float64(D))
    return g


def _row_blocks(backend: Backend, head: _Head, rows: int, weight: Any, losses: np.ndarray,
                g_rows: Any, grads: Any) -> None:
    """Blocks of ``rows`` samples over the whole vocabulary: the backend's
    cross_entropy(_with_grad) on each; with the gradients dZ (in place of
    the block's logits) goes into dh, dW and dbias."""
    N = head.h.shape[0]
    V = head.Wf.shape[1]
    opts = dict(weight=weight, ignore_index=head.ignore, label_smoothing=head.eps)
    buf = np.empty((min(rows, N), V), dtype=head.dt)
    for r0 in range(0, N, rows):
        r1 = min(N, r0 + rows)
        Z = buf[: r1 - r0]
        hb = head.h[r0:r1]
        _logits(head, hb, 0, V, Z)
        tb = head.t[r0:r1]
        if grads is None:
            losses[r0:r1] = backend.ce(Z, tb, reduction="none", **opts)
            continue
        gb = g_rows[r0:r1] if isinstance(g_rows, np.ndarray) else g_rows
        lb, _ = backend.ce_grad(Z, tb, reduction="none", grad_loss=gb, out=Z, **opts)
        losses[r0:r1] = lb
        _backward_tile(head, grads, hb, r0, r1, 0, V, Z, first_row=r0 == 0, first_col=True)


def _vocab_tiles(backend: Backend, head: _Head, rows: int, cols: int, losses: np.ndarray,
                 g_rows: Any, grads: Any) -> None:
    """Tiles of ``rows`` samples x ``cols`` classes.  Per slice of rows: a
    sweep over the vocabulary merges each tile's row statistics (the
    backend's block_stats) into the rows' running max, s - 1 and smoothing
    gap and picks the target logits, which gives the losses; with the
    gradients a second sweep recomputes each tile, turns it into dZ in place
    (block_grad) and adds its products into dh, dW and dbias."""
    N = head.h.shape[0]
    V = head.Wf.shape[1]
    w, eps = head.w, head.eps
    spans = [(v0, min(V, v0 + cols)) for v0 in range(0, V, cols)]
    # each tile's class weights and their sum, and the whole vocabulary's
    wl = None if w is None else w.tolist()
    w_tiles = [None if w is None else w[v0:v1] for v0, v1 in spans]
    wsum_tiles = [float(v1 - v0) if wl is None else math.fsum(wl[v0:v1]) for v0, v1 in spans]
    W_all = float(V) if wl is None else math.fsum(wl)
    buf = np.empty(min(rows, N) * min(cols, V), dtype=head.dt)
    for r0 in range(0, N, rows):
        r1 = min(N, r0 + rows)
        R = r1 - r0
        hb, tb = head.h[r0:r1], head.t[r0:r1]
        valid = tb != head.ignore
        lse = _OnlineLSE(R, eps > 0.0)
        xt = np.zeros(R)
        for (v0, v1), wt_, ws in zip(spans, w_tiles, wsum_tiles):
            Z = buf[: R * (v1 - v0)].reshape(R, v1 - v0)
            _logits(head, hb, v0, v1, Z)
            lse.add(backend, Z, wt_, ws)
            here = np.flatnonzero(valid & (tb >= v0) & (tb < v1))
            xt[here] = Z[here, tb[here] - v0]
        M, S, Sl, G = lse.M, lse.S, lse.Sl, lse.gap
        wt = np.ones(R) if w is None else w[np.where(valid, tb, 0)]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # log(s) = log1p(S + Sl), Sl below S's last bit
            L = np.log1p(S) + Sl / (1.0 + S)
            loss = (1.0 - eps) * wt * ((M - xt) + L)
            if eps > 0.0:
                loss += eps / V * (G + W_all * L)
        losses[r0:r1] = np.where(valid, loss, 0.0)
        if grads is None:
            continue
        g = g_rows[r0:r1] if isinstance(g_rows, np.ndarray) else np.full(R, g_rows)
        g = np.where(valid, g, 0.0)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            coef = (1.0 - eps) * wt + (eps * W_all / V if eps > 0.0 else 0.0)
            a = g * coef / ((1.0 + S) + Sl)
        b0 = g * (eps / V) if eps > 0.0 else np.zeros(R)
        b1 = g * (1.0 - eps) * wt
        for (v0, v1), wt_ in zip(spans, w_tiles):
            Z = buf[: R * (v1 - v0)].reshape(R, v1 - v0)
            _logits(head, hb, v0, v1, Z)
            backend.block_grad(Z, Z, tb, v0, head.ignore, wt_, M, a, b0, b1)
            _backward_tile(head, grads, hb, r0, r1, v0, v1, Z, first_row=r0 == 0,
                           first_col=v0 == 0)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s + e == a + b exactly (Knuth), elementwise."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p + e == a * b exactly (Dekker's splitting; |a|, |b| < 2^996)."""
    p = a * b
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _renorm(h: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h + low, the part below its last bit); 0 for a non-finite sum."""
    s, e = _two_sum(h, low)
    return s, np.where(np.isfinite(s), e, 0.0)


def _scaled_diff(w: float, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w (a - b) as a double-double (a >= b; 0 where a == b, infinities
    included: no probability moved)."""
    dh, dl = _two_sum(a, -b)
    p, pl = _two_prod(np.full(a.shape, w), dh)
    same = a == b
    return np.where(same, 0.0, p), np.where(same | ~np.isfinite(p), 0.0, pl + w * dl)


class _OnlineLSE:
    """The rows' running logsumexp over tiles of the vocabulary: max M,
    s - 1 = S + Sl in double-double relative to M, and with smoothing the
    gap G = sum_c w_c (M - x_c).  Merging a tile whose rows have max m and
    sm1 = s_b - 1: with E = exp(min(M, m) - max(M, m)),
        s - 1 = (the larger-max side's s - 1) + E (1 + the other's s - 1),
    with the difference of the maxima exact (TwoSum) and the products and
    sums in double-double: every term is non-negative, so the merged s - 1
    keeps ~2^-100 relative error per merge beyond the tiles' own and the
    loss's (M - x_t) + log1p(s - 1) stays within the tiles' accuracy.
    G gains gap_b + W_b (M' - m) and the earlier tiles' W (M' - M), also
    non-negative (compensated)."""

    def __init__(self, R: int, smoothing: bool) -> None:
        self.R = R
        self.smoothing = smoothing
        self.M: Any = None
        self.S = self.Sl = self.G = self.Gl = np.zeros(R)
        self.W = 0.0

    def add(self, backend: Backend, Z: np.ndarray, w: Optional[np.ndarray], wsum: float) -> None:
        R = self.R
        m, sm1 = np.empty(R), np.empty(R)
        gap = np.empty(R) if self.smoothing else None
        backend.block_stats(Z, w, m, sm1, gap)
        if self.M is None:
            self.M, self.S, self.Sl, self.W = m, sm1, np.zeros(R), wsum
            if gap is not None:
                self.G, self.Gl = gap, np.zeros(R)
            return
        with np.errstate(invalid="ignore", over="ignore"):
            M = self.M
            Mn = np.maximum(M, m)  # NaN propagates
            new = m > M
            big_h = np.where(new, sm1, self.S)
            big_l = np.where(new, 0.0, self.Sl)
            sm_h = np.where(new, self.S, sm1)
            sm_l = np.where(new, self.Sl, 0.0)
            lo = np.minimum(M, m)
            dh, dl = _two_sum(lo, -Mn)
            none = lo == -np.inf  # that side holds no probability (s = 0)
            E = np.where(none, 0.0, np.exp(np.where(none, 0.0, dh)))
            El = np.where(none, 0.0, E * dl)
            u, ul = _two_sum(np.ones(R), sm_h)
            ul = ul + sm_l
            p, pl = _two_prod(E, u)
            pl = np.where(np.isfinite(p), pl + (E * ul + El * u), 0.0)
            s, sl = _two_sum(big_h, p)
            sl = sl + (big_l + pl)
            self.S, self.Sl = _renorm(s, sl)
            if gap is not None:
                g, gl = self.G, self.Gl
                for th, tl in (_scaled_diff(self.W, Mn, M), (gap, 0.0),
                               _scaled_diff(wsum, Mn, m)):
                    g, e = _two_sum(g, th)
                    gl = gl + np.where(np.isfinite(g), e + tl, 0.0)
                self.G, self.Gl = _renorm(g, gl)
            self.M = Mn
            self.W += wsum

    @property
    def gap(self) -> np.ndarray:
        return self.G + self.Gl


def _logits(head: _Head, hb: np.ndarray, v0: int, v1: int, Z: np.ndarray) -> None:
    """Z = hb @ W[:, v0:v1] (+ bias[v0:v1])."""
    np.matmul(hb, head.Wf[:, v0:v1], out=Z)
    if head.bias is not None:
        np.add(Z, head.bias[v0:v1], out=Z)


def _backward_tile(head: _Head, grads: Any, hb: np.ndarray, r0: int, r1: int, v0: int, v1: int,
                   dZ: np.ndarray, first_row: bool, first_col: bool) -> None:
    """dh[r0:r1] += dZ @ W[:, v0:v1].T, dW[:, v0:v1] += hb.T @ dZ, dbias[v0:v1]
    += the column sums: the first tile of a row (column) writes straight into
    dh (dW); the others go through a temporary of at most _ACC_ELEMENTS."""
    dh, dW, db = grads
    Wb = head.Wf[:, v0:v1]
    if first_col:
        np.matmul(dZ, Wb.T, out=dh[r0:r1])
    else:
        _add_product(dh[r0:r1], dZ, Wb.T)
    if db is not None:
        db[v0:v1] += dZ.sum(axis=0, dtype=np.float64)
    _accumulate_dW(dW, hb, dZ, v0, v1, head.transposed, first_row)


def _add_product(acc: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """acc += a @ b in row slices of at most _ACC_ELEMENTS elements."""
    n = acc.shape[1]
    step = max(1, _ACC_ELEMENTS // max(n, 1))
    tmp = np.empty(min(step, acc.shape[0]) * n, dtype=acc.dtype)
    for i0 in range(0, acc.shape[0], step):
        i1 = min(acc.shape[0], i0 + step)
        part = tmp[: (i1 - i0) * n].reshape(i1 - i0, n)
        np.matmul(a[i0:i1], b, out=part)
        np.add(acc[i0:i1], part, out=acc[i0:i1])
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


def _accumulate_dW(dW: np.ndarray, hb: np.ndarray, dZ: np.ndarray, v0: int, v1: int,
                   transposed: bool, first: bool) -> None:
    """dW[:, v0:v1] += hb^T dZ (dW (d, V)), or dW[v0:v1] += dZ^T hb (dW (V,
    d)): the first tile's product straight into dW, the others through a
    temporary of at most _ACC_ELEMENTS elements (slices of the classes)
    added in place."""
    if first:
        if transposed:
            np.matmul(dZ.T, hb, out=dW[v0:v1])
        else:
            np.matmul(hb.T, dZ, out=dW[:, v0:v1])
        return
    d = hb.shape[1]
    step = max(1, _ACC_ELEMENTS // max(d, 1))
    tmp = np.empty(min(step, v1 - v0) * d, dtype=dW.dtype)
    for c0 in range(v0, v1, step):
        c1 = min(v1, c0 + step)
        z = dZ[:, c0 - v0:c1 - v0]
        if transposed:
            part = tmp[: (c1 - c0) * d].reshape(c1 - c0, d)
            np.matmul(z.T, hb, out=part)
            np.add(dW[c0:c1], part, out=dW[c0:c1])
        else:
            part = tmp[: (c1 - c0) * d].reshape(d, c1 - c0)
            np.matmul(hb.T, z, out=part)
            np.add(dW[:, c0:c1], part, out=dW[:, c0:c1])
