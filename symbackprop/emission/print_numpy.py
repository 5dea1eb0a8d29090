"""Matrix forms printed as in-place NumPy statements: the backward step of the emitted module.

:mod:`symbackprop.engine.forms` writes each layer's backward step as a SymPy matrix expression over named
layer matrices -- Delta^l = a'(Y^l) (.) (W^{l+1})^T Delta^{l+1}, dE/dW^l = (1/beta) Delta^l (A^{l-1})^T, ...
-- and the verification evaluates exactly those objects.  This printer turns such a form into NumPy
calls that write into arrays allocated once (``out=``), the way SymPy's printers turn an expression
into text: one ``_print_<Node>`` method per node type, each writing its node into a target buffer.

* a leaf (``MatrixSymbol``) is the template's array of that name (``names``: "W2" -> "self.W2");
* ``X * Y`` is ``numpy.matmul``; ``X * 1`` (a column of ones) is ``numpy.dot`` with the stored ones;
  ``1 1^T X`` (an n x n ``OneMatrix`` on the left) is the column sums ``X.sum(axis=0, keepdims=True)``,
  a row NumPy broadcasts over the n rows;
* ``X (.) Y``, ``X + Y``, ``X - Y`` and ``c X`` are ``numpy.multiply``, ``add``, ``subtract``, in place;
  a scalar factor common to every term of a sum is applied once, to the sum;
* ``Elementwise(f, {y: Y1})`` is a call of the element-wise function printed from f (``function``
  names it, and :func:`symbackprop.emission.codegen.elementwise_source` prints it), with a scalar factor
  of the node folded into f.

A node used twice (the softmax forms use A (.) G twice) is computed once.  Intermediate values go into
the target itself when nothing else still needs them, otherwise into the scratch buffers offered
(``scratch``); :attr:`NumPyFormPrinter.used` lists the ones taken, so the template allocates just those.

>>> import sympy as sp
>>> from symbackprop.engine.activations import Y
>>> from symbackprop.engine.forms import Elementwise
>>> W2, D2, Y1 = sp.MatrixSymbol("W2", 3, 4), sp.MatrixSymbol("Delta2", 3, 5), sp.MatrixSymbol("Y1", 4, 5)
>>> form = sp.HadamardProduct(Elementwise(sp.Heaviside(Y, 0), {Y: Y1}), W2.T * D2)
>>> p = NumPyFormPrinter({"W2": "W2", "Delta2": "D2", "Y1": "Y1"}, scratch=["P1"], function=lambda f, args: "relu_prime")
>>> for line in p.statements(form, "D1"):
...     print(line)
numpy.matmul(W2.T, D2, out=D1)
relu_prime(Y1, out=P1)
numpy.multiply(D1, P1, out=D1)

The one-example engine (batch size 1) prints the same forms over 1-D vectors, with W^{l+1} held in
its block [W | b] and, for large layers, with updates still pending: :class:`OneExamplePrinter`
changes only how (W^{l+1})^T Delta^{l+1} is computed, and prints the two gradient forms together as the
update of that block.
"""
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.printer import Printer
from sympy.printing.str import StrPrinter

from symbackprop.engine.forms import Elementwise
from symbackprop.errors import SymbackpropError


class _FormStr(StrPrinter):
    """The forms as a comment reads them: (.) for the Hadamard product, a formula applied entry by entry as
    ``[formula at y = Y1]``, the matrices of ones written out."""

    printmethod = "_form_text"  # this printer's methods first; a node it has none for prints itself (below)

    def _print(self, expr, **kwargs):
        if not hasattr(self, f"_print_{type(expr).__name__}") and hasattr(expr, "_sympystr"):
            return expr._sympystr(self)  # a node of ours this printer does not know (a layer kind's step)
        return super()._print(expr, **kwargs)

    def _print_OneMatrix(self, expr):
        return f"ones({self._print(expr.shape[0])}, {self._print(expr.shape[1])})"

    def _print_HadamardProduct(self, expr):
        return " (.) ".join(self.parenthesize(arg, PRECEDENCE["Mul"]) for arg in expr.args)

    def _print_Piecewise(self, expr):  # Python's own conditional expression: 1 if y > 0 else 0
        text = ""
        for value, condition in expr.args:
            if condition == sp.true:
                return f"({text}{self._print(value)})"
            text += f"{self._print(value)} if {self._print(condition)} else "
        return f"({text}undefined)"

    def _print_Elementwise(self, expr):
        at = ", ".join(f"{self._print(s)} = {self._print(m)}" for s, m in expr.arguments.items())
        return f"[{self._print(expr.formula)} at {at}]"


def form_text(form):
    """A form as text for a comment, with the matrices of ones written out.

    >>> form_text(sp.OneMatrix(3, 3) * sp.MatrixSymbol("H", 3, 2))
    'ones(3, 3)*H'
    >>> from symbackprop.engine.forms import Elementwise
    >>> from symbackprop.engine.symbols import Y
    >>> W2, D2, Y1 = sp.MatrixSymbol("W2", 3, 4), sp.MatrixSymbol("Delta2", 3, 5), sp.MatrixSymbol("Y1", 4, 5)
    >>> form_text(sp.HadamardProduct(Elementwise(1 - sp.tanh(Y) ** 2, {Y: Y1}), W2.T * D2))
    '[1 - tanh(y)**2 at y = Y1] (.) (W2.T*Delta2)'
    """
    return _FormStr().doprint(form)


def _cannot(form, why):
    return SymbackpropError(f"cannot print the matrix form {form_text(form)} as NumPy code: {why}")


def split_coefficient(expr):
    """(c, X) with expr = c X, c a scalar (1 when there is none).

    >>> X = sp.MatrixSymbol("X", 2, 2)
    >>> split_coefficient(-3 * X.T * X)
    (-3, X.T*X)
    """
    if not isinstance(expr, sp.MatMul):
        return sp.Integer(1), expr
    scalars = [a for a in expr.args if not getattr(a, "is_Matrix", False)]
    matrices = [a for a in expr.args if getattr(a, "is_Matrix", False)]
    rest = matrices[0] if len(matrices) == 1 else sp.MatMul(*matrices)
    return sp.Mul(*scalars), rest


def _is_column_sums(expr):
    """1 1^T X: an n x n matrix of ones times X, whose every row is the column sums of X."""
    if not isinstance(expr, sp.MatMul):
        return False
    c, rest = split_coefficient(expr)
    return c == 1 and isinstance(rest, sp.MatMul) and len(rest.args) == 2 and isinstance(rest.args[0], sp.OneMatrix) \
        and rest.args[0].shape[0] == rest.args[0].shape[1]


def _children(expr):
    if isinstance(expr, Elementwise):
        return [m for m in expr.arguments.values()]
    return [a for a in expr.args if isinstance(a, MatrixExpr)]


def _is_leaf(expr):
    return isinstance(expr, (sp.MatrixSymbol, sp.OneMatrix)) or (
        isinstance(expr, sp.Transpose) and isinstance(expr.arg, sp.MatrixSymbol))


def use_counts(form):
    """How many parent nodes use each composite node (a node repeated in the tree is one node used twice)."""
    counts, seen = {}, set()

    def visit(node):
        for child in _children(node):
            if _is_leaf(child):
                continue
            counts[child] = counts.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                visit(child)

    visit(form)
    return counts


class NumPyFormPrinter(Printer):
    """Print a matrix form as NumPy statements that write it into a preallocated array.

    ``names`` maps each leaf's name ("W2", "Delta2", "A0", "Z") and "ones" (the column of ones of
    Delta 1) to the template's text for that array; ``scalars`` maps the scalar symbols the code knows
    (e.g. ``scale``) to their text; ``function(formula, parameters)`` returns the name of the element-wise
    function computing ``formula`` of ``parameters`` (scalar symbols, in call order) into ``out``.
    """

    printmethod = "_numpy_form"

    def __init__(self, names, scratch=(), function=None, scalars=None, scalar_printer=None):
        super().__init__()
        self.names, self.scratch, self.function = dict(names), list(scratch), function
        self.scalars = dict(scalars or {})
        self.scalar_printer = scalar_printer or (lambda e: sp.pycode(e, fully_qualified_modules=True))
        self.used = []  # scratch buffers taken, over every statements() call

    # -- driving ----------------------------------------------------------------------------------
    def statements(self, form, out):
        """The lines that compute ``form`` into the array ``out``."""
        self._form, self._lines, self._uses = form, [], use_counts(form)
        self._held, self._dying, self._free = {}, [], list(self.scratch)
        if out in {self._text_of(leaf) for leaf in form.atoms(sp.MatrixSymbol)}:
            raise _cannot(form, f"it reads {out}, the array it writes")
        self._print(form, out=out)
        return self._lines

    def _emit(self, line, out):
        self._lines.append(line)
        for buffer in self._dying:  # values read for the last time by this line
            if buffer != out and buffer in self.scratch and buffer not in self._free:
                self._free.append(buffer)
        self._dying.clear()

    def _allocate(self):
        if not self._free:
            raise _cannot(self._form, f"it needs more than the {len(self.scratch)} scratch array(s) offered")
        buffer = self._free.pop(0)
        if buffer not in self.used:
            self.used.append(buffer)
        return buffer

    def _compute(self, expr, buffer):
        """Print expr into buffer and remember it there for its later uses."""
        self._print(expr, out=buffer)
        self._held[expr] = [buffer, self._uses.get(expr, 1)]

    # -- operands: what a NumPy call reads ------------------------------------------------------
    def _text_of(self, leaf):
        key = "ones" if isinstance(leaf, sp.OneMatrix) else leaf.name
        if key not in self.names:
            raise _cannot(self._form, f"the code has no array for {leaf}")
        return self.names[key]

    def _operand(self, expr):
        """Text for ``expr`` as an argument of a NumPy call: an array, a column sum, or a scalar."""
        if not getattr(expr, "is_Matrix", False):
            return self._scalar(expr)
        if isinstance(expr, (sp.MatrixSymbol, sp.OneMatrix)):
            return self._leaf(expr)
        if isinstance(expr, sp.Transpose) and isinstance(expr.arg, sp.MatrixSymbol):
            return f"{self._leaf(expr.arg)}.T"
        if _is_column_sums(expr):
            return self._column_sums(self._operand(split_coefficient(expr)[1].args[1]))
        if expr not in self._held:
            self._compute(expr, self._allocate())
        held = self._held[expr]
        held[1] -= 1
        if held[1] == 0:
            self._dying.append(held[0])
        return held[0]

    def _leaf(self, leaf):
        text = self._text_of(leaf)
        if not isinstance(text, str):
            raise _cannot(self._form, f"{leaf} is held as {text} here")
        return text

    def _column_sums(self, text):
        return f"{text}.sum(axis=0, keepdims=True)"

    def _scalar(self, expr):
        unknown = expr.free_symbols - set(self.scalars)
        if unknown:
            raise _cannot(self._form, f"the code knows no scalar {', '.join(map(str, unknown))}")
        return self.scalar_printer(expr.xreplace({s: sp.Symbol(t) for s, t in self.scalars.items()}))

    def _in_place_first(self, expr, operands, out):
        """Compute the first operand that is a product (else the first composite one) into ``out``.

        Allowed only when every use of it is inside ``expr``: ``expr``'s own call then overwrites it.
        Products first: ``numpy.matmul`` cannot write over its own operands, element-wise calls can.
        """
        composite = [o for o in operands if getattr(o, "is_Matrix", False) and not _is_leaf(o)
                     and not _is_column_sums(o) and o not in self._held]
        composite.sort(key=lambda o: not (isinstance(o, sp.MatMul) and split_coefficient(o)[0] == 1))
        for o in composite:
            if use_counts(expr).get(o) == self._uses.get(o, 1):
                self._compute(o, out)
                return o
        return None

    # -- nodes --------------------------------------------------------------------------------
    def _print_MatrixSymbol(self, expr, out):
        self._emit(f"numpy.copyto({out}, {self._operand(expr)})", out)

    _print_Transpose = _print_MatrixSymbol

    def _print_Elementwise(self, expr, out, coefficient=sp.S.One):
        formula = coefficient * expr.formula
        arguments = expr.arguments
        scalars = sorted(formula.free_symbols - set(arguments), key=str)
        if set(scalars) - set(self.scalars):
            raise _cannot(self._form, f"its element-wise formula has free symbols {scalars}")
        name = self.function(formula, tuple(arguments) + tuple(scalars))
        args = [self._operand(m) for m in arguments.values()] + [self.scalars[s] for s in scalars]
        self._emit(f"{name}({', '.join(args)}, out={out})", out)

    def _print_HadamardProduct(self, expr, out):
        first = self._in_place_first(expr, expr.args, out)
        operands = ([first] if first is not None else []) + [o for o in expr.args if o is not first]
        text = self._operand(operands[0])
        for o in operands[1:]:
            self._emit(f"numpy.multiply({text}, {self._operand(o)}, out={out})", out)
            text = out

    def _print_HadamardPower(self, expr, out):
        if expr.exp != 2:
            raise _cannot(self._form, f"it has the element-wise power {expr.exp}")
        self._emit(f"numpy.square({self._operand(expr.base)}, out={out})", out)

    def _print_MatAdd(self, expr, out, coefficient=sp.S.One):
        terms = [split_coefficient(t) for t in expr.args]
        common = terms[0][0] if not terms[0][0].could_extract_minus_sign() else -terms[0][0]
        if all(c / common in (1, -1) for c, _ in terms):  # c (X1 +- X2 +- ...): one product by c
            terms = [(c / common, x) for c, x in terms]
        else:  # terms with their own factors are computed on their own
            common, terms = sp.S.One, [(c, x) if c in (1, -1) else (1, c * x) for c, x in terms]
        common *= coefficient
        first = self._in_place_first(expr, [x for _, x in terms], out)
        terms.sort(key=lambda t: (bool(t[0] < 0), t[1] is not first))  # positive terms first, the one in out first
        sign, x = terms[0]
        text = self._operand(x)
        if sign < 0:
            self._emit(f"numpy.negative({text}, out={out})", out)
            text = out
        for sign, x in terms[1:]:
            self._emit(f"numpy.{'add' if sign > 0 else 'subtract'}({text}, {self._operand(x)}, out={out})", out)
            text = out
        if text != out:
            self._emit(f"numpy.copyto({out}, {text})", out)
        if common != 1:
            self._emit(f"numpy.multiply({out}, {self._operand(common)}, out={out})", out)

    def _print_MatMul(self, expr, out):
        c, rest = split_coefficient(expr)
        if c != 1 and isinstance(rest, Elementwise):  # c f(Y): one element-wise function of c f
            return self._print_Elementwise(rest, out, coefficient=c)
        if c != 1 and isinstance(rest, sp.MatAdd):  # c (X + Y): c joins the sum's own common factor
            return self._print_MatAdd(rest, out, coefficient=c)
        if c != 1:
            if _is_leaf(rest) or _is_column_sums(rest):
                return self._emit(f"numpy.multiply({self._operand(rest)}, {self._operand(c)}, out={out})", out)
            self._compute(rest, out)
            self._operand(rest)
            return self._emit(f"numpy.multiply({out}, {self._operand(c)}, out={out})", out)
        if _is_column_sums(expr):
            return self._emit(f"numpy.copyto({out}, {self._operand(expr)})", out)
        if len(expr.args) != 2:
            raise _cannot(self._form, "it multiplies more than two matrices in one product")
        return self._product(*expr.args, out)

    def _product(self, left, right, out):
        """left * right into out: ``numpy.matmul``, or ``numpy.dot`` with the stored column of ones."""
        if isinstance(right, sp.OneMatrix) and right.shape[1] == 1:  # Delta 1: the row sums, one gemv
            return self._emit(f"numpy.dot({self._operand(left)}, {self._operand(right)}, out={out})", out)
        return self._emit(f"numpy.matmul({self._operand(left)}, {self._operand(right)}, out={out})", out)

    def emptyPrinter(self, expr):
        raise _cannot(self._form, f"it has a {type(expr).__name__} node")


# -- one example at a time: vectors, [W | b] blocks, pending updates ---------------------------------
@dataclass(frozen=True)
class WeightBlock:
    """W^l as the one-example engine of ``train_module.py.j2`` holds it: the first ``m`` columns of
    ``Wb{l}`` = [W^l | b^l (| U^T)], its input ``S{l}`` = [s^(l-1); 1 (; V [s^(l-1); 1])]; with ``pending``,
    the last K updates -lr delta [s; 1]^T are kept as the columns of U^T and the rows of ``V{l}``.
    These are the names of the template's local variables.
    """

    l: int
    m: int  # columns of W^l: n_(l-1)
    pending: bool
    source: str  # the name of the leaf S^(l-1) that [s; 1] folds in ("A0", "A1", ...)

    def __getattr__(self, kind):  # Wb, S, s, G, U, V, g, v, Vs -> "Wb3", ...
        if kind in ("Wb", "S", "s", "G", "U", "V", "g", "v", "Vs"):
            return f"{kind}{self.l}"
        raise AttributeError(kind)

    def __str__(self):
        return f"[W{self.l} | b{self.l} | pending updates]"


class OneExamplePrinter(NumPyFormPrinter):
    """The same forms for batch size 1: Delta^l, A^l are 1-D vectors, W^l lives in a :class:`WeightBlock`.

    (W^{l+1})^T Delta^{l+1} is ``delta^T W``, one vector-matrix product over the block; with pending
    updates it is ``g = delta^T [W | b | U^T]`` plus the pending updates' share ``g_U V``.
    """

    def _leaf(self, leaf):
        text = self._text_of(leaf)
        if isinstance(text, WeightBlock):
            if text.pending:
                raise _cannot(self._form, f"W{text.l} has updates pending; only (W{text.l})^T Delta is printed")
            return f"{text.Wb}[:, :{text.m}]"
        return text

    def _product(self, left, right, out):
        if isinstance(left, sp.Transpose) and isinstance(left.arg, sp.MatrixSymbol):
            w = self._text_of(left.arg)
            if isinstance(w, WeightBlock):
                d = self._operand(right)
                if not w.pending:
                    return self._emit(f"numpy.matmul({d}, {w.Wb}[:, :{w.m}], out={out})", out)
                self._emit(f"numpy.matmul({d}, {w.Wb}, out={w.g})", out)
                return self._emit(f"numpy.add({w.g}[:{w.m}], numpy.matmul({w.g}[{w.m + 1}:], {w.Vs}, out={w.v}), "
                                  f"out={out})", out)
        return super()._product(left, right, out)

    def update(self, dW, db, block):
        """[W^l | b^l] += D [s; 1]^T: the gradient forms Delta S^T and Delta 1 (1/beta taken out) as one
        outer product with the folded input, or kept pending."""
        self._form = dW
        parts = [split_coefficient(f) for f in (dW, db)]
        ok = all(c == 1 and isinstance(x, sp.MatMul) and len(x.args) == 2 for c, x in parts)
        if ok:
            (delta, s), (delta_b, ones) = parts[0][1].args, parts[1][1].args
            ok = (delta == delta_b and isinstance(delta, sp.MatrixSymbol) and isinstance(ones, sp.OneMatrix)
                  and isinstance(s, sp.Transpose) and isinstance(s.arg, sp.MatrixSymbol) and s.arg.name == block.source)
        if not ok:
            raise _cannot(dW, f"the update of [W{block.l} | b{block.l}] needs dE/dW = Delta {block.source}^T, "
                              f"dE/db = Delta 1, got {sp.sstr(db)} for dE/db")
        d = self._leaf(delta)
        if block.pending:
            return [f"{block.U}[k], {block.V}[k] = {d}, {block.s}  # pending"]
        return [f"numpy.add({block.Wb}, numpy.multiply.outer({d}, {block.S}, out={block.G}), out={block.Wb})"]
