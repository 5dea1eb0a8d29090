"""A grammar for the backprop equations people write in LaTeX, read by recursive descent.

The text of a displayed equation is cut into tokens (commands ``\\frac``, letters, numbers, and the
characters ``{ } ^ _ ' ( ) [ ] + - = , * /``) and read by one function per rule, like
:mod:`symbackprop.engine.expressions`.  Nothing is evaluated here and nothing is expanded: a command
the grammar does not know (a user macro, ``\\input``, ``\\write18``) is an :class:`Unread` error with
its position, never run.  The rules, loosest first::

    claim    := side ("=" side)*                      a chain A = B = C is two claims
    side     := term (("+" | "-") term)*
    term     := product (("\\odot" | "\\otimes") product)*
    product  := unary (("\\cdot" | "\\times" | "*" | "/" | juxtaposition) unary)*
    unary    := ("-" | "+") unary | script
    script   := atom ("^" group | "_" group | "'")*
    atom     := number | letter | greek | "(" side ")" | "[" side "]" | "{" side "}"
              | \\frac{..}{..} | \\sum_{j=1}^{n} product | function ["'"] ["^" group] argument
              | \\mathbf{..} | \\boldsymbol{..} | \\mathrm{..} | \\operatorname{..} | \\mathbb{1}
              | \\nabla_{..} atom | |side| | \\|side\\| | \\begin{bmatrix}..\\end{bmatrix}   (claims.notation)

So juxtaposition (the matrix product) binds tighter than the Hadamard product, as the book reads
``a'(y^{l}) \\odot (W^{l+1})^{T} \\delta^{l+1}``.

>>> parse_claim(r"\\frac{\\partial E}{\\partial W^{l}} = \\delta^{l} (s^{l-1})^{T}")
[Eq(Deriv(Name('E'), den=Script(Name('W'), sup=Name('l'))), \
Mul(Script(Name('delta'), sup=Name('l')), Script(Script(Name('s'), sup=Sub(Name('l'), Num('1'))), sup=Name('T'))))]
>>> parse_claim(r"\\write18{rm -rf /}")
Traceback (most recent call last):
...
symbackprop.claims.tree.Unread: \\write is not notation symbackprop reads (column 1); nothing was run
"""
import itertools
import re
from dataclasses import dataclass

from symbackprop.claims import notation
from symbackprop.claims.tree import (
    Add,
    Call,
    Deriv,
    Div,
    Eq,
    Hadamard,
    Mul,
    Name,
    Neg,
    Num,
    Outer,
    Script,
    Sub,
    Sum,
    Unread,
)

__all__ = ["Add", "Call", "Deriv", "Div", "Eq", "Hadamard", "Mul", "Name", "Neg", "Num", "Outer", "Parser", "Script",
           "Sub", "Sum", "Unread", "parse_claim", "tokenize"]


MAX_LENGTH = 2000  # characters of one claim
MAX_DEPTH = 60  # nesting of groups


# -- tokens --------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\d+(?:\.\d+)?|[A-Za-z]|[{}^_'()\[\]+\-=,*/|&<>.!;:~]|\S")
#: commands that only space or size things: skipped
SKIP = {r"\left", r"\right", r"\big", r"\Big", r"\bigg", r"\Bigg", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr",
        r"\biggl", r"\biggr", r"\,", r"\;", r"\:", r"\!", r"\ ", r"\quad", r"\qquad", r"\displaystyle",
        r"\textstyle", r"\limits", r"\nonumber", r"\notag", r"\middle"}
GREEK = {r"\delta": "delta", r"\Delta": "Delta", r"\eta": "eta", r"\beta": "beta", r"\alpha": "alpha",
         r"\sigma": "sigma", r"\lambda": "lambda", r"\varepsilon": "epsilon", r"\epsilon": "epsilon"}
#: functions: command or \mathrm/\operatorname word -> the name meaning.py knows
FUNCTIONS = {r"\tanh": "tanh", r"\exp": "exp", r"\log": "log", r"\ln": "log", r"\max": "max", r"\min": "min",
             "softmax": "softmax", "relu": "relu", "ReLU": "relu", "Relu": "relu", "diag": "diag",
             "sigmoid": "sigma", "tanh": "tanh", "exp": "exp", "log": "log", "max": "max", "sign": "sign"}
OPERATORS = {r"\odot": Hadamard, r"\circ": Hadamard, r"\otimes": Outer}
PRODUCTS = {r"\cdot", r"\times", "*", "/"}
TRANSPOSE = {r"\top", r"\intercal", r"\mathsf{T}", r"\prime"}
STYLES = {r"\mathbf", r"\boldsymbol", r"\bm", r"\mathit", r"\mathrm", r"\operatorname", r"\text", r"\textrm",
          r"\mathbb", r"\mathsf", r"\vec"}
WORDS = {"T": "T", "ones": "ones"}


@dataclass
class Token:
    text: str
    column: int  # 1-based column in the claim's text


def tokenize(text):
    """The tokens of ``text`` with their columns (spacing commands dropped).

    >>> [t.text for t in tokenize(r"W^{l} \\, s")]
    ['W', '^', '{', 'l', '}', 's']
    """
    if len(text) > MAX_LENGTH:
        raise Unread(f"a claim of {len(text)} characters is longer than {MAX_LENGTH}")
    return [Token(m.group(), m.start() + 1) for m in _TOKEN.finditer(text) if m.group() not in SKIP]


class Parser:
    """Recursive descent over the tokens of one claim (see the module docstring)."""

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # -- helpers
    def peek(self, k=0):
        j = self.i + k
        return self.tokens[j].text if j < len(self.tokens) else None

    def column(self):
        return self.tokens[self.i].column if self.i < len(self.tokens) else len(self.text) + 1

    def take(self, expected=None):
        if self.i >= len(self.tokens):
            raise Unread(f"the claim ends where {expected or 'more'} was expected", self.column())
        tok = self.tokens[self.i]
        if expected is not None and tok.text != expected:
            raise Unread(f"expected {expected!r} but found {tok.text!r} (column {tok.column})", tok.column)
        self.i += 1
        return tok.text

    def fail(self, message):
        raise Unread(f"{message} (column {self.column()})", self.column())

    def deeper(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nesting deeper than {MAX_DEPTH}")

    # -- rules
    def claim(self):
        sides = [self.side()]
        while self.peek() == "=":
            self.take()
            sides.append(self.side())
        if self.peek() is not None:
            self.fail(f"{self.peek()!r} cannot continue the equation")
        if len(sides) < 2:
            raise Unread("no '=' in the equation: a claim states that two things are equal", 1)
        return [Eq(a, b) for a, b in itertools.pairwise(sides)]

    def side(self):
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = (Add if op == "+" else Sub)(node, self.term())
        return node

    def term(self):
        node = self.product()
        while self.peek() in OPERATORS:
            node = OPERATORS[self.take()](node, self.product())
        return node

    def product(self):
        node = self.unary()
        while True:
            tok = self.peek()
            if tok in PRODUCTS:
                self.take()
                node = (Div if tok == "/" else Mul)(node, self.unary())
            elif self.starts_atom(tok):
                node = Mul(node, self.unary())
            else:
                return node

    def starts_atom(self, tok):
        if tok in notation.CLOSING_BARS or tok in notation.BARS:  # |x| y: a bar opens unless one of its kind is open
            return tok in notation.BARS and tok not in getattr(self, "open_bars", ())
        if tok is None or tok in ("=", "+", "-", ")", "]", "}", r"\}", ",", "^", "_", "'", "&", r"\end"):
            return False
        return not (tok in OPERATORS or tok in PRODUCTS or tok == r"\\")

    def unary(self):
        if self.peek() == "-":
            self.take()
            return Neg(self.unary())
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.script(self.atom())

    def script(self, node):
        while self.peek() in ("^", "_", "'"):
            tok = self.take()
            if tok == "'":
                node = self._prime(node)
            elif tok == "^":
                sup = self.superscript()
                if isinstance(node, Script) and node.sup is None:
                    node = Script(node.base, sup=sup, sub=node.sub, primes=node.primes)
                else:
                    node = Script(node, sup=sup)
            else:
                sub = self.subscript()
                if isinstance(node, Script) and node.sub is None and not _is_transpose(node.sup):
                    node = Script(node.base, sup=node.sup, sub=sub, primes=node.primes)
                else:
                    node = Script(node, sub=sub)
        return node

    def _prime(self, node):
        if isinstance(node, Script):
            return Script(node.base, node.sup, node.sub, (node.primes or 0) + 1)
        return Script(node, primes=1)

    def group_tokens(self):
        """The tokens of one argument: a braced group, or a single token."""
        if self.peek() == "{":
            self.take()
            start, level = self.i, 1
            while level:
                tok = self.take("}") if self.peek() is None else self.take()
                level += {"{": 1, "}": -1}.get(tok, 0)
            return self.tokens[start:self.i - 1]
        if self.i >= len(self.tokens):
            self.fail("a superscript, subscript or argument is missing")
        self.i += 1
        return [self.tokens[self.i - 1]]

    def superscript(self):
        """^{...}: T, \\top, -1, a layer l, l+1, [l], (l), a power 2, a prime."""
        toks = self.group_tokens()
        texts = [t.text for t in toks]
        if len(texts) == 1 and texts[0] in TRANSPOSE | {"T", r"\prime"}:
            return Name("T") if texts[0] != r"\prime" else Name("prime")
        if len(texts) >= 3 and texts[0] in "([" and texts[-1] in ")]" and texts[0] + texts[-1] in ("()", "[]"):
            toks = toks[1:-1]  # W^{[l]}, delta^{(l)}
        if toks and toks[-1].text in TRANSPOSE | {"T"} and len(toks) > 1:  # W^{lT}
            return Script(self.sub_parse(toks[:-1]), sup=Name("T"))
        return self.sub_parse(toks)

    def subscript(self):
        """_{...}: indices i, j (``ij`` or ``i,j``), or a layer for n_{l-1}, or j=1 under a sum."""
        toks = self.group_tokens()
        parts, current = [], []
        for t in toks:
            if t.text == ",":
                parts.append(current)
                current = []
            else:
                current.append(t)
        parts.append(current)
        if len(parts) == 1 and len(toks) > 1 and all(re.fullmatch(r"[a-zA-Z]", t.text) for t in toks):
            parts = [[t] for t in toks]  # w_{ij}: two indices
        return tuple(self.sub_parse(p) for p in parts if p)

    def sub_parse(self, toks):
        if not toks:
            self.fail("an empty superscript or subscript")
        inner = Parser.__new__(Parser)
        inner.text, inner.tokens, inner.i, inner.depth = self.text, list(toks), 0, self.depth + 1
        node = inner.side()
        if inner.peek() is not None:
            inner.fail(f"{inner.peek()!r} cannot continue the script")
        return node

    def atom(self):
        self.deeper()
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self):
        col = self.column()
        tok = self.take("a term") if self.peek() is None else self.take()
        if re.fullmatch(r"\d+(?:\.\d+)?", tok):
            return Num(tok)
        if re.fullmatch(r"[A-Za-z]", tok):
            if tok == "a" and self.peek() in ("(", "'"):
                return self.call("a")
            return Name(tok)
        if tok in ("(", "[", r"\{"):
            node = self.side()
            self.take({"(": ")", "[": "]"}.get(tok, r"\}"))
            return node
        if tok == "{":
            node = self.side()
            self.take("}")
            return node
        if tok in GREEK:
            if tok == r"\sigma" and self.peek() in ("(", "'", "^"):
                return self.call("sigma")
            return Name(GREEK[tok])
        if tok in (r"\frac", r"\dfrac", r"\tfrac"):
            return self.fraction()
        if tok == r"\sum":
            return self.summation()
        if tok in FUNCTIONS:
            return self.call(FUNCTIONS[tok])
        if tok in STYLES:
            return self.styled(tok)
        if tok == r"\partial":
            self.fail(r"a \partial outside \frac{\partial ...}{\partial ...}")
        if tok in notation.BARS:
            return notation.bars(self, tok)
        if tok == r"\nabla":
            return notation.nabla(self)
        if tok == r"\begin":
            return notation.matrix(self)
        if tok.startswith("\\"):
            raise Unread(f"{tok} is not notation symbackprop reads (column {col}); nothing was run", col)
        raise Unread(f"unexpected {tok!r} (column {col})", col)

    def styled(self, style):
        toks = self.group_tokens()
        texts = [t.text for t in toks]
        word = "".join(texts)
        if style == r"\mathbb" or word == "1":
            if word == "1":
                return Name("ones")
            self.fail(f"\\mathbb{{{word}}} is not notation symbackprop reads")
        if word in FUNCTIONS and style in (r"\mathrm", r"\operatorname", r"\text", r"\textrm", r"\mathit"):
            return self.call(FUNCTIONS[word])
        if len(toks) == 1 and (re.fullmatch(r"[A-Za-z]", word) or word in GREEK):
            name = Name(GREEK.get(word, word))
            if name.name == "sigma" and self.peek() in ("(", "'", "^"):
                return self.call("sigma")
            return name
        if style == r"\mathrm" and word in ("d",):
            self.fail(r"total derivatives d/dx are not read; write \frac{\partial ...}{\partial ...}")
        self.fail(f"{style}{{{word}}} is not notation symbackprop reads")

    def call(self, func):
        """f'^{2}(args) or f x: a function applied to its argument(s)."""
        primes, power = 0, None
        while self.peek() in ("'", "^"):
            if self.take() == "'":
                primes += 1
            else:
                sup = self.superscript()
                if sup == Name("prime"):
                    primes += 1
                else:
                    power = sup
        if self.peek() in ("(", "[", r"\{"):
            close = {"(": ")", "[": "]", r"\{": r"\}"}[self.take()]
            args = [self.side()]
            while self.peek() == ",":
                self.take()
                args.append(self.side())
            self.take(close)
        elif self.peek() == "{":
            self.take()
            args = [self.side()]
            self.take("}")
        else:
            args = [self.script(self.atom())]
        return Call(func, tuple(args), primes, power)

    def fraction(self):
        num = self.braced()
        den = self.braced()
        if _starts_partial(num) or _starts_partial(den):
            if not (_starts_partial(num) and _starts_partial(den)):
                self.fail(r"\frac{\partial ...}{\partial ...} needs \partial above and below")
            return Deriv(self.sub_parse(num[1:]), self.sub_parse(den[1:]))
        return Div(self.sub_parse(num), self.sub_parse(den))

    def braced(self):
        return self.group_tokens()

    def summation(self):
        """\\sum_{j=1}^{n} body, \\sum_{j} body."""
        var = lo = hi = None
        while self.peek() in ("_", "^"):
            which = self.take()
            toks = self.group_tokens()
            if which == "_":
                texts = [t.text for t in toks]
                if "=" in texts:
                    k = texts.index("=")
                    var, lo = texts[:k], self.sub_parse(toks[k + 1:])
                else:
                    var = texts
                if len(var) != 1 or not re.fullmatch(r"[A-Za-z]", var[0]):
                    self.fail(f"the sum's index must be one letter, got {''.join(var)!r}")
                var = var[0]
            else:
                hi = self.sub_parse(toks)
        if var is None:
            self.fail(r"a \sum needs its index: \sum_{j=1}^{n} or \sum_{j}")
        return Sum(var, lo, hi, self.product())


def _starts_partial(toks):
    return bool(toks) and toks[0].text == r"\partial"


def _is_transpose(node):
    return node == Name("T")


def parse_claim(text):
    """The equations of one displayed line: a list of :class:`Eq` (a chain A = B = C gives two)."""
    return Parser(text).claim()
