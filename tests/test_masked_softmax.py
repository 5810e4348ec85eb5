"""softmax / log_softmax with where= (masked softmax for attention): against
the NumPy twin and a longdouble reference of the kept entries only, on many
shapes, axes, strides, dtypes and mask broadcast shapes; exact 0 / -inf at
the masked-out entries; NaN / inf under the mask ignored; every kernel level
in process; thread counts bit-identical; validation before any write; and
softmax_backward of a masked softmax against finite differences."""

import contextlib

import numpy as np
import pytest

import _ref
import fastact

native = pytest.importorskip("fastact._native")
NATIVE = fastact.BACKEND == "native"
LEVELS = list(native.KERNELS_COMPILED)
SUPPORTED = LEVELS[: LEVELS.index(native.CPU_LEVEL) + 1]
OPS = ("softmax", "log_softmax")
FILL = {"softmax": 0.0, "log_softmax": -np.inf}
LD = np.longdouble


@contextlib.contextmanager
def kernel_level(name):
    prev = native._set_kernel_level(name)
    try:
        yield
    finally:
        native._set_kernel_level(prev)


def ref_masked(op, x, mask, axis):
    """longdouble reference of the kept entries only: the masked-out ones
    replaced by -inf (exp(-inf - m) = 0 exactly) in a longdouble copy, the
    spec's reference of the unmasked op, then the fill at the masked-out
    entries.  A group with nothing kept is all fill."""
    mb = np.broadcast_to(mask, np.shape(x))
    xl = np.where(mb, np.asarray(x, dtype=LD), LD(-np.inf))
    r = {"softmax": _ref.ref_softmax, "log_softmax": _ref.ref_log_softmax}[op](xl, axis)
    return np.where(mb, r, LD(FILL[op]))


def kept_any(mask, shape, axis):
    mb = np.broadcast_to(mask, shape)
    axes = _ref.normalize_axes(len(shape), axis)
    return np.broadcast_to(mb.any(axis=axes, keepdims=True) if axes else mb, shape)


def check_masked(op, a, x, mask, axis, mode):
    """Masked-out entries exactly the fill; kept entries within the unmasked
    op's bound of the reference (_ref.check_op_accuracy on the array with the
    masked-out entries at -inf; groups with nothing kept swapped for a
    constant group on both sides)."""
    x = np.asarray(x)
    mb = np.broadcast_to(mask, x.shape)
    a = np.asarray(a)
    assert a.shape == x.shape and a.dtype == x.dtype
    if x.ndim == 0:  # one group of one element
        x, mask, a, mb, axis = x.reshape(1), mb.reshape(1), a.reshape(1), mb.reshape(1), -1
    out_m = a[~mb]
    if op == "softmax":
        assert np.all(out_m == 0), out_m[out_m != 0][:5]
        assert not np.signbit(out_m).any()
    else:
        assert np.all(out_m == -np.inf), out_m[out_m != -np.inf][:5]
    anyk = kept_any(mask, x.shape, axis)
    xm = np.where(mb, x, -np.inf).astype(x.dtype)
    xm2 = np.where(anyk, xm, 0).astype(x.dtype)
    refop = {"softmax": _ref.ref_softmax, "log_softmax": _ref.ref_log_softmax}[op]
    a2 = np.where(anyk, a, refop(xm2, axis).astype(x.dtype))
    return _ref.check_op_accuracy(op, a2, xm2, axis, mode)


def masks_for(shape, rng):
    """Masks broadcastable to shape: full, every leading-dims-dropped / ones
    pattern, all-True, all-False, scalar."""
    nd = len(shape)
    out = [rng.random(shape) < 0.6, np.ones(shape, bool), np.zeros(shape, bool),
           np.bool_(True), np.array(False)]
    for k in range(1, nd + 1):
        sub = shape[nd - k:]
        out.append(rng.random(sub) < 0.5)
    for d in range(nd):
        s = list(shape)
        s[d] = 1
        out.append(rng.random(s) < 0.6)
    return out


CASES = [
    ((4, 16), -1), ((4, 16), 0), ((5, 1), -1), ((1, 33), -1), ((3, 70), 0),
    ((2, 3, 9, 9), -1), ((2, 3, 9, 9), -2), ((2, 3, 9, 9), 1), ((2, 3, 9, 9), 0),
    ((3, 4, 5), (0, 2)), ((3, 4, 5), (1, 2)), ((3, 4, 5), (0, 1)), ((3, 4, 5), None),
    ((3, 4, 5), ()), ((6, 300), 0), ((600, 40), 0), ((2, 520, 17), 1), ((2, 40, 300), 1), ((7,), 0), ((), None), ((), -1),
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", CASES)
def test_vs_reference_and_twin(op, dtype, shape, axis, mode):
    rng = _ref.rng_for("masked", op, shape, axis, np.dtype(dtype).name)
    x = (rng.standard_normal(shape) * 8).astype(dtype)
    for mask in masks_for(shape, rng):
        a = getattr(fastact, op)(x, axis, where=mask)
        check_masked(op, a, x, mask, axis, mode)
        b = getattr(fastact.numpy_impl, op)(x, axis, where=mask)
        assert _ref.nonfinite_pattern_equal(a, b)
        fin = np.isfinite(b)
        tol = 3e-7 if dtype == np.float32 else 1e-13
        assert np.all(np.abs(a[fin] - b[fin]) <= tol * np.maximum(np.abs(b[fin]), 1))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_masks(op, dtype, mode):
    """Causal (T, T) and padding (B, 1, 1, T) masks of (B, H, T, T) scores,
    last axis and axis -2, and a mask with 0-stride rows (broadcast_to)."""
    B, H, T = 2, 3, 37
    rng = _ref.rng_for("attn", op, np.dtype(dtype).name)
    x = (rng.standard_normal((B, H, T, T)) * 5).astype(dtype)
    causal = np.tril(np.ones((T, T), bool))
    lengths = np.array([T, 11])
    pad = (np.arange(T) < lengths[:, None])[:, None, None, :]
    zero_rows = np.broadcast_to(rng.random(T) < 0.5, (T, T))  # strides (0, 1)
    for mask in (causal, pad, causal & pad, zero_rows, causal[::-1], causal.T):
        for axis in (-1, -2):
            a = getattr(fastact, op)(x, axis, where=mask)
            check_masked(op, a, x, mask, axis, mode)


@pytest.mark.parametrize("op", OPS)
def test_strided_inputs(op, mode):
    rng = _ref.rng_for("strided", op)
    base = rng.standard_normal((6, 40, 30))
    mbase = rng.random((6, 40, 60)) < 0.5
    x = base[:, ::2, ::-1]
    mask = mbase[:, ::2, ::2]
    for axis in (-1, 1, 0, (1, 2)):
        a = getattr(fastact, op)(x, axis, where=mask)
        check_masked(op, a, x, mask, axis, mode)
    xf = np.asfortranarray(base.astype(np.float32))
    a = getattr(fastact, op)(xf, 0, where=mbase[:, :, :30])
    check_masked(op, a, xf, mbase[:, :, :30], 0, mode)


@pytest.mark.parametrize("op", OPS)
def test_long_row_and_single_kept(op, mode):
    rng = _ref.rng_for("long", op)
    x = rng.standard_normal((1, 300001)).astype(np.float32)
    mask = rng.random(x.shape) < 0.3
    check_masked(op, getattr(fastact, op)(x, where=mask), x, mask, -1, mode)
    one = np.zeros((5, 64), bool)
    one[np.arange(5), [0, 7, 31, 63, 40]] = True
    xs = rng.standard_normal((5, 64)) * 100
    a = getattr(fastact, op)(xs, where=one)
    assert np.array_equal(a[one], np.full(5, 1.0 if op == "softmax" else 0.0))
    check_masked(op, a, xs, one, -1, mode)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("n", [37, 600])  # 600: long columns (not packed)
def test_special_values(op, dtype, axis, n):
    """NaN / +-inf under the mask are ignored; kept NaN or +inf make the kept
    entries NaN (the unmasked op's rule) with the masked-out ones still the
    fill; kept all -inf: kept NaN; nothing kept: all fill."""
    fill = FILL[op]
    x = np.linspace(-3, 3, n * 6).reshape(6, n).astype(dtype)
    mask = np.ones((6, n), bool)
    mask[:, ::3] = False
    x[0, ::3] = np.nan
    x[1, ::3] = np.inf
    x[2, ::3] = -np.inf
    x[3, 1] = np.nan  # kept NaN
    x[4, 1] = np.inf  # kept +inf
    x[5, mask[5]] = -np.inf  # kept all -inf
    if axis == 0:
        x, mask = np.ascontiguousarray(x.T), np.ascontiguousarray(mask.T)
    a = getattr(fastact, op)(x, axis, where=mask)
    t = (lambda v: v.T) if axis == 0 else (lambda v: v)
    at, mt, xt = t(a), t(mask), t(x)
    clean = np.where(mt, xt, -np.inf)[:3]
    b = getattr(fastact, op)(np.ascontiguousarray(clean), -1)
    ref = ref_masked(op, xt[:3], mt[:3], -1)
    # (the twin's float64 rounds x - m: ~|x - m| 2^-53 more, module docstring)
    assert _ref.ulp_error(at[:3], ref, dtype) <= (3 if NATIVE or dtype == np.float32 else 20)
    if NATIVE:  # the same passes as the row with -inf there (columns too)
        assert np.array_equal(at[:3], b)
    for r in (3, 4, 5):
        assert np.isnan(at[r][mt[r]]).all()
        assert np.all(at[r][~mt[r]] == fill)
    nothing = getattr(fastact, op)(x, axis, where=np.zeros_like(mask))
    assert np.all(nothing == fill)
    if op == "softmax":
        assert not np.signbit(nothing).any()


@pytest.mark.parametrize("op", OPS)
def test_axis_followed_by_unit_dims(op, mode):
    """A single axis followed only by 1-sized dims is a row for the kernels
    (the fuzzer found (5, 5, 1, 1) over axis 1 raising an internal
    AssertionError with any mask)."""
    rng = np.random.default_rng(11)
    for shape, axis in [((5, 5, 1, 1), 1), ((5, 5, 1, 1), -3), ((3, 4, 1), 1), ((1, 6, 1), 1),
                        ((5, 1, 5, 1), 2)]:
        x = rng.standard_normal(shape)
        for mshape in [(), (1,), shape, shape[1:], (shape[0],) + (1,) * (len(shape) - 1)]:
            m = rng.random(mshape) > 0.3
            check_masked(op, getattr(fastact, op)(x, axis=axis, where=m), x, m, axis, mode)


@pytest.mark.parametrize("op", OPS)
def test_empty_and_0d(op):
    for shape, axis in (((0, 5), -1), ((3, 0), -1), ((3, 0), 0), ((0,), 0)):
        x = np.ones(shape, np.float32)
        a = getattr(fastact, op)(x, axis, where=np.ones(shape[-1:], bool))
        assert a.shape == shape and a.dtype == np.float32
    r = getattr(fastact, op)(np.float64(3.0), where=True)
    assert isinstance(r, np.float64) and r == (1.0 if op == "softmax" else 0.0)
    r = getattr(fastact, op)(np.float64(3.0), where=False)
    assert r == FILL[op]


@pytest.mark.parametrize("op", OPS)
def test_out_and_aliasing(op):
    rng = _ref.rng_for("out", op)
    x = rng.standard_normal((4, 8, 50)).astype(np.float32)
    mask = rng.random((8, 50)) < 0.5
    for axis in (-1, 1, (1, 2)):
        want = getattr(fastact, op)(x, axis, where=mask)
        xc = x.copy()
        r = getattr(fastact, op)(xc, axis, where=mask, out=xc)
        assert r is xc and np.array_equal(xc, want)
        o = np.empty_like(x)
        assert getattr(fastact, op)(x, axis, where=mask, out=o) is o
        assert np.array_equal(o, want)
        o64 = np.empty(x.shape, np.float64)
        with pytest.raises(TypeError):
            getattr(fastact, op)(x, axis, where=mask, out=o64)
        big = np.zeros((4, 8, 100), np.float32)
        v = big[:, :, ::2]  # not contiguous: written through a temporary
        assert getattr(fastact, op)(x, axis, where=mask, out=v) is v
        assert np.array_equal(v, want) and np.all(big[:, :, 1::2] == 0)
    # out overlapping x partially: computed from the unmodified x
    buf = rng.standard_normal(120).astype(np.float32)
    xv, ov = buf[:100].reshape(4, 25), buf[20:].reshape(4, 25)
    m = rng.random(25) < 0.5
    want = getattr(fastact, op)(xv.copy(), where=m)
    getattr(fastact, op)(xv, where=m, out=ov)
    assert np.array_equal(ov, want)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(
    "where,exc",
    [
        (np.ones((4, 5), np.float32), TypeError),
        (np.ones((4, 5), np.int8), TypeError),
        ([[1, 0, 1, 0, 1]], TypeError),
        (np.ma.masked_array(np.ones(5, bool)), TypeError),
        ("yes", TypeError),
        (np.ones((4, 4), bool), ValueError),
        (np.ones((2, 4, 5), bool), ValueError),
        (np.ones((4, 2), bool), ValueError),
    ],
)
def test_bad_masks_raise_before_writing(op, where, exc):
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    out = np.full_like(x, 7.0)
    with pytest.raises(exc):
        getattr(fastact, op)(x, where=where, out=out)
    assert np.all(out == 7.0)
    with pytest.raises(exc):
        getattr(fastact.numpy_impl, op)(x, where=where, out=out)
    assert np.all(out == 7.0)
    with pytest.raises(np.exceptions.AxisError):
        getattr(fastact, op)(x, 2, where=np.ones(5, bool), out=out)
    assert np.all(out == 7.0)


@pytest.mark.parametrize("op", OPS)
def test_other_dtypes_follow_unmasked_rules(op):
    mask = np.array([True, False, True, True])
    for x in (np.array([1, 2, 3, 4], np.int32), np.array([1.0, 2, 3, 4], np.float16),
              np.array([1.0, 2, 3, 4], np.longdouble)):
        a = getattr(fastact, op)(x, where=mask)
        b = getattr(fastact.numpy_impl, op)(x, where=mask)
        assert a.dtype == getattr(fastact, op)(x).dtype == b.dtype
        assert np.allclose(a.astype(float), b.astype(float), rtol=1e-3)
        assert a[1] == FILL[op]


def test_where_none_is_the_unmasked_op():
    x = _ref.rng_for("none").standard_normal((16, 100)).astype(np.float32)
    for op in OPS:
        f = getattr(fastact, op)
        assert np.array_equal(f(x, where=None), f(x))
        assert np.array_equal(f(x, 0, where=None), f(x, 0))


@pytest.mark.skipif(not NATIVE, reason="native backend only")
@pytest.mark.parametrize("level", SUPPORTED)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_level(level, op, dtype):
    rng = _ref.rng_for("levels", op, np.dtype(dtype).name)
    x = (rng.standard_normal((3, 2, 45, 45)) * 6).astype(dtype)
    x[0, 0, 3, 1::4] = np.nan  # under the causal mask below for rows < 1
    causal = np.tril(np.ones((45, 45), bool))
    pad = (rng.random((3, 1, 1, 45)) < 0.8)
    with kernel_level(level):
        assert native._kernel_level() == level
        for mask in (causal, pad, rng.random((45, 45)) < 0.5):
            for axis in (-1, -2, 1, (2, 3)):
                xa = x if axis in (-1, -2) or mask is not causal else x
                a = getattr(fastact, op)(xa, axis, where=mask)
                if axis == -1 and mask is causal:
                    check_masked(op, a[0, 0, :3], xa[0, 0, :3], mask[:3], -1, "native")
                    check_masked(op, a[1:], xa[1:], mask, axis, "native")
                if axis in (-1, -2):
                    # bit-identical to the unmasked op on x with -inf at the
                    # masked-out entries: adding nothing for them (their
                    # exponentials skipped where a whole vector is masked
                    # out) is adding exact zeros
                    filled = np.where(np.broadcast_to(mask, x.shape), x, -np.inf).astype(dtype)
                    ka = kept_any(mask, x.shape, axis)[1:]
                    assert np.array_equal(a[1:][ka], getattr(fastact, op)(filled, axis)[1:][ka])
                elif not np.isnan(np.where(np.broadcast_to(mask, x.shape), x, 0)).any():
                    check_masked(op, a, xa, mask, axis, "native")
                b = getattr(fastact.numpy_impl, op)(xa, axis, where=mask)
                assert _ref.nonfinite_pattern_equal(a, b)
                fin = np.isfinite(b)
                tol = 3e-7 if dtype == np.float32 else 1e-13
                assert np.all(np.abs(a[fin] - b[fin]) <= tol * np.maximum(np.abs(b[fin]), 1))


@pytest.mark.skipif(not NATIVE, reason="native backend only")
@pytest.mark.parametrize("op", OPS)
def test_threads_bit_identical(op):
    rng = _ref.rng_for("threads", op)
    x = rng.standard_normal((4, 4, 128, 128)).astype(np.float32)
    causal = np.tril(np.ones((128, 128), bool))
    pad = rng.random((4, 1, 1, 128)) < 0.7
    before = fastact.get_num_threads()
    try:
        res = {}
        for t in (1, 2, 3, 5):
            fastact.set_num_threads(t)
            res[t] = [getattr(fastact, op)(x, ax, where=m)
                      for m in (causal, pad) for ax in (-1, -2, 1, (2, 3))]
        for t in res:
            for a, b in zip(res[t], res[1]):
                assert np.array_equal(a, b, equal_nan=True)
    finally:
        fastact.set_num_threads(before)


def test_mask_not_expanded():
    """The kernels read a (T, T) mask for (B, H, T, T) scores in place (no
    copy of it at all), and a padding mask too: ck.mask_view."""
    from fastact import _checks as ck

    causal = np.tril(np.ones((64, 64), bool))
    m, dims, strides, sn = ck.mask_view(causal, (8, 8, 64, 64), (3,), None)
    assert np.shares_memory(m, causal) and m.size == causal.size
    assert dims == (8, 8, 64) and strides == (0, 0, 64) and sn == 1
    m, dims, strides, sn = ck.mask_view(causal, (8, 8, 64, 64), (2,), None)
    assert np.shares_memory(m, causal) and strides == (0, 0) and sn == 64
    pad = np.ones((8, 1, 1, 64), bool)
    m, dims, strides, sn = ck.mask_view(pad, (8, 8, 64, 64), (3,), None)
    assert np.shares_memory(m, pad) and strides == (64, 0, 0)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_backward_of_masked_softmax(axis):
    """d/dx sum(g * softmax(x, where=m)) = softmax_backward(g, y): masked-out
    entries get exactly 0, the others match central finite differences of
    the twin in float64 (and of the native masked softmax)."""
    rng = _ref.rng_for("bw", axis)
    shape = (3, 7, 5)
    x = rng.standard_normal(shape)
    mask = rng.random(shape) < 0.6
    mask[0, :, 0] = False  # a fully masked group for axis 1
    g = rng.standard_normal(shape)
    y = fastact.softmax(x, axis, where=mask)
    dx = fastact.softmax_backward(g, y, axis)
    assert np.all(dx[~mask] == 0)
    h = 1e-6
    fd = np.empty_like(x)
    for i in np.ndindex(shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        fp = np.sum(g * fastact.numpy_impl.softmax(xp, axis, where=mask))
        fm = np.sum(g * fastact.numpy_impl.softmax(xm, axis, where=mask))
        fd[i] = (fp - fm) / (2 * h)
    assert np.allclose(dx, fd, rtol=1e-6, atol=1e-8)
    lg = fastact.log_softmax(x, axis, where=mask)
    assert np.array_equal(np.exp(lg), np.exp(lg))  # no NaN from the fill


def test_torch_masked_softmax():
    torch = pytest.importorskip("torch")
    rng = _ref.rng_for("torch")
    x = rng.standard_normal((2, 3, 16, 16))
    causal = np.tril(np.ones((16, 16), bool))
    xt = torch.tensor(x).masked_fill(~torch.tensor(causal), float("-inf"))
    for op, tf in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
        a = getattr(fastact, op)(x, -1, where=causal)
        b = tf(xt, -1).numpy()
        assert np.allclose(a, b, rtol=1e-12, atol=0) or np.allclose(
            np.where(np.isfinite(b), a, 0), np.where(np.isfinite(b), b, 0), rtol=1e-12, atol=1e-300)
