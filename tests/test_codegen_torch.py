"""The emitted gradients equal PyTorch autograd (an independent witness; torch is a test-only extra).

Identity checked: for every activation x cost pair the spec validation allows and random architectures of
depth 1-4, the emitted dE/dW^l, dE/db^l of the batch error E = (1/beta) sum_c (1/n_L) sum_i e(a_ic, z_ic)
(eq. 86-88) equal torch.autograd's gradient of the same E, written with the book's cost definitions, in
float64 to 1e-10 relative, for both styles of the module (the fast one and the book's loop).
"""
import zlib

import numpy as np
import pytest
from test_codegen import PAIRS, load, random_batch, random_spec, relative

from symbackprop.emission.codegen import STYLES, emit

torch = pytest.importorskip("torch")

COSTS = {  # the book's per-output terms e(a, z) (table 3.5)
    "mse": lambda a, z: (a - z) ** 2,
    "mae": lambda a, z: (a - z).abs(),
    "cross_entropy": lambda a, z: -z * torch.log(a),
    "bce": lambda a, z: -(z * torch.log(a) + (1 - z) * torch.log(1 - a)),
}


def torch_activation(activation):
    """The activation written in torch (y has one example per column, so softmax runs over dim 0)."""
    name, params = activation.name, dict(activation.params)
    if name == "softmax":
        return lambda y: torch.softmax(y / float(activation.temperature), dim=0)
    table = {
        "identity": lambda y: y,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda y: torch.nn.functional.leaky_relu(y, float(params.get("alpha", 0.01))),
        "elu": lambda y: torch.nn.functional.elu(y, float(params.get("alpha", 1))),
        "softplus": torch.nn.functional.softplus,
        "softsign": torch.nn.functional.softsign,
    }
    return table[name]


def torch_gradients(spec, params, X, Z):
    weights = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    s = torch.tensor(X, dtype=torch.float64)
    for l, activation in enumerate(spec.activations, start=1):
        s = torch_activation(activation)(weights[f"W{l}"] @ s + weights[f"b{l}"])
    E = COSTS[spec.cost.name](s, torch.tensor(Z, dtype=torch.float64)).mean()  # eq. 86 with the 1/n_L
    E.backward()
    return {k: w.grad.numpy() for k, w in weights.items()}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("out_act,cost", PAIRS)
def test_emitted_gradients_equal_torch_autograd(out_act, cost, style):
    rng = np.random.default_rng(zlib.crc32(f"torch|{out_act}|{cost}".encode()))
    for depth in (1, 2, 3, 4):
        spec = random_spec(rng, out_act, cost, depth)
        model = load(emit(spec, style=style))
        params = model.init_params(seed=int(rng.integers(1000)), scale=0.8)
        for l in range(1, depth + 1):
            params[f"b{l}"] = rng.normal(size=params[f"b{l}"].shape) * 0.3
        X, Z = random_batch(rng, spec, beta=5)
        ours, theirs = model.gradients(params, X, Z), torch_gradients(spec, params, X, Z)
        for key in theirs:
            assert relative(ours[key], theirs[key]) < 1e-10, (spec.describe(), key)

