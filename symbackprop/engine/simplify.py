"""Simplifications of the output delta, found by SymPy rather than assumed.

delta^L = (dE/da^L  da^L/dy^L)^T (eq. 54).  For an element-wise activation its
i-th entry is e'(a_i, z_i) a'(y_i) / n; for softmax it is a sum over the full
Jacobian.  This module writes a'(y) through a where the activation allows it
(:attr:`Activation.derivative_in_a`), multiplies, and lets SymPy cancel.  When a
factor that made the cost's derivative singular (a = 0 or a = 1) cancels, the
simplified delta is both shorter and numerically stable, and the cancellation
is reported: sigmoid with binary cross-entropy gives (a - z)/n, softmax with
cross-entropy gives (a - z)/(nT) when the targets sum to 1.

>>> from symbackprop.engine.activations import get_activation
>>> from symbackprop.engine.costs import get_cost
>>> found = output_delta(get_activation("sigmoid"), get_cost("bce"))
>>> found.simplified
(a - z)/n
>>> found.cancelled
a*(1 - a)
>>> output_delta(get_activation("softmax"), get_cost("cross_entropy")).simplified
(a[j] - z[j])/n
>>> output_delta(get_activation("softmax", T=2), get_cost("cross_entropy")).simplified
(a[j] - z[j])/(2*n)
"""
from dataclasses import dataclass
from functools import cache

import sympy as sp

from symbackprop.engine.symbols import A, Z

N = sp.Symbol("n", integer=True, positive=True)


@dataclass(frozen=True)
class OutputDelta:
    """delta^L_i before and after simplification, for one activation/cost pair."""

    activation: str
    cost: str
    naive: sp.Expr  # e'(a, z) a'(.) / n as first assembled
    simplified: sp.Expr  # after SymPy's cancellation (in a, z; in y where a'(y) has no a-form)
    cancelled: sp.Expr | None = None  # the singular factor that cancelled, if any
    condition: str | None = None  # an assumption the simplification needs
    uses_y: bool = False  # True when the simplified form still needs y (e.g. relu's a'(y))
    h: sp.Expr | None = None  # softmax outputs: h = a e'(a, z), delta_j = c (h_j - a_j sum_i h_i) / n

    @property
    def found_cancellation(self):
        return self.cancelled is not None

    def summary(self):
        text = f"{self.activation} + {self.cost}: delta^L = {sp.sstr(self.simplified)}"
        if self.cancelled is not None:
            text += f"  (the factor {sp.sstr(self.cancelled)} cancels"
            text += f"; needs {self.condition})" if self.condition else ")"
        return text

    def __str__(self):
        return self.summary()


def _singular_factors(expr):
    """Factors of the denominator that vanish for some a: where dE/da blows up."""
    _, den = sp.fraction(sp.factor(sp.together(expr)))
    return {f for f in sp.Mul.make_args(sp.factor(den)) if f.has(A)}


def tidy(expr):
    """The shorter of SymPy's cancel() and factor() forms (cancel wins ties)."""
    cancelled, factored = sp.cancel(sp.together(expr)), sp.factor(expr)
    return factored if sp.count_ops(factored) < sp.count_ops(cancelled) else cancelled


def _named_factors(factors):
    """Write each singular factor with a positive value at a = 1/2: a - 1 -> 1 - a."""
    return sp.Mul(*[-f if f.subs(A, sp.Rational(1, 2)).is_negative else f for f in factors])


@cache
def output_delta(activation, cost):
    """Simplify delta^L for ``activation`` (output layer) and ``cost``; see the module doc.

    For a user's formula the simplification runs within a time budget (:func:`symbackprop.support.budget.within`);
    past it, delta^L stays e'(a, z) a'(y) / n as assembled, with a'(y) in y.
    """
    if getattr(activation, "user", False) or getattr(cost, "user", False):
        from symbackprop.support.budget import DEFAULT_SECONDS, within

        naive = cost.derivative * activation.derivative / N
        unsimplified = OutputDelta(activation.label(), cost.label(), naive, naive, uses_y=True)
        return within(4 * DEFAULT_SECONDS, _output_delta, activation, cost, fallback=unsimplified,
                      what=f"simplifying the output delta of {activation.label()} + {cost.label()}")
    return _output_delta(activation, cost)


def _output_delta(activation, cost):
    if not activation.elementwise:
        return _softmax_delta(activation, cost)
    de_da = cost.derivative
    da_dy = activation.derivative_in_a
    if da_dy is None:
        naive = de_da * activation.derivative / N
        return OutputDelta(activation.label(), cost.label(), naive, naive, uses_y=True)
    naive = de_da * da_dy / N
    simplified = tidy(naive)
    gone = [f for f in _singular_factors(de_da) if f not in _singular_factors(simplified)]
    return OutputDelta(activation.label(), cost.label(), naive, simplified, _named_factors(gone) if gone else None)


def _softmax_delta(activation, cost):
    """delta_j = sum_i (1/n) e'(a_i, z_i) da_i/dy_j with the derived softmax Jacobian.

    The Jacobian entry is c a_i (KroneckerDelta(i, j) - a_j); the Kronecker part
    sums to c a_j e'(a_j, z_j) and the rest to -c a_j sum_i a_i e'(a_i, z_i).
    When a e'(a, z) is free of a (cross-entropy: -z) that sum needs only the
    targets, and sum_i z_i = 1 finishes it.
    """
    entry, (a, i, j) = activation.jacobian_entry
    z = sp.IndexedBase("z")
    de_da_i = cost.derivative.xreplace({A: a[i], Z: z[i]})
    naive = sp.Sum(de_da_i * entry / N, (i, 1, N))
    scale = sp.cancel(entry.subs(sp.KroneckerDelta(i, j), 1).subs(a[j], 0) / a[i])  # c, from c a_i (1 - 0)
    h = tidy(cost.derivative * A)  # a e'(a, z)
    h_j, h_i = h.xreplace({A: a[j], Z: z[j]}), h.xreplace({A: a[i], Z: z[i]})
    condition = None
    if not h.has(A):
        coefficient = sp.cancel(h / Z)
        if coefficient.has(Z):
            total = sp.Sum(h_i, (i, 1, N))
        else:
            total, condition = coefficient, "sum_i z_i = 1 (targets are a probability vector)"
    else:
        total = sp.Sum(h_i, (i, 1, N))
    simplified = tidy(scale * (h_j - a[j] * total) / N)
    cancelled = None
    gone = [f for f in _singular_factors(cost.derivative) if not simplified.has(sp.Pow(a[j], -1))]
    if condition and gone:
        cancelled = _named_factors(gone)
    return OutputDelta(activation.label(), cost.label(), naive, simplified, cancelled, condition, h=h)
