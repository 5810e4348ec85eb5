"""The exponential inside the kernels, swept densely over its whole domain
(x <= 0: from 0 through the subnormal results to underflow, plus -inf and
NaN), at the level in use and, in subprocesses, at every other level this
CPU supports.  Reference: np.exp in long double.

Bounds (ULP of the result's dtype, after the kernel's own rounding to it):
float32 kernels <= 1 ULP (hand-written levels: float32 arithmetic with a
degree-6 polynomial of relative error 2^-28.3, measured 0.87-0.88; the
portable level: a double exponential rounded once, <= 0.5 + 2^-30);
float64 <= 1 ULP (degree-13 polynomial, truncation 2^-62; the avx512 level is
table-driven: 2^(j/16) times a degree-7 polynomial, 0.56 ULP measured for
normal results, 0.75 where the result is subnormal and rounded twice)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import _ref

native = pytest.importorskip("fastact._native")
LD = np.longdouble
BOUND = {np.float32: 1.0, np.float64: 1.0}


def sweep_points(dtype):
    fi = np.finfo(dtype)
    lo = {np.float32: -104.5, np.float64: -746.5}[dtype]
    rng = np.random.default_rng(11)
    pts = [
        np.linspace(lo, 0, 2_000_001, dtype=np.float64),
        rng.uniform(lo, 0, 1_000_000),
        -np.logspace(-40 if dtype == np.float32 else -300, 0, 200_000),      # near 0
        rng.uniform(np.log(float(fi.smallest_subnormal)) - 1, np.log(float(fi.tiny)) + 1,
                    500_000),                                                # subnormal results
        [0.0, -0.0, -np.inf, np.nan, -float(fi.tiny), -float(fi.smallest_subnormal)],
    ]
    x = np.concatenate([np.asarray(p, np.float64) for p in pts]).astype(dtype)
    return x


def max_ulp(dtype):
    x = sweep_points(dtype)
    y = np.empty_like(x)
    native.exp_nonpos_raw(x, y)
    with np.errstate(all="ignore"):
        ref = np.exp(x.astype(LD))
    special = ~np.isfinite(x)
    assert np.isnan(y[np.isnan(x)]).all()
    assert (y[x == -np.inf] == 0).all()
    assert (y[x == 0] == 1).all()
    assert (y >= 0)[~np.isnan(x)].all()
    e = _ref.ulp_errors(y[~special], ref[~special], dtype)
    return float(np.max(e))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_exp_sweep_level_in_use(dtype):
    e = max_ulp(dtype)
    assert e <= BOUND[dtype], f"{native.KERNEL_IN_USE} exp {np.dtype(dtype).name}: {e:.3f} ULP"


LEVELS = list(native.KERNELS_COMPILED)
OTHER = [lv for lv in LEVELS[: LEVELS.index(native.CPU_LEVEL) + 1] if lv != native.KERNEL_IN_USE]


@pytest.mark.parametrize("level", OTHER)
def test_exp_sweep_other_levels(level):
    code = (
        "import json, numpy as np, sys; sys.path.insert(0, %r); import test_exp as t; "
        "print(json.dumps({d.__name__: t.max_ulp(d) for d in (np.float32, np.float64)}))"
        % os.path.dirname(__file__)
    )
    env = dict(os.environ, FASTACT_ISA=level)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    for name, e in res.items():
        assert e <= BOUND[getattr(np, name)], f"{level} exp {name}: {e:.3f} ULP"
