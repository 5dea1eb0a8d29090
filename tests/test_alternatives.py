"""Tests for symbackprop.engine.alternatives (book sec. 2.3): the xW form and the bias folded into W."""
import json

import numpy as np
import pytest
import sympy as sp

from symbackprop.engine.alternatives import (
    all_alternatives,
    compare,
    folded_bias,
    folded_bias_symbolic,
    network_folded_bias,
    network_xw_form,
    xw_form,
    xw_form_symbolic,
)
from symbackprop.engine.network import Network
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SizeError, SpecError


@pytest.mark.parametrize("n_out, n_in", [(1, 1), (3, 2), (2, 5), (4, 4)])
def test_single_layer_forms(n_out, n_in):
    # sec. 2.3: x^T W^T + b^T = (W x + b)^T, and [W | b][x; 1] = W x + b
    row = xw_form(n_out, n_in)
    assert row.holds and row.evidence[-1][1] == sp.zeros(1, n_out)
    folded = folded_bias(n_out, n_in)
    assert folded.holds and folded.evidence[0][1].shape == (n_out, n_in + 1)
    # the folded matrix's last column is b (b_i = w_{i,m+1}) and x_aug ends with 1
    net = Network(NetworkSpec.from_options(f"{n_in},{n_out}", "identity", "mse"))
    assert folded.evidence[0][1][:, -1] == net.b(1) and folded.evidence[1][1][-1] == 1


def test_symbolic_forms():
    # the same identities for any n x m, by the Sum forms
    assert xw_form_symbolic().holds
    folded = folded_bias_symbolic()
    assert folded.holds and folded.evidence[-1][1] == 0


def test_the_comparison_can_fail():
    # wrong alternatives: x^T W + b^T (no transpose) and a bias folded in front while x gets a trailing 1
    W = sp.Matrix(3, 3, lambda i, j: sp.Symbol(f"w{i}{j}"))
    x, b = sp.Matrix(sp.symbols("x0:3")), sp.Matrix(sp.symbols("b0:3"))
    assert compare("wrong xW", "x^T W + b^T", (W * x + b).T, x.T * W + b.T).verdict == "not equivalent"
    front = b.row_join(W) * x.col_join(sp.Matrix([[1]]))
    assert not compare("wrong fold", "[b | W][x; 1]", W * x + b, front).holds
    assert compare("fold", "[W | b][x; 1]", W * x + b, W.row_join(b) * x.col_join(sp.Matrix([[1]]))).holds


@pytest.mark.parametrize("layers, activations, loss", [
    ("2,3,2", "tanh,sigmoid", "mse"),
    ("3,2,3", "relu,softmax", "cross_entropy"),
    ("2,2", "elu", "mae"),
])
def test_whole_networks(layers, activations, loss):
    spec = NetworkSpec.from_options(layers, activations, loss)
    row = network_xw_form(spec)
    assert row.holds and row.evidence[-1][1] == 0  # E_row - E
    folded = network_folded_bias(spec)
    assert folded.holds
    for l, gradient in folded.objects["dE_dV"].items():
        assert gradient.shape == (spec.sizes[l], spec.sizes[l - 1] + 1)


def test_folded_gradient_matches_finite_differences():
    # dE/dV^l from the augmented network, evaluated at random [W | b], vs central differences of a numpy
    # implementation of the standard network y = W s + b (an independent witness; E = 1/n sum (a - z)^2)
    spec = NetworkSpec.from_options("2,3,2", "tanh,sigmoid", "mse")
    folded = network_folded_bias(spec)
    rng = np.random.default_rng(7)
    V = {l: rng.normal(size=folded.objects["V"][l].shape) for l in (1, 2)}
    x, z = rng.normal(size=2), rng.normal(size=2)

    def error(V):
        s = x
        for l, act in ((1, np.tanh), (2, lambda v: 1 / (1 + np.exp(-v)))):
            s = act(V[l][:, :-1] @ s + V[l][:, -1])
        return np.mean((s - z) ** 2)

    values = {sym: V[l][idx] for l in (1, 2) for idx, sym in np.ndenumerate(np.array(folded.objects["V"][l]))}
    values.update(zip(folded.objects["x"], x))
    values.update(zip(folded.objects["z"], z))
    h = 1e-6
    for l in (1, 2):
        for (r, c), sym in np.ndenumerate(np.array(folded.objects["V"][l])):
            plus = {k: v.copy() for k, v in V.items()}
            minus = {k: v.copy() for k, v in V.items()}
            plus[l][r, c] += h
            minus[l][r, c] -= h
            numeric = (error(plus) - error(minus)) / (2 * h)
            exact = float(folded.objects["dE_dV"][l][r, c].xreplace(values))
            assert exact == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_results_render():
    results = all_alternatives()
    assert [r.holds for r in results] == [True] * 6
    data = json.loads(json.dumps([r.to_dict() for r in results]))
    assert data[0]["verdict"] == "equivalent" and data[2]["sizes"] == "symbolic"
    assert "Verdict: equivalent" in results[-1].text()


def test_bad_input_is_a_clear_error():
    with pytest.raises(SpecError, match="positive integers"):
        xw_form(0, 2)
    with pytest.raises(SpecError, match="positive integers"):
        folded_bias(2, "3")
    with pytest.raises(SizeError, match="parameters"):
        network_folded_bias(NetworkSpec.from_options("10,10", "tanh", "mse"))
