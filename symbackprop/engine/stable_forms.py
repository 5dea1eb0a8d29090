"""The overflow-free forms the stable rewrites print (:mod:`symbackprop.engine.rewrites`): the sigmoid and its
complement through e^{-|u|}, the same pair through logaddexp, and softplus.  Each is a SymPy expression; the
rewrites that put one in place of a derived formula are proved equal to it before they are used.

>>> import sympy as sp
>>> u = sp.Symbol("u", real=True)
>>> sigmoid(u)
exp(Min(0, u))/(exp(-u + Min(0, u))*exp(Min(0, u)) + 1)
>>> softplus(u)
log1p(exp(-Abs(u))) + Max(0, u)
"""
import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.codegen.numpy_nodes import logaddexp


def sigmoid_pair(u):
    """(sigmoid(u), sigmoid(-u)) as (E1/(1 + E1 E2), E2/(1 + E1 E2)) with E1 = e^{min(u, 0)}, E2 = e^{min(u, 0) - u}.

    One of E1, E2 is exactly 1 and the other e^{-|u|} <= 1, so nothing overflows, E1 E2 is exact, and the smaller
    of the two values keeps every digit down to the smallest float (no 1 + tiny - 1).  No select: NumPy computes
    them in a few passes over the array, without where(), and both share their denominator.
    """
    m = sp.Min(u, 0)
    E1, E2 = sp.exp(m), sp.exp(m - u)
    return E1 / (1 + E1 * E2), E2 / (1 + E1 * E2)


def sigmoid(u):
    """1/(1 + e^{-u}), printed as the first of :func:`sigmoid_pair`."""
    return sigmoid_pair(u)[0]


def sigmoid_pair_log(u):
    """(sigmoid(u), sigmoid(-u)) as (e^{u - S}, e^{-S}) with S = log(1 + e^u), NumPy's logaddexp(0, u).

    Two passes fewer than :func:`sigmoid_pair`, each a few times dearer per element (logaddexp is not
    vectorised): the form for a handful of values, where a pass costs its call (one example at a time).
    S is rounded to |u| 2^-53, so the values are within |u| 2^-53 relative (1e-13 at |u| = 700, 5e-6
    at the float32 limit |u| = 88), with no overflow: u - S cancels only where e^{u - S} is near 1.
    """
    S = logaddexp(0, u)
    return sp.exp(u - S), sp.exp(-S)


def softplus(u):
    """log(1 + e^u) as max(u, 0) + log1p(e^{-|u|}): no overflow, and log1p keeps e^u when it is tiny."""
    return sp.Max(u, 0) + log1p(sp.exp(-sp.Abs(u)))
