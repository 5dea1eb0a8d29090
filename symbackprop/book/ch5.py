"""Chapter 5: batches.  The batch forward pass (eq. 79-84), the error as a mean (eq. 85-86), the engine's batch
gradient forms (eq. 87-88, :attr:`LayerDerivation.gradient_forms`), the batch update (eq. 89-92), and the
notation of sec. 5.1.  The Keras listing of sec. 5.3 is :mod:`symbackprop.book.ch5_listing`.
"""

import numpy as np
import sympy as sp

from symbackprop.book.model import FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import latex, network_forms
from symbackprop.engine.zero import is_zero

PART = Part("ch. 5")
claim = PART.claim
BATCH = ("2,2,1", "tanh,sigmoid", "mse")


#: the batch network of the chapter as a ``symbackprop check`` directive (beta = 3 columns)
CHECK_BATCH = "layers=2,2,1 activations=tanh,sigmoid loss=mse batch=3"
PART.checked("eq79.first_layer", "eq. 79, sec. 5.1",
             r"$Y^1=W^1X+B^1$: the first layer on a batch $X$ of $\beta$ columns",
             (r"Y^{1} = W^{1} X + B^{1}", r"B^{1} = b^{1} \mathbf{1}^{T}"), CHECK_BATCH,
             summary="the batch linearity is W^1 X + b^1 [1 ... 1]", reconstructed=True, equations=(79,),
             passage="Of course, the linearity vector of the first layer is now a matrix, and to mark this difference, "
                     "I used another symbol, \\( Y^1\\).")


@claim("eq79.reference", "sec. 5.1, before eq. 79", r"``Let's rewrite equation 9 with a batch of $\beta$ vectors $x$'': "
       r"eq. 9 (the bias as the last column of $W$) on a batch gives $W^1X+B^1$", equations=(9, 79),
       passage="rewrite equation 9 with a batch of \\( \\beta\\) vectors \\( x\\) for the first layer of the network.")
def batch_rewrites_equation_nine():
    net, beta = network_forms(*BATCH).net, 2
    folded = net.W(1).row_join(net.b(1)) * net.X(beta).col_join(sp.ones(1, beta))
    with_B = net.W(1) * net.X(beta) + net.B(1, beta)
    return expect(is_zero(folded - with_B), "the folded form on a batch, [W | b] [X; 1 ... 1], is W X + b [1 ... 1] "
                  "= W X + B^1: the bias matrix with identical columns comes out of eq. 9",
                  compared=[Comparison("beta = 2", r"[W^1\,\vert\,b^1]\begin{bmatrix}X\\1\ 1\end{bmatrix}",
                                       r"W^1X+B^1", "difference is_zero")])


@claim("eq80_84.batch_forward", "eq. 80-84, sec. 5.1",
       r"$Y^1=W^1X+B^1$ with $B^1=b^1[1\cdots1]$; column $j$ is $W^1X^j+b^1$, $A=a(Y)$ column by column; "
       r"$Y^l=W^lS^{l-1}+B^l$ ($n\times m$ times $m\times\beta$)", reconstructed=True, equations=(80, 81, 82, 83, 84),
       passage="Formula 83 is the same as we see in the last expression of 80")
def batch_columns_are_single_examples():
    net, beta = network_forms(*BATCH).net, 3
    layers, single = net.batch_forward(beta), net.forward
    ok = all(is_zero(layers[l][1][:, c] - single[l][1].xreplace({xi: net.X(beta)[j, c] for j, xi in enumerate(net.x)}))
             for c in range(beta) for l in range(1, net.L + 1))
    shapes = [f"layer {l}: W {net.W(l).shape} times S {layers[l - 1][1].shape} + B {net.B(l, beta).shape} -> Y "
              f"{layers[l][0].shape}" for l in range(1, net.L + 1)]
    identical = all(net.B(l, beta)[:, c] == net.b(l) for l in range(1, net.L + 1) for c in range(beta))
    return expect(ok and identical, "every column of the batch forward pass is the single-example forward pass",
                  shapes + [f"every B^l has identical columns b^l: {identical}"],
                  compared=[Comparison("column j of $A^l$, beta = 3", r"A^l_{:,j}", r"a^l(x)\big|_{x=X^j}",
                                       "difference is_zero, every column and layer")])


@claim("sec5.1.output_columns", "sec. 5.1, after eq. 82", r"``the network's output is also a matrix of $\beta$ "
       r"vectors $Y^j$ - one response for each input $X^j$''", passage="the network\u2019s output is also a matrix of "
                                                                       "\\( \\beta\\) vectors \\( Y^j\\)")
def output_columns_are_activations():
    net, beta = network_forms(*BATCH).net, 2
    layers = net.batch_forward(beta)
    zero = {s: 0 for s in (*net.X(beta), *(p for l in range(1, net.L + 1) for p in (*net.W(l), *net.b(l))))}
    Y_L, A_L = (m.xreplace(zero) for m in layers[net.L])
    same = Y_L == A_L
    return finding(FAILS, "the output's columns are $P^j=A^{L,j}=a^L(Y^{L,j})$; $Y^j$ names the columns of the "
                   "linearity $Y^1$ (eq. 80)", [(f"2-2-1 network with sigmoid output, all parameters and inputs 0: $Y^L={latex(Y_L)}$, "
                                     f"$A^L={latex(A_L)}$")],
                   correct=r"the network's output is a matrix $P=A^L$ of $\beta$ vectors $P^j$, one response for "
                           r"each input $X^j$",
                   counterexample="sigmoid output, Y^L_{1,j} = 0: the response is P^j = 1/2, not Y^j = 0",
                   reading="$Y^j$ read as $P^j$", values={"linearity_equals_output": same})


PART.checked("eq85_86.batch_error", "eq. 85-86, sec. 5.1", r"$E=\frac1\beta\sum_{j=1}^{\beta}E_j(A^j)$",
             (r"E = \frac{1}{\beta}\sum_{j=1}^{\beta} E_{j}",), CHECK_BATCH,
             summary="the batch error is the mean of the per-column errors", reconstructed=True, equations=(85, 86),
             passage="ends up being calculated as the arithmetic mean of the errors made by each column-vector in the "
                     "activation matrix.")
PART.checked("eq87_88.batch_gradient", "eq. 87-88, sec. 5.1",
              r"$\frac{\partial E}{\partial W^l}=\frac1\beta\sum_j\left(\frac{\partial E_j}{\partial y^l}\right)^T"
              r"\otimes s^{l-1}_j=\frac1\beta\Delta^l(S^{l-1})^T$, $\frac{\partial E}{\partial b^l}=\frac1\beta\sum_j"
              r"\left(\frac{\partial E_j}{\partial y^l}\right)^T$",
              ((r"\frac{\partial E}{\partial W^{l}} = \frac{1}{\beta}\sum_{j=1}^{\beta} \frac{\partial E_{j}}"
               r"{\partial W^{l}}"),
               r"\frac{\partial E}{\partial W^{l}} = \frac{1}{\beta} \Delta^{l} (S^{l-1})^{T}",
               (r"\frac{\partial E}{\partial b^{l}} = \frac{1}{\beta}\sum_{j=1}^{\beta} \frac{\partial E_{j}}"
               r"{\partial b^{l}}"),
               r"\frac{\partial E}{\partial b^{l}} = \frac{1}{\beta} \Delta^{l} \mathbf{1}"), CHECK_BATCH,
              summary="the batch gradient is the mean of the per-example gradients, and the engine's forms "
                      "(1/beta) Delta^l (S^{l-1})^T and (1/beta) Delta^l 1 are it",
              reconstructed=True, equations=(87, 88),
              passage="Finally, based on 65 and with reasoning analogous to that just made")


@claim("eq89_92.batch_update", "eq. 89-92, sec. 5.2",
       r"$W^l_{t+1}=W^l_t-\frac\eta\beta\sum_j\left(\frac{\partial E_j}{\partial y^l}\right)^T\otimes s^{l-1}_j$ "
       r"$=W^l_t-\frac\eta\beta\,\Delta^l(S^{l-1})^T$, $b^l_{t+1}=b^l_t-\frac\eta\beta\sum_j"
       r"\left(\frac{\partial E_j}{\partial y^l}\right)^T$", reconstructed=True, equations=(89, 90, 91, 92),
       passage="It is very easy to see that equation 90 uses the form of 76.")
def sum_of_outer_products_is_one_product():
    rng = np.random.default_rng(6)
    Delta, S = rng.normal(size=(4, 7)), rng.normal(size=(3, 7))
    diff = float(np.max(np.abs(sum(np.outer(Delta[:, j], S[:, j]) for j in range(7)) - Delta @ S.T)))
    return expect(diff < 1e-12, "the sum of the beta outer products is one matrix product Delta S^T",
                  compared=[Comparison("4 x 7 deltas, 3 x 7 signals (float64)", r"\sum_j\delta_j\otimes s_j",
                                       r"\Delta S^T", f"largest difference {diff:.1e}")], values={"max_difference": diff})
