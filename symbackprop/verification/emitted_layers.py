"""Verify an emitted module of layer kinds: its own loss and gradients against the derivation at high precision.

``symbackprop emit --arch ... -o model.py`` prints a NumPy module from a
:class:`~symbackprop.engine.layered.LayeredDerivation` (conv2d, conv1d, max- and average pooling, flatten, layer
norm, residual and dense layers).  As :mod:`symbackprop.verification.emitted` does for the perceptron, this module
imports ``model.py`` and compares the module's ``loss(params, X, Z)`` and ``gradients(params, X, Z)``, computed in
its ``DTYPE``, with E and dE/d(parameter) from the derivation evaluated at ``digits`` significant digits.

* **Which network.**  The module carries its spec as ``[[layers]]`` TOML (``SPEC_TOML``, written by
  :meth:`~symbackprop.engine.layers_spec.LayeredSpec.to_toml`); a spec given explicitly must be the same network.
* **The reference.**  The derivation's own forward and backward programs -- the objects the module was printed
  from -- evaluated by :class:`~symbackprop.verification.layers.NumericPass` on object arrays of mpmath numbers
  (the window nodes through :mod:`symbackprop.engine.windows`, checked there against their explicit SymPy
  definitions), at the module's very numbers: its weights, X and Z in its DTYPE, read exactly.  No backward rule
  is written here.  A convolution's W is compared in the module's shape (c_out, c_in, kh, kw).
* **Where.**  At one point of :data:`~symbackprop.verification.emitted.BETA` examples per regime of
  :data:`~symbackprop.verification.emitted.REGIMES`, which lay out the pre-activations y of every layer that has
  an activation (dense, conv2d, conv1d, residual): |y| of order 1, |y| ~ 1e-3 on both sides of the kinks, |y| in
  the tens, saturated and far tails.  The units (channels of a convolution) of a layer get biases of both signs,
  so a saturated layer still spreads its outputs.  A layer norm has no kink and no tail of its own: it normalises
  its input whatever that input's scale, so its gain and shift stay of order 1 (g in [0.5, 1.5], h in
  [-0.5, 0.5]) in every regime, and the regime reaches it through the layers around it (its input saturated or
  near a kink, its output read by a layer placed by the regime).  Pooling and flatten have no parameters.
* **Conditioning.**  Some points make a float module's result depend on the rounding of its own forward pass
  rather than on its arithmetic being right: a max-pool window whose largest entries round to a tie in the
  module's DTYPE (saturated sigmoids all rounding to 1.0: the routing at a tie is a convention, the first index
  as in PyTorch, and the exact numbers route elsewhere); a layer norm whose input's spread is lost to rounding
  (max |s| / std(s) beyond tol / (10 eps)); a layer norm whose gradient below is a small remainder of its
  terms (the fast form removes the components along 1 and the normalised signal: over two features nothing
  but the eps term is left).  A point with any of them is drawn again with the layers below at |y| of order 1,
  and the report's notes say so (and say if it did not help).  Exact ties, such as windows of ReLU zeros, route
  alike in the module and the reference and are kept.  A single channel feeding a layer norm (which ignores a
  common shift of its inputs) has a bias gradient (1/beta) sum D that cancels to nearly 0: its row is held to
  the size of the terms summed, (1/beta) sum |D| (the reference gives it as ``"|b1|"``; the floor of
  :func:`~symbackprop.verification.emitted._layer_scale`), not to its own.
* **How close.**  Entry by entry with the rule, tolerances and floors of the perceptron's check
  (:data:`~symbackprop.verification.emitted.TOLERANCE`, :data:`~symbackprop.verification.emitted.FLOOR`): one
  :class:`~symbackprop.verification.report.Check` row per parameter (dE/dW^l, dE/db^l, dE/dg^l, dE/dh^l) and one
  for E, each the worst over all points, its note naming the regime and the entry.

Importing a module runs it: verify only modules you would run anyway.

>>> import tempfile, pathlib
>>> from symbackprop.emission.layers import emit_layers
>>> from symbackprop.engine.layers_spec import LayeredSpec
>>> spec = LayeredSpec.from_arch("conv1d(2,2,tanh) flatten layernorm dense(1,sigmoid)", "1,4", "bce")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.py"
>>> _ = path.write_text(emit_layers(spec))
>>> report = verify_emitted_layers(path)
>>> report.passed, [c.quantity for c in report.checks]
(True, ['E', 'dE/dW^4', 'dE/db^4', 'dE/dg^3', 'dE/dh^3', 'dE/dW^1', 'dE/db^1'])
"""
import math
import time
import tomllib
from pathlib import Path

import mpmath
import numpy as np
import sympy as sp

from symbackprop.engine import windows
from symbackprop.engine.layered import LayeredDerivation, gradient_symbol
from symbackprop.engine.layers_spec import LayeredSpec, read_spec_text
from symbackprop.errors import SymbackpropError
from symbackprop.verification.emitted import (
    BETA,
    REGIMES,
    TOLERANCE,
    _dyadic,
    _forward,
    check_options,
    compare_points,
    load_module,
    verify_emitted,
    working_digits,
)
from symbackprop.verification.evaluate import fixed_bits
from symbackprop.verification.layers import NumericPass


def verify_emitted_layers(path, spec=None, seed=0, digits=50, regimes=REGIMES, module=None):
    """Check the emitted module of layer kinds at ``path`` against the derivation; a :class:`VerificationReport`.

    ``spec`` (a :class:`LayeredSpec`) is optional: by default the module's own ``SPEC_TOML`` is read.  ``module``
    is the module at ``path`` when the caller has imported it already (:func:`load_module`).
    """
    check_options(seed, digits, regimes)
    start = time.perf_counter()
    path = Path(path)
    module = module if module is not None else load_module(path)
    spec = layered_module_spec(module, path, spec)
    derivation = LayeredDerivation(spec)
    dtype = np.dtype(module.DTYPE).name
    keys = ["E"] + [name for layer in reversed(spec.layers) for name, _ in layer.params()]
    rng = np.random.default_rng(seed)
    report = compare_points(module, keys, regimes,
                            lambda layout, r: _point(module, derivation, rng, layout, r, dtype, digits),
                            lambda params, X, Z, working: _reference(derivation, params, X, Z, working), digits)
    report.network, report.simplification = f"{path.name}: {spec.describe()}", derivation.output_delta.summary()
    report.seed, report.seconds = seed, time.perf_counter() - start
    return report


def emitted_checker(module, path, spec=None):
    """:func:`verify_emitted` for a perceptron module, :func:`verify_emitted_layers` for a module of layer kinds.

    The module's own ``SPEC_TOML`` says which (``[[layers]]`` or not); without one, the spec given does, and
    without either, the module's ``INPUT_SHAPE`` (only the layers template writes it).  A spec of the other
    form than the module's is refused.
    """
    text = getattr(module, "SPEC_TOML", None)
    if isinstance(text, str):
        try:
            layered = "layers" in tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            layered = hasattr(module, "INPUT_SHAPE")  # the checker's own reading names the error
    else:
        layered = isinstance(spec, LayeredSpec) if spec is not None else hasattr(module, "INPUT_SHAPE")
    if spec is not None and isinstance(spec, LayeredSpec) != layered:
        module_kind, spec_kind = ("layer kinds", "perceptron") if layered else ("perceptron", "layer kinds")
        raise SymbackpropError(f"{str(path)!r} is a {module_kind} module, but the spec given is a {spec_kind} "
                               f"spec ({spec.describe()})")
    return verify_emitted_layers if layered else verify_emitted


def layered_module_spec(module, path, spec=None):
    """The :class:`LayeredSpec` the module was emitted from (its SPEC_TOML), checked against ``spec`` if given."""
    text = getattr(module, "SPEC_TOML", None)
    if text is None and spec is None:
        raise SymbackpropError(f"{str(path)!r} carries no SPEC_TOML (an older symbackprop, or a spec no spec file "
                               f"holds); give its spec too: symbackprop verify --emitted {path} SPEC")
    if text is not None and not isinstance(text, str):
        raise SymbackpropError(f"{str(path)!r}: SPEC_TOML must be the text of a spec, got {type(text).__name__}")
    own = read_spec_text(text, source=f"{path} SPEC_TOML") if text is not None else None
    if own is not None and not isinstance(own, LayeredSpec):
        raise SymbackpropError(f"{str(path)!r} carries a perceptron spec ({own.describe()}); "
                               f"check it with verify_emitted")
    if spec is not None and not isinstance(spec, LayeredSpec):
        raise SymbackpropError(f"{str(path)!r} is a layer kinds module, but the spec given is a perceptron spec")
    if spec is not None and own is not None and _network(own) != _network(spec):
        raise SymbackpropError(f"{str(path)!r} was emitted from {own.describe()}, not from the spec given "
                               f"({spec.describe()})")
    spec = spec or own
    shapes = {name: layer.stored_shape(name) for layer in spec.layers for name, _ in layer.params()}
    found = getattr(module, "SHAPES", None)
    if not isinstance(found, dict) or {k: tuple(v) for k, v in found.items()} != shapes:
        raise SymbackpropError(f"{str(path)!r} has parameter SHAPES {found!r}, but the spec has {shapes}")
    if tuple(getattr(module, "SIZES", ())) != spec.sizes:
        raise SymbackpropError(f"{str(path)!r} has SIZES {getattr(module, 'SIZES', None)!r}, but the spec has "
                               f"{spec.sizes}")
    return spec


def _network(spec):
    """What makes two specs the same network (not its name or batch size): layers, their labels, the cost."""
    return spec.input_shape, spec.layers, tuple(layer.label() for layer in spec.layers), spec.cost


# -- the points ------------------------------------------------------------------------------------------------
def _point(module, derivation, rng, layout, r, dtype, digits):
    """((params, X, Z), notes): a point laid out as the regime says, drawn again if it is ill-conditioned."""
    X = rng.uniform(-1, 1, (derivation.spec.input, BETA)).astype(dtype)
    Z = rng.uniform(0.05, 0.95, (derivation.spec.sizes[-1], BETA))
    if not derivation.layers[-1].activation.elementwise:
        Z /= Z.sum(axis=0, keepdims=True)  # a softmax output: each target a probability vector
    Z = Z.astype(dtype)
    params = _draw(module, derivation.spec, rng, layout, r, dtype, X, ())
    bad = _ill_conditioned(module, derivation, params, X, Z, r, dtype, digits)
    if not bad:
        return (params, X, Z), []
    top = max(bad)
    below = [layer.l for layer in derivation.layers if layer.l < top and layer.activation is not None]
    if not below:
        return (params, X, Z), [f"layer {top} {bad[top]}; nothing below it to draw again"]
    params = _draw(module, derivation.spec, rng, layout, r, dtype, X, below)
    notes = [f"layer {top} {bad[top]}: layers {', '.join(map(str, below))} drawn again at |y| of order 1"]
    still = _ill_conditioned(module, derivation, params, X, Z, r, dtype, digits)
    notes += [f"layer {l} still {why}; its comparison reads the module's rounding" for l, why in still.items()]
    return (params, X, Z), notes


def _draw(module, spec, rng, layout, r, dtype, X, order_one):
    """Every parameter, layer by layer (each layer's scale read from the module's forward pass below it)."""
    params = {name: np.zeros(layer.stored_shape(name), dtype) for layer in spec.layers for name, _ in layer.params()}
    for layer in spec.layers:
        l, shapes = layer.l, dict(layer.params())
        if layer.kind == "layernorm":
            params[f"g{l}"] = _dyadic(rng.uniform(0.5, 1.5, shapes[f"g{l}"])).astype(dtype)
            params[f"h{l}"] = _dyadic(rng.uniform(-0.5, 0.5, shapes[f"h{l}"])).astype(dtype)
            continue
        if not shapes:
            continue
        S = X if l == 1 else _forward(module, params, X).get(f"S{l - 1}")
        sigma = float(np.sqrt(np.mean(np.square(S, dtype=float)))) if S is not None else 1.0
        sigma = sigma if math.isfinite(sigma) and sigma > 0 else 1.0
        (n, m), (kind, rr) = shapes[f"W{l}"], ("spread", 1.0) if l in order_one else (layout, r)
        if kind == "spread":  # y ~ rr N(0, 1), b in [-rr/2, rr/2]
            W = rng.uniform(-1, 1, (n, m)) * math.sqrt(3) * rr / (math.sqrt(m) * sigma)
            b = rng.uniform(-0.5, 0.5, (n, 1)) * rr
        else:  # |W s| about rr/4; biases rr to 2rr, of both signs across the units
            W = rng.uniform(-1, 1, (n, m)) * 0.25 * math.sqrt(3) * rr / (math.sqrt(m) * sigma)
            signs = np.where(rng.permutation(n) % 2 == 0, 1.0, -1.0) * (rng.choice((-1.0, 1.0)) if n == 1 else 1.0)
            b = rng.uniform(1, 2, (n, 1)) * rr * signs.reshape(n, 1)
        params[f"W{l}"] = _dyadic(W).reshape(layer.stored_shape(f"W{l}")).astype(dtype)
        params[f"b{l}"] = _dyadic(b).astype(dtype)
    return params


def _ill_conditioned(module, derivation, params, X, Z, r, dtype, digits):
    """{layer l: why} for the max-pools that route differently on the module's rounded input than on the exact one,
    and the layer norms whose input's spread, or whose gradient below, is lost to rounding (module docstring)."""
    cache = _forward(module, params, X)
    if not cache or not any(layer.kind in ("maxpool2d", "layernorm") for layer in derivation.layers):
        return {}  # nothing to look at, or the module's forward pass fails (the comparison reports it)
    # the derivation's programs on the module's numbers, at the reference's precision
    run = _numeric(derivation, params, X, Z, working_digits(module, params, X, r, digits)).backward()
    limit, bad = TOLERANCE[dtype] / (10 * np.finfo(dtype).eps), {}
    for layer in derivation.layers:
        S, l, M = cache.get(f"S{layer.l - 1}"), layer.l, run.M
        if S is None:
            continue
        if layer.kind == "maxpool2d":
            ones = np.ones((layer.n_out, X.shape[1]))
            exact = windows.pool_max_back(run.value(M.S(l - 1)), run.value(M.S(l)), ones.astype(object), layer.geometry)
            if (windows.pool_max_back(S, cache[f"S{l}"], ones, layer.geometry) != exact.astype(float)).any():
                bad[l] = f"(max-pool) has windows whose largest entries tie in {dtype}"
        elif layer.kind == "layernorm":
            with np.errstate(all="ignore"):
                spread = np.abs(S).max(axis=0) / S.std(axis=0)
            # dE/ds^{l-1} is R (.) g (.) Delta^l with its components along 1 and the normalised signal removed:
            # when little is left (always, for two features), rounding in the terms is all that remains
            scale = _largest(run.value(M.R(l))) * float(np.abs(params[f"g{l}"]).max()) * _largest(run.value(M.Delta(l)))
            left = scale / max(_largest(run.value(M.Delta(l - 1))), 1e-300) if l > 1 else 1.0
            if not (spread <= limit).all():
                bad[l] = f"(layer norm) reads inputs whose spread is lost to rounding in {dtype}"
            elif left > limit:
                bad[l] = f"(layer norm) passes down a gradient {left:.1g} times smaller than its terms"
    return bad


def _largest(values):
    return float(max(abs(v) for v in values.flat))


# -- the reference ---------------------------------------------------------------------------------------------
def _numeric(derivation, params, X, Z, digits):
    """The derivation's forward program at ``digits`` digits on the module's numbers (float -> mpf is exact)."""
    def exact(array, shape=None):
        values = np.asarray(array, dtype=float)
        return np.vectorize(mpmath.mpf, otypes=[object])(values if shape is None else values.reshape(shape))

    M = derivation.names(X.shape[1])
    leaves = {M.S(0): exact(X), M.Z: exact(Z)}
    for layer in derivation.layers:
        for name, shape in layer.params():
            leaves[sp.MatrixSymbol(name, *shape)] = exact(params[name], shape)
    return NumericPass(derivation, leaves, fixed_bits(digits), X.shape[1])


def _reference(derivation, params, X, Z, digits):
    """{"E": [[E]], name: dE/d(name) in the module's shape}: the derivation's backward program at ``digits``."""
    run = _numeric(derivation, params, X, Z, digits).backward()
    references = {"E": [[run.error()]]}
    for layer in derivation.layers:
        for name, shape in layer.params():
            references[name] = run.value(gradient_symbol(name, shape)).reshape(layer.stored_shape(name))
            if name[0] == "b":  # dE/db = (1/beta) sum of D: its rounding scale is (1/beta) sum |D| (see _layer_scale)
                D = np.vectorize(float, otypes=[float])(run.value(run.M.D(layer.l))).reshape(shape[0], -1)
                references[f"|{name}|"] = float(np.abs(D).sum(axis=1).max()) / X.shape[1]
    return references
