"""Plain-text and JSON views of a derivation, for the ``derive`` command.

>>> from symbackprop.engine.spec import NetworkSpec
>>> from symbackprop.engine.jacobians import derive
>>> print(derivation_text(derive(NetworkSpec.from_options("2,1", "sigmoid", "bce"))))
network 2-1 [sigmoid] cost bce  (L = 1, 3 parameters)
  a(y) sigmoid: 1/(1 + exp(-y))   a'(y) = exp(-y)/(1 + exp(-y))**2 = -a*(a - 1)
  cost bce: e(a, z) = -z*log(a) - (1 - z)*log(1 - a)   de/da = (1 - z)/(1 - a) - z/a   (E = 1/n sum e)
layer 1 (output): W^1 1x2, b^1 1x1, s^0 = x (2)
  dE/da^1     1 x 1 row
  da^1/dy^1   1 x 1 diagonal: a'(y^1_i)
  dy^1/dW^1   column-vector of 1 matrices, each 1 x 2, entry i has row i = s^T   (eq. 16-17)
  delta^1     (dE/da^1 da^1/dy^1)^T   (eq. 54)
  dE/dW^1 = delta^1 (x) s^0   1 x 2   (eq. 66-68)      dE/db^1 = delta^1   (eq. 72-73)
output delta: sigmoid + bce: delta^L = (a - z)/n  (the factor a*(1 - a) cancels)
"""
import sympy as sp


def _activation_line(act):
    if act.elementwise:
        d = sp.sstr(act.derivative)
        if act.derivative_in_a is not None:
            d += f" = {sp.sstr(act.derivative_in_a)}"
        return f"  a(y) {act.label()}: {sp.sstr(act.formula)}   a'(y) = {d}"
    entry, _ = act.jacobian_entry
    return f"  a(y) {act.label()}: a_i = exp(y_i/T) / sum_k exp(y_k/T)   da_i/dy_j = {sp.sstr(entry)}"


def derivation_text(derivation, verbose=False):
    """A readable per-layer report of what was derived (``verbose`` adds the entries)."""
    net, spec = derivation.network, derivation.spec
    lines = [f"network {spec.describe()}  (L = {spec.depth}, {spec.n_params:,} parameters)"]
    seen = set()
    for layer in derivation:
        if layer.activation not in seen:
            seen.add(layer.activation)
            lines.append(_activation_line(layer.activation))
    cost = net.cost
    lines.append(f"  cost {cost.label()}: e(a, z) = {sp.sstr(cost.term)}   de/da = {sp.sstr(cost.derivative)}"
                 f"   (E = 1/n sum e)")
    for layer in reversed(list(derivation)):
        l, n, m = layer.l, layer.n, layer.m
        src = "x" if l == 1 else f"a^{l - 1}"
        lines.append(f"layer {l}{' (output)' if layer.is_output else ''}: W^{l} {n}x{m}, b^{l} {n}x1, "
                     f"s^{l - 1} = {src} ({m})")
        if layer.is_output:
            lines.append(f"  dE/da^{l}     1 x {n} row")
        kind = f"diagonal: a'(y^{l}_i)" if layer.activation.elementwise else "full (softmax)"
        lines.append(f"  da^{l}/dy^{l}   {n} x {n} {kind}")
        lines.append(f"  dy^{l}/dW^{l}   column-vector of {n} matrices, each {n} x {m}, entry i has row i = s^T"
                     f"   (eq. 16-17)")
        if layer.is_output:
            lines.append(f"  delta^{l}     (dE/da^{l} da^{l}/dy^{l})^T   (eq. 54)")
        else:
            op = "(.)" if layer.activation.elementwise else "J^T"
            lines.append(f"  delta^{l}     a'(y^{l}) {op} (W^{l + 1})^T delta^{l + 1}   (eq. 60, 65)")
        lines.append(f"  dE/dW^{l} = delta^{l} (x) s^{l - 1}   {n} x {m}   (eq. 66-68)      "
                     f"dE/db^{l} = delta^{l}   (eq. 72-73)")
        if verbose and n <= 8:
            for i, d in enumerate(layer.delta):
                lines.append(f"    delta^{l}_{i + 1} = {sp.sstr(d)}")
    lines.append(f"output delta: {derivation.output_delta.summary()}")
    if spec.batch:
        lines.append(f"batch of {spec.batch}: E = 1/beta sum_c E_c (eq. 86); dE/dW^l = 1/beta Delta^l (S^(l-1))^T, "
                     f"dE/db^l = 1/beta Delta^l 1 (eq. 87-90)")
    return "\n".join(lines)


def derivation_json(derivation):
    """The derivation as JSON-ready data: per layer, shapes and the derived formulas."""
    spec = derivation.spec
    layers = []
    for layer in derivation:
        act = layer.activation
        entry = {
            "layer": layer.l,
            "activation": act.label(),
            "W_shape": [layer.n, layer.m],
            "b_shape": [layer.n, 1],
            "da_dy": "diagonal" if act.elementwise else "full",
            "dy_dW": {"entries": layer.n, "entry_shape": [layer.n, layer.m]},
            "delta": "output" if layer.is_output else "recursion",
        }
        if act.elementwise:
            entry["activation_derivative"] = sp.sstr(act.derivative)
            if act.derivative_in_a is not None:
                entry["activation_derivative_in_a"] = sp.sstr(act.derivative_in_a)
        else:
            entry["jacobian_entry"] = sp.sstr(act.jacobian_entry[0])
        if layer.n <= 16 and (layer.is_output or layer.n * layer.m <= 4096):
            entry["delta_entries"] = [sp.sstr(d) for d in layer.delta]
        layers.append(entry)
    out = derivation.output_delta
    return {
        "network": spec.to_dict(),
        "parameters": spec.n_params,
        "cost": {"name": spec.cost.label(), "term": sp.sstr(spec.cost.term),
                 "derivative": sp.sstr(spec.cost.derivative)},
        "layers": layers,
        "output_delta": {"naive": sp.sstr(out.naive), "simplified": sp.sstr(out.simplified),
                         "cancelled": sp.sstr(out.cancelled) if out.cancelled is not None else None,
                         "condition": out.condition},
    }
