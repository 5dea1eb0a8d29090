"""LaTeX for the derivation's matrix forms, in the book's notation: one method per node, as SymPy's printers.

The forms of :mod:`symbackprop.engine.forms` are what the emitted code computes and what verification
evaluates; this printer is how the document shows them.  Named matrices take the book's letters
(W2 -> W^2, Delta2 -> Delta^2, A0 -> X), a product is a juxtaposition, (.) is the Hadamard product, a
formula applied entry by entry is written in brackets with the matrices it reads.

>>> import sympy as sp
>>> from symbackprop.engine.forms import Elementwise
>>> from symbackprop.engine.symbols import A
>>> W2, D2, A1 = sp.MatrixSymbol("W2", 3, 4), sp.MatrixSymbol("Delta2", 3, 1), sp.MatrixSymbol("A1", 4, 1)
>>> form_latex(sp.HadamardProduct(Elementwise(1 - A**2, {A: A1}), W2.T * D2))
'\\\\left[1 - a^{2}\\\\right]_{a = \\\\mathbf{A}^{1}} \\\\odot (\\\\mathbf{W}^{2})^{\\\\top} \\\\boldsymbol{\\\\Delta}^{2}'
"""
import re

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix

from symbackprop.engine.forms import Elementwise

_LETTERS = {"W": r"\mathbf{W}", "b": r"\mathbf{b}", "Y": r"\mathbf{Y}", "A": r"\mathbf{A}",
            "Delta": r"\boldsymbol{\Delta}"}


class FormLatexPrinter:
    """Prints a matrix form; ``_print_<Node>`` per node type."""

    def doprint(self, expr):
        for cls in type(expr).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(expr)
        return sp.latex(expr)

    def _print_MatrixSymbol(self, m):
        if m.name == "A0":
            return r"\mathbf{X}"
        if m.name == "Z":
            return r"\mathbf{Z}"
        found = re.fullmatch(r"([A-Za-z]+)(\d+)", m.name)
        if found and found.group(1) in _LETTERS:
            return f"{_LETTERS[found.group(1)]}^{{{found.group(2)}}}"
        return sp.latex(m)

    def _print_Transpose(self, t):
        inner = self.doprint(t.arg)
        return f"({inner})^{{\\top}}" if "^" in inner else f"{inner}^{{\\top}}"

    def _print_OneMatrix(self, o):
        rows, cols = o.shape
        if cols == 1:
            return r"\mathbf{1}"
        if rows == 1:
            return r"\mathbf{1}^{\top}"
        return r"\mathbf{1}\mathbf{1}^{\top}"

    def _print_MatMul(self, e):
        coefficient, matrices = e.as_coeff_matrices()
        parts = [self._factor(m) for m in matrices]
        text = " ".join(parts)
        if coefficient == 1:
            return text
        if coefficient == -1:
            return "-" + text
        return f"{sp.latex(coefficient)}\\, {text}"

    def _factor(self, m):
        text = self.doprint(m)
        return f"\\left({text}\\right)" if isinstance(m, (sp.MatAdd, sp.HadamardProduct)) else text

    def _print_MatAdd(self, e):
        terms = [self.doprint(t) for t in e.args]
        text = terms[0]
        for t in terms[1:]:
            text += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
        return text

    def _print_HadamardProduct(self, e):
        return r" \odot ".join(self._factor(m) for m in e.args)

    def _print_DiagMatrix(self, d):
        return rf"\operatorname{{diag}}\left({self.doprint(d.args[0])}\right)"

    def _print_Elementwise(self, e):
        at = ",\\ ".join(f"{sp.latex(s)} = {self.doprint(m)}" for s, m in e.arguments.items())
        return rf"\left[{sp.latex(e.formula)}\right]_{{{at}}}"


def form_latex(form):
    """The LaTeX of one form (see the module docstring)."""
    return FormLatexPrinter().doprint(form)


__all__ = ["DiagMatrix", "Elementwise", "FormLatexPrinter", "form_latex"]
