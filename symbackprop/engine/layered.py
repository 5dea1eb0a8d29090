"""The derivation of a network of layer kinds: forward program, Jacobians, recursion, fast forms.

One object, :class:`LayeredDerivation`, read by every consumer (verification, LaTeX, emission):

* ``forward(M)``: the forward program, every layer's steps (:mod:`symbackprop.engine.layers`) in order;
* ``backward(M)``: the backward program, from the engine's simplified output delta (the one the perceptron
  uses, :func:`symbackprop.engine.simplify.output_delta`) down through each kind's fast form:
  Delta^{l-1} from Delta^l = dE/dS^l, and every parameter's gradient (batch means, eq. 87-90);
* at concrete sizes, one example, in explicit symbols: ``layer_output(l)`` the forward rule made explicit in
  the local input s^{l-1} and the layer's parameters, ``jacobian_input(l)`` = ``Matrix.jacobian`` of it by
  s^{l-1} (full for the layer norm, I + (da/dy) W for a residual block), ``jacobian_params(l, name)``, and the
  composed error E (for the direct derivative).

>>> from symbackprop.engine.layers_spec import LayeredSpec
>>> d = LayeredDerivation(LayeredSpec.from_arch("layernorm dense(1,sigmoid)", "2", "mse"))
>>> d.jacobian_input(1).shape, d.jacobian_params(1, "g1").shape
((2, 2), (2, 2))
>>> [str(name) for name, _ in d.backward(d.names(1))][:3]
['D2', 'W2_grad', 'b2_grad']
"""
from functools import cache, cached_property

import sympy as sp

from symbackprop.engine import forms
from symbackprop.engine.layers import Activate, Names


@cache
def _symbol(name):
    return sp.Symbol(name, real=True)


def gradient_symbol(name, shape):
    """The matrix symbol under which the backward program stores dE/d(name)."""
    return sp.MatrixSymbol(f"{name}_grad", *shape)


class LayeredDerivation:
    """Every formula of a :class:`~symbackprop.engine.layers_spec.LayeredSpec`, derived once."""

    def __init__(self, spec):
        self.spec, self.layers, self.L = spec, spec.layers, spec.depth
        self.sizes = dict(enumerate(spec.sizes))
        self.cost = spec.cost

    def __repr__(self):
        return f"LayeredDerivation({self.spec.describe()})"

    def names(self, beta=forms.BETA):
        return Names(beta, self.sizes)

    @cached_property
    def output_delta(self):
        """The engine's simplification of dE/dy^L for the last (dense) layer's activation and the cost."""
        from symbackprop.engine.simplify import output_delta

        return output_delta(self.layers[-1].activation, self.cost)

    # -- the programs every reader runs or prints --------------------------------------------------------------
    def forward(self, M):
        """[(name, form or Activate)] for layers 1..L in order; S^0 = X is the input."""
        return [step for layer in self.layers for step in layer.steps(M)]

    def backward(self, M):
        """[(name, form)] in order: per layer l = L..1 its inner delta D^l (dense, residual), the gradients of its
        parameters (stored as ``<param>_grad``) and Delta^{l-1} (for l > 1)."""
        program = []
        for layer in reversed(self.layers):
            top = layer.l == self.L
            output = (self.output_delta, self.cost) if top else None
            delta_in, grads, inner = layer.rule.backward(layer, M, None if top else M.Delta(layer.l), output)
            if inner is not None:
                program.append(inner)
            for name, shape in layer.params():
                program.append((gradient_symbol(name, shape), grads[name]))
            if layer.l > 1:
                program.append((M.Delta(layer.l - 1), delta_in))
        return program

    # -- explicit symbols, one example (book form) --------------------------------------------------------------
    def s_local(self, l):
        """s^l as local symbols: x_i for l = 0, s{l}_i above (the signal out of layer l)."""
        stem = "x" if l == 0 else f"s{l}_"
        return sp.ImmutableMatrix(self.sizes[l], 1, lambda i, j: _symbol(f"{stem}{i + 1}"))

    @cached_property
    def z(self):
        return sp.ImmutableMatrix(self.sizes[self.L], 1, lambda i, j: _symbol(f"z{i + 1}"))

    def param(self, name, shape):
        """The explicit matrix of parameter ``name`` (W3 -> w3_i_j, b3 -> b3_i, g2 -> g2_i, h2 -> h2_i)."""
        stem, l = name[0].lower(), name[1:]
        if shape[1] == 1:
            return sp.ImmutableMatrix(shape[0], 1, lambda i, j: _symbol(f"{stem}{l}_{i + 1}"))
        return sp.ImmutableMatrix(*shape, lambda i, j: _symbol(f"{stem}{l}_{i + 1}_{j + 1}"))

    def param_values(self, l):
        return {sp.MatrixSymbol(name, *shape): self.param(name, shape) for name, shape in self.layers[l - 1].params()}

    def flat_params(self, l, name=None):
        return [v for key, value in ((k.name, v) for k, v in self.param_values(l).items()) if name in (None, key)
                for v in value]

    def run_explicit(self, program, values):
        """Each step of a program made explicit (one example), given explicit values of its leaves."""
        values = dict(values)
        for name, form in program:
            if isinstance(form, Activate):
                column = values[form.argument]
                values[name] = sp.ImmutableMatrix(form.activation(list(column)))
            else:
                values[name] = forms.explicit(form.xreplace({forms.BETA: 1}), values)
        return values

    @cache  # noqa: B019 -- one derivation, a few layers
    def layer_values(self, l):
        """Every named matrix of layer l's forward rule, explicit in s^{l-1} and the layer's parameters."""
        M = self.names(1)
        values = {M.S(l - 1): self.s_local(l - 1), **self.param_values(l)}
        return self.run_explicit(self.layers[l - 1].steps(M), values)

    def layer_output(self, l):
        """S^l in s^{l-1} and the layer's parameters: the forward rule, written once, made explicit."""
        return self.layer_values(l)[self.names(1).S(l)]

    def jacobian_input(self, l):
        """ds^l/ds^{l-1}, derived by ``Matrix.jacobian`` of the forward rule."""
        return self.layer_output(l).jacobian(list(self.s_local(l - 1)))

    def jacobian_params(self, l, name):
        """ds^l/d(name) with the parameter's entries row by row (the column-vector of matrices, flattened)."""
        return self.layer_output(l).jacobian(self.flat_params(l, name))

    def dE_ds(self):
        """dE/ds^L, a 1 x n_L row from the cost (appendix C)."""
        return self.cost.gradient(self.s_local(self.L), self.z)

    @cached_property
    def composed(self):
        """{s^l local symbol: its value in x and every parameter}, l = 1..L: the network composed."""
        mapping = {}
        for l in range(1, self.L + 1):
            out = self.layer_output(l).xreplace(mapping)
            mapping.update(zip(self.s_local(l), out))
        return mapping

    def error(self):
        """E(s^L(...s^1(x))) for one example, composed (eq. 49)."""
        return self.cost(list(self.s_local(self.L).xreplace(self.composed)), list(self.z))

    def chain(self, l, name):
        """(b): dE/ds^L ds^L/ds^{L-1} ... ds^{l+1}/ds^l ds^l/d(name), each factor in its local symbols, composed."""
        row = self.dE_ds()
        for k in range(self.L, l, -1):
            row = row * self.jacobian_input(k)
        return (row * self.jacobian_params(l, name)).xreplace(self.composed)

    def fast(self):
        """(c): the backward program made explicit for one example over the composed forward values: {name: value}."""
        M = self.names(1)
        values = {M.S(0): self.s_local(0), M.Z: self.z}
        for l in range(1, self.L + 1):
            values.update(self.param_values(l))
        values = self.run_explicit(self.forward(M), values)
        return self.run_explicit(self.backward(M), values)
