"""The high-precision checks: the derivation's own formulas evaluated at points across regimes.

For every point of :mod:`symbackprop.verification.points` and every layer l:

* (c) *outer*: the derivation's matrix forms, exactly as the code prints them: ``Delta^l`` from
  :attr:`LayerDerivation.delta_form` (the simplified output delta at the top, then the recursion) and
  dE/dW^l = Delta^l (S^{l-1})^T from :attr:`LayerDerivation.dW_form`;
* (b) *chain*: the long product dE/da^L da^L/dy^L W^L ... da^l/dy^l of the derivation's Jacobian forms,
  times the column-vector of matrices dy^l/dW^l through its own entries (:meth:`ColumnOfMatrices.nonzero`);
* (a) *direct*: the composed error itself, differenced centrally at higher precision (F + F/2 bits, step
  2^-(F/2 + 16)) along a random rank-one direction u v^T of W^l and a random direction of b^l (and one
  coordinate each); deeper networks move W^l and b^l together at one point, and every layer at once at
  every point (the difference costs the layers above l, so layer by layer it grows as L^2).

The n_l x n_{l-1} gradient is compared through projections u^T (dE/dW) v with random u, v (if two
matrices differ, a random projection tells them apart with probability 1) plus every entry of delta.
Every number is a high-precision number of :mod:`symbackprop.verification.evaluate`, one per entry of a layer:
nothing is stored per weight except the weight itself.
"""
import random

import mpmath
import numpy as np
import sympy as sp
from sympy.matrices.exceptions import ShapeError

from symbackprop.engine import forms
from symbackprop.verification.evaluate import Evaluator, Fixed, fixed_bits
from symbackprop.verification.points import REGIMES, error, forward, make_point

UNEVALUABLE = (ShapeError, TypeError, ValueError, KeyError, ArithmeticError)
PROBES = 2  # random projections u^T (dE/dW) v per layer and point, besides one coordinate
FLOOR = mpmath.mpf(10) ** -30


def relative(values, reference, floor=FLOOR):
    """max |v - r| / max(max |r|, floor), over numbers that must all be finite reals (else inf).

    The floor keeps a gradient that cancels to 0 (softmax rows sum to 0: with mae at a point where every
    a - z has one sign, dE/dy^L = 0) from turning rounding at the 2^-F level into a failure; an error of
    any size above 1e-60 still shows against the tolerance 1e-30.
    """
    values, reference = list(values), list(reference)
    if not all(isinstance(v, mpmath.mpf) and mpmath.isfinite(v) for v in (*values, *reference)):
        return mpmath.inf
    scale = max([abs(r) for r in reference] + [floor])
    return max(abs(v - r) for v, r in zip(values, reference)) / scale


class PointChecks:
    """Everything evaluated at one point: forward values, (b), (c), (a) for each layer."""

    def __init__(self, derivation, point):
        self.d, self.net, self.point = derivation, derivation.network, point
        self.F, self.L = point.F, derivation.L
        self.beta = point.beta
        self.M = derivation.matrices.at(self.beta)
        self.Ys, self.As = forward(self.net, point)
        leaves = {self.M.Z: point.Z}
        for l in range(1, self.L + 1):
            leaves.update({self.M.W(l): point.W[l], self.M.Y(l): self.Ys[l], self.M.A(l): self.As[l]})
        leaves[self.M.A(0)] = self.As[0]
        self.ev = Evaluator(leaves, self.F, {forms.BETA: self.beta})
        self.deltas, self._projected, self._chain = {}, {}, {}
        for l in range(self.L, 0, -1):  # (c): the recursion as the code runs it
            form = derivation[l].delta_form.xreplace({forms.BETA: self.beta})
            self.deltas[l] = self.ev.value(form)
            self.ev.bind(self.M.Delta(l), self.deltas[l])

    # -- (c) ----------------------------------------------------------------------------------
    def outer_projection(self, l, wrt, u, v):
        """u^T (dE/dW^l) v or u^T dE/db^l from the derivation's gradient forms (c)."""
        if (l, wrt) not in self._projected:
            W_form, b_form = self.d[l].gradient_forms
            form = (W_form if wrt == "W" else b_form).xreplace({forms.BETA: self.beta})
            probe = sp.MatrixSymbol("v_probe", form.shape[1], 1)
            self._projected[l, wrt] = (probe, form * probe)
        probe, projected = self._projected[l, wrt]
        self.ev.bind(probe, v)
        column = self.ev.value(projected)  # right to left: never the n x m matrix
        return _dot(u, column)

    # -- (b) ----------------------------------------------------------------------------------
    def chain_row(self, l):
        """dE/dy^l as the long product of eq. 50-51 (one example: beta = 1), a 1 x n_l Fixed row:
        dE/da^L da^L/dy^L W^L da^{L-1}/dy^{L-1} ... W^{l+1} da^l/dy^l, multiplied left to right.

        The product for layer l begins with the product for layer l + 1, and the same factors multiplied in
        the same order give the same numbers, so each prefix is multiplied once and kept.
        """
        M = self.M
        for k in range(self.L, l - 1, -1):  # from the output down, each prefix once (no recursion depth)
            if k in self._chain:
                continue
            if k == self.L:
                row = self.ev.value(forms.dE_da_form(self.net.cost, M.A(self.L), M.Z))
            else:
                row = self._row_times(self._chain[k + 1], M.W(k + 1))  # . W^{k+1} = dy^{k+1}/da^k (eq. 41)
            self._chain[k] = self._row_times(row, self.d[k].jacobian_form(M))  # . da^k/dy^k
        return self._chain[l]

    def _row_times(self, row, form):
        return self.ev._times(row, form)

    def chain_projection(self, l, row, u, v):
        """u^T (row . dy^l/dW^l) v through the column-vector of matrices' own entries (eq. 18)."""
        column = self.d[l].column_form(self.M)
        cache, total = {}, mpmath.mpf(0)
        for i in range(column.n):
            where, values = column.nonzero(i)
            if values not in cache:
                probe = sp.MatrixSymbol("v_probe", values.shape[1], 1)
                self.ev.bind(probe, v)
                cache[values] = self.ev.value(values * probe).v[0, 0]
            with mpmath.workprec(self.F + 64):
                total += row.v[0, i] * u.v[where, 0] * cache[values]
        return Fixed(np.array([[total]], dtype=object), self.F)

    # -- (a) ----------------------------------------------------------------------------------
    def direct(self, l, dy):
        """d/dt E(y^l + t dy) at t = 0 by central differences at doubled precision (layers l..L only)."""
        # h = 2^-(F/2 + 16): the truncation error h^2 E''' and the rounding 2^-F2 / h both stay below 2^-F
        h_bits = self.F // 2 + 16
        F2 = self.F + h_bits + 32
        Yl = self.Ys[l].at(F2)
        step = dy.at(F2).times(sp.Rational(1, 2 ** h_bits))  # h dy, h = 2^-h_bits
        values = []
        for sign in (1, -1):
            moved = Yl + step if sign > 0 else Yl - step
            _, As = forward(self.net, self.point, F2, start=l, Y_start=moved, signals={l - 1: self.As[l - 1]})
            values.append(error(self.net, As[self.L], self.point.Z, F2))
        with mpmath.workprec(F2 + 64):
            return (values[0] - values[1]) / (2 * mpmath.ldexp(1, -h_bits))


    def direct_joint(self, moves):
        """d/dt E at t = 0 with every W^l moved by t u v^T and b^l by t w: moves = {l: (u, v, w, _)}."""
        h_bits = self.F // 2 + 16
        F2 = self.F + h_bits + 32
        values = []
        for sign in (1, -1):
            h = sp.Rational(sign, 2 ** h_bits)
            perturb = {l: (u.at(F2), v.at(F2), w.at(F2), h) for l, (u, v, w, _) in moves.items()}
            _, As = forward(self.net, self.point, F2, perturb=perturb)
            values.append(error(self.net, As[self.L], self.point.Z, F2))
        with mpmath.workprec(F2 + 64):
            return (values[0] - values[1]) / (2 * mpmath.ldexp(1, -h_bits))


def _dot(u, column):
    with mpmath.workprec(u.F + 64):
        total = mpmath.fdot(u.v[:, 0], column.v[:, 0])
    return Fixed(np.array([[total]], dtype=object), column.F)


def _random_vector(rng, n, F):
    return Fixed.from_values([[round(rng.uniform(-1, 1) * 2 ** 20) / 2 ** 20] for _ in range(n)], F)


def _unit(n, i, F):
    v = np.full((n, 1), mpmath.mpf(0), dtype=object)
    v[i, 0] = mpmath.mpf(1)
    return Fixed(v, F)


PER_LAYER_DEPTH = 4  # deeper networks difference layer by layer at one point, and all layers jointly at each


def numeric_checks(derivation, seed, digits, make_check, tick=lambda: None, regimes=REGIMES, beta=1):
    """(b) = (c) and (a) = (c) rows for every layer, the worst over the points of ``regimes``.

    (a) is a difference of the composed E from layer l up, so it costs L - l + 1 layers per direction:
    networks deeper than PER_LAYER_DEPTH get it layer by layer at their ``mixed regimes`` point only, and
    at every point once for all layers together (every W^l and b^l moved at once along random directions).
    """
    F = fixed_bits(digits)
    tol = 10.0 ** -(digits - 20)
    net, L = derivation.network, derivation.L
    worst = {}  # (l, quantity, forms) -> [discrepancy, compared]
    failures = []

    def record(l, quantity, pair, disc, count):
        old = worst.setdefault((l, quantity, pair), [mpmath.mpf(0), 0])
        old[0] = max(old[0], disc)
        old[1] += count

    suffix = " (batch)" if beta > 1 else ""
    per_layer_at = set(range(len(regimes))) if L <= PER_LAYER_DEPTH else {regimes.index("mixed regimes")
                                                                          if "mixed regimes" in regimes else 0}
    for k, regime in enumerate(regimes):
        try:
            point = make_point(net, regime, seed + k, beta, F)
            _check_point(derivation, point, k, seed, F, beta, per_layer_at, record, tick, suffix)
        except UNEVALUABLE as exc:  # a form of the wrong shape or with an unknown node: nothing holds
            record(0, "the derivation's forms", "evaluated", mpmath.inf, 0)
            failures.append(f"{type(exc).__name__}: {exc}")
    rows = []
    for (l, quantity, pair), (disc, count) in worst.items():
        d = float(disc)
        note = f"{digits} digits, {len(regimes)} points ({', '.join(dict.fromkeys(regimes))})"
        if l == 0 and failures and pair == "evaluated":
            note = f"could not evaluate: {failures[0]}"[:300]
        rows.append(make_check(l, quantity, pair, "high-precision", count, d, tol, d <= tol, note))
    rows.sort(key=lambda c: (-c.layer, c.quantity, c.forms))
    return rows


def _check_point(derivation, point, k, seed, F, beta, per_layer_at, record, tick, suffix):
    """The rows' comparisons at one point (see :func:`numeric_checks`)."""
    net, L = derivation.network, derivation.L
    pc = PointChecks(derivation, point)
    rng = random.Random(f"probes-{seed}-{k}")
    joint = {}
    for l in range(L, 0, -1):
        n, m = net.n(l), net.n(l - 1)
        probes = [(_random_vector(rng, n, F), _random_vector(rng, m, F)) for _ in range(PROBES)]
        probes.append((_unit(n, rng.randrange(n), F), _unit(m, rng.randrange(m), F)))
        c_W = [pc.outer_projection(l, "W", u, v) for u, v in probes]
        db_c = pc.ev.value(derivation[l].db_form.xreplace({forms.BETA: beta}))
        if beta == 1:  # (b): the chain is for one example
            row = pc.chain_row(l)
            b_W = [pc.chain_projection(l, row, u, v) for u, v in probes]
            record(l, f"dE/dW^{l}", "(b) chain = (c) outer", relative(_flat(b_W), _flat(c_W)), len(probes))
            record(l, f"dE/db^{l}", "(b) chain = (c) outer", relative(_flat([row.T]), _flat([db_c])), n)
        # (a): the composed E along u v^T (W) and along w (b), against (c)
        S = pc.As[l - 1]
        u0, v0 = probes[0]
        with mpmath.workprec(F + 64):
            joint[l] = (u0, v0, u0, c_W[0].to_mpf()[0, 0] + _dot(u0, db_c).to_mpf()[0, 0])
        if k in per_layer_at and L > PER_LAYER_DEPTH:  # deep: W^l and b^l moved together, one difference
            move = u0.matmul(v0.T.matmul(S)) + Fixed(np.broadcast_to(u0.v, (n, beta)).copy(), F)
            record(l, f"dE/dW^{l}, dE/db^{l}{suffix}", "(a) direct = (c) outer", _one(pc.direct(l, move),
                                                                                      joint[l][3]), 1)
        elif k in per_layer_at:
            coordinates = k == min(per_layer_at)
            directions = probes[:1] + (probes[-1:] if coordinates else [])
            for u, v in directions:
                direct = pc.direct(l, u.matmul(v.T.matmul(S)))  # y^l moves by u (v^T S)
                predicted = pc.outer_projection(l, "W", u, v).to_mpf()[0, 0]
                record(l, f"dE/dW^{l}{suffix}", "(a) direct = (c) outer", _one(direct, predicted), 1)
            for w in [u for u, _ in directions]:
                direct = pc.direct(l, Fixed(np.broadcast_to(w.v, (n, beta)).copy(), F))  # y^l moves by w 1^T
                predicted = _dot(w, db_c).to_mpf()[0, 0]  # w . dE/db^l
                record(l, f"dE/db^{l}{suffix}", "(a) direct = (c) outer", _one(direct, predicted), 1)
        if k == 0:
            tick()
    if L > PER_LAYER_DEPTH:
        with mpmath.workprec(F + 64):
            predicted = mpmath.fsum(p for *_, p in joint.values())
        record(0, f"dE/dW^l, dE/db^l{suffix}", "(a) direct = (c) outer", _one(pc.direct_joint(joint), predicted), 1)


def _flat(fixeds):
    return [x for f in fixeds for x in f.to_mpf().flat]


def _one(direct, predicted):
    if not all(isinstance(v, mpmath.mpf) and mpmath.isfinite(v) for v in (direct, predicted)):
        return mpmath.inf
    return abs(direct - predicted) / max(abs(predicted), mpmath.mpf(1))


__all__ = ["PointChecks", "numeric_checks", "relative"]
