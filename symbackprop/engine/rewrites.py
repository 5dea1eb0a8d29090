"""The numerically stable rewrites the emitted code uses: one registry of data, one rule that applies it.

A formula SymPy derives is exact; printed literally it may not survive float64.  1/(1 + e^{-y})
overflows e^{-y} at y = -710 and, written as (1 + tanh(y/2))/2, is exactly 0 below y = -38 where the
truth is e^y; 1 - e^{-a} is 0 for a < 1e-17 where the truth is a; log(1 - a) of a sigmoid that rounded
to 1 is log(0).  Each entry of :data:`REWRITES` names one such trap and an equal form that avoids it.
:func:`stable` applies the entries in order and accepts the result only when SymPy proves it equal to
the formula it replaces (:func:`proved_equal`); otherwise the original is kept and the refusal is
recorded.  Nothing here knows about layers or costs: it maps SymPy expressions in ``y`` (or ``a``) to
SymPy expressions.

>>> from symbackprop.engine.activations import Y
>>> s = stable(sp.log(1 / (1 + sp.exp(-Y))))  # log sigmoid(y), the log-likelihood of bce
>>> s.applied, s.proved
(('log-sigmoid',), True)
>>> s.rewritten
-log1p(exp(-Abs(y))) + Min(0, y)
>>> stable(sp.exp(Y) - 1).rewritten
expm1(y)
>>> stable(Y**2).applied
()
"""
from dataclasses import dataclass, replace
from functools import lru_cache

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp

from symbackprop.engine.stable_forms import sigmoid, sigmoid_pair, sigmoid_pair_log, softplus
from symbackprop.engine.symbols import Y
from symbackprop.engine.zero import is_zero

w = sp.Wild("w")


@dataclass(frozen=True)
class Rewrite:
    """One stable rewrite: where ``pattern`` (SymPy, with the Wild ``w``) occurs, put ``replacement``.

    ``replacement`` may be a function of the matched subexpression instead (for rules no single pattern
    states); ``example`` is a formula the rewrite is for, used by the tests and docs/tails.md.  A rewrite that
    ``fuses`` only applies once a(y) is written into the cost or the delta, which is why the emitter computes
    those from y when one of them applies.
    """

    name: str
    purpose: str
    pattern: object  # sp.Expr with Wilds, or a predicate on subexpressions
    replacement: object  # sp.Expr with the same Wilds, or a function of the matched subexpression
    example: sp.Expr
    fuses: bool = False  # True: it joins a(y) with what is done to it (log a, a - z); False: how one function prints

    def apply(self, expr):
        """``expr`` rewritten, and the (subexpression, replacement) pairs this made, each to be proved equal."""
        pairs = []

        def matches(e):
            if isinstance(self.pattern, sp.Basic):  # same head first: SymPy's match is slow on sums
                return e.func == self.pattern.func and e.has(Y) and e.match(self.pattern) is not None
            return self.pattern(e)

        def replace(e):
            if isinstance(self.pattern, sp.Basic):
                new = self.replacement.xreplace(e.match(self.pattern))
            else:
                new = self.replacement(e)
            if new != e:
                pairs.append((e, new))
            return new

        return expr.replace(matches, replace), pairs


def _clamp_piecewise(pw):
    """Piecewise((e1, y > c), (e2, True)) in forms NumPy evaluates without overflow or select.

    Constant branches become Heaviside steps (float results, relu'(0) = 0 as in PyTorch);
    y vs k*y (0 <= k <= 1) becomes max(y, k y); an exp in a branch is clamped to that
    branch's side of c, so the branch NumPy evaluates but discards cannot overflow.
    """
    if len(pw.args) != 2 or pw.args[1].cond is not sp.true:
        return pw
    (e1, cond), (e2, _) = pw.args
    if not isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)) or cond.lhs != Y or not cond.rhs.is_number:
        return pw
    c = cond.rhs
    if e1.is_number and e2.is_number:
        h0 = 0 if isinstance(cond, sp.StrictGreaterThan) else 1
        return e2 + (e1 - e2) * sp.Heaviside(Y - c, h0)
    k = sp.cancel(e2 / e1) if e1 == Y and c == 0 else None
    if k is not None and k.is_number and 0 <= k <= 1:
        return sp.Max(Y, k * Y)
    e1 = e1.replace(lambda e: _may_overflow(e), lambda e: e.xreplace({Y: sp.Max(Y, c)}))
    e2 = e2.replace(lambda e: _may_overflow(e), lambda e: e.xreplace({Y: sp.Min(Y, c)}))
    return sp.Piecewise((e1, cond), (e2, True))


def _may_overflow(e):
    """An exponential whose argument SymPy cannot show is <= 0 (e^{-|y|} is safe everywhere)."""
    return isinstance(e, sp.exp) and not e.args[0].is_nonpositive


def _exp_pair(product):
    """(e^w - 1) e^{-w} -> 1 - e^{-w} inside a product (e^w overflows where e^{-w} underflows harmlessly)."""
    factors = [g for f in sp.Mul.make_args(product) for g in sp.Mul.make_args(sp.factor(f) if f.is_Add else f)]
    for f in factors:
        if f.is_Add and len(f.args) == 2 and -1 in f.args:
            (g,) = [t for t in f.args if t != -1]
            if g.func == sp.exp and sp.exp(-g.args[0]) in factors:
                factors.remove(f)
                factors.remove(sp.exp(-g.args[0]))
                return sp.Mul(*factors) * (1 - sp.exp(-g.args[0]))
    return product


def _exp_and_constant(e):
    """(c, u) when e = c e^u - c for a number c, else None."""
    if not e.is_Add or len(e.args) != 2:
        return None
    number, other = sorted(e.args, key=lambda t: not t.is_number)
    c, rest = other.as_coeff_Mul()
    if number.is_number and isinstance(rest, sp.exp) and c == -number:
        return c, rest.args[0]
    return None


def _is_expm1_shape(e):
    return _exp_and_constant(e) is not None


def _as_expm1(e):
    c, u = _exp_and_constant(e)
    return c * expm1(u)


def _bounded_term(e, shape):
    """(term, c, u) for the term c shape(u) of the sum e whose other terms are free of y (the target z), else None."""
    if not e.is_Add:
        return None
    for term in e.args:
        c, rest = term.as_coeff_Mul()
        found = rest.match(shape)
        if found and found[w].has(Y) and not (e - term).has(Y) and not (e - term).is_number:
            return term, c, found[w]
    return None


def _sigmoid_near_bound(e, pair=None):
    """c sigmoid(u) + v = (c + v) sigmoid(u) + v sigmoid(-u) (as sigmoid(u) + sigmoid(-u) = 1): both sigmoids keep
    every digit, so no a - z cancels once a is within an ulp of 1 (z = 1: the first term is 0, the second exact)."""
    term, c, u = _bounded_term(e, _SIGMOID)
    v = e - term
    p, q = (pair or sigmoid_pair)(u)
    return (c + v) * p + v * q


def _sigmoid_prime(u, pair=None):
    """sigmoid'(u) = sigmoid(u) sigmoid(-u), in the terms of :func:`sigmoid_pair` (E1 E2/(1 + E1 E2)^2, one
    denominator) or of another pair."""
    p, q = (pair or sigmoid_pair)(u)
    if pair is not None:
        return p * q
    return sp.Mul(*sp.fraction(p)[:1], *sp.fraction(q)[:1]) / sp.fraction(p)[1] ** 2


def _tanh_near_bounds(e):
    """c tanh(u) + v = c ((v/c - 1) + 2 sigmoid(2u)) for u < 0 and c ((1 + v/c) - 2 sigmoid(-2u)) for u >= 0."""
    term, c, u = _bounded_term(e, sp.tanh(w))
    v, q = (e - term) / c, 2 * _tail(2 * u)  # q = 1 - |tanh(u)|
    half = sp.Rational(1, 2)  # |tanh(u)| > 0.46 beyond: no cancellation in +-1 -+ q; tanh itself inside
    return sp.Piecewise((c * (sp.UnevaluatedExpr(v - 1) + q), u < -half), (c * (sp.UnevaluatedExpr(1 + v) - q), u > half),
                        (e, True))


def _tail(u):
    """sigmoid(-|u|) = e^{-|u|}/(1 + e^{-|u|}): the distance of sigmoid(u) from its nearer bound, to every digit."""
    return sp.exp(-sp.Abs(u)) / (1 + sp.exp(-sp.Abs(u)))


def _is_log_of_one_plus(e):
    return isinstance(e, sp.log) and e.args[0].is_Add and sp.S.One in e.args[0].args


_SIGMOID = 1 / (1 + sp.exp(-w))
_ALPHA = sp.Rational(1, 2)
_TARGET = sp.Symbol("z", real=True)
_E_SIGMOID = sp.exp(w) / (1 + sp.exp(w))
_SIGMOID_PRIME = sp.exp(-w) / (1 + sp.exp(-w)) ** 2


def _over_one_plus_exp(e, power=-1):
    """A cheap test before SymPy's match: e has a factor (1 + c e^u)^power (or is one)."""
    factors = sp.Mul.make_args(e)
    return e.has(Y) and any(f.is_Pow and f.exp == power and f.base.is_Add and f.base.has(sp.exp) for f in factors)


def _overflowing(e, shape):
    """e is shape(u) (a sigmoid) with an exponential SymPy cannot bound: e^{-|y|} forms are left alone."""
    if not _over_one_plus_exp(e):
        return False
    found = e.match(shape)
    return found is not None and found[w].has(Y) and not (-found[w]).is_nonpositive if shape is _SIGMOID \
        else found is not None and found[w].has(Y) and not found[w].is_nonpositive

@lru_cache(maxsize=4096)
def _over_one_denominator(e):
    """A sum of fractions over powers of one denominator d, written as one fraction N/d^k, when SymPy cancels
    every d from the numerator N there (softsign' 1/(|y| + 1) - y sign(y)/(|y| + 1)^2 is 1/(|y| + 1)^2); else
    None.  s sign(s) is |s| for a real s first, so that the cancellation shows.  One base only, and none left in
    N: the form computes no power of d the sum did not compute already, so it overflows nowhere the sum does not."""
    if not e.is_Add:
        return None
    bases = {f.base for term in e.args for f in sp.Mul.make_args(term) if f.is_Pow and f.exp.is_negative}
    if len(bases) != 1:
        return None
    real = [s for s in e.free_symbols if s.is_real]
    plain = e.subs({s * sp.sign(s): sp.Abs(s) for s in real}) if e.has(sp.sign) else e
    together = sp.together(plain)
    numerator = sp.fraction(together)[0]
    return together if not numerator.has(*bases) and sp.count_ops(together) < sp.count_ops(e) else None


# Applied in this order: the logs first (they need the sigmoid's formula to fuse with it), the
# piecewise clamps before expm1 (so expm1 sees the clamped argument), the sigmoid's printed form last.
REWRITES = (
    Rewrite("log-sigmoid", "log a of a sigmoid output (bce, cross-entropy): log(0) once a rounds to 0, "
            "cancels to 0 once a rounds to 1; min(w, 0) - log1p(e^{-|w|}) keeps both tails",
            sp.log(_SIGMOID), sp.Min(w, 0) - log1p(sp.exp(-sp.Abs(w))), sp.log(1 / (1 + sp.exp(-Y))), True),
    Rewrite("log-sigmoid complement", "log(1 - a) of a sigmoid output (bce): log(0) once a rounds to 1; "
            "it is -softplus(w)", sp.log(1 - _SIGMOID), -softplus(w), sp.log(1 - 1 / (1 + sp.exp(-Y))), True),
    Rewrite("softplus", "log(1 + e^w): e^w overflows above w = 709 and 1 + e^w loses e^w below w = -37",
            sp.log(1 + sp.exp(w)), softplus(w), sp.log(1 + sp.exp(Y))),
    Rewrite("sigmoid complement", "1 - sigmoid(w) is 0 once sigmoid(w) rounds to 1 (w > 37); it is sigmoid(-w)",
            1 - _SIGMOID, 1 / (1 + sp.exp(w)), 1 - 1 / (1 + sp.exp(-Y)), True),
    Rewrite("sigmoid minus one", "sigmoid(w) - 1 is -sigmoid(-w) (the same trap as the complement)",
            _SIGMOID - 1, -1 / (1 + sp.exp(w)), 1 / (1 + sp.exp(-Y)) - 1, True),
    Rewrite("sigmoid near its bound", "a - z with a = sigmoid(y) and z = 1 (mse, mae, the bce delta): a rounds to 1 "
            "above y = 37 and a - z to 0; for y >= 0 it is (1 - z) - sigmoid(-y), both terms exact",
            lambda e: _bounded_term(e, _SIGMOID) is not None, _sigmoid_near_bound,
            1 / (1 + sp.exp(-Y)) - _TARGET, True),
    Rewrite("tanh near its bounds", "a - z with a = tanh(y) and z = +-1: tanh rounds to +-1 beyond |y| = 19; it is "
            "(1 - z) - 2 sigmoid(-2y) for y > 1/2 and 2 sigmoid(2y) - (1 + z) for y < -1/2",
            lambda e: _bounded_term(e, sp.tanh(w)) is not None, _tanh_near_bounds, sp.tanh(Y) - _TARGET, True),
    Rewrite("sigmoid'", "e^{-w}/(1 + e^{-w})^2 overflows below w = -709 (inf/inf); through e^{-|w|} it keeps "
            "both tails, and it shares its terms with the sigmoid's",
            lambda e: e.is_Mul and _over_one_plus_exp(e, -2) and e.match(_SIGMOID_PRIME) is not None,
            lambda e: _sigmoid_prime(e.match(_SIGMOID_PRIME)[w]),
            sp.exp(-Y) / (1 + sp.exp(-Y)) ** 2),
    Rewrite("tanh'", "1 - tanh(w)^2 is 0 once tanh rounds to +-1 (|w| > 19); it is 4 e^{-2|w|}/(1 + e^{-2|w|})^2",
            1 - sp.tanh(w) ** 2, 4 * sp.exp(-2 * sp.Abs(w)) / (1 + sp.exp(-2 * sp.Abs(w))) ** 2,
            1 - sp.tanh(Y) ** 2),
    Rewrite("clamped branches", "NumPy evaluates both branches of a where(): an exp in the discarded one "
            "would overflow (elu), so each branch's exp is clamped to its side; constant branches are "
            "Heaviside steps, y vs k y a maximum", lambda e: isinstance(e, sp.Piecewise), _clamp_piecewise,
            sp.Piecewise((Y, Y > 0), (_ALPHA * (sp.exp(Y) - 1), True))),
    Rewrite("exp pair", "(e^w - 1) e^{-w}: e^w overflows where e^{-w} underflows harmlessly; it is 1 - e^{-w}",
            lambda e: e.is_Mul, _exp_pair, (sp.exp(Y) - 1) * sp.exp(-Y)),
    Rewrite("expm1", "c e^w - c cancels to 0 (or to a few digits) for |w| small: elu's alpha (e^y - 1) near 0, "
            "softplus' through a, 1 - e^{-a}, once a is tiny", _is_expm1_shape, _as_expm1,
            1 - sp.exp(-Y)),
    Rewrite("log1p", "log(1 + w) loses w once 1 + w rounds to 1", _is_log_of_one_plus,
            lambda e: log1p(e.args[0] - 1), sp.log(1 + Y ** 2)),
    Rewrite("sigmoid (e^w form)", "e^w/(1 + e^w) (softplus'): inf/inf above w = 709; it is sigmoid(w)",
            lambda e: _overflowing(e, _E_SIGMOID), lambda e: sigmoid(e.match(_E_SIGMOID)[w]),
            sp.exp(Y) / (1 + sp.exp(Y))),
    Rewrite("sigmoid", "1/(1 + e^{-w}): e^{-w} overflows below w = -709, and the tanh form "
            "(1 + tanh(w/2))/2 is 0 below w = -38; through e^{-|w|} both tails keep every digit",
            lambda e: _overflowing(e, _SIGMOID), lambda e: sigmoid(e.match(_SIGMOID)[w]), 1 / (1 + sp.exp(-Y))),
    Rewrite("one denominator", "1/d - b/d^2 with b close to d (a derivative by the quotient rule: softsign', "
            "y/sqrt(1 + y^2)') loses log10|y| digits to cancellation; over one denominator SymPy cancels the "
            "numerator exactly", lambda e: _over_one_denominator(e) is not None, _over_one_denominator,
            sp.diff(Y / (1 + sp.Abs(Y)), Y)),
)

# The same registry for a handful of values (one example at a time, n_L outputs): every sigmoid it prints is
# written through logaddexp (sigmoid_pair_log), which takes fewer NumPy calls; each form is proved like the others.
FEW_REWRITES = tuple(replace(r, replacement={
    "sigmoid near its bound": lambda e: _sigmoid_near_bound(e, sigmoid_pair_log),
    "sigmoid'": lambda e: _sigmoid_prime(e.match(_SIGMOID_PRIME)[w], sigmoid_pair_log),
    "sigmoid (e^w form)": lambda e: sigmoid_pair_log(e.match(_E_SIGMOID)[w])[0],
    "sigmoid": lambda e: sigmoid_pair_log(e.match(_SIGMOID)[w])[0],
}.get(r.name, r.replacement)) for r in REWRITES)


class OneMinus(sp.Function):
    """1 - a for a softmax output, computed without subtracting: C/S with C the sum of the other exponentials.

    The emitted softmax functions hold it in the array ``q``; proofs read it as 1 - a.
    """

    nargs = 1


_A = sp.Symbol("a", real=True)  # the output a, in costs e(a, z)


def _softmax_near_bound(e):
    """c a + v = c (1 + v/c) - c (1 - a) where a >= 1/2, with 1 - a = C/S exact (softmax outputs)."""
    (term,) = [t for t in e.args if t.has(_A)]
    c = term / _A
    v = (e - term) / c
    if (1 + v) == 0:  # a - 1 = -(1 - a): exact for every a
        return -c * OneMinus(_A)
    near = (1 + v) if (1 + v).is_number else sp.UnevaluatedExpr(1 + v)
    return sp.Piecewise((e, _A < sp.Rational(1, 2)), (c * (near - OneMinus(_A)), True))


def _is_softmax_difference(e):
    terms = [t for t in e.args if t.has(_A)] if e.is_Add else []
    return len(terms) == 1 and (terms[0] / _A).is_number


# The softmax's own: its outputs come with their complements 1 - a = C/S, so a - z near a = 1 needs no a(y).
SOFTMAX_REWRITES = (
    Rewrite("softmax near its bound", "a - z (mse, mae, the bce delta) with a a softmax output near 1 and z = 1: "
            "a rounds to 1 and a - z to 0; for a >= 1/2 it is (1 - z) - C/S, C the sum of the other exponentials",
            _is_softmax_difference, _softmax_near_bound, _A - _TARGET, True),
)


def plain(expr):
    """``expr`` as plain SymPy: grouping marks dropped, 1 - a written out."""
    expr = expr.replace(lambda e: isinstance(e, sp.UnevaluatedExpr), lambda e: e.args[0])
    expr = expr.replace(lambda e: isinstance(e, logaddexp), lambda e: sp.log(sp.exp(e.args[0]) + sp.exp(e.args[1])))
    return expr.replace(lambda e: isinstance(e, OneMinus), lambda e: 1 - e.args[0])


def proved_equal(original, rewritten):
    """True when the one zero-decider (:func:`symbackprop.engine.zero.is_zero`) proves original - rewritten is 0,
    on y > 0, y < 0 and y = 0 when the whole does not reduce.

    Splitting at 0 is exact for functions of y whose kinks sit at y = 0 (every built-in).

    >>> proved_equal(sp.Piecewise((1, Y > 0), (0, True)), sp.Heaviside(Y, 0))
    True
    >>> proved_equal(1 / (1 + sp.exp(-Y)), (1 + sp.tanh(Y)) / 2)  # the half-angle is missing
    False
    """
    diff = plain(original) - plain(rewritten)
    return is_zero(diff, split=Y if Y in diff.free_symbols else None)


@dataclass(frozen=True)
class Stable:
    """The outcome of :func:`stable`: what was asked, what is printed, which rewrites made it, and the proof.

    Each replacement a rewrite makes is proved equal to the subexpression it replaces (so the whole is equal).
    When a proof fails, ``rewritten`` is ``original``, ``applied`` is empty and ``refused`` names the
    rewrites whose result SymPy could not prove equal.
    """

    original: sp.Expr
    rewritten: sp.Expr
    applied: tuple = ()
    proved: bool = True
    refused: tuple = ()


@lru_cache(maxsize=1024)
def stable(expr, rewrites=REWRITES):
    """``expr`` with every rewrite of ``rewrites`` applied in order, accepted only when proved equal.

    >>> stable(1 - sp.exp(-Y)).rewritten
    -expm1(-y)
    >>> wrong = Rewrite("wrong", "", sp.exp(w) - 1, w, sp.exp(Y) - 1)  # e^w - 1 = w only near 0
    >>> s = stable(sp.exp(Y) - 1, (wrong,))
    >>> s.proved, s.rewritten, s.refused
    (False, exp(y) - 1, ('wrong',))
    """
    new, applied, refused = expr, [], []
    for rewrite in rewrites:
        step, pairs = rewrite.apply(new)
        if step == new:
            continue
        # replacing a subexpression by an equal one keeps the whole equal: prove each replacement made
        if all(_proved_cached(old, replacement) for old, replacement in pairs):
            new = step
            applied.append(rewrite.name)
        else:
            refused.append(rewrite.name)
    if refused:
        return Stable(expr, expr, (), False, tuple(refused))
    return Stable(expr, new, tuple(applied), True)


@lru_cache(maxsize=4096)
def _proved_cached(original, rewritten):
    return proved_equal(original, rewritten)


def stable_form(expr):
    """Just the printed form of :func:`stable`."""
    return stable(expr).rewritten


__all__ = ["FEW_REWRITES", "REWRITES", "SOFTMAX_REWRITES", "OneMinus", "Rewrite", "Stable", "plain", "proved_equal", "sigmoid", "sigmoid_pair", "sigmoid_pair_log", "softplus",
           "stable", "stable_form"]
