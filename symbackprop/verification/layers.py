"""(a) direct = (b) chain = (c) fast form, for networks of layer kinds (:mod:`symbackprop.engine.layered`).

For every parameter of every layer:

(a) *direct*: the derivative of the composed error E(s^L(...s^1(x)));
(b) *chain*: dE/ds^L ds^L/ds^{L-1} ... ds^{l+1}/ds^l ds^l/dtheta, every factor ``Matrix.jacobian`` of a
    layer's forward rule made explicit (for a layer norm a full n x n matrix, for a residual block I + J);
(c) *fast*: the backward program, the very forms the emitted module prints (the output delta, each kind's
    fast form for Delta^{l-1}, the batch-mean gradients).

Methods:

* ``exact``: (b) = (c) in local symbols, each s^l tied to its layer's forward rule (one level), and (a) = (b)
  on the composed expressions, reduced to 0 by :func:`symbackprop.engine.zero.is_zero` within a budget;
* ``high-precision``: forward and (c) evaluated at ``digits`` digits by
  :class:`~symbackprop.verification.evaluate.Evaluator`, (b) by the explicit Jacobians evaluated at the same
  point, (a) by central differences of E at twice the precision along random directions.

>>> from symbackprop.engine.layers_spec import LayeredSpec
>>> from symbackprop.engine.layered import LayeredDerivation
>>> report = verify_layers(LayeredDerivation(LayeredSpec.from_arch("layernorm dense(1,sigmoid)", "2", "mse")),
...                        method="high-precision")
>>> report.passed, sorted({c.forms for c in report.checks})
(True, ['(a) direct = (c) fast', '(b) chain = (c) fast'])
"""
import math
import random
import time

import mpmath
import numpy as np
import sympy as sp

from symbackprop.engine import forms
from symbackprop.engine.conv import WindowOp, geometry_sizes
from symbackprop.engine.layered import gradient_symbol
from symbackprop.engine.layers import Activate
from symbackprop.engine.symbols import A, Z
from symbackprop.engine.symbols import Y as _Y
from symbackprop.engine.zero import is_zero
from symbackprop.errors import SymbackpropError
from symbackprop.verification.evaluate import Evaluator, Fixed, elementwise, fixed_bits, to_mpf
from symbackprop.verification.report import Check, VerificationReport

EXACT_MAX_PARAMS = 40
CHAIN_MAX_TERMS = 1500  # the explicit Jacobians of (b) are built, lambdified and evaluated up to about this many terms
TOLERANCE = mpmath.mpf(10) ** -25


def verify_layers(derivation, method="auto", seed=0, digits=50, exact_seconds=10.0, progress=False):
    """A :class:`VerificationReport` of (a) = (b) = (c) for every parameter of every layer; ``progress`` shows a
    bar on standard error, one step per parameter, while the high-precision checks run."""
    if method not in ("auto", "exact", "high-precision"):
        raise SymbackpropError(f"unknown verification method {method!r}; use auto, exact or high-precision")
    start, spec = time.perf_counter(), derivation.spec
    checks, notes = [], []
    if method == "exact" or (method == "auto" and spec.n_params <= EXACT_MAX_PARAMS):
        if spec.n_params > 4 * EXACT_MAX_PARAMS:
            raise SymbackpropError(f"exact verification is for at most {4 * EXACT_MAX_PARAMS} parameters "
                                   f"(this network has {spec.n_params}); use --method high-precision")
        try:
            exact = exact_checks(derivation, exact_seconds)
        except RecursionError:  # SymPy composing nested Piecewise (elu, leaky ReLU) runs past Python's stack
            if method == "exact":
                raise SymbackpropError("exact verification: SymPy could not compose this network's error (it ran "
                                       "past Python's recursion limit); use --method high-precision") from None
            notes.append(f"SymPy could not compose the error exactly (it ran past Python's recursion limit); "
                         f"verified at {digits} digits instead")
            exact = []
        if method == "auto" and not (exact and all(c.passed for c in exact)):
            if exact:
                notes.append(f"{sum(not c.passed for c in exact)} identities were not reduced to 0 within "
                             f"{exact_seconds:g} CPU seconds ({MAX_SECONDS:g} through a max-pool's arg-max, which "
                             f"SymPy does not reduce); verified at {digits} digits instead")
            checks += [c for c in exact if c.passed]
            exact = None
        checks += exact or []
        if exact is None:
            checks += _numeric_with_progress(derivation, seed, digits, notes, progress)
    else:
        checks += _numeric_with_progress(derivation, seed, digits, notes, progress)
    report = VerificationReport(spec.describe(), checks, derivation.output_delta.summary(), seed, digits)
    report.notes = notes
    report.seconds = time.perf_counter() - start
    return report


# -- exact ----------------------------------------------------------------------------------------------------
def local_fast(derivation):
    """(c) for one example in local symbols: each layer's forward values (S^l too) in its own input s^{l-1}."""
    M = derivation.names(1)
    values = {M.Z: derivation.z}
    for l in range(1, derivation.L + 1):
        values.update(derivation.param_values(l))
        values.update(derivation.layer_values(l))  # S^l in s^{l-1}; the layer above reads s^l as symbols
    values[M.S(0)] = derivation.s_local(0)
    return derivation.run_explicit(derivation.backward(M), values)


def exact_checks(derivation, seconds):
    """(b) = (c) for every parameter, then (a) = (b), each reduced to 0 by SymPy within ``seconds``."""
    return chain_equals_fast(derivation, seconds) + direct_equals_chain(derivation, seconds)


def chain_equals_fast(derivation, seconds, table=None):
    """(b) = (c) in local symbols: cheap, since no layer's expression is composed into another."""
    fast, table, checks = local_fast(derivation), {} if table is None else table, []
    for layer in reversed(derivation.layers):
        for name, shape in layer.params():
            c = list(fast[gradient_symbol(name, shape)])
            difference = sp.Matrix(_chain_local(derivation, layer.l, name)) - sp.Matrix(c)
            ok = is_zero(difference, table=table, seconds=_budget(difference, seconds))
            checks.append(_check(layer.l, name, "(b) chain = (c) fast", "exact", len(c), ok))
    return checks


def direct_equals_chain(derivation, seconds, table=None):
    """(a) = (b) on the composed expressions: SymPy's derivative of E against the chain of derived Jacobians."""
    E, table, checks = derivation.error(), {} if table is None else table, []
    for layer in reversed(derivation.layers):
        for name, _ in layer.params():
            b = derivation.chain(layer.l, name)
            direct = [sp.diff(E, p) for p in derivation.flat_params(layer.l, name)]
            difference = sp.Matrix(direct) - sp.Matrix(list(b))
            ok = is_zero(difference, table=table, seconds=_budget(difference, seconds))
            checks.append(_check(layer.l, name, "(a) direct = (b) chain", "exact", len(direct), ok))
    return checks


#: CPU seconds for an identity through a max-pool's arg-max: SymPy does not reduce a derivative of Max against
#: the first-index routing (a sum of Piecewise), so a long wait would only delay the 50-digit check that settles it
MAX_SECONDS = 1.0


def _budget(difference, seconds):
    return min(seconds, MAX_SECONDS) if difference.has(sp.Max) else seconds


def _chain_local(derivation, l, name):
    """(b) with every factor in its layer's local input; s^L written by its layer's forward rule, as (c) reads it."""
    row = derivation.dE_ds().xreplace(dict(zip(derivation.s_local(derivation.L), derivation.layer_output(derivation.L))))
    for k in range(derivation.L, l, -1):
        row = row * derivation.jacobian_input(k)
    return list(row * derivation.jacobian_params(l, name))


def _check(l, name, what, method, entries, ok, error=0.0):
    return Check(l, f"dE/d{name}", what, method, entries, error if ok else math.inf, 0.0, bool(ok), "")


# -- high precision --------------------------------------------------------------------------------------------
class LayerEvaluator(Evaluator):
    """The Evaluator, and the window nodes of :mod:`symbackprop.engine.conv` through their NumPy forms."""

    def value(self, expr):
        if isinstance(expr, WindowOp):
            arrays = [self._fixed(self.value(a)).v for a in expr.operands]
            arrays = [GridFactor(a, self.F) if k in expr.left_factors else a for k, a in enumerate(arrays)]
            with mpmath.workprec(self.F + 64):
                return Fixed(np.asarray(expr.numeric(*arrays), dtype=object), self.F)
        return super().value(expr)


class GridFactor(Fixed):
    """A kernel W (object array of mpf) as a window function reads it, ``W @ V`` and ``W.T @ V``, with the product
    of :meth:`Fixed.matmul`: on integers when that loses nothing (both sides on the fixed-point grid of their
    largest entry, F + 64 bits below it, multiplied exactly as Python integers, rounded once).  When some nonzero entry would keep
    fewer than F bits on its grid (a row of deltas 1e-300 beside rows of order 1, as in saturated tails), the
    product is the object-array product of mpf numbers instead, which keeps every entry's own precision.  A
    convolution's W @ K is most of a 50-digit forward pass; on integers it is several times faster.

    >>> W = GridFactor(np.array([[mpmath.mpf(0.5), mpmath.mpf(-3)]], dtype=object), 80)
    >>> [float(v) for v in (W @ np.array([[mpmath.mpf(2)], [0]], dtype=object)).flat]
    [1.0]
    >>> [float(v) for v in (W @ np.array([[mpmath.mpf(2)], [mpmath.mpf(10) ** -300]], dtype=object)).flat]
    [1.0]
    """

    __slots__ = ()

    @property
    def T(self):
        return GridFactor(self.v.T, self.F)

    def __matmul__(self, other):
        """W @ V for an object array V (its integer zeros, the padding, made mpf): Fixed.matmul, on the grid."""
        if not all(isinstance(x, mpmath.mpf) for x in other.flat):
            other = np.vectorize(to_mpf, otypes=[object])(other)
        return self.matmul(Fixed(other, self.F)).v


class NumericPass:
    """The forward and backward programs evaluated at F bits for given leaf values (numpy object arrays of mpf)."""

    def __init__(self, derivation, leaves, F, beta):
        self.d, self.F, self.beta = derivation, F, beta
        self.M = derivation.names(beta)
        self.ev = LayerEvaluator({k: Fixed(v, F) for k, v in leaves.items()}, F, {forms.BETA: beta})
        for name, form in derivation.forward(self.M):
            self.ev.bind(name, self.activate(form) if isinstance(form, Activate) else self.ev.value(form))

    def activate(self, form):
        """a(Y) by the engine's formula entry by entry; softmax column by column, e^{y/T} / sum_k e^{y_k/T}."""
        y, a = self.ev.value(form.argument), form.activation
        if a.elementwise:
            return elementwise(a.formula, (_Y,), [y], self.F)
        T = sp.Rational(a.temperature)
        with mpmath.workprec(self.F + 64):
            e = np.vectorize(lambda v: mpmath.exp(v * T.q / T.p), otypes=[object])(y.v)
            return Fixed(e / e.sum(axis=0, keepdims=True), self.F)

    def value(self, symbol):
        return self.ev.leaves[symbol].v

    def error(self):
        L, n = self.d.L, self.d.sizes[self.d.L]
        terms = elementwise(self.d.cost.term, (A, Z), [self.ev.leaves[self.M.S(L)], self.ev.leaves[self.M.Z]], self.F)
        with mpmath.workprec(self.F + 64):
            return sum(terms.v.flat) / (n * self.beta)

    def backward(self):
        for name, form in self.d.backward(self.M):
            self.ev.bind(name, self.ev.value(form))
        return self


def random_point(derivation, seed, beta=1):
    """Parameters, x and z at a point where every kind is in its ordinary regime (exact binary fractions)."""
    rng = random.Random(seed)
    leaves = {}

    def draw(shape, scale, shift=0.0):
        return np.array([[mpmath.mpf(round((rng.gauss(0, 1) * scale + shift) * 2 ** 20)) / 2 ** 20
                          for _ in range(shape[1])] for _ in range(shape[0])], dtype=object)

    for layer in derivation.layers:
        for name, shape in layer.params():
            scale = 1 / math.sqrt(shape[1]) if name[0] == "W" else 0.5
            leaves[sp.MatrixSymbol(name, *shape)] = draw(shape, scale, 1.0 if name[0] == "g" else 0.0)
    M = derivation.names(beta)
    leaves[M.S(0)] = draw(M.S(0).shape, 1.0)
    out = derivation.layers[-1].activation
    z = draw(M.Z.shape, 0.3, 0.5)
    if not out.elementwise:  # targets that are a distribution
        z = np.array([[abs(v) for v in row] for row in z], dtype=object)
        z = z / z.sum(axis=0, keepdims=True)
    elif derivation.cost.conditions:
        z = np.vectorize(lambda v: min(max(v, mpmath.mpf(0)), mpmath.mpf(1)), otypes=[object])(z)
    leaves[M.Z] = z
    return leaves


def explicit_terms(layer):
    """About how many terms the layer's explicit Jacobians hold (a layer norm's n^2 entries each read all n)."""
    n, m = layer.n_out, layer.n_in
    if layer.kind == "layernorm":
        return n ** 3
    if layer.kind in ("conv2d", "conv1d", "maxpool2d", "avgpool2d"):
        return n * layer.geometry[4] * layer.geometry[5] * (layer.geometry[0] if layer.kind[:4] == "conv" else 1)
    return n * m


def _numeric_with_progress(derivation, seed, digits, notes, progress):
    from symbackprop.verification.verify import _progress

    steps = sum(len(layer.params()) for layer in derivation.layers)
    with _progress(progress, steps, "verifying parameters at high precision") as tick:
        return numeric_checks(derivation, seed, digits, notes=notes, tick=tick)


def numeric_checks(derivation, seed, digits, probes=2, notes=None, tick=lambda: None):
    """(b) = (c) (while the explicit Jacobians stay below CHAIN_MAX_TERMS terms) and (a) = (c), at one point;
    ``tick()`` after each parameter."""
    F = fixed_bits(digits)
    leaves = random_point(derivation, seed)
    run = NumericPass(derivation, leaves, F, 1).backward()
    checks = []
    rows = _chain_rows(derivation, run)
    rng = np.random.default_rng(seed + 1)
    ties, no_chain = pool_ties(derivation, run), []
    for layer in reversed(derivation.layers):
        for name, shape in layer.params():
            symbol = sp.MatrixSymbol(name, *shape)
            c = run.value(gradient_symbol(name, shape)).reshape(-1)
            if any(p > layer.l for p in ties):
                no_chain.append(f"dE/d{name}")
            elif layer.l in rows and explicit_terms(layer) <= CHAIN_MAX_TERMS:
                b = _chain_numeric(derivation, run, rows, layer.l, name)
                checks.append(_compare(layer.l, name, "(b) chain = (c) fast", b, c))
            elif notes is not None:
                notes.append(f"dE/d{name}: the explicit chain (b) is above {CHAIN_MAX_TERMS:,} terms; "
                             f"(a) = (c) checked")
            directions = [rng.integers(-8, 9, size=shape) for _ in range(probes)]
            a, fast = [], []
            for u in directions:
                a.append(_central_difference(derivation, leaves, symbol, u, F))
                with mpmath.workprec(F + 64):
                    fast.append(sum(cv * int(uv) for cv, uv in zip(c, u.reshape(-1))))
            checks.append(_compare(layer.l, name, "(a) direct = (c) fast", a, fast, probes))
            tick()
    if no_chain and notes is not None:
        notes.append(f"{', '.join(no_chain)}: a window of max-pool layer {ties[-1]} ties at this point (equal entries, "
                     f"e.g. read from a convolution's padding), where Max has no Jacobian: (b) is not formed; "
                     f"(a) = (c) checked, (c) routing to the first arg-max as PyTorch does")
    return checks


def pool_ties(derivation, run):
    """The max-pool layers with a window whose largest entry is held by two entries or more, at the point of
    ``run`` (a NumericPass), the largest entry not 0.  Windows of ReLU zeros tie harmlessly (the derivative
    below is 0); other ties (a padded convolution's border, where every entry is a(b)) leave the (b) chain
    undefined: SymPy's dMax/dx_i = Heaviside(x_i - max of the rest) gives each of k tied entries 1/2, not a
    share that sums to 1."""
    from symbackprop.engine import windows

    tied = []
    for layer in derivation.layers:
        if layer.kind != "maxpool2d":
            continue
        S, T = run.value(run.M.S(layer.l - 1)), run.value(run.M.S(layer.l))
        g = layer.geometry
        top = T.reshape(g[0], *geometry_sizes(g), S.shape[1])
        count = sum(np.equal(part, top).astype(int) for _, _, part in windows.offsets(windows.padded(S, g), g))
        if ((count > 1) & (top != 0)).any():
            tied.append(layer.l)
    return tied


def _compare(l, name, what, values, reference, entries=None):
    with mpmath.workprec(400):
        scale = max([abs(r) for r in reference] + [mpmath.mpf(10) ** -30])
        err = max(abs(v - r) for v, r in zip(values, reference)) / scale
    ok = err < TOLERANCE
    return Check(l, f"dE/d{name}", what, "high-precision", entries or len(reference), float(err), float(TOLERANCE),
                 bool(ok), "")


def _numbers(derivation, run, l):
    """{local symbol: number} for the explicit Jacobians of layer l (its input and its parameters)."""
    M = run.M
    mapping = dict(zip(derivation.s_local(l - 1), run.value(M.S(l - 1)).reshape(-1)))
    for key, matrix in derivation.param_values(l).items():
        mapping.update(zip(matrix, run.value(key).reshape(-1)))
    return mapping


def _evaluate(matrix, mapping, F):
    symbols = sorted(mapping, key=str)
    f = sp.lambdify(symbols, matrix, "mpmath")
    with mpmath.workprec(F + 64):
        return mpmath.matrix(f(*[mapping[s] for s in symbols]))


def _chain_rows(derivation, run):
    """dE/ds^l as mpmath rows, l = L..1, multiplied left to right through the explicit Jacobians (b)."""
    F, L = run.F, derivation.L
    mapping = dict(zip(derivation.s_local(L), run.value(run.M.S(L)).reshape(-1)))
    mapping.update(zip(derivation.z, run.value(run.M.Z).reshape(-1)))
    rows = {L: _evaluate(derivation.dE_ds(), mapping, F)}
    for k in range(L, 1, -1):
        if explicit_terms(derivation.layers[k - 1]) > CHAIN_MAX_TERMS:
            break  # the layers below are checked by (a) = (c) only
        J = _evaluate(derivation.jacobian_input(k), _numbers(derivation, run, k), F)
        with mpmath.workprec(F + 64):
            rows[k - 1] = rows[k] * J
    return rows


def _chain_numeric(derivation, run, rows, l, name):
    J = _evaluate(derivation.jacobian_params(l, name), _numbers(derivation, run, l), run.F)
    with mpmath.workprec(run.F + 64):
        return list(rows[l] * J)


def _central_difference(derivation, leaves, symbol, u, F):
    """dE/dt of E(theta + t u) at t = 0 by a central difference at 2F bits, step 2^-(F/2 + 16)."""
    F2 = 2 * F
    with mpmath.workprec(F2 + 64):
        h = mpmath.mpf(2) ** -(F // 2 + 16)
        values = []
        for sign in (1, -1):
            moved = dict(leaves)
            moved[symbol] = leaves[symbol] + np.vectorize(lambda v, sign=sign: sign * h * int(v), otypes=[object])(u)
            values.append(NumericPass(derivation, moved, F2, 1).error())
        return (values[0] - values[1]) / (2 * h)
