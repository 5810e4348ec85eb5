"""Bit-identity of the kernels with the reference commit (tests/reference/README.md).

Opt-in: it builds the reference commit (about a minute, needs the pip index)
and runs the whole sweep at every kernel level, so it runs only with
FASTACT_BITIDENT=1.  Extra arguments for ``bitident.py run`` can be given in
FASTACT_BITIDENT_ARGS (e.g. "--levels scalar,avx2 --dir /tmp/ref").
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().with_name("bitident.py")

pytestmark = pytest.mark.skipif(
    os.environ.get("FASTACT_BITIDENT") != "1",
    reason="set FASTACT_BITIDENT=1 to build the reference commit and compare bit for bit",
)


def test_bit_identical_to_reference():
    import fastact  # the build this session tests (conftest may have put the tree on sys.path)

    env = dict(os.environ)
    where = str(Path(fastact.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [where, env.get("PYTHONPATH")]))
    args = shlex.split(os.environ.get("FASTACT_BITIDENT_ARGS", ""))
    r = subprocess.run([sys.executable, str(SCRIPT), "run", *args],
                       capture_output=True, text=True, env=env)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    assert r.returncode == 0, "not bit-identical to the reference:\n" + r.stdout[-20000:]
