"""Probe: can two Python threads, each stepping half the batch, beat one thread calling 2-thread BLAS?

The emitted module runs a step's NumPy calls one after another, and at 2 threads only OpenBLAS's
products use the second core.  The other way to use two cores from NumPy is data parallelism: two
Python threads, each with single-threaded BLAS, run the forward and backward pass of 32 of the
batch's 64 examples, then (after a barrier) each adds both halves' updates to its half of theta.  The
step is the emitted module's (its element-wise functions and its `_Weights`: theta of [W^l | b^l] blocks),
so the numbers are the same SGD; only the work is split.

    python benchmarks/probe_data_parallel.py [--repeats 5]

Prints the median and best epoch of both ways and of the 2-thread GEMM floor, side by side.
"""
import argparse
import importlib.util
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bench_training import SIZES, data, emitted_epoch, floor_epoch

from symbackprop.emission.codegen import emit
from symbackprop.engine.spec import NetworkSpec

F = {"dtype": np.float32, "order": "F"}


def load_model():
    path = Path(tempfile.mkdtemp()) / "model.py"
    path.write_text(emit(NetworkSpec.from_options("784,128,64,10", "relu,relu,sigmoid", "mse"), "float32"))
    spec = importlib.util.spec_from_file_location("model", path)
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    return model


class Half:
    """The arrays of one thread's half batch, and its own update vector (the emitted ``_Weights`` layout)."""

    def __init__(self, model, params, weights, beta):
        self.model = model
        self.W, self.b = [Wb[:, :-1] for Wb, _ in weights.blocks], [Wb[:, -1:] for Wb, _ in weights.blocks]
        own = model._Weights(params)  # only its update vector and block views are used
        self.update = own.update
        self.dW, self.db = [G[:, :-1] for _, G in own.blocks], [G[:, -1:] for _, G in own.blocks]
        self.XT = np.empty((beta, SIZES[0]), np.float32)
        self.ones = np.ones((beta, 1), np.float32)
        self.Y, self.A, self.D, self.P = ([np.empty((n, beta), **F) for n in SIZES[1:]] for _ in range(4))
        self.E, self.errors = np.empty((SIZES[-1], beta), **F), np.zeros((SIZES[-1], beta), **F)

    def step(self, examples, batch, Z, scale):
        """Forward and backward over this half (eq. 80-90), -lr/(n_L beta) dE/dtheta into ``update``."""
        m, W, b, Y, A, D, P = self.model, self.W, self.b, self.Y, self.A, self.D, self.P
        examples.take(batch, axis=0, out=self.XT, mode="clip")
        S = [self.XT.T] + A
        for l, act in enumerate((m.act_relu, m.act_relu, m.act_sigmoid)):
            np.matmul(W[l], S[l], out=Y[l])
            np.add(Y[l], b[l], out=Y[l])
            act(Y[l], out=A[l])
        np.add(self.errors, m.cost_mse(Y[2], A[2], Z, out=self.E), out=self.errors)
        m.output_delta(Y[2], A[2], Z, scale, out=D[2])
        for l in (2, 1, 0):
            if l < 2:
                np.matmul(W[l + 1].T, D[l + 1], out=D[l])
                np.multiply(D[l], m.act_relu_prime(Y[l], A[l], out=P[l]), out=D[l])
            np.matmul(D[l], S[l].T, out=self.dW[l])
            np.dot(D[l], self.ones, out=self.db[l])


def data_parallel_epoch(model, beta=64, lr=0.1):
    params = model.init_params(seed=0)
    weights = model._Weights(params)  # theta, shared by both threads
    halves = [Half(model, params, weights, beta // 2) for _ in range(2)]
    theta, cut = weights.theta, weights.theta.size // 2

    def epoch(X, Z):
        examples, order = X.T, np.random.default_rng(1).permutation(X.shape[1])
        targets = np.ascontiguousarray(Z.T).take(order, axis=0)
        barrier, scale = threading.Barrier(2), -lr / (SIZES[-1] * beta)

        def run(t):
            mine, theirs = halves[t], halves[1 - t]
            part = slice(0, cut) if t == 0 else slice(cut, theta.size)
            for start in range(0, X.shape[1] - beta + 1, beta):  # full batches only
                half = slice(start + t * beta // 2, start + (t + 1) * beta // 2)
                mine.step(examples, order[half], targets[half].T, scale)
                barrier.wait()  # both halves' updates are ready
                np.add(theta[part], mine.update[part], out=theta[part])
                np.add(theta[part], theirs.update[part], out=theta[part])
                barrier.wait()  # theta is whole again before the next forward pass
        other = threading.Thread(target=run, args=(1,))
        other.start()
        run(0)
        other.join()
    epoch.weights = weights
    return epoch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    model = load_model()
    X, Z = data(60000, np.float32)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
    with threadpool_limits(limits=2):
        floor, _, _ = floor_epoch(64, np.float32, args.repeats)
    candidates = {"GEMM floor, 2-thread BLAS": (2, floor),
                  "emitted, one thread calling 2-thread BLAS": (2, emitted_epoch(model, 64)),
                  "two Python threads, half a batch each, 1-thread BLAS": (1, data_parallel_epoch(model))}
    times = {name: [] for name in candidates}
    for repeat in range(args.repeats + 1):  # the first round warms up
        for name, (blas, epoch) in candidates.items():
            with threadpool_limits(limits=blas):
                start = time.perf_counter()
                seconds = epoch(X, Z)
                if repeat:
                    times[name].append(time.perf_counter() - start if seconds is None else seconds)
    print(f"seconds per epoch, batch 64, float32, 2 cores (median and best of {args.repeats}; load "
          f"{os.getloadavg()[0]:.2f}):")
    for name, t in times.items():
        print(f"  {statistics.median(t):.3f}  {min(t):.3f}  {name}")


if __name__ == "__main__":
    main()
