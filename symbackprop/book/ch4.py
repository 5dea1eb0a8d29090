"""Chapter 4, sec. 4.1-4.6: stacking layers (eq. 25-27), the two-layer perceptron (eq. 28-45), the multi-layer
perceptron and its error (eq. 46-49), the long chain (eq. 50-52) and the recursion (eq. 53-66).

Every gradient form is compared, at an exact random point, with SymPy's derivative of the composed error
(:func:`symbackprop.book.shared.forms_finding`); sec. 4.7-4.9 are in :mod:`symbackprop.book.ch4_forms` and
:mod:`symbackprop.book.ch4_listing`.
"""
import sympy as sp

from symbackprop.book.model import CONDITIONAL, FAILS, Comparison, Part, expect, finding
from symbackprop.book.shared import forms_finding, latex, network_forms
from symbackprop.engine.zero import is_zero

PART = Part("ch. 4")
claim = PART.claim
TWO_LAYER = ("3,2,2", "tanh,sigmoid", "mse")
GENERAL = ("2,3,2,2", "sigmoid,tanh,sigmoid", "bce")
GENERAL_SOFTMAX = ("2,2,2,3", "tanh,relu,softmax", "cross_entropy")


@claim("eq25_27.stacking", "eq. 25-27, sec. 4.1", r"a layer is the object $P_l=(W^l,b^l)$; stacking gives "
       r"$P=P_1\rightarrow P_2\rightarrow\dots\rightarrow P_L$, layer $l$ receiving the output of layer $l-1$",
       reconstructed=True, equations=(25, 26, 27), passage="The superscripts in 27 indicate the layer number to "
                                                            "which the weights and bias belong.")
def stacked_layers_compose():
    net = network_forms(*GENERAL).net
    s, ok = net.x, True
    for l in range(1, net.L + 1):  # each single-layer perceptron (W^l, b^l) applied to the previous output
        s = sp.Matrix(net.activations[l](list(net.W(l) * s + net.b(l))))
        ok &= is_zero(s - net.forward[l][1].xreplace(dict(zip(net.a_local(l - 1), net.forward[l - 1][1])))
                      if l > 1 else s - net.forward[1][1])
    E = net.cost(list(s), list(net.z))
    return expect(ok and is_zero(E - net.error()), "applying the layers one after the other gives the engine's "
                  "network and its error", compared=[Comparison(f"E of {net.spec.describe()}",
                                                                r"E(P_3(P_2(P_1(x))))", r"E\ \text{(engine)}",
                                                                "difference is_zero")])


@claim("eq28_33.two_layer", "eq. 28-33, sec. 4.2",
       r"$P=a^2(W^2a^1(W^1x+b^1)+b^2)$ and $E=E(a^2(y^2(a^1(y^1(x)))))$", reconstructed=True,
       equations=(28, 29, 30, 31, 32, 33), passage="This equation gives us the way the error function of \\( P\\) "
                                                    "is composed.")
def two_layer_composition():
    net = network_forms(*TWO_LAYER).net
    a1 = sp.Matrix([sp.tanh(v) for v in net.W(1) * net.x + net.b(1)])
    P = sp.Matrix([1 / (1 + sp.exp(-v)) for v in net.W(2) * a1 + net.b(2)])
    E = sum((P[i] - net.z[i]) ** 2 for i in range(2)) / 2
    return expect(is_zero(net.error() - E), "the engine's composed E is the book's nested composition",
                  compared=[Comparison(net.spec.describe(), r"\frac12\sum_i(P_i-z_i)^2,\ P=\sigma(W^2\tanh(W^1x+b^1)"
                                                            r"+b^2)", r"E\ \text{(engine)}", "difference is_zero")])


@claim("eq34_36.dW2", "eq. 34-36, sec. 4.2",
       r"$\frac{\partial E}{\partial W^2}=\frac{\partial E}{\partial a^2}\frac{\partial a^2}{\partial y^2}"
       r"\frac{\partial y^2}{\partial W^2}$, the column of matrices now carrying $a^1$ in row $i$", reconstructed=True,
       equations=(34, 35, 36), passage="Now, the equation in the third line of 34 contains, in those same positions, "
                                       "the elements of the activation vector, \\( a^1\\), from layer 1.")
def layer_two_weight_chain():
    def rows_are_a1(forms):
        d = forms.d[2]
        ok = all(list(d.dy_dW[i].row(i)) == list(forms.net.a_local(1)) for i in range(2))
        return ok, [f"entry 1 of $\\frac{{\\partial y^2}}{{\\partial W^2}}$ = ${latex(sp.Matrix(d.dy_dW[0]))}$"]
    return forms_finding(TWO_LAYER, (2,), ("W",), (("direct", "chain"),), "the layer-2 chain gives dE/dW^2",
                         rows_are_a1)


#: the two-layer network of sec. 4.2 as a ``symbackprop check`` directive.  The book writes \nabla_aE for the row
#: dE/da (appendix C); the checker's \nabla is the column, so the book's \nabla_{a^2}E^T is the checker's \nabla_{a^2} E.
CHECK_TWO_LAYER = "layers=3,2,2 activations=tanh,sigmoid loss=mse"
PART.checked("eq37.outer_W2", "eq. 37, sec. 4.2",
             r"$\frac{\partial E}{\partial W^2}=\left(\left(\frac{\partial a^2}{\partial y^2}\right)^T\nabla_{a^2}E^T"
             r"\right)\otimes a^1$, the Jacobian being equal to its transpose",
             ((r"\frac{\partial E}{\partial W^{2}} = \left(\left(\frac{\partial a^{2}}{\partial y^{2}}\right)^{T} "
              r"\nabla_{a^{2}} E\right) \otimes a^{1}"),
              r"\frac{\partial a^{2}}{\partial y^{2}} = \left(\frac{\partial a^{2}}{\partial y^{2}}\right)^{T}"),
             CHECK_TWO_LAYER, summary="dE/dW^2 = delta^2 (x) a^1, and the diagonal Jacobian is its own transpose",
             reconstructed=True, equations=(37,), passage="with the diagonal matrix being identical to its transpose.")
# eq. 38 is the chain product, a row; the gradient with the shape of b^2 is its transpose: both are checked
PART.checked("eq38.db2", "eq. 38, sec. 4.2",
             r"$\frac{\partial E}{\partial b^2}=\frac{\partial E}{\partial a^2}\frac{\partial a^2}{\partial y^2}$",
             ((r"\frac{\partial E}{\partial a^{2}} \frac{\partial a^{2}}{\partial y^{2}} \frac{\partial y^{2}}"
               r"{\partial b^{2}} = \frac{\partial E}{\partial a^{2}} \frac{\partial a^{2}}{\partial y^{2}}"),
              (r"\frac{\partial E}{\partial b^{2}} = \left(\frac{\partial E}{\partial a^{2}} \frac{\partial a^{2}}"
               r"{\partial y^{2}}\right)^{T}")), CHECK_TWO_LAYER, summary="dE/db^2 = delta^2", reconstructed=True,
             equations=(38,), passage="has the same form as the first and second lines of 19, with the exception of "
                                      "the superscripts")
PART.checked("eq39_41.dW1", "eq. 39-41, sec. 4.2",
             r"$\frac{\partial E}{\partial W^1}=\frac{\partial E}{\partial a^2}\frac{\partial a^2}{\partial y^2}"
             r"\frac{\partial y^2}{\partial a^1}\frac{\partial a^1}{\partial y^1}\frac{\partial y^1}{\partial W^1}$ "
             r"with $\frac{\partial y^2}{\partial a^1}=W^2$ ($p\times n$) and $\frac{\partial y^1}{\partial W^1}$ a "
             r"column of $n$ matrices $n\times m$",
             ((r"\frac{\partial E}{\partial W^{1}} = \frac{\partial E}{\partial a^{2}}\frac{\partial a^{2}}"
               r"{\partial y^{2}}\frac{\partial y^{2}}{\partial a^{1}}\frac{\partial a^{1}}{\partial y^{1}}"
               r"\frac{\partial y^{1}}{\partial W^{1}}"),
              r"\frac{\partial y^{2}}{\partial a^{1}} = W^{2}"), CHECK_TWO_LAYER,
             summary="the five-factor chain gives dE/dW^1, with dy^2/da^1 = W^2 (the checker multiplies the column "
                     "of matrices dy^1/dW^1, so a wrong shape would be ill-formed)", reconstructed=True,
             equations=(39, 40, 41), passage="the \\( p\\times n\\) matrix resulting from the calculation of \\( "
                                             "\\frac{\\partial y^2}{\\partial a^1}\\) is precisely the weight matrix "
                                             "\\( W^2\\).")


@claim("sec4.2.W_1_subscript", "sec. 4.2, after eq. 41", r"``$\frac{\partial y^1}{\partial W_1}$ is a column-vector "
       r"with $n$ elements'', ``deriving $E$ with respect to $W_1$''",
       passage="while \\( \\frac{\\partial y^1}{\\partial W_1}\\) is a column-vector with \\( n\\) elements")
def layer_weights_need_a_superscript():
    net = network_forms(*TWO_LAYER).net
    W1 = net.W(1)
    row = W1.row(0)
    jac_row = (W1 * net.x + net.b(1)).jacobian(list(row))
    return finding(FAILS, "$W_1$ (subscript) is the book's name for the first row of a weight matrix (sec. 2.4, "
                   "appendix B); the layer-1 weights are $W^1$", [(f"$\\frac{{\\partial y^1}}{{\\partial W^1_1}}$ (by the "
                                                                  f"first row only) = ${latex(jac_row)}$, a {jac_row.shape[0]}"
                                                                  f" x {jac_row.shape[1]} matrix, not a column of "
                                                                  "matrices")],
                   correct=r"$\frac{\partial y^1}{\partial W^1}$ is a column-vector with $n$ elements, each an "
                           r"$n\times m$ matrix; ``with respect to $W^1$''",
                   counterexample="in the 3-2-2 network, W_1 = [w_11, w_12, w_13] has 3 entries; dy^1/dW_1 is a "
                                  "2 x 3 matrix, while dy^1/dW^1 is a column of two 2 x 3 matrices",
                   reading="$W_1$ read as $W^1$", values={"shape_by_row": jac_row.shape})


@claim("eq42_44.outer_W1", "eq. 42-44, sec. 4.2",
       r"$\frac{\partial E}{\partial W^1}=\left[\left(\frac{\partial a^1}{\partial y^1}\right)^T(W^2)^T"
       r"\left(\frac{\partial a^2}{\partial y^2}\right)^T\nabla_{a^2}E^T\right]\otimes x$", reconstructed=True,
       equations=(42, 43, 44), passage="Such a development will also lead to a form involving an outer product with "
                                       "the incoming signal, which in this case is \\( x\\).")
def layer_one_outer_product():
    return forms_finding(TWO_LAYER, (1,), ("W",), (("direct", "outer"),), "dE/dW^1 = delta^1 (x) x")


@claim("eq45.db1", "eq. 45, sec. 4.2", r"$\frac{\partial E}{\partial b^1}$: the same chain with "
       r"$\frac{\partial y^1}{\partial b^1}=I$", reconstructed=True, equations=(45,),
       passage="since \\( \\frac{\\partial y^1}{\\partial b^1}\\) produces a unitary matrix.")
def layer_one_bias():
    return forms_finding(TWO_LAYER, (1,), ("b",), (("direct", "chain"), ("direct", "outer")), "dE/db^1 = delta^1")


@claim("sec4.2.pattern_count", "sec. 4.2, after eq. 44",
       r"the pattern $\frac{\partial a^{l+1}}{\partial y^{l+1}}W^{l+1}\frac{\partial a^l}{\partial y^l}$ repeats "
       r"$L$ times between $\nabla_{a^L}E$ and $\frac{\partial y^1}{\partial W^1}$",
       passage="There will always be \\( L\\) repetitions of this pattern")
def pattern_repeats_L_minus_one_times():
    evidence, counts = [], {}
    for layers, acts in (("2,2,1", "tanh,sigmoid"), ("2,2,2,1", "tanh,tanh,sigmoid"),
                         ("2,2,2,2,1", "tanh,tanh,tanh,sigmoid")):
        d = network_forms(layers, acts, "mse").d
        factors = d.chain_factors(1)[1:-1]
        n_w = sum(1 for f in factors if any(f == d.network.W(k) for k in range(1, d.L + 1)))
        counts[d.L] = n_w
        evidence.append(f"L = {d.L}: between dE/da^L and dy^1/dW^1 there are {len(factors)} factors: "
                        f"{n_w} weight matrices W^L..W^2 and {len(factors) - n_w} Jacobians da^l/dy^l")
    return finding(
        FAILS, "the three-factor pattern occurs L - 1 times (once per W^{l+1}, l = 1..L-1), not L", evidence,
        correct=r"the pattern occurs $L-1$ times ($l=1,\dots,L-1$); there are $L$ Jacobians "
                r"$\frac{\partial a^l}{\partial y^l}$ and $L-1$ matrices $W^{l+1}$",
        counterexample="L = 2 (the section's own network): the chain is dE/da^2 . da^2/dy^2 . W^2 . da^1/dy^1 . "
                       "dy^1/dW^1, which holds the pattern once",
        reading="counting the Jacobians $\\frac{\\partial a^l}{\\partial y^l}$ (there are $L$), not the pattern",
        values={"weight_matrices": counts})


@claim("eq46_48.dimensions", "eq. 46-48, sec. 4.3",
       r"$y^l=W^la^{l-1}+b^l$ with $W^l$ of $n_l$ rows and $p_l$ columns, so $a^{l-1}$ has $p_l$ elements",
       reconstructed=True, equations=(46, 47, 48), passage="the number of elements in \\( a^{l-1}\\) is also "
                                                            "\\( p_l\\).")
def layer_dimensions_chain():
    net = network_forms(*GENERAL).net
    shapes = {l: (net.W(l).shape, net.forward[l - 1][1].shape) for l in range(1, net.L + 1)}
    ok = all(W[1] == a[0] and a[1] == 1 for W, a in shapes.values())
    return expect(ok, "for every layer, columns of W^l = length of a^{l-1}",
                  [f"layer {l}: W^{l} is {W}, a^{l - 1} is {a}" for l, (W, a) in shapes.items()],
                  values={"shapes": shapes})


@claim("eq49.error", "eq. 49, sec. 4.4", r"$E=E(P)=E(a^L(y^L(\cdots a^1(y^1(x)))))$: the error of $L$ layers takes "
       r"the output $P$ as its argument", reconstructed=True, equations=(49,),
       passage="The error function for the case of \\( L\\) layers is the same as in the other cases.")
def multilayer_error_composition():
    net = network_forms(*GENERAL_SOFTMAX).net
    s = net.x
    for l in range(1, net.L + 1):
        s = sp.Matrix(net.activations[l](list(net.W(l) * s + net.b(l))))
    E_hand = -sum(zi * sp.log(si) for zi, si in zip(net.z, s)) / len(s)
    return expect(is_zero(E_hand - net.error()), "E applied to the nested composition is the engine's error",
                  compared=[Comparison(net.spec.describe(), r"-\frac1n\sum_i z_i\log P_i,\ P=a^3(y^3(a^2(y^2(a^1"
                                       r"(y^1(x))))))", r"E\ \text{(engine)}", "difference is_zero")])


@claim("eq50_51.general_chain", "eq. 50-51, sec. 4.5",
       r"$\frac{\partial E}{\partial W^l}=\frac{\partial E}{\partial a^L}\frac{\partial a^L}{\partial y^L}"
       r"\frac{\partial y^L}{\partial a^{L-1}}\cdots\frac{\partial a^l}{\partial y^l}\frac{\partial y^l}{\partial W^l}$",
       reconstructed=True, equations=(50, 51), passage="we know we have to use the chain rule as the derivation method "
                                                        "to obtain:")
def general_chain_rule():
    return forms_finding(GENERAL, (1, 2, 3), ("W", "b"), (("direct", "chain"),),
                         "the long chain equals the derivative of the composed E for every layer")


@claim("sec4.5.repeated_work", "sec. 4.5, after eq. 51",
       r"computing $\frac{\partial E}{\partial W^{l+1}}$ and $\frac{\partial E}{\partial W^l}$ by eq. 50 computes "
       r"``the first $L-(l+1)+1=L-l$ rates of change'' twice", reconstructed=True, equations=(52,),
       passage="we would have calculated all the first \\( L-(l+1)+1=L-l\\) rates of change from 50 twice!")
def shared_prefix_of_two_chains():
    L_, l_ = sp.symbols("L l", integer=True)
    arithmetic = sp.expand(L_ - (l_ + 1) + 1) == L_ - l_
    d = network_forms("2,2,2,2,1", "tanh,tanh,tanh,sigmoid", "mse").d
    shared = {}
    for l in range(1, d.L):
        upper, lower = d.chain_factors(l + 1), d.chain_factors(l)
        k = 0
        while k < min(len(upper), len(lower)) - 1 and upper[k] == lower[k]:
            k += 1
        shared[l] = k
    return finding(CONDITIONAL, "L - (l+1) + 1 = L - l; the shared prefix of the two chains has 2(L - l) factors, "
                   "which are L - l layers' worth", [f"L = 4, l = {l}: the two chains share their first {k} factors"
                                                      f" (dE/da^L and the pairs of layers {l + 1}..4)"
                                                      for l, k in shared.items()],
                   condition="a \u201crate of change\u201d counted per layer k = l+1..L (its "
                             "$\\frac{\\partial a^k}{\\partial y^k}$ with the $W^k$ that precedes it), not per factor",
                   correct=r"the two chains share $2(L-l)$ factors: $\frac{\partial E}{\partial a^L}$, the $L-l$ "
                           r"Jacobians $\frac{\partial a^k}{\partial y^k}$ and the $L-l-1$ matrices $W^k$, $k>l+1$",
                   values={"arithmetic": arithmetic, "shared_factors": shared})
