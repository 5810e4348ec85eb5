"""Train a small MLP on scikit-learn's bundled digits data with fastact.

    x (batch, 64) -> @ W1 + b1 -> relu (or leaky_relu) -> @ W2 + b2 -> logits
    loss, dlogits = cross_entropy_with_grad(logits, labels)   (one fused pass)
    backward: matmuls in NumPy, relu_backward / leaky_relu_backward from fastact
    update:   Adam (or plain SGD) written in NumPy

The same training runs twice, once with fastact's native kernels and once
with its NumPy twin (``fastact.numpy_impl``, same semantics), from the same
initial weights and batch order; it prints a line per epoch and, at the end,
the seconds per epoch of both and their ratio.  Both runs must reach the
same accuracy (the twin computes the same functions within a few ULP).

Needs scikit-learn for ``load_digits`` (bundled with it: no download):
``pip install scikit-learn``.

Run:  python examples/train_mlp.py [--epochs 30] [--activation relu|leaky_relu]
                                   [--optimizer adam|sgd] [--dtype float32|float64]
                                   [--backend both|native|numpy]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from types import ModuleType
from typing import cast

import numpy as np
from numpy.typing import NDArray

if importlib.util.find_spec("fastact") is None:  # run from a source checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastact  # noqa: E402
import fastact.numpy_impl  # noqa: E402

HIDDEN, CLASSES = 128, 10
SLOPE = 0.01  # leaky_relu's negative slope

Params = dict[str, np.ndarray]  # weights (or their gradients) by name
Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # xtr, ytr, xte, yte


def load_data(dtype: np.dtype, seed: int = 0) -> Data:
    """Digits 8x8 images (1797 x 64), standardised per feature with the
    training split's statistics; a fixed 80/20 split."""
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]

    data = load_digits()
    x: NDArray[np.float64] = data.data.astype(np.float64)
    y: NDArray[np.int64] = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = order[:n_train], order[n_train:]
    mu, sd = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-6
    x = (x - mu) / sd
    return x[tr].astype(dtype), y[tr], x[te].astype(dtype), y[te]


class MLP:
    """Two layers; every buffer of a batch is allocated once and reused."""

    def __init__(self, d_in: int, batch: int, dtype: np.dtype, activation: str,
                 seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.params: Params = {
            "W1": (rng.standard_normal((d_in, HIDDEN)) * np.sqrt(2.0 / d_in)).astype(dtype),
            "b1": np.zeros(HIDDEN, dtype),
            "W2": (rng.standard_normal((HIDDEN, CLASSES)) * np.sqrt(1.0 / HIDDEN)).astype(dtype),
            "b2": np.zeros(CLASSES, dtype),
        }
        self.grads = {k: np.empty_like(v) for k, v in self.params.items()}
        self.activation = activation
        self.pre = np.empty((batch, HIDDEN), dtype)     # x @ W1 + b1
        self.hidden = np.empty((batch, HIDDEN), dtype)  # activation(pre)
        self.logits = np.empty((batch, CLASSES), dtype)
        self.dlogits = np.empty((batch, CLASSES), dtype)
        self.dhidden = np.empty((batch, HIDDEN), dtype)

    def _act(self, fa: ModuleType, pre: np.ndarray, out: np.ndarray) -> np.ndarray:
        if self.activation == "relu":
            return cast(np.ndarray, fa.relu(pre, out=out))
        return cast(np.ndarray, fa.leaky_relu(pre, SLOPE, out=out))

    def predict(self, fa: ModuleType, x: np.ndarray) -> np.ndarray:
        p = self.params
        h = self._act(fa, x @ p["W1"] + p["b1"], np.empty((len(x), HIDDEN), x.dtype))
        return cast(np.ndarray, np.argmax(h @ p["W2"] + p["b2"], axis=1))

    def step(self, fa: ModuleType, x: np.ndarray, y: np.ndarray) -> float:
        """Forward + backward of one batch; fills self.grads, returns the loss."""
        p, g, n = self.params, self.grads, len(x)
        pre, hidden = self.pre[:n], self.hidden[:n]
        logits, dlogits, dhidden = self.logits[:n], self.dlogits[:n], self.dhidden[:n]
        np.matmul(x, p["W1"], out=pre)
        pre += p["b1"]
        self._act(fa, pre, hidden)
        np.matmul(hidden, p["W2"], out=logits)
        logits += p["b2"]
        # mean cross-entropy and d(loss)/d(logits) in one pass over the logits
        loss, _ = fa.cross_entropy_with_grad(logits, y, out=dlogits)
        np.matmul(hidden.T, dlogits, out=g["W2"])
        np.sum(dlogits, axis=0, out=g["b2"])
        np.matmul(dlogits, p["W2"].T, out=dhidden)
        if self.activation == "relu":
            fa.relu_backward(dhidden, pre, out=dhidden)  # in place
        else:
            fa.leaky_relu_backward(dhidden, pre, SLOPE, out=dhidden)
        np.matmul(x.T, dhidden, out=g["W1"])
        np.sum(dhidden, axis=0, out=g["b1"])
        return float(loss)


class Adam:
    def __init__(self, params: Params, lr: float = 1e-3, b1: float = 0.9, b2: float = 0.999,
                 eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def update(self, params: Params, grads: Params) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for k, w in params.items():
            gk, m, v = grads[k], self.m[k], self.v[k]
            m *= self.b1
            m += (1 - self.b1) * gk
            v *= self.b2
            v += (1 - self.b2) * gk * gk
            w -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


class SGD:
    def __init__(self, params: Params, lr: float = 0.05) -> None:
        self.lr = lr

    def update(self, params: Params, grads: Params) -> None:
        for k, w in params.items():
            w -= self.lr * grads[k]


def train(fa: ModuleType, name: str, data: Data, args: argparse.Namespace) -> tuple[float, float]:
    """Train from scratch with the ops of module `fa`; returns (final test
    accuracy, median seconds per epoch)."""
    xtr, ytr, xte, yte = data
    model = MLP(xtr.shape[1], args.batch, xtr.dtype, args.activation, args.seed)
    opt: Adam | SGD = Adam(model.params) if args.optimizer == "adam" else SGD(model.params)
    rng = np.random.default_rng(args.seed + 1)  # same batch order for every backend
    epoch_s = []
    acc = float("nan")
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(xtr))
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            idx = order[i:i + args.batch]
            total += model.step(fa, xtr[idx], ytr[idx]) * len(idx)
            opt.update(model.params, model.grads)
        epoch_s.append(time.perf_counter() - t0)
        acc = float(np.mean(model.predict(fa, xte) == yte))
        if epoch == 1 or epoch % args.print_every == 0 or epoch == args.epochs:
            train_acc = float(np.mean(model.predict(fa, xtr) == ytr))
            print(f"[{name:6s}] epoch {epoch:3d}  loss {total / len(xtr):.4f}  "
                  f"train acc {train_acc:.4f}  test acc {acc:.4f}  {epoch_s[-1] * 1e3:6.1f} ms")
    return acc, float(np.median(epoch_s))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--activation", choices=("relu", "leaky_relu"), default="relu")
    ap.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--backend", choices=("both", "native", "numpy"), default="both")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--print-every", type=int, default=5)
    args = ap.parse_args(argv)

    data = load_data(np.dtype(args.dtype), args.seed)
    print(f"fastact {fastact.__version__} (backend {fastact.BACKEND}); digits: "
          f"{len(data[0])} train / {len(data[2])} test, 64 -> {HIDDEN} ({args.activation}) -> "
          f"{CLASSES}, {args.optimizer}, batch {args.batch}, {args.dtype}")
    runs: dict[str, tuple[float, float]] = {}
    if args.backend in ("both", "native"):
        runs["native"] = train(fastact, "native", data, args)
    if args.backend in ("both", "numpy"):
        runs["numpy"] = train(fastact.numpy_impl, "numpy", data, args)
    for name, (acc, sec) in runs.items():
        print(f"{name}: test accuracy {acc:.4f}, {sec * 1e3:.1f} ms per epoch (median)")
    if len(runs) == 2:
        ratio = runs["numpy"][1] / runs["native"][1]
        print(f"native is {ratio:.2f}x the speed of the NumPy twin per epoch "
              f"(numpy ms / native ms)")
    worst = min(acc for acc, _ in runs.values())
    if worst <= 0.95:
        print(f"FAILED: test accuracy {worst:.4f} <= 0.95")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
