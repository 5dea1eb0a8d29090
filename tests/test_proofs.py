"""Tests for symbackprop.proofs: the size-generic proofs hold, wrong identities are NOT proved,
the induction step is derived by SymPy's chain rule (not assumed), and the proved formulas agree
with finite differences of a concrete network."""
import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from symbackprop.errors import SymbackpropError
from symbackprop.proofs import (
    ComposedNetwork,
    Reduction,
    VectorFunction,
    VectorPartial,
    c,
    canonical_derivatives,
    i,
    m,
    n,
    n_l,
    n_next,
    prove_all,
    prove_base_case,
    prove_batch,
    prove_depth,
    prove_layer_gradients,
    prove_recursion,
    prove_softmax_jacobian,
    prove_vector_chain_rule,
    q,
    r,
    summary,
)


@pytest.fixture(scope="module")
def proofs():
    return prove_all(depths=(1, 2, 3))


def test_every_proof_holds(proofs):
    # eq. 41, 54, 57-60, 61-66, 86-90, the chain rule through a vector, the induction step and depths 1..3
    assert len(proofs) == 11
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
    assert depth3.depth == 3 and "(depth 3 only)" in depth3.statement
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


@pytest.mark.parametrize("activation", ["elementwise", "softmax"])
def test_induction_step_without_the_activation_derivative_is_not_proved(activation):
    # wrong: delta^l = (W^{l+1})^T delta^{l+1} without f'(y^l) (element-wise) or without J^T (softmax)
    wrong = prove_recursion(activation, derivative=False)
    assert not wrong.proved and "WRONG CLAIM" in wrong.statement
    assert wrong.steps[-1][1] != 0  # the reduced difference is what is left over, not zero
    both = prove_recursion(activation, transpose=False, derivative=False)
    assert not both.proved and "no transpose, no activation derivative" in both.statement


def test_depth_without_the_activation_derivative_is_not_proved():
    # wrong: the hidden deltas of the composed error without f_l'(y^l); depth 1 has no hidden layer to break
    assert prove_depth(1, derivative=False).proved
    assert not prove_depth(2, derivative=False).proved
    assert not prove_depth(3, derivative=False).proved


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


# -- the induction step: derived by the engine, once, for a generic layer --------------------------------------------
@pytest.mark.parametrize("activation", ["elementwise", "softmax"])
def test_induction_step_is_derived_through_an_opaque_error_above(activation):
    # dE/dy^l_q for E = E_above(y^{l+1}), E_above undefined: sp.diff produces the chain rule (D_k E_above terms),
    # and after naming delta^{l+1}_k = D_k E_above it reduces to the recursion, with n_l, n_{l+1} symbolic
    proof = prove_recursion(activation)
    assert proof.proved and proof.verdict == "proved under condition 1 <= q <= n_l"
    described = dict(proof.steps)
    opaque = next(e for d, e in proof.steps if d.startswith("every layer above l+1"))
    assert isinstance(opaque.rhs, VectorFunction) and opaque.rhs.size == n_next
    chain = next(e for d, e in proof.steps if d.startswith("dE/dy^l_q by sp.diff"))
    assert chain.has(VectorPartial) and not chain.has(sp.IndexedBase("delta^{l+1}"))  # not typed in: derived
    derived = described["delta^l_q = dE/dy^l_q: derived by SymPy"]
    assert derived.has(sp.IndexedBase("delta^{l+1}")) and not derived.has(VectorPartial)
    assert {n_l, n_next} <= derived.free_symbols
    assert "generic layer l of a network of any depth" in proof.statement


def test_vector_chain_rule_agrees_with_sympy_and_a_wrong_one_is_caught(monkeypatch):
    # the chain rule through a vector of symbolic length equals SymPy's for F(v_1..v_P), P = 1..4; a rule that
    # drops the last entry (Sum to size - 1) fails that check and the induction step
    assert prove_vector_chain_rule(sizes=(1, 2, 3, 4)).proved

    def dropped_last(self, s):
        kk = sp.Dummy("k", integer=True, positive=True)
        return sp.Sum(VectorPartial(self, kk) * sp.diff(self.vector(kk), s), (kk, 1, self.size - 1))

    monkeypatch.setattr(VectorFunction, "_eval_derivative", dropped_last)
    assert not prove_vector_chain_rule(sizes=(1, 2)).proved
    assert not prove_recursion("elementwise").proved
    assert not prove_layer_gradients().proved


def _claimed(proof):
    return next(e for d, e in proof.steps if d.endswith(": claimed"))


@pytest.mark.parametrize("activation", ["elementwise", "softmax"])
def test_induction_step_matches_finite_differences_of_a_non_separable_error(activation):
    # the proved delta^l at n_l = 3, n_{l+1} = 2, with f = tanh (or softmax, T = 1.5) and the non-separable
    # E_above(u) = log(1 + u1^2) + u1 u2, whose gradient is (2 u1/(1 + u1^2) + u2, u1) by hand, against
    # float64 central differences of E(y^l) = E_above(W act(y^l) + b) in numpy
    rng = np.random.default_rng(7)
    y, W, b = rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=2)
    T = 1.5

    def act(v):
        return np.tanh(v) if activation == "elementwise" else np.exp(v / T) / np.exp(v / T).sum()

    def error(v):
        u = W @ act(v) + b
        return np.log1p(u[0] ** 2) + u[0] * u[1]

    u = W @ act(y) + b
    delta_next = np.array([2 * u[0] / (1 + u[0] ** 2) + u[1], u[0]])
    claimed = _claimed(prove_recursion(activation))
    names = {sp.Symbol("T", positive=True): sp.Rational(3, 2)}
    names.update({sp.IndexedBase("y^l")[x + 1]: sp.Float(y[x], 30) for x in range(3)})
    names.update({sp.IndexedBase("delta^{l+1}")[x + 1]: sp.Float(delta_next[x], 30) for x in range(2)})
    names.update({sp.IndexedBase("W^{l+1}")[x + 1, z + 1]: sp.Float(W[x, z], 30) for x in range(2) for z in range(3)})
    h = 1e-6
    for row in range(3):
        expr = claimed.subs({n_l: 3, n_next: 2, q: row + 1}).doit().xreplace(names)
        expr = expr.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef),
                            lambda e: {"f": sp.tanh, "f'": lambda v: 1 - sp.tanh(v) ** 2}[e.func.__name__](*e.args))
        step = np.zeros(3)
        step[row] = h
        numeric = (error(y + step) - error(y - step)) / (2 * h)
        assert float(expr.evalf(30)) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_summary_says_every_depth_only_when_its_basis_is_proved(proofs):
    # "every depth" rests on the base case, the induction step, the layer gradients and the vector chain rule
    text = summary(proofs)
    assert text.startswith("11 of 11 statements proved for every size.")
    assert "Depths 1, 2, 3 checked directly on the composed error" in text
    assert "Every depth: by induction on L - l" in text
    broken = [prove_recursion("elementwise", transpose=False) if p.name.startswith("induction step, elementwise")
              else p for p in proofs]
    text = summary(broken)
    assert text.startswith("10 of 11") and "NOT proved: induction step, elementwise" in text
    assert "Every depth: not established" in text
    assert "Every depth: not established" in summary([p for p in proofs if not p.name.startswith("base case")])


def test_prove_command_prints_the_precise_summary():
    # the command line reports what is proved: symbolic sizes, depths checked directly, the induction step
    out = subprocess.run([sys.executable, "-m", "symbackprop", "prove", "--depths", "1,2"],
                         check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Proof: induction step, elementwise layer l" in out.stdout
    assert "Depths 1, 2 checked directly on the composed error" in out.stdout
    assert "Every depth: by induction on L - l" in out.stdout


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


@pytest.mark.parametrize("bad", [(), (0,), (7,), ("2",), (True,)])
def test_bad_chain_rule_sizes_are_a_clear_error(bad):
    with pytest.raises(SymbackpropError, match="sizes must be integers"):
        prove_vector_chain_rule(sizes=bad)


def test_bad_activation_kind_is_a_clear_error():
    with pytest.raises(SymbackpropError, match="elementwise"):
        prove_recursion("relu")
    with pytest.raises(SymbackpropError, match="elementwise"):
        prove_base_case("tanh")
