"""Checks of the element-wise formulas the code uses, one row each, on a grid across regimes.

The matrix forms are only as right as the scalar formulas inside them.  Each formula a consumer
reads is compared here, at high precision, with what it stands for:

* a'(y), as derived, against the central difference of a(y) itself (the forward rule);
* a'(y) written through a (when the derivation uses that form) against a'(y);
* e'(a, z), as derived, against the central difference of the cost term e(a, z);
* the simplified output delta against e'(a, z) a'(y) / n with a = a(y) (element-wise outputs;
  a softmax output's delta is checked by the (b) = (c) rows of its layer);
* the stable form the emitted code prints of each a(y) and a'(y) (:mod:`symbackprop.engine.rewrites`) against the
  derived formula: its proof, and both evaluated on the grid.  (The output layer's fused cost and delta are
  checked where they are used: ``symbackprop verify --emitted`` and tests/test_tails.py.)

The grid: y = +-{1e-4, 1e-2, 0.5, 1, 2, 3.5, 5, 10, 20, 38, 40, 60}, both sides of every kink at
distances 1e-3 and 0.1, and targets z in {0.05, 0.5, 0.95} (plus 0 and 1 for costs that allow them).
"""
import mpmath
import sympy as sp

from symbackprop.engine.rewrites import plain, stable
from symbackprop.engine.symbols import A, Y, Z
from symbackprop.verification.evaluate import scalar_function
from symbackprop.verification.points import kinks

MAGNITUDES = (1e-4, 1e-2, 0.5, 1, 2, 3.5, 5, 10, 20, 38, 40, 60)
TARGETS = (0.05, 0.5, 0.95)


def grid(activation):
    """The y values of the module docstring for this activation (kinks themselves left out)."""
    points = {s * m for m in MAGNITUDES for s in (1, -1)}
    for k in kinks(activation):
        points |= {k + s * d for d in (1e-3, 0.1) for s in (1, -1)}
    ks = kinks(activation)
    return sorted(p for p in points if all(abs(p - k) > 1e-6 for k in ks))


def _value(f, *args):
    v = mpmath.mpmathify(f(*args))
    return v if isinstance(v, mpmath.mpf) and mpmath.isfinite(v) else None


def _discrepancy(pairs):
    """max |value - reference| / max(|reference|, 1e-100) over (value, reference) pairs; inf if any is not finite."""
    worst = mpmath.mpf(0)
    for v, r in pairs:
        if v is None or r is None:
            return mpmath.inf
        worst = max(worst, abs(v - r) / max(abs(r), mpmath.mpf(10) ** -100))
    return worst


def _derivative_by_difference(formula, symbol, at, others, digits):
    """d formula / d symbol at ``at`` by a central difference at twice the precision."""
    f = scalar_function(formula, (symbol, *others))
    with mpmath.workdps(3 * digits + 40):
        h = mpmath.mpf(10) ** -(digits + 8)
        plus, minus = _value(f, at + h, *others.values()), _value(f, at - h, *others.values())
        if plus is None or minus is None:
            return None
        return (plus - minus) / (2 * h)


def _rewrite_row(l, act, what, formula, ys, tol, make_check):
    """A row for the stable form the emitted code prints of ``formula`` (none when nothing was rewritten):
    its proof, and the two evaluated against each other on the grid."""
    found = stable(formula)
    if not found.applied:
        return []
    printed = scalar_function(plain(found.rewritten), (Y,))
    original = scalar_function(formula, (Y,))
    disc = float(_discrepancy([(_value(printed, y), _value(original, y)) for y in ys]))
    proof = "proved equal" if found.proved else "NOT proved equal"
    return [make_check(l, f"{what} of {act.label()}", "stable form = derived", "high-precision", len(ys), disc, tol,
                       found.proved and disc <= tol, f"{', '.join(found.applied)}: {proof}, and compared on the grid")]


def formula_checks(derivation, digits, make_check):
    """Rows for every element-wise formula of the derivation (see the module docstring)."""
    net, L = derivation.network, derivation.L
    tol = 10.0 ** -(digits - 20)
    rows = []

    def add(l, quantity, forms, disc, count, note):
        d = float(disc)
        rows.append(make_check(l, quantity, forms, "high-precision", count, d, tol, d <= tol, note))

    seen = set()
    with mpmath.workdps(2 * digits + 20):  # tails cancel (1 - tanh(60)^2): evaluate with digits to spare
        for l in range(1, L + 1):
            act = net.activations[l]
            if not act.elementwise or act in seen:
                continue
            seen.add(act)
            ys = [mpmath.mpf(v) for v in grid(act)]
            a_of, d_of = scalar_function(act.formula, (Y,)), scalar_function(act.derivative, (Y,))
            pairs = [(_value(d_of, y), _derivative_by_difference(act.formula, Y, y, {}, digits)) for y in ys]
            add(l, f"a'(y) of {act.label()}", "derived = differences of a(y)", _discrepancy(pairs), len(ys),
                "central differences of a(y) at twice the precision, y across regimes")
            for what, formula in (("a(y)", act.formula), ("a'(y)", act.derivative)):
                rows.extend(_rewrite_row(l, act, what, formula, ys, tol, make_check))
            if act.derivative_in_a is not None:
                in_a = scalar_function(act.derivative_in_a, (A,))
                pairs = [(_value(in_a, _value(a_of, y)), _value(d_of, y)) for y in ys]
                add(l, f"a'(y) of {act.label()}", "through a = derived", _discrepancy(pairs), len(ys),
                    f"a'(y) = {sp.sstr(act.derivative_in_a)} with a = a(y)")
        out = net.activations[L]
        cost = net.cost
        zs = [mpmath.mpf(z) for z in TARGETS]
        if out.elementwise:
            a_of = scalar_function(out.formula, (Y,))
            outputs = [_value(a_of, mpmath.mpf(y)) for y in grid(out)]
        else:
            outputs = [mpmath.mpf(v) for v in (1e-20, 1e-3, 0.1, 0.5, 0.9, 1 - 1e-6)]
        outputs = [a for a in outputs if a is not None]
        de = scalar_function(cost.derivative, (A, Z))
        pairs = [(_value(de, a, z), _derivative_by_difference(cost.term, A, a, {Z: z}, digits))
                 for a in outputs for z in zs if _value(scalar_function(cost.term, (A, Z)), a, z) is not None]
        add(L, f"e'(a, z) of {cost.label()}", "derived = differences of e", _discrepancy(pairs),
            len(pairs), "central differences of the cost term at outputs a(y) across regimes")
        if out.elementwise:
            from symbackprop.engine.simplify import N

            found = derivation.output_delta
            n = net.n(L)
            simplified = scalar_function(found.simplified.xreplace({N: n}), (Y, A, Z))
            d_of = scalar_function(out.derivative, (Y,))
            pairs = []
            for y in grid(out):
                y = mpmath.mpf(y)
                a = _value(a_of, y)
                for z in zs:
                    reference = None
                    if a is not None:
                        e1, d1 = _value(de, a, z), _value(d_of, y)
                        reference = e1 * d1 / n if e1 is not None and d1 is not None else None
                    pairs.append((_value(simplified, y, a, z) if a is not None else None, reference))
            add(L, "delta^L", "simplified = e'(a, z) a'(y) / n", _discrepancy(pairs), len(pairs),
                f"{found.summary()}; y across regimes")
    return rows
