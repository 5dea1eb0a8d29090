"""Cost (error) functions E(a, z), each defined once as a SymPy expression.

Book sec. 3.2 and the table of sec. 3.5.  Every cost of the book has the form

    E = (1/n) * sum_{i=1}^{n} e(a_i, z_i)

so a cost is stored as its per-output *term* e(a, z); the book's 1/n is applied
by :meth:`Cost.__call__`.  The derivative dE/da_i = e'(a_i, z_i)/n is derived
by SymPy from the term (it is exact because only the i-th term depends on a_i).

>>> mse = get_cost("mse")
>>> mse.term
(a - z)**2
>>> mse.derivative
2*a - 2*z
>>> get_cost("bce").derivative
(1 - z)/(1 - a) - z/a

Where a cost is undefined is read off its term, for built-in and user costs alike
(:attr:`Cost.conditions`): every log needs a positive argument, every denominator a
non-zero one, every fractional power a non-negative base.  The spec refuses an output
activation whose values break one of them (see ``NetworkSpec._check_cost_domain``).

>>> [text for text, _ in get_cost("bce").conditions]
['log(a) needs a > 0', 'log(1 - a) needs 1 - a > 0']
"""
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from symbackprop.engine.activations import check_name
from symbackprop.engine.expressions import parse_expression
from symbackprop.engine.symbols import A, Z
from symbackprop.errors import SpecError
from symbackprop.support import budget
from symbackprop.support.budget import within

# name -> (term e(a, z), description)
_COSTS = {
    "mse": ((A - Z) ** 2, "mean squared error  E = 1/n sum (a_i - z_i)^2"),
    "mae": (sp.Abs(A - Z), "mean absolute error  E = 1/n sum |a_i - z_i|"),
    "cross_entropy": (-Z * sp.log(A), "cross-entropy  E = -1/n sum z_i log a_i"),
    "bce": (-(Z * sp.log(A) + (1 - Z) * sp.log(1 - A)), "binary cross-entropy  E = -1/n sum [z log a + (1-z) log(1-a)]"),
}
_ALIASES = {
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "ce": "cross_entropy",
    "crossentropy": "cross_entropy",
    "binary_cross_entropy": "bce",
}
KNOWN = tuple(sorted(_COSTS))


def _conditions(term):
    """(text, test) pairs: test(a) is False where the term is undefined (only parts free of z are tested)."""
    found = []

    def alone(u):  # the factors of u that depend on a only
        return sp.Mul(*[f for f in sp.Mul.make_args(sp.factor(u)) if f.has(A) and not f.has(Z)])

    for f in sorted(term.atoms(sp.log), key=sp.default_sort_key):
        u = f.args[0]
        if u.has(A) and not u.has(Z):
            found.append((f"log({sp.sstr(u)}) needs {sp.sstr(u)} > 0", (u, "> 0")))
        elif u.has(A) and alone(u) != 1:
            found.append((f"log({sp.sstr(u)}) needs {sp.sstr(alone(u))} != 0", (alone(u), "!= 0")))
    den = alone(sp.denom(sp.together(term)))
    if den != 1:
        found.append((f"the term divides by {sp.sstr(den)}", (den, "!= 0")))
    for p in sorted(term.atoms(sp.Pow), key=sp.default_sort_key):
        if p.base.has(A) and not p.exp.is_integer and not p.base.has(Z):
            found.append((f"{sp.sstr(p)} needs {sp.sstr(p.base)} >= 0", (p.base, ">= 0")))
    return found


@dataclass(frozen=True)
class Cost:
    """A cost E(a, z) = (1/n) sum_i term(a_i, z_i)."""

    name: str
    term: sp.Expr  # in the scalars A, Z
    description: str = field(default="", compare=False)

    @cached_property
    def derivative(self):
        """d term / d a, derived by ``sp.diff``; dE/da_i is this over n."""
        return sp.diff(self.term, A)

    user: bool = field(default=False, compare=False)  # a user's formula: its SymPy steps have a time budget

    @cached_property
    def conditions(self):
        """Where the term is defined, derived from it: [(text, (u, relation))], u in a alone.

        The output a must give u > 0, u != 0 or u >= 0; a user's term is read within a time budget.
        """
        seconds = budget.DEFAULT_SECONDS if self.user else None
        found = within(seconds, _conditions, self.term, fallback=None)
        if found is None:
            raise SpecError(f"cost {self.name!r}: could not find where its term is defined within {seconds:g} s")
        return found

    def breaks(self, value):
        """The first condition the output value a = ``value`` (a SymPy number, best an exact one) breaks, or None.

        Evaluated at 50 digits (SymPy raises its working precision until they are right); where those
        cannot decide (1 - a = e^{-60000} for a softmax at T = 0.001) SymPy's assumptions on the exact value
        settle it, so a saturating output is never taken to reach its bound.
        """
        for text, (u, relation) in self.conditions:
            exact = u.xreplace({A: value})
            v = sp.N(exact, 50)
            if v.has(sp.zoo, sp.nan) or not v.is_real or v.is_infinite:
                return text
            if {"> 0": v > 0, "!= 0": v != 0, ">= 0": v >= 0}[relation]:
                continue
            holds = {"> 0": exact.is_positive, "!= 0": exact.is_nonzero, ">= 0": exact.is_nonnegative}[relation]
            if holds is not True:
                return text
        return None

    def __call__(self, a, z):
        """E for lists (or column matrices) a_1..a_n and z_1..z_n, with the book's 1/n."""
        a, z = list(a), list(z)
        return sp.Add(*[self.term.xreplace({A: ai, Z: zi}) for ai, zi in zip(a, z)]) / len(a)

    def gradient(self, a, z):
        """dE/da as a 1 x n row (book appendix C: the derivative by a column is a row)."""
        a, z = list(a), list(z)
        n = len(a)
        return sp.Matrix([[self.derivative.xreplace({A: ai, Z: zi}) / n for ai, zi in zip(a, z)]])

    def label(self):
        return self.name

    def __str__(self):
        return self.name


def get_cost(name):
    """The built-in cost ``name`` (mse, mae, cross_entropy, bce, or an alias)."""
    key = _ALIASES.get(name, name)
    if key not in _COSTS:
        raise SpecError(f"unknown cost {name!r}; known costs: {', '.join(KNOWN)}")
    term, description = _COSTS[key]
    return Cost(key, term, description)


def custom_cost(name, text):
    """A user-defined cost from its per-output term in ``a`` and ``z`` (restricted grammar).

    The cost is E = (1/n) sum_i term(a_i, z_i), like the book's table.

    >>> custom_cost("quartic", "(a - z)^4").derivative
    4*(a - z)**3
    """
    check_name(name, "cost")
    term = parse_expression(text, {"a": A, "z": Z})
    if not term.has(A):
        raise SpecError(f"custom cost {name!r} does not depend on the output a: {text!r}")
    return Cost(name, term, description=f"term e(a, z) = {text}", user=True)
