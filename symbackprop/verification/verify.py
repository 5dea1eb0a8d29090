"""Every formula a consumer uses, checked against what it stands for (book eq. 50-51 vs 57-66 vs E).

For every layer l and for W^l and b^l, three forms of the gradient:

(a) *direct*: the derivative of the composed error E(a^L(y^L(...a^1(y^1(x))))) itself;
(b) *chain*: the long chain product of eq. 50-51, dE/da^L da^L/dy^L W^L ... da^l/dy^l dy^l/dW^l,
    with the derivation's Jacobians and its column-vector of matrices;
(c) *outer*: the derivation's matrix forms, the very objects the emitted code prints: the simplified
    output delta, the recursion Delta^l = a'(Y^l) (.) (W^{l+1})^T Delta^{l+1} (or its softmax form) and
    dE/dW^l = (1/beta) Delta^l (S^{l-1})^T, dE/db^l = (1/beta) Delta^l 1 (eq. 57-68, 76, 87-90).

and a row for every element-wise formula inside them (:mod:`symbackprop.verification.formulas`).

Methods, each named in the report:

* ``exact``: SymPy builds (a), (b), (c) in explicit symbols and the differences reduce to 0
  (:mod:`symbackprop.verification.exact`).  For small networks only: the composed E grows fast.
* ``high-precision``: (b) and (c) evaluated from the derivation's own objects, and (a) by central
  differences of the composed E at twice the precision, at several points across regimes (small |y|,
  order 1, tens, both sides of each kink, saturated tails), on arrays of ``digits``-digit numbers with
  exact products by dyadic weights (:mod:`symbackprop.verification.evaluate`, :mod:`symbackprop.verification.numeric`).
* ``float64``: central finite differences of the composed E in NumPy float64, a third witness.

>>> from symbackprop.engine.spec import NetworkSpec
>>> from symbackprop.engine.jacobians import derive
>>> report = verify(derive(NetworkSpec.from_options("2,2,1", "tanh,sigmoid", "bce")))
>>> report.passed, sorted({c.method for c in report.checks})
(True, ['exact', 'float64', 'high-precision'])
"""
import contextlib
import sys
import time

from symbackprop.engine.zero import OutOfTime as _OutOfTime
from symbackprop.engine.zero import time_limit as _time_limit
from symbackprop.errors import SymbackpropError
from symbackprop.verification.exact import (
    EXACT_MAX_BATCH,
    EXACT_MAX_DEPTH,
    EXACT_MAX_PARAMS,
    _exact_checks,
    _exact_is_cheap,
)
from symbackprop.verification.float64 import float64_checks
from symbackprop.verification.formulas import formula_checks
from symbackprop.verification.numeric import UNEVALUABLE, numeric_checks
from symbackprop.verification.report import Check, VerificationReport

__all__ = ["Check", "VerificationReport", "verify"]


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
            except UNEVALUABLE as exc:  # a form of the wrong shape: nothing can hold
                exact = [_unevaluable("exact", exc)]
            except _OutOfTime:
                if method == "exact":
                    raise SymbackpropError(f"the exact proof did not finish in {limit:g} CPU seconds for {spec.describe()}; "
                                           f"use --method high-precision (or auto)") from None
                notes.append(f"the exact proof took longer than {exact_seconds:g} CPU seconds; "
                             f"verified at {digits} digits instead (use --method exact to insist)")
        if exact is not None and not all(c.passed for c in exact) and method == "auto":
            # the reduction can fail to prove a true identity (a kink inside a max of a max), never prove a
            # false one: what it left unproved is settled at high precision, and the report says so
            unproved = sum(not c.passed for c in exact)
            notes.append(f"the exact reduction left {unproved} identit{'y' if unproved == 1 else 'ies'} unproved; "
                         f"verified at {digits} digits instead")
            checks += [c for c in exact if c.passed]
            exact = None
        if exact is None:
            checks += numeric_checks(derivation, seed, digits, Check, tick)
        else:
            checks += exact
        if spec.batch and exact is None:
            checks += numeric_checks(derivation, seed, digits, Check, tick, regimes=("mixed regimes",),
                                     beta=spec.batch)
    try:
        checks += formula_checks(derivation, digits, Check)
    except UNEVALUABLE as exc:
        checks.append(_unevaluable("high-precision", exc))
    fd_checks, fd_notes = float64_checks(derivation, seed, fd_samples, Check)
    checks += fd_checks
    notes += fd_notes
    report = VerificationReport(spec.describe(), checks, derivation.output_delta.summary(), seed, digits)
    report.notes = notes
    report.seconds = time.perf_counter() - start
    return report


def _unevaluable(method, exc):
    return Check(0, "the derivation's forms", "evaluated", method, 0, float("inf"), 0.0, False,
                 f"could not evaluate: {type(exc).__name__}: {exc}"[:300])


@contextlib.contextmanager
def _progress(show, layers, what="verifying layers"):
    """A progress bar on standard error when ``show``, of ``layers`` steps; yields the function to call per step."""
    if not show:
        yield lambda: None
        return
    from symbackprop.support.progress import bar

    with bar(layers, what, stream=sys.stderr) as b:
        yield b.update
