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
