"""Tests of the core engine: activations, costs, spec, network, Jacobians, simplifications.

Each assertion states the identity it checks.
"""
import numpy as np
import pytest
import sympy as sp

from symbackprop.engine.activations import KNOWN, Y, get_activation
from symbackprop.engine.costs import A, Z, get_cost
from symbackprop.engine.jacobians import ColumnOfMatrices, derive
from symbackprop.engine.network import Network
from symbackprop.engine.simplify import output_delta
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SizeError, SpecError


# -- activations: derivatives derived by SymPy, checked against hand values -----------------
@pytest.mark.parametrize("name, y0, expected", [
    ("sigmoid", 0, sp.Rational(1, 4)),            # sigma'(0) = sigma(0)(1 - sigma(0)) = 1/4
    ("tanh", 0, 1),                                # tanh'(0) = 1 - tanh(0)^2 = 1
    ("relu", 0, 0),                                # relu'(0) = 0, PyTorch's convention
    ("relu", 2, 1),
    ("relu", -2, 0),
    ("softplus", 0, sp.Rational(1, 2)),            # softplus' = sigmoid, 1/2 at 0
    ("identity", 5, 1),
    ("step", 3, 0),                                # the step is flat off 0
])
def test_activation_derivatives(name, y0, expected):
    assert sp.simplify(get_activation(name).derivative.subs(Y, y0) - expected) == 0


def test_parameterized_activations():
    # leaky_relu'(y) = alpha for y <= 0, elu'(y) = alpha e^y for y <= 0
    assert get_activation("leaky_relu", alpha="0.2").derivative.subs(Y, -1) == sp.Rational(1, 5)
    assert get_activation("elu", alpha=2).derivative.subs(Y, -1) == 2 * sp.exp(-1)
    assert get_activation("leaky_relu", alpha="0.2").derivative.subs(Y, 0) == sp.Rational(1, 5)


def test_derivative_in_a_found():
    # sigma' = a(1 - a), tanh' = 1 - a^2 (book table 3.5)
    assert sp.expand(get_activation("sigmoid").derivative_in_a - A * (1 - A)) == 0
    assert sp.expand(get_activation("tanh").derivative_in_a - (1 - A**2)) == 0
    assert get_activation("relu").derivative_in_a is None


def test_softmax_jacobian_entry_matches_explicit_jacobian():
    # da_i/dy_j = a_i (delta_ij - a_j) / T, against Matrix.jacobian at n = 3, T = 2
    act = get_activation("softmax", T=2)
    ys = sp.symbols("u1:4", real=True)
    J = act.jacobian(list(ys))
    a = act(list(ys))
    entry, (ab, i, j) = act.jacobian_entry
    for r in range(3):
        for c in range(3):
            generic = entry.subs(sp.KroneckerDelta(i, j), int(r == c)).subs({ab[i]: a[r], ab[j]: a[c]})
            assert sp.simplify(J[r, c] - generic) == 0


def test_unknown_activation_lists_known():
    with pytest.raises(SpecError, match="known activations: " + ", ".join(KNOWN)):
        get_activation("swish")


# -- costs ---------------------------------------------------------------------------------
def test_cost_derivatives_against_book_table():
    n = 3
    a, z = sp.symbols("p1:4", real=True), sp.symbols("q1:4", real=True)
    for name in ("mse", "mae", "cross_entropy", "bce"):
        cost = get_cost(name)
        E = cost(a, z)
        grad = cost.gradient(a, z)
        for i in range(n):  # dE/da_i = e'(a_i, z_i)/n equals the derivative of the whole sum
            assert sp.simplify(grad[0, i] - sp.diff(E, a[i])) == 0
    # MSE: dE/da_i = -2 (z_i - a_i)/n (table 3.5)
    assert sp.simplify(get_cost("mse").derivative / n - (-2 * (Z - A) / n)) == 0
    # BCE: dE/da_i = (a - z)/(n a (1 - a)) -- the table prints it without the 1/n
    assert sp.simplify(get_cost("bce").derivative - (A - Z) / (A * (1 - A))) == 0


# -- spec ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layers, acts, loss, message", [
    ("3,0,2", "relu,sigmoid", "mse", "size 1 must be a positive integer"),
    ("3,2.5,2", "relu,sigmoid", "mse", "size 1 must be a positive integer"),
    ("3,-1", "relu", "mse", "size 1 must be a positive integer"),
    ("3,4,2", "relu", "mse", "2 layers need 2 activations"),
    ("3,4,2", "relu,relu,relu", "mse", "give 2 activation"),
    ("3,4,2", "relu,swish", "mse", "unknown activation 'swish'; known activations"),
    ("3,4,2", "relu,sigmoid", "hinge", "unknown cost 'hinge'; known costs"),
    ("3,4,2", "relu,relu", "cross_entropy", "takes log of the output"),
    ("3,4,2", "relu,softplus", "bce", "log\\(1 - a\\)"),
    ("3,4,1", "relu,softmax", "mse", "softmax over a single neuron"),
    ("3,4,2", "relu,leaky_relu(x)", "mse", "must be a number"),
    ("3,4,2", "relu,softmax(T=0)", "mse", "temperature must be positive"),
    ("3,4,2", "relu,elu(beta=1)", "mse", "has no parameter 'beta'"),
])
def test_bad_specs_are_named(layers, acts, loss, message):
    with pytest.raises(SpecError, match=message):
        NetworkSpec.from_options(layers, acts, loss)


def test_custom_outputs_are_probed_for_the_costs_domain():
    # softsign reaches negative values, so log(a) of cross-entropy/bce is undefined there
    with pytest.raises(SpecError, match="custom output activation 'softsign' gives a"):
        NetworkSpec.from_options("3,2", "softsign", "bce", custom_activations=["softsign=y/(1+abs(y))"])
    # a custom logistic stays in (0, 1): accepted
    spec = NetworkSpec.from_options("3,2", "logistic", "bce", custom_activations=["logistic=1/(1+exp(-y))"])
    assert spec.activations[-1].name == "logistic"


def test_custom_names_cannot_replace_builtins():
    with pytest.raises(SpecError, match="would replace the built-in one"):
        NetworkSpec.from_options("3,2", "tanh", "mse", custom_activations=["tanh=y**2"])
    with pytest.raises(SpecError, match="would replace the built-in one"):
        NetworkSpec.from_options("3,2", "tanh", "mse", custom_costs=["mse=(a-z)^4"])


def test_toml_spec_and_errors_name_key_and_line(tmp_path):
    good = tmp_path / "net.toml"
    good.write_text('sizes = [2, 3, 1]\nactivations = ["softsign", "sigmoid"]\ncost = "bce"\nbatch = 4\n'
                    '[custom.activations]\nsoftsign = "y/(1+abs(y))"\n')
    spec = NetworkSpec.from_toml(good)
    assert spec.sizes == (2, 3, 1) and spec.batch == 4 and spec.activations[0].name == "softsign"
    bad = tmp_path / "bad.toml"
    bad.write_text('sizes = [2, 1]\nactivations = ["sigmoid"]\ncost = "mse"\nlearning_rate = 0.1\n')
    with pytest.raises(SpecError, match="line 4: unknown key 'learning_rate'"):
        NetworkSpec.from_toml(bad)
    bad.write_text('sizes = [2, 1]\nactivations = "sigmoid"\ncost = "mse"\n')
    with pytest.raises(SpecError, match="line 2: 'activations' must be a list"):
        NetworkSpec.from_toml(bad)
    bad.write_text('sizes = ["2", 1]\nactivations = ["sigmoid"]\ncost = "mse"\n')
    with pytest.raises(SpecError, match="line 1: 'sizes' must be a list of positive integers"):
        NetworkSpec.from_toml(bad)
    bad.write_text('sizes = [2, 1\n')
    with pytest.raises(SpecError, match="not valid TOML"):
        NetworkSpec.from_toml(bad)
    with pytest.raises(SpecError, match="does not exist"):
        NetworkSpec.from_toml(tmp_path / "missing.toml")


# -- network ----------------------------------------------------------------------------------
def test_composed_error_matches_numpy_forward():
    # E(a^2(y^2(a^1(y^1(x))))) evaluated symbolically equals a NumPy forward pass (eq. 46-49)
    spec = NetworkSpec.from_options("3,4,2", "tanh,sigmoid", "mse")
    net = Network(spec)
    rng = np.random.default_rng(1)
    vals = {}
    W1, b1, W2, b2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 1)), rng.normal(size=(2, 4)), rng.normal(size=(2, 1))
    x, z = rng.normal(size=(3, 1)), rng.uniform(size=(2, 1))
    for sym, val in [(net.W(1), W1), (net.b(1), b1), (net.W(2), W2), (net.b(2), b2), (net.x, x), (net.z, z)]:
        vals.update({s: float(v) for s, v in zip(sym, val.flatten())})
    a2 = 1 / (1 + np.exp(-(W2 @ np.tanh(W1 @ x + b1) + b2)))
    assert abs(float(net.error().evalf(subs=vals)) - float(np.mean((a2 - z) ** 2))) < 1e-12


def test_batch_bias_matrix_has_identical_columns():
    net = Network(NetworkSpec.from_options("2,3", "relu", "mse"))
    B = net.B(1, 4)  # B^l = b^l [1 ... 1] (eq. 81)
    assert B.shape == (3, 4) and all(B[:, c] == net.b(1) for c in range(4))


def test_explicit_expansion_refused_at_book_size():
    net = Network(NetworkSpec.from_options("784,128,64,10", "relu,relu,sigmoid", "mse"))
    with pytest.raises(SizeError, match="explicit expansion is limited"):
        net.error()


# -- jacobians -------------------------------------------------------------------------------
def test_column_of_matrices_is_the_books_eq_16_17():
    s = sp.Matrix(sp.symbols("s1:4"))
    col = ColumnOfMatrices(s, 2)
    assert col.shape == (2, (2, 3))
    # entry i is zero except row i = s^T
    assert col[1] == sp.Matrix([[0, 0, 0], list(s)])
    # r . dy/dW = r^T s^T: the outer product (appendix E)
    r = sp.Matrix([[sp.Symbol("r1"), sp.Symbol("r2")]])
    assert (r * col) == r.T * s.T


def test_layer_jacobians_shapes_and_values():
    d = derive(NetworkSpec.from_options("3,4,2", "relu,softmax", "cross_entropy"))
    out, hidden = d[2], d[1]
    assert out.dE_da.shape == (1, 2) and out.da_dy.shape == (2, 2)
    # softmax Jacobian is full: off-diagonal entries are not zero
    assert out.da_dy[0, 1] != 0
    # element-wise Jacobian is diagonal
    assert hidden.da_dy.shape == (4, 4) and hidden.da_dy[0, 1] == 0
    assert hidden.dy_ds == d.network.W(1) and out.dy_db == sp.eye(2)  # eq. 41, eq. 19
    with pytest.raises(AttributeError):
        _ = hidden.dE_da  # dE/da^l is defined for the output layer only


def test_chain_equals_outer_symbolically():
    # eq. 50-51 (long chain) and eq. 66 (delta (x) s) are the same matrix, entry by entry
    # (the outer form is the code's: simplified output delta, derivatives where the code evaluates them,
    # so each local a^l_i stands for a(y^l_i): the forward rule is substituted on both sides)
    d = derive(NetworkSpec.from_options("2,3,2", "sigmoid,tanh", "mse"))
    net = d.network
    forward_rule = {a: f for l in (1, 2) for a, f in zip(net.a_local(l), net.activations[l](list(net.y_local(l))))}
    for l in (1, 2):
        diff = (d.chain_product(l) - d.outer_gradient(l)).xreplace(forward_rule)
        assert all(sp.simplify(e.rewrite(sp.exp)) == 0 for e in diff)


# -- simplifications -------------------------------------------------------------------------
def test_known_cancellations_are_found():
    sig_bce = output_delta(get_activation("sigmoid"), get_cost("bce"))
    n = sp.Symbol("n", integer=True, positive=True)
    assert sp.simplify(sig_bce.simplified - (A - Z) / n) == 0 and sig_bce.found_cancellation
    soft_ce = output_delta(get_activation("softmax"), get_cost("cross_entropy"))
    assert soft_ce.found_cancellation and "sum_i z_i = 1" in soft_ce.condition
    # no cancellation is claimed where none happens
    assert not output_delta(get_activation("tanh"), get_cost("mse")).found_cancellation
