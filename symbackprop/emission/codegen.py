"""Emit a standalone NumPy module that trains a network with the book's equations.

The module is rendered from the Jinja2 template ``templates/train_module.py.j2``, which keeps the
skeleton (buffers, loops, I/O).  The backward step of every layer is printed from the derivation's
matrix forms (``derive(spec)[l].delta_form`` and ``.gradient_forms``, the objects verification evaluates)
by :mod:`symbackprop.emission.print_numpy` and :mod:`symbackprop.emission.backward`; every element-wise function in
it -- each activation a(y), its derivative a'(y), the cost term e(a, z) and the output delta found by
:func:`symbackprop.engine.simplify.output_delta` (:mod:`symbackprop.emission.output`) -- is printed from the
engine's SymPy expression, never typed into the template.

Where the literal formula would lose digits or overflow on finite input, the equal stable form of
:mod:`symbackprop.engine.rewrites` is printed (1/(1 + e^{-y}) as e^{min(y, 0)}/(1 + e^{-|y|}), log(1 + e^y) as max(y, 0) +
log1p(e^{-|y|}), expm1 for e^y - 1, the exp branch of elu clamped to y <= 0, softmax with its column
maximum subtracted); each replacement is accepted only after SymPy proves it equal to what it replaces.
The cost and the output delta are computed from y^L as well as a^L: where a cost takes log a (bce,
cross-entropy) or a - z cancels near a bound, the output activation is written into it and the fused
form is printed (log-sigmoid, log-softmax), so the output is never clipped (docs/tails.md).  Two
printings of the output layer, for speed: a batch's cost and delta in one function (``output_step``, the
terms they share computed once), and the delta of one example in the forms of
:data:`symbackprop.engine.rewrites.FEW_REWRITES` (fewer NumPy calls on n_L values).

>>> src = elementwise_source("act_sigmoid", 1 / (1 + sp.exp(-Y)), ("y",), "a(y) = 1/(1 + exp(-y))")
>>> print(src)
def act_sigmoid(y, out):
    \"\"\"a(y) = 1/(1 + exp(-y)).\"\"\"
    t0 = numpy.minimum(0, y)
    t1 = numpy.exp(t0)
    return numpy.divide(t1, t1*numpy.exp(t0 - y) + 1, out=out)
"""
import re
from pathlib import Path

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import precedence

from symbackprop import __version__
from symbackprop.engine.rewrites import stable
from symbackprop.engine.symbols import A, Y  # noqa: F401 -- A for the doctests
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.support import files

SCALE = sp.Symbol("scale", real=True)  # 1/(n_L beta) for the gradient; -lr/(n_L beta) for an SGD step
DTYPES = ("float64", "float32")
#: The styles of the emitted module (the same API and derivation): "fast" allocates every array once and
#: trains one example at a time through [W | b] blocks; "book" is the book's loop in plain NumPy expressions
#: (:mod:`symbackprop.emission.book`), to read beside the book.  ``emit`` defaults to "fast".
STYLES = ("fast", "book")
# one example at a time, applying delta s^T to W costs two passes over W (outer product, then add) against
# one for W s: layers with at least this many weights keep their updates pending and apply them in a batch
DEFER_WEIGHTS = 2 ** 13

# -- stable rewrites: the registry and its proof live in rewrites.py --------------------------
def stable_form(expr):
    """``expr`` with the stable rewrites of :data:`symbackprop.engine.rewrites.REWRITES` applied, when proved equal."""
    return stable(expr).rewritten


# -- printing: SymPy's NumPy printer, with element-wise forms for Max, Heaviside, Piecewise -------
class _Printer(NumPyPrinter):
    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False})

    def _as_ordered_terms(self, expr, order=None):
        # positive terms first: z - a is one NumPy subtraction, -a + z a negation and an addition
        terms = super()._as_ordered_terms(expr, order=order)
        return sorted(terms, key=lambda term: term.could_extract_minus_sign())

    def _print_Max(self, expr):
        return self._nested("maximum", expr.args)

    def _print_Min(self, expr):
        return self._nested("minimum", expr.args)

    def _nested(self, ufunc, args):
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"numpy.{ufunc}({text}, {self._print(arg)})"
        return text

    def _print_OneMinus(self, expr):
        return "q"  # the softmax functions' array C/S (see _softmax_prelude)

    def _print_Add(self, expr, order=None):
        # as SymPy's, except that a grouped term (UnevaluatedExpr: (1 - z) where z ~ 1) is printed in parentheses
        # as a whole, never with its first sign pulled out ("t - (z - 1)" for t + (-z - 1))
        parts = []
        for term in self._as_ordered_terms(expr, order=order):
            if isinstance(term, sp.UnevaluatedExpr):
                parts += ["+", f"({self._print(term.args[0])})"]
                continue
            text = self._print(term)
            sign = "-" if text.startswith("-") and not term.is_Add else "+"
            text = text[1:] if sign == "-" else text
            parts += [sign, f"({text})" if precedence(term) < precedence(expr) or term.is_Add else text]
        sign = parts.pop(0)
        return ("" if sign == "+" else sign) + " ".join(parts)

    def _print_Pow(self, expr, rational=False):
        if expr.exp == -1:  # 1/x, not x**(-1.0)
            return f"1/{self.parenthesize(expr.base, 1000)}"
        if expr.exp == 3 and expr.base.is_Symbol:  # two products: NumPy's power has no fast path for a cube
            return "*".join([self._print(expr.base)] * 3)
        return super()._print_Pow(expr, rational=rational)

    def _print_Heaviside(self, expr):
        return f"numpy.heaviside({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Piecewise(self, expr):
        if len(expr.args) == 2 and expr.args[1].cond is sp.true:
            (e1, cond), (e2, _) = expr.args
            return f"numpy.where({self._print(cond)}, {self._print(e1)}, {self._print(e2)})"
        return super()._print_Piecewise(expr)


_PRINTER = _Printer()
_UFUNCS = {logaddexp: "logaddexp",
           sp.exp: "exp", sp.log: "log", sp.tanh: "tanh", sp.Abs: "absolute", sp.sign: "sign", log1p: "log1p", expm1: "expm1",
           sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.sinh: "sinh", sp.cosh: "cosh", sp.atan: "arctan"}


def numpy_expression(expr):
    """NumPy source for a SymPy expression; refuses functions NumPy has no vectorised form for.

    >>> numpy_expression(sp.Heaviside(Y, 0))
    'numpy.heaviside(y, 0)'
    >>> numpy_expression(sp.LambertW(Y))
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: cannot emit NumPy code for LambertW(y): NumPy has no element-wise LambertW
    """
    text = _printed(expr)
    if text is None:
        culprits = sorted({type(f).__name__ for f in expr.atoms(sp.Function) if _printed(f) is None})
        raise SymbackpropError(f"cannot emit NumPy code for {sp.sstr(expr)}: NumPy has no element-wise "
                               f"{', '.join(culprits) or 'form of it'}")
    return text


def _printed(expr):
    """The NumPy printer's text for ``expr``, or None where it needs something outside NumPy."""
    try:
        text = _PRINTER.doprint(expr)
    except PrintMethodNotImplementedError:
        return None
    foreign = re.findall(r"\b(?!numpy\.)([A-Za-z_][A-Za-z0-9_]*)\.", text)
    return None if foreign or "Not supported" in text or "\n" in text else text


def _into(expr, out, start=0, lead="return "):
    """Lines that compute ``expr`` into the array ``out`` (the outermost operation writes in place).

    The terms or factors free of arrays (numbers and ``scale``, Python floats when the code runs) are
    gathered into the second operand of that operation, so they cost one scalar product, not array passes.
    Temporaries are named t<start>, t<start + 1>, ...; ``lead=""`` leaves the last line without its return.

    >>> _into(2 * SCALE * A * (A - 1), "out")
    ['return numpy.multiply(a*(a - 1), 2*scale, out=out)']
    >>> _into((A - 1)**2, "out")
    ['return numpy.square(a - 1, out=out)']
    >>> _into(sp.Max(0, Y), "out")
    ['out.fill(0)', 'return numpy.maximum(out, y, out=out)']
    """
    p = numpy_expression
    shared, (expr,) = sp.cse(expr, symbols=sp.numbered_symbols("t", real=True, start=start), order="none")
    # the base of a cube is computed once (it is printed b*b*b)
    cubes = {c.base for c in expr.atoms(sp.Pow) if c.exp in (3, -3) and not c.base.is_Symbol}
    if cubes:
        names = sp.numbered_symbols("t", real=True, start=start + len(shared))
        shared += [(next(names), b) for b in cubes]
        expr = expr.xreplace({b: t for t, b in shared[-len(cubes):]})
    if shared:  # a subexpression used twice (e^{-|y|} in the sigmoid) is computed once
        return [f"{t} = {p(value)}" for t, value in shared] + _into(expr, out, start + len(shared), lead)
    numerator, denominator = sp.fraction(expr)
    if expr.is_Mul and all(f.is_Pow and f.exp == 2 for f in (numerator, denominator)):  # (u/v)^2: two passes, not three
        return [f"{lead}numpy.square({p(numerator.base / denominator.base)}, out={out})"]
    if expr.is_Mul and denominator != 1 and not denominator.free_symbols <= {SCALE}:
        return [f"{lead}numpy.divide({p(numerator)}, {p(denominator)}, out={out})"]
    if expr.is_Add or expr.is_Mul:
        scalars = [arg for arg in expr.args if arg.free_symbols <= {SCALE}]
        arrays = [arg for arg in expr.args if not arg.free_symbols <= {SCALE}]
        first, rest = (expr.func(*arrays), expr.func(*scalars)) if scalars and arrays else expr.as_two_terms()
        return [f"{lead}numpy.{'add' if expr.is_Add else 'multiply'}({p(first)}, {p(rest)}, out={out})"]
    if expr.is_Pow and expr.exp == 2:
        return [f"{lead}numpy.square({p(expr.base)}, out={out})"]
    if expr.func in _UFUNCS and len(expr.args) == 1:
        p(expr)  # refuses what NumPy cannot do
        return [f"{lead}numpy.{_UFUNCS[expr.func]}({p(expr.args[0])}, out={out})"]
    if isinstance(expr, (sp.Max, sp.Min)) and len(expr.args) == 2:
        ufunc = "maximum" if isinstance(expr, sp.Max) else "minimum"
        number, other = sorted(expr.args, key=lambda arg: not arg.is_number)
        if number.is_number and not other.is_number:
            # NumPy compares two arrays several times faster than an array and a number: the number
            # is written into out first (out is never one of the arguments)
            return [f"{out}.fill({p(number)})", f"{lead}numpy.{ufunc}({out}, {p(other)}, out={out})"]
        return [f"{lead}numpy.{ufunc}({p(expr.args[0])}, {p(expr.args[1])}, out={out})"]
    if isinstance(expr, sp.Heaviside) and expr.args[1] in (0, 1):
        # H(w) with H(0) = 0 is w > 0, with H(0) = 1 it is w >= 0: a comparison written into the float array
        # out (True -> 1), several times faster than numpy.heaviside and equal to it on every non-NaN number
        ufunc = "greater" if expr.args[1] == 0 else "greater_equal"
        return [f"{lead}numpy.{ufunc}({p(expr.args[0])}, 0, out={out})"]
    if isinstance(expr, sp.Heaviside):
        return [f"{lead}numpy.heaviside({p(expr.args[0])}, {p(expr.args[1])}, out={out})"]
    return [f"{out}[...] = {p(expr)}"] + ([f"return {out}"] if lead else [])


def elementwise_source(name, expr, args, doc, rewrites=None):
    """A Python function ``name(*args, out)`` computing ``expr`` element-wise into ``out``, in the stable form of
    ``rewrites`` (by default :data:`symbackprop.engine.rewrites.REWRITES`)."""
    _check_doc(doc)
    form = stable_form(expr) if rewrites is None else stable(expr, rewrites).rewritten
    body = "\n".join("    " + line for line in _into(form, "out"))
    return f'def {name}({", ".join(args)}, out):\n    """{doc}."""\n{body}'


def elementwise_pair_source(name, pairs, args, doc):
    """A Python function ``name(*args, *outs)`` computing each ``expr`` of ``pairs`` = ((expr, out), ...)
    element-wise into its ``out``, with the subexpressions they share computed once (forms already stable).

    >>> e = sp.exp(-abs(Y))
    >>> print(elementwise_pair_source("f", [(log1p(e), "e"), (SCALE * e, "out")], ("y", "scale"), "doc"))
    def f(y, scale, e, out):
        \"\"\"doc.\"\"\"
        t0 = numpy.exp(-abs(y))
        numpy.log1p(t0, out=e)
        numpy.multiply(t0, scale, out=out)
    """
    _check_doc(doc)
    shared, exprs = sp.cse([expr for expr, _ in pairs], symbols=sp.numbered_symbols("t", real=True), order="none")
    lines = [f"{t} = {numpy_expression(value)}" for t, value in shared]
    for expr, (_, out) in zip(exprs, pairs):
        lines += _into(expr, out, start=len(lines), lead="")
    outs = [out for _, out in pairs]
    body = "\n".join("    " + line for line in lines)
    return f'def {name}({", ".join([*args, *outs])}):\n    """{doc}."""\n{body}'


# -- the model the template renders ------------------------------------------------------------
def _identifier(label):
    name = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,60}", name):
        raise SpecError(f"activation name {label!r} cannot name a function in generated code")
    return name


def _check_doc(text):
    if not isinstance(text, str) or re.search(r'["\\\n\r]|[^\x20-\x7e]', text):
        raise SpecError(f"text {text!r} cannot appear in generated code")
    return text


def _check_name(name):
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_. -]{0,59}", name):
        raise SpecError(f"network name {name!r} must be letters, digits, spaces, '.', '-' or '_' (at most 60)")
    return name




def _activation_functions(activation, functions):
    """Emit a(y) and a'(y) for one activation (once per distinct label); returns their names."""
    base = _identifier(activation.label())
    act, prime = f"act_{base}", f"act_{base}_prime"
    if act in functions:
        return act, prime
    if activation.elementwise:  # a'(y) is printed from the backward forms (see _FormFunctions)
        functions[act] = elementwise_source(act, activation.formula, ("y",),
                                            f"{activation.label()}: a(y) = {sp.sstr(activation.formula)}")
        return act, prime
    # softmax: the numerator e^{y/T} is the engine's formula, shifted by the column maximum m
    m = sp.Symbol("m", real=True)
    shifted = activation.formula.xreplace({Y: Y - m})
    if sp.simplify(shifted / activation.formula).has(Y):
        raise SymbackpropError(f"{activation.label()}: subtracting the maximum changes the softmax")
    numerator = numpy_expression(stable_form(shifted))
    functions[act] = (
        f"def {act}(y, out):\n"
        f'    """{_check_doc(activation.label())}: a_i = {sp.sstr(activation.formula)} / sum_k (same for y_k), '
        f'with the column maximum m subtracted first (same value, no overflow)."""\n'
        f"    m = y.max(axis=0, keepdims=True)\n"
        f"    numpy.copyto(out, {numerator})\n"
        f"    out /= out.sum(axis=0, keepdims=True)\n"
        f"    return out"
    )
    return act, None


def module_context(spec, dtype="float64"):
    """Everything the templates use: layers, generated functions, names (all validated).

    The backward step of every layer is printed from the derivation's matrix forms
    (``derive(spec)[l].delta_form`` and ``.gradient_forms``, the objects the verification evaluates);
    see :func:`backward_code` for the scale convention.
    """
    from symbackprop.emission.backward import backward_code
    from symbackprop.engine.jacobians import derive

    if dtype not in DTYPES:
        raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    functions, acts = {}, []
    for activation in spec.activations:
        acts.append(_activation_functions(activation, functions)[0])
    if any(a.name == "step" for a in spec.activations):
        raise SpecError("a step layer has a'(y) = 0, so gradients cannot train it; emit it with --perceptron-rule")
    derivation = derive(spec)
    from symbackprop.emission.output import output_functions

    cost, delta, output_reads_a = output_functions(spec.activations[-1], spec.cost, spec.sizes[-1], functions,
                                    derivation.output_delta)  # the one output delta the forms read too
    layers = backward_code(derivation, acts, functions, delta)
    return {
        "name": _check_name(spec.name),
        "version": __version__,
        "description": _check_doc(spec.describe()),
        "sizes": list(spec.sizes),
        "L": spec.depth,
        "layers": layers,
        "out": layers[-1],
        "dtype": dtype,
        "functions": list(functions.values()),
        "cost": cost,
        "cost_label": _check_doc(spec.cost.label()),
        "batch": spec.batch or 32,
        "deferred_weights": DEFER_WEIGHTS,
        "output_reads_a": output_reads_a,  # False: the cost and delta are computed from y^L alone
        "output_step": getattr(delta, "step", None),  # computes a batch's cost and output delta together
        "spec_toml": spec.to_toml(default=None),  # SPEC_TOML: what `symbackprop verify --emitted` checks the module against
    }


def render(name, context, path=None):
    """Render the package template ``name``, or the user's template file ``path``, with ``context``."""
    import jinja2

    from symbackprop.support.resources import jinja_env

    try:
        if path is None:
            return jinja_env("code").get_template(name).render(**context)
        path = Path(path)
        if not path.is_file():
            raise SymbackpropError(f"template {str(path)!r} does not exist")
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(path.parent)), trim_blocks=True,
                                 lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                                 autoescape=False)
        return env.get_template(path.name).render(**context)
    except jinja2.TemplateError as exc:
        raise SymbackpropError(f"template {str(path or name)!r} failed: {exc}") from None


def emit(spec, dtype="float64", template=None, style="fast"):
    """The source of a NumPy module training ``spec`` (see the module docstring), in the given ``style``.

    ``style="fast"`` renders ``train_module.py.j2`` with :func:`module_context`; ``style="book"`` renders
    ``train_module_book.py.j2`` with :func:`symbackprop.emission.book.book_context`.  Both print every
    backward line from the same derivation's forms and offer the same functions.

    >>> from symbackprop.engine.spec import NetworkSpec
    >>> source = emit(NetworkSpec.from_options("2,3,1", "tanh,sigmoid", "bce"))
    >>> namespace = {}
    >>> exec(compile(source, "model.py", "exec"), namespace)
    >>> params = namespace["init_params"](seed=1)
    >>> sorted(params), params["W1"].shape, params["b2"].shape
    (['W1', 'W2', 'b1', 'b2'], (3, 2), (1, 1))
    """
    if style == "book":
        from symbackprop.emission.book import book_context

        return render("train_module_book.py.j2", book_context(spec, dtype), template)
    if style != "fast":
        raise SpecError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    return render("train_module.py.j2", module_context(spec, dtype), template)


def emit_perceptron(n_inputs, n_outputs=1, dtype="float64", template=None):
    """The Rosenblatt perceptron rule for one step layer: W += lr (z - a) x^T, b += lr (z - a)."""
    from symbackprop.engine.activations import get_activation

    for what, n in (("inputs", n_inputs), ("outputs", n_outputs)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SpecError(f"the perceptron needs a positive number of {what}, got {n!r}")
    if dtype not in DTYPES:
        raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    step = get_activation("step")
    functions = {}
    functions["act_step"] = elementwise_source("act_step", step.formula, ("y",),
                                               f"step: a(y) = {sp.sstr(step.formula)}")
    context = {"n_inputs": n_inputs, "n_outputs": n_outputs, "dtype": dtype, "version": __version__,
               "functions": list(functions.values())}
    return render("perceptron_rule.py.j2", context, template)


def write_atomic(path, text, force=False):
    """Write the module via a temporary file in the same folder; refuse to overwrite unless ``force``."""
    return files.write_atomic(path, text, force, example="model.py")
