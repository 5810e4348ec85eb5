"""Thread stress (issue 15): many Python threads calling every op at once on
shared read-only inputs into private outputs, bit-identical to the serial
results, with fastact's own pool on; no deadlock when a concurrent.futures
pool calls while another thread keeps changing the thread count, nor in a
child forked while the parent's pool is busy.

FASTACT_STRESS_CALLS sets the calls per Python thread (default 10^4, as the
issue asks; each call is small, so the 8 threads take a few seconds)."""

import concurrent.futures as cf
import os
import signal
import threading
import time

import numpy as np
import pytest

import fastact

pytestmark = pytest.mark.skipif(fastact.BACKEND != "native", reason="native backend only")

CALLS = int(os.environ.get("FASTACT_STRESS_CALLS", "10000"))
THREADS = 8


def _inputs(dtype):
    rng = np.random.default_rng(11)
    small = (rng.standard_normal((16, 33)) * 4).astype(dtype)
    small[3, 5] = np.nan
    # large enough for the pool to split it (one such call in every 16)
    big = (rng.standard_normal((64, 4099)) * 4).astype(dtype)
    cols = (rng.standard_normal((9, 17, 13)) * 4).astype(dtype)
    g = rng.standard_normal(small.shape).astype(dtype)
    t = rng.integers(0, 33, 16)
    t[::5] = -100
    t01 = (rng.random(small.shape) > 0.5).astype(dtype)
    mask = np.tril(np.ones((16, 33), bool))
    arrays = [small, big, cols, g, t, t01, mask]
    for a in arrays:
        a.flags.writeable = False  # shared and read-only
    return small, big, cols, g, t, t01, mask


def _ops(dtype):
    """[(name, fn(out) -> result or None, out shape)]: every public op, each
    writing into a caller's private out where it has one."""
    x, big, cols, g, t, t01, mask = _inputs(dtype)
    y = fastact.softmax(x)
    ls = fastact.log_softmax(x)
    sg = fastact.sigmoid(x)
    for a in (y, ls, sg):
        a.flags.writeable = False
    return [
        ("softmax", lambda o: fastact.softmax(x, out=o), x.shape),
        ("log_softmax", lambda o: fastact.log_softmax(x, out=o), x.shape),
        ("logsumexp", lambda o: fastact.logsumexp(x, out=o), x.shape[:1]),
        ("softmax axis=1", lambda o: fastact.softmax(cols, axis=1, out=o), cols.shape),
        ("softmax where", lambda o: fastact.softmax(x, where=mask, out=o), x.shape),
        ("log_softmax where", lambda o: fastact.log_softmax(x, where=mask, out=o), x.shape),
        ("relu", lambda o: fastact.relu(x, out=o), x.shape),
        ("leaky_relu", lambda o: fastact.leaky_relu(x, 0.1, out=o), x.shape),
        ("sigmoid", lambda o: fastact.sigmoid(x, out=o), x.shape),
        ("softmax_backward", lambda o: fastact.softmax_backward(g, y, out=o), x.shape),
        ("log_softmax_backward", lambda o: fastact.log_softmax_backward(g, ls, out=o), x.shape),
        ("relu_backward", lambda o: fastact.relu_backward(g, x, out=o), x.shape),
        ("sigmoid_backward", lambda o: fastact.sigmoid_backward(g, sg, out=o), x.shape),
        ("cross_entropy_with_grad",
         lambda o: fastact.cross_entropy_with_grad(x, t, label_smoothing=0.1, out=o)[0], x.shape),
        ("bce_with_grad",
         lambda o: fastact.binary_cross_entropy_with_logits_with_grad(x, t01, out=o)[0], x.shape),
        ("softmax big (pool)", lambda o: fastact.softmax(big, out=o), big.shape),
    ]


def _result_bytes(o, r):
    """What a call produced: its out buffer and the returned value (the loss
    of the fused ops; None where the op returns only out), as bytes."""
    return o.tobytes(), None if r is None else np.asarray(r).tobytes()


def _serial(ops, dtype):
    res = []
    for _, fn, shape in ops:
        o = np.empty(shape, dtype)
        res.append(_result_bytes(o, fn(o)))
    return res


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_many_threads_every_op_bit_identical(restore_threads, dtype):
    fastact.set_num_threads(2)
    ops = _ops(dtype)
    expected = _serial(ops, dtype)
    errors = []

    def work(k):
        outs = [np.empty(shape, dtype) for _, _, shape in ops]  # private outputs
        try:
            for c in range(CALLS):
                i = (c + k) % len(ops)
                if _result_bytes(outs[i], ops[i][1](outs[i])) != expected[i]:
                    errors.append(f"thread {k} call {c}: {ops[i][0]} differs from the serial run")
                    return
        except Exception as exc:  # reported below
            errors.append(f"thread {k}: {exc!r}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    assert not errors, errors[:5]


def test_futures_pool_while_the_thread_count_changes(restore_threads):
    """Calls from a concurrent.futures pool while another thread keeps
    resizing fastact's pool: every result as the serial one, no deadlock."""
    ops = _ops(np.float32)
    expected = _serial(ops, np.float32)
    stop = threading.Event()

    def resize():
        counts = (1, 2, 3, 8, 2)
        i = 0
        while not stop.is_set():
            fastact.set_num_threads(counts[i % len(counts)])
            i += 1
            time.sleep(0.0005)

    def call(i):
        o = np.empty(ops[i][2], np.float32)
        return i, _result_bytes(o, ops[i][1](o))

    resizer = threading.Thread(target=resize)
    resizer.start()
    try:
        with cf.ThreadPoolExecutor(max_workers=4) as ex:
            futures = [ex.submit(call, k % len(ops)) for k in range(max(CALLS // 5, 200))]
            for f in cf.as_completed(futures, timeout=600):
                i, got = f.result()
                assert got == expected[i], ops[i][0]
    finally:
        stop.set()
        resizer.join(timeout=60)
    assert not resizer.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_the_pool_is_busy(restore_threads):
    """fork() while another thread keeps the parent's pool busy: the child's
    calls complete (its pool is rebuilt) and are right; the parent goes on."""
    fastact.set_num_threads(2)
    x = np.random.default_rng(5).standard_normal((256, 4099)).astype(np.float32)
    expected = fastact.softmax(x)
    stop = threading.Event()
    errors = []

    def busy():
        o = np.empty_like(x)
        while not stop.is_set():
            fastact.softmax(x, out=o)
            if o.tobytes() != expected.tobytes():
                errors.append("parent result changed")
                return

    th = threading.Thread(target=busy)
    th.start()
    try:
        for _ in range(5):
            time.sleep(0.01)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # child: only the forking thread exists here
                ok = all(np.array_equal(fastact.softmax(x), expected) for _ in range(3))
                os.write(w, b"1" if ok else b"0")
                os._exit(0)
            os.close(w)
            deadline = time.monotonic() + 60
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    pytest.fail("the forked child hung")
                time.sleep(0.01)
            got = os.read(r, 1)
            os.close(r)
            assert got == b"1" and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        stop.set()
        th.join(timeout=60)
    assert not th.is_alive() and not errors, errors
