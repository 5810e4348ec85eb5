"""softmax_backward / log_softmax_backward: the native kernels (fastact._api,
whatever backend is active) against the NumPy twin and an np.longdouble
reference, finite differences of the forward ops, PyTorch autograd when
installed, special values, every kernel level, thread counts, out= and the
errors."""

import numpy as np
import pytest

import fastact
from fastact import _api as nat
from fastact import _native as native
from fastact import numpy_impl as twin

LD = np.longdouble
OPS = ("softmax_backward", "log_softmax_backward")
FWD = {"softmax_backward": "softmax", "log_softmax_backward": "log_softmax"}
# ULP allowance relative to the scale |y| (|g| + |s|) (log: |g| + exp(y) |s|)
ULPS = {np.float32: 2, np.float64: 4}

_COMPILED = list(native.KERNELS_COMPILED)
LEVELS = _COMPILED[: _COMPILED.index(native.CPU_LEVEL) + 1]


def ref(op, g, y, axes):
    """(result, scale) in longdouble."""
    g = np.asarray(g, LD)
    y = np.asarray(y, LD)
    if g.ndim == 0:
        g, y, axes = g.reshape(1), y.reshape(1), (0,)
    if op == "softmax_backward":
        s = np.sum(g * y, axis=axes, keepdims=True)
        return y * (g - s), np.abs(y) * (np.abs(g) + np.abs(s))
    s = np.sum(g, axis=axes, keepdims=True)
    e = np.exp(y)
    return g - e * s, np.abs(g) + e * np.abs(s)


def axes_of(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, tuple):
        return tuple(a % ndim for a in axis)
    return (axis % ndim,) if ndim else ()


def inputs(op, shape, axis, dt, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    g = rng.standard_normal(shape).astype(dt)
    y = getattr(twin, FWD[op])(x.astype(dt), axis)
    return g, np.asarray(y, dt)


def check_close(op, got, g, y, axis, dt, ulps=None):
    want, scale = ref(op, g, y, axes_of(axis, np.ndim(g)))
    got = np.asarray(got, LD).reshape(want.shape)
    eps = LD(np.finfo(dt).eps)
    k = ulps if ulps is not None else ULPS[dt]
    err = np.abs(got - want)
    bound = k * eps * scale + LD(np.finfo(dt).tiny)
    assert np.all(err <= bound), (float(np.max(err / (eps * scale + LD(np.finfo(dt).tiny)))), op, dt)


SHAPES = [
    ((7, 33), -1), ((7, 33), 0), ((7, 33), None), ((4, 5, 6), 1), ((4, 5, 6), 0),
    ((4, 5, 6), (0, 1)), ((4, 5, 6), (1, 2)), ((4, 5, 6), (0, 2)), ((3, 300, 2), 1),
    ((2, 9, 515), 1), ((1000,), -1), ((5, 1), -1), ((1, 5), 0), ((3, 4), ()),
    ((2, 3, 4, 5), -2), ((20, 3000), -1),
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", SHAPES)
def test_against_reference_and_twin(op, dt, shape, axis):
    g, y = inputs(op, shape, axis, dt)
    got = getattr(nat, op)(g, y, axis)
    assert got.dtype == dt and got.shape == g.shape
    check_close(op, got, g, y, axis, dt)
    tw = getattr(twin, op)(g, y, axis)
    assert tw.dtype == dt
    check_close(op, tw, g, y, axis, dt, ulps=64)  # the twin's sums are plain float64


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_tails_and_offsets(op, dt):
    # row lengths around every vector width, views at odd element offsets
    base_g = np.random.default_rng(1).standard_normal(4 * 40 + 3).astype(dt)
    base_y = np.random.default_rng(2).standard_normal(4 * 40 + 3).astype(dt)
    if op == "softmax_backward":
        base_y = np.abs(base_y)
    else:
        base_y = -np.abs(base_y)
    for n in range(1, 2 * 16 + 2):
        for off in (0, 1, 3):
            g = base_g[off : off + 4 * n].reshape(4, n)
            y = base_y[off : off + 4 * n].reshape(4, n)
            check_close(op, getattr(nat, op)(g, y), g, y, -1, dt)
            g3 = base_g[off : off + 4 * n].reshape(2, 2, n)
            y3 = base_y[off : off + 4 * n].reshape(2, 2, n)
            check_close(op, getattr(nat, op)(g3, y3, 1), g3, y3, 1, dt)


@pytest.mark.parametrize("op", OPS)
def test_layouts(op):
    g, y = inputs(op, (6, 50, 8), 1, np.float64)
    want = getattr(nat, op)(np.ascontiguousarray(g), np.ascontiguousarray(y), 1)
    # non-contiguous, negative strides, Fortran order, misaligned bytes
    for gg, yy, sl in [
        (g[:, ::-1], y[:, ::-1], (slice(None), slice(None, None, -1))),
        (np.asfortranarray(g), np.asfortranarray(y), ()),
        (g.transpose(2, 1, 0).copy().transpose(2, 1, 0), y, ()),
    ]:
        got = getattr(nat, op)(gg, yy, 1)
        np.testing.assert_allclose(got, want[sl] if sl else want, rtol=1e-14, atol=1e-15)
    raw = np.zeros(g.nbytes + 1, np.uint8)
    mis = np.frombuffer(raw.data, dtype=np.float64, count=g.size, offset=1).reshape(g.shape)
    assert not mis.flags.aligned
    mis[...] = g
    np.testing.assert_array_equal(getattr(nat, op)(mis, y, 1), want)
    bs = g.astype(g.dtype.newbyteorder())
    np.testing.assert_array_equal(getattr(nat, op)(bs, y, 1), want)


@pytest.mark.parametrize("op", OPS)
def test_dtypes(op):
    g, y = inputs(op, (5, 17), -1, np.float32)
    r16 = getattr(nat, op)(g.astype(np.float16), y.astype(np.float16))
    assert r16.dtype == np.float16
    w16 = getattr(nat, op)(g.astype(np.float16).astype(np.float32), y.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(r16, w16.astype(np.float16))
    assert getattr(twin, op)(g.astype(np.float16), y.astype(np.float16)).dtype == np.float16
    assert getattr(nat, op)(g, y.astype(np.float64)).dtype == np.float64
    assert getattr(nat, op)(g.astype(np.float16), y).dtype == np.float32
    gi = np.arange(12).reshape(3, 4)
    ri = getattr(nat, op)(gi, y[:3, :4].astype(np.float32))
    assert ri.dtype == np.float64
    np.testing.assert_allclose(ri, getattr(nat, op)(gi.astype(np.float64), y[:3, :4].astype(np.float64)), rtol=0)
    assert getattr(nat, op)([True, False], [0.5, 0.5]).dtype == np.float64
    gl, yl = g.astype(LD), y.astype(LD)
    rl = getattr(nat, op)(gl, yl)
    assert rl.dtype == LD
    want, scale = ref(op, gl, yl, (1,))
    assert np.all(np.abs(rl - want) <= 64 * np.finfo(LD).eps * scale)
    for bad in (np.ones(3, complex), np.array(["a"]), np.ma.array([1.0, 2.0])):
        for m in (nat, twin):
            with pytest.raises(TypeError):
                getattr(m, op)(bad, bad)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("m", [nat, twin])
def test_0d_and_empty(op, m):
    r = getattr(m, op)(np.float64(2.0), np.float64(0.25))
    assert isinstance(r, np.float64)
    want = 0.25 * (2.0 - 0.5) if op == "softmax_backward" else 2.0 - np.exp(0.25) * 2.0
    assert r == want
    o = np.zeros(())
    assert getattr(m, op)(np.float64(2.0), np.float64(0.25), out=o) is o and o[()] == want
    for shape, axis in [((0, 5), -1), ((5, 0), -1), ((0, 5), 0), ((3, 0, 2), 1)]:
        e = getattr(m, op)(np.zeros(shape), np.zeros(shape), axis)
        assert e.shape == shape and e.dtype == np.float64
    # n == 1: s is the term itself
    g = np.array([[3.0], [-2.0]])
    y = np.array([[1.0], [0.5]])
    r = getattr(m, op)(g, y)
    if op == "softmax_backward":
        np.testing.assert_array_equal(r, y * (g - g * y))
    else:
        np.testing.assert_array_equal(r, g - np.exp(y) * g)


def _fd_jtg(fwd, x, g, axis, h=1e-6):
    """J^T g of fwd at x by central differences (float64)."""
    out = np.empty_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        xp = flat.copy(); xp[i] += h
        xm = flat.copy(); xm[i] -= h
        fp = fwd(xp.reshape(x.shape), axis)
        fm = fwd(xm.reshape(x.shape), axis)
        out.reshape(-1)[i] = np.sum(g * (fp - fm)) / (2 * h)
    return out


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape,axis", [((3, 7), -1), ((3, 4, 2), 1), ((2, 3, 2), None)])
def test_finite_differences(op, shape, axis):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    fwd = getattr(fastact, FWD[op])
    y = fwd(x, axis)
    got = getattr(nat, op)(g, y, axis)
    np.testing.assert_allclose(got, _fd_jtg(fwd, x, g, axis), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_torch_autograd(op, dt):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 9, 5)).astype(dt)
    g = rng.standard_normal((4, 9, 5)).astype(dt)
    xt = torch.from_numpy(x).requires_grad_(True)
    f = torch.softmax if op == "softmax_backward" else torch.log_softmax
    yt = f(xt, 1)
    yt.backward(torch.from_numpy(g))
    got = getattr(nat, op)(g, yt.detach().numpy(), 1)
    tol = 1e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(got, xt.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("m", [nat, twin])
def test_special_values(m):
    nan, inf = np.nan, np.inf
    for dt in (np.float32, np.float64):
        y = np.array([[0.25, 0.75, 0.0], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]], dt)
        g = np.array([[1.0, nan, 2.0], [inf, 1.0, 0.0], [1.0, 2.0, 3.0]], dt)
        r = m.softmax_backward(g, y)
        assert np.all(np.isnan(r[0]))  # a NaN makes s NaN: the whole group
        # an infinite grad: s = inf; inf - inf = NaN there, 0 * inf = NaN at
        # y == 0, 0.5 * (1 - inf) = -inf at the finite grad
        assert np.isnan(r[1, 0]) and r[1, 1] == -inf and np.isnan(r[1, 2])
        # y == 0 exactly gives 0 where everything is finite
        assert r[2, 2] == 0 and r[2, 0] == dt(0.5) * (dt(1.0) - dt(1.5))
        ly = np.array([[-inf, np.log(0.5), np.log(0.5)], [-inf, -1.0, nan], [2.0, 0.0, -1.0]], dt)
        lg = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dt)
        lr = m.log_softmax_backward(lg, ly)
        assert lr[0, 0] == 1.0  # exp(-inf) = 0: grad itself
        assert lr[1, 0] == 1.0 and np.isnan(lr[1, 2]) and not np.isnan(lr[1, 1])
        # positive y (not a log_softmax output): exp computed exactly as well
        np.testing.assert_allclose(lr[2], lg[2] - np.exp(ly[2].astype(np.float64)) * 6.0,
                                   rtol=2e-7 if dt == np.float32 else 1e-15)
        lg2 = np.array([[nan, 1.0], [inf, 1.0]], dt)
        r2 = m.log_softmax_backward(lg2, np.full((2, 2), -0.7, dt))
        # NaN in grad: the group NaN; inf in grad: s = inf, inf - inf = NaN
        # there, 1 - e * inf = -inf beside it
        assert np.all(np.isnan(r2[0])) and np.isnan(r2[1, 0]) and r2[1, 1] == -inf


def test_positive_y_in_long_rows():
    # a positive y among many non-positive ones (tile fix-up path), and at
    # the edges of tiles
    rng = np.random.default_rng(7)
    for dt in (np.float32, np.float64):
        g = rng.standard_normal((3, 1000)).astype(dt)
        y = -np.abs(rng.standard_normal((3, 1000))).astype(dt)
        y[0, 0] = 3.0
        y[1, 255] = 0.5
        y[1, 256] = 40.0
        y[2, 999] = 1e-3
        check_close("log_softmax_backward", nat.log_softmax_backward(g, y), g, y, -1, dt)
        yc = np.ascontiguousarray(y.T)
        check_close("log_softmax_backward", nat.log_softmax_backward(np.ascontiguousarray(g.T), yc, 0),
                    g.T, yc, 0, dt)


def test_log_softmax_backward_overflow_follows_the_formula(level):
    """Found by the fuzzer: where g - exp(y) * s overflows (a positive y, not
    a log_softmax output but accepted) the float64 compensation term made
    inf - inf = NaN; float32 rounded exp(y) to float32 first (inf beyond
    y = 88.7, then inf * 0 = NaN for s = 0); and a group whose sum is +-inf
    gave NaN where exp(y) underflowed to 0 although exp(y) > 0.  Now all
    follow g - exp(y) * s evaluated exactly (twin alike), at every level,
    for rows and columns."""
    inf, nan = np.inf, np.nan
    cases = [  # (g, y, exact result)
        ([1.0, 2.0], [1000.0, 0.0], [-inf, -1.0]),
        ([1.0, 2.0], [709.0, -1000.0], [-inf, 2.0]),  # exp(709) * 3 overflows
        ([1.0, 2.0], [inf, 0.0], [-inf, -1.0]),
        ([-1.0, 1.0, -0.0], [103.4, 1e30, 0.0], [-1.0, nan, -0.0]),  # s = 0: exp(1e30) = inf
        ([inf, 1.0, 2.0, 3.0], [-1.0, -800.0, -inf, nan], [nan, -inf, nan, nan]),
        ([-inf, 1.0], [-200.0, -1e4], [nan, inf]),
    ]
    for dt in (np.float32, np.float64):
        for g, y, want in cases:
            g, y = np.array(g, dt), np.array(y, dt)
            with np.errstate(all="ignore"):
                for got in (nat.log_softmax_backward(g, y),
                            nat.log_softmax_backward(g[:, None], y[:, None], 0).ravel(),
                            nat.log_softmax_backward(np.tile(g[:, None], 40), np.tile(y[:, None], 40),
                                                     0)[:, 17],
                            twin.log_softmax_backward(g, y)):
                    np.testing.assert_array_equal(got, np.array(want, dt), err_msg=f"{dt} {g} {y}")


@pytest.fixture(params=LEVELS)
def level(request):
    prev = native._set_kernel_level(request.param)
    try:
        yield request.param
    finally:
        native._set_kernel_level(prev)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_every_level(level, op, dt):
    assert native._kernel_level() == level
    for shape, axis in [((5, 67), -1), ((3, 37, 300), 1), ((2, 3, 41), 0), ((1, 3001), -1)]:
        g, y = inputs(op, shape, axis, dt, seed=3)
        check_close(op, getattr(nat, op)(g, y, axis), g, y, axis, dt)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_cancellation_accuracy(op, dt):
    # grad equal to s up to a tiny perturbation: the result cancels; the
    # error stays a few ULP of the scale
    rng = np.random.default_rng(8)
    x = rng.standard_normal((8, 2000))
    y = getattr(twin, FWD[op])(x).astype(dt)
    g = (np.ones((8, 2000)) + 1e-6 * rng.standard_normal((8, 2000))).astype(dt)
    check_close(op, getattr(nat, op)(g, y), g, y, -1, dt)
    # large dynamic range in the terms
    g2 = (rng.standard_normal((8, 2000)) * 10.0 ** rng.integers(-8, 8, (8, 2000))).astype(dt)
    check_close(op, getattr(nat, op)(g2, y), g2, y, -1, dt)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape,axis", [((300, 2000), -1), ((8, 50, 700), 1), ((3000, 600), 0), ((1, 200000), -1)])
def test_threads_bit_identical(op, shape, axis):
    g, y = inputs(op, shape, axis, np.float32, seed=4)
    before = fastact.get_num_threads()
    try:
        fastact.set_num_threads(1)
        a = getattr(nat, op)(g, y, axis)
        fastact.set_num_threads(2)
        b = getattr(nat, op)(g, y, axis)
        g64, y64 = g.astype(np.float64), y.astype(np.float64)
        c = getattr(nat, op)(g64, y64, axis)
        fastact.set_num_threads(1)
        d = getattr(nat, op)(g64, y64, axis)
    finally:
        fastact.set_num_threads(before)
    assert a.tobytes() == b.tobytes() and c.tobytes() == d.tobytes()


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("m", [nat, twin])
def test_out(op, m):
    g, y = inputs(op, (6, 40), -1, np.float64)
    want = getattr(nat, op)(g, y)
    for which in ("grad", "y"):
        gg, yy = g.copy(), y.copy()
        o = gg if which == "grad" else yy
        assert getattr(m, op)(gg, yy, out=o) is o
        np.testing.assert_allclose(o, want, rtol=1e-13, atol=1e-16)
    # partial overlap: out shifted by one row inside a buffer holding grad
    buf = np.zeros((7, 40))
    buf[:6] = g
    o = buf[1:]
    assert getattr(m, op)(buf[:6], y, out=o) is o
    np.testing.assert_allclose(o, want, rtol=1e-13, atol=1e-16)
    # non-contiguous out
    big = np.zeros((6, 80))
    o = big[:, ::2]
    getattr(m, op)(g, y, out=o)
    np.testing.assert_allclose(o, want, rtol=1e-13, atol=1e-16)
    assert np.all(big[:, 1::2] == 0)


@pytest.mark.parametrize("op", OPS)
def test_errors_same_for_native_and_twin(op):
    g, y = inputs(op, (4, 6), -1, np.float32)
    cases = [
        (dict(grad=g, y=y[:, :5]), ValueError, None),
        (dict(grad=g, y=y, out=np.zeros((4, 5), np.float32)), ValueError, None),
        (dict(grad=g, y=y, out=np.zeros((4, 6), np.float64)), TypeError, None),
        (dict(grad=g, y=y, out=[0.0] * 24), TypeError, None),
        (dict(grad=g, y=y, axis=2), np.exceptions.AxisError, None),
        (dict(grad=g, y=y, axis=(0, 0)), ValueError, None),
        (dict(grad=g, y=y, axis=1.0), TypeError, None),
        (dict(grad=g, y=y, axis=True), TypeError, None),
    ]
    ro = np.zeros((4, 6), np.float32)
    ro.flags.writeable = False
    cases.append((dict(grad=g, y=y, out=ro), ValueError, None))
    for kw, exc, _ in cases:
        msgs = []
        for m in (nat, twin):
            o = kw.get("out")
            snapshot = None if not isinstance(o, np.ndarray) else o.copy()
            with pytest.raises(exc) as ei:
                getattr(m, op)(**kw)
            msgs.append(str(ei.value))
            if snapshot is not None:
                np.testing.assert_array_equal(o, snapshot)  # untouched
        assert msgs[0] == msgs[1]
    with pytest.raises(ValueError, match=r"grad \(4, 6\) and y \(4, 5\)"):
        getattr(nat, op)(g, y[:, :5])
    # shape mismatch with out = grad: nothing written
    gg = g.copy()
    with pytest.raises(ValueError):
        getattr(nat, op)(gg, y[:, :5], out=gg)
    np.testing.assert_array_equal(gg, g)


def test_exports():
    for op in OPS:
        assert op in fastact.__all__ and op in twin.__all__
        assert "eps" in getattr(fastact, op).__doc__ and getattr(fastact, op).__doc__ is getattr(twin, op).__doc__


def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.where(np.isnan(a), 0, a).view(np.uint8),
                                  np.where(np.isnan(b), 0, b).view(np.uint8))


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS)
def test_streamed_rows_every_level(op, dt, level):
    """Outputs of >= STREAM_BYTES (the rows' output passes stream their stores):
    every head offset of out=, in place on g and on y, the same bits as the
    same rows computed a few at a time (below the threshold)."""
    rows, n = 37, (native.STREAM_BYTES + (1 << 20)) // np.dtype(dt).itemsize // 37 + 3
    g, y = inputs(op, (rows, n), -1, dt, seed=3)
    f = getattr(fastact, op)
    prev = native._set_kernel_level(level)
    t0 = fastact.get_num_threads()
    try:
        fastact.set_num_threads(1)
        exp = np.concatenate([f(g[i:i + 2], y[i:i + 2], axis=-1) for i in range(0, rows, 2)])
        for off in range(4):
            buf = np.full(rows * n + 8, 7.0, dt)
            o = buf[off:off + rows * n].reshape(rows, n)
            f(g, y, axis=-1, out=o)
            _bits_equal(o, exp)
            assert (buf[:off] == 7).all() and (buf[off + rows * n:] == 7).all()
        for which in (0, 1):
            a, b = g.copy(), y.copy()
            f(a, b, axis=-1, out=(a, b)[which])
            _bits_equal((a, b)[which], exp)
    finally:
        fastact.set_num_threads(t0)
        native._set_kernel_level(prev)
