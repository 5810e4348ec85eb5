"""NumPy / SciPy conventions a user of the package expects: axis handling
(huge values, bools), masked arrays, ``out=`` for cross_entropy, the
thread-count cap and the main job's error report.  Run for the public API
and the twin (``module``) where both apply."""

import numpy as np
import pytest

AxisError = np.exceptions.AxisError
REDUCE_OPS = ["softmax", "log_softmax", "logsumexp"]
SENTINEL = 7.0


def untouched(out):
    assert (np.asarray(out) == SENTINEL).all()


# ---------------------------------------------------------------- axis
HUGE_AXES = [10**20, 2**31, -(2**31) - 1, 2**63, -(2**63), -(10**30)]


@pytest.mark.parametrize("axis", HUGE_AXES)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_huge_axis_is_axis_error(module, op, axis):
    x = np.ones((3, 4))
    for a in (axis, (axis,), (0, axis), np.int64(axis) if -(2**63) <= axis < 2**63 else axis):
        with pytest.raises(AxisError):
            getattr(module, op)(x, axis=a)
    out = np.full((3, 4) if op != "logsumexp" else (3,), SENTINEL)
    with pytest.raises(AxisError):
        getattr(module, op)(x, axis=axis, out=out)
    untouched(out)


@pytest.mark.parametrize("axis", HUGE_AXES)
def test_huge_axis_cross_entropy(module, axis):
    with pytest.raises(AxisError):
        module.cross_entropy(np.ones((3, 4)), np.zeros(3, np.int64), axis=axis)


@pytest.mark.parametrize("axis", [True, False, np.True_, np.False_, (0, True), (np.False_,)])
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_bool_axis_is_type_error(module, op, axis):
    # NumPy rejects bools as axes ("an integer is required"): so do we
    x = np.ones((3, 4))
    with pytest.raises(TypeError, match="bool"):
        getattr(module, op)(x, axis=axis)
    if type(axis) is not tuple:  # also for 0-d input
        with pytest.raises(TypeError, match="bool"):
            getattr(module, op)(np.float64(2.0), axis=axis)


@pytest.mark.parametrize("axis", [True, np.False_])
def test_bool_axis_cross_entropy(module, axis):
    with pytest.raises(TypeError, match="bool"):
        module.cross_entropy(np.ones((3, 4)), np.zeros(3, np.int64), axis=axis)


def test_numpy_integer_axes_accepted(module):
    x = np.random.default_rng(0).standard_normal((3, 4))
    for a in (np.int8(1), np.int64(-1), np.uint8(1), (np.int32(0), np.intp(1))):
        np.testing.assert_array_equal(module.softmax(x, axis=a),
                                      module.softmax(x, axis=a if type(a) is tuple else int(a)))


# ------------------------------------------------------------ SciPy scalars
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_scalars_match_scipy(module, op):
    special = pytest.importorskip("scipy.special")
    for v in (3.0, -1e300, 0.0):
        want = getattr(special, op)(v)
        got = getattr(module, op)(v)
        assert type(got) is type(want) and got == want, (v, got, want)


# ------------------------------------------------------------ masked arrays
def _masked():
    return np.ma.masked_array([[1.0, 50.0, 2.0], [0.0, 1.0, 2.0]],
                              mask=[[False, True, False], [False, False, False]])


@pytest.mark.parametrize("op", REDUCE_OPS + ["relu"])
def test_masked_array_rejected(module, op):
    xm = _masked()
    with pytest.raises(TypeError, match="MaskedArray"):
        getattr(module, op)(xm)
    out = np.full((2, 3) if op != "logsumexp" else (2,), SENTINEL)
    with pytest.raises(TypeError, match="MaskedArray"):
        getattr(module, op)(xm, out=out)
    untouched(out)
    # a masked out would lose its mask's meaning too
    outm = np.ma.masked_array(np.full(out.shape, SENTINEL))
    with pytest.raises(TypeError, match="MaskedArray"):
        getattr(module, op)(np.asarray(xm), out=outm)
    untouched(outm.data)
    # the ways the message suggests both work
    if op == "softmax":
        y = module.softmax(xm.filled(-np.inf))
        assert y[0, 1] == 0.0
        module.softmax(np.asarray(xm))


def test_masked_cross_entropy_arguments(module):
    x = np.zeros((2, 3))
    t = np.array([0, 2])
    with pytest.raises(TypeError, match="logits is a numpy.ma.MaskedArray"):
        module.cross_entropy(np.ma.masked_array(x), t)
    with pytest.raises(TypeError, match="target is a numpy.ma.MaskedArray"):
        module.cross_entropy(x, np.ma.masked_array(t, mask=[True, False]))
    with pytest.raises(TypeError, match="weight is a numpy.ma.MaskedArray"):
        module.cross_entropy(x, t, weight=np.ma.masked_array(np.ones(3)))


def test_other_ndarray_subclasses_still_work(module):
    class Sub(np.ndarray):
        pass

    x = np.random.default_rng(1).standard_normal((3, 5)).view(Sub)
    np.testing.assert_allclose(module.softmax(x), module.softmax(np.asarray(x)), rtol=1e-15)


# ------------------------------------------------------ cross_entropy out=
def _ce_case(dtype, axis):
    rng = np.random.default_rng(3)
    shape = (4, 5, 6)
    x = rng.standard_normal(shape).astype(dtype)
    ax = axis % 3
    sshape = shape[:ax] + shape[ax + 1:]
    t = rng.integers(0, shape[ax], size=sshape)
    t.flat[1] = -100
    return x, t, sshape


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("axis", [-1, 1, 0])
@pytest.mark.parametrize("target", ["index", "prob"])
def test_ce_none_out(module, dtype, axis, target):
    x, t, sshape = _ce_case(dtype, axis)
    if target == "prob":
        t = module.softmax(np.random.default_rng(4).standard_normal(x.shape), axis=axis)
    kw = dict(axis=axis, reduction="none", label_smoothing=0.1, weight=np.arange(1.0, 1 + x.shape[axis]))
    want = module.cross_entropy(x, t, **kw)
    for layout in ("c", "strided", "fortran"):
        if layout == "c":
            out = np.full(sshape, SENTINEL, dtype)
        elif layout == "strided":
            out = np.full(sshape + (2,), SENTINEL, dtype)[..., 0]
        else:
            out = np.asfortranarray(np.full(sshape, SENTINEL, dtype))
        got = module.cross_entropy(x, t, out=out, **kw)
        assert got is out
        np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_ce_reduced_out_is_0d(module, reduction):
    x, t, _ = _ce_case(np.float32, -1)
    want = module.cross_entropy(x, t, reduction=reduction)
    out = np.array(SENTINEL, np.float32)
    assert module.cross_entropy(x, t, reduction=reduction, out=out) is out
    assert out == want
    bad = np.full((4, 5), SENTINEL, np.float32)
    with pytest.raises(ValueError, match="shape"):
        module.cross_entropy(x, t, reduction=reduction, out=bad)
    untouched(bad)


def test_ce_out_errors_leave_it_untouched(module):
    x, t, sshape = _ce_case(np.float32, -1)
    cases = [
        (np.full(sshape, SENTINEL, np.float64), TypeError),  # dtype
        (np.full(sshape[::-1], SENTINEL, np.float32), ValueError),  # shape
        (np.full(sshape + (1,), SENTINEL, np.float32), ValueError),
    ]
    ro = np.full(sshape, SENTINEL, np.float32)
    ro.flags.writeable = False
    cases.append((ro, ValueError))
    for out, exc in cases:
        with pytest.raises(exc):
            module.cross_entropy(x, t, reduction="none", out=out)
        untouched(out)
    with pytest.raises(TypeError):
        module.cross_entropy(x, t, reduction="none", out=[0.0] * 20)
    # a bad label: IndexError, out untouched
    tb = t.copy()
    tb.flat[-1] = 6
    out = np.full(sshape, SENTINEL, np.float32)
    with pytest.raises(IndexError):
        module.cross_entropy(x, tb, reduction="none", out=out)
    untouched(out)


def test_ce_out_overlapping_inputs(module):
    # out may share memory with the logits or the probabilities: the result
    # is as if computed into a fresh array
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 6))
    t = np.arange(6) % 6
    want = module.cross_entropy(x.copy(), t, reduction="none")
    got = module.cross_entropy(x, t, reduction="none", out=x[:, 0])
    np.testing.assert_array_equal(got, want)
    x = rng.standard_normal((6, 6))
    p = module.softmax(rng.standard_normal((6, 6)))
    want = module.cross_entropy(x, p.copy(), reduction="none")
    got = module.cross_entropy(x, p, reduction="none", out=p[0])
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------ thread count
def test_thread_cap(fastact_pkg):
    fa = fastact_pkg
    before = fa.get_num_threads()
    try:
        assert fa.MAX_THREADS == 256
        with pytest.raises(ValueError, match=r"\[1, 256\]"):
            fa.set_num_threads(1000)
        with pytest.raises(ValueError):
            fa.set_num_threads(257)
        with pytest.raises(TypeError):
            fa.set_num_threads(True)
        assert fa.get_num_threads() == before  # unchanged by the failed calls
        if fa.BACKEND == "native":
            # a build without threads (FASTACT_NO_THREADS) accepts the count
            # and stays serial: 1
            fa.set_num_threads(256)
            assert fa.get_num_threads() == (256 if fa._native.THREADS_AVAILABLE else 1)
    finally:
        fa.set_num_threads(before)


def test_threadpoolctl_limit_above_cap_is_clamped(fastact_pkg):
    tpc = pytest.importorskip("threadpoolctl")
    if fastact_pkg.BACKEND != "native":
        pytest.skip("the pool belongs to the native backend")
    before = fastact_pkg.get_num_threads()
    with tpc.threadpool_limits(1000, user_api="fastact"):
        assert fastact_pkg.get_num_threads() == \
            (fastact_pkg.MAX_THREADS if fastact_pkg._native.THREADS_AVAILABLE else 1)
    assert fastact_pkg.get_num_threads() == before


# ------------------------------------------------------ main job's report
def test_main_relative_error_floors_at_smallest_normal():
    from fastact.__main__ import compare

    tiny32 = np.finfo(np.float32).smallest_subnormal
    r = compare(np.array([1.0, tiny32], np.float32), np.array([1.0, 0.0], np.float32))
    assert r.ok
    rel = float(r.detail.split("max_rel=")[1])
    assert rel < 1e-6  # 1.4e-45 against a floor of 1.2e-38, not against float64.tiny
    r = compare(np.array([1.0, 1.0 + 2**-20]), np.array([1.0, 1.0]))
    assert not r.ok and float(r.detail.split("max_rel=")[1]) == pytest.approx(2**-20, rel=1e-2)


# ------------------------------------------------------------ public names
def test_twin_exports_every_op():
    # the twin's __all__ names exactly the public ops (its star-import and
    # the API reference's coverage check rely on it)
    import fastact
    import fastact.numpy_impl as twin

    ops = {n for n in fastact.__all__ if callable(getattr(fastact, n)) and hasattr(twin, n)}
    assert set(twin.__all__) == ops
    assert {"cross_entropy", "binary_cross_entropy_with_logits_with_grad"} <= ops
