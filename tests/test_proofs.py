"""Tests for symbackprop.proofs: the size-generic proofs hold, wrong identities are NOT proved,
and the proved formulas agree with finite differences of a concrete network."""
import json

import numpy as np
import pytest
import sympy as sp

from symbackprop.errors import SymbackpropError
from symbackprop.proofs import (
    ComposedNetwork,
    Reduction,
    c,
    canonical_derivatives,
    i,
    m,
    n,
    prove_all,
    prove_base_case,
    prove_batch,
    prove_depth,
    prove_layer_gradients,
    prove_recursion,
    prove_softmax_jacobian,
    q,
    r,
)


@pytest.fixture(scope="module")
def proofs():
    return prove_all(depths=(1, 2, 3))


def test_every_proof_holds(proofs):
    # eq. 41, 54, 57-60, 61-66, 86-90 and the direct depth-1..3 proofs
    assert len(proofs) == 10
    for proof in proofs:
        assert proof.proved, proof.text()
        assert proof.steps[-1][1] == 0  # the last reduced difference is exactly zero


def test_layer_gradient_condition_is_the_index_range():
    # eq. 61-66: dE/dW_rc = delta_r s_c holds where r, c index W: 1 <= r <= n, 1 <= c <= m
    proof = prove_layer_gradients()
    assert proof.verdict == "proved under condition 1 <= r <= n, 1 <= c <= m"
    # the Piecewise SymPy produces for dy_i/dW_rc carries the condition c <= m
    piecewise = proof.steps[2][1]
    assert isinstance(piecewise, sp.Piecewise) and piecewise.args[0][1] == sp.Le(c, m)


def test_depth_conditions_name_every_layer(proofs):
    depth3 = proofs[-1]
    for l in (1, 2, 3):
        assert f"1 <= r{l} <= n{l}" in depth3.condition and f"1 <= c{l} <= n{l - 1}" in depth3.condition


# -- the prover can fail: wrong identities ----------------------------------------------------------------------
def test_swapped_outer_product_is_not_proved():
    # wrong: dE/dW_rc = delta_c s_r (the transpose of eq. 66)
    assert prove_layer_gradients(claim_W=lambda delta, s, r, c: delta[c] * s[r]).verdict == "not proved"
    assert not prove_depth(1, swap_outer=True).proved
    assert not prove_depth(3, swap_outer=True).proved


def test_recursion_without_transpose_is_not_proved():
    # wrong: delta^l = a'(y) (.) W^{l+1} delta^{l+1} (eq. 65 needs (W^{l+1})^T)
    assert not prove_recursion("elementwise", transpose=False).proved
    assert not prove_recursion("softmax", transpose=False).proved
    assert not prove_depth(2, transpose=False).proved
    assert not prove_depth(3, transpose=False).proved


def test_batch_without_the_mean_is_not_proved():
    # wrong: dE/dW = Delta S^T without the 1/beta of eq. 86
    from symbackprop.proofs import t

    Delta, S = sp.IndexedBase("Delta"), sp.IndexedBase("S")
    beta = sp.Symbol("beta", integer=True, positive=True)
    wrong = prove_batch(claim_W=lambda: sp.Sum(Delta[r, t] * S[c, t], (t, 1, beta)))
    assert not wrong.proved


def test_wrong_softmax_jacobian_is_not_reduced_to_zero():
    # the softmax Jacobian is a_i (delta_iq - a_q)/T; a_i (delta_iq - a_i)/T differs off the diagonal
    assert prove_softmax_jacobian().proved
    y, T = sp.IndexedBase("y"), sp.Symbol("T", positive=True)
    total = sp.Sum(sp.exp(y[sp.Symbol("j", integer=True, positive=True)] / T),
                   (sp.Symbol("j", integer=True, positive=True), 1, n))
    a = lambda x: sp.exp(y[x] / T) / total
    wrong = a(i) * (sp.KroneckerDelta(i, q) - a(i)) / T
    assert Reduction({i: (1, n), q: (1, n)}).normal_form(sp.diff(a(i), y[q]) - wrong) != 0


# -- the reduction only takes sound steps ------------------------------------------------------------------------
def test_reduction_keeps_what_it_cannot_decide():
    d = sp.IndexedBase("d")
    # r's range is unknown: Sum_i KD(i, r) d_i must not collapse to d_r
    assert Reduction({}).normal_form(sp.Sum(sp.KroneckerDelta(i, r) * d[i], (i, 1, n)) - d[r]) != 0
    # r in [1, n] does not decide r <= m
    kept = Reduction({r: (1, n)}).resolve_piecewise(sp.Piecewise((d[r], r <= m), (0, True)))
    assert isinstance(kept, sp.Piecewise)
    # an inequation true at the corners of the range is not true inside: 1 != 3 and 5 != 3 but i = 3 exists
    ne = Reduction({i: (1, 5)}).resolve_piecewise(sp.Piecewise((1, sp.Ne(i, 3)), (0, True)))
    assert isinstance(ne, sp.Piecewise)
    # a triangular double sum is not a rectangular one: Sum_k Sum_{i<=k} d_i != Sum_i d_i
    triangle = sp.Sum(sp.Sum(d[i], (i, 1, sp.Symbol("k", integer=True, positive=True))),
                      (sp.Symbol("k", integer=True, positive=True), 1, n))
    assert Reduction({}).normal_form(triangle - sp.Sum(d[i], (i, 1, n))) != 0


def test_reduction_collapses_with_the_range_and_records_it():
    d = sp.IndexedBase("d")
    red = Reduction({r: (1, n)})
    assert red.normal_form(sp.Sum(sp.KroneckerDelta(i, r) * d[i], (i, 1, n))) == d[r]
    assert red.condition() == "1 <= r <= n"
    # Sum_i g(i) and Sum_k g(k) are the same sum
    k = sp.Symbol("k", integer=True, positive=True)
    assert Reduction({}).normal_form(sp.Sum(d[i], (i, 1, n)) - sp.Sum(d[k], (k, 1, n))) == 0


def test_canonical_derivatives_agree_for_both_sympy_forms():
    f, y = sp.Function("f"), sp.IndexedBase("y")
    via_subs = sp.diff(f(y[1] ** 2), y[1])  # 2 y_1 Subs(Derivative(f(_xi), _xi), _xi, y_1^2)
    assert canonical_derivatives(via_subs) == 2 * y[1] * sp.Function("f'")(y[1] ** 2)
    assert canonical_derivatives(sp.diff(f(y[1]), y[1])) == sp.Function("f'")(y[1])


# -- the proved formulas are the real gradients: a concrete network vs finite differences -----------------------
def test_depth2_claim_matches_finite_differences():
    # instantiate the proved delta/outer-product form at sizes 3-4-2 with f1 = tanh, f2 = sigmoid, e = (a - z)^2,
    # and compare it with central differences of E computed in numpy (no SymPy derivative involved)
    rng = np.random.default_rng(3)
    sizes = (3, 4, 2)
    W1, b1 = rng.normal(size=(4, 3)), rng.normal(size=4)
    W2, b2 = rng.normal(size=(2, 4)), rng.normal(size=2)
    x, z = rng.normal(size=3), rng.normal(size=2)
    sig = lambda v: 1 / (1 + np.exp(-v))

    def error(W1, b1, W2, b2):
        y1 = W1 @ x + b1
        y2 = W2 @ np.tanh(y1) + b2
        return np.mean((sig(y2) - z) ** 2)

    y1 = W1 @ x + b1
    y2 = W2 @ np.tanh(y1) + b2
    net = ComposedNetwork(2)
    sizes_map = dict(zip(net.sizes, sizes))
    arrays = {net.W[1]: W1, net.W[2]: W2, net.x: x, net.z: z, net.Y[1]: y1, net.Y[2]: y2}
    # f' and e_a as hand-known derivatives: tanh' = 1 - tanh^2, sigmoid' = s(1 - s), d(a - z)^2/da = 2(a - z)
    s = lambda v: 1 / (1 + sp.exp(-v))
    functions = {
        "f1": sp.tanh, "f1'": lambda v: 1 - sp.tanh(v) ** 2,
        "f2": s, "f2'": lambda v: s(v) * (1 - s(v)), "e_a": lambda a, z: 2 * (a - z),
    }

    def evaluate(expr):
        expr = expr.subs(sizes_map).doit()
        names = {}
        for base, values in arrays.items():
            for idx in np.ndindex(values.shape):
                names[base[tuple(v + 1 for v in idx)]] = sp.Float(values[idx], 30)
        expr = expr.xreplace(names)
        expr = expr.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef),
                            lambda e: functions[e.func.__name__](*e.args))
        return float(expr.evalf(30))

    h = 1e-6
    for (l, row, col) in [(1, 2, 3), (1, 4, 1), (2, 1, 4), (2, 2, 2)]:
        claimed = net.delta(l, row) * net.s(l - 1, col, opaque=True)
        params = [W1.copy(), b1, W2.copy(), b2]
        plus, minus = [p.copy() for p in params], [p.copy() for p in params]
        plus[2 * (l - 1)][row - 1, col - 1] += h
        minus[2 * (l - 1)][row - 1, col - 1] -= h
        numeric = (error(*plus) - error(*minus)) / (2 * h)
        assert evaluate(claimed) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


# -- the proof object ------------------------------------------------------------------------------------------
def test_proof_object_renders(proofs):
    proof = proofs[0]
    assert proof.text().startswith("Proof: layer gradients")
    assert "Verdict: proved under condition" in proof.text()
    data = json.loads(json.dumps(proof.to_dict()))
    assert data["proved"] is True and data["condition"] == "1 <= r <= n, 1 <= c <= m"
    assert data["steps"][-1]["expression"] == "0"
    latex = proof._repr_latex_()
    assert latex.startswith(r"$\begin{array}{l}") and latex.endswith(r"\end{array}$")


@pytest.mark.parametrize("bad", [0, 7, "2", 1.5, True])
def test_bad_depth_is_a_clear_error(bad):
    with pytest.raises(SymbackpropError, match="depth must be an integer"):
        prove_all(depths=(bad,))


def test_bad_activation_kind_is_a_clear_error():
    with pytest.raises(SymbackpropError, match="elementwise"):
        prove_recursion("relu")
    with pytest.raises(SymbackpropError, match="elementwise"):
        prove_base_case("tanh")
