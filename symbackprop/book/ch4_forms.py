"""Chapter 4, sec. 4.6-4.8: the recursion (eq. 53-66), the dimensions and the outer-product forms (eq. 67-73),
and the updates (eq. 74-78)."""
import numpy as np
import sympy as sp

from symbackprop.book.model import FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import (
    batch_error,
    book_batch_gradients,
    central,
    latex,
    network_forms,
    numeric_net,
)

PART = Part("ch. 4")
claim = PART.claim
GENERAL = ("2,3,2,2", "sigmoid,tanh,sigmoid", "bce")
GENERAL_SOFTMAX = ("2,2,2,3", "tanh,relu,softmax", "cross_entropy")


#: the networks the equations are checked on (docs/check.md: directives), as ``symbackprop check`` directives
CHECK_GENERAL = "layers=2,3,2,2 activations=sigmoid,tanh,sigmoid loss=bce"
CHECK_SOFTMAX = "layers=2,2,2,3 activations=tanh,relu,softmax loss=cross_entropy"
#: the book's recursion, eq. 54 and 60, as claims (L is the last layer; l runs over the layers where l + 1 exists)
DE_DY_L = r"\frac{\partial E}{\partial y^{L}} = \frac{\partial E}{\partial a^{L}} \frac{\partial a^{L}}{\partial y^{L}}"
DE_DY_l = (r"\frac{\partial E}{\partial y^{l}} = \frac{\partial E}{\partial y^{l+1}} W^{l+1} "
           r"\frac{\partial a^{l}}{\partial y^{l}}")
DE_DW_l = r"\frac{\partial E}{\partial W^{l}} = \frac{\partial E}{\partial y^{l}} \frac{\partial y^{l}}{\partial W^{l}}"

PART.checked("eq53_57.recursion_start", "eq. 53-57, sec. 4.6",
             r"$\frac{\partial E}{\partial y^L}=\frac{\partial E}{\partial a^L}\frac{\partial a^L}{\partial y^L}$ "
             r"(kept in memory) and $\frac{\partial E}{\partial y^{L-1}}=\frac{\partial E}{\partial y^L}W^L"
             r"\frac{\partial a^{L-1}}{\partial y^{L-1}}$",
             (DE_DY_L, (r"\frac{\partial E}{\partial y^{L-1}} = \frac{\partial E}{\partial y^{L}} W^{L} "
                       r"\frac{\partial a^{L-1}}{\partial y^{L-1}}")), CHECK_GENERAL,
             summary="the stored dE/dy^L times W^L da^{L-1}/dy^{L-1} is dE/dy^{L-1}", reconstructed=True,
             equations=(53, 54, 55, 56, 57), passage="shows the recursive nature of the derivative of \\( E\\) with "
                                                     "respect to the Perceptron\u2019s linearities")
PART.checked("eq58_60.recursion", "eq. 58-60, sec. 4.6",
             r"$\frac{\partial E}{\partial y^l}=\frac{\partial E}{\partial y^{l+1}}\frac{\partial y^{l+1}}{\partial a^l}"
             r"\frac{\partial a^l}{\partial y^l}=\frac{\partial E}{\partial y^{l+1}}W^{l+1}"
             r"\frac{\partial a^l}{\partial y^l}$",
             ((r"\frac{\partial E}{\partial y^{l}} = \frac{\partial E}{\partial y^{l+1}} \frac{\partial y^{l+1}}"
              r"{\partial a^{l}} \frac{\partial a^{l}}{\partial y^{l}}"), DE_DY_l), CHECK_SOFTMAX,
             summary="the recursion gives dE/dy^l for every layer (softmax output included)", reconstructed=True,
             equations=(58, 59, 60), passage="whose product with 58 produces:")
# The book's eq. 62-64 is the chain product dE/dy^l dy^l/db^l, a row like dE/dy^l; as a gradient with the shape of
# b^l (eq. 72 and the update) it is the transpose: both rows are checked.
PART.checked("eq61_64.bias_is_delta", "eq. 61-64, sec. 4.6",
             r"$\frac{\partial E}{\partial W^l}=\frac{\partial E}{\partial y^l}\frac{\partial y^l}{\partial W^l}$, "
             r"$\frac{\partial y^l}{\partial b^l}=I$, so $\frac{\partial E}{\partial b^l}=\frac{\partial E}"
             r"{\partial y^l}$",
             (DE_DW_l, (r"\frac{\partial E}{\partial y^{l}} \frac{\partial y^{l}}{\partial b^{l}} = "
                       r"\frac{\partial E}{\partial y^{l}}"),
              r"\frac{\partial E}{\partial b^{l}} = \left(\frac{\partial E}{\partial y^{l}}\right)^{T}"),
             CHECK_GENERAL, summary="dE/db^l = dE/dy^l for every layer (a row as the chain product; its "
                                    "transpose as the gradient with the shape of b^l)", reconstructed=True,
             equations=(61, 62, 63, 64), passage="so that the second equation in 62 is simply identical to")
PART.checked("eq65_66.general_formula", "eq. 65-66, sec. 4.6",
             r"$\frac{\partial E}{\partial y^l}=\frac{\partial E}{\partial a^L}\frac{\partial a^L}{\partial y^L}$ if "
             r"$l=L$, $\frac{\partial E}{\partial y^{l+1}}W^{l+1}\frac{\partial a^l}{\partial y^l}$ if $L>l\ge1$; "
             r"$\frac{\partial E}{\partial W^l}=\frac{\partial E}{\partial y^l}\frac{\partial y^l}{\partial W^l}$",
             (DE_DY_L, DE_DY_l, DE_DW_l), CHECK_SOFTMAX,
             summary="the general formula gives every layer's gradient (relu, tanh, softmax + cross-entropy)",
             reconstructed=True, equations=(65, 66), passage="Note that the case \\( l=L\\) comes directly from 54")


@claim("sec4.7.dimensions", "sec. 4.7",
       r"with $n,p,m$ the sizes of layer $l+1$, layer $l$ and $s$: $\frac{\partial E}{\partial y^{l+1}}$ is $1\times n$,"
       r" $W^{l+1}$ $n\times p$, $\frac{\partial a^l}{\partial y^l}$ $p\times p$, $\frac{\partial y^l}{\partial W^l}$ "
       r"$p\times1$ of $p\times m$ matrices; for $l=L$: $1\times p$, $p\times p$, $p\times1$; the result is $p\times m$",
       passage="we have four matrices with the following dimensions, from left to right:")
def products_are_conformable():
    d = network_forms("4,3,2", "tanh,sigmoid", "mse").d
    l, net = 1, d.network
    n, p, m = net.n(l + 1), net.n(l), net.n(l - 1)
    shapes = [(1, n), net.W(l + 1).shape, d[l].da_dy.shape, (len(d[l].dy_dW), 1), d[l].dy_dW[0].shape,
              d.chain_product(l).shape]
    last = [d[2].dE_da.shape, d[2].da_dy.shape, (len(d[2].dy_dW), 1), d.chain_product(2).shape]
    ok = shapes == [(1, n), (n, p), (p, p), (p, 1), (p, m), (p, m)] and last == [(1, n), (n, n), (n, 1), (n, p)]
    return expect(ok and d[l].delta.shape == (p, 1), "every product is conformable and dE/dW^l has the shape of W^l", [
        (f"4-3-2 network, l = 1 (n = {n}, p = {p}, m = {m}): dE/dy^2 1x{n}, W^2 {shapes[1]}, da^1/dy^1 {shapes[2]}, "
         f"dy^1/dW^1 {shapes[3]} of {shapes[4]}, product {shapes[5]} = shape of W^1"),
        f"l = L = 2: dE/da^2 {last[0]}, da^2/dy^2 {last[1]}, dy^2/dW^2 {last[2]} entries, product {last[3]}"],
        values={"hidden": shapes, "last": last})


@claim("sec4.7.unitary", "sec. 4.7, before eq. 72", r"``$\frac{\partial y^l_i}{\partial b^l}$ are unitary matrices''",
       passage="are unitary matrices and can be")
def bias_derivative_rows_are_unit_vectors():
    net = network_forms(*GENERAL).net
    y = net.W(1) * net.x + net.b(1)
    rows = [sp.Matrix([y[i]]).jacobian(list(net.b(1))) for i in range(3)]
    return finding(FAILS, "each $\\frac{\\partial y^l_i}{\\partial b^l}$ is the unit row $1_i$ (appendix B); the "
                   "identity matrix is $\\frac{\\partial y^l}{\\partial b^l}$, the stack of these rows",
                   [f"layer 1 of {net.spec.describe()}: " + ", ".join(f"$\\frac{{\\partial y_{i + 1}}}{{\\partial b}}="
                                                                      f"{latex(r)}$" for i, r in enumerate(rows))],
                   correct=r"$\frac{\partial y^l}{\partial b^l}=I$ (the identity, whose rows are the unit vectors "
                           r"$\frac{\partial y^l_i}{\partial b^l}=1_i$)",
                   counterexample="layer 1 of a 2-3-2-2 network: dy_1/db = [1, 0, 0], a 1 x 3 row, not a matrix",
                   reading="``unitary'' read as ``identity'' and said of $\\frac{\\partial y^l}{\\partial b^l}$",
                   values={"row_shapes": [r.shape for r in rows]})


PART.checked("eq67_68.outer_last", "eq. 67-68, sec. 4.7",
             r"$\frac{\partial E}{\partial W^L}=\left(\frac{\partial E}{\partial a^L}\frac{\partial a^L}{\partial y^L}"
             r"\right)^T\otimes s$",
             ((r"\frac{\partial E}{\partial W^{L}} = \left(\frac{\partial E}{\partial a^{L}} \frac{\partial a^{L}}"
              r"{\partial y^{L}}\right)^{T} \otimes s^{L-1}"),), CHECK_SOFTMAX,
             summary="dE/dW^L = delta^L (x) s^{L-1}", reconstructed=True, equations=(67, 68),
             passage="It is easy to see that the last line in 68, and indeed its entire development since 67")
PART.checked("eq69_71.outer_hidden", "eq. 69-71, sec. 4.7",
             r"$\frac{\partial E}{\partial W^l}=\left(\frac{\partial a^l}{\partial y^l}\right)^T(W^{l+1})^T"
             r"\left(\frac{\partial E}{\partial y^{l+1}}\right)^T\otimes s$ for $l<L$",
             ((r"\frac{\partial E}{\partial W^{l}} = \left(\frac{\partial a^{l}}{\partial y^{l}}\right)^{T} "
              r"(W^{l+1})^{T} \left(\frac{\partial E}{\partial y^{l+1}}\right)^{T} \otimes s^{l-1}"),), CHECK_GENERAL,
             summary="dE/dW^l = delta^l (x) s^{l-1} for the hidden layers", reconstructed=True,
             equations=(69, 70, 71), passage="So, in 69, we have already used the fact that")
PART.checked("eq72_73.bias_forms", "eq. 72-73, sec. 4.7",
             r"$\frac{\partial E}{\partial b^L}=\left(\frac{\partial E}{\partial a^L}\frac{\partial a^L}{\partial y^L}"
             r"\right)^T$, $\frac{\partial E}{\partial b^l}=\left(\frac{\partial a^l}{\partial y^l}\right)^T"
             r"(W^{l+1})^T\left(\frac{\partial E}{\partial y^{l+1}}\right)^T$",
             ((r"\frac{\partial E}{\partial b^{L}} = \left(\frac{\partial E}{\partial a^{L}}\frac{\partial a^{L}}"
              r"{\partial y^{L}}\right)^{T}"),
              (r"\frac{\partial E}{\partial b^{l}} = \left(\frac{\partial a^{l}}{\partial y^{l}}\right)^{T} "
              r"(W^{l+1})^{T} \left(\frac{\partial E}{\partial y^{l+1}}\right)^{T}")), CHECK_GENERAL,
             summary="the bias gradients are the deltas", reconstructed=True, equations=(72, 73),
             passage="Thus, the formula for the biases, if \\( l\\) is the last layer, is:")


@claim("eq74_78.updates", "eq. 74-78, sec. 4.8",
       r"$W^l_{t+1}=W^l_t-\eta\,\frac{\partial E}{\partial y^l}^T\otimes s^{l-1}$, "
       r"$b^l_{t+1}=b^l_t-\eta\,\frac{\partial E}{\partial y^l}^T$", reconstructed=True, equations=(74, 75, 76, 77, 78),
       passage="The formula for updating the bias is, once again, simpler than that for the weights.")
def one_update_lowers_the_error():
    sizes, eta = (3, 4, 2), 0.05
    W, b = numeric_net(sizes, 1)
    rng = np.random.default_rng(2)
    X, Zt = rng.normal(size=(3, 1)), rng.uniform(size=(2, 1))
    grads = book_batch_gradients(W, b, X, Zt)
    worst = max(abs(central(lambda: batch_error(W, b, X, Zt), W[l], (i, j)) - grads[l][0][i, j])
                for l in (1, 2) for i in range(sizes[l]) for j in range(sizes[l - 1]))
    before = batch_error(W, b, X, Zt)
    after = batch_error({l: W[l] - eta * grads[l][0] for l in W}, {l: b[l] - eta * grads[l][1] for l in b}, X, Zt)
    return expect(worst < 1e-8 and after < before, "one update with the outer-product gradients lowers E",
                  [f"E = {before:.6f} -> {after:.6f} after one step with eta = {eta}"],
                  compared=[Comparison("dE/dW^l of a 3-4-2 tanh/sigmoid/MSE network (float64)",
                                       r"\delta^l\otimes s^{l-1}", r"\text{central differences of } E",
                                       f"every entry; largest difference {worst:.1e}")],
                  values={"max_difference": worst, "before": before, "after": after})


@claim("eq75_76.all_layers", "sec. 4.8, after eq. 76", r"the update of $W^l$ contains the weights $W^{l+1}$ and, "
       r"through the recursion, ``elements from all layers since the last layer $L$''", equations=(75, 76),
       passage="makes us understand that, implicitly, it contains elements from all layers since the last layer "
               "\\( L\\).")
def update_reaches_every_later_layer():
    d = network_forms(*GENERAL).d
    net = d.network
    delta1 = d.delta_expanded(1)
    layers = sorted(k for k in range(1, net.L + 1) if delta1.free_symbols & set(net.W(k)))
    return expect(layers == [2, 3] and delta1.free_symbols >= set(net.z), "delta^1 contains the weights of layers "
                  "2 and 3 and the targets z", [f"{net.spec.describe()}: weight matrices in $\\delta^1$: W^"
                                                + ", W^".join(map(str, layers))], values={"layers": layers})
