"""binary_cross_entropy_with_logits and its fused gradient: native kernels
vs the NumPy twin and an np.longdouble reference (loss in ULP, gradient
relative to its larger term), every weight / pos_weight / reduction /
grad_loss combination, finite differences, every kernel level in process,
thread counts bit-identical, special values, empty arrays, aliasing,
validation before writing, PyTorch autograd when importable."""

import itertools

import numpy as np
import pytest

import fastact as _pkg
from fastact import _api as fastact  # the native path, whatever FASTACT_BACKEND says
from fastact import _native as native
from fastact import numpy_impl as twin
from _ref import LD, rng_for, ulp_errors

BCE = "binary_cross_entropy_with_logits"
BCEG = "binary_cross_entropy_with_logits_with_grad"
BOTH = [fastact, twin]
REDUCTIONS = ["none", "mean", "sum"]
# per-element loss vs longdouble, in ULP: float32 is float64 rounded once;
# float64 <= 2 without weights (measured 1.68 over every level), each weight
# multiply and pos_weight's lw term add their roundings (measured 2.48 with
# weight, 3.06 with pos_weight, 3.72 with both)
LOSS_ULP = {np.float32: 0.51, np.float64: 2.0}
LOSS_ULP_WEIGHT, LOSS_ULP_POS_WEIGHT = 1.0, 1.5
# the twin's float64 loss follows NumPy's exp / log1p, whose accuracy moves
# with the NumPy version (2.10 ULP measured with NumPy 1.25.2, CI's oldest)
TWIN_EXTRA_ULP = {np.float32: 0.0, np.float64: 1.0}
GRAD_EPS = {np.float32: 1.0, np.float64: 4.0}  # gradient: eps units of its larger term


def levels():
    order = ["scalar", "sse2", "avx2", "avx512"]
    return [lv for lv in native.KERNELS_COMPILED
            if order.index(lv) <= order.index(native.CPU_LEVEL)]


@pytest.fixture
def at_level():
    prev = native._kernel_level()
    yield lambda name: native._set_kernel_level(name)
    native._set_kernel_level(prev)


# --------------------------------------------------------------- references


def _ld(a, dtype, shape):
    """a converted to dtype (as the op does), then to longdouble, broadcast."""
    if a is None:
        return None
    return np.broadcast_to(np.asarray(a).astype(dtype).astype(LD), shape)


def ref_loss(x, y, dtype, weight=None, pos_weight=None):
    """Per-element loss in longdouble: PyTorch's
    (1 - y) x + lw (log1p(exp(-|x|)) + max(-x, 0)) with its linear parts
    collected, (1 - y) max(x, 0) + pw y max(-x, 0) + lw log1p(exp(-|x|))
    (the literal form cancels even in longdouble for x << 0, y = 0, where
    the loss is ~exp(x); test_torch_autograd holds the identity)."""
    shape = np.shape(x)
    xl, yl = _ld(x, dtype, shape), _ld(y, dtype, shape)
    w = _ld(weight, dtype, shape)
    pw = _ld(pos_weight, dtype, shape)
    p = LD(1) if pw is None else pw
    lw = 1 + (p - 1) * yl
    with np.errstate(invalid="ignore"):
        loss = ((1 - yl) * np.maximum(xl, LD(0)) + p * yl * np.maximum(-xl, LD(0))
                + lw * np.log1p(np.exp(-np.abs(xl))))
    return loss if w is None else loss * w


def ref_grad_terms(x, y, dtype, weight=None, pos_weight=None, g=1.0):
    """(exact gradient, magnitude of its larger term) in longdouble."""
    shape = np.shape(x)
    xl, yl = _ld(x, dtype, shape), _ld(y, dtype, shape)
    w = _ld(weight, dtype, shape)
    pw = _ld(pos_weight, dtype, shape)
    gl = np.broadcast_to(np.asarray(g, dtype=LD), shape)
    s = 1 / (1 + np.exp(-xl))
    t = yl if pw is None else pw * yl
    a = s * (t + 1 - yl)
    d = a - t
    big = np.maximum(np.abs(a), np.abs(t))
    if w is not None:
        d, big = d * w, big * np.abs(w)
    return d * gl, big * np.abs(gl)


def check_grad(dx, x, y, dtype, weight=None, pos_weight=None, g=1.0, eps_units=None):
    ref, big = ref_grad_terms(x, y, dtype, weight, pos_weight, g)
    eps = LD(np.finfo(dtype).eps)
    units = GRAD_EPS[dtype] if eps_units is None else eps_units
    err = np.abs(np.asarray(dx).astype(LD) - ref)
    tiny = LD(np.finfo(dtype).tiny)
    bad = err > units * eps * big + tiny
    assert not bad.any(), (
        f"gradient off: worst {float(np.max(err / (eps * big + tiny)))} eps of its larger term")


def check_loss(loss, x, y, dtype, weight=None, pos_weight=None, ulps=None, twin=False):
    ref = ref_loss(x, y, dtype, weight, pos_weight)
    err = ulp_errors(loss, ref, dtype)
    bound = LOSS_ULP[dtype] if ulps is None else ulps
    if dtype == np.float64 and ulps is None:
        bound += LOSS_ULP_WEIGHT * (weight is not None) + LOSS_ULP_POS_WEIGHT * (
            pos_weight is not None)
    if twin:
        bound += TWIN_EXTRA_ULP[dtype]
    assert float(np.max(err, initial=0.0)) <= bound, float(np.max(err))


def weight_arg(kind, shape, rng):
    N, C = shape[-2] if len(shape) > 1 else 1, shape[-1]
    if kind is None:
        return None
    if kind == "scalar":
        return 0.75
    if kind == "full":
        return rng.random(shape) + 0.25
    if kind == "last":
        return rng.random(C) + 0.25
    if kind == "row":
        return rng.random(shape[:-1] + (1,)) + 0.25
    if kind == "other":  # (C,) broadcast over a middle axis: materialised
        return rng.random((shape[0],) + (1,) * (len(shape) - 2) + (C,)) + 0.25
    raise AssertionError(kind)


def inputs(shape, dtype, *seed, scale=4.0):
    rng = rng_for("bce", shape, np.dtype(dtype).name, *seed)
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    y = rng.random(shape).astype(dtype)
    return rng, x, y


# ------------------------------------------------------------- accuracy


SHAPES = [(1,), (7,), (300,), (4, 33), (3, 5, 17), (2, 1, 257)]
WEIGHTS = [None, "scalar", "full", "last", "row", "other"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("wkind", WEIGHTS)
@pytest.mark.parametrize("pkind", [None, "last", "full"])
def test_accuracy_vs_reference_and_twin(dtype, shape, wkind, pkind):
    rng, x, y = inputs(shape, dtype, wkind, pkind)
    w = weight_arg(wkind, shape, rng) if len(shape) > 1 or wkind != "other" else None
    pw = weight_arg(pkind, shape, rng)
    if pw is not None:
        pw = pw * 3
    loss = fastact.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                    reduction="none")
    assert loss.dtype == dtype and loss.shape == x.shape
    check_loss(loss, x, y, dtype, w, pw)
    tl = twin.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                               reduction="none")
    check_loss(tl, x, y, dtype, w, pw, twin=True)
    ref = ref_loss(x, y, dtype, w, pw)
    for red in ("sum", "mean"):
        v = fastact.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                     reduction=red)
        tv = twin.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                   reduction=red)
        exact = ref.sum() / (ref.size if red == "mean" else 1)
        assert type(v) is np.dtype(dtype).type
        assert abs(LD(v) - exact) <= 2 * np.spacing(np.asarray(exact, dtype)).astype(LD)
        assert abs(LD(tv) - exact) <= 8 * np.spacing(np.asarray(exact, dtype)).astype(LD) \
            * max(1, np.log2(ref.size))
    lg, dx = fastact.binary_cross_entropy_with_logits_with_grad(
        x, y, weight=w, pos_weight=pw, reduction="none")
    assert lg.tobytes() == loss.tobytes()
    check_grad(dx, x, y, dtype, w, pw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_range_and_targets(dtype):
    """Logits over [-60, 60] and at the binade edges, targets 0, 1, 0.5 and
    random: the loss within the bound everywhere (no cancellation)."""
    rng = rng_for("bce-wide", np.dtype(dtype).name)
    x = np.concatenate([np.linspace(-60, 60, 4001), rng.standard_normal(2000) * 20,
                        [0.0, -0.0, 1e-30, -1e-30, 40.0, -40.0]]).astype(dtype)
    for y in (np.zeros_like(x), np.ones_like(x), np.full_like(x, 0.5),
              rng.random(x.size).astype(dtype)):
        for pw in (None, np.array([2.5], dtype)):
            loss, dx = fastact.binary_cross_entropy_with_logits_with_grad(
                x, y, pos_weight=pw, reduction="none")
            check_loss(loss, x, y, dtype, None, pw)
            check_grad(dx, x, y, dtype, None, pw)


# ----------------------------------------------- every option combination


GRADS = ["default", "scalar", "array"]


def grad_arg(kind, shape, reduction, rng):
    if kind == "default":
        return None, 1.0
    if kind == "scalar" or reduction != "none":
        return 1.75, 1.75
    g = rng.standard_normal(shape)
    return g, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wkind", [None, "full", "last", "row"])
@pytest.mark.parametrize("pkind", [None, "last", "row"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gkind", GRADS)
def test_combinations(dtype, wkind, pkind, reduction, gkind):
    shape = (6, 11)
    rng, x, y = inputs(shape, dtype, wkind, pkind, reduction, gkind)
    w, pw = weight_arg(wkind, shape, rng), weight_arg(pkind, shape, rng)
    gl, gval = grad_arg(gkind, shape, reduction, rng)
    kw = dict(weight=w, pos_weight=pw, reduction=reduction)
    for mod in BOTH:
        loss, dx = getattr(mod, BCEG)(x, y, grad_loss=gl, **kw)
        fwd = getattr(mod, BCE)(x, y, **kw)
        # the loss is the forward's, bit for bit
        assert np.asarray(loss).tobytes() == np.asarray(fwd).tobytes()
        assert dx.dtype == dtype and dx.shape == shape
        g = np.asarray(gval, dtype=dtype).astype(np.float64)
        if reduction == "mean":
            g = g / x.size
        check_grad(dx, x, y, dtype, w, pw, g)
    # native and twin agree closely
    ln, dn = fastact.binary_cross_entropy_with_logits_with_grad(x, y, grad_loss=gl, **kw)
    lt, dt = twin.binary_cross_entropy_with_logits_with_grad(x, y, grad_loss=gl, **kw)
    rtol = 2e-7 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(np.asarray(ln, np.float64), np.asarray(lt, np.float64),
                               rtol=rtol)
    np.testing.assert_allclose(dn, dt, rtol=rtol, atol=float(np.finfo(dtype).eps) * 4)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("wkind,pkind", [(None, None), ("full", "last"), ("row", "row"),
                                         ("last", "full")])
def test_finite_differences(reduction, wkind, pkind):
    shape = (5, 8)
    rng, x, y = inputs(shape, np.float64, "fd", reduction, wkind, pkind, scale=2.0)
    w, pw = weight_arg(wkind, shape, rng), weight_arg(pkind, shape, rng)
    gl = rng.standard_normal(shape) if reduction == "none" else 1.3
    kw = dict(weight=w, pos_weight=pw, reduction=reduction)

    def f(xx):
        loss = fastact.binary_cross_entropy_with_logits(xx, y, **kw)
        return float(np.sum(np.asarray(loss) * gl))

    _, dx = fastact.binary_cross_entropy_with_logits_with_grad(x, y, grad_loss=gl, **kw)
    h = 1e-6
    num = np.empty_like(x)
    for i in np.ndindex(shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        num[i] = (f(xp) - f(xm)) / (2 * h)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------ kernel levels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_level(at_level, dtype):
    """Every compiled level the CPU runs, in process: within the bounds, and
    the levels agree closely (they share everything but the exponential)."""
    results = {}
    for lv in levels():
        at_level(lv)
        for n in (1, 5, 8, 31, 256, 257, 1000, 40000):
            rng, x, y = inputs((n,), dtype, "lv")
            pw = np.array([1.5], dtype)
            loss, dx = fastact.binary_cross_entropy_with_logits_with_grad(
                x, y, pos_weight=pw, reduction="none")
            check_loss(loss, x, y, dtype, None, pw)
            check_grad(dx, x, y, dtype, None, pw)
            s = fastact.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="sum")
            results.setdefault(n, []).append(float(s))
    for n, vals in results.items():
        np.testing.assert_allclose(vals, vals[0], rtol=1e-6 if dtype == np.float32 else 1e-13)


# ------------------------------------------------------------------ threads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_bit_identical(dtype):
    shape = (600, 1000)
    rng, x, y = inputs(shape, dtype, "thr")
    w = rng.random(1000) + 0.5
    pw = rng.random((600, 1)) + 0.5
    n0 = _pkg.get_num_threads()
    try:
        for kw in (dict(), dict(weight=w, pos_weight=pw),
                   dict(weight=w, reduction="none", grad_loss=rng.random(shape))):
            res = []
            for n in (1, 2, 3):
                _pkg.set_num_threads(n)
                gkw = dict(kw)
                fk = {k: v for k, v in kw.items() if k != "grad_loss"}
                res.append((fastact.binary_cross_entropy_with_logits(x, y, **fk),)
                           + fastact.binary_cross_entropy_with_logits_with_grad(x, y, **gkw))
            for r in res[1:]:
                for a, b in zip(res[0], r):
                    assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    finally:
        _pkg.set_num_threads(n0)


# ----------------------------------------------------------- special values


@pytest.mark.parametrize("mod", BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(mod, dtype):
    inf, nan = np.inf, np.nan
    x = np.array([1e4, -1e4, 1e4, -1e4, inf, -inf, inf, -inf, inf, 0.0, -0.0, nan, 1.0, 2.0],
                 dtype)
    y = np.array([0.5, 0.5, 1.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.0, 0.5, 0.0, 0.5, nan, 1.0], dtype)
    loss, dx = getattr(mod, BCEG)(x, y, reduction="none")
    with np.errstate(all="ignore"):
        expect_loss = np.array([5e3, 5e3, 0.0, 0.0, 0.0, 0.0, inf, inf, inf, np.log(2),
                                np.log(2), nan, nan, np.log1p(np.exp(-2.0))])
        expect_dx = np.array([0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 0.5, -0.5, 1.0, 0.0, 0.5, nan,
                              nan, 1 / (1 + np.exp(2.0)) * -1 + 0.0])
    expect_dx[-1] = 1 / (1 + np.exp(-2.0)) - 1
    np.testing.assert_allclose(loss, expect_loss.astype(dtype), rtol=4e-7)
    np.testing.assert_allclose(dx, expect_dx.astype(dtype), rtol=4e-7, atol=0)
    # +-1e4 stays finite with any pos_weight, and exact zeros stay zeros
    pw = np.full(x.shape, 3.0, dtype)
    l2, d2 = getattr(mod, BCEG)(x[:4], y[:4], pos_weight=pw[:4], reduction="none")
    assert np.all(np.isfinite(l2)) and np.all(np.isfinite(d2))
    assert l2[2] == 0 and l2[3] == 0


@pytest.mark.parametrize("mod", BOTH)
def test_infinite_weight(mod):
    # an infinite weight gives inf where the element's loss is positive; where
    # it underflows (log1p(exp(-745)): the smallest subnormal, or 0 within the
    # exponential's bound) inf or NaN (inf * 0; native and twin may differ:
    # documented, the fuzzer found it), never a finite value
    x = np.array([-700.0, -720.0, 3.0, -745.0])
    y = np.zeros(4)
    for kw in ({"weight": np.inf}, {"weight": np.array([1.0, np.inf, np.inf, np.inf])}):
        loss = mod.binary_cross_entropy_with_logits(x, y, reduction="none", **kw)
        assert np.isposinf(loss[1:3]).all() and not np.isfinite(loss[3]), loss
        assert not np.isfinite(mod.binary_cross_entropy_with_logits(x, y, **kw))


@pytest.mark.parametrize("mod", BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_and_0d(mod, dtype):
    e = np.zeros((0, 3), dtype)
    assert np.isnan(getattr(mod, BCE)(e, e))
    assert getattr(mod, BCE)(e, e, reduction="sum") == 0
    assert getattr(mod, BCE)(e, e, reduction="none").shape == (0, 3)
    loss, dx = getattr(mod, BCEG)(e, e, weight=np.ones(3))
    assert np.isnan(loss) and dx.shape == (0, 3) and dx.dtype == dtype
    loss, dx = getattr(mod, BCEG)(e, e, reduction="sum")
    assert loss == 0
    x0, y0 = np.array(0.5, dtype), np.array(1.0, dtype)
    l0 = getattr(mod, BCE)(x0, y0, reduction="none")
    assert np.ndim(l0) == 0
    np.testing.assert_allclose(l0, np.log1p(np.exp(-0.5)), rtol=1e-6)
    # dlogits of 0-d logits is a NumPy scalar of the result dtype on every
    # path (fast and general: the fuzzer once found them disagreeing), as
    # for every 0-d input; a 0-d out= is filled and returned
    for t in (y0, y0.astype(np.float32), y0.astype(np.float64)):
        for kw in ({}, {"pos_weight": np.array(2)}, {"grad_loss": 2.0, "reduction": "sum"}):
            loss, d = getattr(mod, BCEG)(x0, t, **kw)
            assert type(d) is np.dtype(dtype).type and np.ndim(loss) == 0, (t.dtype, kw)
            o = np.full((), np.nan, dtype)
            loss2, d2 = getattr(mod, BCEG)(x0, t, out=o, **kw)
            assert d2 is o and o == d and loss2 == loss, (t.dtype, kw)


# ---------------------------------------------------------- dtypes, layouts


@pytest.mark.parametrize("mod", BOTH)
def test_dtypes_and_layouts(mod):
    rng, x, y = inputs((8, 12), np.float64, "lay")
    xt = np.asfortranarray(x)[:, ::-1]
    yt = y[:, ::-1]
    ref = mod.binary_cross_entropy_with_logits(np.ascontiguousarray(xt), np.ascontiguousarray(yt),
                                               reduction="none")
    np.testing.assert_array_equal(mod.binary_cross_entropy_with_logits(xt, yt, reduction="none"),
                                  ref)
    # target, weight, pos_weight of other dtypes: converted to the logits' dtype
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    w64 = rng.random(12)
    a = mod.binary_cross_entropy_with_logits(x32, y, weight=w64)
    b = mod.binary_cross_entropy_with_logits(x32, y32, weight=w64.astype(np.float32))
    assert a.dtype == np.float32 and a == b
    # integer targets are fine
    yi = (y > 0.5).astype(np.int64)
    np.testing.assert_array_equal(
        mod.binary_cross_entropy_with_logits(x, yi, reduction="none"),
        mod.binary_cross_entropy_with_logits(x, yi.astype(np.float64), reduction="none"))
    # float16 in float32, returned as float16
    h = mod.binary_cross_entropy_with_logits(x.astype(np.float16), y, reduction="none")
    assert h.dtype == np.float16
    # longdouble by the twin
    ld = mod.binary_cross_entropy_with_logits(x.astype(LD), y, reduction="none")
    assert ld.dtype == LD


def test_weights_not_copied():
    """The common weight shapes reach the kernel without a full-size copy:
    the views (and their strides) ck.bce_weight_view plans."""
    from fastact import _checks as ck
    shape = (6, 5)
    for w, row, col, size in [(np.ones(5), 0, 1, 5), (np.ones((6, 1)), 1, 0, 6),
                              (np.ones(shape), 5, 1, 30), (np.float64(2.0), 0, 0, 1),
                              (np.ones((1, 5)), 0, 1, 5)]:
        arr, r, c = ck.bce_weight_view(np.asarray(w), shape, np.dtype(np.float64))
        assert (r, c, arr.size) == (row, col, size)
        if np.ndim(w) and arr.size == np.size(w):
            assert np.shares_memory(arr, w)
    arr, r, c = ck.bce_weight_view(np.ones((2, 1, 5)), (2, 3, 5), np.dtype(np.float64))
    assert (r, c, arr.shape) == (5, 1, (2, 3, 5))


# ------------------------------------------------------- aliasing and out=


@pytest.mark.parametrize("mod", BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_inplace_equals_out_of_place(mod, dtype, reduction):
    rng, x, y = inputs((40, 700), dtype, "inplace", reduction)
    w = rng.random(700)
    l0, d0 = getattr(mod, BCEG)(x, y, weight=w, reduction=reduction)
    xc = x.copy()
    l1, d1 = getattr(mod, BCEG)(xc, y, weight=w, reduction=reduction, out=xc)
    assert d1 is xc
    assert d1.tobytes() == d0.tobytes()
    assert np.asarray(l1).tobytes() == np.asarray(l0).tobytes()
    # plain fast path too
    xc = x.copy()
    l2, d2 = getattr(mod, BCEG)(xc, y, reduction="sum", out=xc)
    l3, d3 = getattr(mod, BCEG)(x, y, reduction="sum")
    assert d2 is xc and d2.tobytes() == d3.tobytes() and l2 == l3


@pytest.mark.parametrize("mod", BOTH)
def test_partial_overlap_and_out(mod):
    rng, x, y = inputs((10, 9), np.float64, "overlap")
    buf = np.concatenate([x.ravel(), np.zeros(9)])
    xv = buf[:90].reshape(10, 9)
    ov = buf[9:].reshape(10, 9)  # shifted by one row: overlaps the logits
    l0, d0 = getattr(mod, BCEG)(x, y, reduction="none")
    l1, d1 = getattr(mod, BCEG)(xv, y, reduction="none", out=ov)
    assert d1 is ov
    np.testing.assert_array_equal(ov, d0)
    np.testing.assert_array_equal(l1, l0)
    # out = the target
    yc = y.copy()
    _, d2 = getattr(mod, BCEG)(x, yc, out=yc)
    np.testing.assert_array_equal(d2, getattr(mod, BCEG)(x, y)[1])
    # forward out= for "none" and a 0-d out for "mean"
    o = np.empty((10, 9))
    assert getattr(mod, BCE)(x, y, reduction="none", out=o) is o
    np.testing.assert_array_equal(o, l0)
    o0 = np.empty(())
    assert getattr(mod, BCE)(x, y, out=o0) is o0
    assert o0[()] == getattr(mod, BCE)(x, y)
    # forward "none" into the logits themselves
    xc = x.copy()
    getattr(mod, BCE)(xc, y, reduction="none", out=xc)
    np.testing.assert_array_equal(xc, l0)


# ---------------------------------------------------------------- errors


def _raises_same(exc, name, fn_args, out):
    before = out.tobytes() if out is not None else None
    msgs = []
    for mod in BOTH:
        args, kw = fn_args()
        with pytest.raises(exc) as ei:
            getattr(mod, name)(*args, **kw)
        msgs.append(str(ei.value))
        if out is not None:
            assert out.tobytes() == before
    assert msgs[0] == msgs[1]


def test_validation_before_writing():
    rng, x, y = inputs((4, 6), np.float64, "err")
    xc = x.copy()
    o = np.full((4, 6), 3.0)
    for name in (BCE, BCEG):
        red = dict(reduction="none") if name == BCE else {}
        _raises_same(TypeError, name, lambda: ((xc.astype(np.int64), y), dict(out=o, **red)), o)
        _raises_same(TypeError, name, lambda: ((xc.astype(bool), y), dict(out=o, **red)), o)
        _raises_same(TypeError, name, lambda: ((xc.astype(complex), y), dict(out=o, **red)), o)
        _raises_same(TypeError, name, lambda: ((xc.astype(object), y), dict(out=o, **red)), o)
        _raises_same(TypeError, name, lambda: ((xc, y.astype(complex)), dict(out=o, **red)), o)
        _raises_same(ValueError, name, lambda: ((xc, y[:, :5]), dict(out=o, **red)), o)
        _raises_same(ValueError, name, lambda: ((xc, y[0]), dict(out=o, **red)), o)
        _raises_same(ValueError, name, lambda: ((xc, y), dict(out=o, reduction="avg")), o)
        _raises_same(ValueError, name, lambda: ((xc, y), dict(out=o, reduction=None)), o)
        _raises_same(ValueError, name, lambda: ((xc, y), dict(out=o, weight=np.ones(5), **red)), o)
        _raises_same(ValueError, name,
                     lambda: ((xc, y), dict(out=o, weight=np.ones((2, 4, 6)), **red)), o)
        _raises_same(ValueError, name,
                     lambda: ((xc, y), dict(out=o, pos_weight=np.ones(4), **red)), o)
        _raises_same(TypeError, name,
                     lambda: ((xc, y), dict(out=o, pos_weight=np.ones(6, complex), **red)), o)
        _raises_same(TypeError, name, lambda: ((xc, y), dict(out=np.empty((4, 6), np.float32),
                                                             **red)), None)
        _raises_same(ValueError, name, lambda: ((xc, y), dict(out=np.empty((4, 5)), **red)), None)
        ro = np.zeros((4, 6))
        ro.flags.writeable = False
        _raises_same(ValueError, name, lambda: ((xc, y), dict(out=ro, **red)), ro)
        _raises_same(TypeError, name, lambda: ((xc, y), dict(out=[0.0] * 24, **red)), None)
    # the forward's out for "mean" is 0-d
    _raises_same(ValueError, BCE, lambda: ((xc, y), dict(out=o)), o)
    # grad_loss: a scalar for mean/sum, the logits' shape for none
    _raises_same(ValueError, BCEG, lambda: ((xc, y), dict(out=xc, grad_loss=np.ones(6))), xc)
    _raises_same(ValueError, BCEG, lambda: ((xc, y), dict(out=xc, reduction="none",
                                                          grad_loss=np.ones(6))), xc)
    _raises_same(TypeError, BCEG, lambda: ((xc, y), dict(out=xc, grad_loss="a")), xc)
    _raises_same(TypeError, BCEG, lambda: ((xc, y), dict(out=xc, grad_loss=1j)), xc)
    assert np.all(o == 3.0) and np.array_equal(xc, x)


def test_grad_loss_scalar_and_0d_for_none():
    rng, x, y = inputs((5, 7), np.float64, "gb")
    _, a = fastact.binary_cross_entropy_with_logits_with_grad(x, y, reduction="none",
                                                              grad_loss=2.5)
    _, b = fastact.binary_cross_entropy_with_logits_with_grad(x, y, reduction="none",
                                                              grad_loss=np.full((5, 7), 2.5))
    _, c = fastact.binary_cross_entropy_with_logits_with_grad(x, y, reduction="none",
                                                              grad_loss=np.array(2.5))
    assert a.tobytes() == b.tobytes() == c.tobytes()


# ---------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("wkind,pkind", [(None, None), ("full", "last"), ("row", None),
                                         ("last", "row"), ("scalar", "last")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_autograd(reduction, wkind, pkind, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    shape = (7, 9)
    rng, x, y = inputs(shape, dtype, "torch", reduction, wkind, pkind)
    w, pw = weight_arg(wkind, shape, rng), weight_arg(pkind, shape, rng)
    gl = rng.standard_normal(shape).astype(dtype) if reduction == "none" else 0.7

    def tt(a):
        return None if a is None else torch.as_tensor(np.asarray(a, dtype=dtype))

    xt = torch.tensor(x, requires_grad=True)
    lt = F.binary_cross_entropy_with_logits(xt, tt(y), weight=tt(w), pos_weight=tt(pw),
                                            reduction=reduction)
    lt.backward(tt(gl) if reduction == "none" else torch.tensor(gl, dtype=lt.dtype))
    for mod in BOTH:
        loss, dx = getattr(mod, BCEG)(x, y, weight=w, pos_weight=pw, reduction=reduction,
                                      grad_loss=gl)
        rtol = 2e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(np.asarray(loss), lt.detach().numpy(), rtol=rtol,
                                   atol=rtol)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=rtol, atol=rtol)


def test_public_names():
    for name in (BCE, BCEG):
        assert name in _pkg.__all__
        assert getattr(_pkg, name).__doc__ == getattr(twin, name).__doc__
        assert getattr(fastact, name).__doc__


def test_option_grid_is_exhaustive():
    """Every weight x pos_weight x reduction x grad_loss combination runs on
    both paths with the same result shape and dtype (values: test_combinations)."""
    shape = (3, 4)
    rng, x, y = inputs(shape, np.float32, "grid")
    for wk, pk, red, gk in itertools.product(WEIGHTS[:-1], WEIGHTS[:-1], REDUCTIONS, GRADS):
        w, pw = weight_arg(wk, shape, rng), weight_arg(pk, shape, rng)
        gl, _ = grad_arg(gk, shape, red, rng)
        out = [getattr(m, BCEG)(x, y, weight=w, pos_weight=pw, reduction=red, grad_loss=gl)
               for m in BOTH]
        assert np.shape(out[0][0]) == np.shape(out[1][0])
        assert out[0][1].dtype == out[1][1].dtype == np.float32
        np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mod", BOTH)
def test_masked_arrays_rejected(mod):
    x, y = np.zeros((2, 3)), np.ones((2, 3))
    m = np.ma.masked_array
    for args, kw in [((m(x), y), {}), ((x, m(y)), {}), ((x, y), dict(weight=m(np.ones(3)))),
                     ((x, y), dict(pos_weight=m(np.ones(3))))]:
        for name in (BCE, BCEG):
            with pytest.raises(TypeError, match="MaskedArray"):
                getattr(mod, name)(*args, **kw)


def test_public_binding_follows_backend():
    """fastact.<name> is the native function, or the twin's under
    FASTACT_BACKEND=numpy."""
    src = fastact if _pkg.BACKEND == "native" else twin
    for name in (BCE, BCEG):
        assert getattr(_pkg, name) is getattr(src, name)
