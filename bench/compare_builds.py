"""Compare the speed of two fastact builds by alternating runs.

Single timing runs on a shared 2-core machine vary by 10-20%, more than the
differences worth finding between two builds.  This script measures the
cases of ``bench/peers.py``'s table (fastact only, with ``out=`` buffers)
plus a few non-last-axis cases in one build, then the other, in rounds that
alternate the order (A B, B A, A B, ...), each build in a fresh interpreter.
It reports per case the median over the rounds of each build's median, and
the median of the per-round ratios B / A (a pair of measurements taken
seconds apart, so load that drifts slowly cancels out of it).

A build is a directory that holds an installed ``fastact`` (e.g. made with
``pip install --target DIR fastact-*.whl``; ``tests/reference/bitident.py
build`` makes one of any commit), or ``.`` for whatever ``import fastact``
finds in this interpreter::

    python bench/compare_builds.py --a /tmp/ref/site --b . --rounds 8

``--callgrind`` counts instructions instead (valgrind's callgrind, inside
the C entry points only, one call per case, one thread): the same for the
same build and inputs whatever the load, so it settles what timings on a
busy machine cannot; valgrind runs no AVX-512, so set ``FASTACT_ISA=avx2``
(or lower) for both builds.

Prints a markdown table; exits 1 if a worker fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (op, dtype, shape, axis): bench/peers.py's table cases, then non-last axes
ROW_SHAPES = ((1, 10), (64, 1000), (4096, 128), (256, 32000), (2 ** 22,))
CASES = (
    [(op, dt, s, -1) for op in ("softmax", "log_softmax", "logsumexp")
     for dt in ("float32", "float64") for s in ROW_SHAPES]
    + [("relu", dt, s, None) for dt in ("float32", "float64") for s in ((2 ** 20,), (2 ** 24,))]
    + [("cross_entropy", dt, s, -1) for dt in ("float32", "float64")
       for s in ((64, 1000), (4096, 128), (256, 32000))]
    + [(op, dt, s, ax) for op in ("softmax", "log_softmax")
       for dt in ("float32", "float64") for s, ax in (((32, 21, 64, 64), 1), ((1000, 256), 0))]
    # bench/peers.py's float32 short-row shapes (attention and classifier rows)
    + [(op, "float32", s, -1) for op in ("softmax", "log_softmax")
       for s in ((32768, 64), (1024, 512), (256, 2048), (8, 8, 512, 512))]
)


def case_name(op, dt, shape, axis):
    s = "×".join(map(str, shape)) if len(shape) > 1 else f"2^{shape[0].bit_length() - 1}"
    return f"{op} {dt[0]}{dt[-2:]} {s}" + ("" if axis in (-1, None) else f" axis={axis}")


# the C entry points (this tree's and older builds'): callgrind counts inside them
ENTRY_POINTS = ("fa_reduce", "fa_map", "fa_loss", "fa_relu", "fa_cross_entropy")


def worker(site: str, threads: int, target: float, only: int | None = None) -> None:
    """Time every case with the fastact found in ``site``; print JSON.  With
    ``only``, call that case (an index of CASES) once instead (--callgrind)."""
    if site != ".":
        sys.path.insert(0, os.path.abspath(site))
    import numpy as np

    import fastact

    if site != "." and not os.path.abspath(fastact.__file__).startswith(os.path.abspath(site)):
        raise SystemExit(f"fastact imported from {fastact.__file__}, not from {site}")
    sys.path.insert(1, HERE)
    from peers import measure  # the timing loop of the peers table
    from summary import input_array, steady_state_allocator, target_array

    steady_state_allocator()
    fastact.set_num_threads(threads)
    res = {}
    for i, (op, dt, shape, axis) in enumerate(CASES):
        if only is not None and i != only:
            continue
        x = input_array(shape, np.dtype(dt))
        if op == "cross_entropy":
            t = target_array(shape)
            o = np.empty((), x.dtype)
            fn = lambda x=x, t=t, o=o: fastact.cross_entropy(x, t, out=o)  # noqa: E731
        elif op == "relu":
            o = np.empty_like(x)
            fn = lambda x=x, o=o: fastact.relu(x, out=o)  # noqa: E731
        elif op == "logsumexp":
            o = np.empty(x.shape[:-1], x.dtype)
            fn = lambda x=x, o=o: fastact.logsumexp(x, axis=-1, out=o)  # noqa: E731
        else:
            f = getattr(fastact, op)
            o = np.empty_like(x)
            fn = lambda x=x, o=o, f=f, axis=axis: f(x, axis=axis, out=o)  # noqa: E731
        if only is not None:
            fn()
            res[case_name(op, dt, shape, axis)] = None
        else:
            res[case_name(op, dt, shape, axis)] = measure(fn, target)[0]
    print(json.dumps({"file": fastact.__file__, "times": res}))


def run_worker(site, threads, target):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", site, "--threads", str(threads),
           "--target", str(target)]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"worker for {site} failed")
    return json.loads(r.stdout.strip().splitlines()[-1])


def callgrind_counts(site, workdir):
    """{case: instructions executed inside the C entry points} for ``site``:
    one valgrind run per case (callgrind's --dump-after does not mix with
    --toggle-collect), so about 6 s per case."""
    counts = {}
    for i, case in enumerate(CASES):
        out = os.path.join(workdir, f"cg.{i}")
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
               f"--callgrind-out-file={out}"]
        cmd += [f"--toggle-collect={f}" for f in ENTRY_POINTS]
        cmd += [sys.executable, os.path.abspath(__file__), "--worker", site, "--threads", "1",
                "--count", str(i)]
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-3000:])
            raise SystemExit(f"callgrind worker for {site} failed")
        with open(out) as fh:
            m = re.search(r"^summary: (\d+)", fh.read(), re.M)
        counts[case_name(*case)] = int(m.group(1))
    return counts


def fmt(sec):
    return f"{sec * 1e6:,.1f}" if sec < 1e-3 else f"{sec * 1e6:,.0f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", help="build A: a directory holding fastact, or '.'")
    ap.add_argument("--b", default=".", help="build B (default '.': this interpreter's)")
    ap.add_argument("--rounds", type=int, default=6, help="rounds of A and B (default 6)")
    ap.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    ap.add_argument("--target", type=float, default=0.1,
                    help="seconds of timed calls per case and run (default 0.1)")
    ap.add_argument("--only", default="",
                    help="only the cases whose name contains this (e.g. 'axis=', 'f32')")
    ap.add_argument("--callgrind", action="store_true",
                    help="count instructions with valgrind instead of timing")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.only:
        global CASES
        CASES = [c for c in CASES if args.only in case_name(*c)]
        if not CASES:
            ap.error(f"--only {args.only!r} matches no case")
        os.environ["FASTACT_COMPARE_ONLY"] = args.only  # for the workers
    elif os.environ.get("FASTACT_COMPARE_ONLY"):
        CASES = [c for c in CASES if os.environ["FASTACT_COMPARE_ONLY"] in case_name(*c)]
    threads = [int(t) for t in args.threads.split(",")]
    if args.worker:
        worker(args.worker, threads[0], args.target, args.count)
        return 0
    if not args.a:
        ap.error("--a is required")
    t0 = time.time()
    if args.callgrind:
        import tempfile

        with tempfile.TemporaryDirectory() as wd:
            ca, cb = callgrind_counts(args.a, wd), callgrind_counts(args.b, wd)
        isa = os.environ.get("FASTACT_ISA", "(best)")
        print(f"A = {args.a}, B = {args.b}; instructions inside the C entry points, "
              f"one call, one thread, FASTACT_ISA={isa}\n")
        print("| case | A instructions | B instructions | B/A |\n|---|---:|---:|---:|")
        for name in ca:
            print(f"| {name} | {ca[name]:,} | {cb[name]:,} | {cb[name] / max(ca[name], 1):.4f} |")
        print(f"\n{time.time() - t0:.0f} s")
        return 0
    out = [f"A = {args.a}, B = {args.b}; {args.rounds} alternating rounds; "
           f"load average at start {os.getloadavg()[0]:.2f}", ""]
    for nthr in threads:
        runs = {"A": [], "B": []}
        for r in range(args.rounds):
            for which in ("AB" if r % 2 == 0 else "BA"):
                site = args.a if which == "A" else args.b
                runs[which].append(run_worker(site, nthr, args.target))
        files = {k: v[0]["file"] for k, v in runs.items()}
        out += [f"threads={nthr}: A from {files['A']}, B from {files['B']}", "",
                "| case | A median µs | B median µs | B/A (median of rounds) | B/A range |",
                "|---|---:|---:|---:|---|"]
        for name in runs["A"][0]["times"]:
            a = [x["times"][name] for x in runs["A"]]
            b = [x["times"][name] for x in runs["B"]]
            ratios = [bb / aa for aa, bb in zip(a, b)]
            out.append(f"| {name} | {fmt(statistics.median(a))} | {fmt(statistics.median(b))} | "
                       f"{statistics.median(ratios):.3f} | {min(ratios):.2f}–{max(ratios):.2f} |")
        out.append("")
    out.append(f"load average at end {os.getloadavg()[0]:.2f}; {time.time() - t0:.0f} s")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
