"""Property tests (Hypothesis): random shapes (0- and 1-sized axes included),
axes and axis tuples, both dtypes, strided and reversed views, and values
from the whole float range (+-inf, NaN, subnormals, +-1e30 and beyond).

Each property holds for every input, so a failure is a bug (Hypothesis
shrinks it to a small example):

* forward ops (native and the NumPy twin) against the np.longdouble
  reference within the documented bounds, with the same non-finite pattern;
* softmax groups sum to 1; softmax / log_softmax unchanged bit for bit by an
  exact shift of the input (they depend on x - max only, formed exactly);
  log_softmax = log(softmax) where both are normal; logsumexp monotone;
* relu / relu_backward exactly as their definitions; softmax_backward and
  log_softmax_backward outputs sum to 0 over the group (the identities of
  the softmax Jacobian).

CI runs a fixed number of examples, derandomised (the same ones every run):
FASTACT_HYPOTHESIS_EXAMPLES raises the count (e.g. 5000 by hand), and
FASTACT_HYPOTHESIS_RANDOM=1 draws new examples each run.
"""

import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import fastact  # noqa: E402
import fastact.numpy_impl as twin  # noqa: E402
from _ref import LD, check_op_accuracy  # noqa: E402

# accuracy class of the public functions under the active backend
MODE = "twin" if fastact.BACKEND == "numpy" else "native"
EXAMPLES = int(os.environ.get("FASTACT_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FASTACT_HYPOTHESIS_RANDOM", "0") in ("", "0"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
DTYPES = (np.float32, np.float64)


def floats_of(dtype, finite=False, lim=None):
    """Any float of the dtype (subnormals, +-inf, NaN unless finite), or
    within [-lim, lim]."""
    width = 32 if dtype == np.float32 else 64
    if lim is not None:
        return st.floats(-lim, lim, width=width, allow_subnormal=True)
    return st.floats(width=width, allow_nan=not finite, allow_infinity=not finite,
                     allow_subnormal=True)


@st.composite
def arrays_axes(draw, finite=False, lim=None, max_dims=4, max_side=9):
    """(x, axis): x of a random dtype and shape, possibly a strided or
    reversed view; axis an int, a tuple of distinct axes, or None."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=0, max_side=max_side))
    elements = floats_of(dtype, finite, lim)
    # mostly one magnitude per array (realistic rows), sometimes anything
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    view = draw(st.sampled_from(("plain", "reversed", "strided", "transposed")))
    if view == "reversed":
        x = x[..., ::-1]
    elif view == "strided" and x.shape[0] > 1:
        x = x[::2]
    elif view == "transposed" and x.ndim > 1:
        x = x.T
    ndim = x.ndim
    kind = draw(st.sampled_from(("int", "tuple", "none")))
    if kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    elif kind == "tuple":
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axis = tuple(axes)
    else:
        axis = None
    return x, axis


def reduce_axes(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


# ------------------------------------------------------------- forward ops

@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@SETTINGS
@given(data=arrays_axes())
def test_forward_within_bounds(op, data):
    """The public function (native kernels, or the twin under
    FASTACT_BACKEND=numpy) and the twin within their documented bounds of
    the longdouble reference, non-finite outputs where the reference has
    them."""
    x, axis = data
    y = getattr(fastact, op)(x, axis=axis)
    check_op_accuracy(op, y, x, reduce_axes(x, axis), MODE)
    t = getattr(twin, op)(x, axis=axis)
    check_op_accuracy(op, t, x, reduce_axes(x, axis), "twin")


@SETTINGS
@given(data=arrays_axes(finite=True, lim=1e4))
def test_softmax_sums_to_one(data):
    """Each group of softmax sums to 1 within n * 2 ULP (each output within 2
    ULP) plus the sum's own rounding."""
    x, axis = data
    y = fastact.softmax(x, axis=axis)
    if y.size == 0:
        return
    ax = reduce_axes(x, axis)
    n = int(np.prod([x.shape[a] for a in np.atleast_1d(ax)])) if x.ndim else 1
    if n == 0:
        return
    eps = float(np.finfo(x.dtype).eps)
    s = np.sum(y.astype(LD), axis=ax)
    assert np.all(np.abs(s - 1) <= (2 * n + 2) * eps), float(np.max(np.abs(s - 1)))


@SETTINGS
@given(dtype=st.sampled_from(DTYPES), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=40),
       shift=st.integers(-2 ** 10, 2 ** 10), data=st.data())
def test_shift_invariance_exact(dtype, shape, shift, data):
    """softmax(x + c) == softmax(x) and log_softmax likewise, bit for bit,
    when every x + c is exact (integer-valued x and c): the kernels use only
    x - max, formed exactly."""
    x = data.draw(hnp.arrays(dtype, shape, elements=st.integers(-2 ** 11, 2 ** 11).map(float)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    xs = x + dtype(shift)
    assert np.array_equal(xs - dtype(shift), x)  # the shift is exact
    for op in (fastact.softmax, fastact.log_softmax):
        a, b = op(x, axis=axis), op(xs, axis=axis)
        assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), op.__name__


@SETTINGS
@given(data=arrays_axes(finite=True, lim=50.0))
def test_log_softmax_is_log_of_softmax(data):
    """log_softmax(x) = log(softmax(x)) where the softmax output is normal:
    each within 2 ULP (log_softmax float64: 3), so within a few ULP of
    |log_softmax| + 1 of each other."""
    x, axis = data
    ls = fastact.log_softmax(x, axis=axis).astype(LD)
    y = fastact.softmax(x, axis=axis)
    fin = np.finfo(x.dtype)
    ok = y >= fin.tiny
    with np.errstate(divide="ignore"):
        ly = np.log(y.astype(LD))
    tol = 6 * LD(fin.eps) * (np.abs(ls) + 1)
    assert np.all(np.abs(ls - ly)[ok] <= tol[ok])


@SETTINGS
@given(data=arrays_axes(finite=True, lim=1e3), bump=st.floats(0, 1e3), at=st.integers(0, 10 ** 6))
def test_logsumexp_monotone(data, bump, at):
    """Raising one element never lowers logsumexp by more than its 2 ULP
    bound (twice: both results may err in opposite directions)."""
    x, axis = data
    if x.size == 0:
        return
    x2 = np.array(x)
    x2.flat[at % x.size] += x.dtype.type(bump)
    a = fastact.logsumexp(x, axis=axis)
    b = fastact.logsumexp(x2, axis=axis)
    ulp = np.spacing(np.abs(np.asarray(a)).astype(x.dtype))
    assert np.all(np.asarray(b) >= np.asarray(a) - 4 * ulp)


# ----------------------------------------------------------- training ops

@SETTINGS
@given(data=arrays_axes(), g=st.data())
def test_relu_and_backward_exact(data, g):
    """relu(x) = x where x > 0 (NaN kept), else +0; relu_backward(g, x) = g
    where not (x <= 0) (x > 0 or NaN), else +0: bit for bit."""
    x, _ = data
    y = fastact.relu(x)
    want = np.where(x > 0, x, x.dtype.type(0))
    want = np.where(np.isnan(x), x, want)
    assert np.array_equal(y.view(np.uint8), np.ascontiguousarray(want).view(np.uint8))
    gr = g.draw(hnp.arrays(x.dtype, x.shape, elements=floats_of(x.dtype)))
    d = fastact.relu_backward(gr, x)
    want = np.where(x <= 0, x.dtype.type(0), gr)
    assert np.array_equal(d.view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("op", ["softmax_backward", "log_softmax_backward"])
@SETTINGS
@given(data=arrays_axes(finite=True, lim=30.0, max_dims=3, max_side=12), g=st.data())
def test_softmax_jacobian_identity(op, data, g):
    """The outputs of each group sum to 0: sum y (g - sum g y) = 0 for
    softmax (sum y = 1), sum (g - exp(y) sum g) = 0 for log_softmax.
    Tolerance from the terms' sizes: n ULP of sum |g| (+ the forward's error
    in sum y, 2n ULP)."""
    x, axis = data
    if x.size == 0:
        return
    grad = g.draw(hnp.arrays(x.dtype, x.shape, elements=floats_of(x.dtype, lim=10.0)))
    fwd = fastact.softmax if op == "softmax_backward" else fastact.log_softmax
    y = fwd(x, axis=axis)
    d = getattr(fastact, op)(grad, y, axis=axis)
    t = getattr(twin, op)(grad, y, axis=axis)
    ax = reduce_axes(x, axis)
    n = int(np.prod([x.shape[a] for a in np.atleast_1d(ax)]))
    eps = LD(np.finfo(x.dtype).eps)
    scale = np.sum(np.abs(grad.astype(LD)), axis=ax) + 1
    for res in (d, t):
        s = np.sum(res.astype(LD), axis=ax)
        assert np.all(np.abs(s) <= 4 * (n + 2) * eps * scale), float(np.max(np.abs(s) / scale))
