"""Chapter 3, sec. 3.1-3.6: one layer's gradients (eq. 12-19), the update (eq. 20-23), and the table of
derivatives of sec. 3.5, row by row as printed (the listing of sec. 3.7 is :mod:`symbackprop.book.ch3_listing`).
"""
import sympy as sp

from symbackprop.book.model import CONDITIONAL, FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import DIGITS, forms_finding, latex, network_forms
from symbackprop.engine.activations import get_activation
from symbackprop.engine.costs import get_cost
from symbackprop.engine.simplify import output_delta
from symbackprop.engine.zero import is_zero

PART = Part("ch. 3")
claim = PART.claim
ONE_LAYER = ("3,2", "sigmoid", "mse")


@claim("eq15.chain", "eq. 12-15, sec. 3.2-3.3",
       r"$E=E(a(y(W,b)))$ and $\frac{\partial E}{\partial W}=\frac{\partial E}{\partial a}\frac{\partial a}{\partial y}"
       r"\frac{\partial y}{\partial W}$ with $\frac{\partial E}{\partial a}=\nabla_aE$ a row", reconstructed=True,
       equations=(12, 13, 14, 15), passage="Here, we need to consider the compositional structure of the error "
                                           "function,")
def one_layer_chain_rule():
    row = network_forms(*ONE_LAYER).d[1].dE_da.shape
    return forms_finding(ONE_LAYER, (1,), ("W",), (("direct", "chain"),),
                         "the chain product equals the derivative of the composed E",
                         lambda forms: (row == (1, 2), [f"dE/da has shape {row}: a row (appendix C)"]))


@claim("sec3.3.diagonal", "sec. 3.3 (after eq. 15)",
       r"each $a_i$ depends only on $y_i$, so $\frac{\partial a}{\partial y}$ is diagonal", equations=(11,),
       passage="If we analyze equation 11, we will see that each \\( a_i\\) depends only on \\( y_i\\).")
def activation_jacobian_is_diagonal():
    ys = sp.symbols("y1:3", real=True)
    J = get_activation("softmax").jacobian(list(ys))
    off = sp.simplify(J[0, 1].subs({ys[0]: 0, ys[1]: 0}))
    diag = get_activation("sigmoid").jacobian(list(ys))
    return finding(
        CONDITIONAL, "true for element-wise activations (sigmoid, tanh, ReLU); softmax, in the same table, "
        "has a full Jacobian", [f"sigmoid: $\\frac{{\\partial a}}{{\\partial y}}={latex(diag)}$ (diagonal)",
                                (f"softmax: $\\frac{{\\partial a_1}}{{\\partial y_2}}={latex(sp.simplify(J[0, 1]))}$, "
                                f"at $y=(0,0)$ it is ${latex(off)}$")],
        condition="the activation is element-wise ($a_i=a(y_i)$)", values={"softmax_off_diagonal": str(off)},
        correct=r"for softmax $\frac{\partial a_i}{\partial y_j}=a_i(\delta_{ij}-a_j)$",
        counterexample="softmax at y = (0, 0): a = (1/2, 1/2), da_1/dy_2 = -a_1 a_2 = -1/4 != 0")


@claim("eq16_17.column_of_matrices", "eq. 16-17, sec. 3.3 and appendix B",
       r"$\frac{\partial y}{\partial W}$ is a column of $n$ matrices $n\times m$; entry $i$ is zero except row $i$, "
       r"which is $x^T$; so $\frac{\partial E}{\partial W}=\sum_i\frac{\partial E}{\partial y_i}\frac{\partial y_i}"
       r"{\partial W}$", reconstructed=True, equations=(16, 17),
       passage="Therefore, the elements of the column-vector are matrices with null entries, with the sole exception "
               "of their \\( i\\)-th row.")
def column_of_matrices():
    forms = network_forms(*ONE_LAYER)
    net, d = forms.net, forms.d[1]
    y = net.W(1) * net.x + net.b(1)
    ok = len(d.dy_dW) == 2
    for i in range(2):
        by_diff = net.W(1).applyfunc(lambda w, yi=y[i]: sp.diff(yi, w))
        ok &= by_diff == d.dy_dW[i] and list(by_diff.row(i)) == list(net.x)
    shown = Comparison("entry 1 of $\\frac{\\partial y}{\\partial W}$ (2 x 3 layer)",
                       r"\frac{\partial y_1}{\partial W}\ \text{(sp.diff)}", latex(sp.Matrix(d.dy_dW[0])),
                       "entry by entry; row 1 is $x^T$, row 2 is zero")
    return forms_finding(ONE_LAYER, (1,), ("W",), (("direct", "chain"),), "sp.diff(y_i, W) is the book's entry i, "
                         "and the row-times-column sum gives dE/dW", lambda forms: (ok, [shown.text()]))


@claim("eq18.bias_only", "eq. 18, sec. 3.4", r"$E$ as a function of the biases alone: $E(a(y(b)))$, the biases "
       r"embedded with the weights in $y$", reconstructed=True, equations=(18,),
       passage="Now, let\u2019s consider it as a function of only the biases.")
def error_reaches_b_through_y():
    forms = network_forms(*ONE_LAYER)
    net = forms.net
    E = net.cost(list(net.a_local(1)), list(net.z))
    a = sp.Matrix(net.activations[1](list(net.y_local(1))))
    E_y = net.cost(list(a), list(net.z))
    by_y = sp.Matrix([sp.diff(E_y, v) for v in net.y_local(1)])
    by_b = sp.Matrix([sp.diff(net.error(), v) for v in net.b(1)])
    y_values = dict(zip(net.y_local(1), net.W(1) * net.x + net.b(1)))
    ok = is_zero(by_b - by_y.xreplace(y_values)) and E.free_symbols.isdisjoint(net.b(1))
    return expect(ok, "E depends on b only through y = Wx + b: dE/db = dE/dy at y = Wx + b",
                  compared=[Comparison("the gradient in b", r"\frac{\partial E}{\partial b}\ \text{(sp.diff)}",
                                       r"\frac{\partial E}{\partial y}\Big|_{y=Wx+b}", "difference is_zero")])


@claim("eq19.bias", "eq. 19, sec. 3.4",
       r"$\frac{\partial E}{\partial b}=\frac{\partial E}{\partial a}\frac{\partial a}{\partial y}"
       r"\frac{\partial y}{\partial b}$ with $\frac{\partial y}{\partial b}=I$", reconstructed=True, equations=(19,),
       passage="Based on the calculations we\u2019ve already done in the previous section, we can very simply write:")
def bias_gradient_chain():
    fs = network_forms(*ONE_LAYER)
    net = fs.net
    jac = (net.W(1) * net.x + net.b(1)).jacobian(list(net.b(1)))
    shown = Comparison("$\\frac{\\partial y}{\\partial b}$", latex(jac) + r"\ \text{(sp.jacobian)}",
                       latex(fs.d[1].dy_db) + r"\ \text{(the engine's dy\_db)}", "entry by entry")
    return forms_finding(ONE_LAYER, (1,), ("b",), (("direct", "chain"),), "dy/db = I and the chain gives dE/db",
                         lambda forms: (jac == fs.d[1].dy_db == sp.eye(2), [shown.text()]))


# -- table of sec. 3.5: activation derivatives, row by row, as printed, through ``symbackprop check`` ---------
#: (id, activation, the printed forms as claims in the book's notation (a_i written as the activation of y_i),
#: the statement, the correction, the table's cell)
ACTIVATION_ROWS = (
    ("table3.5.sigmoid", "sigmoid", (r"\sigma'(y) = \frac{e^{-y}}{(1 + e^{-y})^{2}}",
                                     r"\sigma'(y) = \sigma(y)(1 - \sigma(y))"),
     r"$\frac{e^{-y_i}}{(1+e^{-y_i})^2}$ or $a_i(1-a_i)$", "",
     r"\(\begin{aligned} &\frac{e^{-y_i}}{(1+e^{-y_i})^2}\\ &\text{or}\\ &a_i(1-a_i) \end{aligned}\)"),
    ("table3.5.tanh", "tanh", (r"\tanh'(y) = 1 - \tanh^{2}(y)", r"\tanh'(y) = 1 - (\tanh(y))^{2}"),
     r"$1-\tanh^2y_i$ or $1-a_i^2$", "",
     r"\(\begin{aligned} &1-tanh^2 y_i\\ &\text{or}\\ &1-a_i^2 \end{aligned}\)"),
    ("table3.5.relu", "relu", (r"\mathrm{ReLU}'(y) = \max\{0, 1\}",), r"$\max\{0,1\}$",
     (r"$\frac{da_i}{dy_i}=\begin{cases}1&y_i>0\\0&y_i<0\end{cases}=\max\{0,\operatorname{sign}y_i\}$ "
      r"(undefined at 0; 0 by convention)"), r"\(\max\{0,1\}\)"),
)
for _id, _name, _rows, _latex, _correct, _cell in ACTIVATION_ROWS:
    PART.checked(_id, f"sec. 3.5, activation table, row {_name}", rf"$\frac{{da_i}}{{dy_i}}$ = {_latex}", _rows,
                 correct=_correct,
                 passage=_cell)


@claim("table3.5.softmax", "sec. 3.5, activation table, row softmax",
       r"$\frac{da_i}{dy_i}=\frac{e^{y_i}}{\sum_j e^{y_j}}\left(1-\frac{e^{y_i}}{\sum_j e^{y_j}}\right)$ or "
       r"$a_i(1-a_i)$, as the derivative of softmax", passage=r"\(\begin{aligned} &\frac{e^{y_i}}{\sum_{j=1}^{n}e^{y_j}} \left( 1- \frac{e^{y_i}}"
                                                          r"{\sum_{j=1}^{n}e^{y_j}} \right )\\ &\text{or}\\ "
                                                          r"&a_i(1-a_i) \end{aligned}\)")
def softmax_derivative_row():
    entry, (_a, i, j) = get_activation("softmax").jacobian_entry
    diagonal = sp.factor(entry.subs(j, i))
    ys = sp.symbols("y1:3", real=True)
    exact = get_activation("softmax").jacobian(list(ys))
    a_vals = get_activation("softmax")(list(ys))
    same_diag = is_zero(exact[0, 0] - a_vals[0] * (1 - a_vals[0]))
    delta = output_delta(get_activation("softmax"), get_cost("cross_entropy")).simplified
    return finding(
        CONDITIONAL, "$a_i(1-a_i)$ is the diagonal entry only; the off-diagonal entries are $-a_ia_j$",
        [(f"with cross-entropy the full Jacobian gives $\\delta_j={latex(delta)}$ (targets summing to 1); the "
         "diagonal alone gives $-z_j(1-a_j)/n$")],
        compared=[Comparison("the engine's softmax Jacobian (IndexedBase, KroneckerDelta)",
                             r"\frac{\partial a_i}{\partial y_j}=" + latex(entry), r"a_i(1-a_i)\ \text{at } j=i",
                             f"at j = i it factors as ${latex(diagonal)}$; n = 2 explicit: the diagonal matches: "
                             f"{same_diag}; off the diagonal ${latex(sp.simplify(exact[0, 1]))}\\neq0$")],
        condition="read as the diagonal entry (the column header says $\\frac{da_i}{dy_i}$); $\\frac{\\partial a}"
                  "{\\partial y}$ is not diagonal, so the row cannot fill the diagonal matrix of sec. 3.3",
        correct=r"$\frac{\partial a_i}{\partial y_j}=a_i(\delta_{ij}-a_j)$",
        counterexample="y = (0, 0), z = (1, 0), n = 2, cross-entropy: the diagonal alone gives delta = (-1/4, 0), "
                       "the full Jacobian gives delta = ((a - z)/n) = (-1/4, 1/4)",
        values={"diagonal_matches": same_diag})


@claim("table3.5.softmax_index", "sec. 3.5, activation table, row softmax",
       r"$a_i(y)=\frac{e^{y_i}}{\sum_{i=1}^{n}e^{y_i}}$", passage="\\( a_i(y) = \\frac{e^{y_i}}{\\sum_{i=1}^{n}"
                                                                  "e^{y_i}}\\)")
def softmax_index_clash():
    i, n = sp.symbols("i n", integer=True, positive=True)
    y = sp.IndexedBase("y")
    printed = sp.exp(y[i]) / sp.Sum(sp.exp(y[i]), (i, 1, n))
    free = sorted(str(s) for s in printed.free_symbols if s != y.label)
    return finding(FAILS, "the sum's index i is the same letter as the free index of $a_i$: as printed, the "
                   "denominator binds i and the numerator's i is ambiguous",
                   [(f"free symbols of the printed form: {free}; the sum binds i, so only n and the numerator's i "
                    "are free, and the two i are different variables")],
                   correct=r"$a_i(y)=\frac{e^{y_i}}{\sum_{k=1}^{n}e^{y_k}}$ (as the table of sec. 2.4 prints it)",
                   counterexample="n = 2, i = 1: read with one i, the denominator would be n e^{y_1} = 2e^{y_1} and "
                                  "a_1 = 1/2 for every y",
                   reading="the denominator's index renamed to k", values={"free": free})


# -- table of sec. 3.5: cost derivatives, row by row, as printed -------------------------------
#: The rows the checker reads: (id, cost, the table's E and printed dE/da_i as claims, the statement, the correction).
#: Each is checked on the 4-3 network of docs/book_claims_ch3-5.tex with that cost (n = 3 outputs).
COST_ROWS = (
    ("table3.5.mse", "mse", (r"E = \frac{1}{n}\sum_{i=1}^{n} (z_{i} - a^{L}_{i})^{2}",
                             r"\frac{\partial E}{\partial a^{L}_{i}} = -\frac{2(z_{i} - a^{L}_{i})}{n}"),
     r"$E=\frac1n\sum(z_i-a_i)^2$, $\frac{dE}{da_i}=-\frac{2(z_i-a_i)}{n}$", ""),
    ("table3.5.cross_entropy", "cross_entropy", (r"E = -\frac{1}{n}\sum_{i=1}^{n} z_{i} \log a^{L}_{i}",
                                                 r"\frac{\partial E}{\partial a^{L}_{i}} = -\frac{z_{i}}{n a^{L}_{i}}"),
     r"$E=-\frac1n\sum z_i\log a_i$, $\frac{dE}{da_i}=-\frac{z_i}{na_i}$", ""),
    ("table3.5.mae", "mae", (r"E = \frac{1}{n}\sum_{i=1}^{n} |a^{L}_{i} - z_{i}|",
                             r"\frac{\partial E}{\partial a^{L}_{i}} = \frac{1}{n}\frac{a^{L}_{i} - z_{i}}{|a^{L}_{i} - z_{i}|}"),
     (r"$E=\frac1n\sum\lvert a_i-z_i\rvert$, $\frac{dE}{da_i}=\frac1n\frac{a_i-z_i}{\lvert a_i-z_i\rvert}$ "
      r"($\pm\frac1n$, $\nexists$ at $a_i=z_i$)"), ""),
    ("table3.5.bce", "bce", ((r"E = -\frac{1}{n}\sum_{i=1}^{n} \left[z_{i} \log a^{L}_{i} + (1 - z_{i}) "
                             r"\log (1 - a^{L}_{i})\right]"),
                             r"\frac{\partial E}{\partial a^{L}_{i}} = \frac{a^{L}_{i} - z_{i}}{a^{L}_{i}(1 - a^{L}_{i})}"),
     r"$E=-\frac1n\sum[z_i\log a_i+(1-z_i)\log(1-a_i)]$, $\frac{dE}{da_i}=\frac{a_i-z_i}{a_i(1-a_i)}$",
     (r"$\frac{dE}{da_i}=\frac{a_i-z_i}{n\,a_i(1-a_i)}$ (the $\frac1n$ of $E$ is missing; the printed form is right "
      r"only for $n=1$)")),
)
#: the activation each cost is checked with (softmax for cross-entropy, whose targets are a distribution)
COST_NETWORKS = {"mse": "sigmoid", "cross_entropy": "softmax", "bce": "sigmoid", "mae": "sigmoid"}


#: The cell of each row the claim quotes (the printed derivative; for MAE, its E).
COST_CELLS = {
    "table3.5.mse": r"\( -\frac{2(z_i-a_i)}{n}\)",
    "table3.5.mae": r"\( E=\frac{1}{n}\sum_{i=1}^n \begin{vmatrix}a_i-z_i\end{vmatrix}\)",
    "table3.5.cross_entropy": r"\( -\frac{z_i}{na_i}\)",
    "table3.5.bce": r"\(\frac{a_i-z_i}{a_i(1-a_i)}\)",
}
for _id, _name, _rows, _latex, _correct in COST_ROWS:
    PART.checked(_id, f"sec. 3.5, cost table, row {_name}", _latex, _rows,
                 f"layers=4,3 activations={COST_NETWORKS[_name]} loss={_name}",
                 summary=("the table's $E$ and printed $dE/da_i$ of mae equal the engine's (at $a_i=z_i$ the bars "
                          "have a corner: the printed \u201cdoes not exist\u201d is right; the checker's random points "
                          "never meet it)" if _name == "mae" else ""),
                 correct=_correct, passage=COST_CELLS[_id])


# -- sec. 3.6: the update ---------------------------------------------------------------------
def _numeric_error(forms, shift):
    """E at the forms' point with the parameters moved by ``shift`` (dict symbol -> float)."""
    point = {k: (v + sp.Float(shift.get(k, 0), DIGITS)) for k, v in forms.point.items()}
    return float(forms.E.xreplace(point).evalf(DIGITS))


@claim("eq20_23.update", "eq. 20-23, sec. 3.6",
       r"$W_{t+1}=W_t+\Delta W_t$, $\Delta W_t=-\eta\frac{\partial E}{\partial W}$ (and the same for $b$); with a "
       r"plus sign the error grows", reconstructed=True, equations=(20, 21, 22, 23),
       passage="mistakenly used a positive sign instead of a negative one, you may have noticed that the error made "
               "by the Perceptron actually only increases instead of decreasing!")
def update_rule_descends():
    forms = network_forms(*ONE_LAYER)
    net, eta = forms.net, 0.1
    gW, gb = forms.form(1, "direct", "W"), forms.form(1, "direct", "b")
    step = {w: float(g) for w, g in zip(net.W(1), gW.flatten())}
    step.update({b: float(g) for b, g in zip(net.b(1), gb.flatten())})
    before = _numeric_error(forms, {})
    down = _numeric_error(forms, {k: -eta * v for k, v in step.items()})
    up = _numeric_error(forms, {k: eta * v for k, v in step.items()})
    return expect(down < before < up, "with eta = 0.1 the minus-sign step lowers E and the plus-sign step raises it",
                  [f"dE/dW has the shape of W: {gW.shape}"],
                  compared=[Comparison("E after one step (3-2 sigmoid, MSE, 30 digits)",
                                       rf"E(W-\eta\nabla)={down:.6f}<E(W)={before:.6f}", rf"E(W+\eta\nabla)={up:.6f}",
                                       "the composed E evaluated at the moved parameters")],
                  values={"before": before, "down": down, "up": up})


@claim("sec3.6.smallest_variation", "sec. 3.6 and appendix D", r"$\frac{\partial E}{\partial W}$ points in the "
       r"direction of the greatest rate of change of $E$; its negative ``in the direction of the smallest variation''",
       passage="will point in the direction of the smallest variation.")
def negative_gradient_direction():
    import numpy as np

    g = np.array([2.0, 3.0])  # grad f of f = u^2 + 3v at (1, 0)
    angles = np.linspace(0, 2 * np.pi, 721)
    rates = np.cos(angles) * g[0] + np.sin(angles) * g[1]
    smallest_abs = float(np.abs(rates).min())
    return finding(CONDITIONAL, "$-\\nabla E$ is the direction of the most negative rate of change (steepest "
                   "descent); the smallest variation in size, 0, is across the gradient",
                   [(f"f = u^2 + 3v at (1, 0): rates over 720 unit directions range from {rates.min():.4f} = "
                    f"-|grad f| (along -grad f) to {rates.max():.4f}; the smallest |rate| is {smallest_abs:.4f}, "
                    f"perpendicular to grad f")],
                   condition="\u201csmallest variation\u201d read as the most negative rate of change (the steepest "
                             "decrease); a step along it lowers $E$ only for $\\eta$ small enough",
                   correct=r"$-\frac{\partial E}{\partial W}$ points where $E$ decreases fastest",
                   values={"min_rate": float(rates.min()), "max_rate": float(rates.max()),
                           "smallest_abs_rate": smallest_abs})
