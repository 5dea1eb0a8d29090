"""A 20-layer sigmoid MLP barely moves where the same depth with residual blocks learns: the picture.

Both networks are emitted by symbackprop and trained by their own ``train`` on the problem of
tests/test_layers.py::test_deep_sigmoid_stalls_where_residual_learns (200 examples of 4 normal features, label
sin(x_1) x_2 > 0, bce, batch 10, lr 0.1, 40 epochs, seed 0):

* **plain**: ``dense(8,sigmoid)`` x 19 then ``dense(1,sigmoid)``;
* **residual**: ``dense(8,tanh)``, 18 ``residual(sigmoid)`` blocks, ``dense(1,sigmoid)``.

Left: the mean error of each epoch.  Right: |dE/dW^l| (Frobenius norm) of every layer at the initial point, from
the emitted ``gradients``: in the plain stack each layer's delta is the one above multiplied by W^T and by
sigma' <= 1/4, so it shrinks geometrically toward the input; the residual recursion
Delta^(l-1) = Delta^l + W^T (a'(Y) (.) Delta^l) keeps the identity term, and the gradient reaches every layer.

    python benchmarks/plot_residual.py [--output docs/images/residual_vs_sigmoid.png] [--epochs 40]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symbackprop.demo.plots import new_figure, save
from symbackprop.emission.layers import emit_layers
from symbackprop.engine.layers_spec import LayeredSpec

NETWORKS = {
    "plain: 20 sigmoid layers": "dense(8,sigmoid) " * 19 + "dense(1,sigmoid)",
    "residual: dense + 18 residual(sigmoid) blocks + dense": "dense(8,tanh) " + "residual(sigmoid) " * 18
                                                            + "dense(1,sigmoid)",
}


def problem(seed=0):
    """The test's data: X (4, 200) standard normal, Z = [sin(x_1) x_2 > 0] (1, 200)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4, 200))
    return X, (np.sin(X[0]) * X[1] > 0).astype(float)[None]


def emitted(arch):
    """The emitted float64 module of ``arch`` (4 inputs, bce), as a namespace."""
    namespace = {}
    source = emit_layers(LayeredSpec.from_arch(arch, "4", "bce"), "float64")
    exec(compile(source, "model.py", "exec"), namespace)  # noqa: S102 -- our own emitted module
    return namespace


def run(epochs=40):
    """For each network: (the error of each epoch, starting with the initial error; |dE/dW^l| at the start)."""
    X, Z = problem()
    results = {}
    for label, arch in NETWORKS.items():
        m = emitted(arch)
        params = m["init_params"](seed=0)
        grads = m["gradients"](params, X, Z)
        norms = [float(np.linalg.norm(grads[f"W{l}"])) for l in range(1, len(params) // 2 + 1)]
        history = [m["loss"](params, X, Z)] + m["train"](params, X, Z, epochs=epochs, lr=0.1, batch_size=10)
        results[label] = history, norms
    return results


def figure(results):
    fig = new_figure(10.0, 4.0)
    loss, grad = fig.subplots(1, 2)
    for label, (history, norms) in results.items():
        loss.plot(range(len(history)), history, label=label)
        grad.semilogy(range(1, len(norms) + 1), norms, marker="o", label=label)
    loss.axhline(np.log(2), color="grey", linestyle=":", linewidth=1, label="ln 2: always answering 1/2")
    grad.xaxis.get_major_locator().set_params(integer=True)
    loss.set(xlabel="epoch (0: the initial point)", ylabel="mean bce error", title="training error (40 epochs, lr 0.1, batch 10)")
    grad.set(xlabel="layer l", ylabel="|dE/dW^l| at the start", title="gradient reaching each layer")
    loss.legend(fontsize=8)
    grad.legend(fontsize=8)
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="docs/images/residual_vs_sigmoid.png")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)
    results = run(args.epochs)
    for label, (history, norms) in results.items():
        drop = (history[1] - history[-1]) / history[1]
        print(f"{label}: error {history[0]:.4f} -> {history[-1]:.4f} (drop after epoch 1: {drop:.1%}); "
              f"|dE/dW^1| = {norms[0]:.2e}, |dE/dW^L| = {norms[-1]:.2e}")
    save(figure(results), args.output, force=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
