"""Leaks (issue 15): many calls of each op, half of them raising on a bad
argument, leave the process's memory flat.

Two measures per op, after a warm-up (caches, the pool, interned objects):
* tracemalloc's traced total (Python objects and NumPy's data buffers): at
  most 64 KiB more after the calls;
* resident set size (Linux: /proc/self/statm; it also sees C allocations,
  which tracemalloc does not): at most 2 MiB more over half the calls, i.e.
  under 42 bytes per call at the default count (a leak of one small object
  per call shows).

FASTACT_LEAK_CALLS sets the calls per op, half of them in each measure
(default 10^5, as the issue asks); 0 skips the test (.ci/run's sanitizer
runs: AddressSanitizer's quarantine keeps freed memory resident)."""

import gc
import os
import tracemalloc

import numpy as np
import pytest

import fastact

pytestmark = pytest.mark.skipif(fastact.BACKEND != "native", reason="native backend only")

CALLS = int(os.environ.get("FASTACT_LEAK_CALLS", "100000"))
TRACED_BOUND = 64 * 1024
RSS_BOUND = 2 * 1024 * 1024


def _rss():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _cases():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 9)).astype(np.float32)
    g = rng.standard_normal((4, 9)).astype(np.float32)
    y = fastact.softmax(x)
    t = np.array([0, 3, 8, 1])
    bad_t = np.array([0, 3, 9, 1])  # 9 is out of range
    t01 = (rng.random((4, 9)) > 0.5).astype(np.float32)
    o = np.empty_like(x)
    o1 = np.empty(4, np.float32)
    o0 = np.empty((), np.float32)
    cplx = x.astype(np.complex64)
    return {
        "softmax": (lambda: fastact.softmax(x, out=o), lambda: fastact.softmax(x, axis=3)),
        "softmax where": (lambda: fastact.softmax(x, where=x > 0, out=o),
                          lambda: fastact.softmax(x, where=np.ones((5, 9), bool))),
        "log_softmax": (lambda: fastact.log_softmax(x), lambda: fastact.log_softmax(cplx)),
        "logsumexp": (lambda: fastact.logsumexp(x, out=o1), lambda: fastact.logsumexp(x, out=o)),
        "relu": (lambda: fastact.relu(x, out=o), lambda: fastact.relu("x")),
        "leaky_relu": (lambda: fastact.leaky_relu(x), lambda: fastact.leaky_relu(cplx)),
        "sigmoid": (lambda: fastact.sigmoid(x, out=o), lambda: fastact.sigmoid(x, out=o1)),
        "softmax_backward": (lambda: fastact.softmax_backward(g, y, out=o),
                             lambda: fastact.softmax_backward(g, y[:3])),
        "log_softmax_backward": (lambda: fastact.log_softmax_backward(g, y),
                                 lambda: fastact.log_softmax_backward(g, y, axis=2)),
        "relu_backward": (lambda: fastact.relu_backward(g, x, out=o),
                          lambda: fastact.relu_backward(g, cplx)),
        "leaky_relu_backward": (lambda: fastact.leaky_relu_backward(g, x),
                                lambda: fastact.leaky_relu_backward(g, x[:2])),
        "sigmoid_backward": (lambda: fastact.sigmoid_backward(g, y, out=o),
                             lambda: fastact.sigmoid_backward(g, object())),
        "cross_entropy": (lambda: fastact.cross_entropy(x, t, out=o0),
                          lambda: fastact.cross_entropy(x, bad_t)),
        "cross_entropy_with_grad": (lambda: fastact.cross_entropy_with_grad(x, t, out=o),
                                    lambda: fastact.cross_entropy_with_grad(x, bad_t, out=o)),
        "bce": (lambda: fastact.binary_cross_entropy_with_logits(x, t01),
                lambda: fastact.binary_cross_entropy_with_logits(x, t01, reduction="avg")),
        "bce_with_grad": (lambda: fastact.binary_cross_entropy_with_logits_with_grad(x, t01, out=o),
                          lambda: fastact.binary_cross_entropy_with_logits_with_grad(x, t01[:2])),
    }


CASES = _cases()


def _run(ok, bad, n):
    for _ in range(n):
        ok()
        try:
            bad()
        except (TypeError, ValueError, IndexError):
            pass
        else:  # pragma: no cover
            raise AssertionError("the bad call did not raise")


@pytest.mark.parametrize("name", list(CASES))
def test_calls_leave_memory_flat(name):
    if CALLS == 0:
        pytest.skip("FASTACT_LEAK_CALLS=0")
    ok, bad = CASES[name]
    half = max(CALLS // 4, 1)  # iterations per measure, two calls each
    _run(ok, bad, 2000)  # warm-up
    gc.collect()
    rss0 = _rss()
    _run(ok, bad, half)
    gc.collect()
    rss1 = _rss()
    tracemalloc.start()
    try:
        _run(ok, bad, 200)  # tracemalloc's own tables settle
        gc.collect()
        t0 = tracemalloc.get_traced_memory()[0]
        _run(ok, bad, half)
        gc.collect()
        t1 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert t1 - t0 <= TRACED_BOUND, f"{name}: traced memory grew by {t1 - t0} bytes"
    if rss0 is not None:
        assert rss1 - rss0 <= RSS_BOUND, f"{name}: RSS grew by {rss1 - rss0} bytes"
