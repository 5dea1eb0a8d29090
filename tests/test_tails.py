"""Tails to the last digit: the emitted loss and gradients against a high-precision witness, y in [-700, 700].

Identities checked:
* for a 1-layer module with W = 0, x = 1 and b = y (so y^L = y), the emitted batch error E = (1/n) sum_i e(a_i, z_i)
  (eq. 86) and dE/db = dE/dW = (1/n) sum_i e'(a_i, z_i) da_i/dy (eq. 54, 87-88) equal the same quantities computed
  by mpmath at 800 digits from the formulas typed below (the independent witness: the textbook a(y), a'(y), e, e'),
  to 1e-10 relative in float64 and 2e-5 in float32, wherever the true value is a normal float, with no warning
  (NumPy's errstate raises on overflow, division by zero and invalid operations; underflow to 0 is NumPy's default
  and is what gives 1 + e^{-1400} = 1);
* in float32, points where a(y) itself is no normal float32 (softplus(-700) = e^-700) are left out for element-wise
  outputs, and softmax + bce where 1 - a underflows (see docs/tails.md);
* every rewrite of the registry is proved equal by SymPy, and a planted wrong rewrite is refused;
* the tails hold in both styles of the module (the fast one and the book's loop), which print the same stable forms;
* torch's fused losses (binary_cross_entropy_with_logits, cross_entropy on logits): ours is never further from the
  truth than torch (torch's bce-with-logits is 0 at y = -300, z = 0, where the truth is e^-300).
"""
import importlib.util
import inspect
import tempfile
import warnings
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from symbackprop.emission.codegen import STYLES, emit
from symbackprop.engine.activations import Y
from symbackprop.engine.rewrites import FEW_REWRITES, REWRITES, Rewrite, plain, proved_equal, stable, w
from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SpecError

YS = (-700, -300, -100, -40, -38, -20, -5, -1e-3, 0, 1e-3, 5, 20, 40, 100, 300, 700)
DPS = 800  # 1 - sigmoid(700) = e^-700 and 1 - tanh(700) = 2 e^-1400 keep hundreds of digits at this precision


# -- the witness: textbook formulas at DPS digits ---------------------------------------------------------
def _sig(y):
    return 1 / (1 + mp.exp(-y))


ACTIVATIONS = {  # a(y), a'(y)
    "identity": (lambda y: y, lambda y: mp.mpf(1)),
    "sigmoid": (_sig, lambda y: _sig(y) * (1 - _sig(y))),
    "tanh": (mp.tanh, lambda y: 1 - mp.tanh(y) ** 2),
    "relu": (lambda y: max(y, 0), lambda y: mp.mpf(1 if y > 0 else 0)),
    "leaky_relu(0.1)": (lambda y: y if y > 0 else y / 10, lambda y: mp.mpf(1) if y > 0 else mp.mpf(1) / 10),
    "elu(0.5)": (lambda y: y if y > 0 else (mp.exp(y) - 1) / 2, lambda y: mp.mpf(1) if y > 0 else mp.exp(y) / 2),
    "softplus": (lambda y: mp.log(1 + mp.exp(y)), _sig),
}
COSTS = {  # e(a, z), de/da, given a and its complement b = 1 - a
    "mse": (lambda a, b, z: (a - z) ** 2, lambda a, b, z: 2 * (a - z)),
    "mae": (lambda a, b, z: abs(a - z), lambda a, b, z: mp.sign(a - z)),
    "cross_entropy": (lambda a, b, z: -z * mp.log(a), lambda a, b, z: -z / a),
    "bce": (lambda a, b, z: -(z * mp.log(a) + (1 - z) * mp.log(b)), lambda a, b, z: -z / a + (1 - z) / b),
}
SOFTMAX = ("softmax", "softmax(T=0.001)")


def _pairs():
    pairs = []
    for act in [*ACTIVATIONS, *SOFTMAX]:
        for cost in COSTS:
            try:
                NetworkSpec.from_options("1,2", act, cost)
            except SpecError:  # the spec refuses it (log of an output that can be <= 0)
                pass
            else:
                pairs.append((act, cost))
    return pairs


PAIRS = _pairs()


def truth(act, cost, y, z):
    """(E, dE/db as a list, a as a list) at DPS digits for the output y (softmax: the outputs (y, 0))."""
    e, de = COSTS[cost]
    with mp.workdps(DPS):
        y = mp.mpf(y)
        if act in ACTIVATIONS:
            f, df = ACTIVATIONS[act]
            a = f(y)
            return e(a, 1 - a, z[0]), [de(a, 1 - a, z[0]) * df(y)], [a]
        T = mp.mpf("0.001") if "T=" in act else mp.mpf(1)
        ys = [y, mp.mpf(0)]
        exps = [mp.exp(v / T) for v in ys]
        a = [v / sum(exps) for v in exps]
        # 1 - a_i as the other outputs' share: at T = 0.001, 1 - a is e^-700000, beyond any working precision
        b = [(sum(exps) - v) / sum(exps) if v != max(exps) else sum(exps[:k] + exps[k + 1:]) / sum(exps)
             for k, v in enumerate(exps)]
        n = len(ys)
        E = sum(e(ai, bi, zi) for ai, bi, zi in zip(a, b, z)) / n
        # da_i/dy_j = a_i (delta_ij - a_j) / T, typed from the textbook Jacobian (1 - a_j as b_j)
        grad = [sum(de(a[i], b[i], z[i]) * a[i] * (b[j] if i == j else -a[j]) / T for i in range(n)) / n
                for j in range(n)]
        return E, grad, a


def targets(act, cost):
    if act in SOFTMAX:
        return ((1.0, 0.0), (0.0, 1.0)) + (((0.25, 0.5),) if cost == "bce" else ())
    return ((0.0,), (1.0,)) + (((0.25,),) if cost == "bce" else ((-1.0,),) if act == "tanh" else ())


_MODULES = {}


def module(act, cost, dtype, style="fast"):
    key = (act, cost, dtype, style)
    if key not in _MODULES:
        n = 2 if act in SOFTMAX else 1
        path = Path(tempfile.mkdtemp(prefix="symbackprop-tails-")) / "model.py"  # imported as a user would
        path.write_text(emit(NetworkSpec.from_options(f"1,{n}", act, cost), dtype, style=style))
        spec = importlib.util.spec_from_file_location("model", path)
        model = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(model)
        _MODULES[key] = vars(model)
    return _MODULES[key]


def ours(act, cost, y, z, dtype, style="fast"):
    """The emitted module's E and dE/db (== dE/dW, since x = 1) at W = 0, b = y, under errors-as-exceptions.

    For element-wise outputs, dE/db is also the value of the output delta one example at a time computes
    (``output_delta``, the few-element forms; beta = 1, n_L = 1: delta^L with scale = 1), appended to the list.
    """
    m = module(act, cost, dtype, style)
    n = len(z)
    b = np.array([[y]] + ([[0.0]] if n == 2 else []), dtype)
    params = {"W1": np.zeros((n, 1), dtype), "b1": b}
    X, Z = np.ones((1, 1), dtype), np.array(z, dtype).reshape(n, 1)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        E = m["loss"](params, X, Z)
        grads = m["gradients"](params, X, Z)
        one = []
        if "output_step" in m:  # element-wise outputs (n = 1): batch size 1 prints its own form of the same delta
            a = m["forward"](params, X)[0][:, 0]
            one = list(m["output_delta"](b[:, 0], a, Z[:, 0], 1.0, out=np.empty(n, dtype)))
    assert np.array_equal(grads["W1"], grads["b1"])  # x = 1
    return E, list(grads["b1"][:, 0]) + one


def ours_step(act, cost, y, z, dtype, style="fast"):
    """(e, dE/db) as a training step computes them together (``output_step``: the cost term and delta^L with
    scale = 1, which for n_L = 1 and beta = 1 are E and dE/db), or None where the module has no such function."""
    m = module(act, cost, dtype, style)
    if "output_step" not in m:
        return None
    y_arr, Z = np.array([y], dtype), np.array(z, dtype)
    a = m["forward"]({"W1": np.zeros((1, 1), dtype), "b1": y_arr.reshape(1, 1)}, np.ones((1, 1), dtype))[0][:, 0]
    e, out = np.empty(1, dtype), np.empty(1, dtype)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        m["output_step"](y_arr, a, Z, 1.0, e, out)
    return e[0], out[0]


def _normal(v, dtype):
    info = np.finfo(dtype)
    return v == 0 or info.tiny <= abs(v) <= info.max


def check(act, cost, dtype, tol, style="fast"):
    skipped = []
    for y in YS:
        y_in = float(np.dtype(dtype).type(y))  # the input the module sees
        for z in targets(act, cost):
            E, grad, a = truth(act, cost, y_in, z)
            if not all(_normal(float(ai), dtype) for ai in a) and dtype == "float32" and act not in SOFTMAX:
                skipped.append((y, z))  # a(y) itself is no float32: only the fused forms could still be right
                continue
            got_E, got_grad = ours(act, cost, y_in, z, dtype, style)
            grad = grad + grad[:len(got_grad) - len(grad)]  # the one-example delta, if any, has the same truth
            pairs = [("E", E, got_E)] + [(f"dE/db{j}", t, g) for j, (t, g) in enumerate(zip(grad, got_grad))]
            step = ours_step(act, cost, y_in, z, dtype, style)
            if step is not None:  # a training step's cost and delta, computed together
                pairs += [("E of a step", E, step[0]), ("dE/db of a step", grad[0], step[1])]
            for what, true, got in pairs:
                true = float(true)
                assert np.isfinite(got), (act, cost, y, z, what, got)
                if not _normal(true, dtype):
                    continue
                error = abs(got - true) / abs(true) if true else abs(got)
                assert error <= tol, f"{act} + {cost} at y={y}, z={z}: {what} = {got!r}, truth {true!r} (rel {error:.2g})"
    return skipped


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("act,cost", PAIRS)
def test_float64_tails_match_50_digits(act, cost, style):
    assert check(act, cost, "float64", 1e-10, style) == []


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("act,cost", PAIRS)
def test_float32_tails_within_float32_precision(act, cost, style):
    check(act, cost, "float32", 2e-5, style)


def test_the_reported_losses_are_fixed():
    # issue 10 item 3: 708.4 (truth 40) at y = -40, z = 1; 36.7 (truth 40) at y = +40, z = 0; softmax(T=0.001) + CE
    assert ours("sigmoid", "bce", -40.0, (1.0,), "float64")[0] == pytest.approx(40 + 4.248354255291589e-18, rel=1e-15)
    assert ours("sigmoid", "bce", 40.0, (0.0,), "float64")[0] == pytest.approx(40, rel=1e-15)
    E, _, _ = truth("softmax(T=0.001)", "cross_entropy", 0.5, (0.0, 1.0))
    assert ours("softmax(T=0.001)", "cross_entropy", 0.5, (0.0, 1.0), "float64")[0] == pytest.approx(float(E), rel=1e-12)


def _error(got, true):
    true = float(true)
    return abs(got - true) / abs(true) if true else abs(got)


def test_torch_fused_losses_are_no_closer_to_the_truth():
    # torch's own fused forms (binary_cross_entropy_with_logits, cross_entropy on logits) as a second witness:
    # at every y, ours is within 1e-10 of the 800-digit truth or at least as close to it as torch is
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for y in YS:
        for z in (0.0, 1.0):
            t = torch.tensor([float(y)], dtype=torch.float64, requires_grad=True)
            loss = F.binary_cross_entropy_with_logits(t, torch.tensor([z], dtype=torch.float64))
            loss.backward()
            E, (g, *_) = ours("sigmoid", "bce", float(y), (z,), "float64")
            true_E, (true_g,), _ = truth("sigmoid", "bce", float(y), (z,))
            assert _error(E, true_E) <= max(1e-10, _error(loss.item(), true_E)), (y, z, E, loss.item())
            assert _error(g, true_g) <= max(1e-10, _error(t.grad.item(), true_g)), (y, z, g, t.grad.item())
        for k in (0, 1):  # mean over the 2 outputs: E = loss / 2
            t = torch.tensor([[float(y), 0.0]], dtype=torch.float64, requires_grad=True)
            loss = F.cross_entropy(t / 0.001, torch.tensor([k])) / 2
            loss.backward()
            z = (1.0, 0.0) if k == 0 else (0.0, 1.0)
            E, g = ours("softmax(T=0.001)", "cross_entropy", float(y), z, "float64")
            true_E, true_g, _ = truth("softmax(T=0.001)", "cross_entropy", float(y), z)
            assert _error(E, true_E) <= max(1e-10, _error(loss.item(), true_E)), (y, k, E, loss.item())
            for j in range(2):
                assert _error(g[j], true_g[j]) <= max(1e-10, _error(t.grad[0, j].item(), true_g[j])), (y, k, j)


# -- the registry ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rewrite", REWRITES, ids=lambda r: r.name)
def test_every_registered_rewrite_is_proved(rewrite):
    # pattern == replacement as functions of y (for pattern rules), and the rule changes its own example to a
    # formula SymPy proves equal
    if isinstance(rewrite.pattern, sp.Basic):
        assert proved_equal(rewrite.pattern.xreplace({w: Y}), rewrite.replacement.xreplace({w: Y}))
    result = stable(rewrite.example)
    assert result.proved and rewrite.name in result.applied and result.rewritten != rewrite.example
    z = sp.Symbol("z", real=True)
    printed = plain(result.rewritten)
    for v in (-3.5, -0.25, 0.5, 2.0):  # and numerically, at a few points (targets z = 0.3)
        point = {Y: v, z: sp.Rational(3, 10)}
        assert float(printed.subs(point).evalf(30)) == pytest.approx(float(rewrite.example.subs(point).evalf(30)), rel=1e-14)


@pytest.mark.parametrize("rewrite", [r for r in FEW_REWRITES if r.replacement is not {
    q.name: q.replacement for q in REWRITES}[r.name]], ids=lambda r: r.name)
def test_every_few_element_rewrite_is_proved(rewrite):
    # the logaddexp forms one example at a time prints: applied to its example, proved equal by SymPy, and equal
    # numerically at a few points (z = 0.3) to 30 digits, logaddexp(0, u) read as log(1 + e^u)
    from sympy.codegen.numpy_nodes import logaddexp

    result = stable(rewrite.example, FEW_REWRITES)
    assert result.proved and rewrite.name in result.applied
    assert result.rewritten.atoms(logaddexp) and result.rewritten != stable(rewrite.example).rewritten
    z = sp.Symbol("z", real=True)
    printed = plain(result.rewritten)
    for v in (-3.5, -0.25, 0.5, 2.0):
        point = {Y: v, z: sp.Rational(3, 10)}
        assert float(printed.subs(point).evalf(30)) == pytest.approx(float(rewrite.example.subs(point).evalf(30)), rel=1e-14)


def test_a_wrong_few_element_form_is_refused():
    # sigmoid(u) as e^{-S} with S = logaddexp(0, u) is sigmoid(-u): stable() refuses it and keeps the original
    from sympy.codegen.numpy_nodes import logaddexp

    wrong = Rewrite("sigmoid, the wrong side", "", 1 / (1 + sp.exp(-w)), sp.exp(-logaddexp(0, w)), 1 / (1 + sp.exp(-Y)))
    result = stable(wrong.example, (wrong,))
    assert not result.proved and result.rewritten == wrong.example and wrong.name in result.refused


@pytest.mark.parametrize("wrong", [
    Rewrite("tanh sigmoid without the half angle", "", 1 / (1 + sp.exp(-w)), (1 + sp.tanh(w)) / 2, 1 / (1 + sp.exp(-Y))),
    Rewrite("expm1 off by one", "", sp.exp(w) - 1, sp.exp(w), sp.exp(Y) - 1),
    Rewrite("softplus without the max", "", sp.log(1 + sp.exp(w)), sp.log(1 + sp.exp(-sp.Abs(w))), sp.log(1 + sp.exp(Y))),
])
def test_a_planted_wrong_rewrite_is_refused(wrong):
    # stable() keeps the original when the registry holds a rewrite that is not an identity
    result = stable(wrong.example, (wrong, *REWRITES))
    assert not result.proved and result.rewritten == wrong.example and wrong.name in result.refused


def test_nothing_to_rewrite_is_reported_as_such():
    result = stable((Y - 1) ** 2)
    assert result.applied == () and result.proved and result.rewritten == result.original


# -- the element-wise functions of hidden layers --------------------------------------------------------------
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_activations_and_their_derivatives_keep_the_tails(act, style):
    # a(y) and a'(y) as the emitted act_* functions compute them == the textbook formulas at DPS digits, to 1e-10
    # where the truth is a normal float (issue 10: sigmoid was 0 below y = -38; softplus' through a, 1 - e^-a,
    # was 0 below y = -37).  sigmoid' and tanh' through a (a(1 - a), 1 - a^2) lose the tail above y = 37 and
    # |y| = 19: they are the activations' a-forms, reported in docs/tails.md, and not checked here.
    m = module(act, "mse", "float64", style)
    name = next(k for k in m if k.startswith("act_") and not k.endswith("_prime"))

    def call(function, *args):  # the fast style's functions write into out, the book style's return their value
        takes_out = "out" in inspect.signature(function).parameters
        return function(*args, out=np.empty(1)) if takes_out else function(*args)

    f, df = ACTIVATIONS[act]
    for y in YS:
        ys = np.array([float(y)])
        with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
            warnings.simplefilter("error")
            a = call(m[name], ys)
            derivative = m.get(name + "_prime")  # absent when a'(y) is a constant (identity): nothing to lose
            if derivative is None:
                prime = np.array([float(df(mp.mpf(y)))])
            else:  # it takes what its formula reads: y, and a for a form through a
                given = {"y": ys, "a": a.copy()}
                prime = call(derivative, *[given[p] for p in inspect.signature(derivative).parameters if p != "out"])
        with mp.workdps(DPS):
            true_a, true_prime = float(f(mp.mpf(y))), float(df(mp.mpf(y)))
        assert _error(a[0], true_a) <= 1e-10 or not _normal(true_a, "float64"), (act, y, a[0], true_a)
        if act not in ("sigmoid", "tanh") and _normal(true_prime, "float64"):
            assert _error(prime[0], true_prime) <= 1e-10, (act, y, prime[0], true_prime)
