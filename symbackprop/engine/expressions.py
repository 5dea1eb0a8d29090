"""A restricted grammar for the formulas users may write.

Spec files and command lines may come from anyone, so a user formula is never
handed to ``eval``, ``exec`` or a raw ``sympify``.  Instead this module
tokenizes the text and builds SymPy objects with a small recursive-descent
parser that admits only

* numbers (``2``, ``0.5``, ``1e-3``),
* the variables the caller names (``y`` for an activation; ``a`` and ``z`` for
  a cost term),
* the constants ``pi`` and ``e``,
* ``+ - * / **`` (``^`` is read as ``**``) and parentheses,
* calls of the whitelisted functions in :data:`FUNCTIONS`.

Everything else is rejected with a message that names the offending text.

``max`` and ``min`` build :class:`Max` and :class:`Min`: SymPy's own, except for the one rule
symbackprop follows at kinks, which lives in their ``fdiff``.  SymPy differentiates Max(u, v)
as u' Heaviside(u - v) + v' Heaviside(v - u) with Heaviside(0) = 1/2; here Heaviside(0) = 0,
so at a tie every piece is switched off and the derivative there is 0, as PyTorch's relu'(0)
and hardtanh'(+-1).  Because the rule sits in the function itself, every derivative of a user
formula follows it: a'(y), de/da, and the composed error E differentiated directly.

>>> import sympy as sp
>>> y = sp.Symbol('y', real=True)
>>> parse_expression("y / (1 + abs(y))", {"y": y})
y/(Abs(y) + 1)
>>> parse_expression("eval(y)", {"y": y})
Traceback (most recent call last):
...
symbackprop.errors.ExpressionError: unknown name 'eval' at column 1 of 'eval(y)'; allowed variables: y; functions: abs, atan, cos, cosh, erf, exp, log, max, min, sigmoid, sin, sinh, sqrt, tan, tanh
"""
import re

import sympy as sp

from symbackprop.errors import ExpressionError

MAX_LENGTH = 400
MAX_DEPTH = 40
MAX_EXPONENT = 64

def kink_rule(derivative):
    """Heaviside(u) (= 1/2 at u = 0) -> Heaviside(u, 0): the derivative at a kink is that of the pieces off."""
    half = sp.Rational(1, 2)
    return derivative.replace(lambda e: isinstance(e, sp.Heaviside) and e.args[1] == half,
                              lambda e: sp.Heaviside(e.args[0], 0))


class Max(sp.Max):
    """SymPy's Max with the kink rule: Max(y, 0) differentiates to Heaviside(y, 0).

    SymPy evaluates it (its rules compare classes with ``cls == Max``, so they run on sp.Max);
    the result is then rebuilt with this class wherever a Max or Min remains.

    >>> y = sp.Symbol('y', real=True)
    >>> Max(y, 0).diff(y), Max(y, 0).diff(y).subs(y, 0), Max(y, -1).subs(y, 2), Max(3, 1)
    (Heaviside(y, 0), 0, 2, 3)
    """

    def __new__(cls, *args, **options):
        return with_kink_rule(sp.Max(*args, **options))

    def fdiff(self, argindex=1):
        return kink_rule(super().fdiff(argindex))


class Min(sp.Min):
    """SymPy's Min with the kink rule: Min(1, y) differentiates to Heaviside(1 - y, 0)."""

    def __new__(cls, *args, **options):
        return with_kink_rule(sp.Min(*args, **options))

    def fdiff(self, argindex=1):
        return kink_rule(super().fdiff(argindex))


_KINKED = {sp.Max: Max, sp.Min: Min}


def with_kink_rule(expr):
    """``expr`` with every SymPy Max and Min rebuilt as the classes above (same value, not evaluated again)."""
    if not isinstance(expr, sp.Basic) or not expr.args:
        return expr
    args = tuple(with_kink_rule(arg) for arg in expr.args)
    if type(expr) in _KINKED:
        obj = sp.Expr.__new__(_KINKED[type(expr)], *args)
        obj._argset = frozenset(args)
        return obj
    return expr.func(*args) if args != expr.args else expr


FUNCTIONS = {
    "abs": (1, sp.Abs),
    "atan": (1, sp.atan),
    "cos": (1, sp.cos),
    "cosh": (1, sp.cosh),
    "erf": (1, sp.erf),
    "exp": (1, sp.exp),
    "log": (1, sp.log),
    "max": (2, Max),
    "min": (2, Min),
    "sigmoid": (1, lambda u: 1 / (1 + sp.exp(-u))),
    "sin": (1, sp.sin),
    "sinh": (1, sp.sinh),
    "sqrt": (1, sp.sqrt),
    "tan": (1, sp.tan),
    "tanh": (1, sp.tanh),
}
CONSTANTS = {"pi": sp.pi, "e": sp.E}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9]*)"
    r"|(?P<op>\*\*|[-+*/^(),]))"
)


def _tokenize(text):
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            col = pos + 1 + (len(text[pos:]) - len(text[pos:].lstrip()))
            ch = text[col - 1] if col - 1 < len(text) else text[pos]
            raise ExpressionError(f"unexpected character {ch!r} at column {col} of {text!r}")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    tokens.append(("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text, variables):
        self.text, self.variables = text, variables
        self.tokens, self.i, self.depth = _tokenize(text), 0, 0

    def fail(self, message, col):
        raise ExpressionError(f"{message} at column {col} of {self.text!r}")

    def peek(self):
        return self.tokens[self.i]

    def take(self, value=None):
        tok = self.tokens[self.i]
        if value is not None and tok[1] != value:
            found = "end of formula" if tok[0] == "end" else repr(tok[1])
            self.fail(f"expected {value!r} but found {found}", tok[2])
        self.i += 1
        return tok

    def parse(self):
        result = self.expr()
        tok = self.peek()
        if tok[0] != "end":
            self.fail(f"unexpected {tok[1]!r}", tok[2])
        return result

    def expr(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail("formula nested too deeply", self.peek()[2])
        value = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        self.depth -= 1
        return value

    def term(self):
        value = self.unary()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            rhs = self.unary()
            value = value * rhs if op == "*" else value / rhs
        return value

    def unary(self):
        if self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            operand = self.unary()
            return -operand if op == "-" else operand
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek()[1] in ("**", "^"):
            col = self.take()[2]
            exponent = self.unary()
            if exponent.is_number and abs(exponent) > MAX_EXPONENT:
                self.fail(f"exponent {exponent} is larger than {MAX_EXPONENT} in magnitude", col)
            return base**exponent
        return base

    def atom(self):
        kind, value, col = self.take()
        if kind == "num":
            mantissa, _, power = value.lower().partition("e")
            if len(mantissa) > 30 or (power and abs(int(power)) > 300):
                self.fail(f"number {value!r} is too long or too large", col)
            return sp.Rational(value) if "." in value or "e" in value.lower() else sp.Integer(int(value))
        if kind == "name":
            if self.peek()[1] == "(":
                return self.call(value, col)
            if value in self.variables:
                return self.variables[value]
            if value in CONSTANTS:
                return CONSTANTS[value]
            self.unknown(value, col)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        found = "end of formula" if kind == "end" else repr(value)
        self.fail(f"expected a number, variable or '(' but found {found}", col)

    def call(self, name, col):
        if name not in FUNCTIONS:
            self.unknown(name, col)
        arity, build = FUNCTIONS[name]
        self.take("(")
        args = [self.expr()]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.expr())
        self.take(")")
        if len(args) != arity:
            self.fail(f"{name}() takes {arity} argument(s), got {len(args)}", col)
        return build(*args)

    def unknown(self, name, col):
        raise ExpressionError(
            f"unknown name {name!r} at column {col} of {self.text!r}; "
            f"allowed variables: {', '.join(sorted(self.variables))}; "
            f"functions: {', '.join(sorted(FUNCTIONS))}"
        )


def parse_expression(text, variables):
    """Parse ``text`` into a SymPy expression over ``variables`` (name -> Symbol).

    Only the grammar described in the module docstring is accepted.  The result
    must depend on at least one of the variables.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"a formula must be text, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("empty formula")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"formula longer than {MAX_LENGTH} characters")
    result = _Parser(text, variables).parse()
    if not isinstance(result, sp.Expr) or result.has(sp.zoo, sp.nan) or result.has(sp.oo, -sp.oo):
        raise ExpressionError(f"formula {text!r} is not a finite expression")
    return result
