"""Docstrings shared by the native path (``fastact._api``) and the NumPy twin
(``fastact.numpy_impl``): one text per op, so both document the same
semantics.

They are numpydoc docstrings (the API reference in ``docs/`` is built from
them, with numpydoc's validation).  Their examples assume ``import numpy as
np`` and ``fa``, the module whose function is documented: ``import fastact
as fa`` for the public functions, ``import fastact.numpy_impl as fa`` for
the twin; the docs' doctests (``.ci/docs``) run them both ways, so their
outputs must hold for the native kernels and for the twin (rounded where the
two may differ in the last bits)."""

# ------------------------------------------- pieces shared by several ops

_DTYPES = """
    Dtypes: float32 and float64 compute and return in their own precision;
    float16 computes in float32 and returns float16; bool and integer inputs
    are promoted to float64; longdouble is computed by the NumPy twin in
    longdouble.  Complex, object, string and other dtypes raise TypeError,
    as does a ``numpy.ma.MaskedArray`` (its mask would be ignored: pass
    ``x.filled(v)`` or ``np.asarray(x)``).  Any other array-like, memory
    layout or byte order is accepted.  Arrays of other libraries exporting
    DLPack (``__dlpack__``: PyTorch tensors, JAX and CuPy arrays) are read
    in place, without a copy, when they are in CPU memory; on another device
    (e.g. ``cuda:0``), refused by their library (a PyTorch tensor that
    requires grad) or of a dtype NumPy lacks (bfloat16) they raise
    TypeError.  Results are NumPy arrays (NumPy scalars for 0-d results)."""

_OUT = """
    out : ndarray, optional
        Where to write the result: a writeable ndarray of exactly the result's
        shape (ValueError otherwise) and dtype (TypeError otherwise), in any
        layout.  It may be ``x`` itself (in place) or overlap ``x``
        partially; the result is still exact.  Nothing is written to it when
        an exception is raised."""

_AXIS = """
    axis : int, tuple of ints or None, default -1
        The axes of each group ("row").  None means all axes (the shape is
        kept).  Negative values count from the end.  Out of range, however
        large: ``numpy.exceptions.AxisError`` (a ValueError and an
        IndexError); repeated: ValueError; not integers (bools included):
        TypeError.  ``axis=()`` makes every element its own group.  A 0-d
        input is one group of one element: it takes the default -1, 0, None
        or ``()`` (as NumPy's reductions)."""

_WHERE = """
    where : array_like of bool, optional
        Which entries take part (True = keep), as ``jax.nn.softmax``'s
        ``where``: broadcastable to x's shape by NumPy's rules (e.g. a
        ``(T, T)`` causal mask for ``(B, H, T, T)`` attention scores, a
        ``(B, 1, 1, T)`` padding mask).  Its dtype must be bool: any other
        (float or integer 0/1 masks included) raises TypeError, as does a
        ``numpy.ma.MaskedArray``; a shape that does not broadcast to x's
        raises ValueError (both before anything is written).  Each group is
        computed over its kept entries only, exactly as the unmasked op over
        those entries (same special values and accuracy bounds); the
        masked-out entries are exactly 0 (log_softmax: -inf), whatever they
        hold (NaN and +-inf there are ignored); a group with nothing kept is
        all 0 (-inf).  A kept NaN or +inf makes the kept entries of its
        group NaN (the masked-out ones stay 0 / -inf).  None (the default)
        is the unmasked op, unchanged.  The native kernels read the mask as
        a broadcast view, never expanded to x's size, for a single axis
        (last or not); several axes or axis=None expand it along the
        reduced axes (and the ones after them), i.e. at most to x's size.
        A mask sharing memory with ``out`` is fine: the result goes through
        a temporary."""

# Raises sections (bodies), one per family of signatures
_RAISES_REDUCE = """
    TypeError
        ``x`` of a complex, object, string or other non-real dtype, or a
        ``numpy.ma.MaskedArray``; an axis that is not an integer (bools
        included); ``where`` whose dtype is not bool, or a masked array;
        ``out`` that is not an ndarray, or whose dtype is not the result's.
    ValueError
        A repeated axis; ``where`` whose shape does not broadcast to x's;
        ``out`` whose shape is not the result's, or that is read-only.
    numpy.exceptions.AxisError
        An axis out of range, however large (a ValueError and an
        IndexError)."""

_RAISES_LOGSUMEXP = """
    TypeError
        ``x`` of a complex, object, string or other non-real dtype, or a
        ``numpy.ma.MaskedArray``; an axis that is not an integer (bools
        included); ``out`` that is not an ndarray, or whose dtype is not the
        result's.
    ValueError
        A repeated axis; ``out`` whose shape is not the result's, or that is
        read-only.
    numpy.exceptions.AxisError
        An axis out of range, however large (a ValueError and an
        IndexError)."""

_RAISES_MAP = """
    TypeError
        ``x`` of a complex, object, string or other non-real dtype, or a
        ``numpy.ma.MaskedArray``; ``out`` that is not an ndarray, or whose
        dtype is not the result's.
    ValueError
        ``out`` whose shape is not the result's, or that is read-only."""

_RAISES_SLOPE_MAP = """
    TypeError
        ``x`` of a complex, object, string or other non-real dtype, or a
        ``numpy.ma.MaskedArray``; a ``negative_slope`` that is a bool,
        complex number, string, array or None; ``out`` that is not an
        ndarray, or whose dtype is not the result's.
    ValueError
        A ``negative_slope`` int too large for a float; ``out`` whose shape
        is not the result's, or that is read-only."""

_RAISES_MAP2 = """
    TypeError
        An input of a complex, object, string or other non-real dtype (the
        message names it), or a ``numpy.ma.MaskedArray``; ``out`` that is
        not an ndarray, or whose dtype is not the result's.
    ValueError
        Inputs of different shapes (the message names both); ``out`` whose
        shape is not the result's, or that is read-only."""

_RAISES_SLOPE_MAP2 = """
    TypeError
        An input of a complex, object, string or other non-real dtype (the
        message names it), or a ``numpy.ma.MaskedArray``; a
        ``negative_slope`` that is a bool, complex number, string, array or
        None; ``out`` that is not an ndarray, or whose dtype is not the
        result's.
    ValueError
        Inputs of different shapes (the message names both); a
        ``negative_slope`` int too large for a float; ``out`` whose shape is
        not the result's, or that is read-only."""

# ------------------------------------------- softmax, log_softmax, logsumexp

SOFTMAX = f"""Softmax along ``axis``: ``exp(x - m) / sum(exp(x - m))`` per group.

    ``m`` is the group's maximum (so no overflow).

    Parameters
    ----------
    x : array_like
        The input, of any shape (0-d included).
    {_AXIS.strip()}
    {_WHERE.strip()}
    {_OUT.strip()}

    Returns
    -------
    ndarray or numpy.floating
        The softmax, of x's shape (``out`` if given); a 0-d input gives a
        NumPy scalar when ``out`` is None, as ufuncs and ``scipy.special``
        do.

    Raises
    ------
    {_RAISES_REDUCE.strip()}

    See Also
    --------
    log_softmax : The logarithm of the softmax, computed directly.
    logsumexp : The log of the denominator.
    softmax_backward : The gradient of softmax.

    Notes
    -----
    Special values, per group (a NaN result's payload is not specified):
    any NaN makes the whole group NaN; a +inf (with no NaN) makes it NaN
    too; a group that is all -inf is NaN; a -inf in a group with a finite
    maximum gives 0.  An empty group gives an empty result.

    Accuracy: native float32 within 2 ULP of the exact softmax of the input
    (computed in float64), float64 within 4 ULP (``x - m`` is formed exactly
    and the sum is compensated).

    {_DTYPES.strip()}

    Examples
    --------
    >>> x = np.array([[1.0, 2.0, 3.0],
    ...               [0.0, 0.0, -np.inf]])
    >>> fa.softmax(x).round(4)
    array([[0.09  , 0.2447, 0.6652],
           [0.5   , 0.5   , 0.    ]])
    >>> fa.softmax(x, axis=0).round(4)
    array([[0.7311, 0.8808, 1.    ],
           [0.2689, 0.1192, 0.    ]])
    >>> fa.softmax(np.array([1.0, np.inf]))
    array([nan, nan])

    A causal mask, broadcast over the scores:

    >>> scores = np.zeros((3, 3))
    >>> causal = np.tril(np.ones((3, 3), dtype=bool))
    >>> fa.softmax(scores, where=causal).round(4)
    array([[1.    , 0.    , 0.    ],
           [0.5   , 0.5   , 0.    ],
           [0.3333, 0.3333, 0.3333]])

    float32 stays float32; ``out`` receives the result:

    >>> x32 = x.astype(np.float32)
    >>> out = np.empty_like(x32)
    >>> fa.softmax(x32, out=out) is out
    True
    >>> out.dtype
    dtype('float32')
    >>> fa.softmax(x, axis=2)
    Traceback (most recent call last):
        ...
    numpy.exceptions.AxisError: axis 2 is out of bounds for array of dimension 2
    """

LOG_SOFTMAX = f"""Log-softmax along ``axis``: ``(x - m) - log(sum(exp(x - m)))`` per group.

    ``m`` is the group's maximum.

    Parameters
    ----------
    x : array_like
        The input, of any shape (0-d included).
    {_AXIS.strip()}
    {_WHERE.strip()}
    {_OUT.strip()}

    Returns
    -------
    ndarray or numpy.floating
        The log-softmax, of x's shape (``out`` if given); a 0-d input gives
        a NumPy scalar when ``out`` is None, as ufuncs and ``scipy.special``
        do.

    Raises
    ------
    {_RAISES_REDUCE.strip()}

    See Also
    --------
    softmax : Its exponential.
    logsumexp : The normaliser ``log(sum(exp(x)))``.
    log_softmax_backward : The gradient of log_softmax.
    cross_entropy : The loss built on it.

    Notes
    -----
    Special values, per group (a NaN result's payload is not specified):
    NaN anywhere, +inf anywhere, or all -inf give a group of NaN; a -inf in
    a group with a finite maximum gives -inf.  An empty group gives an empty
    result.

    Accuracy: native within 2 ULP (float32) / 4 ULP (float64) of each output,
    also when the group is dominated by one element (``log1p`` of the sum of
    the other terms).

    {_DTYPES.strip()}

    Examples
    --------
    >>> x = np.array([[1.0, 2.0, 3.0],
    ...               [0.0, 0.0, -np.inf]])
    >>> fa.log_softmax(x).round(4)
    array([[-2.4076, -1.4076, -0.4076],
           [-0.6931, -0.6931,    -inf]])
    >>> bool(np.allclose(np.exp(fa.log_softmax(x)), fa.softmax(x)))
    True

    A dominant element keeps full relative accuracy (``log(1 + e)`` with
    ``e = exp(-40)``, far below float64's epsilon):

    >>> y = fa.log_softmax(np.array([0.0, -40.0]))
    >>> bool(np.isclose(y[0], -np.exp(-40.0), rtol=1e-15, atol=0))
    True
    """

LOGSUMEXP = f"""Log of the sum of the exponentials over ``axis``: ``log(sum(exp(x)))``.

    Computed as ``m + log(sum(exp(x - m)))``, ``m`` the group's maximum (so
    no overflow).

    Parameters
    ----------
    x : array_like
        The input, of any shape (0-d included).
    {_AXIS.strip()}
    keepdims : bool, default False
        Keep the reduced axes with length 1.
    {_OUT.strip()}

    Returns
    -------
    ndarray or numpy.floating
        An ndarray of the reduced shape, or a NumPy scalar when that shape
        is ``()`` and ``out`` is None (as NumPy reductions).

    Raises
    ------
    {_RAISES_LOGSUMEXP.strip()}

    See Also
    --------
    log_softmax : ``x`` minus its logsumexp.
    softmax : ``exp(x - logsumexp(x))``.

    Notes
    -----
    Special values, per group (a NaN result's payload is not specified):
    NaN anywhere gives NaN; +inf (no NaN) gives +inf; all -inf gives -inf;
    an empty group gives -inf.

    Accuracy: native within 2 ULP (float32) / 4 ULP (float64).  Where the
    result nearly cancels (``m < 0`` and ``log(sum(exp(x - m)))`` close to
    ``-m``), the group is recomputed in double-double (float64; float32 in
    double), which keeps the bound down to results about 1e-13 times ``|m|``;
    below that the error grows (the limit of double-double).

    {_DTYPES.strip()}

    Examples
    --------
    >>> x = np.array([[1.0, 2.0, 3.0],
    ...               [0.0, 0.0, -np.inf]])
    >>> fa.logsumexp(x).round(4)
    array([3.4076, 0.6931])
    >>> fa.logsumexp(x, keepdims=True).shape
    (2, 1)
    >>> fa.logsumexp(x, axis=None).round(4)
    np.float64(3.4717)
    >>> fa.logsumexp(np.array([1000.0, 1000.0])).round(4)
    np.float64(1000.6931)
    >>> fa.logsumexp(np.array([-np.inf, -np.inf])), fa.logsumexp(np.array([]))
    (np.float64(-inf), np.float64(-inf))
    """

# ------------------------------------------- relu

RELU = f"""Rectified linear unit, elementwise: ``x`` where ``x > 0``, else ``+0.0``.

    This is IEEE 754-2019 ``maximum(x, +0.0)``: NaN stays NaN (same bits),
    ``relu(-0.0)`` is ``+0.0``, -inf gives +0.0, +inf stays +inf.  The native
    kernel and the NumPy twin (``np.maximum(x, 0)``) agree bit for bit.

    Parameters
    ----------
    x : array_like
        The input, of any shape (0-d included).
    {_OUT.strip()}

    Returns
    -------
    ndarray or numpy.generic
        An ndarray of x's shape (``out`` if given); a NumPy scalar for a 0-d
        input when ``out`` is None (as ufuncs).

    Raises
    ------
    {_RAISES_MAP.strip()}

    See Also
    --------
    relu_backward : The gradient of relu.
    leaky_relu : A small slope instead of 0 for ``x <= 0``.

    Notes
    -----
    Dtypes: float32 and float64 run the native kernel; float16 computes in
    float32 and returns float16; longdouble is computed by the NumPy twin.
    Integer and bool inputs keep their dtype, as ``np.maximum(x, 0)`` and
    ``torch.relu`` (exact; unsigned and bool values are returned as they
    are), so ``out`` must then have x's dtype.  Complex, object, string and
    other dtypes raise TypeError, as does a ``numpy.ma.MaskedArray``.

    Examples
    --------
    >>> fa.relu(np.array([-2.0, -0.0, 1.5, np.inf, np.nan]))
    array([0. , 0. , 1.5, inf, nan])
    >>> np.signbit(fa.relu(np.array([-0.0])))
    array([False])
    >>> fa.relu(np.array([-3, 0, 7]))
    array([0, 0, 7])
    """

# ------------------------------------------- cross_entropy

CROSS_ENTROPY = """Cross-entropy loss between ``logits`` and ``target``.

    The semantics of PyTorch's ``torch.nn.functional.cross_entropy``, with
    the class axis given by ``axis``.

    Parameters
    ----------
    logits : array_like, at least 1-D
        Unnormalised scores; ``C = logits.shape[axis]`` classes (C == 0:
        ValueError).  ``axis=1`` reads ``(N, C, d1, d2, ...)`` logits as
        PyTorch and ONNX do.  Dtypes as for ``softmax``.
    target : array_like
        Either integer class indices (any signed or unsigned integer dtype) of
        the logits' shape without ``axis``, each in ``[0, C)`` or equal to
        ``ignore_index`` (else IndexError naming the first bad label and its
        position); or floating class probabilities of the logits' shape
        (converted to the logits' computing dtype, not validated).  Bool and
        other dtypes: TypeError.  Wrong shape: ValueError.
    axis : int, default -1
        The class axis (a tuple or None: TypeError).
    weight : array_like of shape (C,), optional
        Per-class weights ``w`` (default all ones).
    ignore_index : int, default -100
        Class-index targets equal to it contribute 0 and are left out of the
        mean's denominator.  Unused with probability targets.
    reduction : {"none", "sum", "mean"}, default "mean"
        How the per-sample losses are combined: kept (``"none"``), summed or
        averaged (see Returns and Notes).
    label_smoothing : float in [0, 1], default 0.0
        The smoothing ``eps`` of the targets towards the uniform
        distribution over the C classes (see Notes).
    out : ndarray, optional
        Where to write the result: for ``"none"`` a writeable array of the
        logits' shape without ``axis``, for ``"sum"``/``"mean"`` a 0-d array;
        of the result dtype (TypeError otherwise), any layout, may overlap
        the logits or the target.  Nothing is written when an exception is
        raised (bad labels included).

    Returns
    -------
    ndarray or numpy.floating
        ``"none"``: ndarray of the logits' shape without ``axis`` (a NumPy
        scalar for 1-D logits); ``"sum"`` and ``"mean"``: a NumPy scalar of
        the logits' result dtype; ``out`` when given.

    Raises
    ------
    TypeError
        Logits, target or weight of an unsupported dtype (bool targets
        included), or masked arrays (logits, target or weight); an axis that
        is a tuple, None or not an integer; an ``ignore_index`` that is not
        an int; ``out`` that is not an ndarray or not of the result dtype.
    ValueError
        0-d logits or no classes (C == 0); a target or weight of the wrong
        shape; a reduction other than ``"none"``, ``"sum"`` and ``"mean"``;
        a label_smoothing that is not a real number in [0, 1]; an
        ``ignore_index`` outside int64; ``out`` of the wrong shape or
        read-only.
    IndexError
        A class index outside ``[0, C)`` that is not ``ignore_index`` (the
        message names the first bad label and its position).
    numpy.exceptions.AxisError
        An axis out of range.

    See Also
    --------
    cross_entropy_with_grad : The loss and its gradient in one pass.
    log_softmax : The log-probabilities the loss is made of.
    binary_cross_entropy_with_logits : The loss of independent binary
        labels.

    Notes
    -----
    With ``logp = log_softmax(logits, axis)`` and ``eps = label_smoothing``:

    * class indices, sample with label ``t`` (not ignored)::

          loss = (1 - eps) * w[t] * (-logp[t]) + eps / C * sum_c w[c] * (-logp[c])

      ``"mean"`` divides the sum by ``sum(w[t])`` over the samples not ignored.
    * probabilities ``p``: ``q = (1 - eps) * p + eps / C`` and
      ``loss = -sum_c w[c] * q[c] * logp[c]``; ``"mean"`` divides by the
      number of samples.

    An empty batch gives an empty array, a sum of 0 and a mean of NaN (0/0),
    as does a mean over only ignored targets.  NaN and inf follow the formula
    (a NaN logit in a used row gives NaN; a -inf logit at the target gives
    +inf; a zero probability at a -inf logit gives NaN, as in PyTorch).  A
    non-finite probability or weight gives a non-finite loss (and
    gradient), but the native one-pass evaluation (which sums ``w q (m - x)``
    and ``w q`` separately) may give NaN where the formula's order gives
    +-inf, e.g. an infinite probability at the row's maximum.

    Accuracy (native): computed in float64 with ``-logp[c] = (m - x[c]) +
    log1p(s - 1)``, two non-negative terms, so even tiny losses of confident
    correct predictions keep full relative accuracy (goal: 4 ULP).

    Examples
    --------
    >>> logits = np.array([[2.0, 1.0, 0.1],
    ...                    [0.5, 2.5, 0.3]])
    >>> target = np.array([0, 1])
    >>> fa.cross_entropy(logits, target).round(4)
    np.float64(0.3185)
    >>> fa.cross_entropy(logits, target, reduction="none").round(4)
    array([0.417, 0.22 ])
    >>> fa.cross_entropy(logits, np.array([0, -100])).round(4)  # 2nd ignored
    np.float64(0.417)
    >>> fa.cross_entropy(logits, target, label_smoothing=0.1).round(4)
    np.float64(0.4369)

    Class probabilities instead of indices:

    >>> probs = np.array([[0.7, 0.2, 0.1],
    ...                   [0.0, 1.0, 0.0]])
    >>> fa.cross_entropy(logits, probs).round(4)
    np.float64(0.5135)

    The class axis of ``(N, C, d1)`` logits, as PyTorch's:

    >>> scores = np.zeros((2, 3, 4))  # N=2, C=3, d1=4
    >>> fa.cross_entropy(scores, np.zeros((2, 4), dtype=int), axis=1).round(4)
    np.float64(1.0986)
    >>> fa.cross_entropy(logits, np.array([0, 3]))
    Traceback (most recent call last):
        ...
    IndexError: target label 3 at position (1,) is out of range [0, 3) and is not ignore_index (-100)
    """

# ------------------------------------------- softmax_backward, log_softmax_backward

_BACKWARD_PARAMS = """
    Parameters
    ----------
    grad : array_like
        The gradient of the loss with respect to the forward op's output.
    y : array_like
        The forward op's output, of grad's shape exactly (ValueError naming
        both shapes otherwise, before anything is written).
    axis : int, tuple of ints or None, default -1
        The axes of each group, as given to the forward op (same rules as
        softmax's ``axis``: None = all axes, AxisError when out of range,
        ValueError when repeated, TypeError for non-integers; a 0-d pair is
        one group of one element).
    out : ndarray, optional
        Where to write the result: a writeable ndarray of exactly grad's
        shape (ValueError otherwise) and the result dtype (TypeError
        otherwise), any layout.  It may be ``grad`` or ``y`` itself, or
        overlap them partially (then computed through a temporary).
        Nothing is written to it when an exception is raised.

    Returns
    -------
    ndarray or numpy.floating
        The gradient with respect to the forward op's input, of grad's
        shape (``out`` if given); a 0-d pair gives a NumPy scalar when
        ``out`` is None.

    Raises
    ------
    TypeError
        ``grad`` or ``y`` of a complex, object or string dtype, or a masked
        array; an axis that is not an integer (bools included); ``out`` that
        is not an ndarray or not of the result dtype.
    ValueError
        ``grad`` and ``y`` of different shapes (the message names both); a
        repeated axis; ``out`` of the wrong shape or read-only.
    numpy.exceptions.AxisError
        An axis out of range."""

_BACKWARD_DTYPES = """
    Dtypes: the result dtype is NumPy's promotion of the two inputs' dtypes,
    with bool/integers counted as float64: float32 with float32 gives
    float32 (float16 with float16: computed in float32, returned float16),
    any float64 or integer input gives float64, longdouble (computed by the
    NumPy twin) when either is.  Complex, object and string dtypes and
    masked arrays raise TypeError.  Any layout or byte order is accepted.
    An empty group gives an empty result; a group of one element has
    ``s`` equal to its own term."""

SOFTMAX_BACKWARD = f"""Gradient of softmax: the vector-Jacobian product ``J^T grad`` along ``axis``.

    ``y * (grad - s)`` with ``s = sum(grad * y)`` over each group
    (``keepdims``), ``y`` the softmax output (PyTorch's
    ``_softmax_backward_data``).

    {_BACKWARD_PARAMS.strip()}

    See Also
    --------
    softmax : The forward op.
    log_softmax_backward : The gradient of log_softmax.

    Notes
    -----
    {_BACKWARD_DTYPES.strip()}

    Special values follow the formula: a NaN in a group's grad or y makes
    ``s`` NaN and the whole group NaN; an infinite ``grad * y`` makes ``s``
    infinite: then NaN where grad is that same infinity (inf - inf) or
    ``y == 0`` (0 * inf), an infinity where grad is finite and ``y != 0``.
    ``y == 0`` with finite ``grad`` and ``s`` gives +-0.

    Accuracy: the native float32 kernels sum the exact products in float64
    and round once at the end; float64 sums with compensation (TwoSum and
    exact products).  The error is below ``k * eps * |y| * (|grad| + |s|)``,
    ``eps = np.finfo(dtype).eps``, k = 1 (float32) / 2 (float64) (measured
    at every kernel level: 0.5 / 1.24): relative to that scale, not to the
    result, which can cancel (grad close to ``s``).

    Examples
    --------
    >>> y = fa.softmax(np.array([1.0, 2.0, 3.0]))
    >>> grad = np.array([1.0, 0.0, 0.0])
    >>> fa.softmax_backward(grad, y).round(4)
    array([ 0.0819, -0.022 , -0.0599])

    The same as the softmax Jacobian's transpose times ``grad``:

    >>> jacobian = np.diag(y) - np.outer(y, y)
    >>> bool(np.allclose(fa.softmax_backward(grad, y), jacobian.T @ grad))
    True
    """

LOG_SOFTMAX_BACKWARD = f"""Gradient of log_softmax: ``grad - exp(y) * s`` along ``axis``.

    ``s = sum(grad)`` over each group (``keepdims``), ``y`` the log_softmax
    output (PyTorch's ``_log_softmax_backward_data``).

    {_BACKWARD_PARAMS.strip()}

    See Also
    --------
    log_softmax : The forward op.
    softmax_backward : The gradient of softmax.
    cross_entropy_with_grad : The fused loss and gradient.

    Notes
    -----
    {_BACKWARD_DTYPES.strip()}

    ``y`` is <= 0 for a log_softmax output, but any ``y`` is handled:
    ``exp(y)`` of positive values is computed exactly as well (a slower
    path), ``y = -inf`` gives ``exp(y) = 0`` (the result is ``grad``, unless
    ``s`` is infinite or NaN: ``0 * inf`` is NaN).  A NaN in grad makes its
    group NaN; an infinite grad makes ``s`` infinite (NaN where grad is that
    infinity, an infinity beside it); a NaN in y makes that element NaN.

    Accuracy: float32 is computed in float64 and rounded once; float64 sums
    with compensation; ``exp(y)`` is the kernels' vector exponential
    (within 1 ULP of the dtype).  The error is below
    ``k * eps * (|grad| + exp(y) * |s|)``, ``eps = np.finfo(dtype).eps``,
    k = 1 (float32) / 2 (float64) (measured at every kernel level: 0.93 /
    1.44): relative to that scale, as the result itself can cancel.

    Examples
    --------
    >>> y = fa.log_softmax(np.array([1.0, 2.0, 3.0]))
    >>> grad = np.array([1.0, 0.0, 0.0])
    >>> fa.log_softmax_backward(grad, y).round(4)
    array([ 0.91  , -0.2447, -0.6652])
    >>> expected = grad - np.exp(y) * grad.sum()
    >>> bool(np.allclose(fa.log_softmax_backward(grad, y), expected))
    True
    """

# ------------------------------------------- cross_entropy_with_grad

CROSS_ENTROPY_WITH_GRAD = """Cross-entropy loss and its gradient w.r.t. the logits, in one pass.

    ``cross_entropy_with_grad(logits, target, *, axis=-1, weight=None,
    ignore_index=-100, reduction="mean", label_smoothing=0.0,
    grad_loss=None, out=None) -> (loss, dlogits)``

    ``loss`` is exactly what ``cross_entropy`` returns for the same
    arguments (native: the same kernels' sums, bit-identical).
    ``dlogits = d(loss * grad_loss) / d(logits)``: the logits' shape and
    result dtype (float16 computed in float32, bool/int as float64,
    longdouble by the NumPy twin).

    Parameters
    ----------
    logits : array_like, at least 1-D
        Unnormalised scores, as in ``cross_entropy``.
    target : array_like
        Integer class indices or floating class probabilities, as in
        ``cross_entropy``.
    axis : int, default -1
        The class axis, as in ``cross_entropy``.
    weight : array_like of shape (C,), optional
        Per-class weights, as in ``cross_entropy``.
    ignore_index : int, default -100
        As in ``cross_entropy``.
    reduction : {"none", "sum", "mean"}, default "mean"
        As in ``cross_entropy``.
    label_smoothing : float in [0, 1], default 0.0
        As in ``cross_entropy``.
    grad_loss : scalar or array_like, optional
        The upstream gradient.  ``"sum"``/``"mean"``: a scalar (default
        1.0; anything else raises ValueError).  ``"none"``: an array of the
        samples' shape (the logits' shape without ``axis``) or a scalar
        broadcast to it (default all ones); another shape raises ValueError.
        A non-finite value gives non-finite gradients for its samples, NaN
        or +-inf (the kernels fold it into the softmax and target terms
        before subtracting them, so inf - inf may give NaN where
        ``grad_loss * (...)`` would be +-inf; the twin differs the same way).
    out : ndarray, optional
        Receives ``dlogits``: the logits' shape (ValueError) and result dtype
        (TypeError), writeable.  May be the logits array itself (in-place
        gradient: everything needed from the logits is read before it is
        overwritten); a partial overlap with the logits, target or grad_loss
        goes through a temporary.  Nothing is written when an exception is
        raised (bad labels, shapes, out).

    Returns
    -------
    loss : ndarray or numpy.floating
        What ``cross_entropy`` returns for the same arguments (without
        ``out``).
    dlogits : ndarray
        ``d(loss * grad_loss) / d(logits)``, of the logits' shape and
        result dtype (``out`` if given).

    Raises
    ------
    TypeError
        As ``cross_entropy``; also a ``grad_loss`` that does not hold real
        numbers.
    ValueError
        As ``cross_entropy``; also a ``grad_loss`` of the wrong shape.
    IndexError
        A class index outside ``[0, C)`` that is not ``ignore_index``.
    numpy.exceptions.AxisError
        An axis out of range.

    See Also
    --------
    cross_entropy : The loss alone.
    log_softmax_backward : The gradient of log_softmax, for unfused code.

    Notes
    -----
    With ``p = softmax(logits, axis)``, class weights ``w`` (ones when None),
    ``W = sum(w)``, ``eps = label_smoothing`` and ``g_s`` the sample's
    upstream gradient (``grad_loss[s]`` for "none", ``grad_loss`` for "sum",
    ``grad_loss / D`` for "mean", ``D`` the forward's denominator):

    * class index ``t`` (not ignored)::

          dlogits[j] = g_s * (p[j] * ((1 - eps) * w[t] + eps * W / C)
                              - eps * w[j] / C - (1 - eps) * w[t] * (j == t))

      Ignored samples get exactly 0 (all classes, NaN logits included).  A
      "mean" over only ignored samples: loss NaN, dlogits all 0.  (A "mean"
      whose non-ignored samples all have weight 0 divides by 0: NaN
      gradients for those samples, as PyTorch.)
    * probabilities ``q~ = (1 - eps) * target + eps / C``::

          dlogits[j] = g_s * (p[j] * sum_c w[c] * q~[c] - w[j] * q~[j])

    NaN or +inf logits in a sample give a NaN loss and a NaN gradient row.

    Accuracy (native): the exponentials and ``p * coef`` as in ``softmax``
    (float32 computed in float64), the per-class terms in double: each
    element is within a few ULP of ``max(|p[j] * coef|, |subtracted
    terms|)`` (the target's term cancels against ``p[t] * coef``, so the
    bound is relative to the terms, not to the result).

    Examples
    --------
    >>> logits = np.array([[2.0, 1.0, 0.1],
    ...                    [0.5, 2.5, 0.3]])
    >>> target = np.array([0, 1])
    >>> loss, dlogits = fa.cross_entropy_with_grad(logits, target)
    >>> bool(loss == fa.cross_entropy(logits, target))
    True
    >>> dlogits.round(4)
    array([[-0.1705,  0.1212,  0.0493],
           [ 0.0543, -0.0988,  0.0445]])

    For the mean over 2 samples, ``(softmax(logits) - one_hot) / 2``:

    >>> one_hot = np.eye(3)[target]
    >>> bool(np.allclose(dlogits, (fa.softmax(logits) - one_hot) / 2))
    True
    """

# ------------------------------------------- leaky_relu, sigmoid, backward ops

_MAP_DTYPES = """
    Dtypes: float32 and float64 run the native kernels; float16 computes in
    float32 and returns float16; bool and integer inputs are promoted to
    float64; longdouble is computed by the NumPy twin.  Complex, object,
    string and other dtypes raise TypeError, as does a
    ``numpy.ma.MaskedArray``.  Any layout or byte order is accepted."""

_MAP2_DTYPES = """
    Dtypes: each input is taken as by the forward ops (float16 counts as
    float16, bool/integers as float64) and the result dtype is their
    promotion: float32 with float32 gives float32, float32 with float64
    gives float64, float16 with float16 gives float16 (computed in float32),
    anything with longdouble gives longdouble (computed by the NumPy twin).
    The inputs must have the same shape (no broadcasting): ValueError naming
    both shapes otherwise, raised before anything is written.  Complex,
    object, string and other dtypes raise TypeError naming the argument."""

_OUT2 = """
    out : ndarray, optional
        Where to write the result: a writeable ndarray of exactly the result's
        shape (ValueError otherwise) and dtype (TypeError otherwise), any
        layout.  It may be either input itself (in place) or overlap them
        partially (computed through a temporary then).  Nothing is written to
        it when an exception is raised."""

_SLOPE = """
    negative_slope : real number, default 0.01
        The slope for ``x <= 0``: any Python or NumPy int or float, NaN and
        inf included (as PyTorch; ``x * nan`` is NaN).  It is rounded to the
        computing dtype (float32 for float16/float32 inputs) before the
        product, as PyTorch converts it to the tensor's dtype.  Bools,
        complex numbers, strings, arrays and None raise TypeError; an int
        too large for a float raises ValueError."""


LEAKY_RELU = f"""Leaky ReLU, PyTorch's ``leaky_relu``: ``x if x > 0 else x * negative_slope``.

    NaN is not ``> 0``: it becomes ``NaN * slope``, a NaN (payload not
    specified).  ``-0.0`` gives ``-0.0 * slope`` (``-0.0`` for a positive
    slope); +inf stays +inf; -inf gives ``-inf * slope``.  The product is
    rounded once in the computing dtype: native and NumPy twin agree bit for
    bit (NaN payloads aside).

    Parameters
    ----------
    x : array_like
        The input, of any shape (0-d included).
    {_SLOPE.strip()}
    {_OUT.strip()}

    Returns
    -------
    ndarray or numpy.floating
        An ndarray of x's shape (``out`` if given); a NumPy scalar for a 0-d
        input when ``out`` is None (as ufuncs).

    Raises
    ------
    {_RAISES_SLOPE_MAP.strip()}

    See Also
    --------
    leaky_relu_backward : The gradient of leaky_relu.
    relu : The slope 0.

    Notes
    -----
    {_MAP_DTYPES.strip()}

    Examples
    --------
    >>> x = np.array([-2.0, -0.0, 0.0, 1.5])
    >>> fa.leaky_relu(x)
    array([-0.02, -0.  ,  0.  ,  1.5 ])
    >>> fa.leaky_relu(x, negative_slope=0.1)
    array([-0.2, -0. ,  0. ,  1.5])
    >>> fa.leaky_relu(np.array([-1, 2]), 0.5)  # integers: float64
    array([-0.5,  2. ])
    """

SIGMOID = f"""Logistic sigmoid ``1 / (1 + exp(-x))``, element-wise.

    Computed as ``e = exp(-|x|)``, ``1 / (1 + e)`` for ``x >= 0`` and
    ``e / (1 + e)`` for ``x < 0``: no overflow and no 0/0 for any input, no
    floating-point warnings.  ``sigmoid(+inf) = 1``, ``sigmoid(-inf) = 0``,
    NaN gives NaN, ``sigmoid(-0.0) = sigmoid(0.0) = 0.5``; large positive x
    gives exactly 1.0 once ``exp(-x)`` is below half an ULP of 1; very
    negative x gives the (correctly small) ``exp(x)``, e.g. ``sigmoid(-100)``
    is 3.72e-44 in float64 and the float32 subnormal 3.78e-44 in float32,
    and 0 below the dtype's smallest subnormal.

    Parameters
    ----------
    x : array_like
        The input, of any shape (0-d included).
    {_OUT.strip()}

    Returns
    -------
    ndarray or numpy.floating
        An ndarray of x's shape (``out`` if given); a NumPy scalar for a 0-d
        input when ``out`` is None (as ufuncs).

    Raises
    ------
    {_RAISES_MAP.strip()}

    See Also
    --------
    sigmoid_backward : The gradient of sigmoid, from its output.
    binary_cross_entropy_with_logits : The loss on sigmoid's logits.

    Notes
    -----
    Accuracy (native, against an ``np.longdouble`` reference): float32
    within 0.75 ULP (0.875 for subnormal results) at the avx2 and avx512
    levels, which compute in pairs of float32 (an exponential to 2^-26
    relative, then ``1 + e`` and the quotient with their rounding errors
    carried: 0.58 / 0.75 ULP measured), so that the pass runs at memory
    speed; at the scalar and sse2 levels float32 is computed in float64 and
    rounded once (<= 0.5 ULP + 2^-8.5: 0.5024 measured).  float64 within
    2 ULP (the level's exponential, < 1 ULP, and the division).  The NumPy
    twin's float64 rides on ``np.exp``, whose accuracy depends on the NumPy
    version (within 3 ULP measured, 2.19 with NumPy 1.25.2).

    {_MAP_DTYPES.strip()}

    Examples
    --------
    >>> fa.sigmoid(np.array([-np.inf, -1.0, 0.0, 1.0, np.inf])).round(4)
    array([0.    , 0.2689, 0.5   , 0.7311, 1.    ])
    >>> fa.sigmoid(np.array([-800.0, 800.0]))
    array([0., 1.])
    >>> print(f"{{fa.sigmoid(np.float64(-100.0)):.3g}}")
    3.72e-44
    >>> print(f"{{fa.sigmoid(np.float32(-100.0)):.3g}}")  # a float32 subnormal
    3.78e-44
    """

RELU_BACKWARD = f"""Gradient of ``relu``: ``grad if not (x <= 0) else 0``.

    PyTorch's ``threshold_backward(grad, x, 0)``.  ``x`` is relu's input.
    The gradient passes where ``x > 0`` and where x is NaN (relu keeps NaN,
    so its gradient is taken as 1 there); where ``x <= 0`` (``-0.0`` and
    ``+0.0`` included: the subgradient at 0 is 0) the result is ``+0.0``
    whatever ``grad`` is, inf or NaN included (no ``inf * 0 = NaN``).  An
    exact select: native and NumPy twin agree bit for bit, at every kernel
    level.

    Parameters
    ----------
    grad : array_like
        The gradient of the loss with respect to relu's output.
    x : array_like
        The input of relu, of grad's shape.
    {_OUT2.strip()}

    Returns
    -------
    ndarray or numpy.floating
        An ndarray of the inputs' shape (``out`` if given); a NumPy scalar
        for 0-d inputs when ``out`` is None.

    Raises
    ------
    {_RAISES_MAP2.strip()}

    See Also
    --------
    relu : The forward op.
    leaky_relu_backward : The gradient of leaky_relu.

    Notes
    -----
    {_MAP2_DTYPES.strip()}

    Examples
    --------
    >>> grad = np.array([np.inf, 2.0, 3.0, 4.0])
    >>> x = np.array([-1.0, 0.0, 0.5, np.nan])
    >>> fa.relu_backward(grad, x)
    array([0., 0., 3., 4.])
    """

LEAKY_RELU_BACKWARD = f"""Gradient of ``leaky_relu``: ``grad if x > 0 else grad * negative_slope``.

    PyTorch's ``leaky_relu_backward``.  ``x`` is leaky_relu's input.  NaN x
    is not ``> 0``: ``grad * slope``.  At ``x == 0`` (either sign) the slope
    side is taken, as PyTorch.  IEEE products: an inf grad times a zero
    slope is NaN.  One rounding of the product in the computing dtype:
    native and NumPy twin agree bit for bit (NaN payloads aside).

    Parameters
    ----------
    grad : array_like
        The gradient of the loss with respect to leaky_relu's output.
    x : array_like
        The input of leaky_relu, of grad's shape.
    {_SLOPE.strip()}
    {_OUT2.strip()}

    Returns
    -------
    ndarray or numpy.floating
        An ndarray of the inputs' shape (``out`` if given); a NumPy scalar
        for 0-d inputs when ``out`` is None.

    Raises
    ------
    {_RAISES_SLOPE_MAP2.strip()}

    See Also
    --------
    leaky_relu : The forward op.
    relu_backward : The gradient of relu.

    Notes
    -----
    {_MAP2_DTYPES.strip()}

    Examples
    --------
    >>> grad = np.array([1.0, 2.0, 3.0])
    >>> x = np.array([-1.0, 0.0, 0.5])
    >>> fa.leaky_relu_backward(grad, x, negative_slope=0.1)
    array([0.1, 0.2, 3. ])
    """

SIGMOID_BACKWARD = f"""Gradient of ``sigmoid`` from its output: ``(grad * (1 - y)) * y``.

    ``y`` is sigmoid's output (not its input), as PyTorch's
    ``sigmoid_backward(grad_output, output)``, and the operations are
    PyTorch's, in this order.  float64: three roundings (``1 - y`` exact for
    ``y >= 0.5``).  float32: the same operations in float64, rounded once to
    float32 (<= 0.5 ULP + 2^-28 of the exact value).  IEEE special values:
    NaN in either input gives NaN; ``inf * 0`` (an infinite grad at
    ``y = 0`` or ``y = 1``) gives NaN.  ``y`` is not checked to lie in
    [0, 1].  Native and NumPy twin agree bit for bit (NaN payloads aside).

    Parameters
    ----------
    grad : array_like
        The gradient of the loss with respect to sigmoid's output.
    y : array_like
        The output of sigmoid, of grad's shape.
    {_OUT2.strip()}

    Returns
    -------
    ndarray or numpy.floating
        An ndarray of the inputs' shape (``out`` if given); a NumPy scalar
        for 0-d inputs when ``out`` is None.

    Raises
    ------
    {_RAISES_MAP2.strip()}

    See Also
    --------
    sigmoid : The forward op.

    Notes
    -----
    {_MAP2_DTYPES.strip()}

    Examples
    --------
    >>> y = fa.sigmoid(np.array([0.0, 2.0]))
    >>> fa.sigmoid_backward(np.ones(2), y).round(4)
    array([0.25 , 0.105])
    >>> fa.sigmoid_backward(np.ones(2, dtype=np.float32), y).dtype
    dtype('float64')
    """

# ------------------------------------------- binary cross-entropy with logits

BINARY_CROSS_ENTROPY_WITH_LOGITS = """Binary cross-entropy on logits (PyTorch's ``binary_cross_entropy_with_logits``).

    ``binary_cross_entropy_with_logits(logits, target, *, weight=None,
    pos_weight=None, reduction="mean", out=None)``

    Per element, with ``x`` the logit, ``y`` the target, ``w`` the weight and
    ``pw`` the pos_weight (1 when None)::

        l = w * [(1 - y) * x + (1 + (pw - 1) * y) * softplus(-x)]
        softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)

    evaluated without overflow or cancellation as the identical
    ``w * [a * |x| + (1 + (pw - 1) * y) * log1p(exp(-|x|))]`` with
    ``a = 1 - y`` for ``x >= 0`` and ``a = pw * y`` for ``x < 0`` (two
    non-negative terms when ``0 <= y <= 1`` and ``pw >= 0``).

    Parameters
    ----------
    logits : array_like of float16/float32/float64/longdouble
        Any shape (0-d and empty included).  bool, integer, complex and
        object dtypes raise TypeError.
    target : array_like of real numbers
        Exactly the logits' shape (ValueError otherwise; no broadcasting, as
        PyTorch).  Usually probabilities in [0, 1]; any real value is
        accepted and follows the formula (as PyTorch).
    weight : array_like, optional
        Real numbers broadcastable to the logits' shape (NumPy rules; it may
        not grow the shape: ValueError).  A scalar, the full shape, the last
        axis ``(C,)`` and per-row ``(..., N, 1)`` weights are read in place
        (only converted to the logits' dtype); other broadcasts are
        materialised.
    pos_weight : array_like, optional
        The positive class's weight, usually of shape ``(C,)`` (the last
        axis), or anything broadcastable to the logits' shape (as PyTorch).
    reduction : {"none", "mean", "sum"}, default "mean"
        ``"none"``: the per-element array (the logits' shape); ``"sum"``:
        its sum; ``"mean"``: the sum divided by the number of elements.
        Empty logits: "mean" gives NaN, "sum" 0 (as PyTorch).
    out : ndarray, optional
        For ``"none"`` the per-element array (the logits' shape), for
        ``"sum"``/``"mean"`` a 0-d array; of the result dtype (TypeError),
        exact shape (ValueError), writeable.  Overlap with an input goes
        through a temporary.

    Returns
    -------
    ndarray or numpy.floating
        The loss: an array for "none", else a NumPy scalar of the result
        dtype (or ``out``).

    Raises
    ------
    TypeError
        Logits that are not floating (bool, integer, complex, object);
        a target, weight or pos_weight that does not hold real numbers;
        masked arrays; ``out`` that is not an ndarray or not of the result
        dtype.
    ValueError
        A target not of the logits' shape; a weight or pos_weight that does
        not broadcast to the logits' shape (or would grow it); a reduction
        other than ``"none"``, ``"mean"`` and ``"sum"``; ``out`` of the
        wrong shape or read-only.

    See Also
    --------
    binary_cross_entropy_with_logits_with_grad : The loss and its gradient
        in one pass.
    sigmoid : The probabilities the logits stand for.
    cross_entropy : The loss of one class out of C.

    Notes
    -----
    Dtypes: target, weight and pos_weight are converted to the logits'
    dtype (float16 logits: to float16, computed in float32) before use, as
    PyTorch requires them in the logits' dtype.  The result has the logits'
    dtype; float32 and float64 run the native kernels, longdouble the NumPy
    twin.

    Special values: ``x = +-1e4`` gives ``1e4``-sized or ``exp(-1e4) = 0``
    terms, never inf or NaN; ``x = +-inf`` gives the limit: ``+inf`` where
    the linear term's coefficient ``a`` is non-zero, else ``lw * 0 = 0`` (for
    ``x = +inf, y = 1`` and ``x = -inf, y = 0``; PyTorch's ``(1 - y) * x``
    gives NaN there).  NaN logits, targets or weights give NaN.  An infinite
    ``weight`` or ``pos_weight`` gives an infinite loss, or NaN where the
    rest of the element's loss is 0 (``inf * 0``), as where it underflows:
    ``log1p(exp(-745))`` in float64 is the smallest subnormal or 0 within
    the exponential's bound, so the native kernels (0, NaN with an infinite
    weight) and the twin (the subnormal, inf) may differ there.

    Accuracy (native): computed in float64 for both dtypes; float32 results
    rounded once (<= 0.5 ULP + 2^-40 against the exact loss of the float32
    inputs); float64 within 2 ULP without weights (measured 1.68 at every
    level), 3 with ``weight`` (measured 2.48), 3.5 with ``pos_weight``
    (3.06), 4.5 with both (3.72): the level's float64 exponential, a
    vectorised log1p series (~0.5 ULP), and products and sums of
    non-negative terms, each rounded once.  The NumPy twin's float64 loss
    follows NumPy's ``exp`` and ``log1p``, whose accuracy depends on the
    NumPy version: bounds 1 ULP above the native ones (2.10 ULP measured
    without weights with NumPy 1.25.2).  Sums are compensated per block,
    blocks in a fixed order: the same result for any thread count.

    Examples
    --------
    >>> x = np.array([2.0, -1.0, 0.0])
    >>> y = np.array([1.0, 0.0, 1.0])
    >>> fa.binary_cross_entropy_with_logits(x, y).round(4)
    np.float64(0.3778)
    >>> fa.binary_cross_entropy_with_logits(x, y, reduction="none").round(4)
    array([0.1269, 0.3133, 0.6931])
    >>> fa.binary_cross_entropy_with_logits(x, y, pos_weight=np.array([2.0]),
    ...                                     reduction="none").round(4)
    array([0.2539, 0.3133, 1.3863])

    Large and infinite logits give finite limits:

    >>> fa.binary_cross_entropy_with_logits(np.array([1e4, -1e4, np.inf]),
    ...                                     np.array([0.0, 1.0, 1.0]), reduction="none")
    array([10000., 10000.,     0.])
    """

BINARY_CROSS_ENTROPY_WITH_LOGITS_WITH_GRAD = """Binary cross-entropy on logits and its gradient, in one pass.

    ``binary_cross_entropy_with_logits_with_grad(logits, target, *,
    weight=None, pos_weight=None, reduction="mean", grad_loss=None,
    out=None) -> (loss, dlogits)``

    ``loss`` is what ``binary_cross_entropy_with_logits`` returns for the
    same arguments (native: the same kernel, bit-identical).
    ``dlogits = d(loss * grad_loss) / d(logits)``: the logits' shape and
    dtype.  With ``s = sigmoid(x)`` (``1 / (1 + e)`` for ``x >= 0``, else
    ``e / (1 + e)``, ``e = exp(-|x|)``) and PyTorch's order of operations::

        dlogits = g * w * (s - y)                              (no pos_weight)
        dlogits = g * w * (((pw * y) + 1 - y) * s - pw * y)    (pos_weight)

    ``g``: ``grad_loss`` for "sum", ``grad_loss / numel`` for "mean"
    (NaN for empty logits, where nothing is written), ``grad_loss[i]`` for
    "none".  The logits and target are read once and ``dlogits`` written
    once.

    Parameters
    ----------
    logits : array_like of float16/float32/float64/longdouble
        As in ``binary_cross_entropy_with_logits``.
    target : array_like of real numbers
        As in ``binary_cross_entropy_with_logits``.
    weight : array_like, optional
        As in ``binary_cross_entropy_with_logits``.
    pos_weight : array_like, optional
        As in ``binary_cross_entropy_with_logits``.
    reduction : {"none", "mean", "sum"}, default "mean"
        As in ``binary_cross_entropy_with_logits``.
    grad_loss : scalar or array_like, optional
        The upstream gradient.  ``"sum"``/``"mean"``: a scalar (default
        1.0; an array raises ValueError).  ``"none"``: an array of the
        logits' shape (converted to the logits' dtype) or a scalar (default
        1.0); another shape raises ValueError.
    out : ndarray, optional
        Receives ``dlogits``: the logits' shape (ValueError) and dtype
        (TypeError), writeable.  May be the logits array itself (in-place
        gradient: each element's logit and target are read before its
        gradient is stored); a partial overlap with the logits, target,
        weights or grad_loss goes through a temporary.  Nothing is written
        when an exception is raised.

    Returns
    -------
    loss : ndarray or numpy.floating
        As ``binary_cross_entropy_with_logits`` returns it.
    dlogits : ndarray
        An ndarray of the logits' shape and result dtype (``out`` if
        given); for 0-d logits a NumPy scalar (as every 0-d result) unless
        ``out`` is given.

    Raises
    ------
    TypeError
        As ``binary_cross_entropy_with_logits``; also a ``grad_loss`` that
        does not hold real numbers.
    ValueError
        As ``binary_cross_entropy_with_logits``; also a ``grad_loss`` of the
        wrong shape.

    See Also
    --------
    binary_cross_entropy_with_logits : The loss alone.
    sigmoid_backward : The gradient of sigmoid, for unfused code.

    Notes
    -----
    Accuracy (native): the gradient is computed in float64 (float32 rounded
    once); its final subtraction cancels when ``s`` is close to ``y``, so
    its error (a few float64 ULP) is relative to the larger of the two
    terms, not to the result.  ``x = +-inf`` gives the finite limits
    ``w * (1 - y) * g`` / ``-w * pw * y * g``.

    Examples
    --------
    >>> x = np.array([2.0, -1.0, 0.0])
    >>> y = np.array([1.0, 0.0, 1.0])
    >>> loss, dlogits = fa.binary_cross_entropy_with_logits_with_grad(x, y)
    >>> loss.round(4)
    np.float64(0.3778)
    >>> dlogits.round(4)
    array([-0.0397,  0.0896, -0.1667])

    For the mean over 3 elements, ``(sigmoid(x) - y) / 3``:

    >>> bool(np.allclose(dlogits, (fa.sigmoid(x) - y) / 3))
    True
    """

# ------------------------------------------- linear_cross_entropy

LINEAR_CROSS_ENTROPY = """Cross-entropy of a linear classifier head, without its logits array.

    ``linear_cross_entropy(h, W, target, *, bias=None, transpose_W=False,
    weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
    chunk=None, return_grad=False, grad_loss=None)``

    The loss of ``cross_entropy(h @ W + bias, target, ...)`` and, with
    ``return_grad=True``, its gradients with respect to ``h``, ``W`` and
    ``bias``, computed without ever holding the ``(N, V)`` logits.  The
    logits are formed block by block with NumPy's matmul (the BLAS NumPy
    ships), in one of two regimes:

    * **Vocabulary tiles** of about ``sqrt(chunk)`` rows by ``sqrt(chunk)``
      classes (all the rows when there are fewer): a sweep over a slice's
      tiles keeps each row's running maximum, sum of exponentials and
      label-smoothing sum (online logsumexp, the tiles merged in
      double-double: as accurate as one pass over the row) and picks the
      target logits: one matrix product's worth of work for the loss.  With
      the gradients a second sweep forms each tile again and turns it into
      its part of the logits' gradient ``dZ``, added into ``dh`` and ``dW``:
      four products.  Each tile reads its block of ``W`` once per slice of
      rows, so the products run near their speed on cached operands.
    * **Row blocks** of whole rows of the vocabulary where such tiles would
      span every class anyway (small ``V``), and with the gradients where
      ``chunk`` holds at least ``min(N, 256)`` whole rows: each block holds
      the logits of a slice of the batch over every class; the loss kernels
      turn it into the slice's losses and, in the same pass, into ``dZ`` (in
      place), then ``dh[slice] = dZ @ W.T`` and ``dW += h[slice].T @ dZ``:
      three products.  (Fewer rows per block read ``W`` and add into
      ``dW`` too often: at N=2048, d=512, V=64000 the tiles took 0.82x the
      time of blocks of 131 rows.)

    The extra memory is one block of logits (``chunk`` elements), per-row
    numbers, and temporaries of at most 2^20 elements for the ``dh`` and
    ``dW`` sums, never ``O(N * V)`` (the NumPy twin's loss functions add
    temporaries of about 7 row blocks for the loss, 13 with the gradients,
    as float32 blocks are computed in float64 there).

    Parameters
    ----------
    h : array_like of shape (N, d)
        Hidden states, one row per sample.
    W : array_like of shape (d, V), or (V, d) with ``transpose_W=True``
        The head's weight (``(V, d)`` is PyTorch's ``nn.Linear`` layout).
    target : array_like of shape (N,)
        Integer class indices in ``[0, V)``, or ``ignore_index``.
    bias : array_like of shape (V,), optional
        Added to every row of logits.
    transpose_W : bool, default False
        ``W`` is given as ``(V, d)``; ``dW`` is returned in that layout.
    weight : array_like of shape (V,), optional
        Per-class weights, as in ``cross_entropy``.
    ignore_index : int, default -100
        As in ``cross_entropy``: those samples contribute 0 to the loss and
        its gradients and are left out of the mean's denominator.
    reduction : {"none", "sum", "mean"}, default "mean"
        As in ``cross_entropy``.
    label_smoothing : float in [0, 1], default 0.0
        As in ``cross_entropy``.
    chunk : int, optional
        The most logits (elements) one block holds.  Default 2^23 (32 MiB of
        float32): tiles of up to 2896 x 2896, row blocks for the loss of
        ``V <= 2896`` classes (or all N rows) and with the gradients of
        ``V <= 32768`` (256 rows; or all N rows).
    return_grad : bool, default False
        Also return the gradients.
    grad_loss : scalar or array_like, optional
        The upstream gradient (``return_grad=True`` only; ValueError
        otherwise), as in ``cross_entropy_with_grad``: a scalar for
        ``"sum"``/``"mean"`` (default 1.0), a scalar or shape ``(N,)`` for
        ``"none"`` (default all ones: the gradients of the sum of the
        losses).

    Returns
    -------
    loss : numpy.floating or ndarray
        What ``cross_entropy(h @ W + bias, target, ...)`` returns: a scalar
        for ``"sum"``/``"mean"``, shape ``(N,)`` for ``"none"``.
    dh : ndarray of shape (N, d)
        Only with ``return_grad=True``: ``d(loss * grad_loss) / dh``.
    dW : ndarray of W's shape
        Only with ``return_grad=True``.
    dbias : ndarray of shape (V,)
        Only with ``return_grad=True`` and a ``bias``.

    Raises
    ------
    TypeError
        A float input (``h``, ``W``, ``bias``, ``weight``) of another kind
        than real numbers, or longdouble; non-integer targets; a bool or
        non-integer ``chunk``; as ``cross_entropy`` otherwise.
    ValueError
        ``h`` or ``W`` not 2-D, ``W``'s ``d`` not ``h``'s, ``bias``,
        ``weight``, ``target`` or ``grad_loss`` of the wrong shape,
        ``chunk < 1``, an unknown reduction; as ``cross_entropy`` otherwise.
    IndexError
        A class index outside ``[0, V)`` that is not ``ignore_index``.

    See Also
    --------
    cross_entropy : The loss of given logits.
    cross_entropy_with_grad : The loss and the logits' gradient.

    Notes
    -----
    Dtypes: ``h``, ``W`` and ``bias`` are promoted together (float16 to
    float32, bools and integers to float64); the loss and the gradients have
    that dtype.  Each block's per-sample losses are ``cross_entropy``'s of
    that block's logits (the same kernels; over vocabulary tiles, the same
    formula from the merged row statistics, within 2 ULP of the exact loss
    of the logits), summed exactly (``math.fsum``) and rounded once: a
    ``"sum"`` or ``"mean"`` is within about 1 ULP of ``cross_entropy`` of
    the same logits, which adds unrounded per-sample losses.  Non-finite
    logits give what ``cross_entropy`` gives in either regime: ``inf`` for a
    ``-inf`` target logit (or any ``-inf`` logit with label smoothing),
    ``nan`` for a row with a ``+inf`` or NaN logit.  The logits themselves are BLAS products of a slice of rows, and
    may differ in their last bits from one ``h @ W`` (BLAS blocks a large
    product differently).  ``dW`` sums the blocks' products in the dtype, as
    a BLAS product over all rows would; ``dbias`` sums in float64.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> h = rng.standard_normal((6, 4))
    >>> W = rng.standard_normal((4, 10))
    >>> target = np.array([1, 0, 9, 3, 3, 7])
    >>> loss = fa.linear_cross_entropy(h, W, target, chunk=20)   # tiles of 4 x 5
    >>> bool(np.isclose(loss, fa.cross_entropy(h @ W, target)))
    True
    >>> loss = fa.linear_cross_entropy(h, W, target, chunk=6)    # tiles of 2 x 3
    >>> bool(np.isclose(loss, fa.cross_entropy(h @ W, target)))
    True
    >>> loss, dh, dW = fa.linear_cross_entropy(h, W, target, return_grad=True)
    >>> _, dZ = fa.cross_entropy_with_grad(h @ W, target)
    >>> bool(np.allclose(dh, dZ @ W.T) and np.allclose(dW, h.T @ dZ))
    True
    """
