"""Backend selection (FASTACT_BACKEND) and show_config()."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastact

# Subprocesses import the same fastact as this process: PYTHONPATH gets the
# directory holding it (the source tree for an editable install,
# site-packages for a regular one), and they run in tests/, where no
# fastact/ source directory can shadow it (as the project root of an unpacked
# sdist would).
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastact.__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
FUNCS = ["softmax", "log_softmax", "logsumexp", "relu", "cross_entropy"]

PROBE = r"""
import json, fastact
t = fastact.numpy_impl
print(json.dumps({
    "backend": fastact.BACKEND,
    "is_twin": {f: getattr(fastact, f) is getattr(t, f) for f in %r},
    "file": fastact.__file__,
}))
""" % (FUNCS,)


def run_probe(backend_env):
    env = dict(os.environ)
    env.pop("FASTACT_BACKEND", None)
    if backend_env is not None:
        env["FASTACT_BACKEND"] = backend_env
    env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-c", PROBE], cwd=HERE, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout.strip().splitlines()[-1])
    # the same package as the one under test, not another copy on the path
    assert os.path.realpath(info["file"]) == os.path.realpath(fastact.__file__), info["file"]
    return info


def test_env_numpy_binds_twin():
    info = run_probe("numpy")
    assert info["backend"] == "numpy"
    assert all(info["is_twin"].values()), info["is_twin"]


def test_default_is_native():
    info = run_probe(None)
    assert info["backend"] == "native"
    assert not any(info["is_twin"].values()), info["is_twin"]


def test_env_native_explicit():
    info = run_probe("native")
    assert info["backend"] == "native"
    assert not any(info["is_twin"].values())


def test_backend_attribute_matches_bindings(fastact_pkg):
    assert fastact_pkg.BACKEND in ("native", "numpy")
    twin = fastact_pkg.numpy_impl
    same = [getattr(fastact_pkg, f) is getattr(twin, f) for f in FUNCS]
    if fastact_pkg.BACKEND == "numpy":
        assert all(same)
    else:
        assert not any(same)
    expected = os.environ.get("FASTACT_BACKEND", "native") or "native"
    if expected in ("native", "numpy"):
        assert fastact_pkg.BACKEND == expected


def test_exports(fastact_pkg):
    for name in FUNCS + ["show_config", "get_include", "numpy_impl", "BACKEND"]:
        assert hasattr(fastact_pkg, name), name
    assert fastact_pkg.__version__ == "0.1.0"
    for f in FUNCS:
        assert callable(getattr(fastact_pkg.numpy_impl, f))


def test_native_extension_importable(fastact_pkg):
    if fastact_pkg.BACKEND != "native":
        pytest.skip("numpy backend active")
    import importlib
    importlib.import_module("fastact._native")


def test_show_config(fastact_pkg, capsys):
    cfg = fastact_pkg.show_config()
    printed = capsys.readouterr().out
    assert isinstance(cfg, dict)
    for key in ("version", "backend", "kernels_compiled", "kernel_in_use"):
        assert key in cfg, key
    assert cfg["version"] == fastact_pkg.__version__ == "0.1.0"
    assert cfg["backend"] == fastact_pkg.BACKEND
    assert printed.strip() != ""
    assert "0.1.0" in printed
    assert fastact_pkg.BACKEND in printed


def test_show_config_numpy_backend_subprocess():
    env = dict(os.environ)
    env["FASTACT_BACKEND"] = "numpy"
    env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    code = ("import fastact, json; c = fastact.show_config(); "
            "print('JSON' + json.dumps({k: str(v) for k, v in c.items()}))")
    p = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    js = [ln for ln in lines if ln.startswith("JSON")]
    assert js and len(lines) > 1  # something printed besides our JSON line
    cfg = json.loads(js[-1][4:])
    assert cfg["backend"] == "numpy"


def test_twin_results_agree_with_public_under_numpy_env():
    """Under FASTACT_BACKEND=numpy the public functions are the twin's, so
    results are identical bit for bit."""
    env = dict(os.environ)
    env["FASTACT_BACKEND"] = "numpy"
    env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    code = ("import numpy as np, fastact as f\n"
            "x = np.random.default_rng(1).standard_normal((7, 33))\n"
            "t = f.numpy_impl\n"
            "ok = all(np.array_equal(getattr(f, n)(x), getattr(t, n)(x))"
            " for n in ('softmax', 'log_softmax', 'logsumexp', 'relu'))\n"
            "print('OK' if ok else 'DIFF')\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "OK"

