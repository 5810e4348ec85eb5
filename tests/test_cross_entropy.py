"""cross_entropy against a direct longdouble formula (every combination of
the options), result types, empty / all-ignored batches, special values,
and PyTorch (when importable)."""

import itertools

import numpy as np
import pytest

import _ref
from _ref import LD, ref_cross_entropy, rng_for

C = 5
REDUCTIONS = ["none", "sum", "mean"]
SMOOTHING = [0.0, 0.1, 1.0]
TDTYPES = ["int8", "uint8", "int32", "int64", "uint64"]
# (name, ignore_index, how the labels hit it)
IGNORES = [("default-nohit", -100, False), ("default-hit", -100, True),
           ("custom3-hit", 3, True), ("custom3-nohit", 3, False)]
LAYOUTS = {"last": ((12, C), -1), "axis1": ((3, C, 2, 4), 1)}


def make_logits(layout, dtype, *seed):
    shape, axis = LAYOUTS[layout]
    rng = rng_for("ce-logits", layout, np.dtype(dtype).name, *seed)
    return (2.0 * rng.standard_normal(shape)).astype(dtype), axis


def sample_shape(shape, axis):
    axis = axis % len(shape)
    return shape[:axis] + shape[axis + 1:]


def make_index_target(shape, axis, tdtype, ignore_index, hit, *seed):
    rng = rng_for("ce-target", shape, tdtype, ignore_index, hit, *seed)
    S = sample_shape(shape, axis)
    t = rng.integers(0, C, size=S)
    if not hit:
        if 0 <= ignore_index < C:
            t[t == ignore_index] = (ignore_index + 1) % C
    else:
        flat = t.reshape(-1)
        flat[::3] = ignore_index
    t = t.astype(tdtype)
    if hit:
        assert (t.astype(np.int64) == ignore_index).any()
        assert (t.astype(np.int64) != ignore_index).any()
    else:
        assert not (t.astype(np.int64) == ignore_index).any()
    return t


def make_prob_target(shape, axis, dtype, *seed):
    rng = rng_for("ce-prob", shape, *seed)
    p = rng.dirichlet(np.ones(C), size=sample_shape(shape, axis))  # (..., C)
    p = np.moveaxis(p, -1, axis % len(shape))
    return p.astype(dtype)


def make_weight(use, *seed):
    if not use:
        return None
    rng = rng_for("ce-weight", *seed)
    return rng.uniform(0.25, 3.0, size=C)


def mean_denominator(target, weight, ignore_index):
    t = np.asarray(target).astype(np.int64)
    mask = t != ignore_index
    if weight is None:
        return float(mask.sum())
    return float(np.asarray(weight)[t[mask]].sum())


def check_result(res, ref, logits, axis, mode, reduction, dtype, weight, q=None,
                 denom=None):
    if reduction == "none":
        assert isinstance(res, np.ndarray)
        assert res.shape == ref.shape
    else:
        assert isinstance(res, np.floating) and not isinstance(res, np.ndarray)
    assert res.dtype == dtype
    _ref.check_ce_accuracy(res, ref, np.moveaxis(np.asarray(logits), axis, -1),
                           mode, weight=weight, prob_q=q, reduction=reduction,
                           denom=denom)


INDEX_COMBOS = [
    c for c in itertools.product(
        list(LAYOUTS), ["f32", "f64"], TDTYPES, [False, True],
        [i[0] for i in IGNORES], REDUCTIONS, SMOOTHING)
    # an unsigned target cannot hold -100
    if not (c[2].startswith("u") and c[4] == "default-hit")
]


def _combo_id(c):
    return "-".join(str(v) for v in c).replace("True", "w").replace("False", "now")


@pytest.mark.parametrize("combo", INDEX_COMBOS, ids=_combo_id)
def test_index_targets_all_combinations(impl, twin, mode, combo):
    layout, dt, tdtype, use_w, ign_name, reduction, ls = combo
    dtype = np.float32 if dt == "f32" else np.float64
    ign = dict((i[0], i[1:]) for i in IGNORES)[ign_name]
    ignore_index, hit = ign
    logits, axis = make_logits(layout, dtype, combo)
    target = make_index_target(logits.shape, axis, tdtype, ignore_index, hit, combo)
    weight = make_weight(use_w, combo)
    kw = dict(axis=axis, weight=weight, ignore_index=ignore_index,
              reduction=reduction, label_smoothing=ls)
    ref = ref_cross_entropy(logits, target, **kw)
    denom = mean_denominator(target, weight, ignore_index)
    for mod, md in ((impl, mode), (twin, "twin")):
        logits0, target0 = logits.copy(), target.copy()
        res = mod.cross_entropy(logits, target, **kw)
        np.testing.assert_array_equal(logits, logits0)
        np.testing.assert_array_equal(target, target0)
        check_result(res, ref, logits, axis, md, reduction, dtype, weight, denom=denom)
        if reduction == "none" and hit:
            # ignored samples give exactly 0
            ignored = target.astype(np.int64) == ignore_index
            assert (res[ignored] == 0).all()


PROB_COMBOS = list(itertools.product(list(LAYOUTS), ["f32", "f64"], [False, True],
                                     REDUCTIONS, SMOOTHING))


@pytest.mark.parametrize("combo", PROB_COMBOS, ids=_combo_id)
def test_prob_targets_all_combinations(impl, twin, mode, combo):
    layout, dt, use_w, reduction, ls = combo
    dtype = np.float32 if dt == "f32" else np.float64
    logits, axis = make_logits(layout, dtype, combo)
    target = make_prob_target(logits.shape, axis, dtype, combo)
    weight = make_weight(use_w, combo)
    kw = dict(axis=axis, weight=weight, reduction=reduction, label_smoothing=ls)
    ref = ref_cross_entropy(logits, target, **kw)
    qmax = float(np.max(np.sum((1 - ls) * target.astype(np.float64) + ls / C,
                               axis=axis)))
    for mod, md in ((impl, mode), (twin, "twin")):
        res = mod.cross_entropy(logits, target, **kw)
        check_result(res, ref, logits, axis, md, reduction, dtype, weight, q=qmax,
                     denom=target.size // C)
        # ignore_index is not used with probability targets
        res2 = mod.cross_entropy(logits, target, ignore_index=0, **kw)
        np.testing.assert_array_equal(res2, res)


# ---------------------------------------------------------------------------
# literature values and simple identities
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("nclass", [1, 2, 7, 1000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_uniform_logits_give_log_c(module, dtype, nclass):
    logits = np.full((4, nclass), 0.75, dtype=dtype)
    target = np.arange(4) % nclass
    r = module.cross_entropy(logits, target)
    assert _ref.ulp_error(r, np.log(LD(nclass)), dtype) <= 4
    r = module.cross_entropy(logits, target, reduction="none")
    assert _ref.ulp_error(r, np.full(4, np.log(LD(nclass))), dtype) <= 4
    p = np.full((4, nclass), 1.0 / nclass, dtype=dtype)
    r = module.cross_entropy(logits, p, reduction="sum")
    assert _ref.ulp_error(r, 4 * np.log(LD(nclass)), dtype) <= 8


def test_matches_nll_of_log_softmax(module):
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 0.5, 3.0]])
    target = np.array([0, 2])
    r = module.cross_entropy(logits, target, reduction="none")
    ls = module.log_softmax(logits)
    np.testing.assert_allclose(r, [-ls[0, 0], -ls[1, 2]], rtol=1e-14)
    # -log(0.659...) ~= 0.417
    assert round(float(r[0]), 3) == 0.417


# ---------------------------------------------------------------------------
# empty / all ignored / result types
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("layout", ["last", "axis1"])
def test_empty_batch(module, dtype, kind, layout):
    if layout == "last":
        logits, axis = np.zeros((0, C), dtype), -1
    else:
        logits, axis = np.zeros((2, C, 0, 3), dtype), 1
    S = sample_shape(logits.shape, axis)
    target = np.zeros(S, np.int64) if kind == "index" else np.zeros(logits.shape, dtype)
    r = module.cross_entropy(logits, target, axis=axis, reduction="none")
    assert isinstance(r, np.ndarray) and r.shape == S and r.dtype == dtype
    r = module.cross_entropy(logits, target, axis=axis, reduction="sum")
    assert isinstance(r, np.floating) and r.dtype == dtype and r == 0
    r = module.cross_entropy(logits, target, axis=axis, reduction="mean")
    assert isinstance(r, np.floating) and r.dtype == dtype and np.isnan(r)


@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_all_ignored(module, use_w, ignore_index):
    logits = np.random.default_rng(5).standard_normal((6, C))
    target = np.full(6, ignore_index)
    w = make_weight(use_w, "allign")
    r = module.cross_entropy(logits, target, weight=w, ignore_index=ignore_index)
    assert isinstance(r, np.floating) and np.isnan(r)
    r = module.cross_entropy(logits, target, weight=w, ignore_index=ignore_index,
                             reduction="sum")
    assert r == 0
    r = module.cross_entropy(logits, target, weight=w, ignore_index=ignore_index,
                             reduction="none")
    assert (r == 0).all() and r.shape == (6,)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ldtype", ["float16", "float32", "float64", "int64", "bool"])
def test_result_dtype(module, ldtype, reduction):
    logits = np.array([[1, 0, 2], [0, 1, 1]]).astype(ldtype)
    target = np.array([2, 0])
    r = module.cross_entropy(logits, target, reduction=reduction)
    expected = {"float16": np.float16, "float32": np.float32}.get(ldtype, np.float64)
    assert r.dtype == expected
    if reduction == "none":
        assert isinstance(r, np.ndarray) and r.shape == (2,)
    else:
        assert isinstance(r, np.floating) and not isinstance(r, np.ndarray)
        assert type(r) is expected
    ref = ref_cross_entropy(logits.astype(np.float64), target, reduction=reduction)
    bound = 4 if expected != np.float16 else 2
    assert _ref.ulp_error(r, ref, expected) <= bound


def test_list_inputs(module):
    r = module.cross_entropy([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]], [1, 2])
    assert r.dtype == np.float64
    ref = ref_cross_entropy(np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]]),
                            np.array([1, 2]))
    assert _ref.ulp_error(r, ref, np.float64) <= 8


def test_one_d_logits_single_sample(module):
    logits = np.array([0.5, 1.5, -1.0])
    r = module.cross_entropy(logits, np.array(1), reduction="none")
    assert type(r) is np.float64  # one sample: a NumPy scalar, as ufuncs
    ref = ref_cross_entropy(logits, np.array(1), reduction="none")
    assert _ref.ulp_error(r, ref, np.float64) <= 8
    r = module.cross_entropy(logits, np.array(1))
    assert isinstance(r, np.floating)
    r = module.cross_entropy(logits, np.array([0.2, 0.3, 0.5]), reduction="none")
    assert type(r) is np.float64


# ---------------------------------------------------------------------------
# special values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_special_values(module, dtype):
    logits = np.zeros((4, C), dtype)
    logits[0, 2] = np.nan       # NaN in a counted sample -> NaN loss
    logits[1, 3] = np.nan       # NaN in an ignored sample -> 0
    logits[2, 1] = -np.inf      # -inf at the target -> +inf
    logits[3, 4] = -np.inf      # -inf elsewhere -> finite
    target = np.array([0, -100, 1, 0])
    r = module.cross_entropy(logits, target, reduction="none")
    assert np.isnan(r[0])
    assert r[1] == 0
    assert r[2] == np.inf
    assert np.isfinite(r[3])
    assert _ref.ulp_error(r[3], -np.log(LD(1) / LD(C - 1)), dtype) <= 4
    m = module.cross_entropy(logits[1:], target[1:])
    assert m == np.inf
    m = module.cross_entropy(logits[[1, 3]], target[[1, 3]])
    assert np.isfinite(m)
    # +inf logit -> log_softmax NaN -> NaN loss
    r = module.cross_entropy(np.array([[np.inf, 0, 0]], dtype), np.array([0]),
                             reduction="none")
    assert np.isnan(r[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_prob_target_zero_prob_at_neg_inf_is_nan(module, dtype):
    logits = np.array([[0.0, -np.inf, 1.0], [0.0, 1.0, 2.0]], dtype)
    p = np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]], dtype)
    r = module.cross_entropy(logits, p, reduction="none")
    assert np.isnan(r[0])          # 0 * inf, as PyTorch
    assert np.isfinite(r[1])


# ---------------------------------------------------------------------------
# PyTorch (optional)
# ---------------------------------------------------------------------------

TORCH_COMBOS = [
    ("index", None, -100, "mean", 0.0),
    ("index", "w", -100, "mean", 0.1),
    ("index", "w", 3, "sum", 0.1),
    ("index", None, 3, "none", 1.0),
    ("index", "w", -100, "mean", 1.0),
    ("prob", None, -100, "mean", 0.0),
    ("prob", "w", -100, "mean", 0.1),
    ("prob", "w", -100, "none", 0.1),
]


@pytest.mark.parametrize("layout", ["last", "axis1"])
@pytest.mark.parametrize("combo", TORCH_COMBOS, ids=_combo_id)
def test_against_torch(module, combo, layout):
    torch = pytest.importorskip("torch")
    kind, w, ign, reduction, ls = combo
    logits, axis = make_logits(layout, np.float64, "torch", combo)
    if kind == "index":
        target = make_index_target(logits.shape, axis, "int64", ign, True, "torch")
    else:
        target = make_prob_target(logits.shape, axis, np.float64, "torch")
    weight = make_weight(w is not None, "torch")
    res = module.cross_entropy(logits, target, axis=axis, weight=weight,
                               ignore_index=ign, reduction=reduction,
                               label_smoothing=ls)
    # torch wants the class axis at dim 1
    tl = torch.from_numpy(np.ascontiguousarray(np.moveaxis(logits, axis, 1)))
    tt = torch.from_numpy(np.ascontiguousarray(
        target if kind == "index" else np.moveaxis(target, axis, 1)))
    tw = None if weight is None else torch.from_numpy(weight)
    exp = torch.nn.functional.cross_entropy(tl, tt, weight=tw, ignore_index=ign,
                                            reduction=reduction,
                                            label_smoothing=ls).numpy()
    np.testing.assert_allclose(np.asarray(res), exp, rtol=1e-12, atol=1e-14)
