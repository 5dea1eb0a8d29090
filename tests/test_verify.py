"""(a) direct = (b) chain = (c) outer, for every activation/cost pair, and a check that can fail."""
import random

import pytest
import sympy as sp

from symbackprop.engine.activations import KNOWN
from symbackprop.engine.costs import KNOWN as COSTS
from symbackprop.engine.jacobians import derive
from symbackprop.engine.spec import NetworkSpec
from symbackprop.engine.zero import reduces_to_zero
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.verification import verify as V

OUTPUTS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu(0.1)", "elu(0.5)", "softplus", "softmax(T=2)", "step"]


def _pairs():
    for out in OUTPUTS:
        for cost in COSTS:
            try:
                NetworkSpec.from_options("2,3,2", f"tanh,{out}", cost)
            except SpecError:
                continue
            yield out, cost


@pytest.mark.parametrize("out, cost", list(_pairs()))
def test_every_pair_verifies_at_high_precision(out, cost):
    # three forms of dE/dW^l and dE/db^l agree to 30+ digits at points across regimes, for every pair,
    # and every element-wise formula inside them agrees with what it stands for
    spec = NetworkSpec.from_options("3,4,2", f"sigmoid,{out}", cost)
    report = V.verify(derive(spec), method="high-precision", seed=3)
    assert report.passed, report.table()
    network = [c for c in report.checks if c.method == "high-precision" and c.quantity.startswith("dE/d")]
    assert len(network) == 8 and all(c.max_discrepancy < 1e-30 for c in network)
    formulas = {c.quantity for c in report.checks if not c.quantity.startswith("dE/d")}
    assert "a'(y) of sigmoid" in formulas and any(q.startswith("e'(a, z)") for q in formulas)


@pytest.mark.parametrize("acts, cost, batch", [
    ("sigmoid,sigmoid", "mse", None),
    ("relu,softmax", "cross_entropy", None),
    ("elu(0.5),tanh", "mae", 2),
    ("leaky_relu(0.2),identity", "mse", 2),
])
def test_exact_proofs_at_small_sizes(acts, cost, batch):
    # the differences (a)-(c) and (b)-(c) reduce to exactly zero, batch forms (eq. 87-90) included
    spec = NetworkSpec.from_options("2,3,2" if batch else "3,2,2", acts, cost, batch)
    report = V.verify(derive(spec), method="exact")
    exact = [c for c in report.checks if c.method == "exact"]
    assert report.passed and exact and all(c.max_discrepancy == 0 for c in exact)
    if batch:
        assert any("(batch)" in c.quantity for c in exact)


def test_random_architectures_against_an_independent_numpy_backprop():
    # the derivation's forms (c), evaluated at high precision, equal a plain hand-coded NumPy backprop of
    # tanh/sigmoid/mse nets at the same point: delta^L = 2(a - z)/n a(1 - a), delta^l = (W^T delta) (1 - a^2)
    import numpy as np

    from symbackprop.verification.evaluate import fixed_bits
    from symbackprop.verification.numeric import PointChecks
    from symbackprop.verification.points import make_point

    rng = random.Random(7)
    for trial in range(5):
        sizes = [rng.randint(1, 5) for _ in range(rng.randint(2, 5))]
        L = len(sizes) - 1
        spec = NetworkSpec.from_options(",".join(map(str, sizes)), ",".join(["tanh"] * (L - 1) + ["sigmoid"]), "mse")
        d = derive(spec)
        point = make_point(d.network, "order 1", trial, 1, fixed_bits(30))
        engine = PointChecks(d, point)
        W = {l: w.values for l, w in point.W.items()}
        b = {l: v.values for l, v in point.b.items()}
        acts = [np.array([[float(v)] for v in point.X.v[:, 0]])]
        z = np.array([[float(v)] for v in point.Z.v[:, 0]])
        for l in range(1, L + 1):
            y = W[l] @ acts[-1] + b[l]
            acts.append(np.tanh(y) if l < L else 1 / (1 + np.exp(-y)))
        a = acts[-1]
        delta = 2 * (a - z) / len(a) * a * (1 - a)
        for l in range(L, 0, -1):
            ours = np.array([[float(v) for v in row] for row in engine.deltas[l].v])
            assert np.allclose(ours, delta, rtol=1e-12, atol=1e-15)
            delta = (W[l].T @ delta) * (1 - acts[l - 1] ** 2)


def test_exact_reduction_refuses_false_identities():
    # sign(u) vs sign(-u), exp(2u) vs exp(u)^2, relu' vs 1: only the true ones reduce to 0
    u, v = sp.symbols("u v", real=True)
    assert reduces_to_zero(sp.sign(u) + sp.sign(-u), {})
    assert reduces_to_zero(sp.exp(2 * u) - sp.exp(u) ** 2, {})
    assert not reduces_to_zero(sp.sign(u) - sp.sign(-u), {})
    assert not reduces_to_zero(sp.Piecewise((1, u > 0), (0, True)) - 1, {})
    assert not reduces_to_zero(sp.tanh(u + v) - sp.tanh(u) - sp.tanh(v), {})


def test_book_network_verifies_and_report_is_structured():
    report = V.verify(derive(NetworkSpec.from_options("784,128,64,10", "relu,relu,sigmoid", "mse")))
    data = report.to_dict()
    assert data["passed"] and {c["layer"] for c in data["checks"]} == {1, 2, 3}
    assert {c["method"] for c in data["checks"]} == {"high-precision", "float64"}
    first = [c for c in data["checks"] if c["layer"] == 1 and c["forms"] == "(b) chain = (c) outer"]
    # dE/dW^1 through 3 projections u^T (dE/dW) v at each of 3 points, dE/db^1 entry by entry
    assert sorted(c["entries"] for c in first) == [9, 3 * 128]


def test_deep_network_verifies():
    # 32 layers: no recursion limit, every layer checked
    spec = NetworkSpec.from_options(",".join(["3"] * 33), ",".join(["tanh"] * 31 + ["sigmoid"]), "mse")
    report = V.verify(derive(spec))
    assert report.passed and {c.layer for c in report.checks} == set(range(33))  # 0: all layers at once


def test_auto_falls_back_when_the_proof_is_slow():
    spec = NetworkSpec.from_options("2,3,2", "leaky_relu(0.2),sigmoid", "bce", 2)
    report = V.verify(derive(spec), exact_seconds=0.5)
    assert report.passed and "verified at 50 digits instead" in report.notes[0]
    assert "high-precision" in {c.method for c in report.checks}


def test_exact_on_request_stops_with_an_error_when_too_slow():
    spec = NetworkSpec.from_options("2,3,2", "leaky_relu(0.2),sigmoid", "bce", 2)
    with pytest.raises(SymbackpropError, match="did not finish in 1.2 CPU seconds"):
        V.verify(derive(spec), method="exact", exact_seconds=0.1)


def test_method_and_digits_errors():
    d = derive(NetworkSpec.from_options("784,128,64,10", "relu,relu,sigmoid", "mse"))
    with pytest.raises(SymbackpropError, match="exact verification is for networks of at most"):
        V.verify(d, method="exact")
    with pytest.raises(SymbackpropError, match="30 to 1000 digits"):
        V.verify(d, digits=10)


def test_batch_forms_at_high_precision():
    # eq. 86-90: the batch E's derivative equals (1/beta) Delta S^T (a missing 1/beta: tests/test_mutations.py)
    spec = NetworkSpec.from_options("3,4,2", "tanh,sigmoid", "mse", 3)
    report = V.verify(derive(spec), method="high-precision")
    batch = [c for c in report.checks if "(batch)" in c.quantity]
    assert report.passed and len(batch) == 4 and all(c.max_discrepancy < 1e-30 for c in batch)


def test_nan_or_complex_errors_fail_instead_of_passing():
    # sqrt(y) is not real for y < 0: the composed E is NaN there, so no check may pass
    spec = NetworkSpec.from_options("3,4,2", "tanh,f", "mse", custom_activations=["f=sqrt(y)"])
    report = V.verify(derive(spec), method="high-precision")
    assert not report.passed
    assert all(not c.passed for c in report.checks if c.method == "float64")


def test_bad_seed_is_a_clear_error():
    d = derive(NetworkSpec.from_options("2,1", "sigmoid", "mse"))
    with pytest.raises(SymbackpropError, match="non-negative integer"):
        V.verify(d, seed=-1)


def test_every_activation_is_covered():
    assert {o.split("(")[0] for o in OUTPUTS} == set(KNOWN)
