"""symbackprop check reads the gradient \\nabla, C for the cost, |x| and norms, and literal matrices.

Each construct has a true claim (it must hold) and a planted error (it must fail), and the values the checker
gives the new constructs are compared with independent computations (NumPy on the point's numbers).
"""
import numpy as np
import pytest
import sympy as sp

from symbackprop.claims import check_text
from symbackprop.claims.grammar import parse_claim
from symbackprop.claims.meaning import Meaning
from symbackprop.claims.points import Point
from symbackprop.engine.spec import NetworkSpec

SIGMOID_MSE = "% symbackprop: layers=3,4,2 activations=tanh,sigmoid loss=mse\n"
SIGMOID_MAE = "% symbackprop: layers=3,2 activations=sigmoid loss=mae\n"


def one(claim, header=""):
    (result,) = check_text(f"{header}\\[ {claim} \\]\n")
    return result


@pytest.mark.parametrize("claim, header, verdict", [
    # Nielsen's BP1, delta^L = grad_a C (.) sigma'(z^L), in the book's letters: the gradient is the column
    (r"\delta^{L} = \nabla_{a^{L}} E \odot a'(y^{L})", SIGMOID_MSE, "holds"),
    (r"\delta^{L} = \nabla_{\mathbf{a}^{L}} C \odot \sigma'(y^{L})", SIGMOID_MSE, "holds"),
    # planted: the factor a'(y^L) left out
    (r"\delta^{L} = \nabla_{a^{L}} E", SIGMOID_MSE, "fails"),
    # the gradient with a matrix has the matrix's shape: grad_W E = delta s^T
    (r"\nabla_{W^{l}} E = \delta^{l} (s^{l-1})^{T}", SIGMOID_MSE, "holds"),
    # planted: the gradient is a column, the row dE/da^L does not equal it
    (r"\nabla_{a^{L}} E = \frac{\partial E}{\partial a^{L}}", SIGMOID_MSE, "ill-formed"),
    # MSE as a squared norm, with its 1/n; planted: the norm without its square
    (r"E = \frac{1}{n}\|a^{L} - z\|^{2}", SIGMOID_MSE, "holds"),
    (r"E = \frac{1}{n}\lVert a^{L} - z \rVert^{2}", SIGMOID_MSE, "holds"),
    (r"E = \frac{1}{n}\|a^{L} - z\|", SIGMOID_MSE, "fails"),
    # MAE with bars (and \left| \right|); planted: the bars left out
    (r"E = \frac{1}{n}\sum_{i=1}^{n} |a^{L}_{i} - z_{i}|", SIGMOID_MAE, "holds"),
    (r"E = \frac{1}{n}\sum_{i=1}^{n} \left| a^{L}_{i} - z_{i} \right|", SIGMOID_MAE, "holds"),
    (r"E = \frac{1}{n}\sum_{i=1}^{n} (a^{L}_{i} - z_{i})", SIGMOID_MAE, "fails"),
    # the book's MAE cell writes the bars as a one-entry vmatrix
    (r"E=\frac{1}{n}\sum_{i=1}^n \begin{vmatrix}a^{L}_{i}-z_{i}\end{vmatrix}", SIGMOID_MAE, "holds"),
    (r"E=\frac{1}{n}\sum_{i=1}^n \begin{vmatrix}a^{L}_{i}+z_{i}\end{vmatrix}", SIGMOID_MAE, "fails"),
    # absolute value as a scalar identity: |y| = max(y, -y); planted |y| = y
    (r"\lvert y \rvert = \max(y, -y)", "", "holds"),
    (r"|y| = y", "", "fails"),
    # literal matrices and vectors: x as the column of its entries, a product of numbers
    (r"x = \begin{bmatrix} x_{1} \\ x_{2} \\ x_{3} \end{bmatrix}", SIGMOID_MSE, "holds"),
    (r"x = \begin{bmatrix} x_{1} & x_{2} & x_{3} \end{bmatrix}", SIGMOID_MSE, "ill-formed"),
    ((r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix} \begin{pmatrix} 1 \\ 1 \end{pmatrix} = "
     r"\begin{pmatrix} 3 \\ 7 \end{pmatrix}"), "", "holds"),
    ((r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix} \begin{pmatrix} 1 \\ 1 \end{pmatrix} = "
     r"\begin{pmatrix} 3 \\ 8 \end{pmatrix}"), "", "fails"),
    ((r"W^{1} = \begin{bmatrix} w^{1}_{1,1} & w^{1}_{1,2} & w^{1}_{1,3} \\ w^{1}_{2,1} & w^{1}_{2,2} & w^{1}_{2,3} \\ "
     r"w^{1}_{3,1} & w^{1}_{3,2} & w^{1}_{3,3} \\ w^{1}_{4,1} & w^{1}_{4,2} & w^{1}_{4,3} \end{bmatrix}"), SIGMOID_MSE,
     "holds"),
])
def test_new_notation_true_and_planted(claim, header, verdict):
    r = one(claim, header)
    assert r.verdict == verdict, (r.verdict, r.evidence)


def test_nabla_and_norm_values_against_numpy():
    # at one point of a 3-2 sigmoid/MSE network: grad_a E = (2/n)(a - z) (hand derivative of (1/n)|a - z|^2, a
    # column), and (1/n)||a - z||^2 by NumPy, equal the values the checker gives the parsed notation
    point = Point(NetworkSpec.from_options("3,2", "sigmoid", "mse"), seed=5)
    W, b, x, z = (np.array(point.W[1].tolist(), dtype=float), np.array(point.b[1].tolist(), dtype=float),
                  np.array(point.quantity("x").tolist(), dtype=float), np.array(point.quantity("z").tolist(), dtype=float))
    a = 1 / (1 + np.exp(-(W @ x + b)))
    m = Meaning(point)
    grad = np.array(m.value(parse_claim(r"\nabla_{a^{1}} E = 0")[0].left).tolist(), dtype=float)
    assert grad.shape == (2, 1) and np.allclose(grad, (2 / 2) * (a - z), rtol=1e-12, atol=0)
    mse = float(m.value(parse_claim(r"\frac{1}{n}\|a^{1} - z\|^{2} = 0")[0].left))
    assert abs(mse - np.sum((a - z) ** 2) / 2) < 1e-12


def test_c_is_the_cost_only_in_a_network_claim():
    # C is the error E where the claim names the network; in a claim of real variables it is a variable
    assert one(r"C = \frac{1}{n}\|a^{L} - z\|^{2}", SIGMOID_MSE).verdict == "holds"
    assert one(r"C + y = y + C").verdict == "holds"
    assert one(r"C = 1").verdict == "fails"


def test_literal_matrix_values():
    # the parsed pmatrix is the SymPy matrix of its entries, row by row
    m = Meaning(None, variables={})
    value = m.value(parse_claim(r"\begin{pmatrix} 1 & -2 \\ \frac{1}{2} & y \end{pmatrix} = 0")[0].left)
    assert value == sp.Matrix([[1, -2], [sp.Rational(1, 2), sp.Symbol("y", real=True)]])


def test_a_matrix_in_an_align_is_one_claim():
    # the \\ and & inside a bmatrix do not split the align's row (extract)
    text = ("\\begin{align}\n x &= \\begin{bmatrix} x_{1} \\\\ x_{2} \\end{bmatrix} \\\\\n"
            "y^{1} &= W^{1} x + b^{1}\n\\end{align}\n")
    results = check_text("% symbackprop: layers=2,2 activations=sigmoid loss=mse\n" + text)
    assert [(r.line, r.verdict) for r in results] == [(3, "holds"), (4, "holds")]
