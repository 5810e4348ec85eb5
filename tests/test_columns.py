"""Reductions over a non-last axis (the column passes: chunks of up to 256
contiguous columns, in groups of 64 float32 / 32 float64 columns, the last
vector masked; the generic passes of src_c/ops/vec_passes.h at the vector
levels, the portable ones of src_c/ops/passes.h at the scalar level).  Shapes put the column count below, at and across the chunk
and group edges; special values sit in single columns.  Compared with the
np.longdouble reference on the public API and on the NumPy twin."""

import numpy as np
import pytest

import _ref

OPS = ("softmax", "log_softmax", "logsumexp")
# (shape, axis): inner sizes 1..1023 around the 16/64/256 edges, short and long n
SHAPES = [
    ((5, 300), 0), ((3, 7, 517), 1), ((2, 21, 33, 31), 1), ((300, 70), 0),
    ((4, 2, 256), 1), ((2, 9, 257), 1), ((6, 63), 0), ((1, 1000, 17), 1), ((3, 65), 0),
]


def make(shape, dtype, seed, scale=6.0):
    x = _ref.rng_for("cols", shape, np.dtype(dtype).name, seed).standard_normal(shape) * scale
    return x.astype(dtype)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", SHAPES)
def test_accuracy(module_mode, op, dtype, shape, axis):
    module, mode = module_mode
    for seed, scale in ((0, 6.0), (1, 0.05), (2, 60.0)):
        x = make(shape, dtype, seed, scale)
        _ref.check_op_accuracy(op, getattr(module, op)(x, axis=axis), x, axis, mode)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_in_single_columns(module_mode, op, dtype):
    module, mode = module_mode
    x = make((7, 300), dtype, 3)
    x[:, 5] = -np.inf               # all -inf column
    x[2, 70] = np.nan               # one NaN
    x[:, 129] = np.nan              # all NaN
    x[4, 200] = np.inf              # +inf
    x[1, 201] = np.inf; x[3, 201] = np.inf
    x[:, 255] = 1e30; x[0, 256] = -1e30
    x[:, 290] = 3.0                 # ties everywhere: s - 1 = n - 1 exactly
    x[:, 299] = -np.inf; x[6, 299] = 0.5
    _ref.check_op_accuracy(op, getattr(module, op)(x, axis=0), x, 0, mode)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_dominant_row_per_column(module_mode, dtype):
    """s - 1 tiny in every column: log_softmax of the max and logsumexp near
    the max keep their relative accuracy."""
    module, mode = module_mode
    x = np.full((9, 290), -30.0, dtype)
    x[4] = 0.0
    x[:, ::7] -= 5.0
    for op in OPS:
        _ref.check_op_accuracy(op, getattr(module, op)(x, axis=0), x, 0, mode)


@pytest.mark.parametrize("op", ("softmax", "log_softmax"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace(module, op, dtype):
    x = make((3, 11, 301), dtype, 4)
    want = getattr(module, op)(x, axis=1)
    got = getattr(module, op)(x, axis=1, out=x)
    assert got is x
    np.testing.assert_array_equal(x, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_class_axis_1(module_mode, dtype, smoothing):
    """NCHW-style cross-entropy (class axis 1, 300 pixels: chunk edge)."""
    module, mode = module_mode
    rng = _ref.rng_for("ce-cols", np.dtype(dtype).name, smoothing)
    logits = (rng.standard_normal((4, 21, 300)) * 4).astype(dtype)
    target = rng.integers(0, 21, (4, 300))
    target[0, :17] = -100
    got = module.cross_entropy(logits, target, axis=1, label_smoothing=smoothing)
    ref = _ref.ref_cross_entropy(logits, target, axis=1, label_smoothing=smoothing)
    _ref.check_ce_accuracy(got, ref, logits, mode)
