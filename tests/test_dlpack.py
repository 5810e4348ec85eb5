"""Array-likes exporting ``__dlpack__`` (PyTorch tensors, JAX and CuPy
arrays): every array argument of every public function takes them, read in
place (no copy) when they are in CPU memory, with NumPy arrays (or NumPy
scalars for 0-d inputs) back; other devices, tensors the exporter will not
share and dtypes NumPy lacks give a TypeError before anything is written.

``Exporter`` below is a minimal DLPack producer backed by a NumPy array and
deliberately without ``__array__``, so the DLPack path is what must read it
(and it runs without PyTorch); the PyTorch tests run where it is installed.
"""

import numpy as np
import pytest

from fastact import _checks as ck

N, C = 6, 5
SENTINEL = 12345.0


class Exporter:
    """The DLPack protocol only (no ``__array__``, no buffer protocol):
    ``device`` the (type, index) ``__dlpack_device__`` reports."""

    def __init__(self, a, device=(1, 0), refuse=None):
        self._a, self._device, self._refuse, self.exports = a, device, refuse, 0

    def __dlpack__(self, **kwargs):
        if self._refuse is not None:
            raise BufferError(self._refuse)
        self.exports += 1
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._device


def _calls(mod):
    """name -> (function, positional arrays, keyword arrays, out shape)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C)).astype(np.float32)
    g = rng.standard_normal((N, C)).astype(np.float32)
    y = mod.softmax(x)
    t01 = (rng.random((N, C)) > 0.5).astype(np.float32)
    lab = np.arange(N, dtype=np.int64) % C
    w = rng.random(C).astype(np.float32) + 0.5
    mask = rng.random((N, C)) > 0.3
    return {
        "softmax": (mod.softmax, [x], {}, (N, C)),
        "softmax_where": (mod.softmax, [x], {"where": mask}, (N, C)),
        "log_softmax": (mod.log_softmax, [x], {"where": mask}, (N, C)),
        "logsumexp": (mod.logsumexp, [x], {}, (N,)),
        "relu": (mod.relu, [x], {}, (N, C)),
        "leaky_relu": (mod.leaky_relu, [x], {}, (N, C)),
        "sigmoid": (mod.sigmoid, [x], {}, (N, C)),
        "softmax_backward": (mod.softmax_backward, [g, y], {}, (N, C)),
        "log_softmax_backward": (mod.log_softmax_backward, [g, np.log(y)], {}, (N, C)),
        "relu_backward": (mod.relu_backward, [g, x], {}, (N, C)),
        "leaky_relu_backward": (mod.leaky_relu_backward, [g, x], {}, (N, C)),
        "sigmoid_backward": (mod.sigmoid_backward, [g, y], {}, (N, C)),
        "cross_entropy": (mod.cross_entropy, [x, lab], {"weight": w}, ()),
        "cross_entropy_prob": (mod.cross_entropy, [x, y], {}, ()),
        "cross_entropy_with_grad": (mod.cross_entropy_with_grad, [x, lab],
                                    {"weight": w, "grad_loss": np.float32(2.0)}, (N, C)),
        "bce": (mod.binary_cross_entropy_with_logits, [x, t01],
                {"weight": w, "pos_weight": w[::-1].copy()}, ()),
        "bce_with_grad": (mod.binary_cross_entropy_with_logits_with_grad, [x, t01],
                          {"reduction": "none", "grad_loss": g}, (N, C)),
    }


# the cases of _calls (built per module: the fixture picks it)
NAMES = [
    "softmax", "softmax_where", "log_softmax", "logsumexp", "relu", "leaky_relu", "sigmoid",
    "softmax_backward", "log_softmax_backward", "relu_backward", "leaky_relu_backward",
    "sigmoid_backward", "cross_entropy", "cross_entropy_prob", "cross_entropy_with_grad", "bce",
    "bce_with_grad"]


def _same(a, b):
    """Same structure, types, dtypes and bits."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
        return
    assert type(a) is type(b), (type(a), type(b))
    assert np.asarray(a).dtype == np.asarray(b).dtype
    np.testing.assert_array_equal(a, b, strict=True)


def _arguments(args, kwargs):
    """Every array argument's (place, value): ('pos', i) or ('kw', name)."""
    return [(("pos", i), a) for i, a in enumerate(args)] + \
        [(("kw", k), v) for k, v in kwargs.items()]


def _replace(args, kwargs, place, value):
    args, kwargs = list(args), dict(kwargs)
    if place[0] == "pos":
        args[place[1]] = value
    else:
        kwargs[place[1]] = value
    return args, kwargs


def test_checks_read_in_place():
    # the conversion itself: a view of the exporter's memory, any layout
    base = np.arange(24.0).reshape(4, 6)
    for a in (base, base[:, ::2], base.T, base[1:3]):
        e = Exporter(a)
        v = ck.as_array(e)
        assert e.exports == 1 and np.shares_memory(v, base) and v.shape == a.shape
        np.testing.assert_array_equal(v, a)


@pytest.mark.parametrize("name", NAMES)
def test_every_array_argument_takes_dlpack(module, name):
    fn, args, kwargs, _ = _calls(module)[name]
    want = fn(*args, **kwargs)
    for place, value in _arguments(args, kwargs):
        if not isinstance(value, np.ndarray):
            continue
        e = Exporter(value)
        a2, k2 = _replace(args, kwargs, place, e)
        _same(fn(*a2, **k2), want)
        assert e.exports >= 1, place
    # all of them at once
    a2 = [Exporter(v) if isinstance(v, np.ndarray) else v for v in args]
    k2 = {k: Exporter(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    _same(fn(*a2, **k2), want)


@pytest.mark.parametrize("name", NAMES)
def test_non_cpu_device_is_type_error_before_writing(module, name):
    fn, args, kwargs, oshape = _calls(module)[name]
    for place, value in _arguments(args, kwargs):
        if not isinstance(value, np.ndarray):
            continue
        for device, shown in (((2, 1), "cuda:1"), ((10, 0), "rocm:0"), ((99, 3), "device type 99")):
            out = np.full(oshape, SENTINEL, np.float32)
            a2, k2 = _replace(args, kwargs, place, Exporter(value, device=device))
            with pytest.raises(TypeError, match=f"on {shown}.*CPU"):
                fn(*a2, **k2, out=out)
            assert (out == SENTINEL).all()


def test_refused_export_is_type_error(module):
    e = Exporter(np.ones(3), refuse="Can't export tensors that require gradient")
    with pytest.raises(TypeError, match="x .*cannot be read through DLPack: Can't export"):
        module.softmax(e)
    e = Exporter(np.ones((3, 2)), refuse="nope")
    with pytest.raises(TypeError, match="target .*cannot be read through DLPack"):
        module.cross_entropy(np.ones((3, 2)), e)


def test_zero_d_gives_scalar(module):
    for dt in (np.float32, np.float64):
        x = Exporter(np.array(0.75, dt))
        for op in ("softmax", "log_softmax", "logsumexp", "relu", "sigmoid"):
            r = getattr(module, op)(x)
            assert type(r) is dt, (op, type(r))
        loss, d = module.binary_cross_entropy_with_logits_with_grad(x, Exporter(np.array(1.0, dt)))
        assert type(loss) is dt and type(d) is dt


def test_read_only_export_is_input_only(module):
    # a read-only array exports read-only (DLPack 1.0's flag, NumPy >= 2.1):
    # fine as an input; out= must be a writeable ndarray
    x = np.arange(6.0).reshape(2, 3)
    x.flags.writeable = False
    try:
        e = Exporter(x)
        _same(module.softmax(e), module.softmax(x))
    except TypeError as err:  # an older NumPy that cannot export read-only arrays
        assert "cannot be read through DLPack" in str(err)
    with pytest.raises(TypeError):
        module.softmax(np.ones((2, 3)), out=Exporter(np.empty((2, 3))))


# ------------------------------------------------------------ PyTorch
def test_torch_tensors(module):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, C)).astype(np.float32)
    xt = torch.from_numpy(x.copy())
    _same(module.softmax(xt), module.softmax(x))
    _same(module.softmax(xt.T, axis=0), module.softmax(x.T, axis=0))  # a strided view
    lab = torch.arange(N) % C
    _same(module.cross_entropy_with_grad(xt, lab), module.cross_entropy_with_grad(x, lab.numpy()))
    # the result agrees with PyTorch's own (same dtype, within rounding)
    np.testing.assert_allclose(module.log_softmax(xt.double()),
                               torch.log_softmax(xt.double(), -1).numpy(), rtol=1e-15, atol=1e-15)
    assert type(module.relu(torch.tensor(2.5))) is np.float32


def test_torch_refusals(module):
    torch = pytest.importorskip("torch")
    out = np.full((3,), SENTINEL, np.float32)
    with pytest.raises(TypeError, match="require gradient"):
        module.softmax(torch.ones(3, requires_grad=True), out=out)
    with pytest.raises(TypeError, match="cannot be read through DLPack"):
        module.softmax(torch.ones(3, dtype=torch.bfloat16), out=out)
    assert (out == SENTINEL).all()
    with pytest.raises(TypeError):
        module.softmax(torch.ones(3), out=torch.empty(3))
