"""Three forms of every gradient, shown equal (book eq. 50-51 vs 57-66 vs the composed E).

For every layer l and for W^l and b^l:

(a) *direct*: the derivative of the composed error E(a^L(y^L(...a^1(y^1(x))))) itself;
(b) *chain*: the long chain product of eq. 50-51, dE/da^L da^L/dy^L W^L ... da^l/dy^l dy^l/dW^l,
    multiplied out afresh for each layer, with the column-vector of matrices;
(c) *outer*: the recursion delta^L = (dE/da^L da^L/dy^L)^T, delta^l = a'(y^l) (.) (W^{l+1})^T delta^{l+1}
    and the reduction dE/dW^l = delta^l (x) s^{l-1}, dE/db^l = delta^l (eq. 57-68, 76);
    for a batch, dE/dW^l = (1/beta) Delta^l (S^{l-1})^T and dE/db^l = (1/beta) Delta^l 1 (eq. 87-90).

Methods, each named in the report:

* ``exact``: SymPy builds (a), (b), (c) symbolically and the differences reduce to 0.  The
  reduction names each function application (exp, tanh, log, sign, ...) by a symbol and writes
  each Piecewise (relu, leaky_relu, elu, step) as its branches times indicator symbols, then
  expands and cancels; see :func:`symbackprop.zero.atomize`.  For small networks only: the composed E grows fast.
* ``high-precision``: every form evaluated at a random point with ``digits`` significant digits
  (mpmath).  (b) and (c) are the SymPy-derived per-layer formulas evaluated; (a) is the composed
  E itself, differenced centrally along random directions (and single coordinates) at twice the
  working precision, so its error is far below the tolerance without using any derivative rule.
* ``float64``: central finite differences of the composed E in NumPy float64, the third witness.

>>> from symbackprop.spec import NetworkSpec
>>> from symbackprop.jacobians import derive
>>> report = verify(derive(NetworkSpec.from_options("2,2,1", "tanh,sigmoid", "bce")))
>>> report.passed, sorted({c.method for c in report.checks})
(True, ['exact', 'float64'])
"""
import contextlib
import math
import random
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import mpmath
import numpy as np
import sympy as sp

from .errors import SymbackpropError
from .symbols import A as _A
from .symbols import Y as _Y
from .symbols import Z as _Z
from .zero import is_zero

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


@dataclass
class Check:
    """One comparison: two forms of one gradient of one layer, by one method."""

    layer: int
    quantity: str  # "dE/dW^2", "dE/db^2", with " (batch)" for the batch forms
    forms: str  # "(a) direct = (c) outer", ...
    method: str  # "exact", "high-precision", "float64"
    entries: int  # how many entries were compared; for (a) rows, how many random directions
    max_discrepancy: float  # 0 for an exact proof; else the largest relative difference
    tolerance: float
    passed: bool
    note: str = ""


@dataclass
class VerificationReport:
    """The verdict on every layer, form and method; ``passed`` when all hold."""

    network: str
    checks: list
    simplification: str
    seed: int
    digits: int
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def passed(self):
        return bool(self.checks) and all(c.passed for c in self.checks)

    def failures(self):
        return [c for c in self.checks if not c.passed]

    def to_dict(self):
        return {
            "network": self.network,
            "passed": self.passed,
            "seed": self.seed,
            "digits": self.digits,
            "seconds": round(self.seconds, 3),
            "output_delta": self.simplification,
            "notes": self.notes,
            "checks": [asdict(c) for c in self.checks],
        }

    def table(self):
        """The per-layer report as a text table."""
        head = f"{'layer':>5}  {'gradient':<18} {'forms compared':<28} {'method':<15} {'compared':>8}  " \
               f"{'max discrepancy':>15}  result"
        lines = [f"verification of {self.network}", head, "-" * len(head)]
        for c in self.checks:
            disc = "0 (proof)" if c.method == "exact" and c.passed else f"{c.max_discrepancy:.1e}"
            lines.append(f"{c.layer:>5}  {c.quantity:<18} {c.forms:<28} {c.method:<15} {c.entries:>8}  "
                         f"{disc:>15}  {'pass' if c.passed else 'FAIL'}")
        lines.append("-" * len(head))
        lines.append(f"output delta: {self.simplification}")
        lines += [f"note: {n}" for n in self.notes]
        verdict = "every identity holds" if self.passed else f"{len(self.failures())} check(s) FAILED"
        lines.append(f"{verdict}  ({len(self.checks)} checks, {self.seconds:.2f} s, seed {self.seed})")
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self):
        rows = "".join(
            f"<tr><td>{c.layer}</td><td>{c.quantity}</td><td>{c.forms}</td><td>{c.method}</td>"
            f"<td>{c.entries}</td><td>{c.max_discrepancy:.1e}</td><td>{'pass' if c.passed else 'FAIL'}</td></tr>"
            for c in self.checks
        )
        return (f"<p>verification of {self.network}</p><table><tr><th>layer</th><th>gradient</th><th>forms</th>"
                f"<th>method</th><th>entries</th><th>max discrepancy</th><th>result</th></tr>{rows}</table>")


def verify(derivation, method="auto", seed=0, digits=50, fd_samples=4, progress=False, exact_seconds=10.0):
    """Verify (a) direct = (b) chain = (c) outer for every layer; return a :class:`VerificationReport`.

    ``auto`` tries the exact proof on small networks and falls back to ``digits``-digit evaluation
    when the proof runs past ``exact_seconds`` (the report's notes say so); ``exact`` insists, for up
    to twelve times as long (120 s by default), and then stops with an error.
    """
    if method not in ("auto", "exact", "high-precision"):
        raise SymbackpropError(f"unknown verification method {method!r}; use auto, exact or high-precision")
    if not 30 <= digits <= 1000:
        raise SymbackpropError(f"high-precision verification needs 30 to 1000 digits, got {digits}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SymbackpropError(f"the seed must be a non-negative integer, got {seed!r}")
    spec = derivation.spec
    start = time.perf_counter()
    small = _exact_is_cheap(spec)
    too_big = spec.n_params > EXACT_MAX_PARAMS or spec.depth > EXACT_MAX_DEPTH or (spec.batch or 1) > EXACT_MAX_BATCH
    if method == "exact" and too_big:
        raise SymbackpropError(
            f"exact verification is for networks of at most {EXACT_MAX_PARAMS} parameters and "
            f"{EXACT_MAX_DEPTH} layers (this one has {spec.n_params:,} and {spec.depth}); use --method high-precision"
        )
    checks, notes = [], []
    exact = None
    with _progress(progress, spec.depth * (2 if spec.batch else 1)) as tick:
        if method == "exact" or (method == "auto" and small):
            limit = exact_seconds if method == "auto" else 12 * exact_seconds
            try:
                with _time_limit(limit):
                    exact = _exact_checks(derivation, tick)
            except _OutOfTime:
                if method == "exact":
                    raise SymbackpropError(f"the exact proof did not finish in {limit:g} s for {spec.describe()}; "
                                           f"use --method high-precision (or auto)") from None
                notes.append(f"the exact proof took longer than {exact_seconds:g} s; "
                             f"verified at {digits} digits instead (use --method exact to insist)")
        checks += exact if exact is not None else _high_precision_checks(derivation, seed, digits, tick)
    fd_checks, fd_notes = _float64_checks(derivation, seed, fd_samples)
    checks += fd_checks
    notes += fd_notes
    report = VerificationReport(spec.describe(), checks, derivation.output_delta.summary(), seed, digits)
    report.notes = notes
    report.seconds = time.perf_counter() - start
    return report


@contextlib.contextmanager
def _progress(show, layers):
    """A per-layer progress bar on standard error when ``show``; yields the function to call per layer."""
    if not show:
        yield lambda: None
        return
    from .progress import bar

    with bar(layers, "verifying layers", stream=sys.stderr) as b:
        yield b.update


# --------------------------------------------------------------------------- exact
class _OutOfTime(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds):
    """Interrupt the block after ``seconds`` (main thread only; elsewhere no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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

    for l in range(L, 0, -1):
        for wrt, params in (("W", list(net.W(l))), ("b", list(net.b(l)))):
            quantity = f"dE/d{wrt}^{l}"
            outer = list(derivation.outer_gradient(l, wrt))  # (c), local symbols
            chain = list(derivation.chain_product(l, wrt))  # (b), local symbols
            add(l, quantity, "(b) chain = (c) outer", *_compare_exact(chain, outer, table))
            direct = [sp.diff(E, p) for p in params]  # (a), the composed E differentiated
            outer_composed = [o.xreplace(composed) for o in outer]
            add(l, quantity, "(a) direct = (c) outer", *_compare_exact(direct, outer_composed, table))
        tick()
    if net.spec.batch:
        checks += _exact_batch_checks(derivation, net.spec.batch, table)
    return checks


def _exact_batch_checks(derivation, beta, table):
    """Eq. 86-90: the batch error's direct derivative against (1/beta) Delta S^T."""
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
    checks = []
    for l in range(L, 0, -1):
        delta = derivation.delta_expanded(l)
        Delta = sp.Matrix.hstack(*[delta.xreplace(m) for m in columns])  # eq. 87
        S = layers[l - 1][1]
        for wrt, params, outer in (("W", net.W(l), Delta * S.T / beta), ("b", net.b(l), Delta * sp.ones(beta, 1) / beta)):
            direct = [sp.diff(E, p) for p in params]
            entries, bad = _compare_exact(direct, list(outer), table)
            checks.append(Check(l, f"dE/d{wrt}^{l} (batch)", "(a) direct = (c) outer", "exact", entries,
                                0.0 if not bad else math.inf, 0.0, not bad, f"beta = {beta}"))
    return checks


# --------------------------------------------------------------------------- numeric
class NumericNetwork:
    """The network's SymPy formulas turned into numeric functions for one number type.

    ``kind='mpmath'`` evaluates with mpmath at the current precision, ``'numpy'`` in float64.
    Activations, their derivatives, and the cost term and its derivative are lambdified from
    the engine's expressions, never re-typed.
    """

    def __init__(self, network, kind):
        self.net, self.kind = network, kind
        module = "mpmath" if kind == "mpmath" else "numpy"
        self.f, self.df, self.jac = {}, {}, {}
        made = {}  # activation -> its functions: layers that share an activation share one lambdify
        for l in range(1, network.L + 1):
            act = network.activations[l]
            if act not in made:
                made[act] = self._functions(act, module)
            f, rule = made[act]
            self.f[l] = f  # for softmax, the numerator e^{y/T}
            (self.df if act.elementwise else self.jac)[l] = rule
        self.e = sp.lambdify((_A, _Z), network.cost.term, module)
        self.de = sp.lambdify((_A, _Z), network.cost.derivative, module)

    @staticmethod
    def _functions(act, module):
        """(a, a') for an element-wise activation; (numerator, (da_i/dy_i, da_i/dy_j)) for softmax."""
        f = sp.lambdify(_Y, act.formula, module)
        if act.elementwise:
            return f, sp.lambdify(_Y, act.derivative, module)
        entry, (a, i, j) = act.jacobian_entry
        diag = entry.subs(sp.KroneckerDelta(i, j), 1).subs(a[j], a[i])
        off = entry.subs(sp.KroneckerDelta(i, j), 0)
        return f, (sp.lambdify(a[i], diag, module), sp.lambdify((a[i], a[j]), off, module))

    # -- forward --------------------------------------------------------------
    def activate(self, l, y):
        if l in self.df:
            return [self.f[l](v) for v in y]
        exps = [self.f[l](v) for v in y]
        total = sum(exps)
        return [e / total for e in exps]

    def forward(self, params, x):
        """Lists y^l, a^l (l = 1..L), with s^0 = x."""
        ys, as_ = [None], [list(x)]
        for l in range(1, self.net.L + 1):
            W, b = params[l]
            s = as_[-1]
            y = [_dot(row, s) + bi for row, bi in zip(W, b)]
            ys.append(y)
            as_.append(self.activate(l, y))
        return ys, as_

    def error(self, params, x, z):
        _, as_ = self.forward(params, x)
        return self.cost(as_[-1], z)

    def cost(self, a, z):
        return sum(self.e(ai, zi) for ai, zi in zip(a, z)) / len(a)

    def error_above(self, params, l, y, z):
        """E when layer l's linearity is y: the composed layers l..L only (the rest is fixed)."""
        a = self.activate(l, y)
        for k in range(l + 1, self.net.L + 1):
            W, b = params[k]
            a = self.activate(k, [_dot(row, a) + bk for row, bk in zip(W, b)])
        return self.cost(a, z)

    # -- the two assembled forms ----------------------------------------------
    def jacobian(self, l, y, a):
        """da^l/dy^l as a dense list of rows (diagonal filled for element-wise layers)."""
        n = len(y)
        zero = y[0] * 0
        if l in self.df:
            return [[self.df[l](y[i]) if i == j else zero for j in range(n)] for i in range(n)]
        diag, off = self.jac[l]
        return [[diag(a[i]) if i == j else off(a[i], a[j]) for j in range(n)] for i in range(n)]

    def dE_da(self, a, z):
        n = len(a)
        return [self.de(ai, zi) / n for ai, zi in zip(a, z)]

    def outer(self, params, x, z, forward=None):
        """(c): the recursion of eq. 57-65 and the outer products of eq. 66."""
        L = self.net.L
        ys, as_ = forward or self.forward(params, x)
        grads = {}
        row = self.dE_da(as_[L], z)
        for l in range(L, 0, -1):
            if l in self.df:
                delta = [g * self.df[l](v) for g, v in zip(row, ys[l])]  # a'(y) (.) ...
            else:
                J = self.jacobian(l, ys[l], as_[l])
                delta = [_dot([J[i][j] for i in range(len(row))], row) for j in range(len(row))]  # J^T ...
            s = as_[l - 1]
            grads[l] = ([[d * sj for sj in s] for d in delta], delta)  # delta (x) s, delta
            if l > 1:
                W = params[l][0]
                row = [_dot([W[k][i] for k in range(len(W))], delta) for i in range(len(W[0]))]  # W^T delta
        return grads

    def chain(self, params, x, z, l, forward=None):
        """(b): the long product of eq. 50-51 for layer l, multiplied out afresh."""
        L = self.net.L
        ys, as_ = forward or self.forward(params, x)
        row = self.dE_da(as_[L], z)
        for k in range(L, l, -1):
            row = _row_times(row, self.jacobian(k, ys[k], as_[k]))  # . da^k/dy^k
            row = _row_times(row, params[k][0])  # . W^k  (= dy^k/da^{k-1}, eq. 41)
        row = _row_times(row, self.jacobian(l, ys[l], as_[l]))
        s = as_[l - 1]
        # row . dy^l/dW^l: entry i of the column-vector of matrices is zero but for row i = s^T,
        # so the sum over i of row_i times entry i places row_i s^T in row i (eq. 18).
        dW = [[row[i] * sj for sj in s] for i in range(len(row))]
        return dW, row  # dy/db = I


def _dot(u, v):
    return mpmath.fdot(u, v) if u and isinstance(u[0], mpmath.mpf) else sum(p * q for p, q in zip(u, v))


def _row_times(row, M):
    return [_dot(row, [M[i][j] for i in range(len(M))]) for j in range(len(M[0]))]


def random_point(network, seed, number):
    """A random evaluation point: W^l, b^l scaled by 1/sqrt(n_{l-1}), x in [-1, 1], z in (0, 1).

    ``number`` turns a Python float into the number type (mpf or float).  For a softmax output
    the targets are a probability vector; for other outputs they lie in (0, 1).
    """
    rng = random.Random(seed)
    params = {}
    for l in range(1, network.L + 1):
        n, m = network.n(l), network.n(l - 1)
        scale = 1 / math.sqrt(m)
        W = [[number(rng.uniform(-1, 1) * scale) for _ in range(m)] for _ in range(n)]
        b = [number(rng.uniform(-1, 1) * scale) for _ in range(n)]
        params[l] = (W, b)
    x = [number(rng.uniform(-1, 1)) for _ in range(network.n(0))]
    z = [rng.uniform(0.05, 0.95) for _ in range(network.n(network.L))]
    if not network.activations[network.L].elementwise:
        total = sum(z)
        z = [v / total for v in z]
    return params, x, [number(v) for v in z]


def _real(v):
    """A finite real number?  (log of a negative output gives mpmath a complex number.)"""
    return isinstance(v, (mpmath.mpf, float, int)) and mpmath.isfinite(v)


def _relative(values, reference):
    if not all(_real(v) for v in (*values, *reference)):
        return math.inf
    scale = max([abs(r) for r in reference] + [1e-300])
    scale = max(scale, 1) if scale < 1 else scale
    return max(abs(v - r) for v, r in zip(values, reference)) / scale


def _high_precision_checks(derivation, seed, digits, tick=lambda: None):
    net, L = derivation.network, derivation.L
    checks = []
    tol = 10.0 ** -(digits - 20)
    with mpmath.workdps(digits):
        numeric = NumericNetwork(net, "mpmath")
        params, x, z = random_point(net, seed, mpmath.mpf)  # 53-bit random values, exact as mpf
        forward = numeric.forward(params, x)
        with mpmath.workdps(2 * digits + 10):
            precise = numeric.forward(params, x)  # for the differences of the composed E
        outer = numeric.outer(params, x, z, forward)
        for l in range(L, 0, -1):
            dW_c, db_c = outer[l]
            dW_b, db_b = numeric.chain(params, x, z, l, forward)
            flat_c, flat_b = [v for r in dW_c for v in r], [v for r in dW_b for v in r]
            for wrt, b_vals, c_vals in (("W", flat_b, flat_c), ("b", db_b, db_c)):
                disc = float(_relative(b_vals, c_vals))
                checks.append(Check(l, f"dE/d{wrt}^{l}", "(b) chain = (c) outer", "high-precision", len(c_vals),
                                    disc, tol, disc <= tol, f"{digits} digits"))
            for wrt, grad in (("W", dW_c), ("b", db_c)):
                disc, count = _direct_vs_outer(numeric, params, [(precise, z)], l, wrt, grad, seed, digits)
                checks.append(Check(l, f"dE/d{wrt}^{l}", "(a) direct = (c) outer", "high-precision", count,
                                    disc, tol, disc <= tol,
                                    f"composed E differenced at {2 * digits + 10} digits along random directions"))
            tick()
        if derivation.spec.batch:
            checks += _high_precision_batch_checks(derivation, numeric, seed, digits, params, tick)
    return checks


def _direct_vs_outer(numeric, params, samples, l, wrt, grad, seed, digits, coordinates=3):
    """Directional derivatives of the composed E (the mean over ``samples``, a list of (forward at
    doubled precision, z): one example, or the batch of eq. 86) along one random direction of the whole
    tensor and along a few single coordinates, by central differences at doubled precision.

    Only layers l..L are recomputed: moving W^l by t V moves y^l by t V s^{l-1} (eq. 6 is linear
    in W), and nothing below layer l changes.
    """
    rng = random.Random(seed * 7919 + l * 2 + (wrt == "b"))
    flat_grad = [v for r in grad for v in r] if wrt == "W" else list(grad)
    directions = [[rng.uniform(-1, 1) for _ in flat_grad]]
    for _ in range(min(coordinates, len(flat_grad))):
        e = [0.0] * len(flat_grad)
        e[rng.randrange(len(flat_grad))] = 1.0
        directions.append(e)
    worst = mpmath.mpf(0)
    with mpmath.workdps(2 * digits + 10):
        h = mpmath.mpf(10) ** -(digits + 5)
        for v in directions:
            v = [mpmath.mpf(t) for t in v]
            total = mpmath.mpf(0)
            for (ys, as_), z in samples:
                y0, s = ys[l], as_[l - 1]
                if wrt == "W":
                    m = len(s)
                    dy = [mpmath.fdot(v[i * m:(i + 1) * m], s) for i in range(len(y0))]
                else:
                    dy = v
                plus = numeric.error_above(params, l, [yi + h * di for yi, di in zip(y0, dy)], z)
                minus = numeric.error_above(params, l, [yi - h * di for yi, di in zip(y0, dy)], z)
                total += (plus - minus) / (2 * h)
            direct = total / len(samples)
            predicted = mpmath.fdot(flat_grad, v)
            if not (_real(direct) and _real(predicted)):
                return math.inf, len(directions)
            worst = max(worst, abs(direct - predicted) / max(abs(predicted), mpmath.mpf(1)))
    return float(worst), len(directions)


def _high_precision_batch_checks(derivation, numeric, seed, digits, params, tick=lambda: None):
    """Eq. 86-90 at a random batch: the batch E's directional derivatives against (1/beta) Delta S^T."""
    net, L, beta = derivation.network, derivation.L, derivation.spec.batch
    tol = 10.0 ** -(digits - 20)
    examples = [random_point(net, seed + 1000 + c, mpmath.mpf)[1:] for c in range(beta)]
    forwards = [numeric.forward(params, x) for x, _ in examples]
    with mpmath.workdps(2 * digits + 10):
        precise = [(numeric.forward(params, x), z) for x, z in examples]
    outers = [numeric.outer(params, x, z, f) for (x, z), f in zip(examples, forwards)]
    checks = []
    for l in range(L, 0, -1):
        Delta = [[outers[c][l][1][i] for c in range(beta)] for i in range(net.n(l))]  # columns delta^l(c), eq. 87
        S = [[forwards[c][1][l - 1][j] for c in range(beta)] for j in range(net.n(l - 1))]  # columns s^{l-1}(c)
        dW = [[mpmath.fdot(Delta[i], S[j]) / beta for j in range(len(S))] for i in range(len(Delta))]  # eq. 89
        db = [mpmath.fsum(row) / beta for row in Delta]  # (1/beta) Delta 1, eq. 90
        for wrt, grad in (("W", dW), ("b", db)):
            disc, count = _direct_vs_outer(numeric, params, precise, l, wrt, grad, seed, digits)
            checks.append(Check(l, f"dE/d{wrt}^{l} (batch)", "(a) direct = (c) outer", "high-precision", count,
                                disc, tol, disc <= tol, f"beta = {beta}"))
        tick()
    return checks


def _float64_checks(derivation, seed, samples):
    """Central differences of the composed E in float64 against (c) evaluated in float64."""
    net, L = derivation.network, derivation.L
    numeric = NumericNetwork(net, "numpy")
    params, x, z = random_point(net, seed + 101, float)
    params = {l: (np.array(W), np.array(b)) for l, (W, b) in params.items()}
    x, z = np.array(x), np.array(z)
    fast = _Float64(numeric, params, x, z)
    with np.errstate(all="ignore"):  # a NaN here fails the check below; it needs no warning
        grads = fast.outer()
    checks, notes = [], []
    rng = np.random.default_rng(seed)
    tol = 1e-6
    for l in range(L, 0, -1):
        for wrt, grad in (("W", grads[l][0]), ("b", grads[l][1])):
            worst, skipped = 0.0, 0
            with np.errstate(all="ignore"):
                for _ in range(samples):
                    v = rng.uniform(-1, 1, grad.shape)
                    h = 1e-6
                    plus, minus = fast.error_moved(l, wrt, h * v), fast.error_moved(l, wrt, -h * v)
                    fd = (plus - minus) / (2 * h)
                    predicted = float(np.sum(grad * v))
                    if not (np.isfinite(fd) and np.isfinite(predicted)):
                        worst = math.inf  # E or its gradient is not a finite number here: nothing was shown
                        break
                    if fast.crosses_kink(l, wrt, h * v):
                        skipped += 1
                        continue
                    worst = max(worst, abs(fd - predicted) / max(abs(predicted), 1e-3))
            compared = samples - skipped
            note = "central differences, h = 1e-6, random directions"
            if worst == math.inf:
                note = "E or dE is NaN or infinite at the random point (an output outside the cost's domain?)"
            elif not compared:
                note = "every direction crossed a kink: nothing compared"
            checks.append(Check(l, f"dE/d{wrt}^{l}", "(a) float64 FD = (c) outer", "float64", compared,
                                worst, tol, bool(compared) and worst <= tol, note))
            if skipped:
                notes.append(f"layer {l} {wrt}: {skipped} of {samples} direction(s) crossed a kink (a sign change "
                             f"of some y, or of a - z) and were skipped")
    return checks, notes


class _Float64:
    """Vectorized float64 forward pass for the finite-difference witness."""

    def __init__(self, numeric, params, x, z):
        self.numeric, self.params, self.x, self.z = numeric, params, x, z
        self.net = numeric.net

    def forward(self, params):
        s, ys, as_ = self.x, [None], [self.x]
        for l in range(1, self.net.L + 1):
            W, b = params[l]
            y = W @ s + b
            if l in self.numeric.df:
                a = np.asarray(self.numeric.f[l](y), dtype=float) * np.ones_like(y)
            else:
                e = self.numeric.f[l](y - y.max())  # e^{y_i/T}, shifted: softmax is shift-invariant
                a = e / e.sum()
            ys.append(y)
            as_.append(a)
            s = a
        return ys, as_

    def error(self, params):
        a = self.forward(params)[1][-1]
        return float(np.mean(self.numeric.e(a, self.z) * np.ones_like(a)))

    def _moved(self, l, wrt, dv):
        moved = dict(self.params)
        W, b = self.params[l]
        moved[l] = (W + dv, b) if wrt == "W" else (W, b + dv)
        return moved

    def error_moved(self, l, wrt, dv):
        return self.error(self._moved(l, wrt, dv))

    def crosses_kink(self, l, wrt, dv):
        """Does moving by +-dv flip the sign of any y (or a - z, for MAE)?  Then FD is meaningless."""
        plus, minus = self.forward(self._moved(l, wrt, dv)), self.forward(self._moved(l, wrt, -dv))
        for k in range(1, self.net.L + 1):
            if np.any(np.sign(plus[0][k]) != np.sign(minus[0][k])):
                return True
        return bool(np.any(np.sign(plus[1][-1] - self.z) != np.sign(minus[1][-1] - self.z)))

    def outer(self):
        ys, as_ = self.forward(self.params)
        L, n = self.net.L, len(as_[-1])
        row = np.asarray(self.numeric.de(as_[L], self.z), dtype=float) * np.ones(n) / n
        grads = {}
        for l in range(L, 0, -1):
            if l in self.numeric.df:
                delta = row * np.asarray(self.numeric.df[l](ys[l]), dtype=float)
            else:
                diag, off = self.numeric.jac[l]
                a = as_[l]
                J = off(a[:, None], a[None, :]) * np.ones((n_l := len(a), n_l))
                np.fill_diagonal(J, diag(a))
                delta = J.T @ row
            grads[l] = (np.outer(delta, as_[l - 1]), delta)
            row = self.params[l][0].T @ delta
        return grads
