"""Appendices A-C: norms (definition 1, the proof and the corollary), the derivatives of y_i (eq. 93-95) and
the derivatives of vector functions (eq. 96-101)."""
import numpy as np
import sympy as sp

from symbackprop.book.model import FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import latex, layer

PART = Part("appendix A")
claim = PART.claim


def _norm_violations(norms, draws=200, seed=5):
    """Largest violation of homogeneity, the triangle inequality and positivity over random draws (float64)."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(draws):
        u, v, c = rng.normal(size=4), rng.normal(size=4), rng.normal()
        for f in norms.values():
            worst = max(worst, abs(f(c * u) - abs(c) * f(u)), f(u + v) - f(u) - f(v), -f(u))
    return worst


@claim("appA.definition", "appendix A, definition 1 and proof",
       r"a norm satisfies $N(x)>0$ for $x\ne0$, $N(a\cdot x)=|a|\,N(x)$, $N(x+y)\le N(x)+N(y)$; hence $N(0)=0$ is "
       r"its minimum", passage="Thus, the minimum value of \\( N\\) is \\( 0\\), and it, as we have seen, occurs at the "
                               "vector \\( 0\\).")
def norm_minimum_is_at_zero():
    norms = {"L1": lambda v: np.abs(v).sum(), "L2": np.linalg.norm, "max": lambda v: np.abs(v).max()}
    worst = _norm_violations(norms)
    zero = sp.Abs(0) * sp.Symbol("N_x")
    return expect(worst < 1e-12 and zero == 0, "the three conditions hold for the L1, L2 and max norms, and "
                  "N(0) = N(0 x) = |0| N(x) = 0", [f"200 random draws in R^4: worst violation {max(worst, 0.0):.1e}"],
                  compared=[Comparison("the proof's step", r"N(0\cdot x)", latex(zero), "item 2 with a = 0")],
                  values={"worst": worst})


@claim("appA.scalar_norm", "appendix A, definition 1, item 2", r"$N(a\cdot x)=N(a)\cdot N(x)=|a|\cdot N(x)$",
       passage="\\( N(a\\cdot x)=N(a)\\cdot N(x)=|a|\\cdot N(x)\\)")
def homogeneity_needs_absolute_value():
    def N(v):  # a norm on V = R: twice the absolute value
        return 2 * abs(v)
    a, x = 3, 1
    return finding(FAILS, "$N$ is defined on the vector space $V$, not on the scalars; even where it applies to a "
                   "scalar, $N(a)N(x)$ is not $|a|N(x)$", [(f"V = R, N(x) = 2|x|: N({a} x) = {N(a * x)}, |a| N(x) = "
                                                           f"{abs(a) * N(x)}, N(a) N(x) = {N(a) * N(x)}")],
                   correct=r"$N(a\cdot x)=|a|\cdot N(x)$ for every $a\in\mathbb{R}$, $x\in V$",
                   counterexample="V = R with the norm N(x) = 2|x|, a = 3, x = 1: N(3) = 6 = |3| N(1), but "
                                  "N(3) N(1) = 12", reading="the middle member $N(a)\\cdot N(x)$ dropped",
                   values={"N(ax)": N(a * x), "abs_a_N(x)": abs(a) * N(x), "N(a)N(x)": N(a) * N(x)})


@claim("appA.corollary", "appendix A, corollary", r"if $N(x-y)$ reaches its minimum then $x-y=0$",
       passage="The difference \\( x-y\\) must be zero if the norm \\( N(x-y)\\) reaches its minimum value.")
def minimum_only_at_equality():
    v = np.array([3.0, -4.0])
    return expect(np.linalg.norm(v) > 0, "by item 1, N(x - y) > 0 = N(0) whenever x != y, so the minimum is only at "
                  "x = y", compared=[Comparison("the L2 norm", r"N((3,-4))", f"{np.linalg.norm(v)}", "> N(0) = 0")])


@claim("appA.proposition_reference", "appendix A, proof of the corollary", r"``self-evident in light of "
       r"Proposition 1''", passage="The validity of this corollary is self-evident in light of Proposition 1.")
def corollary_cites_appendix_g():
    from symbackprop.book.preface import HEADINGS

    where = [h for h in HEADINGS if h.startswith("Appendix G")]
    return finding(FAILS, "appendix A has a definition, a proof and a corollary but no Proposition 1; the only "
                   "Proposition 1 is in appendix G (the batch error is a norm), which does not imply this corollary",
                   [f"Proposition 1 is stated in \u201c{where[0]}\u201d"],
                   correct="self-evident in light of the proof above (the minimum of $N$ is $0$, at the vector $0$) "
                           "and item 1 of Definition 1",
                   counterexample="appendix A numbers only \u201cDefinition 1\u201d; appendix G's Proposition 1 "
                                  "assumes E_j is a norm and concludes E is one, saying nothing about minima",
                   reading="\u201cProposition 1\u201d read as the proof that precedes the corollary",
                   values={"proposition_in": where[0][:10]})


# -- appendix B ------------------------------------------------------------------------------------------
@claim("appB.dy_dW", "appendix B.1, eq. 93-94",
       r"$\frac{\partial y_i}{\partial W_i}=s^T$ and $\frac{\partial y_i}{\partial W_l}=0$ for $i\ne l$",
       reconstructed=True, equations=(93, 94), chapter="appendix B",
       passage="In this way, it also becomes clear why \\( \\frac{\\partial y_i}{\\partial W_l}=0\\) for \\( i\\ne l\\).")
def row_derivatives_of_y():
    _net, W, b, x = layer(3, 3)
    y = W * x + b
    ok = all(sp.Matrix([[sp.diff(y[i], w) for w in W.row(k)]]) == (x.T if i == k else sp.zeros(1, 3))
             for i in range(3) for k in range(3))
    return expect(ok, "y_i depends on row W_i only, with derivative x^T", ["3 x 3 layer: all 9 row derivatives"],
                  compared=[Comparison("$\\frac{\\partial y_1}{\\partial W_1}$ (sp.diff)",
                                       latex(sp.Matrix([[sp.diff(y[0], w) for w in W.row(0)]])), latex(x.T),
                                       "entry by entry")])


@claim("appB.dy_db", "appendix B.2, eq. 95", r"$\nabla_by_I=1_I$, so $\frac{\partial y}{\partial b}=I$",
       reconstructed=True, equations=(95,), chapter="appendix B",
       passage="we write \\( 1_I\\) to indicate that the unit '1' only occurs at position \\( I\\)")
def bias_derivatives_of_y():
    _net, W, b, x = layer(2, 3)
    J = (W * x + b).jacobian(list(b))
    return expect(J == sp.eye(3), "row I of dy/db is the unit row 1_I",
                  compared=[Comparison("$\\frac{\\partial y}{\\partial b}$ (sp.jacobian)", latex(J), "I_3",
                                       "entry by entry")])


# -- appendix C ------------------------------------------------------------------------------------------
XS = sp.Matrix(sp.symbols("x1:4", real=True))


@claim("appC.gradient_row", "appendix C, eq. 96", r"for $f:\mathbb{R}^n\to\mathbb{R}$, "
       r"$\frac{\partial f}{\partial x}=[\frac{\partial f}{\partial x_1}\cdots\frac{\partial f}{\partial x_n}]$ has one "
       r"row and $n$ columns; for $n=1$ it is a scalar", reconstructed=True, equations=(96,), chapter="appendix C",
       passage="the derivative \\( \\frac{\\partial f}{\\partial x}\\) is a vector with one row and \\( n\\) columns.")
def scalar_function_gradient_is_a_row():
    f = sp.Matrix([XS[0] * XS[1] + sp.sin(XS[2])])
    g = sp.Matrix([XS[0] ** 2]).jacobian([XS[0]])
    return expect(f.jacobian(XS).shape == (1, 3) and g.shape == (1, 1), "SymPy's Jacobian of a scalar function is "
                  "a row; of a function of one variable, a 1 x 1 matrix", compared=[
                      Comparison("$f=x_1x_2+\\sin x_3$", latex(f.jacobian(XS)), r"1\times3", "sp.jacobian")],
                  values={"shape": f.jacobian(XS).shape})


@claim("appC.jacobian", "appendix C, eq. 97-98", r"for $f:\mathbb{R}^n\to\mathbb{R}^m$ the derivative is an "
       r"$m\times n$ matrix: the codomain gives the rows, the domain the columns", reconstructed=True,
       equations=(97, 98), chapter="appendix C", passage="Note that this matrix has \\( m\\) rows and \\( n\\) columns")
def vector_function_jacobian_shape():
    g = sp.Matrix([XS[0] ** 2, XS[1] * XS[2]])
    return expect(g.jacobian(XS).shape == (2, 3), "R^3 -> R^2 gives a 2 x 3 Jacobian", compared=[
        Comparison("$g=(x_1^2,\\ x_2x_3)$", latex(g.jacobian(XS)), r"2\times3", "sp.jacobian")],
        values={"shape": g.jacobian(XS).shape})


@claim("appC.column_of_matrices", "appendix C, eq. 99", r"by a $q\times r$ matrix $W$, "
       r"$\frac{\partial f}{\partial W}$ of $f:\mathbb{R}^{q\times r}\to\mathbb{R}^m$ is a column of $m$ matrices "
       r"$q\times r$", reconstructed=True, equations=(99,), chapter="appendix C",
       passage="Note that the elements of the column-vector above are, in fact, matrices.")
def derivative_by_a_matrix():
    _net, W, _b, x = layer(3, 2)
    col = [W.applyfunc(lambda w, v=v: sp.diff(v, w)) for v in W * x]
    return expect(len(col) == 2 and all(c.shape == W.shape for c in col), "f = W x with W 2 x 3: a column of 2 "
                  "matrices 2 x 3", compared=[Comparison("entry 1", r"\frac{\partial f_1}{\partial W}",
                                                         latex(col[0]), "sp.diff entry by entry")])


@claim("appC.rows", "appendix C, eq. 100-101", r"a matrix is a column-vector whose elements are its rows, so "
       r"$\frac{\partial f_i}{\partial W}=[\frac{\partial f_i}{\partial W_1};\dots;\frac{\partial f_i}{\partial W_q}]$ "
       r"and eq. 99 becomes a column of columns of rows", reconstructed=True, equations=(100, 101),
       chapter="appendix C", passage="Note carefully that a matrix is a column-vector whose elements are the rows of "
                                     "that matrix.")
def matrix_as_column_of_rows():
    _net, W, b, x = layer(3, 2)
    f = W * x + b
    by_rows = [sp.Matrix.vstack(*[sp.Matrix([[sp.diff(f[i], w) for w in W.row(k)]]) for k in range(2)])
               for i in range(2)]
    whole = [W.applyfunc(lambda w, v=f[i]: sp.diff(v, w)) for i in range(2)]
    return expect(by_rows == whole, "stacking the row derivatives df_i/dW_k gives df_i/dW, for every i",
                  compared=[Comparison("$i=2$, $f=Wx+b$", r"\begin{bmatrix}\partial f_2/\partial W_1\\"
                                       r"\partial f_2/\partial W_2\end{bmatrix}", latex(whole[1]), "entry by entry")])
