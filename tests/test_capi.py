"""fastact's C API (fastact/include/fastact_api.h, fastact/capi.pxd).

A Cython extension (tests/capi/: probe.pyx, plain.c) is built in a temporary
directory against the fastact under test (its get_include() and its
capi.pxd: the installed package, wherever it is), by a subprocess running
`setup.py build_ext --inplace` (Cython, setuptools; OpenMP when the compiler
has it).  Its functions call every C API function without the GIL, from
Cython through the .pxd (``cython``) and from a plain C file through the
header only (``c``), and from prange loops; the results must be
bit-identical to the Python API's native path (``fastact._api``: the same
kernels, also when FASTACT_BACKEND=numpy binds the public names to the
twin), and bad input must give the documented error codes with nothing
written.  The pointer arguments are passed as addresses, so that NULL,
misaligned and overlapping pointers can be tried."""

import ctypes
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from types import SimpleNamespace

import numpy as np
import pytest

import fastact

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("probe.pyx", "plain.c", "plain.h", "setup.py")
ROUTES = ("cython", "c")
DTYPES = (np.float32, np.float64)
I64 = np.int64


def test_header_and_pxd_ship_with_the_package():
    inc = fastact.get_include()
    assert os.path.isabs(inc)
    for name in ("fastact_api.h", "fastact_api_table.h"):
        assert os.path.isfile(os.path.join(inc, name)), name
    assert os.path.isfile(os.path.join(os.path.dirname(fastact.__file__), "capi.pxd"))


def _cc():
    cc = (sysconfig.get_config_var("CC") or "").split()
    if sys.platform == "win32" or not cc:
        pytest.skip("the header check runs a GCC/Clang command line (no CC here)")
    if shutil.which(cc[0]) is None:
        pytest.skip(f"Python's C compiler {cc[0]!r} is not installed")
    return cc


@pytest.mark.parametrize("lang", ["c99", "c11", "c++11"])
def test_header_is_self_contained_and_warning_free(tmp_path, lang):
    """fastact_api.h compiles on its own (Python's headers and get_include()
    only: no src_c), with -Wall -Wextra -Werror, as C and as C++."""
    cc = _cc()
    src = tmp_path / ("t.cpp" if lang.startswith("c++") else "t.c")
    src.write_text('#include "fastact_api.h"\nint probe(void) { return fastact_import(); }\n')
    if lang.startswith("c++"):
        cxx = (sysconfig.get_config_var("CXX") or "c++").split()
        if shutil.which(cxx[0]) is None:
            pytest.skip(f"no C++ compiler ({cxx[0]})")
        cmd = cxx + [f"-std={lang}"]
    else:
        cmd = cc + [f"-std={lang}", "-pedantic"]
    cmd += ["-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", sysconfig.get_paths()["include"],
            "-I", fastact.get_include(), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, " ".join(cmd) + "\n" + r.stderr[-3000:]


# ------------------------------------------------------------ the build

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("fastact._native", reason="the C API needs fastact's native extension")
    pytest.importorskip("Cython", reason="building the C API's test extension needs Cython "
                                         "(the test extras)")
    pytest.importorskip("setuptools", reason="building the test extension needs setuptools")
    d = tmp_path_factory.mktemp("capi")
    for name in SOURCES:
        shutil.copy(os.path.join(HERE, "capi", name), d / name)
    env = dict(os.environ)
    # the sanitizer runs preload ASan's runtime: not for the compiler
    env.pop("LD_PRELOAD", None)
    env["FASTACT_CAPI_INCLUDE"] = fastact.get_include()
    env["FASTACT_CAPI_PXD_ROOT"] = os.path.dirname(os.path.dirname(os.path.abspath(fastact.__file__)))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=d, env=env,
                       capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    path = next(str(d / f"probe{s}") for s in importlib.machinery.EXTENSION_SUFFIXES
                if (d / f"probe{s}").is_file())
    spec = importlib.util.spec_from_file_location("probe", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    openmp = (d / "openmp.txt").read_text()
    return SimpleNamespace(mod=mod, openmp=openmp, seconds=seconds)


class _FakeTable(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_uint32), ("size", ctypes.c_uint32),
                ("rest", ctypes.c_char * 1024)]


def _capsule(table, name):
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return new(ctypes.addressof(table), name, None)


@pytest.fixture(scope="module")
def probe(built):
    """The extension with plain.c imported too, after the import's failure
    modes were tried on plain.c's (not yet imported) file: what each gave is
    in .import_checks (test_import_errors)."""
    mod = built.mod
    nat = sys.modules["fastact._native"]
    seen = {"before": mod.c_call("relu", False, (0, 0), (0,)), "level_before": mod.c_level()}
    real = nat._C_API
    name = b"fastact._native._C_API"  # kept alive while the fake capsules are in use
    fakes = {"abi": _FakeTable(999, 4096), "size": _FakeTable(mod.ABI_VERSION, 8)}
    attempts = {"abi": _capsule(fakes["abi"], name), "size": _capsule(fakes["size"], name),
                "name": _capsule(fakes["abi"], b"other.name"), "missing": None}
    try:
        for what, cap in attempts.items():
            if cap is None:
                del nat._C_API
            else:
                nat._C_API = cap
            try:
                mod.c_import()
                seen[what] = None
            except ImportError as exc:
                seen[what] = str(exc)
            seen[what + "_after"] = mod.c_call("relu", False, (0, 0), (0,))
    finally:
        nat._C_API = real
    mod.c_import()
    mod.import_checks = seen
    return mod


def test_build_time_and_openmp(built):
    """The build stays quick (it runs in every CI run); OpenMP is reported."""
    assert built.seconds < 120, built.seconds
    assert built.openmp == "yes" or built.openmp.startswith("no: "), built.openmp


def test_import_errors(probe):
    seen = probe.import_checks
    nerr = probe.ERRORS["NOT_IMPORTED"]
    assert seen["before"] == nerr and seen["level_before"] is None
    assert "ABI version 999" in seen["abi"] and "rebuild" in seen["abi"], seen["abi"]
    assert "has 8 bytes" in seen["size"] and "upgrade fastact" in seen["size"], seen["size"]
    for what in ("name", "missing"):
        assert "has no C API" in seen[what], seen[what]
    for what in ("abi", "size", "name", "missing"):
        assert seen[what + "_after"] == nerr, what  # a failed import leaves the file unusable
    assert probe.c_level() == probe.kernel_level() == fastact._native._kernel_level()
    assert probe.num_threads() == fastact.get_num_threads()
    assert probe.ABI_VERSION == 1


def test_strerror(probe):
    texts = {code: probe.strerror(code) for code in probe.ERRORS.values()}
    assert len(set(texts.values())) == len(texts)
    assert probe.strerror(-999) == "unknown error code"


# ------------------------------------------------------------ helpers

def _addr(a):
    if a is None:
        return 0
    if isinstance(a, np.ndarray):
        return a.ctypes.data
    return int(a)  # a raw address (misaligned / overlapping cases)


def call(probe, route, name, dtype, ptrs, sizes=(), doubles=(), i=0, flag=0):
    fn = probe.cy_call if route == "cython" else probe.c_call
    return fn(name, dtype == np.float64, tuple(_addr(a) for a in ptrs), tuple(sizes),
              tuple(doubles), i, flag)


def bits(a):
    a = np.asarray(a)
    return a.dtype, a.shape, a.tobytes()


def data(shape, dtype, seed, specials=True):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    flat = x.reshape(-1)
    if specials and flat.size > 100:
        flat[rng.integers(0, flat.size, 3)] = [np.nan, np.inf, -np.inf]
    return x


def sentinel(shape, dtype):
    return np.full(shape, 12345.0, dtype)


@pytest.fixture(params=ROUTES)
def route(request):
    return request.param


@pytest.fixture(params=DTYPES, ids=["f32", "f64"])
def dtype(request):
    return request.param


def _nat():
    from fastact import _api
    return _api


# ------------------------------------------------------------ bit-identity

# (outer, n, inner): tails, a non-last axis (inner > 1, also beyond one
# 256-column chunk), one long row (the chunked long-row path of both
# dtypes), a threaded size, empty ones
SHAPES = [(3, 1, 1), (5, 17, 1), (2, 1000, 1), (1, 33, 1), (4, 7, 5), (2, 300, 3), (3, 5, 260),
          (64, 1000, 1), (1, 140_000, 1), (0, 5, 1), (3, 0, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_reductions(probe, route, dtype, op, shape):
    x = data(shape, dtype, 1)
    ref = getattr(_nat(), op)(x, axis=1)
    y = sentinel(ref.shape, dtype)
    assert call(probe, route, op, dtype, (x, y), shape) == 0
    assert bits(y) == bits(ref)
    if op != "logsumexp" and x.size:  # in place: y exactly x
        xc = x.copy()
        assert call(probe, route, op, dtype, (xc, xc), shape) == 0
        assert bits(xc) == bits(ref)


@pytest.mark.parametrize("shape", [s for s in SHAPES if s[1] < 100_000], ids=str)
@pytest.mark.parametrize("op", ["softmax_backward", "log_softmax_backward"])
def test_reduce_backward(probe, route, dtype, op, shape):
    nat = _nat()
    g = data(shape, dtype, 2)
    fwd = nat.softmax if op == "softmax_backward" else nat.log_softmax
    y = fwd(data(shape, dtype, 3, specials=False), axis=1)
    ref = getattr(nat, op)(g, y, axis=1)
    out = sentinel(shape, dtype)
    assert call(probe, route, op, dtype, (g, y, out), shape) == 0
    assert bits(out) == bits(ref)
    if g.size:  # out exactly grad
        gc = g.copy()
        assert call(probe, route, op, dtype, (gc, y, gc), shape) == 0
        assert bits(gc) == bits(ref)


LENGTHS = [0, 1, 7, 1000, (1 << 18) + 5]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("op, p", [("relu", 0.0), ("leaky_relu", 0.2), ("leaky_relu", -3.5),
                                   ("sigmoid", 0.0)])
def test_maps(probe, route, dtype, op, p, n):
    nat = _nat()
    x = data((n,), dtype, 4)
    x[: min(n, 2)] = -0.0
    ref = nat.leaky_relu(x, p) if op == "leaky_relu" else getattr(nat, op)(x)
    y = sentinel(n, dtype)
    assert call(probe, route, op, dtype, (x, y), (n,), (p,)) == 0
    assert bits(y) == bits(ref)
    assert call(probe, route, op, dtype, (x, x), (n,), (p,)) == 0  # in place
    assert bits(x) == bits(ref)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("op, p", [("relu_backward", 0.0), ("leaky_relu_backward", 0.05),
                                   ("sigmoid_backward", 0.0)])
def test_map_backward(probe, route, dtype, op, p, n):
    nat = _nat()
    g, x = data((n,), dtype, 5), data((n,), dtype, 6)
    if op == "sigmoid_backward":
        x = nat.sigmoid(x)
    ref = nat.leaky_relu_backward(g, x, p) if op == "leaky_relu_backward" else getattr(nat, op)(g, x)
    out = sentinel(n, dtype)
    assert call(probe, route, op, dtype, (g, x, out), (n,), (p,)) == 0
    assert bits(out) == bits(ref)
    assert call(probe, route, op, dtype, (g, x, x), (n,), (p,)) == 0  # out exactly x
    assert bits(x) == bits(ref)


# (outer, C, inner); index targets with some ignored, weights, smoothing
CE_SHAPES = [(8, 10, 1), (5, 3, 7), (3, 1000, 1), (64, 300, 1), (2, 1, 1), (4, 6, 300),
             (0, 4, 1), (3, 4, 0)]
CE_OPTS = [(False, 0.0), (True, 0.0), (False, 0.1), (True, 0.25)]


def _ce_inputs(shape, dtype, weighted, seed=7):
    outer, C, inner = shape
    rng = np.random.default_rng(seed)
    x = data(shape, dtype, seed)
    labels = rng.integers(0, C, (outer, inner)).astype(I64)
    labels.reshape(-1)[::5] = -100
    w = rng.uniform(0.5, 2.0, C) if weighted else None
    return x, labels, w


def _scalar_out(dtype, value):
    return np.asarray(dtype(value))


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("weighted, eps", CE_OPTS)
def test_cross_entropy_index(probe, route, dtype, shape, weighted, eps):
    nat = _nat()
    x, labels, w = _ce_inputs(shape, dtype, weighted)
    kw = dict(axis=1, weight=w, ignore_index=-100, label_smoothing=eps)
    loss = sentinel(labels.shape, dtype)
    s, ws = np.zeros(1), np.zeros(1)
    assert call(probe, route, "cross_entropy", dtype, (x, labels, w, loss, s, ws), shape, (eps,),
                -100) == 0
    assert bits(loss) == bits(nat.cross_entropy(x, labels, reduction="none", **kw))
    assert bits(_scalar_out(dtype, s[0])) == bits(nat.cross_entropy(x, labels, reduction="sum", **kw))
    with np.errstate(all="ignore"):
        mean = _scalar_out(dtype, s[0] / ws[0])
    assert bits(mean) == bits(nat.cross_entropy(x, labels, reduction="mean", **kw))
    # every output optional
    assert call(probe, route, "cross_entropy", dtype, (x, labels, w, None, None, None), shape,
                (eps,), -100) == 0


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("weighted, eps", CE_OPTS)
def test_cross_entropy_prob(probe, route, dtype, shape, weighted, eps):
    nat = _nat()
    x, _, w = _ce_inputs(shape, dtype, weighted)
    t = nat.softmax(data(shape, dtype, 8, specials=False), axis=1)
    kw = dict(axis=1, weight=w, label_smoothing=eps)
    outer, C, inner = shape
    loss = sentinel((outer, inner), dtype)
    s = np.zeros(1)
    assert call(probe, route, "cross_entropy_prob", dtype, (x, t, w, loss, s), shape, (eps,)) == 0
    assert bits(loss) == bits(nat.cross_entropy(x, t, reduction="none", **kw))
    assert bits(_scalar_out(dtype, s[0])) == bits(nat.cross_entropy(x, t, reduction="sum", **kw))
    with np.errstate(all="ignore"):
        mean = _scalar_out(dtype, s[0] / (outer * inner))
    assert bits(mean) == bits(nat.cross_entropy(x, t, reduction="mean", **kw))


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("weighted, eps", CE_OPTS)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("target", ["index", "prob"])
def test_cross_entropy_grad(probe, route, dtype, shape, weighted, eps, reduction, target):
    nat = _nat()
    x, labels, w = _ce_inputs(shape, dtype, weighted)
    outer, C, inner = shape
    if target == "prob":
        labels = nat.softmax(data(shape, dtype, 9, specials=False), axis=1)
    gl = (np.random.default_rng(10).uniform(-2, 2, (outer, inner)) if reduction == "none"
          else 0.75)
    ref_loss, ref_dx = nat.cross_entropy_with_grad(
        x, labels, axis=1, weight=w, ignore_index=-100, reduction=reduction, label_smoothing=eps,
        grad_loss=gl)
    gvec = gl if reduction == "none" else None
    g = 1.0 if reduction == "none" else gl
    mean = int(reduction == "mean")
    loss = sentinel((outer, inner), dtype)
    s, ws = np.zeros(1), np.zeros(1)
    for inplace in (False, True):
        dx = x.copy() if inplace else sentinel(shape, dtype)
        src = dx if inplace else x
        if target == "index":
            rc = call(probe, route, "cross_entropy_grad", dtype,
                      (src, labels, w, gvec, dx, loss, s, ws), shape, (eps, g), -100, mean)
        else:
            rc = call(probe, route, "cross_entropy_prob_grad", dtype,
                      (src, labels, w, gvec, dx, loss, s), shape, (eps, g), 0, mean)
        assert rc == 0
        assert bits(dx) == bits(ref_dx)
        if reduction == "none":
            assert bits(loss) == bits(ref_loss)
        else:
            count = ws[0] if target == "index" else outer * inner
            with np.errstate(all="ignore"):
                val = s[0] / count if reduction == "mean" else s[0]
            assert bits(_scalar_out(dtype, val)) == bits(ref_loss)


def _weight_view(kind, outer, C, dtype, seed):
    """(Python weight, C array, row, col) for the broadcasts the kernels read
    in place."""
    rng = np.random.default_rng(seed)
    if kind is None:
        return None, None, 0, 0
    if kind == "scalar":
        v = np.asarray(rng.uniform(0.5, 2), dtype)
        return v, v.reshape(1), 0, 0
    if kind == "class":
        v = rng.uniform(0.5, 2, C).astype(dtype)
        return v, v, 0, 1
    if kind == "row":
        v = rng.uniform(0.5, 2, (outer, 1)).astype(dtype)
        return v, v.reshape(-1), 1, 0
    v = rng.uniform(0.5, 2, (outer, C)).astype(dtype)
    return v, v, C, 1


BCE_SHAPES = [(6, 5), (3, 1000), (64, 1100), (1, 1), (0, 3)]
BCE_WEIGHTS = [(None, None), ("scalar", None), ("class", "class"), ("row", "full"),
               ("full", "scalar")]


@pytest.mark.parametrize("shape", BCE_SHAPES, ids=str)
@pytest.mark.parametrize("wk, pk", BCE_WEIGHTS)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_bce(probe, route, dtype, shape, wk, pk, reduction):
    nat = _nat()
    outer, C = shape
    x = data(shape, dtype, 11)
    y = np.random.default_rng(12).uniform(0, 1, shape).astype(dtype)
    w, wc, wr, wcol = _weight_view(wk, outer, C, dtype, 13)
    pw, pc, pr, pcol = _weight_view(pk, outer, C, dtype, 14)
    sizes = (wr, wcol, pr, pcol, outer, C)
    kw = dict(weight=w, pos_weight=pw, reduction=reduction)
    loss, s = sentinel(shape, dtype), np.zeros(1)
    assert call(probe, route, "bce", dtype, (x, y, wc, pc, loss, s), sizes) == 0
    ref = nat.binary_cross_entropy_with_logits(x, y, **kw)
    if reduction == "none":
        assert bits(loss) == bits(ref)
    else:
        with np.errstate(all="ignore"):
            val = s[0] / (outer * C) if reduction == "mean" else s[0]
        assert bits(_scalar_out(dtype, val)) == bits(ref)
    # with the gradient
    gl = np.random.default_rng(15).uniform(-2, 2, shape).astype(dtype) if reduction == "none" else 1.5
    ref_loss, ref_dx = nat.binary_cross_entropy_with_logits_with_grad(x, y, grad_loss=gl, **kw)
    gvec = gl if reduction == "none" else None
    g = 1.0 if reduction == "none" else gl
    dx, loss, s = sentinel(shape, dtype), sentinel(shape, dtype), np.zeros(1)
    assert call(probe, route, "bce_grad", dtype, (x, y, wc, pc, gvec, dx, loss, s), sizes, (g,),
                0, int(reduction == "mean")) == 0
    assert bits(dx) == bits(ref_dx)
    if reduction == "none":
        assert bits(loss) == bits(ref_loss)
    else:
        with np.errstate(all="ignore"):
            val = s[0] / (outer * C) if reduction == "mean" else s[0]
        assert bits(_scalar_out(dtype, val)) == bits(ref_loss)


# ------------------------------------------------------------ prange

@pytest.fixture
def two_threads(restore_threads):
    fastact.set_num_threads(2)  # one prange thread's call may take the pool meanwhile


def _prange_rows(probe, dtype):
    nat = _nat()
    N, C, block = 520, 1000, 64  # 9 blocks, the last one short; 64k elements per block
    x = data((N, C), dtype, 16)
    labels = np.random.default_rng(17).integers(0, C, N).astype(I64)
    nb = -(-N // block)
    probs, dx = sentinel((N, C), dtype), sentinel((N, C), dtype)
    sums, rcs, tids = np.zeros(nb), np.full(nb, -99, np.intc), np.full(nb, -1, np.intc)
    probe.prange_rows(x, labels, probs, dx, sums, rcs, tids, block, 2)
    assert (rcs == 0).all(), rcs
    assert bits(probs) == bits(nat.softmax(x))
    assert bits(dx) == bits(nat.cross_entropy_with_grad(x, labels, reduction="sum")[1])
    for b in range(nb):
        rows = slice(b * block, (b + 1) * block)
        ref = nat.cross_entropy(x[rows], labels[rows], reduction="sum")
        assert bits(_scalar_out(dtype, sums[b])) == bits(ref), b
    return tids


def _prange_slabs(probe, dtype):
    x = data((6, 37, 300), dtype, 18)
    y = sentinel(x.shape, dtype)
    rcs, tids = np.full(6, -99, np.intc), np.full(6, -1, np.intc)
    probe.prange_slabs(x, y, rcs, tids, 2)
    assert (rcs == 0).all(), rcs
    assert bits(y) == bits(_nat().log_softmax(x, axis=1))
    return tids


def test_prange_results(probe, dtype, two_threads):
    """Row blocks (softmax, cross-entropy + gradient) and (1, C, T) slabs
    (a non-last axis), each on a prange iteration without the GIL."""
    assert (_prange_rows(probe, dtype) >= 0).all()
    assert (_prange_slabs(probe, dtype) >= 0).all()


def test_prange_runs_concurrently(built, probe, dtype, two_threads):
    if built.openmp != "yes":
        pytest.skip(f"OpenMP unavailable with this compiler, prange ran serially ({built.openmp})")
    assert probe.OPENMP == 1
    assert set(_prange_rows(probe, dtype)) == {0, 1}
    assert set(_prange_slabs(probe, dtype)) == {0, 1}


# ------------------------------------------------------------ error codes

def test_bad_labels(probe, route, dtype):
    x, labels, w = _ce_inputs((6, 5, 1), dtype, True)
    E = probe.ERRORS
    for bad_pos, bad in ((3, 5), (4, -1), (0, 1 << 40)):
        lab = labels.copy()
        lab.reshape(-1)[bad_pos] = bad
        pos = np.full(1, -7, np.intp)
        assert call(probe, route, "first_bad_label", dtype, (lab, pos), (lab.size, 5), (), -100) == 0
        assert pos[0] == bad_pos
        loss, s, ws, dx = sentinel(6, dtype), np.full(1, 3.0), np.full(1, 3.0), sentinel(x.shape, dtype)
        assert call(probe, route, "cross_entropy", dtype, (x, lab, w, loss, s, ws), (6, 5, 1),
                    (0.0,), -100) == E["LABEL"]
        assert call(probe, route, "cross_entropy_grad", dtype, (x, lab, w, None, dx, loss, s, ws),
                    (6, 5, 1), (0.0, 1.0), -100, 1) == E["LABEL"]
        # nothing written
        assert (loss == 12345).all() and (dx == 12345).all() and s[0] == 3.0 and ws[0] == 3.0
    # a label equal to ignore_index is fine, whatever its value
    lab = np.where(labels == -100, 0, labels)
    lab[0] = -1
    pos = np.full(1, -7, np.intp)
    assert call(probe, route, "first_bad_label", dtype, (lab, pos), (lab.size, 5), (), -1) == 0
    assert pos[0] == -1
    assert call(probe, route, "cross_entropy", dtype, (x, lab, w, None, None, None), (6, 5, 1),
                (0.0,), -1) == 0


def test_null_pointers(probe, route, dtype):
    E = probe.ERRORS
    x, labels, _ = _ce_inputs((4, 5, 1), dtype, False)
    y = sentinel(x.shape, dtype)
    assert call(probe, route, "softmax", dtype, (None, y), (4, 5, 1)) == E["NULL"]
    assert call(probe, route, "softmax", dtype, (x, None), (4, 5, 1)) == E["NULL"]
    assert call(probe, route, "logsumexp", dtype, (x, None), (4, 5, 1)) == E["NULL"]
    assert call(probe, route, "relu", dtype, (None, y), (3,)) == E["NULL"]
    assert call(probe, route, "softmax_backward", dtype, (x, None, y), (4, 5, 1)) == E["NULL"]
    assert call(probe, route, "sigmoid_backward", dtype, (x, x, None), (3,)) == E["NULL"]
    assert call(probe, route, "cross_entropy", dtype, (x, None, None, None, None, None), (4, 5, 1),
                (0.0,)) == E["NULL"]
    assert call(probe, route, "cross_entropy_prob", dtype, (x, None, None, None, None), (4, 5, 1),
                (0.0,)) == E["NULL"]
    assert call(probe, route, "cross_entropy_grad", dtype,
                (x, labels, None, None, None, None, None, None), (4, 5, 1), (0.0, 1.0)) == E["NULL"]
    assert call(probe, route, "bce", dtype, (x, None, None, None, None, None), (0, 0, 0, 0, 4, 5)) \
        == E["NULL"]
    assert call(probe, route, "first_bad_label", dtype, (labels, None), (4, 5)) == E["NULL"]
    assert (y == 12345).all()
    # arrays without elements may be NULL; logsumexp over n == 0 still writes -inf
    for op in ("softmax", "log_softmax", "logsumexp"):
        assert call(probe, route, op, dtype, (None, None), (0, 5, 3)) == 0
    r = sentinel((3, 2), dtype)
    assert call(probe, route, "logsumexp", dtype, (None, r), (3, 0, 2)) == 0
    assert (r == -np.inf).all()
    assert call(probe, route, "relu", dtype, (None, None), (0,)) == 0
    s = np.full(1, 5.0)
    assert call(probe, route, "cross_entropy", dtype, (None, None, None, None, s, None), (0, 5, 1),
                (0.0,)) == 0
    assert s[0] == 0.0


def test_sizes_overflow(probe, route, dtype):
    E = probe.ERRORS
    x = np.zeros(8, dtype)
    big = [(1 << 62, 2, 1), (1 << 33, 1 << 33, 1), (1, 1 << 61, 1 << 3), (3, 1, 1 << 62)]
    for op in ("softmax", "log_softmax", "logsumexp"):
        for s in big:
            assert call(probe, route, op, dtype, (x, x[4:]), s) == E["SIZE"], (op, s)
    assert call(probe, route, "softmax_backward", dtype, (x, x, x), (1 << 62, 1, 1)) == E["SIZE"]
    assert call(probe, route, "relu", dtype, (x, x), (1 << 62,)) == E["SIZE"]
    assert call(probe, route, "relu_backward", dtype, (x, x, x), (1 << 63,)) == E["SIZE"]
    lab = np.zeros(8, I64)
    assert call(probe, route, "cross_entropy", dtype, (x, lab, None, None, None, None),
                (1, 1 << 61, 1), (0.0,)) == E["SIZE"]
    assert call(probe, route, "cross_entropy", dtype, (x, lab, None, None, None, None),
                (1 << 61, 1, 1), (0.0,)) == E["SIZE"]
    assert call(probe, route, "first_bad_label", dtype, (lab, lab), (1 << 61, 3)) == E["SIZE"]
    assert call(probe, route, "bce", dtype, (x, x, x, None, None, None),
                (1 << 62, 1, 0, 0, 2, 2)) == E["SIZE"]
    assert call(probe, route, "bce", dtype, (x, x, None, None, None, None),
                (0, 0, 0, 0, 1 << 62, 4)) == E["SIZE"]


def test_misaligned(probe, route, dtype):
    E = probe.ERRORS
    buf = np.zeros(64, np.uint8)
    a = buf.ctypes.data
    a += (-a) % 8  # 8-byte aligned start
    y = sentinel(16, dtype)
    assert call(probe, route, "softmax", dtype, (a + 1, y), (2, 3, 1)) == E["ALIGN"]
    assert call(probe, route, "relu", dtype, (y, a + 2), (3,)) == E["ALIGN"]
    x = np.zeros((2, 3), dtype)
    assert call(probe, route, "cross_entropy", dtype, (x, a + 4, None, None, None, None),
                (2, 3, 1), (0.0,)) == E["ALIGN"]
    assert (y == 12345).all()


def test_overlap(probe, route, dtype):
    E = probe.ERRORS
    item = np.dtype(dtype).itemsize
    x = data(40, dtype, 19)
    ref = x.copy()
    base = x.ctypes.data
    shape = (4, 5, 1)
    assert call(probe, route, "softmax", dtype, (x, base + item), shape) == E["OVERLAP"]
    assert call(probe, route, "logsumexp", dtype, (x, x), shape) == E["OVERLAP"]  # y apart from x
    assert call(probe, route, "logsumexp", dtype, (x, base + 19 * item), shape) == E["OVERLAP"]
    assert call(probe, route, "relu", dtype, (x, base + item), (20,)) == E["OVERLAP"]
    assert call(probe, route, "relu_backward", dtype, (x, x[20:], base + item), (20,)) == E["OVERLAP"]
    assert call(probe, route, "softmax_backward", dtype, (x, x[20:], base + 21 * item), shape) \
        == E["OVERLAP"]
    labels = np.zeros(4, I64)
    assert call(probe, route, "cross_entropy", dtype, (x, labels, None, x[16:], None, None),
                shape, (0.0,)) == E["OVERLAP"]
    assert call(probe, route, "cross_entropy_grad", dtype,
                (x, labels, None, None, labels.ctypes.data, None, None, None), (1, 1, 1),
                (0.0, 1.0)) == E["OVERLAP"]
    assert call(probe, route, "cross_entropy_grad", dtype,
                (x, labels, None, None, x[20:], x[22:], None, None), shape, (0.0, 1.0)) \
        == E["OVERLAP"]
    assert call(probe, route, "bce_grad", dtype, (x, x[20:], None, None, None, x[20:], None, None),
                (0, 0, 0, 0, 4, 5), (1.0,)) == E["OVERLAP"]
    assert bits(x) == bits(ref)  # nothing written
    # apart, or exactly an input where allowed
    assert call(probe, route, "softmax", dtype, (x[:20], x[20:]), shape) == 0
    assert call(probe, route, "cross_entropy_grad", dtype,
                (x[:20], labels, None, None, x[:20], x[20:24], None, None), shape, (0.0, 1.0)) == 0


def test_bad_parameters(probe, route, dtype):
    E = probe.ERRORS
    x, labels, _ = _ce_inputs((4, 5, 1), dtype, False)
    loss = sentinel(4, dtype)
    assert call(probe, route, "cross_entropy", dtype, (x, labels, None, loss, None, None),
                (4, 0, 1), (0.0,)) == E["VALUE"]
    for eps in (float("nan"), 1.5, -0.1):
        assert call(probe, route, "cross_entropy", dtype, (x, labels, None, loss, None, None),
                    (4, 5, 1), (eps,), -100) == E["VALUE"], eps
        assert call(probe, route, "cross_entropy_prob_grad", dtype,
                    (x, x, None, None, x.copy(), loss, None), (4, 5, 1), (eps, 1.0)) == E["VALUE"]
    assert (loss == 12345).all()
    # the edges are fine
    for eps in (0.0, 1.0):
        assert call(probe, route, "cross_entropy", dtype, (x, labels, None, loss, None, None),
                    (4, 5, 1), (eps,), -100) == 0


# ------------------------------------------------------------ the example

EXAMPLE = os.path.join(os.path.dirname(HERE), "examples", "cython_embed")


def test_cython_embed_example(tmp_path):
    """examples/cython_embed builds as its setup.py says (against the fastact
    under test) and its run.py reaches its OK: every step bit-identical to
    the Python API, 85 % accuracy, a bad label raised as IndexError."""
    if not os.path.isdir(EXAMPLE):
        pytest.skip("examples/cython_embed not present (tests run outside a checkout/sdist)")
    nat = pytest.importorskip("fastact._native", reason="the C API needs fastact's native extension")
    pytest.importorskip("Cython", reason="building the example needs Cython (the test extras)")
    if nat.SANITIZER_BUILD:
        pytest.skip("sanitizer build: the example's processes would load the instrumented "
                    "extension without ASan's runtime (test_capi's own extension covers the build)")
    d = tmp_path / "cython_embed"
    shutil.copytree(EXAMPLE, d, ignore=shutil.ignore_patterns("build", "*.so", "*.pyd", "*.c"))
    env = dict(os.environ)
    env.pop("FASTACT_BACKEND", None)  # run as users do: the native backend
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(fastact.__file__)))]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    r = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=d, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    r = subprocess.run([sys.executable, "run.py"], cwd=d, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("OK"), r.stdout + r.stderr
    assert "dlogits and probabilities identical: True" in r.stdout, r.stdout
