"""Calculus on generic functions: canonical names for f'(u), and the chain rule through a vector of any length.

SymPy's chain rule differentiates an undefined function of a fixed number of
arguments.  The proofs need E_above(y^{l+1}): an undefined function of a vector
whose length n_{l+1} is a symbol.  :class:`VectorFunction` writes SymPy's rule
(``Function._eval_derivative``: sum over the arguments of dF/dv_k times dv_k/ds)
once, as a ``Sum`` over k = 1..size, and leaves dv_k/ds to ``sp.diff``;
:func:`~symbackprop.proofs.induction.prove_vector_chain_rule` checks it against
SymPy's own chain rule at sizes 1, 2, 3.
"""
import sympy as sp

from symbackprop.proofs.reduction import INDEX, j


# -- canonical names for derivatives of generic functions ------------------------------------------------------
def derivative_name(function, position, nargs):
    """The name of dF/d(argument ``position``): f' for one argument, e_a / e_z for two, F_0, F_1, ... beyond."""
    return f"{function}'" if nargs == 1 else f"{function}_{'az'[position] if nargs == 2 else position}"


def canonical_derivatives(expr):
    """Write each first derivative of an undefined function by its argument as a named function.

    f'(u) appears from SymPy either as Subs(Derivative(f(_xi), _xi), _xi, u) or as
    Derivative(f(u), u); both become the same function ``f'`` applied to u (a
    consistent renaming, so equality is unchanged).  For the cost term e(a, z) the
    derivative by a becomes ``e_a(a, z)``.

    >>> f, u = sp.Function("f"), sp.IndexedBase("y")[1]
    >>> canonical_derivatives(sp.diff(f(2 * u), u))
    2*f'(2*y[1])
    """
    def rename(d):
        inner, variables = d.expr, d.variable_count
        if len(variables) != 1 or variables[0][1] != 1 or not isinstance(inner.func, sp.core.function.UndefinedFunction):
            return d
        var = variables[0][0]
        if sum(arg.has(var) for arg in inner.args) != 1 or var not in inner.args:
            return d  # the variable must be exactly one argument, and in no other
        position = inner.args.index(var)
        return sp.Function(derivative_name(inner.func, position, len(inner.args)))(*inner.args)

    def from_subs(s):
        if len(s.variables) != 1 or not isinstance(s.expr, sp.Derivative):
            return s
        done = rename(s.expr)
        return done.xreplace({s.variables[0]: s.point[0]}) if done is not s.expr else s

    expr = expr.replace(lambda e: isinstance(e, sp.Subs), from_subs)
    return expr.replace(lambda e: isinstance(e, sp.Derivative), rename)


def prime(function, argument):
    """f'(u), derived by SymPy (``sp.diff``) and written canonically.

    >>> prime(sp.Function("f1"), sp.IndexedBase("y")[sp.Symbol("q")])
    f1'(y[q])
    """
    u = sp.Dummy("u")
    return canonical_derivatives(sp.diff(function(u), u)).xreplace({u: argument})


def cost_prime(e, a, z):
    """e_a(a, z) = d e(a, z) / d a, derived by SymPy and written canonically."""
    u = sp.Dummy("u")
    return canonical_derivatives(sp.diff(e(u, z), u)).xreplace({u: a})


# -- softmax with a symbolic number of entries ---------------------------------------------------------------
def softmax_vector(y, size, T):
    """a_i = e^{y_i/T} / Sum_j e^{y_j/T} as a function of the index."""
    total = sp.Sum(sp.exp(y[j] / T), (j, 1, size))
    return lambda index: sp.exp(y[index] / T) / total


# -- the chain rule through a vector of symbolic length ----------------------------------------------------------
class VectorFunction(sp.Expr):
    """F(v) for an undefined F of the vector v = (v_1, ..., v_size), ``size`` a symbol.

    ``vector`` is a ``Lambda`` k -> v_k; ``label`` names v when printed; ``indices``
    make a family F_t (the error of batch column t).  ``sp.diff`` of F(v) by s is
    Sum_k D_k F(v) dv_k/ds, with dv_k/ds by ``sp.diff``; D_k F(v) is a
    :class:`VectorPartial`, which the proofs name (delta^{l+1}_k = D_k E_above(y^{l+1})).

    >>> k, p, y, W = sp.Symbol("k"), sp.Symbol("p"), sp.IndexedBase("y"), sp.IndexedBase("W")
    >>> E = VectorFunction("E", sp.Lambda(k, W[k, 1] * y[1]), p, "v")
    >>> E
    E(v)
    >>> sp.diff(E, y[1])
    Sum(W[_k, 1]*D[E](v)[_k], (_k, 1, p))
    """

    is_commutative = True

    def __new__(cls, name, vector, size, label, *indices):
        name, label = (sp.Symbol(x) if isinstance(x, str) else x for x in (name, label))
        return sp.Expr.__new__(cls, name, vector, sp.sympify(size), label, sp.Tuple(*indices))

    name = property(lambda self: self.args[0])
    vector = property(lambda self: self.args[1])
    size = property(lambda self: self.args[2])
    label = property(lambda self: self.args[3])
    indices = property(lambda self: self.args[4])

    def _eval_derivative(self, s):
        k = sp.Dummy("k", **INDEX)
        entry = sp.diff(self.vector(k), s)
        return sp.S.Zero if entry == 0 else sp.Sum(VectorPartial(self, k) * entry, (k, 1, self.size))

    def family(self, printer, braces=False):
        """F, or F_t for a family indexed by t (F_{t} for LaTeX)."""
        indices = ",".join(map(printer._print, self.indices))
        return printer._print(self.name) + ((f"_{{{indices}}}" if braces else f"_{indices}") if indices else "")

    def _sympystr(self, printer):
        return f"{self.family(printer)}({printer._print(self.label)})"

    def _latex(self, printer):
        return rf"{self.family(printer, braces=True)}\left({printer._print(self.label)}\right)"


class VectorPartial(sp.Expr):
    """D_k F(v): the partial derivative of a :class:`VectorFunction` by its k-th entry, at v."""

    is_commutative = True

    def __new__(cls, function, index):
        return sp.Expr.__new__(cls, function, sp.sympify(index))

    function = property(lambda self: self.args[0])
    index = property(lambda self: self.args[1])

    def _sympystr(self, printer):
        f = self.function
        return f"D[{f.family(printer)}]({printer._print(f.label)})[{printer._print(self.index)}]"

    def _latex(self, printer):
        return rf"\partial_{{{printer._print(self.index)}}} {printer._print(self.function)}"


def name_partials(expr, function, name):
    """Replace every D_k F(v) of ``function``'s name by ``name(k, *indices)`` (the definition of a delta)."""
    return expr.replace(lambda e: isinstance(e, VectorPartial) and e.function.name == function.name,
                        lambda e: name(e.index, *e.function.indices))
