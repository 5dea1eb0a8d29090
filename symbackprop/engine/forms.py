"""The backward pass as matrix forms: the one object every consumer reads.

The per-layer Jacobians of :mod:`symbackprop.engine.jacobians` are entries; training code and the
high-precision verification need the same mathematics as *matrix forms* over whole layers
(book sec. 2.3 and ch. 5), with the batch as columns:

    Y^l = W^l S^{l-1} + b^l 1^T                          (eq. 82)
    Delta^L = the output delta, simplified by SymPy      (eq. 54, 87)
    Delta^l = (da^l/dy^l)^T (W^{l+1})^T Delta^{l+1}      (eq. 60, 65), reduced to a fast form:
              a'(Y^l) (.) (W^{l+1})^T Delta^{l+1}        for element-wise a (a diagonal Jacobian)
              c (A (.) G - A (.) (1 1^T (A (.) G)))      for softmax, G = (W^{l+1})^T Delta^{l+1}
    dE/dW^l = (1/beta) Delta^l (S^{l-1})^T,  dE/db^l = (1/beta) Delta^l 1   (eq. 87-90)

Each form is a SymPy matrix expression over named layer matrices (``MatrixSymbol``), with one
node of our own, :class:`Elementwise`, for a scalar formula applied entry by entry.  The same
object is made explicit at concrete sizes for the exact proof (``as_explicit``), indexed with
symbolic sizes for the size-generic proof, evaluated at high precision by
:mod:`symbackprop.verification.evaluate`, and printed by the code and LaTeX printers.

>>> from symbackprop.engine.spec import NetworkSpec
>>> from symbackprop.engine.jacobians import derive
>>> d = derive(NetworkSpec.from_options("3,4,2", "tanh,sigmoid", "mse"))
>>> d[1].delta_form
HadamardProduct(Elementwise(1 - tanh(y)**2, y=Y1), W2.T*Delta2)
>>> d[1].dW_form
1/beta*Delta1*A0.T
"""
import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from symbackprop.engine.symbols import A, Y, Z

BETA = sp.Symbol("beta", integer=True, positive=True)  # examples per batch: the columns of every layer matrix


class Elementwise(MatrixExpr):
    """A scalar formula applied entry by entry: entry (i, j) is ``formula`` with each scalar symbol
    replaced by entry (i, j) of its matrix (all of one shape).

    >>> Ym = sp.MatrixSymbol("Y", 2, 1)
    >>> f = Elementwise(sp.tanh(Y), {Y: Ym})
    >>> f.shape, f.as_explicit()
    ((2, 1), Matrix([
    [tanh(Y[0, 0])],
    [tanh(Y[1, 0])]]))
    """

    def __new__(cls, formula, arguments):
        if isinstance(arguments, sp.Tuple):  # rebuilt by SymPy from args
            arguments = {p[0]: p[1] for p in arguments}
        pairs = sp.Tuple(*[sp.Tuple(s, m) for s, m in arguments.items() if formula.has(s)])
        if not pairs:  # a constant: keep one argument for the shape
            s, m = next(iter(arguments.items()))
            pairs = sp.Tuple(sp.Tuple(s, m))
        shapes = {p[1].shape for p in pairs}
        if len(shapes) != 1:
            raise ValueError(f"element-wise arguments of different shapes: {shapes}")
        return sp.Basic.__new__(cls, sp.sympify(formula), pairs)

    @property
    def formula(self):
        return self.args[0]

    @property
    def arguments(self):
        """{scalar symbol: matrix} in argument order."""
        return {p[0]: p[1] for p in self.args[1]}

    @property
    def shape(self):
        return self.args[1][0][1].shape

    def _entry(self, i, j, **kwargs):
        return self.formula.xreplace({s: m[i, j] for s, m in self.arguments.items()})

    def _eval_transpose(self):
        return Elementwise(self.formula, {s: m.T for s, m in self.arguments.items()})

    def __str__(self):
        args = ", ".join(f"{s}={m}" for s, m in self.arguments.items())
        return f"Elementwise({sp.sstr(self.formula)}, {args})"

    __repr__ = __str__
    _sympystr = lambda self, printer: str(self)


class LayerMatrices:
    """The named matrices of a network: W^l, b^l, Y^l, A^l (A^0 = X), Delta^l, Z, for a batch of beta."""

    def __init__(self, sizes, beta=BETA):
        self.sizes, self.beta = tuple(sizes), beta
        self.L = len(sizes) - 1

    def W(self, l):
        return sp.MatrixSymbol(f"W{l}", self.sizes[l], self.sizes[l - 1])

    def b(self, l):
        return sp.MatrixSymbol(f"b{l}", self.sizes[l], 1)

    def Y(self, l):
        return sp.MatrixSymbol(f"Y{l}", self.sizes[l], self.beta)

    def A(self, l):
        """A^l; A^0 is the input batch X (the signal S^0)."""
        return sp.MatrixSymbol(f"A{l}", self.sizes[l], self.beta)

    def Delta(self, l):
        return sp.MatrixSymbol(f"Delta{l}", self.sizes[l], self.beta)

    @property
    def Z(self):
        return sp.MatrixSymbol("Z", self.sizes[-1], self.beta)

    def at(self, beta):
        """The same names for another batch size (``beta = 1``: one example)."""
        return LayerMatrices(self.sizes, beta)


# -- the Jacobian of an activation as a matrix form, and its transpose applied to G ------------------
def derivative_formula(activation):
    """a'(y) as the code evaluates it: the derived a'(y), in y.

    The forms through a (sigmoid: a(1 - a), tanh: 1 - a^2) are the book's and the document shows them, but
    they lose every digit in the saturated tails (1 - a^2 is 0 in float64 once |y| > 19, where the truth is
    4 e^{-2|y|}); in y the stable rewrites of :mod:`symbackprop.engine.rewrites` keep the tails.
    """
    return activation.derivative


def jacobian_form(activation, Ym, Am):
    """da/dy for one example (n x 1 columns): diag(a'(y)), or c (diag(a) - a a^T) for softmax.

    The softmax form is read off the engine's derived entry c a_i (delta_ij - a_j)
    (:attr:`Activation.jacobian_entry`, derived for any n).  The exact verification compares the forms built
    on it with the Jacobian SymPy derives by ``Matrix.jacobian`` at concrete sizes (its (b) = (c) rows).
    """
    if activation.elementwise:
        return DiagMatrix(Elementwise(derivative_formula(activation), {Y: Ym, A: Am}))
    c = softmax_scale(activation)
    return c * (DiagMatrix(Am) - Am * Am.T)


def softmax_scale(activation):
    """c in da_i/dy_j = c a_i (delta_ij - a_j), read off the derived Jacobian entry."""
    entry, (a, i, j) = activation.jacobian_entry
    return sp.cancel(entry.subs(sp.KroneckerDelta(i, j), 1).subs(a[j], 0) / a[i])


def backward_form(activation, Ym, Am, G):
    """(da/dy)^T G column by column, in the fast form the code runs (no n x n Jacobian is built).

    Diagonal Jacobian: diag(d)^T G = d (.) G.  Softmax: (c (diag(a) - a a^T))^T g = c (a (.) g - a (a^T g)),
    with a (a^T g) = a (.) (1 1^T (a (.) g)) so that it holds column by column for a batch.
    """
    if activation.elementwise:
        return sp.HadamardProduct(Elementwise(derivative_formula(activation), {Y: Ym, A: Am}), G)
    c = softmax_scale(activation)
    n = Am.shape[0]
    AG = sp.HadamardProduct(Am, G)
    return c * (AG - sp.HadamardProduct(Am, sp.OneMatrix(n, n) * AG))


# -- the output delta ----------------------------------------------------------------------------
def output_delta_form(found, activation, cost, M):
    """Delta^L from the engine's simplified output delta (:func:`symbackprop.engine.simplify.output_delta`).

    Element-wise output: the simplified e'(a, z) a'(y) / n entry by entry.  Softmax: the simplified
    c (h_j - a_j sum_i h_i) / n with h = a e'(a, z), where the sum over outputs is 1^T H per column.
    """
    L, n = M.L, M.sizes[-1]
    Ym, Am, Zm = M.Y(L), M.A(L), M.Z
    from symbackprop.engine.simplify import N

    if activation.elementwise:
        return Elementwise(found.simplified.xreplace({N: n}), {Y: Ym, A: Am, Z: Zm})
    # The general form, valid for any targets.  SymPy's shorter (a - z)/n for cross-entropy needs
    # sum_i z_i = 1 (found.condition): code that assumed it would give wrong gradients, without a word,
    # for targets that do not sum to one, so the forms keep the sum (one column sum per batch).
    c = softmax_scale(activation)
    H = Elementwise(found.h, {A: Am, Z: Zm})
    return (c / n) * (H - sp.HadamardProduct(Am, sp.OneMatrix(n, n) * H))


def dE_da_form(cost, Am, Zm):
    """dE/da^L as a 1 x n row: e'(a_i, z_i) / n (appendix C)."""
    n = Am.shape[0]
    return (Elementwise(cost.derivative, {A: Am, Z: Zm}) / n).T


# -- the recursion and the gradients, for a whole network -----------------------------------------
def delta_form(derivation, l, M):
    """Delta^l as the code computes it (see the module docstring)."""
    if l == M.L:
        return output_delta_form(derivation.output_delta, derivation.network.activations[l],
                                 derivation.network.cost, M)
    G = M.W(l + 1).T * M.Delta(l + 1)  # (W^{l+1})^T Delta^{l+1}, eq. 60
    return backward_form(derivation.network.activations[l], M.Y(l), M.A(l), G)


def gradient_forms(l, M):
    """(dE/dW^l, dE/db^l) = ((1/beta) Delta^l (S^{l-1})^T, (1/beta) Delta^l 1) (eq. 87-90)."""
    D = M.Delta(l)
    return D * M.A(l - 1).T / M.beta, D * sp.OneMatrix(M.beta, 1) / M.beta


def explicit(form, values):
    """The form at concrete sizes with its leaves replaced by explicit matrices (a SymPy Matrix)."""
    return sp.ImmutableMatrix(form.xreplace(values).as_explicit())
