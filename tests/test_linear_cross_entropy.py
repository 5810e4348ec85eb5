"""linear_cross_entropy in both regimes (row blocks, vocabulary tiles): the
loss and gradients of cross_entropy(h @ W + bias) for every option, both
dtypes, both layouts of W and odd sizes with blocks that do not divide N or
V, against the materialised logits, a longdouble reference, PyTorch's
autograd (when installed) and finite differences; non-finite logits; its
errors; its memory, bounded by the chunk (tracemalloc)."""

import itertools
import tracemalloc

import numpy as np
import pytest

from _ref import nonfinite_pattern_equal, ref_cross_entropy, ulp_error

N, D, V = 13, 7, 37
IGNORE = -100
# Blocks (rows, classes) forced on _linear_ce._plan: row blocks of 3 rows
# (13 = 4 * 3 + 1) and of all 13; vocabulary tiles of 1 x 3, 7 x 7 (13 = 7 +
# 6 rows, 37 = 5 * 7 + 2 classes) and 13 x 10; and what the default chunk
# plans (None).  _plan itself: test_plan.
PLANS = [(3, V), (13, V), (1, 3), (7, 7), (13, 10), None]


@pytest.fixture
def plan(request, monkeypatch):
    from fastact import _linear_ce
    if request.param is not None:
        monkeypatch.setattr(_linear_ce, "_plan", lambda *args: request.param)
    return request.param


def _problem(dtype, seed=0, n=N, d=D, v=V):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d)).astype(dtype)
    W = (rng.standard_normal((d, v)) / np.sqrt(d)).astype(dtype)
    b = rng.standard_normal(v).astype(dtype)
    t = rng.integers(0, v, n)
    t[1] = IGNORE
    if n > 5:
        t[5] = IGNORE
    w = (rng.random(v) + 0.25).astype(dtype)
    return h, W, b, t, w


def _tol(dtype):
    return (2e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-14)


def _close(a, b, dtype, what):
    rtol, atol = _tol(dtype)
    scale = max(1.0, float(np.max(np.abs(b)))) if np.size(b) else 1.0
    assert np.asarray(a).dtype == dtype, f"{what}: dtype {np.asarray(a).dtype}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (True, 0.2), (False, 0.1)])
@pytest.mark.parametrize("plan", PLANS, indirect=True)
def test_matches_the_materialised_logits(module, dtype, reduction, weighted, smoothing, plan):
    h, W, b, t, w = _problem(dtype)
    opts = dict(weight=w if weighted else None, ignore_index=IGNORE, reduction=reduction,
                label_smoothing=smoothing)
    for with_bias, transpose in itertools.product((False, True), (False, True)):
        bias = b if with_bias else None
        Z = h @ W + (b if with_bias else 0)
        l_ref, dZ = module.cross_entropy_with_grad(Z, t, **opts)
        Wg = W.T.copy() if transpose else W
        what = f"{reduction} bias={with_bias} transpose_W={transpose} plan={plan}"
        loss = module.linear_cross_entropy(h, Wg, t, bias=bias, transpose_W=transpose,
                                           **opts)
        _close(loss, l_ref, dtype, what + ": loss")
        res = module.linear_cross_entropy(h, Wg, t, bias=bias, transpose_W=transpose,
                                          return_grad=True, **opts)
        assert len(res) == (4 if with_bias else 3)
        _close(res[0], l_ref, dtype, what + ": loss with grads")
        _close(res[1], dZ @ W.T, dtype, what + ": dh")
        _close(res[2], (h.T @ dZ).T if transpose else h.T @ dZ, dtype, what + ": dW")
        if with_bias:
            _close(res[3], dZ.sum(axis=0), dtype, what + ": dbias")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reduced_loss_within_a_few_ulp(module, dtype, reduction):
    # the per-sample losses summed exactly and rounded once: within a few
    # ULP of cross_entropy of the same logits
    h, W, b, t, w = _problem(dtype, seed=3, n=200, d=16, v=300)
    ref = module.cross_entropy(h @ W + b, t, weight=w, reduction=reduction)
    got = module.linear_cross_entropy(h, W, t, bias=b, weight=w, reduction=reduction, chunk=7 * 300)
    assert abs(float(got) - float(ref)) <= 4 * np.spacing(np.abs(ref))


def test_plan():
    from fastact._linear_ce import MIN_GRAD_ROWS, _plan
    # tiles of about sqrt(chunk) (all N rows when fewer) ...
    assert _plan(2048, 64000, 1 << 23, False) == (2048, 4096)
    assert _plan(2048, 64000, 1 << 23, True) == (2048, 4096)
    assert _plan(100, 1000, 999, False) == (31, 32)
    assert _plan(5, 10**6, 1 << 20, True) == (5, 209715)
    assert _plan(3, 7, 1, True) == (1, 1)
    # ... but row blocks, as many rows as fit, where such tiles would hold
    # whole rows anyway (here 2896 x 1000) ...
    assert _plan(10**5, 1000, 1 << 23, False) == (8388, 1000)
    assert _plan(100, 64000, 1 << 23, False) == (100, 64000)
    # ... and with the gradients where min(N, MIN_GRAD_ROWS) rows fit
    assert _plan(2048, 64000, MIN_GRAD_ROWS * 64000, True) == (MIN_GRAD_ROWS, 64000)
    assert _plan(2048, 64000, MIN_GRAD_ROWS * 64000 - 1, True)[1] < 64000
    assert _plan(100, 10**5, 100 * 10**5, True) == (100, 10**5)
    assert _plan(100, 10**5, 100 * 10**5 - 1, True)[1] < 10**5


@pytest.mark.parametrize("chunk", [1, 50, 3 * V + 5, 13 * V, 1 << 23])
def test_chunk_gives_the_same_result(module, chunk):
    # whatever the chunk plans, the result of the materialised logits
    h, W, b, t, w = _problem(np.float64)
    opts = dict(weight=w, ignore_index=IGNORE, label_smoothing=0.1)
    l_ref, dZ = module.cross_entropy_with_grad(h @ W + b, t, **opts)
    res = module.linear_cross_entropy(h, W, t, bias=b, chunk=chunk, return_grad=True, **opts)
    for got, want, what in zip(res, (l_ref, dZ @ W.T, h.T @ dZ, dZ.sum(axis=0)),
                               ("loss", "dh", "dW", "dbias")):
        _close(got, want, np.float64, f"chunk={chunk}: {what}")


def _exact_logits(dtype, n, v, seed):
    """(h, W, Z): d = 1 and h = 1, so that every product's logits are Z = W
    exactly, whatever BLAS does: the loss can be held to a longdouble
    reference of the logits themselves."""
    rng = np.random.default_rng(seed)
    Z = (rng.standard_normal((1, v)) * 4).astype(dtype)
    return np.ones((n, 1), dtype), Z, np.broadcast_to(Z, (n, v))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("chunk", [1, 5, 64, None])
def test_loss_within_the_ulp_bound(module, dtype, smoothing, chunk):
    # per-sample losses against longdouble, with targets at the largest
    # logits (losses down to ~1e-7 of the logsumexp: the merged s - 1 must
    # keep its relative accuracy) and at the smallest, over tiles of 1 class
    # (chunk 1: 301 merges per row) and more
    n, v = 6, 301
    h, W, Z = _exact_logits(dtype, n, v, seed=11)
    W[0, 7] = 40.0  # one dominant class: loss ~ e^-30 against lse ~ 40
    Z = np.broadcast_to(W, (n, v))
    t = np.array([7, int(np.argmin(W)), 0, 7, 100, -100])
    w = np.linspace(0.5, 2.0, v)
    got = module.linear_cross_entropy(h, W, t, weight=w, reduction="none", chunk=chunk,
                                      label_smoothing=smoothing)
    ref = ref_cross_entropy(Z, t, weight=w, reduction="none", label_smoothing=smoothing)
    assert ulp_error(got, ref, dtype) <= 2.0, (got, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("chunk", [1, 4, None])
def test_nonfinite_logits(module, dtype, chunk):
    # -inf logits (a target there: inf; elsewhere: ignored by the softmax),
    # a +inf or NaN logit (the row's loss and gradient NaN), as
    # cross_entropy(_with_grad) of the materialised logits; ignored rows'
    # gradients stay 0
    n, v = 5, 9
    h, W, _ = _exact_logits(dtype, n, v, seed=2)
    t = np.array([0, 3, 8, -100, 4])
    for special in (-np.inf, np.inf, np.nan):
        b = np.zeros(v, dtype)
        b[[0, 6]] = -np.inf
        if special != -np.inf:
            b[5] = special
        Z = h @ W + b
        for smoothing in (0.0, 0.2):
            opts = dict(bias=b, reduction="none", label_smoothing=smoothing, chunk=chunk)
            l_ref, dZ = module.cross_entropy_with_grad(Z, t, reduction="none",
                                                        label_smoothing=smoothing)
            loss, dh, dW, db = module.linear_cross_entropy(h, W, t, return_grad=True, **opts)
            assert nonfinite_pattern_equal(loss, l_ref), (special, loss, l_ref)
            fin = np.isfinite(l_ref)
            np.testing.assert_allclose(loss[fin], l_ref[fin], rtol=1e-6)
            assert nonfinite_pattern_equal(db, dZ.sum(axis=0)), (special, db)
            assert not dh[3].any()


def test_vocabulary_tiles_match_rows_at_scale(module):
    # many tiles per row and rows per tile, float32, against the row blocks
    h, W, b, t, w = _problem(np.float32, seed=9, n=300, d=24, v=2000)
    opts = dict(bias=b, weight=w, label_smoothing=0.05, return_grad=True)
    rows = module.linear_cross_entropy(h, W, t, chunk=300 * 2000, **opts)
    tiles = module.linear_cross_entropy(h, W, t, chunk=4096, **opts)  # 64 x 64 tiles
    for a, r, what in zip(tiles, rows, ("loss", "dh", "dW", "dbias")):
        _close(a, r, np.float32, what)


def test_grad_loss_per_sample(module):
    h, W, b, t, w = _problem(np.float64)
    g = np.linspace(-2.0, 3.0, N)
    _, dZ = module.cross_entropy_with_grad(h @ W, t, reduction="none", grad_loss=g)
    loss, dh, dW = module.linear_cross_entropy(h, W, t, reduction="none", return_grad=True,
                                               grad_loss=g, chunk=2 * V)
    _close(dh, dZ @ W.T, np.float64, "dh")
    _close(dW, h.T @ dZ, np.float64, "dW")
    _, dZ = module.cross_entropy_with_grad(h @ W, t, reduction="sum", grad_loss=0.5)
    _, dh, _ = module.linear_cross_entropy(h, W, t, reduction="sum", return_grad=True,
                                           grad_loss=0.5, chunk=2 * V)
    _close(dh, dZ @ W.T, np.float64, "dh, sum with grad_loss 0.5")


def test_finite_differences(module):
    h, W, b, t, w = _problem(np.float64, seed=5, n=5, d=3, v=6)
    t[1] = 2  # no ignored sample among so few
    opts = dict(bias=b, weight=w, label_smoothing=0.1, chunk=2 * 6)
    _, dh, dW, db = module.linear_cross_entropy(h, W, t, return_grad=True, **opts)
    eps = 1e-6
    for arr, grad, name in ((h, dh, "h"), (W, dW, "W"), (b, db, "bias")):
        num = np.empty_like(arr)
        for i in np.ndindex(arr.shape):
            keep = arr[i]
            arr[i] = keep + eps
            up = module.linear_cross_entropy(h, W, t, **opts)
            arr[i] = keep - eps
            down = module.linear_cross_entropy(h, W, t, **opts)
            arr[i] = keep
            num[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_torch_autograd(module, reduction):
    torch = pytest.importorskip("torch")
    h, W, b, t, w = _problem(np.float64, seed=7)
    ht, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (h, W.T.copy(), b))
    loss_t = torch.nn.functional.cross_entropy(
        torch.nn.functional.linear(ht, Wt, bt), torch.tensor(t), weight=torch.tensor(w),
        ignore_index=IGNORE, reduction=reduction, label_smoothing=0.15)
    loss_t.sum().backward()
    loss, dh, dW, db = module.linear_cross_entropy(
        h, W.T.copy(), t, bias=b, transpose_W=True, weight=w, ignore_index=IGNORE,
        reduction=reduction, label_smoothing=0.15, return_grad=True, chunk=4 * V)
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dh, ht.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dW, Wt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_all_ignored_and_empty(module):
    h, W, b, t, w = _problem(np.float32)
    t[:] = IGNORE
    loss, dh, dW = module.linear_cross_entropy(h, W, t, return_grad=True, chunk=2 * V)
    assert np.isnan(loss) and not dh.any() and not dW.any()
    assert module.linear_cross_entropy(h, W, t, reduction="sum") == 0
    h0, t0 = h[:0], t[:0]
    assert np.isnan(module.linear_cross_entropy(h0, W, t0))
    assert module.linear_cross_entropy(h0, W, t0, reduction="none").shape == (0,)
    loss, dh, dW = module.linear_cross_entropy(h0, W, t0, reduction="sum", return_grad=True)
    assert loss == 0 and dh.shape == (0, D) and dW.shape == (D, V) and not dW.any()


def test_promotion(module):
    h, W, b, t, w = _problem(np.float64)
    loss = module.linear_cross_entropy(h.astype(np.float32), W, t)
    assert loss.dtype == np.float64
    assert module.linear_cross_entropy(h.astype(np.float16), W.astype(np.float16), t).dtype == np.float32
    assert module.linear_cross_entropy(np.ones((2, 3), int), np.ones((3, 4), int), [0, 1]).dtype == np.float64


def test_errors(module):
    h, W, b, t, w = _problem(np.float32)
    f = module.linear_cross_entropy
    cases = [
        (TypeError, dict(h=h.astype(complex))),
        (TypeError, dict(W=W.astype(object))),
        (TypeError, dict(target=t.astype(float))),
        (TypeError, dict(chunk=True)),
        (TypeError, dict(chunk=2.5)),
        (ValueError, dict(chunk=0)),
        (ValueError, dict(h=h[0])),
        (ValueError, dict(W=W[:, :, None])),
        (ValueError, dict(W=W[1:])),
        (ValueError, dict(W=W, transpose_W=True)),
        (ValueError, dict(bias=b[1:])),
        (ValueError, dict(weight=w[1:])),
        (ValueError, dict(target=t[1:])),
        (ValueError, dict(reduction="avg")),
        (ValueError, dict(grad_loss=1.0)),  # without return_grad
        (ValueError, dict(return_grad=True, grad_loss=np.ones(3))),
        (ValueError, dict(return_grad=True, reduction="none", grad_loss=np.ones(N + 1))),
        (ValueError, dict(label_smoothing=1.5)),
        (IndexError, dict(target=np.where(t == IGNORE, 0, t) + V)),
        (IndexError, dict(target=np.where(np.arange(N) == 4, -1, t))),
    ]
    for exc, kw in cases:
        args = dict(h=h, W=W, target=t)
        args.update(kw)
        with pytest.raises(exc):
            f(args.pop("h"), args.pop("W"), args.pop("target"), **args)
    with pytest.raises(TypeError):
        f(np.ma.masked_array(h), W, t)


def _peak_above(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        res = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return res, peak - before


def test_memory_bounded_by_the_chunk(module, monkeypatch):
    # N x V logits of 64 MiB are never formed.  Native: with gradients the
    # traced peak stays within the gradients' own size plus 10% of the
    # logits' (one 4 MiB block, the dh / dW sums' temporaries, per-sample
    # arrays), in either regime.  The twin's loss functions compute a
    # float32 row block in float64 with temporaries: measured 7.3 blocks for
    # the loss, 13.3 with the gradients, whatever the chunk: still bounded
    # by the chunk, not by N x V.
    from fastact import _linear_ce
    n, d, v = 1024, 16, 16384
    h, W, b, t, w = _problem(np.float32, seed=11, n=n, d=d, v=v)
    logits, chunk = n * v * 4, 1 << 20
    native = module.__name__ == "fastact" and module.BACKEND == "native"
    bound = logits // 10 if native else 16 * chunk * 4
    plan = _linear_ce._plan
    for grad in (False, True):
        for forced in ((64, v), None):  # row blocks; the plan's 1024 x 1024 tiles
            monkeypatch.setattr(_linear_ce, "_plan", (lambda *a: forced) if forced else plan)
            res, peak = _peak_above(lambda: module.linear_cross_entropy(
                h, W, t, return_grad=grad, chunk=chunk))
            grads = res[1].nbytes + res[2].nbytes if grad else 0
            assert peak <= grads + bound, (grad, forced, peak, grads, bound)
            if not native and forced:  # a quarter of the chunk, a quarter of the memory
                monkeypatch.setattr(_linear_ce, "_plan", lambda *a: (16, v))
                _, small = _peak_above(lambda: module.linear_cross_entropy(
                    h, W, t, return_grad=grad, chunk=chunk // 4))
                assert small - grads <= (peak - grads) / 3, (grad, small, peak)
        monkeypatch.setattr(_linear_ce, "_plan", plan)
        # tiles of a chunk of half a row (90 x 91)
        _, tiles = _peak_above(lambda: module.linear_cross_entropy(
            h, W, t, return_grad=grad, chunk=v // 2))
        assert tiles <= grads + bound, (grad, tiles, grads, bound)


def test_bench_script_runs(tmp_path):
    # bench/linear_ce.py (the speed and memory figures) at a tiny size
    import os
    import subprocess
    import sys
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "bench", "linear_ce.py")
    if not os.path.exists(script):
        pytest.skip("bench/ is not beside the tests")
    run = subprocess.run([sys.executable, script, "--n", "40", "--d", "8", "--v", "300",
                          "--repeats", "1", "--chunk", "6000", "--regimes", "--no-torch"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "fastact loss+grad" in run.stdout and "peak traced memory" in run.stdout
    assert "fastact loss+grad, tiles 40x150 forced" in run.stdout
    assert "fastact loss+grad, row blocks 20x300 forced" in run.stdout
