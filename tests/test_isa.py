"""Kernel levels: FASTACT_ISA selects each level this machine supports (a
lower one than the best on request), show_config names it, and every level
agrees with the NumPy twin.  (CI also runs the whole suite once per level.)"""

import json
import os
import subprocess
import sys

import pytest

import fastact

native = pytest.importorskip("fastact._native")

LEVELS = list(native.KERNELS_COMPILED)
SUPPORTED = LEVELS[: LEVELS.index(native.CPU_LEVEL) + 1]

SCRIPT = r"""
import json, numpy as np, fastact
from fastact import _api as nat, numpy_impl as tw, _native
rng = np.random.default_rng(1)
worst = {}
for dt, tol in ((np.float32, 3e-7), (np.float64, 1e-13)):
    for shape, axis in (((7, 1000), -1), ((3, 70, 130), 1), ((1, 10), -1), ((5, 17), 0)):
        x = (rng.standard_normal(shape) * 20).astype(dt)
        for op in ("softmax", "log_softmax", "logsumexp"):
            a = getattr(nat, op)(x, axis)
            b = getattr(tw, op)(x, axis)
            err = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1)))
            worst[f"{op} {np.dtype(dt).name} {shape} {axis}"] = err / tol
        r = nat.relu(x)
        worst[f"relu {np.dtype(dt).name} {shape}"] = float(not np.array_equal(r, tw.relu(x)))
        t = rng.integers(0, x.shape[axis], size=np.delete(x.shape, axis % x.ndim))
        a = nat.cross_entropy(x, t, axis=axis, label_smoothing=0.1)
        b = tw.cross_entropy(x, t, axis=axis, label_smoothing=0.1)
        worst[f"ce {np.dtype(dt).name} {shape}"] = float(abs(a - b) / abs(b)) / tol
print(json.dumps({"level": _native.KERNEL_IN_USE, "worst": worst}))
"""


def run_level(level):
    env = dict(os.environ, FASTACT_ISA=level, FASTACT_BACKEND="native")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("level", SUPPORTED)
def test_level_selected_and_agrees_with_twin(level):
    res = run_level(level)
    assert res["level"] == level
    bad = {k: v for k, v in res["worst"].items() if not v <= 1.0}
    assert not bad, bad


def test_request_above_cpu_is_capped():
    above = LEVELS[LEVELS.index(native.CPU_LEVEL) + 1:]
    if not above:
        pytest.skip("this CPU runs the highest compiled level")
    assert run_level(above[0])["level"] == native.CPU_LEVEL


def test_unknown_level_fails_at_import():
    env = dict(os.environ, FASTACT_ISA="avx9000", FASTACT_BACKEND="native")
    r = subprocess.run([sys.executable, "-c", "import fastact"], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0 and "FASTACT_ISA" in r.stderr


def test_show_config_names_levels(capsys):
    cfg = fastact.show_config()
    assert cfg["kernel_in_use"] == native.KERNEL_IN_USE
    assert cfg["cpu_level"] == native.CPU_LEVEL
    assert cfg["kernels_compiled"] == LEVELS
