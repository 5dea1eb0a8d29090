"""Forms several chapters' claims use.

* :class:`NetworkForms` evaluates, for a small network, the *direct* derivative of the composed error
  (SymPy's ``diff`` of E(a^L(...a^1(y^1(x))))), the *chain* of eq. 50-51 (:meth:`Derivation.chain_product`,
  with the column-vector of matrices) and the *outer* form of the recursion (eq. 65-66, 76), at a random
  rational point with 30 digits; :func:`forms_finding` turns such a comparison into a finding that shows the
  two formulas compared;
* :func:`is_norm_of_difference` tests whether a cost E(P, z) is a norm of P - z on a small grid of
  hand-friendly points and returns the violations found;
* :func:`first_difference` finds a point where two formulas differ; :func:`equal_everywhere` proves two
  formulas equal (or, for piecewise forms, equal at sample points);
* small NumPy tools the listings' checks share (:func:`sigmoid`, :func:`relu`, :func:`central`).

>>> forms = network_forms("2,2,1", "tanh,sigmoid", "mse")
>>> max(forms.max_difference(l, "direct", "outer") for l in (1, 2)) < 1e-20
True
>>> from symbackprop.engine.costs import get_cost
>>> is_norm_of_difference(get_cost("mae"))
[]
>>> is_norm_of_difference(get_cost("mse"))[0]
'homogeneity fails: E(P, z) with P - z = (1, 0) is 1/2 but with P - z = (2, 0) it is 2, not 2 * 1/2'
"""
import itertools
import random
from fractions import Fraction
from functools import cache

import numpy as np
import sympy as sp

from symbackprop.book.model import Comparison, expect
from symbackprop.engine.jacobians import derive
from symbackprop.engine.spec import NetworkSpec
from symbackprop.engine.zero import is_zero

DIGITS = 30


def rational(rng, lo=-9, hi=9, den=10):
    """A random rational k/den with lo <= k <= hi, k != 0 (hand-friendly and exact)."""
    k = 0
    while k == 0:
        k = rng.randint(lo, hi)
    return sp.Rational(k, den)


def to_array(matrix):
    """A SymPy matrix of numbers as a float64 NumPy array (after 30-digit evaluation)."""
    m = sp.Matrix(matrix).evalf(DIGITS)
    return np.array([[float(v) for v in m.row(i)] for i in range(m.rows)], dtype=float)


class NetworkForms:
    """The three forms of dE/dW^l and dE/db^l of one small network, evaluated at one point."""

    def __init__(self, layers, activations, cost, seed=0):
        self.spec = NetworkSpec.from_options(layers, activations, cost)
        self.d = derive(self.spec)
        self.net = net = self.d.network
        rng = random.Random(seed)
        point = {}
        for l in range(1, net.L + 1):
            point.update({w: rational(rng) for w in net.W(l)})
            point.update({b: rational(rng) for b in net.b(l)})
        point.update({x: rational(rng) for x in net.x})
        point.update({z: sp.Rational(rng.randint(1, 9), 10) for z in net.z})
        if self.spec.cost.name == "cross_entropy":  # targets as a probability vector
            total = sum(point[z] for z in net.z)
            point.update({z: point[z] / total for z in net.z})
        self.point = point
        local = {}
        for l in range(1, net.L + 1):
            y, a = net.forward[l]
            local.update({s: v.xreplace(point).evalf(DIGITS) for s, v in zip(net.y_local(l), y)})
            local.update({s: v.xreplace(point).evalf(DIGITS) for s, v in zip(net.a_local(l), a)})
        self.local = {**local, **point}
        self.E = net.error()

    def _value(self, matrix):
        return to_array(sp.Matrix(matrix).xreplace(self.local))

    @cache  # noqa: B019  (one NetworkForms per network, itself cached for the whole audit)
    def form(self, l, name, wrt="W"):
        """'direct', 'chain' or 'outer' gradient of layer l as a float array."""
        if name == "direct":
            params = self.net.W(l) if wrt == "W" else self.net.b(l)
            grad = params.applyfunc(lambda p: sp.diff(self.E, p).xreplace(self.point))
            return to_array(grad)
        if name == "chain":
            value = self._value(self.d.chain_product(l, wrt))
            return value if wrt == "W" else value.T  # dE/db is a row in the chain, a column in the outer form
        if name == "outer":
            return self._value(self.d.outer_gradient(l, wrt))
        raise ValueError(name)

    def max_difference(self, l, first, second, wrt="W"):
        return float(np.max(np.abs(self.form(l, first, wrt) - self.form(l, second, wrt))))

    def evidence(self, pairs=(("direct", "chain"), ("direct", "outer")), wrts=("W", "b")):
        """One line per layer and comparison, and the largest difference."""
        lines, worst = [], 0.0
        for l in range(1, self.net.L + 1):
            for wrt in wrts:
                for first, second in pairs:
                    diff = self.max_difference(l, first, second, wrt)
                    worst = max(worst, diff)
                    lines.append(f"{self.spec.describe()}: layer {l}, dE/d{wrt}^{l}: {first} vs {second} "
                                 f"max |difference| = {diff:.1e}")
        return lines, worst


@cache
def network_forms(layers, activations, cost, seed=0):
    return NetworkForms(layers, activations, cost, seed)


# -- costs as norms (sec. 2.5, appendix A) --------------------------------------------
_VALUES = (sp.Rational(1, 4), sp.Rational(1, 2), sp.Rational(3, 4), sp.Integer(1), sp.Integer(2))
_HALF = sp.Rational(1, 2)
# probability vectors first, so that a counterexample uses targets a classifier would see
_TARGET_PAIRS = ((1, 0), (0, 1), (_HALF, _HALF), (0, 0), (1, 1), (0, _HALF), (_HALF, 0), (1, _HALF), (_HALF, 1))


def _outputs(cost):
    """The outputs P where the cost is meant to be used: (0, 1) for bce, (0, 1] for cross-entropy."""
    if cost.name == "bce":
        return tuple(v for v in _VALUES if v < 1)
    if cost.name == "cross_entropy":
        return tuple(v for v in _VALUES if v <= 1)
    return _VALUES


@cache
def cost_value(cost, a, z):
    """E(a, z) of the book's table (with its 1/n) at exact points, or None where it is undefined."""
    value = cost(list(a), list(z))
    return value if value.is_real and value.is_finite else None


def _differ(e1, e2):
    return abs(float(e1 - e2)) > 1e-12


def _fmt(vec):
    return "(" + ", ".join(str(v) for v in vec) + ")"


@cache
def is_norm_of_difference(cost):
    """Violations of 'E(P, z) is a norm of P - z' (appendix A) found on a small grid; [] if none.

    Tests, in order: E >= 0; E = 0 only when P = z; E depends on P - z alone;
    homogeneity E(z + 2v) = 2 E(z + v).  n = 2 outputs.
    """
    pairs = [(a, tuple(sp.sympify(t) for t in z)) for z in _TARGET_PAIRS
             for a in itertools.product(_outputs(cost), repeat=2)]
    found = []
    for a, z in pairs:
        e = cost_value(cost, a, z)
        if e is not None and e < 0:
            found.append(f"E < 0: P = {_fmt(a)}, z = {_fmt(z)} gives E = {e} = {float(e):.4f}")
            break
    for a, z in pairs:
        e = cost_value(cost, a, z)
        if e == 0 and tuple(a) != tuple(z):
            found.append(f"E = 0 although P != z: P = {_fmt(a)}, z = {_fmt(z)}")
            break
        if a == z and e not in (None, 0):
            found.append(f"E != 0 although P = z: P = z = {_fmt(z)} gives E = {e} = {float(e):.4f}")
            break
    for (a, z), shift in itertools.product(pairs, (sp.Rational(-1, 4), sp.Rational(1, 4))):
        a2, z2 = [v + shift for v in a], [v + shift for v in z]
        e1, e2 = cost_value(cost, tuple(a), z), cost_value(cost, tuple(a2), tuple(z2))
        if e1 is not None and e2 is not None and _differ(e1, e2):
            found.append(f"E is not a function of P - z: P = {_fmt(a)}, z = {_fmt(z)} gives {float(e1):.4f} but "
                         f"P = {_fmt(a2)}, z = {_fmt(z2)} (same P - z) gives {float(e2):.4f}")
            break
    zero = (sp.Integer(0), sp.Integer(0))
    for v in ((sp.Integer(1), sp.Integer(0)), (sp.Rational(1, 2), sp.Rational(1, 4))):
        e1 = cost_value(cost, v, zero)
        e2 = cost_value(cost, tuple(2 * c for c in v), zero)
        if e1 is not None and e2 is not None and _differ(e2, 2 * e1):
            found.append(f"homogeneity fails: E(P, z) with P - z = {_fmt(v)} is {e1} but with P - z = "
                         f"{_fmt([2 * c for c in v])} it is {e2}, not 2 * {e1}")
            break
    return found


def first_difference(left, right, symbols, candidates):
    """The first candidate point (dict) where two formulas differ, with both values; None if none differs."""
    for point in candidates:
        lv, rv = left.subs(point), right.subs(point)
        if lv.has(sp.nan, sp.zoo) or rv.has(sp.nan, sp.zoo):
            continue
        if not is_zero(lv - rv):
            return point, sp.nsimplify(lv), sp.nsimplify(rv)
    return None


_SAMPLES = (-2, -1, sp.Rational(-1, 2), sp.Rational(1, 3), 1, 2)


def equal_everywhere(left, right, symbol, samples=_SAMPLES):
    """Proved equal (:func:`symbackprop.engine.zero.is_zero`) or, for piecewise forms, equal at every sample point."""
    if is_zero(left - right):
        return True
    return all(is_zero(left.subs(symbol, s) - right.subs(symbol, s)) for s in samples)


# -- showing what was compared ------------------------------------------------------------------------
FORM_LATEX = {
    "direct": r"\frac{\partial E}{\partial %(p)s^{%(l)s}}\ \text{(SymPy's diff of the composed } E)",
    "chain": r"\frac{\partial E}{\partial a^L}\frac{\partial a^L}{\partial y^L}\cdots"
             r"\frac{\partial y^{%(l)s}}{\partial %(p)s^{%(l)s}}\ \text{(the chain, eq. 50)}",
    "outer": r"\delta^{%(l)s}\otimes s^{%(lm)s}\ \text{(the recursion, eq. 65-66)}",
}
FORM_LATEX_B = {"outer": r"\delta^{%(l)s}\ \text{(eq. 64)}"}


def form_latex(name, l, wrt="W"):
    """The book's formula for one of the three forms, for layer ``l`` ("l" for the general layer)."""
    template = FORM_LATEX_B.get(name) if wrt == "b" and name in FORM_LATEX_B else FORM_LATEX[name]
    lm = f"{l}-1" if isinstance(l, str) else str(l - 1)
    return template % {"p": wrt, "l": l, "lm": lm}


def forms_finding(spec, ls, wrts, pairs, summary, extra=None):
    """Compare forms of dE/dW^l, dE/db^l of a small network at one exact point; a holds-finding that shows
    each pair of formulas compared, the network, and the largest difference (or an error: see expect)."""
    forms = network_forms(*spec)
    worst, compared = 0.0, []
    for first, second in pairs:
        for wrt in wrts:
            diffs = [forms.max_difference(l, first, second, wrt) for l in ls]
            worst = max([worst, *diffs])
            layers = ", ".join(str(l) for l in ls)
            compared.append(Comparison(
                f"dE/d{wrt}^l, layers {layers} of {forms.spec.describe()}",
                form_latex(first, "l", wrt), form_latex(second, "l", wrt),
                "identical at every entry (a random rational point, 30 digits)" if max(diffs) == 0 else
                f"every entry at a random rational point (30 digits); largest difference {max(diffs):.1e}"))
    evidence = []
    ok = worst < 1e-20
    if extra is not None:
        more_ok, more = extra(forms)
        ok, evidence = ok and more_ok, list(more)
    return expect(ok, summary, evidence, compared=compared, values={"max_difference": worst})


def latex(expr):
    """A SymPy object in the book's notation, for $...$ (never Piecewise((...)) in a report)."""
    return sp.latex(expr)


# -- small NumPy tools of the listings -----------------------------------------------------------------
def sigmoid(y):
    return 1 / (1 + np.exp(-y))


def relu(y):
    return np.maximum(0, y)


def central(f, M, index, h=1e-6):
    """Central difference of f() in the entry ``index`` of the array M (changed in place and restored)."""
    old = M[index]
    M[index] = old + h
    up = f()
    M[index] = old - h
    down = f()
    M[index] = old
    return (up - down) / (2 * h)


def frac(values):
    return [Fraction(str(v)) for v in values]


def dot(u, v):
    """The exact dot product of two lists of decimals (as the book computes by hand)."""
    return sum(a * b for a, b in zip(frac(u), frac(v)))


def layer(m=3, n=2):
    """One n x m layer of the engine: (network, W, b, x)."""
    net = network_forms(f"{m},{n}", "sigmoid", "mse").net
    return net, net.W(1), net.b(1), net.x


# -- a small float64 network with the book's update, for the update and batch claims (eq. 74-78, 87-92) --------
def numeric_net(sizes, seed, scale=0.5):
    """Random weights and biases {l: W^l}, {l: b^l} of a network with the given sizes."""
    rng = np.random.default_rng(seed)
    W = {l: rng.normal(size=(sizes[l], sizes[l - 1])) * scale for l in range(1, len(sizes))}
    b = {l: rng.normal(size=(sizes[l], 1)) * scale for l in range(1, len(sizes))}
    return W, b


def mse_forward(W, b, S):
    """tanh hidden layers, sigmoid output, on a batch S (columns = examples): (P, [S, A^1, ..., A^L])."""
    A, signals = S, [S]
    for l in range(1, len(W) + 1):
        Y_ = W[l] @ A + b[l]
        A = sigmoid(Y_) if l == len(W) else np.tanh(Y_)
        signals.append(A)
    return A, signals


def book_batch_gradients(W, b, X, Zt):
    """eq. 65-66 per example, averaged as eq. 87-88: (1/beta) sum_j delta_j (x) s_j, (1/beta) sum_j delta_j."""
    P, signals = mse_forward(W, b, X)
    n, beta = P.shape
    delta = (2 * (P - Zt) / n) * P * (1 - P)
    grads = {}
    for l in range(len(W), 0, -1):
        grads[l] = (sum(np.outer(delta[:, j], signals[l - 1][:, j]) for j in range(beta)) / beta,
                    delta.mean(axis=1, keepdims=True))
        if l > 1:
            delta = (W[l].T @ delta) * (1 - signals[l - 1] ** 2)
    return grads


def batch_error(W, b, X, Zt):
    """E = (1/beta) sum_j E_j with E_j = (1/n) sum_i (P_ij - z_ij)^2 (eq. 86 with the MSE of the table)."""
    P, _ = mse_forward(W, b, X)
    return float(np.mean(np.mean((P - Zt) ** 2, axis=0)))
