"""What a parsed claim means: its two sides as values of one network at one point.

:class:`Meaning` walks the tree of :mod:`symbackprop.claims.grammar` and asks a
:class:`~symbackprop.claims.points.Point` for every name: W^{l} is the point's W^l, delta^{l} the
derivation's delta^l, \\frac{\\partial E}{\\partial W^{l}} the derivation's dE/dW^l, a'(y^{l}) the
layer's activation derivative from the registry.  The operators are the book's: juxtaposition is the
matrix product, \\odot the Hadamard product, \\otimes the outer product u v^T, ^T the transpose.
A product of the wrong shapes is an :class:`IllFormed` error naming both shapes.

In a *scalar* claim (no network name at all, like \\sigma'(y) = \\sigma(y)(1 - \\sigma(y))) the
letters are real variables and the functions are the registry's activations.

>>> from symbackprop.claims.grammar import parse_claim
>>> from symbackprop.claims.points import Point
>>> from symbackprop.engine.spec import NetworkSpec
>>> point = Point(NetworkSpec.from_options("3,2", "sigmoid", "mse"))
>>> eq = parse_claim(r"\\frac{\\partial E}{\\partial W^{1}} = \\delta^{1} x^{T}")[0]
>>> m = Meaning(point)
>>> (m.value(eq.left) - m.value(eq.right)).norm() < 1e-50
True
"""
import sympy as sp

from symbackprop.claims.calculus import (
    BATCH_NAMES,
    INDEX_LIMIT,
    LAYERED,
    NETWORK_NAMES,
    Calculus,
    IllFormed,
    Ones,
    is_matrix,
)
from symbackprop.claims.points import LayerOutside, NotMeaningful
from symbackprop.claims.tree import Call, Deriv, Grad, Name, Neg, Num, Script, Unread

__all__ = ["INDEX_LIMIT", "NETWORK_NAMES", "IllFormed", "Meaning", "Ones", "check_layers", "is_matrix", "layer_vars",
           "mode"]

def layer_vars(tree):
    """The letters that stand for a layer: l in W^{l}, delta^{l+1}, n_{l}."""
    found = set()
    for node in tree.walk():
        if isinstance(node, Script) and isinstance(node.base, Name) and node.base.name in LAYERED:
            where = node.sub if node.base.name == "n" else (node.sup,)
            for part in where or ():
                if part is not None:
                    found |= {n.name for n in part.walk() if isinstance(n, Name) and len(n.name) == 1
                              and n.name not in ("L", "T")}
    return found


def mode(tree):
    """'scalar' (no network name), 'batch' (a batch name: X, Y^l, Delta^l, beta, ...) or 'example'.

    A layered letter without its layer (the y of \\sigma'(y)) is a real variable, not a network name.
    """
    nodes = list(tree.walk())
    layered = {n.base.name for n in nodes if isinstance(n, Script) and isinstance(n.base, Name)
               and n.base.name in LAYERED and (n.sup not in (None, Name("T")) or n.base.name == "n" and n.sub)}
    bare = {n.name for n in nodes if isinstance(n, Name)} & (NETWORK_NAMES - LAYERED - {"eta"})
    calls = any(isinstance(n, Call) and n.func == "a" for n in nodes)
    if not (layered or bare or calls or any(isinstance(n, (Deriv, Grad)) for n in nodes)):
        return "scalar"
    per_example = any(isinstance(n, Script) and n.base == Name("E") and n.sub for n in nodes)  # E_j
    return "batch" if (layered | bare) & BATCH_NAMES or per_example else "example"


def check_layers(tree, meaning):
    """Raise LayerOutside when a layer the claim names does not exist (l + 1 at l = L), before anything else."""
    for node in tree.walk():
        if isinstance(node, Script) and isinstance(node.base, Name) and node.base.name in LAYERED - {"n"}:
            sup = node.sup.base if isinstance(node.sup, Script) and node.sup.sup == Name("T") else node.sup
            if sup is None or sup == Name("T"):
                continue
            try:
                l = meaning.integer(sup, "a layer")
            except Unread:
                continue
            lowest = 0 if node.base.name in ("s", "S", "a", "A") else 1
            if not lowest <= l <= meaning.point.L:
                raise LayerOutside(f"{node.base.name}^{l}")


class Meaning(Calculus):
    """Evaluates a claim's sides on one point; ``bindings`` hold l, i, j, ...; ``probes`` collect index ranges."""

    def __init__(self, point, bindings=None, batch=False, variables=None, definitions=None):
        self.point, self.batch = point, batch
        self.definitions = definitions or {}  # name -> the tree a definition directive gave it
        self.bindings = dict(bindings or {})
        self.example = None  # E_j under \partial: the example j - 1 whose gradient is asked
        self.probes = {}  # index letter -> the sizes it indexes (unbound letters are probed with 1)
        self.variables = variables  # scalar claims: letter -> real symbol

    # -- the tree
    def value(self, node):
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise Unread(f"cannot give a meaning to {node!r}")
        return method(node)

    def _Num(self, node):
        return sp.Rational(node.value)

    def _Name(self, node):
        name = node.name
        if name in self.bindings:
            return sp.Integer(self.bindings[name])
        if name in self.definitions:
            return self.value(self.definitions[name])
        if self.variables is not None:
            if name == "ones":
                return Ones()
            if name == "e":
                return sp.E
            return self.variables.setdefault(name, sp.Symbol(name, real=True))
        p = self.point
        if name == "ones":
            return Ones()
        if name in ("E", "C"):  # C: Nielsen's letter for the cost, in a claim that names the network
            return p.error(self.batch)
        if name in ("x", "z", "P", "X", "Z"):
            return p.quantity(name, batch=self.batch or name in "XZ")
        if name == "L":
            return sp.Integer(p.L)
        if name == "n":
            return sp.Integer(p.sizes[-1])  # the book's n of a cost: the outputs
        if name == "beta":
            return sp.Integer(p.beta)
        if name == "eta":
            return sp.Rational(1, 10)
        if name == "e":
            return sp.E
        if name in LAYERED and name != "n" and p.L == 1:  # one layer: W is W^1 (book ch. 3)
            return self._Script(Script(node, sup=Num("1")))
        if name in LAYERED:
            raise Unread(f"{name} needs its layer, like {name}^{{l}}")
        raise Unread(f"{name!r} is not a name symbackprop knows (see docs/check.md); a directive "
                     f"'% symbackprop: skip' passes over this equation")

    def integer(self, node, what):
        v = self.value(node)
        if not (isinstance(v, sp.Integer) or (isinstance(v, sp.Rational) and v.q == 1)):
            raise Unread(f"{what} must be a whole number here, got {v}")
        return int(v)

    def _Script(self, node):
        base, sup, sub = node.base, node.sup, node.sub
        transpose = inverse = False
        layer = power = None
        if sup == Name("T"):
            transpose = True
        elif sup == Neg(Num("1")):
            inverse = True
        elif isinstance(sup, Script) and sup.sup == Name("T"):
            layer, transpose = sup.base, True
        elif sup is not None:
            if isinstance(base, Name) and base.name in LAYERED:
                layer = sup
            else:
                power = sup
        if node.primes:
            raise Unread("a prime ' belongs to a function, like a'(y^{l}) or \\sigma'(y)")
        if isinstance(base, Name) and base.name == "n" and self.variables is None:
            l = self.integer(sub[0], "the layer of n") if sub else None
            if l is None:
                raise Unread("n needs its layer, like n_{l}")
            if not 0 <= l <= self.point.L:
                raise LayerOutside(f"n_{l}")
            return sp.Integer(self.point.sizes[l])
        if base == Name("E") and sub and len(sub) == 1 and self.variables is None:  # E_j: example j's error
            return self.point.error(example=self.index(sub[0], self.point.beta) - 1)
        if base == Name("delta") and layer is None and sub and len(sub) == 2:  # Kronecker's delta_{ij}
            i, j = (self.index(s, None) for s in sub)
            return sp.Integer(1 if i == j else 0)
        if isinstance(base, Name) and base.name in LAYERED and self.variables is None:
            if layer is None and self.point.L == 1:  # one layer: W, b, y, a, delta are layer 1's (book ch. 3)
                layer = Num("1")
            if layer is None:
                raise Unread(f"{base.name} needs its layer, like {base.name}^{{l}}")
            l = self.integer(layer, f"the layer of {base.name}")
            value = self.point.quantity(base.name, l, batch=self.batch or base.name in BATCH_NAMES)
        else:
            value = self.value(base)
        if sub:
            value = self.entry(value, sub, base)
        if transpose:
            value = value.T if (is_matrix(value) or isinstance(value, Ones)) else value
        if inverse:
            value = self.inverse(value)
        if power is not None:
            value = self.power(value, self.value(power))
        return value

    def entry(self, value, sub, base):
        """v_i (a vector's entry; a matrix's row i), M_{ij}."""
        if not is_matrix(value):
            raise Unread(f"only vectors and matrices take indices; {base!r} is a number here")
        rows, cols = value.shape
        if len(sub) == 2:
            i, j = self.index(sub[0], rows), self.index(sub[1], cols)
            return value[i - 1, j - 1]
        if len(sub) != 1:
            raise Unread(f"{len(sub)} indices on {base!r}")
        if cols == 1:
            return value[self.index(sub[0], rows) - 1, 0]
        if rows == 1:
            return value[0, self.index(sub[0], cols) - 1]
        return value[self.index(sub[0], rows) - 1, :]  # W_i: row i, neuron i

    def index(self, node, size):
        """An index's value: a bound letter, a probed free letter (range recorded), or a number."""
        if isinstance(node, Name) and len(node.name) == 1 and node.name not in self.bindings and node.name != "L":
            if size is not None:
                self.probes.setdefault(node.name, set()).add(size)
            return 1
        i = self.integer(node, "an index")
        if size is not None and not 1 <= i <= size:
            raise IllFormed(f"index {i} is outside 1..{size}")
        return i

    def inverse(self, value):
        if not is_matrix(value):
            return 1 / value
        if value.rows != value.cols:
            raise IllFormed(f"^{{-1}} of a {self.shape_text(value)} matrix: only square matrices have inverses")
        return value.inv()

    def power(self, value, exponent):
        if is_matrix(value):
            if value.shape == (1, 1):
                return value[0, 0] ** exponent
            if value.rows == value.cols and exponent.is_Integer:
                return value ** exponent
            raise IllFormed(f"a power of a {self.shape_text(value)} matrix")
        return value ** exponent

    def _Neg(self, node):
        return -self.value(node.arg)

    def _Add(self, node):
        return self.combine(node, lambda a, b: a + b, "+")

    def _Sub(self, node):
        return self.combine(node, lambda a, b: a - b, "-")

    def _Hadamard(self, node):
        return self.combine(node, lambda a, b: a.multiply_elementwise(b) if is_matrix(a) else a * b, r"\odot")

    def combine(self, node, op, symbol):
        a, b = self.value(node.left), self.value(node.right)
        a, b = self.fit(a, b), self.fit(b, a)
        if is_matrix(a) and is_matrix(b):
            if a.shape != b.shape:
                if a.shape == (1, 1) or b.shape == (1, 1):
                    a, b = (a[0, 0] if a.shape == (1, 1) else a), (b[0, 0] if b.shape == (1, 1) else b)
                    if symbol == r"\odot":
                        return a * b
                    raise IllFormed(f"{self.shape_text(a)} {symbol} {self.shape_text(b)}: a number and a matrix")
                raise IllFormed(f"{self.shape_text(a)} {symbol} {self.shape_text(b)}: the shapes differ")
            return op(a, b)
        if is_matrix(a) != is_matrix(b):
            if symbol == r"\odot":
                return a * b
            m = a if is_matrix(a) else b
            if m.shape == (1, 1):
                return op(a[0, 0] if is_matrix(a) else a, b[0, 0] if is_matrix(b) else b)
            # a number and a vector or matrix: entry by entry, as the book writes 1 - a
            a = a if is_matrix(a) else sp.Matrix(*m.shape, lambda i, j: a)
            b = b if is_matrix(b) else sp.Matrix(*m.shape, lambda i, j: b)
        return op(a, b)

    def fit(self, v, other):
        """The vector of ones sized like the other operand."""
        if isinstance(v, Ones):
            if not is_matrix(other):
                raise Unread("cannot tell the length of the vector of ones here")
            return sp.ones(*other.shape)
        return v

    def _Mul(self, node):
        return self.multiply(self.value(node.left), self.value(node.right))

    def multiply(self, a, b):
        if isinstance(a, Ones):
            a = a.sized(b.rows if a.transposed else 1) if is_matrix(b) else a
        if isinstance(b, Ones) and is_matrix(a):
            if not b.transposed:
                b = b.sized(a.cols)
            elif a.cols == 1 and self.batch:  # b 1^T: beta copies of the column (eq. 81)
                b = b.sized(self.point.beta)
        if isinstance(a, Ones) or isinstance(b, Ones):
            raise Unread("cannot tell the length of the vector of ones here")
        from symbackprop.engine.jacobians import ColumnOfMatrices

        if isinstance(b, ColumnOfMatrices):
            if not is_matrix(a) or a.shape != (1, b.n):
                raise IllFormed(f"{self.shape_text(a)} times the column of {b.n} matrices dy/dW: a 1 x {b.n} row "
                                f"multiplies it (eq. 18)")
            return a * b
        if isinstance(a, ColumnOfMatrices):
            raise IllFormed("the column of matrices dy/dW stands on the right of a row (eq. 18)")
        if is_matrix(a) and is_matrix(b):
            if a.cols != b.rows:
                if a.shape == (1, 1) or b.shape == (1, 1):
                    return a[0, 0] * b if a.shape == (1, 1) else a * b[0, 0]
                raise IllFormed(f"the product {self.shape_text(a)} times {self.shape_text(b)}: "
                                f"{a.cols} columns against {b.rows} rows")
            return a * b
        return a * b

    def _Div(self, node):
        a, b = self.value(node.left), self.value(node.right)
        if is_matrix(b):
            if b.shape != (1, 1):
                raise IllFormed(f"division by a {self.shape_text(b)} matrix")
            b = b[0, 0]
        if b == 0:
            raise NotMeaningful("a division by 0")
        return a / b

    def _Outer(self, node):
        a, b = self.value(node.left), self.value(node.right)
        if not (is_matrix(a) and is_matrix(b) and a.cols == 1 and b.cols == 1):
            raise IllFormed(f"u \\otimes v is the outer product u v^T of two columns; got "
                            f"{self.shape_text(a)} and {self.shape_text(b)}")
        return a * b.T

    def _Sum(self, node):
        lo = self.integer(node.lo, "the sum's start") if node.lo is not None else 1
        if node.hi is not None:
            hi = self.integer(node.hi, "the sum's end")
        else:  # \sum_j: the range of j, read off what it indexes
            probe = Meaning(self.point, self.bindings, self.batch, self.variables, self.definitions)
            probe.value(node.body)
            sizes = probe.probes.get(node.var)
            if not sizes or len(sizes) != 1:
                raise Unread(f"cannot tell the range of \\sum_{{{node.var}}}; write \\sum_{{{node.var}=1}}^{{n}}")
            hi = sizes.pop()
        total = sp.Integer(0)
        saved = self.bindings.get(node.var)
        for k in range(lo, hi + 1):
            self.bindings[node.var] = k
            term = self.value(node.body)
            total = term if k == lo else self.combine_values(total, term)
        if saved is None:
            self.bindings.pop(node.var, None)
        else:
            self.bindings[node.var] = saved
        return total

    def combine_values(self, a, b):
        if is_matrix(a) and is_matrix(b) and a.shape != b.shape:
            raise IllFormed(f"the terms of a sum differ in shape: {self.shape_text(a)} and {self.shape_text(b)}")
        return a + b

    # -- shapes in the book's terms
    def shape_text(self, v):
        if isinstance(v, Ones):
            return "1 x 1"
        if not is_matrix(v):
            return "a number"
        names = self.point.dimension_names(self.batch) if self.point is not None else {}
        return " x ".join(names.get(d, str(d)) if d != 1 else "1" for d in v.shape) + \
            f" ({v.rows} x {v.cols})"
