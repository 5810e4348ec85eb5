"""A tiny 2-layer MLP forward pass with fastact, reusing preallocated buffers.

    x (batch, 784) -> x @ W1 + b1 -> relu -> @ W2 + b2 -> log_softmax -> NLL
                                          and cross_entropy(logits, labels)

Run:  python examples/pipeline.py
"""

import importlib.util
import os
import sys

import numpy as np
from numpy.typing import NDArray

if importlib.util.find_spec("fastact") is None:  # run from a source checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastact  # noqa: E402

BATCH, D_IN, HIDDEN, CLASSES = 64, 784, 256, 10
DTYPE = np.float32

rng = np.random.default_rng(0)
W1 = (rng.standard_normal((D_IN, HIDDEN)) * np.sqrt(2.0 / D_IN)).astype(DTYPE)
b1 = np.zeros(HIDDEN, DTYPE)
W2 = (rng.standard_normal((HIDDEN, CLASSES)) * np.sqrt(1.0 / HIDDEN)).astype(DTYPE)
b2 = np.zeros(CLASSES, DTYPE)

# Buffers allocated once and reused for every batch.
hidden = np.empty((BATCH, HIDDEN), DTYPE)
logits = np.empty((BATCH, CLASSES), DTYPE)
logp = np.empty((BATCH, CLASSES), DTYPE)


def forward(x: NDArray[np.float32], labels: NDArray[np.int64]) -> np.float32:
    np.matmul(x, W1, out=hidden)
    np.add(hidden, b1, out=hidden)
    fastact.relu(hidden, out=hidden)             # in place
    np.matmul(hidden, W2, out=logits)
    np.add(logits, b2, out=logits)
    fastact.log_softmax(logits, out=logp)        # into a ready buffer
    loss = fastact.cross_entropy(logits, labels)  # reduction="mean"
    return loss


def main() -> None:
    print(f"fastact {fastact.__version__} (backend: {fastact.BACKEND})")
    for step in range(3):
        x = rng.standard_normal((BATCH, D_IN)).astype(DTYPE)
        labels = rng.integers(0, CLASSES, size=BATCH)  # int64 class indices
        loss = forward(x, labels)
        nll = -logp[np.arange(BATCH), labels].mean(dtype=np.float64)  # same loss via log_softmax
        acc = float((logp.argmax(axis=1) == labels).mean())
        print(f"batch {step}: cross_entropy loss = {float(loss):.6f} "
              f"(NLL of log_softmax = {nll:.6f}, accuracy {acc:.2f}, "
              f"uniform guess would be {np.log(CLASSES):.6f})")


if __name__ == "__main__":
    main()
