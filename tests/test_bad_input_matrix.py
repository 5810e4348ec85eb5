"""The bad-input matrix: every public function x every kind of bad argument.

Each call gets a valid ``out`` buffer filled with a sentinel, then one
argument is made bad (wrong dtype kind, a non-array object, a mismatched
shape, a bad ``out``, a bad axis, out-of-range labels at the first, middle
and last position, a mask of the wrong shape).  The call must raise a clear
Python exception (TypeError, ValueError, IndexError; NumPy's AxisError is
both of the last two) and leave ``out`` exactly as it was: nothing is
written before validation ends.  Runs under the active backend (native, or
the twin with FASTACT_BACKEND=numpy).
"""

import numpy as np
import pytest

import fastact

ERRORS = (TypeError, ValueError, IndexError)
N, C = 6, 5  # batch, classes
SENTINEL = 12345.0


def _x(shape=(N, C), dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _labels():
    return np.arange(N, dtype=np.int64) % C


# name -> (function, positional arrays, keyword args, out shape (None: no out=),
#          indices of the float array arguments, takes axis)
def _cases():
    x, g = _x(), _x(seed=1)
    y = fastact.softmax(x)
    ls = fastact.log_softmax(x)
    sig = fastact.sigmoid(x)
    t01 = (np.random.default_rng(2).random((N, C)) > 0.5).astype(np.float32)
    return {
        "softmax": (fastact.softmax, [x], {}, (N, C), [0], True),
        "log_softmax": (fastact.log_softmax, [x], {}, (N, C), [0], True),
        "logsumexp": (fastact.logsumexp, [x], {}, (N,), [0], True),
        "relu": (fastact.relu, [x], {}, (N, C), [0], False),
        "leaky_relu": (fastact.leaky_relu, [x], {}, (N, C), [0], False),
        "sigmoid": (fastact.sigmoid, [x], {}, (N, C), [0], False),
        "softmax_backward": (fastact.softmax_backward, [g, y], {}, (N, C), [0, 1], True),
        "log_softmax_backward": (fastact.log_softmax_backward, [g, ls], {}, (N, C), [0, 1], True),
        "relu_backward": (fastact.relu_backward, [g, x], {}, (N, C), [0, 1], False),
        "leaky_relu_backward": (fastact.leaky_relu_backward, [g, x], {}, (N, C), [0, 1], False),
        "sigmoid_backward": (fastact.sigmoid_backward, [g, sig], {}, (N, C), [0, 1], False),
        "cross_entropy": (fastact.cross_entropy, [x, _labels()], {}, (), [0], False),
        "cross_entropy_with_grad": (fastact.cross_entropy_with_grad, [x, _labels()], {}, (N, C), [0],
                                    False),
        "binary_cross_entropy_with_logits": (fastact.binary_cross_entropy_with_logits, [x, t01], {},
                                             (), [0, 1], False),
        "binary_cross_entropy_with_logits_with_grad": (
            fastact.binary_cross_entropy_with_logits_with_grad, [x, t01], {}, (N, C), [0, 1], False),
    }


CASES = _cases()


def _bad_arrays(a):
    """Replacements for a float array argument that must be rejected."""
    return {
        "complex": a.astype(np.complex64),
        "object": a.astype(object),
        "str": a.astype(str),
        "non-array object": object(),
        "None": None,
    }


def _variants():
    """(case, description, mutate) with mutate(args, kwargs, out) -> the call's
    (args, kwargs) with one bad argument."""
    out = []
    for name, (fn, args, kw, oshape, float_pos, has_axis) in CASES.items():
        for i in float_pos:
            for kind in _bad_arrays(args[i]):
                out.append((name, f"arg{i} {kind}",
                            lambda a, k, i=i, kind=kind: (
                                a[:i] + [_bad_arrays(a[i])[kind]] + a[i + 1:], k)))
        if len(args) > 1:
            for i in range(len(args)):
                out.append((name, f"arg{i} wrong shape",
                            lambda a, k, i=i: (a[:i] + [np.concatenate([a[i], a[i][:1]])] + a[i + 1:],
                                               k)))
        if has_axis:
            for axis, what in ((2, "axis out of range"), (-3, "negative axis out of range"),
                               (1.5, "float axis"), ("0", "str axis")):
                out.append((name, what, lambda a, k, axis=axis: (a, {**k, "axis": axis})))
        if name in ("softmax", "log_softmax"):
            out.append((name, "mask wrong shape",
                        lambda a, k: (a, {**k, "where": np.ones((N + 1, C), bool)})))
            out.append((name, "mask complex",
                        lambda a, k: (a, {**k, "where": np.ones((N, C), np.complex64)})))
        if name.startswith("cross_entropy"):
            for pos, label, where in ((0, C, "first"), (N // 2, C + 7, "middle"), (N - 1, -5, "last"),
                                      (N - 1, 2 ** 40, "last, huge")):
                def bad_label(a, k, pos=pos, label=label):
                    t = a[1].copy()
                    t[pos] = label
                    return [a[0], t], k
                out.append((name, f"label {label} at the {where} position", bad_label))
            out.append((name, "weight wrong length",
                        lambda a, k: (a, {**k, "weight": np.ones(C + 1, np.float32)})))
            out.append((name, "unknown reduction", lambda a, k: (a, {**k, "reduction": "avg"})))
        if name.startswith("binary_cross_entropy"):
            out.append((name, "pos_weight wrong length",
                        lambda a, k: (a, {**k, "pos_weight": np.ones(C + 1, np.float32)})))
            out.append((name, "unknown reduction", lambda a, k: (a, {**k, "reduction": "avg"})))
    return out


VARIANTS = _variants()


def _sentinel_out(shape, dtype=np.float32):
    return np.full(shape, SENTINEL, dtype)


@pytest.mark.parametrize("name,what,mutate", VARIANTS, ids=[f"{n}: {w}" for n, w, _ in VARIANTS])
def test_bad_argument_raises_and_leaves_out_untouched(name, what, mutate):
    fn, args, kw, oshape, _, _ = CASES[name]
    out = _sentinel_out(oshape)
    a, k = mutate(list(args), dict(kw))
    with pytest.raises(ERRORS):
        fn(*a, **k, out=out)
    assert np.all(out == SENTINEL), f"{name} ({what}) wrote to out before raising"


def _bad_outs(shape):
    bad = {
        "wrong shape": np.full(shape + (2,), SENTINEL, np.float32),
        "wrong dtype": np.full(shape, SENTINEL, np.float64),
        "integer dtype": np.full(shape, 7, np.int32),
        "read-only": np.full(shape, SENTINEL, np.float32),
        "list": [SENTINEL],
        "non-array object": object(),
    }
    bad["read-only"].flags.writeable = False
    return bad


OUT_VARIANTS = [(name, kind) for name in CASES for kind in _bad_outs(())]


@pytest.mark.parametrize("name,kind", OUT_VARIANTS, ids=[f"{n}: out {k}" for n, k in OUT_VARIANTS])
def test_bad_out_raises_and_is_untouched(name, kind):
    fn, args, kw, oshape, _, _ = CASES[name]
    out = _bad_outs(oshape)[kind]
    before = np.array(out, copy=True) if isinstance(out, np.ndarray) else None
    with pytest.raises(ERRORS):
        fn(*args, **kw, out=out)
    if before is not None:
        assert np.array_equal(out, before), f"{name}: out ({kind}) changed before the error"
