"""The emitted module's backward step is printed from the derivation's matrix forms (symbackprop.emission.print_numpy).

Identities checked:
* the module reads the forms: an error planted into Delta^l (symbackprop.engine.forms.backward_form: a factor 3, or
  W instead of W^T at a square size) or into Delta^L (forms.output_delta_form times 3) changes the emitted
  gradients exactly as the planted formula predicts, in both training engines (mini-batch and one example
  at a time); a gradient form that is not (1/beta) times a product is refused, not printed;
* with the true forms, the emitted dE/dW^l, dE/db^l of E = (1/beta) sum_c (1/n_L) sum_i e(a_ic, z_ic)
  (eq. 86-88) equal torch.autograd's, and one epoch of train(batch_size=1) equals torch's SGD one example
  at a time (eq. 20-21), in float64 to 1e-10 relative, for relu, tanh, sigmoid and softmax layers;
* the printer refuses, with one clear error, forms it cannot print into the buffers offered.

The planted errors and the torch comparison run for both styles of the module (``style``: the fast module and
the book's loop of symbackprop.emission.book): each prints its backward lines from the same forms.
"""
import itertools

import numpy as np
import pytest
import sympy as sp
from test_codegen import load, random_batch, relative

from symbackprop.emission.codegen import STYLES, emit
from symbackprop.emission.print_numpy import NumPyFormPrinter
from symbackprop.engine import forms
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SymbackpropError

SPEC = NetworkSpec.from_options("3,4,4,2", "tanh,tanh,sigmoid", "mse")  # W2 is 4 x 4: W2 and W2^T both fit


@pytest.fixture(params=STYLES)
def style(request):
    """The style of the emitted module under test."""
    return request.param


def forward(params, X):
    """A^0..A^3 and Y^1..Y^3 of SPEC in NumPy (tanh, tanh, sigmoid)."""
    A, Y = [X], [None]
    for l, f in enumerate((np.tanh, np.tanh, lambda y: 1 / (1 + np.exp(-y))), start=1):
        Y.append(params[f"W{l}"] @ A[-1] + params[f"b{l}"])
        A.append(f(Y[-1]))
    return A, Y


def planted_gradients(params, X, Z, transpose=True, hidden=1, output=1):
    """Mean-error gradients of SPEC with the recursion written by hand, planted errors included:
    Delta^3 = output 2 (a - z) a (1 - a) / n_L, Delta^l = hidden (1 - a^2) (.) (W^{l+1})^T Delta^{l+1}
    (the square W^2 itself when not ``transpose``), dE/dW^l = Delta^l (A^{l-1})^T / beta, dE/db^l = Delta^l 1 / beta."""
    A, _ = forward(params, X)
    beta, n = X.shape[1], Z.shape[0]
    D = {3: output * 2 * (A[3] - Z) * A[3] * (1 - A[3]) / n}
    for l in (2, 1):
        W = params[f"W{l + 1}"]
        dropped = not transpose and W.shape[0] == W.shape[1]  # the planted error is at the square W2 only
        D[l] = hidden * (1 - A[l] ** 2) * ((W if dropped else W.T) @ D[l + 1])
    grads = {}
    for l in (1, 2, 3):
        grads[f"W{l}"], grads[f"b{l}"] = D[l] @ A[l - 1].T / beta, D[l].sum(axis=1, keepdims=True) / beta
    return grads


def check(model, **planted):
    rng = np.random.default_rng(7)
    params = model.init_params(seed=3, scale=0.7)
    X, Z = random_batch(rng, SPEC, beta=5)
    ours, expected = model.gradients(params, X, Z), planted_gradients(params, X, Z, **planted)
    for key in expected:
        assert relative(ours[key], expected[key]) < 1e-12, key
    # one example at a time (the other engine): one step from the same params
    stepped = {k: v.copy() for k, v in params.items()}
    model.train(stepped, X[:, :1], Z[:, :1], epochs=1, lr=0.5, batch_size=1, shuffle=False)
    one = planted_gradients(params, X[:, :1], Z[:, :1], **planted)
    for key in one:
        assert relative(stepped[key], params[key] - 0.5 * one[key]) < 1e-12, key


def test_the_true_forms_give_the_hand_written_recursion(style):
    check(load(emit(SPEC, style=style)))


def test_a_factor_planted_into_the_recursion_reaches_the_module(monkeypatch, style):
    true = forms.backward_form
    monkeypatch.setattr(forms, "backward_form", lambda *args: 3 * true(*args))
    check(load(emit(SPEC, style=style)), hidden=3)  # Delta^2 three times, Delta^1 nine times: dE/dW^3 unchanged


def test_a_dropped_transpose_reaches_the_module(monkeypatch, style):
    true = forms.backward_form

    def planted(activation, Ym, Am, G):
        if isinstance(G, sp.MatMul) and isinstance(G.args[0], sp.Transpose) and G.args[0].arg.shape == (4, 4):
            G = G.args[0].arg * G.args[1]  # W2 Delta2 instead of W2^T Delta2
        return true(activation, Ym, Am, G)

    monkeypatch.setattr(forms, "backward_form", planted)
    model = load(emit(SPEC, style=style))
    params = model.init_params(seed=3, scale=0.7)
    X, Z = random_batch(np.random.default_rng(7), SPEC, beta=5)
    wrong, right = planted_gradients(params, X, Z, transpose=False), planted_gradients(params, X, Z)
    assert relative(wrong["W1"], right["W1"]) > 1e-3  # the planted error is visible at this point
    check(model, transpose=False)


def test_a_factor_planted_into_the_output_delta_reaches_the_module(monkeypatch, style):
    # the derivation's output delta (which output_delta_form and the emitted output_delta both read), times 3
    from dataclasses import replace

    from symbackprop.engine.jacobians import Derivation

    true = Derivation.output_delta.func
    planted = property(lambda self: replace(true(self), simplified=3 * true(self).simplified))
    monkeypatch.setattr(Derivation, "output_delta", planted)
    check(load(emit(SPEC, style=style)), output=3)


def test_a_gradient_form_without_its_batch_mean_is_refused(monkeypatch):
    # the fast style folds exactly 1/beta into scale: a gradient form with another factor is refused
    true = forms.gradient_forms
    monkeypatch.setattr(forms, "gradient_forms", lambda l, M: tuple(3 * f for f in true(l, M)))
    with pytest.raises(SymbackpropError, match="not \\(1/beta\\) times a product"):
        emit(SPEC)


def test_a_factor_planted_into_the_gradient_forms_reaches_the_book_module(monkeypatch):
    # the book style prints dE/dW^l = (3/beta) Delta^l (A^(l-1))^T as written: every gradient three times the
    # hand-written one (eq. 87-88 times 3), while the recursion, which does not read the gradients, is unchanged
    true = forms.gradient_forms
    monkeypatch.setattr(forms, "gradient_forms", lambda l, M: tuple(3 * f for f in true(l, M)))
    model = load(emit(SPEC, style="book"))
    params = model.init_params(seed=3, scale=0.7)
    X, Z = random_batch(np.random.default_rng(7), SPEC, beta=5)
    ours, expected = model.gradients(params, X, Z), planted_gradients(params, X, Z)
    for key in expected:
        assert relative(ours[key], 3 * expected[key]) < 1e-12, key


# -- the true forms against torch autograd ----------------------------------------------------------------
torch = pytest.importorskip("torch")
OUTPUTS = [("relu", "mse"), ("tanh", "mse"), ("sigmoid", "bce"), ("softmax", "cross_entropy"), ("softmax", "mse")]


@pytest.mark.parametrize("hidden,output", list(itertools.product(["relu", "tanh", "sigmoid", "softmax"], OUTPUTS)))
def test_both_engines_equal_torch(hidden, output, style):
    from test_codegen_torch import COSTS, torch_activation, torch_gradients

    spec = NetworkSpec.from_options("3,5,4,3", f"{hidden},{hidden},{output[0]}", output[1])
    model = load(emit(spec, style=style))
    rng = np.random.default_rng(len(hidden) * 31 + len(output[0]) * 7 + len(output[1]))
    params = model.init_params(seed=1, scale=0.9)
    for l in (1, 2, 3):
        params[f"b{l}"] = rng.normal(size=params[f"b{l}"].shape) * 0.3
    X, Z = random_batch(rng, spec, beta=6)  # cross-entropy targets in (0, 1) that need not sum to 1
    ours, theirs = model.gradients(params, X, Z), torch_gradients(spec, params, X, Z)
    for key in theirs:
        assert relative(ours[key], theirs[key]) < 1e-10, key
    # one epoch of one example at a time == torch's SGD on each example's error in turn
    weights = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    for c in range(X.shape[1]):
        s = torch.tensor(X[:, c:c + 1], dtype=torch.float64)
        for l, activation in enumerate(spec.activations, start=1):
            s = torch_activation(activation)(weights[f"W{l}"] @ s + weights[f"b{l}"])
        COSTS[spec.cost.name](s, torch.tensor(Z[:, c:c + 1], dtype=torch.float64)).mean().backward()
        with torch.no_grad():
            for w in weights.values():
                w -= 0.3 * w.grad
                w.grad = None
    model.train(params, X, Z, epochs=1, lr=0.3, batch_size=1, shuffle=False)
    for key, w in weights.items():
        assert relative(params[key], w.detach().numpy()) < 1e-10, key


# -- the printer's refusals ---------------------------------------------------------------------------------
def test_forms_the_printer_cannot_place_are_refused():
    W, D, X = sp.MatrixSymbol("W", 3, 3), sp.MatrixSymbol("D", 3, 2), sp.MatrixSymbol("X", 3, 2)
    names = {"W": "W", "D": "D", "X": "X"}
    with pytest.raises(SymbackpropError, match="more than two matrices"):
        NumPyFormPrinter(names, ["P"]).statements(W * W.T * D, "out")
    with pytest.raises(SymbackpropError, match="scratch"):  # two products held at once need two scratch arrays
        NumPyFormPrinter(names, []).statements(sp.HadamardProduct(W * D, W.T * D, X), "out")
    with pytest.raises(SymbackpropError, match="no array for"):
        NumPyFormPrinter({"W": "W"}, ["P"]).statements(W * D, "out")
    with pytest.raises(SymbackpropError, match="reads D"):
        NumPyFormPrinter(names, ["P"]).statements(W * D, "D")
