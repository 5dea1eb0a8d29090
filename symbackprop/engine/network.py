"""The symbolic perceptron at concrete sizes: symbols, forward expressions, composed E.

Book eq. 6 (y = W x + b), eq. 11 (a = a(y)), eq. 46-49 (the layers composed):

    s^0 = x,   y^l = W^l s^{l-1} + b^l,   a^l = a(y^l),   s^l = a^l,   E = E(a^L, z)

so that E(a^L(y^L(...a^1(y^1(x))))).  Symbols are explicit SymPy scalars:
``w{l}_{i}_{j}`` is w^l_ij (row i = neuron i), ``b{l}_{i}``, ``x{j}``, ``z{i}``.
The *local* symbols ``y{l}_{i}`` and ``a{l}_{i}`` stand for y^l_i and a^l_i
inside the per-layer derivation (module :mod:`symbackprop.engine.jacobians`); the
composed expressions replace them by what they are.

Symbols are made lazily: the book's 784-128-64-10 network has 109,386
parameters, and nothing here creates them until asked.

>>> from symbackprop.engine.spec import NetworkSpec
>>> net = Network(NetworkSpec.from_options("2,1", "sigmoid", "mse"))
>>> net.W(1), net.b(1).T, net.x.T
(Matrix([[w1_1_1, w1_1_2]]), Matrix([[b1_1]]), Matrix([[x1, x2]]))
>>> net.error()
(-z1 + 1/(exp(-b1_1 - w1_1_1*x1 - w1_1_2*x2) + 1))**2
"""
from functools import cache, cached_property

import sympy as sp

from symbackprop.errors import SizeError

#: Above this many terms in the composed forward expressions, explicit expansion is refused.
EXPLICIT_TERM_LIMIT = 20_000


@cache
def _symbol(name):
    return sp.Symbol(name, real=True)


class Network:
    """A multi-layer perceptron of the spec's sizes, in explicit SymPy symbols."""

    def __init__(self, spec):
        self.spec = spec
        self.sizes = spec.sizes
        self.L = spec.depth
        self.activations = (None, *spec.activations)  # activations[l] for layers 1..L
        self.cost = spec.cost
        self._W, self._b = {}, {}

    def __repr__(self):
        return f"Network({self.spec.describe()})"

    # -- symbols --------------------------------------------------------------
    def n(self, l):
        """n_l, the number of neurons of layer l (n_0 = size of x)."""
        return self.sizes[l]

    def W(self, l):
        """W^l, n_l x n_{l-1}: entry (i, j) is w^l_ij (row i is neuron i, eq. 1)."""
        if l not in self._W:
            self._W[l] = sp.ImmutableMatrix(
                self.n(l), self.n(l - 1), lambda i, j: _symbol(f"w{l}_{i + 1}_{j + 1}")
            )
        return self._W[l]

    def b(self, l):
        """b^l, n_l x 1 (eq. 2)."""
        if l not in self._b:
            self._b[l] = sp.ImmutableMatrix(self.n(l), 1, lambda i, j: _symbol(f"b{l}_{i + 1}"))
        return self._b[l]

    @cached_property
    def x(self):
        return sp.ImmutableMatrix(self.n(0), 1, lambda i, j: _symbol(f"x{i + 1}"))

    @cached_property
    def z(self):
        return sp.ImmutableMatrix(self.n(self.L), 1, lambda i, j: _symbol(f"z{i + 1}"))

    def y_local(self, l):
        """Local symbols y^l_1..y^l_n standing for the linearity of layer l."""
        return sp.ImmutableMatrix(self.n(l), 1, lambda i, j: _symbol(f"y{l}_{i + 1}"))

    def a_local(self, l):
        """Local symbols a^l_1..a^l_n standing for the activation of layer l."""
        return sp.ImmutableMatrix(self.n(l), 1, lambda i, j: _symbol(f"a{l}_{i + 1}"))

    def s_local(self, l):
        """The signal entering layer l + 1 as local symbols: x for l = 0, else a^l."""
        return self.x if l == 0 else self.a_local(l)

    def delta_local(self, l):
        """Local symbols delta^l_i = dE/dy^l_i (the recursion's memory, eq. 57-60)."""
        return sp.ImmutableMatrix(self.n(l), 1, lambda i, j: _symbol(f"delta{l}_{i + 1}"))

    def params(self, l):
        """The trainable symbols of layer l: (W^l entries row by row, b^l entries)."""
        return list(self.W(l)), list(self.b(l))

    @property
    def n_params(self):
        return self.spec.n_params

    # -- forward, composed ----------------------------------------------------
    def _check_explicit(self, batch=1):
        terms = sum(m * n for m, n in zip(self.sizes, self.sizes[1:])) * batch
        if terms > EXPLICIT_TERM_LIMIT:
            raise SizeError(
                f"the composed expressions of {self.spec.describe()} would hold about {terms:,} products; "
                f"explicit expansion is limited to {EXPLICIT_TERM_LIMIT:,}. Use the per-layer derivation "
                f"(derive) and the high-precision verification instead"
            )

    @cached_property
    def forward(self):
        """Composed (y^l, a^l) for l = 1..L in the parameters and x (lists of column matrices).

        Index 0 holds (None, x) so that ``forward[l - 1][1]`` is s^{l-1}.
        """
        self._check_explicit()
        layers = [(None, self.x)]
        for l in range(1, self.L + 1):
            s = layers[-1][1]
            y = self.W(l) * s + self.b(l)  # eq. 6
            a = sp.ImmutableMatrix(self.activations[l](list(y)))  # eq. 11
            layers.append((y, a))
        return layers

    def error(self):
        """The composed E(a^L(y^L(...a^1(y^1(x))))) for one example (eq. 49)."""
        return self.cost(self.forward[self.L][1], self.z)

    def composed_substitution(self):
        """{local symbol: composed expression} for every y^l_i and a^l_i."""
        mapping = {}
        for l in range(1, self.L + 1):
            y, a = self.forward[l]
            mapping.update(zip(self.y_local(l), y))
            mapping.update(zip(self.a_local(l), a))
        return mapping

    # -- batches (book ch. 5) -------------------------------------------------
    def X(self, beta):
        """The batch X: beta examples as columns, entry (j, c) is x_j of example c."""
        return sp.ImmutableMatrix(self.n(0), beta, lambda j, c: _symbol(f"x{j + 1}_{c + 1}"))

    def Z(self, beta):
        return sp.ImmutableMatrix(self.n(self.L), beta, lambda i, c: _symbol(f"z{i + 1}_{c + 1}"))

    def B(self, l, beta):
        """B^l = b^l [1 1 ... 1]: beta identical columns (eq. 81)."""
        return self.b(l) * sp.ones(1, beta)

    def batch_forward(self, beta):
        """Composed (Y^l, A^l), l = 1..L, for a batch of beta examples (eq. 80-85)."""
        self._check_explicit(beta)
        layers = [(None, self.X(beta))]
        for l in range(1, self.L + 1):
            S = layers[-1][1]
            Y = self.W(l) * S + self.B(l, beta)  # eq. 82
            cols = [self.activations[l](list(Y[:, c])) for c in range(beta)]
            A = sp.ImmutableMatrix(self.n(l), beta, lambda i, c, cols=cols: cols[c][i])
            layers.append((Y, A))
        return layers

    def batch_error(self, beta):
        """E = (1/beta) sum_c E(A^L[:, c], Z[:, c]) (eq. 86)."""
        A, Z = self.batch_forward(beta)[self.L][1], self.Z(beta)
        return sp.Add(*[self.cost(A[:, c], Z[:, c]) for c in range(beta)]) / beta


def latex_name(symbol):
    """Book notation for a symbol name: w1_2_3 -> w^{1}_{23}, y2_1 -> y^{2}_{1}.

    >>> latex_name(sp.Symbol("w1_2_3")), latex_name(sp.Symbol("x4")), latex_name(sp.Symbol("delta2_1"))
    ('w^{1}_{2,3}', 'x_{4}', '\\\\delta^{2}_{1}')
    """
    import re

    name = symbol.name
    m = re.fullmatch(r"(w|b|y|a|delta)(\d+)_(\d+)(?:_(\d+))?", name)
    if m:
        base, l, i, j = m.groups()
        base = "\\delta" if base == "delta" else base
        return f"{base}^{{{l}}}_{{{i}{',' + j if j else ''}}}"
    m = re.fullmatch(r"(x|z)(\d+)(?:_(\d+))?", name)
    if m:
        base, i, c = m.groups()
        return f"{base}_{{{i}}}" if c is None else f"{base}_{{{i}}}^{{({c})}}"
    return sp.latex(symbol)
