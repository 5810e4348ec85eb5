"""One causal self-attention block, forward and backward, with fastact's
masked softmax.

    q, k, v = x @ Wq, x @ Wk, x @ Wv              split into H heads of size d
    s = q @ k^T / sqrt(d)                          (B, H, T, T) scores
    p = softmax(s, axis=-1, where=causal)          causal: (T, T) lower triangle,
                                                   broadcast, never materialised
    o = p @ v  -> merge heads -> y = o @ Wo
    loss = sum(y * r) for a fixed random r         (a stand-in for the layers above)

and the backward pass by hand: dp = do @ v^T, ds = softmax_backward(dp, p) /
sqrt(d) (masked entries have p = 0, so they get exactly zero gradient), then
the matmuls.  The block runs with the native kernels and with the NumPy twin
(``fastact.numpy_impl``); the script checks that both give the same loss and
gradients, checks the native gradients against central finite differences in
float64, and prints the time per forward+backward step of both.

Run:  python examples/attention.py [--batch 4] [--heads 4] [--seq 128] [--dim 64]
                                   [--dtype float32|float64]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Literal, overload

import numpy as np

if importlib.util.find_spec("fastact") is None:  # run from a source checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastact  # noqa: E402
import fastact.numpy_impl  # noqa: E402

Params = dict[str, np.ndarray]  # weights (or their gradients) by name


def init(D: int, dtype: np.dtype, seed: int = 0) -> Params:
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal((D, D)) / np.sqrt(D)).astype(dtype)
            for k in ("Wq", "Wk", "Wv", "Wo")}


@overload
def block(fa: ModuleType, params: Params, x: np.ndarray, r: np.ndarray, H: int,
          causal: np.ndarray, grads: Literal[True] = ...) -> tuple[float, Params]: ...
@overload
def block(fa: ModuleType, params: Params, x: np.ndarray, r: np.ndarray, H: int,
          causal: np.ndarray, grads: Literal[False]) -> tuple[float, None]: ...
def block(fa: ModuleType, params: Params, x: np.ndarray, r: np.ndarray, H: int,
          causal: np.ndarray, grads: bool = True) -> tuple[float, Params | None]:
    """(loss, grads of the four weights) of the attention block, its
    softmax and softmax backward from module fa."""
    B, T, D = x.shape
    d = D // H
    scale = 1.0 / np.sqrt(d)

    def heads(a: np.ndarray) -> np.ndarray:  # (B, T, D) -> (B, H, T, d)
        return a.reshape(B, T, H, d).transpose(0, 2, 1, 3)

    q, k, v = (heads(x @ params[w]) for w in ("Wq", "Wk", "Wv"))
    s = (q @ k.transpose(0, 1, 3, 2)) * x.dtype.type(scale)
    p = fa.softmax(s, -1, where=causal)               # rows of 1..T kept entries
    o = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, D)
    y = o @ params["Wo"]
    loss = float(np.sum(y.astype(np.float64) * r))
    if not grads:
        return loss, None
    g: Params = {}
    dy = r.astype(x.dtype)
    g["Wo"] = np.tensordot(o, dy, axes=([0, 1], [0, 1]))
    do = heads(dy @ params["Wo"].T)
    dp = do @ v.transpose(0, 1, 3, 2)
    dv = p.transpose(0, 1, 3, 2) @ do
    ds = fa.softmax_backward(dp, p, -1) * x.dtype.type(scale)
    dq = ds @ k
    dk = ds.transpose(0, 1, 3, 2) @ q

    def merge(a: np.ndarray) -> np.ndarray:  # (B, H, T, d) -> (B, T, D)
        return a.transpose(0, 2, 1, 3).reshape(B, T, D)
    for w, dh in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        g[w] = np.tensordot(x, merge(dh), axes=([0, 1], [0, 1]))
    return loss, g


def time_step(fn: Callable[[], object], repeat: int = 7) -> float:
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def finite_difference_check(B: int, H: int, T: int, D: int, seed: int) -> float:
    """Largest relative error of native gradients against central
    differences (float64, 6 entries of each weight)."""
    rng = np.random.default_rng(seed + 7)
    params = init(D, np.dtype(np.float64), seed)
    x = rng.standard_normal((B, T, D))
    r = rng.standard_normal((B, T, D))
    causal = np.tril(np.ones((T, T), dtype=bool))
    _, g = block(fastact, params, x, r, H, causal)
    worst, h = 0.0, 1e-6
    for w in params:
        for _ in range(6):
            i, j = rng.integers(0, D, size=2)
            old = params[w][i, j]
            params[w][i, j] = old + h
            lp, _ = block(fastact, params, x, r, H, causal, grads=False)
            params[w][i, j] = old - h
            lm, _ = block(fastact, params, x, r, H, causal, grads=False)
            params[w][i, j] = old
            fd = (lp - lm) / (2 * h)
            worst = max(worst, abs(fd - g[w][i, j]) / max(1.0, abs(fd)))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    B, H, T, D = args.batch, args.heads, args.seq, args.dim
    if D % H:
        ap.error("--dim must be a multiple of --heads")
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    params = init(D, dtype, args.seed)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    r = rng.standard_normal((B, T, D))
    causal = np.tril(np.ones((T, T), dtype=bool))  # (T, T): broadcast over (B, H)
    print(f"fastact {fastact.__version__} (backend {fastact.BACKEND}); causal self-attention "
          f"B={B} H={H} T={T} D={D} {args.dtype}; scores {B}x{H}x{T}x{T}, mask {T}x{T}")

    results: dict[str, tuple[float, Params, float]] = {}
    for name, fa in (("native", fastact), ("numpy", fastact.numpy_impl)):
        loss, g = block(fa, params, x, r, H, causal)
        sec = time_step(lambda: block(fa, params, x, r, H, causal))
        results[name] = (loss, g, sec)
        print(f"[{name:6s}] loss {loss:.6f}  forward+backward {sec * 1e3:.2f} ms")

    (l1, g1, t1), (l2, g2, t2) = results["native"], results["numpy"]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    ok = abs(l1 - l2) <= tol * max(1.0, abs(l2))
    for w in g1:
        err = float(np.max(np.abs(g1[w] - g2[w])) / max(1.0, float(np.max(np.abs(g2[w])))))
        ok &= err <= tol
        print(f"  d{w}: native vs twin, max relative difference {err:.2e}")
    fd = finite_difference_check(2, 2, 16, 8, args.seed)
    print(f"native gradients vs central finite differences (float64, 2x2x16x16 scores): "
          f"max relative error {fd:.2e}")
    ok &= fd < 1e-6
    print(f"native is {t2 / t1:.2f}x the speed of the NumPy twin per step (same matmuls)")
    print("OK" if ok else "FAILED: native and twin (or finite differences) disagree")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
