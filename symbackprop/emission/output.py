"""The output layer of the emitted module: the cost e(a, z) and the output delta, in their stable forms.

Both are the derivation's formulas (the cost term, and the output delta that
:func:`symbackprop.engine.simplify.output_delta` found and the matrix forms read), printed so that their tails
survive float64: where a rewrite of :mod:`symbackprop.engine.rewrites` joins the output activation with a log or a
difference (log sigmoid, a - z near a bound, a softmax's log-sum-exp), the cost and the delta are computed
from y^L, and each rewrite is proved equal to the formula it replaces.  See docs/tails.md.
"""
import sympy as sp

from symbackprop.emission.codegen import (
    SCALE,
    _check_doc,
    _identifier,
    elementwise_pair_source,
    elementwise_source,
    numpy_expression,
)
from symbackprop.engine.forms import softmax_scale as _softmax_scale
from symbackprop.engine.rewrites import FEW_REWRITES, REWRITES, SOFTMAX_REWRITES, OneMinus, proved_equal, stable
from symbackprop.engine.simplify import N, output_delta, tidy
from symbackprop.engine.symbols import A, Y
from symbackprop.errors import SymbackpropError


def output_functions(activation, cost, n_out, functions, found=None):
    """Emit the cost term e(a(y), z) and the output delta for the output layer; returns their names and
    whether either reads a^L.

    Both are functions of y as well as a, so that a cost taking log a, or a delta whose a-form loses the
    tails (a(1 - a) once the sigmoid rounds to 1), can be computed from y^L directly (fused), by the
    rewrites of :mod:`symbackprop.engine.rewrites`, each proved equal to the formula it replaces.
    """
    if not activation.elementwise:
        return (*_softmax_output_functions(activation, cost, functions), True)
    cost_name = f"cost_{_identifier(cost.label())}"
    fused = _fused(cost.term, activation)
    term, how = (cost.term, "e(a, z)") if fused is None else (fused, "e(a(y), z), fused with the output activation")
    functions[cost_name] = elementwise_source(cost_name, term, ("y", "a", "z"),
                                              f"{cost.label()}: e(a, z) = {sp.sstr(cost.term)}, computed as {how}; "
                                              f"E = mean of e over outputs and examples (eq. 86)")
    found = found or output_delta(activation, cost)  # the derivation's output delta
    doc = (f"delta^L = e'(a, z) a'(y) / n_L = {sp.sstr(found.simplified)} (simplified by SymPy), "
           f"times scale = (1/beta) or -lr/beta (eq. 54, 87)")
    batch, one = (_one_fraction(stable(_delta_in_y(activation, cost, found, rewrites), rewrites).rewritten
                                .xreplace({N: 1 / SCALE})) for rewrites in (REWRITES, FEW_REWRITES))
    # arrays (a batch): the cost and the delta of the same y^L in one function, the terms they share (the
    # exponentials, a - z) computed once; gradients() and every training step run it
    functions["output_step"] = elementwise_pair_source(
        "output_step", [(_one_fraction(stable(term).rewritten), "e"), (batch, "out")], ("y", "a", "z", "scale"),
        f"e(a, z) of {cost.label()} into e, as {cost_name} computes it, and {doc} into out; the terms they share "
        f"computed once")
    # one example at a time: n_L values, where a NumPy call costs its dispatch, in the few-element forms
    functions["output_delta"] = elementwise_source("output_delta", one, ("y", "a", "z", "scale"),
                                                   f"{doc}; the forms for one example (n_L values)", ())
    # fused into y, the printed cost and delta may not read a^L: then one example at a time skips a(y^L)
    reads_a = any(f.has(A) for f in (stable(term).rewritten, batch, one))
    return cost_name, OutputDeltas("output_delta", step="output_step"), reads_a


class OutputDeltas(str):
    """The name of the function computing the output delta of one example (a str, as before), and in ``.step``
    the one computing a batch's cost and delta together, ``step(y, a, z, scale, e, out)`` (None: no such)."""

    def __new__(cls, name, step=None):
        self = super().__new__(cls, name)
        self.step = step
        return self


def _one_fraction(expr):
    """``expr`` over one denominator, its numeric factors taken out, when SymPy proves that equal: the terms of a
    stable form share their denominator (1 + e^{-|y|}), and one division by its power takes fewer passes over the
    array than one per term; a factor 2 taken out of 2 (1 - z) - 2 z rides with scale, not in an array pass."""
    for combined in (sp.factor_terms(sp.together(expr)), sp.factor_terms(expr)):
        # the same exponentials, none inverted (1/e^{-x} would overflow where e^{-x} underflows harmlessly)
        if combined != expr and combined.atoms(sp.exp) == expr.atoms(sp.exp) and proved_equal(expr, combined):
            return combined
    return expr


def _fused(expr, activation, rewrites=REWRITES):
    """``expr`` (in a) with a = a(y), rewritten, when a fusing rewrite applies (log sigmoid, a - z near a bound).

    None when no rewrite joins a(y) with ``expr``: then a, already computed by the activation, serves as well.
    """
    result = stable(expr.xreplace({A: activation.formula}), rewrites)
    fusing = {r.name for r in rewrites if r.fuses}
    return result.rewritten if result.proved and fusing & set(result.applied) else None


def _delta_in_y(activation, cost, found, rewrites=REWRITES):
    """The derived output delta in the form whose tails survive float64 (proved equal to ``found.simplified``).

    When a singular factor cancelled (sigmoid + bce: (a - z)/n) that form is kept, written through y when a
    rewrite then removes a cancellation (sigmoid + cross-entropy: z (a - 1) -> -z sigmoid(-y); a - z near
    z = 1).  Otherwise delta = e'(a, z) a'(y)/n with a'(y) in y, where the rewrites keep its tails
    (sigmoid' = e^{-|y|}/(1 + e^{-|y|})^2 where a(1 - a) is 0 above y = 37), and e'(a, z) through y when
    that removes a cancellation (mse: 2 (a - z) near a bound).
    """
    f = activation.formula
    if found.found_cancellation:
        return _fused(sp.factor(found.simplified), activation, rewrites) or found.simplified
    # e'(a, z) a'(y)/n is what SymPy simplified; each factor's rewrite is proved where it is made
    if not proved_equal(found.simplified.xreplace({A: f}), (cost.derivative * activation.derivative / N).xreplace({A: f})):
        return found.simplified
    return ((_fused(cost.derivative, activation, rewrites) or cost.derivative)
            * stable(activation.derivative, rewrites).rewritten / N)


def _softmax_output_functions(activation, cost, functions):
    """Softmax output: the cost and delta from u = (y - m)/T (m the column maximum), fused where it helps.

    With E = e^u (entries <= 1, one of them 1 at the maximum), S = sum_k e^{u_k} = 1 + R and C = S - E
    (R: the sum without the maximum's 1; C_i: the sum without entry i), a = E/S and q = 1 - a = C/S exactly,
    so log a = u - log1p(R) and log(1 - a) = log C - log1p(R) keep every digit where a rounds to 0 or 1, and
    a - z near a = 1 is (1 - z) - q (:data:`symbackprop.engine.rewrites.SOFTMAX_REWRITES`).  A cost with logs is
    derived by substituting these into e(a, z) and expanding the logs; every form is proved equal.
    """
    cost_name, delta = f"cost_{_identifier(cost.label())}", "output_delta"
    c, shift = _softmax_scale(activation), _softmax_shift(activation)
    U, S, C, E = sp.symbols("u S C E", positive=True)
    logS, logC = sp.Symbol("logS", real=True), sp.Symbol("logC", real=True)
    if cost.conditions:  # where the term is defined (log a, log(1 - a), ...): written in u, S, C
        term = sp.expand_log(cost.term.xreplace({A: sp.exp(U) / S}).subs(1 - sp.exp(U) / S, C / S), force=True)
        term = term.xreplace({sp.log(S): logS, sp.log(C): logC})
        back = term.xreplace({logS: sp.log(S), logC: sp.log(C)}).xreplace({U: sp.log(E)})  # E, S, C > 0
        if not proved_equal(sp.expand_log(cost.term.xreplace({A: E / S}).subs(1 - E / S, C / S)), back):
            raise SymbackpropError(f"{activation.label()} + {cost.label()}: the fused cost is not proved equal")
        how = "u = (y - m)/T, S = 1 + R the sum of e^u, C = S - e^u, fused and proved equal"
    else:
        found = stable(cost.term, SOFTMAX_REWRITES)
        term, how = found.rewritten, "q = 1 - a = C/S where a >= 1/2 (proved equal)"
    uses = [term.has(logS), term.has(logC), term.has(OneMinus)]
    prelude = _softmax_prelude(shift, *uses) if any(uses) or term.has(U) else []
    functions[cost_name] = (
        f"def {cost_name}(y, a, z, out):\n"
        f'    """{_check_doc(cost.label())}: e(a, z) = {sp.sstr(cost.term)} with a = softmax, as '
        f'{_check_doc(sp.sstr(_plain_text(term)))}; {how}; E = mean of e (eq. 86)."""\n'
        + "".join(f"    {line}\n" for line in prelude)
        + f"    out[...] = {numpy_expression(term)}\n"
        f"    return out"
    )
    # delta_j = c (h_j - a_j sum_i h_i) with h = a e'(a, z), written c (P_j - a_j sum_(i != j, top) h_i - w_j P_top):
    # P = (1 - a) h, and a_j h_top = w_j P_top with w_j = a_j/(1 - a_top) = e^(u_j - log R) for j below the top.
    # No h_j - a_j h_j cancels as a_j -> 1, and no 1/(1 - a_top) is formed: it may underflow (T = 0.001).
    h = tidy(cost.derivative * A)  # a_i e'(a_i, z_i)
    P = tidy(A * (1 - A) * cost.derivative)
    if not proved_equal(P, (1 - A) * h):
        raise SymbackpropError("the softmax delta's split is not an identity")
    h_stable, P_stable = (stable(sp.factor(f), SOFTMAX_REWRITES).rewritten for f in (h, P))
    doc = (f"softmax output: delta_j = c (h_j - a_j sum_i h_i) / n_L with h = a e'(a, z) = {sp.sstr(h)}, "
           f"c = {sp.sstr(c)}, computed as c (P_j - a_j sum_(i != j, top) h_i - w_j P_top) with P = (1 - a) h = "
           f"{sp.sstr(P)}, w_j = a_j/(1 - a_top), 1 - a = q = C/S (eq. 54)")
    body = _softmax_prelude(shift, log_c=True) + [
        f"P = {numpy_expression(P_stable)}",
        "w = u - logR",
        "numpy.put_along_axis(w, top, -numpy.inf, axis=0)",
        "numpy.exp(w, out=w)  # a_j/(1 - a_top) = e^u_j / R below the top (0 at the top), no underflow of either",
        "numpy.put_along_axis(q, top, 1, axis=0)  # h is used below the top only, where 1 - a >= 1/2",
        f"h = numpy.array({numpy_expression(h_stable)}, dtype=y.dtype)  # a copy: its top row is cleared",
        "numpy.put_along_axis(h, top, 0, axis=0)",
        "numpy.subtract(h.sum(axis=0, keepdims=True), h, out=out)  # sum_(i != j, top) h_i",
        "numpy.multiply(a, out, out=out)",
        "numpy.subtract(P, out, out=out)",
        "numpy.subtract(out, w * numpy.take_along_axis(P, top, axis=0), out=out)",
        f"return numpy.multiply(out, {numpy_expression(c * SCALE)}, out=out)"]
    functions[delta] = (f"def {delta}(y, a, z, scale, out):\n"
                        f'    """{_check_doc(doc)}."""\n' + "".join(f"    {line}\n" for line in body).rstrip("\n"))
    return cost_name, delta


def _plain_text(expr):
    expr = expr.replace(lambda e: isinstance(e, sp.UnevaluatedExpr), lambda e: e.args[0])
    return expr.replace(lambda e: isinstance(e, OneMinus), lambda e: sp.Symbol("q"))


def _softmax_shift(activation):
    """1/T, read off the numerator e^{y/T} of the engine's softmax formula."""
    return sp.diff(sp.log(activation.formula), Y)


def _softmax_prelude(shift, log_s=False, log_c=False, q=True):
    """Lines computing u, R, S = 1 + R, C = S - e^u (q = C/S = 1 - a, log S, log C) for the softmax cost and delta."""
    lines = [f"u = (y - y.max(axis=0, keepdims=True)) * {numpy_expression(shift)}  # u = (y - m)/T <= 0",
             "top = u.argmax(axis=0)[None]  # the row of the maximum, where e^u = 1",
             "E = numpy.exp(u)",
             "numpy.put_along_axis(E, top, 0, axis=0)",
             "R = E.sum(axis=0, keepdims=True)  # S - 1, summed without the maximum's 1"]
    if q or log_c:
        lines += ["S = 1 + R",
                  "C = S - E  # C_i = S - e^{u_i}, the sum without entry i, for i below the maximum ...",
                  "numpy.put_along_axis(C, top, R, axis=0)  # ... and R at the maximum"]
    if q:
        lines += ["q = C / S  # 1 - a, without subtracting"]
    if log_s:
        lines += ["logS = numpy.log1p(R)"]
    if log_c:
        lines += ["v = u.copy()",
                  "numpy.put_along_axis(v, top, -numpy.inf, axis=0)",
                  "m2 = v.max(axis=0, keepdims=True)",
                  "logR = m2 + numpy.log(numpy.exp(v - m2).sum(axis=0, keepdims=True))  # log R without underflow"]
    if log_c and log_s:  # the cost: log C_i (R at the top, where C may underflow)
        lines += ["logC = numpy.log(C, out=numpy.zeros_like(C), where=C > 0)",
                  "numpy.put_along_axis(logC, top, logR, axis=0)"]
    return lines
