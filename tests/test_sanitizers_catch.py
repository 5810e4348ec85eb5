"""The sanitizer build reports a planted bug (src_c/runtime/planted.c):
an out-of-bounds read (AddressSanitizer) and a signed overflow (UBSan),
each in a child interpreter with this process's environment (the preloaded
ASan runtime and the halt options of .ci/run), which must die with the
report.  A sanitizer run of the suite that reports nothing thus means
something.  Outside a FASTACT_SANITIZE build these are skipped, unless
FASTACT_EXPECT_SANITIZER=1 (as .ci/run sets for its sanitizer runs): then a
build without the instrumentation fails here.  Any other build holds no
planted bug: the function does nothing there."""

import os
import subprocess
import sys

import numpy as np
import pytest

native = pytest.importorskip("fastact._native")
EXPECT = os.environ.get("FASTACT_EXPECT_SANITIZER", "0") not in ("", "0")


def test_build_is_instrumented_when_expected():
    assert native.SANITIZER_BUILD or not EXPECT, \
        "FASTACT_EXPECT_SANITIZER=1 but fastact._native is not a FASTACT_SANITIZE build"


@pytest.mark.skipif(not native.SANITIZER_BUILD, reason="not a FASTACT_SANITIZE build")
@pytest.mark.parametrize("kind,report", [
    (1, "AddressSanitizer: heap-buffer-overflow"),
    (2, "runtime error: signed integer overflow"),
])
def test_planted_bug_is_reported(kind, report):
    code = ("import numpy as np, fastact._native as n; "
            f"n._planted_bug({kind}, np.ones(1000)); print('survived')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "survived" not in r.stdout, (r.returncode, r.stdout, r.stderr[-2000:])
    assert report in r.stderr, r.stderr[-2000:]


@pytest.mark.skipif(native.SANITIZER_BUILD, reason="a FASTACT_SANITIZE build")
def test_other_builds_hold_no_planted_bug():
    x = np.ones(10)
    assert native._planted_bug(1, x) == -1 and native._planted_bug(2, x) == -1
