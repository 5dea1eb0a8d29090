"""Where a training step of the emitted module spends its time: NumPy calls timed per source line.

The emitted module reaches NumPy through its global name ``numpy``; this script swaps that name for a
proxy whose functions time each call and charge it to the calling line of the module.  It then trains
one epoch of the book's 784-128-64-10 network (relu, relu, sigmoid, MSE) on MNIST-shaped synthetic data,
float32, batch 64, one BLAS thread, and prints microseconds per step for each line.  The proxy adds
about 0.2 us to every call, so short calls read high; the products are exact to a few percent.

    python benchmarks/profile_step.py [--examples 60000] [--batch 64]
"""
import argparse
import collections
import importlib.util
import linecache
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout this script is in, not an installed copy

from symbackprop.emission.codegen import emit
from symbackprop.engine.spec import NetworkSpec


class TimedNumPy:
    """Stands for ``numpy`` in the emitted module: each function call is timed and charged to its caller's line."""

    def __init__(self, path):
        self.path, self.seconds, self.calls = path, collections.Counter(), collections.Counter()

    def __getattr__(self, name):
        value = getattr(np, name)
        if not callable(value) or isinstance(value, type):
            return value

        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = value(*args, **kwargs)
            line = sys._getframe(1).f_lineno
            self.seconds[line] += time.perf_counter() - start
            self.calls[line] += 1
            return result
        setattr(self, name, timed)  # made once per name: later lookups skip __getattr__
        return timed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60000)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    path = Path(tempfile.mkdtemp()) / "model.py"
    path.write_text(emit(NetworkSpec.from_options("784,128,64,10", "relu,relu,sigmoid", "mse"), "float32"))
    spec = importlib.util.spec_from_file_location("model", path)
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    rng = np.random.default_rng(0)
    X = rng.random((args.examples, 784), dtype=np.float32).T  # as MNIST arrives: examples as rows
    Z = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.examples)].T.copy()
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
    with threadpool_limits(limits=1):
        params = model.init_params(seed=0)
        model.train(params, X[:, :2048], Z[:, :2048], epochs=1, batch_size=args.batch)  # warm-up
        model.numpy = timed = TimedNumPy(str(path))
        start = time.perf_counter()
        model.train(params, X, Z, epochs=1, batch_size=args.batch)
        total = time.perf_counter() - start
    steps = -(-args.examples // args.batch)
    print(f"one epoch: {total:.3f} s, {total / steps * 1e6:.0f} us a step of {args.batch} "
          f"({steps} steps); NumPy calls by line of the emitted module, us a step:\n")
    once = 0.0
    for line, seconds in sorted(timed.seconds.items(), key=lambda item: -item[1]):
        if timed.calls[line] < steps:  # a call's set-up, not a step's work
            once += seconds
            continue
        text = linecache.getline(str(path), line).strip()
        print(f"{seconds / steps * 1e6:8.1f}  {timed.calls[line] / steps:3.0f} calls  line {line:4d}  {text[:84]}")
    charged = sum(timed.seconds.values()) - once
    print(f"\n{charged / steps * 1e6:8.1f}  the step's NumPy calls above; {(total - charged) / steps * 1e6:.1f} us a "
          f"step elsewhere: gathering the batch (an array method), the call's input checks and set-up, Python "
          f"and the timing itself")


if __name__ == "__main__":
    main()
