r"""LaTeX for the engine's objects, in the book's notation: one printer, a method per object kind.

Like SymPy's printers, :class:`DerivationPrinter` dispatches on the class of what it is
given (``_print_LayerDerivation``, ``_print_ColumnOfMatrices``, ``_print_Activation``, ...).
Vectors and matrices are bold (``\mathbf{W}^{2}``, ``\boldsymbol{\delta}^{2}``), their
entries are the book's scalars (``w^{2}_{1,3}``, via :func:`symbackprop.engine.network.latex_name`).

Every step of a layer is offered in two forms: *explicit*, with the actual entries, and
*general*, with the i-th entry and ``\cdots``.  The explicit form is used when the layer is
at most ``explicit_max`` wide **and** its estimated width and height fit a page
(:func:`tex_width`); otherwise the general form, with a note saying why.

>>> from symbackprop.engine.spec import NetworkSpec
>>> from symbackprop.engine.jacobians import derive
>>> d = derive(NetworkSpec.from_options("2,1", "sigmoid", "mse"))
>>> p = DerivationPrinter()
>>> p.doprint(d[1].dE_da)
'\\begin{bmatrix} 2 a^{1}_{1} - 2 z_{1} \\end{bmatrix}'
>>> p.doprint(d[1].dy_dW)
'\\begin{bmatrix} \\begin{bmatrix} x_{1} & x_{2} \\end{bmatrix} \\end{bmatrix}'
>>> layer_latex(d[1]).startswith('$$')
True
"""
from dataclasses import dataclass, field

import sympy as sp

from symbackprop.engine.network import latex_name
from symbackprop.engine.simplify import N as _N
from symbackprop.engine.simplify import tidy
from symbackprop.engine.symbols import A as _A
from symbackprop.engine.symbols import Y as _Y
from symbackprop.engine.symbols import Z as _Z
from symbackprop.latex.notation import (
    A_,
    B_,
    D_,
    LINE_EM,
    PAGE_LINES,
    S_,
    W_,
    Y_,
    display_symbol,
    tex_width,
    tidy_signs,
)

#: The largest --explicit-max that can be typeset: a 10 x 10 matrix of short entries fills a line.
EXPLICIT_MAX_LIMIT = 10

@dataclass
class Piece:
    """One step of a derivation: LaTeX for an ``align`` body, and a note when it was generalised."""

    tex: str
    explicit: bool = True
    note: str = ""
    lines: list = field(default_factory=list)


# -- the printer --------------------------------------------------------------------------------
class DerivationPrinter:
    """Prints SymPy expressions, matrices and the engine's derivation objects as book LaTeX."""

    def __init__(self, explicit_max=4, line_em=LINE_EM, page_lines=PAGE_LINES):
        self.explicit_max = explicit_max
        self.line_em = line_em
        self.page_lines = page_lines

    def doprint(self, obj):
        """Dispatch on the object's class (and its bases), as SymPy's printers do."""
        for cls in type(obj).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(obj)
        raise TypeError(f"no LaTeX form for {type(obj).__name__}")

    # -- scalars and matrices ----------------------------------------------------------------
    def _print_Basic(self, expr, names=None):
        expr = tidy_signs(expr)
        table = {s: s.name if "{" in s.name else latex_name(s) for s in expr.free_symbols if isinstance(s, sp.Symbol)}
        table.update({_Y: "y", _A: "a", _Z: "z", _N: "n"})
        table.update(names or {})
        return sp.latex(expr, symbol_names=table)

    def _print_int(self, value):
        return str(value)

    def _print_MatrixBase(self, matrix):
        rows = [" & ".join(self.doprint(v) for v in matrix.row(i)) for i in range(matrix.rows)]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"

    def _print_ColumnOfMatrices(self, column):
        cells = [self.doprint(entry) for entry in column]
        return r"\begin{bmatrix} " + r" \\[5pt] ".join(cells) + r" \end{bmatrix}"

    def matrix_size(self, matrix, nested_rows=1):
        """(width in ems, height in lines) of a matrix printed by :meth:`_print_MatrixBase`."""
        cells = [[self.doprint(v) for v in matrix.row(i)] for i in range(matrix.rows)]
        widths = [max(tex_width(row[j]) for row in cells) for j in range(matrix.cols)]
        tall = sum(1.8 if any(r"\frac" in c or "cases" in c for c in row) else 1.0 for row in cells)
        return sum(widths) + 0.9 * (matrix.cols - 1) + 1.2, tall * nested_rows

    def fits(self, *sizes, lead=6.0):
        """Whether blocks of (width, height) side by side fit one display line and page."""
        return (lead + sum(w for w, _ in sizes) <= self.line_em
                and max((h for _, h in sizes), default=0) <= self.page_lines)

    def small(self, *dims):
        return all(d <= self.explicit_max for d in dims)

    # -- activations, costs and the output delta ---------------------------------------------------
    def _print_Activation(self, act):
        """a(y) for one entry; softmax as the ratio of exponentials."""
        if not act.elementwise:
            T = act.temperature
            k = "" if T == 1 else f"/{self.doprint(T)}"
            return rf"a_{{i}}(\mathbf{{y}}) = \frac{{e^{{y_{{i}}{k}}}}}{{\sum_{{k=1}}^{{n}} e^{{y_{{k}}{k}}}}}"
        return rf"a(y) = {self.doprint(act.formula)}"

    def _print_Cost(self, cost):
        term = self.doprint(cost.term.xreplace({_A: display_symbol("a_i"), _Z: display_symbol("z_i")}))
        return rf"E = \frac{{1}}{{n}} \sum_{{i=1}}^{{n}} e(a_{{i}}, z_{{i}}), \qquad e(a_i, z_i) = {term}"

    def _print_OutputDelta(self, found):
        r"""delta^L_i as first assembled and as simplified (symbolic n outputs)."""
        names = {display_symbol("a_i"): "a_{i}", display_symbol("z_i"): "z_{i}"}
        naive, simple = (self._indexed(e) for e in (found.naive, found.simplified))
        lhs = r"\delta^{L}_{j}" if "j" in self._print_Basic(simple, names) else r"\delta^{L}_{i}"
        text = rf"{lhs} &= {self._print_Basic(naive, names)}"
        if sp.srepr(found.naive) != sp.srepr(found.simplified):
            text += rf" \\ &= {self._print_Basic(simple, names)}"
        return text

    @staticmethod
    def _indexed(expr):
        """a, z (element-wise pair) -> a_i, z_i; softmax's IndexedBase entries print as a_{j} already."""
        return expr.xreplace({_A: display_symbol("a_i"), _Z: display_symbol("z_i"), _Y: display_symbol("y_i")})

    # -- the derivation of a layer, step by step ---------------------------------------------
    def layer_pieces(self, layer):
        """Every step of layer l (book route of sec. 4.2-4.7) as :class:`Piece` objects, by name."""
        pieces = {"forward": self.forward(layer), "da_dy": self.da_dy(layer), "dy_dW": self.dy_dW(layer),
                  "chain": self.chain(layer), "delta": self.delta(layer), "dE_dW": self.dE_dW(layer),
                  "dE_db": self.dE_db(layer)}
        if layer.is_output:
            pieces["dE_da"] = self.dE_da(layer)
        return pieces

    def _print_LayerDerivation(self, layer):
        order = ("forward", "dE_da", "da_dy", "dy_dW", "chain", "delta", "dE_dW", "dE_db")
        pieces = self.layer_pieces(layer)
        body = r" \\[6pt] ".join(pieces[k].tex for k in order if k in pieces)
        return r"\begin{aligned} " + body + r" \end{aligned}"

    def _print_Derivation(self, derivation):
        return r" \\[10pt] ".join(self._print_LayerDerivation(layer) for layer in reversed(list(derivation)))

    def forward(self, layer):
        """y^l = W^l s^{l-1} + b^l and a^l = a(y^l) (eq. 6, 11, 47)."""
        l, net = layer.l, layer.network
        head = rf"{Y_(l)} &= {W_(l)} {S_(l)} + {B_(l)}"
        act = self._activation_entry(layer)
        W, s, b = (net.W(l), layer.s, net.b(l)) if self.small(layer.n, layer.m) else (None, None, None)
        if W is not None and self.fits(
                self.matrix_size(sp.Matrix(layer.y)), self.matrix_size(W), self.matrix_size(s), self.matrix_size(b)):
            tex = (head + rf" \\ {self.doprint(sp.Matrix(layer.y))} &= {self.doprint(W)} {self.doprint(s)} "
                   rf"+ {self.doprint(b)} \\ {act}")
            return Piece(tex)
        si = self._s_entry(layer, "j")
        tex = (head + rf", \qquad y^{{{l}}}_{{i}} = \sum_{{j=1}}^{{{layer.m}}} w^{{{l}}}_{{i,j}}\, {si} + b^{{{l}}}_{{i}}"
               rf", \quad i = 1, \dots, {layer.n} \\ {act}")
        return Piece(tex, False, self._why(layer.n, layer.m))

    def _activation_entry(self, layer):
        l, act = layer.l, layer.activation
        if not act.elementwise:
            T = act.temperature
            k = "" if T == 1 else f"/{self.doprint(T)}"
            return (rf"{A_(l)} &= \operatorname{{softmax}}({Y_(l)}), \qquad a^{{{l}}}_{{i}} = "
                    rf"\frac{{e^{{y^{{{l}}}_{{i}}{k}}}}}{{\sum_{{k=1}}^{{{layer.n}}} e^{{y^{{{l}}}_{{k}}{k}}}}}")
        formula = self.doprint(act.formula.xreplace({_Y: display_symbol(f"y{l}_i")}))
        return rf"{A_(l)} &= a({Y_(l)}), \qquad a^{{{l}}}_{{i}} = {formula}"

    def dE_da(self, layer):
        """dE/da^L, a 1 x n_L row (appendix C; the cost tables of sec. 3.5)."""
        L, n = layer.l, layer.n
        head = rf"\frac{{\partial E}}{{\partial {A_(L)}}} &= "
        if self.small(n):
            row = layer.dE_da
            if self.fits(self.matrix_size(row)):
                return Piece(head + self.doprint(row))
            if self.fits(self.matrix_size(row.T), (1.0, 0)):
                return Piece(head + self.doprint(row.T) + r"^{\top}")
        general = layer.network.cost.derivative.xreplace({_A: display_symbol(f"a{L}_i"), _Z: display_symbol("z_i")}) / n
        tex = (head + rf"\begin{{bmatrix}} \dfrac{{\partial E}}{{\partial a^{{{L}}}_{{1}}}} & \cdots & "
               rf"\dfrac{{\partial E}}{{\partial a^{{{L}}}_{{{n}}}}} \end{{bmatrix}}, \qquad "
               rf"\frac{{\partial E}}{{\partial a^{{{L}}}_{{i}}}} = {self.doprint(general)}")
        return Piece(tex, False, self._why(n))

    def da_dy(self, layer):
        """da^l/dy^l (eq. 14): diagonal a'(y_i) for element-wise a, full for softmax."""
        l, n, act = layer.l, layer.n, layer.activation
        head = rf"\frac{{\partial {A_(l)}}}{{\partial {Y_(l)}}} &= "
        if self.small(n):
            J = self._jacobian_in_a(layer)
            if self.fits(self.matrix_size(J)):
                return Piece(head + self.doprint(J))
        if act.elementwise:
            d = self._derivative_entry(layer)
            tex = (head + rf"\operatorname{{diag}}\bigl(a'(y^{{{l}}}_{{1}}), \dots, a'(y^{{{l}}}_{{{n}}})\bigr), "
                   rf"\qquad a'(y^{{{l}}}_{{i}}) = {d}")
        else:
            entry, (a, i, j) = act.jacobian_entry
            e = self.doprint(entry.xreplace({a[i]: display_symbol(f"a{l}_i"), a[j]: display_symbol(f"a{l}_j")}))
            tex = head + rf"\Bigl[\frac{{\partial a^{{{l}}}_{{i}}}}{{\partial y^{{{l}}}_{{j}}}}\Bigr]_{{i,j=1}}^{{{n}}}, \qquad " \
                rf"\frac{{\partial a^{{{l}}}_{{i}}}}{{\partial y^{{{l}}}_{{j}}}} = {e}"
        return Piece(tex, False, self._why(n))

    def _derivative_entry(self, layer):
        """a'(y^l_i) as SymPy derived it, and through a^l_i when the activation allows (e.g. a(1 - a))."""
        l, act = layer.l, layer.activation
        text = self.doprint(act.derivative.xreplace({_Y: display_symbol(f"y{l}_i")}))
        if act.derivative_in_a is not None and act.derivative_in_a != act.derivative:
            text += " = " + self.doprint(act.derivative_in_a.xreplace({_A: display_symbol(f"a{l}_i")}))
        return text

    def _jacobian_in_a(self, layer):
        """da/dy with a'(y) written through a where possible (sigmoid: a(1 - a)), else in y."""
        act, a = layer.activation, layer.a
        if act.elementwise:
            if act.derivative_in_a is not None:
                return sp.diag(*[act.derivative_in_a.xreplace({_A: ai}) for ai in a])
            return sp.diag(*layer.da_dy_diagonal)
        entry, (base, i, j) = act.jacobian_entry
        n = layer.n
        return sp.Matrix(n, n, lambda r, c: entry.xreplace({i: r + 1, j: c + 1}).doit()
                         .xreplace({base[k + 1]: a[k] for k in range(n)}))

    def dy_dW(self, layer):
        """dy^l/dW^l, the column-vector of n_l matrices of size n_l x m (eq. 16-17)."""
        l, n, m = layer.l, layer.n, layer.m
        head = rf"\frac{{\partial {Y_(l)}}}{{\partial {W_(l)}}} &= "
        column = layer.dy_dW
        if self.small(n, m):
            w, h = self.matrix_size(column[0], nested_rows=n)
            if self.fits((w + 1.2, h)):
                return Piece(head + self.doprint(column))
        s = [self._s_entry(layer, k) for k in (1, m)]
        tex = (head + rf"\begin{{bmatrix}} \partial y^{{{l}}}_{{1}} / \partial {W_(l)} \\ \vdots \\ "
               rf"\partial y^{{{l}}}_{{i}} / \partial {W_(l)} \\ \vdots \\ \partial y^{{{l}}}_{{{n}}} / \partial {W_(l)}"
               rf" \end{{bmatrix}}, \qquad \frac{{\partial y^{{{l}}}_{{i}}}}{{\partial {W_(l)}}} = "
               rf"\begin{{bmatrix}} 0 & \cdots & 0 \\ \vdots & & \vdots \\ {s[0]} & \cdots & {s[1]} \\ "
               rf"\vdots & & \vdots \\ 0 & \cdots & 0 \end{{bmatrix}} "
               rf"\begin{{matrix}} \\ \\ \leftarrow \text{{row }} i \\ \\ \\ \end{{matrix}}")
        return Piece(tex, False, self._why(n, m, tall=True))

    def chain(self, layer):
        """The long chain of eq. 50-51 for dE/dW^l, each factor with its size (sec. 4.7)."""
        l, d = layer.l, layer.derivation
        L, sizes = d.L, d.network.sizes
        factors = [(rf"\frac{{\partial E}}{{\partial {A_(L)}}}", f"1 \\times {sizes[L]}")]
        for k in range(L, l, -1):
            factors.append((rf"\frac{{\partial {A_(k)}}}{{\partial {Y_(k)}}}", f"{sizes[k]} \\times {sizes[k]}"))
            factors.append((W_(k), f"{sizes[k]} \\times {sizes[k - 1]}"))
        factors.append((rf"\frac{{\partial {A_(l)}}}{{\partial {Y_(l)}}}", f"{sizes[l]} \\times {sizes[l]}"))
        factors.append((rf"\frac{{\partial {Y_(l)}}}{{\partial {W_(l)}}}",
                        rf"{sizes[l]} \times 1\ \text{{of}}\ {sizes[l]} \times {sizes[l - 1]}"))
        cells = [rf"\underbrace{{{f}}}_{{{s}}}" for f, s in factors]
        per_line = 5
        lines = [r"\;".join(cells[i:i + per_line]) for i in range(0, len(cells), per_line)]
        tex = rf"\frac{{\partial E}}{{\partial {W_(l)}}} &= " + r" \\ &\qquad \cdot ".join(lines)
        return Piece(tex)

    def delta(self, layer):
        """delta^l: (dE/da^L da^L/dy^L)^T at the output (eq. 54), a'(y^l) (.) (W^{l+1})^T delta^{l+1} below (eq. 65)."""
        l, n = layer.l, layer.n
        net, act = layer.network, layer.activation
        if layer.is_output:
            head = (rf"{D_(l)} &= \Bigl(\frac{{\partial E}}{{\partial {A_(l)}}}"
                    rf"\frac{{\partial {A_(l)}}}{{\partial {Y_(l)}}}\Bigr)^{{\top}}")
        else:
            prefix = rf"a'({Y_(l)}) \odot" if act.elementwise else \
                rf"\Bigl(\frac{{\partial {A_(l)}}}{{\partial {Y_(l)}}}\Bigr)^{{\top}}"
            head = rf"{D_(l)} &= {prefix} ({W_(l + 1)})^{{\top}} {D_(l + 1)}"
        if self.small(n, layer.derivation.network.sizes[min(l + 1, layer.derivation.L)]):
            entries = self._delta_entries(layer)
            if self.fits(self.matrix_size(entries), lead=10.0):
                return Piece(head + r" \\ &= " + self.doprint(entries), lines=list(entries))
        if layer.is_output:
            i_entry = self._output_delta_entry(layer)
        elif act.elementwise:
            i_entry = (rf"a'(y^{{{l}}}_{{i}}) \sum_{{k=1}}^{{{net.n(l + 1)}}} w^{{{l + 1}}}_{{k,i}}\, "
                       rf"\delta^{{{l + 1}}}_{{k}}")
        else:
            i_entry = (rf"\sum_{{j=1}}^{{{n}}} \frac{{\partial a^{{{l}}}_{{j}}}}{{\partial y^{{{l}}}_{{i}}}} "
                       rf"\sum_{{k=1}}^{{{net.n(l + 1)}}} w^{{{l + 1}}}_{{k,j}}\, \delta^{{{l + 1}}}_{{k}}")
        tex = head + rf", \qquad \delta^{{{l}}}_{{i}} = {i_entry}, \quad i = 1, \dots, {n}"
        return Piece(tex, False, self._why(n, layer.derivation.network.sizes[min(l + 1, layer.derivation.L)]))

    def _delta_entries(self, layer):
        """delta^l entry by entry, with a'(y) written through a where the activation allows."""
        l, n, net = layer.l, layer.n, layer.network
        J = self._jacobian_in_a(layer)
        if layer.is_output:
            return sp.Matrix([tidy(v) for v in (layer.dE_da * J).T])
        back = net.W(l + 1).T * net.delta_local(l + 1)
        if layer.activation.elementwise:
            return sp.Matrix([sp.Mul(J[i, i], back[i], evaluate=False) for i in range(n)])
        return J.T * back

    def _output_delta_entry(self, layer):
        """delta^L_i through the engine's simplification (module :mod:`symbackprop.engine.simplify`)."""
        L, n = layer.l, layer.n
        found = layer.derivation.output_delta
        expr = found.simplified.xreplace({_N: n})
        expr = expr.xreplace({_A: display_symbol(f"a{L}_i"), _Z: display_symbol("z_i"), _Y: display_symbol(f"y{L}_i")})
        text = self.doprint(expr)
        return text.replace("{a}_{j}", f"a^{{{L}}}_{{i}}").replace("{z}_{j}", "z_{i}").replace(
            "{a}_{i}", f"a^{{{L}}}_{{k}}").replace("{z}_{i}", "z_{k}").replace("i=1", "k=1")

    def dE_dW(self, layer):
        """dE/dW^l = (dE/dy^l) dy^l/dW^l = sum_i delta^l_i dy^l_i/dW^l = delta^l (x) s^{l-1} (eq. 61, 66-68, 76)."""
        l, n, m = layer.l, layer.n, layer.m
        tex = (rf"\frac{{\partial E}}{{\partial {W_(l)}}} &= \frac{{\partial E}}{{\partial {Y_(l)}}}"
               rf"\frac{{\partial {Y_(l)}}}{{\partial {W_(l)}}} = \sum_{{i=1}}^{{{n}}} \delta^{{{l}}}_{{i}}"
               rf"\frac{{\partial y^{{{l}}}_{{i}}}}{{\partial {W_(l)}}} \\ &= {D_(l)} \otimes {S_(l)} "
               rf"= {D_(l)} ({S_(l)})^{{\top}}")
        if self.small(n, m) and self.fits(self.matrix_size(layer.dE_dW)):
            return Piece(tex + r" = " + self.doprint(layer.dE_dW))
        si = self._s_entry(layer, "j")
        tex += (rf", \qquad \Bigl[\frac{{\partial E}}{{\partial {W_(l)}}}\Bigr]_{{i,j}} = \delta^{{{l}}}_{{i}}\, {si}"
                rf"\quad ({n} \times {m})")
        return Piece(tex, False, self._why(n, m))

    def dE_db(self, layer):
        """dE/db^l = (dE/dy^l dy^l/db^l)^T = delta^l, since dy^l/db^l = I (eq. 19, 62-64, 72-73)."""
        l, n = layer.l, layer.n
        tex = (rf"\frac{{\partial E}}{{\partial {B_(l)}}} &= \Bigl(\frac{{\partial E}}{{\partial {Y_(l)}}}"
               rf"\underbrace{{\frac{{\partial {Y_(l)}}}{{\partial {B_(l)}}}}}_{{I_{{{n}}}}}\Bigr)^{{\top}} = {D_(l)}")
        if self.small(n):
            return Piece(tex + " = " + self.doprint(layer.dE_db))
        return Piece(tex + rf", \qquad \frac{{\partial E}}{{\partial b^{{{l}}}_{{i}}}} = \delta^{{{l}}}_{{i}}", False,
                     self._why(n))

    # -- helpers -----------------------------------------------------------------------------------
    def _s_entry(self, layer, k):
        return f"x_{{{k}}}" if layer.l == 1 else f"a^{{{layer.l - 1}}}_{{{k}}}"

    def _why(self, *dims, tall=False):
        if not self.small(*dims):
            return f"general form: {max(dims)} exceeds --explicit-max {self.explicit_max}"
        if tall:
            return "general form: the explicit column of matrices is taller than a page"
        return "general form: the explicit matrix is wider than the page"


def layer_latex(layer_derivation, explicit_max=4):
    """Jupyter's rendering of one :class:`~symbackprop.engine.jacobians.LayerDerivation` (display math)."""
    return "$$" + DerivationPrinter(explicit_max).doprint(layer_derivation) + "$$"


def derivation_latex(derivation, explicit_max=4):
    """Jupyter's rendering of a whole :class:`~symbackprop.engine.jacobians.Derivation`, layer L first."""
    return "$$" + DerivationPrinter(explicit_max).doprint(derivation) + "$$"
