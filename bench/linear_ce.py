#!/usr/bin/env python
"""linear_cross_entropy (issue 18) against its floors and PyTorch, with its
memory.

At one size (default N=2048, d=512, V=64000 float32: logits of 500 MiB that
are never formed), median seconds of a few runs of:

* the floors, per block shape at the chunk: row blocks of ``chunk // V``
  whole rows and vocabulary tiles of about sqrt(chunk) x sqrt(chunk) (the
  two regimes of ``_linear_ce._plan``): ``1 GEMM`` (``h_b @ W_b``, the
  loss's floor) and ``3 GEMMs`` (``h_b @ W_b``, ``Z @ W_b.T``,
  ``h_b.T @ Z``: the floor with the gradients) in each, and ``4 GEMMs``
  in tiles (the logits formed again in the backward sweep);
* fastact's ``linear_cross_entropy`` (native) as the library plans it,
  loss only and with the gradients, and the NumPy twin's;
* with ``--regimes``, fastact in each regime, forced, at the same chunk;
* PyTorch (if installed): ``F.linear`` + ``F.cross_entropy``, forward and
  backward through autograd, with the logits materialised;

each against the smaller floor of its kind (loss: 1 GEMM, with the
gradients: 3 GEMMs) and the peak memory traced (tracemalloc) during
fastact's forward+backward, above the gradients' own size, against the
logits' size (goal: <= 10%).  The floors' products are written, not added
into dh and dW: a little under the real work.

Usage:  python bench/linear_ce.py [--n 2048 --d 512 --v 64000] [--dtype float32]
        [--threads 1] [--repeats 3] [--chunk ELEMENTS] [--regimes] [--no-torch]
        [--no-twin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import fastact
except ImportError:  # a source checkout without PYTHONPATH
    sys.path.insert(0, os.path.dirname(HERE))
    import fastact
import fastact.numpy_impl as twin  # noqa: E402
from fastact import _linear_ce  # noqa: E402


def median_s(fn, repeats):
    fn()  # warm-up (page faults, BLAS buffers)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--v", type=int, default=64000)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=None,
                    help="fastact, BLAS (threadpoolctl) and torch threads (default: as set)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=None, help="logits per block (default: fastact's)")
    ap.add_argument("--regimes", action="store_true",
                    help="also time fastact in each regime, forced, at the same chunk")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-twin", action="store_true")
    args = ap.parse_args(argv)
    n, d, v, dt = args.n, args.d, args.v, np.dtype(args.dtype)
    chunk = args.chunk or _linear_ce.DEFAULT_CHUNK
    rows = max(1, min(n, chunk // v))  # row blocks (whole rows; none below V)
    tr = max(1, min(n, int(np.sqrt(chunk))))  # vocabulary tiles
    tc = max(1, min(v, chunk // tr))

    limiter = None
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None
    if args.threads:
        fastact.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits
            limiter = threadpool_limits(limits=args.threads, user_api="blas")
        except ImportError:
            print("note: threadpoolctl missing: BLAS threads not limited", file=sys.stderr)
        if torch is not None:
            torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    h = rng.standard_normal((n, d), dtype=np.float64).astype(dt)
    W = (rng.standard_normal((d, v), dtype=np.float64) / np.sqrt(d)).astype(dt)
    t = rng.integers(0, v, n)
    buf = np.empty(max(min(rows, n) * v, tr * tc), dt)
    dh = np.empty((n, d), dt)
    dWb = np.empty((d, v), dt)

    def gemms(br, bc, k):
        """The products of blocks of br rows x bc classes: k = 1 the logits;
        3 also dZ @ W_b.T and h_b.T @ dZ; 4 the logits formed twice."""
        for r0 in range(0, n, br):
            hb = h[r0:r0 + br]
            for v0 in range(0, v, bc):
                Wb = W[:, v0:v0 + bc]
                zb = buf[: hb.shape[0] * Wb.shape[1]].reshape(hb.shape[0], Wb.shape[1])
                for _ in range(1 if k < 4 else 2):
                    np.matmul(hb, Wb, out=zb)
                if k >= 3:
                    np.matmul(zb, Wb.T, out=dh[r0:r0 + br])
                    np.matmul(hb.T, zb, out=dWb[:, v0:v0 + bc])

    def fa(grad, plan=None):
        def call():
            saved = _linear_ce._plan
            if plan is not None:
                _linear_ce._plan = lambda *a: plan
            try:
                fastact.linear_cross_entropy(h, W, t, chunk=chunk, return_grad=grad)
            finally:
                _linear_ce._plan = saved
        return call

    def tw_grad():
        twin.linear_cross_entropy(h, W, t, chunk=chunk, return_grad=True)

    shapes = {}  # the regimes' block shapes at this chunk
    if chunk >= v:
        shapes["row blocks"] = (rows, v)
    if tc < v:
        shapes["tiles"] = (tr, tc)
    planned = {g: _linear_ce._plan(n, v, chunk, g) for g in (False, True)}
    res = {}
    floors = {1: [], 3: []}
    for name, (br, bc) in shapes.items():
        for k in (1, 3, 4) if bc < v else (1, 3):
            key = f"{k} GEMM{'s' if k > 1 else ''}, {name} {br}x{bc}"
            res[key] = median_s(lambda: gemms(br, bc, k), args.repeats)
            if k in floors:
                floors[k].append(res[key])
    for g in (False, True):
        br, bc = planned[g]
        res[f"fastact {'loss+grad' if g else 'loss'} (planned: "
            f"{'row blocks' if bc == v else 'tiles'} {br}x{bc})"] = median_s(fa(g), args.repeats)
    if args.regimes:
        for name, plan in shapes.items():
            for g in (False, True):
                res[f"fastact {'loss+grad' if g else 'loss'}, {name} {plan[0]}x{plan[1]} "
                    "forced"] = median_s(fa(g, plan), args.repeats)
    if not args.no_twin:
        res["NumPy twin loss+grad"] = median_s(tw_grad, args.repeats)
    if torch is not None:
        ht = torch.from_numpy(h).requires_grad_(True)
        Wt = torch.from_numpy(W.T.copy()).requires_grad_(True)
        tt = torch.from_numpy(t)

        def torch_grad():
            ht.grad = None
            Wt.grad = None
            loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(ht, Wt), tt)
            loss.backward()

        res["torch F.linear + F.cross_entropy fwd+bwd"] = median_s(torch_grad, args.repeats)

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    out = fastact.linear_cross_entropy(h, W, t, chunk=chunk, return_grad=True)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    grads = out[1].nbytes + out[2].nbytes
    logits = n * v * dt.itemsize
    if limiter is not None:
        limiter.unregister()
    try:
        from fastact import _native
        level = _native._kernel_level()
    except ImportError:
        level = "none (NumPy backend)"

    print(f"linear_cross_entropy {dt.name} N={n} d={d} V={v} (logits {logits / 2**20:.0f} MiB), "
          f"chunk {chunk}, threads={args.threads or 'default'}, median of {args.repeats}; "
          f"kernel level {level}")
    print()
    print("| what | s | × floor |")
    print("|---|---:|---:|")
    for k, s in res.items():
        if "GEMM" in k:
            print(f"| {k} | {s:.3f} | |")
            continue
        grad = "grad" in k or "fwd" in k
        print(f"| {k} | {s:.3f} | {s / min(floors[3] if grad else floors[1]):.2f} |")
    print()
    print(f"peak traced memory during fastact's loss+grad: {peak / 2**20:.1f} MiB; gradients "
          f"{grads / 2**20:.1f} MiB; above them {(peak - grads) / 2**20:.1f} MiB = "
          f"{(peak - grads) / logits:.1%} of the logits' {logits / 2**20:.0f} MiB (goal <= 10%)")


if __name__ == "__main__":
    main()
