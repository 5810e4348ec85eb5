"""Replays the fuzzer's findings (tests/fuzz/crashes/: every input that ever
broke a rule, see tests/fuzz/fuzz_fastact.py) and a fixed sample of
pseudo-random inputs through the fuzz harness's check: native and twin
agree, clear exceptions raised before anything is written, inputs left
alone.  Needs no atheris.  Under FASTACT_BACKEND=numpy both sides are the
twin (the rules on exceptions and writes still hold)."""

import os
import random
import sys
from pathlib import Path

import pytest

import fastact

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "fuzz"))
import fuzz_fastact  # noqa: E402

CRASHES = sorted(p for p in (HERE / "fuzz" / "crashes").iterdir() if p.suffix != ".md")
SAMPLE = int(os.environ.get("FASTACT_FUZZ_SAMPLE", "400"))


@pytest.fixture
def restore_level_and_threads(restore_threads):
    """check_input picks the kernel level and thread count of each input
    (the thread count restored by conftest's restore_threads)."""
    if fastact.BACKEND != "native":
        yield
        return
    from fastact import _native
    level = _native._kernel_level()
    try:
        yield
    finally:
        _native._set_kernel_level(level)


@pytest.mark.parametrize("path", CRASHES, ids=[p.name for p in CRASHES])
def test_kept_finding(path, restore_level_and_threads):
    fuzz_fastact.check_input(path.read_bytes())


def test_findings_are_kept():
    """The folder holds the inputs of the bugs fixed so far (an empty or
    missing folder would make the replay above vacuous)."""
    assert len(CRASHES) >= 5


@pytest.mark.parametrize("block", range(4))
def test_random_sample(block, restore_level_and_threads):
    """SAMPLE inputs (FASTACT_FUZZ_SAMPLE), the same every run."""
    rng = random.Random(1000 + block)
    for _ in range(SAMPLE // 4):
        data = bytes(rng.getrandbits(8) for _ in range(rng.choice((8, 40, 120, 300))))
        fuzz_fastact.check_input(data)
