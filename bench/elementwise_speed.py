"""Speed of the element-wise maps and the backward ops against their floors.

One thread, the active ISA level (FASTACT_ISA to choose).  For each case:
the median time of the op with ``out=`` and of its floor (``np.copyto`` of
the same bytes for one-input maps, ``np.add(a, b, out=o)`` for two-input
ops), timed in alternating rounds (op, floor, op, floor, ...) so that drift
of a shared machine hits both alike; the ratio is median(op) / median(floor).

Run:  python bench/elementwise_speed.py [--rounds N] [-k SUBSTRING]
"""

import argparse
import contextlib
import io
import time

import numpy as np

import fastact

N_MAP = 1 << 24
SHAPE_BW = (256, 32000)


def _cases():
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        name = np.dtype(dt).name
        x = rng.standard_normal(N_MAP).astype(dt) * 4
        g = rng.standard_normal(N_MAP).astype(dt)
        o = np.empty_like(x)
        yield (f"relu {name} 2^24", lambda x=x, o=o: fastact.relu(x, out=o),
               lambda x=x, o=o: np.copyto(o, x))
        yield (f"leaky_relu {name} 2^24", lambda x=x, o=o: fastact.leaky_relu(x, 0.01, out=o),
               lambda x=x, o=o: np.copyto(o, x))
        yield (f"sigmoid {name} 2^24", lambda x=x, o=o: fastact.sigmoid(x, out=o),
               lambda x=x, o=o: np.copyto(o, x))
        s = fastact.sigmoid(x)
        for op, second in (("relu_backward", x), ("leaky_relu_backward", x),
                           ("sigmoid_backward", s)):
            f = getattr(fastact, op)
            yield (f"{op} {name} 2^24", lambda f=f, g=g, b=second, o=o: f(g, b, out=o),
                   lambda g=g, b=second, o=o: np.add(g, b, out=o))
        xb = rng.standard_normal(SHAPE_BW).astype(dt) * 3
        gb = rng.standard_normal(SHAPE_BW).astype(dt)
        ob = np.empty_like(xb)
        for op, fwd in (("softmax_backward", fastact.softmax),
                        ("log_softmax_backward", fastact.log_softmax)):
            y = fwd(xb, axis=-1)
            f = getattr(fastact, op)
            yield (f"{op} {name} 256x32000", lambda f=f, g=gb, y=y, o=ob: f(g, y, axis=-1, out=o),
                   lambda g=gb, y=y, o=ob: np.add(g, y, out=o))


def _time(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("-k", default="")
    args = ap.parse_args()
    fastact.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        cfg = fastact.show_config()
    print(f"# level {cfg['kernel_in_use']}, 1 thread, {args.rounds} alternating rounds")
    print(f"{'case':40s} {'op ms':>9s} {'floor ms':>9s} {'ratio':>7s}")
    for name, op, floor in _cases():
        if args.k not in name:
            continue
        op(), floor()
        t1 = _time(op, 1)
        reps = max(1, int(0.02 / max(t1, 1e-6)))
        a, b = [], []
        for _ in range(args.rounds):
            a.append(_time(op, reps))
            b.append(_time(floor, reps))
        ma, mb = float(np.median(a)), float(np.median(b))
        print(f"{name:40s} {ma * 1e3:9.3f} {mb * 1e3:9.3f} {ma / mb:7.3f}", flush=True)


if __name__ == "__main__":
    main()
