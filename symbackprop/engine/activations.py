"""Activation functions a(y), each defined once as a SymPy expression.

Book sec. 2.4 and the table of sec. 3.5.  An element-wise activation is a
scalar formula in the symbol ``Y``; its derivative a'(y) is *derived* here by
SymPy (``sp.diff``), never typed in.  Softmax is the one activation whose
output a_i depends on the whole vector y, so its Jacobian da/dy is full.

Conventions at the kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = alpha,
elu'(0) = alpha, step'(y) = 0 (the step is a Heaviside with step(0) = 1).  User
formulas follow one rule, which lives in the grammar's max and min
(:class:`symbackprop.engine.expressions.Max`): SymPy's Heaviside(u), 1/2 at u = 0, becomes
Heaviside(u, 0), so a piece that only touches at a kink contributes nothing there:
max(y, 0)'(0) = 0 like relu'(0), max(-1, min(1, y))'(+-1) = 0 like PyTorch's
hardtanh, and abs'(0) = sign(0) = 0.

a'(y) is also written through a where that is shorter (sigmoid: a (1 - a)), but such
an a-form is kept only when it is proved equal to a'(y) for every real y
(:func:`equal_for_every_real_y`): cube's 3 a^(2/3) is NaN for a < 0 and is refused,
so consumers keep a'(y) = 3 y^2 in y.  Every SymPy step on a user formula runs within
a time budget (:mod:`symbackprop.support.budget`); when it runs out the a-form is simply not
used.

>>> sigmoid = get_activation("sigmoid")
>>> sigmoid.formula
1/(1 + exp(-y))
>>> sigmoid.derivative
exp(-y)/(1 + exp(-y))**2
>>> get_activation("relu").derivative
Piecewise((1, y > 0), (0, True))
>>> get_activation("leaky_relu", alpha=0.1).formula
Piecewise((y, y > 0), (y/10, True))
>>> custom_activation("maxrelu", "max(y, 0)").derivative
Heaviside(y, 0)
>>> print(custom_activation("cube", "y^3").derivative_in_a)
None
"""
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import sympy as sp

from symbackprop.engine.expressions import parse_expression
from symbackprop.engine.symbols import A, Y
from symbackprop.engine.zero import is_zero
from symbackprop.errors import SpecError
from symbackprop.support import budget
from symbackprop.support.budget import within


def number(value, what):
    """An exact SymPy number from an int, float or numeric string (never sympify)."""
    if isinstance(value, sp.Rational):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Fraction)):
        raise SpecError(f"{what} must be a number, got {value!r}")
    if isinstance(value, str) and not re.fullmatch(r"\s*[-+]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})([eE][-+]?\d{1,3})?\s*",
                                                   value):
        raise SpecError(f"{what} must be a number (at most 30 digits, exponent at most 999), got {value!r}")
    try:
        frac = Fraction(str(value).strip()) if not isinstance(value, Fraction) else value
    except (ValueError, ZeroDivisionError):
        raise SpecError(f"{what} must be a number, got {value!r}") from None
    return sp.Rational(frac.numerator, frac.denominator)


# -- the a-form of a'(y): found by SymPy, kept only when proved (top-level functions: run in a budget) ----
def _inverse(formula):
    try:
        solutions = sp.solve(sp.Eq(A, formula), Y)
    except (NotImplementedError, ValueError, TypeError):
        return None
    real = [s for s in solutions if not s.has(sp.I, sp.nan, sp.Piecewise)]
    return real[0] if len(real) == 1 else None


def _spotted(formula, derivative):
    spotted = derivative.subs(formula, A)
    return None if spotted.has(Y) else sp.factor(spotted)


def _through_inverse(derivative, inverse):
    found = sp.factor(sp.simplify(derivative.subs(Y, inverse)))
    return None if found.has(Y) else found


_KINKS = (sp.Heaviside, sp.sign, sp.Abs, sp.Max, sp.Min, sp.Piecewise)


def _uses_known_functions(candidate, *sources):
    """An a-form may use only functions a(y) or a'(y) already use (never a new LambertW)."""
    known = {f.func for e in sources for f in e.atoms(sp.Function)} | set(_KINKS)
    return all(f.func in known for f in candidate.atoms(sp.Function))


def _proved_zero(difference):
    """The one zero-decider (:func:`symbackprop.engine.zero.is_zero`): 0 for all real y, or on y > 0, y < 0 and
    at y = 0 separately (the caller's budget bounds it)."""
    return is_zero(difference, seconds=None, split=Y)


SAMPLES = tuple(sp.Rational(s) * sign for s in ("1/1000", "1/10", "1/2", "1", "3/2", "2", "3", "5", "10", "30", "60")
                for sign in (1, -1)) + (sp.Integer(0),)


def _kink_points(expr):
    """Where a switch (Heaviside, sign, abs, max, min) in ``expr`` flips, for arguments linear in y."""
    points = set()
    for f in expr.atoms(*_KINKS[:-1]):
        args = f.args[:1] if isinstance(f, (sp.Heaviside, sp.sign, sp.Abs)) else [u - v for u in f.args
                                                                                   for v in f.args if u != v]
        for u in args:
            if u.is_polynomial(Y) and sp.degree(u, Y) == 1:
                c = sp.solve(u, Y)[0]
                points |= {c, c - sp.Rational(1, 10**6), c + sp.Rational(1, 10**6)}
    return points


def _numerically_equal(lhs, rhs, digits=50):
    """lhs == rhs to 25 of 50 digits at every sample y and both sides of every kink (a guard against branch bugs)."""
    for v in SAMPLES + tuple(_kink_points(lhs) | _kink_points(rhs)):
        left, right = (sp.N(e.xreplace({Y: v}), digits) for e in (lhs, rhs))
        finite = [not x.has(sp.zoo, sp.nan, sp.oo, -sp.oo) and x.is_number for x in (left, right)]
        if not all(finite):
            if any(finite):
                return False
            continue
        (lr, li), (rr, ri) = left.as_real_imag(), right.as_real_imag()
        error, size = max(abs(lr - rr), abs(li - ri)), max(abs(lr), abs(li), abs(rr), abs(ri))
        if error > sp.Float(10) ** (-digits // 2) * size:
            return False
    return True


def equal_for_every_real_y(lhs, rhs, seconds=None):
    """True when ``lhs`` and ``rhs`` (in y) are proved equal for every real y; False when not, or out of time.

    The proof is SymPy's: the difference reduces to 0 (over all y, or on y > 0, y < 0 and y = 0).
    Before it, both sides are compared at 50 digits on both sides of 0, in the tails and at every
    kink, so a SymPy branch error cannot slip through.

    >>> equal_for_every_real_y(sp.Heaviside(Y, 0), sp.Heaviside(sp.Max(Y, 0), 0))
    True
    >>> equal_for_every_real_y(3 * Y**2, 3 * (Y**3) ** sp.Rational(2, 3))
    False
    """
    if not within(seconds, _numerically_equal, lhs, rhs, fallback=False):
        return False
    return within(seconds, _proved_zero, lhs - rhs, fallback=False)


# name -> (formula builder from parameters, parameter defaults, description)
_ELEMENTWISE = {
    "identity": (lambda: Y, {}, "a(y) = y"),
    "sigmoid": (lambda: 1 / (1 + sp.exp(-Y)), {}, "a(y) = 1 / (1 + e^{-y})"),
    "tanh": (lambda: sp.tanh(Y), {}, "a(y) = tanh(y)"),
    "relu": (lambda: sp.Piecewise((Y, Y > 0), (0, True)), {}, "a(y) = max{0, y}"),
    "leaky_relu": (
        lambda alpha: sp.Piecewise((Y, Y > 0), (alpha * Y, True)),
        {"alpha": sp.Rational(1, 100)},
        "a(y) = y if y > 0 else alpha*y",
    ),
    "elu": (
        lambda alpha: sp.Piecewise((Y, Y > 0), (alpha * (sp.exp(Y) - 1), True)),
        {"alpha": sp.Integer(1)},
        "a(y) = y if y > 0 else alpha*(e^y - 1)",
    ),
    "softplus": (lambda: sp.log(1 + sp.exp(Y)), {}, "a(y) = log(1 + e^y)"),
    "step": (lambda: sp.Piecewise((1, Y >= 0), (0, True)), {}, "a(y) = 1 if y >= 0 else 0 (Heaviside)"),
}
_VECTOR = {"softmax": ({"temperature": sp.Integer(1)}, "a_i(y) = e^{y_i/T} / sum_k e^{y_k/T}")}
_ALIASES = {"T": "temperature", "linear": "identity", "heaviside": "step"}

KNOWN = tuple(sorted([*_ELEMENTWISE, *_VECTOR]))


@dataclass(frozen=True)
class Activation:
    """One activation function a, as the book's a_i(y_i) (or a_i(y) for softmax)."""

    name: str
    formula: sp.Expr  # in Y; for softmax, the i-th output with y_i -> Y (see softmax_output)
    params: tuple = ()  # ((name, value), ...)
    elementwise: bool = True
    description: str = field(default="", compare=False)

    user: bool = field(default=False, compare=False)  # a user's formula: its SymPy steps have a time budget

    # -- derivative rules, derived by SymPy ---------------------------------
    @property
    def seconds(self):
        """The time budget of each SymPy step on this formula (None: built-in, unbudgeted)."""
        return budget.DEFAULT_SECONDS if self.user else None

    @cached_property
    def derivative(self):
        """a'(y) = da_i/dy_i, derived by ``sp.diff`` (element-wise activations)."""
        if not self.elementwise:
            raise SpecError("softmax has a full Jacobian; use jacobian() instead of derivative")
        return sp.diff(self.formula, Y)

    @cached_property
    def inverse(self):
        """y as a function of a, when SymPy can solve a = a(y) with one real branch in time; else None."""
        if not self.elementwise or self.name == "step" or self.formula.has(sp.Piecewise):
            return None
        return within(self.seconds, _inverse, self.formula, fallback=None)

    @cached_property
    def derivative_in_a(self):
        """a'(y) rewritten through a = a(y), when SymPy finds a form free of y and proves it equal.

        First by spotting a(y) inside a'(y) (tanh: 1 - tanh(y)^2 -> 1 - a^2), then by solving
        a = a(y) for y (sigmoid: y = log(a/(1-a)) -> a(1-a)).  The candidate is kept only when
        :func:`equal_for_every_real_y` proves it equal to a'(y) once a(y) is put back for a;
        otherwise (or when a step runs out of time) this is None and consumers keep a'(y) in y.
        """
        if not self.elementwise:
            return None
        candidate = within(self.seconds, _spotted, self.formula, self.derivative, fallback=None)
        if candidate is None and self.inverse is not None:
            candidate = within(self.seconds, _through_inverse, self.derivative, self.inverse, fallback=None)
        if candidate is None or not _uses_known_functions(candidate, self.formula, self.derivative):
            return None
        if not equal_for_every_real_y(self.derivative, candidate.xreplace({A: self.formula}), self.seconds):
            return None
        return candidate

    @cached_property
    def jacobian_entry(self):
        """Softmax: da_i/dy_j for any n, derived with IndexedBase and KroneckerDelta.

        Returns (expression, (a, i, j)) with ``a`` an IndexedBase; the derivation
        differentiates a_i = e^{y_i/T} / Sum_k e^{y_k/T} by y_j, then writes e^{y_m/T}
        as a_m times the sum.  For T = 1 it is a_i (delta_ij - a_j).
        """
        n = sp.Symbol("n", integer=True, positive=True)
        i, j, k = sp.symbols("i j k", integer=True, positive=True)
        y, a, total = sp.IndexedBase("y"), sp.IndexedBase("a"), sp.Symbol("S", positive=True)
        T = self.temperature
        a_i = sp.exp(y[i] / T) / sp.Sum(sp.exp(y[k] / T), (k, 1, n))
        d = sp.diff(a_i, y[j]).doit()
        d = d.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr)  # j <= n holds
        d = d.subs(sp.Sum(sp.exp(y[k] / T), (k, 1, n)), total)
        d = d.replace(lambda e: e.func == sp.exp and isinstance(e.args[0] * T, sp.Indexed),
                      lambda e: a[(e.args[0] * T).indices[0]] * total)
        return sp.factor(sp.simplify(d)), (a, i, j)

    @property
    def temperature(self):
        return dict(self.params).get("temperature", sp.Integer(1))

    # -- forward ------------------------------------------------------------
    def __call__(self, ys):
        """The activation vector a(y) for a list of SymPy expressions y_1..y_n."""
        if self.elementwise:
            return [self.formula.xreplace({Y: v}) for v in ys]
        T = self.temperature
        exps = [sp.exp(v / T) for v in ys]
        total = sp.Add(*exps)
        return [e / total for e in exps]

    def jacobian(self, ys):
        """da/dy as an n x n SymPy Matrix at the point y (derived, book eq. 14)."""
        if self.elementwise:
            return sp.diag(*[self.derivative.xreplace({Y: v}) for v in ys])
        return sp.Matrix(self(ys)).jacobian(list(ys))

    def label(self):
        """The name with its parameters, as a spec would write it: ``elu(alpha=1)``."""
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.params)})"

    def __str__(self):
        return self.label()


def get_activation(name, **params):
    """The built-in activation ``name`` with parameters (alpha, temperature).

    >>> get_activation("softmax", T=2).label()
    'softmax(temperature=2)'
    """
    name = _ALIASES.get(name, name)
    params = {_ALIASES.get(k, k): v for k, v in params.items()}
    if name in _ELEMENTWISE:
        build, defaults, description = _ELEMENTWISE[name]
    elif name in _VECTOR:
        defaults, description = _VECTOR[name]
        build = None
    else:
        raise SpecError(f"unknown activation {name!r}; known activations: {', '.join(KNOWN)}")
    unknown = set(params) - set(defaults)
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise SpecError(f"activation {name!r} has no parameter {min(unknown)!r} (parameters: {allowed})")
    values = {k: number(params.get(k, v), f"{name} parameter {k}") for k, v in defaults.items()}
    if name == "softmax" and values["temperature"] <= 0:
        raise SpecError(f"softmax temperature must be positive, got {values['temperature']}")
    if name == "elu" and values["alpha"] < 0:
        raise SpecError(f"elu alpha must be non-negative, got {values['alpha']}")
    shown = tuple((k, v) for k, v in values.items() if k in params)
    if build is None:
        formula = sp.exp(Y / values["temperature"])  # numerator of a_i; the vector rule is in __call__
        return Activation(name, formula, shown, elementwise=False, description=description)
    return Activation(name, build(**values), shown, description=description)


def custom_activation(name, text):
    """A user-defined element-wise activation from a formula in ``y`` (restricted grammar).

    >>> custom_activation("softsign", "y/(1+abs(y))").derivative
    -y*sign(y)/(Abs(y) + 1)**2 + 1/(Abs(y) + 1)
    """
    check_name(name, "activation")
    formula = parse_expression(text, {"y": Y})
    if not formula.has(Y):
        raise SpecError(f"custom activation {name!r} does not depend on y: {text!r}")
    return Activation(name, formula, description=f"a(y) = {text}", user=True)


def check_name(name, what):
    """Names from spec files reach generated code, so they must be plain identifiers."""
    import keyword
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,39}", name) or keyword.iskeyword(name):
        raise SpecError(f"custom {what} name {name!r} must be a letter followed by letters, digits or _ (at most 40)")
