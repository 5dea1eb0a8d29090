"""Emit the NumPy module of a network of layer kinds, printed from its derivation's programs.

:class:`~symbackprop.engine.layered.LayeredDerivation` holds the forward program (each kind's forward rule) and
the backward program (the output delta, each kind's fast form, the batch-mean gradients) -- the objects the
verification evaluates.  :class:`LayerFormPrinter` prints each step as one NumPy assignment, one method per
node type, as SymPy's printers do:

* a leaf ``MatrixSymbol`` is the variable of that name (S0 is the batch X, Z the targets);
* ``X * Y`` is ``X @ Y``; ``1 1^T X`` (an n x n matrix of ones on the left) is the column sums
  ``X.sum(axis=0, keepdims=True)``, a row NumPy broadcasts; ``X 1`` (ones on the right) the row sums;
  ``b 1^T`` is ``b`` itself, a column NumPy broadcasts over the batch;
* ``X (.) Y`` is ``X * Y``; ``Elementwise(f, {y: Y1})`` is f printed by SymPy's NumPy printer (in its
  proved-stable form, :func:`symbackprop.emission.codegen.stable_form`) with y standing for Y1;
* ``Activate`` calls the activation function printed from the engine's formula, and the output layer's inner
  delta is the engine's simplified output delta in its stable form (:mod:`symbackprop.emission.output`), as in
  the perceptron module.

>>> import sympy as sp
>>> X, b = sp.MatrixSymbol("X", 3, 5), sp.MatrixSymbol("b", 3, 1)
>>> LayerFormPrinter().doprint(sp.OneMatrix(3, 3) * X / 3 + b * sp.OneMatrix(1, 5))
'b + 1/3*(X.sum(axis=0, keepdims=True))'
"""
import inspect
import re

import sympy as sp
from sympy.printing.printer import Printer

from symbackprop import __version__
from symbackprop.emission.codegen import (
    DTYPES,
    _activation_functions,
    _check_doc,
    _check_name,
    numpy_expression,
    render,
    stable_form,
)
from symbackprop.emission.output import output_functions
from symbackprop.emission.print_numpy import form_text
from symbackprop.engine import forms, windows
from symbackprop.engine.conv import WindowOp
from symbackprop.engine.layered import LayeredDerivation
from symbackprop.engine.layers import Activate
from symbackprop.errors import SpecError, SymbackpropError


class LayerFormPrinter(Printer):
    """A matrix form of the layer programs as one NumPy expression (see the module docstring)."""

    printmethod = "_layer_numpy"

    def _print_MatrixSymbol(self, expr):
        return expr.name

    def _print_Transpose(self, expr):
        return f"{self._atom(expr.arg)}.T"

    def _print_Symbol(self, expr):
        return expr.name

    def _atom(self, expr):
        text = self._print(expr)
        simple = isinstance(expr, (sp.MatrixSymbol, sp.Transpose)) or text.replace("_", "").isalnum()
        return text if simple else f"({text})"

    def _scalar(self, c):
        return sp.pycode(c.xreplace({forms.BETA: sp.Symbol("beta")}))

    def _print_MatMul(self, expr):
        c, matrices = expr.as_coeff_matrices()
        matrices = list(matrices)
        text = self._product(matrices)
        if c == 1:
            return text
        if c == -1:
            return f"-{text}" if text.replace("_", "").replace(".", "").isalnum() else f"-({text})"
        return f"{self._scalar(c)}*{text if self._is_atomic(matrices) else f'({text})'}"

    def _is_atomic(self, matrices):
        return len(matrices) == 1 and isinstance(matrices[0], (sp.MatrixSymbol, sp.Transpose))

    def _product(self, matrices):
        if len(matrices) == 2 and isinstance(matrices[0], sp.OneMatrix) and matrices[0].shape[0] == matrices[0].shape[1]:
            return f"{self._atom(matrices[1])}.sum(axis=0, keepdims=True)"  # 1 1^T X: every row the column sums
        if len(matrices) == 2 and isinstance(matrices[1], sp.OneMatrix) and matrices[1].shape[1] == 1:
            return f"{self._atom(matrices[0])}.sum(axis=1, keepdims=True)"  # X 1: the row sums
        if len(matrices) == 2 and isinstance(matrices[1], sp.OneMatrix) and matrices[1].shape[0] == 1:
            return self._print(matrices[0])  # b 1^T: the column b, broadcast over the batch
        if any(isinstance(m, sp.OneMatrix) for m in matrices):
            raise SymbackpropError(f"cannot print the product {form_text(sp.MatMul(*matrices))} as NumPy code")
        return " @ ".join(self._atom(m) for m in matrices)

    def _print_MatAdd(self, expr):
        terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())
        text = self._print(terms[0])
        for t in terms[1:]:
            text += f" - {self._signed(-t)}" if t.could_extract_minus_sign() else f" + {self._print(t)}"
        return text

    def _signed(self, term):
        text = self._print(term)
        return f"({text})" if isinstance(term, sp.MatAdd) else text

    def _print_HadamardProduct(self, expr):
        return " * ".join(self._atom(a) for a in expr.args)

    def _print_Elementwise(self, expr):
        names = {s: sp.Symbol(self._print(m), real=True) for s, m in expr.arguments.items()}
        if not all(isinstance(m, sp.MatrixSymbol) for m in expr.arguments.values()):
            raise SymbackpropError(f"an element-wise formula of {expr} reads a computed matrix; name it first")
        text = numpy_expression(stable_form(expr.formula).xreplace(names))
        # H(y) with H(0) = 0 is y > 0 on every number that is not NaN, several times faster than numpy.heaviside
        return re.sub(r"numpy\.heaviside\(([A-Za-z][A-Za-z0-9_]*), 0\)", r"(\1 > 0)", text)

    def _print_WindowOp(self, expr):
        """A convolution or pooling node: a call of its NumPy form (printed into the module from engine.windows)."""
        return f"{expr.function}({', '.join(self._print(a) for a in expr.operands)}, {expr.g})"

    def emptyPrinter(self, expr):
        raise SymbackpropError(f"cannot print {type(expr).__name__} as NumPy code: {expr}")


def _print(form):
    return LayerFormPrinter().doprint(form)


def _layer_steps(derivation, functions):
    """(forward lines, backward lines) printed from the derivation's programs, with a comment per form."""
    M = derivation.names()
    forward = []
    for name, form in derivation.forward(M):
        if isinstance(form, Activate):
            act = _activation_functions(form.activation, functions)[0]
            forward.append(f"{name} = {act}({form.argument}, numpy.empty_like({form.argument}))  "
                           f"# {form.activation.label()}")
        else:
            forward.append(f"{name} = {_print(form)}")
    out = derivation.layers[-1]
    cost, delta, _ = output_functions(out.activation, derivation.cost, out.n_out, functions, derivation.output_delta)
    backward = []
    for k, (name, form) in enumerate(derivation.backward(M)):
        if k == 0:  # the output layer's inner delta: the engine's simplified output delta, in its stable form
            L = derivation.L
            backward.append(f"# {name} = {_check_doc(form_text(form))[:150]}")
            backward.append(f"{name} = {delta}(Y{L}, S{L}, Z, 1 / {out.n_out}, numpy.empty_like(Y{L}))")
            continue
        target = name.name.replace("_grad", "")
        line = f"{name} = {_print(form)}"
        backward.append(f'grads["{target}"] = {_print(form)}' if name.name.endswith("_grad") else line)
    return forward, backward, cost


def module_context(spec, dtype="float64"):
    """What ``templates/layers_module.py.j2`` renders: the programs printed, the parameters and their shapes."""
    if dtype not in DTYPES:
        raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if any(a.name == "step" for a in spec.activations):
        raise SpecError("a step layer has a'(y) = 0, so gradients cannot train it")
    derivation = LayeredDerivation(spec)
    functions = {}
    forward, backward, cost = _layer_steps(derivation, functions)
    params = [(name, layer.stored_shape(name), shape, layer.kind) for layer in spec.layers
              for name, shape in layer.params()]
    uses_windows = any(isinstance(form, WindowOp) or (hasattr(form, "atoms") and form.atoms(WindowOp))
                       for _, form in derivation.forward(derivation.names()) + derivation.backward(derivation.names()))
    return {
        "name": _check_name(spec.name),
        "version": __version__,
        "description": _check_doc(spec.describe()),
        "sizes": list(spec.sizes),
        "L": spec.depth,
        "params": params,
        "forward": forward,
        "backward": backward,
        "names": sorted({line.split(" = ")[0] for line in forward} | {"S0"}),
        "functions": list(functions.values()),
        "windows": [inspect.getsource(f).rstrip() for f in windows.SOURCES] if uses_windows else [],
        "input_shape": tuple(spec.input_shape),
        "cost": cost,
        "cost_label": _check_doc(spec.cost.label()),
        "dtype": dtype,
        "batch": spec.batch or 32,
        "spec_toml": _spec_literal(spec),  # SPEC_TOML: what `symbackprop verify --emitted` checks the module against
    }


def _spec_literal(spec):
    """SPEC_TOML's value as Python source: the spec file's text in a raw string, or None when no file holds it."""
    text = spec.to_toml(default=None)
    return "None" if text is None else f"r'''\n{text}'''"


def emit_layers(spec, dtype="float64", template=None):
    """The source of a NumPy module training a :class:`~symbackprop.engine.layers_spec.LayeredSpec`.

    >>> from symbackprop.engine.layers_spec import LayeredSpec
    >>> source = emit_layers(LayeredSpec.from_arch("layernorm residual(tanh) dense(1,sigmoid)", "3", "bce"))
    >>> namespace = {}
    >>> exec(compile(source, "model.py", "exec"), namespace)
    >>> sorted(namespace["init_params"](seed=1))
    ['W2', 'W3', 'b2', 'b3', 'g1', 'h1']
    """
    return render("layers_module.py.j2", module_context(spec, dtype), template)
