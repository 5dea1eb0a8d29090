"""Write a :class:`~symbackprop.engine.layers_spec.LayeredSpec` as the ``[[layers]]`` spec file it was read from.

:func:`to_toml` writes the text that ``LayeredSpec.from_toml_text`` reads back as this very spec (the same
layers, window geometry, eps, activations with exact parameters, cost, batch and name), and refuses with
:class:`SpecError` a spec that would not read back the same (a parameter without an exact decimal).  Keys at
their defaults (stride, padding, eps) are left out; custom formulas are written as the user wrote them.  As for
``NetworkSpec.to_toml``, the text has no single quote and no backslash outside a string, so an emitted module
carries it in a raw string (its ``SPEC_TOML``).

>>> from symbackprop.engine.layers_spec import LayeredSpec
>>> spec = LayeredSpec.from_arch("conv2d(2,2x3,cube,stride=2,padding=1) maxpool2d(2) flatten "
...                              "layernorm(eps=0.001) dense(1,sigmoid)", "1,5,6", "mse",
...                              custom_activations=["cube=y^3"])
>>> print(to_toml(spec))  # doctest: +ELLIPSIS
name = "network"
input = [1, 5, 6]
cost = "mse"
<BLANKLINE>
[[layers]]
kind = "conv2d"
channels = 2
kernel = [2, 3]
activation = "cube"
stride = 2
padding = 1
...
[[layers]]
kind = "layernorm"
eps = 0.001
...
[custom.activations]
cube = "y^3"
<BLANKLINE>
>>> LayeredSpec.from_toml_text(to_toml(spec)).describe() == spec.describe()
True
"""
from symbackprop.engine import activations as act
from symbackprop.engine.spec import _activation_text, _decimal, _toml_string, custom_tables
from symbackprop.errors import SpecError


def to_toml(spec):
    """The spec's TOML text; :class:`SpecError` when it does not read back as the same spec."""
    shape = spec.input_shape[0] if len(spec.input_shape) == 1 else list(spec.input_shape)
    lines = [f"name = {_toml_string(spec.name)}", f"input = {shape}", f"cost = {_toml_string(spec.cost.name)}"]
    lines += [f"batch = {spec.batch}"] * (spec.batch is not None)
    for layer in spec.layers:
        lines += ["", "[[layers]]", f"kind = {_toml_string(layer.kind)}"]
        g = layer.options.get("geometry")
        if layer.kind == "dense":
            lines.append(f"size = {layer.n_out}")
        elif layer.kind in ("conv2d", "conv1d"):
            lines += [f"channels = {g[3]}", f"kernel = {[g[4], g[5]] if layer.kind == 'conv2d' else g[5]}"]
        elif layer.kind in ("maxpool2d", "avgpool2d"):
            lines.append(f"size = {g[4]}")
        if layer.activation is not None:
            lines.append(f"activation = {_toml_string(_activation_text(layer.activation))}")
        if g is not None and g[7] != (g[4] if layer.kind.endswith("pool2d") else 1):
            lines.append(f"stride = {g[7]}")
        if g is not None and g[9]:
            lines.append(f"padding = {g[9]}")
        if "eps" in layer.options:
            eps = _decimal(layer.eps)  # a TOML float when it reads back exactly, else the decimal as a string
            lines.append(f"eps = {eps if act.number(float(eps), 'eps') == layer.eps else _toml_string(eps)}")
    text = "\n".join(lines + custom_tables(spec.activations, spec.cost)) + "\n"
    try:
        back = type(spec).from_toml_text(text)
        same = (back, back.name, back.describe()) == (spec, spec.name, spec.describe())
    except SpecError:
        same = False
    if not same:
        raise SpecError(f"the spec {spec.describe()} cannot be written as a spec file that reads back the same")
    return text
