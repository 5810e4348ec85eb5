"""Every bad input of the spec raises the documented exception, before
anything is written to `out`.  Run for the public API and the twin."""

import numpy as np
import pytest

AxisError = np.exceptions.AxisError
SENTINEL = 7.0
OPS = ["softmax", "log_softmax", "logsumexp", "relu"]
REDUCE_OPS = ["softmax", "log_softmax", "logsumexp"]


def call(mod, op, x, **kw):
    return getattr(mod, op)(x, **kw)


def out_shape(op, shape, axis=-1, keepdims=False):
    if op != "logsumexp":
        return shape
    nd = len(shape)
    axes = range(nd) if axis is None else [a % nd for a in np.atleast_1d(axis)]
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def raises_untouched(exc, fn, out, match=None):
    """fn() raises exc and `out` (prefilled with SENTINEL) is unchanged."""
    out[...] = SENTINEL
    before = out.copy()
    with pytest.raises(exc, match=match):
        fn()
    np.testing.assert_array_equal(out, before)
    assert (np.asarray(out) == SENTINEL).all()


# ---------------------------------------------------------------------------
# input dtype
# ---------------------------------------------------------------------------

BAD_X = {
    "complex": lambda: np.ones((3, 4), np.complex128),
    "object": lambda: np.ones((3, 4), dtype=object),
    "str": lambda: np.full((3, 4), "a"),
}


@pytest.mark.parametrize("kind", list(BAD_X))
@pytest.mark.parametrize("op", OPS)
def test_bad_input_dtype_with_out(module, op, kind):
    x = BAD_X[kind]()
    kw = {} if op == "relu" else {"axis": -1}
    for odt in (np.float64, np.complex128):
        out = np.empty(out_shape(op, (3, 4)), dtype=odt)
        raises_untouched(TypeError, lambda: call(module, op, x, out=out, **kw), out)


# ---------------------------------------------------------------------------
# out validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("xdtype,odtype", [(np.float64, np.float32),
                                          (np.float32, np.float64),
                                          (np.float16, np.float32),
                                          (np.int64, np.int64),
                                          (np.int32, np.float32),
                                          (np.float64, np.longdouble)])
def test_out_wrong_dtype(module, op, xdtype, odtype):
    if op == "relu" and xdtype == odtype:
        odtype = np.float64  # relu keeps integer dtypes: the float64 out is the wrong one
    x = np.arange(12, dtype=xdtype).reshape(3, 4)
    out = np.empty(out_shape(op, (3, 4)), dtype=odtype)
    raises_untouched(TypeError, lambda: call(module, op, x, out=out), out)


WRONG_SHAPES = [(4, 3), (3, 5), (12,), (1, 3, 4), (3,), (4,), ()]


@pytest.mark.parametrize("op,oshape", [(op, sh) for op in OPS for sh in WRONG_SHAPES
                                       if sh != out_shape(op, (3, 4))])
def test_out_wrong_shape(module, op, oshape):
    x = np.ones((3, 4))
    out = np.empty(oshape)
    raises_untouched(ValueError, lambda: call(module, op, x, out=out), out)


def test_logsumexp_out_keepdims_shape(module):
    x = np.ones((3, 4))
    out = np.empty((3,))
    raises_untouched(ValueError,
                     lambda: module.logsumexp(x, keepdims=True, out=out), out)
    out = np.empty((3, 1))
    raises_untouched(ValueError, lambda: module.logsumexp(x, out=out), out)


@pytest.mark.parametrize("op", OPS)
def test_out_readonly(module, op):
    x = np.ones((3, 4))
    out = np.full(out_shape(op, (3, 4)), SENTINEL)
    out.flags.writeable = False
    with pytest.raises(ValueError):
        call(module, op, x, out=out)
    assert (out == SENTINEL).all()
    # read-only view of a writeable buffer
    base = np.full(out_shape(op, (3, 4)), SENTINEL)
    view = base.view()
    view.flags.writeable = False
    with pytest.raises(ValueError):
        call(module, op, x, out=view)
    assert (base == SENTINEL).all()


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("bad", ["list", "scalar", "memoryview", "matrix-like"])
def test_out_not_ndarray(module, op, bad):
    x = np.ones((3, 4))
    shape = out_shape(op, (3, 4))
    if bad == "list":
        out = np.full(shape, SENTINEL).tolist()
    elif bad == "scalar":
        out = np.float64(SENTINEL)
    elif bad == "memoryview":
        out = memoryview(np.full(shape, SENTINEL))
    else:
        out = (np.full(shape, SENTINEL),)  # tuple of one array (ufunc style)
    with pytest.raises(TypeError):
        call(module, op, x, out=out)
    if bad == "memoryview":
        assert (np.asarray(out) == SENTINEL).all()
    if bad == "matrix-like":
        assert (out[0] == SENTINEL).all()


# ---------------------------------------------------------------------------
# axis validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [2, -3, 5, (0, 2), (-3,), (1, 7)])
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_axis_out_of_range(module, op, axis):
    x = np.ones((3, 4))
    out = np.empty(out_shape(op, (3, 4), axis=0))
    out2 = np.empty((3, 4))
    with pytest.raises(AxisError):
        call(module, op, x, axis=axis)
    target = out2 if op != "logsumexp" else out
    raises_untouched(AxisError, lambda: call(module, op, x, axis=axis, out=target),
                     target)
    # AxisError is both a ValueError and an IndexError
    with pytest.raises(ValueError):
        call(module, op, x, axis=axis)
    with pytest.raises(IndexError):
        call(module, op, x, axis=axis)


@pytest.mark.parametrize("axis", [(0, 0), (1, -1), (0, 1, 0), (-2, 0)])
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_axis_repeated(module, op, axis):
    x = np.ones((3, 4))
    out = np.empty(() if op == "logsumexp" else (3, 4))
    raises_untouched(ValueError, lambda: call(module, op, x, axis=axis, out=out), out)


@pytest.mark.parametrize("axis", [1.0, (0, 1.0), "1", 0.5, [0.0]])
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_axis_non_integer(module, op, axis):
    x = np.ones((3, 4))
    out = np.empty(out_shape(op, (3, 4), axis=-1) if op == "logsumexp" else (3, 4))
    raises_untouched(TypeError, lambda: call(module, op, x, axis=axis, out=out), out)


# ---------------------------------------------------------------------------
# cross_entropy
# ---------------------------------------------------------------------------


def logits4():
    return np.random.default_rng(0).standard_normal((4, 4))


def test_ce_label_out_of_range(module):
    with pytest.raises(IndexError, match="7"):
        module.cross_entropy(logits4(), np.array([0, 7, 9, 1]))
    with pytest.raises(IndexError, match="4"):
        module.cross_entropy(logits4(), np.array([0, 1, 2, 4]))


@pytest.mark.parametrize("tdtype", ["int8", "uint8", "int32", "int64", "uint64"])
def test_ce_label_out_of_range_dtypes(module, tdtype):
    t = np.array([0, 1, 123, 2]).astype(tdtype)
    with pytest.raises(IndexError, match="123"):
        module.cross_entropy(logits4(), t)


def test_ce_uint64_huge_label_is_not_ignore_index(module):
    """2**64 - 100 must not wrap to -100 (= ignore_index)."""
    t = np.array([0, 1, 2**64 - 100, 2], dtype=np.uint64)
    with pytest.raises(IndexError, match=str(2**64 - 100)):
        module.cross_entropy(logits4(), t)
    t = np.array([0, 2**63 + 1, 1, 2], dtype=np.uint64)
    with pytest.raises(IndexError):
        module.cross_entropy(logits4(), t)


def test_ce_label_out_of_range_axis1(module):
    logits = np.zeros((2, 3, 2, 2))
    t = np.zeros((2, 2, 2), np.int64)
    t[1, 0, 1] = 3
    with pytest.raises(IndexError, match="3"):
        module.cross_entropy(logits, t, axis=1)


@pytest.mark.parametrize("label,ign", [(-1, -100), (-100, 3), (-5, -4)])
def test_ce_negative_label_not_ignore_index(module, label, ign):
    t = np.array([0, label, 1, 2])
    with pytest.raises(IndexError, match=str(label)):
        module.cross_entropy(logits4(), t, ignore_index=ign)


def test_ce_ignore_index_accepts_negative_and_valid(module):
    t = np.array([0, -5, 1, 2])
    r = module.cross_entropy(logits4(), t, ignore_index=-5, reduction="none")
    assert r[1] == 0


@pytest.mark.parametrize("weight", [np.ones(3), np.ones(5), np.ones((4, 1)),
                                    np.ones((2, 2)), [], 1.0])
def test_ce_weight_wrong_shape(module, weight):
    with pytest.raises(ValueError):
        module.cross_entropy(logits4(), np.array([0, 1, 2, 3]), weight=weight)


def test_ce_weight_complex(module):
    with pytest.raises(TypeError):
        module.cross_entropy(logits4(), np.array([0, 1, 2, 3]),
                             weight=np.ones(4, np.complex128))


@pytest.mark.parametrize("shape", [(3,), (4, 1), (2, 2), (), (5,)])
def test_ce_index_target_shape_mismatch(module, shape):
    t = np.zeros(shape, np.int64)
    with pytest.raises(ValueError):
        module.cross_entropy(logits4(), t)


def test_ce_index_target_shape_mismatch_axis1(module):
    logits = np.zeros((2, 3, 4))
    with pytest.raises(ValueError):
        module.cross_entropy(logits, np.zeros((2, 3), np.int64), axis=1)
    # the right shape works
    module.cross_entropy(logits, np.zeros((2, 4), np.int64), axis=1)


def test_ce_float_target_of_index_shape(module):
    with pytest.raises(ValueError, match="(?i)int"):
        module.cross_entropy(logits4(), np.array([0.0, 1.0, 2.0, 3.0]))


@pytest.mark.parametrize("shape", [(4, 3), (4, 4, 1), (16,)])
def test_ce_prob_target_shape_mismatch(module, shape):
    with pytest.raises(ValueError):
        module.cross_entropy(logits4(), np.full(shape, 0.25))


def test_ce_bool_target(module):
    with pytest.raises(TypeError):
        module.cross_entropy(logits4(), np.array([True, False, True, False]))
    with pytest.raises(TypeError):
        module.cross_entropy(logits4(), np.zeros((4, 4), bool))


@pytest.mark.parametrize("kind", ["complex", "object", "str"])
def test_ce_bad_target_dtype(module, kind):
    t = {"complex": np.zeros((4, 4), np.complex128),
         "object": np.array([0, 1, 2, 3], dtype=object),
         "str": np.array(["0", "1", "2", "3"])}[kind]
    with pytest.raises(TypeError):
        module.cross_entropy(logits4(), t)


@pytest.mark.parametrize("kind", ["complex", "object", "str"])
def test_ce_bad_logits_dtype(module, kind):
    lg = {"complex": np.zeros((4, 4), np.complex128),
          "object": np.zeros((4, 4), dtype=object),
          "str": np.full((4, 4), "x")}[kind]
    with pytest.raises(TypeError):
        module.cross_entropy(lg, np.array([0, 1, 2, 3]))


@pytest.mark.parametrize("reduction", ["avg", "MEAN", "", None, "elementwise_mean"])
def test_ce_unknown_reduction(module, reduction):
    with pytest.raises(ValueError):
        module.cross_entropy(logits4(), np.array([0, 1, 2, 3]), reduction=reduction)


@pytest.mark.parametrize("ls", [-0.1, 1.5, float("nan"), -1e-300, 1.0000001,
                                float("inf")])
def test_ce_bad_label_smoothing(module, ls):
    with pytest.raises(ValueError):
        module.cross_entropy(logits4(), np.array([0, 1, 2, 3]), label_smoothing=ls)


def test_ce_zero_classes(module):
    with pytest.raises(ValueError):
        module.cross_entropy(np.zeros((3, 0)), np.zeros(3, np.int64))
    with pytest.raises(ValueError):
        module.cross_entropy(np.zeros((3, 0, 2)), np.zeros((3, 2), np.int64), axis=1)
    with pytest.raises(ValueError):
        module.cross_entropy(np.zeros((3, 0)), np.zeros((3, 0)))


def test_ce_zero_d_logits(module):
    with pytest.raises(ValueError):
        module.cross_entropy(np.float64(1.0), np.array(0))
    with pytest.raises(ValueError):
        module.cross_entropy(np.array(1.0), np.array(0.5))


@pytest.mark.parametrize("axis", [2, -3, 5])
def test_ce_axis_out_of_range(module, axis):
    with pytest.raises(AxisError):
        module.cross_entropy(logits4(), np.array([0, 1, 2, 3]), axis=axis)


@pytest.mark.parametrize("axis", [(1,), (0, 1), None, 1.0])
def test_ce_axis_not_int(module, axis):
    with pytest.raises(TypeError):
        module.cross_entropy(logits4(), np.array([0, 1, 2, 3]), axis=axis)
