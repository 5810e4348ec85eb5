"""pytest-benchmark suite: fastact native kernels vs the NumPy twin vs a copy.

Run:   pytest bench/ --benchmark-only            (full suite, a few minutes)
       pytest bench/ --benchmark-only -k "softmax and float32"
       pytest bench/ --benchmark-only --benchmark-columns=median,iqr,rounds

Each benchmark group is ``{op}-{dtype}-{shape}`` and holds, side by side:
  * ``native-*``  fastact.<op> (default backend, i.e. the compiled kernels),
  * ``numpy-*``   fastact.numpy_impl.<op> (the NumPy twin),
  * ``copy``      np.copyto of the same input bytes into a ready buffer.
``*-out`` variants pass a preallocated ``out=`` (what pipelines do);
``*-alloc`` variants allocate the result per call (softmax; cross_entropy has
no ``out=``).  The case list and input data come from ``bench/summary.py``.

Rounds are chosen per case from a calibration call so that every case costs
roughly ROUND_BUDGET seconds (slow ones: at least MIN_ROUNDS rounds of one
call each, after one warm-up round), keeping the suite short on 2 cores.
"""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import (  # noqa: E402  (bench/ is not a package)
    PATHS, input_array, iter_cases, make_call, make_copy, shape_id, steady_state_allocator,
)

fastact = pytest.importorskip("fastact")
numpy_impl = pytest.importorskip("fastact.numpy_impl")

steady_state_allocator()  # see bench/summary.py: avoids order-dependent NumPy timings

ROUND_BUDGET = 0.4       # seconds of timed calls per case (approximate)
MIN_ROUND_TIME = 1e-4    # a round lasts at least this long (iterations >= 1)
MIN_ROUNDS, MAX_ROUNDS = 5, 1000
BIG_CALL = 5e-3          # calls slower than this run with iterations=1


def _params():
    params = []
    seen_groups = set()
    for op, dtype, shape, variant, use_out in iter_cases():
        sid = shape_id(shape)
        for path in PATHS:
            params.append(pytest.param(op, dtype, shape, path, use_out,
                                       id=f"{op}-{dtype}-{sid}-{path}-{variant}"))
        if (op, dtype, shape) not in seen_groups:
            seen_groups.add((op, dtype, shape))
            params.append(pytest.param(op, dtype, shape, "copy", False,
                                       id=f"{op}-{dtype}-{sid}-copy"))
    return params


def _run(benchmark, fn):
    fn()  # warm-up: page faults of the buffers, lazy initialisation
    t0 = time.perf_counter()
    fn()
    t1 = max(time.perf_counter() - t0, 1e-9)
    if t1 >= BIG_CALL:
        iterations = 1
        rounds = max(MIN_ROUNDS, min(15, int(ROUND_BUDGET / t1)))
    else:
        iterations = max(1, int(MIN_ROUND_TIME / t1))
        rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(ROUND_BUDGET / (t1 * iterations))))
    benchmark.extra_info["calib_s"] = t1
    return benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=1)


@pytest.mark.parametrize("op,dtype,shape,path,use_out", _params())
def test_bench(benchmark, op, dtype, shape, path, use_out):
    benchmark.group = f"{op}-{dtype}-{shape_id(shape)}"
    x = input_array(shape, dtype)
    benchmark.extra_info["nbytes"] = x.nbytes
    if path == "copy":
        fn = make_copy(shape, dtype)
    elif path == "native":
        if getattr(fastact, "BACKEND", "native") != "native":
            pytest.skip(f"fastact.BACKEND is {fastact.BACKEND!r} (FASTACT_BACKEND set?)")
        fn = make_call(op, dtype, shape, use_out, fastact)
    else:
        fn = make_call(op, dtype, shape, use_out, numpy_impl)
    _run(benchmark, fn)


# ------------------------------------------------ the backward reductions
# softmax_backward / log_softmax_backward read two arrays and write one: the
# floor is np.add(g, y, out=o) on the same arrays (the ``add`` path).
BACKWARD_OPS = ("softmax_backward", "log_softmax_backward")
BACKWARD_CASES = [((256, 32000), -1), ((32, 21, 64, 64), 1), ((4096, 128), -1)]


def _backward_params():
    params = []
    for op in BACKWARD_OPS:
        for dtype in ("float32", "float64"):
            for shape, axis in BACKWARD_CASES:
                sid = shape_id(shape)
                for path in ("native", "numpy", "add"):
                    params.append(pytest.param(op, dtype, shape, axis, path,
                                               id=f"{op}-{dtype}-{sid}-ax{axis}-{path}"))
    return params


@pytest.mark.parametrize("op,dtype,shape,axis,path", _backward_params())
def test_bench_backward(benchmark, op, dtype, shape, axis, path):
    import numpy as np

    benchmark.group = f"{op}-{dtype}-{shape_id(shape)}-ax{axis}"
    g = input_array(shape, dtype)
    x = input_array(shape, dtype)[..., ::-1].copy()
    fwd = fastact.softmax if op == "softmax_backward" else fastact.log_softmax
    y = fwd(x, axis)
    out = np.empty_like(g)
    benchmark.extra_info["nbytes"] = 3 * g.nbytes
    if path == "add":
        fn = lambda: np.add(g, y, out=out)  # noqa: E731
    elif path == "native":
        if getattr(fastact, "BACKEND", "native") != "native":
            pytest.skip(f"fastact.BACKEND is {fastact.BACKEND!r} (FASTACT_BACKEND set?)")
        f = getattr(fastact, op)
        fn = lambda: f(g, y, axis, out=out)  # noqa: E731
    else:
        f = getattr(numpy_impl, op)
        fn = lambda: f(g, y, axis, out=out)  # noqa: E731
    _run(benchmark, fn)


# ------------------------------------------------- the backward element-wise maps
# relu / leaky_relu / sigmoid backward read two arrays and write one: floor
# np.add(g, x, out=o) on the same arrays (the ``add`` path).
MAP2_OPS = ("relu_backward", "leaky_relu_backward", "sigmoid_backward")
MAP2_SHAPES = ((2 ** 20,), (2 ** 24,))


def _map2_params():
    return [pytest.param(op, dtype, shape, path, id=f"{op}-{dtype}-{shape_id(shape)}-{path}")
            for op in MAP2_OPS for dtype in ("float32", "float64") for shape in MAP2_SHAPES
            for path in ("native", "numpy", "add")]


@pytest.mark.parametrize("op,dtype,shape,path", _map2_params())
def test_bench_map2(benchmark, op, dtype, shape, path):
    import numpy as np

    benchmark.group = f"{op}-{dtype}-{shape_id(shape)}"
    g = input_array(shape, dtype)[::-1].copy()
    x = input_array(shape, dtype)
    second = fastact.sigmoid(x) if op == "sigmoid_backward" else x  # y for sigmoid
    out = np.empty_like(g)
    benchmark.extra_info["nbytes"] = 3 * g.nbytes
    if path == "add":
        fn = lambda: np.add(g, second, out=out)  # noqa: E731
    else:
        if path == "native" and getattr(fastact, "BACKEND", "native") != "native":
            pytest.skip(f"fastact.BACKEND is {fastact.BACKEND!r} (FASTACT_BACKEND set?)")
        f = getattr(fastact if path == "native" else numpy_impl, op)
        fn = lambda: f(g, second, out=out)  # noqa: E731
    _run(benchmark, fn)


# ------------------------------------ binary cross-entropy with logits
# binary_cross_entropy_with_logits(_with_grad) reads logits and targets (and
# the fused op writes dlogits): the floor is np.add(x, y, out=o) on the same
# arrays (the ``add`` path).  reduction="mean", no weights; the gradient
# into a ready buffer (out=).
BCE_OPS = ("binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_with_grad")
BCE_SHAPES = [(2 ** 22,), (4096, 80)]


def _bce_params():
    params = []
    for op in BCE_OPS:
        for dtype in ("float32", "float64"):
            for shape in BCE_SHAPES:
                sid = shape_id(shape)
                for path in ("native", "numpy", "add"):
                    params.append(pytest.param(op, dtype, shape, path,
                                               id=f"{op}-{dtype}-{sid}-{path}"))
    return params


@pytest.mark.parametrize("op,dtype,shape,path", _bce_params())
def test_bench_bce(benchmark, op, dtype, shape, path):
    import numpy as np

    benchmark.group = f"{op}-{dtype}-{shape_id(shape)}"
    x = input_array(shape, dtype)
    y = (np.random.default_rng(5).random(shape)).astype(dtype)
    out = np.empty_like(x)
    benchmark.extra_info["nbytes"] = 3 * x.nbytes
    grad = op.endswith("_with_grad")
    if path == "add":
        fn = lambda: np.add(x, y, out=out)  # noqa: E731
    else:
        if path == "native":
            if getattr(fastact, "BACKEND", "native") != "native":
                pytest.skip(f"fastact.BACKEND is {fastact.BACKEND!r} (FASTACT_BACKEND set?)")
            mod = fastact
        else:
            mod = numpy_impl
        f = getattr(mod, op)
        if grad:
            fn = lambda: f(x, y, out=out)  # noqa: E731
        else:
            fn = lambda: f(x, y)  # noqa: E731
    _run(benchmark, fn)


# ------------------------------------------------ where= (masked softmax)
# where= (masked softmax for attention): (B, H, T, T) scores with a (T, T)
# causal mask, last axis and axis -2, f32 and f64; the floor is np.copyto of
# the same bytes (``copy``), and ``unmasked`` the same op without where=
# (the speed goal: masked <= 1.1x unmasked, last axis, one thread).
MASKED_OPS = ("softmax", "log_softmax")
MASKED_CASES = [((8, 8, 512, 512), -1), ((8, 8, 512, 512), -2), ((32, 4, 128, 128), -1)]


def _masked_params():
    params = []
    for op in MASKED_OPS:
        for dtype in ("float32", "float64"):
            for shape, axis in MASKED_CASES:
                sid = shape_id(shape)
                for path in ("native", "numpy", "unmasked", "copy"):
                    params.append(pytest.param(op, dtype, shape, axis, path,
                                               id=f"masked-{op}-{dtype}-{sid}-ax{axis}-{path}"))
    return params


@pytest.mark.parametrize("op,dtype,shape,axis,path", _masked_params())
def test_bench_masked(benchmark, op, dtype, shape, axis, path):
    import numpy as np

    benchmark.group = f"masked-{op}-{dtype}-{shape_id(shape)}-ax{axis}"
    x = input_array(shape, dtype)
    mask = np.tril(np.ones(shape[-2:], bool))
    out = np.empty_like(x)
    benchmark.extra_info["nbytes"] = 2 * x.nbytes
    if path == "copy":
        fn = lambda: np.copyto(out, x)  # noqa: E731
    elif path in ("native", "unmasked"):
        if getattr(fastact, "BACKEND", "native") != "native":
            pytest.skip(f"fastact.BACKEND is {fastact.BACKEND!r} (FASTACT_BACKEND set?)")
        f = getattr(fastact, op)
        if path == "native":
            fn = lambda: f(x, axis, where=mask, out=out)  # noqa: E731
        else:
            fn = lambda: f(x, axis, out=out)  # noqa: E731
    else:
        f = getattr(numpy_impl, op)
        fn = lambda: f(x, axis, where=mask, out=out)  # noqa: E731
    _run(benchmark, fn)
