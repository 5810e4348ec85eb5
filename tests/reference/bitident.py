#!/usr/bin/env python3
"""Bit-identity harness: fastact's kernels against those of a reference commit.

Every output of a broad, deterministic sweep of the public API (and of the
exponential behind it, ``fastact._native.exp_nonpos_raw``) must be the same
bits in the reference build and in the current install, at every kernel
level (``FASTACT_ISA``), for 1 thread and for several.  Stdlib + NumPy only.

Subcommands (``python tests/reference/bitident.py <cmd> -h`` for options):

  build-ref [--commit C] --dir D
      ``git archive C`` of this repository -> D/src, ``pip wheel`` -> D/wheel,
      ``pip install --no-deps --target D/site``.  Skipped when D/site already
      holds a build of C for this interpreter (stamp file).
  dump --out F.npz [--site D/site]
      Run the sweep with the fastact found in D/site (put first on sys.path),
      or, without --site, with the installed one (which must not be a
      reference build); store every output array plus metadata in F.npz.
  compare A.npz B.npz [--allow-missing]
      Bitwise comparison (NaN payloads and the sign of zero count); per
      mismatching case: differing elements, max ULP distance, first indices.
      Exit status 1 on any mismatch.
  threads F.npz
      Within one dump: the outputs for every extra thread count must equal
      the 1-thread ones.
  run [--levels auto|scalar,sse2,...] [--commit C] [--dir D]
      All of it: build-ref, then per level a dump of the reference and of the
      current install (FASTACT_ISA=level, in fresh subprocesses), compare,
      check threads; summary table; exit status 1 on any failure.

The current install is whatever ``import fastact`` finds for the interpreter
running this script (a venv with ``pip install .``, or an editable install).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

#: The commit whose kernels must be reproduced.  To move the reference, change
#: this (a full 40-hex-digit hash) or pass --commit.
REF_COMMIT = "f8e44cc0ecb724effd121cec652bf3a5e0fc95b3"

HERE = Path(__file__).resolve().parent
SEED = 12345
STAMP = ".bitident-stamp.json"  # in D/site: what it holds
MARKER = ".bitident-ref"  # in D: "this is a reference dir"
META_KEY = "__meta__"

# Below these sizes the kernels run on the calling thread (src_c/parallel.c);
# cases at or above them are repeated with more threads.
PAR_REDUCE = 1 << 14
PAR_RELU = 1 << 18
LONG_ROW_BYTES = 1 << 19  # a single row this long takes the chunked long-row path

DTYPES = (("f32", np.float32), ("f64", np.float64))
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _log(*a):
    print(*a, flush=True)


def repo_root() -> Path:
    out = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--show-toplevel"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip())


def resolve_commit(commit: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo_root()), "rev-parse", "--verify", commit + "^{commit}"],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"bitident: unknown commit {commit!r}: {out.stderr.strip()}")
    return out.stdout.strip()


def default_dir(commit: str) -> Path:
    return Path(tempfile.gettempdir()) / f"fastact-ref-{commit}"


def _clean_env(**extra) -> dict:
    """The environment for a child: no backend/ISA overrides unless given."""
    env = {k: v for k, v in os.environ.items() if k not in ("FASTACT_ISA", "FASTACT_BACKEND")}
    env.update(extra)
    return env


def _under_reference(path: Path) -> Path | None:
    for p in path.resolve().parents:
        if (p / MARKER).exists() or (p / STAMP).exists():
            return p
    return None


# --------------------------------------------------------------------------
# build-ref
# --------------------------------------------------------------------------


def _build_tag() -> dict:
    return {"python": sys.implementation.cache_tag, "platform": sysconfig.get_platform()}


def _stamp_ok(site: Path, commit: str) -> bool:
    try:
        st = json.loads((site / STAMP).read_text())
    except (OSError, ValueError):
        return False
    if st.get("commit") != commit or st.get("build") != _build_tag():
        return False
    return any((site / "fastact").glob("_native*"))


def _pip(args, logf, timeout=None):
    cmd = [sys.executable, "-m", "pip", *args]
    logf.write(f"\n$ {' '.join(cmd)}\n")
    logf.flush()
    try:
        r = subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT, timeout=timeout,
                           env=_clean_env())
    except subprocess.TimeoutExpired:
        logf.write(f"timed out after {timeout} s\n")
        return False
    return r.returncode == 0


def build_ref(commit: str, d: Path, force: bool = False) -> Path:
    """Build the reference into d (see module doc); return d/site."""
    commit = resolve_commit(commit)
    d = Path(d).resolve()
    site = d / "site"
    if not force and _stamp_ok(site, commit):
        _log(f"bitident: reference {commit[:12]} already built in {site}")
        return site
    t0 = time.time()
    d.mkdir(parents=True, exist_ok=True)
    (d / MARKER).write_text(commit + "\n")
    for sub in ("src", "wheel", "site"):
        shutil.rmtree(d / sub, ignore_errors=True)
    src = d / "src"
    src.mkdir()
    _log(f"bitident: git archive {commit[:12]} -> {src}")
    p = subprocess.Popen(["git", "-C", str(repo_root()), "archive", "--format=tar", commit],
                         stdout=subprocess.PIPE)
    with tarfile.open(fileobj=p.stdout, mode="r|") as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(src, filter="data")
        else:  # pragma: no cover - Python < 3.11.4
            tf.extractall(src)
    if p.wait() != 0:
        raise SystemExit("bitident: git archive failed")
    log_path = d / "build.log"
    with open(log_path, "w") as logf:
        wheel = d / "wheel"
        _log("bitident: pip wheel (build isolation: build requirements from the index)")
        ok = _pip(["wheel", "--no-deps", "-w", str(wheel), str(src)], logf, timeout=1200)
        if not ok:
            _log("bitident: isolated build failed; retrying with --no-build-isolation "
                 "(this environment's setuptools/Cython/numpy)")
            shutil.rmtree(wheel, ignore_errors=True)
            shutil.rmtree(src / "build", ignore_errors=True)
            ok = _pip(["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheel), str(src)],
                      logf, timeout=1200)
        wheels = sorted(wheel.glob("fastact-*.whl"))
        if not ok or not wheels:
            raise SystemExit(f"bitident: building the reference failed; see {log_path}")
        _log(f"bitident: pip install --target {site} {wheels[0].name}")
        if not _pip(["install", "--no-deps", "--no-compile", "--target", str(site), str(wheels[0])],
                    logf):
            raise SystemExit(f"bitident: installing the reference failed; see {log_path}")
    info = query_info(site)  # must import from there
    (site / STAMP).write_text(json.dumps({"commit": commit, "build": _build_tag(), "info": info},
                                         indent=1))
    _log(f"bitident: reference built in {time.time() - t0:.0f} s: {site} "
         f"(levels {', '.join(info['kernels_compiled'])})")
    return site


def query_info(site: Path | None, isa: str | None = None) -> dict:
    """Import fastact in a fresh interpreter (from site when given) and
    return where it is and what it offers."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "info"]
    if site is not None:
        cmd += ["--site", str(site)]
    env = _clean_env(**({"FASTACT_ISA": isa} if isa else {}))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if r.returncode != 0:
        raise SystemExit(f"bitident: cannot import fastact{' from ' + str(site) if site else ''}:\n"
                         f"{r.stdout}{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# importing the fastact under test
# --------------------------------------------------------------------------

FA = None  # the fastact module under test (set by _import_fastact)


def _import_fastact(site: str | None, not_under=()):
    global FA
    if "fastact" in sys.modules:
        raise SystemExit("bitident: fastact was imported before its location was chosen")
    if site is not None:
        site_p = Path(site).resolve()
        if not (site_p / "fastact").is_dir():
            raise SystemExit(f"bitident: no fastact package in {site_p}")
        sys.path.insert(0, str(site_p))
    import fastact  # noqa: E402

    loc = Path(fastact.__file__).resolve()
    if site is not None:
        if site_p not in loc.parents:
            raise SystemExit(f"bitident: fastact imported from {loc}, not from {site_p}")
    else:
        ref = _under_reference(loc)
        if ref is not None:
            raise SystemExit(f"bitident: the current fastact ({loc}) is a reference build ({ref})")
        for d in not_under:
            if Path(d).resolve() in loc.parents:
                raise SystemExit(f"bitident: the current fastact ({loc}) is under {d}")
    if getattr(fastact, "BACKEND", "native") != "native":
        raise SystemExit(f"bitident: fastact.BACKEND is {fastact.BACKEND!r}, not 'native'")
    FA = fastact
    return fastact


def _config(fa) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        cfg = dict(fa.show_config())
    nat = fa._native
    cfg.setdefault("kernels_compiled", list(getattr(nat, "KERNELS_COMPILED", ())))
    cfg.setdefault("cpu_level", getattr(nat, "CPU_LEVEL", None))
    cfg.setdefault("kernel_in_use", getattr(nat, "KERNEL_IN_USE", None))
    cfg["kernels_compiled"] = list(cfg["kernels_compiled"])
    cfg["file"] = str(Path(fa.__file__).resolve())
    cfg["native_file"] = str(Path(nat.__file__).resolve())
    return cfg


def cmd_info(args):
    fa = _import_fastact(args.site)
    print(json.dumps(_config(fa)))


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------


def place(a, off: int = 0, dtype=None):
    """A C-contiguous copy of ``a`` whose data starts ``off`` elements past a
    64-byte boundary (deterministic alignment, whatever the allocator does)."""
    a = np.asarray(a, dtype=dtype)
    isz = a.dtype.itemsize
    raw = np.empty(a.nbytes + 64 + off * isz + isz, np.uint8)
    start = (-raw.__array_interface__["data"][0]) % 64 + off * isz
    buf = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    buf[...] = a
    assert buf.flags.c_contiguous and buf.flags.aligned
    return buf


def empty_at(shape, dtype, off: int):
    return place(np.zeros(shape, dtype), off)


def _nan_bits(dt):
    if dt == np.float32:  # quiet, quiet with payload, negative, signalling
        return np.array([0x7FC00000, 0x7FC00001, 0xFFC00000, 0x7FD23456, 0xFFE00007,
                         0x7F800001, 0xFF812345], np.uint32)
    return np.array([0x7FF8000000000000, 0x7FF8000000000001, 0xFFF8000000000000,
                     0x7FFC0000DEADBEEF, 0x7FF0000000000001, 0xFFF4000000000123], np.uint64)


#: Value kinds of the reduction inputs; each line along the reduced axis is
#: one of a kind's patterns (cycled over the lines).
PATTERNS = {"equal": 5, "neginf": 4, "nan": 4, "posinf": 4, "huge": 3, "subnormal": 3,
            "cancel": 3, "exprange": 2}
ALL_KINDS = ("normal1", "normal30", "normal300", "mixscale", "dominant", "dominant_big", "ties",
             "equal", "neginf", "nan", "posinf", "huge", "subnormal", "cancel", "exprange")
SPECIAL_KINDS = ALL_KINDS[1:]


def lines(kind, rng, L, n, dt, first=0):
    """(L, n) values of ``kind`` (see PATTERNS / ALL_KINDS) in dtype dt."""
    f32 = dt == np.float32
    fi = np.finfo(dt)
    inf = np.inf
    g = rng.standard_normal((L, n))
    pat = (np.arange(L) + first) % PATTERNS.get(kind, 1)
    nanpos = []  # (row, columns) to receive NaN bit patterns
    if kind == "normal1":
        x = g
    elif kind == "normal30":
        x = g * 30
    elif kind == "normal300":
        x = g * 300
    elif kind == "mixscale":
        x = g * 10.0 ** rng.uniform(-6, 4, (L, 1))
    elif kind in ("dominant", "dominant_big"):
        x = g
        bump = 25.0 if kind == "dominant" else (120.0 if f32 else 800.0)
        x[np.arange(L), rng.integers(0, n, L)] += bump
    elif kind == "ties":  # half-integers, the row maximum repeated
        x = np.round(g * 2) / 2
        mx = x.max(axis=1)
        for r in range(L):
            k = int(rng.integers(1, min(n, 8) + 1))
            x[r, rng.choice(n, k, replace=False)] = mx[r]
    elif kind == "equal":
        consts = np.array([0.0, 3.25, -7000.0, 88.5, -1e-3])
        x = np.repeat(consts[pat][:, None], n, axis=1)
    elif kind == "neginf":
        x = g.copy()
        for r in range(L):
            p = pat[r]
            if p == 0:
                x[r, rng.random(n) < 0.3] = -inf
            elif p == 1:
                x[r] = -inf
            elif p == 2:
                j = rng.integers(n)
                x[r] = -inf
                x[r, j] = g[r, j]
            else:
                x[r, 0] = x[r, -1] = -inf
    elif kind == "nan":
        x = g.copy()
        for r in range(L):
            p = pat[r]
            if p == 1:
                nanpos.append((r, slice(None)))
                continue
            j, k = rng.integers(n), rng.integers(n)
            if p == 2:
                x[r, k] = inf
            elif p == 3:
                x[r, k] = -inf
            nanpos.append((r, [j]))
    elif kind == "posinf":
        x = g.copy()
        for r in range(L):
            p = pat[r]
            j, k = rng.integers(n), rng.integers(n)
            if p == 0:
                x[r, j] = inf
            elif p == 1:
                x[r, j] = x[r, k] = inf
            elif p == 2:
                x[r, k] = -inf
                x[r, j] = inf
            else:
                x[r] = inf
    elif kind == "huge":
        big = 1e30 if f32 else 1e300
        x = g.copy()
        for r in range(L):
            p = pat[r]
            if p == 0:
                x[r] *= big
            elif p == 1:
                m = rng.random(n) < 0.5
                x[r, m] = np.sign(g[r, m]) * big
            else:
                x[r, rng.integers(n)] = -fi.max
                x[r, rng.integers(n)] = fi.max
    elif kind == "subnormal":
        tiny, sub = float(fi.smallest_normal), float(fi.smallest_subnormal)
        x = rng.uniform(-1, 1, (L, n)) * tiny
        for r in range(L):
            if pat[r] == 1:
                x[r] = rng.choice(np.array([0.0, -0.0, sub, -sub, tiny, -tiny]), n)
            elif pat[r] == 2:
                x[r, rng.integers(n)] = 1.0
    elif kind == "cancel":  # logsumexp near 0 from m < 0: n values near -log(n)
        a = np.log(n)
        eps = np.where(pat == 0, 1e-4, np.where(pat == 1, 1e-6 if f32 else 1e-12, 0.0))
        x = -a + g * eps[:, None]
    elif kind == "exprange":  # the exponential's whole range
        lo = -104.0 if f32 else -745.0
        x = rng.uniform(lo, 0, (L, n))
        for r in range(L):
            if pat[r] == 0:
                x[r, rng.integers(n)] = 0.0
            else:
                x[r] += rng.uniform(-30, 30)
    else:
        raise ValueError(kind)
    with np.errstate(all="ignore"):
        x = x.astype(dt)
    if nanpos:
        xi = x.view(UINT[x.dtype.itemsize])
        bits = _nan_bits(dt)
        for r, cols in nanpos:
            cnt = n if isinstance(cols, slice) else len(cols)
            xi[r, cols] = bits[rng.integers(len(bits), size=cnt)]
    return x


def cols_input(kind, rng, outer, n, inner, dt, off):
    """(outer, n, inner) C-contiguous, each column (fixed outer, inner) a line of `kind`."""
    v = lines(kind, rng, outer * inner, n, dt).reshape(outer, inner, n).transpose(0, 2, 1)
    return place(v, off)


def relu_values(rng, size, dt):
    fi = np.finfo(dt)
    pool = np.array([0.0, -0.0, np.inf, -np.inf, float(fi.smallest_subnormal),
                     -float(fi.smallest_subnormal), float(fi.smallest_normal) * 0.37,
                     -float(fi.smallest_normal) * 0.37, float(fi.max), -float(fi.max),
                     float(fi.smallest_normal), -float(fi.smallest_normal), 1.0, -1.0],
                    dtype=dt)
    x = (rng.standard_normal(size) * 10).astype(dt)
    m = rng.random(size)
    sel = m < 0.35
    x[sel] = pool[rng.integers(len(pool), size=int(sel.sum()))]
    nan = m > 0.9
    bits = _nan_bits(dt)
    x.view(UINT[x.dtype.itemsize])[nan] = bits[rng.integers(len(bits), size=int(nan.sum()))]
    return x


# --------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------


class Case:
    """One input (generated by make(rng), from a seed derived from the name)
    and the operations run on it.  par: large enough for the thread pool, so
    repeated with every extra thread count."""

    __slots__ = ("name", "par", "make")

    def __init__(self, name, par, make):
        self.name, self.par, self.make = name, par, make


def _red_ops(x, axis=-1, out_off=None, ops=("softmax", "log_softmax", "logsumexp"),
             inplace=False):
    """(op, thunk) for the reductions of x over axis (out= at out_off when
    given); with inplace, also softmax and log_softmax with out= the input
    (a copy of x at the same alignment)."""
    res = []
    if inplace:
        off = (x.__array_interface__["data"][0] % 64) // x.dtype.itemsize
        for op in ("softmax", "log_softmax"):
            def call_inplace(op=op):
                xc = place(x, off)
                r = getattr(FA, op)(xc, axis, out=xc)
                assert r is xc
                return xc
            res.append((op + "/inplace", call_inplace))
    for op in ops:
        def call(op=op):
            fn = getattr(FA, op)
            if out_off is None:
                return fn(x, axis)
            assert axis == -1
            shape = x.shape[:-1] if op == "logsumexp" else x.shape
            out = empty_at(shape, x.dtype, out_off)
            r = fn(x, axis, out=out)
            assert r is out
            return out
        res.append((op, call))
    return res


ROW_SIZES = tuple(range(1, 71)) + (100, 127, 128, 129, 255, 256, 257, 1000, 1023, 1024, 1025,
                                   4097, 32000)
#: kinds per row length: every kind up to 257, fewer for the long ones
MID_ROW_KINDS = ("normal1", "normal300", "ties", "neginf", "nan", "exprange", "cancel", "dominant")
BIG_ROW_KINDS = ("normal1", "neginf", "nan")
BOTH_OFFSETS = ("normal1", "neginf", "nan", "ties")
#: kinds that are repeated with more threads (when large enough): the rest
#: only add size, the splits do not depend on the values
T2_KINDS = ("normal1", "nan")


def _t2(size, kind="normal1", thr=PAR_REDUCE):
    return size >= thr and kind in T2_KINDS


def row_cases():
    for dn, dt in DTYPES:
        for n in ROW_SIZES:
            kinds = ALL_KINDS if n <= 257 else MID_ROW_KINDS if n <= 1025 else BIG_ROW_KINDS
            for kind in kinds:
                R = max(3, PATTERNS.get(kind, 1))
                offs = (0, 1) if kind in BOTH_OFFSETS and n <= 1025 else (1,)
                for off in offs:
                    def mk(rng, dt=dt, n=n, R=R, off=off, kind=kind):
                        x = place(lines(kind, rng, R, n, dt), off)
                        return (x,), _red_ops(x)
                    yield Case(f"{dn}/rows/n={n}/r={R}/off={off}/{kind}", _t2(R * n, kind), mk)

            def mk1(rng, dt=dt, n=n):  # one row, 1-D
                x = place(lines("normal1", rng, 1, n, dt)[0], 1)
                return (x,), _red_ops(x)
            yield Case(f"{dn}/row1d/n={n}/off=1/normal1", False, mk1)

            def mko(rng, dt=dt, n=n):  # aligned input, out= one element past alignment
                x = place(lines("normal1", rng, 3, n, dt), 0)
                return (x,), _red_ops(x, out_off=1, inplace=True)
            yield Case(f"{dn}/rows/n={n}/r=3/off=0,out=1/normal1", _t2(3 * n), mko)


# (n, inner) grids of the column (non-last axis) reductions.  Columns go in
# chunks of 256; the packed path takes blocks of wp columns of n rows within
# 32 KiB (wp = 8192 // n // 16 * 16 float32 columns, 4096 // n // 16 * 16
# float64 ones, at most 256; none for n > 512 / 256: the unpacked path).
COL_INNER = (1, 2, 3, 7, 15, 16, 17, 31, 33, 100, 255, 256, 257, 600)
COL_GRID_A = (  # 2-D (n, inner), axis 0, normal values
    [(n, i) for n in (1, 2, 3, 5, 7, 16, 21, 33, 64) for i in COL_INNER]
    + [(n, 17) for n in (200, 256, 257, 300, 512, 513)]
    + [(200, 33), (300, 33), (257, 257), (513, 257), (300, 3), (513, 3), (2000, 3), (2000, 33)]
)
COL_GRID_B = (  # 3-D (2, n, inner), axis 1, normal values
    [(n, i) for n in (1, 2, 3, 5, 7, 16, 21, 33, 64) for i in (2, 7, 16, 17, 33, 257)]
    + [(300, 17), (257, 16), (600, 33)]
)
COL_GRID_SPECIAL = (  # 3-D (2, n, inner), axis 1, every special kind
    [(n, i) for n in (1, 3, 16, 21, 64) for i in (7, 17, 33)] + [(300, 17), (21, 257)]
)
COL_GRID_SPECIAL_LONG = [(600, 17)]  # unpacked for both dtypes, fewer kinds
LONG_COL_KINDS = ("neginf", "nan", "ties", "exprange", "posinf", "cancel")
COL_BIG = (  # beyond one packed block, several chunks: (outer, n, inner, kinds, dtypes)
    (1, 5000, 40, ("normal1",), ("f32", "f64")),
    (1, 5000, 40, ("nan",), ("f32",)),
    (3, 1500, 70, ("normal1",), ("f32", "f64")),
    (3, 1500, 70, ("neginf",), ("f32",)),
    (2, 40, 1000, ("normal1", "ties"), ("f32", "f64")),
)


def col_cases():
    for dn, dt in DTYPES:
        for n, inner in COL_GRID_A:
            for off in ((0, 1) if n * inner <= 4096 else (1,)):
                def mk(rng, dt=dt, n=n, inner=inner, off=off):
                    x = cols_input("normal1", rng, 1, n, inner, dt, off).reshape(n, inner)
                    return (x,), _red_ops(x, axis=0)
                yield Case(f"{dn}/cols2d/n={n}/inner={inner}/off={off}/normal1",
                           _t2(n * inner), mk)
        for n, inner in COL_GRID_B:
            def mk(rng, dt=dt, n=n, inner=inner):
                x = cols_input("normal1", rng, 2, n, inner, dt, 1)
                return (x,), _red_ops(x, axis=1, inplace=inner in (7, 17, 257) or n == 600)
            yield Case(f"{dn}/cols3d/2x{n}x{inner}/off=1/normal1", _t2(2 * n * inner), mk)
        for grid, kinds in ((COL_GRID_SPECIAL, SPECIAL_KINDS),
                            (COL_GRID_SPECIAL_LONG, LONG_COL_KINDS)):
            for n, inner in grid:
                for kind in kinds:
                    def mk(rng, dt=dt, n=n, inner=inner, kind=kind):
                        x = cols_input(kind, rng, 2, n, inner, dt, 1)
                        return (x,), _red_ops(x, axis=1)
                    yield Case(f"{dn}/cols3d/2x{n}x{inner}/off=1/{kind}",
                               _t2(2 * n * inner, kind), mk)
        for outer, n, inner, kinds, dts in COL_BIG:
            if dn not in dts:
                continue
            for kind in kinds:
                def mk(rng, dt=dt, outer=outer, n=n, inner=inner, kind=kind):
                    x = cols_input(kind, rng, outer, n, inner, dt, 1)
                    if outer == 1:
                        x = x.reshape(n, inner)
                    return (x,), _red_ops(x, axis=0 if outer == 1 else 1)
                yield Case(f"{dn}/colsbig/{outer}x{n}x{inner}/off=1/{kind}",
                           _t2(outer * n * inner, kind), mk)


AXES_CASES = (  # (shape, axes, kinds)
    ((7, 33), (None, (0, 1), (1, 0), (0,), (-1,)), ("normal1", "normal30", "neginf", "nan")),
    ((64, 70), (None, (0, 1)), ("normal1", "normal30", "neginf", "nan")),
    ((5, 6, 17), (None, (0, 1), (1, 2), (0, 2), (2, 0), (0, 1, 2), (-1,), (1,)),
     ("normal1", "normal30", "neginf", "nan")),
    ((3, 64, 129), (None, (0, 2), (1, 2), (0, 1)), ("normal1", "nan")),
)


def axes_cases():
    for dn, dt in DTYPES:
        for shape, axes, kinds in AXES_CASES:
            size = int(np.prod(shape))
            for kind in kinds:
                for ax in axes:
                    def mk(rng, dt=dt, shape=shape, ax=ax, kind=kind, size=size):
                        x = place(lines(kind, rng, 1, size, dt).reshape(shape), 1)
                        return (x,), _red_ops(x, axis=ax)
                    axs = "None" if ax is None else ",".join(map(str, ax))
                    yield Case(f"{dn}/axes/{'x'.join(map(str, shape))}/axis={axs}/{kind}",
                               _t2(size, kind), mk)


# Single rows of >= 512 KiB (2^17 float32, 2^16 float64 elements) take the
# chunked long-row path (64 KiB chunks, spread over the pool); just below, the
# ordinary row kernels.  (sizes, operations) per dtype:
ALL3 = ("softmax", "log_softmax", "logsumexp")
LONG = {
    "f32": (((2**17 - 1, 2**17, 2**17 + 3), ALL3), ((2**19 + 5,), ("softmax", "logsumexp")),
            ((2**21,), ("logsumexp",))),
    "f64": (((2**16 - 1, 2**16, 2**16 + 3), ALL3), ((2**19 + 5,), ("softmax", "logsumexp")),
            ((2**17, 2**17 + 3, 2**21), ("logsumexp",))),
}
LONG_SPECIAL_N = {"f32": 2**17 + 3, "f64": 2**16 + 3}
LONG_SPECIAL_OPS = {"nan": ALL3, "neginf": ALL3, "exprange": ALL3,
                    "ties": ("softmax", "logsumexp"), "cancel": ("softmax", "logsumexp"),
                    "dominant_big": ("softmax", "logsumexp")}
LONG_T2 = ("normal1", "nan", "neginf")


def long_cases():
    for dn, dt in DTYPES:
        for sizes, ops in LONG[dn]:
            for n in sizes:
                def mk(rng, dt=dt, n=n, ops=ops):
                    x = place(lines("normal1", rng, 1, n, dt)[0], 1)
                    return (x,), _red_ops(x, ops=ops, inplace=n == LONG_SPECIAL_N[dn])
                # repeated with more threads when on the long-row path, except
                # the float64 softmax of 4 MiB (size)
                nbytes = n * np.dtype(dt).itemsize
                t2 = nbytes >= LONG_ROW_BYTES and (nbytes <= 2**22 or ops == ("logsumexp",))
                yield Case(f"{dn}/long/n={n}/axis=-1/off=1/normal1", t2, mk)
        n = LONG_SPECIAL_N[dn]
        for kind in SPECIAL_KINDS:
            for first in range(PATTERNS.get(kind, 1)):
                ops = LONG_SPECIAL_OPS.get(kind, ("logsumexp",)) if first == 0 else ("logsumexp",)
                def mk(rng, dt=dt, n=n, kind=kind, first=first, ops=ops):
                    x = place(lines(kind, rng, 1, n, dt, first=first)[0], 1)
                    return (x,), _red_ops(x, ops=ops)
                yield Case(f"{dn}/long/n={n}/axis=-1/off=1/{kind}.p{first}", kind in LONG_T2, mk)
        n2d = (2**8, 2**9) if dn == "f32" else (2**7, 2**9)
        for shape, kind, ops in ((n2d, "normal1", ALL3), (n2d, "neginf", ("logsumexp",)),
                                 ((2**11, 2**10), "normal1", ("logsumexp",)),
                                 ((2**11, 2**10), "exprange", ("logsumexp",)),
                                 ((2**19 + 5,), "normal1", ("logsumexp",))):
            def mk(rng, dt=dt, shape=shape, kind=kind, ops=ops):
                x = place(lines(kind, rng, 1, int(np.prod(shape)), dt).reshape(shape), 0)
                return (x,), _red_ops(x, axis=None, ops=ops)
            yield Case(f"{dn}/long/{'x'.join(map(str, shape))}/axis=None/off=0/{kind}", True, mk)


CE_SHAPES = (  # (logits shape, class axis)
    [((N, C), -1) for N, C in ((1, 1), (5, 1), (7, 2), (16, 3), (33, 7), (9, 16), (13, 17),
                                (8, 33), (6, 100), (4, 257), (3, 1000), (2, 4097))]
    + [((N, C, d), 1) for N, C, d in ((3, 1, 5), (4, 2, 3), (5, 7, 17), (2, 33, 16), (3, 100, 1),
                                       (2, 257, 9))]
)
CE_BIG = (((3000, 100), -1), ((20000, 10), -1), ((500, 40, 8), 1), ((40, 50000), -1),
          ((30000, 2), -1))


def _ce_ops(x, target, C, weights=True):
    rng_w = np.random.default_rng([SEED, C])
    w = rng_w.uniform(0.1, 2.0, C)
    res = []
    for wn, wt in (("0", None), ("1", w)) if weights else (("0", None),):
        for ls in (0.0, 0.1):
            for red in ("none", "sum", "mean"):
                def call(wt=wt, ls=ls, red=red, ax=target[1]):
                    return FA.cross_entropy(x, target[0], axis=ax, weight=wt, reduction=red,
                                            label_smoothing=ls, ignore_index=target[2])
                res.append((f"cross_entropy/w={wn}/ls={ls}/red={red}", call))
    return res


def ce_cases():
    for dn, dt in DTYPES:
        for big, shapes in ((False, CE_SHAPES), (True, CE_BIG)):
            for shape, ax in shapes:
                C = shape[ax]
                sshape = tuple(s for i, s in enumerate(shape) if i != ax % len(shape))
                kinds = ("normal1",) if big else ("normal1", "normal30", "neginf", "nan",
                                                   "dominant_big")
                size = int(np.prod(shape))
                for kind in kinds:
                    sh = "x".join(map(str, shape))

                    def logits(rng, dt=dt, shape=shape, ax=ax, kind=kind):
                        a = ax % len(shape)
                        L = int(np.prod(shape)) // shape[a]
                        v = lines(kind, rng, L, shape[a], dt)  # lines along the class axis
                        other = tuple(s for i, s in enumerate(shape) if i != a)
                        v = np.moveaxis(v.reshape(other + (shape[a],)), -1, a)
                        return place(v, 1)

                    def mki(rng, C=C, sshape=sshape, ax=ax, ign=-100, logits=logits):
                        x = logits(rng)
                        t = rng.integers(0, C, sshape).astype(np.int64)
                        t[rng.random(sshape) < 0.15] = ign
                        t = place(t, 0)
                        return (x, t), _ce_ops(x, (t, ax, ign), C)
                    yield Case(f"{dn}/ce/{sh}/axis={ax}/index/{kind}", big and size >= PAR_REDUCE,
                               mki)

                    if C >= 2 and not big:
                        def mkv(rng, C=C, sshape=sshape, ax=ax, logits=logits):
                            x = logits(rng)  # ignore_index = 1, a valid class
                            t = place(rng.integers(0, C, sshape).astype(np.int64), 0)
                            return (x, t), _ce_ops(x, (t, ax, 1), C, weights=False)
                        yield Case(f"{dn}/ce/{sh}/axis={ax}/index_ign1/{kind}", False, mkv)

                    def mkp(rng, dt=dt, shape=shape, ax=ax, C=C, logits=logits):
                        x = logits(rng)
                        z = rng.standard_normal(shape) * 2
                        p = np.exp(z - z.max(axis=ax, keepdims=True))
                        p /= p.sum(axis=ax, keepdims=True)
                        # some one-hot lines, some exact zeros
                        pm = np.moveaxis(p, ax, -1).reshape(-1, C)
                        rows = rng.random(pm.shape[0])
                        oh = rows < 0.2
                        pm[oh] = 0.0
                        pm[np.nonzero(oh)[0], rng.integers(0, C, int(oh.sum()))] = 1.0
                        pm[(rows > 0.8)[:, None] & (rng.random(pm.shape) < 0.3)] = 0.0
                        other = tuple(s for i, s in enumerate(shape) if i != ax % len(shape))
                        p = np.moveaxis(pm.reshape(other + (C,)), -1, ax % len(shape))
                        p = place(p, 1, dtype=dt)
                        return (x, p), _ce_ops(x, (p, ax, -100), C)
                    yield Case(f"{dn}/ce/{sh}/axis={ax}/prob/{kind}", big and size >= PAR_REDUCE,
                               mkp)
        # every label ignored: mean is 0/0
        def mka(rng, dt=dt):
            x = place(lines("normal1", rng, 6, 5, dt), 1)
            t = np.full(6, -100, np.int64)
            return (x, t), _ce_ops(x, (t, -1, -100), 5)
        yield Case(f"{dn}/ce/6x5/axis=-1/all_ignored/normal1", False, mka)


RELU_SIZES = tuple(range(1, 71)) + (127, 128, 129, 1000, 4097, 16383, 16385, 2**18 + 7)


def relu_cases():
    for dn, dt in DTYPES:
        for n in RELU_SIZES:
            for off in ((0, 1) if n < PAR_RELU else (1,)):
                def mk(rng, dt=dt, n=n, off=off):
                    x = place(relu_values(rng, n, dt), off)
                    return (x,), [("relu", lambda: FA.relu(x))]
                yield Case(f"{dn}/relu/n={n}/off={off}", n >= PAR_RELU and off == 1, mk)
        for n in (1, 7, 33, 70, 2**18 + 7):
            def mk(rng, dt=dt, n=n):  # in place, and out= misaligned
                x = place(relu_values(rng, n, dt), 1)

                def inplace():
                    xc = place(x, 1)
                    r = FA.relu(xc, out=xc)
                    assert r is xc
                    return xc

                def outmis():
                    out = empty_at(x.shape, x.dtype, 1)
                    r = FA.relu(x, out=out)
                    assert r is out
                    return out
                ops = [("relu/out=1", outmis)]
                if n < PAR_RELU:
                    ops.append(("relu/inplace", inplace))
                return (x,), ops
            yield Case(f"{dn}/relu/n={n}/off=1/out", False, mk)

        def mk3(rng, dt=dt):
            x = place(relu_values(rng, 3 * 5 * 7, dt).reshape(3, 5, 7), 0)
            return (x,), [("relu", lambda: FA.relu(x))]
        yield Case(f"{dn}/relu/3x5x7/off=0", False, mk3)


def api_cases():
    """The general path: conversions, layouts, dtypes and out= it handles
    before running the same kernels."""
    for dn, dt in DTYPES:
        def mk_nc(rng, dt=dt):  # non-contiguous and Fortran-ordered
            base = lines("normal1", rng, 40, 66, dt)
            nc, fo = base[:, ::2], np.asfortranarray(base)
            ops = []
            for nm, v in (("strided", nc), ("fortran", fo)):
                for ax in (0, -1):
                    for op in ("softmax", "log_softmax", "logsumexp"):
                        ops.append((f"{op}/{nm}/axis={ax}",
                                    lambda op=op, v=v, ax=ax: getattr(FA, op)(v, ax)))
            ops.append(("relu/strided", lambda: FA.relu(nc)))
            ops.append(("cross_entropy/fortran", lambda: FA.cross_entropy(
                fo, np.arange(40, dtype=np.int64) % 66, reduction="none")))
            return (base,), ops
        yield Case(f"{dn}/api/layouts", False, mk_nc)

        def mk_sw(rng, dt=dt):  # byte-swapped input, out= strided
            base = lines("normal30", rng, 9, 31, dt)
            sw = base.astype(base.dtype.newbyteorder(">"))
            def strided_out(op):
                out = np.zeros((9, 62), dt)[:, ::2]
                getattr(FA, op)(base, out=out)
                return np.ascontiguousarray(out)
            return (base,), [
                ("softmax/byteswapped", lambda: FA.softmax(sw)),
                ("logsumexp/byteswapped", lambda: FA.logsumexp(sw)),
                ("relu/byteswapped", lambda: FA.relu(sw)),
                ("softmax/out=strided", lambda: strided_out("softmax")),
                ("log_softmax/out=strided", lambda: strided_out("log_softmax")),
                ("logsumexp/keepdims", lambda: FA.logsumexp(base, 0, keepdims=True)),
            ]
        yield Case(f"{dn}/api/swapped", False, mk_sw)

    def mk_conv(rng):  # float16 / int / list inputs (computed in float32 / float64)
        h = (rng.standard_normal((6, 21)) * 4).astype(np.float16)
        i = rng.integers(-50, 50, (6, 21))
        lst = (rng.standard_normal((3, 5)) * 3).tolist()
        ops = []
        for nm, v in (("float16", h), ("int64", i), ("list", lst)):
            for op in ("softmax", "log_softmax", "logsumexp"):
                ops.append((f"{op}/{nm}", lambda op=op, v=v: getattr(FA, op)(v)))
        ops.append(("relu/float16", lambda: FA.relu(h)))
        ops.append(("cross_entropy/float16", lambda: FA.cross_entropy(
            h, np.arange(6) % 21, reduction="none")))
        return (h, i), ops
    yield Case("mixed/api/conversions", False, mk_conv)


def exp_cases(nat):
    if nat is None or not hasattr(nat, "exp_nonpos_raw"):
        return
    for dn, dt in DTYPES:
        f32 = dt == np.float32
        lo = -110.0 if f32 else -750.0

        def mk(rng, dt=dt, f32=f32, lo=lo):
            fi = np.finfo(dt)
            grid = np.linspace(lo, 0.0, (2**20 if f32 else 2**19) + 1)
            rnd = rng.uniform(lo, 0.0, 2**17)
            if f32:
                edges = [np.linspace(-104.5, -102.5, 2**14), np.linspace(-88.8, -86.5, 2**14)]
            else:
                edges = [np.linspace(-745.2, -744.0, 2**15), np.linspace(-708.6, -707.6, 2**15)]
            near0 = -np.logspace(-30 if f32 else -300, 0.5, 2**14)
            spec = np.array([0.0, -0.0, -np.inf, np.nan, -float(fi.smallest_subnormal),
                             -float(fi.smallest_normal), -float(fi.eps), -1.0, -np.log(2),
                             lo, -float(fi.max)])
            with np.errstate(all="ignore"):
                d = np.concatenate([grid, rnd, *edges, near0, spec]).astype(dt)
            d = np.concatenate([d, _nan_bits(dt).view(dt)])
            x = place(d, 1)

            def run():
                y = empty_at(x.shape, dt, 1)
                nat.exp_nonpos_raw(x, y)
                return y
            ops = [("exp_nonpos/grid", run)]
            # short arrays: every tail length, aligned and not
            for n in tuple(range(1, 41)) + (63, 64, 65, 255, 257):
                for off in (0, 1):
                    def tail(n=n, off=off):
                        xs = place(x[:n][::-1], off)
                        y = empty_at(n, dt, off)
                        nat.exp_nonpos_raw(xs, y)
                        return y
                    ops.append((f"exp_nonpos/n={n}/off={off}", tail))
            return (x,), ops
        yield Case(f"{dn}/exp", False, mk)


def all_cases(nat):
    yield from row_cases()
    yield from col_cases()
    yield from axes_cases()
    yield from long_cases()
    yield from ce_cases()
    yield from relu_cases()
    yield from api_cases()
    yield from exp_cases(nat)


# --------------------------------------------------------------------------
# dump
# --------------------------------------------------------------------------


class NpzWriter:
    """np.savez's format, written one array at a time."""

    def __init__(self, path):
        self.zf = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True)
        self.keys = set()
        self.nbytes = 0

    def add(self, key, arr):
        if key in self.keys:
            raise ValueError(f"duplicate key {key}")
        self.keys.add(key)
        arr = np.asanyarray(arr)
        self.nbytes += arr.nbytes
        with self.zf.open(key + ".npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, arr, allow_pickle=False)

    def close(self):
        self.zf.close()


def _rng_for(name):
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def _run_case(case, tag, w, digests, only):
    inputs, ops = case.make(_rng_for(case.name))
    if digests is not None:
        digest = digests["exp" if case.name.endswith("/exp") else "main"]
        for a in inputs:
            a = np.ascontiguousarray(a)
            digest.update(f"{case.name}|{a.dtype.str}|{a.shape}".encode())
            digest.update(a.view(np.uint8).reshape(-1).data if a.size else b"")
    errors = 0
    for op, fn in ops:
        key = f"{tag}/{op}/{case.name}"
        if only is not None and not only.search(key):
            continue
        try:
            with np.errstate(all="ignore"):
                r = np.asarray(fn())
        except Exception as exc:  # recorded: must then fail the same way in both
            r = np.array(f"ERROR {type(exc).__name__}: {exc}")
            errors += 1
        w.add(key, r)
    return errors


def cmd_dump(args):
    t0 = time.time()
    fa = _import_fastact(args.site, args.not_under or ())
    nat = fa._native
    threads = [int(t) for t in args.threads.split(",")]
    only = re.compile(args.only) if args.only else None
    exp_present = hasattr(nat, "exp_nonpos_raw") and not args.skip_exp
    if not exp_present:
        _log("WARNING: fastact._native.exp_nonpos_raw is absent: the exp sweep is skipped")
    cases = list(all_cases(nat if exp_present else None))
    w = NpzWriter(args.out)
    digests = {"main": hashlib.sha256(), "exp": hashlib.sha256()}
    errors = 0
    par_cases = [c for c in cases if c.par]
    try:
        for i, nthr in enumerate(threads):
            fa.set_num_threads(nthr)
            assert fa.get_num_threads() == nthr
            todo = cases if i == 0 else par_cases
            for c in todo:
                errors += _run_case(c, f"t{nthr}", w, digests if i == 0 else None, only)
        cfg = _config(fa)
        meta = {
            "config": cfg, "kernel_in_use": cfg.get("kernel_in_use"), "threads": threads,
            "num_threads": threads, "exp_sweep": exp_present, "input_sha256": digests["main"].hexdigest(),
            "exp_input_sha256": digests["exp"].hexdigest() if exp_present else None,
            "cases": len(cases), "par_cases": len(par_cases), "arrays": len(w.keys),
            "errors": errors, "seed": SEED, "only": args.only,
            "fastact_isa_env": os.environ.get("FASTACT_ISA"),
            "numpy": np.__version__, "python": sys.version.split()[0],
        }
        w.add(META_KEY, np.array(json.dumps(meta)))
    finally:
        w.close()
    _log(f"bitident dump: {fa.__file__} [{cfg.get('kernel_in_use')}] -> {args.out}: "
         f"{len(w.keys) - 1} arrays, {w.nbytes / 2**20:.1f} MiB, {errors} errors, "
         f"{time.time() - t0:.1f} s")
    if errors:
        _log(f"WARNING: {errors} operations raised (recorded as ERROR strings)")


# --------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------


class Npz:
    """Lazy reader of an npz file (raw member bytes first, parsed on demand)."""

    def __init__(self, path):
        self.path = str(path)
        self.zf = zipfile.ZipFile(self.path)
        # insertion order = the sweep's order
        self.names = {n[:-4]: n for n in self.zf.namelist() if n.endswith(".npy")}
        self.meta = json.loads(str(self.array(META_KEY))) if META_KEY in self.names else {}

    def keys(self):
        return [k for k in self.names if not k.startswith("__")]

    def close(self):
        self.zf.close()

    def raw(self, key):
        return self.zf.read(self.names[key])

    def array(self, key, raw=None):
        return np.lib.format.read_array(io.BytesIO(raw if raw is not None else self.raw(key)),
                                        allow_pickle=False)


def _fmt(v, bits):
    if bits is None:
        return repr(v.item() if hasattr(v, "item") else v)
    return f"{v.item()!r} (0x{int(bits):0{v.dtype.itemsize * 2}x})"


def describe_mismatch(key, a, b, la="A", lb="B", first=5) -> str:
    """Text for one mismatching case: differing elements, max ULP distance
    (ordered-integer representation; NaNs apart), first differing indices."""
    if a.dtype != b.dtype or a.shape != b.shape:
        sa = str(a) if a.dtype.kind == "U" else ""
        sb = str(b) if b.dtype.kind == "U" else ""
        return (f"{key}: {la} {a.dtype}{a.shape} {sa} vs {lb} {b.dtype}{b.shape} {sb}").rstrip()
    af, bf = a.reshape(-1), b.reshape(-1)
    if a.dtype.kind == "f" and a.dtype.itemsize in UINT:
        u = UINT[a.dtype.itemsize]
        ua = af.view(u).astype(np.uint64)
        ub = bf.view(u).astype(np.uint64)
        diff = np.nonzero(ua != ub)[0]
        nbits = 8 * a.dtype.itemsize
        sign, mag_mask = np.uint64(1 << (nbits - 1)), np.uint64((1 << (nbits - 1)) - 1)
        bias = np.uint64(1 << 63)

        def ordered(x):
            mag = x & mag_mask
            return np.where((x & sign) != 0, bias - mag, bias + mag)
        oa, ob = ordered(ua[diff]), ordered(ub[diff])
        dist = np.where(oa > ob, oa - ob, ob - oa)
        nan = np.isnan(af[diff]) | np.isnan(bf[diff])
        maxulp = int(dist[~nan].max()) if (~nan).any() else None
        zero_sign = int(((af[diff] == 0) & (bf[diff] == 0)).sum())
        head = (f"{key}: {diff.size} of {a.size} elements differ; max ULP distance "
                f"{maxulp if maxulp is not None else 'n/a'}"
                + (f"; {int(nan.sum())} involve NaN" if nan.any() else "")
                + (f"; {zero_sign} are +0/-0" if zero_sign else ""))
        lines_ = [head]
        for k in diff[:first]:
            idx = np.unravel_index(int(k), a.shape) if a.ndim else ()
            lines_.append(f"    {list(map(int, idx))}: {la}={_fmt(af[k], ua[k])}  "
                          f"{lb}={_fmt(bf[k], ub[k])}")
        return "\n".join(lines_)
    if a.dtype.kind in "biu" or a.dtype.kind == "f":
        diff = np.nonzero(af.view(np.uint8) != bf.view(np.uint8))[0] // a.dtype.itemsize
        diff = np.unique(diff)
    else:
        diff = np.nonzero(af != bf)[0]
    out = [f"{key}: {diff.size} of {a.size} elements differ"]
    for k in diff[:first]:
        out.append(f"    [{int(k)}]: {la}={af[k]!r}  {lb}={bf[k]!r}")
    return "\n".join(out)


def _group(key):
    """t1/softmax/f32/rows/n=17/... -> t1/softmax/f32/rows (op names may have /)."""
    parts = key.split("/")
    for i, p in enumerate(parts):
        if p in ("f32", "f64", "mixed") and i + 1 < len(parts):
            return f"{parts[0]}/{parts[1]}/{p}/{parts[i + 1]}"
    return "/".join(parts[:2])


def _groups(keys):
    out = {}
    for k in keys:
        g = _group(k)
        out[g] = out.get(g, 0) + 1
    return out


def _is_exp(key):
    return "/exp_nonpos/" in key


def _nan_bits_promised(key):
    """relu promises NaN bits untouched (and the exp sweep is a kernel test);
    the reductions only promise a NaN, whose payload follows the order in
    which the compiler placed an addition's operands (IEEE addition commutes
    in value, not in NaN payload)."""
    return "/relu/" in key or _is_exp(key)


def _only_nan_payloads(a, b):
    """The arrays differ only where both hold a NaN."""
    if a.dtype != b.dtype or a.shape != b.shape or a.dtype.kind != "f":
        return False
    u = UINT.get(a.dtype.itemsize)
    if u is None:
        return False
    af, bf = a.reshape(-1), b.reshape(-1)
    diff = af.view(u) != bf.view(u)
    return bool(np.all(np.isnan(af[diff]) & np.isnan(bf[diff])))


def compare_files(pa, pb, allow_missing=False, max_report=40, quiet=False, la="A", lb="B",
                  exact_nan=False):
    """Compare two dumps; return a summary dict (ok, compared, mismatched, missing...).
    Arrays of a reduction that differ only in the payloads of NaN results
    count as equal (and are counted apart) unless exact_nan."""
    A, B = Npz(pa), Npz(pb)
    ka, kb = set(A.keys()), set(B.keys())
    only_a, only_b = sorted(ka - kb), sorted(kb - ka)
    skipped = []
    problems = []
    if not A.meta.get("exp_sweep", True) or not B.meta.get("exp_sweep", True):
        skipped = [k for k in only_a + only_b if _is_exp(k)]
        only_a = [k for k in only_a if not _is_exp(k)]
        only_b = [k for k in only_b if not _is_exp(k)]
        missing_side = la if not A.meta.get("exp_sweep", True) else lb
        print(f"WARNING: exp_nonpos_raw absent in {missing_side}: {len(skipped)} exp arrays "
              "not compared")
    lva, lvb = A.meta.get("kernel_in_use"), B.meta.get("kernel_in_use")
    if lva != lvb and not quiet:
        print(f"WARNING: {la} ran kernel level {lva!r}, {lb} ran {lvb!r}")
    for dk in ("input_sha256", "exp_input_sha256"):
        ia, ib = A.meta.get(dk), B.meta.get(dk)
        if ia and ib and ia != ib:
            problems.append(f"the inputs differ ({dk}): the dumps were made by different "
                            "sweeps or NumPy versions")
    mism = []
    nan_payload = []
    common = [k for k in A.keys() if k in kb]
    for k in common:
        ra, rb = A.raw(k), B.raw(k)
        if ra == rb:
            continue
        a, b = A.array(k, ra), B.array(k, rb)
        if a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes():
            continue  # same data, only the .npy header differs
        if not exact_nan and not _nan_bits_promised(k) and _only_nan_payloads(a, b):
            nan_payload.append(k)
            continue
        mism.append(k)
        if not quiet and len(mism) <= max_report:
            print(describe_mismatch(k, a, b, la, lb))
    if not quiet:
        if len(mism) > max_report:
            print(f"... and {len(mism) - max_report} more mismatching cases")
        if mism:
            print("mismatching cases by group (threads/op/dtype/group):")
            tot, bad = _groups(common), _groups(mism)
            for g, c in bad.items():
                print(f"    {g}: {c} of {tot[g]}")
        for side, ks in ((la, only_a), (lb, only_b)):
            if ks:
                print(f"{len(ks)} keys only in {side}:" + "".join(f"\n    {k}" for k in ks[:20])
                      + ("\n    ..." if len(ks) > 20 else ""))
        for p in problems:
            print("ERROR: " + p)
    missing_fail = bool(only_a or only_b) and not allow_missing
    ok = not mism and not missing_fail and not problems
    A.close()
    B.close()
    if nan_payload and not quiet:
        print(f"{len(nan_payload)} arrays differ only in the payloads of NaN results "
              "(reductions: not specified; --exact-nan counts them)")
    return {"ok": ok, "compared": len(common), "mismatched": mism, "only_a": only_a,
            "only_b": only_b, "skipped": skipped, "problems": problems,
            "nan_payload": nan_payload,
            "meta_a": A.meta, "meta_b": B.meta}


def cmd_compare(args):
    r = compare_files(args.a, args.b, args.allow_missing, args.max_report,
                      exact_nan=args.exact_nan)
    print(f"compared {r['compared']} arrays: {len(r['mismatched'])} mismatching, "
          f"{len(r['only_a'])} only in A, {len(r['only_b'])} only in B"
          + (" (allowed)" if args.allow_missing and (r["only_a"] or r["only_b"]) else "")
          + (f", {len(r['skipped'])} exp arrays skipped" if r["skipped"] else ""))
    print("OK: bit-identical" if r["ok"] else "FAIL")
    return 0 if r["ok"] else 1


def check_threads(path, max_report=20, quiet=False, label=""):
    """Outputs for every extra thread count equal the first count's."""
    F = Npz(path)
    threads = F.meta.get("threads") or [1]
    base = f"t{threads[0]}/"
    keys = set(F.keys())
    checked, mism, missing = 0, [], []
    for k in F.keys():
        tag, _, rest = k.partition("/")
        if tag == base[:-1]:
            continue
        ref = base + rest
        if ref not in keys:
            missing.append(k)
            continue
        checked += 1
        ra, rb = F.raw(ref), F.raw(k)
        if ra != rb:
            mism.append(k)
            if not quiet and len(mism) <= max_report:
                print(describe_mismatch(f"[{label}{base[:-1]} vs {tag}] {rest}", F.array(ref, ra),
                                        F.array(k, rb), base[:-1], tag))
    F.close()
    if missing and not quiet:
        print(f"{len(missing)} extra-thread keys without a {base} twin: {missing[:5]}")
    return {"ok": not mism and not missing, "checked": checked, "mismatched": mism,
            "missing": missing}


def cmd_threads(args):
    r = check_threads(args.file, args.max_report)
    print(f"checked {r['checked']} arrays against 1 thread: {len(r['mismatched'])} mismatching")
    print("OK" if r["ok"] else "FAIL")
    return 0 if r["ok"] else 1


# --------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------


def cmd_run(args):
    t_start = time.time()
    commit = resolve_commit(args.commit)
    d = Path(args.dir) if args.dir else default_dir(commit)
    cur = query_info(None)  # before the build: fail early when there is nothing to test
    if _under_reference(Path(cur["file"])) is not None:
        raise SystemExit(f"bitident: the current fastact ({cur['file']}) is a reference build")
    site = build_ref(commit, d, force=args.rebuild)
    t_built = time.time()
    ref = query_info(site)
    _log(f"bitident: reference {commit[:12]}: {ref['file']}")
    _log(f"bitident: current:          {cur['file']}")
    compiled, cpu = list(cur["kernels_compiled"]), cur["cpu_level"]
    if args.levels == "auto":
        levels = compiled[: compiled.index(cpu) + 1] if cpu in compiled else compiled
    else:
        levels = [lv.strip() for lv in args.levels.split(",") if lv.strip()]
    for lv in levels:
        for who, info in (("current", cur), ("reference", ref)):
            if lv not in info["kernels_compiled"]:
                raise SystemExit(f"bitident: level {lv!r} is not compiled into the {who} build "
                                 f"({', '.join(info['kernels_compiled'])})")

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bitident-"))
    work.mkdir(parents=True, exist_ok=True)
    script = str(Path(__file__).resolve())
    rows, failed = [], False
    try:
        for lv in levels:
            t0 = time.time()
            jobs = {}
            for who in ("ref", "cur"):
                out = work / f"{lv}-{who}.npz"
                cmd = [sys.executable, script, "dump", "--out", str(out), "--threads", args.threads]
                if who == "ref":
                    cmd += ["--site", str(site)]
                else:
                    cmd += ["--not-under", str(d)]
                if args.only:
                    cmd += ["--only", args.only]
                logf = open(work / f"{lv}-{who}.log", "w+")
                p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                     env=_clean_env(FASTACT_ISA=lv), cwd=str(work))
                jobs[who] = (p, logf, out)
                if args.jobs < 2:
                    p.wait()
            bad = []
            for who, (p, logf, out) in jobs.items():
                rc = p.wait()
                logf.seek(0)
                text = logf.read()
                logf.close()
                if rc != 0:
                    bad.append(f"dump of {who} failed (exit {rc}):\n{text[-3000:]}")
                elif "WARNING" in text:
                    print("".join(f"[{lv} {who}] {ln}\n" for ln in text.splitlines()
                                  if "WARNING" in ln), end="")
            if bad:
                print(f"== level {lv}: " + "\n".join(bad))
                rows.append((lv, "-", "dump failed", "-", "-", f"{time.time() - t0:.0f}"))
                failed = True
                continue
            print(f"== level {lv}: reference vs current")
            fr, fc = jobs["ref"][2], jobs["cur"][2]
            r = compare_files(fr, fc, allow_missing=args.allow_missing,
                              max_report=args.max_report, la="ref", lb="cur",
                              exact_nan=args.exact_nan)
            notes = []
            for who, m in (("ref", r["meta_a"]), ("cur", r["meta_b"])):
                if m.get("kernel_in_use") != lv:
                    notes.append(f"{who} ran {m.get('kernel_in_use')!r}, not {lv!r}")
            for n_ in notes:
                print("ERROR: " + n_)
            thr = {}
            for who, f in (("ref", fr), ("cur", fc)):
                thr[who] = check_threads(f, max_report=args.max_report, label=f"{who}: ")
            size = (fr.stat().st_size + fc.stat().st_size) / 2 / 2**20
            lvl_ok = r["ok"] and not notes and thr["ref"]["ok"] and thr["cur"]["ok"]
            failed |= not lvl_ok
            miss = len(r["only_a"]) + len(r["only_b"])
            rows.append((lv, str(r["compared"]),
                         str(len(r["mismatched"])) + (f" (+{miss} missing)" if miss else "")
                         + (f" [{len(r['nan_payload'])} NaN payload]" if r["nan_payload"] else ""),
                         f"{len(thr['ref']['mismatched'])}/{len(thr['cur']['mismatched'])}"
                         f" of {thr['cur']['checked']}",
                         f"{size:.0f}", f"{time.time() - t0:.0f}"))
            print(f"   {'OK' if lvl_ok else 'FAIL'}  ({r['compared']} arrays, "
                  f"{len(r['mismatched'])} mismatching; threads ref/cur: "
                  f"{len(thr['ref']['mismatched'])}/{len(thr['cur']['mismatched'])})", flush=True)
            if not args.keep:
                for f in (fr, fc):
                    f.unlink(missing_ok=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    hdr = ("level", "cases", "mismatching", "thread diffs ref/cur", "MiB/dump", "s")
    table = [hdr] + rows
    wid = [max(len(r[i]) for r in table) for i in range(len(hdr))]
    print()
    print(f"reference {commit[:12]} ({site}) vs current ({cur['file']}), threads {args.threads}")
    for i, r in enumerate(table):
        print("  ".join(c.ljust(wid[j]) for j, c in enumerate(r)))
        if i == 0:
            print("  ".join("-" * w_ for w_ in wid))
    print(f"build {t_built - t_start:.0f} s, dumps+compare {time.time() - t_built:.0f} s")
    print("FAIL: not bit-identical" if failed else
          f"OK: bit-identical at {', '.join(levels)}")
    return 1 if failed else 0


# --------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True,
                            metavar="{build-ref,dump,compare,threads,run}")

    p = sub.add_parser("build-ref", help="build the reference commit into DIR/site")
    p.add_argument("--commit", default=REF_COMMIT)
    p.add_argument("--dir", required=True)
    p.add_argument("--rebuild", action="store_true", help="ignore an existing build")

    p = sub.add_parser("dump", help="run the sweep, store the outputs")
    p.add_argument("--out", required=True)
    p.add_argument("--site", help="import fastact from this directory (a reference build)")
    p.add_argument("--threads", default="1,2",
                   help="thread counts: the first for every case, the others for the large ones")
    p.add_argument("--only", help="regex: store only the arrays whose key matches (debugging)")
    p.add_argument("--not-under", action="append", help="fail if fastact is under this dir")
    p.add_argument("--skip-exp", action="store_true",
                   help="act as if exp_nonpos_raw were absent (to test that case)")

    p = sub.add_parser("compare", help="bitwise comparison of two dumps")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--allow-missing", action="store_true")
    p.add_argument("--exact-nan", action="store_true",
                   help="count arrays that differ only in NaN payloads of reductions as mismatches")
    p.add_argument("--max-report", type=int, default=40)

    p = sub.add_parser("threads", help="within one dump: other thread counts vs the first")
    p.add_argument("file")
    p.add_argument("--max-report", type=int, default=20)

    p = sub.add_parser("run", help="build, dump at every level, compare")
    p.add_argument("--commit", default=REF_COMMIT)
    p.add_argument("--dir", help="reference build dir (default $TMPDIR/fastact-ref-<commit>)")
    p.add_argument("--levels", default="auto")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--jobs", type=int, default=2, help="1: the two dumps of a level one by one")
    p.add_argument("--keep", help="keep the dumps and logs in this dir")
    p.add_argument("--only", help="regex passed to dump --only")
    p.add_argument("--allow-missing", action="store_true")
    p.add_argument("--exact-nan", action="store_true",
                   help="count arrays that differ only in NaN payloads of reductions as mismatches")
    p.add_argument("--max-report", type=int, default=20)
    p.add_argument("--rebuild", action="store_true")

    p = sub.add_parser("info")  # internal: where fastact is imported from, as JSON
    p.add_argument("--site")

    args = ap.parse_args(argv)
    if args.cmd == "build-ref":
        build_ref(args.commit, Path(args.dir), force=args.rebuild)
        return 0
    return {"dump": cmd_dump, "compare": cmd_compare, "threads": cmd_threads, "run": cmd_run,
            "info": cmd_info}[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
