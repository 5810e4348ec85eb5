#!/usr/bin/env python
"""linear_cross_entropy (issue 18) against its floors and PyTorch, with its
memory.

At one size (default N=2048, d=512, V=64000 float32: logits of 500 MiB that
are never formed), median seconds of a few runs of:

* ``1 GEMM``: ``h @ W`` in the blocks linear_cross_entropy uses (the loss's
  floor), ``3 GEMMs``: per block ``Z = h_b @ W``, ``Z @ W.T`` and
  ``h_b.T @ Z`` (the floor of the loss with its gradients);
* fastact's ``linear_cross_entropy`` (native), loss only and with the
  gradients, and the NumPy twin's;
* with ``--tiles``, the same chunk in vocabulary tiles (the regime
  ``_linear_ce._plan`` picks when rows do not fit), forced for the
  comparison: the loss, the loss with the gradients (four GEMMs) and their
  floors ``1 GEMM`` / ``4 GEMMs`` in those tiles;
* PyTorch (if installed): ``F.linear`` + ``F.cross_entropy``, forward and
  backward through autograd, with the logits materialised;

and the peak memory traced (tracemalloc) during fastact's forward+backward,
above the gradients' own size, against the logits' size (goal: <= 10%).

Usage:  python bench/linear_ce.py [--n 2048 --d 512 --v 64000] [--dtype float32]
        [--threads 1] [--repeats 3] [--chunk ELEMENTS] [--tiles] [--no-torch]
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
    ap.add_argument("--tiles", action="store_true",
                    help="also time the vocabulary-tile regime at the same chunk")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-twin", action="store_true")
    args = ap.parse_args(argv)
    n, d, v, dt = args.n, args.d, args.v, np.dtype(args.dtype)
    chunk = args.chunk or _linear_ce.DEFAULT_CHUNK
    rows, cols = _linear_ce._plan(n, v, chunk, True)
    if cols != v:
        raise SystemExit(f"chunk {chunk}: fewer than {_linear_ce.MIN_GRAD_ROWS} rows of V={v} "
                         "fit; the row-block floors below assume whole rows")

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
    Z = np.empty((min(rows, n), v), dt)
    dh = np.empty((n, d), dt)
    dWb = np.empty((d, v), dt)

    def gemm1():
        for r0 in range(0, n, rows):
            np.matmul(h[r0:r0 + rows], W, out=Z[: min(rows, n - r0)])

    def gemm3():
        for r0 in range(0, n, rows):
            zb = Z[: min(rows, n - r0)]
            hb = h[r0:r0 + rows]
            np.matmul(hb, W, out=zb)
            np.matmul(zb, W.T, out=dh[r0:r0 + rows])
            np.matmul(hb.T, zb, out=dWb)

    def fa_loss():
        fastact.linear_cross_entropy(h, W, t, chunk=chunk)

    def fa_grad():
        fastact.linear_cross_entropy(h, W, t, chunk=chunk, return_grad=True)

    def tw_grad():
        twin.linear_cross_entropy(h, W, t, chunk=chunk, return_grad=True)

    # the tile regime's shape at this chunk (what _plan gives when no row fits)
    tr = max(1, min(n, int(np.sqrt(chunk))))
    tc = max(1, min(v, chunk // tr))
    T = np.empty(tr * tc, dt)

    def tile_gemms(k):
        """k = 1: the tiles' logits; k = 4: the loss + gradient sweeps'
        products (logits twice, dZ @ W_b.T, h_b.T @ dZ)."""
        for r0 in range(0, n, tr):
            hb = h[r0:r0 + tr]
            for v0 in range(0, v, tc):
                Wb = W[:, v0:v0 + tc]
                zb = T[: hb.shape[0] * Wb.shape[1]].reshape(hb.shape[0], Wb.shape[1])
                np.matmul(hb, Wb, out=zb)
                if k == 4:
                    np.matmul(hb, Wb, out=zb)
                    np.matmul(zb, Wb.T, out=dh[r0:r0 + tr])
                    np.matmul(hb.T, zb, out=dWb[:, v0:v0 + tc])

    def forced_tiles(fn):
        plan = _linear_ce._plan
        _linear_ce._plan = lambda *a: (tr, tc)
        try:
            fn()
        finally:
            _linear_ce._plan = plan

    res = {}
    res["1 GEMM (loss floor)"] = median_s(gemm1, args.repeats)
    res["fastact loss"] = median_s(fa_loss, args.repeats)
    res["3 GEMMs (loss+grad floor)"] = median_s(gemm3, args.repeats)
    res["fastact loss+grad"] = median_s(fa_grad, args.repeats)
    if args.tiles:
        res[f"tiles {tr}x{tc}: 1 GEMM (tile loss floor)"] = median_s(lambda: tile_gemms(1),
                                                                     args.repeats)
        res[f"tiles {tr}x{tc}: fastact loss"] = median_s(lambda: forced_tiles(fa_loss),
                                                         args.repeats)
        res[f"tiles {tr}x{tc}: 4 GEMMs (tile loss+grad floor)"] = median_s(
            lambda: tile_gemms(4), args.repeats)
        res[f"tiles {tr}x{tc}: fastact loss+grad"] = median_s(lambda: forced_tiles(fa_grad),
                                                              args.repeats)
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

    print(f"linear_cross_entropy {dt.name} N={n} d={d} V={v} (logits {logits / 2**20:.0f} MiB, "
          f"blocks of {min(rows, n)} rows), threads={args.threads or 'default'}, "
          f"median of {args.repeats}; kernel level {level}")
    print()
    print("| what | s | × floor |")
    print("|---|---:|---:|")
    for k, s in res.items():
        loss_only = "loss" in k and "grad" not in k and "fwd" not in k
        if k.startswith("tiles"):
            pre = k.split(":")[0]
            floor = res[f"{pre}: 1 GEMM (tile loss floor)"] if loss_only \
                else res[f"{pre}: 4 GEMMs (tile loss+grad floor)"]
        else:
            floor = res["1 GEMM (loss floor)"] if loss_only else res["3 GEMMs (loss+grad floor)"]
        print(f"| {k} | {s:.3f} | {s / floor:.2f} |")
    print()
    print(f"peak traced memory during fastact's loss+grad: {peak / 2**20:.1f} MiB; gradients "
          f"{grads / 2**20:.1f} MiB; above them {(peak - grads) / 2**20:.1f} MiB = "
          f"{(peak - grads) / logits:.1%} of the logits' {logits / 2**20:.0f} MiB (goal <= 10%)")


if __name__ == "__main__":
    main()
