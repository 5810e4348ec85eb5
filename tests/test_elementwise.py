"""leaky_relu, sigmoid and the backward ops (relu_backward,
leaky_relu_backward, sigmoid_backward): native vs NumPy twin vs an
np.longdouble reference, special values, finite differences, every kernel
level, threads, out= and errors."""

import numpy as np
import pytest

import fastact
from _ref import rng_for

native = pytest.importorskip("fastact._native")
tw = fastact.numpy_impl
LD = np.longdouble
_COMPILED = list(native.KERNELS_COMPILED)
LEVELS = _COMPILED[: _COMPILED.index(native.CPU_LEVEL) + 1]
DTYPES = [np.float32, np.float64]
SIZES = list(range(0, 34)) + [63, 64, 65, 1000, 4099, 1 << 18 | 3]
LD_OK64 = bool(np.finfo(LD).eps < np.finfo(np.float64).eps)


def ulp_err(a, ref, dt):
    """|a - ref| in ULPs of dt at ref (ref in longdouble)."""
    a = np.asarray(a, LD)
    ref = np.asarray(ref, LD)
    sp = np.spacing(np.abs(ref).astype(dt)).astype(LD)
    sp = np.maximum(sp, LD(np.finfo(dt).smallest_subnormal))
    return np.abs(a - ref) / sp


def ref_sigmoid(x):
    xl = np.asarray(x, LD)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(xl))
        return np.where(xl >= 0, 1, e) / (1 + e)


def sigmoid_bound(dt, level, subnormal=True):
    """The stated bound of ops/sigmoid.c: float32 in float32 pairs at the
    levels with FMA (0.75 ULP for normal results, 0.875 for subnormal ones,
    which the spacing floor of ulp_err measures in subnormal ULPs), in
    float64 (0.5 ULP + 2^-8.5) at the others; float64 2 ULP."""
    if dt == np.float64:
        return 2.0
    if level in ("avx2", "avx512"):
        return 0.875 if subnormal else 0.75
    return 0.503


def mixed(n, dt, key, scale=8.0):
    rng = rng_for("elem", n, np.dtype(dt).name, key)
    return (rng.standard_normal(n) * scale).astype(dt)


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def same(a, b):
    """Bit-identical, NaN positions equal (payloads not compared)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    na, nb = np.isnan(a), np.isnan(b)
    np.testing.assert_array_equal(na, nb)
    np.testing.assert_array_equal(bits(np.where(na, 0, a)), bits(np.where(nb, 0, b)))


SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e4, -1e4, 100.0, -100.0,
           30.0, -30.0, 750.0, -750.0, 5e-324, -5e-324, 1e-30, -1e-30, 88.0, -88.0, 104.0, -104.0]


@pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n", SIZES)
def test_sigmoid_accuracy_sizes(dt, n):
    x = mixed(n, dt, "sig")
    y = fastact.sigmoid(x)
    assert y.dtype == dt and y.shape == x.shape
    if n == 0:
        return
    if dt == np.float64 and not LD_OK64:
        pytest.skip("longdouble is float64 here")
    e = ulp_err(y, ref_sigmoid(x), dt)
    assert e.max() <= sigmoid_bound(dt, native._kernel_level()), e.max()
    # the twin's float64 rides on np.exp, whose accuracy depends on the NumPy
    # version and its SIMD path (2.19 ULP in all measured with NumPy 1.25.2)
    et = ulp_err(tw.sigmoid(x), ref_sigmoid(x), dt)
    assert et.max() <= (2.0 if dt == np.float32 else 3.0), et.max()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
def test_sigmoid_every_level_dense(level, dt):
    x = np.concatenate([np.linspace(-40, 40, 200001), np.linspace(-745, 40, 20001),
                        np.array(SPECIAL)]).astype(dt)
    prev = native._set_kernel_level(level)
    try:
        y = fastact.sigmoid(x)
        yo = x[1:].copy()
        fastact.sigmoid(yo, out=yo)  # in place, odd offset kept by the copy
    finally:
        native._set_kernel_level(prev)
    same(yo, y[1:])
    ref = ref_sigmoid(x)
    fin = np.isfinite(ref)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))
    if dt == np.float64 and not LD_OK64:
        return
    e = ulp_err(y[fin], ref[fin], dt)
    assert e.max() <= sigmoid_bound(dt, level), (level, float(e.max()))
    normal = np.abs(ref[fin]) >= LD(np.finfo(dt).tiny)
    assert e[normal].max() <= sigmoid_bound(dt, level, False), (level, float(e[normal].max()))


@pytest.mark.parametrize("module", [fastact, tw], ids=["native", "twin"])
@pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
def test_sigmoid_special_values(module, dt):
    with np.errstate(all="raise"):
        x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e4, -1e4, -100.0], dt)
        y = module.sigmoid(x) if module is fastact else None
    if y is None:
        y = module.sigmoid(x)
    assert y[0] == 1 and y[1] == 0 and np.isnan(y[2]) and y[3] == 0.5 and y[4] == 0.5
    assert y[5] == 1 and y[6] == 0
    if dt == np.float64:
        assert abs(y[7] / 3.720075976020836e-44 - 1) < 1e-15
    else:
        assert y[7] == np.float32(3.7835059e-44)  # the correctly rounded subnormal


@pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("slope", [0.01, 0.2, -1.5, 0.0, 3])
def test_leaky_relu_bits(dt, slope):
    x = np.concatenate([mixed(70001, dt, "lr"), np.array(SPECIAL, dt)])
    a = fastact.leaky_relu(x, slope)
    b = tw.leaky_relu(x, negative_slope=slope)
    s = dt(slope)
    exp = np.where(x > 0, x, x * s)
    same(a, b)
    same(a, exp)
    r = fastact.leaky_relu(np.array([-0.0], dt), slope)
    assert np.signbit(r[0]) == (np.signbit(s) == 0 and s != 0 or slope == 0.0)


def test_leaky_relu_slope_validation():
    x = np.ones(3)
    for m in (fastact, tw):
        for bad in ("0.1", None, 1j, np.ones(2), True):
            with pytest.raises(TypeError, match="negative_slope"):
                m.leaky_relu(x, bad)
            with pytest.raises(TypeError, match="negative_slope"):
                m.leaky_relu_backward(x, x, bad)
        with pytest.raises(ValueError):
            m.leaky_relu(x, 10 ** 400)
        assert np.isnan(m.leaky_relu(-x, np.nan)).all()
        np.testing.assert_array_equal(m.leaky_relu(-x, np.float32(0.5)), -0.5)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
def test_exact_ops_every_level_bit_identical(level, dt):
    n = 4099
    g = mixed(n, dt, "g")
    x = mixed(n, dt, "x")
    x[::7] = 0.0
    x[1::7] = -0.0
    x[2::11] = np.nan
    g[3::13] = np.inf
    y = np.clip(mixed(n, dt, "y") / 16 + 0.5, 0, 1).astype(dt)
    prev = native._set_kernel_level(level)
    try:
        got = [fastact.relu_backward(g, x), fastact.leaky_relu_backward(g, x, 0.3),
               fastact.sigmoid_backward(g, y), fastact.leaky_relu(x, 0.1),
               fastact.relu_backward(g[1:], x[:-1])]
    finally:
        native._set_kernel_level(prev)
    exp = [tw.relu_backward(g, x), tw.leaky_relu_backward(g, x, 0.3),
           tw.sigmoid_backward(g, y), tw.leaky_relu(x, 0.1), tw.relu_backward(g[1:], x[:-1])]
    for a, b in zip(got, exp):
        same(a, b)
    rb = got[0]
    assert not np.signbit(rb[x <= 0]).any() and (rb[x <= 0] == 0).all()
    np.testing.assert_array_equal(rb[np.isnan(x)], g[np.isnan(x)])
    sb = got[2]
    ref = (np.asarray(g, LD) * (1 - np.asarray(y, LD))) * np.asarray(y, LD)
    fin = np.isfinite(ref)
    if dt == np.float32:
        assert ulp_err(sb[fin], ref[fin], dt).max() <= 0.5001


def test_relu_backward_semantics():
    g = np.array([np.inf, -np.inf, np.nan, 2.0, 3.0, 4.0])
    x = np.array([-1.0, 0.0, -0.0, np.nan, 1.0, -np.inf])
    for m in (fastact, tw):
        y = m.relu_backward(g, x)
        np.testing.assert_array_equal(y, [0, 0, 0, 2, 3, 0])
        assert not np.signbit(y).any()


def fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_backward_vs_finite_differences():
    x = np.linspace(-6, 6, 1001) + 1e-3  # avoids 0 exactly (kinks)
    g = mixed(1001, np.float64, "fdg")
    ys = fastact.sigmoid(x)
    np.testing.assert_allclose(fastact.sigmoid_backward(g, ys), g * fd(fastact.sigmoid, x),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fastact.relu_backward(g, x), g * fd(fastact.relu, x),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fastact.leaky_relu_backward(g, x, 0.2),
                               g * fd(lambda v: fastact.leaky_relu(v, 0.2), x),
                               rtol=1e-7, atol=1e-9)


def test_against_torch():
    torch = pytest.importorskip("torch")
    x = np.concatenate([mixed(5000, np.float64, "t"), [0.0, -0.0, np.nan]])
    g = mixed(x.size, np.float64, "tg")
    for dt in DTYPES:
        xt = torch.from_numpy(x.astype(dt)).requires_grad_(True)
        gt = torch.from_numpy(g.astype(dt))
        for name, fwd, bwd in (
            ("relu", torch.relu, lambda gg, xx: fastact.relu_backward(gg, xx)),
            ("leaky", lambda v: torch.nn.functional.leaky_relu(v, 0.1),
             lambda gg, xx: fastact.leaky_relu_backward(gg, xx, 0.1)),
        ):
            xt.grad = None
            fwd(xt).backward(gt)
            same(bwd(g.astype(dt), x.astype(dt)), xt.grad.numpy())
        st = torch.sigmoid(xt)
        np.testing.assert_allclose(fastact.sigmoid(x.astype(dt)), st.detach().numpy(),
                                   rtol=2e-7 if dt == np.float32 else 1e-15, equal_nan=True)


@pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
def test_threads_bit_identical(dt):
    n = (1 << 20) + 5
    g, x = mixed(n, dt, "thg"), mixed(n, dt, "thx")
    t0 = fastact.get_num_threads()
    res = []
    try:
        for t in (1, 2):
            fastact.set_num_threads(t)
            res.append([fastact.sigmoid(x), fastact.leaky_relu(x), fastact.relu_backward(g, x),
                        fastact.leaky_relu_backward(g, x), fastact.sigmoid_backward(g, x)])
    finally:
        fastact.set_num_threads(t0)
    for a, b in zip(*res):
        same(a, b)


@pytest.mark.parametrize("module", [fastact, tw], ids=["native", "twin"])
def test_layouts_dtypes_and_0d(module):
    base = mixed(60 * 70, np.float64, "lay").reshape(60, 70)
    for x in (base[::3, 1::2], base[::-2, ::-3], base.T, np.asfortranarray(base)):
        same(module.sigmoid(x), module.sigmoid(np.ascontiguousarray(x)))
        same(module.relu_backward(x, x.T.T), tw.relu_backward(x.copy(), x.copy()))
    h = base.astype(np.float16)
    assert module.sigmoid(h).dtype == np.float16
    assert module.sigmoid_backward(h, h).dtype == np.float16
    assert module.leaky_relu(np.arange(-3, 3)).dtype == np.float64
    assert module.relu_backward(np.ones(3, np.float32), np.ones(3)).dtype == np.float64
    assert module.relu_backward(np.ones(3, np.float32), np.ones(3, np.float16)).dtype == np.float32
    assert module.sigmoid(np.array([True, False])).dtype == np.float64
    r = module.sigmoid(np.array([0, 1], LD))
    assert r.dtype == LD and r[0] == 0.5
    s = module.sigmoid(np.float32(0.0))
    assert type(s) is np.float32 and s == 0.5
    s = module.relu_backward(2.0, 1.0)
    assert type(s) is np.float64 and s == 2.0


@pytest.mark.parametrize("module", [fastact, tw], ids=["native", "twin"])
def test_out_alias_overlap_and_errors(module):
    g = mixed(1000, np.float64, "og")
    x = mixed(1000, np.float64, "ox")
    exp = tw.sigmoid_backward(g, x)
    for which in ("g", "x"):
        gc, xc = g.copy(), x.copy()
        o = gc if which == "g" else xc
        assert module.sigmoid_backward(gc, xc, out=o) is o
        same(o, exp)
    buf = np.concatenate([g, [1.0]])
    gv, ov = buf[1:], buf[:-1]
    e2 = tw.relu_backward(gv.copy(), x)
    assert module.relu_backward(gv, x, out=ov) is ov
    same(ov, e2)
    sentinel = np.full(1000, 7.0)
    with pytest.raises(ValueError, match=r"grad and x must have the same shape.*\(1000,\).*\(999,\)"):
        module.relu_backward(g, x[:-1], out=sentinel)
    with pytest.raises(ValueError, match=r"grad and y"):
        module.sigmoid_backward(g, x[:5])
    with pytest.raises(TypeError):
        module.relu_backward(g, x, out=np.empty(1000, np.float32))
    with pytest.raises(ValueError):
        module.sigmoid(x, out=np.empty(999))
    ro = np.empty(1000)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        module.leaky_relu_backward(g, x, out=ro)
    with pytest.raises(TypeError, match="grad"):
        module.relu_backward(g.astype(complex), x, out=sentinel)
    assert (sentinel == 7.0).all()


def test_error_messages_equal():
    g, x = np.ones(4), np.ones(5)
    for call in (lambda m: m.relu_backward(g, x), lambda m: m.sigmoid_backward(g, x.astype(np.float32)),
                 lambda m: m.leaky_relu(x, "a"), lambda m: m.sigmoid(x, out=np.empty(4))):
        msgs = []
        for m in (fastact, tw):
            with pytest.raises(Exception) as ei:
                call(m)
            msgs.append((type(ei.value), str(ei.value)))
        assert msgs[0] == msgs[1]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
def test_streamed_outputs_every_level(level, dt):
    """Outputs of >= STREAM_BYTES take the streaming-store path of the maps: every
    head offset (out= views starting 0..3 elements into an aligned buffer),
    in place, odd lengths; the same bits as the twin (the exact ops) and as
    the cached path (sigmoid, sigmoid_backward: on the same elements in
    pieces below the threshold)."""
    n = (native.STREAM_BYTES + (1 << 20)) // np.dtype(dt).itemsize + 13
    g = mixed(n, dt, "sg")
    x = mixed(n, dt, "sx")
    x[::9] = 0.0
    x[5::17] = np.nan
    y = np.clip(mixed(n, dt, "sy") / 16 + 0.5, 0, 1).astype(dt)
    prev = native._set_kernel_level(level)
    t0 = fastact.get_num_threads()
    try:
        fastact.set_num_threads(1)
        for off in range(4):
            buf = np.full(n + 8, 7.0, dt)
            o = buf[off:off + n]
            for f, args, ref in ((fastact.relu, (x,), tw.relu(x)),
                                 (fastact.leaky_relu, (x, 0.1), tw.leaky_relu(x, 0.1)),
                                 (fastact.relu_backward, (g, x), tw.relu_backward(g, x)),
                                 (fastact.leaky_relu_backward, (g, x, 0.3),
                                  tw.leaky_relu_backward(g, x, 0.3))):
                f(*args, out=o)
                same(o, ref)
                assert (buf[:off] == 7).all() and (buf[off + n:] == 7).all()
            piece = 1 << 16  # below the streaming threshold
            for f, args in ((fastact.sigmoid, (x,)), (fastact.sigmoid_backward, (g, y))):
                f(*args, out=o)
                cached = np.concatenate([f(*(a[i:i + piece] for a in args))
                                         for i in range(0, n, piece)])
                same(o, cached)
                assert (buf[:off] == 7).all() and (buf[off + n:] == 7).all()
        z = x.copy()
        fastact.relu(z, out=z)
        same(z, tw.relu(x))
        h = g.copy()
        fastact.relu_backward(h, x, out=h)
        same(h, tw.relu_backward(g, x))
    finally:
        fastact.set_num_threads(t0)
        native._set_kernel_level(prev)
