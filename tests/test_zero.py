"""The one zero-decider, symbackprop.engine.zero: it proves true identities and never a false one.

Each identity below is checked independently of the decider: its difference is evaluated to 50 digits
(sp.N, mpmath) at random points and must vanish (true identities) or not (false ones).  A
decider that said True to every input, or False to every input, fails here.
"""
import random
import signal

import pytest
import sympy as sp

from symbackprop.engine import zero
from symbackprop.engine.zero import OutOfTime, is_zero, time_limit

y = sp.Symbol("y", real=True)
u, v = sp.symbols("u v", real=True)
w = sp.Symbol("w")  # complex: no assumption
sigmoid = 1 / (1 + sp.exp(-y))
relu = sp.Piecewise((y, y > 0), (0, True))

TRUE = [  # hand-known identities of calculus and of the book's activations
    sp.tanh(2 * y) - 2 * sp.tanh(y) / (1 + sp.tanh(y) ** 2),
    sigmoid - (1 + sp.tanh(y / 2)) / 2,  # the emitter's stable sigmoid
    sp.diff(sp.log(1 + sp.exp(y)), y) - sigmoid,  # softplus' = sigmoid
    sp.diff(sigmoid, y) - sigmoid * (1 - sigmoid),  # sigma' = sigma (1 - sigma)
    sp.exp(u + v) - sp.exp(u) * sp.exp(v),
    sp.sign(u) + sp.sign(-u),
    sp.Abs(u - v) - sp.Abs(v - u),
    relu - sp.Max(y, 0),
    sp.exp(w / 2) ** 2 - sp.exp(w),  # holds for complex w too
]
FALSE = [  # each differs somewhere: the decider must not prove them
    sigmoid - (1 + sp.tanh(y)) / 2,
    sp.diff(sigmoid, y) - sigmoid * (1 + sigmoid),
    sp.tanh(u + v) - sp.tanh(u) - sp.tanh(v),
    sp.sign(u) - sp.sign(-u),
    relu - sp.Max(y, 0) - sp.Rational(1, 10**30),  # off by 1e-30 everywhere
    sp.Piecewise((1, y > 0), (0, True)) - sp.Heaviside(y, 1),  # differs only at y = 0
    sp.Abs(sp.exp(w)) - sp.exp(w),  # true for real w only
    sp.sqrt(sp.exp(w)) - sp.exp(w / 2),  # the principal root differs at w = 3 pi i
]


def numeric_values(expr, points=6, seed=0):
    """|expr| at random points (and y = 0, w = 3 pi i), with 50 digits: the independent witness."""
    rng = random.Random(seed)
    symbols = sorted(expr.free_symbols, key=str)
    values = []
    for k in range(points):
        point = {s: (sp.Rational(rng.randint(-300, 300), 37) if s != w else sp.Rational(rng.randint(-9, 9), 7)
                     + sp.I * sp.Rational(rng.randint(-9, 9), 7)) for s in symbols}
        if k == 0:
            point = {s: (0 if s != w else 3 * sp.pi * sp.I) for s in symbols}
        values.append(abs(complex(sp.N(expr.xreplace(point), 50, maxn=200))) if expr.xreplace(point).is_number
                      else None)
    return values


@pytest.mark.parametrize("expr", TRUE, ids=str)
def test_true_identities_are_proved(expr):
    assert max(v for v in numeric_values(expr) if v is not None) < 1e-40  # the witness agrees: it is 0
    assert is_zero(expr, split=y)


@pytest.mark.parametrize("expr", FALSE, ids=str)
def test_false_identities_are_never_proved(expr):
    assert max(v for v in numeric_values(expr) if v is not None) > 1e-35  # the witness: it is not 0
    assert not is_zero(expr, split=y)
    assert not is_zero(expr, rewrite=False)


def test_atomize_alone_proves_the_structural_identities_verify_needs():
    # sign(u) + sign(-u), exp(2u) - exp(u)^2 reduce by atomizing; tanh's addition theorem does not
    assert zero.reduces_to_zero(sp.sign(u) + sp.sign(-u))
    assert zero.reduces_to_zero(sp.exp(2 * u) - sp.exp(u) ** 2)
    assert not zero.reduces_to_zero(sp.tanh(u + v) - sp.tanh(u) - sp.tanh(v))


def test_matrices_are_zero_entry_by_entry():
    M = sp.Matrix([[sp.exp(u) * sp.exp(-u) - 1, 0], [sp.sign(u) + sp.sign(-u), sp.Abs(-u) - sp.Abs(u)]])
    assert is_zero(M)
    M[1, 1] = sp.Abs(u) + u  # 2u for u > 0
    assert not is_zero(M)


def _hard():
    """An identity too large to settle in a fraction of a second (its expansion has ~10^4 terms)."""
    fs = sum(sp.tanh(y + k) for k in range(6))
    return sp.expand(fs ** 8) - fs ** 8 + sp.tanh(y) * sp.exp(y) - sp.exp(y) * sp.tanh(y + 1)


def test_out_of_time_is_not_proved_and_an_enclosing_budget_survives():
    with time_limit(60):
        assert not is_zero(_hard(), seconds=0.2)
        remaining, _ = signal.getitimer(signal.ITIMER_PROF)
        assert 0 < remaining <= 60  # the enclosing budget is re-armed, not lost
    assert signal.getitimer(signal.ITIMER_PROF)[0] == 0


def test_a_tighter_enclosing_budget_is_the_enclosing_callers():
    # the decider must not swallow a budget that is not its own (verify's fallback relies on it)
    with pytest.raises(OutOfTime), time_limit(0.2):
        is_zero(_hard(), seconds=30)
