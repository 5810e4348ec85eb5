#!/usr/bin/env python
"""fastact against its peers: PyTorch CPU, ONNX Runtime, SciPy and the NumPy twin.

Everything runs in one process.  For each case (op, dtype, shape) and thread
count the script times, as the median over repeated calls:

* ``copy``    np.copyto of the input's bytes into a ready buffer (memory floor),
* ``fastact`` the native kernels, with a preallocated ``out=`` where the op has one,
* ``twin``    ``fastact.numpy_impl`` (the NumPy twin), also with ``out=``,
* ``torch``   PyTorch CPU on ``torch.from_numpy`` views (``out=`` where it exists),
* ``scipy``   ``scipy.special.softmax`` / ``log_softmax`` / ``logsumexp``,
* ``ort``     ONNX Runtime (CPUExecutionProvider) on one-node graphs, run through
              io_binding with inputs and preallocated outputs bound once,

at every thread count of ``--threads`` (torch.set_num_threads, a separate ORT
session per count with intra_op_num_threads, fastact.set_num_threads when
fastact has it).  copy, the twin and SciPy use no threads: they are timed once
and shown for every thread count.  Peers that are not installed are skipped
with a note; an op/dtype a peer cannot run shows ``n/a``.

Outputs: a markdown table on stdout and in ``--out-md`` (default
bench/peers.md), and a throughput plot (1 thread) in ``--out-png`` (default
bench/peers.png, needs matplotlib).

Usage:  python bench/peers.py [--quick] [--threads 1,2] [--out-md PATH] [--out-png PATH]
        [--no-training]

The training ops (backward ops, fused losses, masked softmax) follow in a
second table with their own floors: bench/peers_training.py.
"""

import argparse
import contextlib
import faulthandler
import gc
import io
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # bench/ is not a package: summary.py holds the input data
try:
    import fastact  # noqa: F401
except ImportError:  # run from a source checkout without PYTHONPATH
    sys.path.insert(0, ROOT)
import fastact  # noqa: E402
import fastact.numpy_impl as numpy_impl  # noqa: E402
from summary import fmt_us, input_array, steady_state_allocator, target_array  # noqa: E402

# ------------------------------------------------------------------- cases
DTYPES = ("float32", "float64")
ABBR = {"float32": "f32", "float64": "f64"}
ROW_SHAPES = ((1, 10), (64, 1000), (4096, 128), (256, 32000), (2 ** 22,))  # last: one long row
CE_SHAPES = ((64, 1000), (4096, 128), (256, 32000))
# float32 softmax / log_softmax only: the attention and classifier rows of
# issue 17 (rows of 64-2048, and one (B, H, T, T) block of attention scores)
SHORT_ROW_SHAPES = ((32768, 64), (1024, 512), (256, 2048), (8, 8, 512, 512), (32, 21, 64, 64))
# cases reduced over another axis than the last: shape -> axis (an NCHW
# segmentation map, softmax over its C=21 classes)
REDUCE_AXIS = {(32, 21, 64, 64): 1}
SHORT_ROW_CASES = (("softmax", "float32"), ("log_softmax", "float32"))
RELU_SHAPES = ((2 ** 20,), (2 ** 24,))
ROW_OPS = ("softmax", "log_softmax", "logsumexp")
OPS = ROW_OPS + ("relu", "cross_entropy")
NO_OUTPUT_ARRAY = ("logsumexp", "cross_entropy")  # throughput counts input bytes only
WATCHDOG_S = 120  # one measurement taking longer than this aborts the run
NOISY = 0.2       # interquartile range / median above this: cell marked "~"

# extra sizes for the plot only (1 thread): rows of 1000 classes, more relu sizes
PLOT_EXTRA = {
    ("softmax", "float32"): ((1, 1000), (16, 1000), (256, 1000), (4096, 1000)),
    ("softmax", "float64"): ((1, 1000), (16, 1000), (256, 1000), (4096, 1000)),
    ("log_softmax", "float32"): ((1, 1000), (16, 1000), (256, 1000), (4096, 1000)),
    ("logsumexp", "float32"): ((1, 1000), (16, 1000), (256, 1000), (4096, 1000)),
    ("cross_entropy", "float32"): ((1, 1000), (16, 1000), (256, 1000), (4096, 1000)),
    ("relu", "float32"): ((2 ** 10,), (2 ** 14,), (2 ** 17,)),
}
PLOT_PANELS = (("softmax", "float32"), ("softmax", "float64"), ("log_softmax", "float32"),
               ("logsumexp", "float32"), ("relu", "float32"), ("cross_entropy", "float32"))


def table_cases(quick, only=None):
    """The table's (op, dtype, shape) cases; ``only``: those whose name
    (e.g. "softmax f32 4096×128") contains that text."""
    for op in OPS:
        for dt in DTYPES:
            if op in ROW_OPS:
                shapes = ROW_SHAPES
                if (op, dt) in SHORT_ROW_CASES:
                    shapes = ROW_SHAPES[:3] + SHORT_ROW_SHAPES + ROW_SHAPES[3:]
            elif op == "relu":
                shapes = RELU_SHAPES[:1] if quick else RELU_SHAPES
            else:
                shapes = CE_SHAPES
            for shape in shapes:
                if only is None or only in case_name(op, dt, shape):
                    yield op, dt, shape


def shape_str(shape):
    if len(shape) == 1 and shape[0] >= 1024 and shape[0] & (shape[0] - 1) == 0:
        return f"2^{shape[0].bit_length() - 1}"
    return "×".join(str(n) for n in shape)


def reduce_axis(shape):
    """The axis a case's softmax / log_softmax / logsumexp reduce over."""
    return REDUCE_AXIS.get(tuple(shape), -1)


def case_name(op, dt, shape):
    axis = reduce_axis(shape)
    return f"{op} {ABBR[dt]} {shape_str(shape)}" + (f" axis={axis}" if axis != -1 else "")


def result_buffer(op, x):
    if op == "logsumexp":
        axis = reduce_axis(x.shape) % x.ndim
        return np.empty(x.shape[:axis] + x.shape[axis + 1:], dtype=x.dtype)
    if op == "cross_entropy":
        return np.empty((), dtype=x.dtype)
    return np.empty_like(x)


class NotAvailable(Exception):
    """The backend cannot run this op/dtype (shown as n/a)."""


# ---------------------------------------------------------------- backends
# Each backend's make(op, x, t, nthreads) returns (fn, result): fn() is the
# timed call, result() the NumPy value after a call (for the sanity check).
# make() raises NotAvailable (-> "n/a") or returns None (-> "–": no such op).

class Copy:
    name, label, threaded = "copy", "copy", False

    def make(self, op, x, t, nthreads):
        buf = np.empty_like(x)
        return (lambda: np.copyto(buf, x)), None


class FastactBackend:
    def __init__(self, module, name, label, threaded):
        self.mod, self.name, self.label, self.threaded = module, name, label, threaded

    def make(self, op, x, t, nthreads):
        fn = getattr(self.mod, op)
        if op == "cross_entropy":
            holder = {}

            def call():
                holder["r"] = fn(x, t, reduction="mean")
            return call, lambda: np.asarray(holder["r"])
        out = result_buffer(op, x)
        if op not in ROW_OPS:
            return (lambda: fn(x, out=out)), (lambda: out)
        axis = reduce_axis(x.shape)
        return (lambda: fn(x, axis=axis, out=out)), (lambda: out)


class Torch:
    name, label, threaded = "torch", "torch", True

    def __init__(self, torch):
        self.torch = torch
        torch.set_grad_enabled(False)

    def set_threads(self, n):
        self.torch.set_num_threads(n)

    def make(self, op, x, t, nthreads):
        torch = self.torch
        xt = torch.from_numpy(x)
        if op == "cross_entropy":
            ce = torch.nn.functional.cross_entropy
            tt = torch.from_numpy(t)
            holder = {}

            def call():
                holder["r"] = ce(xt, tt, reduction="mean")
            return call, lambda: holder["r"].numpy()
        out = result_buffer(op, x)
        ot = torch.from_numpy(out)
        axis = reduce_axis(x.shape)
        if op == "softmax":
            f = torch.softmax
            return (lambda: f(xt, axis, out=ot)), (lambda: out)
        if op == "log_softmax":
            f = torch.log_softmax
            return (lambda: f(xt, axis, out=ot)), (lambda: out)
        if op == "logsumexp":
            f = torch.logsumexp
            return (lambda: f(xt, axis, out=ot)), (lambda: out)
        if op == "relu":
            # torch.relu has no out=; ATen implements relu as clamp_min(x, 0),
            # which has one.
            f = torch.clamp_min
            return (lambda: f(xt, 0, out=ot)), (lambda: out)
        return None


class Scipy:
    name, label, threaded = "scipy", "SciPy", False

    def __init__(self, special):
        self.special = special

    def make(self, op, x, t, nthreads):
        sp = self.special
        if op not in ROW_OPS:
            return None
        f = getattr(sp, op)
        holder = {}
        axis = reduce_axis(x.shape)

        def call():
            holder["r"] = f(x, axis=axis)
        return call, lambda: np.asarray(holder["r"])


class Ort:
    name, label, threaded = "ort", "ORT", True
    _NODES = {  # the reduced axis (-1 here) is the case's (reduce_axis)
        "softmax": ("Softmax", {"axis": -1}),
        "log_softmax": ("LogSoftmax", {"axis": -1}),
        "logsumexp": ("ReduceLogSumExp", {"axes": [-1], "keepdims": 0}),
        "relu": ("Relu", {}),
        "cross_entropy": ("SoftmaxCrossEntropyLoss", {"reduction": "mean"}),
    }

    def __init__(self, ort, onnx):
        self.ort, self.onnx = ort, onnx
        self.sessions = {}

    def _model(self, op, dt, ndim, axis):
        from onnx import TensorProto, helper
        T = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dt]
        dims = ["N", "C"][:ndim] if ndim <= 2 else [f"d{i}" for i in range(ndim)]
        inputs = [helper.make_tensor_value_info("x", T, dims)]
        names = ["x"]
        if op == "cross_entropy":
            inputs.append(helper.make_tensor_value_info("t", TensorProto.INT64, dims[:-1]))
            names.append("t")
            odims = []
        elif op == "logsumexp":
            odims = [d for i, d in enumerate(dims) if i != axis % ndim]
        else:
            odims = dims
        out = helper.make_tensor_value_info("y", T, odims)
        node_op, attrs = self._NODES[op]
        attrs = {k: (axis if k == "axis" else [axis] if k == "axes" else v) for k, v in attrs.items()}
        node = helper.make_node(node_op, names, ["y"], **attrs)
        graph = helper.make_graph([node], f"fastact_peer_{op}", inputs, [out])
        # opset 17: ReduceLogSumExp still takes axes as an attribute
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                  ir_version=8)
        self.onnx.checker.check_model(model)
        return model.SerializeToString()

    def session(self, op, dt, ndim, axis, nthreads):
        key = (op, dt, ndim, axis, nthreads)
        if key not in self.sessions:
            so = self.ort.SessionOptions()
            so.intra_op_num_threads = nthreads
            so.inter_op_num_threads = 1
            so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
            so.log_severity_level = 3
            try:
                self.sessions[key] = self.ort.InferenceSession(
                    self._model(op, dt, ndim, axis), so, providers=["CPUExecutionProvider"])
            except Exception as exc:  # e.g. no kernel for this dtype
                self.sessions[key] = NotAvailable(f"{type(exc).__name__}: {str(exc)[:160]}")
        s = self.sessions[key]
        if isinstance(s, NotAvailable):
            raise s
        return s

    def make(self, op, x, t, nthreads):
        ort = self.ort
        sess = self.session(op, x.dtype.name, x.ndim, reduce_axis(x.shape), nthreads)
        b = sess.io_binding()
        keep = [ort.OrtValue.ortvalue_from_numpy(x)]  # OrtValues wrap, not copy
        b.bind_ortvalue_input("x", keep[0])
        if op == "cross_entropy":
            keep.append(ort.OrtValue.ortvalue_from_numpy(t))
            b.bind_ortvalue_input("t", keep[-1])
        out = result_buffer(op, x)
        keep.append(ort.OrtValue.ortvalue_from_numpy(out))
        b.bind_ortvalue_output("y", keep[-1])
        run = sess.run_with_iobinding

        def call(_k=keep):
            run(b)
        try:
            call()
        except Exception as exc:
            raise NotAvailable(f"{type(exc).__name__}: {str(exc)[:160]}") from None
        return call, lambda: out


def load_backends():
    """(backends, notes): the backends that import, notes on those that do not."""
    notes = []
    backends = [Copy()]
    native_ok = getattr(fastact, "BACKEND", "native") == "native"
    fa_threaded = hasattr(fastact, "set_num_threads")
    backends.append(FastactBackend(fastact, "fastact", "fastact", fa_threaded))
    if not native_ok:
        notes.append(f"fastact.BACKEND={fastact.BACKEND!r} (FASTACT_BACKEND set): the "
                     "fastact column is the NumPy twin, not the native kernels")
    backends.append(FastactBackend(numpy_impl, "twin", "NumPy twin", False))
    try:
        import torch
        backends.append(Torch(torch))
    except Exception as exc:
        notes.append(f"PyTorch skipped: not importable ({type(exc).__name__}: {exc})")
    try:
        import scipy.special
        backends.append(Scipy(scipy.special))
    except Exception as exc:
        notes.append(f"SciPy skipped: not importable ({type(exc).__name__}: {exc})")
    try:
        import onnx
        import onnxruntime as ort
        if "CPUExecutionProvider" not in ort.get_available_providers():
            raise ImportError("no CPUExecutionProvider")
        backends.append(Ort(ort, onnx))
    except Exception as exc:
        notes.append(f"ONNX Runtime skipped: onnxruntime + onnx not both importable "
                     f"({type(exc).__name__}: {exc})")
    return backends, notes


# ------------------------------------------------------------------ timing
def measure(fn, target):
    """(median seconds per call of fn, relative spread (IQR / median)).

    Warm-up (at least 2 calls, about target/5 s), then batches of calls each
    lasting >= 1 ms (tiny calls are timed in batches and divided), as many
    batches as fit in ~target seconds (at least 3, at most 2000).
    """
    gc_was = gc.isenabled()
    gc.disable()
    try:
        per = []
        t_start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            per.append(t1 - t0)
            if len(per) >= 2 and (t1 - t_start >= target / 5 or len(per) >= 200):
                break
        est = max(statistics.median(per[1:]), 1e-8)
        if est < 1e-3:  # refine the estimate with one batch (timer resolution)
            n = max(1, int(2e-3 / est))
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            est = max((time.perf_counter() - t0) / n, 1e-8)
        number = max(1, math.ceil(1e-3 / est))
        batch = number * est
        repeats = int(min(2000, max(3, target / batch)))
        times = []
        rng = range(number)
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in rng:
                fn()
            times.append((time.perf_counter() - t0) / number)
        med = statistics.median(times)
        if len(times) >= 4:
            q = statistics.quantiles(times, n=4)
            spread = (q[2] - q[0]) / med
        else:
            spread = (max(times) - min(times)) / med
        return med, spread
    finally:
        if gc_was:
            gc.enable()


def check(op, dt, got, ref):
    """True when a backend's result matches fastact's (loose tolerances: this
    only catches a misused API, e.g. an output that was not written)."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return False
    rtol, atol = (2e-4, 1e-6) if dt == "float32" else (1e-9, 1e-12)
    return bool(np.allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True))


# ----------------------------------------------------------------- helpers
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fastact_config():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            cfg = fastact.show_config() or {}
        return cfg if isinstance(cfg, dict) else {}
    except Exception:
        return {}


def kernel_level():
    cfg = fastact_config()
    lvl = cfg.get("kernel_in_use")
    if lvl is None:
        try:
            from fastact import _native
            lvl = _native.KERNEL_IN_USE
        except Exception:
            lvl = "?"
    return lvl


def extension_stamp():
    """(path, mtime, size) of the loaded native extension, or None."""
    try:
        from fastact import _native
        path = _native.__file__
        st = os.stat(path)
        return path, st.st_mtime, st.st_size
    except Exception:
        return None


def cpu_sample():
    """(CPU seconds the whole machine was busy, CPU seconds of this process,
    wall seconds), to tell how much other processes ran meanwhile."""
    busy = None
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        busy = (sum(vals[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # up to steal
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    t = os.times()
    return busy, t.user + t.system, time.perf_counter()


def foreign_cpu(a, b):
    """(CPU seconds used by other processes between samples a and b, wall s)."""
    if a[0] is None or b[0] is None:
        return None, b[2] - a[2]
    return max(0.0, (b[0] - a[0]) - (b[1] - a[1])), b[2] - a[2]


def versions():
    out = [f"numpy {np.__version__}"]
    for mod, label in (("torch", "torch"), ("onnxruntime", "onnxruntime"), ("onnx", "onnx"),
                       ("scipy", "scipy"), ("matplotlib", "matplotlib")):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except Exception:
                out.append(f"{label} –")
                continue
        out.append(f"{label} {getattr(m, '__version__', '?')}")
    return out


def fmt_ratio(r):
    return f"{r:.1f}" if r >= 10 else f"{r:.2f}"


def moved_bytes(op, x, with_output=True):
    if op in NO_OUTPUT_ARRAY or not with_output:
        return x.nbytes
    return 2 * x.nbytes


# ------------------------------------------------------------------ output
def render_table(rows, backends, thread_counts, fa_threaded):
    """Markdown table: one row per (case, threads)."""
    peers = [b for b in backends if b.name not in ("copy", "fastact")]
    header = (["case", "thr", "copy µs", "fastact µs (×copy)"]
              + [f"{b.label} µs (×copy)" for b in peers]
              + ["fastest peer", "speed-up"])
    lines = []
    for r in rows:
        cp = r["t"].get("copy")

        def cell(name):
            v = r["t"].get(name)
            if isinstance(v, float):
                s = f"{fmt_us(v)} ({fmt_ratio(v / cp)})" if cp else fmt_us(v)
                if name in r["noisy"]:
                    s = "~" + s
                if name in r["bad"]:
                    s += " !"
                return s
            return v if v else "–"
        fa = r["t"].get("fastact")
        best = None
        for b in peers:
            v = r["t"].get(b.name)
            if isinstance(v, float) and b.name not in r["bad"] and (best is None or v < best[1]):
                best = (b.label, v)
        thr = str(r["threads"])
        if not fa_threaded and r["threads"] != 1:
            thr += "*"
        cp_s = fmt_us(cp) if cp else "–"
        if cp and "copy" in r["noisy"]:
            cp_s = "~" + cp_s
        lines.append([r["case"], thr, cp_s, cell("fastact")]
                     + [cell(b.name) for b in peers]
                     + [best[0] if best else "–",
                        f"{best[1] / fa:.2f}×" if (best and isinstance(fa, float)) else "–"])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]

    def fmt(cells, right):
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            out.append(c.rjust(w) if (right and i >= 1) else c.ljust(w))
        return "| " + " | ".join(out) + " |"
    text = [fmt(header, False),
            "|" + "|".join((":" + "-" * (w + 1)) if i == 0 else ("-" * (w + 1) + ":")
                           for i, w in enumerate(widths)) + "|"]
    text += [fmt(line, True) for line in lines]
    return "\n".join(text)


def make_plot(path, plot_data, backends, title, threads):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except Exception as exc:
        return f"plot skipped: matplotlib not importable ({type(exc).__name__}: {exc})"
    style = {
        "copy": dict(color="0.55", ls="--", marker="", lw=1.5),
        "fastact": dict(color="C3", ls="-", marker="o", lw=2.4),
        "twin": dict(color="C2", ls="-", marker="s", lw=1.3),
        "torch": dict(color="C1", ls="-", marker="^", lw=1.3),
        "scipy": dict(color="C4", ls="-", marker="v", lw=1.3),
        "ort": dict(color="C0", ls="-", marker="D", lw=1.3),
    }
    label = {b.name: b.label for b in backends}
    label["copy"] = "copy (np.copyto, in+out bytes)"

    def size_fmt(v, _pos):
        for unit, f in (("GB", 2 ** 30), ("MB", 2 ** 20), ("KB", 2 ** 10)):
            if v >= f:
                return f"{v / f:g} {unit}"
        return f"{v:g} B"

    fig, axes = plt.subplots(2, 3, figsize=(16, 9.5))
    handles = {}
    for ax, (op, dt) in zip(axes.ravel(), PLOT_PANELS):
        pts = plot_data.get((op, dt), {})
        for name in [b.name for b in backends]:
            series = sorted(pts.get(name, []))
            if not series:
                continue
            xs, ys = zip(*series)
            h, = ax.plot(xs, ys, label=label[name], markersize=5, **style.get(name, {}))
            handles.setdefault(name, h)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(size_fmt))
        ax.tick_params(axis="x", labelsize=8)
        counted = "input bytes" if op in NO_OUTPUT_ARRAY else "input + output bytes"
        ax.set_title(f"{op} {ABBR[dt]}  (GB/s of {counted})", fontsize=10)
        ax.set_xlabel("input array size (bytes)", fontsize=9)
        ax.set_ylabel("GB/s", fontsize=9)
        ax.grid(True, which="major", alpha=0.4)
        ax.grid(True, which="minor", axis="y", alpha=0.15)
    order = [b.name for b in backends if b.name in handles]
    fig.legend([handles[n] for n in order], [label[n] for n in order],
               loc="lower center", ncol=len(order), fontsize=10, frameon=False)
    fig.suptitle(f"{title}\n{threads} thread(s); median per call; higher is better", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    tmp = path + ".tmp"
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return None


# -------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="about 5x shorter timing per case, skip the 2^24 relu case")
    ap.add_argument("--threads", default="1,2",
                    help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--out-md", default=None,
                    help="markdown output (default bench/peers.md, none with --only); '' to skip")
    ap.add_argument("--out-png", default=os.path.join(HERE, "peers.png"),
                    help="plot output (default bench/peers.png); '' to skip")
    ap.add_argument("--no-training", action="store_true",
                    help="skip the training-ops table (bench/peers_training.py)")
    ap.add_argument("--only", default=None, metavar="TEXT",
                    help="only the table's cases whose name contains TEXT (e.g. 'softmax f32'); "
                         "no plot sizes, no plot and no training table then")
    args = ap.parse_args(argv)
    try:
        thread_counts = sorted({int(s) for s in args.threads.split(",") if s.strip()})
    except ValueError:
        ap.error(f"--threads: comma-separated positive integers expected, got {args.threads!r}")
    if not thread_counts or thread_counts[0] < 1:
        ap.error("--threads: positive integers expected")
    target = 0.05 if args.quick else 0.25  # seconds of timed calls per measurement

    t_wall = time.perf_counter()
    backends, notes = load_backends()
    by_name = {b.name: b for b in backends}
    fa_threaded = by_name["fastact"].threaded
    set_fa_threads = getattr(fastact, "set_num_threads", None)
    get_fa_threads = getattr(fastact, "get_num_threads", None)
    fa_threads0 = get_fa_threads() if get_fa_threads else None
    torch_b = by_name.get("torch")
    torch_threads0 = torch_b.torch.get_num_threads() if torch_b else None

    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count()
    cfg = fastact_config()
    info = (f"CPU: {cpu_model()}, {os.cpu_count()} logical cores ({ncpu} usable); "
            f"fastact {getattr(fastact, '__version__', '?')} "
            f"(from {os.path.dirname(os.path.dirname(os.path.abspath(fastact.__file__)))}) "
            f"backend="
            f"{getattr(fastact, 'BACKEND', '?')} kernel={kernel_level()} "
            f"(compiled: {', '.join(cfg.get('kernels_compiled', []) or ['?'])}); "
            f"Python {platform.python_version()}; " + ", ".join(versions()))
    print(info, file=sys.stderr)
    for n in notes:
        print("note: " + n, file=sys.stderr)

    ext0 = extension_stamp()
    warnings = []
    steady_state_allocator()
    cases = [(op, dt, shape, True) for op, dt, shape in table_cases(args.quick, args.only)]
    if not cases:
        ap.error(f"--only: no case name contains {args.only!r}")
    if args.only is not None:
        args.out_png, args.no_training = "", True
    if args.out_md is None:
        args.out_md = os.path.join(HERE, "peers.md") if args.only is None else ""
    plot_threads = thread_counts[0]
    for (op, dt), shapes in PLOT_EXTRA.items() if args.only is None else ():
        for shape in shapes:
            cases.append((op, dt, shape, False))

    results = {}       # (case key, threads) -> {backend: seconds | "n/a"}
    bad = {}           # (case key, threads) -> set of backends failing the check
    unavailable = {}   # (backend, op, dt) -> reason
    shared = {}        # (case key, backend) -> seconds, for thread-free backends
    noisy = set()      # (case key, threads, backend) whose timings spread widely
    max_load = load0[0] if load0 else 0.0
    phase_cpu = {}     # threads -> (foreign CPU s, wall s)
    for nthr in thread_counts:
        cpu0 = cpu_sample()
        if set_fa_threads:
            set_fa_threads(nthr)
        if torch_b:
            torch_b.set_threads(nthr)
        time.sleep(0.05)  # let worker threads of the previous count go idle
        for op, dt, shape, in_table in cases:
            if not in_table and nthr != plot_threads:
                continue
            key = (op, dt, shape)
            x = input_array(shape, dt)
            t = target_array(shape) if op == "cross_entropy" else None
            res, fails, ref = {}, set(), None
            for b in backends:
                if not b.threaded and nthr != thread_counts[0] and b.name != "fastact":
                    if (key, b.name) in shared:
                        res[b.name] = shared[(key, b.name)]
                    if (key, b.name, "bad") in shared:
                        fails.add(b.name)
                    if (key, b.name, "noisy") in shared:
                        noisy.add((key, nthr, b.name))
                    continue
                try:
                    made = b.make(op, x, t, nthr)
                except NotAvailable as exc:
                    res[b.name] = "n/a"
                    unavailable.setdefault((b.label, op, dt), str(exc))
                    continue
                if made is None:
                    continue  # the backend has no such op
                fn, result = made
                # a hung call (e.g. a deadlocked thread pool) ends the run with
                # every thread's traceback instead of blocking forever
                faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
                try:
                    sec, spread = measure(fn, target)
                finally:
                    faulthandler.cancel_dump_traceback_later()
                res[b.name] = sec
                if spread > NOISY:
                    noisy.add((key, nthr, b.name))
                    if not b.threaded:
                        shared[(key, b.name, "noisy")] = True
                if hasattr(os, "getloadavg"):
                    max_load = max(max_load, os.getloadavg()[0])
                if result is not None:
                    val = np.array(result(), dtype=np.float64, copy=True)
                    if b.name == "fastact":
                        ref = val
                    elif ref is not None and not check(op, dt, val, ref):
                        fails.add(b.name)
                if not b.threaded:
                    shared[(key, b.name)] = sec
                    if b.name in fails:
                        shared[(key, b.name, "bad")] = True
                del fn, result, made
            results[(key, nthr)] = res
            bad[(key, nthr)] = fails
            print(f"  {nthr} thr  {case_name(op, dt, shape):<30}"
                  + "  ".join(f"{n}={fmt_us(v) if isinstance(v, float) else v}"
                              for n, v in res.items()), file=sys.stderr, flush=True)
        phase_cpu[nthr] = foreign_cpu(cpu0, cpu_sample())
        fc, wall = phase_cpu[nthr]
        if fc is not None and fc > 0.05 * wall:
            warnings.append(f"WARNING: other processes used {fc:.1f} CPU-s during the "
                            f"{wall:.0f} s of {nthr}-thread timings ({fc / wall:.0%} of one "
                            "core): those numbers are disturbed, rerun on an idle machine")
            print("warning: " + warnings[-1], file=sys.stderr)

    if set_fa_threads and fa_threads0 is not None:
        set_fa_threads(fa_threads0)
    if torch_b and torch_threads0:
        torch_b.set_threads(torch_threads0)
    load1 = os.getloadavg() if hasattr(os, "getloadavg") else None
    ext1 = extension_stamp()
    if ext0 and ext1 and ext0 != ext1:
        warnings.append(f"WARNING: {ext0[0]} was rewritten during the run (rebuilt in place?); "
                     "the process kept running the old mapping, or a mix: rerun for clean numbers")
        print("warning: " + warnings[-1], file=sys.stderr)
    elapsed = time.perf_counter() - t_wall

    # ---- table
    rows = []
    for op, dt, shape in table_cases(args.quick, args.only):
        for nthr in thread_counts:
            key = ((op, dt, shape), nthr)
            rows.append({"case": case_name(op, dt, shape), "threads": nthr,
                         "t": results[key], "bad": bad[key],
                         "noisy": {n for (k, th, n) in noisy if (k, th) == key}})
    table = render_table(rows, backends, thread_counts, fa_threaded)

    # ---- cases where a peer beats fastact
    peer_names = [b.name for b in backends if b.name not in ("copy", "fastact")]
    label = {b.name: b.label for b in backends}
    faster = []
    for r in rows:
        fa = r["t"].get("fastact")
        if not isinstance(fa, float):
            continue
        for n in peer_names:
            v = r["t"].get(n)
            if isinstance(v, float) and n not in r["bad"] and v < fa:
                faster.append(f"{r['case']}, {r['threads']} thread(s): {label[n]} "
                              f"{fmt_us(v)} µs vs fastact {fmt_us(fa)} µs "
                              f"(fastact {fa / v:.2f}× slower)")
    failed = sorted({f"{label[n]} on {r['case']} ({r['threads']} thr)"
                     for r in rows for n in r["bad"]})

    md = []
    md.append("# fastact vs peers")
    md.append("")
    md.append(f"Generated by `python bench/peers.py{' --quick' if args.quick else ''}"
              f"{' --threads ' + args.threads if args.threads != '1,2' else ''}` "
              f"on {time.strftime('%Y-%m-%d %H:%M')} ({elapsed:.0f} s wall).")
    md.append("")
    md.append(f"**Machine:** {info}.")
    if load0 and load1:
        md.append(f"Load average (1 min) at start / highest seen / end: {load0[0]:.2f} / "
                  f"{max_load:.2f} / {load1[0]:.2f} (this process adds about 1, up to the thread "
                  "count in multi-thread rows; more means other work shared the cores).")
    if any(fc is not None for fc, _ in phase_cpu.values()):
        md.append("CPU time used by other processes while timing (from /proc/stat): "
                  + "; ".join(f"{n} thread(s): {fc:.1f} s over {wall:.0f} s"
                              for n, (fc, wall) in phase_cpu.items() if fc is not None)
                  + ".")
    md.append("")
    md.append("Cells are the median µs per call and, in parentheses, that time divided by "
              "`copy` (np.copyto of the input's bytes into a ready buffer: the memory floor; "
              "1.00 = as fast as one copy). `fastest peer` is the fastest of "
              + "/".join(label[n] for n in peer_names)
              + " (copy excluded); `speed-up` = fastest peer's time / fastact's time "
              "(> 1: fastact is faster). Ops with an `out=` get a preallocated one "
              "(fastact, NumPy twin, torch; ORT via io_binding); SciPy and cross_entropy "
              "allocate their (small for cross_entropy) result. softmax/log_softmax/logsumexp "
              "work on the last axis (or the one a case names: `axis=1`); cross_entropy uses int64 class indices, reduction "
              "mean. `–`: the backend has no such op; `n/a`: it could not run this "
              "op/dtype; `!`: its result did not match fastact's (excluded from "
              f"fastest peer); `~`: noisy (interquartile range of the timed batches > "
              f"{NOISY:.0%} of the median).")
    md.append("")
    md.append("- logsumexp and cross_entropy only *read* their input (the output is one "
              "value per row / one scalar), so their true floor is a read of the input, "
              "below a copy (which also writes): ratios to copy under 1 are possible "
              "there, and copy stays the common reference.")
    md.append("- copy, the NumPy twin and SciPy use no threads: they are timed once and "
              "the same numbers are shown for every thread count.")
    if fa_threaded:
        md.append("- fastact threads set with `fastact.set_num_threads(n)` for each count.")
    else:
        md.append("- fastact has no `set_num_threads` in this build: it runs single-threaded "
                  "at every count (rows marked `*`); torch and ORT use the given count "
                  "(torch.set_num_threads; a separate ORT session per count with "
                  "intra_op_num_threads).")
    if "torch" in by_name:
        md.append("- torch relu: `torch.relu` has no `out=`; it is timed as "
                  "`torch.clamp_min(x, 0, out=o)` (ATen's own relu implementation). "
                  "torch tensors are `torch.from_numpy` views, grad disabled.")
    if "ort" in by_name:
        md.append("- ORT: one-node opset-17 graphs (Softmax(axis=-1), LogSoftmax(axis=-1), "
                  "ReduceLogSumExp(axes=[-1], keepdims=0), or the case's axis, Relu, "
                  "SoftmaxCrossEntropyLoss(reduction=mean)), CPUExecutionProvider, "
                  "inputs/outputs bound once as OrtValues over the NumPy buffers.")
    md.append(f"- timing: warm-up, then batches of calls (≥ 1 ms each, tiny calls divided), "
              f"~{target:g} s per measurement, median; GC off while timing.")
    for n in notes:
        md.append(f"- {n}")
    for w in warnings:
        md.append(f"- **{w}**")
    md.append("")
    md.append(table)
    md.append("")
    md.append("## Where a peer is faster than fastact")
    md.append("")
    md.extend([f"- {s}" for s in faster] or ["- none"])
    md.append("")
    if unavailable:
        md.append("## n/a")
        md.append("")
        for (bl, op, dt), why in sorted(unavailable.items()):
            md.append(f"- {bl} {op} {ABBR[dt]}: {why}")
        md.append("")
    if not args.no_training:
        import peers_training  # the second table: backward ops and fused losses
        md.extend(peers_training.section(thread_counts, target))
        md.append("`!` in the training table: the result differs from fastact's beyond "
                  "rtol 2e-4 / 1e-9 (for torch's float32 log_softmax backward: its error is "
                  "~28x fastact's against a long-double reference, 3.3e-4 vs 1.2e-5 absolute "
                  "on 256×32000).")
        md.append("")
    md.append("## Result check")
    md.append("")
    md.append("Every backend's result is compared with fastact's (rtol 2e-4 for float32, "
              "1e-9 for float64): " + ("all matched." if not failed else
                                       "mismatches: " + "; ".join(failed) + "."))
    md.append("")

    # ---- plot
    plot_note = None
    if args.out_png:
        plot_data = {}
        for (key, nthr), res in results.items():
            op, dt, shape = key
            # size against throughput: last-axis cases only (a non-last
            # axis is another access pattern, not another size)
            if nthr != plot_threads or (op, dt) not in PLOT_PANELS or reduce_axis(shape) != -1:
                continue
            x = input_array(shape, dt)
            for name, v in res.items():
                if not isinstance(v, float) or name in bad[(key, nthr)]:
                    continue
                nb = moved_bytes(op, x) if name != "copy" else 2 * x.nbytes
                plot_data.setdefault((op, dt), {}).setdefault(name, []).append(
                    (x.nbytes, nb / v / 1e9))
        title = (f"fastact vs peers: {cpu_model()}, kernel={kernel_level()}")
        plot_note = make_plot(args.out_png, plot_data, backends, title, plot_threads)
        md.append("## Plot")
        md.append("")
        if plot_note:
            md.append(plot_note)
        else:
            md.append(f"![throughput]({os.path.basename(args.out_png)})")
            md.append("")
            md.append(f"`{os.path.basename(args.out_png)}`: throughput at {plot_threads} "
                      "thread(s), GB/s against input size (log-log): input + output bytes "
                      "for softmax/log_softmax/relu/copy, input bytes only for logsumexp and "
                      "cross_entropy. Sizes: the table's shapes plus rows of 1000 classes at "
                      "batch 1/16/256/4096 and relu at 2^10/2^14/2^17. Row lengths differ between "
                      "points (10, 128, 1000 or 32000 classes): a dip at 2 MB is the short "
                      "rows of 4096×128, not the size.")
        md.append("")

    text = "\n".join(md)
    print(text)
    if args.out_md:
        with open(args.out_md, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.out_md}", file=sys.stderr)
    if args.out_png and not plot_note:
        print(f"wrote {args.out_png}", file=sys.stderr)
    print(f"total {elapsed:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
