"""The output layer's element-wise work, per call: what a training step pays for its cost and delta^L.

The book's network (784-128-64-10, sigmoid output, MSE) is emitted by this checkout and, with ``--baseline DIR``,
by another one (``python -m symbackprop emit`` run in DIR).  Each output function of the modules is timed on
y^L of 10 values (one example: the batch_size=1 loop calls the output delta once per example) and of 10 x 64
values (a mini-batch of 64: a step computes A^L, the cost and the delta, or this checkout's output_step, which
does both), on one core, as the minimum over interleaved rounds of 200 calls (the least disturbed figure on a
shared machine).

    python benchmarks/bench_output_layer.py [--baseline DIR] [--dtype float64] [--rounds 30]
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ["--layers", "784,128,64,10", "--activations", "relu,relu,sigmoid", "--loss", "mse"]


def load(folder, dtype):
    """The module ``python -m symbackprop emit`` writes when run in ``folder``."""
    path = Path(tempfile.mkdtemp()) / f"model_{abs(hash(str(folder)))}.py"
    subprocess.run([sys.executable, "-m", "symbackprop", "emit", *OPTIONS, "--dtype", dtype, "-o", str(path)],
                   cwd=folder, check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def calls(m, y, z, out):
    """The output layer's functions of module ``m``, as calls of no arguments (the activation fills ``a``)."""
    a, e = np.empty_like(out), np.empty_like(out)
    m.act_sigmoid(y, out=a)
    found = {"a = sigmoid(y)": lambda: m.act_sigmoid(y, out=out),
             "cost e(a, z)": lambda: m.cost_mse(y, a, z, out=out),
             "output_delta (delta^L)": lambda: m.output_delta(y, a, z, -0.01, out=out)}
    if hasattr(m, "output_step"):
        found["cost and delta^L (output_step)"] = lambda: m.output_step(y, a, z, -0.01, e, out)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="another checkout of symbackprop, timed beside this one")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    modules = {"this checkout": load(ROOT, args.dtype)}
    if args.baseline:
        modules["baseline"] = load(args.baseline, args.dtype)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
    rng = np.random.default_rng(0)
    for shape in ((10,), (10, 64)):
        y = np.asfortranarray(rng.standard_normal(shape) * 3, args.dtype)
        z = np.asfortranarray(rng.random(shape) < 0.1, args.dtype)
        out = np.empty(shape, args.dtype, order="F")
        timed = {(who, what): f for who, m in modules.items() for what, f in calls(m, y, z, out).items()}
        best = dict.fromkeys(timed, float("inf"))
        for _ in range(args.rounds):
            for key, f in timed.items():
                best[key] = min(best[key], timeit.timeit(f, number=200) / 200 * 1e6)
        print(f"\n{args.dtype}, y^L of shape {shape}: microseconds per call (min of {args.rounds} rounds)")
        for (who, what), us in best.items():
            print(f"  {who:14s} {what:32s} {us:6.2f}")


if __name__ == "__main__":
    main()
