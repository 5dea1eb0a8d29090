"""docs/book_claims_ch3-5.tex, the worked example: the book's chapters 3-5 as LaTeX claims, checked.

Every claim of the file must hold except the book's known slips, which must be caught with the evidence
that names them: the table's BCE derivative without the 1/n of its E (the two sides differ by the factor
n), ReLU's derivative written max{0, 1} (1 where relu' is 0), softmax's a_i(1 - a_i) taken for the whole
Jacobian (its off-diagonal entries -a_i a_j are not 0), and delta^L = (a - z)/n, true only for the pairs
whose singular factor cancels.
"""
from pathlib import Path

import sympy as sp

from symbackprop.claims import check_file

BOOK = Path(__file__).parent.parent / "docs" / "book_claims_ch3-5.tex"


def test_the_book_claims_of_chapters_3_to_5():
    report = check_file(BOOK)
    by_verdict = {}
    for r in report:
        by_verdict.setdefault(r.verdict, []).append(r)
    assert not report.notes and "unread" not in by_verdict and "ill-formed" not in by_verdict
    assert len(by_verdict["holds"]) >= 40 and len(by_verdict["skipped"]) == 1  # the update rule, a definition
    # the MAE row, written with bars, and its derivative (a_i - z_i)/(n |a_i - z_i|) hold
    assert [r.verdict for r in report if "|a^{L}_{i} - z_{i}|" in r.latex] == ["holds", "holds"]

    bce, relu, softmax = by_verdict["fails"]
    # BCE: the book's (a - z)/(a(1 - a)) is n times the derivative of its own E = -(1/n) sum ...
    assert "a^{L}_{i}(1 - a^{L}_{i})" in bce.latex
    n = 3  # the directive's 4-3 network
    assert abs(sp.Float(bce.counterexample["right"]) - n * sp.Float(bce.counterexample["left"])) < 1e-6
    # ReLU: max{0, 1} = 1, relu'(y) = 0 for y < 0
    assert "ReLU" in relu.latex and relu.counterexample["left"] == "0"
    # softmax: a diagonal matrix against the full Jacobian diag(a) - a a^T
    left = sp.Matrix(sp.sympify(softmax.counterexample["left"]))
    assert "diag" in softmax.latex and any(abs(left[i, j]) > 1e-3 for i in range(3) for j in range(3) if i != j)

    (delta,) = by_verdict["conditional"]
    assert "the targets sum to 1" in delta.condition


def test_scalar_claims_of_the_tables_are_proved_exactly():
    # sigma' = e^{-y}/(1 + e^{-y})^2 = sigma (1 - sigma), tanh' = 1 - tanh^2: exact for every real y
    exact = [r for r in check_file(BOOK) if r.method == "exact"]
    assert len(exact) == 3
