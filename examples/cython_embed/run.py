"""Train a softmax-regression classifier with the Cython loss step of
classifier.pyx, which calls fastact's C API from a prange over row blocks.

    cd examples/cython_embed
    python setup.py build_ext --inplace
    python run.py

Synthetic data: 8192 points in 32 dimensions from 10 Gaussian clusters, a
few labels set to ignore_index (-100).  Every epoch runs the Cython step
(softmax, loss and dlogits per block of 256 rows, on the OpenMP threads)
and a NumPy gradient-descent update of the weights.  Every step is checked
against fastact's Python API: dlogits and the probabilities bit for bit,
the loss to rounding (its block sums are added in another order); the run
ends with "OK" when those hold and the classifier reaches 85 % accuracy.
"""

import os
import sys

import numpy as np
from numpy.typing import NDArray

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # the built extension, wherever run.py is started from
try:
    import classifier  # type: ignore[import-not-found]
except ImportError as exc:
    raise SystemExit(f"build the extension first (python setup.py build_ext --inplace in {HERE}): "
                     f"{exc}") from exc
import fastact  # noqa: E402

N, D, C, EPOCHS, LR, SMOOTH = 8192, 32, 10, 30, 0.5, 0.05


def make_data(rng: np.random.Generator) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    centers = rng.standard_normal((C, D)) * 0.6
    labels = rng.integers(0, C, N)
    x = centers[labels] + rng.standard_normal((N, D))
    labels[::97] = -100  # ignored samples
    return x.astype(np.float32), labels.astype(np.int64)


def main() -> None:
    rng = np.random.default_rng(0)
    x, labels = make_data(rng)
    W = (rng.standard_normal((D, C)) * 0.01).astype(np.float32)
    b = np.zeros(C, np.float32)
    probs = np.empty((N, C), np.float32)
    dlogits = np.empty((N, C), np.float32)
    print(f"fastact {fastact.__version__} (kernels: {classifier.kernel_level()}); {N} samples, "
          f"{C} classes, blocks of 256 rows")
    ok, worst = True, 0.0
    for epoch in range(1, EPOCHS + 1):
        logits = x @ W + b
        loss, acc = classifier.classifier_step(logits, labels, probs, dlogits,
                                               label_smoothing=SMOOTH)
        ref_loss, ref_dx = fastact.cross_entropy_with_grad(logits, labels, label_smoothing=SMOOTH)
        ok = ok and np.array_equal(dlogits, ref_dx) and np.array_equal(probs, fastact.softmax(logits))
        worst = max(worst, abs(loss - float(ref_loss)) / abs(float(ref_loss)))
        if epoch in (1, 2, 5, 10, 20, EPOCHS):
            print(f"epoch {epoch:3d}  loss {loss:.4f}  accuracy {acc:.4f}")
        W -= LR * (x.T @ dlogits)  # dlogits is already d(mean loss)/d(logits)
        b -= LR * dlogits.sum(axis=0)
    print(f"every step vs the Python API: dlogits and probabilities identical: {ok}, "
          f"loss within {worst:.1e} (relative)")
    ok = ok and worst < 1e-6 and acc > 0.85
    # bad input comes back as an exception, nothing written
    bad = labels.copy()
    bad[5] = C
    try:
        classifier.classifier_step(logits, bad, probs, dlogits)
        ok = False
    except IndexError as exc:
        print(f"bad label: IndexError: {exc}")
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
