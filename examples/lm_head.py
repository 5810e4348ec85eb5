"""Train a tiny language-model head with fastact.linear_cross_entropy.

The corpus is the source of a few modules of Python's standard library
(bundled with every Python: no download), split into words and punctuation;
the vocabulary is every token seen at least twice, plus one for the rest.
The model predicts the next token from the previous two:

    h = tanh(E[t-2] @ A + E[t-1] @ B)            (N, d)
    loss = cross_entropy(h @ W + b, next token)  (N, V) logits

trained for a few steps of Adam on batches of N positions.  The same steps
run twice from the same initial weights: once with ``linear_cross_entropy``
(the loss and the gradients of h, W and b without the (N, V) logits) and
once materialising the logits (``h @ W + b``, ``cross_entropy_with_grad``,
two more matmuls).  It prints the loss of each step for both, the peak
memory traced (tracemalloc) during one step of each, and "OK" when the two
runs agree.

Run:  python examples/lm_head.py [--steps 8] [--batch 2048] [--dim 64]
                                 [--chunk ELEMENTS] [--dtype float32|float64]
"""

from __future__ import annotations

import argparse
import collections
import importlib
import importlib.util
import os
import re
import sys
import tracemalloc
from typing import Any, Callable

import numpy as np

if importlib.util.find_spec("fastact") is None:  # run from a source checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastact  # noqa: E402

MODULES = ("argparse", "inspect", "typing", "dataclasses", "pathlib", "textwrap", "enum",
           "functools", "configparser", "tarfile")


def corpus() -> list[str]:
    """The tokens of the modules' sources (a few hundred KB of text)."""
    text = []
    for name in MODULES:
        path = importlib.import_module(name).__file__
        if path and path.endswith(".py"):
            with open(path, encoding="utf-8") as f:
                text.append(f.read())
    return re.findall(r"\w+|[^\w\s]", "\n".join(text))


def make_step(lce: bool, chunk: int) -> Callable[..., tuple[float, dict[str, np.ndarray]]]:
    """One forward + backward of the head: loss and the gradients of
    h's parameters (E, A, B) and of W, b."""

    def step(p: dict[str, np.ndarray], prev2: np.ndarray, prev1: np.ndarray,
             y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        e2, e1 = p["E"][prev2], p["E"][prev1]
        h = np.tanh(e2 @ p["A"] + e1 @ p["B"])
        if lce:
            loss, dh, dW, db = fastact.linear_cross_entropy(
                h, p["W"], y, bias=p["b"], return_grad=True, chunk=chunk)
        else:
            logits = h @ p["W"] + p["b"]
            loss, dZ = fastact.cross_entropy_with_grad(logits, y, out=logits)
            dh, dW, db = dZ @ p["W"].T, h.T @ dZ, dZ.sum(axis=0)
            del logits, dZ
        da = dh * (1 - h * h)
        g = {"W": dW, "b": db, "A": e2.T @ da, "B": e1.T @ da,
             "E": np.zeros_like(p["E"])}
        np.add.at(g["E"], prev2, da @ p["A"].T)
        np.add.at(g["E"], prev1, da @ p["B"].T)
        return float(loss), g

    return step


def adam(p: dict[str, np.ndarray], g: dict[str, np.ndarray], state: dict[str, Any],
         lr: float = 1e-2) -> None:
    state["t"] = state.get("t", 0) + 1
    t = state["t"]
    for k in p:
        m = state.setdefault("m" + k, np.zeros_like(p[k]))
        v = state.setdefault("v" + k, np.zeros_like(p[k]))
        m *= 0.9
        m += 0.1 * g[k]
        v *= 0.999
        v += 0.001 * g[k] * g[k]
        p[k] -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=1 << 20, help="logits per block")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args(argv)
    dt = np.dtype(args.dtype)

    toks = corpus()
    counts = collections.Counter(toks)
    vocab = ["<rare>"] + sorted(w for w, c in counts.items() if c >= 2)
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.array([index.get(w, 0) for w in toks], dtype=np.int64)
    V, d, N = len(vocab), args.dim, args.batch
    print(f"corpus: {len(toks):,} tokens from {len(MODULES)} stdlib modules; vocabulary "
          f"{V:,}; batch {N}, d = {d}: logits {N * V * dt.itemsize / 2**20:.1f} MiB per step")

    rng = np.random.default_rng(0)
    init = {"E": rng.standard_normal((V, d)) * 0.1,
            "A": rng.standard_normal((d, d)) / np.sqrt(d),
            "B": rng.standard_normal((d, d)) / np.sqrt(d),
            "W": rng.standard_normal((d, V)) / np.sqrt(d),
            "b": np.zeros(V)}
    batches = [rng.integers(2, ids.size, N) for _ in range(args.steps)]

    losses: dict[str, list[float]] = {}
    peaks: dict[str, int] = {}
    for name, lce in (("linear_cross_entropy", True), ("materialised logits", False)):
        p = {k: v.astype(dt) for k, v in init.items()}
        step = make_step(lce, args.chunk)
        state: dict[str, Any] = {}
        losses[name] = []
        for i, pos in enumerate(batches):
            prev2, prev1, y = ids[pos - 2], ids[pos - 1], ids[pos]
            if i == 1:  # one step under tracemalloc (its first call allocated the state)
                tracemalloc.start()
                base = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
            loss, g = step(p, prev2, prev1, y)
            if i == 1:
                peaks[name] = tracemalloc.get_traced_memory()[1] - base
                tracemalloc.stop()
            adam(p, g, state)
            losses[name].append(loss)
    for i in range(args.steps):
        print(f"step {i + 1:3d}: loss {losses['linear_cross_entropy'][i]:.4f} "
              f"(materialised {losses['materialised logits'][i]:.4f})")
    a, b = peaks["linear_cross_entropy"], peaks["materialised logits"]
    print(f"peak traced memory of a step: linear_cross_entropy {a / 2**20:.1f} MiB, "
          f"materialised logits {b / 2**20:.1f} MiB ({a / b:.2f}x)")
    la, lb = np.array(losses["linear_cross_entropy"]), np.array(losses["materialised logits"])
    tol = 1e-3 if dt == np.float32 else 1e-9
    ok = bool(np.all(np.abs(la - lb) <= tol * lb) and la[-1] < la[0] and a < b)
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
