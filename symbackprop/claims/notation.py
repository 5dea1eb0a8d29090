"""More of the notation people write: the gradient \\nabla, bars for absolute values and norms, literal matrices.

The :class:`~symbackprop.claims.grammar.Parser` hands these constructs to the functions here (each takes the
parser, positioned after the opening token, and returns a node of :mod:`symbackprop.claims.tree`):

* ``\\nabla_{a^{L}} E`` is :class:`Grad`: the gradient has the shape of what it is taken with, so it is the
  column (\\frac{\\partial E}{\\partial a^{L}})^{T} for a vector, and \\frac{\\partial E}{\\partial W^{l}} for a
  matrix (Nielsen's \\delta^{L} = \\nabla_{a} C \\odot \\sigma'(z^{L}) is, in the book's letters,
  \\delta^{L} = \\nabla_{a^{L}} E \\odot a'(y^{L})).
* ``|x|``, ``\\left| x \\right|``, ``\\lvert x \\rvert``: the absolute value, entry by entry (Call 'abs').
* ``\\|x\\|``, ``\\lVert x \\rVert``: the Euclidean norm of a vector (Frobenius for a matrix) (Call 'norm').
* ``\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}`` (also pmatrix, matrix, Bmatrix): :class:`Matrix`;
  ``\\begin{vmatrix} x \\end{vmatrix}`` of one entry is the absolute value (the book's MAE).

>>> from symbackprop.claims.grammar import parse_claim
>>> parse_claim(r"\\delta^{L} = \\nabla_{a^{L}} E \\odot a'(y^{L})")[0].right
Hadamard(Grad(Name('E'), den=Script(Name('a'), sup=Name('L'))), Call('a', args=(Script(Name('y'), sup=Name('L')),), \
primes=1))
>>> parse_claim(r"E = \\frac{1}{n}\\|a^{1} - z\\|^{2}")[0].right.right
Script(Call('norm', args=(Sub(Script(Name('a'), sup=Num('1')), Name('z')),)), sup=Num('2'))
>>> parse_claim(r"\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix} = I")[0].left
Matrix(((Num('1'), Num('0')), (Num('0'), Num('1'))))
"""
from symbackprop.claims.tree import Call, Grad, Matrix, Unread

#: opening token -> closing token and the function it means
BARS = {"|": ("|", "abs"), r"\lvert": (r"\rvert", "abs"), r"\vert": (r"\vert", "abs"), r"\|": (r"\|", "norm"),
        r"\lVert": (r"\rVert", "norm"), r"\Vert": (r"\Vert", "norm")}
CLOSING_BARS = {close for close, _ in BARS.values()}
MATRICES = {"bmatrix", "pmatrix", "matrix", "Bmatrix", "smallmatrix"}


def nabla(parser):
    """\\nabla_{x} f: the gradient of f with x (the subscript is required)."""
    if parser.peek() != "_":
        parser.fail(r"\nabla needs what it differentiates with: \nabla_{a^{L}} E")
    parser.take("_")
    den = parser.sub_parse(parser.group_tokens())
    return Grad(parser.atom(), den)


def bars(parser, opening):
    """|x| (abs) or \\|x\\| (norm), the closing bar matching the opening one."""
    closing, func = BARS[opening]
    parser.open_bars = (*getattr(parser, "open_bars", ()), closing)
    try:
        inside = parser.side()
    finally:
        parser.open_bars = parser.open_bars[:-1]
    if parser.peek() != closing:
        parser.fail(f"the bar {opening} is not closed by {closing}")
    parser.take(closing)
    return Call(func, (inside,), 0, None)


def matrix(parser):
    """\\begin{bmatrix} ... \\end{bmatrix}: entries separated by &, rows by \\\\."""
    env = "".join(t.text for t in parser.group_tokens())
    if env not in MATRICES | {"vmatrix"}:
        parser.fail(f"the environment {env!r} is not read inside an equation (matrices: {', '.join(sorted(MATRICES))})")
    rows, row = [], [parser.side()]
    while parser.peek() in ("&", "\\\\"):
        if parser.take() == "&":
            row.append(parser.side())
        else:
            rows.append(tuple(row))
            row = [] if parser.peek() == r"\end" else [parser.side()]
    if row:
        rows.append(tuple(row))
    parser.take(r"\end")
    if "".join(t.text for t in parser.group_tokens()) != env:
        parser.fail(f"\\begin{{{env}}} is closed by another environment")
    if len({len(r) for r in rows}) != 1:
        raise Unread(f"the rows of the {env} have different lengths: {[len(r) for r in rows]}")
    if env == "vmatrix":  # bars around one entry, as the book writes MAE; a determinant is not read
        if len(rows) != 1 or len(rows[0]) != 1:
            raise Unread("a vmatrix of more than one entry is a determinant, which is not read")
        return Call("abs", rows[0], 0, None)
    return Matrix(tuple(rows))


def gradient(meaning, node, derivative):
    """The value of \\nabla_{den} num: \\frac{\\partial num}{\\partial den}, transposed when that gives the shape
    of den (dE/da^l is a row, its gradient the column of a^l)."""
    import sympy as sp

    value = derivative
    try:
        of = meaning.value(node.den)
    except Unread:
        of = None
    if isinstance(value, sp.MatrixBase) and isinstance(of, sp.MatrixBase) and value.shape != of.shape \
            and value.T.shape == of.shape:
        return value.T
    return value
