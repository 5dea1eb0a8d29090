"""The book style of the emitted module: the loop of *When Equations Learn*, in the fewest clear lines.

``emit(spec, style="book")`` renders ``templates/train_module_book.py.j2`` with :func:`book_context`.  The
module has the public API of the fast style (``init_params``, ``forward``, ``loss``, ``gradients``,
``sgd_step``, ``train``, ``predict``, ``save``, ``load``, the command line) and the same derivation, but
it is written to be read beside the book: one batch is the book's loop -- forward (eq. 80-85), the error
(eq. 86), the deltas from the output down (eq. 54, 60, 65), the gradients (eq. 66, 87-88) -- with plain
NumPy expressions and no preallocated buffers; ``train`` is a plain loop over batches (batch size 1 is
section 4.9, one example at a time) that takes the SGD step of eq. 20-21.

Every backward line is printed from the derivation's matrix forms (``derive(spec)[l].delta_form`` and
``.gradient_forms``, the objects the verification evaluates) by :class:`BookFormPrinter`, which prints a
form as one NumPy expression where the fast style's :class:`~symbackprop.emission.print_numpy.NumPyFormPrinter`
prints in-place calls.  Each element-wise function is printed from its SymPy formula in the stable form
of :mod:`symbackprop.engine.rewrites` (:func:`plain_source`); the output layer's cost and delta are the
fast style's functions (:func:`symbackprop.emission.output.output_functions`), given their own ``out``
(:func:`returning`).

>>> import sympy as sp
>>> from symbackprop.engine.forms import Elementwise
>>> from symbackprop.engine.symbols import Y
>>> W2, D2, Y1 = sp.MatrixSymbol("W2", 3, 4), sp.MatrixSymbol("Delta2", 3, 5), sp.MatrixSymbol("Y1", 4, 5)
>>> form = sp.HadamardProduct(Elementwise(sp.Heaviside(Y, 0), {Y: Y1}), W2.T * D2)
>>> BookFormPrinter({"W2": "W2", "Delta2": "Delta2", "Y1": "Y1"}, lambda f, args: "relu_prime").lines(form, "Delta1")
['Delta1 = relu_prime(Y1) * (W2.T @ Delta2)']
>>> print(plain_source("act_sigmoid", 1 / (1 + sp.exp(-Y)), ("y",), "a(y) = 1/(1 + exp(-y))"))
def act_sigmoid(y):
    \"\"\"a(y) = 1/(1 + exp(-y)).\"\"\"
    t0 = numpy.minimum(0, y)
    t1 = numpy.exp(t0)
    return t1/(t1*numpy.exp(t0 - y) + 1)
"""
import re

import sympy as sp
from sympy.printing.printer import Printer

from symbackprop import __version__
from symbackprop.emission.codegen import (
    _activation_functions,
    _check_doc,
    _check_name,
    _identifier,
    numpy_expression,
    stable_form,
)
from symbackprop.emission.print_numpy import form_text, split_coefficient, use_counts
from symbackprop.engine.forms import BETA, Elementwise
from symbackprop.errors import SpecError, SymbackpropError


# -- element-wise functions that return their value ---------------------------------------------------
def plain_source(name, expr, args, doc):
    """A Python function ``name(*args)`` returning ``expr`` element-wise, in its proved stable form.

    A formula free of the arrays (a'(y) = 1 of the identity) still returns an array of their shape.
    """
    _check_doc(doc)
    shared, (value,) = sp.cse(stable_form(expr), symbols=sp.numbered_symbols("t", real=True), order="none")
    lines = [f"{t} = {numpy_expression(v)}" for t, v in shared]
    if not {str(s) for s in value.free_symbols} & set(args) and not shared:
        lines.append(f"return numpy.full_like({args[0]}, {numpy_expression(value)})")
    else:
        lines.append(f"return {numpy_expression(value)}")
    body = "\n".join("    " + line for line in lines)
    return f'def {name}({", ".join(args)}):\n    """{doc}."""\n{body}'


def returning(source):
    """An element-wise function ``def f(x, ..., out)`` of the fast style as ``def f(x, ...)`` returning a new array.

    >>> print(returning('def f(y, out):\\n    \"\"\"Twice y.\"\"\"\\n    return numpy.multiply(y, 2, out=out)'))
    def f(y):
        \"\"\"Twice y.\"\"\"
        out = numpy.empty_like(y)
        return numpy.multiply(y, 2, out=out)
    """
    match = re.match(r'def (\w+)\(([^)]*), out\):\n(    """.*?"""\n)', source, re.DOTALL)
    if match is None:
        raise SymbackpropError(f"cannot give its own output array to the function {source.splitlines()[0]!r}")
    name, params, doc = match.groups()
    first = params.split(",")[0].strip()
    return f"def {name}({params}):\n{doc}    out = numpy.empty_like({first})\n" + source[match.end():]


# -- matrix forms as NumPy expressions ----------------------------------------------------------------
def _cannot(form, why):
    return SymbackpropError(f"cannot print the matrix form {form_text(form)} as a NumPy expression: {why}")


class BookFormPrinter(Printer):
    """Print a matrix form as one NumPy expression: ``@``, ``*``, ``+``, ``-``, ``.T`` and column or row sums.

    ``names`` maps each leaf's name ("W2", "Delta2", "A0") to the module's variable; ``function(formula,
    parameters)`` names the element-wise function of an ``Elementwise`` node.  A product with a column of
    ones, Delta 1 (eq. 88), is the row sums ``Delta.sum(axis=1, keepdims=True)``; 1 1^T X (a square matrix
    of ones on the left) is the column sums, a row NumPy broadcasts.  A composite node the form uses
    twice is computed once, into a variable ``t1``, ``t2``, ... printed on its own line first.
    """

    printmethod = "_book_form"

    def __init__(self, names, function=None, scalars=None):
        super().__init__()
        self.names, self.function = dict(names), function
        self.scalars = {BETA: "beta", **(scalars or {})}

    def lines(self, form, target):
        """The lines that assign ``form`` to the variable ``target``."""
        self._form, self._lines, self._held, self._uses = form, [], {}, use_counts(form)
        text = self._print(form)
        return self._lines + [f"{target} = {text}"]

    # -- operands ------------------------------------------------------------------------------------
    def _operand(self, expr):
        """``expr`` as an operand of an operator: a name, a call or an attribute as is, else in parentheses."""
        text = self._print(expr)
        return text if self._atomic(expr) else f"({text})"

    def _atomic(self, expr):
        """Whether ``expr`` prints as a name, a call, ``X.T`` or ``X.sum(...)``: nothing to parenthesize."""
        if expr in self._held or isinstance(expr, (sp.MatrixSymbol, sp.Transpose, Elementwise)):
            return True
        if isinstance(expr, sp.MatMul):
            c, rest = split_coefficient(expr)
            return isinstance(rest, Elementwise) if c != 1 else any(isinstance(a, sp.OneMatrix) for a in expr.args)
        return False

    def _print(self, expr, **kwargs):
        if self._uses.get(expr, 1) > 1 and getattr(expr, "is_Matrix", False):
            if expr not in self._held:
                self._held[expr] = name = f"t{len(self._held) + 1}"
                self._lines.append(f"{name} = {super()._print(expr, **kwargs)}")
            return self._held[expr]
        return super()._print(expr, **kwargs)

    def _scalar(self, expr):
        unknown = expr.free_symbols - set(self.scalars)
        if unknown:
            raise _cannot(self._form, f"the code knows no scalar {', '.join(map(str, unknown))}")
        return sp.pycode(expr.xreplace({s: sp.Symbol(t) for s, t in self.scalars.items()}))

    def _scaled(self, coefficient, text):
        """c X as text: -X, X / beta, 2 * X / 3."""
        numerator, denominator = sp.fraction(coefficient)
        if numerator == -1:
            text = f"-{text}"
        elif numerator != 1:
            text = f"{self._scalar(numerator)} * {text}"
        if denominator != 1:
            text = f"{text} / {self._scalar(denominator) if denominator.is_Atom else f'({self._scalar(denominator)})'}"
        return text

    # -- nodes -----------------------------------------------------------------------------------------
    def _print_MatrixSymbol(self, expr):
        if expr.name not in self.names:
            raise _cannot(self._form, f"the code has no variable for {expr}")
        return self.names[expr.name]

    def _print_Transpose(self, expr):
        return f"{self._operand(expr.arg)}.T"

    def _print_Elementwise(self, expr, coefficient=sp.S.One):
        formula = coefficient * expr.formula
        scalars = sorted(formula.free_symbols - set(expr.arguments), key=str)
        if scalars:
            raise _cannot(self._form, f"its element-wise formula has free symbols {scalars}")
        name = self.function(formula, tuple(expr.arguments))
        return f"{name}({', '.join(self._print(m) for m in expr.arguments.values())})"

    def _print_HadamardProduct(self, expr):
        return " * ".join(self._operand(a) for a in expr.args)

    def _print_HadamardPower(self, expr):
        return f"{self._operand(expr.base)}**{self._scalar(expr.exp)}"

    def _print_MatAdd(self, expr):
        terms = sorted((split_coefficient(t) for t in expr.args), key=lambda t: bool(t[0].could_extract_minus_sign()))
        text = ""
        for c, x in terms:
            negative = c.could_extract_minus_sign()
            c = -c if negative else c
            part = self._print(x) if c == 1 and not isinstance(x, sp.MatAdd) else self._scaled(c, self._operand(x))
            text = (f"-{part}" if negative else part) if not text else f"{text} {'-' if negative else '+'} {part}"
        return text

    def _print_MatMul(self, expr):
        c, rest = split_coefficient(expr)
        if c != 1 and isinstance(rest, Elementwise):  # c f(Y): one element-wise function of c f
            return self._print_Elementwise(rest, coefficient=c)
        if c != 1:  # c A @ B or c A * B reads left to right as it should: * / @ share one precedence
            product = isinstance(rest, (sp.MatMul, sp.HadamardProduct)) and not self._atomic(rest)
            return self._scaled(c, self._print(rest) if product else self._operand(rest))
        left, *others = expr.args
        if isinstance(left, sp.OneMatrix) and left.shape[0] == left.shape[1] and len(others) == 1:
            return f"{self._operand(others[0])}.sum(axis=0, keepdims=True)"  # 1 1^T X: the column sums
        if len(others) == 1 and isinstance(others[0], sp.OneMatrix) and others[0].shape[1] == 1:
            return f"{self._operand(left)}.sum(axis=1, keepdims=True)"  # X 1: the row sums (eq. 88)
        if any(isinstance(a, sp.OneMatrix) for a in expr.args):
            raise _cannot(self._form, "it multiplies by a matrix of ones other than as a row or column sum")
        return " @ ".join(self._operand(a) for a in expr.args)

    def emptyPrinter(self, expr):
        raise _cannot(self._form, f"it has a {type(expr).__name__} node")


# -- the model the book template renders ----------------------------------------------------------------
def _unpacking(names, mapping):
    """``W2, W3 = params["W2"], params["W3"]``: local names for entries of a dict."""
    return ", ".join(names) + " = " + ", ".join(f'{mapping}["{name}"]' for name in names)


def book_context(spec, dtype="float64"):
    """Everything ``train_module_book.py.j2`` uses; the backward lines printed from ``derive(spec)``'s forms.

    >>> from symbackprop.engine.spec import NetworkSpec
    >>> layers = book_context(NetworkSpec.from_options("3,4,2", "relu,sigmoid", "mse"))["layers"]
    >>> print("\\n".join(layers[0]["backward"] + layers[0]["gradients"]))
    # Delta1 = [(1 if y > 0 else 0) at y = Y1] (.) (W2.T*Delta2)  (eq. 60, 65)
    Delta1 = act_relu_prime(Y1) * (W2.T @ Delta2)
    # dE/dW1 = 1/beta*Delta1*A0.T, dE/db1 = 1/beta*Delta1*ones(beta, 1)  (eq. 66, 87-88)
    dW1 = Delta1 @ X.T / beta
    db1 = Delta1.sum(axis=1, keepdims=True) / beta
    """
    from symbackprop.emission.backward import _FormFunctions, _output_scale_check
    from symbackprop.emission.codegen import DTYPES
    from symbackprop.emission.output import output_functions
    from symbackprop.engine.jacobians import derive

    if dtype not in DTYPES:
        raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if any(a.name == "step" for a in spec.activations):
        raise SpecError("a step layer has a'(y) = 0, so gradients cannot train it; emit it with --perceptron-rule")
    functions, acts = {}, []
    for activation in spec.activations:
        if activation.elementwise:
            name = f"act_{_identifier(activation.label())}"
            if name not in functions:
                functions[name] = plain_source(name, activation.formula, ("y",),
                                               f"{activation.label()}: a(y) = {sp.sstr(activation.formula)}")
            acts.append(name)
        else:  # softmax: the fast style's function (column maximum subtracted), returning its value
            fast = {}
            name = _activation_functions(activation, fast)[0]
            functions.setdefault(name, returning(fast[name]))
            acts.append(name)
    derivation = derive(spec)
    net, L, n_L = derivation.network, spec.depth, spec.sizes[-1]
    _output_scale_check(derivation)  # Delta^L = (1/n_L) F: output_delta(..., scale=1/n_L) is Delta^L itself
    output = {}
    cost, delta, _ = output_functions(spec.activations[-1], spec.cost, n_L, output, derivation.output_delta)
    for name, source in output.items():
        if name != getattr(delta, "step", None):  # the fast style's fused batch step: the book computes E apart
            functions[name] = returning(source)
    registry = _FormFunctions(functions, source=plain_source)
    names = {"A0": "X", "Z": "Z"}
    for l in range(1, L + 1):
        names.update({f"W{l}": f"W{l}", f"Y{l}": f"Y{l}", f"A{l}": f"A{l}", f"Delta{l}": f"Delta{l}"})
    printer = BookFormPrinter(names, registry)
    layers = []
    for l in range(1, L + 1):
        activation, form = net.activations[l], derivation[l].delta_form
        if l == L:
            backward = [f"# Delta{L} = {form_text(form)}  (eq. 54; scale = 1/n_L gives Delta{L} itself)",
                        f"Delta{L} = {delta}(Y{L}, A{L}, Z, 1 / {n_L})"]
        else:
            registry.role = (f"act_{_identifier(activation.label())}_prime", f"{activation.label()}: a'(y) = ")
            backward = [f"# Delta{l} = {form_text(form)}  (eq. 60, 65)", *printer.lines(form, f"Delta{l}")]
        dW, db = derivation[l].gradient_forms
        gradients = [f"# dE/dW{l} = {form_text(dW)}, dE/db{l} = {form_text(db)}  (eq. 66, 87-88)",
                     *printer.lines(dW, f"dW{l}"), *printer.lines(db, f"db{l}")]
        layers.append({"l": l, "n": spec.sizes[l], "m": spec.sizes[l - 1], "label": _check_doc(activation.label()),
                       "act": acts[l - 1], "backward": backward, "gradients": gradients})
    # local names for what the backward lines (and the cost, e(y^L, a^L, z)) read
    read = set(re.findall(r"\b[WYA]\d+\b", "\n".join(line for layer in layers for line in layer["backward"]
                                                        + layer["gradients"]))) | {f"Y{L}", f"A{L}"}
    weights = [f"W{l}" for l in range(2, L + 1) if f"W{l}" in read]  # the W^(l+1) of the recursion
    cache = [f"{kind}{l}" for l in range(1, L + 1) for kind in "YA" if f"{kind}{l}" in read]
    unpack = {"params": ", ".join(f"W{l}, b{l}" for l in range(1, L + 1)),
              "backward": [_unpacking(weights, "params"), _unpacking(cache, "cache")][0 if weights else 1:]}
    return {
        "style": "book",
        "unpack": unpack,
        "name": _check_name(spec.name),
        "version": __version__,
        "description": _check_doc(spec.describe()),
        "sizes": list(spec.sizes),
        "L": L,
        "layers": layers,
        "dtype": dtype,
        "functions": list(functions.values()),
        "cost": cost,
        "cost_label": _check_doc(spec.cost.label()),
        "batch": spec.batch or 32,
        "spec_toml": spec.to_toml(default=None),
    }
