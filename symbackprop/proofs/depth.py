"""Depths 1..6 checked directly: the composed error itself, differentiated by SymPy.

:class:`ComposedNetwork` writes the error of an L-layer perceptron as nested
``Sum``s with symbolic sizes n0..nL, undefined activations f1..fL and an
undefined cost term e.  :func:`prove_depth` differentiates it by every W^l_rc and
b^l_r (SymPy's own chain rule through the nested sums, nothing assumed) and
compares with delta^l_r s^{l-1}_c, delta from the base case and the recursion.
These proofs are per depth; every depth is the induction of
:mod:`symbackprop.proofs.induction`.

>>> prove_depth(2).verdict
'proved under condition 1 <= r1 <= n1, 1 <= c1 <= n0, 1 <= r2 <= n2, 1 <= c2 <= n1'
>>> prove_depth(2, derivative=False).verdict      # the hidden layer's f1' left out of delta^1
'not proved'
"""
import time

import sympy as sp

from symbackprop.errors import SymbackpropError
from symbackprop.proofs.calculus import canonical_derivatives, cost_prime, prime
from symbackprop.proofs.proof import Proof, decide
from symbackprop.proofs.reduction import INDEX


class ComposedNetwork:
    """The composed error of an L-layer perceptron with symbolic sizes n0..nL, as nested Sums.

    Activations f1..fL and the cost term e are undefined functions, so a proof
    holds for every activation and cost of that shape.  ``y(l, index)`` is the
    explicit nested form; ``Y(l)[index]`` is the opaque name y^l_index.
    """

    def __init__(self, L):
        if isinstance(L, bool) or not isinstance(L, int) or not 1 <= L <= 6:
            raise SymbackpropError(f"depth must be an integer from 1 to 6, got {L!r}")
        self.L = L
        self.sizes = sp.symbols(f"n0:{L + 1}", **INDEX)
        self.index = sp.symbols(f"i0:{L + 1}", **INDEX)  # the summation index of layer l's neurons
        self.W = [None] + [sp.IndexedBase(f"W{l}") for l in range(1, L + 1)]
        self.b = [None] + [sp.IndexedBase(f"b{l}") for l in range(1, L + 1)]
        self.f = [None] + [sp.Function(f"f{l}") for l in range(1, L + 1)]
        self.Y = [None] + [sp.IndexedBase(f"y{l}") for l in range(1, L + 1)]
        self.x, self.z, self.e = sp.IndexedBase("x"), sp.IndexedBase("z"), sp.Function("e")

    def s(self, l, index, opaque=False):
        """s^l_index: x for l = 0, else f_l(y^l_index)."""
        if l == 0:
            return self.x[index]
        return self.f[l](self.Y[l][index] if opaque else self.y(l, index))

    def y(self, l, index, opaque=False):
        """y^l_index = Sum_j W^l[index, j] s^{l-1}_j + b^l[index] (with opaque y^{l-1} if asked)."""
        inner = self.index[l - 1]
        return sp.Sum(self.W[l][index, inner] * self.s(l - 1, inner, opaque), (inner, 1, self.sizes[l - 1])) \
            + self.b[l][index]

    def error(self):
        L, last = self.L, self.index[self.L]
        return sp.Sum(self.e(self.s(L, last), self.z[last]), (last, 1, self.sizes[L])) / self.sizes[L]

    def opaque(self, expr):
        """Name each y^l subexpression y^l[index] (bottom-up, so inner layers first), then derivatives."""
        def is_y(e):
            if not isinstance(e, sp.Add):
                return False
            for l in range(1, self.L + 1):
                for term in e.args:
                    if isinstance(term, sp.Indexed) and term.base == self.b[l] and e == self.y(l, term.indices[0], True):
                        return True
            return False

        def name(e):
            term = next(t for t in e.args if isinstance(t, sp.Indexed) and t.base in self.b)
            return self.Y[self.b.index(term.base)][term.indices[0]]

        return canonical_derivatives(expr.replace(is_y, name))

    def delta(self, l, index, transpose=True, derivative=True):
        """The claimed delta^l_index: the base case at L, the recursion below (opaque names).

        ``transpose=False`` (W^{l+1} for its transpose) and ``derivative=False`` (no
        f_l' in the hidden layers) give wrong claims.
        """
        if l == self.L:
            a = self.s(l, index, opaque=True)
            return cost_prime(self.e, a, self.z[index]) * prime(self.f[l], self.Y[l][index]) / self.sizes[l]
        nxt = self.index[l + 1]
        weight = self.W[l + 1][nxt, index] if transpose else self.W[l + 1][index, nxt]
        back = sp.Sum(weight * self.delta(l + 1, nxt, transpose, derivative), (nxt, 1, self.sizes[l + 1]))
        return (prime(self.f[l], self.Y[l][index]) if derivative else 1) * back


def prove_depth(L, transpose=True, swap_outer=False, derivative=True):
    """Differentiate the composed E of depth L by every W^l_rc and b^l_r; compare with delta^l_r s^{l-1}_c.

    ``transpose=False`` (recursion without the transpose), ``derivative=False``
    (no f_l' in the recursion) and ``swap_outer=True`` (delta_c s_r) are wrong
    claims, kept to show that the prover can fail.
    """
    started = time.perf_counter()
    net = ComposedNetwork(L)
    E = net.error()
    rows = sp.symbols(f"r1:{L + 1}", **INDEX)
    cols = sp.symbols(f"c1:{L + 1}", **INDEX)
    proof = Proof(f"depth {L}, checked directly: composed error vs delta / outer-product form",
                  f"for the {L}-layer perceptron (depth {L} only) with sizes n0..n{L} symbolic, undefined "
                  f"activations f1..f{L} and cost term e, the composed error differentiated by SymPy: "
                  "dE/dW^l_rc = delta^l_r s^{l-1}_c and dE/db^l_r = delta^l_r for every layer l",
                  r"\frac{\partial E}{\partial W^l_{rc}} = \delta^l_r s^{l-1}_c,\ "
                  r"\frac{\partial E}{\partial b^l_r} = \delta^l_r,\ " + f"l = 1..{L}")
    proof.depth = L
    if not transpose or swap_outer or not derivative:
        proof.statement += "  [WRONG CLAIM]"
    proof.steps.append(("the composed error (nested sums)", sp.Eq(sp.Symbol("E"), E)))
    proof.steps.append(("after sp.diff, each y^l subexpression is named y^l[index], and SymPy's Derivative/Subs "
                        + "objects of f_l and e are named f_l' and e_a (a consistent renaming)", None))
    claims, ranges = [], {}
    for l in range(1, L + 1):
        R, C = rows[l - 1], cols[l - 1]
        ranges.update({R: (1, net.sizes[l]), C: (1, net.sizes[l - 1])})
        delta_R = net.delta(l, C if swap_outer else R, transpose, derivative)
        s_C = net.s(l - 1, R if swap_outer else C, opaque=True)
        claims.append((f"dE/dW{l}[{R},{C}]", net.opaque(sp.diff(E, net.W[l][R, C])), delta_R * s_C))
        claims.append((f"dE/db{l}[{R}]", net.opaque(sp.diff(E, net.b[l][R])),
                       net.delta(l, R, transpose, derivative)))
    return decide(proof, claims, ranges, started)
