"""Activation functions a(y), each defined once as a SymPy expression.

Book sec. 2.4 and the table of sec. 3.5.  An element-wise activation is a
scalar formula in the symbol ``Y``; its derivative a'(y) is *derived* here by
SymPy (``sp.diff``), never typed in.  Softmax is the one activation whose
output a_i depends on the whole vector y, so its Jacobian da/dy is full.

Conventions at the kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = alpha,
elu'(0) = alpha, step'(y) = 0 (the step is a Heaviside with step(0) = 1).

>>> sigmoid = get_activation("sigmoid")
>>> sigmoid.formula
1/(1 + exp(-y))
>>> sigmoid.derivative
exp(-y)/(1 + exp(-y))**2
>>> get_activation("relu").derivative
Piecewise((1, y > 0), (0, True))
>>> get_activation("leaky_relu", alpha=0.1).formula
Piecewise((y, y > 0), (y/10, True))
"""
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import sympy as sp

from .errors import SpecError
from .expressions import parse_expression
from .symbols import A, Y


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

    # -- derivative rules, derived by SymPy ---------------------------------
    @cached_property
    def derivative(self):
        """a'(y) = da_i/dy_i, derived by ``sp.diff`` (element-wise activations)."""
        if not self.elementwise:
            raise SpecError("softmax has a full Jacobian; use jacobian() instead of derivative")
        return sp.diff(self.formula, Y)

    @cached_property
    def inverse(self):
        """y as a function of a, when SymPy can solve a = a(y) with one branch; else None."""
        if not self.elementwise or self.name == "step" or self.formula.has(sp.Piecewise):
            return None
        try:
            solutions = sp.solve(sp.Eq(A, self.formula), Y)
        except (NotImplementedError, ValueError, TypeError):
            return None
        real = [s for s in solutions if not s.has(sp.I, sp.nan, sp.Piecewise)]
        return real[0] if len(real) == 1 else None

    @cached_property
    def derivative_in_a(self):
        """a'(y) rewritten through a = a(y) when SymPy finds a form free of y.

        First by spotting a(y) inside a'(y) (tanh: 1 - tanh(y)^2 -> 1 - a^2), then
        by solving a = a(y) for y (sigmoid: y = log(a/(1-a)) -> a(1-a)).
        """
        if not self.elementwise:
            return None
        spotted = self.derivative.subs(self.formula, A)
        if not spotted.has(Y):
            return sp.factor(spotted)
        if self.inverse is None:
            return None
        found = sp.factor(sp.simplify(self.derivative.subs(Y, self.inverse)))
        return None if found.has(Y) else found

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
    return Activation(name, formula, description=f"a(y) = {text}")


def check_name(name, what):
    """Names from spec files reach generated code, so they must be plain identifiers."""
    import keyword
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,39}", name) or keyword.iskeyword(name):
        raise SpecError(f"custom {what} name {name!r} must be a letter followed by letters, digits or _ (at most 40)")
