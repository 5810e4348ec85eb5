"""fastact.dask.linear_cross_entropy: lazily, by blocks of rows of h, the
in-memory fastact.linear_cross_entropy's loss and gradients.

Each block task is the in-memory op on the block's rows (bit for bit, the
"mean"'s upstream gradient divided by the global denominator); against the
in-memory op on the whole batch the results agree within a few ULP of their
terms (the logits are BLAS products of other blocks of rows, and dW / dbias
add the blocks' partials in a tree).  Validation errors are raised when the
graph is built, with the in-memory op's types and messages; bad labels at
compute time, with their position in the whole target.  Run under both
backends (FASTACT_BACKEND=numpy: the NumPy twin)."""

import math
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import fastact as fa  # noqa: E402
import fastact.dask as fd  # noqa: E402
from test_dask import _same_error, _ulps, client  # noqa: E402,F401  (client: a fixture)

F32, F64 = np.float32, np.float64
RNG = np.random.default_rng(20270301)

N, D, V = 37, 8, 13
ROW_CHUNKS = {
    "uneven": (10, 20, 7),
    "rows-of-1": (1,) * N,
    "one-block": (N,),
    "with-empty": (12, 0, 25),
}


def _case(dtype, n=N, d=D, v=V, *, ignored_block=None):
    """h, W (d, V), bias, weights, targets (every 5th ignored, and all of
    rows ``ignored_block`` if given)."""
    h = RNG.standard_normal((n, d)).astype(dtype)
    W = (RNG.standard_normal((d, v)) / 2).astype(dtype)
    b = RNG.standard_normal(v).astype(dtype)
    w = RNG.random(v) + 0.5
    t = RNG.integers(0, v, n)
    t[::5] = -100
    if ignored_block is not None:
        t[ignored_block] = -100
    return h, W, b, w, t


def _terms(h, W, t, bias, transpose_W, grad_loss, **kw):
    """The scales of the gradients' terms, in float64: |dZ| |W|^T for dh,
    |h|^T |dZ| for dW, sum |dZ| for dbias (dZ the logits' gradient)."""
    h64 = h.astype(F64)
    Wf = (W.T if transpose_W else W).astype(F64)
    Z = h64 @ Wf + (0 if bias is None else bias.astype(F64))
    _, dZ = fa.cross_entropy_with_grad(Z, t, grad_loss=grad_loss, **kw)
    dZ = np.abs(dZ)
    dW = np.abs(h64).T @ dZ
    return {"dh": dZ @ np.abs(Wf).T, "dW": dW.T if transpose_W else dW, "dbias": dZ.sum(0)}


def _close(got, want, scale, dtype, name, tol=64):
    """|got - want| within ``tol`` eps of the terms' scale, elementwise: the
    logits of other blocks of rows differ in their last bits (amplified by
    their magnitude, ~d), and the sums of partials round differently."""
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape, (name, got.dtype, got.shape,
                                                                   want.dtype, want.shape)
    err = np.abs(got.astype(F64) - want.astype(F64))
    bound = tol * np.finfo(dtype).eps * scale + np.finfo(F64).tiny
    assert np.all(err <= bound), (name, float(np.max(err / bound)))


def _check_loss(got, want, dtype, reduction):
    got = np.asarray(got)
    assert got.dtype == np.asarray(want).dtype and got.shape == np.shape(want)
    if reduction != "none":
        assert type(got[()]) is type(want)
    assert _ulps(got, want) <= (4 if reduction != "none" else 16), (_ulps(got, want), reduction)


# --------------------------------------------------- against the in-memory op

OPTIONS = {
    "plain": dict(),
    "weighted-smoothed": dict(weight=True, label_smoothing=0.1),
    "bias-transposed": dict(bias=True, transpose_W=True),
    "all": dict(weight=True, label_smoothing=0.2, bias=True, transpose_W=True, chunk=3 * V),
}


def _options(name, W, b, w):
    kw = dict(OPTIONS[name])
    if kw.pop("weight", False):
        kw["weight"] = w
    if kw.pop("bias", False):
        kw["bias"] = b
    if kw.get("transpose_W"):
        W = np.ascontiguousarray(W.T)
    return W, kw


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("chunks", list(ROW_CHUNKS))
@pytest.mark.parametrize("opts", list(OPTIONS))
def test_equals_in_memory_op(dtype, chunks, opts):
    # the rows of the second block of "uneven" all ignored
    h, W, b, w, t = _case(dtype, ignored_block=slice(10, 30))
    W, kw = _options(opts, W, b, w)
    rows = ROW_CHUNKS[chunks]
    hd, td = da.from_array(h, chunks=(rows, D)), da.from_array(t, chunks=7)
    for red in ("none", "sum", "mean"):
        got = fd.linear_cross_entropy(hd, W, td, reduction=red, **kw)
        assert isinstance(got, da.Array)
        assert got.chunks == (((rows,) if red == "none" else ()))
        want = fa.linear_cross_entropy(h, W, t, reduction=red, **kw)
        _check_loss(got.compute(), want, dtype, red)

        gl = RNG.random(N) if red == "none" else 2.5
        gld = da.from_array(gl, chunks=9) if red == "none" else gl
        res = fd.linear_cross_entropy(hd, W, td, reduction=red, return_grad=True,
                                      grad_loss=gld, **kw)
        assert len(res) == (4 if "bias" in kw else 3)
        assert res[1].chunks == hd.chunks
        assert res[2].shape == W.shape and res[2].numblocks == (1, 1)
        got = dask.compute(*res)
        want = fa.linear_cross_entropy(h, W, t, reduction=red, return_grad=True,
                                       grad_loss=gl, **kw)
        _check_loss(got[0], want[0], dtype, red)
        ce = {k: kw[k] for k in ("weight", "label_smoothing") if k in kw}
        terms = _terms(h, W, t, kw.get("bias"), kw.get("transpose_W", False), gl,
                       reduction=red, **ce)
        for name, g, wt in zip(("dh", "dW", "dbias"), got[1:], want[1:]):
            _close(g, wt, terms[name], dtype, name)


def _in_memory_by_blocks(h, W, t, rows, *, reduction, grad_loss=None, weight=None,
                         ignore_index=-100, **kw):
    """What fastact.dask computes, with the in-memory op on each block of
    rows (reduction "none"; the upstream gradient g, or g / D for a "mean"
    with D the global denominator): the losses (the "sum"/"mean" as
    math.fsum of the blocks' fsums), dh, dW and dbias (the blocks' partials
    added in order, dbias in float64)."""
    keep = t != ignore_index
    D = math.fsum(np.asarray(weight, F64)[t[keep]].tolist()) if weight is not None \
        else float(np.count_nonzero(keep))
    g = 1.0 if grad_loss is None else grad_loss
    if reduction == "mean":
        g = float(np.float64(g) / np.float64(D))
    out = []
    r0 = 0
    for n in rows:
        gb = g[r0:r0 + n] if np.ndim(g) else g
        out.append(fa.linear_cross_entropy(h[r0:r0 + n], W, t[r0:r0 + n], reduction="none",
                                           weight=weight, ignore_index=ignore_index,
                                           return_grad=True, grad_loss=gb, **kw))
        r0 += n
    losses = np.concatenate([o[0] for o in out])
    dt = losses.dtype
    if reduction == "none":
        loss = losses
    else:
        total = math.fsum([math.fsum(o[0].astype(F64).tolist()) for o in out])
        loss = dt.type(total) if reduction == "sum" else dt.type(np.float64(total) / D)
    dW = out[0][2] if len(out) == 1 else out[0][2] + out[1][2]
    for o in out[2:]:
        dW += o[2]
    res = [loss, np.concatenate([o[1] for o in out]), dW]
    if len(out[0]) == 4:
        res.append(sum(o[3].astype(F64) for o in out).astype(dt))
    return res


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_blocks_are_the_in_memory_op_on_their_rows(dtype, reduction):
    """Bit for bit against the in-memory op on the same blocks of rows (the
    tree adding dW's partials in order with split_every >= the blocks)."""
    h, W, b, w, t = _case(dtype, ignored_block=slice(0, 10))
    rows = ROW_CHUNKS["uneven"]
    hd = da.from_array(h, chunks=(rows, D))
    kw = dict(bias=b, weight=w, label_smoothing=0.1, chunk=2 * V)
    gl = RNG.random(N) if reduction == "none" else 0.75
    got = dask.compute(*fd.linear_cross_entropy(hd, W, t, reduction=reduction,
                                                return_grad=True, grad_loss=gl,
                                                split_every=len(rows), **kw))
    want = _in_memory_by_blocks(h, W, t, rows, reduction=reduction, grad_loss=gl, **kw)
    for g, wt in zip(got, want):
        assert np.asarray(g).dtype == wt.dtype
        np.testing.assert_array_equal(g, wt)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_mean_over_the_global_denominator(dtype):
    """Blocks of very different weight sums (one all ignored): the "mean"
    and its gradients are over the global denominator, not per block."""
    h, W, b, w, t = _case(dtype)
    t[:12] = -100
    t[12:20] = 3
    w[3] = 100.0
    hd = da.from_array(h, chunks=((12, 8, 17), D))
    loss, dh, dW = dask.compute(*fd.linear_cross_entropy(hd, W, t, weight=w, return_grad=True))
    wl, wdh, wdW = fa.linear_cross_entropy(h, W, t, weight=w, return_grad=True)
    _check_loss(loss, wl, dtype, "mean")
    terms = _terms(h, W, t, None, False, 1.0, weight=w, reduction="mean")
    _close(dh, wdh, terms["dh"], dtype, "dh")
    _close(dW, wdW, terms["dW"], dtype, "dW")
    assert not dh[:12].any()


def test_grad_loss_forms():
    h, W, b, w, t = _case(F64)
    hd = da.from_array(h, chunks=((10, 20, 7), D))
    want = fa.linear_cross_entropy(h, W, t, return_grad=True, grad_loss=0.5)
    for g in (0.5, np.float32(0.5), np.array(0.5), da.from_array(np.array(0.5))):
        got = dask.compute(*fd.linear_cross_entropy(hd, W, t, return_grad=True, grad_loss=g))
        for a, b_ in zip(got, want):
            np.testing.assert_allclose(a, b_, rtol=1e-13, atol=1e-15)
    g = RNG.random(N)
    g32 = g.astype(F32)
    for gg, ref in ((g, g), (da.from_array(g, chunks=5), g), (g32, g32),
                    (da.from_array(g32, chunks=(30, 7)), g32)):
        want = fa.linear_cross_entropy(h, W, t, reduction="none", return_grad=True,
                                       grad_loss=ref)
        got = dask.compute(*fd.linear_cross_entropy(hd, W, t, reduction="none",
                                                    return_grad=True, grad_loss=gg))
        for a, b_ in zip(got, want):
            np.testing.assert_allclose(a, b_, rtol=1e-13, atol=1e-15)
    want = fa.linear_cross_entropy(h, W, t, reduction="none", return_grad=True, grad_loss=2.0)
    got = dask.compute(*fd.linear_cross_entropy(hd, W, t, reduction="none", return_grad=True,
                                                grad_loss=2.0))
    for a, b_ in zip(got, want):
        np.testing.assert_allclose(a, b_, rtol=1e-13, atol=1e-15)


def test_dtypes_follow_the_in_memory_op():
    h, W, b, w, t = _case(F64)
    for hh, WW, bb, dt in ((h.astype(np.float16), W.astype(F32), None, F32),
                           (h.astype(F32), W.astype(np.float16), b.astype(np.float16), F32),
                           (h.astype(F32), W, None, F64),
                           (np.rint(h * 3).astype(np.int32), W.astype(F32), None, F64),
                           (h, W, b.astype(F32), F64)):
        hd = da.from_array(hh, chunks=((10, 27), D))
        res = fd.linear_cross_entropy(hd, WW, t, bias=bb, return_grad=True)
        got = dask.compute(*res)
        want = fa.linear_cross_entropy(hh, WW, t, bias=bb, return_grad=True)
        for r, g, wt in zip(res, got, want):
            assert r.dtype == np.asarray(g).dtype == wt.dtype == dt
        assert type(got[0]) is type(want[0])


def test_empty_batch_and_all_ignored():
    h, W, b, w, t = _case(F32)
    for n in (0, N):
        tt = np.full(n, -100)
        hd = da.from_array(h[:n], chunks=(10, D))
        for red in ("none", "sum", "mean"):
            for kw in (dict(), dict(weight=w, bias=b)):
                got = dask.compute(*fd.linear_cross_entropy(hd, W, tt, reduction=red,
                                                            return_grad=True, **kw))
                want = fa.linear_cross_entropy(h[:n], W, tt, reduction=red,
                                               return_grad=True, **kw)
                for g, wt in zip(got, want):
                    np.testing.assert_array_equal(g, wt)
                    assert np.asarray(g).dtype == np.asarray(wt).dtype


def test_numpy_and_lazy_inputs():
    h, W, b, w, t = _case(F32)
    want = fa.linear_cross_entropy(h, W, t, bias=b, return_grad=True)
    # NumPy h: wrapped in blocks of rows, d one chunk
    res = fd.linear_cross_entropy(h, W, t, bias=b, return_grad=True)
    assert all(isinstance(r, da.Array) for r in res)
    assert res[1].chunks[1] == (D,)
    # everything lazy: W and the bias rechunked to one block (a warning
    # when split), the target to h's rows
    Wd, bd = da.from_array(W, chunks=-1), da.from_array(b, chunks=-1)
    hd, td = da.from_array(h, chunks=((5, 32), D)), da.from_array(t, chunks=4)
    for args in ((h, W, t, b), (hd, Wd, td, bd)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = fd.linear_cross_entropy(*args[:3], bias=args[3], return_grad=True)
        for g, wt in zip(dask.compute(*res), want):
            np.testing.assert_allclose(g, wt, rtol=1e-5, atol=1e-6)
    with pytest.warns(fd.RechunkWarning, match="W is split"):
        res = fd.linear_cross_entropy(hd, da.from_array(W, chunks=(3, 5)), td, bias=bd,
                                      return_grad=True)
    for g, wt in zip(dask.compute(*res), want):
        np.testing.assert_allclose(g, wt, rtol=1e-5, atol=1e-6)


def test_h_split_along_d_is_rechunked_with_a_warning():
    h, W, b, w, t = _case(F64)
    hd = da.from_array(h, chunks=(10, 3))
    with pytest.warns(fd.RechunkWarning, match=r"h is split along its reduction axis 1") as rec:
        res = fd.linear_cross_entropy(hd, W, t, return_grad=True)
    assert rec[0].filename == __file__
    assert res[1].chunks == ((10, 10, 10, 7), (D,))
    want = fa.linear_cross_entropy(h, W, t, return_grad=True)
    for g, wt in zip(dask.compute(*res), want):
        np.testing.assert_allclose(g, wt, rtol=1e-13, atol=1e-15)


# ------------------------------------------------------------------- the graph

def _reduction_tasks(arr, prefix):
    """{key: number of dependencies} of the tasks of ``arr``'s graph whose
    names start with ``prefix`` and are steps of the tree."""
    graph = dict(arr.__dask_graph__())
    out = {}
    for key in graph:
        name = key[0] if isinstance(key, tuple) else key
        if name.startswith(prefix) and ("-partial" in name or "-aggregate" in name):
            out[key] = len(dask.core.get_dependencies(graph, key))
    return out


@pytest.mark.parametrize("split_every,levels", [(2, 3), (3, 2), (8, 1), (None, 2)])
def test_dW_is_a_tree_of_additions(split_every, levels, monkeypatch):
    h, W, b, w, t = _case(F32)
    hd = da.from_array(h, chunks=(5, D))  # 8 blocks
    nb = hd.numblocks[0]
    with dask.config.set(split_every=4):
        res = fd.linear_cross_entropy(hd, W, t, bias=b, return_grad=True,
                                      split_every=split_every)
    k = split_every or 4
    for arr, prefix in ((res[2], "fastact-lce-dW"), (res[3], "fastact-lce-dbias")):
        tasks = _reduction_tasks(arr, prefix)
        assert tasks and max(tasks.values()) <= k, tasks
        names = {key[0] for key in tasks}
        assert len(names) == levels, names
        # every level adds up to k of the previous one's: nb, ceil(nb/k), ...
        assert len(tasks) == sum(math.ceil(nb / k**i) for i in range(1, levels + 1))
    calls = []
    orig = fa.linear_cross_entropy

    def counting(*a, **kw):
        calls.append(len(a[0]))
        return orig(*a, **kw)

    monkeypatch.setattr(fa, "linear_cross_entropy", counting)
    got = dask.compute(*res, scheduler="threads")
    assert sorted(calls) == sorted(hd.chunks[0])  # one call per block, for all four
    want = orig(h, W, t, bias=b, return_grad=True)
    terms = _terms(h, W, t, b, False, 1.0, reduction="mean")
    _close(got[2], want[2], terms["dW"], F32, "dW")
    _close(got[3], want[3], terms["dbias"], F32, "dbias")


def test_w_is_held_once_in_the_graph():
    h, W, b, w, t = _case(F64, n=40, d=16, v=2000)
    hd = da.from_array(h, chunks=(4, 16))
    res = fd.linear_cross_entropy(hd, W, t, bias=b, weight=w, return_grad=True)
    graph = dict(res[2].__dask_graph__())
    holding = [k for k, v in graph.items() if W.nbytes in _nbytes_of_arrays(v)]
    assert len(holding) == 1, holding


def _nbytes_of_arrays(task):
    """The sizes of the ndarrays a task holds (its arguments, nested)."""
    found = []

    def walk(x, depth=0):
        if depth > 6:
            return
        if isinstance(x, np.ndarray):
            found.append(x.nbytes)
        elif isinstance(x, (list, tuple)):
            for y in x:
                walk(y, depth + 1)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y, depth + 1)
        else:
            for attr in ("args", "kwargs", "value"):
                v = getattr(x, attr, None)
                if v is not None and v is not x:
                    walk(v, depth + 1)

    walk(task)
    return found


# ------------------------------------------------------------------- errors

def test_errors_at_graph_construction_match_in_memory():
    h, W, b, w, t = _case(F32)
    hd, td = da.from_array(h, chunks=(10, D)), da.from_array(t, chunks=9)
    gd = da.from_array(np.ones(N), chunks=9)
    cases = [
        lambda m, h, t: m.linear_cross_entropy(h[0], W, t),
        lambda m, h, t: m.linear_cross_entropy(h[None], W, t),
        lambda m, h, t: m.linear_cross_entropy(h, W[0], t),
        lambda m, h, t: m.linear_cross_entropy(h, W[:5], t),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, transpose_W=True),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, transpose_W="yes"),
        lambda m, h, t: m.linear_cross_entropy(h.astype(np.complex64), W, t),
        lambda m, h, t: m.linear_cross_entropy(h.astype(np.longdouble), W, t),
        lambda m, h, t: m.linear_cross_entropy(h, W.astype("U3"), t),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, bias=b[:4]),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, bias=b.astype(complex)),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, reduction="avg"),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, return_grad=1),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, grad_loss=2.0),
        lambda m, h, t: m.linear_cross_entropy(h, W, t.astype(F32)),
        lambda m, h, t: m.linear_cross_entropy(h, W, t[:5]),
        lambda m, h, t: m.linear_cross_entropy(h, W, t[None]),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, ignore_index=1.5),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, ignore_index=True),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, weight=w[:3]),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, weight=w.astype(complex)),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, chunk=0),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, chunk=True),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, chunk=2.5),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, label_smoothing=2),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, label_smoothing="x"),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, return_grad=True, grad_loss=np.ones(N)),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, reduction="none", return_grad=True,
                                               grad_loss=np.ones(N - 1)),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, reduction="none", return_grad=True,
                                               grad_loss=np.ones((N, 1))),
        lambda m, h, t: m.linear_cross_entropy(h, W, t, reduction="sum", return_grad=True,
                                               grad_loss="x"),
    ]
    for call in cases:
        for hh, tt in ((hd, td), (hd, t), (h, td), (h, t)):
            _same_error(lambda: call(fd, hh, tt), lambda: call(fa, h, t))
    # labels are checked at compute time: what the in-memory op's loss
    # kernels reject whatever the labels (checked first in memory) is
    # rejected when the graph is built, as in memory with valid labels
    _same_error(lambda: fd.linear_cross_entropy(hd, W, td, ignore_index=2**70),
                lambda: fa.linear_cross_entropy(h, W, np.abs(t) % V, ignore_index=2**70))
    _same_error(lambda: fd.linear_cross_entropy(hd, W[:, :0], td),  # no classes
                lambda: fa.linear_cross_entropy(h, W[:, :0], np.full(N, -100)))
    # a lazy grad_loss of the wrong shape; masked NumPy inputs
    _same_error(lambda: fd.linear_cross_entropy(hd, W, td, reduction="none", return_grad=True,
                                                grad_loss=gd[:-2]),
                lambda: fa.linear_cross_entropy(h, W, t, reduction="none", return_grad=True,
                                                grad_loss=np.ones(N - 2)))
    for kw in (dict(h=np.ma.masked_array(h)), dict(W=np.ma.masked_array(W)),
               dict(bias=np.ma.masked_array(b))):
        args = dict(h=h, W=W, target=t, bias=b) | kw
        _same_error(lambda: fd.linear_cross_entropy(**args),
                    lambda: fa.linear_cross_entropy(**args))


def test_errors_of_the_lazy_api():
    h, W, b, w, t = _case(F32)
    hd = da.from_array(h, chunks=(10, D))
    with pytest.raises(TypeError, match=r"weight must be an array_like of shape \(V,\)"):
        fd.linear_cross_entropy(hd, W, t, weight=da.from_array(w))
    with pytest.raises(ValueError, match="split_every must be an int >= 2"):
        fd.linear_cross_entropy(hd, W, t, return_grad=True, split_every=1)
    for bad in (True, 2.0, "4"):
        with pytest.raises(TypeError, match="split_every"):
            fd.linear_cross_entropy(hd, W, t, return_grad=True, split_every=bad)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fd.linear_cross_entropy(hd[hd[:, 0] > 0], W, t)
    with pytest.raises(TypeError, match="masked"):
        fd.linear_cross_entropy(da.ma.masked_greater(hd, 0), W, t)
    with pytest.raises(TypeError, match="out"):
        fd.linear_cross_entropy(hd, W, t, out=np.empty(()))


def test_bad_labels_raise_at_compute_with_their_global_position():
    h, W, b, w, t = _case(F64)
    hd = da.from_array(h, chunks=((10, 20, 7), D))
    for bad_row, label in ((23, V), (31, -1), (11, 2**40)):
        tb = t.copy()
        tb[bad_row] = label
        with pytest.raises(IndexError) as want:
            fa.linear_cross_entropy(h, W, tb)
        assert f"target[{bad_row}]" in str(want.value)
        tds = (tb, da.from_array(tb, chunks=6))
        for td in tds:
            for build in (lambda: fd.linear_cross_entropy(hd, W, td),
                          lambda: fd.linear_cross_entropy(hd, W, td, reduction="sum"),
                          lambda: fd.linear_cross_entropy(hd, W, td, reduction="none"),
                          lambda: fd.linear_cross_entropy(hd, W, td, return_grad=True)[2],
                          lambda: fd.linear_cross_entropy(hd, W, td, reduction="sum",
                                                          return_grad=True)[1]):
                r = build()  # the graph builds: labels are values
                with pytest.raises(IndexError) as got:
                    r.compute(scheduler="threads")
                assert str(got.value) == str(want.value)
    big = (np.abs(t) % V).astype(np.uint64)
    big[5] = 2**63 + 1
    with pytest.raises(IndexError, match=r"target\[5\] = 9223372036854775809"):
        fd.linear_cross_entropy(hd, W, da.from_array(big, chunks=3)).compute()


# ------------------------------------------------ dask.distributed LocalCluster

def test_distributed_equals_threaded(client):
    h, W, b, w, t = _case(F32)
    hd = da.from_array(h, chunks=(6, D))
    res = fd.linear_cross_entropy(hd, W, t, bias=b, weight=w, label_smoothing=0.1,
                                  return_grad=True, split_every=2)
    on_cluster = dask.compute(*res, scheduler=client)
    threaded = dask.compute(*res, scheduler="threads")
    # not bit for bit: a W deserialized at an address not a multiple of 4
    # bytes takes NumPy's matmul off BLAS, whose products round differently
    for a, b_ in zip(on_cluster, threaded):
        np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-7)
    tb = t.copy()
    tb[20] = V
    with pytest.raises(IndexError, match=r"target\[20\] = 13"):
        dask.compute(fd.linear_cross_entropy(hd, W, tb), scheduler=client)
