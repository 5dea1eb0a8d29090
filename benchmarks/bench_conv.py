"""Training speed of an emitted LeNet-like CNN vs PyTorch eager, JAX jit and the GEMM floor of its products.

The network: 1x28x28 -> conv2d(8, 3x3, relu) -> maxpool2d(2) -> conv2d(16, 3x3, relu) -> maxpool2d(2) -> flatten
-> dense(10, softmax), cross-entropy; float32, batch 64, one thread (or two, ``--threads 2``), on MNIST-shaped
synthetic data (speed does not depend on the values).  Candidates run round-robin, repeat after repeat, and medians
are reported.

* **emitted**: ``symbackprop emit --dtype float32``, one ``train(epochs=1, batch_size=64)`` call;
* **PyTorch eager**: the same network (torch.nn.functional), autograd and a manual SGD step;
* **JAX jit**: ``jax.jit`` of the SGD step (grad + update), if jax is installed;
* **GEMM floor**: per batch only the matrix products the layers need, at their sizes and in the order the
  emitted module computes them (for each convolution the forward W @ K, K the window view, and
  dW = (K D^T)^T, the second convolution's W^T @ D, the dense layer's three), on preallocated arrays: what no
  implementation that works through im2col can go below.

    python benchmarks/bench_conv.py [--examples 6400] [--repeats 3] [--threads 1|2] [--output docs/layers.md]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

ARCH = "conv2d(8,3,relu) maxpool2d(2) conv2d(16,3,relu) maxpool2d(2) flatten dense(10,softmax)"
BETA = 64


THREADS = [1]  # set by --threads: the cores every candidate may use (BLAS, torch, and XLA through the affinity)


def pin_threads(n):
    """Run on the first n cores of this process's affinity, with BLAS and torch limited to n threads."""
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:n]))
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    THREADS[0] = n


def data(n):
    rng = np.random.default_rng(0)
    X = rng.random((28 * 28, n), dtype=np.float32)
    Z = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)].T
    return X, Z


def emitted(X, Z):
    from symbackprop.emission.layers import emit_layers
    from symbackprop.engine.layers_spec import LayeredSpec

    namespace = {}
    exec(compile(emit_layers(LayeredSpec.from_arch(ARCH, "1,28,28", "cross_entropy"), "float32"), "lenet.py",  # noqa: S102
                 "exec"), namespace)
    params = namespace["init_params"](seed=0)

    def epoch():
        namespace["train"](params, X, Z, epochs=1, lr=0.05, batch_size=BETA)
    return epoch


def torch_eager(X, Z):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(THREADS[0])
    g = torch.Generator().manual_seed(0)
    P = [torch.randn(8, 1, 3, 3, generator=g) / 3, torch.zeros(8), torch.randn(16, 8, 3, 3, generator=g) / 8.5,
         torch.zeros(16), torch.randn(10, 400, generator=g) / 20, torch.zeros(10)]
    for p in P:
        p.requires_grad_(True)
    Xt, Zt = torch.from_numpy(X.T.copy()).reshape(-1, 1, 28, 28), torch.from_numpy(Z.T.copy())

    def epoch():
        order = torch.randperm(Xt.shape[0])
        for start in range(0, Xt.shape[0], BETA):
            batch = order[start:start + BETA]
            s = F.max_pool2d(F.relu(F.conv2d(Xt[batch], P[0], P[1])), 2)
            s = F.max_pool2d(F.relu(F.conv2d(s, P[2], P[3])), 2)
            logp = torch.log_softmax(s.flatten(1) @ P[4].T + P[5], 1)
            loss = -(Zt[batch] * logp).sum() / (10 * len(batch))
            grads = torch.autograd.grad(loss, P)
            with torch.no_grad():
                for p, d in zip(P, grads):
                    p -= 0.05 * d
    return epoch


def jax_jit(X, Z):
    import jax
    import jax.numpy as jnp

    def loss(P, x, z):
        s = jax.lax.conv(x, P[0], (1, 1), "VALID") + P[1][None, :, None, None]
        s = jax.lax.reduce_window(jax.nn.relu(s), -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        s = jax.lax.conv(s, P[2], (1, 1), "VALID") + P[3][None, :, None, None]
        s = jax.lax.reduce_window(jax.nn.relu(s), -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        logp = jax.nn.log_softmax(s.reshape(s.shape[0], -1) @ P[4].T + P[5], axis=1)
        return -(z * logp).sum() / (10 * x.shape[0])

    @jax.jit
    def step(P, x, z):
        return [p - 0.05 * d for p, d in zip(P, jax.grad(loss)(P, x, z))]

    rng = np.random.default_rng(0)
    P = [jnp.asarray(rng.normal(size=s).astype(np.float32) / 5) for s in ((8, 1, 3, 3), (8,), (16, 8, 3, 3), (16,),
                                                                          (10, 400), (10,))]
    Xj, Zj = jnp.asarray(X.T.reshape(-1, 1, 28, 28)), jnp.asarray(Z.T)
    state = {"P": P}

    def epoch():
        order = np.random.default_rng().permutation(Xj.shape[0])
        for start in range(0, Xj.shape[0] - BETA + 1, BETA):
            batch = order[start:start + BETA]
            state["P"] = step(state["P"], Xj[batch], Zj[batch])
        jax.block_until_ready(state["P"])
    epoch()  # compile
    return epoch


def gemm_floor(X, Z):
    f = np.float32
    shapes = [((8, 9), (9, 26 * 26 * BETA)), ((16, 72), (72, 11 * 11 * BETA)), ((10, 400), (400, BETA))]
    arrays = [(np.ones(a, f), np.ones(b, f), np.empty((a[0], b[1]), f), np.empty(a, f), np.empty(b, f))
              for a, b in shapes]
    steps = X.shape[1] // BETA

    def epoch():
        for _ in range(steps):
            for k, (W, cols, out, dW, dcols) in enumerate(arrays):
                np.matmul(W, cols, out=out)  # forward
                if k < 2:  # a convolution's dE/dW (the correlation with delta), as (K D^T)^T
                    np.matmul(cols, out.T, out=dW.T)
                else:  # the dense layer's D S^T
                    np.matmul(out, cols.T, out=dW)
                if k > 0:
                    np.matmul(W.T, out, out=dcols)  # delta to the layer below (before col2im)
    return epoch


def measure(candidates, repeats):
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, epoch in candidates.items():
            start = time.perf_counter()
            epoch()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def derive_and_verify_seconds():
    from symbackprop.engine.layered import LayeredDerivation
    from symbackprop.engine.layers_spec import LayeredSpec
    from symbackprop.verification.layers import verify_layers

    start = time.perf_counter()
    report = verify_layers(LayeredDerivation(LayeredSpec.from_arch(ARCH, "1,28,28", "cross_entropy")),
                           method="high-precision")
    return time.perf_counter() - start, report.passed, len(report.checks)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=6400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, choices=(1, 2), help="cores for every candidate")
    parser.add_argument("--output", help="append the table to this Markdown file")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    X, Z = data(args.examples)
    candidates = {"GEMM floor": gemm_floor(X, Z), "emitted (symbackprop)": emitted(X, Z),
                  "PyTorch eager": torch_eager(X, Z)}
    try:
        candidates["JAX jit"] = jax_jit(X, Z)
    except ImportError:
        pass
    results = measure(candidates, args.repeats)
    floor = results["GEMM floor"][0]
    seconds, passed, checks = derive_and_verify_seconds()
    threads = "1 thread" if args.threads == 1 else f"{args.threads} threads"
    lines = [(f"LeNet-like CNN ({ARCH}), 1x28x28 input, float32, batch {BETA}, {threads}, {args.examples:,} examples "
             f"per epoch, median of {args.repeats} (load average {os.getloadavg()[0]:.1f}):"), "",
             "| candidate | epoch (s) | best (s) | examples/s | x GEMM floor |", "|---|---|---|---|---|"]
    for name, (median, best) in results.items():
        lines.append(f"| {name} | {median:.3f} | {best:.3f} | {args.examples / median:,.0f} | {median / floor:.2f} |")
    lines += ["", (f"Deriving and verifying the network at full size (high precision, 50 digits): {seconds:.1f} s, "
              f"{'passed' if passed else 'FAILED'} ({checks} checks).")]
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "a", encoding="utf-8") as file:
            file.write("\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
