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
* Reduction axes (softmax's groups, cross_entropy's class axis) must be
  one chunk per block.  An input chunked along one is rechunked to one
  chunk there, keeping its other chunks, with a :class:`RechunkWarning`.
  Batch axes may be chunked in any way.
* Results equal the in-memory function's: bit for bit for the element-wise
  and per-group ops, the per-sample losses and the gradients (but those of
  a weighted "mean": see :func:`cross_entropy_with_grad`); the
  ``"sum"``/``"mean"`` losses within the bound given in
  :func:`cross_entropy` (blocks are summed separately and combined).
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


def _sum_partials(parts: np.ndarray) -> Any:
    """All blocks' loss sums added: correctly rounded for float64 (math.fsum:
    the same whatever the chunking), in longdouble for longdouble."""
    if parts.dtype == ck.LONGDOUBLE:
        return np.sum(parts, dtype=ck.LONGDOUBLE)
    return math.fsum(parts.ravel().tolist())


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
    t = t.astype(np.int64)  # checked: each in [0, C) or ignore_index
    keep = t != ce["ignore_index"]
    out = np.empty((1,) * (t.ndim + 1), dtype=object)
    if not ce["weighted"]:
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
        ind = "".join(chr(ord("a") + d) for d in range(self.x.ndim))
        return da.blockwise(_denominator, "", parts, ind, concatenate=True, C=self.a.C,
                            weight=self.a.weight, dtype=np.float64,
                            meta=np.empty((), np.float64), token="fastact-ce-denominator")

    def finish(self, parts: da.Array, den: Optional[da.Array]) -> da.Array:
        """The "sum"/"mean" loss from the blocks' partial sums (0-d dask array)."""
        ind = "".join(chr(ord("a") + d) for d in range(self.x.ndim))
        args: list[Any] = [parts, ind] + ([den, ""] if den is not None else [])
        return da.blockwise(_finish_loss, "", *args, concatenate=True,
                            reduction=self.a.reduction, result=self.a.result,
                            count=self.kw["n_samples"], dtype=self.a.result,
                            meta=np.empty((), self.a.result), token="fastact-ce-loss")


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
    ind = "".join(chr(ord("a") + d) for d in range(xd.ndim))

    def finish(parts: da.Array) -> da.Array:
        return da.blockwise(_finish_loss, "", parts, ind, concatenate=True,
                            reduction=a.reduction, result=a.result, count=n, dtype=a.result,
                            meta=np.empty((), a.result), token="fastact-bce-loss")

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
