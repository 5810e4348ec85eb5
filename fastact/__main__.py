"""``python -m fastact``: configuration, native-vs-NumPy self-check, timing table.

1. prints ``fastact.show_config()``;
2. self-check: every op (softmax, log_softmax, logsumexp, relu, cross_entropy
   with index and probability targets, with/without weight, label_smoothing 0
   and 0.1, every reduction; linear_cross_entropy in both of its regimes)
   in float32 and float64, on several shapes, axes
   and memory layouts, with and without ``out=``: the native implementation
   (``fastact._api``, native whatever FASTACT_BACKEND says) is compared with
   the NumPy twin ``fastact.numpy_impl``; one PASS/FAIL line per check;
3. a short native-vs-NumPy timing table (median µs per call);
4. exit status 1 on any mismatch (or if the native extension is missing), else 0.

Options: ``-q`` print only failing checks, ``--no-timing`` skip step 3.
"""

import argparse
import sys
import time
import traceback

import numpy as np

# Tolerances, |native - numpy| <= atol + rtol * |numpy| (relu: bit-identical).
# float64: the twin's own error grows like |x - max| * 2^-53 (spec), so a 1e-12
# relative bound leaves ample room for inputs of magnitude up to ~300.
TOL = {
    np.dtype(np.float32): (1e-5, 1e-6),
    np.dtype(np.float64): (1e-12, 1e-12),
}
DTYPES = (np.float32, np.float64)
IGNORE = -100


# ------------------------------------------------------------------ compare
class Result:
    def __init__(self, ok, detail):
        self.ok = ok
        self.detail = detail


def _kind(v):
    if isinstance(v, np.ndarray):
        return "ndarray"
    if isinstance(v, np.generic):
        return "scalar"
    return type(v).__name__


def compare(got, exp, bitwise=False):
    """Compare a native result with the twin's (both values, not exceptions);
    tuples (e.g. (loss, dlogits)) item by item."""
    if isinstance(got, tuple) or isinstance(exp, tuple):
        if not (isinstance(got, tuple) and isinstance(exp, tuple) and len(got) == len(exp)):
            return Result(False, f"result type: native {_kind(got)}, numpy {_kind(exp)}")
        parts = [compare(g, e, bitwise) for g, e in zip(got, exp)]
        return Result(all(r.ok for r in parts), "; ".join(r.detail for r in parts))
    if _kind(got) != _kind(exp):
        return Result(False, f"result type: native {_kind(got)}, numpy {_kind(exp)}")
    g, e = np.asarray(got), np.asarray(exp)
    if g.dtype != e.dtype:
        return Result(False, f"dtype: native {g.dtype}, numpy {e.dtype}")
    if g.shape != e.shape:
        return Result(False, f"shape: native {g.shape}, numpy {e.shape}")
    if g.size == 0:
        return Result(True, "empty")
    if bitwise:
        ui = np.dtype(f"u{g.dtype.itemsize}")
        gb = np.ascontiguousarray(g).view(ui)
        eb = np.ascontiguousarray(e).view(ui)
        nbad = int(np.count_nonzero(gb != eb))
        return Result(nbad == 0, "bit-identical" if nbad == 0 else f"{nbad} elements differ in bits")
    rtol, atol = TOL.get(g.dtype, (1e-5, 1e-6))
    gn, en = np.isnan(g), np.isnan(e)
    if not np.array_equal(gn, en):
        return Result(False, f"NaN pattern differs ({int(np.count_nonzero(gn != en))} elements)")
    gi, ei = np.isinf(g), np.isinf(e)
    if not np.array_equal(gi, ei) or not np.array_equal(g[gi], e[ei]):
        return Result(False, "inf pattern differs")
    fin = ~(gn | gi)
    gf = g[fin].astype(np.float64)
    ef = e[fin].astype(np.float64)
    if gf.size == 0:
        return Result(True, "all non-finite, pattern equal")
    err = np.abs(gf - ef)
    max_abs = float(err.max())
    # relative to |expected| floored at the result dtype's smallest normal, so
    # that an expected value that underflowed does not blow the ratio up
    floor = float(np.finfo(g.dtype).tiny)
    max_rel = float((err / np.maximum(np.abs(ef), floor)).max())
    ok = bool(np.all(err <= atol + rtol * np.abs(ef)))
    return Result(ok, f"max_abs={max_abs:.2e} max_rel={max_rel:.2e}")


def run_both(fn_nat, fn_ref, bitwise=False):
    """Call both; equal exception types count as agreement."""
    try:
        exp = fn_ref()
        exp_exc = None
    except Exception as exc:  # noqa: BLE001
        exp, exp_exc = None, exc
    try:
        got = fn_nat()
        got_exc = None
    except Exception as exc:  # noqa: BLE001
        got, got_exc = None, exc
    if exp_exc is not None or got_exc is not None:
        if exp_exc is not None and got_exc is not None and type(exp_exc) is type(got_exc):
            return Result(True, f"both raise {type(exp_exc).__name__}")
        def what(v, exc):
            return f"raised {exc!r}" if exc is not None else f"returned {_kind(v)}"
        return Result(False, f"native {what(got, got_exc)}, numpy {what(exp, exp_exc)}")
    return compare(got, exp, bitwise=bitwise)


# ------------------------------------------------------------------- inputs
def rng_for(*key):
    import zlib
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def randn(shape, dtype, scale=3.0, key=()):
    return (rng_for("x", shape, key).standard_normal(shape) * scale).astype(dtype)


def special_rows(dtype):
    """Rows exercising NaN / inf rules (spec: softmax family semantics)."""
    n = np.nan
    inf = np.inf
    rows = [
        [1.0, 2.0, 3.0, 4.0, 5.0],
        [1.0, n, 3.0, 4.0, 5.0],          # NaN -> all NaN
        [1.0, inf, 3.0, 4.0, 5.0],        # +inf -> NaN / lse +inf
        [-inf, -inf, -inf, -inf, -inf],   # all -inf
        [-inf, 0.5, -inf, 2.0, -1.0],     # some -inf with finite max
        [inf, -inf, n, 0.0, 1.0],
        [-0.0, 0.0, -0.0, 0.0, -0.0],
        [700.0, -700.0, 0.0, 1e-30, -1e-30],
    ]
    return np.array(rows, dtype=dtype)


def softmax_family_inputs(dtype):
    """(label, x, axis) triples."""
    d = np.dtype(dtype)
    base = randn((64, 1000), d, key="sm")
    t3 = randn((3, 4, 5), d, key="t3")
    out = [
        ("1x10 axis=-1", randn((1, 10), d, key="a"), -1),
        ("64x1000 axis=-1", base, -1),
        ("64x1000 axis=0", base, 0),
        ("256x3000 axis=-1", randn((256, 3000), d, key="big"), -1),
        ("3x4x5 axis=1", t3, 1),
        ("3x4x5 axis=(0,2)", t3, (0, 2)),
        ("3x4x5 axis=None", t3, None),
        ("3x4x5 axis=()", t3, ()),
        ("17 1-D axis=-1", randn((17,), d, key="1d"), -1),
        ("F-order 33x65 axis=-1", np.asfortranarray(randn((33, 65), d, key="f")), -1),
        ("strided [::2, ::3] axis=-1", base[::2, ::3], -1),
        ("scale=100 32x500 axis=-1", randn((32, 500), d, scale=100.0, key="s100"), -1),
        ("special rows axis=-1", special_rows(d), -1),
        ("special rows axis=0", special_rows(d), 0),
        ("empty groups 4x0 axis=-1", np.zeros((4, 0), d), -1),
        ("0-d axis=None", np.asarray(d.type(1.5)), None),
    ]
    return out


# ------------------------------------------------------------------- checks
class Checker:
    def __init__(self, quiet=False):
        self.quiet = quiet
        self.n = 0
        self.failed = []

    def record(self, name, res):
        self.n += 1
        if not res.ok:
            self.failed.append(name)
        if not self.quiet or not res.ok:
            print(f"{'PASS' if res.ok else 'FAIL'}  {name:<72} {res.detail}")

    def check(self, name, fn_nat, fn_ref, bitwise=False):
        try:
            res = run_both(fn_nat, fn_ref, bitwise=bitwise)
        except Exception:  # a bug in this script or in a comparison
            res = Result(False, "check crashed:\n" + traceback.format_exc())
        self.record(name, res)


def check_softmax_family(ck, nat, ref):
    for op in ("softmax", "log_softmax", "logsumexp"):
        fn_n, fn_r = getattr(nat, op), getattr(ref, op)
        for dtype in DTYPES:
            dn = np.dtype(dtype).name
            for label, x, axis in softmax_family_inputs(dtype):
                ck.check(f"{op} {dn} {label}",
                         lambda: fn_n(x, axis), lambda: fn_r(x, axis=axis))
            # out= (preallocated, C and non-contiguous), in-place, keepdims
            x = randn((64, 1000), dtype, key="sm")
            if op == "logsumexp":
                for keep in (False, True):
                    shp = (64, 1) if keep else (64,)
                    on, orf = np.empty(shp, dtype), np.empty(shp, dtype)
                    ck.check(f"{op} {dn} 64x1000 out= keepdims={keep}",
                             lambda: _ret_is_out(fn_n(x, axis=-1, keepdims=keep, out=on), on),
                             lambda: _ret_is_out(fn_r(x, axis=-1, keepdims=keep, out=orf), orf))
                ck.check(f"{op} {dn} 3x4x5 axis=(0,2) keepdims=True",
                         lambda: fn_n(randn((3, 4, 5), dtype, key="t3"), axis=(0, 2), keepdims=True),
                         lambda: fn_r(randn((3, 4, 5), dtype, key="t3"), axis=(0, 2), keepdims=True))
                on = np.empty((2, 64), dtype)[0]
                orf = np.empty((2, 64), dtype)[0]
                ck.check(f"{op} {dn} 64x1000 out=strided-view",
                         lambda: _ret_is_out(fn_n(x, out=on), on),
                         lambda: _ret_is_out(fn_r(x, out=orf), orf))
            else:
                on, orf = np.empty_like(x), np.empty_like(x)
                ck.check(f"{op} {dn} 64x1000 out=",
                         lambda: _ret_is_out(fn_n(x, out=on), on),
                         lambda: _ret_is_out(fn_r(x, out=orf), orf))
                on = np.empty((1000, 64), dtype).T  # F-ordered out
                orf = np.empty((1000, 64), dtype).T
                ck.check(f"{op} {dn} 64x1000 axis=0 out=F-order",
                         lambda: _ret_is_out(fn_n(x, axis=0, out=on), on),
                         lambda: _ret_is_out(fn_r(x, axis=0, out=orf), orf))
                xn, xr = x.copy(), x.copy()
                ck.check(f"{op} {dn} 64x1000 in-place out=x",
                         lambda: _ret_is_out(fn_n(xn, out=xn), xn),
                         lambda: _ret_is_out(fn_r(xr, out=xr), xr))


def check_backward(ck, nat, ref):
    """softmax_backward / log_softmax_backward against the twin: rows,
    columns, axis tuples and None, out= (new, grad itself), the forward
    ops' special rows as y."""
    for op, fwd in (("softmax_backward", "softmax"), ("log_softmax_backward", "log_softmax")):
        fn_n, fn_r = getattr(nat, op), getattr(ref, op)
        for dtype in DTYPES:
            dn = np.dtype(dtype).name
            for label, shape, axis in (("64x1000", (64, 1000), -1), ("8x21x16x16 axis=1", (8, 21, 16, 16), 1),
                                       ("4x5x6 axis=(0,2)", (4, 5, 6), (0, 2)), ("7x9 axis=None", (7, 9), None)):
                g = randn(shape, dtype, key=("bwg", label))
                y = getattr(ref, fwd)(randn(shape, dtype, key=("bwx", label)), axis=axis)
                ck.check(f"{op} {dn} {label}", lambda: fn_n(g, y, axis), lambda: fn_r(g, y, axis=axis))
            g = randn((64, 1000), dtype, key="bwo")
            y = getattr(ref, fwd)(randn((64, 1000), dtype, key="bwy"))
            gn, gr = g.copy(), g.copy()
            ck.check(f"{op} {dn} 64x1000 in-place out=grad",
                     lambda: _ret_is_out(fn_n(gn, y, out=gn), gn),
                     lambda: _ret_is_out(fn_r(gr, y, out=gr), gr))


def check_training_maps(ck, nat, ref):
    """leaky_relu, sigmoid and the backward maps against the twin (the
    selects and products bit for bit, sigmoid within the tolerance), on
    specials, a large array (threads) and in place."""
    for dtype in DTYPES:
        d = np.dtype(dtype)
        dn = d.name
        specials = np.array([-0.0, 0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 1e4, -1e4, 40.0,
                             -40.0, 745.0, -745.0, np.finfo(d).tiny], dtype=d)
        big = randn((2 ** 18 + 3,), d, key="tm")
        g = randn((2 ** 18 + 3,), d, key="tmg")
        for label, x in (("specials", specials), ("2**18+3", big)):
            ck.check(f"leaky_relu {dn} {label}", lambda: nat.leaky_relu(x, 0.1),
                     lambda: ref.leaky_relu(x, 0.1), bitwise=True)
            ck.check(f"sigmoid {dn} {label}", lambda: nat.sigmoid(x), lambda: ref.sigmoid(x))
        gs = np.ones_like(specials)
        for op, args in (("relu_backward", ()), ("leaky_relu_backward", (0.1,))):
            fn_n, fn_r = getattr(nat, op), getattr(ref, op)
            ck.check(f"{op} {dn} specials", lambda: fn_n(gs, specials, *args),
                     lambda: fn_r(gs, specials, *args), bitwise=True)
            ck.check(f"{op} {dn} 2**18+3", lambda: fn_n(g, big, *args),
                     lambda: fn_r(g, big, *args), bitwise=True)
        y = ref.sigmoid(big)
        ck.check(f"sigmoid_backward {dn} 2**18+3", lambda: nat.sigmoid_backward(g, y),
                 lambda: ref.sigmoid_backward(g, y))
        gn, gr = g.copy(), g.copy()
        ck.check(f"relu_backward {dn} in-place out=grad",
                 lambda: _ret_is_out(nat.relu_backward(gn, big, out=gn), gn),
                 lambda: _ret_is_out(ref.relu_backward(gr, big, out=gr), gr), bitwise=True)


def check_ce_grad(ck, nat, ref):
    """cross_entropy_with_grad against the twin: index and probability
    targets, weights, ignored samples, smoothing, class axis 1, in place."""
    for dtype in DTYPES:
        dn = np.dtype(dtype).name
        for label, shape, axis in (("64x1000", (64, 1000), -1), ("8x21x33 axis=1", (8, 21, 33), 1)):
            logits, idx, p, w = _ce_inputs(shape, axis, dtype, ("grad", label))
            for red in ("mean", "sum", "none"):
                for kw in ({}, {"weight": w, "label_smoothing": 0.1}):
                    tag = " weight+smoothing" if kw else ""
                    ck.check(f"cross_entropy_with_grad {dn} {label} {red}{tag}",
                             lambda: nat.cross_entropy_with_grad(logits, idx, axis=axis, reduction=red, **kw),
                             lambda: ref.cross_entropy_with_grad(logits, idx, axis=axis, reduction=red, **kw))
            ck.check(f"cross_entropy_with_grad {dn} {label} probabilities",
                     lambda: nat.cross_entropy_with_grad(logits, p, axis=axis),
                     lambda: ref.cross_entropy_with_grad(logits, p, axis=axis))
            xn, xr = logits.copy(), logits.copy()
            ck.check(f"cross_entropy_with_grad {dn} {label} in-place out=logits",
                     lambda: _ret_is_out(nat.cross_entropy_with_grad(xn, idx, axis=axis, out=xn)[1], xn),
                     lambda: _ret_is_out(ref.cross_entropy_with_grad(xr, idx, axis=axis, out=xr)[1], xr))


def check_linear_ce(ck, nat, ref):
    """linear_cross_entropy against the twin (the same blocks and GEMMs, each
    path's loss kernels): row blocks and vocabulary tiles, with and without
    the gradients, every reduction, bias + weight + smoothing, W as (V, d)."""
    for dtype in DTYPES:
        dn = np.dtype(dtype).name
        N, d, V = 96, 24, 1000
        h = randn((N, d), dtype, scale=1.0, key=("lce", dn, "h"))
        W = randn((d, V), dtype, scale=0.5, key=("lce", dn, "W"))
        b = randn((V,), dtype, scale=0.5, key=("lce", dn, "b"))
        t = rng_for("lce", dn).integers(0, V, N)
        t[::7] = IGNORE
        w = (rng_for("lce", dn, "w").random(V) + 0.5).astype(dtype)
        for regime, chunk in (("row blocks", None), ("vocabulary tiles", 4000)):
            for red in ("mean", "sum", "none"):
                for grad in (False, True):
                    kw = dict(reduction=red, chunk=chunk, return_grad=grad)
                    tag = " with grads" if grad else ""
                    ck.check(f"linear_cross_entropy {dn} {regime} {red}{tag}",
                             lambda: nat.linear_cross_entropy(h, W, t, **kw),
                             lambda: ref.linear_cross_entropy(h, W, t, **kw))
            kw = dict(bias=b, weight=w, label_smoothing=0.1, chunk=chunk, return_grad=True,
                      transpose_W=True)
            Wt = np.ascontiguousarray(W.T)
            ck.check(f"linear_cross_entropy {dn} {regime} bias+weight+smoothing, W (V, d)",
                     lambda: nat.linear_cross_entropy(h, Wt, t, **kw),
                     lambda: ref.linear_cross_entropy(h, Wt, t, **kw))


def check_bce(ck, nat, ref):
    """binary_cross_entropy_with_logits (+ _with_grad) against the twin:
    every reduction, weights of the common shapes, pos_weight, in place."""
    for dtype in DTYPES:
        dn = np.dtype(dtype).name
        for label, shape in (("64x1000", (64, 1000)), ("2**18+3", (2 ** 18 + 3,))):
            x = randn(shape, dtype, key=("bce", label))
            rng = np.random.default_rng(7)
            y = rng.random(shape).astype(dtype)
            C = shape[-1]
            opts = [("", {}), (" weight(C,)+pos_weight(C,)",
                               {"weight": rng.random(C) + 0.5, "pos_weight": rng.random(C) * 3})]
            if len(shape) == 2:
                opts.append((" weight(N,1)", {"weight": rng.random((shape[0], 1)) + 0.5}))
            for red in ("mean", "sum", "none"):
                for tag, kw in opts:
                    ck.check(f"binary_cross_entropy_with_logits {dn} {label} {red}{tag}",
                             lambda: nat.binary_cross_entropy_with_logits(x, y, reduction=red, **kw),
                             lambda: ref.binary_cross_entropy_with_logits(x, y, reduction=red, **kw))
                    ck.check(f"binary_cross_entropy_with_logits_with_grad {dn} {label} {red}{tag}",
                             lambda: nat.binary_cross_entropy_with_logits_with_grad(
                                 x, y, reduction=red, **kw),
                             lambda: ref.binary_cross_entropy_with_logits_with_grad(
                                 x, y, reduction=red, **kw))
            xn, xr = x.copy(), x.copy()
            ck.check(f"binary_cross_entropy_with_logits_with_grad {dn} {label} in-place out=logits",
                     lambda: _ret_is_out(nat.binary_cross_entropy_with_logits_with_grad(
                         xn, y, out=xn)[1], xn),
                     lambda: _ret_is_out(ref.binary_cross_entropy_with_logits_with_grad(
                         xr, y, out=xr)[1], xr))


def _ret_is_out(ret, out):
    if ret is not out:
        raise AssertionError("return value is not `out`")
    return ret


def check_relu(ck, nat, ref):
    for dtype in DTYPES:
        d = np.dtype(dtype)
        dn = d.name
        specials = np.array([-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, 1.0, -1.0,
                             np.finfo(d).tiny, -np.finfo(d).tiny,
                             np.finfo(d).smallest_subnormal, -np.finfo(d).smallest_subnormal,
                             np.finfo(d).max, -np.finfo(d).max], dtype=d)
        # NaN payloads / signs must be preserved: build a few explicit NaN bit patterns
        ui = np.dtype(f"u{d.itemsize}")
        nan_bits = specials[2:3].view(ui)
        payload = np.array([nan_bits[0] | ui.type(1), nan_bits[0] | ui.type(1 << (8 * d.itemsize - 1))], ui).view(d)
        cases = [
            ("10", randn((10,), d, key="r10")),
            ("64x1000", randn((64, 1000), d, key="r64")),
            ("2**20", randn((2 ** 20,), d, key="r20")),
            ("3x4x5 [:, ::2] strided", randn((3, 4, 5), d, key="r3")[:, ::2]),
            ("F-order 31x17", np.asfortranarray(randn((31, 17), d, key="rf"))),
            ("specials (±0, NaN payloads, ±inf, subnormals)", np.concatenate([specials, payload])),
            ("0-d", np.asarray(d.type(-2.5))),
            ("empty 0x3", np.zeros((0, 3), d)),
        ]
        for label, x in cases:
            ck.check(f"relu {dn} {label}", lambda: nat.relu(x), lambda: ref.relu(x), bitwise=True)
        x = randn((64, 1000), d, key="r64")
        on, orf = np.empty_like(x), np.empty_like(x)
        ck.check(f"relu {dn} 64x1000 out=",
                 lambda: _ret_is_out(nat.relu(x, out=on), on),
                 lambda: _ret_is_out(ref.relu(x, out=orf), orf), bitwise=True)
        xn, xr = x.copy(), x.copy()
        ck.check(f"relu {dn} 64x1000 in-place out=x",
                 lambda: _ret_is_out(nat.relu(xn, out=xn), xn),
                 lambda: _ret_is_out(ref.relu(xr, out=xr), xr), bitwise=True)


def _ce_inputs(shape, axis, dtype, key):
    d = np.dtype(dtype)
    logits = randn(shape, d, key=("ce", key))
    C = shape[axis]
    S = tuple(n for i, n in enumerate(shape) if i != (axis % len(shape)))
    rng = rng_for("t", shape, key)
    idx = rng.integers(0, C, size=S, dtype=np.int64)
    if idx.size > 1:
        idx.flat[:: max(2, idx.size // 5)] = IGNORE  # some ignored samples
    p = np.exp(rng.standard_normal(shape) * 2.0)
    p = (p / p.sum(axis=axis, keepdims=True)).astype(d)
    w = rng.uniform(0.5, 2.0, size=C)
    return logits, idx, p, w


def check_cross_entropy(ck, nat, ref):
    configs = [((1, 10), -1), ((64, 1000), -1), ((8, 5, 6), 1)]
    for dtype in DTYPES:
        dn = np.dtype(dtype).name
        for shape, axis in configs:
            logits, idx, p, w = _ce_inputs(shape, axis, dtype, key=shape)
            sid = "x".join(map(str, shape)) + f" axis={axis}"
            for tname, tgt in (("index", idx), ("prob", p)):
                for wname, weight in (("w=None", None), ("w=rand", w)):
                    for ls in (0.0, 0.1):
                        for red in ("none", "sum", "mean"):
                            kw = dict(axis=axis, weight=weight, reduction=red, label_smoothing=ls)
                            ck.check(f"cross_entropy {dn} {sid} {tname} {wname} ls={ls} {red}",
                                     lambda: nat.cross_entropy(logits, tgt, **kw),
                                     lambda: ref.cross_entropy(logits, tgt, **kw))
        # edge cases
        logits, idx, p, w = _ce_inputs((16, 7), -1, dtype, key="edge")
        allign = np.full(16, IGNORE, np.int64)
        ck.check(f"cross_entropy {dn} 16x7 all ignored mean (NaN)",
                 lambda: nat.cross_entropy(logits, allign), lambda: ref.cross_entropy(logits, allign))
        idx_pos = np.abs(idx) % 7
        ck.check(f"cross_entropy {dn} 16x7 uint8 targets ignore_index=3",
                 lambda: nat.cross_entropy(logits, idx_pos.astype(np.uint8), ignore_index=3),
                 lambda: ref.cross_entropy(logits, idx_pos.astype(np.uint8), ignore_index=3))
        lg = logits.copy()
        lg[0, idx_pos[0]] = -np.inf
        lg[1, 2] = np.nan
        ck.check(f"cross_entropy {dn} 16x7 -inf at target / NaN logit, none",
                 lambda: nat.cross_entropy(lg, idx_pos, reduction="none"),
                 lambda: ref.cross_entropy(lg, idx_pos, reduction="none"))
        lgF = np.asfortranarray(logits)
        ck.check(f"cross_entropy {dn} 16x7 F-order logits, w, ls=0.1, mean",
                 lambda: nat.cross_entropy(lgF, idx_pos, weight=w, label_smoothing=0.1),
                 lambda: ref.cross_entropy(lgF, idx_pos, weight=w, label_smoothing=0.1))
        for red in ("none", "sum", "mean"):
            e = np.zeros((0, 5), dtype)
            ck.check(f"cross_entropy {dn} empty batch 0x5 {red}",
                     lambda: nat.cross_entropy(e, np.zeros(0, np.int64), reduction=red),
                     lambda: ref.cross_entropy(e, np.zeros(0, np.int64), reduction=red))
        bad = idx_pos.copy()
        bad[5] = 7
        ck.check(f"cross_entropy {dn} out-of-range label -> same exception",
                 lambda: nat.cross_entropy(logits, bad), lambda: ref.cross_entropy(logits, bad))


def check_errors(ck, nat, ref):
    """A few error paths: both implementations must raise the same exception type."""
    x = randn((4, 5), np.float32, key="err")
    cases = [
        ("softmax out= wrong dtype", lambda m: m.softmax(x, out=np.empty((4, 5), np.float64))),
        ("softmax out= wrong shape", lambda m: m.softmax(x, out=np.empty((5, 4), np.float32))),
        ("log_softmax axis out of range", lambda m: m.log_softmax(x, axis=2)),
        ("logsumexp repeated axis", lambda m: m.logsumexp(x, axis=(0, 0))),
        ("relu complex input", lambda m: m.relu(x.astype(np.complex64))),
        ("cross_entropy bad reduction", lambda m: m.cross_entropy(x, np.zeros(4, np.int64), reduction="avg")),
    ]
    for label, f in cases:
        ck.check(f"errors {label}", lambda: f(nat), lambda: f(ref))


# ------------------------------------------------------------------- timing
def _median_time(fn, repeat=7, min_run=2e-3, max_total=0.6):
    fn()
    t0 = time.perf_counter()
    fn()
    t1 = max(time.perf_counter() - t0, 1e-9)
    number = max(1, int(min_run / t1))
    repeat = max(3, min(repeat, int(max_total / (t1 * number))))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    times.sort()
    return times[len(times) // 2]


def timing_table(nat, ref):
    # Free one ~30 MiB block first: glibc then raises its mmap threshold and
    # recycles the twin's temporaries as a long-running process would,
    # instead of paying page faults on every call (see bench/summary.py).
    block = np.empty(30 * 2 ** 20, np.uint8)
    block[::4096] = 0
    del block
    f32 = np.float32
    cases = []
    for shape in ((1, 10), (64, 1000), (256, 32000)):
        x = randn(shape, f32, key="time")
        cases.append((f"softmax f32 {shape[0]}x{shape[1]} out=", x, "softmax"))
    x = randn((2 ** 20,), f32, key="time")
    cases.append(("relu f32 2**20 out=", x, "relu"))
    lg = randn((256, 32000), f32, key="time")
    tg = rng_for("time-t").integers(0, 32000, size=256, dtype=np.int64)
    print(f"{'case':<28} {'native µs':>11} {'numpy µs':>11} {'speed-up':>9}")
    for label, x, op in cases:
        out_n, out_r = np.empty_like(x), np.empty_like(x)
        tn = _median_time(lambda: getattr(nat, op)(x, out=out_n))
        tr = _median_time(lambda: getattr(ref, op)(x, out=out_r))
        print(f"{label:<28} {tn * 1e6:>11.1f} {tr * 1e6:>11.1f} {tr / tn:>8.2f}x")
    tn = _median_time(lambda: nat.cross_entropy(lg, tg))
    tr = _median_time(lambda: ref.cross_entropy(lg, tg))
    print(f"{'cross_entropy f32 256x32000':<28} {tn * 1e6:>11.1f} {tr * 1e6:>11.1f} {tr / tn:>8.2f}x")


# --------------------------------------------------------------------- main
def check_masked(ck, nat, ref):
    """softmax / log_softmax with where= against the twin: a causal mask of
    attention scores (last axis and axis -2), a padding mask, a random mask
    over an axis tuple, and in place (out=x)."""
    for op in ("softmax", "log_softmax"):
        fn_n, fn_r = getattr(nat, op), getattr(ref, op)
        for dtype in DTYPES:
            dn = np.dtype(dtype).name
            x = randn((2, 3, 40, 40), dtype, key=("mask", op))
            causal = np.tril(np.ones((40, 40), bool))
            pad = (np.arange(40) < np.array([40, 13])[:, None])[:, None, None, :]
            rnd = rng_for("maskr", op).random((3, 40, 40)) < 0.5
            for label, m, axis in (("causal", causal, -1), ("causal axis=-2", causal, -2),
                                   ("padding", pad, -1), ("random axis=(1,3)", rnd, (1, 3))):
                ck.check(f"{op} {dn} 2x3x40x40 where={label}",
                         lambda: fn_n(x, axis, where=m), lambda: fn_r(x, axis, where=m))
            xn, xr = x.copy(), x.copy()
            ck.check(f"{op} {dn} where=causal in-place out=x",
                     lambda: _ret_is_out(fn_n(xn, where=causal, out=xn), xn),
                     lambda: _ret_is_out(fn_r(xr, where=causal, out=xr), xr))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fastact", description="fastact self-check")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only failing checks")
    ap.add_argument("--no-timing", action="store_true", help="skip the timing table")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    try:
        import fastact
    except Exception:
        print("FAIL  fastact could not be imported:")
        traceback.print_exc(file=sys.stdout)
        return 1

    ck = Checker(quiet=args.quiet)
    print("== fastact configuration")
    try:
        fastact.show_config()
    except Exception:
        ck.record("show_config()", Result(False, "raised:\n" + traceback.format_exc()))

    try:
        import fastact._native  # noqa: F401  (the compiled extension)
        from fastact import _api as nat
    except Exception as exc:
        print(f"FAIL  native extension fastact._native is not available: {type(exc).__name__}: {exc}")
        print("      (build it with `python setup.py build_ext --inplace` or `pip install .`)")
        return 1
    ref = fastact.numpy_impl

    print("\n== self-check: native (fastact._api) vs NumPy twin (fastact.numpy_impl)")
    print("   tolerance: float32 rtol=1e-5 atol=1e-6, float64 rtol=1e-12 atol=1e-12, relu bit-identical")
    check_softmax_family(ck, nat, ref)
    check_relu(ck, nat, ref)
    check_cross_entropy(ck, nat, ref)
    check_backward(ck, nat, ref)
    check_training_maps(ck, nat, ref)
    check_ce_grad(ck, nat, ref)
    check_bce(ck, nat, ref)
    check_linear_ce(ck, nat, ref)
    check_masked(ck, nat, ref)
    check_errors(ck, nat, ref)
    print(f"\n{ck.n - len(ck.failed)} passed, {len(ck.failed)} failed")

    if not args.no_timing:
        print("\n== timing: median per call (native = fastact._api, numpy = fastact.numpy_impl)")
        try:
            timing_table(nat, ref)
        except Exception:
            print("FAIL  timing table crashed:")
            traceback.print_exc(file=sys.stdout)
            ck.failed.append("timing")

    print(f"\n{'OK' if not ck.failed else 'MISMATCH'}: {len(ck.failed)} failure(s) "
          f"in {time.perf_counter() - t_start:.1f} s")
    for name in ck.failed:
        print(f"  failed: {name}")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
