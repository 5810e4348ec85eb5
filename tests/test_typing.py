"""The stubs (fastact/*.pyi, py.typed) type-check typical calls with the
documented dtypes (tests/typing/typical_calls.py: assert_type on every public
function) and the examples, under mypy --strict, against the fastact in use
(the source tree, or an installed wheel: then the stubs it ships).  Skipped
where mypy is not installed."""

import subprocess
import sys
from pathlib import Path

import pytest

import fastact

pytest.importorskip("mypy")
HERE = Path(__file__).parent
EXAMPLES = HERE.parent / "examples"


def test_stubs_ship_beside_the_package():
    pkg = Path(fastact.__file__).parent
    for name in ("py.typed", "__init__.pyi", "numpy_impl.pyi", "_native.pyi", "dask.pyi"):
        assert (pkg / name).is_file(), name


def test_mypy_strict(tmp_path):
    files = [str(HERE / "typing" / "typical_calls.py")]
    files += sorted(str(p) for p in EXAMPLES.glob("*.py"))
    # a source tree (editable install, whose import hook mypy cannot see):
    # from its root; an installed wheel: from elsewhere (mypy finds it in
    # site-packages, and site-packages itself as the current directory
    # would count as sources)
    root = Path(fastact.__file__).parent.parent
    cwd = root if (root / "pyproject.toml").is_file() else tmp_path
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), *files],
        capture_output=True, text=True, cwd=cwd, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_runtime_types_match_the_stubs():
    """What the overloads promise holds at run time for typical calls."""
    import numpy as np

    rng = np.random.default_rng(0)
    x32 = rng.standard_normal((8, 10), dtype=np.float32)
    x64 = rng.standard_normal((8, 10))
    labels = np.arange(8) % 10
    f = fastact
    cases = [
        (f.softmax(x32), np.ndarray, np.float32), (f.softmax([1.0, 2.0]), np.ndarray, np.float64),
        (f.softmax(np.float32(1.0)), np.float32, np.float32),
        (f.logsumexp(x32, axis=None), np.float32, np.float32),
        (f.relu(labels), np.ndarray, np.int64), (f.leaky_relu(x64, 0.2), np.ndarray, np.float64),
        (f.sigmoid_backward(x64, f.sigmoid(x64)), np.ndarray, np.float64),
        (f.cross_entropy(x32, labels), np.float32, np.float32),
        (f.cross_entropy(x64, labels, reduction="sum"), np.float64, np.float64),
        (f.cross_entropy_with_grad(x32, labels)[0], np.float32, np.float32),
        (f.cross_entropy_with_grad(x32, labels)[1], np.ndarray, np.float32),
        (f.binary_cross_entropy_with_logits(x64, x64 > 0), np.float64, np.float64),
    ]
    for value, kind, dtype in cases:
        assert type(value) is kind and value.dtype == dtype, (type(value), value.dtype, kind, dtype)
