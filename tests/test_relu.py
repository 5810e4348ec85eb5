"""relu: public API vs NumPy twin vs the spec, bit for bit."""

import numpy as np
import pytest

from _ref import ref_relu_bits, rng_for

UINT = {np.dtype(np.float16): np.uint16, np.dtype(np.float32): np.uint32,
        np.dtype(np.float64): np.uint64}
FDTYPES = [np.float16, np.float32, np.float64]
FIDS = ["f16", "f32", "f64"]
SIZES = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 1000,
         4099, 70000]


def bits(a):
    a = np.asarray(a)
    return np.ascontiguousarray(a).view(UINT[a.dtype])


def special_values(dtype):
    """All the interesting bit patterns, including NaN payloads."""
    dtype = np.dtype(dtype)
    u = UINT[dtype]
    fi = np.finfo(dtype)
    vals = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, -np.nan,
                     fi.max, -fi.max, fi.tiny, -fi.tiny,
                     fi.smallest_subnormal, -fi.smallest_subnormal,
                     fi.smallest_subnormal * 3, -fi.smallest_subnormal * 5,
                     fi.tiny / 2, -fi.tiny / 2, fi.eps, -fi.eps], dtype=dtype)
    nb = dtype.itemsize * 8
    mant = dtype.type(0).nbytes * 8 - 1 - {16: 5, 32: 8, 64: 11}[nb]
    exp_all = ((1 << (nb - 1 - mant)) - 1) << mant
    sign = 1 << (nb - 1)
    payload_nans = np.array([exp_all | 1,                      # signalling NaN
                             exp_all | (1 << (mant - 1)) | 5,  # quiet + payload
                             sign | exp_all | 3,               # negative sNaN
                             sign | exp_all | (1 << (mant - 1)) | 7],
                            dtype=u).view(dtype)
    out = np.concatenate([vals, payload_nans])
    assert np.isnan(out[-4:]).all()
    return out


def random_mix(n, dtype, seed):
    rng = rng_for("relu", n, np.dtype(dtype).name, seed)
    x = rng.standard_normal(n).astype(dtype)
    sp = special_values(dtype)
    if n:
        k = min(n, 3 * len(sp))
        pos = rng.choice(n, size=k, replace=False)
        x[pos] = np.resize(sp, k)
    return x


@pytest.mark.parametrize("dtype", FDTYPES, ids=FIDS)
def test_special_values_bits(module, dtype):
    x = special_values(dtype)
    y = module.relu(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(bits(y), ref_relu_bits(x))


@pytest.mark.parametrize("dtype", FDTYPES, ids=FIDS)
def test_negative_zero_becomes_positive_zero(module, dtype):
    y = module.relu(np.array([-0.0, 0.0, -1e-30], dtype=dtype))
    assert (y == 0).all()
    assert not np.signbit(y).any()


@pytest.mark.parametrize("dtype", FDTYPES, ids=FIDS)
@pytest.mark.parametrize("n", SIZES)
def test_sizes_public_vs_twin_vs_spec(impl, twin, dtype, n):
    x = random_mix(n, dtype, "sizes")
    x0 = x.copy()
    a = impl.relu(x)
    b = twin.relu(x)
    assert a.dtype == b.dtype == dtype and a.shape == b.shape == (n,)
    np.testing.assert_array_equal(bits(a), bits(b))
    np.testing.assert_array_equal(bits(a), ref_relu_bits(x0))
    np.testing.assert_array_equal(bits(x), bits(x0))  # input untouched


@pytest.mark.parametrize("dtype", FDTYPES, ids=FIDS)
@pytest.mark.parametrize("n", [1, 17, 65, 4099])
def test_out_fresh(module, dtype, n):
    x = random_mix(n, dtype, "out")
    out = np.full(n, 7.0, dtype=dtype)
    y = module.relu(x, out=out)
    assert y is out
    np.testing.assert_array_equal(bits(out), ref_relu_bits(x))


@pytest.mark.parametrize("dtype", FDTYPES, ids=FIDS)
def test_out_noncontiguous(module, dtype):
    x = random_mix(3 * 129, dtype, "outnc").reshape(3, 129)
    big = np.full((6, 258), 7.0, dtype=dtype)
    out = big[::-2, 1::2]
    assert out.shape == x.shape
    y = module.relu(x, out=out)
    assert y is out
    np.testing.assert_array_equal(bits(out), ref_relu_bits(x))
    mask = np.ones(big.shape, bool)
    mask[::-2, 1::2] = False
    assert (big[mask] == 7.0).all()


@pytest.mark.parametrize("dtype", FDTYPES, ids=FIDS)
@pytest.mark.parametrize("n", [1, 9, 64, 70000])
def test_inplace(module, dtype, n):
    x = random_mix(n, dtype, "inplace")
    expected = ref_relu_bits(x.copy())
    y = module.relu(x, out=x)
    assert y is x
    np.testing.assert_array_equal(bits(x), expected)


@pytest.mark.parametrize("shift", [1, -1, 5])
@pytest.mark.parametrize("dtype", FDTYPES, ids=FIDS)
def test_partial_overlap(module, dtype, shift):
    buf = random_mix(1000 + abs(shift), dtype, "ovl")
    if shift > 0:
        x, out = buf[shift:], buf[:-shift]
    else:
        x, out = buf[:shift], buf[-shift:]
    expected = ref_relu_bits(x.copy())
    y = module.relu(x, out=out)
    assert y is out
    np.testing.assert_array_equal(bits(out), expected)


@pytest.mark.parametrize("layout", ["step", "neg-step", "transpose", "fortran",
                                    "3d-transpose"])
@pytest.mark.parametrize("dtype", FDTYPES, ids=FIDS)
def test_noncontiguous_inputs(impl, twin, dtype, layout):
    base = random_mix(60 * 70, dtype, "layout").reshape(60, 70)
    x = {"step": base[::3, 1::2], "neg-step": base[::-2, ::-3],
         "transpose": base.T, "fortran": np.asfortranarray(base),
         "3d-transpose": base.reshape(6, 10, 70).transpose(2, 0, 1)}[layout]
    a = impl.relu(x)
    b = twin.relu(x)
    assert a.shape == x.shape
    np.testing.assert_array_equal(bits(a), ref_relu_bits(x))
    np.testing.assert_array_equal(bits(b), ref_relu_bits(x))


@pytest.mark.parametrize("kind", ["0d-array", "np-scalar", "py-float"])
def test_zero_d(module, kind):
    # as ufuncs: a 0-d input gives a NumPy scalar (out= a 0-d array: out)
    for v, expected in ((-2.0, 0.0), (3.5, 3.5), (-0.0, 0.0)):
        x = {"0d-array": np.array(v), "np-scalar": np.float64(v), "py-float": v}[kind]
        y = module.relu(x)
        assert type(y) is np.float64, type(y)
        assert y == expected and not np.signbit(y)
        out = np.array(9.0)
        assert module.relu(x, out=out) is out and out == expected
    assert type(module.relu(np.float32(-1))) is np.float32
    assert type(module.relu(np.int16(-4))) is np.int16


INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_and_bool_keep_their_dtype(module, dtype):
    # as np.maximum(x, 0) and torch.relu: integers stay integers (exact)
    info = np.iinfo(dtype) if dtype != "bool" else None
    if dtype == "bool":
        x = np.array([True, False, True])
    elif dtype.startswith("u"):
        x = np.array([0, 1, 7, info.max], dtype)
    else:
        x = np.array([info.min, -1, 0, 1, info.max], dtype)
    y = module.relu(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    expected = np.where(x > 0, x, 0).astype(x.dtype)
    np.testing.assert_array_equal(y, expected)
    assert not np.shares_memory(y, x)
    out = np.full(x.shape, 3, x.dtype)
    assert module.relu(x, out=out) is out
    np.testing.assert_array_equal(out, expected)
    xs = x.copy()
    assert module.relu(xs, out=xs) is xs  # in place
    np.testing.assert_array_equal(xs, expected)
    strided = np.repeat(x, 2)[::2]
    np.testing.assert_array_equal(module.relu(strided), expected)
    # out must have x's own dtype
    bad = np.full(x.shape, 3, np.float64)
    with pytest.raises(TypeError):
        module.relu(x, out=bad)
    assert (bad == 3).all()


def test_list_input(module):
    y = module.relu([-3, 0, 2])  # a list of ints is an int64 array, as for np.maximum
    assert y.dtype == np.asarray([1]).dtype
    np.testing.assert_array_equal(y, [0, 0, 2])
    y = module.relu([-3.0, 0.5])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [0.0, 0.5])


def test_longdouble(module):
    x = np.array([-1.5, 0.0, -0.0, 2.25, np.inf, -np.inf], dtype=np.longdouble)
    y = module.relu(x)
    assert y.dtype == np.longdouble
    np.testing.assert_array_equal(y, np.array([0, 0, 0, 2.25, np.inf, 0],
                                              dtype=np.longdouble))
    assert not np.signbit(y).any()


def test_empty(module):
    for shape in [(0,), (3, 0), (0, 4, 2)]:
        y = module.relu(np.zeros(shape, np.float32))
        assert y.shape == shape and y.dtype == np.float32
