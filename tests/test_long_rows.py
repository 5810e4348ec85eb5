"""Single rows long enough for the chunked long-row algorithm (512 KiB and up:
float32 n >= 131072, float64 n >= 65536; src_c/long_rows.c): accuracy against
the np.longdouble reference on both sides of the threshold, chunks whose max
is below the row's, special values confined to one chunk, aliasing, more
chunks than the fixed table holds, and bit-identical results for any thread
count.  Every test runs on the public API and on the NumPy twin."""

import numpy as np
import pytest

import _ref
import fastact

OPS = ("softmax", "log_softmax", "logsumexp")
# first n on the long path: 512 KiB of elements
LONG = {np.float32: 1 << 17, np.float64: 1 << 16}
# elements per chunk (64 KiB)
CHUNK = {np.float32: 1 << 14, np.float64: 1 << 13}


def call(module, op, x, **kw):
    return getattr(module, op)(x, axis=None, **kw)


def sizes(dtype):
    n = LONG[dtype]
    return (n - 1, n, n + 3 * CHUNK[dtype] + 5, 8 * n + 7)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", range(4))
@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_accuracy(module_mode, op, dtype, which, scale):
    module, mode = module_mode
    n = sizes(dtype)[which]
    rng = _ref.rng_for("long", op, np.dtype(dtype).name, which, scale)
    x = (rng.standard_normal(n) * scale).astype(dtype)
    # the row max sits in the last chunk: every other chunk is rescaled
    x[-3] = np.abs(x).max() + 1
    _ref.check_op_accuracy(op, call(module, op, x), x, None, mode)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axis_none_of_2d_and_rows_of_one(module_mode, op, dtype):
    module, mode = module_mode
    rng = _ref.rng_for("long2d", op, np.dtype(dtype).name)
    x = (rng.standard_normal((3, LONG[dtype] // 2 + 1)) * 5).astype(dtype)
    _ref.check_op_accuracy(op, call(module, op, x), x, None, mode)
    x1 = x.reshape(1, -1)
    _ref.check_op_accuracy(op, getattr(module, op)(x1, axis=-1), x1, -1, mode)


def special_rows(dtype):
    """(name, row) pairs: special values inside one chunk of a long row."""
    n, c = LONG[dtype] + 1001, CHUNK[dtype]
    base = np.random.default_rng(5).standard_normal(n).astype(dtype) * 4
    rows = []
    r = base.copy(); r[c:2 * c] = -np.inf; rows.append(("chunk all -inf", r))
    r = base.copy(); r[:c] = -np.inf; r[2 * c + 3] = np.nan; rows.append(("-inf chunk and NaN", r))
    r = base.copy(); r[3 * c + 17] = np.nan; rows.append(("one NaN", r))
    r = base.copy(); r[c:2 * c] = np.nan; rows.append(("chunk all NaN", r))
    r = base.copy(); r[5] = np.inf; rows.append(("+inf", r))
    r = base.copy(); r[5] = np.inf; r[c + 5] = np.inf; rows.append(("two +inf", r))
    r = base.copy(); r[7] = -np.inf; r[-1] = 1e30; rows.append(("one dominant", r))
    r = np.full(n, -np.inf, dtype); rows.append(("all -inf", r))
    r = np.full(n, -np.inf, dtype); r[-2] = 0.5; rows.append(("one finite", r))
    r = np.full(n, dtype(-3.0)); r[c + 1] = -3.0 + 30; rows.append(("s - 1 tiny", r))
    r = np.full(n, dtype(2.5)); rows.append(("uniform", r))
    return rows


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(module_mode, op, dtype):
    module, mode = module_mode
    for name, x in special_rows(dtype):
        try:
            _ref.check_op_accuracy(op, call(module, op, x), x, None, mode)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


@pytest.mark.parametrize("op", ("softmax", "log_softmax"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace(module, op, dtype):
    for name, x in special_rows(dtype)[:3] + [("random", sizes_row(dtype))]:
        want = call(module, op, x.copy())
        y = x.copy()
        got = call(module, op, y, out=y)
        assert got is y
        np.testing.assert_array_equal(y, want, err_msg=name)


def sizes_row(dtype):
    return (np.random.default_rng(9).standard_normal(sizes(dtype)[2]) * 9).astype(dtype)


@pytest.mark.parametrize("op", OPS)
def test_more_chunks_than_the_table(op):
    """2^24 + 77 float32 elements: over 1024 chunks of 64 KiB, so the chunks
    grow.  Checked against a float64 computation (exact to ~1e-15, far
    below a float32 ULP), the error measured in float64."""
    n = (1 << 24) + 77
    x = (np.random.default_rng(3).standard_normal(n) * 6).astype(np.float32)
    x[n // 2] = 40.0
    got = call(fastact, op, x)
    x64 = x.astype(np.float64)
    m = x64.max()
    s = np.sum(np.exp(x64 - m))
    ref = {"softmax": lambda: np.exp(x64 - m) / s,
           "log_softmax": lambda: (x64 - m) - np.log(s),
           "logsumexp": lambda: m + np.log(s)}[op]()
    ulp = np.spacing(np.abs(np.asarray(ref).astype(np.float32))).astype(np.float64)
    err = np.abs(np.asarray(got, np.float64) - ref) / ulp
    assert err.max() <= 2.0, (op, err.max(), int(err.argmax()))


@pytest.mark.skipif(fastact.BACKEND != "native", reason="native backend only")
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_results(op, dtype):
    x = sizes_row(dtype)
    x[100] = 50
    before = fastact.get_num_threads()
    try:
        results = []
        for t in (1, 2, 3, 5):
            fastact.set_num_threads(t)
            results.append(call(fastact, op, x))
    finally:
        fastact.set_num_threads(before)
    for r in results[1:]:
        assert np.asarray(r).tobytes() == np.asarray(results[0]).tobytes()
