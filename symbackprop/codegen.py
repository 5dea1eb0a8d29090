"""Emit a standalone NumPy module that trains a network with the book's equations.

The module is rendered from the Jinja2 template ``templates/train_module.py.j2``.  The
matrix structure is the template's (eq. 82: Y^l = W^l S^{l-1} + B^l; eq. 87-90:
dE/dW^l = (1/beta) Delta^l (S^{l-1})^T, dE/db^l = (1/beta) Delta^l 1; eq. 60/65:
Delta^l = a'(Y^l) (.) (W^{l+1})^T Delta^{l+1}).  Every element-wise function in it --
each activation a(y), its derivative a'(y), the cost term e(a, z) and the output delta
e'(a, z) a'(y) / n found by :func:`symbackprop.simplify.output_delta` -- is printed
from the engine's SymPy expression by SymPy's NumPy printer, never typed into the
template.

Where the literal formula would overflow on finite input, a stable equal form is
used (1/(1 + e^{-y}) as (1 + tanh(y/2))/2, log(1 + e^y) as max(y, 0) +
log1p(e^{-|y|}), the exp branch of elu clamped to y <= 0, softmax with its column
maximum subtracted); each rewrite is accepted only after SymPy proves it equal to
the original (:func:`proved_equal`), otherwise the original is kept.

>>> src = elementwise_source("act_sigmoid", 1 / (1 + sp.exp(-Y)), ("y",), "a(y) = 1/(1 + exp(-y))")
>>> print(src)
def act_sigmoid(y, out):
    \"\"\"a(y) = 1/(1 + exp(-y)).\"\"\"
    return numpy.add((1/2)*numpy.tanh((1/2)*y), 1/2, out=out)
>>> proved_equal(sp.Piecewise((1, Y > 0), (0, True)), sp.Heaviside(Y, 0))
True
"""
import re
from dataclasses import dataclass
from pathlib import Path

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter

from . import __version__, files
from .activations import A, Y
from .errors import SpecError, SymbackpropError
from .simplify import N, output_delta, tidy

SCALE = sp.Symbol("scale", real=True)  # 1/(n_L beta) for the gradient; -lr/(n_L beta) for an SGD step
DTYPES = ("float64", "float32")
# one example at a time, applying delta s^T to W costs two passes over W (outer product, then add) against
# one for W s: layers with at least this many weights keep their updates pending and apply them in a batch
DEFER_WEIGHTS = 2 ** 13

# -- stable rewrites: data (a pattern and what replaces it) plus one rule ---------------------
_w = sp.Wild("w")
_REWRITES = (
    ("e^w/(1+e^w) as tanh", sp.exp(_w) / (1 + sp.exp(_w)), (1 + sp.tanh(_w / 2)) / 2),
    ("sigmoid as tanh", 1 / (1 + sp.exp(-_w)), (1 + sp.tanh(_w / 2)) / 2),
    ("e^-w/(1+e^-w)^2 as tanh", sp.exp(-_w) / (1 + sp.exp(-_w)) ** 2, (1 - sp.tanh(_w / 2) ** 2) / 4),
    ("softplus without overflow", sp.log(1 + sp.exp(_w)), sp.Max(_w, 0) + log1p(sp.exp(-sp.Abs(_w)))),
)


def _piecewise_rule(pw):
    """Piecewise((e1, y > c), (e2, True)) in forms NumPy evaluates without overflow or select.

    Constant branches become Heaviside steps (float results, relu'(0) = 0 as in PyTorch);
    y vs k*y (0 <= k <= 1) becomes max(y, k y); an exp in a branch is clamped to that
    branch's side of c, so the branch NumPy evaluates but discards cannot overflow.
    """
    if len(pw.args) != 2 or pw.args[1].cond is not sp.true:
        return pw
    (e1, cond), (e2, _) = pw.args
    if not isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)) or cond.lhs != Y or not cond.rhs.is_number:
        return pw
    c = cond.rhs
    if e1.is_number and e2.is_number:
        h0 = 0 if isinstance(cond, sp.StrictGreaterThan) else 1
        return e2 + (e1 - e2) * sp.Heaviside(Y - c, h0)
    k = sp.cancel(e2 / e1) if e1 == Y and c == 0 else None
    if k is not None and k.is_number and 0 <= k <= 1:
        return sp.Max(Y, k * Y)
    if e1.has(sp.exp):
        e1 = e1.xreplace({Y: sp.Max(Y, c)})
    if e2.has(sp.exp):
        e2 = e2.xreplace({Y: sp.Min(Y, c)})
    return sp.Piecewise((e1, cond), (e2, True))


def _exp_pair_rule(product):
    """(e^w - 1) e^{-w} -> 1 - e^{-w} inside a product (e^w overflows where e^{-w} underflows harmlessly)."""
    factors = [g for f in sp.Mul.make_args(product) for g in sp.Mul.make_args(sp.factor(f) if f.is_Add else f)]
    for f in factors:
        if f.is_Add and len(f.args) == 2 and -1 in f.args:
            (g,) = [t for t in f.args if t != -1]
            if g.func == sp.exp and sp.exp(-g.args[0]) in factors:
                factors.remove(f)
                factors.remove(sp.exp(-g.args[0]))
                return sp.Mul(*factors) * (1 - sp.exp(-g.args[0]))
    return product


def _is_zero(expr):
    return any(sp.simplify(form) == 0 for form in (expr, expr.rewrite(sp.exp), expr.rewrite(sp.log)))


def proved_equal(original, rewritten):
    """True when SymPy reduces original - rewritten to 0 (on y > 0, y < 0 and y = 0 if needed).

    Splitting at 0 is exact for functions of y whose kinks sit at y = 0 (every built-in).
    """
    diff = original - rewritten
    if _is_zero(diff):
        return True
    if Y not in diff.free_symbols:
        return False
    p = sp.Symbol("p", positive=True)
    return all(_is_zero(diff.xreplace({Y: v})) for v in (p, -p, sp.Integer(0)))


def stable_form(expr):
    """``expr`` with the stable rewrites applied, when SymPy proves the result equal."""
    new = expr
    for _, pattern, replacement in _REWRITES:
        new = new.replace(pattern, replacement)
    new = new.replace(lambda e: e.is_Mul, _exp_pair_rule)
    new = new.replace(lambda e: isinstance(e, sp.Piecewise), _piecewise_rule)
    if new == expr or proved_equal(expr, new):
        return new
    return expr


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

    def _print_Heaviside(self, expr):
        return f"numpy.heaviside({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Piecewise(self, expr):
        if len(expr.args) == 2 and expr.args[1].cond is sp.true:
            (e1, cond), (e2, _) = expr.args
            return f"numpy.where({self._print(cond)}, {self._print(e1)}, {self._print(e2)})"
        return super()._print_Piecewise(expr)


_PRINTER = _Printer()
_UFUNCS = {sp.exp: "exp", sp.log: "log", sp.tanh: "tanh", sp.Abs: "absolute", sp.sign: "sign", log1p: "log1p",
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


def _into(expr, out):
    """Lines that compute ``expr`` into the array ``out`` (the outermost operation writes in place).

    The terms or factors free of arrays (numbers and ``scale``, Python floats when the code runs) are
    gathered into the second operand of that operation, so they cost one scalar product, not array passes.

    >>> _into(2 * SCALE * A * (A - 1), "out")
    ['return numpy.multiply(a*(a - 1), 2*scale, out=out)']
    >>> _into((A - 1)**2, "out")
    ['return numpy.square(a - 1, out=out)']
    >>> _into(sp.Max(0, Y), "out")
    ['out.fill(0)', 'return numpy.maximum(out, y, out=out)']
    """
    p = numpy_expression
    if expr.is_Add or expr.is_Mul:
        scalars = [arg for arg in expr.args if arg.free_symbols <= {SCALE}]
        arrays = [arg for arg in expr.args if not arg.free_symbols <= {SCALE}]
        first, rest = (expr.func(*arrays), expr.func(*scalars)) if scalars and arrays else expr.as_two_terms()
        return [f"return numpy.{'add' if expr.is_Add else 'multiply'}({p(first)}, {p(rest)}, out={out})"]
    if expr.is_Pow and expr.exp == 2:
        return [f"return numpy.square({p(expr.base)}, out={out})"]
    if expr.func in _UFUNCS and len(expr.args) == 1:
        p(expr)  # refuses what NumPy cannot do
        return [f"return numpy.{_UFUNCS[expr.func]}({p(expr.args[0])}, out={out})"]
    if isinstance(expr, (sp.Max, sp.Min)) and len(expr.args) == 2:
        ufunc = "maximum" if isinstance(expr, sp.Max) else "minimum"
        number, other = sorted(expr.args, key=lambda arg: not arg.is_number)
        if number.is_number and not other.is_number:
            # NumPy compares two arrays several times faster than an array and a number: the number
            # is written into out first (out is never one of the arguments)
            return [f"{out}.fill({p(number)})", f"return numpy.{ufunc}({out}, {p(other)}, out={out})"]
        return [f"return numpy.{ufunc}({p(expr.args[0])}, {p(expr.args[1])}, out={out})"]
    if isinstance(expr, sp.Heaviside) and expr.args[1] in (0, 1):
        # H(w) with H(0) = 0 is w > 0, with H(0) = 1 it is w >= 0: a comparison written into the float array
        # out (True -> 1), several times faster than numpy.heaviside and equal to it on every non-NaN number
        ufunc = "greater" if expr.args[1] == 0 else "greater_equal"
        return [f"return numpy.{ufunc}({p(expr.args[0])}, 0, out={out})"]
    if isinstance(expr, sp.Heaviside):
        return [f"return numpy.heaviside({p(expr.args[0])}, {p(expr.args[1])}, out={out})"]
    return [f"{out}[...] = {p(expr)}", f"return {out}"]


def elementwise_source(name, expr, args, doc):
    """A Python function ``name(*args, out)`` computing ``expr`` element-wise into ``out``."""
    _check_doc(doc)
    body = "\n".join("    " + line for line in _into(stable_form(expr), "out"))
    return f'def {name}({", ".join(args)}, out):\n    """{doc}."""\n{body}'


# -- the model the template renders ------------------------------------------------------------
@dataclass(frozen=True)
class LayerCode:
    """What the template needs to know about layer l."""

    l: int
    n: int
    m: int
    label: str
    act: str  # function computing a(y) into out
    prime: str | None  # function computing a'(y) into out (element-wise activations)
    softmax_scale: str | None  # c in the softmax Jacobian c a_i (delta_ij - a_j)

    @property
    def elementwise(self):
        return self.softmax_scale is None

    @property
    def deferred(self):
        """Whether batch_size=1 training keeps this layer's rank-1 updates pending (see DEFER_WEIGHTS)."""
        return self.n * self.m >= DEFER_WEIGHTS


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


def _softmax_scale(activation):
    """c in da_i/dy_j = c a_i (delta_ij - a_j), read off the engine's derived Jacobian entry."""
    entry, (a, i, j) = activation.jacobian_entry
    return sp.cancel(entry.subs(sp.KroneckerDelta(i, j), 1).subs(a[j], 0) / a[i])


def _activation_functions(activation, functions):
    """Emit a(y) and a'(y) for one activation (once per distinct label); returns their names."""
    base = _identifier(activation.label())
    act, prime = f"act_{base}", f"act_{base}_prime"
    if act in functions:
        return act, prime
    if activation.elementwise:
        functions[act] = elementwise_source(act, activation.formula, ("y",),
                                            f"{activation.label()}: a(y) = {sp.sstr(activation.formula)}")
        in_a = activation.derivative_in_a
        if in_a is not None and proved_equal(activation.derivative, in_a.xreplace({A: activation.formula})):
            derivative, shown = in_a, f"a'(y) = {sp.sstr(in_a)}, written through a"
        else:
            derivative, shown = activation.derivative, f"a'(y) = {sp.sstr(activation.derivative)}"
        functions[prime] = elementwise_source(prime, derivative, ("y", "a"), f"{activation.label()}: {shown}")
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


def _output_functions(activation, cost, n_out, functions):
    """Emit the cost term e(a, z) and the output delta; returns (term, delta, clip)."""
    cost_name = f"cost_{_identifier(cost.label())}"
    functions[cost_name] = elementwise_source(cost_name, cost.term, ("a", "z"),
                                              f"{cost.label()}: e(a, z) = {sp.sstr(cost.term)}; "
                                              f"E = mean of e over outputs and examples (eq. 86)")
    found = output_delta(activation, cost)
    delta = "output_delta"
    if activation.elementwise:
        expr = found.simplified.xreplace({N: 1 / SCALE})
        doc = (f"delta^L = e'(a, z) a'(y) / n_L = {sp.sstr(found.simplified)} (simplified by SymPy), "
               f"times scale = (1/beta) or -lr/beta (eq. 54, 87)")
        functions[delta] = elementwise_source(delta, expr, ("y", "a", "z", "scale"), doc)
        singular = _singular_points(found.simplified)
    else:
        c = _softmax_scale(activation)
        h = tidy(cost.derivative * A)  # a_i e'(a_i, z_i)
        doc = (f"softmax output: delta_j = c (h_j - a_j sum_i h_i) / n_L with h = a e'(a, z) = {sp.sstr(h)}, "
               f"c = {sp.sstr(c)}; for targets summing to 1 SymPy finds {sp.sstr(found.simplified)} (eq. 54)")
        functions[delta] = (
            f"def {delta}(y, a, z, scale, out):\n"
            f'    """{_check_doc(doc)}."""\n'
            f"    h = {numpy_expression(stable_form(h))}\n"
            f"    numpy.subtract(h, a * h.sum(axis=0, keepdims=True), out=out)\n"
            f"    return numpy.multiply(out, {numpy_expression(c * SCALE)}, out=out)"
        )
        singular = _singular_points(h)
    return cost_name, delta, singular | _singular_points(cost.term)


def _singular_points(expr):
    """The outputs a where ``expr`` divides by zero or takes log(0) (polynomial factors only).

    >>> from symbackprop.costs import get_cost
    >>> sorted(_singular_points(get_cost("bce").term))
    [0, 1]
    """
    suspects = [sp.denom(sp.together(expr))] + [g.args[0] for g in expr.atoms(sp.log)]
    points = set()
    for f in suspects:
        for factor in sp.Mul.make_args(sp.factor(f)):
            if factor.has(A) and factor.is_polynomial(A):
                points |= {r for r in sp.solve(factor, A) if r.is_number}
    return points


def module_context(spec, dtype="float64"):
    """Everything the templates use: layers, generated functions, names (all validated)."""
    if dtype not in DTYPES:
        raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    functions, layers = {}, []
    for l, activation in enumerate(spec.activations, start=1):
        act, prime = _activation_functions(activation, functions)
        scale = None if activation.elementwise else numpy_expression(_softmax_scale(activation))
        layers.append(LayerCode(l, spec.sizes[l], spec.sizes[l - 1], _check_doc(activation.label()), act, prime, scale))
    if any(a.name == "step" for a in spec.activations):
        raise SpecError("a step layer has a'(y) = 0, so gradients cannot train it; emit it with --perceptron-rule")
    cost, delta, singular = _output_functions(spec.activations[-1], spec.cost, spec.sizes[-1], functions)
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
        "delta": delta,
        "clip_low": 0 in singular,  # keep a >= the smallest positive float
        "clip_high": 1 in singular,  # keep a <= the largest float below 1
        "batch": spec.batch or 32,
        "deferred_weights": DEFER_WEIGHTS,
    }


def render(name, context, path=None):
    """Render the package template ``name``, or the user's template file ``path``, with ``context``."""
    import jinja2

    from .resources import jinja_env

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


def emit(spec, dtype="float64", template=None):
    """The source of a NumPy module training ``spec`` (see the module docstring).

    >>> from symbackprop.spec import NetworkSpec
    >>> source = emit(NetworkSpec.from_options("2,3,1", "tanh,sigmoid", "bce"))
    >>> namespace = {}
    >>> exec(compile(source, "model.py", "exec"), namespace)
    >>> params = namespace["init_params"](seed=1)
    >>> sorted(params), params["W1"].shape, params["b2"].shape
    (['W1', 'W2', 'b1', 'b2'], (3, 2), (1, 1))
    """
    return render("train_module.py.j2", module_context(spec, dtype), template)


def emit_perceptron(n_inputs, n_outputs=1, dtype="float64", template=None):
    """The Rosenblatt perceptron rule for one step layer: W += lr (z - a) x^T, b += lr (z - a)."""
    from .activations import get_activation

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


# -- command line -------------------------------------------------------------------------------
def _cmd_emit(args):
    if args.perceptron_rule:
        from .cli import spec_from_args

        spec = spec_from_args(args)
        if spec.depth != 1 or spec.activations[0].name != "step":
            raise SpecError("--perceptron-rule emits one step layer: give e.g. --layers 2,1 --activations step")
        source = emit_perceptron(spec.sizes[0], spec.sizes[1], args.dtype, args.template)
    else:
        from .cli import spec_from_args

        source = emit(spec_from_args(args), args.dtype, args.template)
    if args.output in (None, "-"):
        print(source, end="")
    else:
        write_atomic(args.output, source, args.force)
        print(f"wrote {args.output}")
    return 0


def register_cli(subparsers, add_spec_arguments):
    """The ``emit`` command: ``symbackprop emit SPEC.toml -o model.py``."""
    p = subparsers.add_parser("emit", help="write a standalone NumPy module that trains the network")
    add_spec_arguments(p)
    p.add_argument("-o", "--output", help="file to write (default: print to standard output)")
    p.add_argument("--dtype", choices=DTYPES, default="float64", help="floating type of the module (default float64)")
    p.add_argument("--template", help="your own Jinja2 template (same variables as templates/train_module.py.j2)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--perceptron-rule", action="store_true",
                   help="emit Rosenblatt's perceptron rule for a single step layer instead of backprop")
    p.set_defaults(func=_cmd_emit)
