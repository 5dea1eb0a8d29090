"""The parse tree of a claim: a few node classes, each printing as Name(children).

The grammar (:mod:`symbackprop.claims.grammar`) builds these; :mod:`symbackprop.claims.meaning` walks them.
Nodes compare and hash by their fields, so a tree can be compared with the one a document shows.

>>> Eq(Name('E'), Num('1'))
Eq(Name('E'), Num('1'))
>>> [type(n).__name__ for n in Add(Name('a'), Neg(Num('2'))).walk()]
['Add', 'Name', 'Neg', 'Num']
"""
from symbackprop.errors import SymbackpropError


class Unread(SymbackpropError):
    """The text is not in the grammar: the message names what and where (``column``, 1-based)."""

    def __init__(self, message, column=None):
        super().__init__(message)
        self.column = column


class Node:
    """A node of the parse tree; ``args`` are its children, printed as Name(args)."""

    fields = ()

    def __init__(self, *args, **named):
        values = dict(zip(self.fields, args), **named)
        for f in self.fields:
            setattr(self, f, values.get(f))

    def __repr__(self):
        parts = []
        for f in self.fields:
            v = getattr(self, f)
            if v is None or v == () or v == 0 and f == "primes":
                continue
            parts.append(repr(v) if f == self.fields[0] or f in ("left", "right") else f"{f}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __eq__(self, other):
        return type(self) is type(other) and all(getattr(self, f) == getattr(other, f) for f in self.fields)

    def __hash__(self):
        return hash((type(self).__name__, *(repr(getattr(self, f)) for f in self.fields)))

    def walk(self):
        """This node and every node below it."""
        yield self
        for f in self.fields:
            for v in (getattr(self, f) if isinstance(getattr(self, f), tuple) else (getattr(self, f),)):
                if isinstance(v, Node):
                    yield from v.walk()


class Num(Node):
    fields = ("value",)  # a Fraction-able string: '2', '0.5'


class Name(Node):
    fields = ("name",)  # 'W', 'delta', 'Delta', 'sigma', 'eta', 'ones', 'T' ...


class Script(Node):
    fields = ("base", "sup", "sub", "primes")  # base^{sup}_{sub}''' (sub: a tuple of index nodes)


class Call(Node):
    fields = ("func", "args", "primes", "power")  # \tanh'^{2}(y): func 'tanh', primes 1, power Num(2)


class Deriv(Node):
    fields = ("num", "den")  # \frac{\partial num}{\partial den}


class Sum(Node):
    fields = ("var", "lo", "hi", "body")  # \sum_{var=lo}^{hi} body (lo, hi may be None)


class Neg(Node):
    fields = ("arg",)


class _Binary(Node):
    fields = ("left", "right")


class Add(_Binary):
    pass


class Sub(_Binary):
    pass


class Mul(_Binary):  # the matrix product (juxtaposition, \cdot, \times, *)
    pass


class Div(_Binary):  # / and \frac{a}{b}
    pass


class Hadamard(_Binary):  # \odot, \circ
    pass


class Outer(_Binary):  # \otimes: u (x) v = u v^T
    pass


class Eq(_Binary):
    pass


class Grad(Node):
    fields = ("num", "den")  # \nabla_{den} num: the gradient, with the shape of den (a column for a vector)


class Matrix(Node):
    fields = ("rows",)  # \begin{bmatrix} a & b \\ c & d \end{bmatrix}: a tuple of rows, each a tuple of entries
