"""The per-layer derivatives of the book, and their assembly into dE/dW^l, dE/db^l.

For layer l with incoming signal s = s^{l-1} (n_l neurons, m = n_{l-1} inputs):

* dE/da^L               1 x n_L row, from the cost (appendix C, table 3.5)
* da^l/dy^l             n_l x n_l, diagonal a'(y_i) or full for softmax (eq. 14)
* dy^l/dW^l             the *column-vector of matrices* (eq. 16-17): n_l entries,
                        entry i is n_l x m, zero except row i = s^T
* dy^l/db^l = I         (eq. 19)
* dy^{l+1}/da^l = W^{l+1}  (eq. 41)

The long chain (eq. 50-51) multiplies them; the recursion (eq. 57-60, 65)

    delta^L = (dE/da^L  da^L/dy^L)^T,      delta^l = (da^l/dy^l)^T (W^{l+1})^T delta^{l+1}

reduces it to the outer products dE/dW^l = delta^l (x) s^{l-1}, dE/db^l = delta^l
(eq. 66-68, 76).  All entries are SymPy expressions in *local* symbols
(y^l_i, a^l_i, delta^l_i, w^l_ij, x_j, z_i), so a layer is derived without
expanding the composed error; large matrices are built only when asked for.

>>> from symbackprop.engine.spec import NetworkSpec
>>> d = derive(NetworkSpec.from_options("3,2", "sigmoid", "mse"))
>>> d[1].dy_dW[0]
Matrix([
[x1, x2, x3],
[ 0,  0,  0]])
>>> d[1].dE_da
Matrix([[a1_1 - z1, a1_2 - z2]])
>>> d[1].delta[0]  # the simplified output delta: 2 (a - z) a (1 - a) / n with n = 2
a1_1*(-a1_1 + z1)*(a1_1 - 1)
"""
from functools import cached_property

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix

from symbackprop.engine import forms
from symbackprop.engine.network import Network, latex_name
from symbackprop.engine.symbols import Y as _Y


class ColumnOfMatrices:
    """The book's column-vector of matrices dy/dW (eq. 16-17).

    It has n entries; entry i (0-based here, i + 1 in the book) is the n x m
    matrix dy_i/dW, zero except its row i, which is s^T.  A 1 x n row r times
    it is the sum of r_i times entry i (eq. 18), an n x m matrix.

    >>> s = sp.Matrix(sp.symbols('x1 x2'))
    >>> dy_dW = ColumnOfMatrices(s, 2)
    >>> dy_dW
    ColumnOfMatrices(2 entries of 2 x 2; entry i has row i = [x1, x2])
    >>> r = sp.Matrix([[sp.Symbol('d1'), sp.Symbol('d2')]])
    >>> r * dy_dW
    Matrix([
    [d1*x1, d1*x2],
    [d2*x1, d2*x2]])
    """

    _op_priority = 20  # so that Matrix * ColumnOfMatrices reaches __rmul__

    def __init__(self, s, n):
        self.s = s if isinstance(s, sp.MatrixExpr) else sp.ImmutableMatrix(s)
        self.n = n
        self.m = self.s.shape[0]

    @property
    def shape(self):
        """(n, (n, m)): n entries, each an n x m matrix."""
        return (self.n, (self.n, self.m))

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        """Entry i: dy_i/dW, zero except row i = s^T (appendix B)."""
        if not -self.n <= i < self.n:
            raise IndexError(f"entry {i} of a column of {self.n} matrices")
        row, values = self.nonzero(i % self.n)
        entry = sp.zeros(self.n, self.m)
        entry[row, :] = sp.ImmutableMatrix(values.as_explicit() if isinstance(values, sp.MatrixExpr) else values)
        return entry

    def nonzero(self, i):
        """Entry i's only nonzero row and what stands there: (i, s^T) (eq. 16-17)."""
        return i, self.s.T

    def __iter__(self):
        return (self[i] for i in range(self.n))

    def __rmul__(self, row):
        """r . dy/dW = sum_i r_i (dy_i/dW): the literal sum of the book's eq. 18."""
        row = sp.Matrix(row)
        if row.shape != (1, self.n):
            raise ValueError(f"a 1 x {self.n} row multiplies this column of matrices, got {row.shape}")
        total = sp.zeros(self.n, self.m)
        for i, entry in enumerate(self):
            total += row[0, i] * entry
        return total

    def __repr__(self):
        if isinstance(self.s, sp.MatrixSymbol):
            return f"ColumnOfMatrices({self.n} entries of {self.n} x {self.m}; entry i has row i = {self.s}^T)"
        return (
            f"ColumnOfMatrices({self.n} entries of {self.n} x {self.m}; "
            f"entry i has row i = [{', '.join(map(str, self.s[:3]))}{', ...' if self.m > 3 else ''}])"
        )

    def latex(self, explicit_max=4, symbol_names=None):
        """LaTeX as the book shows it: a column whose entries are matrices."""
        names = symbol_names or _names(self.s)
        if self.n <= explicit_max and self.m <= explicit_max:
            cells = [sp.latex(entry, symbol_names=names, mat_delim="[") for entry in self]
            return r"\begin{bmatrix}" + r" \\[4pt] ".join(cells) + r"\end{bmatrix}"
        s = ", ".join(names.get(v, sp.latex(v)) for v in self.s[:2])
        return (
            r"\begin{bmatrix} \partial y_1/\partial W \\ \vdots \\ \partial y_i/\partial W \\ \vdots \\"  # noqa: UP031
            r" \partial y_{%d}/\partial W \end{bmatrix},\quad \frac{\partial y_i}{\partial W} = "
            r"\begin{bmatrix} 0 & \cdots & 0 \\ %s, \cdots & & \\ 0 & \cdots & 0 \end{bmatrix}"
            r"\ \text{(row $i$; %d entries of size $%d\times %d$)}" % (self.n, s, self.n, self.n, self.m)
        )

    def _repr_latex_(self):
        return f"$\\displaystyle {self.latex()}$"


def _names(*matrices):
    return {v: latex_name(v) for m in matrices for v in m.free_symbols}


class LayerDerivation:
    """Every derivative of layer l, as the book writes it, in local symbols."""

    def __init__(self, derivation, l):
        self.derivation = derivation
        self.network = net = derivation.network
        self.l = l
        self.activation = net.activations[l]
        self.n, self.m = net.n(l), net.n(l - 1)
        self.y, self.a, self.s = net.y_local(l), net.a_local(l), net.s_local(l - 1)
        self.is_output = l == net.L

    # -- the per-layer Jacobians ------------------------------------------------
    @cached_property
    def da_dy_diagonal(self):
        """a'(y_i), i = 1..n: the diagonal of da/dy (element-wise activations only)."""
        d = self.activation.derivative
        with sp.evaluate(False):  # a renaming y -> y^l_i of a derived formula: nothing to re-evaluate
            return [d.xreplace({_Y: yi}) for yi in self.y]

    @cached_property
    def da_dy(self):
        """da^l/dy^l (eq. 14): diagonal for element-wise a, full for softmax."""
        if self.activation.elementwise:
            n = self.n
            return sp.ImmutableSparseMatrix(n, n, {(i, i): v for i, v in enumerate(self.da_dy_diagonal)})
        return sp.ImmutableMatrix(self.activation.jacobian(list(self.y)))

    @cached_property
    def dy_dW(self):
        """dy^l/dW^l, the column-vector of matrices (eq. 16-17)."""
        return ColumnOfMatrices(self.s, self.n)

    @cached_property
    def dy_db(self):
        """dy^l/db^l = I (eq. 19)."""
        return sp.eye(self.n)

    @property
    def dy_ds(self):
        """dy^l/ds^{l-1} = W^l (eq. 41): how this layer's linearity moves with its input."""
        return self.network.W(self.l)

    @cached_property
    def dE_da(self):
        """dE/da^L, a 1 x n_L row (output layer only)."""
        if not self.is_output:
            raise AttributeError(f"dE/da^l is a chain product for l < L; layer {self.l} is not the output")
        return self.network.cost.gradient(self.a, self.network.z)

    # -- the recursion and the outer-product reduction -------------------------
    # -- the matrix forms every consumer reads (symbackprop.engine.forms) ------------------
    @cached_property
    def delta_form(self):
        """Delta^l as a matrix form over the batch: the recursion as the code runs it (forms.delta_form)."""
        return forms.delta_form(self.derivation, self.l, self.derivation.matrices)

    @cached_property
    def gradient_forms(self):
        """(dE/dW^l, dE/db^l) = ((1/beta) Delta^l (S^{l-1})^T, (1/beta) Delta^l 1) (eq. 87-90)."""
        return forms.gradient_forms(self.l, self.derivation.matrices)

    @property
    def dW_form(self):
        return self.gradient_forms[0]

    @property
    def db_form(self):
        return self.gradient_forms[1]

    def jacobian_form(self, M):
        """da^l/dy^l for one example as a matrix form, with a'(y) as derived (in y): the chain's factor."""
        if self.activation.elementwise:
            return DiagMatrix(forms.Elementwise(self.activation.derivative, {_Y: M.Y(self.l)}))
        return forms.jacobian_form(self.activation, M.Y(self.l), M.A(self.l))

    def column_form(self, M):
        """dy^l/dW^l as the column-vector of matrices over the symbol of s^{l-1} (for evaluation)."""
        return ColumnOfMatrices(M.A(self.l - 1), self.n)

    @cached_property
    def delta(self):
        """delta^l = (dE/dy^l)^T, n x 1, in local symbols (eq. 54, 60, 65): :attr:`delta_form` for one example.

        For l < L it is written with the next layer's delta^{l+1}_k as symbols.
        """
        net, M = self.network, self.derivation.matrices.at(1)
        values = {M.Y(self.l): self.y, M.A(self.l): self.a}
        if self.is_output:
            values[M.Z] = net.z
        else:
            values[M.W(self.l + 1)] = net.W(self.l + 1)
            values[M.Delta(self.l + 1)] = net.delta_local(self.l + 1)
        form = self.delta_form.xreplace({forms.BETA: 1})
        return forms.explicit(form, values)

    @cached_property
    def dE_dW(self):
        """dE/dW^l = delta^l (x) s^{l-1} = delta^l s^T (eq. 66-68, 76), with delta^l as symbols."""
        return self.network.delta_local(self.l) * self.s.T

    @cached_property
    def dE_db(self):
        """dE/db^l = delta^l (eq. 64, 72-73)."""
        return self.network.delta_local(self.l)

    def _repr_latex_(self):
        from symbackprop.latex.printing import layer_latex

        return layer_latex(self)

    def __repr__(self):
        kind = "diagonal" if self.activation.elementwise else "full"
        return (
            f"LayerDerivation(l={self.l}, {self.activation.label()}, W {self.n}x{self.m}, "
            f"da/dy {kind} {self.n}x{self.n})"
        )


class Derivation:
    """The whole derivation of a network: one :class:`LayerDerivation` per layer.

    ``derivation[l]`` is layer l (1 = first hidden, L = output).
    """

    def __init__(self, network):
        self.network = network
        self.spec = network.spec
        self.L = network.L
        self.matrices = forms.LayerMatrices(network.sizes)  # W^l, Y^l, A^l, Delta^l, Z as named matrices
        self.layers = {l: LayerDerivation(self, l) for l in range(1, self.L + 1)}
        self._unrolled = {}  # l -> delta^l with the recursion unrolled (see delta_expanded)

    def __getitem__(self, l):
        if l not in self.layers:
            raise IndexError(f"layers are numbered 1..{self.L}, got {l}")
        return self.layers[l]

    def __iter__(self):
        return (self.layers[l] for l in range(1, self.L + 1))

    def __len__(self):
        return self.L

    def chain_factors(self, l):
        """The factors of the long chain for dE/dW^l, left to right (eq. 50-51):

        dE/da^L, da^L/dy^L, W^L, da^{L-1}/dy^{L-1}, ..., W^{l+1}, da^l/dy^l, dy^l/dW^l
        """
        factors = [self[self.L].dE_da]
        for k in range(self.L, l, -1):
            factors += [self[k].da_dy, self.network.W(k)]
        return factors + [self[l].da_dy, self[l].dy_dW]

    def chain_product(self, l, wrt="W"):
        """The long chain multiplied out, left to right, with no reuse between layers."""
        factors = self.chain_factors(l)
        row = factors[0]
        for f in factors[1:-1]:
            row = row * f
        return row * (factors[-1] if wrt == "W" else self[l].dy_db)

    def delta_expanded(self, l):
        """delta^l in local symbols of layers l..L only (the recursion unrolled; each layer unrolled once)."""
        if l not in self._unrolled:
            delta = self[l].delta
            if l < self.L:
                delta = delta.xreplace(dict(zip(self.network.delta_local(l + 1), self.delta_expanded(l + 1))))
            self._unrolled[l] = delta
        return self._unrolled[l]

    def outer_gradient(self, l, wrt="W"):
        """dE/dW^l = delta^l s^T or dE/db^l = delta^l, with delta unrolled (eq. 66, 76)."""
        delta = self.delta_expanded(l)
        return delta * self[l].s.T if wrt == "W" else delta

    @cached_property
    def output_delta(self):
        """The engine's simplification of delta^L for this activation/cost pair."""
        from symbackprop.engine.simplify import output_delta

        return output_delta(self[self.L].activation, self.network.cost)

    def verify(self, **options):
        """Check (a) direct = (b) chain = (c) outer: see :func:`symbackprop.verification.verify.verify`."""
        from symbackprop.verification.verify import verify

        return verify(self, **options)

    def _repr_latex_(self):
        from symbackprop.latex.printing import derivation_latex

        return derivation_latex(self)

    def __repr__(self):
        return f"Derivation({self.spec.describe()})"


def derive(spec_or_network):
    """Build the per-layer derivation of a network (from a spec or a :class:`Network`)."""
    network = spec_or_network if isinstance(spec_or_network, Network) else Network(spec_or_network)
    return Derivation(network)
