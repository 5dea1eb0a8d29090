"""Mutation tests: plant an error into each formula a consumer reads, and verification must fail.

A check that cannot fail is a defect.  Each mutation below changes one object of the derivation (the
very object that the emitted code prints and the report evaluates) and is tried at three sizes: a small
network (the exact proof), one above the exact threshold (high precision), and the book's 784-128-64-10.
"""
import dataclasses

import pytest
import sympy as sp

from symbackprop.engine import forms
from symbackprop.engine.activations import A, Y
from symbackprop.engine.jacobians import ColumnOfMatrices, derive
from symbackprop.engine.simplify import N
from symbackprop.engine.spec import NetworkSpec
from symbackprop.verification.verify import verify

# (sizes, activations, cost): small enough to prove exactly; above the exact threshold; the book's network
SIZES = {
    "small": ("2,3,2", "relu,sigmoid", "mse"),
    "wide": ("30,20,20,10", "relu,tanh,sigmoid", "mse"),
    "book": ("784,128,64,10", "relu,relu,sigmoid", "mse"),
}


def _derivation(size, activations=None, cost=None):
    sizes, acts, loss = SIZES[size]
    return derive(NetworkSpec.from_options(sizes, activations or acts, cost or loss))


def _plant_output_delta(d, change):
    found = d.output_delta
    d.__dict__["output_delta"] = dataclasses.replace(found, simplified=change(found.simplified))


# -- the mutations: each returns a derivation with one planted error -------------------------------
def drop_one_over_n(size, monkeypatch):
    """delta^L without its 1/n (the book's cost carries 1/n over the outputs)."""
    d = _derivation(size)
    _plant_output_delta(d, lambda e: e * N)
    return d


def output_delta_times_3(size, monkeypatch):
    """the simplified output delta that emit prints, multiplied by 3."""
    d = _derivation(size)
    _plant_output_delta(d, lambda e: 3 * e)
    return d


def recursion_without_transpose(size, monkeypatch):
    """Delta^l = a' (.) W^{l+1} Delta^{l+1} instead of (W^{l+1})^T Delta^{l+1} (eq. 60)."""
    real = forms.backward_form

    def wrong(activation, Ym, Am, G):
        if isinstance(G, sp.MatMul) and isinstance(G.args[0], sp.Transpose):
            G = G.args[0].arg * G.args[1]  # for a rectangular W the shapes no longer match: that must fail too
        return real(activation, Ym, Am, G)

    monkeypatch.setattr(forms, "backward_form", wrong)
    return _derivation(size)


def relu_derivative_wrong_below_minus_3(size, monkeypatch):
    """relu'(y) = 1 for y < -3 (right near 0, wrong far from it)."""
    d = _derivation(size)
    act = d.network.activations[1]
    assert act.name == "relu"
    act.__dict__["derivative"] = sp.Piecewise((1, Y > 0), (1, Y < -3), (0, True))
    return d


def sigmoid_a_form_wrong_in_the_tail(size, monkeypatch):
    """a'(y) through a = a(1 - a) + a^6 (1 - a): off only where a is near 1."""
    d = _derivation(size)
    act = d.network.activations[d.L]
    assert act.name == "sigmoid"
    act.__dict__["derivative_in_a"] = A * (1 - A) + A ** 6 * (1 - A)
    return d


def cost_derivative_halved(size, monkeypatch):
    """e'(a, z) = (a - z) for mse instead of 2 (a - z)."""
    d = _derivation(size)
    d.network.cost.__dict__["derivative"] = d.network.cost.derivative / 2
    return d


def column_of_matrices_in_the_wrong_row(size, monkeypatch):
    """dy/dW entry i with s^T in row i + 1 instead of row i (eq. 16-17)."""
    real = ColumnOfMatrices.nonzero
    monkeypatch.setattr(ColumnOfMatrices, "nonzero", lambda self, i: ((i + 1) % self.n, real(self, i)[1]))
    return _derivation(size)


def gradient_without_s(size, monkeypatch):
    """dE/dW^l = Delta^l 1 1^T instead of Delta^l (S^{l-1})^T: the outer product's signal dropped."""
    real = forms.gradient_forms

    def wrong(l, M):
        _, b_form = real(l, M)
        return M.Delta(l) * sp.OneMatrix(M.beta, M.A(l - 1).shape[0]) / M.beta, b_form

    monkeypatch.setattr(forms, "gradient_forms", wrong)
    return _derivation(size)


def sigmoid_stable_form_wrong(size, monkeypatch):
    """the printed sigmoid (1 + tanh(y))/2, its half-angle lost, with the prover fooled into accepting it."""
    from symbackprop.emission import codegen
    from symbackprop.engine import rewrites
    from symbackprop.verification import formulas as verify_formulas

    real = rewrites.stable

    def planted(expr, *args):
        found = real(expr, *args)
        if expr == 1 / (1 + sp.exp(-Y)):
            return dataclasses.replace(found, rewritten=(1 + sp.tanh(Y)) / 2, applied=("sigmoid",), proved=True)
        return found

    for module in (rewrites, codegen, verify_formulas):
        monkeypatch.setattr(module, "stable", planted)
    return _derivation(size)


MUTATIONS = [drop_one_over_n, output_delta_times_3, recursion_without_transpose, relu_derivative_wrong_below_minus_3,
             sigmoid_a_form_wrong_in_the_tail, cost_derivative_halved, column_of_matrices_in_the_wrong_row,
             gradient_without_s, sigmoid_stable_form_wrong]


@pytest.mark.parametrize("size", list(SIZES))
def test_the_unmutated_derivation_passes(size):
    # the control: without a planted error every identity holds at each size
    report = verify(_derivation(size))
    assert report.passed, report.table()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.__name__)
def test_a_planted_error_fails_verification(mutation, size, monkeypatch):
    # each planted error makes at least one check fail, at every size
    report = verify(mutation(size, monkeypatch))
    assert not report.passed, f"{mutation.__doc__}\n{report.table()}"


def test_the_failing_row_names_the_planted_formula(monkeypatch):
    # a wrong relu' far from 0 is caught by the formula's own row, and by the direct comparison
    report = verify(relu_derivative_wrong_below_minus_3("wide", monkeypatch))
    failed = {(c.quantity, c.forms) for c in report.failures()}
    assert ("a'(y) of relu", "derived = differences of a(y)") in failed
    assert any(forms_ == "(a) direct = (c) outer" for _, forms_ in failed)


def test_a_wrong_simplified_delta_fails_its_own_row(monkeypatch):
    # the output delta that emit prints is compared with e'(a, z) a'(y) / n
    report = verify(output_delta_times_3("wide", monkeypatch))
    assert ("delta^L", "simplified = e'(a, z) a'(y) / n") in {(c.quantity, c.forms) for c in report.failures()}


def test_missing_one_over_beta_in_the_batch_forms_fails(monkeypatch):
    # eq. 89: dE/dW^l = (1/beta) Delta^l (S^{l-1})^T; the sum without 1/beta is caught at high precision
    real = forms.gradient_forms
    monkeypatch.setattr(forms, "gradient_forms", lambda l, M: tuple(f * M.beta for f in real(l, M)))
    d = derive(NetworkSpec.from_options("3,4,2", "tanh,sigmoid", "mse", 3))
    report = verify(d, method="high-precision")
    assert not report.passed
    assert any("(batch)" in c.quantity for c in report.failures())
