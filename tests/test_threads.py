"""Threads: set/get_num_threads, results bit-identical for every thread
count, many Python threads calling at once, and a forked child.

They hold for both builds: with the pool (``_native.THREADS_AVAILABLE``)
and without threads (``FASTACT_NO_THREADS=1`` at build time, setup.py),
where every call runs on the calling thread, ``get_num_threads()`` is
always 1 and ``set_num_threads`` checks its argument, then does nothing.
FASTACT_EXPECT_NO_THREADS=1 (set by .ci/serial) makes the build's kind an
assertion, so that a run meant for the serial build cannot pass on the
other."""

import os
import threading

import numpy as np
import pytest

import fastact

native = pytest.importorskip("fastact._native")
pytestmark = pytest.mark.skipif(fastact.BACKEND != "native", reason="native backend only")
POOL = native.THREADS_AVAILABLE


def effective(n):
    """What get_num_threads() reads after set_num_threads(n) in this build."""
    return n if POOL else 1


def test_the_build_is_the_expected_kind():
    assert type(POOL) is bool
    if os.environ.get("FASTACT_EXPECT_NO_THREADS", "") not in ("", "0"):
        assert not POOL, "FASTACT_EXPECT_NO_THREADS is set but this build has the thread pool"
    else:  # every platform setup.py builds for has threads (POSIX or Win32)
        assert POOL, "this build has no thread pool (FASTACT_NO_THREADS=1?)"


def test_default_is_the_usable_cores():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # the fixture of other tests restores it; a fresh process shows the default
    import subprocess, sys
    out = subprocess.run([sys.executable, "-c", "import fastact; print(fastact.get_num_threads())"],
                         capture_output=True, text=True, check=True)
    assert int(out.stdout) == effective(expected)


def test_set_get(restore_threads):
    fastact.set_num_threads(3)
    assert fastact.get_num_threads() == effective(3)
    fastact.set_num_threads(1)
    assert fastact.get_num_threads() == 1
    with pytest.raises(ValueError):
        fastact.set_num_threads(0)
    with pytest.raises(TypeError):
        fastact.set_num_threads(2.5)
    assert fastact.show_config()["num_threads"] == 1


def test_cap_in_either_build(restore_threads):
    """The argument checks are the same without threads; the cap reads back
    as itself with the pool, as 1 without (test_conventions' thread-cap
    tests assume the pool)."""
    with pytest.raises(ValueError, match=r"\[1, 256\]"):
        fastact.set_num_threads(257)
    with pytest.raises(TypeError):
        fastact.set_num_threads(True)
    fastact.set_num_threads(fastact.MAX_THREADS)
    assert fastact.get_num_threads() == effective(fastact.MAX_THREADS)
    native.set_num_threads(10**6)  # the C layer clamps (or ignores) what the checks let by
    assert fastact.get_num_threads() == effective(fastact.MAX_THREADS)


def big_inputs(dtype):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((301, 1013)) * 8).astype(dtype)
    x[5, 7] = np.nan
    x[9] = -np.inf
    x3 = (rng.standard_normal((37, 61, 47)) * 3).astype(dtype)   # axis=1: inner > 1
    t = rng.integers(0, 1013, 301)
    t[::13] = -100
    p = rng.random((301, 1013)).astype(dtype)
    w = rng.random(1013) + 0.5
    return x, x3, t, p, w


def run_all(dtype):
    x, x3, t, p, w = big_inputs(dtype)
    return [
        fastact.softmax(x), fastact.log_softmax(x), fastact.logsumexp(x),
        fastact.softmax(x3, axis=1), fastact.logsumexp(x3, axis=1),
        # axis 0 of a matrix: one outer index, 4 chunks of columns in parallel
        fastact.softmax(x, axis=0), fastact.log_softmax(x, axis=0), fastact.logsumexp(x, axis=0),
        fastact.relu(x3.reshape(-1)),
        fastact.cross_entropy(x, t, weight=w, label_smoothing=0.1),
        fastact.cross_entropy(x, t, reduction="none"),
        fastact.cross_entropy(x, t, reduction="sum"),
        fastact.cross_entropy(x, p, weight=w, label_smoothing=0.2),
        fastact.cross_entropy(x3, t[:37, None].repeat(47, 1) % 61, axis=1),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bit_identical_for_any_thread_count(restore_threads, dtype):
    results = []
    for n in (1, 2, 3, 8):
        fastact.set_num_threads(n)
        results.append(run_all(dtype))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_many_python_threads_at_once(restore_threads, dtype):
    fastact.set_num_threads(2)
    expected = run_all(dtype)
    errors = []

    def work():
        try:
            for _ in range(3):
                got = run_all(dtype)
                for a, b in zip(expected, got):
                    if np.asarray(a).tobytes() != np.asarray(b).tobytes():
                        errors.append("mismatch")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    assert not errors, errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_still_runs_in_parallel(restore_threads):
    fastact.set_num_threads(2)
    x = np.random.default_rng(3).standard_normal((512, 2000)).astype(np.float32)
    expected = fastact.softmax(x)            # the pool exists in the parent now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the pool's workers did not survive fork
        ok = np.array_equal(fastact.softmax(x), expected)
        os.write(w, b"1" if ok else b"0")
        os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.waitpid(pid, 0)
    assert got == b"1"


def test_threadpoolctl_lists_only_fastacts_native_module():
    """Other packages' "_native" extension modules (hypothesis ships one) are
    not fastact pools: every entry is fastact's own module."""
    tpc = pytest.importorskip("threadpoolctl")
    pytest.importorskip("hypothesis")
    import hypothesis.extra.numpy  # noqa: F401  (loads hypothesis/_native where it has one)

    from fastact import _native

    files = [i["filepath"] for i in tpc.threadpool_info() if i["user_api"] == "fastact"]
    assert files == [os.path.realpath(_native.__file__)] or files == [_native.__file__], files


def test_threadpoolctl_sees_and_limits_the_pool(restore_threads):
    """Without threads threadpoolctl still lists fastact, with 1 thread."""
    tpc = pytest.importorskip("threadpoolctl")
    fastact.set_num_threads(2)
    info = [i for i in tpc.threadpool_info() if i["user_api"] == "fastact"]
    assert len(info) == 1 and info[0]["num_threads"] == effective(2)
    assert info[0]["version"] == fastact.__version__
    with tpc.threadpool_limits(1, user_api="fastact"):
        assert fastact.get_num_threads() == 1
    assert fastact.get_num_threads() == effective(2)
    with tpc.threadpool_limits(1):
        assert fastact.get_num_threads() == 1
    assert fastact.get_num_threads() == effective(2)
    with tpc.threadpool_limits(1000, user_api="fastact"):
        assert fastact.get_num_threads() == effective(fastact.MAX_THREADS)
    assert fastact.get_num_threads() == effective(2)
