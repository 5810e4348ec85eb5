#!/usr/bin/env python
"""The training ops against their floors and peers: the second table of
``bench/peers.py`` (also runnable alone).

Each case has its own floor, the cheapest thing that moves the same bytes or
does the same passes (the goals of the training issue are stated against it):

* ``copy``     np.copyto of the input into a ready buffer (one-input maps),
* ``add``      np.add(a, b, out=o) on the op's two inputs (two-input ops),
* ``softmax``  fastact's own ``softmax(x, out=)`` of the same logits (the fused
               cross-entropy step does the same passes plus a subtraction),
* ``unmasked`` fastact's unmasked softmax of the same scores (masked softmax).

Peers: the NumPy twin (one thread), PyTorch CPU (ATen's backward kernels with
``out=`` where they exist; autograd forward+backward for the losses, as a
training loop runs them) and ONNX Runtime for the ops it has as standard
operators (Sigmoid, LeakyRelu: ORT's gradient operators exist only in its
training builds).  Cases whose fastact function is missing from this build
are left out with a note.

Usage:  python bench/peers_training.py [--quick] [--threads 1,2] [--out-md PATH]
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402  (bench/ is not a package)
from peers import NotAvailable, fastact, fmt_ratio, fmt_us, measure, numpy_impl  # noqa: E402
from summary import input_array, steady_state_allocator, target_array  # noqa: E402

SLOPE = 0.01
BIG = (2 ** 24,)
ROWS = (256, 32000)
ATTN = (8, 8, 512, 512)

# (op, floor, goal: max ratio to the floor or None, min speed-up over torch or None)
CASES = [
    ("cross_entropy_with_grad", "softmax", 1.05, 5.0, ROWS),
    ("softmax_backward", "add", 1.1, None, ROWS),
    ("log_softmax_backward", "add", 1.1, None, ROWS),
    ("relu_backward", "add", 1.05, None, BIG),
    ("leaky_relu_backward", "add", 1.05, None, BIG),
    ("sigmoid_backward", "add", 1.05, None, BIG),
    ("sigmoid", "copy", 1.1, None, BIG),
    ("leaky_relu", "copy", None, None, BIG),
    ("binary_cross_entropy_with_logits_with_grad", "add", None, None, (2 ** 22,)),
    ("masked_softmax", "unmasked", 1.1, None, ATTN),
]


def available(op):
    if op == "masked_softmax":
        return "where" in inspect.signature(fastact.softmax).parameters
    return hasattr(fastact, op)


class Inputs:
    """The arrays of one case (deterministic, shared by every backend)."""

    def __init__(self, op, dt, shape):
        self.x = input_array(shape, dt)
        self.g = input_array(shape, dt)[..., ::-1].copy()  # another array, same values
        if op == "softmax_backward":
            self.y = fastact.softmax(self.x)
        elif op == "log_softmax_backward":
            self.y = fastact.log_softmax(self.x)
        elif op == "sigmoid_backward":
            self.y = fastact.sigmoid(self.x)
        else:
            self.y = self.x
        if op == "cross_entropy_with_grad":
            self.t = target_array(shape)
        if op.startswith("binary_cross_entropy"):
            self.t = (input_array(shape, dt) > 0).astype(dt)[::-1].copy()
        if op == "masked_softmax":
            T = shape[-1]
            self.mask = np.tril(np.ones((T, T), dtype=bool))  # causal, broadcast
        self.out = np.empty_like(self.x)


def floor_call(kind, op, a):
    if kind == "copy":
        return lambda: np.copyto(a.out, a.x)
    if kind == "add":
        second = a.t if op.startswith("binary_cross_entropy") else a.y if op.endswith(
            "softmax_backward") or op == "sigmoid_backward" else a.x
        return lambda: np.add(a.g if op.endswith("backward") else a.x, second, out=a.out)
    if kind == "softmax" or kind == "unmasked":
        return lambda: fastact.softmax(a.x, out=a.out)
    raise ValueError(kind)


def fastact_call(mod, op, a):
    """(fn, result) for fastact or its twin (module mod)."""
    o = a.out
    if op == "cross_entropy_with_grad":
        f = mod.cross_entropy_with_grad
        return (lambda: f(a.x, a.t, out=o)), (lambda: o)
    if op == "binary_cross_entropy_with_logits_with_grad":
        f = mod.binary_cross_entropy_with_logits_with_grad
        return (lambda: f(a.x, a.t, out=o)), (lambda: o)
    if op == "masked_softmax":
        f = mod.softmax
        return (lambda: f(a.x, -1, where=a.mask, out=o)), (lambda: o)
    if op in ("softmax_backward", "log_softmax_backward", "sigmoid_backward"):
        f = getattr(mod, op)
        return (lambda: f(a.g, a.y, out=o)), (lambda: o)
    if op == "relu_backward":
        f = mod.relu_backward
        return (lambda: f(a.g, a.x, out=o)), (lambda: o)
    if op == "leaky_relu_backward":
        f = mod.leaky_relu_backward
        return (lambda: f(a.g, a.x, SLOPE, out=o)), (lambda: o)
    if op == "leaky_relu":
        f = mod.leaky_relu
        return (lambda: f(a.x, SLOPE, out=o)), (lambda: o)
    f = getattr(mod, op)
    return (lambda: f(a.x, out=o)), (lambda: o)


def torch_call(torch, op, a):
    """(fn, result) in PyTorch, or None when it has no such op."""
    F = torch.nn.functional
    aten = torch.ops.aten
    x, g, y = (torch.from_numpy(v) for v in (a.x, a.g, a.y))
    o = torch.from_numpy(a.out)
    tdt = x.dtype
    if op in ("cross_entropy_with_grad", "binary_cross_entropy_with_logits_with_grad"):
        xl = torch.from_numpy(a.x.copy()).requires_grad_()
        tt = torch.from_numpy(a.t)
        loss_fn = F.cross_entropy if op == "cross_entropy_with_grad" else \
            F.binary_cross_entropy_with_logits

        def call():
            xl.grad = None
            with torch.enable_grad():
                loss_fn(xl, tt).backward()
        return call, lambda: xl.grad.numpy()
    if op == "softmax_backward":
        return (lambda: aten._softmax_backward_data.out(g, y, -1, tdt, grad_input=o)), \
            (lambda: a.out)
    if op == "log_softmax_backward":
        return (lambda: aten._log_softmax_backward_data.out(g, y, -1, tdt, out=o)), \
            (lambda: a.out)
    if op == "relu_backward":
        return (lambda: aten.threshold_backward.grad_input(g, x, 0, grad_input=o)), \
            (lambda: a.out)
    if op == "leaky_relu_backward":
        return (lambda: aten.leaky_relu_backward.grad_input(g, x, SLOPE, False,
                                                             grad_input=o)), (lambda: a.out)
    if op == "sigmoid_backward":
        return (lambda: aten.sigmoid_backward.grad_input(g, y, grad_input=o)), (lambda: a.out)
    if op == "sigmoid":
        return (lambda: torch.sigmoid(x, out=o)), (lambda: a.out)
    if op == "leaky_relu":
        return (lambda: torch._C._nn.leaky_relu(x, SLOPE, out=o)), (lambda: a.out)
    if op == "masked_softmax":
        keep = torch.from_numpy(a.mask)
        ninf = float("-inf")

        def call():  # what attention code writes: fill, then softmax
            torch.softmax(x.masked_fill(~keep, ninf), -1, out=o)
        return call, lambda: a.out
    return None


class OrtMaps:
    """ONNX Runtime one-node graphs for the standard operators it has."""
    NODES = {"sigmoid": ("Sigmoid", {}), "leaky_relu": ("LeakyRelu", {"alpha": SLOPE})}

    def __init__(self, ort, onnx):
        self.ort, self.onnx, self.sessions = ort, onnx, {}

    def call(self, op, a, nthreads):
        if op not in self.NODES:
            return None
        from onnx import TensorProto, helper
        key = (op, a.x.dtype.name, nthreads)
        if key not in self.sessions:
            T = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[a.x.dtype.name]
            node_op, attrs = self.NODES[op]
            graph = helper.make_graph(
                [helper.make_node(node_op, ["x"], ["y"], **attrs)], f"fastact_{op}",
                [helper.make_tensor_value_info("x", T, ["N"])],
                [helper.make_tensor_value_info("y", T, ["N"])])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                      ir_version=8)
            so = self.ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = nthreads, 1
            so.log_severity_level = 3
            try:
                self.sessions[key] = self.ort.InferenceSession(
                    model.SerializeToString(), so, providers=["CPUExecutionProvider"])
            except Exception as exc:
                self.sessions[key] = NotAvailable(f"{type(exc).__name__}: {str(exc)[:120]}")
        s = self.sessions[key]
        if isinstance(s, NotAvailable):
            raise s
        b = s.io_binding()
        keep = [self.ort.OrtValue.ortvalue_from_numpy(a.x),
                self.ort.OrtValue.ortvalue_from_numpy(a.out)]
        b.bind_ortvalue_input("x", keep[0])
        b.bind_ortvalue_output("y", keep[1])
        run = s.run_with_iobinding
        return (lambda _k=keep: run(b)), (lambda: a.out)


def load_peers():
    notes, torch, ortm = [], None, None
    try:
        import torch
    except Exception as exc:
        notes.append(f"PyTorch skipped: not importable ({type(exc).__name__}: {exc})")
    try:
        import onnx
        import onnxruntime as ort
        ortm = OrtMaps(ort, onnx)
    except Exception as exc:
        notes.append(f"ONNX Runtime skipped ({type(exc).__name__}: {exc})")
    return torch, ortm, notes


def run(thread_counts, target):
    """(markdown lines, warnings) of the training table."""
    torch, ortm, notes = load_peers()
    steady_state_allocator()
    set_thr = fastact.set_num_threads
    thr0 = fastact.get_num_threads()
    rows, twin_cache = [], {}
    for op, floor, goal_floor, goal_torch, shape in CASES:
        if not available(op):
            notes.append(f"{op}: not in this build of fastact, left out")
            continue
        for dt in ("float32", "float64"):
            if op == "masked_softmax" and dt == "float64":
                continue
            a = Inputs(op, dt, shape)
            for nthr in thread_counts:
                set_thr(nthr)
                if torch is not None:
                    torch.set_num_threads(nthr)
                t = {}
                t["floor"], _ = measure(floor_call(floor, op, a), target)
                fn, res = fastact_call(fastact, op, a)
                t["fastact"], _ = measure(fn, target)
                ref = np.array(res(), dtype=np.float64)
                bad = set()
                if (op, dt) not in twin_cache:
                    fn, res = fastact_call(numpy_impl, op, a)
                    sec, _ = measure(fn, target)
                    twin_cache[(op, dt)] = (sec, peers.check(op, dt, res(), ref))
                t["twin"], ok = twin_cache[(op, dt)]
                if not ok:
                    bad.add("twin")
                for name, maker in (("torch", (lambda: torch_call(torch, op, a))
                                     if torch is not None else None),
                                    ("ort", (lambda: ortm.call(op, a, nthr))
                                     if ortm is not None else None)):
                    if maker is None:
                        continue
                    try:
                        made = maker()
                    except NotAvailable:
                        t[name] = "n/a"
                        continue
                    if made is None:
                        continue
                    fn, res = made
                    t[name], _ = measure(fn, target)
                    if not peers.check(op, dt, res(), ref):
                        bad.add(name)
                rows.append((op, dt, shape, nthr, floor, goal_floor, goal_torch, t, bad))
                print(f"  {nthr} thr  {op} {dt} {shape}: "
                      + "  ".join(f"{k}={fmt_us(v) if isinstance(v, float) else v}"
                                  for k, v in t.items()), file=sys.stderr, flush=True)
    set_thr(thr0)
    return render(rows), notes


def render(rows):
    header = ["case", "thr", "floor", "floor µs", "fastact µs (×floor)", "NumPy twin µs (×floor)",
              "torch µs (×floor)", "ORT µs (×floor)", "goal", "met"]
    lines = []
    for op, dt, shape, nthr, floor, gf, gt, t, bad in rows:
        fl = t["floor"]

        def cell(name):
            v = t.get(name)
            if not isinstance(v, float):
                return v or "–"
            return f"{fmt_us(v)} ({fmt_ratio(v / fl)})" + (" !" if name in bad else "")
        fa = t["fastact"]
        goals, met = [], []
        if gf is not None:
            goals.append(f"≤ {gf:g}× floor")
            met.append("yes" if fa / fl <= gf else f"no ({fa / fl:.2f}×)")
        if gt is not None and isinstance(t.get("torch"), float):
            goals.append(f"≥ {gt:g}× torch")
            met.append("yes" if t["torch"] / fa >= gt else f"no ({t['torch'] / fa:.2f}×)")
        name = f"{op} {peers.ABBR[dt]} {peers.shape_str(shape)}"
        lines.append([name, str(nthr), floor, fmt_us(fl), cell("fastact"), cell("twin"),
                      cell("torch"), cell("ort"), "; ".join(goals) or "–",
                      "; ".join(met) or "–"])
    widths = [max(len(h), *(len(r[i]) for r in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
           "|" + "|".join(":" + "-" * (w + 1) if i in (0, 2, 8, 9) else "-" * (w + 1) + ":"
                          for i, w in enumerate(widths)) + "|"]
    for r in lines:
        out.append("| " + " | ".join(c.ljust(w) if i in (0, 2, 8, 9) else c.rjust(w)
                                     for i, (c, w) in enumerate(zip(r, widths))) + " |")
    return out


def section(thread_counts, target):
    """The markdown section peers.py appends to its report."""
    table, notes = run(thread_counts, target)
    md = ["## Training ops", "",
          "Each case against its own floor (`copy`: np.copyto of the input; `add`: "
          "np.add(a, b, out=o) on the op's two inputs; `softmax`: fastact's softmax(x, out=) "
          "of the same logits, the passes the fused step shares; `unmasked`: fastact's "
          "unmasked softmax of the same scores); cells are median µs and, in parentheses, "
          "the ratio to the floor. torch: ATen's backward kernels with `out=` "
          "(`_softmax_backward_data`, `_log_softmax_backward_data`, `threshold_backward`, "
          "`leaky_relu_backward`, `sigmoid_backward`), `torch.sigmoid(out=)`, "
          "`torch._C._nn.leaky_relu(out=)`; the losses as autograd forward+backward of "
          "`F.cross_entropy` / `F.binary_cross_entropy_with_logits` (reduction mean); masked "
          "softmax as `softmax(x.masked_fill(~mask, -inf))` with a (512, 512) causal mask. "
          "ORT only has Sigmoid and LeakyRelu among these as standard operators. The goals "
          "are the training issue's.", ""]
    md += [f"- {n}" for n in notes]
    md += [""] + table + [""]
    return md


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out-md", default="")
    args = ap.parse_args(argv)
    threads = sorted({int(s) for s in args.threads.split(",") if s.strip()})
    t0 = time.perf_counter()
    text = "\n".join(section(threads, 0.05 if args.quick else 0.25))
    print(text)
    if args.out_md:
        with open(args.out_md, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
