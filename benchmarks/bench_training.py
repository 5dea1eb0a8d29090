"""Training speed of the emitted NumPy module vs hand-written NumPy, PyTorch eager, JAX jit and the book's loop.

The book's chapter 4 network 784-128-64-10 (relu, relu, sigmoid, MSE) on MNIST-shaped synthetic data
(60,000 x 784 float32; speed does not depend on the values).  Candidates run round-robin, repeat after
repeat, so that load from other users of the machine falls on all of them alike; medians are reported.
Threads are pinned with threadpoolctl (NumPy's BLAS) and torch.set_num_threads.

    python benchmarks/bench_training.py [--repeats 9] [--output docs/bench_training.md] [--baseline DIR]

``--baseline DIR`` adds the module that another checkout of symbackprop emits (``python -m symbackprop emit``
run in DIR, e.g. ``git archive main | tar -x -C /tmp/main``) as the candidates "emitted (baseline)", side by
side with this checkout's in every table.
"""
import argparse
import importlib.util
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout this script is in, not an installed copy

from symbackprop.emission.codegen import emit
from symbackprop.engine.spec import NetworkSpec

SIZES = (784, 128, 64, 10)
INTRO = """# Training speed of the emitted module

Written by `benchmarks/bench_training.py` (the tables between the markers; rerun it to refresh them, the
text around them is kept).  The book's 784-128-64-10 network (relu, relu, sigmoid, MSE) on MNIST-shaped
synthetic data: 60,000 examples of 784 float32 values, given as MNIST arrives (X = rows.T, so no
candidate pays a transposed copy).  Candidates run round-robin, repeat after repeat, and medians are
reported, with the best of the repeats beside them (the least disturbed run of each candidate); the
machine (2 cores) is shared with other users, so compare ratios within one table, and read the 2-thread
tables with the load average next to them.

* **GEMM floor**: an epoch of only the 8 matrix products of each step (3 forward W^l S^(l-1), 3 dE/dW^l
  = Delta^l (S^(l-1))^T, 2 (W^l)^T Delta^l) with `out=`, each in its fastest memory layout (timed in
  row and column order of W^l and of the (n_l, beta) arrays), full batches only; the GFLOP/s quoted
  is these products' FLOPs over that time.
* **GEMM floor + batch gathering**: the same products, each step after gathering its 64 shuffled
  examples (`take` of 64 rows of 3 KB from random places in the 188 MB of X): the data movement every
  candidate pays on top of the floor.
* **emitted**: `symbackprop emit --dtype float32`; an epoch of `train(params, X, Z, epochs=2,
  batch_size=64)`, the second one, timed by the callback (per-epoch work only: shuffling, the steps,
  writing params back).  **a train(epochs=1) call** times a whole call instead: the epoch plus what a
  call does once (checking X and Z for shape and NaN -- one pass over the 188 MB of X, ~8 ms -- and
  allocating the buffers).
* **emitted (baseline)**: with `--baseline DIR`, the module another checkout emits (`python -m symbackprop emit`
  run in DIR), timed like "emitted" in the same round-robin.
* **hand-written NumPy**: a careful loop with examples as rows (`x @ W`), no input checks, fresh arrays.
* **PyTorch eager**: the same network and cost, autograd + manual SGD.
* **JAX jit**: `jax.jit` of the SGD step (grad + update); the last partial batch is skipped.
* **book sec. 4.9 loop**: the book's one-example-at-a-time listing, as printed (dicts, np.outer;
  `np.where(y > 0, 1, 0)` is an integer array, so its float32 run computes partly in float64).

Threads: BLAS through threadpoolctl, torch through `torch.set_num_threads`, and the whole process is
bound to that many cores (`os.sched_setaffinity`), which also pins JAX.

"""
BEGIN, END = "<!-- tables written by benchmarks/bench_training.py -->", "<!-- end of the tables -->"
SPEC = NetworkSpec.from_options("784,128,64,10", "relu,relu,sigmoid", "mse")


def load_emitted(dtype, baseline=None):
    """The emitted module for ``dtype``: this checkout's, or (``baseline``: a folder) the one that checkout emits."""
    folder = Path(tempfile.mkdtemp())
    path = folder / f"model_{dtype}{'_baseline' if baseline else ''}.py"
    if baseline is None:
        path.write_text(emit(SPEC, dtype))
    else:
        subprocess.run([sys.executable, "-m", "symbackprop", "emit", "--layers", "784,128,64,10", "--activations",
                        "relu,relu,sigmoid", "--loss", "mse", "--dtype", dtype, "-o", str(path)], cwd=baseline,
                       check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data(n, dtype, seed=0):
    """X (784, n) and one-hot Z (10, n) in the book's shapes, as MNIST arrives: the transposes of arrays with
    one example per row (so every candidate gets its rows back without a copy)."""
    rng = np.random.default_rng(seed)
    rows = rng.random((n, SIZES[0]), dtype=np.float32).astype(dtype)
    Z = np.eye(SIZES[-1], dtype=dtype)[rng.integers(0, SIZES[-1], n)].T.copy()
    return rows.T, Z


# -- the candidates: each is epoch(X, Z) -> None after a setup ---------------------------------------
def emitted_epoch(module, batch):
    """An epoch of ``train`` as a user's run has it: train(epochs=2), timed from the end of epoch 1 to the
    end of epoch 2 by the callback.  The input checks and allocations of the call fall on epoch 1."""
    params = module.init_params(seed=0)

    def epoch(X, Z):
        ends = []
        module.train(params, X, Z, epochs=2, lr=0.1, batch_size=batch, seed=1,
                     callback=lambda *_: ends.append(time.perf_counter()))
        return ends[1] - ends[0]
    return epoch


def emitted_call(module, batch):
    """One whole train(epochs=1) call: the epoch plus the call's input checks and allocations."""
    params = module.init_params(seed=0)

    def call(X, Z):
        module.train(params, X, Z, epochs=1, lr=0.1, batch_size=batch, seed=1)
    return call


def handwritten_epoch(batch, dtype):
    """A careful hand-written NumPy loop: examples as rows, shuffled gather, fused output delta."""
    rng = np.random.default_rng(0)
    W = [(rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype) for m, n in itertools.pairwise(SIZES)]  # x @ W
    b = [np.zeros(n, dtype) for n in SIZES[1:]]

    def epoch(X, Z):
        XT, ZT = np.ascontiguousarray(X.T), np.ascontiguousarray(Z.T)
        order = rng.permutation(XT.shape[0])
        lr = 0.1
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            x, z = XT[idx], ZT[idx]
            h1 = np.maximum(x @ W[0] + b[0], 0)
            h2 = np.maximum(h1 @ W[1] + b[1], 0)
            p = 1 / (1 + np.exp(-(h2 @ W[2] + b[2])))
            d3 = (2 / (10 * len(idx))) * (p - z) * p * (1 - p)
            d2 = (d3 @ W[2].T) * (h2 > 0)
            d1 = (d2 @ W[1].T) * (h1 > 0)
            W[2] -= lr * (h2.T @ d3)
            b[2] -= lr * d3.sum(0)
            W[1] -= lr * (h1.T @ d2)
            b[1] -= lr * d2.sum(0)
            W[0] -= lr * (x.T @ d1)
            b[0] -= lr * d1.sum(0)
    return epoch


def book_epoch(dtype):
    """The book's section 4.9 loop (one example at a time, dicts of layers, np.outer), as printed."""
    rng = np.random.default_rng(0)
    W = {l: (rng.standard_normal((SIZES[l], SIZES[l - 1])) * 0.01).astype(dtype) for l in range(1, 4)}
    b = {l: np.zeros((SIZES[l], 1), dtype) for l in range(1, 4)}

    def relu(y):
        return np.maximum(0, y)

    def sigmoid(y):
        return 1 / (1 + np.exp(-y))

    def epoch(X, Z):
        learning_rate, num_layers = 0.01, 3
        for x, z in zip(X.T, Z.T):
            x, z = x.reshape(-1, 1), z.reshape(-1, 1)
            activations, linearities, a_previous = {"a0": x}, {}, x
            for l in range(1, num_layers + 1):
                y = np.dot(W[l], a_previous) + b[l]
                linearities[f"y{l}"] = y
                a = sigmoid(y) if l == num_layers else relu(y)
                activations[f"a{l}"] = a
                a_previous = a
            P = activations[f"a{num_layers}"]
            np.mean((z - P) ** 2)
            dE_dy = (P - z) * (P * (1 - P))
            dE_dW, dE_db = {}, {}
            for l in reversed(range(1, num_layers + 1)):
                a_previous = activations[f"a{l - 1}"]
                dE_dW[l] = np.outer(dE_dy, a_previous)
                dE_db[l] = dE_dy
                if l > 1:
                    dE_dy = np.dot(W[l].T, dE_dy) * np.where(linearities[f"y{l - 1}"] > 0, 1, 0)
            for l in range(1, num_layers + 1):
                W[l] -= learning_rate * dE_dW[l]
                b[l] -= learning_rate * dE_db[l]
    return epoch


def torch_epoch(batch):
    import torch

    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(n, m, generator=gen) / m ** 0.5 for m, n in itertools.pairwise(SIZES)]
    params += [torch.zeros(n, 1) for n in SIZES[1:]]
    for p in params:
        p.requires_grad_(True)
    W1, W2, W3, b1, b2, b3 = params

    def epoch(X, Z):
        Xt, Zt = torch.from_numpy(np.ascontiguousarray(X.T)), torch.from_numpy(np.ascontiguousarray(Z.T))
        order = torch.randperm(Xt.shape[0], generator=gen)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            x, z = Xt[idx].T, Zt[idx].T
            p = torch.sigmoid(W3 @ torch.relu(W2 @ torch.relu(W1 @ x + b1) + b2) + b3)
            E = ((p - z) ** 2).mean()
            E.backward()
            with torch.no_grad():
                for q in params:
                    q -= 0.1 * q.grad
                    q.grad = None
    return epoch


def jax_epoch(batch):
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(0)
    params = [jax.random.normal(key, (n, m), jnp.float32) / m ** 0.5 for m, n in itertools.pairwise(SIZES)]
    params += [jnp.zeros((n, 1), jnp.float32) for n in SIZES[1:]]

    def error(ps, x, z):
        W1, W2, W3, b1, b2, b3 = ps
        p = jax.nn.sigmoid(W3 @ jax.nn.relu(W2 @ jax.nn.relu(W1 @ x + b1) + b2) + b3)
        return jnp.mean((p - z) ** 2)

    @jax.jit
    def step(ps, x, z):
        grads = jax.grad(error)(ps, x, z)
        return [q - 0.1 * g for q, g in zip(ps, grads)]

    state = {"params": params}
    rng = np.random.default_rng(0)

    def epoch(X, Z):
        XT, ZT = np.ascontiguousarray(X.T), np.ascontiguousarray(Z.T)
        order = rng.permutation(XT.shape[0])
        ps = state["params"]
        for start in range(0, len(order) - batch + 1, batch):
            idx = order[start:start + batch]
            ps = step(ps, XT[idx].T, ZT[idx].T)
        jax.block_until_ready(ps)
        state["params"] = ps
    return epoch


def floor_epoch(batch, dtype, repeats):
    """The GEMM floor as a candidate: an epoch of only the step's 8 matrix products (with out=).

    Each product runs in its fastest memory layout, picked by timing it with W^l and the (n_l, beta)
    arrays each in row order "C" or column order "F" (the batch is always a block of example rows), so
    the floor is the best NumPy does for these shapes whatever layout a candidate uses.  Returns the
    epoch function, the same with each batch gathered from shuffled examples first (the data movement
    every candidate pays), and the floating-point operations of one step.
    """
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((batch, SIZES[0])).astype(dtype)  # a batch, one example per row
    X = rows.T
    fastest = [(float("inf"), None)] * 8
    for w_order, order in itertools.product("CF", repeat=2):
        W = [np.array(rng.standard_normal((b, a)), dtype, order=w_order) for a, b in itertools.pairwise(SIZES)]
        G = [np.empty_like(w) for w in W]
        S = [X] + [np.array(rng.standard_normal((m, batch)), dtype, order=order) for m in SIZES[1:]]
        D = [np.array(rng.standard_normal((m, batch)), dtype, order=order) for m in SIZES[1:]]
        products = [(W[l], S[l], S[l + 1]) for l in range(3)]  # forward W^l S^(l-1)
        products += [(D[l], S[l].T, G[l]) for l in range(3)]  # Delta^l (S^(l-1))^T
        products += [(W[l].T, D[l], D[l - 1]) for l in (2, 1)]  # (W^l)^T Delta^l
        for k, (a, b, out) in enumerate(products):
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                for _ in range(50):
                    np.matmul(a, b, out=out)
                times.append(time.perf_counter() - start)
            fastest[k] = min(fastest[k], (statistics.median(times), (a, b, out)), key=lambda pair: pair[0])
    chosen = [product for _, product in fastest]
    flops = 2 * sum(a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in chosen)

    def epoch(X, Z):
        for _ in range(X.shape[1] // batch):  # full batches only: a floor slightly below the true one
            for a, b, out in chosen:
                np.matmul(a, b, out=out)

    def epoch_with_gather(X, Z):
        """The products plus the data movement every candidate pays: each batch gathered from shuffled rows."""
        examples, order = X.T, rng.permutation(X.shape[1])
        for start in range(0, X.shape[1] - batch + 1, batch):
            examples.take(order[start:start + batch], axis=0, out=rows, mode="clip")
            for a, b, out in chosen:
                np.matmul(a, b, out=out)
    return epoch, epoch_with_gather, flops


def measure(candidates, X, Z, repeats):
    times = {name: [] for name in candidates}
    for name, epoch in candidates.items():  # warm-up (jit compilation, buffers)
        epoch(X[:, :2048], Z[:, :2048])
    for _ in range(repeats):
        for name, epoch in candidates.items():
            start = time.perf_counter()
            seconds = epoch(X, Z)  # a candidate may time its epoch itself
            times[name].append(time.perf_counter() - start if seconds is None else seconds)
    return {name: statistics.median(t) for name, t in times.items()}, {name: min(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--examples", type=int, default=60000)
    parser.add_argument("--single", type=int, default=6000, help="examples per epoch of the batch_size=1 runs")
    parser.add_argument("--output", default="docs/bench_training.md")
    parser.add_argument("--baseline", help="a checkout of symbackprop whose emitted module runs beside this one's")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:
        torch = None
    try:
        import jax
        jax.devices()  # start XLA's CPU client (and its thread pool) before any pinning below
    except ImportError:
        jax = None
    cpus = sorted(os.sched_getaffinity(0))
    X32, Z32 = data(args.examples, np.float32)
    m32, m64 = load_emitted("float32"), load_emitted("float64")
    b32, b64 = (load_emitted("float32", args.baseline), load_emitted("float64", args.baseline)) if args.baseline \
        else (None, None)
    run = f"--repeats {args.repeats}" + (f" --baseline {args.baseline}" if args.baseline else "")
    lines = [f"Run: `python benchmarks/bench_training.py {run}` on {time.strftime('%Y-%m-%d %H:%M')}, "
             f"NumPy {np.__version__}" + (f", torch {torch.__version__}" if torch else "")
             + (f", JAX {jax.__version__}" if jax else "") + f"; load average at the start "
             f"{os.getloadavg()[0]:.2f} (1 min).", ""]
    for threads in (1, 2):
        # BLAS and torch get `threads` threads; the process is also bound to that many cores, which is what
        # pins JAX (XLA sizes its pool once) and keeps every candidate on the same share of the machine
        os.sched_setaffinity(0, cpus[:threads])
        with threadpool_limits(limits=threads):
            if torch:
                torch.set_num_threads(threads)
            floor, floor_with_gather, flops = floor_epoch(64, np.float32, args.repeats)
            candidates = {"GEMM floor": floor, "GEMM floor + batch gathering": floor_with_gather,
                          "emitted (symbackprop)": emitted_epoch(m32, 64),
                          "emitted, a train(epochs=1) call": emitted_call(m32, 64),
                          **({"emitted (baseline)": emitted_epoch(b32, 64)} if b32 else {}),
                          "hand-written NumPy": handwritten_epoch(64, np.float32)}
            if torch:
                candidates["PyTorch eager"] = torch_epoch(64)
            if jax:
                candidates["JAX jit"] = jax_epoch(64)
            batch, best = measure(candidates, X32, Z32, args.repeats)
            singles = {}
            for dtype, module, base in (("float64", m64, b64), ("float32", m32, b32)):
                X, Z = data(args.single, dtype, seed=1)
                single = {f"emitted, batch_size=1, {dtype}": emitted_epoch(module, 1),
                          **({f"emitted (baseline), batch_size=1, {dtype}": emitted_epoch(base, 1)} if base else {}),
                          f"book sec. 4.9 loop, {dtype}": book_epoch(dtype)}
                if torch and dtype == "float32":
                    single["PyTorch eager, batch 1, float32"] = torch_epoch(1)
                singles.update({k: args.single / v for k, v in measure(single, X, Z, args.repeats)[0].items()})
        rate = flops * (args.examples // 64) / batch["GEMM floor"] / 1e9
        emitted = batch["emitted (symbackprop)"]
        section = len(lines)
        lines += [f"### {threads} thread{'s' if threads > 1 else ''} (load average after: {os.getloadavg()[0]:.2f})",
                  "", (f"Mini-batch 64, float32, {args.examples:,} examples: seconds per epoch (median of "
                       f"{args.repeats}, round-robin); the floor runs the 8 products at {rate:.1f} GFLOP/s"), "",
                  "| code | s/epoch | vs emitted | vs GEMM floor | best of the repeats | best vs best floor |",
                  "|---|---|---|---|---|---|"]
        for name, seconds in batch.items():
            lines.append(f"| {name} | {seconds:.3f} | {seconds / emitted:.2f}x | {seconds / batch['GEMM floor']:.2f}x "
                         f"| {best[name]:.3f} | {best[name] / best['GEMM floor']:.2f}x |")
        lines += ["", f"One example at a time ({args.single:,} examples per epoch): samples per second", "",
                  "| code | samples/s |", "|---|---|"]
        lines += [f"| {name} | {rate:,.0f} |" for name, rate in singles.items()]
        for dtype in ("float64", "float32"):
            for which in ("emitted", "emitted (baseline)"):
                if f"{which}, batch_size=1, {dtype}" in singles:
                    ratio = singles[f"{which}, batch_size=1, {dtype}"] / singles[f"book sec. 4.9 loop, {dtype}"]
                    lines.append(f"\n{which} / book loop, {dtype}: {ratio:.2f}x")
        lines.append("")
        print("\n".join(lines[section:]), flush=True)
    os.sched_setaffinity(0, cpus)
    write_tables(Path(args.output), "\n".join(lines))
    print(f"wrote {args.output}", file=sys.stderr)


def write_tables(path, tables):
    """Put the tables between the GENERATED markers of ``path``, keeping the hand-written text around them."""
    text = path.read_text() if path.exists() else INTRO + f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = INTRO + f"{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{tables}\n{END}{tail}")


if __name__ == "__main__":
    main()
