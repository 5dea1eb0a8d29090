"""Evaluation points for the numeric checks, chosen across regimes, and the forward rule at high precision.

One random point of order 1 hides errors that live elsewhere: a derivative that is wrong only for
y < -3, a rewrite that loses the saturated tail.  So every network is checked at several points:

* ``order 1``: weights ~ U(-1, 1)/sqrt(n_{l-1}), x ~ U(-1, 1), bias likewise: |y| about 1;
* ``mixed regimes`` (two seeds): the bias of each layer is chosen so that its neurons' linearities land,
  neuron by neuron, in every regime: |y| in [1e-4, 1e-2], of order 1, in the tens, both sides of
  every kink of the activation (at distances 1e-3 to 0.1), and saturated (|y| in [40, 60]).

Weights are dyadic (k / 2^20), so the exact products of :mod:`symbackprop.verification.evaluate` apply, and the
same point is exactly representable in float64 for the float64 witness.

>>> from symbackprop.engine.spec import NetworkSpec
>>> from symbackprop.engine.network import Network
>>> p = make_point(Network(NetworkSpec.from_options("3,4,2", "relu,sigmoid", "mse")), "mixed regimes", 0, 1, 200)
>>> sorted(p.W), p.X.shape, p.Z.shape
([1, 2], (3, 1), (2, 1))
"""
import math
import random
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from symbackprop.engine.symbols import A, Y
from symbackprop.engine.symbols import Z as _Z
from symbackprop.verification.evaluate import Dyadic, Fixed, elementwise, scalar_function

P_BITS = 20  # weights and biases are multiples of 2^-20
REGIMES = ("order 1", "mixed regimes", "mixed regimes")


@dataclass
class Point:
    """W^l, b^l (Dyadic), X and Z (Fixed, beta columns), and where it came from."""

    name: str
    W: dict
    b: dict
    X: Fixed
    Z: Fixed
    F: int

    @property
    def beta(self):
        return self.X.shape[1]


def kinks(activation):
    """Where a'(y) jumps or is undefined: 0 for every built-in with a kink, and the numbers in the
    conditions of Piecewise, Heaviside, Max, Min, Abs and sign of a custom formula."""
    if not activation.elementwise:
        return []
    found = set()
    f = activation.formula
    for node in sp.preorder_traversal(f):
        if isinstance(node, sp.Piecewise):
            for _, cond in node.args:
                if isinstance(cond, sp.core.relational.Relational):
                    found |= _roots(cond.lhs - cond.rhs)
        elif isinstance(node, (sp.Heaviside, sp.Abs, sp.sign)):
            found |= _roots(node.args[0])
        elif isinstance(node, (sp.Max, sp.Min)):  # max(-1, min(1, y)): the pieces -1, 1, y meet at -1 and 1
            pieces = sorted(_pieces(node), key=sp.default_sort_key)
            for i, u in enumerate(pieces):
                for v in pieces[i + 1:]:
                    found |= _roots(u - v)
    return sorted(found)


def _pieces(expr):
    """The expressions a nest of Max and Min chooses among."""
    if isinstance(expr, (sp.Max, sp.Min)):
        return set().union(*(_pieces(a) for a in expr.args))
    return {expr}


def _roots(expr):
    if expr.free_symbols != {Y} or not expr.is_polynomial(Y) or sp.degree(expr, Y) != 1:
        return set()
    root = sp.solve(expr, Y)[0]
    return {float(root)} if root.is_real else set()


def _dyadic(x):
    return round(x * 2 ** P_BITS) / 2 ** P_BITS


def _target(rng, kink_points):
    """One linearity drawn from the regimes of the module docstring."""
    regime = rng.randrange(5)
    sign = rng.choice((-1, 1))
    if regime == 0:
        return sign * 10 ** rng.uniform(-4, -2)
    if regime == 1:
        return rng.uniform(-2, 2)
    if regime == 2:
        return sign * rng.uniform(10, 40)
    if regime == 3 and kink_points:
        return rng.choice(kink_points) + sign * 10 ** rng.uniform(-3, -1)
    return sign * rng.uniform(40, 60)


def make_point(network, regime, seed, beta, F):
    """A point of the given regime (see the module docstring) for ``beta`` examples."""
    rng = random.Random(f"{seed}-{regime}-{beta}")
    np_rng = np.random.default_rng(rng.randrange(2 ** 32))
    sizes, L = network.sizes, network.L
    X = [[_dyadic(rng.uniform(-1, 1)) for _ in range(beta)] for _ in range(sizes[0])]
    Xf = Fixed.from_values(X, F)
    W, b, S = {}, {}, Xf
    for l in range(1, L + 1):
        n, m = sizes[l], sizes[l - 1]
        scale = 1 / math.sqrt(m)
        reach = round(scale * 2 ** P_BITS)  # W^l ~ U(-1, 1) / sqrt(n_{l-1}), on the grid 2^-20
        W[l] = Dyadic(np_rng.integers(-reach, reach + 1, size=(n, m)).astype(float), P_BITS)
        if regime == "order 1":
            b[l] = Dyadic(np.array([[round(rng.uniform(-1, 1) * scale * 2 ** P_BITS)] for _ in range(n)],
                                   dtype=float), P_BITS)
        else:  # b = target - (W s of the first example), rounded to the grid
            act = network.activations[l]
            ks = kinks(act)
            Ws = (W[l] @ Fixed(S.v[:, :1], F)).to_mpf()
            with mpmath.workprec(F + 64):
                b[l] = Dyadic(np.array([[round((_target(rng, ks) - float(Ws[i, 0])) * 2 ** P_BITS)]
                                        for i in range(n)], dtype=float), P_BITS)
        S = activate(network.activations[l], linear(W[l], b[l], S), F)
    z = [[rng.uniform(0.05, 0.95) for _ in range(beta)] for _ in range(sizes[L])]
    if not network.activations[L].elementwise and regime == "order 1":  # a probability vector here; the forms
        # must not assume it, so the other points keep targets that do not sum to 1
        from fractions import Fraction

        z = [[Fraction(z[i][c]) / sum(Fraction(z[k][c]) for k in range(sizes[L])) for c in range(beta)]
             for i in range(sizes[L])]
    return Point(regime, W, b, Xf, Fixed.from_values(z, F), F)


# -- the forward rule (eq. 82, 11, 86), at any precision --------------------------------------------
def linear(W, b, S):
    """Y = W S + b 1^T, exact before rounding to S's grid."""
    Y_ = W @ S
    return Y_ + Fixed(np.broadcast_to(b.fixed(S.F).v, Y_.shape), S.F)


def activate(activation, Yf, F):
    """A = a(Y): the activation's own formula, entry by entry (softmax: column by column)."""
    if activation.elementwise:
        return elementwise(activation.formula, (Y,), [Yf.at(F)], F)
    T = activation.temperature
    values = Yf.to_mpf()
    out = np.empty(values.shape, dtype=object)
    with mpmath.workprec(F + 64):
        for c in range(values.shape[1]):
            column = values[:, c]
            top = max(column)
            exps = [mpmath.exp((v - top) / mpmath.mpf(T)) for v in column]  # a_i = e^{y_i/T} / sum_k e^{y_k/T}
            total = mpmath.fsum(exps)
            for i, e in enumerate(exps):
                out[i, c] = e / total
    return Fixed(out, F)


def forward(network, point, F=None, start=1, Y_start=None, signals=None, perturb=None):
    """(Y, A) dicts for layers start..L; from layer ``start`` with its linearity ``Y_start`` when given.

    ``perturb`` = {l: (u, v, w, h)} moves W^l by h u v^T and b^l by h w: y^l gains h (u (v^T s) + w 1^T).
    """
    F = F or point.F
    Ys, As = {}, {0: point.X.at(F)}
    if signals:
        As.update(signals)
    for l in range(start, network.L + 1):
        S = As[l - 1].at(F)
        Ys[l] = Y_start if (l == start and Y_start is not None) else linear(point.W[l], point.b[l], S)
        if perturb and l in perturb:
            u, v, w, h = perturb[l]
            move = u.matmul(v.T.matmul(S)) + Fixed(np.broadcast_to(w.v, Ys[l].shape).copy(), F)
            Ys[l] = Ys[l] + move.times(h)
        As[l] = activate(network.activations[l], Ys[l], F)
    return Ys, As


def error(network, A_out, Zf, F):
    """E = (1/beta) sum over examples of (1/n) sum_i e(a_i, z_i) (eq. 86), as an mpmath number."""
    e = scalar_function(network.cost.term, (A, _Z))
    a, z = A_out.to_mpf(), Zf.at(A_out.F).to_mpf()
    with mpmath.workprec(F + 64):
        total = mpmath.fsum(mpmath.mpmathify(e(a[idx], z[idx])) for idx in np.ndindex(a.shape))
        return total / (a.shape[0] * a.shape[1])
