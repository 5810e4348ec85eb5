"""fastact's functions over ``dask.array`` arrays (the ``fastact[dask]`` extra).

Each function builds a lazy dask array whose blocks are computed by the
in-memory function of the same name (``fastact.softmax`` ...: the native
kernels, which release the GIL, so dask's threaded scheduler runs blocks in
parallel; under ``FASTACT_BACKEND=numpy`` the NumPy twin).  ``import
fastact`` never imports dask; ``import fastact.dask`` needs it.

Conventions shared by every function (each docstring adds its own):

* Inputs: dask arrays backed by NumPy blocks (the blocks' type, ``x._meta``,
  must be an ndarray: ``numpy.ma`` blocks raise TypeError as masked arrays
  do in memory; other array types raise TypeError), with known chunk sizes
  (else ValueError: call ``x.compute_chunk_sizes()``).  NumPy arrays and other
  array_likes are accepted too and wrapped with ``dask.array.from_array``
  (the reduction axes as one chunk, the others ``"auto"``); the result is
  always lazy.  Secondary inputs (targets, masks, weights, upstream
  gradients) are rechunked to line up with the main input's blocks.
* Validation happens when the graph is built, from shapes and dtypes, with
  the in-memory function's exception types and messages (bad axis, dtype,
  shapes, options).  Only what depends on values is raised at compute time:
  a class-index target out of range raises IndexError naming the label and
  its position in the whole target (the first bad label of the first block
  that fails, not necessarily the first in C order).
* No ``out=``: results are lazy; write them with ``dask.array.store`` /
  ``to_zarr``, or compute them.
* Reduction axes (softmax's groups, cross_entropy's class axis,
  linear_cross_entropy's d axis of h) must be one chunk per block.  An
  input chunked along one is rechunked to one chunk there, keeping its
  other chunks, with a :class:`RechunkWarning`.  Batch axes may be chunked
  in any way.
* Results equal the in-memory function's: bit for bit for the element-wise
  and per-group ops, the per-sample losses and the gradients (but those of
  a weighted "mean": see :func:`cross_entropy_with_grad`); the
  ``"sum"``/``"mean"`` losses within the bound given in
  :func:`cross_entropy` (blocks are summed separately and combined);
  :func:`linear_cross_entropy` within the bounds in its Notes (its logits
  are BLAS products of each block's rows).
* Threads: dask's threaded scheduler runs one task per core; each task
  calls fastact, and of concurrent calls only one at a time uses fastact's
  thread pool (the others run on their own thread), so the machine is not
  oversubscribed and nothing needs setting.  In ``dask.distributed``
  worker processes, each process has its own pool sized to the cores it
  may run on, so several workers on one machine may run more kernel
  threads than cores; ``client.run(fastact.set_num_threads, 1)`` caps them
  (on a 2-core machine with two single-threaded workers, a 1 GiB job took
  1.2-1.6 s either way: no clear difference).
"""

from __future__ import annotations

import math
import operator
import sys
import warnings
from typing import Any, Callable, Optional, TypeVar, Union

import numpy as np

try:
    import dask.array as da
    from dask.array.core import PerformanceWarning
except ImportError as _exc:  # pragma: no cover - only without dask
    raise ImportError(
        "fastact.dask needs dask with its array module: install the extra, "
        "pip install 'fastact[dask]' (or pip install 'dask[array]')"
    ) from _exc

import fastact as _fa

from . import _checks as ck
from . import _linear_ce as _lce

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "relu",
    "leaky_relu",
    "sigmoid",
    "relu_backward",
    "leaky_relu_backward",
    "sigmoid_backward",
    "softmax_backward",
    "log_softmax_backward",
    "cross_entropy",
    "cross_entropy_with_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_with_grad",
    "linear_cross_entropy",
    "RechunkWarning",
]

AxisLike = Union[int, tuple[int, ...], None]

#: A single group at least this long (in bytes of the computing dtype) is
#: split by the native reductions into chunks done in parallel (the long-row
#: path, src_c/include/fastact.h: FA_LONG_ROW_BYTES), whose roundings differ
#: from the row kernel's; only an array of exactly one group takes it.
_LONG_ROW_BYTES = 1 << 19


class RechunkWarning(PerformanceWarning):
    """An input split along a reduction axis was rechunked.

    The input has been rechunked to one chunk along that axis, keeping its
    other chunks (a dask ``PerformanceWarning``); the message names the axis
    and the blocks' size, and how to chunk the input to avoid the rechunk.

    See Also
    --------
    softmax : A reduction whose axis must be one chunk.

    Examples
    --------
    >>> import warnings
    >>> x = da.from_array(np.arange(12.0).reshape(4, 3), chunks=2)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     p = fd.softmax(x)
    >>> [type(w.message).__name__ for w in caught]
    ['RechunkWarning']
    >>> p.chunks
    ((2, 2), (3,))
    """


_Fn = TypeVar("_Fn", bound=Callable[..., Any])

# The Raises entries most functions share, put in their docstrings in place
# of the {RAISES_GRAPH} line.
_RAISES_GRAPH = """TypeError
        As the in-memory op, when the graph is built (bad dtypes, masked or
        non-NumPy blocks).
    ValueError
        As the in-memory op, when the graph is built (bad shapes or options;
        unknown chunk sizes)."""


def _shared_doc(fn: _Fn) -> _Fn:
    """``fn`` with the shared pieces of its docstring filled in."""
    if fn.__doc__:  # None under python -OO
        fn.__doc__ = fn.__doc__.replace("{RAISES_GRAPH}", _RAISES_GRAPH)
    return fn


# ------------------------------------------------------------------ inputs


def _stand_in(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A zero-memory ndarray of ``shape`` and ``dtype`` (a broadcast view), for
    validating a lazy array's shape and dtype through fastact._checks."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def _input(a: Any, name: str) -> tuple[Optional[da.Array], np.ndarray]:
    """``(lazy, arr)``: for a dask array, itself and a stand-in of its shape and
    dtype; otherwise None and ``a`` as an ndarray (TypeError for a masked
    array, as in memory)."""
    if isinstance(a, da.Array):
        meta = getattr(a, "_meta", None)
        if isinstance(meta, np.ma.MaskedArray):
            ck.reject_masked(meta, name)
        if meta is not None and not isinstance(meta, np.ndarray):
            raise TypeError(
                f"{name} must be a dask array of NumPy blocks; its blocks are {type(meta).__name__}"
            )
        if any(math.isnan(c) for cs in a.chunks for c in cs):
            raise ValueError(
                f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first"
            )
        return a, _stand_in(a.shape, a.dtype)
    return None, ck.as_array(a, name)


def _wrap(arr: np.ndarray, one_block: tuple[int, ...]) -> da.Array:
    """A NumPy main input as a dask array: the axes ``one_block`` as one chunk,
    the others chunked by dask ("auto")."""
    if arr.ndim == 0:
        return da.from_array(arr, chunks=())
    return da.from_array(arr, chunks={d: (-1 if d in one_block else "auto") for d in range(arr.ndim)})


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MiB" if nbytes >= 2**20 else f"{nbytes / 2**10:.1f} KiB"


def _outside() -> int:
    """The warnings stacklevel of the first caller outside this module, for a
    warning issued by the function calling this one."""
    f, level = sys._getframe(1), 1
    while f is not None and f.f_code.co_filename == __file__:
        f, level = f.f_back, level + 1
    return level


def _one_block(a: da.Array, axes: tuple[int, ...], name: str) -> da.Array:
    """``a`` with the axes ``axes`` each in one chunk: rechunked, with a
    RechunkWarning, when one is split."""
    split = tuple(d for d in axes if len(a.chunks[d]) > 1)
    if not split:
        return a
    b = a.rechunk({d: -1 for d in axes})
    block = math.prod(max(c, default=0) for c in b.chunks) * a.dtype.itemsize
    warnings.warn(
        f"{name} is split along its reduction axis {split[0] if len(split) == 1 else split} "
        f"({', '.join(str(len(a.chunks[d])) for d in split)} chunks); fastact.dask rechunked "
        f"it to one chunk there (blocks of up to {_size(block)}).  Chunk it so "
        f"from the start to avoid the rechunk, e.g. {name}.rechunk({{{split[0]}: -1}})",
        RechunkWarning,
        stacklevel=_outside(),
    )
    return b


def _main(lazy: Optional[da.Array], arr: np.ndarray, axes: tuple[int, ...], name: str) -> da.Array:
    """The main input as a dask array with ``axes`` unsplit."""
    if lazy is None:
        return _wrap(arr, axes)
    return _one_block(lazy, axes, name)


Chunks = tuple[tuple[int, ...], ...]


def _aligned_chunks(shape: tuple[int, ...], like: Chunks) -> Chunks:
    """Chunks for an input of ``shape`` broadcast (NumPy rules, trailing axes)
    against an array chunked as ``like``: ``like``'s chunks along its axes of
    equal length, one chunk along a broadcast axis of length 1."""
    off = len(like) - len(shape)
    return tuple(
        like[off + j] if shape[j] == sum(like[off + j]) else (shape[j],)
        for j in range(len(shape))
    )


def _secondary(lazy: Optional[da.Array], arr: np.ndarray, like: Chunks) -> da.Array:
    """A secondary input (validated as broadcastable to the main input, which
    is chunked as ``like``) chunked to line up with its blocks."""
    chunks = _aligned_chunks(arr.shape, like)
    if lazy is None:
        return da.from_array(arr, chunks=chunks)
    return lazy if lazy.chunks == chunks else lazy.rechunk(chunks)


def _meta(ndim: int, dtype: Any) -> np.ndarray:
    return np.empty((0,) * ndim, dtype=dtype)


def _one_per_block(a: da.Array) -> tuple[tuple[int, ...], ...]:
    """Chunks of an array holding one value per block of ``a``."""
    return tuple((1,) * len(c) for c in a.chunks)


def _letters(ndim: int) -> str:
    """The blockwise index of an array of ``ndim`` dims ("ab..."): one task
    reading all its blocks when none of its letters is in the output's."""
    return "".join(chr(ord("a") + d) for d in range(ndim))


# ------------------------------------------------ softmax, log_softmax, logsumexp


def _reduce_block(x: np.ndarray, *, op: str, axes: tuple[int, ...], keepdims: bool,
                  split_long: bool) -> Any:
    """fastact.<op> on one block.  ``split_long``: the whole array has several
    groups, so a block holding a single long group is computed together with
    a copy of itself, keeping the row kernel the in-memory op uses (a lone
    long group would take the long-row path, whose roundings differ)."""
    fn = getattr(_fa, op)
    kw = {"keepdims": keepdims} if op == "logsumexp" else {}
    kept = [d for d in range(x.ndim) if d not in axes]
    if split_long and kept and all(x.shape[d] == 1 for d in kept):
        work = ck.as_float(x)[1]
        if math.prod(x.shape) * work.itemsize >= _LONG_ROW_BYTES:
            k = kept[0]
            r = fn(np.concatenate([x, x], axis=k), axes, **kw)
            kr = k if (op != "logsumexp" or keepdims) else k - sum(a < k for a in axes)
            return r[(slice(None),) * kr + (slice(0, 1),)]
    return fn(x, axes, **kw)


def _masked_block(x: np.ndarray, where: np.ndarray, *, op: str, axes: tuple[int, ...]) -> Any:
    return getattr(_fa, op)(x, axes, where=where)


def _reduce(op: str, x: Any, axis: AxisLike, where: Any = None, keepdims: bool = False) -> da.Array:
    xl, xa = _input(x, "x")
    arr, work, result = ck.as_float(xa)
    axes = ck.normalize_axes(axis, arr.ndim)
    if where is not None:
        ml, ma = _input(where, "where")
        ck.as_mask(ma, arr.shape)
    xd = _main(xl, xa, axes, "x")
    meta = _meta(xd.ndim, result)
    if where is not None:
        md = _secondary(ml, ma, xd.chunks)
        return da.map_blocks(_masked_block, xd, md, op=op, axes=axes, dtype=result, meta=meta,
                             token=f"fastact-{op}")
    groups = math.prod(s for d, s in enumerate(arr.shape) if d not in axes)
    split_long = groups > 1 and work in (ck.F32, ck.F64)
    kw: dict[str, Any] = dict(op=op, axes=axes, keepdims=keepdims, split_long=split_long,
                              dtype=result, token=f"fastact-{op}")
    if op != "logsumexp":
        return da.map_blocks(_reduce_block, xd, meta=meta, **kw)
    if keepdims:
        chunks = tuple((1,) if d in axes else c for d, c in enumerate(xd.chunks))
        return da.map_blocks(_reduce_block, xd, chunks=chunks, meta=meta, **kw)
    return da.map_blocks(_reduce_block, xd, drop_axis=list(axes),
                         meta=_meta(xd.ndim - len(axes), result), **kw)


@_shared_doc
def softmax(x: Any, axis: AxisLike = -1, *, where: Any = None) -> da.Array:
    """Softmax along ``axis``, lazily: ``fastact.softmax`` on every block.

    The blocks are computed by the in-memory op; the result is
    bit-identical to ``fastact.softmax(x.compute(), axis, where=...)``.

    Parameters
    ----------
    x : dask array or array_like
        Chunked in any way along the other axes; along ``axis`` one chunk
        (else rechunked with a :class:`RechunkWarning`).
    axis : int, tuple of ints or None, default -1
        As ``fastact.softmax`` (None: all axes, i.e. one block).
    where : dask array or array_like of bool, optional
        As ``fastact.softmax``'s: broadcastable to x's shape (a ``(T, T)``
        causal mask for ``(B, H, T, T)`` scores stays ``(T, T)``: each block
        reads the matching block of it), rechunked to line up with x.

    Returns
    -------
    dask.array.Array
        Of x's shape, chunks and result dtype, bit-identical to
        ``fastact.softmax(x.compute(), axis, where=...)``.

    Raises
    ------
    {RAISES_GRAPH}

    Warns
    -----
    RechunkWarning
        When x is split along ``axis``.

    See Also
    --------
    fastact.softmax : The in-memory op.
    log_softmax : Log-softmax over dask arrays.

    Notes
    -----
    A block holding a single group of 512 KiB or more, out of several groups
    in x, is computed beside a copy of itself, twice its cost, to keep the
    in-memory row kernel: chunk such arrays two rows or more per block.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3)
    >>> p = fd.softmax(da.from_array(x, chunks=(2, 3)))
    >>> p.shape, p.chunks
    ((4, 3), ((2, 2), (3,)))
    >>> np.array_equal(p.compute(), fa.softmax(x))
    True
    """
    return _reduce("softmax", x, axis, where)


@_shared_doc
def log_softmax(x: Any, axis: AxisLike = -1, *, where: Any = None) -> da.Array:
    """Log-softmax along ``axis``, lazily: ``fastact.log_softmax`` per block.

    Arguments, chunking and result as :func:`softmax`; bit-identical to the
    in-memory op.

    Parameters
    ----------
    x : dask array or array_like
        Chunked in any way along the other axes; along ``axis`` one chunk
        (else rechunked with a :class:`RechunkWarning`).
    axis : int, tuple of ints or None, default -1
        As ``fastact.log_softmax``.
    where : dask array or array_like of bool, optional
        As :func:`softmax`'s: broadcastable to x's shape, rechunked to line
        up with x.

    Returns
    -------
    dask.array.Array
        Of x's shape, chunks and result dtype, bit-identical to the
        in-memory op's result.

    Raises
    ------
    {RAISES_GRAPH}

    See Also
    --------
    fastact.log_softmax : The in-memory op.
    softmax : Softmax over dask arrays (the same arguments).

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3)
    >>> lp = fd.log_softmax(da.from_array(x, chunks=(2, 3)))
    >>> np.array_equal(lp.compute(), fa.log_softmax(x))
    True
    """
    return _reduce("log_softmax", x, axis, where)


@_shared_doc
def logsumexp(x: Any, axis: AxisLike = -1, *, keepdims: bool = False) -> da.Array:
    """Log-sum-exp, ``log(sum(exp(x)))`` over ``axis``, lazily.

    ``fastact.logsumexp`` on every block (x chunked as for :func:`softmax`).

    Parameters
    ----------
    x : dask array or array_like
        Chunked in any way along the other axes; along ``axis`` one chunk
        (else rechunked with a :class:`RechunkWarning`).
    axis : int, tuple of ints or None, default -1
        As ``fastact.logsumexp``.
    keepdims : bool, default False
        Keep the reduced axes with length 1.

    Returns
    -------
    dask.array.Array
        Of the reduced shape (``keepdims``: the reduced axes kept with
        length 1), chunked as x along the kept axes; a 0-d dask array when
        every axis is reduced (it computes to a NumPy scalar, as in memory).
        Bit-identical to the in-memory op.

    Raises
    ------
    {RAISES_GRAPH}

    See Also
    --------
    fastact.logsumexp : The in-memory op.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3)
    >>> s = fd.logsumexp(da.from_array(x, chunks=(2, 3)))
    >>> s.shape, s.chunks
    ((4,), ((2, 2),))
    >>> np.array_equal(s.compute(), fa.logsumexp(x))
    True
    """
    return _reduce("logsumexp", x, axis, keepdims=bool(keepdims))


# ------------------------------------------------------------ element-wise maps


def _map(op: str, x: Any, *params: float) -> da.Array:
    xl, xa = _input(x, "x")
    if xa.dtype.kind in "biu" and op in ck.KEEPS_INTEGER_DTYPE:
        result = xa.dtype
    else:
        result = ck.as_float(xa)[2]
    xd = _main(xl, xa, (), "x")
    return da.map_blocks(getattr(_fa, op), xd, *params, dtype=result,
                         meta=_meta(xd.ndim, result), token=f"fastact-{op}")


def relu(x: Any) -> da.Array:
    """ReLU, element-wise and lazily: ``fastact.relu`` on every block.

    Integer and bool inputs keep their dtype.  Any chunking; bit-identical
    to the in-memory op.

    Parameters
    ----------
    x : dask array or array_like
        The input: a dask array of NumPy blocks with known chunk sizes, or an
        array_like (wrapped with ``dask.array.from_array``).

    Returns
    -------
    dask.array.Array
        Of x's shape and chunks, bit-identical to ``fastact.relu``'s result.

    Raises
    ------
    TypeError
        As the in-memory op (bad dtype, masked or non-NumPy blocks).
    ValueError
        When x's chunk sizes are unknown.

    See Also
    --------
    fastact.relu : The in-memory op.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3) - 6
    >>> np.array_equal(fd.relu(da.from_array(x, chunks=2)).compute(), fa.relu(x))
    True
    """
    return _map("relu", x)


@_shared_doc
def leaky_relu(x: Any, negative_slope: float = 0.01) -> da.Array:
    """Leaky ReLU, element-wise and lazily: ``fastact.leaky_relu`` per block.

    Any chunking; bit-identical to the in-memory op.

    Parameters
    ----------
    x : dask array or array_like
        The input: a dask array of NumPy blocks with known chunk sizes, or an
        array_like (wrapped with ``dask.array.from_array``).
    negative_slope : float, default 0.01
        The slope for negative inputs, validated as in ``fastact.leaky_relu``.

    Returns
    -------
    dask.array.Array
        Of x's shape and chunks, bit-identical to the in-memory op's result.

    Raises
    ------
    {RAISES_GRAPH}

    See Also
    --------
    fastact.leaky_relu : The in-memory op.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3) - 6
    >>> y = fd.leaky_relu(da.from_array(x, chunks=2), 0.1)
    >>> np.array_equal(y.compute(), fa.leaky_relu(x, 0.1))
    True
    """
    return _map("leaky_relu", x, ck.negative_slope(negative_slope))


def sigmoid(x: Any) -> da.Array:
    """Logistic sigmoid, element-wise and lazily: ``fastact.sigmoid`` per block.

    Any chunking; bit-identical to the in-memory op.

    Parameters
    ----------
    x : dask array or array_like
        The input: a dask array of NumPy blocks with known chunk sizes, or an
        array_like (wrapped with ``dask.array.from_array``).

    Returns
    -------
    dask.array.Array
        Of x's shape and chunks, bit-identical to the in-memory op's result.

    Raises
    ------
    TypeError
        As the in-memory op (bad dtype, masked or non-NumPy blocks).
    ValueError
        When x's chunk sizes are unknown.

    See Also
    --------
    fastact.sigmoid : The in-memory op.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3) - 6
    >>> np.array_equal(fd.sigmoid(da.from_array(x, chunks=2)).compute(), fa.sigmoid(x))
    True
    """
    return _map("sigmoid", x)


def _pair(a: Any, b: Any, names: tuple[str, str], axis: AxisLike, reduces: bool
          ) -> tuple[da.Array, da.Array, np.dtype, tuple[int, ...]]:
    """The two inputs of a two-input op, validated as in memory (dtypes, the
    same shape; for a reduction, ``axis`` normalised), as dask arrays with
    the reduction axes unsplit and the same chunks (the first dask input's,
    the other rechunked to them)."""
    al, aa = _input(a, names[0])
    bl, ba = _input(b, names[1])
    aa, ba, _, result = ck.as_float_pair(aa, ba, names)
    axes = ck.normalize_axes(axis, aa.ndim) if reduces else ()
    if al is None and bl is not None:
        bd = _main(bl, ba, axes, names[1])
        return _secondary(None, aa, bd.chunks), bd, result, axes
    ad = _main(al, aa, axes, names[0])
    if bl is not None:
        bl = _one_block(bl, axes, names[1])
    return ad, _secondary(bl, ba, ad.chunks), result, axes


def _map2(op: str, g: Any, x: Any, *params: float) -> da.Array:
    gd, xd, result, _ = _pair(g, x, ck.MAP2_ARGS[op], None, False)
    return da.map_blocks(getattr(_fa, op), gd, xd, *params, dtype=result,
                         meta=_meta(gd.ndim, result), token=f"fastact-{op}")


def relu_backward(grad: Any, x: Any) -> da.Array:
    """Gradient of relu, element-wise and lazily.

    ``fastact.relu_backward`` on every pair of blocks; bit-identical to the
    in-memory op.

    Parameters
    ----------
    grad : dask array or array_like
        The gradient with respect to the forward op's output.
    x : dask array or array_like
        The forward op's input, of grad's shape.  Any chunking: the second
        input is rechunked to the first's.

    Returns
    -------
    dask.array.Array
        The gradient with respect to x, bit-identical to the in-memory op's.

    Raises
    ------
    TypeError
        As the in-memory op (bad dtypes).
    ValueError
        When ``grad`` and ``x`` differ in shape (naming both).

    See Also
    --------
    fastact.relu_backward : The in-memory op.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3) - 6
    >>> g = np.ones_like(x)
    >>> dx = fd.relu_backward(da.from_array(g, chunks=2), x)
    >>> np.array_equal(dx.compute(), fa.relu_backward(g, x))
    True
    """
    return _map2("relu_backward", grad, x)


def leaky_relu_backward(grad: Any, x: Any, negative_slope: float = 0.01) -> da.Array:
    """Gradient of leaky_relu, element-wise and lazily.

    ``fastact.leaky_relu_backward`` on every pair of blocks, as
    :func:`relu_backward`; bit-identical to the in-memory op.

    Parameters
    ----------
    grad : dask array or array_like
        The gradient with respect to the forward op's output.
    x : dask array or array_like
        The forward op's input, of grad's shape (rechunked as in
        :func:`relu_backward`).
    negative_slope : float, default 0.01
        As ``fastact.leaky_relu_backward``'s.

    Returns
    -------
    dask.array.Array
        The gradient with respect to x, bit-identical to the in-memory op's.

    Raises
    ------
    TypeError
        As the in-memory op (bad dtypes).
    ValueError
        As the in-memory op (different shapes, a bad ``negative_slope``).

    See Also
    --------
    fastact.leaky_relu_backward : The in-memory op.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3) - 6
    >>> g = np.ones_like(x)
    >>> dx = fd.leaky_relu_backward(da.from_array(g, chunks=2), x, 0.1)
    >>> np.array_equal(dx.compute(), fa.leaky_relu_backward(g, x, 0.1))
    True
    """
    return _map2("leaky_relu_backward", grad, x, ck.negative_slope(negative_slope))


def sigmoid_backward(grad: Any, y: Any) -> da.Array:
    """Gradient of sigmoid from its output ``y``, element-wise and lazily.

    ``fastact.sigmoid_backward`` on every pair of blocks, as
    :func:`relu_backward`; bit-identical to the in-memory op.

    Parameters
    ----------
    grad : dask array or array_like
        The gradient with respect to the forward op's output.
    y : dask array or array_like
        The sigmoid's output, of grad's shape (rechunked as in
        :func:`relu_backward`).

    Returns
    -------
    dask.array.Array
        The gradient with respect to the sigmoid's input, bit-identical to
        the in-memory op's.

    Raises
    ------
    TypeError
        As the in-memory op (bad dtypes).
    ValueError
        When ``grad`` and ``y`` differ in shape.

    See Also
    --------
    fastact.sigmoid_backward : The in-memory op.

    Examples
    --------
    >>> y = fa.sigmoid(np.arange(12.0).reshape(4, 3) - 6)
    >>> g = np.ones_like(y)
    >>> dx = fd.sigmoid_backward(da.from_array(g, chunks=2), y)
    >>> np.array_equal(dx.compute(), fa.sigmoid_backward(g, y))
    True
    """
    return _map2("sigmoid_backward", grad, y)


def _reduce2(op: str, grad: Any, y: Any, axis: AxisLike) -> da.Array:
    gd, yd, result, axes = _pair(grad, y, ("grad", "y"), axis, True)
    return da.map_blocks(getattr(_fa, op), gd, yd, axes, dtype=result,
                         meta=_meta(gd.ndim, result), token=f"fastact-{op}")


@_shared_doc
def softmax_backward(grad: Any, y: Any, axis: AxisLike = -1) -> da.Array:
    """Gradient of softmax (``y`` its output) along ``axis``, lazily.

    ``fastact.softmax_backward`` on every pair of blocks; bit-identical to
    the in-memory op.

    Parameters
    ----------
    grad : dask array or array_like
        The gradient with respect to the forward op's output.
    y : dask array or array_like
        The softmax's output, of grad's shape.  Each of ``grad`` and ``y``
        unsplit along ``axis`` (else rechunked with a
        :class:`RechunkWarning`), the second rechunked to the first's chunks.
    axis : int, tuple of ints or None, default -1
        As ``fastact.softmax_backward``.

    Returns
    -------
    dask.array.Array
        The gradient with respect to the softmax's input, bit-identical to
        the in-memory op's.

    Raises
    ------
    {RAISES_GRAPH}

    See Also
    --------
    fastact.softmax_backward : The in-memory op.
    log_softmax_backward : The same for log_softmax.

    Examples
    --------
    >>> y = fa.softmax(np.arange(12.0).reshape(4, 3))
    >>> g = np.ones_like(y)
    >>> dx = fd.softmax_backward(da.from_array(g, chunks=(2, 3)), y)
    >>> np.array_equal(dx.compute(), fa.softmax_backward(g, y))
    True
    """
    return _reduce2("softmax_backward", grad, y, axis)


@_shared_doc
def log_softmax_backward(grad: Any, y: Any, axis: AxisLike = -1) -> da.Array:
    """Gradient of log_softmax (``y`` its output) along ``axis``, lazily.

    ``fastact.log_softmax_backward`` on every pair of blocks, as
    :func:`softmax_backward`; bit-identical to the in-memory op.

    Parameters
    ----------
    grad : dask array or array_like
        The gradient with respect to the forward op's output.
    y : dask array or array_like
        The log_softmax's output, of grad's shape, chunked as in
        :func:`softmax_backward`.
    axis : int, tuple of ints or None, default -1
        As ``fastact.log_softmax_backward``.

    Returns
    -------
    dask.array.Array
        The gradient with respect to the log_softmax's input, bit-identical
        to the in-memory op's.

    Raises
    ------
    {RAISES_GRAPH}

    See Also
    --------
    fastact.log_softmax_backward : The in-memory op.
    softmax_backward : The same for softmax.

    Examples
    --------
    >>> y = fa.log_softmax(np.arange(12.0).reshape(4, 3))
    >>> g = np.ones_like(y)
    >>> dx = fd.log_softmax_backward(da.from_array(g, chunks=(2, 3)), y)
    >>> np.array_equal(dx.compute(), fa.log_softmax_backward(g, y))
    True
    """
    return _reduce2("log_softmax_backward", grad, y, axis)


# ------------------------------------------------------------- cross-entropy
# Graph of the "sum"/"mean" losses: one task per block of the logits gives
# the block's loss sum (a partial); one task sums the partials (math.fsum,
# correctly rounded) and divides by the denominator.  The denominator of an
# index target's "mean" (the weights of the non-ignored labels) is formed
# from the labels alone, one small task per block (a count, or the labels'
# classes and counts with weights) and one that adds them exactly (a count
# equal to the in-memory op's; with weights the correctly rounded sum, which
# the in-memory op's blockwise compensated sum may miss by an ULP).
# cross_entropy_with_grad's "mean" gradient
# needs that denominator first: the label tasks run first (they read 8 bytes
# per sample, not C logits), then one fused kernel call per block gives both
# the block of dlogits and the block's loss sum.


def _partial_dtype(work: np.dtype) -> np.dtype:
    return ck.LONGDOUBLE if work == ck.LONGDOUBLE else ck.F64


def _block_sum(value: Any, ndim: int, work: np.dtype) -> np.ndarray:
    """A block's loss sum as the one element of an array of ``ndim`` dims."""
    return np.full((1,) * ndim, value, dtype=_partial_dtype(work))


def _sum_of_losses(losses: Any) -> Any:
    """The float32 per-sample losses of a block summed in float64 (pairwise:
    its error, ~2^-53 log2(n) of their absolute sum, is far below the
    per-sample float32 rounding)."""
    return np.sum(losses, dtype=np.float64)


def _fsum(values: np.ndarray) -> float:
    """The values' sum, correctly rounded (math.fsum) when they are finite;
    with an inf or NaN among them their plain float64 sum (inf, or NaN for
    inf - inf, where fsum raises), as fastact.linear_cross_entropy sums."""
    flat = values.ravel()
    if np.isfinite(flat).all():
        return math.fsum(flat.tolist())
    return float(np.sum(flat, dtype=np.float64))


def _sum_partials(parts: np.ndarray) -> Any:
    """All blocks' loss sums added: correctly rounded for float64 (math.fsum:
    the same whatever the chunking), in longdouble for longdouble."""
    if parts.dtype == ck.LONGDOUBLE:
        return np.sum(parts, dtype=ck.LONGDOUBLE)
    return _fsum(parts)


def _loss_of_parts(parts: da.Array, den: Optional[da.Array], *, reduction: str,
                   result: np.dtype, count: Optional[int], token: str) -> da.Array:
    """The "sum"/"mean" loss (a 0-d dask array) from the blocks' loss sums
    ``parts`` (one element per block): one task adds them (_finish_loss) and
    divides a "mean" by ``den`` (a 0-d dask array) or ``count``."""
    args: list[Any] = [parts, _letters(parts.ndim)] + ([den, ""] if den is not None else [])
    return da.blockwise(_finish_loss, "", *args, concatenate=True, reduction=reduction,
                        result=result, count=count, dtype=result,
                        meta=np.empty((), result), token=token)


def _finish_loss(parts: np.ndarray, den: Any = None, *, reduction: str, result: np.dtype,
                 count: Optional[int] = None) -> Any:
    """The "sum"/"mean" loss from the blocks' sums, finished as the in-memory
    op does (fastact._checks.finish_loss): the total, or the total divided in
    float64 (IEEE: 0/0 is NaN) by the denominator ``den`` (a 0-d array) or
    ``count``, rounded to ``result``."""
    d = count if den is None else np.asarray(den)[()]
    return ck.finish_loss(_sum_partials(parts), d, reduction, result)


def _bad_label(t: np.ndarray, C: int, ignore_index: int, start: tuple[int, ...],
               shape: tuple[int, ...]) -> IndexError:
    """The in-memory op's IndexError for the first bad label of the block
    ``t`` of a target of ``shape``, the block starting at ``start``: its
    position in the whole target."""
    flat = t.reshape(-1)
    bad = (flat >= C) if flat.dtype.kind == "u" else ((flat < 0) | (flat >= C))
    if ignore_index >= 0 or flat.dtype.kind != "u":
        bad &= flat != ignore_index
    i = int(np.argmax(bad))
    pos = tuple(int(p) + s for p, s in zip(np.unravel_index(i, t.shape), start)) if t.ndim else ()
    g = int(np.ravel_multi_index(pos, shape)) if shape else 0
    return ck.bad_label_error(int(flat[i]), g, shape, C, ignore_index)


def _labels(t: np.ndarray, axis: int, block_info: Any, arg: int, C: int,
            ignore_index: int, sample_shape: tuple[int, ...]) -> np.ndarray:
    """A block of class indices (given with a length-1 class axis at
    ``axis``, the map_blocks argument ``arg``), checked: IndexError naming
    the first bad label's position in the whole target."""
    t = np.squeeze(t, axis)
    if t.size:
        try:
            ck.check_labels(t, C, ignore_index)
        except IndexError:
            loc = block_info[arg]["array-location"]
            start = tuple(lo for d, (lo, _) in enumerate(loc) if d != axis)
            raise _bad_label(t, C, ignore_index, start, sample_shape) from None
    return t


def _ce_call(fn: Any, x: np.ndarray, t: np.ndarray, ce: dict[str, Any], block_info: Any,
             **kw: Any) -> Any:
    """fastact.cross_entropy[_with_grad] on a block; a bad label's IndexError
    re-raised with its position in the whole target."""
    try:
        return fn(x, t, axis=ce["axis"], weight=ce["weight"], ignore_index=ce["ignore_index"],
                  label_smoothing=ce["label_smoothing"], **kw)
    except IndexError:
        if not ce["index"]:
            raise
        _labels(t[(slice(None),) * ce["axis"] + (None,)], ce["axis"], block_info, 1, ce["C"],
                ce["ignore_index"], ce["sample_shape"])
        raise


def _ce_block_args(x: np.ndarray, t: np.ndarray, w: Optional[np.ndarray], ce: dict[str, Any]
                   ) -> tuple[np.ndarray, dict[str, Any]]:
    """The block's target (class indices without their length-1 class axis)
    and the call's arguments with the weight (a block of shape 1 but for
    the class axis)."""
    if ce["index"]:
        t = np.squeeze(t, ce["axis"])
    return t, dict(ce, weight=None if w is None else w.reshape(-1))


def _ce_none_block(x: np.ndarray, t: np.ndarray, w: Optional[np.ndarray], *,
                   ce: dict[str, Any], block_info: Any = None) -> Any:
    t, ce = _ce_block_args(x, t, w, ce)
    return _ce_call(_fa.cross_entropy, x, t, ce, block_info, reduction="none")


def _ce_sum_block(x: np.ndarray, t: np.ndarray, w: Optional[np.ndarray], *,
                  ce: dict[str, Any], block_info: Any = None) -> np.ndarray:
    """The block's loss sum: the kernel's (compensated, in double) for
    float64 work; for float32 work the sum of its per-sample losses (the
    public function rounds a "sum" to float32, a coarser rounding than the
    per-sample one summed over many samples)."""
    t, ce = _ce_block_args(x, t, w, ce)
    work = ce["work"]
    xw = x if x.dtype == work else x.astype(work)
    if work == ck.F32:
        v = _sum_of_losses(_ce_call(_fa.cross_entropy, xw, t, ce, block_info, reduction="none"))
    else:
        v = _ce_call(_fa.cross_entropy, xw, t, ce, block_info, reduction="sum")
    return _block_sum(v, x.ndim, work)


def _label_block(t: np.ndarray, *, ce: dict[str, Any], block_info: Any = None) -> np.ndarray:
    """The block's part of the "mean" denominator (an object array of one
    element): its count of non-ignored labels, or with weights their
    classes and counts (added exactly by _denominator)."""
    ax = ce["axis"]
    t = _labels(t, ax, block_info, 0, ce["C"], ce["ignore_index"], ce["sample_shape"])
    return _label_part(t, ce["ignore_index"], ce["weighted"], t.ndim + 1)


def _label_part(t: np.ndarray, ignore_index: int, weighted: bool, ndim: int) -> np.ndarray:
    """The part of the "mean" denominator of checked labels ``t`` (each in
    [0, C) or ignore_index), an object array of ``ndim`` dims and one element:
    their count but the ignored ones, or with weights their classes and
    counts (added exactly by _denominator)."""
    t = t.astype(np.int64)
    keep = t != ignore_index
    out = np.empty((1,) * ndim, dtype=object)
    if not weighted:
        out.flat[0] = int(np.count_nonzero(keep))
    else:
        out.flat[0] = np.unique(t[keep], return_counts=True)
    return out


def _exact_dot(counts: np.ndarray, w: np.ndarray) -> float:
    """``sum(counts * w)`` correctly rounded (counts: float64 integers below
    2^53): each product split exactly into two doubles (Dekker's TwoProduct)
    and everything added by math.fsum.  Non-finite products: a plain sum
    (inf or NaN whatever the order)."""
    nz = counts != 0
    c, w = counts[nz], w[nz]
    with np.errstate(all="ignore"):
        p = c * w
        if not np.all(np.isfinite(p)) or not np.all(np.abs(w) < 2.0**996):
            return float(np.sum(p))
        split = 134217729.0  # 2^27 + 1 (Veltkamp)
        ca = split * c
        ch = ca - (ca - c)
        cl = c - ch
        wa = split * w
        wh = wa - (wa - w)
        wl = w - wh
        e = ((ch * wh - p) + ch * wl + cl * wh) + cl * wl
    return math.fsum(np.concatenate([p, e]).tolist())


def _denominator(parts: np.ndarray, *, C: int, weight: Optional[np.ndarray]) -> np.ndarray:
    """The "mean" denominator of index targets from the label blocks' parts:
    the count of non-ignored labels, or the sum of their weights, correctly
    rounded (the in-memory op's compensated sum in practice)."""
    items = parts.ravel().tolist()
    if weight is None:
        return np.float64(sum(items))
    cls = [c for c, _ in items]
    cnt = [n for _, n in items]
    counts = np.bincount(np.concatenate(cls).astype(np.intp) if cls else np.zeros(0, np.intp),
                         weights=np.concatenate(cnt).astype(np.float64) if cnt else None,
                         minlength=C)
    return np.float64(_exact_dot(counts.astype(np.float64), weight))


def _global_denominator(parts: da.Array, C: int, weight: Optional[np.ndarray],
                        token: str) -> da.Array:
    """The "mean" denominator (a 0-d dask array) from the label blocks' parts
    (_label_part): one task adds them (_denominator)."""
    return da.blockwise(_denominator, "", parts, _letters(parts.ndim), concatenate=True, C=C,
                        weight=weight, dtype=np.float64, meta=np.empty((), np.float64),
                        token=token)


def _scale(g: Any, den: Any, count: Optional[int], reduction: str) -> float:
    """The per-sample upstream gradient of a "sum"/"mean" loss as the
    in-memory op passes it to the kernel: ``g``, ``g / D`` (index "mean"),
    ``g / n`` (probabilities' "mean"; NaN for no samples)."""
    g = float(np.asarray(g)[()]) if g is not None else 1.0
    if reduction == "sum":
        return g
    with np.errstate(invalid="ignore", divide="ignore"):
        if den is not None:
            return float(np.float64(g) / np.asarray(den, dtype=np.float64)[()])
        return g / count if count else g * math.nan


def _ce_grad_block(x: np.ndarray, t: np.ndarray, w: Optional[np.ndarray], den: Any, g: Any,
                   *, ce: dict[str, Any], reduction: str, block_info: Any = None) -> tuple[Any, Any]:
    """One fused kernel call on a block: ``(dlogits, loss)``, ``loss`` the
    block's per-sample losses ("none") or its loss sum (an array of one
    element).  ``g``: the upstream gradient (scalar, or a block of
    per-sample values with a length-1 class axis for "none"); ``den``: the
    "mean" denominator of index targets (a 0-d array) or None."""
    t, ce = _ce_block_args(x, t, w, ce)
    fn, work, result = _fa.cross_entropy_with_grad, ce["work"], ce["result"]
    if reduction == "none":
        gl = np.squeeze(g, ce["axis"]) if isinstance(g, np.ndarray) and g.ndim else g
        loss, dx = _ce_call(fn, x, t, ce, block_info, reduction="none", grad_loss=gl)
        # with the length-1 class axis back: the tuple's items are taken
        # out block by block, without dask concatenating the tuples
        return dx, np.expand_dims(loss, ce["axis"])
    gs = _scale(g, den, ce["n_samples"], reduction)
    xw = x if x.dtype == work else x.astype(work)
    if work == ck.F32:
        # per-sample losses (their float64 sum is the block's partial) and the
        # per-sample gradient gs (the kernel multiplies by 1.0 first: exact)
        loss, dx = _ce_call(fn, xw, t, ce, block_info, reduction="none", grad_loss=gs)
        v = _sum_of_losses(loss)
    else:
        v, dx = _ce_call(fn, xw, t, ce, block_info, reduction="sum", grad_loss=gs)
    if dx.dtype != result:
        dx = dx.astype(result)
    return dx, _block_sum(v, x.ndim, work)


def _ce_grad_loss(grad_loss: Any, a: ck.CEArgs) -> tuple[Any, Optional[np.ndarray]]:
    """cross_entropy_with_grad's ``grad_loss``, validated as in memory
    (fastact._checks.check_grad_loss, without materialising it):
    ``(value, arr)``, ``value`` None, a float, or a dask array (0-d, or the
    samples' shape for "none"), ``arr`` its concrete ndarray or stand-in."""
    if grad_loss is None:
        return None, None
    gl, ga = _input(grad_loss, "grad_loss")
    if ck.check_grad_loss_kind(ga, a):
        return (gl if gl is not None else float(ga)), ga
    return (gl if gl is not None else ga), ga


class _CE:
    """A validated cross_entropy[_with_grad] call as dask arrays: the logits
    (class axis unsplit), the target lined up with them (class indices with
    a length-1 class axis), the weight as a one-block array of shape 1 but
    for the class axis, and the keyword arguments of the block tasks."""

    def __init__(self, logits: Any, target: Any, axis: Any, weight: Any, ignore_index: Any,
                 reduction: Any, label_smoothing: Any) -> None:
        xl, xa = _input(logits, "logits")
        tl, ta = _input(target, "target")
        if isinstance(weight, da.Array):
            raise TypeError(
                "weight must be an array_like of shape (C,), not a dask array "
                "(class weights are small: pass weight.compute())"
            )
        tv = ta
        if tl is not None and ta.dtype.kind in "iu":
            # its values are checked per block at compute time; an int64
            # stand-in skips the conversion and the uint64 range check
            tv = _stand_in(ta.shape, ck.I64)
        a = ck.ce_prepare(xa, tv, axis, weight, ignore_index, reduction, label_smoothing)
        self.a = a
        ax = a.axis
        self.x = _main(xl, xa, (ax,), "logits")
        if a.index_target:
            self.t = da.expand_dims(_secondary(tl, ta, self.sample_chunks()), ax)
        else:
            if tl is not None:
                tl = _one_block(tl, (ax,), "target")
            self.t = _secondary(tl, ta, self.x.chunks)
        self.w = None
        if a.weight is not None:
            wshape = tuple(a.C if d == ax else 1 for d in range(self.x.ndim))
            self.w = da.from_array(np.ascontiguousarray(a.weight).reshape(wshape), chunks=-1)
        self.kw = dict(axis=ax, ignore_index=a.ignore_index, label_smoothing=a.eps,
                       index=a.index_target, C=a.C, sample_shape=a.sample_shape,
                       work=a.work, result=a.result, weighted=a.weight is not None,
                       n_samples=math.prod(a.sample_shape))

    def sample_chunks(self) -> Chunks:
        """The samples' chunks (the logits' without the class axis)."""
        return tuple(c for d, c in enumerate(self.x.chunks) if d != self.a.axis)

    def parts_chunks(self) -> tuple[tuple[int, ...], ...]:
        return _one_per_block(self.x)

    def denominator(self) -> Optional[da.Array]:
        """The index target's "mean" denominator as a 0-d dask array (None
        otherwise: probabilities divide by the number of samples)."""
        if self.a.reduction != "mean" or not self.a.index_target:
            return None
        parts = da.map_blocks(_label_block, self.t, ce=self.kw, chunks=self.parts_chunks(),
                              dtype=object, meta=_meta(self.x.ndim, object),
                              token="fastact-ce-labels")
        return _global_denominator(parts, self.a.C, self.a.weight, "fastact-ce-denominator")

    def finish(self, parts: da.Array, den: Optional[da.Array]) -> da.Array:
        """The "sum"/"mean" loss from the blocks' partial sums (0-d dask array)."""
        return _loss_of_parts(parts, den, reduction=self.a.reduction, result=self.a.result,
                              count=self.kw["n_samples"], token="fastact-ce-loss")


def cross_entropy(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> da.Array:
    """Cross-entropy loss, lazily: ``fastact.cross_entropy`` on every block.

    ``"none"`` gives the per-sample losses; ``"sum"`` and ``"mean"`` add the
    blocks' loss sums, the mean over a global denominator.

    Parameters
    ----------
    logits : dask array or array_like
        Chunked in any way along the sample axes; the class axis ``axis`` one
        chunk (else rechunked with a :class:`RechunkWarning`).
    target : dask array or array_like
        Class indices (the logits' shape without ``axis``) or probabilities
        (the logits' shape), rechunked to line up with the logits.  Labels
        out of range raise IndexError at compute time, naming the label and
        its position in the whole target.
    axis : int, default -1
        The class axis, as in ``fastact.cross_entropy``.
    weight : array_like of shape (C,), optional
        Class weights, as in ``fastact.cross_entropy``.  Concrete (a dask
        array raises TypeError: compute it first); held once in the graph.
    ignore_index : int, default -100
        As in ``fastact.cross_entropy``.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in ``fastact.cross_entropy``.
    label_smoothing : float, default 0.0
        As in ``fastact.cross_entropy``.

    Returns
    -------
    dask.array.Array
        ``"none"``: a dask array of the samples' shape, bit-identical to the
        in-memory op.  ``"sum"``/``"mean"``: a 0-d dask array that computes
        to a NumPy scalar of the logits' result dtype.

    Raises
    ------
    TypeError
        As the in-memory op when the graph is built; also for a dask
        ``weight``.
    ValueError
        As the in-memory op when the graph is built (shapes, options).
    IndexError
        At compute time, for a class index out of range: it names the label
        and its position in the whole target (the first bad label of the
        first block that fails, not necessarily the first in C order).

    See Also
    --------
    fastact.cross_entropy : The in-memory op.
    cross_entropy_with_grad : The loss and its gradient.

    Notes
    -----
    The "mean" divides the sum of all blocks' loss sums by the global
    denominator (the weights of the non-ignored labels, or the number of
    samples for probabilities), never a mean of block means.  The
    denominator is exact: a count, the number of samples, or the correctly
    rounded sum of the labels' weights.  The per-sample losses are the
    in-memory ones bit for bit; their sum is formed per block (float64: the
    kernel's compensated sum; float32: the block's float32 per-sample losses
    added in float64) and the blocks' sums added with ``math.fsum``, where
    the in-memory op adds the unrounded per-sample doubles in its own fixed
    blocks with compensation.  The two orders round differently: against
    the in-memory result ``r``, with ``S`` the sum of the absolute
    per-sample losses over the denominator (``S = |r|`` when no loss is
    negative, i.e. for non-negative weights and probabilities; the bounds
    below are in ULP of ``r`` for that case, else scaled by ``S / |r|``):

    * float64: each side's total is within ``eps * S`` of the exact sum of
      the same per-sample losses (``1.5 eps`` for the blocks' sums added by
      fsum), the weighted in-memory denominator within ``eps``, and each
      quotient is rounded once: within 5 ULP (measured over 300 random
      shapes, chunkings, weights and smoothings: 0 ULP in 76 %, 1 in 20 %,
      at most 3).
    * float32: the per-sample float32 roundings move the total by at most
      ``2**-24 * S``, and both results are rounded to float32: within 2 ULP
      (measured: equal in 99 %, else 1 ULP).

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3) / 4
    >>> t = np.array([0, 2, 1, 0])
    >>> xd = da.from_array(x, chunks=(2, 3))
    >>> losses = fd.cross_entropy(xd, t, reduction="none")
    >>> np.array_equal(losses.compute(), fa.cross_entropy(x, t, reduction="none"))
    True
    >>> mean = fd.cross_entropy(xd, t).compute()
    >>> bool(np.isclose(mean, fa.cross_entropy(x, t), rtol=1e-15, atol=0))
    True
    """
    p = _CE(logits, target, axis, weight, ignore_index, reduction, label_smoothing)
    a, ce = p.a, p.kw
    if a.reduction == "none":
        return da.map_blocks(_ce_none_block, p.x, p.t, p.w, ce=ce, drop_axis=a.axis,
                             dtype=a.result, meta=_meta(p.x.ndim - 1, a.result),
                             token="fastact-cross-entropy")
    parts = da.map_blocks(_ce_sum_block, p.x, p.t, p.w, ce=ce, chunks=p.parts_chunks(),
                          dtype=_partial_dtype(a.work),
                          meta=_meta(p.x.ndim, _partial_dtype(a.work)),
                          token="fastact-cross-entropy-part")
    return p.finish(parts, p.denominator())


def cross_entropy_with_grad(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    grad_loss: Any = None,
) -> tuple[da.Array, da.Array]:
    """Cross-entropy loss and its gradient, lazily: ``(loss, dlogits)``.

    One fused ``fastact.cross_entropy_with_grad`` call per block gives both
    the block of ``dlogits`` and the block's losses; compute them together
    (``dask.compute(loss, dlogits)``, or ``da.store``) so each block's
    kernel runs once.

    Parameters
    ----------
    logits : dask array or array_like
        Chunked in any way along the sample axes; the class axis ``axis`` one
        chunk (else rechunked with a :class:`RechunkWarning`).
    target : dask array or array_like
        Class indices (the logits' shape without ``axis``) or probabilities
        (the logits' shape), rechunked to line up with the logits.  Labels
        out of range raise IndexError at compute time, naming the label and
        its position in the whole target.
    axis : int, default -1
        The class axis, as in ``fastact.cross_entropy``.
    weight : array_like of shape (C,), optional
        Class weights, as in ``fastact.cross_entropy``.  Concrete (a dask
        array raises TypeError: compute it first); held once in the graph.
    ignore_index : int, default -100
        As in :func:`cross_entropy`.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in :func:`cross_entropy`.
    label_smoothing : float, default 0.0
        As in :func:`cross_entropy`.
    grad_loss : scalar, 0-d dask array or array, optional
        As ``fastact.cross_entropy_with_grad``'s (default 1): a scalar (a 0-d
        dask array too) or, for ``"none"``, an array of the samples' shape
        (dask or NumPy, rechunked to line up with the samples).

    Returns
    -------
    loss : dask.array.Array
        As :func:`cross_entropy` returns it (same bound).
    dlogits : dask.array.Array
        Of the logits' shape, chunks and result dtype, bit-identical to the
        in-memory op's for ``"none"``, ``"sum"``, and ``"mean"`` without
        ``weight`` (or with probabilities), whose denominators are exact on
        both sides; a weighted ``"mean"``: see the Notes.

    Raises
    ------
    TypeError
        As the in-memory op when the graph is built; also for a dask
        ``weight``.
    ValueError
        As the in-memory op when the graph is built (shapes, options).
    IndexError
        At compute time, for a class index out of range: it names the label
        and its position in the whole target (the first bad label of the
        first block that fails, not necessarily the first in C order).

    See Also
    --------
    fastact.cross_entropy_with_grad : The in-memory op.
    cross_entropy : The loss alone.

    Notes
    -----
    With ``reduction="mean"`` and class indices, every block's gradient is
    scaled by the global denominator, which the graph forms first from the
    labels alone (one small task per block and one that adds them; the
    logits are not read for it), then passed to the block calls.

    A weighted ``"mean"`` of class indices scales by the correctly rounded
    weight sum, while the in-memory op adds its blocks' rounded sums (blocks
    of 32768 logits): when the labels span several of them the two can
    differ by about an ULP, and so can the gradients, relative to their
    terms (``p * coef`` and the target's term, which cancel at the target
    class), not to the result (measured: 14 of 300 random float64 cases, 0
    of 300 float32).

    Examples
    --------
    >>> import dask
    >>> x = np.arange(12.0).reshape(4, 3) / 4
    >>> t = np.array([0, 2, 1, 0])
    >>> loss, dlogits = fd.cross_entropy_with_grad(da.from_array(x, chunks=(2, 3)), t)
    >>> loss, dlogits = dask.compute(loss, dlogits)
    >>> ref_loss, ref_dlogits = fa.cross_entropy_with_grad(x, t)
    >>> np.array_equal(dlogits, ref_dlogits)
    True
    >>> bool(np.isclose(loss, ref_loss, rtol=1e-15, atol=0))
    True
    """
    p = _CE(logits, target, axis, weight, ignore_index, reduction, label_smoothing)
    a, ce = p.a, p.kw
    g, ga = _ce_grad_loss(grad_loss, a)
    if a.reduction == "none" and ga is not None and ga.ndim:
        g = da.expand_dims(_secondary(g if isinstance(g, da.Array) else None, ga,
                                      p.sample_chunks()), a.axis)
    den = p.denominator()
    both = da.map_blocks(_ce_grad_block, p.x, p.t, p.w, den, g, ce=ce, reduction=a.reduction,
                         dtype=object, meta=_meta(p.x.ndim, object),
                         token="fastact-cross-entropy-grad")
    dlogits = both.map_blocks(operator.getitem, 0, dtype=a.result,
                              meta=_meta(p.x.ndim, a.result), token="fastact-dlogits")
    if a.reduction == "none":
        chunks = tuple((1,) if d == a.axis else c for d, c in enumerate(p.x.chunks))
        loss = both.map_blocks(operator.getitem, 1, chunks=chunks, dtype=a.result,
                               meta=_meta(p.x.ndim, a.result), token="fastact-ce-losses")
        return loss[(slice(None),) * a.axis + (0,)], dlogits
    pd = _partial_dtype(a.work)
    parts = both.map_blocks(operator.getitem, 1, chunks=p.parts_chunks(), dtype=pd,
                            meta=_meta(p.x.ndim, pd), token="fastact-ce-part")
    return p.finish(parts, den), dlogits


# ------------------------------------------------ binary cross-entropy with logits


def _bce_block(x: np.ndarray, t: np.ndarray, w: Optional[np.ndarray], pw: Optional[np.ndarray],
               g: Any, *, reduction: str, work: np.dtype, result: np.dtype, grad: bool,
               n: int) -> Any:
    """fastact.binary_cross_entropy_with_logits[_with_grad] on a block:
    "none": the per-element losses (and dlogits); "sum"/"mean": the block's
    loss sum as an array of one element (and dlogits, the upstream gradient
    ``g`` divided by the global element count ``n`` for "mean")."""
    if reduction == "none":
        if grad:
            loss, dx = _fa.binary_cross_entropy_with_logits_with_grad(
                x, t, weight=w, pos_weight=pw, reduction="none", grad_loss=g)
            return dx, loss
        return _fa.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                    reduction="none")
    xw = x if x.dtype == work else x.astype(work)  # targets/weights convert to work either way
    red = "none" if work == ck.F32 else "sum"
    if grad:
        gs = _scale(g, None, n, reduction)
        v, dx = _fa.binary_cross_entropy_with_logits_with_grad(
            xw, t, weight=w, pos_weight=pw, reduction=red, grad_loss=gs)
    else:
        v = _fa.binary_cross_entropy_with_logits(xw, t, weight=w, pos_weight=pw, reduction=red)
    part = _block_sum(_sum_of_losses(v) if red == "none" else v, x.ndim, work)
    if not grad:
        return part
    return (dx if dx.dtype == result else dx.astype(result)), part


def _bce(logits: Any, target: Any, weight: Any, pos_weight: Any, reduction: Any,
         grad_loss: Any, grad: bool) -> Any:
    xl, xa = _input(logits, "logits")
    tl, ta = _input(target, "target")
    wl, wa = _input(weight, "weight") if weight is not None else (None, None)
    pl, pa = _input(pos_weight, "pos_weight") if pos_weight is not None else (None, None)
    a = ck.bce_prepare(xa, ta, wa, pa, reduction)
    gl, gv = _input(grad_loss, "grad_loss") if grad and grad_loss is not None else (None, None)
    gval = ck.bce_grad_loss(gv, a) if gv is not None else None
    xd = _main(xl, xa, (), "logits")
    td = _secondary(tl, ta, xd.chunks)
    wd = None if wa is None else _secondary(wl, wa, xd.chunks)
    pd = None if pa is None else _secondary(pl, pa, xd.chunks)
    g: Any = None
    if gv is not None:  # a float, a 0-d dask array, or an array of the logits' shape
        g = (gl if gl is not None else gval) if gv.ndim == 0 else _secondary(gl, gv, xd.chunks)
    n = math.prod(a.x.shape)
    kw = dict(reduction=a.reduction, work=a.work, result=a.result, grad=grad, n=n)

    def finish(parts: da.Array) -> da.Array:
        return _loss_of_parts(parts, None, reduction=a.reduction, result=a.result, count=n,
                              token="fastact-bce-loss")

    pdt = _partial_dtype(a.work)
    if not grad:
        if a.reduction == "none":
            return da.map_blocks(_bce_block, xd, td, wd, pd, None, dtype=a.result,
                                 meta=_meta(xd.ndim, a.result), token="fastact-bce", **kw)
        parts = da.map_blocks(_bce_block, xd, td, wd, pd, None, chunks=_one_per_block(xd),
                              dtype=pdt, meta=_meta(xd.ndim, pdt), token="fastact-bce-part",
                              **kw)
        return finish(parts)
    both = da.map_blocks(_bce_block, xd, td, wd, pd, g, dtype=object,
                         meta=_meta(xd.ndim, object), token="fastact-bce-grad", **kw)
    dlogits = both.map_blocks(operator.getitem, 0, dtype=a.result,
                              meta=_meta(xd.ndim, a.result), token="fastact-bce-dlogits")
    if a.reduction == "none":
        loss = both.map_blocks(operator.getitem, 1, dtype=a.result,
                               meta=_meta(xd.ndim, a.result), token="fastact-bce-losses")
        return loss, dlogits
    parts = both.map_blocks(operator.getitem, 1, chunks=_one_per_block(xd), dtype=pdt,
                            meta=_meta(xd.ndim, pdt), token="fastact-bce-part")
    return finish(parts), dlogits


@_shared_doc
def binary_cross_entropy_with_logits(
    logits: Any,
    target: Any,
    *,
    weight: Any = None,
    pos_weight: Any = None,
    reduction: str = "mean",
) -> da.Array:
    """Binary cross-entropy on logits, lazily.

    ``fastact.binary_cross_entropy_with_logits`` on every block.

    Parameters
    ----------
    logits : dask array or array_like
        Element-wise: any chunking.
    target : dask array or array_like
        Of the logits' shape, rechunked to line up with the logits.
    weight : dask array or array_like, optional
        Broadcastable to the logits' shape (dask or NumPy), rechunked to line
        up with the logits; as in ``fastact.binary_cross_entropy_with_logits``.
    pos_weight : dask array or array_like, optional
        As ``weight``.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in ``fastact.binary_cross_entropy_with_logits``; the "mean" is the
        sum divided by the global element count.

    Returns
    -------
    dask.array.Array
        ``"none"``: a dask array bit-identical to the in-memory op's;
        ``"sum"``/``"mean"``: a 0-d dask array, within the bounds stated in
        :func:`cross_entropy` (for non-negative losses: 2 ULP in float32, 5
        in float64; the in-memory op also sums in compensated fixed blocks).

    Raises
    ------
    {RAISES_GRAPH}

    See Also
    --------
    fastact.binary_cross_entropy_with_logits : The in-memory op.
    binary_cross_entropy_with_logits_with_grad : The loss and its gradient.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(4, 3) - 6
    >>> t = (np.arange(12.0).reshape(4, 3) % 2)
    >>> xd = da.from_array(x, chunks=2)
    >>> losses = fd.binary_cross_entropy_with_logits(xd, t, reduction="none")
    >>> np.array_equal(losses.compute(),
    ...                fa.binary_cross_entropy_with_logits(x, t, reduction="none"))
    True
    """
    return _bce(logits, target, weight, pos_weight, reduction, None, False)


@_shared_doc
def binary_cross_entropy_with_logits_with_grad(
    logits: Any,
    target: Any,
    *,
    weight: Any = None,
    pos_weight: Any = None,
    reduction: str = "mean",
    grad_loss: Any = None,
) -> tuple[da.Array, da.Array]:
    """Binary cross-entropy on logits and its gradient, lazily.

    ``(loss, dlogits)`` from one fused
    ``fastact.binary_cross_entropy_with_logits_with_grad`` call per block
    (compute them together).

    Parameters
    ----------
    logits : dask array or array_like
        Element-wise: any chunking.
    target : dask array or array_like
        Of the logits' shape, rechunked to line up with the logits.
    weight : dask array or array_like, optional
        Broadcastable to the logits' shape (dask or NumPy), rechunked to line
        up with the logits; as in
        :func:`binary_cross_entropy_with_logits`.
    pos_weight : dask array or array_like, optional
        As ``weight``.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in ``fastact.binary_cross_entropy_with_logits``; the "mean" is the
        sum divided by the global element count.
    grad_loss : scalar, 0-d dask array or array, optional
        A scalar (a 0-d dask array too) or, for ``"none"``, an array of the
        logits' shape; default 1.

    Returns
    -------
    loss : dask.array.Array
        As :func:`binary_cross_entropy_with_logits`.
    dlogits : dask.array.Array
        Bit-identical to the in-memory op's (the "mean" divides the upstream
        gradient by the global element count, known from the shape).

    Raises
    ------
    {RAISES_GRAPH}

    See Also
    --------
    fastact.binary_cross_entropy_with_logits_with_grad : The in-memory op.
    binary_cross_entropy_with_logits : The loss alone.

    Examples
    --------
    >>> import dask
    >>> x = np.arange(12.0).reshape(4, 3) - 6
    >>> t = (np.arange(12.0).reshape(4, 3) % 2)
    >>> res = fd.binary_cross_entropy_with_logits_with_grad(da.from_array(x, chunks=2), t)
    >>> loss, dlogits = dask.compute(*res)
    >>> ref_loss, ref_dlogits = fa.binary_cross_entropy_with_logits_with_grad(x, t)
    >>> np.array_equal(dlogits, ref_dlogits)
    True
    """
    return _bce(logits, target, weight, pos_weight, reduction, grad_loss, True)


# ------------------------------------------------------ linear cross-entropy
# Graph: every block of rows of h (its d axis unsplit) is one call of
# fastact.linear_cross_entropy with reduction="none" on the whole W (bias,
# class weights), each held once in the graph as one task the block tasks
# share.  The "sum"/"mean" loss adds the blocks' exact loss sums as
# cross_entropy's does (one task, math.fsum), the "mean" over the global
# denominator formed first from the targets alone.  With the gradients the
# same call per block gives its losses, its rows of dh and its partials of
# dW and dbias (a W-sized array each): those are added by a tree of tasks
# of up to ``split_every`` partials each (dask.array.reduction), never
# concatenated.


def _as_given(a: Any, name: str) -> tuple[Optional[da.Array], np.ndarray]:
    """``(lazy, arr)`` as _input, but a concrete input as np.asarray gives it
    (an ndarray, a masked one included, kept as is), for the in-memory op's
    own checks and messages."""
    if isinstance(a, da.Array):
        return _input(a, name)
    return None, a if isinstance(a, np.ndarray) else np.asarray(a)


def _lce_validate(h: np.ndarray, W: np.ndarray, target: np.ndarray, bias: Optional[np.ndarray],
                  grad_loss: Optional[np.ndarray], given_grad_loss: Any,
                  kw: dict[str, Any]) -> np.dtype:
    """Validate a linear_cross_entropy call as the in-memory op does (its
    exceptions and messages), computing nothing: the in-memory op itself on
    an empty batch (h's columns, W's shape; the inputs given as stand-ins
    of their shape and dtype or as zero-row slices), and, when the target or
    grad_loss does not fit h's N rows, on stand-ins of N rows (it raises
    before computing).  The arguments are the concrete inputs or the lazy
    ones' stand-ins (``given_grad_loss``: the concrete grad_loss as given,
    for the op's own conversion); ``kw`` the other keyword arguments.
    Returns the dtype of the results."""
    lce = _fa.linear_cross_entropy
    tiny_bias = None if bias is None else np.zeros(1, bias.dtype)
    dt = lce(np.zeros((0, 1), h.dtype), np.zeros((1, 1), W.dtype), np.zeros(0, ck.I64),
             bias=tiny_bias, reduction="none").dtype
    # W as the dtype of the results: the op's cast of it is then no copy
    w_probe = W if W.dtype == dt or isinstance(W, np.ma.MaskedArray) else _stand_in(W.shape, dt)
    g_probe = given_grad_loss
    if grad_loss is not None and grad_loss.ndim and kw["reduction"] == "none":
        g_probe = _stand_in((0,), grad_loss.dtype)
    lce(h[:0] if h.ndim else h, w_probe, _stand_in((0,), target.dtype), bias=bias,
        grad_loss=g_probe, **kw)
    N = h.shape[0]
    bad_g = (grad_loss is not None and kw["return_grad"] and kw["reduction"] == "none"
             and grad_loss.shape not in ((), (N,)))
    if target.shape != (N,) or bad_g:
        lce(_stand_in((N, h.shape[1]), dt), w_probe, _stand_in(target.shape, target.dtype),
            bias=bias, grad_loss=given_grad_loss, **kw)  # raises
    return np.dtype(dt)


def _whole(lazy: Optional[da.Array], arr: np.ndarray, axes: tuple[int, ...], name: str,
           dtype: Optional[np.dtype]) -> Any:
    """An input every block task reads whole (W, bias, class weights): one
    block (a NumPy input wrapped; a dask one split along ``axes`` rechunked,
    with a RechunkWarning), cast to ``dtype``, as the Delayed of that block,
    one task the block tasks share."""
    a = _main(lazy, arr, axes, name)
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    return a.to_delayed().ravel()[0]


def _lce_label_block(t: np.ndarray, *, V: int, ignore_index: int, weighted: bool,
                     block_info: Any = None) -> np.ndarray:
    """A block of targets (a column) checked, as its part of the "mean"
    denominator (_label_part)."""
    t = t[:, 0]
    _lce.check_targets(t, V, ignore_index, block_info[0]["array-location"][0][0])
    return _label_part(t, ignore_index, weighted, 2)


def _lce_block(h: np.ndarray, t: np.ndarray, den: Any, g: Any, W: np.ndarray,
               bias: Optional[np.ndarray], weight: Optional[np.ndarray], *, lce: dict[str, Any],
               V: int, reduction: str, grad: bool, block_info: Any = None) -> Any:
    """fastact.linear_cross_entropy on a block of rows of h (``t``: their
    targets as a column), with reduction="none": its per-sample losses as a
    column ("none"), or their sum as an array of one element
    ("sum"/"mean"); with ``grad`` the tuple of that, the block's dh, and
    its partials of dW and dbias (float64; None without a bias) with a
    leading axis of length 1.  Every row's upstream gradient is ``g``
    ("none": a scalar or a column of per-sample values; None: 1), or for
    "mean" ``g / den``, ``den`` the global denominator (a 0-d array)."""
    t = t[:, 0]
    gl = None
    if grad:
        if reduction == "none":
            gl = g[:, 0] if isinstance(g, np.ndarray) and g.ndim else g
        else:
            gl = _scale(g, den, None, reduction)
    try:
        r = _fa.linear_cross_entropy(h, W, t, bias=bias, weight=weight, reduction="none",
                                     return_grad=grad, grad_loss=gl, **lce)
    except IndexError:
        _lce.check_targets(t, V, lce["ignore_index"], block_info[0]["array-location"][0][0])
        raise
    losses = r[0] if grad else r
    part = losses[:, None] if reduction == "none" else _block_sum(_fsum(losses), 2, losses.dtype)
    if not grad:
        return part
    dbias = r[3].astype(np.float64)[None] if len(r) > 3 else None
    return part, r[1], r[2][None], dbias


def _keep_block(x: np.ndarray, axis: Any = None, keepdims: bool = True) -> np.ndarray:
    return x


def _add_blocks(blocks: Any, axis: Any = None, keepdims: bool = True,
                dtype: Any = None) -> np.ndarray:
    """The sum of a list of blocks of one shape (a step of _tree_sum): the
    first two added into a new array, the others into it in place; the last
    step (``keepdims`` False) drops the leading axis and casts to ``dtype``."""
    items = blocks if isinstance(blocks, list) else [blocks]
    total = items[0]
    if len(items) > 1:
        total = items[0] + items[1]
        for b in items[2:]:
            np.add(total, b, out=total)
    if dtype is not None:
        total = total.astype(dtype, copy=False)
    return total if keepdims else total[0]


def _tree_sum(parts: da.Array, dtype: np.dtype, split_every: Optional[int],
              name: str) -> da.Array:
    """The sum of the blocks of ``parts`` along its axis 0 (each of length
    1 there), as ``dtype``: a tree of tasks adding up to ``split_every`` of
    them each (dask.array.reduction; None: dask's ``split_every`` setting,
    4 by default) in the dtype of the parts."""
    return da.reduction(parts, _keep_block, _add_blocks, combine=_add_blocks, axis=0,
                        dtype=dtype, split_every=split_every, concatenate=False,
                        meta=_meta(parts.ndim - 1, dtype), name=name)


def _split_every(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("split_every must be an int >= 2 or None; got a bool")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"split_every must be an int >= 2 or None; got "
                        f"{type(value).__name__}") from None
    if n < 2:
        raise ValueError(f"split_every must be an int >= 2 or None; got {n}")
    return n


@_shared_doc
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
    split_every: Optional[int] = None,
) -> Any:
    """Cross-entropy of a linear classifier head, lazily, by blocks of rows.

    ``fastact.linear_cross_entropy`` on every block of rows of ``h``: the
    loss of ``cross_entropy(h @ W + bias, target)`` and, with
    ``return_grad=True``, its gradients, without the ``(N, V)`` logits.
    ``"none"`` gives the per-sample losses; ``"sum"`` and ``"mean"`` add the
    blocks' loss sums, the mean over a global denominator.

    Parameters
    ----------
    h : dask array or array_like of shape (N, d)
        Hidden states, chunked in any way along N; along d one chunk (else
        rechunked with a :class:`RechunkWarning`).  A NumPy array is wrapped
        in blocks of rows (dask's "auto" size).
    W : array_like or dask array of shape (d, V), or (V, d) with ``transpose_W``
        The head's weight, read whole by every block task (one task of the
        graph holds it; a dask array is rechunked to one block, with a
        :class:`RechunkWarning` if split).
    target : dask array or array_like of shape (N,)
        Integer class indices, rechunked to h's rows.  Labels out of
        ``[0, V)`` that are not ``ignore_index`` raise IndexError at compute
        time, naming the label and its position in the whole target.
    bias : array_like or dask array of shape (V,), optional
        Added to every row of logits; held as ``W``.
    transpose_W : bool, default False
        As in ``fastact.linear_cross_entropy``: ``W`` (and ``dW``) as
        ``(V, d)``.
    weight : array_like of shape (V,), optional
        Class weights, as in ``fastact.linear_cross_entropy``.  Concrete (a
        dask array raises TypeError: compute it first).
    ignore_index : int, default -100
        As in ``fastact.linear_cross_entropy``.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in ``fastact.linear_cross_entropy``; the "mean" divides the sum of
        all the losses by the global denominator (the weights of the
        non-ignored targets, or their count), never a mean of block means.
    label_smoothing : float, default 0.0
        As in ``fastact.linear_cross_entropy``.
    chunk : int, optional
        Passed to every block's call: the most logits one block of its rows
        holds at a time (default 2^23).
    return_grad : bool, default False
        Also return the gradients.
    grad_loss : scalar, 0-d dask array or array, optional
        The upstream gradient (``return_grad=True`` only), as in
        ``fastact.linear_cross_entropy``: a scalar (a 0-d dask array too)
        for ``"sum"``/``"mean"`` (default 1), a scalar or shape ``(N,)`` for
        ``"none"`` (dask or NumPy, rechunked to h's rows).
    split_every : int, optional
        The most partials of ``dW`` (and ``dbias``) one task adds (at least
        2); default dask's ``split_every`` setting (4).

    Returns
    -------
    loss : dask.array.Array
        ``"none"``: the per-sample losses, shape ``(N,)`` chunked as h's
        rows; ``"sum"``/``"mean"``: a 0-d dask array that computes to a
        NumPy scalar of the result dtype.
    dh : dask.array.Array
        Only with ``return_grad=True``: shape ``(N, d)``, chunked as h.
    dW : dask.array.Array
        Only with ``return_grad=True``: of W's shape, one block.
    dbias : dask.array.Array
        Only with ``return_grad=True`` and a ``bias``: shape ``(V,)``, one
        block.

    Raises
    ------
    {RAISES_GRAPH}
    IndexError
        At compute time, for a class index out of range: the in-memory op's
        message with the label's position in the whole target (the first
        bad label of the first block that fails).

    See Also
    --------
    fastact.linear_cross_entropy : The in-memory op.
    cross_entropy_with_grad : The loss and gradient of given logits.

    Notes
    -----
    Validation runs the in-memory op on stand-ins of an empty batch (no
    memory, nothing computed), so the graph is built only for calls the
    in-memory op accepts, with its exceptions; a dask ``weight`` raises
    TypeError as well.  Labels are values: they are checked by the block
    tasks.

    Each block's call computes its losses and gradients as the in-memory
    op does on those rows (the same kernels; the per-sample upstream
    gradient of a "mean" is ``grad_loss / D`` with ``D`` the same exact
    global denominator, formed first from the targets alone: one small
    task per block of targets and one that adds them): called on the same
    rows, the in-memory op gives the same per-sample losses, ``dh`` and
    partials bit for bit.  Over the whole batch, its logits are BLAS
    products of its own blocks of rows, which may differ in their last bits
    (as its results depend on ``chunk``); so may the per-sample losses and,
    through them, the gradients (measured on small heads, d <= 64: the
    losses within 2 ULP, the gradients within 25 ``eps`` of their terms'
    magnitudes, e.g. ``|h|.T @ |dZ|`` for ``dW``).  The same goes for a W
    at an unaligned address, on which NumPy's matmul does without BLAS (a
    dask.distributed worker may hold one).  The "sum"/"mean" adds each
    block's losses exactly
    (``math.fsum``), then the blocks' sums exactly: within an ULP of the
    in-memory op's single exact sum of the same losses (non-negative
    ones).  ``dW`` adds the blocks' partials in the result dtype, as the
    in-memory op adds its blocks' products, but in a tree, rounded
    differently; ``dbias`` adds the blocks' (each rounded to the result
    dtype) in float64.

    Memory: every block task makes a W-sized ``dW`` partial, held until the
    tree adds it: about (blocks in flight + ``split_every``) times W's size.
    Compute the results together (``dask.compute(loss, dh, dW)``) so each
    block's call runs once.

    Examples
    --------
    >>> import dask
    >>> rng = np.random.default_rng(0)
    >>> h = rng.standard_normal((6, 4))
    >>> W = rng.standard_normal((4, 10))
    >>> t = np.array([1, 0, 9, 3, 3, 7])
    >>> hd = da.from_array(h, chunks=(2, 4))
    >>> loss = fd.linear_cross_entropy(hd, W, t)
    >>> loss.shape
    ()
    >>> bool(np.isclose(loss.compute(), fa.linear_cross_entropy(h, W, t), rtol=1e-15, atol=0))
    True
    >>> loss, dh, dW = dask.compute(*fd.linear_cross_entropy(hd, W, t, return_grad=True))
    >>> _, ref_dh, ref_dW = fa.linear_cross_entropy(h, W, t, return_grad=True)
    >>> bool(np.allclose(dh, ref_dh) and np.allclose(dW, ref_dW))
    True
    """
    hl, ha = _as_given(h, "h")
    Wl, Wa = _as_given(W, "W")
    tl, ta = _as_given(target, "target")
    bl, ba = _as_given(bias, "bias") if bias is not None else (None, None)
    gl, ga = _as_given(grad_loss, "grad_loss") if grad_loss is not None else (None, None)
    if isinstance(weight, da.Array):
        raise TypeError(
            "weight must be an array_like of shape (V,), not a dask array "
            "(class weights are small: pass weight.compute())"
        )
    every = _split_every(split_every)
    kw = dict(transpose_W=transpose_W, weight=weight, ignore_index=ignore_index,
              reduction=reduction, label_smoothing=label_smoothing, chunk=chunk,
              return_grad=return_grad)
    dt = _lce_validate(ha, Wa, ta, ba, ga, ga if gl is not None else grad_loss, kw)
    V = Wa.shape[0] if transpose_W else Wa.shape[1]
    ignore = operator.index(ignore_index)

    hd = _main(hl, ha, (1,), "h")
    rows = hd.chunks[0]
    td = da.expand_dims(_secondary(tl, ta, (rows,)), 1)
    Wx = _whole(Wl, Wa, (0, 1), "W", dt)
    bx = None if ba is None else _whole(bl, ba, (0,), "bias", dt)
    wx = None if weight is None else _whole(None, np.asarray(weight), (0,), "weight", None)
    den = None
    if reduction == "mean":
        parts = da.map_blocks(_lce_label_block, td, V=V, ignore_index=ignore,
                              weighted=weight is not None, chunks=_one_per_block(td),
                              dtype=object, meta=_meta(2, object), token="fastact-lce-labels")
        w64 = None if weight is None else np.asarray(weight, dtype=np.float64)
        den = _global_denominator(parts, V, w64, "fastact-lce-denominator")
    block_kw = dict(lce=dict(transpose_W=bool(transpose_W), ignore_index=ignore,
                             label_smoothing=label_smoothing, chunk=chunk),
                    V=V, reduction=reduction, grad=bool(return_grad))
    # the block tasks' losses: a column per block ("none") or one sum each
    none = reduction == "none"
    part_chunks = (rows, (1,)) if none else _one_per_block(hd)
    part_dtype = dt if none else _partial_dtype(dt)

    def loss_of(parts: da.Array) -> da.Array:
        if none:
            return parts[:, 0]
        return _loss_of_parts(parts, den, reduction=reduction, result=dt, count=None,
                              token="fastact-lce-loss")

    if not return_grad:
        return loss_of(da.map_blocks(_lce_block, hd, td, None, None, Wx, bx, wx,
                                     chunks=part_chunks, dtype=part_dtype,
                                     meta=_meta(2, part_dtype), token="fastact-lce",
                                     **block_kw))
    g: Any = None
    if ga is not None:
        if none and ga.ndim:
            g = da.expand_dims(_secondary(gl, ga, (rows,)), 1)
        else:
            g = gl if gl is not None else float(np.asarray(ga, dtype=np.float64))
    both = da.map_blocks(_lce_block, hd, td, den, g, Wx, bx, wx, dtype=object,
                         meta=_meta(2, object), token="fastact-lce-grad", **block_kw)

    def item(k: int, chunks: Chunks, dtype: np.dtype, token: str, **extra: Any) -> da.Array:
        return both.map_blocks(operator.getitem, k, chunks=chunks, dtype=dtype,
                               meta=_meta(len(chunks), dtype), token=token, **extra)

    one = ((1,) * len(rows),)
    loss = loss_of(item(0, part_chunks, part_dtype, "fastact-lce-loss-part"))
    dh = item(1, hd.chunks, dt, "fastact-lce-dh")
    dW_parts = item(2, one + tuple((s,) for s in Wa.shape), dt, "fastact-lce-dW-part",
                    new_axis=[2])
    dW = _tree_sum(dW_parts, dt, every, "fastact-lce-dW")
    if ba is None:
        return loss, dh, dW
    dbias = _tree_sum(item(3, one + ((V,),), np.dtype(np.float64), "fastact-lce-dbias-part"),
                      dt, every, "fastact-lce-dbias")
    return loss, dh, dW, dbias
