"""cross_entropy_with_grad: the loss against cross_entropy (bit for bit), the
gradient against a direct np.longdouble formula (error relative to the larger
of its two terms) and against central finite differences of cross_entropy;
every option combination, both layouts, odd sizes, every kernel level,
threads, in-place / overlapping out, validation before writing, special
values, PyTorch autograd when importable."""

import itertools

import numpy as np
import pytest

import fastact as _pkg
from fastact import _api as fastact  # the native path, whatever FASTACT_BACKEND says
from fastact import _native as native
from fastact import numpy_impl as twin
from _ref import LD, rng_for

REDUCTIONS = ["none", "sum", "mean"]
SMOOTHING = [0.0, 0.1, 1.0]
LAYOUTS = {"last": ((12, 5), -1), "axis1": ((3, 5, 4), 1)}
IGNORES = ["nohit", "hit", "all"]
GRADS = ["default", "scalar", "array"]
BOTH = [fastact, twin]


def levels():
    return [lv for lv in native.KERNELS_COMPILED
            if ["scalar", "sse2", "avx2", "avx512"].index(lv)
            <= ["scalar", "sse2", "avx2", "avx512"].index(native.CPU_LEVEL)]


@pytest.fixture
def at_level(request):
    prev = native._kernel_level()
    yield lambda name: native._set_kernel_level(name)
    native._set_kernel_level(prev)


def sample_shape(shape, axis):
    axis = axis % len(shape)
    return shape[:axis] + shape[axis + 1:]


def make_index(shape, axis, how, *seed):
    C = shape[axis]
    rng = rng_for("ceg-t", shape, how, *seed)
    t = rng.integers(0, C, size=sample_shape(shape, axis))
    if how == "hit":
        t.reshape(-1)[::3] = -100
    elif how == "all":
        t[...] = -100
    return t


def make_prob(shape, axis, dtype, *seed):
    q = rng_for("ceg-q", shape, *seed).random(shape)
    return (q / q.sum(axis=axis, keepdims=True)).astype(dtype)


def ref_grad(x, target, axis, weight, ignore_index, reduction, eps, grad_loss):
    """(grad, scale) in longdouble: scale = max(|p*coef*g|, |subtracted|)."""
    xl = np.moveaxis(np.asarray(x).astype(LD), axis, -1)
    C = xl.shape[-1]
    w = np.ones(C, LD) if weight is None else np.asarray(weight).astype(LD)
    m = xl.max(axis=-1, keepdims=True)
    e = np.exp(xl - m)
    p = e / e.sum(axis=-1, keepdims=True)
    S = xl.shape[:-1]
    g = np.broadcast_to(np.asarray(1.0 if grad_loss is None else grad_loss, dtype=LD), S)
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        keep = t != ignore_index
        tc = np.where(keep, t, 0)
        wt = w[tc]
        if reduction == "mean":
            g = g / np.where(keep, wt, 0).sum()
        g = np.where(keep, g, 0)[..., None]
        A = g * p * ((1 - LD(eps)) * wt + LD(eps) * w.sum() / C)[..., None]
        onehot = np.arange(C) == tc[..., None]
        B = g * (LD(eps) * w / C + np.where(onehot, ((1 - LD(eps)) * wt)[..., None], 0))
        A = np.where(keep[..., None], A, 0)
        B = np.where(keep[..., None], B, 0)
    else:
        q = (1 - LD(eps)) * np.moveaxis(t.astype(LD), axis, -1) + LD(eps) / C
        if reduction == "mean":
            g = g / max(int(np.prod(S)), 1)
        g = g[..., None]
        A = g * p * (w * q).sum(axis=-1, keepdims=True)
        B = g * w * q
    return np.moveaxis(A - B, -1, axis), np.moveaxis(np.maximum(abs(A), abs(B)), -1, axis)


def check_grad(dx, x, target, axis=-1, weight=None, ignore_index=-100, reduction="mean",
               eps=0.0, grad_loss=None, ulps=None):
    dt = np.dtype(dx.dtype)
    ulps = ulps if ulps is not None else (3 if dt == np.float32 else 4)  # measured: 1.07 / 1.79
    ref, scale = ref_grad(x, target, axis, weight, ignore_index, reduction, eps, grad_loss)
    err = np.abs(dx.astype(LD) - ref)
    tiny = LD(np.finfo(dt).tiny)
    bound = ulps * LD(np.finfo(dt).eps) * scale + tiny
    assert np.all(err <= bound), (
        f"max err/bound {float((err / bound).max()):.3g}, worst at "
        f"{np.unravel_index(np.argmax(err / bound), err.shape)}")


def grad_arg(kind, S, reduction, *seed):
    if kind == "default":
        return None
    if kind == "scalar":
        return 0.75
    if reduction != "none":
        return None  # arrays only for "none" (tested as errors elsewhere)
    return rng_for("ceg-g", S, *seed).standard_normal(S)


# ------------------------------------------------------------ every combination


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("target_kind", IGNORES + ["prob"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", SMOOTHING)
@pytest.mark.parametrize("gkind", GRADS)
def test_combinations(dtype, layout, target_kind, weighted, reduction, eps, gkind):
    shape, axis = LAYOUTS[layout]
    C = shape[axis]
    rng = rng_for("ceg-x", layout, np.dtype(dtype).name)
    x = (2.0 * rng.standard_normal(shape)).astype(dtype)
    if target_kind == "prob":
        target = make_prob(shape, axis, dtype)
    else:
        target = make_index(shape, axis, target_kind)
    weight = rng.random(C) + 0.5 if weighted else None
    gl = grad_arg(gkind, sample_shape(shape, axis), reduction)
    kw = dict(axis=axis, weight=weight, reduction=reduction, label_smoothing=eps)
    for mod in BOTH:
        loss, dx = mod.cross_entropy_with_grad(x, target, grad_loss=gl, **kw)
        fwd = mod.cross_entropy(x, target, **kw)
        assert dx.shape == x.shape and dx.dtype == x.dtype
        if mod is fastact:
            np.testing.assert_array_equal(loss, fwd)  # bit-identical (NaN == NaN)
            assert type(loss) is type(fwd)
        else:
            np.testing.assert_allclose(loss, fwd, rtol=1e-12)
        # the twin rounds x - max: up to |x - max| 2^-53 more in float64
        ulps = 16 if mod is twin and dtype == np.float64 else None
        check_grad(dx, x, target, ignore_index=-100, grad_loss=gl, ulps=ulps, **{
            "axis": axis, "weight": weight, "reduction": reduction, "eps": eps})
        if target_kind == "all":
            assert np.all(dx == 0)
            if reduction == "mean":
                assert np.isnan(loss)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("target_kind", ["hit", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_finite_differences(layout, target_kind, reduction, eps):
    shape, axis = LAYOUTS[layout]
    C = shape[axis]
    rng = rng_for("ceg-fd", layout, target_kind, reduction, eps)
    x = rng.standard_normal(shape)
    target = make_prob(shape, axis, np.float64) if target_kind == "prob" \
        else make_index(shape, axis, "hit")
    weight = rng.random(C) + 0.5
    S = sample_shape(shape, axis)
    gl = rng.standard_normal(S) if reduction == "none" else 1.3
    kw = dict(axis=axis, weight=weight, reduction=reduction, label_smoothing=eps)
    _, dx = fastact.cross_entropy_with_grad(x, target, grad_loss=gl, **kw)

    def f(xx):
        return float(np.sum(np.asarray(fastact.cross_entropy(xx, target, **kw)) * gl))

    h = 1e-5
    fd = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        fd[i] = (f(xp) - f(xm)) / (2 * h)
    np.testing.assert_allclose(dx, fd, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------- sizes and levels

SIZES = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 1000]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("target_kind", ["index", "prob"])
def test_sizes_every_level(at_level, dtype, eps, target_kind):
    for lv in levels():
        at_level(lv)
        for C in SIZES:
            for shape, axis in (((3, C), -1), ((2, C, 19), 1)):
                x = (3.0 * rng_for("ceg-sz", C, shape).standard_normal(shape)).astype(dtype)
                target = make_prob(shape, axis, dtype) if target_kind == "prob" \
                    else make_index(shape, axis, "hit")
                for red in ("sum", "none"):
                    kw = dict(axis=axis, reduction=red, label_smoothing=eps)
                    loss, dx = fastact.cross_entropy_with_grad(x, target, **kw)
                    np.testing.assert_array_equal(loss, fastact.cross_entropy(x, target, **kw))
                    try:
                        check_grad(dx, x, target, axis=axis, reduction=red, eps=eps)
                    except AssertionError as e:
                        raise AssertionError(f"level {lv} C={C} shape={shape}: {e}") from None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_rows_32000(dtype):
    rng = rng_for("ceg-32000", np.dtype(dtype).name)
    x = (4.0 * rng.standard_normal((4, 32000))).astype(dtype)
    t = rng.integers(0, 32000, 4)
    for eps in (0.0, 0.1):
        loss, dx = fastact.cross_entropy_with_grad(x, t, label_smoothing=eps)
        assert loss == fastact.cross_entropy(x, t, label_smoothing=eps)
        check_grad(dx, x, t, eps=eps)


# ------------------------------------------------------------------ layouts


def test_noncontiguous_negative_strides_float16_int():
    rng = rng_for("ceg-layout")
    base = rng.standard_normal((10, 14))
    x = base[::-2, ::-1]  # negative strides, non-contiguous
    t = rng.integers(0, 14, 5)
    loss, dx = fastact.cross_entropy_with_grad(x, t, label_smoothing=0.1)
    l2, d2 = fastact.cross_entropy_with_grad(np.ascontiguousarray(x), t, label_smoothing=0.1)
    assert loss == l2
    np.testing.assert_array_equal(dx, d2)
    # float16: computed in float32, returned as float16
    x16 = base[:5].astype(np.float16)
    l16, d16 = fastact.cross_entropy_with_grad(x16, t)
    assert d16.dtype == np.float16 and type(l16) is np.float16
    l32, d32 = fastact.cross_entropy_with_grad(x16.astype(np.float32), t)
    np.testing.assert_array_equal(d16, d32.astype(np.float16))
    assert l16 == np.float16(l32)
    # integers: float64
    xi = (base[:5] * 3).astype(np.int32)
    li, di = fastact.cross_entropy_with_grad(xi, t)
    assert di.dtype == np.float64
    np.testing.assert_array_equal(di, fastact.cross_entropy_with_grad(xi.astype(np.float64), t)[1])
    # longdouble: the twin
    ll, dl = fastact.cross_entropy_with_grad(base[:5].astype(LD), t)
    assert dl.dtype == LD
    check_grad(dl.astype(np.float64), base[:5], t, ulps=16)


# ------------------------------------------------------------- out= and aliasing

CASES = [
    ("rows-index", (6, 37), -1, "index", 0.0, None),
    ("rows-index-smooth-w", (6, 37), -1, "index", 0.1, True),
    ("rows-prob", (6, 37), -1, "prob", 0.1, True),
    ("cols-index", (3, 37, 21), 1, "index", 0.0, None),
    ("cols-index-smooth", (3, 37, 21), 1, "index", 0.1, True),
    ("cols-prob", (3, 37, 21), 1, "prob", 0.1, None),
]


def case_inputs(shape, axis, kind, weighted, dtype):
    rng = rng_for("ceg-case", shape, kind, np.dtype(dtype).name)
    x = (2.0 * rng.standard_normal(shape)).astype(dtype)
    target = make_prob(shape, axis, dtype) if kind == "prob" else make_index(shape, axis, "hit")
    weight = rng.random(shape[axis]) + 0.5 if weighted else None
    return x, target, weight


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("mod", BOTH, ids=["native", "twin"])
def test_inplace_equals_out_of_place(mod, case, dtype):
    _, shape, axis, kind, eps, weighted = case
    x, target, weight = case_inputs(shape, axis, kind, weighted, dtype)
    for red in REDUCTIONS:
        kw = dict(axis=axis, weight=weight, reduction=red, label_smoothing=eps)
        loss, dx = mod.cross_entropy_with_grad(x, target, **kw)
        xi = x.copy()
        l2, d2 = mod.cross_entropy_with_grad(xi, target, out=xi, **kw)
        assert d2 is xi
        np.testing.assert_array_equal(loss, l2)
        assert dx.tobytes() == xi.tobytes()
        o = np.full_like(x, 7)
        l3, d3 = mod.cross_entropy_with_grad(x, target, out=o, **kw)
        assert d3 is o and o.tobytes() == dx.tobytes()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_partial_overlap(case):
    _, shape, axis, kind, eps, weighted = case
    x, target, weight = case_inputs(shape, axis, kind, weighted, np.float64)
    kw = dict(axis=axis, weight=weight, label_smoothing=eps)
    _, expect = fastact.cross_entropy_with_grad(x, target, **kw)
    n = x.size
    buf = np.zeros(n + 5)
    buf[5:] = x.reshape(-1)
    xv = buf[5:].reshape(shape)
    out = buf[:n].reshape(shape)  # overlaps xv, shifted by 5 elements
    _, d = fastact.cross_entropy_with_grad(xv, target, out=out, **kw)
    assert d is out
    np.testing.assert_array_equal(out, expect)
    if kind == "prob":  # out overlapping the target
        tb = np.zeros(n + 3)
        tb[:n] = target.reshape(-1)
        tv = tb[:n].reshape(shape)
        out = tb[3:].reshape(shape)
        _, d = fastact.cross_entropy_with_grad(x, tv.copy(), **kw)
        fastact.cross_entropy_with_grad(x, tv, out=out, **kw)
        np.testing.assert_array_equal(out, d)


def _raises_same(exc, fn_args, out):
    before = out.tobytes() if out is not None else None
    msgs = []
    for mod in BOTH:
        args, kw = fn_args()
        with pytest.raises(exc) as ei:
            mod.cross_entropy_with_grad(*args, **kw)
        msgs.append(str(ei.value))
        if out is not None:
            assert out.tobytes() == before
    assert msgs[0] == msgs[1]


def test_validation_before_writing():
    rng = rng_for("ceg-err")
    x = rng.standard_normal((4, 6))
    t = np.array([0, 5, 2, 1])
    xc = x.copy()
    bad = np.array([0, 6, 2, 1])
    # bad labels, out = the logits themselves: untouched
    _raises_same(IndexError, lambda: ((xc, bad), dict(out=xc)), xc)
    _raises_same(IndexError, lambda: ((xc, bad), dict(out=xc, label_smoothing=0.1)), xc)
    o = np.full((4, 6), 3.0)
    _raises_same(ValueError, lambda: ((x, t), dict(out=np.empty((4, 5)))), None)
    _raises_same(TypeError, lambda: ((x, t), dict(out=np.empty((4, 6), np.float32))), None)
    ro = np.zeros((4, 6))
    ro.flags.writeable = False
    _raises_same(ValueError, lambda: ((x, t), dict(out=ro)), ro)
    # grad_loss shapes
    _raises_same(ValueError, lambda: ((x, t), dict(out=o, grad_loss=np.ones(4))), o)
    _raises_same(ValueError, lambda: ((x, t), dict(out=o, reduction="none",
                                                   grad_loss=np.ones(3))), o)
    _raises_same(ValueError, lambda: ((x, t), dict(out=o, reduction="none",
                                                   grad_loss=np.ones((4, 1)))), o)
    _raises_same(TypeError, lambda: ((x, t), dict(out=o, grad_loss="a")), o)
    _raises_same(ValueError, lambda: ((x, t), dict(out=o, weight=np.ones(5))), o)
    assert np.all(o == 3.0) and np.array_equal(xc, x)


def test_grad_loss_scalar_broadcast_for_none():
    x = rng_for("ceg-gb").standard_normal((5, 7))
    t = np.arange(5)
    _, a = fastact.cross_entropy_with_grad(x, t, reduction="none", grad_loss=2.5)
    _, b = fastact.cross_entropy_with_grad(x, t, reduction="none", grad_loss=np.full(5, 2.5))
    _, c = fastact.cross_entropy_with_grad(x, t, reduction="sum", grad_loss=2.5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    _, d = fastact.cross_entropy_with_grad(x, t, reduction="sum")
    assert not np.array_equal(c, d)


# ------------------------------------------------------------------ threads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_bit_identical(dtype):
    rng = rng_for("ceg-thr", np.dtype(dtype).name)
    cases = [(rng.standard_normal((600, 1000)).astype(dtype), -1),
             (rng.standard_normal((16, 50, 600)).astype(dtype), 1)]
    n0 = _pkg.get_num_threads()
    try:
        for x, axis in cases:
            t = make_index(x.shape, axis, "hit")
            w = rng.random(x.shape[axis]) + 0.5
            for kw in (dict(), dict(weight=w, label_smoothing=0.1)):
                res = []
                for n in (1, 2):
                    _pkg.set_num_threads(n)
                    res.append(fastact.cross_entropy_with_grad(x, t, axis=axis, **kw))
                assert res[0][0].tobytes() == res[1][0].tobytes()
                assert res[0][1].tobytes() == res[1][1].tobytes()
    finally:
        _pkg.set_num_threads(n0)


# ------------------------------------------------------------ special values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_special_values(dtype, layout):
    x = np.array([[1.0, 2.0, 3.0, 0.5],
                  [np.nan, 1.0, 2.0, 0.0],
                  [np.inf, 1.0, 0.0, 0.0],
                  [-np.inf, 1.0, 0.0, 2.0],
                  [1e4, -1e4, 0.0, 1e4],
                  [np.nan, np.nan, 1.0, 1.0]], dtype=dtype)
    t = np.array([2, 1, 1, 3, 1, -100])
    axis = -1
    if layout == "cols":
        x = np.ascontiguousarray(x.T)[None]  # (1, C, N), axis 1
        axis = 1
        t = t[None]
    for eps in (0.0, 0.1):
        loss, dx = fastact.cross_entropy_with_grad(x, t, axis=axis, reduction="none",
                                                   label_smoothing=eps)
        dx = np.moveaxis(dx, axis, -1).reshape(6, 4)
        loss = loss.reshape(6)
        assert np.isfinite(loss[0]) and np.all(np.isfinite(dx[0]))
        assert np.isnan(loss[1]) and np.all(np.isnan(dx[1]))
        assert np.isnan(loss[2]) and np.all(np.isnan(dx[2]))
        assert np.all(np.isfinite(dx[3]))
        assert np.all(np.isfinite(dx[4]))
        assert loss[5] == 0 and np.all(dx[5] == 0)  # ignored NaN row: exactly 0
        # label 1 at -1e4: p = (0.5, 0, 0, 0.5)
        np.testing.assert_allclose(dx[4], [0.5, -1, 0, 0.5] if eps == 0 else
                                   [0.475, -0.925, -0.025, 0.475], atol=1e-7)
    # C == 1: p = 1, the gradient is exactly 0
    x1 = np.array([[3.0], [-2.0]], dtype)
    loss, dx = fastact.cross_entropy_with_grad(x1, np.array([0, 0]), label_smoothing=0.1)
    assert loss == 0 and np.all(dx == 0)


# ------------------------------------------------------------------ PyTorch


@pytest.mark.parametrize("target_kind", ["index", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_torch_autograd(target_kind, reduction):
    torch = pytest.importorskip("torch")
    shape, axis = (3, 5, 4), 1
    rng = rng_for("ceg-torch", target_kind, reduction)
    x = rng.standard_normal(shape)
    w = rng.random(5) + 0.5
    target = make_prob(shape, axis, np.float64) if target_kind == "prob" \
        else make_index(shape, axis, "hit")
    S = sample_shape(shape, axis)
    gl = rng.standard_normal(S) if reduction == "none" else 0.7
    for eps in (0.0, 0.1):
        xt = torch.tensor(x, requires_grad=True)
        tt = torch.tensor(target)
        lt = torch.nn.functional.cross_entropy(xt, tt, weight=torch.tensor(w),
                                               reduction=reduction, label_smoothing=eps)
        lt.backward(torch.tensor(gl) if reduction == "none" else torch.tensor(gl, dtype=torch.float64))
        loss, dx = fastact.cross_entropy_with_grad(x, target, axis=axis, weight=w,
                                                   reduction=reduction, label_smoothing=eps,
                                                   grad_loss=gl)
        np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("mod", BOTH, ids=["native", "twin"])
def test_one_sample_empty_batch_noncontiguous_inplace(mod):
    x = rng_for("ceg-1d").standard_normal(6)
    loss, dx = mod.cross_entropy_with_grad(x, np.int64(2), reduction="none", grad_loss=2.0)
    assert isinstance(loss, np.float64) and dx.shape == (6,)
    assert loss == fastact.cross_entropy(x, np.int64(2), reduction="none")
    check_grad(dx, x, np.int64(2), reduction="none", grad_loss=2.0, ulps=16)
    for target in (np.zeros(0, np.int64), np.zeros((0, 4))):
        for red, want in (("none", None), ("sum", 0.0), ("mean", np.nan)):
            loss, dx = mod.cross_entropy_with_grad(np.zeros((0, 4)), target, reduction=red)
            assert dx.shape == (0, 4)
            if want is None:
                assert loss.shape == (0,)
            else:
                np.testing.assert_array_equal(loss, want)
    b = rng_for("ceg-nc").standard_normal((8, 10))
    v = b[::2]
    _, ref = mod.cross_entropy_with_grad(v.copy(), np.arange(4), label_smoothing=0.1)
    _, d = mod.cross_entropy_with_grad(v, np.arange(4), out=v, label_smoothing=0.1)
    assert d is v and np.array_equal(v, ref) and np.array_equal(b[1::2], rng_for("ceg-nc").standard_normal((8, 10))[1::2])


@pytest.mark.parametrize("mod", [fastact, twin], ids=["native", "twin"])
def test_unused_weights_do_not_enter_without_smoothing(mod):
    """Without label smoothing only the target class's weight enters the
    loss and its gradient: an inf (or huge) weight elsewhere leaves them
    finite (the twin formed 0 * inf = NaN there; found by the fuzzer)."""
    x = np.array([[0.8, -4.6, 28.5, -33.6]])
    t = np.array([1])
    w = np.array([np.inf, 1e-40, 1e-3, 1e300])
    loss, g = mod.cross_entropy_with_grad(x, t, weight=w)
    assert np.isfinite(loss) and np.isfinite(g).all()
    _, g1 = mod.cross_entropy_with_grad(x, t, weight=np.array([1.0, 1e-40, 1e-3, 1.0]))
    np.testing.assert_allclose(g, g1, rtol=1e-12)
