"""Softmax and cross-entropy over a 4 GiB array of logits with fastact.dask,
in bounded memory.

The logits, (N, 32000) float32, and the labels are generated block by block
by dask.array.random and never held whole: each block of rows is generated,
passed through fastact's kernels and dropped.  The logits are uniform in
[0, 1) by default (NumPy generates them about 9x faster than normal ones,
so that the kernels' share of the time shows; ``--normal`` for standard
normal logits).  One pass computes the mean
cross-entropy (fastact.dask.cross_entropy) and the mean top-1 probability
(fastact.dask.softmax, then a max per row), with dask's threaded scheduler.
A generation-only pass (the same blocks, reduced to one number) is timed
first, so the kernels' share of the time shows.  Printed: the job's time,
its throughput in GB/s of logits, the process's peak RSS, and a check of
the first blocks against the in-memory functions.

Run:  python examples/dask_softmax.py [--size 4G] [--classes 32000] [--rows 256]
                                      [--threads N] [--fastact-threads N] [--normal]
(needs the dask extra: pip install "fastact[dask]")
"""
# dask's functions carry no type annotations; the rest is checked strictly
# mypy: disallow-untyped-calls=False

import argparse
import importlib.util
import os
import resource
import sys
import time

import numpy as np

if importlib.util.find_spec("fastact") is None:  # run from a source checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dask  # noqa: E402
import dask.array as da  # noqa: E402
from dask.base import compute  # noqa: E402

import fastact  # noqa: E402
import fastact.dask as fd  # noqa: E402


def parse_size(text: str) -> int:
    """Bytes from "4G", "512M", "64k" or a plain number (powers of 1024)."""
    scale = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    t = text.strip().lower().rstrip("ib")
    if t and t[-1] in scale:
        return int(float(t[:-1]) * scale[t[-1]])
    return int(float(t))


def peak_rss_mib() -> float:
    """This process's peak resident set size.  On Linux VmHWM of
    /proc/self/status, which starts afresh at exec: getrusage's ru_maxrss
    there counts from fork, so a child of a large process (a test run)
    would report its parent's size."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 2**10  # bytes on macOS, KiB elsewhere


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="4G", help="bytes of float32 logits (default 4G = 4 GiB)")
    ap.add_argument("--classes", type=int, default=32000)
    ap.add_argument("--rows", type=int, default=256, help="rows per block (default 256)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="dask worker threads (default: the cores)")
    ap.add_argument("--fastact-threads", type=int, default=0,
                    help="fastact's own thread count (default: unchanged)")
    ap.add_argument("--normal", action="store_true", help="standard normal logits")
    args = ap.parse_args()
    if args.fastact_threads:
        fastact.set_num_threads(args.fastact_threads)
    C, rows = args.classes, args.rows
    N = max(1, parse_size(args.size) // (4 * C))
    nbytes = N * C * 4
    rng = da.random.default_rng(12345)
    if args.normal:
        logits = rng.standard_normal((N, C), dtype=np.float32, chunks=(rows, C))
    else:
        logits = rng.random((N, C), dtype=np.float32, chunks=(rows, C))
    labels = rng.integers(0, C, size=N, chunks=rows)
    print(f"fastact {fastact.__version__}; logits {N} x {C} float32 = {nbytes / 1e9:.2f} GB "
          f"in {len(logits.chunks[0])} blocks of {rows} rows ({rows * C * 4 / 2**20:.1f} MiB); "
          f"{args.threads} dask threads, fastact threads {fastact.get_num_threads()}")

    with dask.config.set(scheduler="threads", num_workers=args.threads):
        warm = min(N, 2 * args.threads * rows)  # the allocator's first big blocks fault their pages in
        compute(fd.softmax(logits[:warm]).max(), fd.cross_entropy(logits[:warm], labels[:warm]))
        t0 = time.perf_counter()
        compute(logits[:, :1].sum(), labels.sum())  # generation only
        t_gen = time.perf_counter() - t0

        loss = fd.cross_entropy(logits, labels)                 # mean over all rows
        confidence = fd.softmax(logits).max(axis=-1).mean()     # mean top-1 probability
        t0 = time.perf_counter()
        loss_v, conf_v = compute(loss, confidence)              # one pass: blocks generated once
        t_job = time.perf_counter() - t0
        rss_job = peak_rss_mib()

        # the first two blocks against the in-memory functions
        k = min(N, 2 * rows)
        x0, t0_ = compute(logits[:k], labels[:k])
        sm_ok = np.array_equal(fd.softmax(logits[:k]).compute(), fastact.softmax(x0))
        none_ok = np.array_equal(fd.cross_entropy(logits[:k], labels[:k], reduction="none").compute(),
                                 fastact.cross_entropy(x0, t0_, reduction="none"))
        part = float(fd.cross_entropy(logits[:k], labels[:k]).compute())
        ref = fastact.cross_entropy(x0, t0_)
        mean_ulps = abs(part - float(ref)) / float(np.spacing(np.abs(ref)))

    print(f"{'normal' if args.normal else 'uniform'} logits: mean cross-entropy "
          f"{float(loss_v):.6f} (log C = {np.log(C):.6f}), "
          f"mean top-1 probability {float(conf_v):.3e}")
    print(f"generation only: {t_gen:.2f} s ({nbytes / t_gen / 1e9:.2f} GB/s)")
    print(f"softmax + cross-entropy job: {t_job:.2f} s, throughput {nbytes / t_job / 1e9:.2f} GB/s "
          f"of logits ({max(t_job - t_gen, 0.0):.2f} s beyond the generation: fastact's kernels "
          f"and NumPy's max over the probabilities)")
    print(f"peak RSS after the job {rss_job:.0f} MiB (logits {nbytes / 2**20:.0f} MiB)")
    print(f"first {k} rows against the in-memory functions: softmax bit-identical {sm_ok}, "
          f"per-sample cross-entropy bit-identical {none_ok}, mean within {mean_ulps:.0f} ULP")
    ok = sm_ok and none_ok and mean_ulps <= 2 and np.isfinite(float(loss_v))
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
