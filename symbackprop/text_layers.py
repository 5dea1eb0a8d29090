"""derive's text and JSON view of a network of layer kinds: per layer its forward rule, Jacobians, backward step.

>>> from symbackprop.engine.layers_spec import LayeredSpec
>>> from symbackprop.engine.layered import LayeredDerivation
>>> d = LayeredDerivation(LayeredSpec.from_arch("layernorm dense(1,sigmoid)", "2", "mse"))
>>> print(layered_text(d))  # doctest: +ELLIPSIS
Network 2 -> layernorm -> dense(1, sigmoid), cost mse: 2 layers, 7 parameters
<BLANKLINE>
Layer 2: dense(1, sigmoid), 2 -> 1, parameters W2 (1, 2), b2 (1, 1)
  forward   Y2 = W2*S1 + b2*ones(1, beta)
            S2 = sigmoid(Y2)
  ds/ds     1 x 2, derived by Matrix.jacobian of the forward rule
  backward  D2 = ...
"""
import sympy as sp

from symbackprop.emission.print_numpy import form_text

#: derive --verbose writes a layer's Jacobian out up to this many entries (building it is quadratic in the sizes)
VERBOSE_MAX_ENTRIES = 400


def _layer(derivation, layer, verbose):
    M, l = derivation.names(), layer.l
    params = ", ".join(f"{name} {shape}" for name, shape in layer.params()) or "none"
    rows = [f"Layer {l}: {layer.label()}, {layer.n_in} -> {layer.n_out}, parameters {params}"]
    for k, (name, form) in enumerate(layer.steps(M)):
        rows.append(f"  {'forward' if k == 0 else '':9} {name} = {form_text(form) if hasattr(form, 'shape') else form}")
    rows.append(f"  {'ds/ds':9} {layer.n_out} x {layer.n_in}, derived by Matrix.jacobian of the forward rule")
    if verbose and layer.n_out * layer.n_in <= VERBOSE_MAX_ENTRIES:
        rows += [f"{'':12}{sp.sstr(row)}" for row in derivation.jacobian_input(l).tolist()]
    elif verbose:
        rows.append(f"{'':12}(not written out: above {VERBOSE_MAX_ENTRIES:,} entries)")
    output = (derivation.output_delta, derivation.cost) if l == derivation.L else None
    delta_in, grads, inner = layer.rule.backward(layer, M, None if output else M.Delta(l), output)
    steps = ([inner] if inner else []) + [(f"dE/d{name}", form) for name, form in grads.items()]
    steps += [(M.Delta(l - 1), delta_in)] if l > 1 else []
    for k, (name, form) in enumerate(steps):
        rows.append(f"  {'backward' if k == 0 else '':9} {name} = {form_text(form)}")
    return rows


def layered_text(derivation, verbose=False):
    spec = derivation.spec
    lines = [f"Network {spec.describe()}: {spec.depth} layers, {spec.n_params:,} parameters"]
    for layer in reversed(derivation.layers):
        lines += [""] + _layer(derivation, layer, verbose)
    return "\n".join(lines)


def layered_json(derivation):
    M = derivation.names()
    return {
        "network": derivation.spec.describe(),
        "sizes": list(derivation.spec.sizes),
        "parameters": derivation.spec.n_params,
        "layers": [{"l": layer.l, "kind": layer.kind, "label": layer.label(),
                    "parameters": {name: list(shape) for name, shape in layer.params()},
                    "forward": [[str(name), form_text(form) if hasattr(form, "shape") else str(form)]
                                for name, form in layer.steps(M)]} for layer in derivation.layers],
        "backward": [[str(name), form_text(form)] for name, form in derivation.backward(M)],
    }
