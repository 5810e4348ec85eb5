"""The benchmark tools that are not Python: bench/sum_pass_ablation.c (the
float32 sum pass's ablation at the avx2 level) must compile warning-free
against src_c/ and run, where the CPU has AVX2 and FMA and a GCC/Clang
command line is at hand, print its variants and refuse a bad row length."""

import os
import platform
import shutil
import subprocess
import sysconfig

import pytest

native = pytest.importorskip("fastact._native")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "bench", "sum_pass_ablation.c")


def test_sum_pass_ablation_builds_and_runs(tmp_path):
    if not os.path.exists(SRC) or not os.path.isdir(os.path.join(ROOT, "src_c")):
        pytest.skip("bench/ and src_c/ are not beside the tests (installed package)")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("an x86-64 program")
    levels = list(native.KERNELS_COMPILED)
    if "avx2" not in levels or levels.index(native.CPU_LEVEL) < levels.index("avx2"):
        pytest.skip("the CPU has no AVX2 + FMA")
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc})")
    exe = str(tmp_path / "ablation")
    cmd = [cc, "-O3", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-fno-trapping-math",
           "-I" + os.path.join(ROOT, "src_c"), SRC, "-o", exe, "-lm"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    run = subprocess.run([exe, "4", "128", "2"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    names = [line.split()[0] for line in run.stdout.splitlines()[1:]]
    assert names == ["max", "library", "narrow", "no-count", "float-sum", "plain", "scale"], run.stdout
    bad = subprocess.run([exe, "4", "100", "2"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "multiple of" in bad.stderr
