"""Verify an emitted module: the code a user runs, checked against the derivation at high precision.

``symbackprop emit SPEC -o model.py`` prints a NumPy module from the derivation; ``symbackprop verify``
checks the derivation.  This module closes the gap between them: it imports ``model.py`` itself and
compares the module's own ``loss(params, X, Z)`` and ``gradients(params, X, Z)``, computed in the
module's ``DTYPE``, with the derivation's E, dE/dW^l and dE/db^l at ``digits`` significant digits.

* **Which network.**  An emitted module carries the spec it was emitted from (``SPEC_TOML``), so it
  can be checked on its own; a spec given explicitly must agree with it.
* **Where.**  At points laid out across regimes (:data:`REGIMES`), each a batch of :data:`BETA`
  examples: |y| of order 1; |y| ~ 1e-3 on both sides of the kinks at 0; |y| in the tens; saturated
  tails (|y| ~ 30-75) and far tails (|y| ~ 300-750).  Weights and biases are dyadic (k / 2^p with
  |k| <= 2^20, exact in float32); inputs and targets are rounded to the module's ``DTYPE``; the
  reference is computed from those very numbers, so what is compared is the module's arithmetic,
  not the rounding of its inputs.  The reference works at ``digits`` + 2 max|y| / ln 10 digits: where a
  saturates, 1 - a ~ e^-|y| and 1 - a^2 ~ e^-2|y| must keep ``digits`` digits behind a ~ 1.
* **How close.**  Entry by entry: |emitted - reference| <= tol * max(|reference|, floor), with the
  floor a fraction (:data:`FLOOR`) of the largest entry of the layer's gradients (an entry that
  cancels to nearly 0 is held to its layer's scale, not to its own) and never below the smallest
  normal number over tol.  tol is 1e-10 for float64 and 1e-4 for float32 (:data:`TOLERANCE`).
* **What is reported.**  One :class:`~symbackprop.verification.verify.Check` row per layer and quantity
  (dE/dW^l, dE/db^l, and E), each the worst over all points, its note naming the regime and the
  entry where the worst discrepancy sits.

Importing a module runs it: verify only modules you would run anyway.  Modules of layer kinds (conv, pooling,
layer norm, residual) are checked by :mod:`symbackprop.verification.emitted_layers` with this module's points
loop, tolerances and report (:func:`compare_points`).

>>> import tempfile, pathlib
>>> from symbackprop.emission.codegen import emit
>>> from symbackprop.engine.spec import NetworkSpec
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "model.py").write_text(emit(NetworkSpec.from_options("3,4,2", "relu,identity", "mse")))
>>> report = verify_emitted(folder / "model.py")
>>> report.passed, [c.quantity for c in report.checks]
(True, ['E', 'dE/dW^2', 'dE/db^2', 'dE/dW^1', 'dE/db^1'])
"""
import importlib.machinery
import importlib.util
import itertools
import math
import time
import warnings
from pathlib import Path

import mpmath
import numpy as np

from symbackprop.engine.spec import NetworkSpec
from symbackprop.errors import SymbackpropError
from symbackprop.verification.verify import Check, VerificationReport

TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
# an entry is held to tol * max(|reference|, FLOOR * largest |entry| of its tensor): rounding in a sum of
# terms as large as the tensor's largest entry leaves an absolute error of a few eps times that entry
FLOOR = {"float64": 1e-4, "float32": 1e-1}
BETA = 3  # examples per point
# (what the point shows, how y^l is laid out, r): "spread" draws W^l so that y ~ r N(0, 1) and b^l in
# [-r/2, r/2]; "bias" gives each unit a bias of r to 2r, with a random sign, and a small W^l (|W s| about
# r/4), so that every y of that unit in the batch has |y| between about r/2 and 2.5 r on one side of 0
REGIMES = (
    ("|y| of order 1", "spread", 1.0),
    ("|y| ~ 1e-3, both sides of 0", "bias", 1e-3),
    ("|y| in the tens", "bias", 10.0),
    ("saturated tails, |y| ~ 30-75", "bias", 30.0),
    ("far tails, |y| ~ 300-750", "bias", 300.0),
)
MAX_DIGITS = 2000  # the working precision's ceiling
_NAMES = itertools.count()


def verify_emitted(path, spec=None, seed=0, digits=50, regimes=REGIMES, module=None):
    """Check the emitted module at ``path`` against the derivation; returns a :class:`VerificationReport`.

    ``spec`` (a :class:`NetworkSpec`) is optional: by default the module's own ``SPEC_TOML`` is read.
    ``regimes`` are the points' layouts, a subset of :data:`REGIMES` or rows like them.  ``module`` is the
    module at ``path`` when the caller has imported it already (:func:`load_module`).
    """
    from symbackprop.engine.jacobians import derive

    check_options(seed, digits, regimes)
    start = time.perf_counter()
    path = Path(path)
    module = module if module is not None else load_module(path)
    spec = module_spec(module, path, spec)
    dtype = np.dtype(module.DTYPE).name
    derivation = derive(spec)
    L = spec.depth
    keys = ["E"] + [f"{kind}{l}" for l in range(L, 0, -1) for kind in "Wb"]
    rng = np.random.default_rng(seed)

    def reference(params, X, Z, working):
        E, grads = _reference(derivation, params, X, Z, working)
        references = {"E": [[E]]}
        for l, (dW, db) in grads.items():
            references[f"W{l}"], references[f"b{l}"] = dW, [[v] for v in db]
        return references

    report = compare_points(module, keys, regimes, lambda layout, r: (_point(module, spec, rng, layout, r, dtype), []),
                            reference, digits)
    report.network, report.simplification = f"{path.name}: {spec.describe()}", derivation.output_delta.summary()
    report.seed, report.seconds = seed, time.perf_counter() - start
    return report


def check_options(seed, digits, regimes):
    """The one-line errors for a seed, a precision or a list of regimes verify_emitted cannot use."""
    if not 30 <= digits <= 1000:
        raise SymbackpropError(f"high-precision verification needs 30 to 1000 digits, got {digits}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SymbackpropError(f"the seed must be a non-negative integer, got {seed!r}")
    if not regimes:
        raise SymbackpropError("verify_emitted needs at least one regime to place its points")


def compare_points(module, keys, regimes, point, reference, digits):
    """One Check row per key ("E", "W2", "g3", ...): the worst discrepancy over the regimes' points.

    ``point(layout, r)`` gives ((params, X, Z), notes) in the module's DTYPE; ``reference(params, X, Z, digits)``
    gives {key: nested lists of the reference values, shaped like the module's arrays}.  Returns a report
    whose network, output delta, seed and time the caller fills in.
    """
    dtype = np.dtype(module.DTYPE).name
    L = max(int(key[1:]) for key in keys if key != "E")
    worst = {key: (0.0, "") for key in keys}
    entries = dict.fromkeys(keys, 0)
    notes, warned, precisions = [], set(), []
    for regime, layout, r in regimes:
        (params, X, Z), placed = point(layout, r)
        notes += [f"{regime}: {note}" for note in placed]
        working = working_digits(module, params, X, r, digits)
        precisions.append(working)
        for key, (disc, where) in _compare(module, reference, params, X, Z, working, dtype, warned).items():
            entries[key] += np.size(params.get(key, 0.0))
            if disc >= worst[key][0]:
                worst[key] = (disc, f"worst at {regime}{where}")
    tol = TOLERANCE[dtype]
    checks = []
    for key in keys:
        quantity, layer = ("E", L) if key == "E" else (f"dE/d{key[0]}^{key[1:]}", int(key[1:]))
        disc, note = worst[key]
        checks.append(Check(layer, quantity, "emitted = derivation", f"high-precision vs emitted {dtype}",
                            entries[key], disc, tol, disc <= tol, note))
    notes.append(f"{len(regimes)} point{'s' * (len(regimes) > 1)} of {BETA} examples: "
                 + "; ".join(regime[0] for regime in regimes)
                 + f"; reference at {digits} digits (worked at {min(precisions)} to {max(precisions)})")
    notes += [f"the module warned: {w}" for w in sorted(warned)]
    report = VerificationReport("", checks, "", 0, digits)
    report.notes = notes
    return report


# -- the module and its spec -----------------------------------------------------------------------
class _Loader(importlib.machinery.SourceFileLoader):
    """Python's own loader for a source file, minus the bytecode cache (no __pycache__ beside model.py)."""

    def set_data(self, path, data, *, _mode=0o666):
        pass


def load_module(path):
    """The module at ``path``, imported under a fresh name; a one-line error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise SymbackpropError(f"emitted module {str(path)!r} does not exist")
    if path.suffix != ".py":
        raise SymbackpropError(f"{str(path)!r} is not a Python module (.py); give the file `symbackprop emit` wrote")
    try:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except (OSError, UnicodeDecodeError) as exc:
        raise SymbackpropError(f"cannot read {str(path)!r}: {exc}") from None
    except (SyntaxError, ValueError) as exc:
        raise SymbackpropError(f"{str(path)!r} is not valid Python: {exc}") from None
    name = f"_symbackprop_emitted_{next(_NAMES)}"
    loader = _Loader(name, str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 -- foreign code: whatever it raises, say so in one line
        raise SymbackpropError(f"importing {str(path)!r} failed: {type(exc).__name__}: {_line(exc)}") from None
    missing = [n for n in ("loss", "gradients") if not callable(getattr(module, n, None))]
    missing += [n for n in ("DTYPE",) if not hasattr(module, n)]
    if missing:
        raise SymbackpropError(f"{str(path)!r} is not an emitted module: it has no {', '.join(missing)}")
    try:
        dtype = np.dtype(module.DTYPE).name
    except TypeError:
        dtype = repr(module.DTYPE)
    if dtype not in TOLERANCE:
        raise SymbackpropError(f"{str(path)!r} has DTYPE {dtype}; emitted modules use float64 or float32")
    return module


def module_spec(module, path, spec=None):
    """The spec the module was emitted from (its SPEC_TOML), checked against ``spec`` when one is given."""
    text = getattr(module, "SPEC_TOML", None)
    if text is None and spec is None:
        raise SymbackpropError(f"{str(path)!r} carries no SPEC_TOML (another template, an older symbackprop, "
                               f"or a spec no spec file holds); "
                               f"give its spec too: symbackprop verify --emitted {path} SPEC")
    if text is not None and not isinstance(text, str):
        raise SymbackpropError(f"{str(path)!r}: SPEC_TOML must be the text of a spec, got {type(text).__name__}")
    own = NetworkSpec.from_toml_text(text, source=f"{path} SPEC_TOML") if text is not None else None
    if spec is not None and own is not None and (own.sizes, own.activations, own.cost) != \
            (spec.sizes, spec.activations, spec.cost):
        raise SymbackpropError(f"{str(path)!r} was emitted from {own.describe()}, not from the spec given "
                               f"({spec.describe()})")
    spec = spec or own
    sizes = getattr(module, "SIZES", spec.sizes)
    if not isinstance(sizes, (tuple, list)) or tuple(sizes) != spec.sizes:
        raise SymbackpropError(f"{str(path)!r} has SIZES {sizes!r}, but the spec has {spec.sizes}")
    return spec


def _line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else "(no message)"


# -- the points ------------------------------------------------------------------------------------
def _point(module, spec, rng, layout, r, dtype):
    """params, X, Z in ``dtype`` with y^l laid out as the regime says (see :data:`REGIMES`).

    The scale of s^(l-1) is read from the module's own forward pass with layers l..L still zero: it only
    places the point; every value compared comes from the reference.
    """
    sizes, L = spec.sizes, spec.depth
    X = rng.uniform(-1, 1, (sizes[0], BETA)).astype(dtype)
    Z = rng.uniform(0.05, 0.95, (sizes[-1], BETA))
    if not spec.activations[-1].elementwise:
        Z /= Z.sum(axis=0, keepdims=True)  # a softmax output: each target a probability vector
    params = {}
    for l in range(1, L + 1):
        params[f"W{l}"] = np.zeros((sizes[l], sizes[l - 1]), dtype)
        params[f"b{l}"] = np.zeros((sizes[l], 1), dtype)
    for l in range(1, L + 1):
        S = X if l == 1 else _forward(module, params, X).get(f"A{l - 1}")
        sigma = float(np.sqrt(np.mean(np.square(S, dtype=float)))) if S is not None else 1.0
        sigma = sigma if math.isfinite(sigma) and sigma > 0 else 1.0
        m, n = sizes[l - 1], sizes[l]
        if layout == "spread":
            W = rng.uniform(-1, 1, (n, m)) * math.sqrt(3) * r / (math.sqrt(m) * sigma)
            b = rng.uniform(-0.5, 0.5, (n, 1)) * r
        else:
            W = rng.uniform(-1, 1, (n, m)) * 0.25 * math.sqrt(3) * r / (math.sqrt(m) * sigma)
            b = rng.uniform(1, 2, (n, 1)) * r * rng.choice((-1.0, 1.0), (n, 1))
        params[f"W{l}"], params[f"b{l}"] = _dyadic(W).astype(dtype), _dyadic(b).astype(dtype)
    return params, X, Z.astype(dtype)


def working_digits(module, params, X, r, digits):
    """The reference's precision at a point: where a saturates, 1 - a ~ e^-|y| and 1 - a^2 ~ e^-2|y| must keep
    ``digits`` digits behind a ~ 1, so 2 max|y| / ln 10 digits more (at most :data:`MAX_DIGITS`)."""
    return min(digits + math.ceil(2 * _reach(module, params, X, r) / math.log(10)), MAX_DIGITS)


def _dyadic(values, bits=20):
    """``values`` rounded to multiples k / 2^p of one power of two, |k| <= 2^bits: exact in float32 and float64,
    and weights whose products a high-precision engine can form exactly (integers times numbers).

    >>> _dyadic(np.array([0.3, -1.7]), bits=4)
    array([ 0.25, -1.75])
    """
    largest = float(np.abs(values).max(initial=0))
    if not largest:
        return values
    p = bits - math.ceil(math.log2(largest))
    return np.round(values * 2.0 ** p) * 2.0 ** -p


def _forward(module, params, X):
    """The module's forward cache {"Y1": Y^1, "A1": A^1, ...} in float64, or {} when it has none or it fails."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            cache = module.forward({k: v.copy() for k, v in params.items()}, X.copy())[1]
            return {key: np.asarray(value, dtype=float) for key, value in cache.items()}
    except Exception:  # noqa: BLE001 -- only places the point; the checks meet the failure
        return {}


def _reach(module, params, X, r):
    """The largest |y| at the point: 2.5 r by the layout, or more if the module's forward pass shows more."""
    ys = [Y for key, Y in _forward(module, params, X).items() if key.startswith("Y") and np.isfinite(Y).all()]
    return max([2.5 * r] + [float(np.abs(Y).max()) for Y in ys if Y.size])


# -- the comparison --------------------------------------------------------------------------------
def _compare(module, reference, params, X, Z, digits, dtype, warned):
    """{"E": (discrepancy, where), "W1": ..., "b1": ...} at one point: the module against the reference."""
    keys = ["E", *params]
    try:
        references = reference(params, X, Z, digits)
    except (ArithmeticError, ValueError) as exc:  # e.g. log(0) in the derivation's own formulas
        return dict.fromkeys(keys, (math.inf, f": the derivation cannot be evaluated there ({_line(exc)})"))
    emitted, failure = _run(module, params, X, Z, warned)
    if failure:
        return dict.fromkeys(keys, (math.inf, failure))
    return {key: _discrepancy(emitted[key], references[key], dtype, _layer_scale(references, key)) for key in keys}


def _layer_scale(references, key):
    """The scale an entry of ``key``'s gradient is held to, besides its tensor's largest |entry|: the largest
    |entry| of its layer's gradients (W1 and b1 for b1), and the size of the terms summed, when the reference
    gives it (``"|b1|"``: (1/beta) sum |D^1|, where rounding in dE/db^1 = (1/beta) sum D^1 happens).  A bias
    gradient that cancels to nearly 0 (a conv channel feeding a layer norm, which ignores a common shift) is
    then held to the scale of its terms, as a cancelling entry is held to its tensor's."""
    layer = key[1:]
    scales = [float(np.abs(np.vectorize(float, otypes=[float])(np.asarray(value, dtype=object))).max())
              for name, value in references.items() if name == key or (name[0] in "Wbgh" and name[1:] == layer)]
    return max(scales + [references.get(f"|{key}|", 0.0)])


def _run(module, params, X, Z, warned):
    """The module's loss and gradients at the point, keyed E, W1, b1, ...; or (None, why) if it fails."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            E = module.loss({k: v.copy() for k, v in params.items()}, X.copy(), Z.copy())
            grads = module.gradients({k: v.copy() for k, v in params.items()}, X.copy(), Z.copy())
        warned.update(f"{w.category.__name__}: {w.message}" for w in caught)
        values = {"E": [[E]]}
        for key in params:
            values[key] = np.asarray(grads[key])
            if values[key].shape != params[key].shape:
                return None, f": gradients()[{key!r}] has shape {values[key].shape}, not {params[key].shape}"
        return values, ""
    except Exception as exc:  # noqa: BLE001 -- a module that raises fails its checks, with the reason
        return None, f": the module raised {type(exc).__name__}: {_line(exc)}"


def _discrepancy(emitted, reference, dtype, scale=0.0):
    """max over entries of |emitted - reference| / max(|reference|, floor), and where it sits; the floor is
    FLOOR times the larger of the tensor's largest |entry| and ``scale`` (its layer's, :func:`_layer_scale`).

    The reference is rounded to float64 for the comparison: its rounding (1e-16 relative) is a millionth
    of the float64 tolerance, and entries too small for a float64 to hold them lie under the floor.
    """
    tol = TOLERANCE[dtype]
    values = np.asarray(reference, dtype=object)  # nested lists or an object array, of any number of axes
    try:
        ref = np.vectorize(float, otypes=[float])(values)  # mpc (log of a negative) refuses
    except TypeError:
        ref = np.array([[math.nan]])
    if not np.isfinite(ref).all():
        return math.inf, ": the reference is not a finite real number there (outside the cost's domain?)"
    floor = max(FLOOR[dtype] * max(float(np.abs(ref).max()), scale), float(np.finfo(dtype).tiny) / tol)
    got = np.asarray(emitted, dtype=float).reshape(ref.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        disc = np.where(np.isfinite(got), np.abs(got - ref) / np.maximum(np.abs(ref), floor), math.inf)
    at = np.unravel_index(int(np.argmax(disc)), disc.shape)
    entry = f", entry [{', '.join(map(str, at))}]" if disc.size > 1 else ""
    return float(disc[at]), f"{entry}: emitted {got[at]:.17g}, reference {mpmath.nstr(values[at], 17)}"


def _reference(derivation, params, X, Z, digits):
    """E and {l: (dE/dW^l, dE/db^l)} of the batch, from the derivation at ``digits`` digits.

    The one call into the high-precision engine: the module's arrays become an evaluation point
    (weights are dyadic, so their products are exact), the forward rule gives Y^l and A^l, and the
    derivation's own matrix forms give Delta^l and the batch gradients (1/beta) Delta^l (S^{l-1})^T,
    (1/beta) Delta^l 1 -- the very objects the module was printed from.
    """
    from symbackprop.engine import forms
    from symbackprop.verification.evaluate import Dyadic, Fixed, fixed_bits
    from symbackprop.verification.numeric import PointChecks
    from symbackprop.verification.points import Point, error

    L, beta = derivation.L, X.shape[1]
    F = fixed_bits(digits)
    W = {l: Dyadic.from_float(np.asarray(params[f"W{l}"], dtype=float)) for l in range(1, L + 1)}
    b = {l: Dyadic.from_float(np.asarray(params[f"b{l}"], dtype=float)) for l in range(1, L + 1)}
    point = Point("emitted", W, b, Fixed.from_values(np.asarray(X, dtype=float).tolist(), F),
                  Fixed.from_values(np.asarray(Z, dtype=float).tolist(), F), F)
    pc = PointChecks(derivation, point)  # the forward rule, then Delta^L ... Delta^1 from the forms
    grads = {}
    for l in range(L, 0, -1):
        W_form, b_form = derivation[l].gradient_forms
        dW, db = (pc.ev.value(f.xreplace({forms.BETA: beta})).to_mpf() for f in (W_form, b_form))
        grads[l] = (dW.tolist(), [row[0] for row in db.tolist()])
    return error(derivation.network, pc.As[L], point.Z, F), grads
