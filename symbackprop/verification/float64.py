"""The float64 witness: central differences of the composed E in NumPy, against (c) at high precision.

At the ``order 1`` point of :mod:`symbackprop.verification.points` (its weights are exactly float64), the composed
error is evaluated in float64 from the forward rule alone (each activation's formula and the cost term,
lambdified for NumPy), moved along random rank-one directions u v^T of W^l and random directions of b^l
by h = 1e-6, and the central difference is compared with u^T (dE/dW^l) v from the derivation's forms.
Directions that flip the sign of some linearity (a kink) are skipped and counted in a note.
"""
import math
import random

import numpy as np
import sympy as sp

from symbackprop.engine.symbols import A, Y, Z
from symbackprop.verification.evaluate import fixed_bits
from symbackprop.verification.numeric import UNEVALUABLE, PointChecks, _random_vector
from symbackprop.verification.points import make_point


class _Composed:
    """E(W, b) in float64 from the forward rule (no derivative anywhere)."""

    def __init__(self, network, point):
        self.net = network
        self.W = {l: w.values for l, w in point.W.items()}
        self.b = {l: b.values for l, b in point.b.items()}
        self.x = np.array([[float(v) for v in row] for row in point.X.v])
        self.z = np.array([[float(v) for v in row] for row in point.Z.v])
        self.f = {}
        for l in range(1, network.L + 1):
            act = network.activations[l]
            self.f[l] = sp.lambdify(Y, act.formula if act.elementwise else sp.exp(Y / act.temperature), "numpy")
        self.e = sp.lambdify((A, Z), network.cost.term, "numpy")

    def forward(self, W, b):
        s, ys = self.x, []
        for l in range(1, self.net.L + 1):
            y = W[l] @ s + b[l]
            if self.net.activations[l].elementwise:
                a = np.asarray(self.f[l](y), dtype=float) * np.ones_like(y)
            else:
                e = self.f[l](y - y.max(axis=0))  # softmax is shift-invariant
                a = e / e.sum(axis=0)
            ys.append(y)
            s = a
        return ys, s

    def error(self, W, b):
        a = self.forward(W, b)[1]
        return float(np.mean(self.e(a, self.z) * np.ones_like(a)))

    def moved(self, l, dW, db):
        W, b = dict(self.W), dict(self.b)
        W[l], b[l] = W[l] + dW, b[l] + db
        return W, b

    def crosses_kink(self, l, dW, db):
        plus = self.forward(*self.moved(l, dW, db))[0]
        minus = self.forward(*self.moved(l, -dW, -db))[0]
        return any(np.any(np.sign(p) != np.sign(m)) for p, m in zip(plus, minus))


def float64_checks(derivation, seed, samples, make_check):
    """Rows "(a) float64 FD = (c) outer" per layer and quantity, with notes on skipped directions."""
    net, L = derivation.network, derivation.L
    F = fixed_bits(30)
    try:
        point = make_point(net, "order 1", seed, 1, F)
        pc = PointChecks(derivation, point)
    except UNEVALUABLE as exc:  # nothing to compare against: every row fails, saying why
        note = f"could not evaluate the point: {type(exc).__name__}: {exc}"[:300]
        return [make_check(l, f"dE/d{wrt}^{l}", "(a) float64 FD = (c) outer", "float64", 0, math.inf, 1e-6, False,
                           note) for l in range(L, 0, -1) for wrt in "Wb"], []
    composed = _Composed(net, point)
    rng = random.Random(f"float64-{seed}")
    checks, notes, tol, h = [], [], 1e-6, 1e-6
    for l in range(L, 0, -1):
        n, m = net.n(l), net.n(l - 1)
        for wrt in ("W", "b"):
            worst, skipped = 0.0, 0
            with np.errstate(all="ignore"):
                for _ in range(samples):
                    u, v = _random_vector(rng, n, F), _random_vector(rng, m if wrt == "W" else 1, F)
                    uf = np.array([[float(x)] for x in u.v[:, 0]])
                    vf = np.array([[float(x)] for x in v.v[:, 0]])
                    dW = h * uf @ vf.T if wrt == "W" else np.zeros((n, m))
                    db = h * uf * float(v.v[0, 0]) if wrt == "b" else np.zeros((n, 1))
                    fd = (composed.error(*composed.moved(l, dW, db)) - composed.error(*composed.moved(l, -dW, -db)))
                    fd /= 2 * h
                    predicted = float(pc.outer_projection(l, wrt, u, v).to_mpf()[0, 0])
                    if not (math.isfinite(fd) and math.isfinite(predicted)):
                        worst = math.inf
                        break
                    if composed.crosses_kink(l, dW, db):
                        skipped += 1
                        continue
                    worst = max(worst, abs(fd - predicted) / max(abs(predicted), 1e-3))
            compared = samples - skipped
            note = "central differences, h = 1e-6, random directions"
            if worst == math.inf:
                note = "E or dE is NaN or infinite at the point (an output outside the cost's domain?)"
            elif not compared:
                note = "every direction crossed a kink: nothing compared"
            checks.append(make_check(l, f"dE/d{wrt}^{l}", "(a) float64 FD = (c) outer", "float64", compared,
                                     worst, tol, bool(compared) and worst <= tol, note))
            if skipped:
                notes.append(f"layer {l} {wrt}: {skipped} of {samples} direction(s) crossed a kink (a sign change "
                             f"of some y) and were skipped")
    return checks, notes
