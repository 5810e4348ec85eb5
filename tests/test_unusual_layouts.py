"""Inputs laid out as real pipelines hand them over: misaligned views
(``np.frombuffer`` at an odd offset, fields of packed records), read-only
arrays (``np.load(mmap_mode="r")``, ``np.broadcast_to``) and zero-stride
broadcast views, as every argument of every op (options that take the
general path included).  The result must equal, bit for bit, that of the
same call on plain aligned, writeable, contiguous copies (for the NumPy
twin: within 4 ULP, NumPy's sums depending on the layout).

The fuzzer (tests/fuzz) found the first two: every op raised an internal
AssertionError on a misaligned float array, and binary cross-entropy with
weights, pos_weight or reduction="none" did on a read-only target."""

import numpy as np
import pytest

import fastact

N, C = 5, 7


def _rng(seed=0):
    return np.random.default_rng(seed)


def _x(dtype, seed=0, shape=(N, C)):
    return _rng(seed).standard_normal(shape).astype(dtype)


def misaligned(a):
    """A C-contiguous copy of ``a`` one byte off its dtype's alignment."""
    a = np.asarray(a)
    buf = bytearray(a.nbytes + 1)
    v = np.frombuffer(buf, a.dtype, a.size, offset=1).reshape(a.shape)
    v[...] = a
    assert not v.flags.aligned or a.itemsize == 1
    return v


def readonly(a):
    v = np.array(a)
    v.flags.writeable = False
    return v


def broadcast(a):
    """``a`` as a read-only zero-stride view: its first row repeated."""
    a = np.asarray(a)
    return np.broadcast_to(a[:1], a.shape) if a.ndim else a


LAYOUTS = {"misaligned": misaligned, "readonly": readonly, "broadcast": broadcast}


def _calls(dtype):
    """name -> (function name, positional arrays, keyword arrays, other keywords)"""
    x, g = _x(dtype), _x(dtype, 1)
    p = np.abs(_x(dtype, 2))
    p /= p.sum(-1, keepdims=True)
    t01 = (_rng(3).random((N, C)) > 0.5).astype(dtype)
    lab = np.arange(N, dtype=np.int64) % C
    w = np.linspace(0.5, 2.0, C)
    pw = np.linspace(1.0, 3.0, C)
    mask = _rng(4).random((N, C)) > 0.3
    return {
        "softmax": ("softmax", [x], {}, {}),
        "softmax axis0": ("softmax", [x], {}, {"axis": 0}),
        "softmax where": ("softmax", [x], {"where": mask}, {}),
        "log_softmax": ("log_softmax", [x], {}, {}),
        "log_softmax where axis0": ("log_softmax", [x], {"where": mask}, {"axis": 0}),
        "logsumexp": ("logsumexp", [x], {}, {}),
        "logsumexp all": ("logsumexp", [x], {}, {"axis": None}),
        "relu": ("relu", [x], {}, {}),
        "leaky_relu": ("leaky_relu", [x], {}, {"negative_slope": 0.1}),
        "sigmoid": ("sigmoid", [x], {}, {}),
        "softmax_backward": ("softmax_backward", [g, p], {}, {}),
        "log_softmax_backward axis0": ("log_softmax_backward", [g, np.log(p)], {}, {"axis": 0}),
        "relu_backward": ("relu_backward", [g, x], {}, {}),
        "leaky_relu_backward": ("leaky_relu_backward", [g, x], {}, {}),
        "sigmoid_backward": ("sigmoid_backward", [g, p], {}, {}),
        "cross_entropy": ("cross_entropy", [x, lab], {}, {}),
        "cross_entropy weight none": ("cross_entropy", [x, lab], {"weight": w}, {"reduction": "none"}),
        "cross_entropy probs": ("cross_entropy", [x, p], {}, {"label_smoothing": 0.1}),
        "cross_entropy_with_grad": ("cross_entropy_with_grad", [x, lab], {"weight": w}, {}),
        "cross_entropy_with_grad probs none": (
            "cross_entropy_with_grad", [x, p], {"grad_loss": np.abs(_x(dtype, 5, (N,)))},
            {"reduction": "none"}),
        "bce": ("binary_cross_entropy_with_logits", [x, t01], {}, {}),
        "bce weights none": ("binary_cross_entropy_with_logits", [x, t01],
                             {"weight": w, "pos_weight": pw}, {"reduction": "none"}),
        "bce_with_grad": ("binary_cross_entropy_with_logits_with_grad", [x, t01],
                          {"pos_weight": pw}, {}),
        "bce_with_grad none": ("binary_cross_entropy_with_logits_with_grad", [x, t01],
                               {"weight": w, "grad_loss": np.abs(g)}, {"reduction": "none"}),
    }


CALL_NAMES = list(_calls(np.float32))


def _bits(r):
    if isinstance(r, tuple):
        return tuple(_bits(v) for v in r)
    a = np.asarray(r)
    return a.dtype, a.shape, a.tobytes()


def _plain(a):
    """An aligned, writeable, C-contiguous copy (of the same values)."""
    return np.array(a, order="C") if isinstance(a, np.ndarray) else a


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("call", CALL_NAMES)
def test_every_argument_in_every_layout(module, call, dtype, layout):
    name, args, kwarrays, kw = _calls(dtype)[call]
    fn = getattr(module, name)
    change = LAYOUTS[layout]
    variants = []  # (what, args, keyword arrays): one argument changed, then all
    for i in range(len(args)):
        variants.append((f"argument {i}", [change(v) if j == i else v for j, v in enumerate(args)],
                         kwarrays))
    for k in kwarrays:
        variants.append((k, args, dict(kwarrays, **{k: change(kwarrays[k])})))
    variants.append(("all", [change(v) for v in args], {k: change(v) for k, v in kwarrays.items()}))
    for what, a, kwa in variants:
        want = fn(*[_plain(v) for v in a], **{k: _plain(v) for k, v in kwa.items()}, **kw)
        got = fn(*a, **kwa, **kw)
        if module.__name__ == "fastact.numpy_impl" or fastact.BACKEND == "numpy":
            # NumPy's own sums (pairwise) depend on the memory layout
            for gv, wv in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want))):
                np.testing.assert_allclose(gv, wv, rtol=4 * np.finfo(dtype).eps, err_msg=what)
        else:
            assert _bits(got) == _bits(want), what


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("call", ["softmax", "relu", "sigmoid_backward", "cross_entropy weight none",
                                  "bce weights none", "cross_entropy_with_grad"])
def test_misaligned_out(module, call, dtype):
    """A misaligned ``out`` is written through a temporary: same bits."""
    name, args, kwarrays, kw = _calls(dtype)[call]
    fn = getattr(module, name)
    want = fn(*args, **kwarrays, **kw)
    ref = want[1] if isinstance(want, tuple) else want
    out = misaligned(np.full(np.shape(ref), 7.0, np.asarray(ref).dtype))
    got = fn(*args, **kwarrays, **kw, out=out)
    got = got[1] if isinstance(got, tuple) else got
    assert got is out
    assert out.tobytes() == np.asarray(ref).tobytes()
