"""Chapter 2: weights and biases (eq. 3-5), the linearity (eq. 6), the two alternative forms of sec. 2.3
(eq. 7-10, proved by :mod:`symbackprop.engine.alternatives`), the single-layer perceptron (eq. 11), the
activation table, and training (sec. 2.5).
"""
import sympy as sp

from symbackprop.book.model import CONDITIONAL, FAILS, HOLDS, Comparison, Part, expect, finding
from symbackprop.book.shared import equal_everywhere, is_norm_of_difference, latex, layer, network_forms
from symbackprop.engine import alternatives
from symbackprop.engine.activations import get_activation
from symbackprop.engine.costs import get_cost
from symbackprop.engine.expressions import parse_expression
from symbackprop.engine.symbols import Y
from symbackprop.engine.zero import is_zero

PART = Part("ch. 2")
claim = PART.claim


@claim("eq3.W_rows_are_neurons", "eq. 3, sec. 2.1", r"$W=[w_{ij}]$: the number of rows is the number of neurons, "
       r"the number of columns the number of weights of each neuron", equations=(3,), reconstructed=True,
       passage="the number of rows in \\( W\\) is the number of neurons in the Perceptron, and the number of columns "
               "is the number of weights for each neuron.")
def weight_matrix_rows_are_neurons():
    net, W, _b, x = layer(3, 2)
    y = W * x + net.b(1)
    rows_only = all(set(y[i].free_symbols) & set(W) == set(W.row(i)) for i in range(2))
    return expect(W.shape == (2, 3) and rows_only, "neuron i (output y_i) uses exactly row i of W: 2 neurons, "
                  "3 weights each", compared=[Comparison("the weights in $y_i$", r"\{w_{i1},w_{i2},w_{i3}\}",
                                                         r"\text{row } W_i", "free symbols of each y_i")],
                  values={"shape": W.shape})


@claim("eq4.b_one_per_neuron", "eq. 4, sec. 2.1", r"$b=[b_1,\dots,b_n]^T$: one bias per neuron", equations=(4,),
       reconstructed=True, passage="The elements of \\( b\\) are the biases for each neuron.")
def bias_vector_one_per_neuron():
    _net, W, b, x = layer(3, 2)
    y = W * x + b
    ok = b.shape == (2, 1) and all(set(y[i].free_symbols) & set(b) == {b[i]} for i in range(2))
    return expect(ok, "b is a column with one entry per neuron, and y_i contains b_i alone",
                  compared=[Comparison("the bias in $y_i$", r"b_i", r"y_i-W_i\cdot x", "free symbols")],
                  values={"shape": b.shape})


@claim("eq5.single_neuron", "eq. 5, sec. 2.1", r"for a single neuron $W$ is a $1\times m$ row-vector",
       equations=(5,), reconstructed=True, passage="That is, \\( W\\) would be a \\( 1\\times m\\) matrix:")
def single_neuron_is_a_row():
    _net, W, b, x = layer(4, 1)
    y = W * x + b
    return expect(W.shape == (1, 4) and y.shape == (1, 1), "one neuron: W is 1 x 4 and y = W x + b is a single number",
                  compared=[Comparison("the linearity of one neuron", latex(y[0]), r"\sum_j w_{1j}x_j+b_1",
                                       "the engine's 4-input neuron")], values={"shape": W.shape})


@claim("ch2.layers_reference", "sec. 2.1", r"``the Perceptron itself can have layers, as we will see in Chapter 3''",
       passage="Furthermore, the Perceptron itself can have layers, as we will see in Chapter 3.")
def layers_are_in_chapter_four():
    from symbackprop.book.preface import HEADINGS

    chapter = next(h for h in HEADINGS if h.endswith("Multiple Layers"))
    return finding(FAILS, "layers are the subject of chapter 4 (Multiple Layers); chapter 3 is Artificial Learning",
                   [f"the heading of layers: \u201c{chapter}\u201d"], correct="as we will see in Chapter 4",
                   counterexample="chapter 3 (Artificial Learning) treats a single layer; \u201c4. Multiple "
                                  "Layers\u201d introduces the stacking (eq. 25-27)",
                   values={"chapter": int(chapter[0])})


@claim("eq6.forms", "eq. 6, sec. 2.2", r"$y=Wx+b$, i.e. $y_i=W_i\cdot x+b_i=\sum_{j=1}^{m}w_{ij}x_j+b_i$",
       equations=(6,), reconstructed=True, passage="Any of the expressions in (6) are sometimes simply called the "
                                                  "perceptron\u2019s linearity.")
def linearity_three_forms():
    net, W, b, x = layer()
    y = net.forward[1][0]
    explicit = sp.Matrix([sum(W[i, j] * x[j] for j in range(3)) + b[i] for i in range(2)])
    rows = sp.Matrix([(W.row(i) * x)[0] + b[i] for i in range(2)])
    ok = is_zero(y - explicit) and is_zero(rows - explicit)
    return expect(ok, "the three forms of the linearity agree entry by entry", compared=[
        Comparison("$y_1$ of a 3-input, 2-neuron layer", latex(y[0]), latex(explicit[0]), "difference is_zero")])


@claim("eq6.linearity_term", "sec. 2.2, after eq. 6", r"$y=Wx+b$ is ``the perceptron's linearity''",
       equations=(6,), passage="Any of the expressions in (6) are sometimes simply called the perceptron\u2019s "
                               "linearity.")
def linearity_is_affine():
    _net, W, b, x = layer(2, 1)
    u, v = sp.Matrix(sp.symbols("u1:3", real=True)), sp.Matrix(sp.symbols("v1:3", real=True))
    def y(s):
        return (W * s + b).xreplace(dict(zip(x, s)))
    additivity = sp.expand(y(u + v) - y(u) - y(v))
    return finding(CONDITIONAL, r"$x\mapsto Wx+b$ is affine: it is linear only when $b=0$", [
        f"one neuron, 2 inputs: $y(u+v)-y(u)-y(v)={latex(additivity[0])}$"],
        condition="\u201clinearity\u201d in the sense of machine learning (a \u201clinear layer\u201d), for an "
                  "affine map: linear in the augmented $[W\\,\\vert\\,b]\\,[x;1]$ of eq. 8-10",
        correct="$y=Wx+b$ is an affine map (a linear map plus a constant); with $b\\ne0$, $y(0)=b\\ne0$",
        values={"additivity_defect": str(additivity[0])})


@claim("eq7.xW_form", "eq. 7, sec. 2.3",
       r"$y^T=x^TW^T+b^T$: $x^T$ is a row, the columns of $W^T$ are the neurons, its rows the weights per neuron",
       equations=(7,), reconstructed=True, passage="the columns of \\( W^T\\) would be the Perceptron\u2019s "
                                                   "neurons, while the number of rows in \\( W^T\\) would be the "
                                                   "number of weights in each neuron.")
def xw_form_equals_wx():
    one, net = alternatives.xw_form(2, 3), alternatives.network_xw_form()
    W = one.evidence  # (W x + b)^T, x^T W^T + b^T, difference
    return expect(one.holds and net.holds, "(Wx + b)^T = x^T W^T + b^T for a layer, and the row form gives the same "
                  "E for a whole network (engine.alternatives)", [net.claim + f": {net.verdict}"],
                  compared=[Comparison("one 2 x 3 layer", latex(W[0][1]), latex(W[1][1]), "difference is the zero "
                                       "matrix (engine.alternatives.xw_form)")],
                  values={"layer": one.verdict, "network": net.verdict})


@claim("eq8_10.bias_in_matrix", "eq. 8-10, sec. 2.3",
       r"$y_i=\sum_{j=1}^{m+1}w_{ij}x_j$ with $w_{i,m+1}=b_i$, $x_{m+1}=1$, so $y=[W\,\vert\,b]\,[x;1]$",
       equations=(8, 9, 10), reconstructed=True, passage="with \\( b_i=w_{i(m+1)}\\) and with \\( x_{m+1}=1\\).")
def bias_folded_into_weights():
    one, sym, net = alternatives.folded_bias(2, 3), alternatives.folded_bias_symbolic(), \
        alternatives.network_folded_bias()
    return expect(one.holds and sym.holds and net.holds, "[W | b][x; 1] = W x + b for any n x m layer (symbolic "
                  "sizes), and the folded network has gradient [dE/dW | dE/db]", [f"{r.claim}: {r.verdict}"
                                                                                   for r in (sym, net)],
                  compared=[Comparison("one 2 x 3 layer", r"[W\,\vert\,b]\begin{bmatrix}x\\1\end{bmatrix}",
                                       r"Wx+b", "difference is the zero matrix (engine.alternatives.folded_bias)")],
                  values={"layer": one.verdict, "symbolic": sym.verdict, "network": net.verdict})


@claim("sec2.3.not_used", "sec. 2.3 with sec. 5.3", r"``I include them here in passing, but we will not use them "
       r"in this book''", passage="I include them here in passing, but we will not use them in this book.")
def xw_form_is_used_in_chapter_five():
    import numpy as np

    rng = np.random.default_rng(3)
    a, K, c = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    keras = a @ K + c  # tf.keras.layers.Dense: rows are examples, kernel is inputs x outputs
    book = (K.T @ a.T + c[:, None]).T  # the book's y = W s + b per column, with W = K^T
    diff = float(np.abs(keras - book).max())
    return finding(FAILS, "the listing of sec. 5.3 uses the xW form: Keras' Dense layer computes $y^T=s^TW^T+b^T$ "
                   "with the kernel $K=W^T$", [(f"batch of 5, 4 inputs, 3 outputs: max |a K + c - (K^T a^T + c)^T| = "
                                               f"{diff:.1e}"), "the listing's own comment: shape [inputs, outputs]"],
                   correct="the xW form of eq. 7 is used once, by the Keras listing of sec. 5.3 (its kernel is "
                           "$W^T$); the derivations use $y=Wx+b$",
                   counterexample="sec. 5.3, line 65: tf.matmul(dE_dy, layer.kernel, transpose_b=True) multiplies "
                                  "the row deltas by $K^T=W$, the row form of $W^T\\delta$",
                   values={"max_difference": diff})


@claim("eq11.single_layer", "eq. 11, sec. 2.4", r"$P=a(y)=[a_1(W_1\cdot x+b_1),\dots,a_n(W_n\cdot x+b_n)]^T$",
       equations=(11,), reconstructed=True, passage="The vectors \\( W_i\\) are the rows of \\( W\\) and the scalars "
                                                    "\\( b_i\\) are elements of \\( b\\).")
def single_layer_perceptron():
    net = network_forms("3,2", "tanh", "mse").net
    W, b, x = net.W(1), net.b(1), net.x
    by_rows = sp.Matrix([sp.tanh((W.row(i) * x)[0] + b[i]) for i in range(2)])
    return expect(is_zero(net.forward[1][1] - by_rows), "a^1 of the engine is a_i applied to W_i x + b_i, row by row",
                  compared=[Comparison("$P_1$ (tanh, 3 inputs)", latex(net.forward[1][1][0]), latex(by_rows[0]),
                                       "difference is_zero")])


ACTIVATION_DEFINITIONS = (("sigmoid", "1/(1+exp(-y))"), ("tanh", "tanh(y)"), ("relu", "max(0, y)"))


@claim("sec2.4.table", "sec. 2.4, table of activation functions",
       r"sigmoid $\frac{1}{1+e^{-y_i}}$, $\tanh y_i$, softmax $\frac{e^{y_i}}{\sum_{k}e^{y_k}}$, ReLU $\max\{0,y_i\}$; "
       r"softmax gives fractions of a whole", passage="The Softmax function uses all components of a linearity vector "
                                                      "to generate a percentage relative to the \\( i\\)-th component.")
def activation_table_definitions():
    compared, ok = [], True
    for name, text in ACTIVATION_DEFINITIONS:
        printed = parse_expression(text, {"y": Y})
        same = equal_everywhere(printed, get_activation(name).formula, Y)
        ok &= same
        compared.append(Comparison(name, latex(printed), latex(get_activation(name).formula),
                                   "is_zero of the difference, or equal at 6 sample points"))
    ys = sp.symbols("y1:4", real=True)
    total = sp.simplify(sp.Add(*get_activation("softmax")(list(ys))))
    compared.append(Comparison("softmax over $(y_1,y_2,y_3)$", r"\sum_i a_i", latex(total), "sp.simplify"))
    return expect(ok and total == 1, "the four definitions are the engine's; softmax outputs sum to 1",
                  compared=compared, values={"softmax_sum": int(total)})


@claim("sec2.5.D_subsets", "sec. 2.5", r"$(x,z)\in D$ such that $z\in Z\subset D$ and $x\in X\subset D$",
       passage="such that \\( z\\in Z\\subset D\\) and \\( x\\in X\\subset D\\)")
def data_set_notation():
    D = {((1, 2), 0), ((3, 4), 1)}  # a data set of ordered pairs (x, z)
    X, Z = {x for x, _ in D}, {z for _, z in D}
    return finding(FAILS, "D is a set of pairs (x, z), so the inputs and the targets are not subsets of D; they are its "
                   "projections, and $D\\subset X\\times Z$",
                   [f"D = {sorted(D)}: X = {sorted(X)}, Z = {sorted(Z)}; X <= D is {X <= D}, Z <= D is {Z <= D}"],
                   correct=r"$D\subset X\times Z$, with $X=\{x:(x,z)\in D\}$ and $Z=\{z:(x,z)\in D\}$",
                   counterexample="D = {((1, 2), 0), ((3, 4), 1)}: the input (1, 2) is not an element of D (its "
                                  "elements are pairs)", reading="X and Z as the sets of first and second components",
                   values={"X_subset_D": X <= D, "Z_subset_D": Z <= D})


# -- sec. 2.5, sec. 3.2 and appendix A: must a cost be a norm? --------------------------------
COST_TABLE = (("mse", "Mean Squared Error"), ("mae", "Mean Absolute Error"),
              ("cross_entropy", "Cross-Entropy"), ("bce", "Binary Cross-Entropy"))


@claim("sec2.5.norm_requirement", "sec. 2.5 and appendix A",
       r"the cost function, whatever it may be, must be a norm (of $P-z$), so that $E(P,z)\to0$ implies $P-z\to0$",
       passage="The important thing to know is that the Cost Function, whatever it may be, must comply with the "
               "mathematical definition of a norm.")
def cost_must_be_a_norm():
    evidence, violations = [], {}
    for name, title in COST_TABLE:
        found = is_norm_of_difference(get_cost(name))
        violations[name] = len(found)
        evidence.append(f"{title}: " + ("a norm of P - z" if not found else "not a norm: " + found[0]))
    return finding(
        FAILS, "three of the four costs in the book's own table are not norms (only MAE is); the property the "
        "argument needs is weaker", evidence, values={"violations": violations},
        correct=r"what training needs is $E(P,z)\ge E_{\min}$ with equality exactly when $P=z$ (for MSE and MAE "
                r"$E_{\min}=0$); MSE is the square of a scaled norm, $\frac1n\lVert P-z\rVert_2^2$, and cross-entropy "
                r"and BCE are not functions of $P-z$ at all",
        counterexample="MSE with n = 1: P - z = 1 gives E = 1, P - z = 2 gives E = 4, not 2 (homogeneity fails); "
                       "cross-entropy with z = (1, 0), P = (1, 1/2) gives E = -(1/2)(1 log 1 + 0 log 1/2) = 0 "
                       "although P != z")


_NORM_CORRECT = {
    "mse": r"$E=\frac1n\lVert P-z\rVert_2^2$ is the square of a norm: $E\ge0$ and $E=0\iff P=z$ still hold",
    "cross_entropy": r"for a probability vector $z$ and $P$ in the simplex, $E$ is minimised at $P=z$ (Gibbs), "
                     r"with minimum $\frac1n H(z)$, not 0",
    "bce": r"for $z\in[0,1]$ and $P\in(0,1)$, each term is minimised at $P_i=z_i$, with minimum the entropy "
           r"$-z\log z-(1-z)\log(1-z)$, not 0",
}


def _norm_check(name, title):
    def cost_is_a_norm():
        found = is_norm_of_difference(get_cost(name))
        cost = get_cost(name)
        shown = Comparison(f"{title}, the engine's term", latex(cost.term), r"\text{a function of } a_i-z_i",
                           "E >= 0, E = 0 iff P = z, dependence on P - z alone, homogeneity, on a grid of "
                           "hand-friendly points (n = 2)")
        if not found:
            return finding(HOLDS, f"{title} = (1/n) sum |P_i - z_i| is a norm of P - z (the scaled L1 norm)",
                           ["triangle inequality: |u + v| <= |u| + |v| entry by entry"], compared=[shown],
                           values={"violations": 0})
        return finding(FAILS, f"{title} is not a norm of P - z", found, compared=[shown],
                       correct=_NORM_CORRECT[name], counterexample=found[0], values={"violations": len(found)})
    cost_is_a_norm.__name__ = f"{name}_is_a_norm"
    return cost_is_a_norm


for _name, _title in COST_TABLE:
    PART.add(f"sec3.2.{_name}.norm", "sec. 3.2 table with sec. 2.5",
             rf"{_title} (as in the table of sec. 3.2) is a norm of $P-z$", _norm_check(_name, _title), chapter="ch. 3",
             passage="This is the reason for requiring the Error or Cost Function to be a norm")
