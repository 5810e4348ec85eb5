"""Every pass of the kernels (src_c/ops/passes.h) on its own, at every kernel
level this CPU runs, in the manner of XNNPACK's micro-kernel tests.

A test runs one pass at one level (the `level` fixture switches to it in
process with _set_kernel_level and always switches back), for float32 and
float64, at the sizes where vector code has its tails: rows of n = 1 .. 40
and 63, 64, 65, 100, 257 elements (the widest vectors hold 16 float32 / 8
float64: 1 .. 2 * 16 + 1 covers an empty body, one and two full vectors and
every tail length, of every narrower vector too), column chunks of
w = 1 .. 40, 63, 64, 65, 255, 256 columns over n = 1, 2, 3, 7, 33 rows with
inner = w and w + 3.  Every array, input or output, starts 1, 2 or 3 elements
past a 64-byte boundary.  Checks:

* against the portable C (the "scalar" level, run in the same process just
  before): exact where the arithmetic is the same or exact by construction,
  else within the bound stated per pass (ULP: distance in representable
  values of the dtype; measured maxima in the comments);
* against np.longdouble where that is cheap (exponentials, sums, products);
* position independence: the value for element j of a short row (column k
  of a narrow chunk) must be bit-identical to the value for the same input
  in the vector body of a long row (of a 256-column chunk, which has no
  tail): tails compute exactly the arithmetic of full vectors;
* no writes out of bounds: every output lies between guards holding a NaN
  with a payload, which must keep their bits, as must the columns >= w of
  the column passes' (n, inner) outputs and every input; no reads out of
  bounds: test_no_reads_out_of_bounds runs the passes on inputs that end (or
  start) at a page next to an inaccessible one;
* special values: NaN, all -inf, -inf beside a finite max, +inf.

tests/test_exp.py sweeps the exponential's accuracy; here exp_nonpos_raw is
only held to its tails, guards and special values.

FASTACT_PASSES_REPORT=<path> writes the measured maxima (ULP per pass, check,
level and dtype; the sums' errors relative to s and to their bound) to
<path> as JSON, to re-derive the bounds below.
"""

import contextlib
import functools
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import _ref

native = pytest.importorskip("fastact._native")

LD = np.longdouble
_COMPILED = list(native.KERNELS_COMPILED)
LEVELS = _COMPILED[: _COMPILED.index(native.CPU_LEVEL) + 1]
PORTABLE = "scalar"
INITIAL_LEVEL = native._kernel_level()

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]
# longdouble references need more precision than the dtype (not so for
# float64 where longdouble is float64: MSVC, macOS on arm64)
LD_OK = {F32: True, F64: bool(np.finfo(LD).eps < np.finfo(F64).eps)}
DT_IDS = ["f32", "f64"]
ROW_SIZES = list(range(1, 41)) + [63, 64, 65, 100, 257]
COL_WIDTHS = list(range(1, 41)) + [63, 64, 65, 255, 256]
COL_ROWS = (1, 2, 3, 7, 33)
OFFSETS = (1, 2, 3)  # elements past a 64-byte boundary
CHUNK = 256  # FA_CHUNK: the widest column chunk

# Levels with vector passes (ops/vec_passes.h: float32 exponentials, split
# factors), rows and columns alike: sse2, avx2 and avx512.
HAND_ROWS = ("sse2", "avx2", "avx512")
HAND_COLS = HAND_ROWS


def hand(level, cols):
    return level in (HAND_COLS if cols else HAND_ROWS)


def dtname(dtype):
    return np.dtype(dtype).name


# --------------------------------------------------------------- level switch

@contextlib.contextmanager
def kernel_level(name):
    prev = native._set_kernel_level(name)
    try:
        yield
    finally:
        native._set_kernel_level(prev)


@pytest.fixture
def level(request):
    """The kernel level under test (the `at_levels` parameter), in use for
    the test's duration only."""
    with kernel_level(request.param):
        assert native._kernel_level() == request.param
        yield request.param


# Every test takes the level through this, its outermost decorator: the level
# then varies fastest, and `per_case` can compute what does not depend on it
# (data, portable results, longdouble references) once for all levels.
at_levels = pytest.mark.parametrize("level", LEVELS, indirect=True)


def per_case(fn):
    """Memoise fn (the level-independent part of a test) for the runs of the
    same case at the other levels, which come next."""
    return functools.lru_cache(maxsize=4)(fn)


@pytest.fixture(autouse=True)
def _level_restored():
    yield
    # a leak would silently move every later test (of any file) to another level
    assert native._kernel_level() == INITIAL_LEVEL


def portable(fn, *args):
    with kernel_level(PORTABLE):
        return fn(*args)


def test_level_switch_restores():
    before = native._kernel_level()
    with pytest.raises(RuntimeError):
        with kernel_level(PORTABLE):
            assert native._kernel_level() == PORTABLE
            raise RuntimeError("a failing test")
    assert native._kernel_level() == before
    with pytest.raises(ValueError):
        native._set_kernel_level("no-such-level")
    assert native._kernel_level() == before
    for lv in LEVELS:
        assert native._set_kernel_level(lv) == before
        assert native._kernel_level() == lv
        assert native._set_kernel_level(before) == lv


# --------------------------------------------------------------- measurements

_REPORT = os.environ.get("FASTACT_PASSES_REPORT")
_measured = {}


def record(key, value):
    if _REPORT and key is not None:
        value = float(value)
        if not value <= _measured.get(key, -math.inf):
            _measured[key] = value


@pytest.fixture(scope="module", autouse=True)
def _write_report():
    yield
    if _REPORT:
        with open(_REPORT, "w") as f:
            json.dump(dict(sorted(_measured.items())), f, indent=1)


# --------------------------------------------------------------- buffers

GUARD = 32  # guard elements each side (two AVX-512 float32 vectors)
SENTINEL = {F32: 0x7FC5A5A5, F64: 0x7FF8A5A5A5A5A5A5}  # quiet NaNs with a payload
UINT = {F32: np.uint32, F64: np.uint64}


class Guarded:
    """`shape` elements of `dtype`, C-contiguous, the first `offset` elements
    past a 64-byte boundary, between GUARD sentinel elements each side.
    .a is the array, filled with `values` (else the sentinel too)."""

    def __init__(self, shape, dtype, offset, values=None):
        self.dtype = dtype
        self.shape = shape if isinstance(shape, tuple) else (shape,)
        self.size = math.prod(self.shape)
        isz = 4 if dtype == F32 else 8
        self.start = GUARD + offset  # GUARD * isz: a multiple of 64 bytes
        total = self.start + self.size + GUARD
        raw = np.empty(total * isz + 64, np.uint8)
        skip = -raw.ctypes.data % 64
        self.bits = raw[skip: skip + total * isz].view(UINT[dtype])
        self.bits.fill(SENTINEL[dtype])
        self.a = self.bits[self.start: self.start + self.size].view(dtype).reshape(self.shape)
        if values is not None:
            self.a[...] = values

    def intact(self, allow_after=0):
        """The guards kept their bits (but for `allow_after` elements after
        the array: a known overrun, see m_overrun)."""
        s = SENTINEL[self.dtype]
        end = self.start + self.size
        return bool((self.bits[: self.start] == s).all() and (self.bits[end + allow_after:] == s).all())

    def untouched(self, mask):
        """The elements of .a where `mask` holds still have the sentinel."""
        return bool((self.a.view(UINT[self.dtype])[mask] == SENTINEL[self.dtype]).all())


def placed(values, offset):
    """`values` copied to an array starting `offset` elements past a 64-byte
    boundary (in a Guarded buffer, so that .intact() also tells that a pass
    left what lies around its input alone)."""
    values = np.asarray(values)
    return Guarded(values.shape, values.dtype.type, offset, values)


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])


def same_bits(a, b):
    """The same bits, element by element in C order."""
    return np.array_equal(bits(a).ravel(), bits(b).ravel())


def ulp_distance(a, b):
    """Element-wise number of representable values from a to b (one dtype),
    as float64: +0 and -0 are 0 apart, two NaNs 0, a NaN and a number inf."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    it = np.int32 if a.itemsize == 4 else np.int64
    mask = np.iinfo(it).max

    def key(v):  # monotone in the value, exact in int64
        i = v.view(it)
        mag = (i & mask).astype(np.int64)
        return np.where(i < 0, -mag, mag)

    ka, kb = key(a), key(b)
    opposite = (ka < 0) != (kb < 0)  # the difference could overflow int64
    with np.errstate(over="ignore"):
        d = np.where(opposite, np.abs(ka.astype(np.float64)) + np.abs(kb.astype(np.float64)),
                     np.abs(ka - kb).astype(np.float64))
    na, nb = np.isnan(a), np.isnan(b)
    d[na | nb] = np.inf
    d[na & nb] = 0.0
    return d


def fmt(v):
    v = np.asarray(v)
    return f"{float(v)!r} ({float(v).hex()}, bits {int(bits(v.reshape(1))[0]):#x})"


def assert_ulp(actual, expected, bound, what, key=None):
    """actual within `bound` representable values of expected (the portable pass's)."""
    d = ulp_distance(actual, expected)
    worst = float(d.max()) if d.size else 0.0
    record(key, worst)
    if worst > bound:
        i = np.unravel_index(int(np.argmax(d)), d.shape)
        raise AssertionError(f"{what}: {worst} ULP > {bound} at {i}: got {fmt(np.asarray(actual)[i])}, "
                             f"portable {fmt(np.asarray(expected)[i])}")


class LDRef:
    """A longdouble reference and the spacing of its values rounded to dtype
    (level-independent: computed once per case)."""

    def __init__(self, ref, dtype):
        self.dtype = dtype
        self.ref = np.asarray(ref, LD)
        self.ulp = _ref._ulp_of(self.ref, dtype)
        self.finite = np.isfinite(self.ref)


def ref_ulp_errors(actual, r):
    """|actual - ref| / ULP as _ref.ulp_errors: 0 for equal non-finite
    values, inf for a mismatch."""
    a = np.asarray(actual).astype(LD)
    with np.errstate(all="ignore"):
        e = (np.abs(a - r.ref) / r.ulp).astype(np.float64)
    nonfin = ~r.finite | ~np.isfinite(a)
    if nonfin.any():
        same = (np.isnan(a) & np.isnan(r.ref)) | (np.isinf(a) & (a == r.ref))
        e = np.where(nonfin, np.where(same, 0.0, np.inf), e)
    return e


def assert_ref_ulp(actual, r, bound, what, key=None, inputs=None):
    """actual within `bound` ULP (of the reference rounded to the dtype) of
    the LDRef r; bound may be an array (per element).  inputs: (name, array)
    pairs shown for the worst element."""
    if not LD_OK[r.dtype]:
        return
    e = ref_ulp_errors(actual, r)
    if e.size == 0:
        return
    record(key, e.max())
    bad = ~(e <= bound)
    if bad.any():
        i = np.unravel_index(int(np.argmax(np.where(bad, e, -1))), e.shape)
        shown = "".join(f", {name} {fmt(np.broadcast_to(a, e.shape)[i])}" for name, a in inputs or ())
        raise AssertionError(f"{what}: {e[i]:.4f} ULP from longdouble at {i}: got "
                             f"{fmt(np.asarray(actual)[i])}, reference {float(r.ref[i])!r}{shown}")


def assert_same_bits(actual, expected, what):
    if not same_bits(actual, expected):
        ba, be = bits(actual).ravel(), bits(expected).ravel()
        i = int(np.flatnonzero(ba != be)[0])
        raise AssertionError(f"{what}: differs at flat index {i}: "
                             f"{fmt(np.ravel(actual)[i])} vs {fmt(np.ravel(expected)[i])}")


def long_len(n):
    """A row length >= n + 64, a multiple of 64: all of it in the vector
    bodies of every level (steps of 16 float32 / 8 float64 elements and the
    unrolled multiples)."""
    return 64 * -(-n // 64) + 64


def tile_cols(a, w):
    """The first w columns of a (n, >= w) array repeated to CHUNK columns: a
    chunk with no tail at any level, whose columns k < w are those of a."""
    a = np.ascontiguousarray(a[:, :w])
    return np.ascontiguousarray(np.tile(a, (1, -(-CHUNK // w)))[:, :CHUNK])


def wide(v, w):
    """Per-column values v[:w] repeated to CHUNK, as tile_cols repeats columns."""
    return np.ascontiguousarray(np.resize(np.asarray(v)[:w], CHUNK))


def beyond(shape, w):
    """Mask of the columns >= w of an (n, inner) array."""
    return np.broadcast_to(np.arange(shape[1]) >= w, shape)


# --------------------------------------------------------------- data

FAR = {F32: 112.0, F64: 760.0}  # x - m this low: exponentials subnormal, then 0


def rng_for(*parts):
    return _ref.rng_for("test_passes", *[dtname(p) if p in DTYPES else p for p in parts])


def logits(rng, size, dtype):
    """Logit-like values, a quarter of them far down (exponentials through
    the subnormal range to 0)."""
    x = rng.standard_normal(size) * 4
    far = rng.random(size) < 0.25
    x[far] = rng.uniform(-FAR[dtype], -10, int(far.sum()))
    return x.astype(dtype)


def readonly(*arrays):
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.setflags(write=False)
    return arrays


def exps(rng, size, dtype):
    """Values of exp(x - m): (0, 1], down to ~1e-35 (f32) / ~1e-300 (f64),
    10% exactly 1."""
    e = np.exp(rng.uniform(-80.0 if dtype == F32 else -690.0, 0, size))
    e[rng.random(size) < 0.1] = 1.0
    return e.astype(dtype)


def nanmax(x, axis=None):
    """Max skipping NaN, -inf for none (the passes' max)."""
    with np.errstate(invalid="ignore"):
        return np.max(np.where(np.isnan(x), -np.inf, x), axis=axis, initial=-np.inf).astype(x.dtype)


# --------------------------------------------------------------- bounds
#
# ULP bounds against the portable pass.  0 means bit-identical: the same
# operations in the same order, each rounded once (-ffp-contract=off at every
# level; the hand-written code's fnmadd(b, 1, a) in place of a - b rounds once
# like it), and 0 is what was measured there.  The maxima measured over this
# file's data (FASTACT_PASSES_REPORT) are in the comments.

def bound_scale(level, dtype, cols):
    """row_scale / cols_scale_to: y * inv.  float64: one product at every
    level: 0.  float32: the portable pass (and sse2's row pass, and the sse2
    column pass, which is the portable code) rounds the double product,
    (float)((double)y * inv); avx2/avx512 split inv = ih + il in float32 and
    round fma(y, ih, y * il) once; both within 0.5 ULP (+ 2^-29) of y * inv
    for normal results (but see bound_scale_ld): at most 1 apart.  Measured:
    1 (avx2, avx512, rows and columns)."""
    return 1 if dtype == F32 and level in ("avx2", "avx512") else 0


def bound_scale_ld(level, dtype, cols, ref):
    """Against the longdouble product: one rounding, <= 0.5 ULP (+ 2^-20 for
    the double rounding and the split's 2^-48; measured 0.5000 at every
    level), except with the hand-written float32 split (avx2, avx512, rows and
    columns) where y * il underflows, for results below ~2^-110: up to 1 ULP
    there.  avx512.h / avx2.h say "up to ~0.63 near 2^-126": it is
    more, measured per binade of the result (2e8 products): 0.74 in
    [2^-128, 2^-127), 0.96 in [2^-127, 2^-126), 0.997 in [2^-126, 2^-125),
    0.75 in [2^-125, 2^-124), 0.56 at 2^-123, 0.50x from 2^-116 up; e.g.
    y = 0x1.11a5b8p-114, inv = 0x1.dda06eefea374p-12 gives 0x1.fe8d48p-126,
    0.9987 ULP from y * inv (the portable pass: 0x1.fe8d46p-126).  This
    file's data: 0.76 (rows), 0.97 (columns)."""
    tight = np.full(np.shape(ref), 0.5 + 2.0 ** -20)
    if dtype == F32 and level in ("avx2", "avx512"):
        return np.where(np.abs(np.asarray(ref, np.float64)) < 2.0 ** -100, 1.0, tight)
    return tight


def bound_lsm(level, dtype, cols):
    """row_ / cols_log_softmax_out: (x - m) - L.  float64: the TwoSum
    x - m = hi + lo, then (hi - L) + lo at every level, lo dropped below
    -1000 by all: 0.  float32: the portable formula (and sse2 rows, and sse2
    columns) rounds ((double)x - m) - L to float32 (<= 0.5 ULP + 2^-28);
    avx2/avx512 compute (hi - Lh) + (lo - Ll) in float32, rounded twice
    (<= 1 ULP): at most 1 apart.  Measured: 1 (avx2, avx512)."""
    return 1 if dtype == F32 and level in ("avx2", "avx512") else 0


# Against longdouble (x - m) - L (L exact here): <= 1 ULP at every level
# (two roundings: (hi - L) then + lo for float64; hand-written float32 the
# same in float32; the portable float32 formula one double rounding, then
# one to float32).  Measured: 0.5000 (portable float32, sse2), 0.9999 (avx2,
# avx512 float32), 1.0 (float64, every level).
BOUND_LSM_LD = 1.0


def bound_exp(level, dtype, cols):
    """y of the sum passes: the portable exponentials (double, rounded to the
    dtype) are within 0.5 + 2^-30 ULP (float32) / 1.04 ULP (float64, see
    bound_exp_ld); the hand-written float32 ones within 0.9 ULP, the float64
    ones within 0.90 (sse2, avx2) / 0.56 (avx512): at most 1 apart.  The sse2
    column pass is the portable code: 0.  Measured: 1 wherever it is not 0."""
    if level == PORTABLE or (cols and level not in HAND_COLS):
        return 0
    return 1 if dtype == F64 or hand(level, cols) else 0


def bound_exp_ld(level, dtype, cols):
    """y against longdouble: the exponential's documented error, <= 1 ULP
    (tests/test_exp.py) -- except the portable float64 one with a TwoSum
    tail.  fa_math.h's fa_exp_nonpos_deg adds the tail lo to r after r was
    rounded (r += xlo): one more rounding, which test_exp.py's sweep (lo = 0)
    never meets and which lifts it above its documented "below 1 ULP":
    1.0398 ULP (exp(x - m) for the row [34.47620970953917,
    0.18850822827177885], m its max: 1.2854063751990805e-15, the other levels
    1.2854063751990807e-15, 0.04 ULP; checked against a 60-digit decimal
    exp), 1.003 on 4e6 random x - m.  The hand-written exponentials carry r's
    rounding error along.  Measured otherwise (this file's data, subnormal
    results included): 0.50 (portable float32), 0.85 (hand-written float32),
    0.76 / 0.97 / 0.72 (sse2 / avx2 / avx512 float64), 0.99 (portable
    float64)."""
    return 1.05 if dtype == F64 and level == PORTABLE else 1.0


# s - 1 = (z - 1) + S1: z the maxima (terms exactly 1, counted exactly), S1
# the sum of the other terms.  Its error is the error of those terms plus the
# final rounding (the double summation adds < n 2^-53 relative, far less):
#     |err| <= TERM * S1 + 2^-52 |s - 1| + n * SUB
# TERM, the relative error of one term: hand-written float32 exponentials
# <= 1 ULP, 2^-23 (documented 0.9 ULP); the portable float32 ones are formed
# in double (degree 9, 2^-37): 2^-36; float64 ones <= 1 ULP, 2^-52 (1.04 ULP
# for the portable one, inside the rounding term's margin).  SUB, the
# absolute error of a term at the bottom of the range: float32 exponentials
# are subnormal below exp(-87.3) and 0 below exp(-104): 1 ULP, 2^-149;
# float64 2^-1074.  Relative to s (what log(s) = log1p(s - 1) needs) that is
# <= 2^-23 ~ 1.2e-7 (hand-written float32), <= 2^-51 ~ 4.4e-16 (float64);
# relative to s - 1 itself it stays that small when one class dominates.
# Against the portable pass: the sum of both bounds.
# Measured, relative to s: float32 2.5e-8 (hand-written), 3.9e-12
# (portable); float64 8.9e-17 (every level).  Error / bound: <= 0.65.

def sum_bound(level, dtype, cols):
    if dtype == F32:
        return (2.0 ** -23, 2.0 ** -149) if hand(level, cols) else (2.0 ** -36, 0.0)
    return (2.0 ** -52, 2.0 ** -1074)


def sum_bound_vs_portable(level, dtype, cols):
    a, b = sum_bound(level, dtype, cols), sum_bound(PORTABLE, dtype, cols)
    return a[0] + b[0], a[1] + b[1]


def ld_sum_parts(x, m, axis=None):
    """(s - 1, S1) in longdouble (x - m is exact there for these data)."""
    with np.errstate(all="ignore"):
        d = x.astype(LD) - np.asarray(m).astype(LD)
        one = d == 0
        s1 = np.where(one, LD(0), np.exp(d)).sum(axis=axis)
        z = one.sum(axis=axis)
    return (z - 1).astype(LD) + s1, s1


def assert_sum(actual, ref_sm1, s1, n, bound, what, key=None, ld_dtype=None):
    """s - 1 within `bound` (sum_bound's pair) of ref_sm1; ld_dtype: the
    dtype when ref_sm1 is the longdouble reference (skipped where that is
    not more precise)."""
    if ld_dtype is not None and not LD_OK[ld_dtype]:
        return
    term, sub = bound
    actual = np.asarray(actual, dtype=np.float64)
    err = np.abs(actual.astype(LD) - ref_sm1)
    tol = LD(term) * s1 + LD(2.0 ** -52) * np.abs(ref_sm1) + LD(n * sub)
    if key is not None:
        record(key + "/rel_s", np.max(err / (ref_sm1 + 1)))
        record(key + "/err_over_bound", np.max(np.where(tol > 0, err / tol, 0)))
    bad = ~(err <= tol)
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise AssertionError(f"{what}: s-1 = {fmt(actual[i])}, reference {float(ref_sm1[i])!r}, "
                             f"error {float(err[i]):.3g} > bound {float(tol[i]):.3g} at {i}")



# The avx2 column max pass once wrote -inf to m[w .. roundup(w, 8)) (past a
# caller's m of w elements, passes.h's contract); the generic column passes
# store the partial vector with store_part.  Nothing may be written past m.
def m_overrun(level, dtype, w):
    return 0


# --------------------------------------------------------------- row passes

def _row_sumexp(x, m, off, with_y=True):
    y = Guarded(x.shape, x.dtype.type, off) if with_y else None
    s = native._pass_row_sumexp_m1(x, m, y.a if with_y else None)
    return s, y


def _row_scale(y0, inv, off):
    y = placed(y0, off)
    native._pass_row_scale(y.a, inv)
    return y


def _row_lsm(x, m, L, off):
    y = Guarded(x.shape, x.dtype.type, off)
    native._pass_row_log_softmax_out(x, y.a, m, L)
    return y


rows = pytest.mark.parametrize("n", ROW_SIZES)
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)


@per_case
def row_max_case(dtype, n):
    out = []
    for off in OFFSETS:
        v, = readonly(logits(rng_for("max", dtype, n, off), n, dtype))
        out.append((off, v, float(nanmax(v)), portable(native._pass_row_max, v)))
    base, = readonly(rng_for("max-pos", dtype, n).uniform(-10, 10, n).astype(dtype))
    return out, base


@at_levels
@rows
@dtypes
def test_row_max(level, dtype, n):
    # Max is exact: the value must equal NumPy's (NaN skipped) and the
    # portable pass's, whatever lane or tail holds the maximum.  A row of NaN
    # and/or -inf gives -inf, +inf anywhere +inf.
    cases, base = row_max_case(dtype, n)
    for off, v, ref, port in cases:
        what = f"row_max {level} {dtname(dtype)} n={n} offset={off}"
        x = placed(v, off)
        got = native._pass_row_max(x.a)
        assert got == ref == port, f"{what}: {got!r}, NumPy {ref!r}, portable {port!r}"
        assert x.intact() and same_bits(x.a, v), what + ": x changed"
    # the maximum, then a NaN, at every position (offsets in turn)
    for p in range(n):
        x = placed(base, OFFSETS[p % 3])
        x.a[p] = 100.0
        assert native._pass_row_max(x.a) == 100.0, f"row_max {level} n={n}: max at {p}"
        x.a[p] = np.nan
        assert native._pass_row_max(x.a) == float(nanmax(x.a)), f"row_max {level} n={n}: NaN at {p}"
    off = OFFSETS[n % 3]
    for fill in ((np.nan,), (-np.inf,), (np.nan, -np.inf)):
        x = placed(np.resize(np.array(fill, dtype), n), off)
        assert native._pass_row_max(x.a) == -np.inf, f"row_max {level} n={n} of {fill}"
        x.a[n - 1] = np.inf
        assert native._pass_row_max(x.a) == np.inf, f"row_max {level} n={n}: +inf last"


@per_case
def row_sumexp_case(dtype, n):
    out = []
    for off in OFFSETS:
        rng = rng_for("sumexp", dtype, n, off)
        v = logits(rng, n, dtype)
        if off == 3:
            v[rng.integers(n)] = v.max() + 30  # one dominant class: s - 1 tiny
        m = float(nanmax(v))
        sp, yp = portable(_row_sumexp, v, m, off)
        with np.errstate(all="ignore"):
            ry = LDRef(np.exp(v.astype(LD) - LD(m)), dtype)
        ref_sm1, s1 = ld_sum_parts(v, m)
        out.append((off, *readonly(v, m, sp, yp.a, ry, ref_sm1, s1)))
    return out


@at_levels
@rows
@dtypes
def test_row_sumexp_m1(level, dtype, n):
    # s - 1 within sum_bound of longdouble, and of the portable pass (the sum
    # of both bounds).  y = exp(x - m) within bound_exp ULP of the portable y
    # and bound_exp_ld of longdouble.  Without y, the same sum bit for bit.
    # y of every element bit-identical to the long row's (tails = vector body).
    cols = False
    key = f"row_sumexp_m1/{level}/{dtname(dtype)}"
    for off, v, m, sp, yp, ry, ref_sm1, s1 in row_sumexp_case(dtype, n):
        what = f"row_sumexp_m1 {level} {dtname(dtype)} n={n} offset={off}"
        x = placed(v, off)
        s, y = _row_sumexp(x.a, m, off)
        assert x.intact() and same_bits(x.a, v) and y.intact(), what + ": out of bounds"
        assert same_bits(np.float64(native._pass_row_sumexp_m1(x.a, m, None)), np.float64(s)), \
            what + ": y=None changes the sum"
        assert_ulp(y.a, yp, bound_exp(level, dtype, cols), what + ": y", key + "/y_vs_portable")
        assert_ref_ulp(y.a, ry, bound_exp_ld(level, dtype, cols), what + ": y", key + "/y_vs_ld",
                       [("x", v)])
        assert_sum(s, ref_sm1, s1, n, sum_bound(level, dtype, cols), what + " vs longdouble",
                   key + "/sm1_vs_ld", dtype)
        assert_sum(s, LD(sp), s1, n, sum_bound_vs_portable(level, dtype, cols), what + " vs portable")
        _, yl = _row_sumexp(np.resize(v, long_len(n)), m, 0)
        assert_same_bits(y.a, yl.a[:n], what + ": y, tail vs vector body")


@at_levels
@rows
@dtypes
def test_row_sumexp_m1_special(level, dtype, n):
    # Exact (the contract): a NaN in the row, m = +inf, m = -inf (a row of
    # -inf) make s - 1 NaN; y then holds what the portable pass stores (its NaN
    # pattern; within bound_exp elsewhere).  -inf entries beside a finite max
    # give y = 0 and the sum of the others: bit-identical to the same row with
    # a finite value whose exponential is 0 in their place.  A row of maxima:
    # s - 1 = n - 1 and y = 1, exactly.
    off = OFFSETS[n % 3]
    v = logits(rng_for("sumexp-special", dtype, n), n, dtype)
    m = float(nanmax(v))
    what = f"row_sumexp_m1 {level} {dtname(dtype)} n={n}"
    for p in sorted({0, n // 2, n - 1}):
        w = v.copy()
        w[p] = np.nan
        x = placed(w, off)
        s, y = _row_sumexp(x.a, m, off)
        assert np.isnan(s), f"{what}: NaN at {p} gives s-1 = {s}"
        _, yp = portable(_row_sumexp, x.a, m, off)
        assert np.isnan(y.a[p]) and y.intact(), f"{what}: NaN at {p}"
        assert_ulp(y.a, yp.a, bound_exp(level, dtype, False), f"{what}: NaN at {p}: y")
    for label, w, mm in (("+inf", np.where(np.arange(n) == n - 1, np.inf, v), np.inf),
                         ("all -inf", np.full(n, -np.inf), -np.inf)):
        x = placed(w.astype(dtype), off)
        s, y = _row_sumexp(x.a, mm, off)
        sp, yp = portable(_row_sumexp, x.a, mm, off)
        assert np.isnan(s) and np.isnan(sp), f"{what} {label}: s-1 = {s}, portable {sp}"
        assert y.intact()
        assert np.array_equal(np.isnan(y.a), np.isnan(yp.a)), f"{what} {label}: y's NaN"
        assert_ulp(y.a, yp.a, bound_exp(level, dtype, False), f"{what} {label}: y")
    if n > 1:
        w = v.copy()
        w[np.arange(n) % 3 == 1] = -np.inf
        w[0] = m
        # exp(-1e4) is 0 in double too (the portable float32 exponentials)
        far = np.where(np.isneginf(w), dtype(m - 1e4), w).astype(dtype)
        s, y = _row_sumexp(placed(w, off).a, m, off)
        s2, y2 = _row_sumexp(far, m, off)
        assert (y.a[np.isneginf(w)] == 0).all(), f"{what}: exp(-inf - m) != 0"
        assert_same_bits(y.a, y2.a, f"{what}: y, -inf entries vs far finite ones")
        assert same_bits(np.float64(s), np.float64(s2)), f"{what}: s-1 {s!r} vs {s2!r}"
    s, y = _row_sumexp(placed(np.full(n, -3.25, dtype), off).a, -3.25, off)
    assert s == n - 1 and (y.a == 1).all(), f"{what}: row of maxima: s-1 = {s}"


def _row_stats_rows(dtype, n):
    """Rows for test_row_stats: inside the narrow sum pass's range (x - m >=
    -86 everywhere, ops/vec_passes.h's vrow_max_nr), at its edge and outside it,
    with NaN, -inf, +inf, subnormals and ties."""
    rng = rng_for("row-stats", dtype, n)
    tiny = float(np.finfo(dtype).smallest_subnormal)
    rows = [logits(rng, n, dtype), rng.uniform(-40, 40, n), rng.uniform(-86, 0, n),
            rng.uniform(-1e-3, 1e-3, n) + 1e6, np.full(n, -3.25), rng.uniform(-tiny * 8, tiny * 8, n)]
    edge = rng.uniform(-40, 0, n)
    for gap in (85.99, 86.0, 86.01, 87.0, 104.0, 150.0):
        w = edge.copy()
        w[rng.integers(n)] = -gap  # min - max = -gap (max 0 if n > 1)
        if n > 1:
            w[(rng.integers(n - 1) + 1 + np.argmin(w)) % n] = 0.0
        rows.append(w)
    for special in (np.nan, -np.inf, np.inf):
        w = logits(rng, n, dtype)
        w[rng.integers(n)] = special
        rows.append(w)
    return [np.asarray(r).astype(dtype) for r in rows]


@at_levels
@rows
@dtypes
def test_row_stats(level, dtype, n):
    # The ops' row path (max and sum in one, the narrow sum pass where the
    # level has one and the row's values are finite and within 86 of its max)
    # gives row_max and row_sumexp_m1's results bit for bit, y included: the
    # narrow exponential leaves out only operations that change nothing there.
    off = OFFSETS[n % 3]
    for i, v in enumerate(_row_stats_rows(dtype, n)):
        what = f"row_stats {level} {dtname(dtype)} n={n} row {i}"
        x = placed(v, off)
        y = Guarded(v.shape, dtype, off)
        m, s = native._pass_row_stats(x.a, y.a)
        m_ref = native._pass_row_max(x.a)
        s_ref, y_ref = _row_sumexp(x.a, m_ref, off)
        assert same_bits(np.float64(m), np.float64(m_ref)), f"{what}: max {m!r} vs {m_ref!r}"
        assert same_bits(np.float64(s), np.float64(s_ref)), f"{what}: s-1 {s!r} vs {s_ref!r}"
        assert x.intact() and same_bits(x.a, v) and y.intact(), what + ": out of bounds"
        assert_same_bits(y.a, y_ref.a, what + ": y")
        assert same_bits(np.float64(native._pass_row_stats(x.a, None)[1]), np.float64(s)), \
            what + ": y=None changes the sum"


@at_levels
def test_row_sumexp_m1_exp_tail(request, level):
    # The exponential of x - m with a TwoSum tail lo != 0 within 1 ULP (the
    # exponentials' documented error), on the case found above 1 ULP at the
    # portable level (bound_exp_ld): a strict xfail there.
    if level == PORTABLE:
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="portable float64 exp with a TwoSum tail: 1.04 ULP (bound_exp_ld)"))
    if not LD_OK[F64]:
        pytest.skip("longdouble is float64 here")
    v = np.array([34.47620970953917, 0.18850822827177885])
    y = np.empty(2)
    native._pass_row_sumexp_m1(v, v[0], y)
    assert_ref_ulp(y, LDRef(np.exp(v.astype(LD) - LD(v[0])), F64), 1.0,
                   f"row_sumexp_m1 {level} float64: exp(x - m)", None, [("x", v)])


@per_case
def row_scale_case(dtype, n):
    out = []
    for off in OFFSETS:
        rng = rng_for("scale", dtype, n, off)
        y0 = exps(rng, n, dtype)
        # softmax's factor 1/s, and one that is no float32
        for inv in (1.0 / (1.0 + float(np.sum(y0, dtype=np.float64))),
                    float(np.exp(rng.uniform(-12, 0)))):
            yp = portable(_row_scale, y0, inv, off)
            r = LDRef(y0.astype(LD) * LD(inv), dtype)
            out.append((off, inv, *readonly(y0, yp.a, r)))
    return out


@at_levels
@rows
@dtypes
def test_row_scale(level, dtype, n):
    # Against the portable pass: bound_scale ULP (float64 and sse2 float32:
    # bit-identical); against the longdouble product: bound_scale_ld.
    # Position independent.
    key = f"row_scale/{level}/{dtname(dtype)}"
    for off, inv, y0, yp, r in row_scale_case(dtype, n):
        what = f"row_scale {level} {dtname(dtype)} n={n} offset={off} inv={inv!r}"
        y = _row_scale(y0, inv, off)
        assert y.intact(), what + ": out of bounds"
        assert_ulp(y.a, yp, bound_scale(level, dtype, False), what, key + "/vs_portable")
        assert_ref_ulp(y.a, r, bound_scale_ld(level, dtype, False, r.ref), what, key + "/vs_ld",
                       [("y", y0)])
        yl = _row_scale(np.resize(y0, long_len(n)), inv, 0)
        assert_same_bits(y.a, yl.a[:n], what + ": tail vs vector body")


@per_case
def row_lsm_case(dtype, n):
    out = []
    for off in OFFSETS:
        rng = rng_for("lsm", dtype, n, off)
        v = logits(rng, n, dtype)
        m = float(nanmax(v))
        # L = log(s) of the row, and a random one
        for L in (float(np.log1p(portable(native._pass_row_sumexp_m1, v, m, None))),
                  float(rng.uniform(0, 30))):
            yp = portable(_row_lsm, v, m, L, off)
            r = LDRef((v.astype(LD) - LD(m)) - LD(L), dtype)
            out.append((off, m, L, *readonly(v, yp.a, r)))
    return out


@at_levels
@rows
@dtypes
def test_row_log_softmax_out(level, dtype, n):
    # Against the portable pass: bound_lsm ULP (float64, sse2 float32:
    # bit-identical); against longdouble (x - m) - L: BOUND_LSM_LD.  x = m
    # gives (T)(-L) exactly; -inf gives -inf, NaN NaN, the others the same
    # bits as without them; m = +inf as the portable pass.  Position
    # independent.
    key = f"row_log_softmax_out/{level}/{dtname(dtype)}"
    for off, m, L, v, yp, r in row_lsm_case(dtype, n):
        what = f"row_log_softmax_out {level} {dtname(dtype)} n={n} offset={off} L={L!r}"
        x = placed(v, off)
        y = _row_lsm(x.a, m, L, off)
        assert x.intact() and same_bits(x.a, v) and y.intact(), what + ": out of bounds"
        assert_ulp(y.a, yp, bound_lsm(level, dtype, False), what, key + "/vs_portable")
        assert_ref_ulp(y.a, r, BOUND_LSM_LD, what, key + "/vs_ld", [("x", v)])
        assert (y.a[v == m] == dtype(-L)).all(), what + ": x = m"
        yl = _row_lsm(np.resize(v, long_len(n)), m, L, 0)
        assert_same_bits(y.a, yl.a[:n], what + ": tail vs vector body")
    what = f"row_log_softmax_out {level} {dtname(dtype)} n={n}"
    v = logits(rng_for("lsm-special", dtype, n), n, dtype)
    m, L, off = float(nanmax(v)), 1.5, OFFSETS[n % 3]
    w = v.copy()
    w[np.arange(n) % 3 == 2] = -np.inf
    w[np.arange(n) % 5 == 4] = np.nan
    y = _row_lsm(placed(w, off).a, m, L, off)
    assert (y.a[np.isneginf(w)] == -np.inf).all() and np.isnan(y.a[np.isnan(w)]).all(), what
    fin = np.isfinite(w)
    assert_same_bits(y.a[fin], _row_lsm(v, m, L, off).a[fin], what + ": beside -inf / NaN")
    w = np.where(np.arange(n) == 0, np.inf, v).astype(dtype)
    assert_same_bits(_row_lsm(w, np.inf, 0.0, off).a, portable(_row_lsm, w, np.inf, 0.0, off).a,
                     what + ": m = +inf")


@at_levels
@rows
@dtypes
def test_exp_nonpos_raw(level, dtype, n):
    # Not the accuracy (test_exp.py sweeps it): the tails bit-identical to
    # the vector body, guards, d unchanged, and exactly exp(0) = exp(-0) = 1,
    # exp(-inf) = 0, exp(NaN) = NaN.
    for off in OFFSETS:
        what = f"exp_nonpos_raw {level} {dtname(dtype)} n={n} offset={off}"
        rng = rng_for("exp", dtype, n, off)
        d = rng.uniform(-FAR[dtype] + 10, 0, n)
        special = rng.random(n) < 0.2
        d[special] = rng.choice([0.0, -0.0, -np.inf, np.nan], int(special.sum()))
        d = d.astype(dtype)
        x = placed(d, off)
        y = Guarded(n, dtype, off)
        native.exp_nonpos_raw(x.a, y.a)
        assert x.intact() and same_bits(x.a, d) and y.intact(), what + ": out of bounds"
        assert (y.a[d == 0] == 1).all() and (y.a[np.isneginf(d)] == 0).all(), what
        assert np.isnan(y.a[np.isnan(d)]).all(), what
        dl = np.resize(d, long_len(n))
        yl = np.empty_like(dl)
        native.exp_nonpos_raw(dl, yl)
        assert_same_bits(y.a, yl[:n], what + ": tail vs vector body")


# --------------------------------------------------------------- column passes

def col_cases(w):
    """(n, inner, offset) for a chunk of w columns: COL_ROWS rows, inner = w
    and w + 3, the offsets in turn."""
    return [(n, w + extra, OFFSETS[(2 * i + j) % 3])
            for i, n in enumerate(COL_ROWS) for j, extra in enumerate((0, 3))]


def _cols_max_pack(x, w, off, with_buf=True):
    m = Guarded(w, x.dtype.type, off)
    buf = Guarded(x.shape[0] * w, x.dtype.type, off) if with_buf else None
    native._pass_cols_max_pack(x, w, m.a, buf.a if with_buf else None)
    return m, buf


def _cols_sumexp(x, w, m, off, with_y=True):
    y = Guarded(x.shape, x.dtype.type, off) if with_y else None
    sm1 = Guarded(w, F64, off)
    native._pass_cols_sumexp_m1(x, w, m, y.a if with_y else None, sm1.a)
    return sm1, y


def _cols_scale(src, w, inv, off):
    dst = Guarded(src.shape, src.dtype.type, off)
    native._pass_cols_scale_to(src, dst.a, w, inv)
    return dst


def _cols_lsm(src, w, m, L, off):
    dst = Guarded(src.shape, src.dtype.type, off)
    native._pass_cols_log_softmax_out(src, dst.a, w, m, L)
    return dst


widths = pytest.mark.parametrize("w", COL_WIDTHS)


@per_case
def cols_max_case(dtype, w):
    out = []
    for n, inner, off in col_cases(w):
        rng = rng_for("cmax", dtype, n, inner, off)
        v = logits(rng, (n, inner), dtype)
        v[rng.random(v.shape) < 0.05] = np.nan
        if w >= 3:
            v[:, w - 1] = np.nan  # a tail column of NaN
            v[:, w // 2] = -np.inf
            v[n - 1, 0] = np.inf
        mp, _ = portable(_cols_max_pack, v, w, off)
        out.append((n, inner, off, *readonly(v, nanmax(v[:, :w], axis=0), mp.a)))
    return out


@at_levels
@widths
@dtypes
def test_cols_max_pack(level, dtype, w):
    # Exact: m = the column maxima (NaN skipped; a column of NaN, or of -inf,
    # gives -inf), equal to NumPy's and the portable pass's; buf the chunk
    # packed, bit for bit; without buf the same m.  x unchanged; nothing
    # written around buf, nor around m (but the known AVX2 overrun, m_overrun).
    allow = m_overrun(level, dtype, w)
    for n, inner, off, v, ref, mp in cols_max_case(dtype, w):
        what = f"cols_max_pack {level} {dtname(dtype)} w={w} n={n} inner={inner} offset={off}"
        x = placed(v, off)
        m, buf = _cols_max_pack(x.a, w, off)
        assert x.intact() and same_bits(x.a, v), what + ": x changed"
        assert buf.intact(), what + ": written around buf"
        assert m.intact(allow_after=allow), what + ": written around m"
        assert_same_bits(buf.a, v[:, :w], what + ": buf")
        assert np.array_equal(m.a, ref), f"{what}: m {m.a} vs {ref}"
        assert np.array_equal(m.a, mp), what + ": m vs portable"
        m2, _ = _cols_max_pack(x.a, w, off, with_buf=False)
        assert np.array_equal(m2.a, m.a) and m2.intact(allow_after=allow), what + ": buf=None"


@at_levels
@dtypes
def test_cols_max_pack_m_in_bounds(request, level, dtype):
    # Nothing written past m[w - 1] (m has w elements: passes.h's contract),
    # for every w of COL_WIDTHS.
    bad = {}
    for w in COL_WIDTHS:
        x = logits(rng_for("cmax-bounds", dtype, w), (3, w + 3), dtype)
        m, _ = _cols_max_pack(x, w, 1)
        if not m.intact():
            after = m.bits[m.start + w: m.start + w + 8].view(dtype)
            bad[w] = after[np.flatnonzero(bits(after) != SENTINEL[dtype])].tolist()
    assert not bad, f"cols_max_pack {level} {dtname(dtype)}: written past m[w - 1], w: values {bad}"


@at_levels
@widths
@dtypes
def test_cols_stats(level, dtype, w):
    # The ops' column path (the narrow sum pass where the level has one and
    # the chunk is in its range) gives cols_max_pack and cols_sumexp_m1's
    # results bit for bit (m, s - 1, y), packed (y over buf, as softmax) or
    # not (y in x's layout, as long columns), in and out of that range.
    for n, inner, off in col_cases(w):
        rng = rng_for("cstats", dtype, n, inner, off)
        rows = [logits(rng, (n, inner), dtype), rng.uniform(-40, 40, (n, inner)),
                rng.uniform(-86, 0, (n, inner))]
        for gap in (85.99, 86.01, 104.0):
            v = rng.uniform(-40, 0, (n, inner))
            v[rng.integers(n), rng.integers(w)] = -gap
            v[rng.integers(n), rng.integers(w)] = 0.0
            rows.append(v)
        for special in (np.nan, -np.inf, np.inf):
            v = rng.uniform(-40, 40, (n, inner))
            v[rng.integers(n), rng.integers(w)] = special
            rows.append(v)
        for i, v in enumerate(np.asarray(r).astype(dtype) for r in rows):
            what = f"cols_stats {level} {dtname(dtype)} w={w} n={n} inner={inner} row set {i}"
            x = placed(v, off)
            m_ref, buf_ref = Guarded(w, dtype, off), Guarded(n * w, dtype, off)
            native._pass_cols_max_pack(x.a, w, m_ref.a, buf_ref.a)
            s_ref, y_ref = _cols_sumexp(x.a, w, m_ref.a, off)
            for packed in (True, False):
                m, sm1 = Guarded(w, dtype, off), Guarded(w, F64, off)
                buf = Guarded(n * w, dtype, off) if packed else None
                y = buf if packed else Guarded(v.shape, dtype, off)
                native._pass_cols_stats(x.a, w, m.a, buf.a if packed else None,
                                        buf.a if packed else y.a, sm1.a)
                tag = f"{what} {'packed' if packed else 'in place'}"
                assert x.intact() and same_bits(x.a, v) and m.intact() and sm1.intact(), tag
                assert y.intact(), tag + ": out of bounds"
                assert_same_bits(m.a, m_ref.a, tag + ": m")
                assert_same_bits(sm1.a, s_ref.a, tag + ": s-1")
                ya = y.a.reshape(n, w) if packed else y.a[:, :w]
                assert_same_bits(ya, y_ref.a[:, :w], tag + ": y")


@per_case
def cols_sumexp_case(dtype, w):
    out = []
    for n, inner, off in col_cases(w):
        v = logits(rng_for("csumexp", dtype, n, inner, off), (n, inner), dtype)
        if off == 3 and n > 1:
            v[0, : w // 2] += 30  # one dominant row in some columns: s - 1 tiny
        mv = nanmax(v[:, :w], axis=0)
        sm1p, yp = portable(_cols_sumexp, v, w, mv, off)
        with np.errstate(all="ignore"):
            ry = LDRef(np.exp(v[:, :w].astype(LD) - mv.astype(LD)), dtype)
        ref_sm1, s1 = ld_sum_parts(v[:, :w], mv, axis=0)
        out.append((n, inner, off, *readonly(v, mv, sm1p.a, yp.a[:, :w], ry, ref_sm1, s1)))
    return out


@at_levels
@widths
@dtypes
def test_cols_sumexp_m1(level, dtype, w):
    # As test_row_sumexp_m1, per column (each lane carries one column's
    # sums): sm1 within sum_bound of longdouble and of the portable pass, y
    # within bound_exp ULP of the portable y and bound_exp_ld of longdouble;
    # y=None gives the same sm1 bits; y and sm1 of every column bit-identical
    # to the same column's in a 256-column chunk.  Columns >= w of y and
    # everything around y and sm1 untouched; x and m unchanged.
    cols = True
    key = f"cols_sumexp_m1/{level}/{dtname(dtype)}"
    for n, inner, off, v, mv, sm1p, yp, ry, ref_sm1, s1 in cols_sumexp_case(dtype, w):
        what = f"cols_sumexp_m1 {level} {dtname(dtype)} w={w} n={n} inner={inner} offset={off}"
        x, m = placed(v, off), placed(mv, off)
        sm1, y = _cols_sumexp(x.a, w, m.a, off)
        assert x.intact() and m.intact() and same_bits(x.a, v) and same_bits(m.a, mv), what
        assert sm1.intact() and y.intact(), what + ": out of bounds"
        assert y.untouched(beyond(y.shape, w)), what + ": columns >= w of y written"
        assert_same_bits(_cols_sumexp(x.a, w, m.a, off, False)[0].a, sm1.a, what + ": y=None")
        yw = y.a[:, :w]
        assert_ulp(yw, yp, bound_exp(level, dtype, cols), what + ": y", key + "/y_vs_portable")
        assert_ref_ulp(yw, ry, bound_exp_ld(level, dtype, cols), what + ": y", key + "/y_vs_ld",
                       [("x", v[:, :w]), ("m", mv)])
        assert_sum(sm1.a, ref_sm1, s1, n, sum_bound(level, dtype, cols), what + " vs longdouble",
                   key + "/sm1_vs_ld", dtype)
        assert_sum(sm1.a, sm1p.astype(LD), s1, n, sum_bound_vs_portable(level, dtype, cols),
                   what + " vs portable")
        sw, yw2 = _cols_sumexp(tile_cols(v, w), CHUNK, wide(mv, w), 0)
        assert_same_bits(yw, yw2.a[:, :w], what + ": y, tail columns vs full vectors")
        assert_same_bits(sm1.a, sw.a[:w], what + ": sm1, tail columns vs full vectors")


@at_levels
@widths
@dtypes
def test_cols_sumexp_m1_special(level, dtype, w):
    # Exact: a NaN in a column makes its sm1 NaN, as do +inf (m = +inf) and a
    # column of -inf (m = -inf); -inf entries beside a finite max give y = 0.
    # Each column's y has the portable pass's NaN pattern (within bound_exp
    # elsewhere), and the other columns are bit-identical to a run without
    # the special values (columns are independent).
    n = 7
    v = logits(rng_for("csumexp-special", dtype, w), (n, w), dtype)
    what = f"cols_sumexp_m1 {level} {dtname(dtype)} w={w}"
    kinds = dict(zip(sorted({0, w // 2, w - 1}), ("nan", "ninf-col", "pinf")))
    if w >= 5:
        kinds[w - 2] = "ninf-some"
    sp = v.copy()
    for k, kind in kinds.items():
        if kind == "nan":
            sp[n // 2, k] = np.nan
        elif kind == "ninf-col":
            sp[:, k] = -np.inf
        elif kind == "pinf":
            sp[n - 1, k] = np.inf
        else:
            sp[::2, k] = -np.inf
            sp[1, k] = 4.0
    mv = nanmax(sp, axis=0)
    off = OFFSETS[w % 3]
    x = placed(sp, off)
    sm1, y = _cols_sumexp(x.a, w, placed(mv, off).a, off)
    assert sm1.intact() and y.intact(), what + ": out of bounds"
    _, yp = portable(_cols_sumexp, x.a, w, mv, off)
    for k, kind in kinds.items():
        if kind == "ninf-some":
            assert (y.a[::2, k] == 0).all() and np.isfinite(sm1.a[k]), f"{what}: column {k} {kind}"
        else:
            assert np.isnan(sm1.a[k]), f"{what}: column {k} {kind}: sm1 = {sm1.a[k]}"
        assert np.array_equal(np.isnan(y.a[:, k]), np.isnan(yp.a[:, k])), f"{what}: column {k} {kind}"
        assert_ulp(y.a[:, k], yp.a[:, k], bound_exp(level, dtype, True), f"{what}: column {k} {kind}")
    special = [k for k, kind in kinds.items() if kind != "ninf-some"]
    plain = [k for k in range(w) if k not in special]
    clean = sp.copy()
    clean[:, special] = v[:, special]
    sm1c, yc = _cols_sumexp(clean, w, nanmax(clean, axis=0), off)
    assert_same_bits(sm1.a[plain], sm1c.a[plain], what + ": the other columns' sm1")
    assert_same_bits(y.a[:, plain], yc.a[:, plain], what + ": the other columns' y")


@per_case
def cols_scale_case(dtype, w):
    out = []
    for n, inner, off in col_cases(w):
        rng = rng_for("cscale", dtype, n, inner, off)
        v = exps(rng, (n, inner), dtype)
        iv = np.exp(rng.uniform(-12, 0, w))  # no float32, and softmax's 1/s:
        iv[::2] = 1.0 / (1.0 + v[:, :w:2].astype(np.float64).sum(axis=0))
        dp = portable(_cols_scale, v, w, iv, off)
        r = LDRef(v[:, :w].astype(LD) * iv.astype(LD), dtype)
        out.append((n, inner, off, *readonly(v, iv, dp.a[:, :w], r)))
    return out


@at_levels
@widths
@dtypes
def test_cols_scale_to(level, dtype, w):
    # dst[:, k] = src[:, k] * inv[k]: within bound_scale ULP of the portable
    # pass and bound_scale_ld of the longdouble product; in place (src is dst)
    # the same bits; position independent across columns; columns >= w of
    # dst and everything around it untouched; src, inv unchanged.
    key = f"cols_scale_to/{level}/{dtname(dtype)}"
    for n, inner, off, v, iv, dp, r in cols_scale_case(dtype, w):
        what = f"cols_scale_to {level} {dtname(dtype)} w={w} n={n} inner={inner} offset={off}"
        src, inv = placed(v, off), placed(iv, off)
        dst = _cols_scale(src.a, w, inv.a, off)
        assert src.intact() and inv.intact() and same_bits(src.a, v) and same_bits(inv.a, iv), what
        assert dst.intact(), what + ": out of bounds"
        assert dst.untouched(beyond(dst.shape, w)), what + ": columns >= w written"
        assert_ulp(dst.a[:, :w], dp, bound_scale(level, dtype, True), what, key + "/vs_portable")
        assert_ref_ulp(dst.a[:, :w], r, bound_scale_ld(level, dtype, True, r.ref), what,
                       key + "/vs_ld", [("src", v[:, :w]), ("inv", iv)])
        inplace = placed(v, off)
        native._pass_cols_scale_to(inplace.a, inplace.a, w, inv.a)
        assert_same_bits(inplace.a[:, :w], dst.a[:, :w], what + ": in place")
        assert same_bits(inplace.a[:, w:], v[:, w:]) and inplace.intact(), what + ": in place"
        dw = _cols_scale(tile_cols(v, w), CHUNK, wide(iv, w), 0)
        assert_same_bits(dst.a[:, :w], dw.a[:, :w], what + ": tail columns vs full vectors")


@per_case
def cols_lsm_case(dtype, w):
    out = []
    for n, inner, off in col_cases(w):
        rng = rng_for("clsm", dtype, n, inner, off)
        v = logits(rng, (n, inner), dtype)
        mv = nanmax(v[:, :w], axis=0)
        Lv = rng.uniform(0, 30, w)  # and log(s) of the columns:
        Lv[::2] = np.log1p(portable(_cols_sumexp, v, w, mv, off, False)[0].a[::2])
        dp = portable(_cols_lsm, v, w, mv, Lv, off)
        r = LDRef((v[:, :w].astype(LD) - mv.astype(LD)) - Lv.astype(LD), dtype)
        out.append((n, inner, off, *readonly(v, mv, Lv, dp.a[:, :w], r)))
    return out


@at_levels
@widths
@dtypes
def test_cols_log_softmax_out(level, dtype, w):
    # dst[:, k] = (src[:, k] - m[k]) - L[k]: within bound_lsm ULP of the
    # portable pass and BOUND_LSM_LD of longdouble; -inf gives -inf, NaN NaN,
    # the others the same bits as without them; position independent across
    # columns; columns >= w of dst and everything around it untouched.
    key = f"cols_log_softmax_out/{level}/{dtname(dtype)}"
    for n, inner, off, v, mv, Lv, dp, r in cols_lsm_case(dtype, w):
        what = f"cols_log_softmax_out {level} {dtname(dtype)} w={w} n={n} inner={inner} offset={off}"
        src, m, L = placed(v, off), placed(mv, off), placed(Lv, off)
        dst = _cols_lsm(src.a, w, m.a, L.a, off)
        assert src.intact() and m.intact() and L.intact() and same_bits(src.a, v), what
        assert dst.intact(), what + ": out of bounds"
        assert dst.untouched(beyond(dst.shape, w)), what + ": columns >= w written"
        assert_ulp(dst.a[:, :w], dp, bound_lsm(level, dtype, True), what, key + "/vs_portable")
        assert_ref_ulp(dst.a[:, :w], r, BOUND_LSM_LD, what, key + "/vs_ld",
                       [("src", v[:, :w]), ("m", mv), ("L", Lv)])
        dw = _cols_lsm(tile_cols(v, w), CHUNK, wide(mv, w), wide(Lv, w), 0)
        assert_same_bits(dst.a[:, :w], dw.a[:, :w], what + ": tail columns vs full vectors")
        if n >= 3:
            sv = v.copy()
            sv[0, :w:2] = -np.inf
            sv[1, 1:w:3] = np.nan
            ds = _cols_lsm(placed(sv, off).a, w, m.a, L.a, off)
            assert (ds.a[0, :w:2] == -np.inf).all() and np.isnan(ds.a[1, 1:w:3]).all(), what
            fin = np.isfinite(sv[:, :w])
            assert_same_bits(ds.a[:, :w][fin], dst.a[:, :w][fin], what + ": beside -inf / NaN")


# --------------------------------------------------------------- edge cases

@at_levels
@dtypes
def test_empty(level, dtype):
    # n = 0: max -inf, s - 1 = -1 (an empty sum), nothing written.
    x = Guarded(0, dtype, 1)
    assert native._pass_row_max(x.a) == -np.inf
    assert native._pass_row_sumexp_m1(x.a, 0.0, Guarded(0, dtype, 1).a) == -1.0
    native._pass_row_scale(x.a, 0.5)
    native._pass_row_log_softmax_out(x.a, x.a, 0.0, 0.0)
    native.exp_nonpos_raw(x.a, x.a)
    assert x.intact()
    for w in (1, 5, 17):
        z = Guarded((0, w), dtype, 2)
        m = Guarded(w, dtype, 2)
        native._pass_cols_max_pack(z.a, w, m.a, Guarded(0, dtype, 2).a)
        assert (m.a == -np.inf).all() and m.intact(allow_after=m_overrun(level, dtype, w))
        sm1 = Guarded(w, F64, 3)
        native._pass_cols_sumexp_m1(z.a, w, m.a, z.a, sm1.a)
        assert (sm1.a == -1.0).all() and sm1.intact() and z.intact()


# Inputs against an inaccessible page: a read past the end (or before the
# start) of an input faults (masked-out lanes do not).  Every pass at every
# level, both dtypes, the rows of ROW_SIZES and the chunks of COL_WIDTHS
# columns (1 and 3 rows, inner = w, so that x ends with column w - 1), each
# input once against the upper fence and once against the lower one.  In a
# subprocess, so that a fault fails this test (naming the case) instead of
# ending the run.
_FENCE_SCRIPT = r"""
import ctypes, mmap, sys
import numpy as np
from fastact import _native as N

libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
PAGE = mmap.PAGESIZE
DATA = 4 * PAGE  # accessible pages, between two PROT_NONE ones
mm = mmap.mmap(-1, DATA + 2 * PAGE)
base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
for at in (base, base + PAGE + DATA):
    assert libc.mprotect(at, PAGE, 0) == 0, ctypes.get_errno()


def fenced(values, upper):
    # a copy of values ending at the upper fence, or starting at the lower one
    values = np.ascontiguousarray(values)
    off = PAGE + DATA - values.nbytes if upper else PAGE
    a = np.frombuffer(mm, values.dtype, values.size, off).reshape(values.shape)
    a[...] = values
    return a


levels, rows, widths = sys.argv[1].split(","), eval(sys.argv[2]), eval(sys.argv[3])
rng = np.random.default_rng(7)
for lv in levels:
    N._set_kernel_level(lv)
    for dt in (np.float32, np.float64):
        for n in rows:
            v = rng.uniform(-20, 0, n).astype(dt)
            m = float(v.max())
            for upper in (True, False):
                print(lv, dt.__name__, "rows n =", n, "upper" if upper else "lower", flush=True)
                x = fenced(v, upper)
                N._pass_row_max(x)
                N._pass_row_sumexp_m1(x, m, np.empty_like(v))
                N._pass_row_log_softmax_out(x, np.empty_like(v), m, 1.0)
                N.exp_nonpos_raw(x, np.empty_like(v))
                N._pass_row_scale(x, 0.5)
        for w in widths:
            for n in (1, 3):
                v = rng.uniform(-20, 0, (n, w)).astype(dt)
                mv = v.max(axis=0)
                y, sm1 = np.empty_like(v), np.empty(w)
                for upper in (True, False):
                    print(lv, dt.__name__, "columns n =", n, "w =", w, "upper" if upper else "lower",
                          flush=True)
                    # x against one fence, then the column vector m (inv) against the
                    # other; m of max_pack has room for the AVX2 overrun (m_overrun)
                    x = fenced(v, upper)
                    N._pass_cols_max_pack(x, w, np.empty(256, dt)[:w], np.empty(n * w, dt))
                    m = fenced(mv, not upper)
                    N._pass_cols_sumexp_m1(x, w, m, y, sm1)
                    N._pass_cols_log_softmax_out(x, y, w, m, np.ones(w))
                    N._pass_cols_scale_to(x, y, w, fenced(np.full(w, 0.5), not upper))
print("done")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="needs mprotect")
def test_no_reads_out_of_bounds():
    env = dict(os.environ)
    env.pop("FASTACT_PASSES_REPORT", None)
    out = subprocess.run([sys.executable, "-c", _FENCE_SCRIPT, ",".join(LEVELS), repr(ROW_SIZES),
                          repr(COL_WIDTHS)], capture_output=True, text=True, env=env, timeout=120)
    last = out.stdout.strip().splitlines()[-1:] or ["(nothing)"]
    assert out.returncode == 0 and last == ["done"], (
        f"exit {out.returncode} (-11: a fault) during: {last[0]}\n{out.stderr[-2000:]}")


def _log1p_inputs():
    """s - 1 of a softmax sum as the column path meets it: 0, tiny, around
    the k = 0 / k = 1 switch (t ~ sqrt2 - 1) and every k boundary
    (1 + t ~ 2^k sqrt2), powers of two, random magnitudes up to 2^62, +inf
    and NaN."""
    rng = np.random.default_rng(1729)
    t = [0.0, 2.0 ** -1021, 1e-300, 1e-20, 2.0 ** -53, 2.0 ** -30, 1e-10, 1e-5, 0.1, 1.0,
         math.inf, math.nan]
    for k in range(0, 63):
        for c in (2.0 ** k * math.sqrt(2.0) - 1.0, 2.0 ** (k + 1) - 1.0, 2.0 ** k):
            if c >= 0:
                t += [c, np.nextafter(c, 0.0), np.nextafter(c, math.inf)]
    t += list(rng.random(200) * (math.sqrt(2.0) - 1.0))
    t += list(2.0 ** rng.uniform(-60, 62, 400))
    return np.array(t, dtype=F64)


@per_case
def _log1p_case():
    t = _log1p_inputs()
    L = t.copy()
    portable(native._pass_cols_log1p, np.empty(1, F32), L)
    return t, L, np.log1p(t.astype(LD))


@at_levels
@dtypes
def test_cols_log1p(level, dtype):
    # The column path's log1p of s - 1.  float32 tables: the series of
    # simd/log1p_series.h, within 2^-43 relative of log1p (measured 2^-44.7),
    # +inf and NaN passed through, every level bit for bit the portable
    # one's (same arithmetic, no contraction) and every element the same at
    # every position of a tile (vector body or tail).  float64 tables:
    # libm's log1p.
    t, L32, ref = _log1p_case()
    L = t.copy()
    native._pass_cols_log1p(np.empty(1, dtype), L)
    if dtype == F64:
        assert_same_bits(L, np.log1p(t), f"cols_log1p {level} f64: libm's log1p")
        return
    assert_same_bits(L, L32, f"cols_log1p {level} f32 vs the portable level")
    assert np.isposinf(L[t == math.inf]).all() and np.isnan(L[np.isnan(t)]).all()
    fin = np.isfinite(t) & (t > 0)
    rel = np.abs((L[fin].astype(LD) - ref[fin]) / ref[fin])
    assert L[t == 0].tolist() == [0.0]
    if LD_OK[F64]:
        worst = int(np.argmax(rel))
        assert rel.max() < 2.0 ** -43, f"t={t[fin][worst]!r}: relative error {float(rel.max()):.3g}"
    for n in range(1, 41):
        part = t[:n].copy()
        native._pass_cols_log1p(np.empty(1, dtype), part)
        assert_same_bits(part, L[:n], f"cols_log1p {level} f32 w={n}: tail vs body")
