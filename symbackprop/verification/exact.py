"""The exact proof: (a) direct = (b) chain = (c) outer reduced to 0 symbolically, for small networks.

SymPy builds the three forms in explicit symbols: (c) is the derivation's matrix forms made explicit
(:attr:`LayerDerivation.delta`), (b) the long chain product with the column-vector of matrices, (a) the
composed E differentiated.  The differences are reduced by the one zero-decider,
:func:`symbackprop.engine.zero.is_zero`: every function application (exp, tanh, log, sign, ...) is named by a
symbol and every Piecewise written as its branches times indicator symbols, then the result is expanded
and cancelled.  The reduction is sound: it can only fail to prove, never prove falsely.
"""
import math

import sympy as sp

from symbackprop.engine import forms
from symbackprop.engine.zero import is_zero
from symbackprop.verification.report import Check

EXACT_MAX_PARAMS = 60
EXACT_MAX_DEPTH = 3
EXACT_MAX_BATCH = 3


def _exact_is_cheap(spec):
    """``auto`` proves exactly when the composed E is small enough to take seconds, not minutes.

    Measured here: 3-4-2 sigmoid/mse (26 parameters) 1.2 s; 3-3-3 leaky_relu/softmax (24) 60 s,
    because softmax couples every output to every exponential.  Explicit ``exact`` allows more.
    """
    softmax = any(not a.elementwise for a in spec.activations)
    return (spec.n_params <= (16 if softmax else 30) and spec.depth <= EXACT_MAX_DEPTH
            and (spec.batch or 1) <= 2)


def _compare_exact(left, right, table):
    """All entries of left - right reduce to 0?  Returns (entries, failures)."""
    bad = sum(not is_zero(l - r, table=table, seconds=None, rewrite=False) for l, r in zip(left, right))
    return len(left), bad


def _exact_checks(derivation, tick=lambda: None):
    net, L = derivation.network, derivation.L
    checks, table = [], {}
    composed = net.composed_substitution()
    E = net.error()

    def add(l, quantity, forms, entries, bad, note=""):
        checks.append(Check(l, quantity, forms, "exact", entries, 0.0 if not bad else math.inf, 0.0, not bad, note))

    # (c) writes a'(y) and the output delta through a where that form was proved: in local symbols the
    # a^l_i are then tied to the y^l_i by the forward rule a^l = a(y^l).  (a) is compared with (b), whose
    # derivatives are in y like the composed E's, so the two cancel term by term; with (b) = (c) proved
    # in local symbols, (a) = (b) = (c).
    local = _forward_rule(net)
    for l in range(L, 0, -1):
        for wrt, params in (("W", list(net.W(l))), ("b", list(net.b(l)))):
            quantity = f"dE/d{wrt}^{l}"
            chain = list(derivation.chain_product(l, wrt))  # (b), local symbols
            outer = [o.xreplace(local) for o in derivation.outer_gradient(l, wrt)]  # (c), local symbols
            add(l, quantity, "(b) chain = (c) outer", *_compare_exact([c.xreplace(local) for c in chain], outer, table))
            direct = [sp.diff(E, p) for p in params]  # (a), the composed E differentiated
            add(l, quantity, "(a) direct = (b) chain", *_compare_exact(direct, [c.xreplace(composed) for c in chain],
                                                                       table))
        tick()
    if net.spec.batch:
        checks += _exact_batch_checks(derivation, net.spec.batch, table)
    return checks


def _forward_rule(net):
    """{a^l_i: a_i(y^l)} in local symbols: the forward rule that ties each a to its y."""
    mapping = {}
    for l in range(1, net.L + 1):
        mapping.update(zip(net.a_local(l), net.activations[l](list(net.y_local(l)))))
    return mapping


def _exact_batch_checks(derivation, beta, table):
    """Eq. 86-90: the batch error's direct derivative against the derivation's batch gradient forms
    (1/beta) Delta^l (S^{l-1})^T and (1/beta) Delta^l 1, with Delta^l column c the delta of example c."""
    from symbackprop.engine.forms import BETA

    net, L = derivation.network, derivation.L
    E = net.batch_error(beta)
    layers = net.batch_forward(beta)
    X, Z = net.X(beta), net.Z(beta)
    columns = []
    for c in range(beta):  # the single-example symbols of column c
        mapping = {xi: X[j, c] for j, xi in enumerate(net.x)}
        mapping.update({zi: Z[i, c] for i, zi in enumerate(net.z)})
        for k in range(1, L + 1):
            mapping.update({s: layers[k][0][i, c] for i, s in enumerate(net.y_local(k))})
            mapping.update({s: layers[k][1][i, c] for i, s in enumerate(net.a_local(k))})
        columns.append(mapping)
    M = derivation.matrices.at(beta)
    checks = []
    for l in range(L, 0, -1):
        delta = derivation.delta_expanded(l)
        Delta = sp.ImmutableMatrix(sp.Matrix.hstack(*[delta.xreplace(m) for m in columns]))  # eq. 87
        values = {M.Delta(l): Delta, M.A(l - 1): sp.ImmutableMatrix(layers[l - 1][1])}
        for wrt, params, form in (("W", net.W(l), derivation[l].dW_form), ("b", net.b(l), derivation[l].db_form)):
            outer = forms.explicit(form.xreplace({BETA: beta}), values)
            direct = [sp.diff(E, p) for p in params]
            entries, bad = _compare_exact(direct, list(outer), table)
            checks.append(Check(l, f"dE/d{wrt}^{l} (batch)", "(a) direct = (c) outer", "exact", entries,
                                0.0 if not bad else math.inf, 0.0, not bad, f"beta = {beta}"))
    return checks
