"""The vocabulary of claims and the calculus part of their meaning: derivatives and functions.

:class:`Calculus` is the half of :class:`symbackprop.claims.meaning.Meaning` that gives a value to
\\frac{\\partial ...}{\\partial ...} (the derivation's Jacobians and gradients, read from the
:class:`~symbackprop.claims.points.Point`) and to function calls (layer l's activation a(y^{l}) and its
derivative a'(y^{l}), the registry's sigma, tanh, ReLU, softmax and their derivatives, exp, log, max, diag).
Nothing here differentiates: every derivative is one the engine derived.

>>> from symbackprop.claims.grammar import parse_claim
>>> from symbackprop.claims.meaning import Meaning
>>> eq = parse_claim(r"\\mathrm{ReLU}'(y) = \\max(0, 1)")[0]
>>> m = Meaning(None, variables={})
>>> m.value(eq.left), m.value(eq.right)
(Piecewise((1, y > 0), (0, True)), 1)
"""
import sympy as sp

from symbackprop.claims import notation
from symbackprop.claims.points import DIGITS, LayerOutside, NotMeaningful
from symbackprop.claims.tree import Deriv, Name, Num, Script, Unread
from symbackprop.engine.activations import get_activation
from symbackprop.engine.symbols import Y
from symbackprop.errors import SymbackpropError

#: names with a layer: W^{l}, b^{l}, y^{l}, a^{l}, s^{l-1}, delta^{l} and the batch forms
LAYERED = {"W", "w", "b", "y", "a", "s", "delta", "Y", "A", "S", "Delta", "B", "n"}
BATCH_NAMES = {"X", "Y", "A", "S", "Delta", "B", "Z", "beta"}
NETWORK_NAMES = LAYERED | BATCH_NAMES | {"E", "x", "z", "P", "L", "eta"}
FUNCTIONS = {"sigma": "sigmoid", "tanh": "tanh", "relu": "relu"}
INDEX_LIMIT = 40  # index bindings checked per case


class IllFormed(SymbackpropError):
    """The shapes do not fit; the message names both, in the book's n_l x n_{l-1} terms."""


class Ones:
    """The vector of ones, \\mathbf{1}: its length is read off what it multiplies."""

    def __init__(self, transposed=False):
        self.transposed = transposed

    @property
    def T(self):
        return Ones(not self.transposed)

    def sized(self, n):
        return sp.ones(1, n) if self.transposed else sp.ones(n, 1)


def is_matrix(v):
    return isinstance(v, sp.MatrixBase)


class Calculus:
    """Derivatives and functions, for :class:`symbackprop.claims.meaning.Meaning` (which provides ``point``,
    ``batch``, ``variables``, ``value``, ``integer``, ``index``, ``entry``, ``power`` and ``shape_text``)."""

    # -- derivatives: the derivation's
    def _Deriv(self, node):
        if self.variables is not None:
            raise Unread("a derivative in a claim without network names: write a'(y) or \\sigma'(y)")
        p = self.point
        self.example = None
        num, den = self.quantity_of(node.num), self.quantity_of(node.den)
        batch = self.batch and self.example is None
        known = {
            ("E", "W"): lambda l: p.gradient("W", l, batch, self.example),
            ("E", "w"): lambda l: p.gradient("W", l, batch, self.example),
            ("E", "b"): lambda l: p.gradient("b", l, batch, self.example),
            ("E", "y"): p.dE_dy, ("E", "a"): p.dE_da, ("E", "s"): p.dE_da,
            ("a", "y"): p.da_dy, ("y", "W"): p.dy_dW, ("y", "b"): p.dy_db,
        }
        key = (num[0], den[0])
        if key == ("E", "P"):
            key, den = ("E", "a"), ("a", sp.Integer(p.L), den[2])
        if key in (("y", "a"), ("y", "s")):
            if num[1] != den[1] + 1:
                raise NotMeaningful("dy^{k}/da^{l} is W^{l+1} only for k = l + 1 (eq. 41); otherwise a chain")
            value = p.dy_ds(int(num[1]))
        elif key in known:
            if key not in (("a", "y"), ("y", "W"), ("y", "b")) or num[1] == den[1]:
                value = known[key](int(den[1]))
            else:
                raise NotMeaningful(f"d{num[0]}^{num[1]}/d{den[0]}^{den[1]} across layers is a chain of products")
            if key in (("a", "y"), ("y", "W"), ("y", "b")) and self.batch:
                raise Unread("per-layer Jacobians are for one example; a batch claim uses dE/dW^l")
        else:
            raise Unread(f"the engine derives no d{num[0]}/d{den[0]}; it knows dE/dW^l, dE/db^l, dE/dy^l, dE/da^l, "
                         f"da^l/dy^l, dy^l/dW^l, dy^l/db^l, dy^(l+1)/da^l, and their entries")
        if key[1] == "s" and num[0] == "E" and den[1] == 0:
            raise LayerOutside("dE/ds^0")
        indices = num[2] + den[2]
        if indices:
            if not is_matrix(value):
                raise Unread("the entries of dy/dW are not read")
            if key[0] == "E" and key[1] in ("y", "a", "s"):
                value = value.T  # dE/dy_i: entry i of the row
            value = self.entry(value, indices, node)
        return value

    def quantity_of(self, node):
        """(name, layer, indices) of a quantity under \\partial: E, W^{l}, w^{l}_{ij}, y^{l}_{i}, ..."""
        if isinstance(node, Script) and node.base == Name("E") and node.sub and len(node.sub) == 1 and \
                node.sup is None:  # E_j, the error of example j of the batch
            self.example = self.index(node.sub[0], self.point.beta) - 1
            return "E", None, ()
        if isinstance(node, Name) and node.name in LAYERED - {"n"} and self.point.L == 1:
            node = Script(node, sup=Num("1"))
        elif isinstance(node, Script) and isinstance(node.base, Name) and node.base.name in LAYERED - {"n"} \
                and node.sup is None and self.point.L == 1:
            node = Script(node.base, sup=Num("1"), sub=node.sub)
        if isinstance(node, Name):
            if node.name in ("E", "P", "C"):
                return {"C": "E"}.get(node.name, node.name), None, ()
            if node.name == "x":
                return "s", sp.Integer(0), ()
        if isinstance(node, Script) and isinstance(node.base, Name) and node.base.name in LAYERED | {"P"}:
            if node.sup is None or node.sup == Name("T"):
                raise Unread(f"{node.base.name} under \\partial needs its layer")
            l = self.integer(node.sup, f"the layer of {node.base.name}")
            if l < 0 or l > self.point.L:
                raise LayerOutside(f"{node.base.name}^{l}")
            name = {"w": "W", "delta": "delta"}.get(node.base.name, node.base.name)
            if node.base.name == "w" and not node.sub:
                raise Unread("w^{l} needs its indices w^{l}_{ij}")
            return name, sp.Integer(l), tuple(node.sub or ())
        raise Unread(f"cannot differentiate with {node!r} under \\partial; write E, W^{{l}}, b^{{l}}, y^{{l}}, "
                     f"a^{{l}} or an entry like w^{{l}}_{{ij}}")

    def _Grad(self, node):
        """\\nabla_{x} E: the engine's derivative, with the shape of x (symbackprop.claims.notation)."""
        return notation.gradient(self, node, self._Deriv(Deriv(node.num, node.den)))

    def _Matrix(self, node):
        entries = [[self.value(e) for e in row] for row in node.rows]
        if any(is_matrix(v) or isinstance(v, Ones) for row in entries for v in row):
            raise IllFormed("the entries of a literal matrix must be numbers, not vectors or matrices")
        return sp.Matrix(entries)

    # -- functions
    def _Call(self, node):
        if node.func == "a":
            value = self.layer_activation(node)
        else:
            args = [self.value(a) for a in node.args]
            value = self.function(node.func, args, node.primes)
        if node.power is not None:
            value = self.power(value, self.value(node.power)) if not is_matrix(value) else \
                value.applyfunc(lambda v: v ** self.value(node.power))
        return value

    def function(self, func, args, primes):
        if func in ("max", "min"):
            if primes:
                raise Unread(f"\\{func}' is not read; write the derivative of the activation it defines")
            if len(args) != 2:
                raise Unread(f"\\{func} takes two arguments here")
            f = sp.Max if func == "max" else sp.Min
            return self.elementwise(lambda u, v: f(u, v), *args)
        if len(args) != 1:
            raise Unread(f"{func} takes one argument")
        (arg,) = args
        if func in ("abs", "norm"):
            if primes:
                raise Unread("the derivative of |x| or a norm is not read; write sign(x) for |x|'")
            if func == "abs" or not is_matrix(arg):
                return self.elementwise(sp.Abs, arg)
            return sp.sqrt(sum(v ** 2 for v in arg))
        if func == "diag":
            if not (is_matrix(arg) and 1 in arg.shape):
                raise IllFormed(f"diag takes a vector; got {self.shape_text(arg)}")
            return sp.diag(*list(arg))
        if func == "softmax":
            act = get_activation("softmax")
            if primes:
                raise Unread("softmax' is a full Jacobian: write \\frac{\\partial a^{L}}{\\partial y^{L}}")
            return self.apply_vector(act, arg)
        if func in ("exp", "log", "sign") and not primes:
            f = {"exp": sp.exp, "log": sp.log, "sign": sp.sign}[func]
            return self.elementwise(f, arg)
        if func in FUNCTIONS:
            act = get_activation(FUNCTIONS[func])
            formula = act.derivative if primes == 1 else act.formula if not primes else None
            if formula is None:
                raise Unread("only first derivatives of activations are read")
            return self.elementwise(lambda u: formula.xreplace({Y: u}), arg)
        raise Unread(f"{func}{chr(39) * primes} is not a function symbackprop reads")

    def layer_activation(self, node):
        """a(y^{l}) and a'(y^{l}): the network's activation of layer l (read off the argument)."""
        if self.variables is not None:
            raise Unread("a(y) names the network's activation: give the layer, a(y^{l}), or write \\sigma(y)")
        (arg,) = node.args if len(node.args) == 1 else (None,)
        if isinstance(arg, (Name, Script)) and self.point.L == 1 and (arg == Name("y") or isinstance(arg, Script)
                                                                      and arg.base == Name("y") and arg.sup is None):
            arg = Script(Name("y"), sup=Num("1"), sub=arg.sub if isinstance(arg, Script) else None)
        if not (isinstance(arg, Script) and isinstance(arg.base, Name) and arg.base.name in ("y", "Y")
                and arg.sup is not None):
            raise Unread("a(...) and a'(...) take the linearity of a layer: a(y^{l}), a'(y^{l})")
        l = self.integer(arg.sup, "the layer of y")
        act = self.point.activation(l)
        value = self.value(arg)
        if node.primes == 0:
            return self.apply_vector(act, value) if not act.elementwise else \
                self.elementwise(lambda u: act.formula.xreplace({Y: u}), value)
        if node.primes > 1:
            raise Unread("only a'(y) is read, not higher derivatives")
        if not act.elementwise:
            raise NotMeaningful(f"a'(y^{l}) does not exist for the softmax layer {l}: its Jacobian is full "
                                f"(write \\frac{{\\partial a^{{{l}}}}}{{\\partial y^{{{l}}}}})")
        return self.elementwise(lambda u: act.derivative.xreplace({Y: u}), value)

    def apply_vector(self, act, value):
        if not is_matrix(value):
            raise IllFormed("softmax takes a vector")
        cols = [act(list(value[:, c])) for c in range(value.cols)]
        return sp.Matrix(value.rows, value.cols, lambda i, c: cols[c][i])

    def elementwise(self, f, *args):
        shapes = {a.shape for a in args if is_matrix(a)}
        if len(shapes) > 1:
            raise IllFormed(f"an element-wise function of shapes {sorted(shapes)}")
        if not shapes:
            out = f(*args)
            return out.evalf(DIGITS) if self.variables is None and out.is_number else out
        rows, cols = shapes.pop()
        pick = [(lambda i, j, a=a: a[i, j]) if is_matrix(a) else (lambda i, j, a=a: a) for a in args]
        return sp.Matrix(rows, cols, lambda i, j: f(*[p(i, j) for p in pick]))
