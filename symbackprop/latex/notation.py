r"""The book's notation in TeX: bold names for a layer's vectors, signs as an author writes them,
and how wide a formula prints (so the printer knows when an explicit matrix fits a page).

>>> W_(2), S_(1), S_(3)
('\\mathbf{W}^{2}', '\\mathbf{x}', '\\mathbf{a}^{2}')
>>> display_symbol("y1_i")
y^{1}_{i}
"""
import re

import sympy as sp

#: Usable width of a display line and height of a display, in ems / lines of the document's 11pt body.
LINE_EM = 36.0
PAGE_LINES = 40.0


# -- how wide is a formula? --------------------------------------------------------------------
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}^_]|[^\s]")
_FREE = {r"\mathbf", r"\boldsymbol", r"\operatorname", r"\mathrm", r"\text", r"\displaystyle", r"\left",
         r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\limits"}
_SPACE = {r"\,": 0.17, r"\:": 0.22, r"\;": 0.28, r"\quad": 1.0, r"\qquad": 2.0, r"\ ": 0.3, "\\\\": 0.0}


def tex_width(tex):
    r"""A rough width, in ems, of a one-line LaTeX math string (fractions count their wider part).

    >>> tex_width(r"\frac{a - z}{n}") < tex_width(r"a - z + n")
    True
    """
    tokens = _TOKEN.findall(tex)
    width, _ = _group_width(tokens, 0)
    return width


def _group_width(tokens, i):
    width = 0.0
    while i < len(tokens):
        t = tokens[i]
        if t == "}":
            return width, i + 1
        w, i = _atom_width(tokens, i)
        width += w
    return width, i


def _atom_width(tokens, i):
    t = tokens[i]
    if t == "{":
        return _group_width(tokens, i + 1)
    if t in ("^", "_"):
        w, i = _atom_width(tokens, i + 1)
        return 0.7 * w, i
    if t in (r"\frac", r"\dfrac", r"\tfrac"):
        num, i = _atom_width(tokens, i + 1)
        den, i = _atom_width(tokens, i)
        return max(num, den) + 0.3, i
    if t in (r"\begin", r"\end"):  # skip the environment name
        _, i = _atom_width(tokens, i + 1)
        return 0.0, i
    if t in _FREE:
        return 0.0, i + 1
    if t in _SPACE:
        return _SPACE[t], i + 1
    if t.startswith("\\"):
        return (1.6 if t in (r"\sum", r"\log", r"\exp", r"\tanh", r"\cdots") else 0.9), i + 1
    if t in "+-=<>":
        return 1.3, i + 1
    if t in "()[]|,.;&":
        return 0.4, i + 1
    return 0.55, i + 1


def _leads_negative(expr):
    return sp.latex(expr).lstrip().startswith("-")


def tidy_signs(expr):
    """Write factors as an author would: -a (a - 1) -> a (1 - a), a (z - a)... (value unchanged).

    >>> a, z = sp.symbols("a z")
    >>> tidy_signs(-a * (a - 1))
    a*(1 - a)
    >>> sp.simplify(tidy_signs(a * (z - a) * (a - 1)) - a * (z - a) * (a - 1))
    0
    """
    if not isinstance(expr, sp.Expr) or expr.is_Atom or isinstance(expr, (sp.Piecewise, sp.Sum, sp.Indexed)):
        return expr
    expr = expr.func(*[tidy_signs(arg) for arg in expr.args])
    if not isinstance(expr, sp.Mul):
        return expr
    coeff, factors = expr.as_coeff_mul()
    factors = list(factors)
    for k, f in enumerate(factors):
        if isinstance(f, sp.Add) and _leads_negative(f):
            factors[k], coeff = -f, -coeff
    if coeff < 0:
        for k, f in enumerate(factors):
            if isinstance(f, sp.Add) and not _leads_negative(-f):
                factors[k], coeff = -f, -coeff
                break
    if coeff == 1:
        return sp.Mul(*factors, evaluate=False) if len(factors) > 1 else factors[0]
    return sp.Mul(coeff, *factors, evaluate=False)


def display_symbol(name):
    """A display symbol: y1_i -> y^{1}_{i}, a_i -> a_{i} (via latex_name's rules, with index letters)."""
    m = re.fullmatch(r"([a-z]+)(\d*)_([a-z])", name)
    base, l, i = m.groups()
    return sp.Symbol(f"{base}^{{{l}}}_{{{i}}}" if l else f"{base}_{{{i}}}", real=True)


def W_(l):
    return rf"\mathbf{{W}}^{{{l}}}"


def B_(l):
    return rf"\mathbf{{b}}^{{{l}}}"


def Y_(l):
    return rf"\mathbf{{y}}^{{{l}}}"


def A_(l):
    return rf"\mathbf{{a}}^{{{l}}}"


def D_(l):
    return rf"\boldsymbol{{\delta}}^{{{l}}}"


def S_(l):
    """s^{l-1}, the signal entering layer l: x for l = 1, else a^{l-1}."""
    return r"\mathbf{x}" if l == 1 else A_(l - 1)
